//! §3: what an active and a deactivated account can and cannot do, who sees a profile, and
//! that records are visible to their parties only.

use crate::support::{DAY, Member, TestApp, on_both_backends};
use serde_json::{Value, json};

on_both_backends!(
    a_deactivated_profile_is_hidden_by_url_and_in_listings,
    proposals_and_invitations_involving_a_deactivated_member_are_refused,
    messaging_is_read_only_while_deactivated_and_history_stays_readable,
    login_reports_the_state_and_where_to_land,
    reactivation_restores_the_previous_visibility_and_availability,
    illegal_transitions_are_conflicts,
    profile_visibility_public_members_only_private,
    records_of_others_are_not_found,
    a_deactivated_member_answers_once_per_thread_and_day,
);

fn profile(m: &Member) -> String {
    format!("/api/v1/profiles/{}", m.id)
}

/// The ids of the profiles `viewer` finds in the listing.
async fn listed(t: &TestApp, viewer: Option<&Member>) -> Vec<String> {
    t.get(viewer, "/api/v1/profiles?limit=100")
        .await
        .expect(200)
        .as_array()
        .expect("a list")
        .iter()
        .map(|p| p["id"].as_str().expect("id").to_string())
        .collect()
}

fn ids(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap_or_else(|| panic!("not a list: {v}"))
        .iter()
        .map(|x| x["id"].as_str().expect("id").to_string())
        .collect()
}

/// A contract that has ended: the two are counterparties, and nothing blocks either of them.
async fn past_contract(t: &TestApp, client: &Member, freelancer: &Member) -> String {
    let k = t.contract(client, freelancer, "Past work").await;
    t.contract_action(client, &k, "end").await.expect(200);
    k
}

async fn a_deactivated_profile_is_hidden_by_url_and_in_listings(t: &TestApp) {
    let f = t.member("freelancer").await;
    let counterparty = t.member("client").await;
    let stranger = t.member("client").await;
    past_contract(t, &counterparty, &f).await;

    for viewer in [None, Some(&stranger), Some(&counterparty)] {
        let p = t.get(viewer, &profile(&f)).await.expect(200);
        assert_eq!(p["id"], f.id.as_str());
        assert!(listed(t, viewer).await.contains(&f.id));
    }

    let receipt = t.deactivate(&f).await.expect(200);
    assert_eq!(receipt["state"], "deactivated");
    for viewer in [None, Some(&stranger), Some(&counterparty)] {
        t.get(viewer, &profile(&f)).await.problem(404, "not_found");
        t.get(viewer, &format!("{}/reviews", profile(&f)))
            .await
            .problem(404, "not_found");
        assert!(!listed(t, viewer).await.contains(&f.id));
    }
    // The member still sees their own profile, but it is not listed even to them.
    t.get(Some(&f), &profile(&f)).await.expect(200);
    assert!(!listed(t, Some(&f)).await.contains(&f.id));

    assert_eq!(t.reactivate(&f).await.expect(200)["state"], "active");
    for viewer in [None, Some(&stranger), Some(&counterparty)] {
        t.get(viewer, &profile(&f)).await.expect(200);
        assert!(listed(t, viewer).await.contains(&f.id));
    }
}

