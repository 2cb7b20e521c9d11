//! Money moves once: concurrent releases, withdrawals, invoice payments and refunds racing
//! releases each succeed exactly once and the ledger balances; amounts are bounded, so an
//! attacker cannot overflow a victim's balance into a value that breaks their account; and
//! support agents cannot move anyone's money.

use crate::support::{Member, PASSWORD, Res, TestApp, on_both_backends};
use futures_util::future::join_all;
use hiatus_domain::{AccountKind, MAX_AMOUNT_MINOR, MAX_BALANCE_MINOR, Role};
use hiatus_service::SignUp;
use hiatus_testkit::testing;
use serde_json::{Value, json};

on_both_backends!(
    concurrent_releases_of_one_escrow,
    concurrent_withdrawals_of_one_balance,
    concurrent_payments_of_one_invoice,
    refunds_racing_releases,
    overflowing_a_freelancers_balance,
    support_agents_cannot_move_money,
    the_database_refuses_out_of_range_money,
);

/// How many requests each race sends at once.
const RACERS: usize = 50;

fn backend(t: &TestApp) -> &'static str {
    t.backend.name()
}

/// The statuses of a race: every request answers, with success or a clear refusal.
fn outcomes(rs: &[Res], ok: u16) -> u64 {
    for r in rs {
        assert!(
            r.status == ok || r.status == 409,
            "a racing request got {}: {}",
            r.status,
            r.body
        );
    }
    rs.iter().filter(|r| r.status == ok).count() as u64
}

/// Available balance in USD minor units.
async fn available(t: &TestApp, m: &Member) -> i64 {
    let b = t.get(Some(m), "/api/v1/me/balances").await.expect(200);
    b.as_array()
        .expect("balances")
        .iter()
        .find(|b| b["available"]["currency"] == "USD")
        .map(|b| b["available"]["minor"].as_i64().expect("integer balance"))
        .unwrap_or(0)
}

async fn payment(t: &TestApp, m: &Member, id: &str) -> Value {
    let all = t
        .get(Some(m), "/api/v1/payments?limit=500")
        .await
        .expect(200);
    all.as_array()
        .expect("payments")
        .iter()
        .find(|p| p["id"] == id)
        .cloned()
        .expect("the payment is listed")
}

/// Extra successes beyond the one allowed, plus one for a ledger that does not add up.
fn extra(ok: u64, ledger_balances: bool) -> u64 {
    ok.saturating_sub(1) + u64::from(!ledger_balances)
}

async fn concurrent_releases_of_one_escrow(t: &TestApp) {
    let c = t.member("client").await;
    let f = t.member("freelancer").await;
    let k = t.contract(&c, &f, "Race").await;
    let p = t.fund(&c, &k, 1_000).await;
    let rs = join_all((0..RACERS).map(|_| t.payment_action(&c, &p, "release"))).await;
    let ok = outcomes(&rs, 200);
    let released = available(t, &f).await;
    let ledger = ok == 1 && released == 1_000 && payment(t, &c, &p).await["status"] == "released";
    crate::tally::report(
        "one escrow released by 50 concurrent requests",
        backend(t),
        RACERS as u64,
        extra(ok, ledger),
    );
}

async fn concurrent_withdrawals_of_one_balance(t: &TestApp) {
    let c = t.member("client").await;
    let f = t.member("freelancer").await;
    let k = t.contract(&c, &f, "Race").await;
    let p = t.fund(&c, &k, 4_000).await;
    t.payment_action(&c, &p, "release").await.expect(200);
    let body = json!({"amount": {"minor": 4_000, "currency": "USD"}});
    let rs =
        join_all((0..RACERS).map(|_| t.post(Some(&f), "/api/v1/me/withdrawals", body.clone())))
            .await;
    let ok = outcomes(&rs, 201);
    let left = available(t, &f).await;
    let payouts = t.get(Some(&f), "/api/v1/me/payouts").await.expect(200);
    let paid_out: i64 = payouts
        .as_array()
        .expect("payouts")
        .iter()
        .map(|p| p["amount"]["minor"].as_i64().expect("amount"))
        .sum();
    // balance = released − withdrawn
    let ledger = left == 4_000 - paid_out && paid_out == 4_000;
    crate::tally::report(
        "one balance withdrawn by 50 concurrent requests",
        backend(t),
        RACERS as u64,
        extra(ok, ledger),
    );
    // The payout settles once, however often the job runs.
    t.advance(4 * crate::support::DAY);
    t.drain_jobs().await;
    let payouts = t.get(Some(&f), "/api/v1/me/payouts").await.expect(200);
    assert!(
        payouts
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p["status"] == "settled"),
        "{payouts}"
    );
}

