//! The audit trail: every transition is recorded with actor, time and reason.

use crate::support::{PASSWORD, SECOND, TestApp, on_both_backends};
use serde_json::{Value, json};

on_both_backends!(deactivation_and_reactivation_are_audited_with_the_reason);

async fn deactivation_and_reactivation_are_audited_with_the_reason(t: &TestApp) {
    let f = t.member("freelancer").await;
    let other = t.member("client").await;
    let deactivated_at = t.now();
    t.post(
        Some(&f),
        "/api/v1/me/deactivate",
        json!({"password": PASSWORD, "reason": "fees_too_high", "detail": "Too expensive for me"}),
    )
    .await
    .expect(200);
    t.advance(SECOND);
    let reactivated_at = t.now();
    t.reactivate(&f).await.expect(200);

    let audit = t.get(Some(&f), "/api/v1/me/audit").await.expect(200);
    let events = audit.as_array().unwrap();
    let find = |action: &str| -> Value {
        events
            .iter()
            .find(|e| e["action"] == action)
            .cloned()
            .unwrap_or_else(|| panic!("no {action} in {audit}"))
    };
    let d = find("account.deactivated");
    assert_eq!(d["reason"], "fees_too_high");
    assert_eq!(d["actor_id"], f.id.as_str());
    assert_eq!(d["created_at"], deactivated_at);
    assert_eq!(d["detail"]["detail"], "Too expensive for me");
    assert!(
        d["detail"]["warnings"]
            .as_array()
            .unwrap()
            .contains(&json!("no_current_export")),
        "{d}"
    );
    let r = find("account.reactivated");
    assert_eq!(r["actor_id"], f.id.as_str());
    assert_eq!(r["created_at"], reactivated_at);
    // Newest first.
    let pos = |action: &str| events.iter().position(|e| e["action"] == action).unwrap();
    assert!(pos("account.reactivated") < pos("account.deactivated"));
    assert!(pos("account.deactivated") < pos("account.created"));

    // Another member's trail holds none of it (only its own sign-up).
    let theirs = t.get(Some(&other), "/api/v1/me/audit").await.expect(200);
    assert!(
        !theirs.as_array().unwrap().iter().any(|e| e["action"]
            .as_str()
            .unwrap()
            .starts_with("account.")
            && e["action"] != "account.created"
            && e["action"] != "account.confirmed"),
        "{theirs}"
    );
    let limited = t
        .get(Some(&f), "/api/v1/me/audit?limit=1")
        .await
        .expect(200);
    assert_eq!(limited.as_array().unwrap().len(), 1);
    assert_eq!(limited[0]["action"], "account.reactivated");
    let next = t
        .get(Some(&f), "/api/v1/me/audit?limit=1&offset=1")
        .await
        .expect(200);
    assert_eq!(next.as_array().unwrap().len(), 1);
    assert_eq!(next[0]["action"], "account.deactivated");
    let past_the_end = t
        .get(
            Some(&f),
            &format!("/api/v1/me/audit?offset={}", events.len()),
        )
        .await
        .expect(200);
    assert!(
        past_the_end.as_array().unwrap().is_empty(),
        "{past_the_end}"
    );
}
