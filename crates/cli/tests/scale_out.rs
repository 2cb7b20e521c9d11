//! Beyond one machine: three `hiatus worker` processes and two `hiatus serve --no-worker`
//! processes share one PostgreSQL database. Members enqueue thousands of mixed jobs
//! through both servers (exports, erasures, break ends, client notices); one worker is killed
//! with SIGKILL in the middle of a large export. Every job ends done, none twice in effect
//! (one `export.ready` per export, one `account.erased` per erasure, one break end per break,
//! one in-app notice per client told), the interrupted export is rebuilt by another worker and
//! verifies, and erased accounts pass `hiatus erase verify`.

#[path = "support/generator.rs"]
mod generator;
#[path = "support/procs.rs"]
mod procs;

use generator::on_bench;
use hiatus_store::{Db, DbOptions};
use hiatus_testkit::{Backend, ScratchDb, testing};
use procs::*;
use serde_json::{Value, json};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const SEED: u64 = 7;
const BACKGROUND: u64 = 2100;

/// What a background member asked for.
#[derive(Debug, Default)]
struct Asked {
    /// (export id, the owner's email)
    exports: Vec<(String, String)>,
    erasures: Vec<String>,
    breaks: Vec<String>,
    /// (member id, clients told, the unique message)
    notices: Vec<(String, usize, String)>,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_workers_and_two_servers_do_every_job_once() {
    if hiatus_testkit::skip_postgres() {
        return;
    }
    let scratch = ScratchDb::new(Backend::Postgres).await;
    let url = scratch.url().to_string();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");

    // A member with a large archive (an M profile with its file bytes) among background
    // members, each of whom can log in.
    let mut generate = on_bench(&base(&data, &url, "warn"));
    generate.args([
        "generate",
        "--profile",
        "m",
        "--accounts",
        &BACKGROUND.to_string(),
        "--seed",
        &SEED.to_string(),
        "--json",
    ]);
    let big_email = generated_member(generate);

    let ports = [free_port(), free_port()];
    let mut servers: Vec<Proc> = ports
        .iter()
        .map(|p| {
            spawn(
                &data,
                &url,
                &[
                    "serve",
                    "--no-worker",
                    "--listen",
                    &format!("127.0.0.1:{p}"),
                    // Every member logs in from this one address.
                    "--login-attempts-per-minute",
                    "1000000",
                ],
            )
        })
        .collect();
    let bases: Vec<String> = ports
        .iter()
        .map(|p| format!("http://127.0.0.1:{p}"))
        .collect();
    let http = reqwest::Client::new();
    for (b, s) in bases.iter().zip(servers.iter_mut()) {
        wait_healthy(&http, b, s).await;
    }

    // The large export first, so that it is among the first jobs a worker takes.
    let big_token = login(&http, &bases[0], &big_email).await;
    let (status, big) = post(
        &http,
        &bases[0],
        &big_token,
        "/api/v1/me/exports",
        json!({}),
    )
    .await;
    assert_eq!(status, 202, "{big}");
    let big_export = big["id"].as_str().unwrap().to_string();

    // Background members ask for things through both servers, sixteen at a time.
    let asked = Arc::new(Mutex::new(Asked::default()));
    let mut set = tokio::task::JoinSet::new();
    let now_micros = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_micros() as i64
    };
    for i in 0..BACKGROUND {
        while set.len() >= 16 {
            set.join_next().await.unwrap().unwrap();
        }
        let http = http.clone();
        let b = bases[(i % 2) as usize].clone();
        let asked = asked.clone();
        let until = now_micros() + 3_000_000;
        set.spawn(async move {
            let email = format!("bg{i}.seed{SEED}@generated.hiatus.test");
            let token = login(&http, &b, &email).await;
            let me: Value = http
                .get(format!("{b}/api/v1/me"))
                .bearer_auth(&token)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            let id = me["id"].as_str().unwrap().to_string();
            // A third ask for an export, a third for deletion; all but those leaving take a
            // break and tell their regular clients.
            if i % 3 == 0 {
                let (s, v) = post(&http, &b, &token, "/api/v1/me/exports", json!({})).await;
                assert_eq!(s, 202, "{v}");
                asked
                    .lock()
                    .unwrap()
                    .exports
                    .push((v["id"].as_str().unwrap().to_string(), email.clone()));
            }
            if i % 3 == 1 {
                let (s, v) = post(
                    &http,
                    &b,
                    &token,
                    "/api/v1/me/deletion",
                    json!({"password": PASSWORD, "reason": "privacy_concerns", "confirmation": "delete my account"}),
                )
                .await;
                match s {
                    200 => asked.lock().unwrap().erasures.push(id),
                    // Open contracts or money in escrow block some of them.
                    409 => assert_eq!(v["code"], "preflight_blocked", "{v}"),
                    _ => panic!("{s} {v}"),
                }
                return;
            }
            let (s, v) = post(&http, &b, &token, "/api/v1/me/break", json!({"until": until})).await;
            // Some generated members are deactivated: no break for them.
            let on_break = match s {
                200 => true,
                409 => {
                    assert_eq!(v["code"], "account_not_active", "{v}");
                    false
                }
                _ => panic!("{s} {v}"),
            };
            let message = format!("Away for a while — notice {i}");
            let (s, v) = post(
                &http,
                &b,
                &token,
                "/api/v1/me/client-notices",
                json!({"message": message}),
            )
            .await;
            let mut a = asked.lock().unwrap();
            if on_break {
                a.breaks.push(id.clone());
            }
            if s == 202 {
                let n = v["clients"].as_array().map_or(0, |c| c.len());
                if n > 0 {
                    a.notices.push((id, n, message));
                }
            }
        });
    }
    while let Some(r) = set.join_next().await {
        r.unwrap();
    }
    let asked = Arc::try_unwrap(asked).unwrap().into_inner().unwrap();
    assert!(
        asked.exports.len() >= 250 && asked.erasures.len() >= 50 && asked.breaks.len() >= 100,
        "{} exports, {} erasures, {} breaks",
        asked.exports.len(),
        asked.erasures.len(),
        asked.breaks.len()
    );
    assert!(
        !asked.notices.is_empty(),
        "some members have regular clients to tell"
    );