async fn proposals_and_invitations_involving_a_deactivated_member_are_refused(t: &TestApp) {
    let f = t.member("freelancer").await;
    let c = t.member("client").await;
    let job = t
        .post(
            Some(&c),
            "/api/v1/job-posts",
            json!({"title": "Bike shop website"}),
        )
        .await
        .expect(201)["id"]
        .clone();
    let proposal = json!({"kind": "proposal", "to": c.id, "job_post_id": job, "cover_letter": "I can build it."});
    let invitation =
        json!({"kind": "invitation", "to": f.id, "cover_letter": "Would you build it?"});

    // Both active: both directions work.
    let sent = t
        .post(Some(&f), "/api/v1/proposals", proposal.clone())
        .await
        .expect(201);
    let invited = t
        .post(Some(&c), "/api/v1/proposals", invitation.clone())
        .await
        .expect(201);

    let receipt = t.deactivate(&f).await.expect(200);
    assert_eq!(receipt["proposals_withdrawn"], 1);

    // To a deactivated member: the client never worked with them, so the deactivated
    // member answers like an unknown id (see the visibility attacks for those who did).
    t.post(Some(&c), "/api/v1/proposals", invitation.clone())
        .await
        .problem(404, "not_found");
    t.post(
        Some(&c),
        "/api/v1/contracts",
        json!({"freelancer_id": f.id, "title": "Direct hire"}),
    )
    .await
    .problem(404, "not_found");
    // From a deactivated member.
    t.post(Some(&f), "/api/v1/proposals", proposal.clone())
        .await
        .problem(409, "account_not_active");
    t.post(
        Some(&f),
        &format!(
            "/api/v1/proposals/{}/respond",
            invited["id"].as_str().unwrap()
        ),
        json!({"action": "accept"}),
    )
    .await
    .problem(409, "account_not_active");
    // Nothing was created by the refused requests.
    let seen_by_client = t.get(Some(&c), "/api/v1/proposals").await.expect(200);
    assert_eq!(ids(&seen_by_client).len(), 2, "{seen_by_client}");
    assert!(
        t.get(Some(&c), "/api/v1/contracts")
            .await
            .expect(200)
            .as_array()
            .unwrap()
            .is_empty()
    );

    // Back again: proposals flow.
    t.reactivate(&f).await.expect(200);
    t.post(Some(&f), "/api/v1/proposals", proposal.clone())
        .await
        .expect(201);
    t.post(Some(&c), "/api/v1/proposals", invitation.clone())
        .await
        .expect(201);

    // Now the client leaves: the same rules from the other side.
    t.deactivate(&c).await.expect(200);
    t.post(Some(&f), "/api/v1/proposals", proposal.clone())
        .await
        .problem(404, "not_found");
    t.post(Some(&c), "/api/v1/proposals", invitation.clone())
        .await
        .problem(409, "account_not_active");
    t.post(
        Some(&c),
        "/api/v1/contracts",
        json!({"freelancer_id": f.id, "title": "Direct hire"}),
    )
    .await
    .problem(409, "account_not_active");
    t.post(
        Some(&c),
        "/api/v1/job-posts",
        json!({"title": "Another job"}),
    )
    .await
    .problem(409, "account_not_active");
    // The first proposal the freelancer sent was withdrawn when they left.
    let mine = t.get(Some(&f), "/api/v1/proposals").await.expect(200);
    let first = mine
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == sent["id"])
        .expect("first proposal listed");
    assert_eq!(first["status"], "withdrawn");
}

async fn messaging_is_read_only_while_deactivated_and_history_stays_readable(t: &TestApp) {
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
    // Active: sending works.
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
    t.contract_action(&c, &k, "end").await.expect(200);

    t.deactivate(&f).await.expect(200);

    // Sending is refused...
    t.post(Some(&f), &messages, json!({"body": "Still there?"}))
        .await
        .problem(409, "messaging_read_only");
    t.post(
        Some(&f),
        "/api/v1/threads",
        json!({"with": c.id, "subject": "Hello", "body": "New thread"}),
    )
    .await
    .problem(409, "messaging_read_only");
    // ...and nothing was stored by the refused attempts.
    let read = t.get(Some(&f), &messages).await.expect(200);
    let bodies: Vec<&str> = read
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["body"].as_str().unwrap())
        .collect();
    assert_eq!(bodies, ["When can you start?", "Monday."]);
    assert_eq!(
        ids(&t.get(Some(&f), "/api/v1/threads").await.expect(200)),
        [thread.as_str()]
    );
    // Past contracts, submissions, files and invoices stay readable.
    assert_eq!(
        t.get(Some(&f), &format!("/api/v1/contracts/{k}"))
            .await
            .expect(200)["status"],
        "ended"
    );
    assert_eq!(
        ids(&t.get(Some(&f), "/api/v1/contracts").await.expect(200)),
        [k.as_str()]
    );
    let subs = t
        .get(Some(&f), &format!("/api/v1/contracts/{k}/submissions"))
        .await
        .expect(200);
    assert_eq!(subs.as_array().unwrap().len(), 1);
    let bytes = t.get(Some(&f), &format!("/api/v1/files/{file}")).await;
    assert_eq!((bytes.status, bytes.text.as_str()), (200, "batch one"));
    assert_eq!(
        t.get(Some(&f), &format!("/api/v1/invoices/{invoice}"))
            .await
            .expect(200)["status"],
        "unpaid"
    );
    assert_eq!(
        ids(&t.get(Some(&f), "/api/v1/invoices").await.expect(200)),
        [invoice.as_str()]
    );
    t.get(Some(&f), "/api/v1/payments").await.expect(200);
    // The counterparty keeps the shared history, and may still write into it.
    assert_eq!(
        t.get(Some(&c), &messages)
            .await
            .expect(200)
            .as_array()
            .unwrap()
            .len(),
        2
    );
    t.post(Some(&c), &messages, json!({"body": "Are you around?"}))
        .await
        .expect(201);

    t.reactivate(&f).await.expect(200);
    t.post(Some(&f), &messages, json!({"body": "Back again."}))
        .await
        .expect(201);
}

