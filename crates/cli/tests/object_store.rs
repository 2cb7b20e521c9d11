//! hiatus on an S3-compatible object store: moto's server on loopback (the test command
//! installs it into its virtualenv). Generated members' files go to the bucket; `hiatus serve`
//! builds an export there (a multipart upload), serves it whole and by ranges, and the
//! download verifies; erasure removes the member's objects (their files and archive) and keeps
//! every file their clients sent. Nothing of it lands in the local files folder.

#[path = "support/generator.rs"]
mod generator;
#[path = "support/procs.rs"]
mod procs;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use generator::on_bench;
use hiatus_store::{Blobs, Db, DbOptions, S3Options};
use hiatus_testkit::testing;
use procs::*;
use reqwest::header;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BUCKET: &str = "hiatus-test";
const PREFIX: &str = "tenant-a";

/// The Python with moto: `HIATUS_TEST_PYTHON`, else the test command's virtualenv.
fn python() -> PathBuf {
    if let Ok(p) = std::env::var("HIATUS_TEST_PYTHON") {
        return p.into();
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/venv/bin/python")
}

/// moto's S3 server on a free loopback port, with one empty bucket.
struct Moto {
    child: Child,
    endpoint: String,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Moto {
    async fn start() -> Moto {
        let py = python();
        let ok = Command::new(&py)
            .args(["-c", "import moto.server"])
            .status()
            .is_ok_and(|s| s.success());
        assert!(
            ok,
            "this test needs Python with moto[server] at {} (scripts/test installs it; or set HIATUS_TEST_PYTHON)",
            py.display()
        );
        let port = free_port();
        let child = Command::new(&py)
            .args([
                "-m",
                "moto.server",
                "-H",
                "127.0.0.1",
                "-p",
                &port.to_string(),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let moto = Moto {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
        };
        let http = reqwest::Client::new();
        let started = Instant::now();
        loop {
            // Creating the bucket is also the readiness probe.
            if let Ok(r) = http.put(format!("{}/{BUCKET}", moto.endpoint)).send().await {
                assert!(
                    r.status().is_success(),
                    "creating the bucket: {}",
                    r.status()
                );
                return moto;
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "moto did not start on port {port}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    fn args(&self) -> Vec<String> {
        [
            "--object-store",
            &format!("s3://{BUCKET}/{PREFIX}"),
            "--s3-endpoint",
            &self.endpoint,
            "--s3-region",
            "us-east-1",
            "--s3-access-key-id",
            "testing",
            "--s3-secret-access-key",
            "testing",
        ]
        .map(String::from)
        .to_vec()
    }

    fn blobs(&self, spool: &Path) -> Blobs {
        Blobs::s3(
            &format!("s3://{BUCKET}/{PREFIX}"),
            &S3Options {
                endpoint: Some(self.endpoint.clone()),
                region: Some("us-east-1".into()),
                access_key_id: Some("testing".into()),
                secret_access_key: Some("testing".into()),
            },
            spool,
        )
        .unwrap()
    }
}

async fn get_json(http: &reqwest::Client, url: &str, token: &str) -> Value {
    let r = http.get(url).bearer_auth(token).send().await.unwrap();
    assert_eq!(r.status(), 200, "GET {url}");
    r.json().await.unwrap()
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(files_under(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_and_erasure_on_an_object_store() {
    let moto = Moto::start().await;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let db_url = format!("sqlite://{}", data.join("hiatus.db").display());
    let s3 = moto.args();

    // A member (profile M: about a hundred files) among background members.
    let mut generate = on_bench(&base(&data, &db_url, "warn"));
    generate
        .args([
            "generate",
            "--profile",
            "m",
            "--accounts",
            "40",
            "--seed",
            "3",
            "--json",
        ])
        .args(&s3);
    let email = generated_member(generate);

    let blobs = moto.blobs(&dir.path().join("test-spool"));
    let db = Db::connect(&db_url, &DbOptions::default()).await.unwrap();

    let port = free_port();
    let base_url = format!("http://127.0.0.1:{port}");
    let mut args: Vec<String> = ["serve", "--listen", &format!("127.0.0.1:{port}")]
        .map(String::from)
        .to_vec();
    args.extend(s3.iter().cloned());
    let arg_refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut server = spawn(&data, &db_url, &arg_refs);
    let http = reqwest::Client::new();
    wait_healthy(&http, &base_url, &mut server).await;
    assert!(
        server.log_contains(&format!("s3://{BUCKET}/{PREFIX}")),
        "the server names its file storage at start: {:?}",
        server.log.lock().unwrap()
    );

    let token = login(&http, &base_url, &email).await;
    let me = get_json(&http, &format!("{base_url}/api/v1/me"), &token).await;
    let member = me["id"].as_str().unwrap().to_string();

    // The member keeps private files too: sealed under their key in the bucket.
    let secret = "a private note that only its owner may read";
    for name in ["note-1.txt", "note-2.txt"] {
        let (status, v) = post(
            &http,
            &base_url,
            &token,
            "/api/v1/files",
            json!({"kind": "private", "name": name, "content_type": "text/plain",
                   "data_base64": STANDARD.encode(secret)}),
        )
        .await;
        assert_eq!(status, 201, "{v}");
    }

    // Which objects are whose: the files the member delivered to clients (kept for them by
    // erasure, as the clients' to keep) and the member's private files (erased).
    let mut tx = db.read().await.unwrap();
    let delivered = testing::delivered_file_keys(&mut tx, &member)
        .await
        .unwrap();
    let private = testing::private_file_keys(&mut tx, &member).await.unwrap();
    tx.commit().await.unwrap();
    assert!(
        delivered.len() >= 20,
        "the member delivered {} files",
        delivered.len()
    );
    assert_eq!(private.len(), 2);
    for key in delivered.iter().chain(&private) {
        assert!(
            blobs.size(key).await.unwrap().is_some(),
            "{key} is in the bucket"
        );
    }
    for key in &private {
        let sealed = blobs.get(key).await.unwrap();
        assert!(
            !sealed.windows(secret.len()).any(|w| w == secret.as_bytes()),
            "private files are sealed in the bucket"
        );
    }
    assert!(
        files_under(&data.join("files")).is_empty(),
        "no file bytes in the local folder: {:?}",
        files_under(&data.join("files"))
    );

    // The export: built by the server's worker, uploaded in parts.
    let (status, v) = post(&http, &base_url, &token, "/api/v1/me/exports", json!({})).await;
    assert_eq!(status, 202, "{v}");
    let export = v["id"].as_str().unwrap().to_string();
    let started = Instant::now();
    loop {
        let v = get_json(
            &http,
            &format!("{base_url}/api/v1/me/exports/{export}"),
            &token,
        )
        .await;
        match v["status"].as_str().unwrap() {
            "ready" => break,
            "failed" => panic!("the export failed: {v}"),
            _ => {}
        }
        assert!(
            started.elapsed() < Duration::from_secs(240),
            "the export is not ready: {v}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let archive_key = format!("exports/{export}.zip");
    let size = blobs
        .size(&archive_key)
        .await
        .unwrap()
        .expect("the archive is in the bucket");
    assert!(size > 16 * 1024 * 1024, "an archive of {size} bytes");
    // S3 gives an object written by a multipart upload an ETag ending in `-<parts>`.
    let head = http
        .head(format!("{}/{BUCKET}/{PREFIX}/{archive_key}", moto.endpoint))
        .send()
        .await
        .unwrap();
    let etag = head.headers()[header::ETAG].to_str().unwrap().to_string();
    let parts: u32 = etag
        .trim_matches('"')
        .rsplit_once('-')
        .and_then(|(_, n)| n.parse().ok())
        .unwrap_or(1);
    assert!(parts >= 2, "the archive was uploaded in parts: ETag {etag}");
    assert!(
        files_under(&data.join("spool")).is_empty(),
        "nothing left in the spool folder: {:?}",
        files_under(&data.join("spool"))
    );

    // Downloaded whole: it verifies.
    let r = http
        .get(download_link(&http, &base_url, &token, &export).await)
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()[header::ACCEPT_RANGES], "bytes");
    let whole = r.bytes().await.unwrap();
    assert_eq!(whole.len() as u64, size);
    let file = dir.path().join("archive.zip");
    std::fs::write(&file, &whole).unwrap();
    let key = get_json(&http, &format!("{base_url}/api/v1/export-key"), &token).await;
    assert_verifies(&file, key["public_key"].as_str().unwrap(), &email);

    // Ranges: one in the middle (across part boundaries), and a resumed download's tail.
    for (range, from, to) in [
        (
            format!("bytes=1000-{}", 9 * 1024 * 1024),
            1000u64,
            9 * 1024 * 1024 + 1,
        ),
        (format!("bytes={}-", size - 70_000), size - 70_000, size),
    ] {
        let r = http
            .get(download_link(&http, &base_url, &token, &export).await)
            .bearer_auth(&token)
            .header(header::RANGE, &range)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 206, "{range}");
        assert_eq!(
            r.headers()[header::CONTENT_RANGE].to_str().unwrap(),
            format!("bytes {from}-{}/{size}", to - 1)
        );
        let body = r.bytes().await.unwrap();
        assert!(
            body == whole[from as usize..to as usize],
            "the bytes of {range} match the whole archive's"
        );
    }

    // Erasure: the member's objects go, their clients' files stay.
    let (status, v) = post(
        &http,
        &base_url,
        &token,
        "/api/v1/me/deletion",
        json!({"password": PASSWORD, "reason": "privacy_concerns", "confirmation": "delete my account"}),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    let started = Instant::now();
    loop {
        let mut tx = db.read().await.unwrap();
        let status = testing::erasure_status_if_any(&mut tx, &member)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        if status.as_deref() == Some("done") {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "the erasure did not finish: {status:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    db.close().await;
    for key in private.iter().chain([&archive_key]) {
        assert_eq!(
            blobs.size(key).await.unwrap(),
            None,
            "{key} of the erased member is gone from the bucket"
        );
    }
    for key in &delivered {
        assert!(
            blobs.size(key).await.unwrap().is_some(),
            "{key}, delivered to a client, is kept"
        );
    }
    drop(server);
    let out = base(&data, &db_url, "warn")
        .args(["erase", "verify", "--account", &member])
        .args(&s3)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "erase verify: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
