//! The harness of the behaviour suite: the real router on a real listener, backed by a fresh
//! SQLite file or a fresh PostgreSQL database, driven over HTTP with `reqwest`. Time is a
//! `ManualClock` so scenarios can jump past break ends, payout dates and the 12-month window.

// Each test binary uses a different part of the harness.
#![allow(dead_code)]

use hiatus_domain::{AccountId, Balance, Currency, Money};
use hiatus_service::mail::MailTransport;
use hiatus_service::worker::Worker;
use hiatus_service::{Hiatus, ManualClock, PasswordParams, ServiceConfig};
use hiatus_testkit::ScratchDb;
use hiatus_testkit::store::{Blobs, Keyring, SecretKey};
use hiatus_web::WebOptions;
use reqwest::Method;
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// 2026-01-01T00:00:00Z: a fixed start, so dates in assertions never depend on the day the
/// suite runs.
pub const T0: i64 = 1_767_225_600_000_000;
pub const SECOND: i64 = 1_000_000;
pub const DAY: i64 = hiatus_domain::DAY_MICROS;
pub const PASSWORD: &str = "correct horse battery staple";

pub use hiatus_testkit::Backend;

/// Runs every listed scenario (an `async fn(&TestApp)` in the calling module) once per
/// backend, as `sqlite::<name>` and `postgres::<name>`.
#[allow(unused_macros)] // at_rest runs on SQLite only
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        hiatus_testkit::on_both!(|backend, scenario| {
            let app = crate::support::TestApp::start(backend).await;
            scenario(&app).await;
            app.finish().await;
        }; $($name),*);
    };
}
#[allow(unused_imports)]
pub(crate) use on_both_backends;

/// Like [`on_both_backends`], with mail written as `.eml` files to [`TestApp::mail_dir`].
#[allow(unused_macros)]
macro_rules! on_both_backends_with_mail {
    ($($name:ident),* $(,)?) => {
        hiatus_testkit::on_both!(mod sqlite_mail, postgres_mail; |backend, scenario| {
            let app = crate::support::TestApp::start_with_mail(backend).await;
            scenario(&app).await;
            app.finish().await;
        }; $($name),*);
    };
}
#[allow(unused_imports)]
pub(crate) use on_both_backends_with_mail;

/// One running hiatus: service, HTTP server and client.
pub struct TestApp {
    pub backend: Backend,
    pub base: String,
    pub http: reqwest::Client,
    pub h: Hiatus,
    pub clock: ManualClock,
    /// The SQLite file (when on SQLite) and the blob folder live here.
    pub dir: tempfile::TempDir,
    pub sqlite_path: Option<PathBuf>,
    pub blob_dir: PathBuf,
    /// Where mail is written, when the app was started with [`TestApp::start_with_mail`].
    pub mail_dir: PathBuf,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<()>>,
    // Declared last: dropped after everything that holds connections to it.
    db: ScratchDb,
}

static NEXT_MEMBER: AtomicU64 = AtomicU64::new(1);

/// 32 random bytes (a confirmation link's secret).
fn rand_bytes() -> [u8; 32] {
    hiatus_testkit::store::crypto::random_bytes::<32>()
}

impl TestApp {
    /// Builds the service the way the binary does, and serves it on `127.0.0.1:0`.
    pub async fn start(backend: Backend) -> TestApp {
        Self::start_configured(backend, false).await
    }

    /// Like [`TestApp::start`], with mail written as `.eml` files to `mail_dir`.
    pub async fn start_with_mail(backend: Backend) -> TestApp {
        Self::start_configured(backend, true).await
    }

    async fn start_configured(backend: Backend, mail: bool) -> TestApp {
        Self::start_with(backend, mail, |_| {}, |_| {}).await
    }