async fn concurrent_payments_of_one_invoice(t: &TestApp) {
    let c = t.member("client").await;
    let f = t.member("freelancer").await;
    let k = t.contract(&c, &f, "Race").await;
    let inv = t
        .post(
            Some(&f),
            &format!("/api/v1/contracts/{k}/invoices"),
            json!({"description": "Work", "amount": {"minor": 500, "currency": "USD"}, "due_in_days": 14}),
        )
        .await
        .expect(201);
    let id = inv["id"].as_str().expect("invoice id").to_string();
    let path = format!("/api/v1/invoices/{id}/pay");
    let rs = join_all((0..RACERS).map(|_| t.post_empty(Some(&c), &path))).await;
    let ok = outcomes(&rs, 200);
    let ledger = available(t, &f).await == 500
        && t.get(Some(&c), &format!("/api/v1/invoices/{id}"))
            .await
            .expect(200)["status"]
            == "paid";
    crate::tally::report(
        "one invoice paid by 50 concurrent requests",
        backend(t),
        RACERS as u64,
        extra(ok, ledger),
    );
}

async fn refunds_racing_releases(t: &TestApp) {
    let c = t.member("client").await;
    let f = t.member("freelancer").await;
    let k = t.contract(&c, &f, "Race").await;
    let p = t.fund(&c, &k, 1_000).await;
    let rs = join_all((0..RACERS).map(|i| {
        if i % 2 == 0 {
            t.payment_action(&c, &p, "release")
        } else {
            t.payment_action(&f, &p, "refund")
        }
    }))
    .await;
    let ok = outcomes(&rs, 200);
    let status = payment(t, &c, &p).await["status"].clone();
    let released = available(t, &f).await;
    // escrowed = released + refunded: 1,000 went exactly one way.
    let ledger = match status.as_str() {
        Some("released") => released == 1_000,
        Some("refunded") => released == 0,
        _ => false,
    };
    crate::tally::report(
        "one escrow released and refunded by 50 racing requests",
        backend(t),
        RACERS as u64,
        extra(ok, ledger),
    );
}

/// What a victim's account must keep answering after an overflow attempt.
async fn victim_still_works(t: &TestApp, f: &Member) -> u64 {
    let mut broken = 0;
    let mut check = |what: &str, status: u16, ok: bool| {
        if !ok {
            eprintln!("{what} answered {status}");
            broken += 1;
        }
    };
    let r = t.get(Some(f), "/api/v1/me/balances").await;
    check("balances", r.status, r.status == 200);
    for intent in ["deactivate", "delete"] {
        let r = t
            .get(Some(f), &format!("/api/v1/me/preflight?intent={intent}"))
            .await;
        check("preflight", r.status, r.status == 200);
    }
    let page = t.fetch(Some(f), "/balance/withdraw", &[]).await;
    check("withdraw page", page.status, page.status == 200);
    let e = t.post(Some(f), "/api/v1/me/exports", json!({})).await;
    check(
        "export request",
        e.status,
        e.status == 201 || e.status == 202,
    );
    if let Some(id) = e.body["id"].as_str() {
        t.drain_jobs().await;
        let v = t.get(Some(f), &format!("/api/v1/me/exports/{id}")).await;
        check(
            "export",
            v.status,
            v.status == 200 && v.body["status"] == "ready",
        );
    }
    broken
}

async fn overflowing_a_freelancers_balance(t: &TestApp) {
    let c = t.member("client").await;
    let f = t.member("freelancer").await;
    let k = t.contract(&c, &f, "Overflow").await;
    let mut attempts = 0;
    let mut wins = 0;
    // Amounts beyond the bound are refused up front, on every path that takes one.
    for minor in [i64::MAX, MAX_AMOUNT_MINOR + 1, 0, -5] {
        let m = json!({"minor": minor, "currency": "USD"});
        let fund = t
            .post(
                Some(&c),
                &format!("/api/v1/contracts/{k}/milestones"),
                json!({"title": "Huge", "amount": m}),
            )
            .await;
        let invoice = t
            .post(
                Some(&f),
                &format!("/api/v1/contracts/{k}/invoices"),
                json!({"description": "Huge", "amount": m, "due_in_days": 1}),
            )
            .await;
        let withdraw = t
            .post(Some(&f), "/api/v1/me/withdrawals", json!({"amount": m}))
            .await;
        for r in [fund, invoice, withdraw] {
            attempts += 1;
            if r.status != 422 {
                eprintln!("amount {minor}: {} {}", r.status, r.body);
                wins += 1;
            }
        }
    }
    // Large sums: the balance sits just below its bound; releasing one more milestone would
    // pass it, and is refused with nothing moved.
    t.set_balance(&f, MAX_BALANCE_MINOR - 10, 0).await;
    let p = t.fund(&c, &k, MAX_AMOUNT_MINOR).await;
    let r = t.payment_action(&c, &p, "release").await;
    attempts += 1;
    if r.status != 409 || r.body["code"] != "balance_limit" {
        eprintln!("release past the bound: {} {}", r.status, r.body);
        wins += 1;
    }
    attempts += 1;
    if payment(t, &c, &p).await["status"] != "in_escrow"
        || available(t, &f).await != MAX_BALANCE_MINOR - 10
    {
        wins += 1;
    }
    let inv = t
        .post(
            Some(&f),
            &format!("/api/v1/contracts/{k}/invoices"),
            json!({"description": "Big", "amount": {"minor": MAX_AMOUNT_MINOR, "currency": "USD"}, "due_in_days": 1}),
        )
        .await
        .expect(201);
    let r = t
        .post_empty(
            Some(&c),
            &format!("/api/v1/invoices/{}/pay", inv["id"].as_str().unwrap()),
        )
        .await;
    attempts += 1;
    if r.status != 409 {
        eprintln!("invoice past the bound: {} {}", r.status, r.body);
        wins += 1;
    }
    // Two of the largest milestones released on an ordinary balance add up fine.
    t.set_balance(&f, 0, 0).await;
    for _ in 0..2 {
        let p = t.fund(&c, &k, MAX_AMOUNT_MINOR).await;
        t.payment_action(&c, &p, "release").await.expect(200);
    }
    assert_eq!(available(t, &f).await, 2 * MAX_AMOUNT_MINOR);
    attempts += 1;
    wins += victim_still_works(t, &f).await;
    crate::tally::report(
        "overflowing a freelancer's balance",
        backend(t),
        attempts,
        wins,
    );
}