    let db = Db::connect(&url, &DbOptions::default()).await.unwrap();
    // Wait for the breaks to come due, so every kind of job is waiting when workers start.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let mut tx = db.read().await.unwrap();
    let enqueued = testing::count_queued_jobs_due(&mut tx).await.unwrap();
    tx.commit().await.unwrap();
    assert!(enqueued >= 2000, "only {enqueued} jobs due");

    let mut workers: Vec<Proc> = (0..3)
        .map(|_| spawn(&data, &url, &["worker", "--poll-seconds", "0.05"]))
        .collect();

    // Kill, with SIGKILL, a worker in the middle of building an export (the large one, most
    // likely). To be sure it is mid-job, the worker is first frozen (SIGSTOP) and the job
    // checked to be still running under it; if it finished in between, it is let go
    // (SIGCONT) and another one is tried.
    let started = Instant::now();
    let signal = |sig: &str, pid: u32| {
        let ok = Command::new("kill")
            .args([sig, &pid.to_string()])
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "kill {sig} {pid}");
    };
    let (job_id, holder, interrupted_export, mut killed) = loop {
        assert!(
            started.elapsed() < Duration::from_secs(180),
            "no export was seen running"
        );
        let mut tx = db.read().await.unwrap();
        let row = testing::running_export_build_preferring(&mut tx, &big_export)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        let Some((job, holder, payload)) = row else {
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        let Some(victim) = workers.iter().position(|w| w.log_contains(&holder)) else {
            continue;
        };
        let pid = workers[victim].child.id();
        signal("-STOP", pid);
        let mut tx = db.read().await.unwrap();
        let (status, still) = testing::job_status_and_holder(&mut tx, &job).await.unwrap();
        tx.commit().await.unwrap();
        if status == "running" && still.as_deref() == Some(holder.as_str()) {
            let mut w = workers.remove(victim);
            w.child.kill().unwrap();
            w.child.wait().unwrap();
            let export: Value = serde_json::from_str(&payload).unwrap();
            break (
                job,
                holder,
                export["export_id"].as_str().unwrap().to_string(),
                w,
            );
        }
        signal("-CONT", pid);
    };
    let interrupted_owner = if interrupted_export == big_export {
        big_email.clone()
    } else {
        asked
            .exports
            .iter()
            .find(|(id, _)| *id == interrupted_export)
            .map(|(_, e)| e.clone())
            .expect("an export we asked for")
    };

    // The two others finish everything, the interrupted export included once its lease ends.
    let started = Instant::now();
    loop {
        let mut tx = db.read().await.unwrap();
        let left = testing::count_unfinished_jobs_due(&mut tx).await.unwrap();
        tx.commit().await.unwrap();
        if left == 0 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(600),
            "{left} jobs still waiting; workers: {:?}",
            workers
                .iter()
                .map(|w| w.log.lock().unwrap().len())
                .collect::<Vec<_>>()
        );
        for w in workers.iter_mut() {
            if let Some(status) = w.child.try_wait().unwrap() {
                panic!("a worker exited with {status}: {:?}", w.log.lock().unwrap());
            }
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }

    // No job gave up; thousands ran.
    let mut tx = db.read().await.unwrap();
    assert_eq!(
        testing::count_rows(&mut tx, "jobs", "status", "failed")
            .await
            .unwrap(),
        0
    );
    let done = testing::count_rows(&mut tx, "jobs", "status", "done")
        .await
        .unwrap();
    let kinds = testing::jobs_done_by_kind(&mut tx).await.unwrap();
    eprintln!("jobs done: {done} {kinds:?}");
    assert!(done >= 2000, "{done} jobs done");
    let (status, attempts, by) = testing::job_status_attempts_and_holder(&mut tx, &job_id)
        .await
        .unwrap();
    assert_eq!(status, "done");
    assert!(attempts >= 2, "the interrupted job ran again ({attempts})");
    assert_ne!(by.as_deref(), Some(holder.as_str()));

    // Exports: every one ready, announced once.
    let mut all_exports: Vec<String> = asked.exports.iter().map(|(id, _)| id.clone()).collect();
    all_exports.push(big_export.clone());
    for id in &all_exports {
        let status = testing::export_status(&mut tx, id).await.unwrap();
        assert_eq!(status, "ready", "export {id}");
    }
    assert_eq!(
        testing::count_rows(&mut tx, "outbox", "event", "export.ready")
            .await
            .unwrap(),
        all_exports.len() as i64
    );
    assert_eq!(
        testing::count_exports_announced_twice(&mut tx)
            .await
            .unwrap(),
        0
    );
    // Erasures: every one done, announced once.
    for id in &asked.erasures {
        let (status, _) = testing::erasure_status(&mut tx, id).await.unwrap();
        assert_eq!(status, "done", "erasure of {id}");
    }
    assert_eq!(
        testing::count_rows(&mut tx, "outbox", "event", "account.erased")
            .await
            .unwrap(),
        asked.erasures.len() as i64
    );
    // Breaks: each ended once.
    assert_eq!(
        testing::count_rows(&mut tx, "audit_events", "action", "break.ended")
            .await
            .unwrap(),
        asked.breaks.len() as i64
    );
    assert_eq!(testing::count_breaks_ended_twice(&mut tx).await.unwrap(), 0);
    // Notices: each client told at most once, in the thread (a client erased before the
    // notice went out is not told; their notice row goes with them).
    assert_eq!(
        testing::count_rows(&mut tx, "client_notices", "status", "pending")
            .await
            .unwrap(),
        0
    );
    let mut posted = 0;
    for (member, n, message) in &asked.notices {
        let (count, threads) = testing::messages_with_body(&mut tx, message).await.unwrap();
        assert_eq!(count, threads, "one message per thread: {message}");
        let sent = testing::count_client_notices_sent(&mut tx, member)
            .await
            .unwrap();
        assert!(
            sent <= count && count <= *n as i64,
            "{member}: {sent} sent, {count} posted, {n} told"
        );
        posted += count;
    }
    assert!(posted > 0);
    tx.commit().await.unwrap();
    db.close().await;

    // The interrupted archive, and a few others, verify; erased accounts leave nothing.
    let key: Value = http
        .get(format!("{}/api/v1/export-key", bases[1]))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let public_key = key["public_key"].as_str().unwrap().to_string();
    download_and_verify(
        &http,
        &bases[1],
        dir.path(),
        &interrupted_owner,
        &interrupted_export,
        &public_key,
    )
    .await;
    download_and_verify(
        &http,
        &bases[0],
        dir.path(),
        &big_email,
        &big_export,
        &public_key,
    )
    .await;
    for (n, (id, owner)) in asked.exports.iter().take(3).enumerate() {
        download_and_verify(&http, &bases[n % 2], dir.path(), owner, id, &public_key).await;
    }
    for id in asked.erasures.iter().take(3) {
        let out = base(&data, &url, "warn")
            .args(["erase", "verify", "--account", id])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    let _ = killed.child.wait();
    drop(killed);
    drop(workers);
    drop(servers);
}

/// Partial archives on disk (`<id>.zip.partial` under the files folder).
fn partials(data: &std::path::Path) -> Vec<String> {
    std::fs::read_dir(data.join("files").join("exports"))
        .map(|rd| {
            rd.filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.ends_with(".partial"))
                .collect()
        })
        .unwrap_or_default()
}

