//! Staff-only endpoints: support records a debt to the platform through the API, which then
//! blocks the member's preflight; members cannot.

use crate::support::{Member, PASSWORD, TestApp, on_both_backends};
use hiatus_domain::{AccountKind, Role};
use hiatus_service::SignUp;
use serde_json::json;

on_both_backends!(
    support_records_a_debt_that_blocks_closing,
    only_operators_manage_webhooks,
);

async fn support_records_a_debt_that_blocks_closing(t: &TestApp) {
    let f = t.member("freelancer").await;
    let other = t.member("client").await;
    let staff = t.staff(Role::Support).await;

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

async fn only_operators_manage_webhooks(t: &TestApp) {
    let f = t.member("freelancer").await;
    let mut staff = Vec::new();
    for role in [Role::Support, Role::Operator] {
        let email = format!("{}-{}@example.test", role.as_str(), &f.id[..8]);
        let id =
            t.h.sign_up(
                SignUp {
                    email: email.clone(),
                    password: PASSWORD.into(),
                    legal_name: "Staff".into(),
                    display_name: "Staff".into(),
                    kind: AccountKind::Client,
                    headline: String::new(),
                    bio: String::new(),
                },
                role,
            )
            .await
            .unwrap();
        let mut m = Member {
            id: id.to_string(),
            email,
            token: String::new(),
        };
        m.token = t.login(&m).await["token"].as_str().unwrap().to_string();
        staff.push(m);
    }
    let (support, operator) = (&staff[0], &staff[1]);
    let body = json!({"url": "https://hooks.example.com/hiatus", "events": ["account.deleted"]});
    t.post(None, "/api/v1/admin/webhooks", body.clone())
        .await
        .problem(401, "unauthorized");
    for who in [&f, support] {
        t.post(Some(who), "/api/v1/admin/webhooks", body.clone())
            .await
            .problem(403, "operator_only");
        t.get(Some(who), "/api/v1/admin/webhook-deliveries")
            .await
            .problem(403, "operator_only");
    }
    let created = t
        .post(Some(operator), "/api/v1/admin/webhooks", body)
        .await
        .expect(201);
    assert!(created["secret"].as_str().unwrap().starts_with("whsec_"));
    let listed = t
        .get(Some(operator), "/api/v1/admin/webhooks")
        .await
        .expect(200);
    assert_eq!(listed[0]["id"], created["id"]);
    assert!(
        listed[0].get("secret").is_none(),
        "the secret is shown once"
    );
    t.post(
        Some(operator),
        "/api/v1/admin/webhooks",
        json!({"url": "https://hooks.example.com", "events": ["account.sneezed"]}),
    )
    .await
    .problem(422, "webhook_event_unknown");
    let id = created["id"].as_str().unwrap();
    t.delete(Some(operator), &format!("/api/v1/admin/webhooks/{id}"))
        .await
        .expect(204);
    t.delete(Some(operator), &format!("/api/v1/admin/webhooks/{id}"))
        .await
        .problem(404, "not_found");
}