async fn login_reports_the_state_and_where_to_land(t: &TestApp) {
    let f = t.member("freelancer").await;
    let s = t.login(&f).await;
    assert_eq!(
        (s["state"].as_str(), s["landing"].as_str()),
        (Some("active"), Some("home"))
    );
    assert_eq!(s["account_id"], f.id.as_str());

    t.deactivate(&f).await.expect(200);
    let s = t.login(&f).await;
    assert_eq!(
        (s["state"].as_str(), s["landing"].as_str()),
        (Some("deactivated"), Some("reactivate"))
    );
    let f2 = t.relogin(&f).await;
    let me = t.get(Some(&f2), "/api/v1/me").await.expect(200);
    assert_eq!(me["state"], "deactivated");
    assert_eq!(
        me["effects"],
        json!({"profile_listed": false, "proposals": false, "login": "reactivate", "read_history": true,
               "send_messages": false, "export": true, "edit_profile": false})
    );
    // A deactivated account still needs the right password.
    t.post(
        None,
        "/api/v1/sessions",
        json!({"email": f.email, "password": "not the password"}),
    )
    .await
    .problem(401, "bad_credentials");

    t.reactivate(&f2).await.expect(200);
    let s = t.login(&f).await;
    assert_eq!(
        (s["state"].as_str(), s["landing"].as_str()),
        (Some("active"), Some("home"))
    );
    let me = t.get(Some(&f2), "/api/v1/me").await.expect(200);
    assert_eq!(
        me["effects"],
        json!({"profile_listed": true, "proposals": true, "login": "home", "read_history": true,
               "send_messages": true, "export": true, "edit_profile": true})
    );
}

async fn reactivation_restores_the_previous_visibility_and_availability(t: &TestApp) {
    let f = t.member("freelancer").await;
    let c = t.member("client").await;
    let before = t
        .patch(
            Some(&f),
            "/api/v1/me/settings",
            json!({"visibility": "members_only", "availability": "paused", "notifications": "digest"}),
        )
        .await
        .expect(200);

    t.deactivate(&f).await.expect(200);
    // Nothing about the profile can change while deactivated.
    t.patch(
        Some(&f),
        "/api/v1/me/settings",
        json!({"visibility": "public"}),
    )
    .await
    .problem(409, "account_not_active");
    t.patch(Some(&f), "/api/v1/me/profile", json!({"headline": "New"}))
        .await
        .problem(409, "account_not_active");
    t.post(Some(&f), "/api/v1/me/break", json!({}))
        .await
        .problem(409, "account_not_active");
    t.get(Some(&c), &profile(&f))
        .await
        .problem(404, "not_found");

    t.reactivate(&f).await.expect(200);
    assert_eq!(t.settings(&f).await, before);
    assert_eq!(before["visibility"], "members_only");
    assert_eq!(before["availability"], "paused");
    t.get(None, &profile(&f)).await.problem(404, "not_found");
    let seen = t.get(Some(&c), &profile(&f)).await.expect(200);
    assert_eq!(seen["availability"], "paused");
    t.post(
        Some(&c),
        "/api/v1/proposals",
        json!({"kind": "invitation", "to": f.id, "cover_letter": "Interested?"}),
    )
    .await
    .problem(409, "freelancer_unavailable");
}

async fn illegal_transitions_are_conflicts(t: &TestApp) {
    let f = t.member("freelancer").await;
    t.reactivate(&f).await.problem(409, "not_deactivated");
    t.deactivate(&f).await.expect(200);
    t.deactivate(&f).await.problem(409, "already_deactivated");
    assert_eq!(t.state(&f).await, "deactivated");
    t.reactivate(&f).await.expect(200);
    t.reactivate(&f).await.problem(409, "not_deactivated");
    assert_eq!(t.state(&f).await, "active");
}

