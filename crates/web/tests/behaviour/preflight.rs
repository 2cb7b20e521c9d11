//! §5: every preflight blocker refuses deactivation until it is resolved; every warning is
//! reported without blocking; deactivation needs the password.

use crate::support::{DAY, Member, PASSWORD, SECOND, TestApp, on_both_backends};
use serde_json::{Value, json};

on_both_backends!(
    an_open_contract_blocks_both_parties_until_it_ends,
    a_paused_contract_blocks,
    a_dispute_blocks_until_resolved,
    a_payment_in_escrow_blocks_payer_and_payee,
    money_on_its_way_blocks_until_it_reaches_the_bank,
    an_unpaid_invoice_blocks_the_client_only,
    a_debt_to_the_platform_blocks,
    deactivation_needs_the_password,
    no_current_export_is_a_warning_until_downloaded_since_the_last_change,
    regular_clients_not_told_are_a_warning,
    open_proposals_are_withdrawn_and_job_posts_closed,
    offers_do_not_block_and_are_closed_when_a_party_leaves,
    a_temporary_reason_suggests_a_break,
);

/// Asserts that `code` blocks `m` (about `record`, when given) in both intents, that
/// deactivation is refused with the blockers, and that the account stays active.
async fn assert_blocked(t: &TestApp, m: &Member, code: &str, record: Option<&str>) {
    let p = t.preflight(m).await;
    assert!(
        p.blockers().iter().any(|c| c == code),
        "{code} missing in {}",
        p.0
    );
    let f = p.find(code).expect("finding");
    assert_eq!(f["severity"], "blocker");
    assert!(!f["message"].as_str().unwrap().is_empty());
    assert!(f["resolve"]["href"].as_str().unwrap().starts_with('/'));
    if let Some(r) = record {
        assert!(
            p.record_ids(code).iter().any(|x| x == r),
            "{code} does not name {r}: {}",
            p.0
        );
    }
    let for_delete = t
        .get(Some(m), "/api/v1/me/preflight?intent=delete")
        .await
        .expect(200);
    assert!(
        for_delete["blockers"]
            .as_array()
            .unwrap()
            .iter()
            .any(|b| b["code"] == code),
        "{code} missing for deletion: {for_delete}"
    );
    let refused = t.deactivate(m).await.problem(409, "preflight_blocked");
    assert!(
        refused["blockers"]
            .as_array()
            .expect("blockers in the problem")
            .iter()
            .any(|b| b["code"] == code),
        "{refused}"
    );
    assert_eq!(t.state(m).await, "active");
}

/// Asserts that nothing blocks `m` any more and that deactivation goes through.
async fn assert_free(t: &TestApp, m: &Member) {
    let p = t.preflight(m).await;
    assert!(p.blockers().is_empty(), "still blocked: {}", p.0);
    assert_eq!(t.deactivate(m).await.expect(200)["state"], "deactivated");
    assert_eq!(t.state(m).await, "deactivated");
}

fn id(v: &Value) -> String {
    v["id"].as_str().expect("id").to_string()
}

async fn an_open_contract_blocks_both_parties_until_it_ends(t: &TestApp) {
    let c = t.member("client").await;
    let f = t.member("freelancer").await;
    let k = t.contract(&c, &f, "Open work").await;
    assert_blocked(t, &f, "open_contracts", Some(&k)).await;
    assert_blocked(t, &c, "open_contracts", Some(&k)).await;
    t.contract_action(&c, &k, "end").await.expect(200);
    assert_free(t, &f).await;
    assert_free(t, &c).await;
}

async fn a_paused_contract_blocks(t: &TestApp) {
    let c = t.member("client").await;
    let f = t.member("freelancer").await;
    let k = t.contract(&c, &f, "Paused work").await;
    let paused = t.contract_action(&f, &k, "pause").await.expect(200);
    assert_eq!(paused["status"], "paused");
    assert_blocked(t, &f, "open_contracts", Some(&k)).await;
    assert_blocked(t, &c, "open_contracts", Some(&k)).await;
    t.contract_action(&c, &k, "end").await.expect(200);
    assert_free(t, &f).await;
    assert_free(t, &c).await;
}

