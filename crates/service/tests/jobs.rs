//! The job queue under concurrency, on both backends: several workers never run one job twice
//! at once, a dead worker's lease expires and its job runs again, failures back off and end
//! in `failed`.

mod support;

use hiatus_domain::{Balance, Currency, DAY_MICROS, Money};
use hiatus_service::worker::Worker;
use hiatus_store::jobs::{self, NewJob};
use hiatus_store::market;
use hiatus_testkit::testing;
use std::time::Duration;
use support::env;

/// 100 payouts settle through 4 concurrent workers: every job runs exactly once.
async fn concurrent_workers_claim_each_job_once(postgres: bool) {
    let e = env(postgres).await;
    let f = e.freelancer().await;
    let usd = |m| Money::new(m, Currency::USD).unwrap();
    let mut tx = e.h.db.begin().await.unwrap();
    market::set_balance(
        &mut tx,
        f.account,
        &Balance {
            available: usd(100),
            debt: usd(0),
        },
        e.h.now(),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    for _ in 0..100 {
        e.h.withdraw(&f, usd(1)).await.unwrap();
    }
    assert_eq!(e.count_rows("jobs", "status", "queued").await, 100);
    // Nothing is due before the payouts' settlement date.
    assert_eq!(
        Worker::new(e.h.clone(), Duration::from_millis(5))
            .drain()
            .await
            .unwrap(),
        0
    );
    e.clock.advance(4 * DAY_MICROS);
    let mut handles = Vec::new();
    for _ in 0..4 {
        let w = Worker::new(e.h.clone(), Duration::from_millis(5));
        handles.push(tokio::spawn(async move { w.drain().await.unwrap() }));
    }
    let mut total = 0;
    for h in handles {
        total += h.await.unwrap();
    }
    assert_eq!(total, 100, "each job is run by exactly one worker");
    assert_eq!(
        e.inspect(testing::count_jobs_done_at_first_attempt).await,
        100
    );
    assert_eq!(e.count_rows("payouts", "status", "settled").await, 100);
    assert_eq!(
        e.count_rows("audit_events", "action", "payout.settled")
            .await,
        100
    );
    e.finish().await;
}

/// A worker that claims a job and dies: once its lease runs out another worker runs the job,
/// and the dead worker can no longer complete it.
async fn expired_leases_are_reclaimed(postgres: bool) {
    let e = env(postgres).await;
    let f = e.freelancer().await;
    let usd = |m| Money::new(m, Currency::USD).unwrap();
    let mut tx = e.h.db.begin().await.unwrap();
    market::set_balance(
        &mut tx,
        f.account,
        &Balance {
            available: usd(5),
            debt: usd(0),
        },
        e.h.now(),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    e.h.withdraw(&f, usd(5)).await.unwrap();
    e.clock.advance(4 * DAY_MICROS);
    let lease = e.h.config.job_lease;
    let claimed = jobs::claim(&e.h.db, "dead-worker", e.h.now(), lease)
        .await
        .unwrap()
        .expect("a due job");
    let w = Worker::new(e.h.clone(), Duration::from_millis(5));
    assert_eq!(
        w.drain().await.unwrap(),
        0,
        "a leased job is not claimed twice"
    );
    e.clock.advance(lease + 1);
    assert_eq!(w.drain().await.unwrap(), 1);
    let mut tx = e.h.db.begin().await.unwrap();
    assert!(
        !jobs::complete(&mut tx, &claimed.id, "dead-worker", e.h.now())
            .await
            .unwrap()
    );
    let (status, attempts) = jobs::status(&mut tx, &claimed.id).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!((status.as_str(), attempts), ("done", 2));
    e.finish().await;
}

/// A failing job is retried with backoff and ends in `failed` after its last attempt.
async fn failures_back_off_then_fail(postgres: bool) {
    let e = env(postgres).await;
    let mut tx = e.h.db.begin().await.unwrap();
    let id = jobs::enqueue(
        &mut tx,
        &NewJob {
            kind: "no.such.kind".into(),
            payload: serde_json::json!({}),
            run_at: e.h.now(),
            dedupe_key: Some("k".into()),
            max_attempts: 2,
        },
        e.h.now(),
    )
    .await
    .unwrap()
    .unwrap();
    // The same dedupe key while the first is pending adds nothing.
    assert!(
        jobs::enqueue(
            &mut tx,
            &NewJob {
                kind: "no.such.kind".into(),
                payload: serde_json::json!({}),
                run_at: e.h.now(),
                dedupe_key: Some("k".into()),
                max_attempts: 2
            },
            e.h.now()
        )
        .await
        .unwrap()
        .is_none()
    );
    tx.commit().await.unwrap();
    let w = Worker::new(e.h.clone(), Duration::from_millis(5));
    assert_eq!(w.drain().await.unwrap(), 1);
    assert_eq!(
        w.drain().await.unwrap(),
        0,
        "the retry waits for its backoff"
    );
    e.clock.advance(jobs::backoff_micros(1) + 1);
    assert_eq!(w.drain().await.unwrap(), 1);
    let mut tx = e.h.db.read().await.unwrap();
    let (status, attempts) = jobs::status(&mut tx, &id.to_text()).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!((status.as_str(), attempts), ("failed", 2));
    e.finish().await;
}

hiatus_testkit::on_both!(
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    concurrent_workers_claim_each_job_once,
    expired_leases_are_reclaimed,
    failures_back_off_then_fail
);