async fn profile_visibility_public_members_only_private(t: &TestApp) {
    let f = t.member("freelancer").await;
    let counterparty = t.member("client").await;
    let member = t.member("client").await;
    past_contract(t, &counterparty, &f).await;
    let set = |v: &'static str| {
        let f = f.clone();
        async move {
            t.patch(Some(&f), "/api/v1/me/settings", json!({"visibility": v}))
                .await
                .expect(200)
        }
    };

    // Public: everyone, including anonymous visitors.
    for viewer in [None, Some(&member), Some(&counterparty), Some(&f)] {
        t.get(viewer, &profile(&f)).await.expect(200);
    }
    assert!(listed(t, None).await.contains(&f.id));

    set("members_only").await;
    t.get(None, &profile(&f)).await.problem(404, "not_found");
    t.get(None, &format!("{}/reviews", profile(&f)))
        .await
        .problem(404, "not_found");
    assert!(!listed(t, None).await.contains(&f.id));
    for viewer in [Some(&member), Some(&counterparty), Some(&f)] {
        t.get(viewer, &profile(&f)).await.expect(200);
    }
    assert!(listed(t, Some(&member)).await.contains(&f.id));

    set("private").await;
    for viewer in [None, Some(&member)] {
        t.get(viewer, &profile(&f)).await.problem(404, "not_found");
    }
    for viewer in [Some(&counterparty), Some(&f)] {
        t.get(viewer, &profile(&f)).await.expect(200);
    }
    t.get(Some(&counterparty), &format!("{}/reviews", profile(&f)))
        .await
        .expect(200);
    for viewer in [None, Some(&member), Some(&counterparty)] {
        assert!(!listed(t, viewer).await.contains(&f.id));
    }

    set("public").await;
    t.get(None, &profile(&f)).await.expect(200);
}

