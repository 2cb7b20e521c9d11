//! Breaks: the alternative to leaving. They pause availability, optionally hide and mute, and
//! end on their date (by the worker) or by hand, bringing the previous settings back.

use crate::support::{DAY, SECOND, TestApp, on_both_backends};
use serde_json::json;

on_both_backends!(
    a_break_with_an_end_date_ends_by_itself,
    a_break_ends_by_hand,
    break_requests_are_checked,
);

async fn a_break_with_an_end_date_ends_by_itself(t: &TestApp) {
    let f = t.member("freelancer").await;
    let c = t.member("client").await;
    let before = t
        .patch(
            Some(&f),
            "/api/v1/me/settings",
            json!({"visibility": "members_only", "notifications": "digest"}),
        )
        .await
        .expect(200);
    let until = t.now() + 2 * DAY;
    let during = t
        .post(
            Some(&f),
            "/api/v1/me/break",
            json!({"until": until, "private": true, "mute": true}),
        )
        .await
        .expect(200);
    assert_eq!(
        during,
        json!({"visibility": "private", "availability": "paused", "paused_until": until, "notifications": "muted"})
    );
    assert_eq!(t.settings(&f).await, during);
    // Private for the break: a member without a contract no longer finds the profile, nor
    // can invite it (as for an unknown id).
    t.get(Some(&c), &format!("/api/v1/profiles/{}", f.id))
        .await
        .problem(404, "not_found");
    t.post(
        Some(&c),
        "/api/v1/proposals",
        json!({"kind": "invitation", "to": f.id, "cover_letter": "Free?"}),
    )
    .await
    .problem(404, "not_found");
    // A break is not a closure: the account stays active.
    assert_eq!(t.state(&f).await, "active");

    // Not yet due: the worker leaves it alone.
    t.advance(DAY);
    t.drain_jobs().await;
    assert_eq!(t.settings(&f).await, during);

    t.advance(DAY + SECOND);
    assert_eq!(t.drain_jobs().await, 1);
    assert_eq!(t.settings(&f).await, before);
    assert_eq!(before["availability"], "available");
    assert_eq!(before["visibility"], "members_only");
    assert_eq!(before["notifications"], "digest");
    assert_eq!(before["paused_until"], serde_json::Value::Null);
    t.get(Some(&c), &format!("/api/v1/profiles/{}", f.id))
        .await
        .expect(200);
    t.post(
        Some(&c),
        "/api/v1/proposals",
        json!({"kind": "invitation", "to": f.id, "cover_letter": "Free now?"}),
    )
    .await
    .expect(201);
    let audit = t.get(Some(&f), "/api/v1/me/audit").await.expect(200);
    let ended = audit
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "break.ended")
        .unwrap_or_else(|| panic!("no break.ended in {audit}"));
    assert_eq!(ended["detail"]["by"], "schedule");
    assert_eq!(ended["actor_id"], serde_json::Value::Null);
}

async fn a_break_ends_by_hand(t: &TestApp) {
    let f = t.member("freelancer").await;
    let before = t.settings(&f).await;
    assert_eq!(
        before,
        json!({"visibility": "public", "availability": "available", "paused_until": null, "notifications": "all"})
    );

    // Neither private nor muted, no end date: only availability changes.
    let during = t
        .post(Some(&f), "/api/v1/me/break", json!({}))
        .await
        .expect(200);
    assert_eq!(
        during,
        json!({"visibility": "public", "availability": "paused", "paused_until": null, "notifications": "all"})
    );
    t.get(None, &format!("/api/v1/profiles/{}", f.id))
        .await
        .expect(200);
    let after = t.delete(Some(&f), "/api/v1/me/break").await.expect(200);
    assert_eq!(after, before);

    // A second break during a break keeps the settings from before the first one.
    let until = t.now() + 5 * DAY;
    t.post(
        Some(&f),
        "/api/v1/me/break",
        json!({"private": true, "mute": true, "until": until}),
    )
    .await
    .expect(200);
    let again = t
        .post(Some(&f), "/api/v1/me/break", json!({"until": until}))
        .await
        .expect(200);
    assert_eq!(again["visibility"], "private");
    let after = t.delete(Some(&f), "/api/v1/me/break").await.expect(200);
    assert_eq!(after, before);

    // The date's job finds no break to end and changes nothing the member set since.
    t.patch(
        Some(&f),
        "/api/v1/me/settings",
        json!({"visibility": "members_only"}),
    )
    .await
    .expect(200);
    let chosen = t.settings(&f).await;
    t.advance(6 * DAY);
    t.drain_jobs().await;
    let f = t.relogin(&f).await;
    assert_eq!(t.settings(&f).await, chosen);
    let audit = t.get(Some(&f), "/api/v1/me/audit").await.expect(200);
    let ended: Vec<_> = audit
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "break.ended")
        .map(|e| e["detail"]["by"].clone())
        .collect();
    assert_eq!(ended, [json!("member"), json!("member")]);
}

async fn break_requests_are_checked(t: &TestApp) {
    let f = t.member("freelancer").await;
    t.post(Some(&f), "/api/v1/me/break", json!({"until": t.now()}))
        .await
        .problem(422, "break_end_in_past");
    t.post(
        Some(&f),
        "/api/v1/me/break",
        json!({"until": t.now() + 400 * DAY}),
    )
    .await
    .problem(422, "break_too_long");
    assert_eq!(t.settings(&f).await["availability"], "available");
    t.deactivate(&f).await.expect(200);
    t.post(
        Some(&f),
        "/api/v1/me/break",
        json!({"until": t.now() + DAY}),
    )
    .await
    .problem(409, "account_not_active");
    t.delete(Some(&f), "/api/v1/me/break")
        .await
        .problem(409, "account_not_active");
}
