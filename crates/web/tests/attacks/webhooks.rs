//! Webhooks as a way into the network: a subscription pointing at the metadata service, a
//! private address or a loopback port (in any spelling), a public-looking name that resolves
//! inside, and the delivery log used as a port scanner.

use crate::support::{Backend, Member, PASSWORD, TestApp};
use crate::tally::report;
use hiatus_domain::{AccountKind, Role};
use hiatus_service::SignUp;
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

crate::attack_on_both!(
    subscriptions_to_internal_addresses_are_refused,
    names_resolving_inside_are_refused_at_delivery,
    the_delivery_log_tells_only_a_class,
);

async fn operator(t: &TestApp) -> Member {
    let email = "operator.hooks@example.test";
    let id =
        t.h.sign_up(
            SignUp {
                email: email.into(),
                password: PASSWORD.into(),
                legal_name: "Operator".into(),
                display_name: "Operator".into(),
                kind: AccountKind::Client,
                headline: String::new(),
                bio: String::new(),
            },
            Role::Operator,
        )
        .await
        .unwrap();
    let mut m = Member {
        id: id.to_string(),
        email: email.into(),
        token: String::new(),
    };
    m.token = t.login(&m).await["token"].as_str().unwrap().to_string();
    m
}

/// A receiver on loopback that answers every request with `status`, counting connections.
async fn receiver(status: &'static str) -> (u16, Arc<AtomicU64>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let hits = Arc::new(AtomicU64::new(0));
    let counted = hits.clone();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            counted.fetch_add(1, Ordering::SeqCst);
            let mut buf = vec![0u8; 65536];
            let _ = s.read(&mut buf).await;
            let _ = s
                .write_all(
                    format!("HTTP/1.1 {status}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
                        .as_bytes(),
                )
                .await;
        }
    });
    (port, hits)
}

async fn subscribe(t: &TestApp, op: &Member, url: &str) -> crate::support::Res {
    t.post(
        Some(op),
        "/api/v1/admin/webhooks",
        json!({"url": url, "events": ["*"]}),
    )
    .await
}

/// Makes an event every subscription gets, and lets the worker deliver it.
async fn an_event(t: &TestApp) {
    let m = t.member("freelancer").await;
    t.deactivate(&m).await.expect(200);
    t.drain_jobs().await;
}

async fn deliveries(t: &TestApp, op: &Member) -> Vec<Value> {
    t.get(Some(op), "/api/v1/admin/webhook-deliveries")
        .await
        .expect(200)
        .as_array()
        .unwrap()
        .clone()
}

async fn subscriptions_to_internal_addresses_are_refused(backend: Backend) {
    let t = TestApp::start(backend).await;
    let op = operator(&t).await;
    let urls = [
        "http://169.254.169.254/latest/meta-data/",
        "http://10.0.0.5/",
        "http://192.168.1.1/",
        "http://172.16.0.1/",
        "http://100.64.0.1/",
        "http://127.0.0.1:5432/",
        "http://[::1]/",
        "http://[::ffff:127.0.0.1]/",
        "http://[fd00::1]/",
        "http://[fe80::1]/",
        "http://0.0.0.0/",
        "http://224.0.0.1/",
        "http://2130706433/",
        "http://0x7f.1/",
        "http://0177.0.0.1/",
        "http://127.1/",
        "http://0x7f000001/",
    ];
    let mut accepted = 0;
    for url in urls {
        let r = subscribe(&t, &op, url).await;
        if r.status < 300 {
            eprintln!("{url} was accepted");
            accepted += 1;
        } else {
            r.problem(422, "webhook_target_internal");
        }
    }
    report(
        "webhook subscriptions to internal addresses",
        backend.name(),
        urls.len() as u64,
        accepted,
    );
    t.finish().await;
}

async fn names_resolving_inside_are_refused_at_delivery(backend: Backend) {
    let t = TestApp::start(backend).await;
    let op = operator(&t).await;
    let (port, hits) = receiver("200 OK").await;
    // A name is not refused when subscribing: what it resolves to is checked when sending.
    subscribe(&t, &op, &format!("http://localhost:{port}/hook"))
        .await
        .expect(201);
    an_event(&t).await;
    let log = deliveries(&t, &op).await;
    assert!(!log.is_empty(), "a delivery was attempted");
    for d in &log {
        assert_ne!(d["status"], "delivered", "{d}");
        assert_eq!(d["last_error"], "unreachable", "{d}");
    }
    report(
        "webhook to a name that resolves to loopback",
        backend.name(),
        log.len() as u64,
        hits.load(Ordering::SeqCst),
    );
    t.finish().await;
}

async fn the_delivery_log_tells_only_a_class(backend: Backend) {
    // Receivers inside the network, allowed by the operator: the log must still not work as
    // a port scanner.
    let t = TestApp::start_with(backend, false, |_| {}, |c| c.webhooks.allow_private = true).await;
    let op = operator(&t).await;
    let (open, hits) = receiver("405 Method Not Allowed").await;
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    subscribe(&t, &op, &format!("http://127.0.0.1:{open}/"))
        .await
        .expect(201);
    subscribe(&t, &op, &format!("http://127.0.0.1:{closed}/"))
        .await
        .expect(201);
    an_event(&t).await;
    assert!(hits.load(Ordering::SeqCst) > 0, "the open port was reached");
    let log = deliveries(&t, &op).await;
    let mut classes: Vec<String> = log
        .iter()
        .map(|d| d["last_error"].as_str().unwrap_or_default().to_string())
        .collect();
    classes.sort();
    classes.dedup();
    assert_eq!(classes, ["4xx", "unreachable"], "{log:?}");
    let leaks = log
        .iter()
        .filter(|d| {
            // What the log says about the receiver: every field but ids, times, the event's
            // payload and the subscription's own address (ids and the port number may hold
            // "405" by chance).
            let text: String = d
                .as_object()
                .into_iter()
                .flatten()
                .filter(|(k, _)| {
                    !(k.ends_with("id") || k.ends_with("_at") || *k == "url" || *k == "payload")
                })
                .map(|(k, v)| format!("{k}={v} "))
                .collect();
            !d["last_status"].is_null()
                || text.contains("405")
                || text.contains("connect")
                || text.contains("refused")
        })
        .count() as u64;
    report(
        "webhook delivery log as a port scanner",
        backend.name(),
        log.len() as u64,
        leaks,
    );
    t.finish().await;
}
