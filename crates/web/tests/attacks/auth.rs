//! Authentication attacks: learning who has an account (sign-up, sign-up then login, login
//! answers and timing, restoration requests),
//! locking the owner out with wrong passwords, racing the restoration code's attempt limit,
//! and closing an account with a stolen session.

use crate::support::{Backend, Member, PASSWORD, TestApp};
use crate::tally::report;
use hiatus_domain::{AccountKind, Role};
use hiatus_service::SignUp;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

crate::attack_on_both!(
    sign_up_does_not_tell_who_has_an_account,
    sign_up_is_throttled,
    sign_up_then_login_does_not_tell_who_has_an_account,
    restoration_does_not_tell_who_has_an_account,
    wrong_passwords_do_not_lock_the_owner_out,
    guesses_spread_over_many_clients_are_bounded,
    login_answers_and_timing_do_not_tell_who_has_an_account,
    restoration_codes_cannot_be_raced,
    a_fresh_login_cannot_close_the_account,
);

/// Behind a trusted proxy on loopback, so each request can say which client it is for.
/// The limit on wrong passwords from all clients together is lifted (the timing attacks make
/// hundreds of logins to one address); `guesses_spread_over_many_clients_are_bounded` tests it
/// with its default.
async fn behind_proxy(backend: Backend, mail: bool) -> TestApp {
    TestApp::start_with(
        backend,
        mail,
        |o| o.trusted_proxies = hiatus_web::client::TrustedProxies::parse("127.0.0.1/32").unwrap(),
        |c| c.login_max_failures_all_clients = 100_000,
    )
    .await
}

