//! Deleting an account for good, through the API: the guards before scheduling, the plan in
//! words, cancelling during the grace period, and erasure after it — where the counterparty
//! keeps every shared record under the member's pseudonym.

use crate::support::{DAY, PASSWORD, SECOND, TestApp, on_both_backends};
use serde_json::{Value, json};

on_both_backends!(
    deletion_is_guarded,
    a_scheduled_deletion_can_be_cancelled,
    erasure_after_the_grace_period_keeps_what_counterparties_are_owed,
    the_cancel_link_cancels_once_and_only_on_confirmation,
    the_pseudonym_confirmed_is_the_pseudonym_used,
);

fn delete_body(confirmation: &str) -> Value {
    json!({"password": PASSWORD, "reason": "privacy_concerns", "confirmation": confirmation})
}

async fn deletion_is_guarded(t: &TestApp) {
    let f = t.member("freelancer").await;
    let c = t.member("client").await;
    let k = t.contract(&c, &f, "Logo").await;
    t.post(
        None,
        "/api/v1/me/deletion",
        delete_body("delete my account"),
    )
    .await
    .problem(401, "unauthorized");
    // An open contract blocks deletion, and nothing changes.
    let blocked = t
        .post(
            Some(&f),
            "/api/v1/me/deletion",
            delete_body("delete my account"),
        )
        .await
        .problem(409, "preflight_blocked");
    assert!(blocked.to_string().contains("open_contracts"), "{blocked}");
    assert_eq!(t.state(&f).await, "active");
    t.contract_action(&c, &k, "end").await.expect(200);
    // The typed confirmation is required...
    t.post(Some(&f), "/api/v1/me/deletion", delete_body("delete"))
        .await
        .problem(422, "confirmation_mismatch");
    // ...and so is the password.
    let wrong = t
        .post(
            Some(&f),
            "/api/v1/me/deletion",
            json!({"password": "not the password", "reason": "privacy_concerns", "confirmation": "delete my account"}),
        )
        .await;
    wrong.is_problem();
    assert_eq!(t.state(&f).await, "active");
    // Nothing to cancel yet.
    t.delete(Some(&f), "/api/v1/me/deletion")
        .await
        .problem(409, "no_deletion_scheduled");
}

async fn a_scheduled_deletion_can_be_cancelled(t: &TestApp) {
    let f = t.member("freelancer").await;
    let c = t.member("client").await;
    let k = t.contract(&c, &f, "Website").await;
    t.contract_action(&c, &k, "end").await.expect(200);
    let plan = t.get(Some(&f), "/api/v1/me/erasure-plan").await.expect(200);
    assert!(
        plan["pseudonym"]
            .as_str()
            .unwrap()
            .starts_with("Former freelancer #")
    );
    let receipt = t
        .post(
            Some(&f),
            "/api/v1/me/deletion",
            delete_body("  Delete My Account "),
        )
        .await
        .expect(200);
    assert_eq!(receipt["state"], "deletion_scheduled");
    assert_eq!(receipt["due_at"], json!(t.now() + 30 * DAY));
    let summary = receipt["plan"]["summary"].to_string();
    assert!(
        summary.contains("1 contract as freelancer stays visible"),
        "{summary}"
    );
    // Hidden at once; logging in offers to cancel.
    t.get(Some(&c), &format!("/api/v1/profiles/{}", f.id))
        .await
        .problem(404, "not_found");
    assert_eq!(t.login(&f).await["landing"], "cancel_deletion");
    t.post(
        Some(&f),
        "/api/v1/me/deletion",
        delete_body("delete my account"),
    )
    .await
    .problem(409, "deletion_already_scheduled");
    t.advance(29 * DAY);
    // Sessions last 14 days: the member logs in again to cancel.
    let f = t.relogin(&f).await;
    let c = t.relogin(&c).await;
    let back = t.delete(Some(&f), "/api/v1/me/deletion").await.expect(200);
    assert_eq!(back["state"], "active");
    t.get(Some(&c), &format!("/api/v1/profiles/{}", f.id))
        .await
        .expect(200);
    // The erasure job still fires at the old date, and leaves the account alone.
    t.advance(2 * DAY);
    t.drain_jobs().await;
    assert_eq!(t.state(&f).await, "active");
    let audit = t.get(Some(&f), "/api/v1/me/audit").await.expect(200);
    let actions: Vec<&str> = audit
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert!(
        actions.contains(&"account.deletion_scheduled")
            && actions.contains(&"account.deletion_cancelled"),
        "{actions:?}"
    );
}