async fn a_dispute_blocks_until_resolved(t: &TestApp) {
    let c = t.member("client").await;
    let f = t.member("freelancer").await;
    let k = t.contract(&c, &f, "Disputed work").await;
    let disputed = t.contract_action(&c, &k, "open_dispute").await.expect(200);
    assert_eq!(disputed["status"], "in_dispute");
    for m in [&f, &c] {
        assert_blocked(t, m, "open_disputes", None).await;
        assert_blocked(t, m, "open_contracts", Some(&k)).await;
        assert_eq!(t.preflight(m).await.record_ids("open_disputes").len(), 1);
    }
    t.contract_action(&c, &k, "end")
        .await
        .problem(409, "contract_action_invalid");
    let resolved = t
        .contract_action(&f, &k, "resolve_dispute")
        .await
        .expect(200);
    assert_eq!(resolved["status"], "open");
    let p = t.preflight(&f).await;
    assert_eq!(p.blockers(), ["open_contracts"], "{}", p.0);
    t.contract_action(&c, &k, "end").await.expect(200);
    assert_free(t, &f).await;
    assert_free(t, &c).await;
}

async fn a_payment_in_escrow_blocks_payer_and_payee(t: &TestApp) {
    let c = t.member("client").await;
    let f = t.member("freelancer").await;
    let k = t.contract(&c, &f, "Escrowed work").await;
    let p = t.fund(&c, &k, 25_000).await;
    assert_blocked(t, &f, "payments_in_escrow", Some(&p)).await;
    assert_blocked(t, &c, "payments_in_escrow", Some(&p)).await;
    // Money in escrow also keeps the contract from ending.
    t.contract_action(&c, &k, "end")
        .await
        .problem(409, "payments_in_escrow");
    let refunded = t.payment_action(&f, &p, "refund").await.expect(200);
    assert_eq!(refunded["status"], "refunded");
    t.contract_action(&c, &k, "end").await.expect(200);
    assert_free(t, &f).await;
    assert_free(t, &c).await;
}

async fn money_on_its_way_blocks_until_it_reaches_the_bank(t: &TestApp) {
    let c = t.member("client").await;
    let f = t.member("freelancer").await;
    let k = t.contract(&c, &f, "Paid work").await;
    let p = t.fund(&c, &k, 40_000).await;

    // Pending release.
    let approved = t.payment_action(&c, &p, "approve").await.expect(200);
    assert_eq!(approved["status"], "pending_release");
    assert_blocked(t, &f, "payments_in_escrow", Some(&p)).await;
    assert_blocked(t, &c, "payments_in_escrow", Some(&p)).await;

    // Released: the money sits in the freelancer's balance.
    t.payment_action(&c, &p, "release").await.expect(200);
    t.contract_action(&c, &k, "end").await.expect(200);
    assert_free(t, &c).await;
    let balances = t.get(Some(&f), "/api/v1/me/balances").await.expect(200);
    assert_eq!(
        balances[0]["available"],
        json!({"minor": 40000, "currency": "USD"})
    );
    assert_blocked(t, &f, "balance_not_withdrawn", Some("USD")).await;
    assert_eq!(
        t.preflight(&f).await.blockers(),
        ["balance_not_withdrawn"],
        "only the balance is left"
    );

    // Withdrawn: a payout is scheduled and has not settled.
    let payout = t
        .post(
            Some(&f),
            "/api/v1/me/withdrawals",
            json!({"amount": {"minor": 40000, "currency": "USD"}}),
        )
        .await
        .expect(201);
    assert_eq!(payout["status"], "scheduled");
    assert_eq!(payout["settles_at"], t.now() + 3 * DAY);
    assert_blocked(t, &f, "payouts_not_settled", Some(&id(&payout))).await;
    assert_eq!(t.preflight(&f).await.blockers(), ["payouts_not_settled"]);
    assert_eq!(t.drain_jobs().await, 0, "the payout is not due yet");
    assert_blocked(t, &f, "payouts_not_settled", None).await;

    // The settlement date passes and the worker settles it.
    t.advance(3 * DAY + SECOND);
    assert_eq!(t.drain_jobs().await, 1);
    let payouts = t.get(Some(&f), "/api/v1/me/payouts").await.expect(200);
    assert_eq!(payouts[0]["status"], "settled");
    assert_free(t, &f).await;
}