async fn records_of_others_are_not_found(t: &TestApp) {
    let c = t.member("client").await;
    let f = t.member("freelancer").await;
    let outsider = t.member("both").await;
    let k = t.contract(&c, &f, "Shared work").await;
    let payment = t.fund(&c, &k, 10_000).await;
    let thread = t
        .post(
            Some(&c),
            "/api/v1/threads",
            json!({"with": f.id, "subject": "Work", "body": "Hi", "contract_id": k}),
        )
        .await
        .expect(201)["thread"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let invoice = t
        .post(
            Some(&f),
            &format!("/api/v1/contracts/{k}/invoices"),
            json!({"description": "Work", "amount": {"minor": 5000, "currency": "USD"}}),
        )
        .await
        .expect(201)["id"]
        .as_str()
        .unwrap()
        .to_string();
    let submitted = t
        .post(
            Some(&f),
            &format!("/api/v1/contracts/{k}/submissions"),
            json!({"files": [{"name": "w.txt", "content_type": "text/plain", "data_base64": "d29yaw=="}]}),
        )
        .await
        .expect(201);
    let shared_file = submitted["files"][0]["id"].as_str().unwrap().to_string();
    let private_file = t
        .post(
            Some(&c),
            "/api/v1/files",
            json!({"kind": "private", "name": "notes.txt", "content_type": "text/plain", "data_base64": "c2VjcmV0"}),
        )
        .await
        .expect(201)["id"]
        .as_str()
        .unwrap()
        .to_string();
    let proposal = t
        .post(
            Some(&f),
            "/api/v1/proposals",
            json!({"kind": "proposal", "to": c.id, "cover_letter": "More work?"}),
        )
        .await
        .expect(201)["id"]
        .as_str()
        .unwrap()
        .to_string();

    // The parties reach every record.
    for who in [&c, &f] {
        t.get(Some(who), &format!("/api/v1/contracts/{k}"))
            .await
            .expect(200);
        t.get(Some(who), &format!("/api/v1/threads/{thread}/messages"))
            .await
            .expect(200);
        t.get(Some(who), &format!("/api/v1/invoices/{invoice}"))
            .await
            .expect(200);
        t.get(Some(who), &format!("/api/v1/files/{shared_file}"))
            .await
            .expect(200);
    }
    t.get(Some(&c), &format!("/api/v1/files/{private_file}"))
        .await
        .expect(200);

    // Someone else gets "not found", exactly as for a record that does not exist.
    let o = Some(&outsider);
    let reads = [
        format!("/api/v1/contracts/{k}"),
        format!("/api/v1/contracts/{k}/submissions"),
        format!("/api/v1/threads/{thread}/messages"),
        format!("/api/v1/invoices/{invoice}"),
        format!("/api/v1/files/{shared_file}"),
        format!("/api/v1/files/{private_file}"),
    ];
    for path in &reads {
        t.get(o, path).await.problem(404, "not_found");
    }
    let writes: [(String, Value); 10] = [
        (
            format!("/api/v1/contracts/{k}/actions"),
            json!({"action": "end"}),
        ),
        (
            format!("/api/v1/contracts/{k}/actions"),
            json!({"action": "open_dispute"}),
        ),
        (
            format!("/api/v1/contracts/{k}/milestones"),
            json!({"title": "x", "amount": {"minor": 1, "currency": "USD"}}),
        ),
        (
            format!("/api/v1/contracts/{k}/submissions"),
            json!({"note": "x"}),
        ),
        (
            format!("/api/v1/contracts/{k}/invoices"),
            json!({"description": "x", "amount": {"minor": 1, "currency": "USD"}}),
        ),
        (
            format!("/api/v1/contracts/{k}/reviews"),
            json!({"rating": 1}),
        ),
        (
            format!("/api/v1/threads/{thread}/messages"),
            json!({"body": "hi"}),
        ),
        (
            format!("/api/v1/payments/{payment}/actions"),
            json!({"action": "release"}),
        ),
        (
            format!("/api/v1/payments/{payment}/actions"),
            json!({"action": "refund"}),
        ),
        (
            format!("/api/v1/proposals/{proposal}/respond"),
            json!({"action": "accept"}),
        ),
    ];
    for (path, body) in &writes {
        t.post(o, path, body.clone())
            .await
            .problem(404, "not_found");
    }
    t.post_empty(o, &format!("/api/v1/invoices/{invoice}/pay"))
        .await
        .problem(404, "not_found");
    t.post(
        o,
        "/api/v1/threads",
        json!({"with": f.id, "subject": "x", "body": "x", "contract_id": k}),
    )
    .await
    .problem(404, "not_found");
    // A counterparty is not the owner of a private file.
    t.get(Some(&f), &format!("/api/v1/files/{private_file}"))
        .await
        .problem(404, "not_found");
    // The outsider's lists are empty, and the refused writes changed nothing.
    for list in ["contracts", "threads", "invoices", "payments", "proposals"] {
        let v = t.get(o, &format!("/api/v1/{list}")).await.expect(200);
        assert!(v.as_array().unwrap().is_empty(), "{list}: {v}");
    }
    let k_now = t
        .get(Some(&c), &format!("/api/v1/contracts/{k}"))
        .await
        .expect(200);
    assert_eq!(k_now["status"], "open");
    let p_now = t.get(Some(&c), "/api/v1/payments").await.expect(200);
    assert_eq!(p_now[0]["status"], "in_escrow");
}

async fn a_deactivated_member_answers_once_per_thread_and_day(t: &TestApp) {
    let f = t.member("freelancer").await;
    let g = t.member("freelancer").await;
    let c = t.member("client").await;
    t.patch(
        Some(&f),
        "/api/v1/me/profile",
        json!({"away_message": "Away until spring; write to me again then."}),
    )
    .await
    .expect(200);
    let mut threads = Vec::new();
    for who in [&f, &g] {
        let started = t
            .post(
                Some(&c),
                "/api/v1/threads",
                json!({"with": who.id, "subject": "Hello", "body": "Are you free?"}),
            )
            .await
            .expect(201);
        threads.push(format!(
            "/api/v1/threads/{}/messages",
            started["thread"]["id"].as_str().unwrap()
        ));
        t.deactivate(who).await.expect(200);
    }
    let bodies = |v: Value| -> Vec<String> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|m| m["body"].as_str().unwrap().to_string())
            .collect()
    };
    for text in ["One more thing", "And another"] {
        for th in &threads {
            t.post(Some(&c), th, json!({"body": text}))
                .await
                .expect(201);
        }
    }
    let auto = "Automatic reply: Away until spring; write to me again then.";
    // (The test clock stands still, so the reply and the next message share a time.)
    let first = bodies(t.get(Some(&c), &threads[0]).await.expect(200));
    assert_eq!(first.iter().filter(|b| *b == auto).count(), 1, "{first:?}");
    let pos = |b: &str| first.iter().position(|x| x == b).unwrap();
    assert!(
        pos(auto) > pos("One more thing"),
        "the reply follows the message: {first:?}"
    );
    assert_eq!(first.len(), 4, "{first:?}");
    assert_eq!(
        bodies(t.get(Some(&c), &threads[1]).await.expect(200)),
        ["Are you free?", "One more thing", "And another"],
        "no away message set, no reply"
    );
    t.advance(DAY);
    let c = t.relogin(&c).await;
    t.post(Some(&c), &threads[0], json!({"body": "Next day"}))
        .await
        .expect(201);
    let all = bodies(t.get(Some(&c), &threads[0]).await.expect(200));
    assert_eq!(all.iter().filter(|b| *b == auto).count(), 2, "{all:?}");
    // Back from the break: no more automatic replies.
    let f = t.relogin(&f).await;
    t.reactivate(&f).await.expect(200);
    t.post(Some(&c), &threads[0], json!({"body": "Welcome back"}))
        .await
        .expect(201);
    let all = bodies(t.get(Some(&c), &threads[0]).await.expect(200));
    assert_eq!(all.iter().filter(|b| *b == auto).count(), 2, "{all:?}");
}
