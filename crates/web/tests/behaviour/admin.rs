//! Staff-only endpoints: support records a debt to the platform through the API, which then
//! blocks the member's preflight; members cannot.

use crate::support::{Member, PASSWORD, TestApp, on_both_backends};
use hiatus_domain::{AccountKind, Role};
use hiatus_service::SignUp;
use serde_json::json;

on_both_backends!(support_records_a_debt_that_blocks_closing);

async fn support_records_a_debt_that_blocks_closing(t: &TestApp) {
    let f = t.member("freelancer").await;
    let other = t.member("client").await;
    let email = format!("support-{}@example.test", &f.id[..8]);
    let id =
        t.h.sign_up(
            SignUp {
                email: email.clone(),
                password: PASSWORD.into(),
                legal_name: "Support".into(),
                display_name: "Support".into(),
                kind: AccountKind::Client,
                headline: String::new(),
                bio: String::new(),
            },
            Role::Support,
        )
        .await
        .unwrap();
    let mut staff = Member {
        id: id.to_string(),
        email,
        token: String::new(),
    };
    staff.token = t.login(&staff).await["token"].as_str().unwrap().to_string();

    let path = format!("/api/v1/admin/accounts/{}/debt", f.id);
    let debt = json!({"minor": 2500, "currency": "USD"});
    t.post(Some(&other), &path, debt.clone())
        .await
        .problem(403, "staff_only");
    t.post(None, &path, debt.clone())
        .await
        .problem(401, "unauthorized");
    t.post(
        Some(&staff),
        &format!("/api/v1/admin/accounts/{}/debt", uuid::Uuid::new_v4()),
        debt.clone(),
    )
    .await
    .problem(404, "not_found");

    let b = t.post(Some(&staff), &path, debt).await.expect(200);
    assert_eq!(b["debt"]["minor"], 2500);
    assert!(
        t.preflight(&f)
            .await
            .blockers()
            .contains(&"debt_to_platform".to_string())
    );
    t.deactivate(&f).await.problem(409, "preflight_blocked");

    t.post(Some(&staff), &path, json!({"minor": 0, "currency": "USD"}))
        .await
        .expect(200);
    assert!(t.preflight(&f).await.blockers().is_empty());
    t.deactivate(&f).await.expect(200);

    // The member's audit trail names the staff member who recorded it.
    let audit = t.get(Some(&f), "/api/v1/me/audit").await.expect(200);
    let recorded: Vec<_> = audit
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "debt.recorded")
        .collect();
    assert_eq!(recorded.len(), 2);
    assert_eq!(recorded[0]["actor_id"], staff.id.as_str());
}