async fn an_unpaid_invoice_blocks_the_client_only(t: &TestApp) {
    let c = t.member("client").await;
    let f = t.member("freelancer").await;
    let k = t.contract(&c, &f, "Invoiced work").await;
    let invoice = t
        .post(
            Some(&f),
            &format!("/api/v1/contracts/{k}/invoices"),
            json!({"description": "Design", "amount": {"minor": 12000, "currency": "USD"}, "due_in_days": 30}),
        )
        .await
        .expect(201);
    t.contract_action(&c, &k, "end").await.expect(200);

    assert_blocked(t, &c, "unpaid_invoices", Some(&id(&invoice))).await;
    assert_eq!(t.preflight(&c).await.blockers(), ["unpaid_invoices"]);
    // The freelancer issued it: owed money is not a reason to keep them.
    assert!(t.preflight(&f).await.blockers().is_empty());

    let paid = t
        .post_empty(Some(&c), &format!("/api/v1/invoices/{}/pay", id(&invoice)))
        .await
        .expect(200);
    assert_eq!(paid["status"], "paid");
    assert_free(t, &c).await;
    // Paying it credited the freelancer, who now has money to withdraw.
    assert_blocked(t, &f, "balance_not_withdrawn", Some("USD")).await;
}

async fn a_debt_to_the_platform_blocks(t: &TestApp) {
    let f = t.member("freelancer").await;
    t.set_balance(&f, 0, 2_500).await;
    let balances = t.get(Some(&f), "/api/v1/me/balances").await.expect(200);
    assert_eq!(
        balances[0]["debt"],
        json!({"minor": 2500, "currency": "USD"})
    );
    assert_blocked(t, &f, "debt_to_platform", Some("USD")).await;
    assert_eq!(t.preflight(&f).await.blockers(), ["debt_to_platform"]);
    let f_msg = t.preflight(&f).await.find("debt_to_platform").unwrap();
    assert!(
        f_msg["message"].as_str().unwrap().contains("USD 25.00"),
        "{f_msg}"
    );
    t.set_balance(&f, 0, 0).await;
    assert_free(t, &f).await;
}

async fn deactivation_needs_the_password(t: &TestApp) {
    let f = t.member("freelancer").await;
    let deactivate = |who: &Member, password: Value| {
        let who = who.clone();
        async move {
            t.post(
                Some(&who),
                "/api/v1/me/deactivate",
                json!({"password": password, "reason": "other"}),
            )
            .await
        }
    };
    // A password that is given is always checked.
    deactivate(&f, json!("not the password"))
        .await
        .problem(403, "wrong_password");
    assert_eq!(t.state(&f).await, "active");

    // Without one, only a recent re-authentication counts (the login does not).
    let second_session = t.relogin(&f).await;
    t.advance(11 * 60 * SECOND);
    deactivate(&f, Value::Null)
        .await
        .problem(403, "reauthentication_required");
    deactivate(&f, json!(""))
        .await
        .problem(403, "reauthentication_required");
    assert_eq!(t.state(&f).await, "active");
    t.post(
        Some(&f),
        "/api/v1/sessions/reauth",
        json!({"password": "not the password"}),
    )
    .await
    .problem(403, "wrong_password");
    t.post(
        Some(&f),
        "/api/v1/sessions/reauth",
        json!({"password": PASSWORD}),
    )
    .await
    .expect(204);
    // The re-authentication belongs to the session that made it...
    deactivate(&second_session, Value::Null)
        .await
        .problem(403, "reauthentication_required");
    // ...and lasts a few minutes.
    t.advance(11 * 60 * SECOND);
    deactivate(&f, Value::Null)
        .await
        .problem(403, "reauthentication_required");
    assert_eq!(t.state(&f).await, "active");
    t.post(
        Some(&f),
        "/api/v1/sessions/reauth",
        json!({"password": PASSWORD}),
    )
    .await
    .expect(204);
    t.advance(60 * SECOND);
    deactivate(&f, Value::Null).await.expect(200);
    assert_eq!(t.state(&f).await, "deactivated");
}