async fn erasure_after_the_grace_period_keeps_what_counterparties_are_owed(t: &TestApp) {
    let f = t.member("freelancer").await;
    let c = t.member("client").await;
    let k = t.contract(&c, &f, "Catalogue photos").await;
    let started = t
        .post(
            Some(&c),
            "/api/v1/threads",
            json!({"with": f.id, "subject": "Photos", "body": "When can you start?", "contract_id": k}),
        )
        .await
        .expect(201);
    let thread = started["thread"]["id"].as_str().unwrap().to_string();
    let messages = format!("/api/v1/threads/{thread}/messages");
    t.post(Some(&f), &messages, json!({"body": "Monday."}))
        .await
        .expect(201);
    let delivered = t
        .post(
            Some(&f),
            &format!("/api/v1/contracts/{k}/submissions"),
            json!({"note": "First batch", "files": [{"name": "batch1.txt", "content_type": "text/plain", "data_base64": "YmF0Y2ggb25l"}]}),
        )
        .await
        .expect(201);
    let file = delivered["files"][0]["id"].as_str().unwrap().to_string();
    let invoice = t
        .post(
            Some(&f),
            &format!("/api/v1/contracts/{k}/invoices"),
            json!({"description": "Photos", "amount": {"minor": 30000, "currency": "USD"}}),
        )
        .await
        .expect(201)["id"]
        .as_str()
        .unwrap()
        .to_string();
    t.post_empty(Some(&c), &format!("/api/v1/invoices/{invoice}/pay"))
        .await
        .expect(200);
    t.contract_action(&c, &k, "end").await.expect(200);
    t.post(
        Some(&c),
        &format!("/api/v1/contracts/{k}/reviews"),
        json!({"rating": 5, "body": "Great photos"}),
    )
    .await
    .expect(201);
    t.set_balance(&f, 0, 0).await;
    assert_eq!(
        t.get(Some(&c), &format!("/api/v1/people/{}", f.id))
            .await
            .expect(200)["name"],
        "freelancer ".to_string()
            + f.email
                .trim_start_matches("freelancer")
                .trim_end_matches("@example.test")
    );

    let receipt = t
        .post(
            Some(&f),
            "/api/v1/me/deletion",
            delete_body("delete my account"),
        )
        .await
        .expect(200);
    let pseudonym = receipt["plan"]["pseudonym"].as_str().unwrap().to_string();
    // Not yet: the grace period runs.
    t.advance(30 * DAY - SECOND);
    t.drain_jobs().await;
    assert_eq!(t.login(&f).await["landing"], "cancel_deletion");
    t.advance(2 * SECOND);
    assert!(t.drain_jobs().await >= 1);

    // The member is gone for good, and the address answers like one that never had an account.
    t.post(
        None,
        "/api/v1/sessions",
        json!({"email": f.email, "password": PASSWORD}),
    )
    .await
    .problem(401, "bad_credentials");
    t.get(Some(&f), "/api/v1/me")
        .await
        .problem(401, "unauthorized");

    // The client keeps the contract, the thread, the work, the invoice — under the pseudonym.
    let c = t.relogin(&c).await;
    let contract = t
        .get(Some(&c), &format!("/api/v1/contracts/{k}"))
        .await
        .expect(200);
    let pid = contract["freelancer_id"].as_str().unwrap().to_string();
    assert_ne!(pid, f.id);
    let card = t
        .get(Some(&c), &format!("/api/v1/people/{pid}"))
        .await
        .expect(200);
    assert_eq!(card["name"], pseudonym.as_str());
    assert_eq!(card["former_member"], true);
    t.get(Some(&c), &format!("/api/v1/people/{}", f.id))
        .await
        .problem(404, "not_found");
    let read = t.get(Some(&c), &messages).await.expect(200);
    let authors: Vec<(&str, &str)> = read
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["author_id"].as_str().unwrap(),
                m["body"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        authors,
        [
            (c.id.as_str(), "When can you start?"),
            (pid.as_str(), "Monday.")
        ]
    );
    let bytes = t.get(Some(&c), &format!("/api/v1/files/{file}")).await;
    assert_eq!((bytes.status, bytes.text.as_str()), (200, "batch one"));
    let inv = t
        .get(Some(&c), &format!("/api/v1/invoices/{invoice}"))
        .await
        .expect(200);
    assert_eq!(inv["issuer_id"], pid.as_str());
    assert_eq!(inv["status"], "paid");
    // The client keeps the review they wrote, about the pseudonym; no public profile shows it.
    t.get(Some(&c), &format!("/api/v1/profiles/{pid}"))
        .await
        .problem(404, "not_found");
    for id in [&pid, &f.id] {
        t.get(Some(&c), &format!("/api/v1/profiles/{id}/reviews"))
            .await
            .problem(404, "not_found");
    }
    let mine = t.get(Some(&c), "/api/v1/me/reviews").await.expect(200);
    assert_eq!(mine.as_array().unwrap().len(), 1, "{mine}");
    assert_eq!(mine[0]["subject_id"], pid.as_str());
    assert_eq!(mine[0]["body"], "Great photos");
}

