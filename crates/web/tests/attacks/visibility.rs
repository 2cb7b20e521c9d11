//! Hidden members cannot be probed by id: a stranger who opens a thread with, invites, sends
//! a proposal to or hires a deactivated or private member gets 404, as for an unknown id, and `/people/{id}` then
//! has nothing to show. Members who already know them (a contract or a thread) still reach
//! them.

use crate::support::{Member, TestApp, on_both_backends};
use serde_json::json;

on_both_backends!(strangers_cannot_reach_hidden_members);

async fn start_thread(t: &TestApp, from: &Member, to: &str) -> crate::support::Res {
    t.post(
        Some(from),
        "/api/v1/threads",
        json!({"with": to, "subject": "Hello", "body": "Are you there?"}),
    )
    .await
}

async fn strangers_cannot_reach_hidden_members(t: &TestApp) {
    let stranger = t.member("client").await;
    let known = t.member("client").await;
    let away = t.member("freelancer").await;
    let private = t.member("freelancer").await;
    // `known` worked with both before they hid.
    for f in [&away, &private] {
        let k = t.contract(&known, f, "Earlier work").await;
        t.contract_action(&known, &k, "end").await.expect(200);
    }
    t.deactivate(&away).await.expect(200);
    t.patch(
        Some(&private),
        "/api/v1/me/settings",
        json!({"visibility": "private"}),
    )
    .await
    .expect(200);
    let unknown = uuid::Uuid::now_v7().to_string();

    let mut attempts = 0;
    let mut wins = 0;
    let mut expect_404 = |what: &str, r: crate::support::Res| {
        attempts += 1;
        if r.status != 404 || r.body["code"] != "not_found" {
            eprintln!("{what}: {} {}", r.status, r.body);
            wins += 1;
        }
    };
    for hidden in [&away.id, &private.id, &unknown] {
        expect_404("thread", start_thread(t, &stranger, hidden).await);
        expect_404(
            "person",
            t.get(Some(&stranger), &format!("/api/v1/people/{hidden}"))
                .await,
        );
        expect_404(
            "profile",
            t.get(Some(&stranger), &format!("/api/v1/profiles/{hidden}"))
                .await,
        );
        // Inviting or hiring them would also make them a counterparty, and a 409 or 422
        // instead of 404 would tell the stranger that the id is a hidden member.
        expect_404(
            "invitation",
            t.post(
                Some(&stranger),
                "/api/v1/proposals",
                json!({"kind": "invitation", "to": hidden, "cover_letter": "Probe"}),
            )
            .await,
        );
        expect_404(
            "proposal of the wrong side",
            t.post(
                Some(&stranger),
                "/api/v1/proposals",
                json!({"kind": "proposal", "to": hidden, "cover_letter": "Probe"}),
            )
            .await,
        );
        expect_404(
            "contract",
            t.post(
                Some(&stranger),
                "/api/v1/contracts",
                json!({"freelancer_id": hidden, "title": "Probe"}),
            )
            .await,
        );
    }
    crate::tally::report(
        "stranger reaches a hidden member by id",
        t.backend.name(),
        attempts,
        wins,
    );

    // Those who know them still can.
    start_thread(t, &known, &away.id).await.expect(201);
    start_thread(t, &known, &private.id).await.expect(201);
    t.get(Some(&known), &format!("/api/v1/people/{}", private.id))
        .await
        .expect(200);
    // And are told why an invitation cannot go to the deactivated one.
    t.post(
        Some(&known),
        "/api/v1/proposals",
        json!({"kind": "invitation", "to": away.id, "cover_letter": "Back yet?"}),
    )
    .await
    .problem(409, "counterparty_unavailable");
}
