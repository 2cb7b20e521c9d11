//! Webhooks against a real HTTP receiver on loopback, on SQLite and PostgreSQL: the signature
//! verifies, a receiver that fails three times gets the event after backoff, a receiver that
//! always fails ends in dead-letter and gets the event when an operator replays it.

mod support;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use hiatus_domain::BreakRequest;
use hiatus_service::webhooks::{WebhookConfig, backoff, signature};
use hiatus_service::worker::Worker;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What the receiver saw, and the statuses it answers with (200 once they run out).
#[derive(Clone, Default)]
struct Receiver {
    seen: Arc<Mutex<Vec<(HeaderMap, String)>>>,
    answers: Arc<Mutex<VecDeque<u16>>>,
}

async fn hook(State(r): State<Receiver>, headers: HeaderMap, body: String) -> StatusCode {
    r.seen.lock().unwrap().push((headers, body));
    let code = r.answers.lock().unwrap().pop_front().unwrap_or(200);
    StatusCode::from_u16(code).unwrap()
}

async fn receiver(answers: &[u16]) -> (Receiver, String) {
    let r = Receiver::default();
    r.answers.lock().unwrap().extend(answers.iter().copied());
    let app = axum::Router::new()
        .route("/hook", axum::routing::post(hook))
        .with_state(r.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (r, url)
}

fn header<'a>(h: &'a HeaderMap, name: &str) -> &'a str {
    h.get(name)
        .unwrap_or_else(|| panic!("header {name}"))
        .to_str()
        .unwrap()
}

/// Checks a request the way a receiver would: recompute the signature over the raw body.
fn verify(secret: &str, h: &HeaderMap, body: &str) -> serde_json::Value {
    let sig = header(h, "hiatus-signature");
    let ts: i64 = sig
        .strip_prefix("t=")
        .and_then(|s| s.split(',').next())
        .and_then(|s| s.parse().ok())
        .expect("t= in the signature");
    assert_eq!(
        sig,
        signature(secret, ts, body.as_bytes()),
        "the signature verifies"
    );
    assert_ne!(sig, signature("whsec_wrong", ts, body.as_bytes()));
    let v: serde_json::Value = serde_json::from_str(body).unwrap();
    assert_eq!(header(h, "idempotency-key"), v["id"].as_str().unwrap());
    assert_eq!(header(h, "hiatus-event"), v["event"].as_str().unwrap());
    v
}

async fn signed_delivery_and_retries(postgres: bool) {
    // The receiver is on loopback, which webhooks may reach only when allowed.
    let e = support::env_with(postgres, |c| c.webhooks.allow_private = true).await;
    let worker = Worker::new(e.h.clone(), Duration::from_millis(10));
    let cfg = WebhookConfig::default();
    // A receiver that fails three times, then takes the event.
    let (r, url) = receiver(&[500, 503, 500]).await;
    let sub =
        e.h.subscribe_webhook(None, &url, &["break.started".into()])
            .await
            .unwrap();
    let secret = sub.secret.clone().expect("the secret is shown once");
    assert!(
        e.h.webhook_subscriptions(None).await.unwrap()[0]
            .secret
            .is_none(),
        "and never again"
    );
    let f = e.freelancer().await;
    e.h.start_break(
        &f,
        BreakRequest {
            private: false,
            mute: false,
            until: None,
        },
    )
    .await
    .unwrap();
    // Events the subscription did not ask for are not sent (the sign-up wrote none; a
    // break end would be another event).
    worker.drain().await.unwrap();
    assert_eq!(r.seen.lock().unwrap().len(), 1, "first attempt");
    // Not due again before the backoff.
    worker.drain().await.unwrap();
    assert_eq!(r.seen.lock().unwrap().len(), 1);
    for attempt in 1..=3 {
        e.clock.advance(backoff(&cfg, attempt));
        worker.drain().await.unwrap();
        assert_eq!(r.seen.lock().unwrap().len(), attempt as usize + 1);
    }
    let seen = r.seen.lock().unwrap().clone();
    let first = verify(&secret, &seen[0].0, &seen[0].1);
    assert_eq!(first["event"], "break.started");
    assert_eq!(first["data"]["account_id"], f.account.to_string());
    for (h, b) in &seen[1..] {
        let v = verify(&secret, h, b);
        assert_eq!(
            v["id"], first["id"],
            "every retry carries the same idempotency key"
        );
    }
    let log =
        e.h.webhook_deliveries(None, Some(&sub.id), None, 10)
            .await
            .unwrap();
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].status, "delivered");
    assert_eq!(log[0].attempts, 4);
    assert_eq!(log[0].last_status, None, "the log keeps no exact status");
    assert_eq!(log[0].last_error, None);
    // Delivered: nothing more is sent, however long we wait.
    e.clock.advance(cfg.max_retry * 2);
    worker.drain().await.unwrap();
    assert_eq!(r.seen.lock().unwrap().len(), 4);
    e.finish().await;
}