    /// Like [`TestApp::start`], with the web options and the service configuration adjusted
    /// (after the test defaults are set) by `web` and `service`.
    pub async fn start_with(
        backend: Backend,
        mail: bool,
        web: impl FnOnce(&mut WebOptions),
        service: impl FnOnce(&mut ServiceConfig),
    ) -> TestApp {
        // The server logs internal errors instead of returning them; the test writer puts
        // them next to the failing test's output.
        let _ = tracing_subscriber::fmt()
            .with_env_filter(
                tracing_subscriber::EnvFilter::try_from_env("HIATUS_TEST_LOG")
                    .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
            )
            .with_test_writer()
            .try_init();
        let dir = tempfile::tempdir().expect("temp dir");
        let scratch = ScratchDb::new_in(backend, dir.path()).await;
        let sqlite_path = scratch.sqlite_path().map(Path::to_path_buf);
        let db = scratch.migrated(4).await;
        let blob_dir = dir.path().join("files");
        let blobs = Blobs::local(&blob_dir).expect("blob folder");
        let clock = ManualClock::new(T0);
        let mail_dir = dir.path().join("mail");
        let mut config = ServiceConfig {
            password: PasswordParams::FAST,
            ..Default::default()
        };
        if mail {
            config.mail.transport = MailTransport::Files(mail_dir.clone());
        }
        service(&mut config);
        let h = Hiatus::new(
            db,
            blobs,
            Keyring::new(SecretKey::generate()),
            Arc::new(clock.clone()),
            config,
        );
        let mut options = WebOptions {
            auth_attempts_per_minute: 100_000,
            signups_per_hour: 100_000,
            ..Default::default()
        };
        web(&mut options);
        let app = hiatus_web::router(h.clone(), options);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a local port");
        let addr = listener.local_addr().expect("local address");
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(async move {
            axum::serve(
                listener,
                app.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .with_graceful_shutdown(async move {
                let _ = rx.await;
            })
            .await
            .expect("server runs");
        });
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .expect("HTTP client");
        TestApp {
            backend,
            base: format!("http://{addr}"),
            http,
            h,
            clock,
            dir,
            sqlite_path,
            blob_dir,
            mail_dir,
            shutdown: Some(tx),
            server: Some(server),
            db: scratch,
        }
    }

    /// Stops the server, then closes the pool (checkpointing SQLite's WAL).
    pub async fn stop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(server) = self.server.take() {
            // Idle keep-alive connections of the client would hold a graceful shutdown open.
            self.http = reqwest::Client::new();
            if tokio::time::timeout(Duration::from_secs(5), server)
                .await
                .is_err()
            {
                panic!("the server did not shut down within 5 seconds");
            }
        }
        self.h.db.close().await;
    }

    /// The URL of this app's PostgreSQL database (none on SQLite).
    #[allow(dead_code)]
    pub fn postgres_url(&self) -> Option<String> {
        self.db.postgres_name().map(|_| self.db.url().to_string())
    }

    /// Ends a scenario that passed; the database goes with `self`.
    pub async fn finish(mut self) {
        self.stop().await;
    }

    // ---- time and jobs ----

    /// Moves the clock forward.
    pub fn advance(&self, by: i64) {
        self.clock.advance(by);
    }

    /// The service's current time.
    pub fn now(&self) -> i64 {
        self.h.now()
    }

    /// Runs every job that is due now, like a worker process would.
    pub async fn drain_jobs(&self) -> usize {
        Worker::new(self.h.clone(), Duration::from_millis(10))
            .drain()
            .await
            .expect("worker drains the queue")
    }

    /// The mail written so far (see [`TestApp::start_with_mail`]) to `to`, each as its raw
    /// text with quoted-printable soft line breaks removed.
    pub fn mail_to(&self, to: &str) -> Vec<String> {
        let Ok(entries) = std::fs::read_dir(&self.mail_dir) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for e in entries.flatten() {
            let p = e.path();
            if p.extension().is_some_and(|x| x == "eml") {
                let raw = std::fs::read_to_string(&p).expect("a mail file");
                let head = raw.split("\r\n\r\n").next().unwrap_or_default();
                let to_line = head
                    .lines()
                    .find(|l| l.starts_with("To:"))
                    .unwrap_or_default();
                if to_line.contains(&format!("<{to}>")) || to_line == format!("To: {to}") {
                    out.push(raw.replace("=\r\n", "").replace("=\n", ""));
                }
            }
        }
        out
    }

    // ---- direct store access, for what the API deliberately does not offer ----

