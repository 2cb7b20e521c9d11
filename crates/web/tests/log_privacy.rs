//! Download links are bearer secrets for five minutes: the server's logs name the route
//! template, never the token nor the URL that carries it. And a whole lifecycle, from sign-up
//! to erasure and a restoration request, leaves no name, address or phone number in the logs or
//! in `/metrics`. Everything the process logs, at
//! every level and from every crate, is captured in memory (one global subscriber for this
//! test binary) while a real server mints links and serves good and bad downloads.

#[path = "support/mod.rs"]
mod support;

use serde_json::{Value, json};
use std::sync::{Arc, Mutex, OnceLock};
use support::{Backend, Member, TestApp};

// Not `on_both_backends!`: the capture must be in place before the harness starts a server
// (its own subscriber would take the global slot otherwise).
// One scenario at a time, each reading only what was logged since it began.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

#[tokio::test]
async fn sqlite_download_links_never_reach_the_logs() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let logs = logs().since_now();
    let app = TestApp::start(Backend::Sqlite).await;
    download_links_never_reach_the_logs(&app, &logs).await;
    app.finish().await;
}

#[tokio::test]
async fn postgres_download_links_never_reach_the_logs() {
    if hiatus_testkit::skip_postgres() {
        return;
    }
    let _turn = ONE_AT_A_TIME.lock().await;
    let logs = logs().since_now();
    let app = TestApp::start(Backend::Postgres).await;
    download_links_never_reach_the_logs(&app, &logs).await;
    app.finish().await;
}

#[tokio::test]
async fn sqlite_a_whole_lifecycle_leaves_no_person_in_logs_or_metrics() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let logs = logs().since_now();
    let app = TestApp::start(Backend::Sqlite).await;
    a_whole_lifecycle_leaves_no_person_in_logs_or_metrics(&app, &logs).await;
    app.finish().await;
}

#[tokio::test]
async fn postgres_a_whole_lifecycle_leaves_no_person_in_logs_or_metrics() {
    if hiatus_testkit::skip_postgres() {
        return;
    }
    let _turn = ONE_AT_A_TIME.lock().await;
    let logs = logs().since_now();
    let app = TestApp::start(Backend::Postgres).await;
    a_whole_lifecycle_leaves_no_person_in_logs_or_metrics(&app, &logs).await;
    app.finish().await;
}

const EXPORTS: &str = "/api/v1/me/exports";
const TEMPLATE: &str = "/api/v1/export-downloads/{token}";

/// The log of the whole test binary, read from an offset on.
#[derive(Clone, Default)]
struct Captured {
    buf: Arc<Mutex<Vec<u8>>>,
    from: usize,
}

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.buf.lock().expect("log buffer").extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    /// The same log, read from what comes next.
    fn since_now(&self) -> Captured {
        Captured {
            buf: self.buf.clone(),
            from: self.buf.lock().expect("log buffer").len(),
        }
    }

    /// What was logged from the offset on.
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.buf.lock().expect("log buffer")[self.from..]).into_owned()
    }
}

/// Installs the capturing subscriber once, before any server starts (the harness's own
/// `try_init` then finds it in place and leaves it).
fn logs() -> Captured {
    static LOGS: OnceLock<Captured> = OnceLock::new();
    LOGS.get_or_init(|| {
        let buf = Captured::default();
        let writer = buf.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new("trace"))
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish();
        tracing::subscriber::set_global_default(subscriber)
            .expect("the only global subscriber of this test binary");
        buf
    })
    .clone()
}

fn id_of(v: &Value) -> String {
    v["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no id in {v}"))
        .to_string()
}

/// Mints a download link; returns its URL (path) and token.
async fn mint(t: &TestApp, who: &Member, export: &str) -> (String, String) {
    let l = t
        .post_empty(Some(who), &format!("{EXPORTS}/{export}/links"))
        .await
        .expect(201);
    let url = l["url"].as_str().expect("url").to_string();
    let token = url
        .strip_prefix("/api/v1/export-downloads/")
        .unwrap_or_else(|| panic!("unexpected link {url}"))
        .to_string();
    assert!(token.len() >= 16, "{url}");
    (url, token)
}