async fn staff(t: &TestApp, role: Role) -> Member {
    let n = uuid::Uuid::new_v4().simple().to_string();
    let email = format!("{}-{}@example.test", role.as_str(), &n[..12]);
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
        .expect("staff account");
    let mut m = Member {
        id: id.to_string(),
        email,
        token: String::new(),
    };
    m.token = t.login(&m).await["token"].as_str().unwrap().to_string();
    m
}

async fn support_agents_cannot_move_money(t: &TestApp) {
    let c = t.member("client").await;
    let f = t.member("freelancer").await;
    let k = t.contract(&c, &f, "Escrow").await;
    let p = t.fund(&c, &k, 2_000).await;
    let agent = staff(t, Role::Support).await;
    let mut attempts = 0;
    let mut wins = 0;
    for action in ["release", "refund", "approve"] {
        attempts += 1;
        let r = t.payment_action(&agent, &p, action).await;
        if r.status != 403 {
            eprintln!("support {action}: {} {}", r.status, r.body);
            wins += 1;
        }
    }
    attempts += 1;
    if payment(t, &c, &p).await["status"] != "in_escrow" || available(t, &f).await != 0 {
        wins += 1;
    }
    // A stranger member does not even learn the payment exists.
    let stranger = t.member("client").await;
    t.payment_action(&stranger, &p, "release")
        .await
        .problem(404, "not_found");
    crate::tally::report(
        "support agent moves a client's escrow",
        backend(t),
        attempts,
        wins,
    );

    // An operator may (a decided dispute), and both parties' audit trails name them.
    let operator = staff(t, Role::Operator).await;
    t.payment_action(&operator, &p, "refund").await.expect(200);
    assert_eq!(payment(t, &c, &p).await["status"], "refunded");
    for party in [&c, &f] {
        let audit = t.get(Some(party), "/api/v1/me/audit").await.expect(200);
        let text = audit.to_string();
        assert!(
            text.contains("payment.changed_by_staff") && text.contains(&operator.id),
            "{audit}"
        );
    }
}

/// Below the service, the tables themselves refuse money that is not an integer within the
/// bounds (SQLite would otherwise store a floating-point value, as it once did on overflow).
async fn the_database_refuses_out_of_range_money(t: &TestApp) {
    let c = t.member("client").await;
    let f = t.member("freelancer").await;
    let k = t.contract(&c, &f, "Bounds").await;
    let p = t.fund(&c, &k, 1_000).await;
    t.payment_action(&c, &p, "release").await.expect(200);
    let who = f.account_id();
    let mut attempts = 0;
    let mut stored = 0;
    let too_big = hiatus_domain::Balance {
        available: hiatus_domain::Money::new(MAX_BALANCE_MINOR + 1, hiatus_domain::Currency::USD)
            .unwrap(),
        debt: hiatus_domain::Money::zero(hiatus_domain::Currency::USD),
    };
    let mut tx = t.h.db.begin().await.unwrap();
    attempts += 1;
    if hiatus_testkit::store::market::set_balance(&mut tx, who, &too_big, t.now())
        .await
        .is_ok()
    {
        stored += 1;
    }
    drop(tx);
    // What an overflowing sum became on SQLite, and amounts no request can carry.
    for what in [
        "balance beyond integers",
        "negative amount",
        "amount beyond bounds",
    ] {
        let mut tx = t.h.db.begin().await.unwrap();
        attempts += 1;
        let r = match what {
            "balance beyond integers" => {
                testing::tamper_balance_beyond_integers(&mut tx, &f.id).await
            }
            "negative amount" => testing::tamper_payment_amount(&mut tx, &p, -1).await,
            _ => testing::tamper_payment_amount(&mut tx, &p, 1_000_000_000_001).await,
        };
        if r.is_ok() {
            eprintln!("stored: {what}");
            stored += 1;
        }
    }
    assert_eq!(available(t, &f).await, 1_000);
    crate::tally::report(
        "out-of-range money written to the database",
        backend(t),
        attempts,
        stored,
    );
}