    /// Sets a member's balance in a currency (available and debt), as the billing system would.
    pub async fn set_balance(&self, m: &Member, available: i64, debt: i64) {
        let now = self.now();
        let mut tx = self.h.db.begin().await.expect("begin");
        hiatus_testkit::store::market::set_balance(
            &mut tx,
            m.account_id(),
            &Balance {
                available: Money::new(available, Currency::USD).expect("amount"),
                debt: Money::new(debt, Currency::USD).expect("amount"),
            },
            now,
        )
        .await
        .expect("set balance");
        tx.commit().await.expect("commit");
    }

    /// Records that `m` downloaded a complete export now (the export flow is not in the API yet).
    pub async fn record_export_download(&self, m: &Member) {
        let now = self.now();
        let mut tx = self.h.db.begin().await.expect("begin");
        hiatus_testkit::store::market::record_export_download(&mut tx, m.account_id(), now)
            .await
            .expect("record export");
        tx.commit().await.expect("commit");
    }

    /// Records that `m` told `client` they are leaving (the "tell your clients" step is not in
    /// the API yet).
    pub async fn record_client_notice(&self, m: &Member, client: &Member) {
        let now = self.now();
        let mut tx = self.h.db.begin().await.expect("begin");
        hiatus_testkit::store::market::record_client_notice(
            &mut tx,
            m.account_id(),
            client.account_id(),
            now,
        )
        .await
        .expect("record notice");
        tx.commit().await.expect("commit");
    }

    // ---- HTTP ----

    /// Sends a request as `who` (anonymous when `None`) with an optional JSON body.
    pub async fn call(
        &self,
        method: Method,
        who: Option<&Member>,
        path: &str,
        body: Option<Value>,
    ) -> Res {
        let mut rb = self
            .http
            .request(method.clone(), format!("{}{path}", self.base));
        if let Some(m) = who {
            rb = rb.bearer_auth(&m.token);
        }
        if let Some(b) = body {
            rb = rb.json(&b);
        }
        Res::read(format!("{method} {path}"), rb.send().await)
            .await
            .expect("request reaches the server")
    }

    pub async fn get(&self, who: Option<&Member>, path: &str) -> Res {
        self.call(Method::GET, who, path, None).await
    }
    pub async fn post(&self, who: Option<&Member>, path: &str, body: Value) -> Res {
        self.call(Method::POST, who, path, Some(body)).await
    }
    pub async fn post_empty(&self, who: Option<&Member>, path: &str) -> Res {
        self.call(Method::POST, who, path, None).await
    }
    pub async fn patch(&self, who: Option<&Member>, path: &str, body: Value) -> Res {
        self.call(Method::PATCH, who, path, Some(body)).await
    }
    pub async fn delete(&self, who: Option<&Member>, path: &str) -> Res {
        self.call(Method::DELETE, who, path, None).await
    }

    /// Sends raw bytes with the given headers: for malformed requests.
    pub async fn raw(
        &self,
        method: Method,
        who: Option<&Member>,
        path: &str,
        content_type: Option<&str>,
        body: Vec<u8>,
    ) -> Result<Res, reqwest::Error> {
        let mut rb = self
            .http
            .request(method.clone(), format!("{}{path}", self.base))
            .body(body);
        if let Some(m) = who {
            rb = rb.bearer_auth(&m.token);
        }
        if let Some(ct) = content_type {
            rb = rb.header(reqwest::header::CONTENT_TYPE, ct);
        }
        Res::read(format!("{method} {path}"), rb.send().await).await
    }

    // ---- members ----

    /// Signs up a member of `kind` (`freelancer`, `client` or `both`) and logs them in.
    pub async fn member(&self, kind: &str) -> Member {
        let n = NEXT_MEMBER.fetch_add(1, Ordering::SeqCst);
        let email = format!("{kind}{n}@example.test");
        let body = self
            .post(
                None,
                "/api/v1/accounts",
                json!({
                    "email": email,
                    "password": PASSWORD,
                    "legal_name": format!("Legal {kind} {n}"),
                    "display_name": format!("{kind} {n}"),
                    "kind": kind,
                    "headline": format!("Headline of {kind} {n}"),
                }),
            )
            .await
            .expect(202);
        assert_eq!(body["status"], "check_your_mail");
        // A new account logs in only once its address is confirmed.
        let session = self.confirm_sign_up(&email, PASSWORD).await.expect(200);
        Member {
            token: session["token"].as_str().expect("token").to_string(),
            id: session["account_id"]
                .as_str()
                .expect("account id")
                .to_string(),
            email,
        }
    }