async fn dead_letter_and_replay(postgres: bool) {
    // The receiver is on loopback, which webhooks may reach only when allowed.
    let e = support::env_with(postgres, |c| c.webhooks.allow_private = true).await;
    let worker = Worker::new(e.h.clone(), Duration::from_millis(10));
    let cfg = WebhookConfig::default();
    let (r, url) = receiver(&vec![500; cfg.max_attempts as usize]).await;
    let sub =
        e.h.subscribe_webhook(None, &url, &["*".into()])
            .await
            .unwrap();
    let f = e.freelancer().await;
    e.h.start_break(
        &f,
        BreakRequest {
            private: true,
            mute: false,
            until: None,
        },
    )
    .await
    .unwrap();
    worker.drain().await.unwrap();
    for _ in 1..cfg.max_attempts {
        e.clock.advance(cfg.max_retry);
        worker.drain().await.unwrap();
    }
    assert_eq!(r.seen.lock().unwrap().len(), cfg.max_attempts as usize);
    let dead =
        e.h.webhook_deliveries(None, Some(&sub.id), Some("dead"), 10)
            .await
            .unwrap();
    assert_eq!(dead.len(), 1, "dead after the attempt limit");
    assert_eq!(
        dead[0].last_error.as_deref(),
        Some("5xx"),
        "only the class is kept"
    );
    assert_eq!(dead[0].last_status, None);
    // Dead letters wait for an operator.
    e.clock.advance(cfg.max_retry * 4);
    worker.drain().await.unwrap();
    assert_eq!(r.seen.lock().unwrap().len(), cfg.max_attempts as usize);
    // A pending delivery cannot be replayed; a dead one can, and now it arrives.
    e.h.replay_webhook(None, &dead[0].id).await.unwrap();
    let again = e.h.replay_webhook(None, &dead[0].id).await.unwrap_err();
    assert_eq!(again.code(), "delivery_not_replayable");
    worker.drain().await.unwrap();
    let seen = r.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), cfg.max_attempts as usize + 1);
    let v = verify(
        &sub.secret.unwrap(),
        &seen.last().unwrap().0,
        &seen.last().unwrap().1,
    );
    assert_eq!(v["event"], "break.started");
    let log =
        e.h.webhook_deliveries(None, Some(&sub.id), None, 10)
            .await
            .unwrap();
    assert_eq!(log[0].status, "delivered");
    // Bad subscriptions are refused with the reason.
    for (url, events, code) in [
        ("ftp://x/hook", vec!["*".to_string()], "webhook_url_invalid"),
        (
            "https://hooks.example.com",
            vec![],
            "webhook_events_missing",
        ),
        (
            "https://hooks.example.com",
            vec!["account.sneezed".to_string()],
            "webhook_event_unknown",
        ),
    ] {
        let err = e.h.subscribe_webhook(None, url, &events).await.unwrap_err();
        assert_eq!(err.code(), code);
    }
    e.finish().await;
}

#[tokio::test]
async fn sqlite_signed_delivery_and_retries() {
    signed_delivery_and_retries(false).await;
}

#[tokio::test]
async fn postgres_signed_delivery_and_retries() {
    if hiatus_testkit::skip_postgres() {
        return;
    }
    signed_delivery_and_retries(true).await;
}

#[tokio::test]
async fn sqlite_dead_letter_and_replay() {
    dead_letter_and_replay(false).await;
}

#[tokio::test]
async fn postgres_dead_letter_and_replay() {
    if hiatus_testkit::skip_postgres() {
        return;
    }
    dead_letter_and_replay(true).await;
}
