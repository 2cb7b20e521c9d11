//! Leaving a trace of an erased member by racing their erasure: with a 0-day grace period,
//! mail on and a webhook subscribed to every event, members schedule their deletion through
//! the API while two workers run. The workers dispatch the "deletion scheduled" events (mail
//! deliveries, cancel links, webhook deliveries) while the same or the other worker erases the
//! member. Nothing may attach to an account once its erasure has begun: `erase verify` passes
//! for every member.

use crate::support::{Backend, Member, PASSWORD, TestApp};
use hiatus_service::worker::Worker;
use serde_json::json;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Members who schedule their deletion, eight at a time.
const MEMBERS: usize = 200;

hiatus_testkit::on_both!(
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    deletions_with_no_grace_period_leave_nothing_while_workers_run
);

async fn deletions_with_no_grace_period_leave_nothing_while_workers_run(backend: Backend) {
    let started = Instant::now();
    let t = TestApp::start_with(
        backend,
        true,
        |_| {},
        |c| {
            c.deletion_grace = 0;
            // The subscription below points at this machine on purpose.
            c.webhooks.allow_private = true;
            c.webhooks.timeout = Duration::from_millis(200);
        },
    )
    .await;
    // Nothing listens on port 9: deliveries fail fast, but their rows are written.
    t.h.subscribe_webhook(None, "http://127.0.0.1:9/hook", &["*".to_string()])
        .await
        .unwrap();
    let mut members: Vec<Member> = Vec::with_capacity(MEMBERS);
    for _ in 0..MEMBERS {
        members.push(t.member("freelancer").await);
    }
    // Two workers, each on the service like a worker process (they share the pool here;
    // PostgreSQL's locks are what is tested).
    let stop = Arc::new(AtomicBool::new(false));
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..2 {
        let w = Worker::new(t.h.clone(), Duration::from_millis(2));
        let stop = stop.clone();
        workers.spawn(async move {
            let mut errors = 0u64;
            while !stop.load(Ordering::SeqCst) {
                match w.run_once().await {
                    Ok(true) => {}
                    Ok(false) => tokio::time::sleep(Duration::from_millis(2)).await,
                    Err(_) => errors += 1,
                }
            }
            errors
        });
    }
    let mut requests = tokio::task::JoinSet::new();
    for chunk in members.chunks(MEMBERS / 8) {
        let chunk: Vec<Member> = chunk.to_vec();
        let base = t.base.clone();
        let http = t.http.clone();
        requests.spawn(async move {
            for m in chunk {
                let r = http
                    .post(format!("{base}/api/v1/me/deletion"))
                    .bearer_auth(&m.token)
                    .json(&json!({"password": PASSWORD, "reason": "privacy_concerns", "confirmation": "delete my account"}))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status(), 200, "{}", r.text().await.unwrap_or_default());
            }
        });
    }
    while let Some(r) = requests.join_next().await {
        r.unwrap();
    }
    // Until every erasure is done (the workers keep dispatching meanwhile).
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        let mut tx = t.h.db.read().await.unwrap();
        let left = hiatus_testkit::testing::count_erasures_not_done(&mut tx)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        if left == 0 || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    stop.store(true, Ordering::SeqCst);
    let mut worker_errors = 0;
    while let Some(r) = workers.join_next().await {
        worker_errors += r.unwrap();
    }
    // What is still due (mail of other events, retries) runs now.
    t.drain_jobs().await;
    let mut failed = Vec::new();
    for m in &members {
        let problems = t.h.verify_erasure(m.account_id()).await.unwrap();
        if !problems.is_empty() {
            failed.push(format!("{}: {problems:?}", m.id));
        }
    }
    eprintln!(
        "{}: {} members erased with two workers running, {} failed verify, {worker_errors} worker errors, {:.1} s",
        backend.name(),
        MEMBERS,
        failed.len(),
        started.elapsed().as_secs_f64()
    );
    for f in failed.iter().take(5) {
        eprintln!("  {f}");
    }
    crate::tally::report(
        "erased member keeps a row by racing the erasure",
        backend.name(),
        MEMBERS as u64,
        failed.len() as u64,
    );
    t.finish().await;
}