    /// Confirms the sign-up of `email` through the API with `password` (the one chosen at
    /// sign-up) and a freshly minted link, as the page the mailed link opens does; the answer
    /// is a session, like a login's.
    pub async fn confirm_sign_up(&self, email: &str, password: &str) -> Res {
        let token = self.confirmation_token(email).await;
        self.post(
            None,
            "/api/v1/accounts/confirm",
            json!({"token": token, "password": password}),
        )
        .await
    }

    /// A fresh confirmation link's token for the unconfirmed account of `email`, minted the
    /// way its mail does (earlier links stop working), without waiting for the mail.
    pub async fn confirmation_token(&self, email: &str) -> String {
        let email = hiatus_domain::Email::parse(email).expect("an email address");
        let token = hex::encode(rand_bytes());
        let now = self.now();
        let mut tx = self.h.db.begin().await.expect("begin");
        let acct = hiatus_testkit::store::accounts::find_by_email(&mut tx, &self.h.keys, &email)
            .await
            .expect("look up the address")
            .expect("the address has an account");
        hiatus_testkit::store::signup_confirmations::set_token(
            &mut tx,
            acct.account_id().expect("account id"),
            None,
            &token,
            now,
        )
        .await
        .expect("mint a confirmation link")
        .expect("the account waits for confirmation");
        tx.commit().await.expect("commit");
        token
    }

    /// Logs in with the member's password and returns the session body.
    /// A logged-in member of staff with `role` (created through the service: the API has no
    /// way to make staff).
    pub async fn staff(&self, role: hiatus_domain::Role) -> Member {
        let email = format!("staff-{}@example.test", uuid::Uuid::new_v4().simple());
        let id = self
            .h
            .sign_up(
                hiatus_service::SignUp {
                    email: email.clone(),
                    password: PASSWORD.into(),
                    legal_name: "Staff".into(),
                    display_name: "Staff".into(),
                    kind: hiatus_domain::AccountKind::Client,
                    headline: String::new(),
                    bio: String::new(),
                },
                role,
            )
            .await
            .expect("staff sign-up");
        let mut s = Member {
            id: id.to_string(),
            email,
            token: String::new(),
        };
        s.token = self.login(&s).await["token"]
            .as_str()
            .expect("token")
            .to_string();
        s
    }

    pub async fn login(&self, m: &Member) -> Value {
        self.post(
            None,
            "/api/v1/sessions",
            json!({"email": m.email, "password": PASSWORD}),
        )
        .await
        .expect(200)
    }

    /// A new session for `m` (sessions expire after 14 days of test time).
    pub async fn relogin(&self, m: &Member) -> Member {
        let s = self.login(m).await;
        Member {
            token: s["token"].as_str().expect("token").to_string(),
            ..m.clone()
        }
    }

    /// The member's state as `GET /me` reports it.
    pub async fn state(&self, m: &Member) -> String {
        self.get(Some(m), "/api/v1/me").await.expect(200)["state"]
            .as_str()
            .expect("state")
            .to_string()
    }

    /// The member's visibility, availability and notifications.
    pub async fn settings(&self, m: &Member) -> Value {
        self.get(Some(m), "/api/v1/me").await.expect(200)["settings"].clone()
    }

    /// Deactivates with the right password and a permanent reason.
    pub async fn deactivate(&self, m: &Member) -> Res {
        self.post(
            Some(m),
            "/api/v1/me/deactivate",
            json!({"password": PASSWORD, "reason": "not_enough_work"}),
        )
        .await
    }

    pub async fn reactivate(&self, m: &Member) -> Res {
        self.post_empty(Some(m), "/api/v1/me/reactivate").await
    }

    /// The codes of the blockers and warnings of a deactivation preflight.
    pub async fn preflight(&self, m: &Member) -> Findings {
        Findings(
            self.get(Some(m), "/api/v1/me/preflight?intent=deactivate")
                .await
                .expect(200),
        )
    }

