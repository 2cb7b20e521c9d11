//! Running `hiatus` processes in tests: servers and workers with their logs captured, a
//! scratch PostgreSQL database, logging in and calling the API, verifying archives.
#![allow(dead_code)]

use serde_json::{Value, json};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub const KEY: &str = "7d1f3a5c9e0b2d4f6a8c0e1f3b5d7f9a1c3e5f7b9d0f2a4c6e8a0c2e4f6b8d0a";

pub const PASSWORD: &str = "hiatus-generated-password";

pub struct Proc {
    pub child: Child,
    pub log: Arc<Mutex<Vec<String>>>,
}

impl Proc {
    pub fn log_contains(&self, needle: &str) -> bool {
        self.log.lock().unwrap().iter().any(|l| l.contains(needle))
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn base(dir: &Path, url: &str, log: &str) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_hiatus"));
    c.env("RUST_BACKTRACE", "0")
        .arg("--data-dir")
        .arg(dir)
        .args([
            "--database-url",
            url,
            "--master-key",
            KEY,
            "--insecure-fast-passwords",
            "--deletion-grace-days",
            "0",
            "--mail-url",
            "none",
            "--job-lease-seconds",
            "4",
            "--log",
            log,
        ]);
    for (k, _) in std::env::vars() {
        if k.starts_with("HIATUS_") {
            c.env_remove(k);
        }
    }
    c
}

pub fn spawn(dir: &Path, url: &str, args: &[&str]) -> Proc {
    let mut child = base(dir, url, "info")
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start hiatus");
    let log = Arc::new(Mutex::new(Vec::new()));
    let stderr = child.stderr.take().unwrap();
    let sink = log.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            sink.lock().unwrap().push(line);
        }
    });
    Proc { child, log }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub async fn wait_healthy(http: &reqwest::Client, base: &str, p: &mut Proc) {
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(90) {
        if let Ok(r) = http.get(format!("{base}/readyz")).send().await
            && r.status() == 200
        {
            return;
        }
        if let Some(status) = p.child.try_wait().unwrap() {
            panic!("server exited with {status}: {:?}", p.log.lock().unwrap());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("server at {base} did not become ready");
}

pub async fn login(http: &reqwest::Client, base: &str, email: &str) -> String {
    let r = http
        .post(format!("{base}/api/v1/sessions"))
        .json(&json!({"email": email, "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "login {email}");
    let v: Value = r.json().await.unwrap();
    v["token"].as_str().unwrap().to_string()
}

pub async fn post(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    path: &str,
    body: Value,
) -> (u16, Value) {
    let r = http
        .post(format!("{base}{path}"))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

pub async fn download_and_verify(
    http: &reqwest::Client,
    base: &str,
    dir: &Path,
    email: &str,
    export_id: &str,
    public_key: &str,
) {
    let token = login(http, base, email).await;
    let bytes = http
        .get(download_link(http, base, &token, export_id).await)
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let file = dir.join(format!("{export_id}.zip"));
    std::fs::write(&file, &bytes).unwrap();
    assert_verifies(&file, public_key, email);
}

/// A fresh download link for an export (one per click, as the product mints them).
pub async fn download_link(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    export_id: &str,
) -> String {
    let (status, v) = post(
        http,
        base,
        token,
        &format!("/api/v1/me/exports/{export_id}/links"),
        json!({}),
    )
    .await;
    assert!(status == 200 || status == 201, "{status} {v}");
    format!("{base}{}", v["url"].as_str().expect("a download url"))
}

/// `hiatus verify FILE --public-key KEY` passes.
pub fn assert_verifies(file: &Path, public_key: &str, whose: &str) {
    let out = Command::new(env!("CARGO_BIN_EXE_hiatus"))
        .env("RUST_BACKTRACE", "0")
        .arg("verify")
        .arg(file)
        .args(["--public-key", public_key])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "the archive of {whose} does not verify: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Runs a `hiatus … generate … --json` command and returns the email of the member it
/// generated.
pub fn generated_member(mut generate: Command) -> String {
    let out = generate.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let summary: Value = serde_json::from_slice(&out.stdout).unwrap();
    summary["login"]["email"].as_str().unwrap().to_string()
}

pub fn uuid_like() -> String {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{t:x}{:x}", std::process::id())
}
