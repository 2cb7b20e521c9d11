//! Retention after erasure: the legal name stays sealed to the pseudonym until the invoices'
//! tax retention ends, the audit trail until its security retention ends; then the purge jobs
//! delete the audit trail and destroy the retained identity, while the client keeps the invoice
//! under the pseudonym. Both backends.

mod support;

use hiatus_domain::{AccountKind, ClosureReason, Currency, DAY_MICROS, Money, Role};
use hiatus_service::erasure::{DeleteRequest, add_years};
use hiatus_service::market::ContractAction;
use hiatus_service::worker::Worker;
use hiatus_service::{Actor, SignUp};
use hiatus_testkit::testing;
use std::time::Duration;

async fn client(e: &support::Env) -> Actor {
    let id =
        e.h.sign_up(
            SignUp {
                email: format!("c{}@example.com", uuid::Uuid::new_v4().simple()),
                password: "a long enough password".into(),
                legal_name: "C".into(),
                display_name: "C".into(),
                kind: AccountKind::Client,
                headline: String::new(),
                bio: String::new(),
            },
            Role::Member,
        )
        .await
        .unwrap();
    Actor {
        account: id,
        session_id: String::new(),
        role: Role::Member,
        kind: AccountKind::Client,
        state: hiatus_domain::AccountState::Active,
        reauth_at: e.h.now(),
    }
}

async fn count_rows(e: &support::Env, table: &str, column: &str, id: &str) -> i64 {
    e.count_rows(table, column, id).await
}

/// (sealed legal name present, wrapped data key present) of account `id`.
async fn name_and_key(e: &support::Env, id: &str) -> (bool, bool) {
    e.inspect(async |tx| testing::sealed_name_and_key(tx, id).await)
        .await
}

/// Exports the actor's data (which keeps the invoice PDFs it renders).
async fn export(e: &support::Env, a: &Actor) {
    let v = e.h.request_export(a, None).await.unwrap();
    let built = e.h.build_export(&v.id, None).await.unwrap();
    assert!(matches!(
        built,
        hiatus_service::export::BuildOutcome::Ready { .. }
    ));
}

/// The content hash of the invoice's kept PDF, if one is kept.
async fn kept_pdf(e: &support::Env, invoice: &str) -> Option<(String, String)> {
    e.inspect(async |tx| testing::kept_invoice_pdf(tx, invoice).await)
        .await
}

async fn retained_records_are_purged_on_their_dates(postgres: bool) {
    let e = support::env(postgres).await;
    let worker = Worker::new(e.h.clone(), Duration::from_millis(10));
    let f = e.freelancer().await;
    let c = client(&e).await;
    let usd = Currency::parse("USD").unwrap();
    let k =
        e.h.create_contract(&c, f.account, "Audit", usd)
            .await
            .unwrap();
    e.h.contract_action(&f, k.id, ContractAction::Accept)
        .await
        .unwrap();
    let inv =
        e.h.issue_invoice(&f, k.id, "Audit work", Money::new(50_000, usd).unwrap(), 14)
            .await
            .unwrap();
    e.h.contract_action(&c, k.id, ContractAction::End)
        .await
        .unwrap();
    let issued = e.h.now();
    // An export keeps the invoice's PDF, which shows the freelancer's name.
    export(&e, &f).await;
    let inv_id = inv.id.to_string();
    let (named_hash, kept_issuer) = kept_pdf(&e, &inv_id).await.expect("the PDF is kept");
    assert_eq!(kept_issuer, f.account.to_string());
    e.h.schedule_deletion(
        &f,
        DeleteRequest {
            password: Some("a long enough password".into()),
            reason: ClosureReason::PrivacyConcerns,
            detail: None,
            confirmation: "delete my account".into(),
        },
    )
    .await
    .unwrap();
    e.clock.advance(31 * DAY_MICROS);
    worker.drain().await.unwrap();

    // Erasure deleted the kept PDF with the name on it, though the invoice is retained.
    assert_eq!(kept_pdf(&e, &inv_id).await, None);
    let issuer: String = {
        e.inspect(async |tx| testing::invoice_issuer(tx, &inv_id).await)
            .await
    };
    assert_ne!(
        issuer,
        f.account.to_string(),
        "the invoice names the pseudonym"
    );
    // The client's export renders it again, showing the pseudonym, and keeps that.
    export(&e, &c).await;
    let (hash, kept_issuer) = kept_pdf(&e, &inv_id).await.expect("kept again");
    assert_eq!(kept_issuer, issuer);
    assert_ne!(
        hash, named_hash,
        "the PDF no longer shows the freelancer's name"
    );
    // The pseudonym keeps the legal name, sealed, until the invoice's retention ends.
    assert_eq!(name_and_key(&e, &issuer).await, (true, true));
    let until = e
        .inspect(async |tx| testing::retained_until(tx, &issuer).await)
        .await;
    assert_eq!(until, add_years(issued, 7));
    let receipt = e.h.erasure_receipt(f.account).await.unwrap();
    assert!(
        receipt
            .retained
            .iter()
            .any(|r| r.what == "invoices you issued"
                && r.count == 1
                && r.until == add_years(issued, 7)),
        "{:?}",
        receipt.retained
    );
    let audit_before = count_rows(&e, "audit_events", "account_id", &issuer).await;
    assert!(
        audit_before > 0,
        "the audit trail is kept under the pseudonym"
    );

    // Two years on: the audit trail's security retention has ended; the invoice stays.
    e.clock.set(add_years(issued, 2) + DAY_MICROS);
    worker.drain().await.unwrap();
    assert_eq!(
        count_rows(&e, "audit_events", "account_id", &issuer).await,
        0
    );
    assert_eq!(count_rows(&e, "invoices", "id", &inv_id).await, 1);
    assert!(name_and_key(&e, &issuer).await.0);
    // Seven years on: the client keeps the invoice, under the pseudonym; the legal name on it
    // (and the pseudonym's key) is destroyed.
    e.clock.set(add_years(issued, 7) + DAY_MICROS);
    worker.drain().await.unwrap();
    assert_eq!(
        e.inspect(async |tx| testing::count_invoices_issued_by_a_pseudonym(tx, &inv_id).await)
            .await,
        1
    );
    assert_eq!(name_and_key(&e, &issuer).await, (false, false));
    // No purge is left queued for this pseudonym.
    assert_eq!(
        e.inspect(async |tx| testing::count_jobs(tx, "retention.purge", "queued").await)
            .await,
        0
    );
    // The contract itself stays with the client, under the pseudonym.
    assert_eq!(
        count_rows(&e, "contracts", "freelancer_id", &issuer).await,
        1
    );
    let problems = e.h.verify_erasure(f.account).await.unwrap();
    assert!(problems.is_empty(), "{problems:?}");
    e.finish().await;
}

#[tokio::test]
async fn sqlite_retained_records_are_purged_on_their_dates() {
    retained_records_are_purged_on_their_dates(false).await;
}

#[tokio::test]
async fn postgres_retained_records_are_purged_on_their_dates() {
    if hiatus_testkit::skip_postgres() {
        return;
    }
    retained_records_are_purged_on_their_dates(true).await;
}