    /// An open contract between `client` and `freelancer`: offered by the client, accepted
    /// by the freelancer.
    pub async fn contract(&self, client: &Member, freelancer: &Member, title: &str) -> String {
        let k = self.offer(client, freelancer, title).await;
        let c = self
            .contract_action(freelancer, &k, "accept")
            .await
            .expect(200);
        assert_eq!(c["status"], "open", "{c}");
        k
    }

    /// A contract offer from `client` to `freelancer`, not answered yet.
    pub async fn offer(&self, client: &Member, freelancer: &Member, title: &str) -> String {
        let c = self
            .post(
                Some(client),
                "/api/v1/contracts",
                json!({"freelancer_id": freelancer.id, "title": title}),
            )
            .await
            .expect(201);
        assert_eq!(c["status"], "offered", "{c}");
        c["id"].as_str().expect("contract id").to_string()
    }

    /// Applies a contract action (`accept`, `decline`, `withdraw`, `pause`, `resume`, `end`,
    /// `open_dispute`, `resolve_dispute`).
    pub async fn contract_action(&self, who: &Member, contract: &str, action: &str) -> Res {
        self.post(
            Some(who),
            &format!("/api/v1/contracts/{contract}/actions"),
            json!({"action": action}),
        )
        .await
    }

    /// Funds a milestone of `minor` cents; returns the escrow payment's id.
    pub async fn fund(&self, client: &Member, contract: &str, minor: i64) -> String {
        self.post(
            Some(client),
            &format!("/api/v1/contracts/{contract}/milestones"),
            json!({"title": "Milestone", "amount": {"minor": minor, "currency": "USD"}}),
        )
        .await
        .expect(201)["payment"]["id"]
            .as_str()
            .expect("payment id")
            .to_string()
    }

    pub async fn payment_action(&self, who: &Member, payment: &str, action: &str) -> Res {
        self.post(
            Some(who),
            &format!("/api/v1/payments/{payment}/actions"),
            json!({"action": action}),
        )
        .await
    }

    // ---- raw responses (export downloads) ----

    /// GETs `path` as `who` (bearer token; anonymous when `None`) with extra request headers,
    /// keeping the body as bytes: `Res` reads bodies as text, which would mangle a ZIP.
    pub async fn fetch(
        &self,
        who: Option<&Member>,
        path: &str,
        headers: &[(&str, &str)],
    ) -> Fetched {
        let mut rb = self.http.get(format!("{}{path}", self.base));
        if let Some(m) = who {
            rb = rb.bearer_auth(&m.token);
        }
        for (k, v) in headers {
            rb = rb.header(*k, *v);
        }
        let r = rb.send().await.expect("request reaches the server");
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        let bytes = r.bytes().await.expect("body arrives whole").to_vec();
        Fetched {
            what: format!("GET {path}"),
            status,
            headers,
            bytes,
        }
    }

    /// Downloads `path` as `who`, optionally one byte range (`Range: bytes=…`, give the part
    /// after `bytes=`).
    pub async fn download(&self, who: Option<&Member>, path: &str, range: Option<&str>) -> Fetched {
        match range {
            Some(r) => {
                let value = format!("bytes={r}");
                self.fetch(who, path, &[("range", value.as_str())]).await
            }
            None => self.fetch(who, path, &[]).await,
        }
    }
}

/// A logged-in member.
#[derive(Clone, Debug)]
pub struct Member {
    pub id: String,
    pub email: String,
    pub token: String,
}

impl Member {
    pub fn account_id(&self) -> AccountId {
        self.id.parse().expect("account id")
    }
}

/// A preflight result.
#[derive(Clone, Debug)]
pub struct Findings(pub Value);