async fn no_current_export_is_a_warning_until_downloaded_since_the_last_change(t: &TestApp) {
    let f = t.member("freelancer").await;
    let c = t.member("client").await;
    let warns = |m: &Member| {
        let m = m.clone();
        async move { t.preflight(&m).await.warnings() }
    };
    assert_eq!(warns(&f).await, ["no_current_export"]);
    assert!(t.preflight(&f).await.blockers().is_empty());

    t.record_export_download(&f).await;
    assert!(warns(&f).await.is_empty());

    // Their own change makes the download stale.
    t.advance(SECOND);
    t.patch(
        Some(&f),
        "/api/v1/me/profile",
        json!({"headline": "Now in Lisbon"}),
    )
    .await
    .expect(200);
    assert_eq!(warns(&f).await, ["no_current_export"]);

    // So does a change a counterparty makes to their shared records.
    t.record_export_download(&f).await;
    assert!(warns(&f).await.is_empty());
    t.advance(SECOND);
    let k = t.contract(&c, &f, "New work").await;
    assert!(warns(&f).await.iter().any(|w| w == "no_current_export"));
    t.contract_action(&c, &k, "end").await.expect(200);

    // A warning does not block.
    let receipt = t.deactivate(&f).await.expect(200);
    let codes: Vec<&str> = receipt["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["code"].as_str().unwrap())
        .collect();
    assert!(codes.contains(&"no_current_export"), "{receipt}");
}

async fn regular_clients_not_told_are_a_warning(t: &TestApp) {
    let f = t.member("freelancer").await;
    let told = t.member("client").await; // one recent contract, told
    let many = t.member("client").await; // three contracts long ago
    let open = t.member("client").await; // one contract still open
    let once = t.member("client").await; // one contract long ago
    let c_told = t.contract(&told, &f, "Told").await;
    t.contract_action(&told, &c_told, "end").await.expect(200);
    for i in 0..3 {
        let k = t.contract(&many, &f, &format!("Job {i}")).await;
        t.contract_action(&many, &k, "end").await.expect(200);
    }
    let c_open = t.contract(&open, &f, "Ongoing").await;
    let c_once = t.contract(&once, &f, "Once").await;
    t.contract_action(&once, &c_once, "end").await.expect(200);

    let regular = |f: Member| async move {
        let p = t.preflight(&f).await;
        let Some(finding) = p.find("regular_clients_not_told") else {
            return Vec::new();
        };
        assert_eq!(finding["severity"], "warning");
        let mut ids = p.record_ids("regular_clients_not_told");
        ids.sort();
        ids
    };
    let sorted = |v: &[&Member]| {
        let mut ids: Vec<String> = v.iter().map(|m| m.id.clone()).collect();
        ids.sort();
        ids
    };

    // Today every client had a contract in the last 12 months.
    assert_eq!(
        regular(f.clone()).await,
        sorted(&[&told, &many, &open, &once])
    );
    t.record_client_notice(&f, &told).await;
    assert_eq!(regular(f.clone()).await, sorted(&[&many, &open, &once]));
    // Clients' own preflight does not list the freelancer as a client of theirs.
    assert!(
        t.preflight(&many)
            .await
            .find("regular_clients_not_told")
            .is_none()
    );

    // Thirteen months later: an open contract or three contracts still make a regular client;
    // a single old contract does not.
    t.advance(400 * DAY);
    let f = t.relogin(&f).await;
    let open = t.relogin(&open).await;
    assert_eq!(regular(f.clone()).await, sorted(&[&many, &open]));
    // Ending the open contract now makes it a recent one: still regular.
    t.contract_action(&open, &c_open, "end").await.expect(200);
    assert_eq!(regular(f.clone()).await, sorted(&[&many, &open]));
    for client in [&many, &open] {
        t.record_client_notice(&f, client).await;
    }
    assert!(regular(f.clone()).await.is_empty());
    assert!(t.preflight(&f).await.blockers().is_empty());
}

async fn open_proposals_are_withdrawn_and_job_posts_closed(t: &TestApp) {
    let f = t.member("freelancer").await;
    let c = t.member("client").await;
    let other_f = t.member("freelancer").await;

    // The freelancer's side: an open proposal, and one the client already declined.
    let open = t
        .post(
            Some(&f),
            "/api/v1/proposals",
            json!({"kind": "proposal", "to": c.id, "cover_letter": "Pick me"}),
        )
        .await
        .expect(201);
    let declined = t
        .post(
            Some(&f),
            "/api/v1/proposals",
            json!({"kind": "proposal", "to": c.id, "cover_letter": "Or me"}),
        )
        .await
        .expect(201);
    t.post(
        Some(&c),
        &format!("/api/v1/proposals/{}/respond", id(&declined)),
        json!({"action": "decline"}),
    )
    .await
    .expect(200);
    let p = t.preflight(&f).await;
    assert!(p.blockers().is_empty(), "{}", p.0);
    assert_eq!(p.record_ids("open_proposals_withdrawn"), [id(&open)]);
    assert!(p.find("open_job_posts_closed").is_none());
    let receipt = t.deactivate(&f).await.expect(200);
    assert_eq!(receipt["proposals_withdrawn"], 1);
    assert_eq!(receipt["job_posts_closed"], 0);
    let statuses = |v: Value| -> Vec<(String, String)> {
        let mut s: Vec<(String, String)> = v
            .as_array()
            .unwrap()
            .iter()
            .map(|p| (id(p), p["status"].as_str().unwrap().to_string()))
            .collect();
        s.sort();
        s
    };
    let mut expected = vec![
        (id(&open), "withdrawn".to_string()),
        (id(&declined), "declined".to_string()),
    ];
    expected.sort();
    assert_eq!(
        statuses(t.get(Some(&c), "/api/v1/proposals").await.expect(200)),
        expected
    );

    // The client's side: an open job post and an invitation sent about it.
    let job = t
        .post(
            Some(&c),
            "/api/v1/job-posts",
            json!({"title": "Mobile app"}),
        )
        .await
        .expect(201);
    let invitation = t
        .post(
            Some(&c),
            "/api/v1/proposals",
            json!({"kind": "invitation", "to": other_f.id, "job_post_id": id(&job), "cover_letter": "Join us"}),
        )
        .await
        .expect(201);
    let p = t.preflight(&c).await;
    assert!(p.blockers().is_empty(), "{}", p.0);
    assert_eq!(p.record_ids("open_job_posts_closed"), [id(&job)]);
    assert_eq!(p.record_ids("open_proposals_withdrawn"), [id(&invitation)]);
    let receipt = t.deactivate(&c).await.expect(200);
    assert_eq!(receipt["job_posts_closed"], 1);
    assert_eq!(receipt["proposals_withdrawn"], 1);
    let posts = t.get(Some(&c), "/api/v1/job-posts").await.expect(200);
    assert_eq!(posts[0]["status"], "closed");
    assert_eq!(
        statuses(t.get(Some(&other_f), "/api/v1/proposals").await.expect(200)),
        [(id(&invitation), "withdrawn".to_string())]
    );
}

async fn a_temporary_reason_suggests_a_break(t: &TestApp) {
    let f = t.member("freelancer").await;
    let warnings = |query: &'static str| {
        let f = f.clone();
        async move {
            let v = t
                .get(Some(&f), &format!("/api/v1/me/preflight?{query}"))
                .await
                .expect(200);
            v["warnings"]
                .as_array()
                .unwrap()
                .iter()
                .map(|w| w["code"].as_str().unwrap().to_string())
                .collect::<Vec<_>>()
        }
    };
    let has_break = |v: &[String]| v.iter().any(|c| c == "break_would_do");
    assert!(has_break(
        &warnings("intent=deactivate&reason=taking_a_break").await
    ));
    assert!(has_break(
        &warnings("intent=delete&reason=taking_a_break").await
    ));
    assert!(!has_break(&warnings("intent=deactivate").await));
    assert!(!has_break(
        &warnings("intent=deactivate&reason=fees_too_high").await
    ));

    let receipt = t
        .post(
            Some(&f),
            "/api/v1/me/deactivate",
            json!({"password": PASSWORD, "reason": "taking_a_break"}),
        )
        .await
        .expect(200);
    assert!(
        receipt["warnings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|w| w["code"] == "break_would_do"),
        "{receipt}"
    );
}

/// A contract as `m` sees it.
async fn contract_seen_by(t: &TestApp, m: &Member, k: &str) -> Value {
    t.get(Some(m), &format!("/api/v1/contracts/{k}"))
        .await
        .expect(200)
}

async fn offers_do_not_block_and_are_closed_when_a_party_leaves(t: &TestApp) {
    let f = t.member("freelancer").await;
    let c = t.member("client").await;
    let other_c = t.member("client").await;
    let other_f = t.member("freelancer").await;
    // An offer in each state: waiting, declined, withdrawn; and one the client made elsewhere.
    let pending = t.offer(&c, &f, "Pending").await;
    let declined = t.offer(&other_c, &f, "Declined").await;
    t.contract_action(&f, &declined, "decline")
        .await
        .expect(200);
    let withdrawn = t.offer(&c, &f, "Withdrawn").await;
    t.contract_action(&c, &withdrawn, "withdraw")
        .await
        .expect(200);
    let elsewhere = t.offer(&c, &other_f, "Elsewhere").await;

    // No offer is an open contract, and none makes its client a regular client.
    for m in [&f, &c, &other_c, &other_f] {
        let p = t.preflight(m).await;
        assert!(p.blockers().is_empty(), "{}", p.0);
        assert!(p.find("regular_clients_not_told").is_none(), "{}", p.0);
    }
    let waiting = t.preflight(&f).await;
    assert_eq!(
        waiting.find("open_offers_closed").unwrap()["severity"],
        "warning"
    );
    assert_eq!(waiting.record_ids("open_offers_closed"), [pending.as_str()]);
    let mut made = t.preflight(&c).await.record_ids("open_offers_closed");
    made.sort();
    let mut expected = vec![pending.clone(), elsewhere.clone()];
    expected.sort();
    assert_eq!(made, expected);
    assert!(
        t.preflight(&other_c)
            .await
            .find("open_offers_closed")
            .is_none()
    );

    // The freelancer leaves: the offer waiting for them is declined in the same step.
    let receipt = t.deactivate(&f).await.expect(200);
    assert_eq!(receipt["offers_closed"], 1, "{receipt}");
    let k = contract_seen_by(t, &c, &pending).await;
    assert_eq!(k["status"], "declined");
    assert_eq!(k["ended_at"], json!(t.now()));
    assert_eq!(
        contract_seen_by(t, &c, &withdrawn).await["status"],
        "withdrawn"
    );
    assert_eq!(
        contract_seen_by(t, &other_c, &declined).await["status"],
        "declined"
    );

    // The client schedules deletion: the offer they made elsewhere is withdrawn, and can no
    // longer be accepted.
    let receipt = t
        .post(
            Some(&c),
            "/api/v1/me/deletion",
            json!({"password": PASSWORD, "reason": "privacy_concerns", "confirmation": "delete my account"}),
        )
        .await
        .expect(200);
    assert_eq!(receipt["offers_closed"], 1, "{receipt}");
    assert_eq!(
        contract_seen_by(t, &other_f, &elsewhere).await["status"],
        "withdrawn"
    );
    t.contract_action(&other_f, &elsewhere, "accept")
        .await
        .problem(409, "contract_action_invalid");
    // Reactivating brings nothing back to life.
    t.reactivate(&f).await.expect(200);
    t.contract_action(&f, &pending, "accept")
        .await
        .problem(409, "contract_action_invalid");
}
