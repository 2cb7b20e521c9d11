//! Behind a reverse proxy every client arrives from the proxy's address: a limit counted by
//! socket address would let one guesser block everyone. Forwarded addresses count only when
//! the proxy is trusted, and never otherwise (a client cannot pick the address it is counted
//! under).

use crate::support::{Backend, TestApp};
use crate::tally::report;
use serde_json::json;

crate::attack_on_both!(
    one_client_behind_the_proxy_cannot_block_another,
    forwarded_addresses_from_untrusted_peers_are_ignored,
);

async fn login(t: &TestApp, client: &str, email: &str, password: &str) -> u16 {
    t.http
        .post(format!("{}/api/v1/sessions", t.base))
        .header("x-forwarded-for", client)
        .json(&json!({"email": email, "password": password}))
        .send()
        .await
        .expect("request reaches the server")
        .status()
        .as_u16()
}

/// The production limit of login attempts per minute per client.
fn per_minute() -> u32 {
    hiatus_web::WebOptions::default().auth_attempts_per_minute
}

async fn one_client_behind_the_proxy_cannot_block_another(backend: Backend) {
    let t = TestApp::start_with(
        backend,
        false,
        |o| {
            o.auth_attempts_per_minute = per_minute();
            o.trusted_proxies = hiatus_web::client::TrustedProxies::parse("127.0.0.1/32").unwrap();
        },
        |_| {},
    )
    .await;
    let owner = t.member("freelancer").await;
    let mut last = 0;
    for i in 0..=per_minute() {
        last = login(
            &t,
            "203.0.113.66",
            &format!("x{i}@example.test"),
            "guess guess",
        )
        .await;
    }
    assert_eq!(last, 429, "the guessing client is limited");
    let other = login(&t, "198.51.100.7", &owner.email, crate::support::PASSWORD).await;
    report(
        "31 bad logins through a trusted proxy block another client",
        backend.name(),
        1,
        u64::from(other != 200),
    );
    t.finish().await;
}

async fn forwarded_addresses_from_untrusted_peers_are_ignored(backend: Backend) {
    let t = TestApp::start_with(
        backend,
        false,
        |o| o.auth_attempts_per_minute = per_minute(),
        |_| {},
    )
    .await;
    // A client rotating X-Forwarded-For to escape its limit.
    let mut unlimited = 0u64;
    let tries = per_minute() + 10;
    for i in 0..tries {
        let status = login(
            &t,
            &format!("198.51.100.{}", i + 1),
            &format!("y{i}@example.test"),
            "guess guess",
        )
        .await;
        if i >= per_minute() && status != 429 {
            unlimited += 1;
        }
    }
    report(
        "X-Forwarded-For from an untrusted peer escapes the limit",
        backend.name(),
        u64::from(tries),
        unlimited,
    );
    t.finish().await;
}