impl Findings {
    fn codes(&self, list: &str) -> Vec<String> {
        self.0[list]
            .as_array()
            .unwrap_or_else(|| panic!("preflight has no {list}: {}", self.0))
            .iter()
            .map(|f| f["code"].as_str().expect("code").to_string())
            .collect()
    }
    pub fn blockers(&self) -> Vec<String> {
        self.codes("blockers")
    }
    pub fn warnings(&self) -> Vec<String> {
        self.codes("warnings")
    }
    /// The finding with `code`, if present (blocker or warning).
    pub fn find(&self, code: &str) -> Option<Value> {
        ["blockers", "warnings"].iter().find_map(|l| {
            self.0[*l]
                .as_array()?
                .iter()
                .find(|f| f["code"] == code)
                .cloned()
        })
    }
    /// The ids of the records a finding concerns.
    pub fn record_ids(&self, code: &str) -> Vec<String> {
        let f = self
            .find(code)
            .unwrap_or_else(|| panic!("no {code} finding in {}", self.0));
        f["records"]
            .as_array()
            .expect("records")
            .iter()
            .map(|r| r["id"].as_str().expect("record id").to_string())
            .collect()
    }
}

/// A response, read whole.
#[derive(Debug)]
pub struct Res {
    pub what: String,
    pub status: u16,
    pub content_type: Option<String>,
    pub text: String,
    pub body: Value,
}

impl Res {
    async fn read(
        what: String,
        r: Result<reqwest::Response, reqwest::Error>,
    ) -> Result<Res, reqwest::Error> {
        let r = r?;
        let status = r.status().as_u16();
        let content_type = r
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let text = r.text().await?;
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Ok(Res {
            what,
            status,
            content_type,
            text,
            body,
        })
    }

    /// Asserts the status and returns the JSON body.
    #[track_caller]
    pub fn expect(&self, status: u16) -> Value {
        assert_eq!(
            self.status, status,
            "{} answered {} (expected {status}): {}",
            self.what, self.status, self.text
        );
        self.body.clone()
    }

    /// Asserts an `application/problem+json` error with this status and code.
    #[track_caller]
    pub fn problem(&self, status: u16, code: &str) -> Value {
        self.expect(status);
        self.is_problem();
        assert_eq!(
            self.body["code"], code,
            "{} gave code {} (expected {code}): {}",
            self.what, self.body["code"], self.text
        );
        self.body.clone()
    }

    /// Asserts a 4xx problem response with some code, whatever it is.
    #[track_caller]
    pub fn is_problem(&self) {
        assert!(
            (400..500).contains(&self.status),
            "{} answered {} (expected a 4xx): {}",
            self.what,
            self.status,
            self.text
        );
        assert_eq!(
            self.content_type.as_deref(),
            Some("application/problem+json"),
            "{} answered {} without a problem content type: {}",
            self.what,
            self.status,
            self.text
        );
        let code = self.body["code"].as_str().unwrap_or_default();
        assert!(
            !code.is_empty(),
            "{} gave a problem without a code: {}",
            self.what,
            self.text
        );
        assert_eq!(self.body["status"], self.status, "{}", self.text);
    }
}

/// A response with its headers and its body as raw bytes.
#[derive(Debug)]
pub struct Fetched {
    pub what: String,
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub bytes: Vec<u8>,
}

impl Fetched {
    /// A response header as text.
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    }

    /// The body as lossy text, for messages.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.bytes[..self.bytes.len().min(2000)]).into_owned()
    }

    /// Asserts the status and returns the bytes.
    #[track_caller]
    pub fn expect(&self, status: u16) -> &[u8] {
        assert_eq!(
            self.status,
            status,
            "{} answered {} (expected {status}): {}",
            self.what,
            self.status,
            self.text()
        );
        &self.bytes
    }

    /// Asserts an `application/problem+json` error with this status and code.
    #[track_caller]
    pub fn problem(&self, status: u16, code: &str) -> Value {
        self.expect(status);
        assert_eq!(
            self.header("content-type").as_deref(),
            Some("application/problem+json"),
            "{} answered {status} without a problem content type: {}",
            self.what,
            self.text()
        );
        let body: Value = serde_json::from_slice(&self.bytes).unwrap_or_else(|e| {
            panic!(
                "{} gave a problem that is not JSON ({e}): {}",
                self.what,
                self.text()
            )
        });
        assert_eq!(
            body["code"],
            code,
            "{} gave code {} (expected {code}): {}",
            self.what,
            body["code"],
            self.text()
        );
        assert_eq!(body["status"], status, "{}", self.text());
        body
    }
}
