//! No plaintext personal data at rest: a member's email, names, profile text, password and
//! private file never appear in the bytes of the SQLite database, its write-ahead log, or
//! the blob folder — checked while the server runs and again after the pool is closed.

mod support;

use base64::Engine;
use serde_json::json;
use std::path::Path;
use support::{Backend, TestApp};

/// Every file under `dir`, recursively.
fn files_under(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("read dir") {
            let p = e.expect("dir entry").path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// The canaries found in any of `files`, with the file they were found in.
fn found_in(files: &[std::path::PathBuf], canaries: &[String]) -> Vec<String> {
    let mut hits = Vec::new();
    for f in files {
        let Ok(bytes) = std::fs::read(f) else {
            continue;
        };
        for c in canaries {
            // Also as upper and lower case, in case something normalises before storing.
            for form in [c.clone(), c.to_lowercase(), c.to_uppercase()] {
                if contains(&bytes, form.as_bytes()) {
                    hits.push(format!(
                        "{form} in {}",
                        f.file_name().unwrap().to_string_lossy()
                    ));
                }
            }
        }
    }
    hits.sort();
    hits.dedup();
    hits
}

#[tokio::test]
async fn no_plaintext_personal_data_in_database_wal_or_blobs() {
    let mut t = TestApp::start(Backend::Sqlite).await;
    let tag = uuid::Uuid::new_v4().simple().to_string();
    let canary = |what: &str| format!("canary{what}{}", &tag[..12]);
    let email = format!("{}@example.test", canary("mail"));
    let password = canary("Password");
    let legal = canary("LegalName");
    let display = canary("DisplayName");
    let headline = canary("Headline");
    let bio = canary("Bio");
    let away = canary("AwayMessage");
    let file_name = format!("{}.txt", canary("FileName"));
    let file_bytes = canary("FileBytes").repeat(50);
    let photo_bytes = canary("PhotoBytes").repeat(10);
    // Stored in plaintext on purpose (job post titles are not personal data): it proves the
    // scan reads the files where rows end up.
    let control = canary("JobTitle");

    t.post(
        None,
        "/api/v1/accounts",
        json!({"email": email, "password": password, "legal_name": legal, "display_name": display,
               "kind": "both", "headline": headline, "bio": bio}),
    )
    .await
    .expect(202);
    let session = t.confirm_sign_up(&email, &password).await.expect(200);
    let id = session["account_id"].as_str().unwrap().to_string();
    let token = session["token"].as_str().unwrap().to_string();
    let me = support::Member {
        id,
        email: email.clone(),
        token,
    };
    let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
    let uploaded = t
        .post(
            Some(&me),
            "/api/v1/files",
            json!({"kind": "private", "name": file_name, "content_type": "text/plain", "data_base64": b64(file_bytes.as_bytes())}),
        )
        .await
        .expect(201);
    t.post(
        Some(&me),
        "/api/v1/files",
        json!({"kind": "photo", "name": "me.png", "content_type": "image/png", "data_base64": b64(photo_bytes.as_bytes())}),
    )
    .await
    .expect(201);
    t.patch(
        Some(&me),
        "/api/v1/me/profile",
        json!({"away_message": away}),
    )
    .await
    .expect(200);
    t.post(Some(&me), "/api/v1/job-posts", json!({"title": control}))
        .await
        .expect(201);

    // The data is really there, readable through the API by its owner.
    let view = t.get(Some(&me), "/api/v1/me").await.expect(200);
    assert_eq!(
        (
            view["email"].as_str(),
            view["legal_name"].as_str(),
            view["bio"].as_str()
        ),
        (
            Some(email.as_str()),
            Some(legal.as_str()),
            Some(bio.as_str())
        )
    );
    let file_id = uploaded["id"].as_str().unwrap();
    let back = t.get(Some(&me), &format!("/api/v1/files/{file_id}")).await;
    assert_eq!(back.status, 200);
    assert_eq!(back.text, file_bytes);

    let canaries = vec![
        email.clone(),
        canary("mail"),
        password,
        legal,
        display,
        headline,
        bio,
        away,
        file_name,
        canary("FileBytes"),
        canary("PhotoBytes"),
    ];
    let db = t.sqlite_path.clone().expect("a SQLite file");
    let wal = db.with_file_name(format!("{}-wal", db.file_name().unwrap().to_string_lossy()));
    let db_files = || vec![db.clone(), wal.clone()];

    // While the server runs, recent writes sit in the write-ahead log.
    assert!(
        wal.exists(),
        "the database runs in WAL mode, so the log must exist"
    );
    assert!(
        !found_in(&db_files(), std::slice::from_ref(&control)).is_empty(),
        "the scan must see a plaintext column written through the API"
    );
    assert_eq!(found_in(&db_files(), &canaries), Vec::<String>::new());
    let blobs = files_under(&t.blob_dir);
    assert_eq!(blobs.len(), 2, "one private file and one photo: {blobs:?}");
    assert_eq!(found_in(&blobs, &canaries), Vec::<String>::new());

    // Closing the pool checkpoints the log into the database file.
    t.stop().await;
    assert!(
        !found_in(&db_files(), std::slice::from_ref(&control)).is_empty(),
        "the plaintext control must survive the checkpoint"
    );
    assert_eq!(found_in(&db_files(), &canaries), Vec::<String>::new());
    let mut all = files_under(t.dir.path());
    all.retain(|p| p.is_file());
    assert_eq!(found_in(&all, &canaries), Vec::<String>::new());
}

// ---- erasure leaves no readable copy of what it deletes ----

/// The body of a request that succeeded (any 2xx).
trait Succeeded {
    fn ok(&self) -> serde_json::Value;
}
impl Succeeded for support::Res {
    fn ok(&self) -> serde_json::Value {
        assert!(
            (200..300).contains(&self.status),
            "{} answered {}: {}",
            self.what,
            self.status,
            self.text
        );
        self.body.clone()
    }
}

/// A member's unique values, every one ending in `tag`, and where each one is expected to
/// stay after erasure.
struct Canaries {
    tag: String,
    /// Values erasure deletes: no copy may be readable anywhere afterwards.
    deleted: Vec<String>,
    /// Values kept for others by the policy, found after erasure (which also shows the scan
    /// sees plaintext where it is).
    kept: Vec<String>,
    /// The member's phone number: digits, so it cannot carry the tag.
    phone: String,
}

impl Canaries {
    fn all(&self) -> impl Iterator<Item = &String> {
        self.deleted.iter().chain(&self.kept).chain([&self.phone])
    }

    /// Which values `bytes` holds, in any letter case.
    fn found(&self, bytes: &[u8]) -> Vec<String> {
        let hay = bytes.to_ascii_lowercase();
        let mut out = Vec::new();
        // Every value but the phone number ends with the tag: find the tag, then look back.
        let tag = self.tag.as_bytes();
        let mut at = 0;
        while let Some(i) = hay[at..].windows(tag.len()).position(|w| w == tag) {
            let end = at + i + tag.len();
            for c in self.all() {
                let c = c.to_ascii_lowercase();
                if end >= c.len() && hay[end - c.len()..end] == *c.as_bytes() {
                    out.push(c);
                }
            }
            at = end;
        }
        if contains(&hay, self.phone.as_bytes()) {
            out.push(self.phone.clone());
        }
        out.sort();
        out.dedup();
        out
    }

    /// The deleted values among `found`.
    fn deleted_in(&self, found: &[String]) -> Vec<String> {
        let deleted: Vec<String> = self
            .deleted
            .iter()
            .chain([&self.phone])
            .map(|c| c.to_ascii_lowercase())
            .collect();
        found
            .iter()
            .filter(|f| deleted.contains(f))
            .cloned()
            .collect()
    }
}

/// What a scan of one place found: `(where, values)`.
type Hits = Vec<(String, Vec<String>)>;

fn scan_files(c: &Canaries, files: &[std::path::PathBuf]) -> Hits {
    files
        .iter()
        .filter_map(|f| {
            let bytes = std::fs::read(f).ok()?;
            let found = c.found(&bytes);
            (!found.is_empty()).then(|| (f.display().to_string(), found))
        })
        .collect()
}

/// The deleted values found anywhere in `hits`, with where.
fn deleted_hits(c: &Canaries, hits: &Hits) -> Vec<String> {
    hits.iter()
        .flat_map(|(at, found)| {
            c.deleted_in(found)
                .into_iter()
                .map(move |v| format!("{v} in {at}"))
        })
        .collect()
}

/// Runs the member's whole life with a unique value in every field, then erases them.
/// Returns the values, the client, the erased member's pseudonym and the thread the notice
/// started, and calls `before_erasure` just before the grace period ends.
async fn live_and_erase(
    t: &TestApp,
    before_erasure: impl AsyncFnOnce(&TestApp),
) -> (Canaries, support::Member, String, String) {
    let tag = uuid::Uuid::new_v4().simple().to_string()[..12].to_string();
    let canary = |what: &str| format!("canary{what}{tag}");
    let digits = u64::from_str_radix(&tag[..10], 16).unwrap() % 1_000_000_000_000;
    let phone = format!("+1 {digits:012}");
    let email = format!("{}@example.test", canary("mail"));
    let password = canary("Password");
    let display = canary("DisplayName");
    let (notice, forwarding, away) = (
        canary("NoticeText"),
        canary("Forwarding"),
        canary("AwayMessage"),
    );
    let c = Canaries {
        deleted: vec![
            email.clone(),
            password.clone(),
            display.clone(),
            canary("LegalName"),
            canary("Headline"),
            canary("Bio"),
            canary("FileName"),
            canary("CoverLetter"),
            canary("DeactivateReason"),
            canary("DeleteReason"),
        ],
        // Posted as messages in the thread the member shares with the client: the notice
        // (with its forwarding contact) and the automatic away reply, sent in the member's
        // name and kept for the client like every message (see the erasure policy).
        kept: vec![notice.clone(), forwarding.clone(), away.clone()],
        phone: phone.clone(),
        tag: tag.clone(),
    };
    // Sign-up answers the same for every address (it names no account): the id comes with
    // the session.
    t.post(
        None,
        "/api/v1/accounts",
        json!({"email": email, "password": password, "legal_name": canary("LegalName"),
               "display_name": display, "kind": "both", "headline": canary("Headline"),
               "bio": canary("Bio")}),
    )
    .await
    .ok();
    let mut f = support::Member {
        id: String::new(),
        email: email.clone(),
        token: String::new(),
    };
    let login = |f: &support::Member| {
        t.post(
            None,
            "/api/v1/sessions",
            json!({"email": f.email, "password": password}),
        )
    };
    let session = t.confirm_sign_up(&f.email, &password).await.ok();
    f.token = session["token"].as_str().unwrap().to_string();
    f.id = session["account_id"].as_str().unwrap().to_string();
    t.call(
        reqwest::Method::PUT,
        Some(&f),
        "/api/v1/me/contact",
        Some(json!({"phone": phone})),
    )
    .await
    .ok();
    t.patch(
        Some(&f),
        "/api/v1/me/profile",
        json!({"away_message": away}),
    )
    .await
    .ok();
    let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
    t.post(
        Some(&f),
        "/api/v1/files",
        json!({"kind": "private", "name": canary("FileName"), "content_type": "text/plain",
               "data_base64": b64(b"notes")}),
    )
    .await
    .ok();

    // A regular client, who reads mail as a daily digest: the notice's mail waits queued.
    let client = t.member("client").await;
    t.patch(
        Some(&client),
        "/api/v1/me/settings",
        json!({"notifications": "digest"}),
    )
    .await
    .ok();
    let k = t.contract(&client, &f, "Logo").await;
    t.contract_action(&client, &k, "end").await.ok();
    t.post(
        Some(&f),
        "/api/v1/proposals",
        json!({"kind": "proposal", "to": client.id, "cover_letter": canary("CoverLetter")}),
    )
    .await
    .ok();
    t.post(
        Some(&f),
        "/api/v1/me/client-notices",
        json!({"message": notice, "forwarding": forwarding}),
    )
    .await
    .ok();
    t.drain_jobs().await;
    let threads = t.get(Some(&client), "/api/v1/threads").await.ok();
    let thread = threads
        .as_array()
        .unwrap()
        .iter()
        .find(|th| th["contract_id"].is_null())
        .expect("the notice started a thread");
    assert_eq!(thread["subject"], format!("A message from {display}"));
    let thread_id = thread["id"].as_str().unwrap().to_string();

    // Away: the client's message gets the automatic reply.
    t.post(
        Some(&f),
        "/api/v1/me/deactivate",
        json!({"password": password, "reason": "taking_a_break", "detail": canary("DeactivateReason")}),
    )
    .await
    .ok();
    t.post(
        Some(&client),
        &format!("/api/v1/threads/{thread_id}/messages"),
        json!({"body": "Are you there?"}),
    )
    .await
    .ok();
    let msgs = t
        .get(
            Some(&client),
            &format!("/api/v1/threads/{thread_id}/messages"),
        )
        .await
        .ok()
        .to_string();
    assert!(msgs.contains(&format!("Automatic reply: {away}")), "{msgs}");
    t.post_empty(Some(&f), "/api/v1/me/reactivate").await.ok();

    let receipt = t
        .post(
            Some(&f),
            "/api/v1/me/deletion",
            json!({"password": password, "reason": "privacy_concerns", "detail": canary("DeleteReason"),
                   "confirmation": "delete my account"}),
        )
        .await
        .ok();
    // The plan says what happens to automatic replies: they stay, as messages the member
    // wrote.
    assert!(
        receipt["plan"]
            .to_string()
            .contains("messages you wrote, automatic away replies included"),
        "{}",
        receipt["plan"]
    );
    let pseudonym = receipt["plan"]["pseudonym"].as_str().unwrap().to_string();
    before_erasure(t).await;
    t.advance(31 * support::DAY);
    t.drain_jobs().await;
    // An erased address answers like one that never had an account.
    login(&f).await.problem(401, "bad_credentials");

    // The subject names the member by reference: the client sees the pseudonym now.
    let client = t.relogin(&client).await;
    let threads = t.get(Some(&client), "/api/v1/threads").await.ok();
    let thread = threads
        .as_array()
        .unwrap()
        .iter()
        .find(|th| th["id"] == thread_id.as_str())
        .expect("the client keeps the thread");
    assert_eq!(thread["subject"], format!("A message from {pseudonym}"));
    (c, client, pseudonym, thread_id)
}

#[tokio::test]
async fn erasure_leaves_no_readable_copy_on_sqlite() {
    let mut t = TestApp::start_with_mail(Backend::Sqlite).await;
    let db = t.sqlite_path.clone().expect("a SQLite file");
    let files = |t: &TestApp| {
        let mut files = vec![db.clone()];
        for suffix in ["-wal", "-journal", "-shm"] {
            let p = db.with_file_name(format!(
                "{}{suffix}",
                db.file_name().unwrap().to_string_lossy()
            ));
            if p.exists() {
                files.push(p);
            }
        }
        files.extend(files_under(&t.blob_dir));
        files
    };
    // SQLite overwrites deleted rows (`secure_delete`), and its log restarts as it fills:
    // old copies live shortest here. So the files are also scanned just before erasure, when
    // everything the member wrote is in them.
    let before = std::sync::Mutex::new(Vec::new());
    let (c, _client, _pseudonym, _thread) = live_and_erase(&t, async |t| {
        *before.lock().unwrap() = files(t)
            .iter()
            .filter_map(|f| Some((f.display().to_string(), std::fs::read(f).ok()?)))
            .collect::<Vec<_>>();
    })
    .await;
    let before = before.into_inner().unwrap();
    let before_count = before.len();
    let mut hits: Hits = before
        .into_iter()
        .map(|(at, bytes)| (format!("{at} before erasure"), c.found(&bytes)))
        .collect();
    let mail_dir = t.mail_dir.clone();
    // While the server runs, the write-ahead log still holds frames written before erasure;
    // after it stops, the log is checkpointed into the database file.
    hits.extend(scan_files(&c, &files(&t)));
    t.stop().await;
    let files = files(&t);
    hits.extend(scan_files(&c, &files));
    eprintln!(
        "scanned {} files before erasure and {} after: deleted values found {:?}; kept values found in {:?}",
        before_count,
        files.len(),
        deleted_hits(&c, &hits),
        hits.iter()
            .filter(|(_, f)| !f.is_empty())
            .map(|(at, _)| at.as_str())
            .collect::<Vec<_>>()
    );
    assert_eq!(deleted_hits(&c, &hits), Vec::<String>::new());
    let kept: Vec<String> = hits.iter().flat_map(|(_, f)| f.clone()).collect();
    for k in &c.kept {
        assert!(
            kept.contains(&k.to_ascii_lowercase()),
            "{k} is kept for the client and must be found: {hits:?}"
        );
    }
    // The mail spool holds mail that left hiatus: to the member (their own address and
    // name, in mail they received) and, as a digest, to the client. Nothing else.
    let mail = files_under(&mail_dir);
    for (at, found) in scan_files(&c, &mail) {
        let text = std::fs::read_to_string(&at).unwrap_or_default();
        let to_member = text.contains(&c.deleted[0]);
        let allowed: Vec<String> = if to_member {
            vec![c.deleted[0].clone(), c.deleted[2].clone()]
        } else {
            let mut v = c.kept.clone();
            v.push(c.deleted[2].clone());
            v
        };
        let allowed: Vec<String> = allowed.iter().map(|a| a.to_ascii_lowercase()).collect();
        let stray: Vec<&String> = found.iter().filter(|f| !allowed.contains(f)).collect();
        assert!(stray.is_empty(), "{stray:?} in the mail {at}");
    }
}

#[tokio::test]
async fn erasure_leaves_no_readable_copy_on_postgres() {
    if hiatus_testkit::skip_postgres() {
        return;
    }
    let t = TestApp::start_with_mail(Backend::Postgres).await;
    let url = t.postgres_url().expect("a PostgreSQL database");
    let mut conn = hiatus_testkit::testing::ServerFiles::connect(&url)
        .await
        .unwrap();
    let first_wal = conn.current_wal_segment().await.unwrap();
    let dump = std::sync::Mutex::new(Vec::new());
    let (c, _client, _pseudonym, _thread) = live_and_erase(&t, async |_| {
        let out = std::process::Command::new("pg_dump")
            .arg("--dbname")
            .arg(&url)
            .output()
            .expect("pg_dump runs");
        assert!(
            out.status.success(),
            "pg_dump: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        *dump.lock().unwrap() = out.stdout;
    })
    .await;
    conn.vacuum_and_checkpoint().await.unwrap();

    let mut hits: Hits = Vec::new();
    // A dump taken before erasure: sealed values only.
    let dump = dump.into_inner().unwrap();
    assert!(!dump.is_empty());
    let found = c.found(&dump);
    hits.push(("the dump taken before erasure".into(), found));
    // Every relation of the database (tables, their TOAST, indexes), as the server's files.
    let rels = conn.relation_files().await.unwrap();
    let mut read = 0usize;
    for (name, path) in &rels {
        // Read by the server (as superuser), so the test needs no access to its data folder.
        let bytes = conn.read(path).await.unwrap();
        read += bytes.len();
        hits.push((format!("{name} ({path})"), c.found(&bytes)));
    }
    assert!(read > 0, "the relation files were read");
    // The write-ahead log since the member was created.
    let segments = conn.wal_segments_since(&first_wal).await.unwrap();
    assert!(!segments.is_empty());
    for s in &segments {
        let bytes = conn.read_wal_segment(s).await.unwrap();
        hits.push((format!("WAL segment {s}"), c.found(&bytes)));
    }
    conn.close().await.unwrap();
    eprintln!(
        "scanned a dump, {} relation files ({read} bytes) and {} WAL segments: deleted values found {:?}; kept values found in {:?}",
        rels.len(),
        segments.len(),
        deleted_hits(&c, &hits),
        hits.iter()
            .filter(|(_, f)| !f.is_empty())
            .map(|(at, _)| at.as_str())
            .collect::<Vec<_>>()
    );
    assert_eq!(deleted_hits(&c, &hits), Vec::<String>::new());
    // The kept values are where the scan looked: in the tables, the log and the dump.
    let kept: Vec<String> = hits.iter().flat_map(|(_, f)| f.clone()).collect();
    for k in &c.kept {
        assert!(
            kept.contains(&k.to_ascii_lowercase()),
            "{k} is kept for the client and must be found"
        );
    }
    t.finish().await;
}