/// Logs in as `client` (an address in `X-Forwarded-For`); the status and body.
async fn login_from(t: &TestApp, client: &str, email: &str, password: &str) -> (u16, Value) {
    let r = t
        .http
        .post(format!("{}/api/v1/sessions", t.base))
        .header("x-forwarded-for", client)
        .json(&json!({"email": email, "password": password}))
        .send()
        .await
        .expect("request reaches the server");
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn staff(t: &TestApp, role: Role, email: &str) -> Member {
    let id =
        t.h.sign_up(
            SignUp {
                email: email.into(),
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
        .unwrap();
    let mut m = Member {
        id: id.to_string(),
        email: email.into(),
        token: String::new(),
    };
    m.token = t.login(&m).await["token"].as_str().unwrap().to_string();
    m
}

fn sign_up_body(email: &str) -> Value {
    json!({"email": email, "password": "another long password", "legal_name": "Eve",
           "display_name": "Eve", "kind": "client"})
}

async fn sign_up_does_not_tell_who_has_an_account(backend: Backend) {
    let t = TestApp::start_with_mail(backend).await;
    let member = t.member("freelancer").await;
    let agent = staff(&t, Role::Support, "agent.enum@example.test").await;
    let fresh = t
        .post(
            None,
            "/api/v1/accounts",
            sign_up_body("fresh.enum@example.test"),
        )
        .await;
    let mut attempts = 0;
    let mut successes = 0;
    for taken in [&member.email, &agent.email] {
        let r = t.post(None, "/api/v1/accounts", sign_up_body(taken)).await;
        attempts += 1;
        if (r.status, &r.body) != (fresh.status, &fresh.body) {
            eprintln!(
                "{taken}: {} {} vs {} {}",
                r.status, r.text, fresh.status, fresh.text
            );
            successes += 1;
        }
        // The taken address keeps its password: no second account was made.
        let (status, _) = login_from(&t, "203.0.113.1", taken, "another long password").await;
        assert_eq!(status, 401, "no account was created or changed for {taken}");
    }
    assert_eq!(fresh.status, 202, "{}", fresh.text);
    t.drain_jobs().await;
    for owner in [&member.email, &agent.email] {
        let mail = t.mail_to(owner);
        assert!(
            mail.iter()
                .any(|m| m.contains("You already have a hiatus account")),
            "{owner} is told that someone tried to sign up with the address"
        );
    }
    report(
        "sign-up tells a registered address from a new one",
        backend.name(),
        attempts,
        successes,
    );
    t.finish().await;
}

/// Signs up `email` with `password` as `client`; the status and body.
async fn sign_up_from(t: &TestApp, client: &str, email: &str, password: &str) -> (u16, Value) {
    let r = t
        .http
        .post(format!("{}/api/v1/accounts", t.base))
        .header("x-forwarded-for", client)
        .json(
            &json!({"email": email, "password": password, "legal_name": "Eve",
                      "display_name": "Eve", "kind": "client"}),
        )
        .send()
        .await
        .expect("request reaches the server");
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// The attacker signs an address up with a password of their own, then logs in with it: a
/// free address used to log in (the account was new), a registered one did not. Now neither
/// does until the address's owner confirms, and both answer alike, in the same time.
async fn sign_up_then_login_does_not_tell_who_has_an_account(backend: Backend) {
    let t = behind_proxy(backend, false).await;
    let registered = t.member("freelancer").await;
    let free = "free.then.login@example.test";
    let attacker_pw = "the attacker's own password";
    let mut attempts = 0;
    let mut successes = 0;
    // Round 0 finds the free address free; later rounds find it unconfirmed (signed up by the
    // attacker before): all three must look alike.
    for round in 0..4 {
        let mut answers = Vec::new();
        for (who, email) in [("registered", &registered.email[..]), ("free", free)] {
            let client = format!("203.0.113.{}", 10 + round * 2 + usize::from(who == "free"));
            let signed = sign_up_from(&t, &client, email, attacker_pw).await;
            let logged = login_from(&t, &client, email, attacker_pw).await;
            if logged.0 == 200 {
                eprintln!("round {round}: the attacker logged in to the {who} address");
                successes += 1;
            }
            answers.push((signed, logged));
        }
        attempts += 1;
        if answers[0] != answers[1] {
            eprintln!("round {round}: {:?} vs {:?}", answers[0], answers[1]);
            successes += 1;
        }
        assert_eq!(answers[0].1.0, 401, "{:?}", answers[0]);
    }
    // Timing of the login: a registered address with the attacker's (wrong) password against
    // the unconfirmed one with the attacker's (right) password; each try from a client of its
    // own, interleaved in alternating order, up to three rounds on a noisy machine.
    let mut ratios = Vec::new();
    for round in 0..3 {
        let mut reg = Vec::new();
        let mut unconfirmed = Vec::new();
        for i in 0..41 {
            let mut pair = [(&registered.email[..], true), (free, false)];
            if i % 2 == 1 {
                pair.reverse();
            }
            for (email, is_registered) in pair {
                let client = format!(
                    "198.19.{round}.{}",
                    i + 1 + if is_registered { 0 } else { 100 }
                );
                let started = Instant::now();
                let (status, _) = login_from(&t, &client, email, attacker_pw).await;
                let took = started.elapsed();
                assert_eq!(status, 401);
                if i > 0 {
                    if is_registered {
                        reg.push(took)
                    } else {
                        unconfirmed.push(took)
                    }
                }
            }
        }
        let (r, u) = (median(reg), median(unconfirmed));
        let ratio = u.as_secs_f64() / r.as_secs_f64();
        eprintln!(
            "sign-up then login timing on {} (round {round}): median registered {r:?}, unconfirmed {u:?}, ratio {ratio:.3}",
            backend.name(),
        );
        ratios.push(ratio);
        if (0.9..=1.1).contains(&ratio) {
            break;
        }
    }
    attempts += 1;
    successes += u64::from(!ratios.iter().any(|r| (0.9..=1.1).contains(r)));
    // The registered account is untouched: its owner's password still works.
    t.login(&registered).await;
    report(
        "sign-up then login tells a registered address from a new one",
        backend.name(),
        attempts,
        successes,
    );
    t.finish().await;
}

/// A restoration request's answers with what differs per request (its id, token and times)
/// left out.
fn without_ids(mut v: Value) -> Value {
    if let Some(o) = v.as_object_mut() {
        for k in ["id", "token", "created_at", "expires_at", "instance"] {
            if o.contains_key(k) {
                o.insert(k.into(), Value::from("…"));
            }
        }
    }
    v
}

/// Restoration for a registered address, for one whose sign-up was never confirmed and for
/// one without an account: the request, its status and a wrong code answer alike.
async fn restoration_does_not_tell_who_has_an_account(backend: Backend) {
    let t = TestApp::start_with_mail(backend).await;
    let registered = t.member("freelancer").await;
    let unconfirmed = "signed.up.only@example.test";
    t.post(None, "/api/v1/accounts", sign_up_body(unconfirmed))
        .await
        .expect(202);
    let unknown = "no.account.here@example.test";
    let mut flows = Vec::new();
    for email in [&registered.email[..], unconfirmed, unknown] {
        let r = t
            .post(
                None,
                "/api/v1/restorations",
                json!({"email": email, "explanation": "lost my password"}),
            )
            .await;
        let ticket = r.body.clone();
        let id = ticket["id"].as_str().unwrap_or_default().to_string();
        let token = ticket["token"].as_str().unwrap_or_default().to_string();
        let status = t
            .http
            .get(format!("{}/api/v1/restorations/{id}", t.base))
            .header("x-restoration-token", &token)
            .send()
            .await
            .unwrap();
        let status = (
            status.status().as_u16(),
            status.json::<Value>().await.unwrap_or_default(),
        );
        let code = t
            .post(
                None,
                &format!("/api/v1/restorations/{id}/code"),
                json!({"token": token, "code": "00000000"}),
            )
            .await;
        flows.push(vec![
            (r.status, without_ids(ticket)),
            (status.0, without_ids(status.1)),
            (code.status, without_ids(code.body)),
        ]);
    }
    let mut attempts = 0;
    let mut successes = 0;
    for (who, flow) in [("registered", &flows[0]), ("unconfirmed", &flows[1])] {
        for (step, (mine, theirs)) in flow.iter().zip(flows[2].iter()).enumerate() {
            attempts += 1;
            if mine != theirs {
                eprintln!("{who}, step {step}: {mine:?} vs {theirs:?}");
                successes += 1;
            }
        }
    }
    assert_eq!(flows[2][0].0, 202);
    // Only the registered address gets a code; an address never confirmed has nothing to
    // restore.
    t.drain_jobs().await;
    assert!(
        t.mail_to(&registered.email)
            .iter()
            .any(|m| m.contains("enter this code"))
    );
    assert!(
        !t.mail_to(unconfirmed)
            .iter()
            .any(|m| m.contains("enter this code"))
    );
    report(
        "restoration tells a registered address from an unknown one",
        backend.name(),
        attempts,
        successes,
    );
    t.finish().await;
}

async fn sign_up_is_throttled(backend: Backend) {
    let limit = hiatus_web::WebOptions::default().signups_per_hour;
    let t = TestApp::start_with(backend, false, |o| o.signups_per_hour = limit, |_| {}).await;
    let mut accepted = 0u64;
    let mut limited = 0u64;
    for i in 0..40 {
        let r = t
            .post(
                None,
                "/api/v1/accounts",
                sign_up_body(&format!("bulk{i}@example.test")),
            )
            .await;
        match r.status {
            202 => accepted += 1,
            429 => {
                r.problem(429, "rate_limited");
                limited += 1;
            }
            other => panic!("sign-up answered {other}: {}", r.text),
        }
    }
    assert!(limited > 0, "40 rapid sign-ups were never throttled");
    report(
        "40 rapid sign-ups from one address",
        backend.name(),
        40,
        accepted.saturating_sub(u64::from(limit)),
    );
    t.finish().await;
}

async fn wrong_passwords_do_not_lock_the_owner_out(backend: Backend) {
    let t = behind_proxy(backend, false).await;
    let victim = t.member("freelancer").await;
    let attacker = "203.0.113.66";
    let mut refused = 0;
    for _ in 0..30 {
        let (status, _) = login_from(&t, attacker, &victim.email, "guess guess guess").await;
        assert!(status == 401 || status == 429, "{status}");
        if status == 429 {
            refused += 1;
        }
    }
    assert!(refused > 0, "the attacker's guesses were never throttled");
    // The owner, elsewhere, with the right password: in.
    let (status, body) = login_from(&t, "198.51.100.7", &victim.email, PASSWORD).await;
    let locked_out = u64::from(status != 200);
    assert_eq!(status, 200, "the owner is locked out: {body}");
    // The owner in the same place (a shared office) is throttled with the attacker by design;
    // the throttle ends with its window.
    t.advance(16 * 60 * crate::support::SECOND);
    let (status, _) = login_from(&t, attacker, &victim.email, PASSWORD).await;
    assert_eq!(status, 200, "the throttle ends with its window");
    report(
        "30 wrong passwords lock the owner out",
        backend.name(),
        30,
        locked_out,
    );
    t.finish().await;
}

/// Logs in as `client` with a device token (`None`: a client that never logged in here); the
/// status, and the device token of a successful login.
async fn login_with_device(
    t: &TestApp,
    client: &str,
    email: &str,
    password: &str,
    device: Option<&str>,
) -> (u16, Option<String>) {
    let mut req = t
        .http
        .post(format!("{}/api/v1/sessions", t.base))
        .header("x-forwarded-for", client)
        .json(&json!({"email": email, "password": password}));
    if let Some(d) = device {
        req = req.header("x-device-token", d);
    }
    let r = req.send().await.expect("request reaches the server");
    let status = r.status().as_u16();
    let body: Value = r.json().await.unwrap_or(Value::Null);
    (status, body["device_token"].as_str().map(str::to_string))
}

/// A botnet guesses one address's password, one guess from each of 150 client addresses, so
/// no per-client limit is ever reached. At most `login_max_failures_all_clients` (100) guesses
/// are evaluated; an unknown address gets exactly the same answers; and the owner, on a device
/// that logged in before, still gets in during the flood.
async fn guesses_spread_over_many_clients_are_bounded(backend: Backend) {
    let t = TestApp::start_with(
        backend,
        false,
        |o| o.trusted_proxies = hiatus_web::client::TrustedProxies::parse("127.0.0.1/32").unwrap(),
        |_| {},
    )
    .await;
    let limit = t.h.config.login_max_failures_all_clients as u64;
    assert_eq!(limit, 100, "the default");
    let victim = t.member("freelancer").await;
    let (status, device) =
        login_with_device(&t, "198.51.100.20", &victim.email, PASSWORD, None).await;
    assert_eq!(status, 200);
    let device = device.expect("a login returns a device token");
    let unknown = "never.registered@example.test";
    let mut evaluated = 0;
    let mut answers = [Vec::new(), Vec::new()];
    for i in 0..150u32 {
        let client = format!("10.{}.{}.{}", i / 250, i % 250, 1);
        for (k, email) in [&victim.email[..], unknown].into_iter().enumerate() {
            let (status, _) =
                login_with_device(&t, &client, email, "guess guess guess", None).await;
            assert!(status == 401 || status == 429, "{status}");
            if k == 0 && status == 401 {
                evaluated += 1;
            }
            answers[k].push(status);
        }
    }
    assert!(
        evaluated >= limit,
        "the limit cut in early: {evaluated} guesses evaluated"
    );
    report(
        "150 password guesses from 150 client addresses",
        backend.name(),
        150,
        evaluated.saturating_sub(limit),
    );
    let differ = answers[0]
        .iter()
        .zip(&answers[1])
        .filter(|(a, b)| a != b)
        .count() as u64;
    report(
        "a guess flood answers a registered address unlike an unknown one",
        backend.name(),
        150,
        differ,
    );
    // The owner's device, from a new network: in. A client that never logged in to the
    // address waits for the window to end, even with the right password.
    let (status, _) =
        login_with_device(&t, "192.0.2.99", &victim.email, PASSWORD, Some(&device)).await;
    report(
        "a guess flood from many clients locks the owner's device out",
        backend.name(),
        1,
        u64::from(status != 200),
    );
    let (status, _) = login_with_device(&t, "192.0.2.98", &victim.email, PASSWORD, None).await;
    assert_eq!(status, 429, "a new client gets through during the flood");
    let (status, _) = login_with_device(
        &t,
        "192.0.2.98",
        &victim.email,
        PASSWORD,
        Some("forged-device-token"),
    )
    .await;
    assert_eq!(status, 429, "a forged device token gets through");
    t.advance(16 * 60 * crate::support::SECOND);
    let (status, _) = login_with_device(&t, "192.0.2.98", &victim.email, PASSWORD, None).await;
    assert_eq!(status, 200, "the block ends with its window");
    t.finish().await;
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

async fn login_answers_and_timing_do_not_tell_who_has_an_account(backend: Backend) {
    let t = behind_proxy(backend, false).await;
    let victim = t.member("freelancer").await;
    let unknown = "nobody.at.all@example.test";
    // Answers, one wrong password after another from one client: the same sequence.
    let mut differ = 0;
    for i in 0..30 {
        let known = login_from(&t, "203.0.113.7", &victim.email, "guess guess guess").await;
        let none = login_from(&t, "203.0.113.8", unknown, "guess guess guess").await;
        if known != none {
            eprintln!("attempt {i}: {known:?} vs {none:?}");
            differ += 1;
        }
    }
    report(
        "login answers tell a registered address from an unknown one",
        backend.name(),
        30,
        differ,
    );
    // Timing: each try from a client of its own, so no throttle gets in the way; known and
    // unknown interleaved, in alternating order, so load on the machine hits both alike. The
    // machine is shared and noisy: up to three rounds, and a real difference (an extra write,
    // a skipped hash) shows in every one of them.
    let mut ratios = Vec::new();
    for round in 0..3 {
        let mut known = Vec::new();
        let mut none = Vec::new();
        for i in 0..41 {
            let mut pair = [(&victim.email[..], true), (unknown, false)];
            if i % 2 == 1 {
                pair.reverse();
            }
            for (email, is_known) in pair {
                let client = format!("198.18.{round}.{}", i + 1 + if is_known { 0 } else { 100 });
                let started = Instant::now();
                let (status, _) = login_from(&t, &client, email, "guess guess guess").await;
                let took = started.elapsed();
                assert_eq!(status, 401);
                if i > 0 {
                    if is_known {
                        known.push(took)
                    } else {
                        none.push(took)
                    }
                }
            }
        }
        let (k, n) = (median(known), median(none));
        let ratio = n.as_secs_f64() / k.as_secs_f64();
        eprintln!(
            "login timing on {} (round {round}): median known {k:?}, unknown {n:?}, ratio {ratio:.3}",
            backend.name(),
        );
        ratios.push(ratio);
        if (0.9..=1.1).contains(&ratio) {
            break;
        }
    }
    report(
        "login time tells a registered address from an unknown one (>10%)",
        backend.name(),
        1,
        u64::from(!ratios.iter().any(|r| (0.9..=1.1).contains(r))),
    );
    t.finish().await;
}

/// The 8-digit code in the restoration mail to `email`.
fn code_in_mail(t: &TestApp, email: &str) -> String {
    let mail = t.mail_to(email);
    let text = mail
        .iter()
        .find(|m| m.contains("enter this code"))
        .expect("a restoration code mail");
    let at = text.find("of your request: ").expect("the code's sentence") + 17;
    text[at..at + 8].to_string()
}

async fn join_all<F>(fs: impl Iterator<Item = F>) -> Vec<F::Output>
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    let handles: Vec<_> = fs.map(tokio::spawn).collect();
    let mut out = Vec::new();
    for h in handles {
        out.push(h.await.expect("the request task"));
    }
    out
}

async fn restoration_codes_cannot_be_raced(backend: Backend) {
    let t = TestApp::start_with_mail(backend).await;
    let f = t.member("freelancer").await;
    let ticket = t
        .post(None, "/api/v1/restorations", json!({"email": f.email}))
        .await
        .expect(202);
    t.drain_jobs().await;
    let code = code_in_mail(&t, &f.email);
    let path = format!(
        "/api/v1/restorations/{}/code",
        ticket["id"].as_str().unwrap()
    );
    let url = format!("{}{path}", t.base);
    let token = ticket["token"].as_str().unwrap().to_string();
    let n: u32 = code.parse().unwrap();
    let guesses = (0..100u32).map(|i| {
        let wrong = format!("{:08}", (n + 1 + i) % 100_000_000);
        let (http, url, token) = (t.http.clone(), url.clone(), token.clone());
        async move {
            let r = http
                .post(&url)
                .json(&json!({"token": token, "code": wrong}))
                .send()
                .await
                .unwrap();
            let status = r.status().as_u16();
            let body: Value = r.json().await.unwrap_or(Value::Null);
            (
                status,
                body["code"].as_str().unwrap_or_default().to_string(),
            )
        }
    });
    let answers = join_all(guesses).await;
    let evaluated = answers.iter().filter(|(_, c)| c == "wrong_code").count() as u64;
    for (status, c) in &answers {
        assert!(
            c == "wrong_code" || c == "too_many_attempts",
            "unexpected answer {status} {c}"
        );
    }
    let right = t
        .post(None, &path, json!({"token": token, "code": code}))
        .await;
    eprintln!(
        "{evaluated} of 100 concurrent guesses evaluated; the right code then: {}",
        right.status
    );
    let accepted = u64::from(right.status == 200);
    report(
        "100 concurrent restoration-code guesses",
        backend.name(),
        101,
        evaluated.saturating_sub(5) + accepted,
    );
    t.finish().await;
}

async fn a_fresh_login_cannot_close_the_account(backend: Backend) {
    let t = TestApp::start(backend).await;
    let f = t.member("freelancer").await;
    // A session stolen right after its login: no password on the step.
    let mut attempts = 0;
    let mut successes = 0;
    for (path, body) in [
        (
            "/api/v1/me/deactivate",
            json!({"reason": "not_enough_work"}),
        ),
        (
            "/api/v1/me/deletion",
            json!({"reason": "not_enough_work", "confirmation": "delete my account"}),
        ),
    ] {
        let r = t.post(Some(&f), path, body).await;
        attempts += 1;
        if r.status < 300 {
            successes += 1;
        } else {
            r.problem(403, "reauthentication_required");
        }
    }
    assert_eq!(t.state(&f).await, "active");
    report(
        "a freshly logged-in session closes the account without the password",
        backend.name(),
        attempts,
        successes,
    );
    // Guessing the password through re-authentication is throttled per session.
    let mut evaluated = 0u64;
    for _ in 0..20 {
        let r = t
            .post(
                Some(&f),
                "/api/v1/sessions/reauth",
                json!({"password": "guess guess"}),
            )
            .await;
        match r.status {
            403 => evaluated += 1,
            429 => {
                r.problem(429, "rate_limited");
            }
            other => panic!("reauth answered {other}: {}", r.text),
        }
    }
    // Also on the step itself.
    t.post(
        Some(&f),
        "/api/v1/me/deactivate",
        json!({"password": "guess again", "reason": "not_enough_work"}),
    )
    .await
    .problem(429, "rate_limited");
    assert_eq!(t.state(&f).await, "active");
    // The owner's own new session is not affected.
    let owner = t.relogin(&f).await;
    t.post(
        Some(&owner),
        "/api/v1/sessions/reauth",
        json!({"password": PASSWORD}),
    )
    .await
    .expect(204);
    report(
        "password guesses through a stolen session's re-authentication",
        backend.name(),
        20,
        evaluated.saturating_sub(5),
    );
    t.finish().await;
}