async fn download_links_never_reach_the_logs(t: &TestApp, logs: &Captured) {
    let f = t.member("freelancer").await;
    let other = t.member("freelancer").await;
    let id = id_of(&t.post(Some(&f), EXPORTS, json!({})).await.expect(202));
    t.drain_jobs().await;
    let view = t
        .get(Some(&f), &format!("{EXPORTS}/{id}"))
        .await
        .expect(200);
    assert_eq!(view["status"], "ready", "{view}");

    let (url, token) = mint(t, &f, &id).await;
    // A second link, never used: minting alone must not log it either.
    let (unused_url, unused_token) = mint(t, &f, &id).await;
    assert_ne!(token, unused_token);

    // Good downloads: whole, a range, a HEAD probe.
    let whole = t.download(Some(&f), &url, None).await;
    assert!(whole.expect(200).starts_with(b"PK"));
    t.download(Some(&f), &url, Some("0-99")).await.expect(206);
    let head = t
        .http
        .head(format!("{}{url}", t.base))
        .bearer_auth(&f.token)
        .send()
        .await
        .expect("request reaches the server");
    assert_eq!(head.status().as_u16(), 200);
    // Failing ones: a wrong token, a too long one, someone else's session, no session, a
    // refused range.
    let wrong_token = format!("{}x", &token[..token.len() - 1]);
    let wrong_token = if wrong_token == token {
        format!("{}y", &token[..token.len() - 1])
    } else {
        wrong_token
    };
    let wrong_url = format!("/api/v1/export-downloads/{wrong_token}");
    t.download(Some(&f), &wrong_url, None)
        .await
        .problem(404, "not_found");
    let long_token = format!("{token}{}", "A".repeat(200));
    let long_url = format!("/api/v1/export-downloads/{long_token}");
    let long = t.download(Some(&f), &long_url, None).await;
    assert_eq!(long.status, 404, "{}", long.text());
    let theirs = t.download(Some(&other), &url, None).await;
    assert_eq!(theirs.status, 404, "{}", theirs.text());
    let anonymous = t.download(None, &url, None).await;
    assert_eq!(anonymous.status, 401, "{}", anonymous.text());
    let size = view["size_bytes"].as_i64().expect("size");
    let refused = t.download(Some(&f), &url, Some(&format!("{size}-"))).await;
    assert_eq!(refused.status, 416, "{}", refused.text());

    // The capture works: it sees what any thread of this process logs, server tasks included.
    let probe = format!("probe-{}", uuid::Uuid::new_v4().simple());
    let p = probe.clone();
    tokio::spawn(async move { tracing::trace!(target: "hiatus_web", value = %p, "probe") })
        .await
        .expect("probe task");

    // The server finished logging each request before answering it; give stragglers a moment.
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    let text = logs.text();
    assert!(text.contains(&probe), "the capture missed a log line");
    // Each of the eight downloads is logged, by its route template.
    let downloads: Vec<&str> = text.lines().filter(|l| l.contains(TEMPLATE)).collect();
    assert_eq!(
        downloads.len(),
        8,
        "each download is logged by its route template:\n{}",
        tail(&text)
    );
    for (method, status) in [
        ("GET", 200),
        ("GET", 206),
        ("HEAD", 200),
        ("GET", 404),
        ("GET", 401),
        ("GET", 416),
    ] {
        let wanted = format!("method={method} route={TEMPLATE} status={status} ");
        assert!(
            downloads.iter().any(|l| l.contains(&wanted)),
            "no line with {wanted}:\n{}",
            downloads.join("\n")
        );
    }
    for secret in [
        &token,
        &unused_token,
        &wrong_token,
        &long_token,
        &url,
        &unused_url,
        &wrong_url,
        &format!("{}{url}", t.base),
        &f.token,
        &other.token,
    ] {
        assert!(
            !text.contains(secret.as_str()),
            "the logs hold {secret}:\n{}",
            lines_with(&text, secret)
        );
    }
    // Not even part of a token (a prefix or suffix long enough to guess from).
    for t in [&token, &unused_token] {
        let n = t.len() / 2;
        for part in [&t[..n], &t[t.len() - n..]] {
            assert!(
                !text.contains(part),
                "the logs hold part of a token ({part}):\n{}",
                lines_with(&text, part)
            );
        }
    }
}