async fn the_cancel_link_cancels_once_and_only_on_confirmation(t: &TestApp) {
    let f = t.member("freelancer").await;
    let other = t.member("client").await;
    let receipt = t
        .post(
            Some(&f),
            "/api/v1/me/deletion",
            delete_body("delete my account"),
        )
        .await
        .expect(200);
    let due = receipt["due_at"].as_i64().unwrap();
    // The link the deletion emails carry.
    let token =
        t.h.mint_cancel_link(f.id.parse().unwrap(), due)
            .await
            .unwrap();
    let link = format!("/cancel-deletion/{token}");
    // Opening it only asks.
    for _ in 0..3 {
        let page = t.get(None, &link).await;
        assert_eq!(page.status, 200);
        assert!(page.text.contains("Cancel the deletion") && page.text.contains("method=\"post\""));
    }
    assert_eq!(
        t.login(&f).await["landing"],
        "cancel_deletion",
        "a GET changes nothing"
    );
    // Someone else logged in in this browser cannot use it.
    let refused = t.post_empty(Some(&other), &link).await;
    assert_eq!(refused.status, 403, "{}", refused.text);
    assert_eq!(t.login(&f).await["landing"], "cancel_deletion");
    // A forged link is not found; the real one, confirmed, cancels.
    let forged = t
        .post_empty(None, &format!("/cancel-deletion/{}", "ab".repeat(32)))
        .await;
    assert_eq!(forged.status, 404);
    let done = t.post_empty(None, &link).await;
    assert_eq!(done.status, 200, "{}", done.text);
    assert!(done.text.contains("will not be deleted"));
    assert_eq!(t.login(&f).await["landing"], "home");
    // Used twice: refused, and a new deletion is not undone by the old link.
    let f = t.relogin(&f).await;
    t.post(
        Some(&f),
        "/api/v1/me/deletion",
        delete_body("delete my account"),
    )
    .await
    .expect(200);
    assert_eq!(t.post_empty(None, &link).await.status, 410);
    assert_eq!(t.get(None, &link).await.status, 410);
    assert_eq!(t.login(&f).await["landing"], "cancel_deletion");
    // After expiry: a fresh link for this schedule, used once the grace period has ended.
    let me = t.get(Some(&f), "/api/v1/me").await.expect(200);
    let due = me["deletion_due_at"].as_i64().unwrap();
    let late =
        t.h.mint_cancel_link(f.id.parse().unwrap(), due)
            .await
            .unwrap();
    t.advance(due - t.now() + SECOND);
    assert_eq!(
        t.post_empty(None, &format!("/cancel-deletion/{late}"))
            .await
            .status,
        410
    );
    let f = t.relogin(&f).await;
    assert_eq!(
        t.get(Some(&f), "/api/v1/me").await.expect(200)["state"],
        "deletion_scheduled"
    );
}

/// The plan names a pseudonym before anything is scheduled; sending it back with the
/// confirmation keeps it, so counterparties see the name the member was shown. A label that is
/// not one this member could have been shown is ignored.
async fn the_pseudonym_confirmed_is_the_pseudonym_used(t: &TestApp) {
    let f = t.member("freelancer").await;
    let shown = t.get(Some(&f), "/api/v1/me/erasure-plan").await.expect(200)["pseudonym"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(shown.starts_with("Former freelancer #"), "{shown}");
    let mut body = delete_body("delete my account");
    body["pseudonym"] = json!(shown);
    t.post(Some(&f), "/api/v1/me/deletion", body)
        .await
        .expect(200);
    let after = t.get(Some(&f), "/api/v1/me/erasure-plan").await.expect(200);
    assert_eq!(after["pseudonym"], shown.as_str());

    for forged in [
        "Ana Alves",
        "Former client #ABCDEF",
        "Former freelancer #abcdef",
        &shown,
    ] {
        let g = t.member("freelancer").await;
        let mut body = delete_body("delete my account");
        body["pseudonym"] = json!(forged);
        t.post(Some(&g), "/api/v1/me/deletion", body)
            .await
            .expect(200);
        let got = t.get(Some(&g), "/api/v1/me/erasure-plan").await.expect(200)["pseudonym"]
            .as_str()
            .unwrap()
            .to_string();
        assert_ne!(got, forged, "{forged} is not this member's to take");
        assert!(got.starts_with("Former freelancer #"), "{got}");
    }
}
