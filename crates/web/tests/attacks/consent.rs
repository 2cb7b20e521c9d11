//! Consent: a client's direct hire is only an offer until the freelancer accepts it. A client
//! who names a stranger cannot fund, end, dispute or review a contract the freelancer never
//! accepted, nor see their private profile because of it; only the freelancer accepts or
//! declines, only the client withdraws; and of concurrent answers to one offer exactly one
//! applies.

use crate::support::{Backend, Member, Res, TestApp};
use crate::tally::report;
use futures_util::future::join_all;
use serde_json::{Value, json};

crate::attack_on_both!(
    a_client_cannot_use_a_contract_the_freelancer_never_accepted,
    only_the_right_party_answers_an_offer,
    concurrent_answers_to_one_offer_apply_once,
);

/// How many answers race for one offer.
const RACERS: usize = 20;

/// Counts one attempt, and a success when the server did what the attacker asked (any 2xx).
/// A refusal must be the expected status with a stable code.
fn refused(attempts: &mut u64, wins: &mut u64, what: &str, r: Res, status: u16, code: &str) {
    *attempts += 1;
    if (200..300).contains(&r.status) {
        eprintln!("{what}: done ({} {})", r.status, r.body);
        *wins += 1;
    } else {
        r.problem(status, code);
    }
}

async fn fund(t: &TestApp, c: &Member, k: &str) -> Res {
    t.post(
        Some(c),
        &format!("/api/v1/contracts/{k}/milestones"),
        json!({"title": "Deposit", "amount": {"minor": 10_000, "currency": "USD"}}),
    )
    .await
}

async fn review(t: &TestApp, author: &Member, k: &str) -> Res {
    t.post(
        Some(author),
        &format!("/api/v1/contracts/{k}/reviews"),
        json!({"rating": 1, "body": "Terrible."}),
    )
    .await
}

async fn contract(t: &TestApp, m: &Member, k: &str) -> Value {
    t.get(Some(m), &format!("/api/v1/contracts/{k}"))
        .await
        .expect(200)
}