/// A confirmation link's token for the one account of the database at `url` waiting for its
/// confirmation, minted as its mail would (the server here sends no mail).
async fn confirmation_token(url: &str) -> String {
    let db = Db::connect(url, &DbOptions { max_connections: 1 })
        .await
        .unwrap();
    let token = hex::encode(hiatus_store::crypto::random_bytes::<32>());
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_micros() as i64;
    let mut tx = db.begin().await.unwrap();
    let waiting = testing::accounts_awaiting_confirmation(&mut tx)
        .await
        .unwrap();
    let [id] = &waiting[..] else {
        panic!("one account waits for confirmation: {waiting:?}");
    };
    hiatus_store::signup_confirmations::set_token(&mut tx, id.parse().unwrap(), None, &token, now)
        .await
        .unwrap()
        .expect("the link is minted");
    tx.commit().await.unwrap();
    db.close().await;
    token
}

/// A `hiatus worker` is killed with SIGKILL five times at random moments while it builds a
/// member's export (about 80 MiB of private files); then the member is erased by a worker.
/// No partial archive remains, `erase verify` passes, and `erase verify` fails when a partial
/// archive is planted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exports_killed_mid_build_leave_no_partial_archive_after_erasure() {
    use base64::Engine;
    if hiatus_testkit::skip_postgres() {
        return;
    }
    let scratch = ScratchDb::new(Backend::Postgres).await;
    let url = scratch.url().to_string();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let port = free_port();
    let mut server = spawn(
        &data,
        &url,
        &[
            "serve",
            "--no-worker",
            "--listen",
            &format!("127.0.0.1:{port}"),
        ],
    );
    let b = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    wait_healthy(&http, &b, &mut server).await;
    let email = format!("killed-{}@example.test", uuid_like());
    let r = http
        .post(format!("{b}/api/v1/accounts"))
        .json(
            &json!({"email": email, "password": PASSWORD, "legal_name": "Kill Test",
            "display_name": "Kill", "kind": "freelancer"}),
        )
        .send()
        .await
        .unwrap();
    // Sign-up answers alike for every address; the new account logs in by confirming its
    // address (the link the mail would carry, minted here), and the id comes with the session.
    assert_eq!(r.status(), 202);
    let link = confirmation_token(&url).await;
    let session: Value = http
        .post(format!("{b}/api/v1/accounts/confirm"))
        .json(&json!({"token": link, "password": PASSWORD}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let member = session["account_id"].as_str().unwrap().to_string();
    let token = session["token"].as_str().unwrap().to_string();
    // Incompressible private files, so the build takes a while.
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15 ^ std::process::id() as u64;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    for i in 0..10 {
        let bytes: Vec<u8> = (0..(7 << 20) / 8)
            .flat_map(|_| next().to_le_bytes())
            .collect();
        let (status, v) = post(
            &http,
            &b,
            &token,
            "/api/v1/files",
            json!({"kind": "private", "name": format!("big-{i}.bin"), "content_type": "application/octet-stream",
                "data_base64": base64::engine::general_purpose::STANDARD.encode(&bytes)}),
        )
        .await;
        assert_eq!(status, 201, "{v}");
    }
    let (status, ex) = post(&http, &b, &token, "/api/v1/me/exports", json!({})).await;
    assert_eq!(status, 202, "{ex}");
    let mut export = ex["id"].as_str().unwrap().to_string();

    // Five kills, each at a random moment after a new attempt of the build started writing
    // its archive (a killed attempt's job is taken up again when its lease runs out).
    let db = Db::connect(&url, &DbOptions::default()).await.unwrap();
    let attempts = || async {
        let mut tx = db.read().await.unwrap();
        let a = testing::running_export_build_attempts(&mut tx)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        a.unwrap_or(0)
    };
    let mut with_partial = 0;
    let mut last = 0;
    for kill in 0..5 {
        let mut w = spawn(&data, &url, &["worker", "--poll-seconds", "0.05"]);
        let started = Instant::now();
        loop {
            let a = attempts().await;
            if a > last && !partials(&data).is_empty() {
                last = a;
                break;
            }
            // After its last attempt an export is given up; the member asks again.
            let mut tx = db.read().await.unwrap();
            let status = testing::export_status(&mut tx, &export).await.unwrap();
            tx.commit().await.unwrap();
            if status == "failed" {
                let (status, ex) = post(&http, &b, &token, "/api/v1/me/exports", json!({})).await;
                assert_eq!(status, 202, "{ex}");
                export = ex["id"].as_str().unwrap().to_string();
                last = 0;
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "kill {kill}: no new build started"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        tokio::time::sleep(Duration::from_millis(next() % 600)).await;
        w.child.kill().unwrap(); // SIGKILL
        w.child.wait().unwrap();
        if !partials(&data).is_empty() {
            with_partial += 1;
        }
    }
    eprintln!("{with_partial} of 5 kills left a partial archive on disk");
    assert!(with_partial > 0, "no kill interrupted a build");

    // The member deletes their account (no grace period); a worker erases it.
    let (status, v) = post(
        &http,
        &b,
        &token,
        "/api/v1/me/deletion",
        json!({"password": PASSWORD, "reason": "privacy_concerns", "confirmation": "delete my account"}),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    let _w = spawn(&data, &url, &["worker", "--poll-seconds", "0.05"]);
    let started = Instant::now();
    loop {
        let mut tx = db.read().await.unwrap();
        let done = testing::erasure_status_if_any(&mut tx, &member)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        if done.as_deref() == Some("done") {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "erasure did not finish"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    db.close().await;
    assert!(partials(&data).is_empty(), "{:?}", partials(&data));
    let verify = || {
        base(&data, &url, "warn")
            .args(["erase", "verify", "--account", &member])
            .output()
            .unwrap()
    };
    let out = verify();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // `erase verify` would have caught one.
    std::fs::write(
        data.join("files")
            .join("exports")
            .join(format!("{export}.zip.partial")),
        b"PK",
    )
    .unwrap();
    let out = verify();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        !out.status.success() && text.contains("partial archive"),
        "{text}"
    );
    drop(server);
}