/// Signs up a member whose every personal detail is a recognisable canary.
async fn canary_member(t: &TestApp, kind: &str, tag: &str) -> (Member, Vec<String>) {
    let email = format!(
        "canary.{tag}.{}@example.test",
        uuid::Uuid::new_v4().simple()
    );
    let name = format!("Quillfeather{tag}");
    let legal = format!("Zanzibarova{tag}");
    t.post(
        None,
        "/api/v1/accounts",
        json!({"email": email, "password": support::PASSWORD, "legal_name": legal,
               "display_name": name, "kind": kind, "headline": "Canary headline"}),
    )
    .await
    .expect(202);
    let mut m = Member {
        id: String::new(),
        email: email.clone(),
        token: String::new(),
    };
    let login = t
        .confirm_sign_up(&email, support::PASSWORD)
        .await
        .expect(200);
    m.token = login["token"].as_str().unwrap().to_string();
    m.id = t.get(Some(&m), "/api/v1/me").await.expect(200)["id"]
        .as_str()
        .unwrap()
        .to_string();
    let local = email.split('@').next().unwrap().to_string();
    (m, vec![email, local, name, legal])
}

/// Sign-up to erasure and restoration, through the API, with the worker running: the logs of
/// every crate at every level, and `/metrics`, never name a person.
async fn a_whole_lifecycle_leaves_no_person_in_logs_or_metrics(t: &TestApp, logs: &Captured) {
    let (f, mut canaries) = canary_member(t, "freelancer", "F").await;
    let (c, more) = canary_member(t, "client", "C").await;
    canaries.extend(more);
    let (g, more) = canary_member(t, "freelancer", "G").await;
    canaries.extend(more);
    let phone = "+44 7700 900123".to_string();
    t.call(
        reqwest::Method::PUT,
        Some(&f),
        "/api/v1/me/contact",
        Some(json!({"phone": phone})),
    )
    .await
    .expect(204);
    canaries.push(phone);
    // Work together, then an export, telling clients, a break, deactivation and back.
    let k = t.contract(&c, &f, "Canary contract").await;
    t.contract_action(&c, &k, "end").await;
    let id = id_of(&t.post(Some(&f), EXPORTS, json!({})).await.expect(202));
    t.drain_jobs().await;
    let (url, _) = mint(t, &f, &id).await;
    t.download(Some(&f), &url, None).await.expect(200);
    t.post(
        Some(&f),
        "/api/v1/me/client-notices",
        json!({"message": "Leaving for a while", "forwarding": "quill@elsewhere.example"}),
    )
    .await
    .expect(202);
    canaries.push("quill@elsewhere.example".into());
    t.drain_jobs().await;
    t.deactivate(&f).await.expect(200);
    t.reactivate(&f).await.expect(200);
    // Wrong passwords and a restoration request for an account.
    t.post(
        None,
        "/api/v1/sessions",
        json!({"email": f.email, "password": "not the password"}),
    )
    .await
    .problem(401, "bad_credentials");
    t.post(
        None,
        "/api/v1/restorations",
        json!({"email": g.email, "explanation": "Quillfeather lost the phone"}),
    )
    .await
    .expect(202);
    t.drain_jobs().await;
    // Deletion, and erasure after the grace period.
    t.post(
        Some(&f),
        "/api/v1/me/deletion",
        json!({"password": support::PASSWORD, "reason": "privacy_concerns", "confirmation": "delete my account"}),
    )
    .await
    .expect(200);
    t.advance(40 * support::DAY);
    t.drain_jobs().await;
    t.post(
        None,
        "/api/v1/sessions",
        json!({"email": f.email, "password": support::PASSWORD}),
    )
    .await
    .problem(401, "bad_credentials");
    let metrics = t.get(None, "/metrics").await;
    assert_eq!(metrics.status, 200);
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    let text = logs.text();
    assert!(
        text.lines().count() > 50,
        "the flow was logged:\n{}",
        tail(&text)
    );
    for canary in &canaries {
        assert!(
            !text.contains(canary.as_str()),
            "the logs hold {canary}:\n{}",
            lines_with(&text, canary)
        );
        assert!(
            !metrics.text.contains(canary.as_str()),
            "/metrics holds {canary}"
        );
    }
}

fn lines_with(text: &str, needle: &str) -> String {
    text.lines()
        .filter(|l| l.contains(needle))
        .collect::<Vec<_>>()
        .join("\n")
}

fn tail(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(40)..].join("\n")
}