async fn a_client_cannot_use_a_contract_the_freelancer_never_accepted(backend: Backend) {
    let t = TestApp::start(backend).await;
    let c = t.member("client").await;
    let f = t.member("freelancer").await;
    let mut attempts = 0;
    let mut wins = 0;

    // The client names a stranger: what exists is an offer, and nothing happens under it.
    let k = t.offer(&c, &f, "Never accepted").await;
    let not_accepted = "contract_not_accepted";
    refused(
        &mut attempts,
        &mut wins,
        "fund",
        fund(&t, &c, &k).await,
        409,
        not_accepted,
    );
    for action in ["end", "pause", "open_dispute"] {
        let r = t.contract_action(&c, &k, action).await;
        refused(&mut attempts, &mut wins, action, r, 409, not_accepted);
    }
    refused(
        &mut attempts,
        &mut wins,
        "review",
        review(&t, &c, &k).await,
        409,
        not_accepted,
    );
    // The client cannot answer for the freelancer.
    for action in ["accept", "decline"] {
        let r = t.contract_action(&c, &k, action).await;
        refused(&mut attempts, &mut wins, action, r, 403, "not_your_move");
    }
    // Nor can the freelancer be made to work or bill under it.
    let submit = t
        .post(
            Some(&f),
            &format!("/api/v1/contracts/{k}/submissions"),
            json!({"note": "Work"}),
        )
        .await;
    refused(
        &mut attempts,
        &mut wins,
        "submit",
        submit,
        409,
        not_accepted,
    );
    let invoice = t
        .post(
            Some(&f),
            &format!("/api/v1/contracts/{k}/invoices"),
            json!({"description": "Work", "amount": {"minor": 500, "currency": "USD"}}),
        )
        .await;
    refused(
        &mut attempts,
        &mut wins,
        "invoice",
        invoice,
        409,
        not_accepted,
    );
    // An offer makes the client no counterparty: a private profile stays out of sight.
    t.patch(
        Some(&f),
        "/api/v1/me/settings",
        json!({"visibility": "private"}),
    )
    .await
    .expect(200);
    let profile = t.get(Some(&c), &format!("/api/v1/profiles/{}", f.id)).await;
    refused(
        &mut attempts,
        &mut wins,
        "private profile",
        profile,
        404,
        "not_found",
    );
    t.patch(
        Some(&f),
        "/api/v1/me/settings",
        json!({"visibility": "public"}),
    )
    .await
    .expect(200);
    // The offer blocks neither side from leaving.
    for m in [&c, &f] {
        attempts += 1;
        let p = t.preflight(m).await;
        if p.find("open_contracts").is_some() {
            eprintln!("an offer blocks closing: {}", p.0);
            wins += 1;
        }
    }

    // Declined, it is over for good: nothing can be funded, reviewed or revived.
    t.contract_action(&f, &k, "decline").await.expect(200);
    refused(
        &mut attempts,
        &mut wins,
        "fund declined",
        fund(&t, &c, &k).await,
        409,
        not_accepted,
    );
    for author in [&c, &f] {
        let r = review(&t, author, &k).await;
        refused(
            &mut attempts,
            &mut wins,
            "review declined",
            r,
            409,
            not_accepted,
        );
    }
    let r = t.contract_action(&c, &k, "end").await;
    refused(
        &mut attempts,
        &mut wins,
        "end declined",
        r,
        409,
        not_accepted,
    );
    let r = t.contract_action(&f, &k, "accept").await;
    refused(
        &mut attempts,
        &mut wins,
        "accept declined",
        r,
        409,
        "contract_action_invalid",
    );

    // Withdrawn, the same.
    let w = t.offer(&c, &f, "Taken back").await;
    t.contract_action(&c, &w, "withdraw").await.expect(200);
    let r = t.contract_action(&f, &w, "accept").await;
    refused(
        &mut attempts,
        &mut wins,
        "accept withdrawn",
        r,
        409,
        "contract_action_invalid",
    );
    refused(
        &mut attempts,
        &mut wins,
        "review withdrawn",
        review(&t, &c, &w).await,
        409,
        not_accepted,
    );

    // Nothing moved: no payment, no review, and both offers are still what they were.
    attempts += 1;
    let payments = t.get(Some(&c), "/api/v1/payments").await.expect(200);
    let reviews = t.get(Some(&c), "/api/v1/me/reviews").await.expect(200);
    if payments != json!([])
        || reviews != json!([])
        || contract(&t, &c, &k).await["status"] != "declined"
        || contract(&t, &c, &w).await["status"] != "withdrawn"
    {
        eprintln!("records moved: {payments} {reviews}");
        wins += 1;
    }
    report(
        "a client opens a contract the freelancer never accepted",
        backend.name(),
        attempts,
        wins,
    );

    // Once the freelancer accepts, the same requests work.
    let ok = t.offer(&c, &f, "Accepted").await;
    let accepted = t.contract_action(&f, &ok, "accept").await.expect(200);
    assert_eq!(accepted["status"], "open");
    assert!(accepted["ended_at"].is_null());
    let p = fund(&t, &c, &ok).await.expect(201)["payment"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    t.payment_action(&c, &p, "release").await.expect(200);
    t.contract_action(&c, &ok, "end").await.expect(200);
    review(&t, &c, &ok).await.expect(201);
    t.finish().await;
}

async fn only_the_right_party_answers_an_offer(backend: Backend) {
    let t = TestApp::start(backend).await;
    let c = t.member("client").await;
    let f = t.member("freelancer").await;
    let stranger = t.member("freelancer").await;
    let mut attempts = 0;
    let mut wins = 0;
    let k = t.offer(&c, &f, "Whose answer").await;
    for (who, action) in [(&c, "accept"), (&c, "decline"), (&f, "withdraw")] {
        let r = t.contract_action(who, &k, action).await;
        refused(&mut attempts, &mut wins, action, r, 403, "not_your_move");
    }
    // Someone outside the offer does not learn it exists.
    for action in ["accept", "decline", "withdraw"] {
        let r = t.contract_action(&stranger, &k, action).await;
        refused(&mut attempts, &mut wins, action, r, 404, "not_found");
    }
    attempts += 1;
    if contract(&t, &c, &k).await["status"] != "offered" {
        wins += 1;
    }
    report(
        "the wrong party answers an offer",
        backend.name(),
        attempts,
        wins,
    );

    // The freelancer declines; the client can no longer withdraw it.
    let declined = t.contract_action(&f, &k, "decline").await.expect(200);
    assert_eq!(declined["status"], "declined");
    assert_eq!(declined["ended_at"], json!(t.now()));
    t.contract_action(&c, &k, "withdraw")
        .await
        .problem(409, "contract_action_invalid");
    // The client withdraws another before any answer; the freelancer can no longer decline.
    let w = t.offer(&c, &f, "Changed my mind").await;
    let withdrawn = t.contract_action(&c, &w, "withdraw").await.expect(200);
    assert_eq!(withdrawn["status"], "withdrawn");
    t.contract_action(&f, &w, "decline")
        .await
        .problem(409, "contract_action_invalid");
    // Leaving declines the offers waiting for the freelancer: none can be accepted later.
    let late = t.offer(&c, &f, "Late").await;
    t.deactivate(&f).await.expect(200);
    assert_eq!(contract(&t, &c, &late).await["status"], "declined");
    t.contract_action(&f, &late, "accept")
        .await
        .problem(409, "contract_action_invalid");
    t.finish().await;
}

async fn concurrent_answers_to_one_offer_apply_once(backend: Backend) {
    let t = TestApp::start(backend).await;
    let c = t.member("client").await;
    let f = t.member("freelancer").await;
    let k = t.offer(&c, &f, "Race").await;
    let rs = join_all(
        (0..RACERS)
            .map(|i| t.contract_action(&f, &k, if i % 2 == 0 { "accept" } else { "decline" })),
    )
    .await;
    let mut winners = Vec::new();
    for r in &rs {
        match r.status {
            200 => winners.push(r.body["status"].clone()),
            409 => {
                r.is_problem();
            }
            s => panic!("a racing answer got {s}: {}", r.body),
        }
    }
    let now = contract(&t, &c, &k).await["status"].clone();
    // One answer applied, and the offer is what that answer made it.
    let consistent = winners.len() == 1 && winners[0] == now;
    let audit = t.get(Some(&f), "/api/v1/me/audit").await.expect(200);
    let changes = audit
        .as_array()
        .expect("audit events")
        .iter()
        .filter(|e| e["action"] == "contract.changed")
        .count();
    report(
        "one offer answered by 20 concurrent requests",
        backend.name(),
        RACERS as u64,
        winners.len().saturating_sub(1) as u64 + u64::from(!consistent) + u64::from(changes != 1),
    );
    t.finish().await;
}
