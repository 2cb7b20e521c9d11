//! "Download your data": an export is requested, built by the worker, kept for a while, and
//! downloaded through short-lived links that work for their owner only. The archive is checked
//! as a member (or a court) would: its signature against the server's published key, and its
//! contents against what the member did on the platform.

use crate::support::{DAY, Member, SECOND, TestApp, on_both_backends};
use base64::Engine;
use hiatus_archive::VerifyingKey;
use hiatus_testkit::sha256_hex;
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::io::{Cursor, Read};

on_both_backends!(
    an_export_is_built_signed_and_holds_the_members_records,
    downloads_resume_with_byte_ranges,
    download_links_work_for_their_owner_only_and_briefly,
    one_export_at_a_time_and_a_daily_limit_per_calendar_day,
    a_stuck_export_does_not_block_a_new_one,
    a_build_whose_worker_died_is_taken_up_again_after_its_lease,
    archives_are_removed_when_their_retention_ends,
    an_incremental_export_holds_only_what_changed_since,
    a_deactivated_member_can_export,
    bad_export_requests_are_problems,
    data_files_have_the_documented_fields,
    a_full_current_export_downloaded_clears_the_preflight_warning,
    an_incremental_export_is_not_a_current_copy_for_the_preflight,
    an_archive_built_before_the_last_change_is_not_current_for_the_preflight,
    a_refused_range_is_not_a_download,
    only_a_download_to_the_end_is_a_current_copy,
    a_failed_export_does_not_count_towards_the_daily_limit,
    simultaneous_requests_make_one_export,
    a_build_that_keeps_failing_ends_failed_with_a_reason,
    an_export_holds_the_members_restoration_requests,
);

async fn an_export_holds_the_members_restoration_requests(t: &TestApp) {
    let f = t.member("freelancer").await;
    t.post(
        None,
        "/api/v1/restorations",
        json!({"email": f.email, "explanation": "I lost my phone with the authenticator"}),
    )
    .await
    .expect(202);
    let id = id_of(&ready_export(t, &f, json!({})).await);
    let bytes = archive_bytes(t, &f, &id).await;
    assert_verifies(t, &bytes, &f).await;
    let mut a = Archive::open(&bytes);
    let records = a.records("restorations");
    assert_eq!(records.len(), 1, "{records:?}");
    let r = &records[0];
    assert_eq!(r["status"], "awaiting_code", "{r}");
    assert_eq!(
        r["explanation"], "I lost my phone with the authenticator",
        "{r}"
    );
    // The code, the token and the deciding agent stay out.
    for secret in ["code_hash", "token_hash", "decided_by", "explanation_enc"] {
        assert!(r.get(secret).is_none(), "{secret} is in the archive: {r}");
    }
    assert!(a.has("viewer/data/restorations.js"));
    assert!(a.has("schema/restorations.schema.json"));
    let manifest = a.json("manifest.json");
    assert_eq!(manifest["exported"]["restorations"], 1, "{manifest}");
    assert_eq!(manifest["held"]["restorations"], 1, "{manifest}");
}

const EXPORTS: &str = "/api/v1/me/exports";
const MINUTE: i64 = 60 * SECOND;
const HOUR: i64 = 60 * MINUTE;

// ---- helpers ----

fn id_of(v: &Value) -> String {
    v["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no id in {v}"))
        .to_string()
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Requests an export (202) and returns its view.
async fn request(t: &TestApp, who: &Member, body: Value) -> Value {
    t.post(Some(who), EXPORTS, body).await.expect(202)
}

/// One export as its owner sees it.
async fn export(t: &TestApp, who: &Member, id: &str) -> Value {
    t.get(Some(who), &format!("{EXPORTS}/{id}"))
        .await
        .expect(200)
}

/// Requests an export, runs the worker, and returns the export once ready.
async fn ready_export(t: &TestApp, who: &Member, body: Value) -> Value {
    let id = id_of(&request(t, who, body).await);
    t.drain_jobs().await;
    let view = export(t, who, &id).await;
    assert_eq!(view["status"], "ready", "{view}");
    view
}

/// Mints a download link (201) and returns its URL.
async fn link(t: &TestApp, who: &Member, id: &str) -> String {
    let l = t
        .post_empty(Some(who), &format!("{EXPORTS}/{id}/links"))
        .await
        .expect(201);
    l["url"].as_str().expect("url").to_string()
}

/// Downloads a ready export whole, through a fresh link.
async fn archive_bytes(t: &TestApp, who: &Member, id: &str) -> Vec<u8> {
    let url = link(t, who, id).await;
    t.download(Some(who), &url, None).await.expect(200).to_vec()
}

/// The key the server publishes for verifying archives.
async fn published_key(t: &TestApp) -> VerifyingKey {
    let k = t.get(None, "/api/v1/export-key").await.expect(200);
    assert_eq!(k["algorithm"], "Ed25519", "{k}");
    let hex_key = k["public_key"].as_str().expect("public_key");
    assert_eq!(hex_key.len(), 64, "{k}");
    let bytes: [u8; 32] = hex::decode(hex_key)
        .expect("hex")
        .try_into()
        .expect("32 bytes");
    VerifyingKey::from_bytes(&bytes).expect("a valid Ed25519 key")
}

/// Asserts the archive verifies against the published key.
async fn assert_verifies(t: &TestApp, bytes: &[u8], member: &Member) {
    let key = published_key(t).await;
    let report = hiatus_archive::verify(Cursor::new(bytes), Some(&key));
    assert!(
        report.ok(),
        "the archive does not verify: {:?}",
        report.problems
    );
    assert_eq!(report.account_id.as_deref(), Some(member.id.as_str()));
}

/// An archive opened for reading.
struct Archive(zip::ZipArchive<Cursor<Vec<u8>>>);

impl Archive {
    fn open(bytes: &[u8]) -> Archive {
        Archive(zip::ZipArchive::new(Cursor::new(bytes.to_vec())).expect("the archive is a ZIP"))
    }

    fn names(&self) -> Vec<String> {
        self.0
            .file_names()
            .map(|n| n.expect("entry name").into_owned())
            .collect()
    }

    fn has(&self, name: &str) -> bool {
        self.names().iter().any(|n| n == name)
    }

    #[track_caller]
    fn bytes(&mut self, name: &str) -> Vec<u8> {
        let names = self.names();
        let mut f = self
            .0
            .by_name(name)
            .unwrap_or_else(|e| panic!("{name} is not in the archive ({e}); it holds {names:?}"));
        let mut v = Vec::new();
        f.read_to_end(&mut v).expect("entry reads");
        v
    }

    #[track_caller]
    fn text(&mut self, name: &str) -> String {
        String::from_utf8(self.bytes(name)).unwrap_or_else(|_| panic!("{name} is not UTF-8"))
    }

    #[track_caller]
    fn json(&mut self, name: &str) -> Value {
        let b = self.bytes(name);
        serde_json::from_slice(&b).unwrap_or_else(|e| {
            panic!(
                "{name} is not JSON ({e}): {}",
                String::from_utf8_lossy(&b[..b.len().min(500)])
            )
        })
    }

    /// The records of `data/<category>.json`.
    #[track_caller]
    fn records(&mut self, category: &str) -> Vec<Value> {
        let v = self.json(&format!("data/{category}.json"));
        v.as_array()
            .unwrap_or_else(|| panic!("data/{category}.json is not an array: {v}"))
            .clone()
    }

    /// The ids of the records of `data/<category>.json`.
    #[track_caller]
    fn ids(&mut self, category: &str) -> BTreeSet<String> {
        self.records(category).iter().map(id_of).collect()
    }

    /// The record of `category` with this id.
    #[track_caller]
    fn record(&mut self, category: &str, id: &str) -> Value {
        let all = self.records(category);
        all.iter()
            .find(|r| r["id"] == id)
            .cloned()
            .unwrap_or_else(|| panic!("no {id} in data/{category}.json: {all:?}"))
    }
}

fn set(ids: &[&str]) -> BTreeSet<String> {
    ids.iter().map(|s| s.to_string()).collect()
}

/// The legal name the harness gave a member (`Legal <kind> <n>` for `<kind><n>@…`).
fn legal_name(kind: &str, m: &Member) -> String {
    let n = m
        .email
        .strip_prefix(kind)
        .and_then(|r| r.split('@').next())
        .expect("harness email");
    format!("Legal {kind} {n}")
}

/// A thread between `client` and `freelancer`; returns (thread id, first message id).
async fn start_thread(
    t: &TestApp,
    client: &Member,
    freelancer: &Member,
    contract: Option<&str>,
) -> (String, String) {
    let started = t
        .post(
            Some(client),
            "/api/v1/threads",
            json!({"with": freelancer.id, "subject": "Photos", "body": "When can you start?", "contract_id": contract}),
        )
        .await
        .expect(201);
    (id_of(&started["thread"]), id_of(&started["message"]))
}

async fn message(t: &TestApp, who: &Member, thread: &str, body: &str) -> String {
    id_of(
        &t.post(
            Some(who),
            &format!("/api/v1/threads/{thread}/messages"),
            json!({ "body": body }),
        )
        .await
        .expect(201),
    )
}

// ---- scenarios ----

async fn an_export_is_built_signed_and_holds_the_members_records(t: &TestApp) {
    let f = t.member("freelancer").await;
    let c = t.member("client").await;
    let k = t.contract(&c, &f, "Catalogue photos").await;
    let funded = t
        .post(
            Some(&c),
            &format!("/api/v1/contracts/{k}/milestones"),
            json!({"title": "First half", "amount": {"minor": 25_000, "currency": "USD"}}),
        )
        .await
        .expect(201);
    let milestone = id_of(&funded["milestone"]);
    let payment = id_of(&funded["payment"]);
    let (thread, m1) = start_thread(t, &c, &f, Some(&k)).await;
    // A body a spreadsheet would take for a formula.
    let m2 = message(t, &f, &thread, "=Monday, at 9.").await;
    // One binary file (stored as is) and one text file (deflated).
    let raw: Vec<u8> = (0..=255u8).rev().chain(*b"\x00\xff\r\n tail").collect();
    let notes = b"batch one\nsecond line\n".to_vec();
    let delivered = t
        .post(
            Some(&f),
            &format!("/api/v1/contracts/{k}/submissions"),
            json!({"note": "First batch", "files": [
                {"name": "shot 1.raw", "content_type": "application/octet-stream", "data_base64": b64(&raw)},
                {"name": "notes.txt", "content_type": "text/plain", "data_base64": b64(&notes)},
            ]}),
        )
        .await
        .expect(201);
    let submission = id_of(&delivered["submission"]);
    let raw_id = id_of(&delivered["files"][0]);
    let notes_id = id_of(&delivered["files"][1]);
    let invoice = t
        .post(
            Some(&f),
            &format!("/api/v1/contracts/{k}/invoices"),
            json!({"description": "Photos", "amount": {"minor": 30_000, "currency": "USD"}}),
        )
        .await
        .expect(201);
    let invoice_id = id_of(&invoice);
    // What the freelancer never saw: the client's private file, the client's thread with
    // someone else.
    let private = t
        .post(
            Some(&c),
            "/api/v1/files",
            json!({"kind": "private", "name": "client-notes.txt", "content_type": "text/plain", "data_base64": b64(b"the client's own notes")}),
        )
        .await
        .expect(201);
    let private_id = id_of(&private);
    let g = t.member("freelancer").await;
    let (elsewhere, elsewhere_msg) = start_thread(t, &c, &g, None).await;

    // Requested: queued, nothing done yet.
    let queued = request(t, &f, json!({})).await;
    let id = id_of(&queued);
    assert_eq!(queued["status"], "queued", "{queued}");
    assert_eq!(queued["since"], Value::Null);
    assert_eq!(queued["progress"]["percent"], 0, "{queued}");
    assert_eq!(queued["size_bytes"], Value::Null);
    assert_eq!(queued["expires_at"], Value::Null);
    let listed = t.get(Some(&f), EXPORTS).await.expect(200);
    assert_eq!(listed.as_array().expect("a list").len(), 1, "{listed}");
    assert_eq!(id_of(&listed[0]), id);
    // Not ready yet: no link.
    t.post_empty(Some(&f), &format!("{EXPORTS}/{id}/links"))
        .await
        .problem(409, "export_not_ready");

    // Built by the worker.
    assert!(t.drain_jobs().await >= 1);
    let ready = export(t, &f, &id).await;
    assert_eq!(ready["status"], "ready", "{ready}");
    assert_eq!(ready["progress"]["percent"], 100, "{ready}");
    let p = &ready["progress"];
    assert!(p["records_total"].as_i64().unwrap() > 0, "{ready}");
    assert_eq!(p["records_done"], p["records_total"], "{ready}");
    assert_eq!(
        p["bytes_total"].as_i64(),
        Some((raw.len() + notes.len()) as i64),
        "{ready}"
    );
    assert_eq!(p["bytes_done"], p["bytes_total"], "{ready}");
    let size = ready["size_bytes"].as_i64().expect("size_bytes");
    assert!(size > 0, "{ready}");
    // Kept for 7 days from when it was built (the clock stood still at 2026-01-01T00:00Z).
    assert_eq!(ready["finished_at"], "2026-01-01T00:00:00Z", "{ready}");
    assert_eq!(ready["expires_at"], "2026-01-08T00:00:00Z", "{ready}");
    assert_eq!(ready["downloaded_at"], Value::Null);

    // A link, for 5 minutes.
    let l = t
        .post_empty(Some(&f), &format!("{EXPORTS}/{id}/links"))
        .await
        .expect(201);
    assert_eq!(l["expires_at"], "2026-01-01T00:05:00Z", "{l}");
    let url = l["url"].as_str().expect("url").to_string();
    assert!(url.starts_with("/api/v1/export-downloads/"), "{l}");

    let d = t.download(Some(&f), &url, None).await;
    let bytes = d.expect(200).to_vec();
    assert_eq!(d.header("content-type").as_deref(), Some("application/zip"));
    let disposition = d.header("content-disposition").unwrap_or_default();
    assert!(
        disposition.starts_with("attachment") && disposition.contains(".zip"),
        "{disposition}"
    );
    assert_eq!(bytes.len() as i64, size);
    assert_eq!(
        d.header("content-length").as_deref(),
        Some(size.to_string().as_str())
    );
    assert!(
        export(t, &f, &id).await["downloaded_at"].is_string(),
        "the download is recorded"
    );

    // Signed by the server's key, and only that key.
    assert_verifies(t, &bytes, &f).await;
    let stranger = hiatus_archive::SigningKey::from_bytes(&[7u8; 32]).verifying_key();
    let report = hiatus_archive::verify(Cursor::new(&bytes), Some(&stranger));
    assert!(
        report.problems.iter().any(|p| p.code == "wrong_signer"),
        "{:?}",
        report.problems
    );

    // What the member did is all there.
    let mut a = Archive::open(&bytes);
    assert!(a.text("data/contracts.json").contains(&k));
    assert_eq!(a.ids("contracts"), set(&[&k]));
    assert_eq!(a.ids("milestones"), set(&[&milestone]));
    assert_eq!(a.ids("payments"), set(&[&payment]));
    assert_eq!(a.ids("threads"), set(&[&thread]));
    assert_eq!(a.ids("messages"), set(&[&m1, &m2]));
    assert_eq!(a.ids("submissions"), set(&[&submission]));
    assert_eq!(a.ids("invoices"), set(&[&invoice_id]));
    for (file_id, original) in [(&raw_id, &raw), (&notes_id, &notes)] {
        let rec = a.record("files", file_id);
        let path = rec["path"].as_str().expect("path").to_string();
        assert!(path.starts_with("files/"), "{rec}");
        assert_eq!(&a.bytes(&path), original, "the bytes of {path}");
        assert_eq!(rec["sha256"], sha256_hex(original), "{rec}");
        assert_eq!(rec["size_bytes"], original.len(), "{rec}");
    }
    let inv = a.record("invoices", &invoice_id);
    assert_eq!(inv["number"], invoice["number"], "{inv}");
    let pdf_path = inv["pdf"].as_str().expect("pdf path").to_string();
    assert!(pdf_path.starts_with("invoices/") && pdf_path.ends_with(".pdf"));
    assert!(a.bytes(&pdf_path).starts_with(b"%PDF"), "{pdf_path}");
    // Formulas are defused in the CSV copies.
    let csv = a.text("data/messages.csv");
    assert!(csv.contains("'=Monday"), "{csv}");
    let account = a.json("data/account.json");
    assert_eq!(account["id"], f.id.as_str());
    assert_eq!(account["email"], f.email.as_str());
    assert_eq!(account["state"], "active");
    let people = a.records("people");
    assert!(
        people
            .iter()
            .any(|p| p["id"] == c.id.as_str() && p["relation"] == "counterparty"),
        "{people:?}"
    );
    // What the member could not see stays out.
    assert!(!a.ids("files").contains(&private_id));
    assert!(!a.ids("threads").contains(&elsewhere));
    assert!(!a.ids("messages").contains(&elsewhere_msg));
    assert!(
        !a.names().iter().any(|n| n.contains("client-notes")),
        "{:?}",
        a.names()
    );
    // The other side's contact details stay out.
    let c_legal = legal_name("client", &c);
    for name in a.names() {
        if name.starts_with("data/") || name.starts_with("viewer/") {
            let text = String::from_utf8_lossy(&a.bytes(&name)).into_owned();
            assert!(!text.contains(&c.email), "{name} holds the client's email");
            assert!(
                !text.contains(&c_legal),
                "{name} holds the client's legal name"
            );
        }
    }
    // The manifest, its signature, the viewer.
    let manifest = a.json("manifest.json");
    assert_eq!(manifest["account_id"], f.id.as_str());
    assert_eq!(manifest["format_version"], 1);
    assert_eq!(manifest["since"], Value::Null);
    assert_eq!(manifest["exported"]["messages"], 2, "{manifest}");
    assert_eq!(manifest["exported"]["contracts"], 1, "{manifest}");
    assert_eq!(manifest["exported"]["files"], 2, "{manifest}");
    assert_eq!(manifest["exported"]["invoices"], 1, "{manifest}");
    for name in ["index.html", "manifest.sig", "public-key.txt"] {
        assert!(a.has(name), "{name} missing");
    }
    let published = hex::encode(published_key(t).await.to_bytes());
    assert_eq!(a.text("public-key.txt").trim(), published);
}

async fn downloads_resume_with_byte_ranges(t: &TestApp) {
    let f = t.member("freelancer").await;
    let c = t.member("client").await;
    let (thread, _) = start_thread(t, &c, &f, None).await;
    message(t, &f, &thread, "Hello").await;
    let view = ready_export(t, &f, json!({})).await;
    let id = id_of(&view);
    let size = view["size_bytes"].as_i64().expect("size") as usize;
    let url = link(t, &f, &id).await;

    let full = t.download(Some(&f), &url, None).await;
    let full = full.expect(200).to_vec();
    assert_eq!(full.len(), size);
    assert!(size > 200, "a real archive is larger than {size} bytes");

    let head = t.download(Some(&f), &url, Some("0-99")).await;
    assert_eq!(head.expect(206).len(), 100);
    assert_eq!(
        head.header("content-range"),
        Some(format!("bytes 0-99/{size}"))
    );
    assert_eq!(head.header("content-length").as_deref(), Some("100"));
    assert_eq!(
        head.header("content-type").as_deref(),
        Some("application/zip")
    );

    let rest = t.download(Some(&f), &url, Some("100-")).await;
    assert_eq!(rest.expect(206).len(), size - 100);
    assert_eq!(
        rest.header("content-range"),
        Some(format!("bytes 100-{}/{size}", size - 1))
    );
    let mut joined = head.bytes.clone();
    joined.extend_from_slice(&rest.bytes);
    assert!(
        joined == full,
        "the two parts do not make the whole archive"
    );
    assert_verifies(t, &joined, &f).await;

    // The last bytes.
    let tail = t.download(Some(&f), &url, Some("-100")).await;
    assert_eq!(tail.expect(206), &full[size - 100..]);

    // Outside the file.
    let past = t.download(Some(&f), &url, Some(&format!("{size}-"))).await;
    past.problem(416, "range_not_satisfiable");
    assert_eq!(
        past.header("content-range"),
        Some(format!("bytes */{size}"))
    );
}

async fn download_links_work_for_their_owner_only_and_briefly(t: &TestApp) {
    let f = t.member("freelancer").await;
    let other = t.member("freelancer").await;
    let id = id_of(&ready_export(t, &f, json!({})).await);
    let url = link(t, &f, &id).await;

    // Another member, with the very link: as if it did not exist.
    t.download(Some(&other), &url, None)
        .await
        .problem(404, "not_found");
    // No session at all.
    t.download(None, &url, None)
        .await
        .problem(401, "unauthorized");
    // The owner, by bearer token and by the session cookie.
    let by_bearer = t.download(Some(&f), &url, None).await;
    assert_verifies(t, by_bearer.expect(200), &f).await;
    let cookie = format!("hiatus_session={}", f.token);
    let by_cookie = t.fetch(None, &url, &[("cookie", cookie.as_str())]).await;
    assert!(by_cookie.expect(200) == by_bearer.bytes.as_slice());
    // A token no one minted.
    t.download(
        Some(&f),
        "/api/v1/export-downloads/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        None,
    )
    .await
    .problem(404, "not_found");

    // The export itself is the owner's only.
    t.get(Some(&other), &format!("{EXPORTS}/{id}"))
        .await
        .problem(404, "not_found");
    t.post_empty(Some(&other), &format!("{EXPORTS}/{id}/links"))
        .await
        .problem(404, "not_found");
    let theirs = t.get(Some(&other), EXPORTS).await.expect(200);
    assert_eq!(theirs, json!([]));

    // Links are short-lived; a fresh one works again.
    t.advance(6 * MINUTE);
    t.download(Some(&f), &url, None)
        .await
        .problem(410, "link_expired");
    let fresh = link(t, &f, &id).await;
    assert_ne!(fresh, url);
    t.download(Some(&f), &fresh, None).await.expect(200);

    // Every download is in the owner's audit trail, and only the downloads that happened.
    let audit = t.get(Some(&f), "/api/v1/me/audit").await.expect(200);
    let downloads: Vec<&Value> = audit
        .as_array()
        .expect("a list")
        .iter()
        .filter(|e| e["action"] == "export.downloaded")
        .collect();
    assert_eq!(downloads.len(), 3, "{audit}");
    for e in &downloads {
        assert_eq!(e["detail"]["export_id"], id.as_str(), "{e}");
        assert_eq!(e["actor_id"], f.id.as_str(), "{e}");
    }
    assert!(
        audit
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["action"] == "export.requested"),
        "{audit}"
    );
    let theirs = t.get(Some(&other), "/api/v1/me/audit").await.expect(200);
    assert!(
        !theirs
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["action"] == "export.downloaded"),
        "{theirs}"
    );
}

async fn one_export_at_a_time_and_a_daily_limit_per_calendar_day(t: &TestApp) {
    let f = t.member("freelancer").await;
    t.advance(10 * HOUR); // 2026-01-01T10:00Z
    request(t, &f, json!({})).await;
    // While one waits, no second one.
    let busy = t.post(Some(&f), EXPORTS, json!({})).await;
    busy.problem(409, "export_in_progress");
    t.drain_jobs().await;

    request(t, &f, json!({})).await;
    t.drain_jobs().await;
    t.advance(HOUR);
    request(t, &f, json!({})).await;
    t.drain_jobs().await;
    // 3 today: the 4th is refused until the next calendar day (UTC), not 24 hours later.
    t.advance(HOUR); // 12:00Z
    let refused = t
        .post(Some(&f), EXPORTS, json!({}))
        .await
        .problem(429, "export_daily_limit");
    let detail = refused["detail"].as_str().expect("detail");
    assert!(detail.contains("2026-01-02"), "{refused}");
    assert_eq!(refused["retry_after"], 12 * 3600, "{refused}");
    let listed = t.get(Some(&f), EXPORTS).await.expect(200);
    assert_eq!(listed.as_array().unwrap().len(), 3, "{listed}");
    assert!(
        listed
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["status"] == "ready"),
        "{listed}"
    );

    // Still the same day one second before midnight...
    t.advance(12 * HOUR - SECOND);
    let refused = t
        .post(Some(&f), EXPORTS, json!({}))
        .await
        .problem(429, "export_daily_limit");
    assert_eq!(refused["retry_after"], 1, "{refused}");
    // ...and a new day at midnight.
    t.advance(SECOND);
    let next = request(t, &f, json!({})).await;
    assert_eq!(next["created_at"], "2026-01-02T00:00:00Z", "{next}");
}

/// Claims the export's job as a worker that then dies, and marks the export running, as that
/// worker would have.
async fn crash_a_worker_on(t: &TestApp, export_id: &str) {
    let job =
        hiatus_testkit::store::jobs::claim(&t.h.db, "dead-worker", t.now(), t.h.config.job_lease)
            .await
            .expect("claim")
            .expect("the export's job is due");
    assert_eq!(job.kind, "export.build", "{job:?}");
    assert!(job.payload.contains(export_id), "{job:?}");
    let mut tx = t.h.db.begin().await.expect("begin");
    assert!(
        hiatus_testkit::store::exports::start(&mut tx, export_id, t.now())
            .await
            .expect("start")
    );
    tx.commit().await.expect("commit");
}

async fn a_stuck_export_does_not_block_a_new_one(t: &TestApp) {
    let f = t.member("freelancer").await;
    let lease = t.h.config.job_lease;
    let stuck = id_of(&request(t, &f, json!({})).await);
    crash_a_worker_on(t, &stuck).await;
    assert_eq!(export(t, &f, &stuck).await["status"], "running");

    // Within twice the lease a worker may still pick it up: still one at a time.
    t.advance(lease + SECOND);
    t.post(Some(&f), EXPORTS, json!({}))
        .await
        .problem(409, "export_in_progress");
    // Past that, the stuck one is abandoned and a new one is accepted.
    t.advance(lease);
    let fresh = id_of(&request(t, &f, json!({})).await);
    assert_ne!(fresh, stuck);
    let old = export(t, &f, &stuck).await;
    assert_eq!(old["status"], "failed", "{old}");
    assert!(
        old["error"].as_str().is_some_and(|e| !e.is_empty()),
        "{old}"
    );

    // The worker finishes the new one and leaves the abandoned one alone.
    t.drain_jobs().await;
    assert_eq!(export(t, &f, &fresh).await["status"], "ready");
    assert_eq!(export(t, &f, &stuck).await["status"], "failed");
    let listed = t.get(Some(&f), EXPORTS).await.expect(200);
    assert!(
        listed
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["status"] != "running" && e["status"] != "queued"),
        "{listed}"
    );
    let bytes = archive_bytes(t, &f, &fresh).await;
    assert_verifies(t, &bytes, &f).await;
}

async fn a_build_whose_worker_died_is_taken_up_again_after_its_lease(t: &TestApp) {
    let f = t.member("freelancer").await;
    let c = t.member("client").await;
    let (thread, _) = start_thread(t, &c, &f, None).await;
    message(t, &f, &thread, "Hi").await;
    let id = id_of(&request(t, &f, json!({})).await);
    crash_a_worker_on(t, &id).await;

    // Before the lease runs out the job is not taken.
    t.advance(t.h.config.job_lease - SECOND);
    t.drain_jobs().await;
    assert_eq!(export(t, &f, &id).await["status"], "running");
    // After, another worker builds it from scratch.
    t.advance(2 * SECOND);
    t.drain_jobs().await;
    let view = export(t, &f, &id).await;
    assert_eq!(view["status"], "ready", "{view}");
    assert_eq!(view["progress"]["percent"], 100, "{view}");
    let bytes = archive_bytes(t, &f, &id).await;
    assert_verifies(t, &bytes, &f).await;
    let mut a = Archive::open(&bytes);
    assert_eq!(a.records("messages").len(), 2);
    assert!(
        !a.names().iter().any(|n| n.ends_with(".partial")),
        "{:?}",
        a.names()
    );
}

async fn archives_are_removed_when_their_retention_ends(t: &TestApp) {
    let f = t.member("freelancer").await;
    let id = id_of(&ready_export(t, &f, json!({})).await);
    let file =
        t.h.blobs
            .local_path(&hiatus_service::export::archive_key(&id))
            .unwrap();
    assert!(file.exists(), "{} missing", file.display());

    // Kept for 7 days...
    t.advance(7 * DAY - SECOND);
    t.drain_jobs().await;
    assert_eq!(export(t, &f, &id).await["status"], "ready");
    assert!(file.exists());
    let late = link(t, &f, &id).await;
    // ...then removed.
    t.advance(2 * SECOND);
    t.drain_jobs().await;
    let view = export(t, &f, &id).await;
    assert_eq!(view["status"], "expired", "{view}");
    assert!(!file.exists(), "the archive is still on disk");
    t.post_empty(Some(&f), &format!("{EXPORTS}/{id}/links"))
        .await
        .problem(410, "export_expired");
    // A link minted before the end serves nothing after it, and says so.
    let d = t.download(Some(&f), &late, None).await;
    assert_eq!(d.status, 410, "{}", d.text());
    let listed = t.get(Some(&f), EXPORTS).await.expect(200);
    assert_eq!(listed[0]["status"], "expired", "{listed}");
}

async fn an_incremental_export_holds_only_what_changed_since(t: &TestApp) {
    let f = t.member("freelancer").await;
    let c = t.member("client").await;
    let k = t.contract(&c, &f, "Logo").await;
    let (thread, m1) = start_thread(t, &c, &f, Some(&k)).await;
    let m2 = message(t, &f, &thread, "Tomorrow.").await;
    t.advance(10 * DAY); // 2026-01-11
    let m3 = message(t, &c, &thread, "Any news?").await;

    let inc = request(t, &f, json!({"since": "2026-01-02"})).await;
    assert_eq!(inc["since"], "2026-01-02T00:00:00Z", "{inc}");
    let inc_id = id_of(&inc);
    t.drain_jobs().await;
    assert_eq!(export(t, &f, &inc_id).await["status"], "ready");
    let bytes = archive_bytes(t, &f, &inc_id).await;
    assert_verifies(t, &bytes, &f).await;
    let mut a = Archive::open(&bytes);
    let manifest = a.json("manifest.json");
    assert_eq!(manifest["since"], "2026-01-02T00:00:00Z", "{manifest}");
    assert_eq!(manifest["exported"]["messages"], 1, "{manifest}");
    assert_eq!(manifest["exported"]["contracts"], 0, "{manifest}");
    assert_eq!(a.ids("messages"), set(&[&m3]));
    assert!(a.ids("contracts").is_empty());

    // A full export counts everything.
    let full = ready_export(t, &f, json!({})).await;
    assert_eq!(full["since"], Value::Null);
    let bytes = archive_bytes(t, &f, &id_of(&full)).await;
    assert_verifies(t, &bytes, &f).await;
    let mut a = Archive::open(&bytes);
    let manifest = a.json("manifest.json");
    assert_eq!(manifest["since"], Value::Null, "{manifest}");
    assert_eq!(manifest["exported"]["messages"], 3, "{manifest}");
    assert_eq!(manifest["exported"]["contracts"], 1, "{manifest}");
    assert_eq!(a.ids("messages"), set(&[&m1, &m2, &m3]));
}

async fn a_deactivated_member_can_export(t: &TestApp) {
    let f = t.member("freelancer").await;
    let c = t.member("client").await;
    let (_, m1) = start_thread(t, &c, &f, None).await;
    assert!(t.preflight(&f).await.blockers().is_empty());
    t.deactivate(&f).await.expect(200);
    assert_eq!(t.state(&f).await, "deactivated");

    let view = ready_export(t, &f, json!({})).await;
    let bytes = archive_bytes(t, &f, &id_of(&view)).await;
    assert_verifies(t, &bytes, &f).await;
    let mut a = Archive::open(&bytes);
    assert_eq!(a.json("data/account.json")["state"], "deactivated");
    assert_eq!(a.ids("messages"), set(&[&m1]));
}

async fn bad_export_requests_are_problems(t: &TestApp) {
    let f = t.member("freelancer").await;
    for since in [
        json!("yesterday"),
        json!("2026-13-01"),
        json!("2027-01-01"),           // in the future
        json!("2026-01-01T00:00:01Z"), // one second ahead
        json!("1969-12-31"),           // before the epoch
    ] {
        t.post(Some(&f), EXPORTS, json!({ "since": since }))
            .await
            .problem(422, "since_invalid");
    }
    t.post(Some(&f), EXPORTS, json!({"sinse": "2026-01-01"}))
        .await
        .is_problem();
    t.post(Some(&f), EXPORTS, json!({"since": 5}))
        .await
        .is_problem();
    t.raw(
        reqwest::Method::POST,
        Some(&f),
        EXPORTS,
        Some("application/json"),
        b"{".to_vec(),
    )
    .await
    .expect("reaches the server")
    .is_problem();
    t.post(None, EXPORTS, json!({}))
        .await
        .problem(401, "unauthorized");
    t.get(Some(&f), &format!("{EXPORTS}/not-a-uuid"))
        .await
        .is_problem();
    t.post_empty(Some(&f), &format!("{EXPORTS}/not-a-uuid/links"))
        .await
        .is_problem();
    let nobody = uuid::Uuid::new_v4();
    t.get(Some(&f), &format!("{EXPORTS}/{nobody}"))
        .await
        .problem(404, "not_found");
    t.post_empty(Some(&f), &format!("{EXPORTS}/{nobody}/links"))
        .await
        .problem(404, "not_found");
    let long = format!("/api/v1/export-downloads/{}", "x".repeat(300));
    t.download(Some(&f), &long, None)
        .await
        .problem(404, "not_found");

    // Nothing was created, and nothing counted against the day.
    assert_eq!(t.get(Some(&f), EXPORTS).await.expect(200), json!([]));
    for _ in 0..3 {
        request(t, &f, json!({"since": "2026-01-01"})).await;
        t.drain_jobs().await;
    }
}

/// The fields of each category as docs/archive-format.md lists them.
const DOCUMENTED: &[(&str, &[&str])] = &[
    (
        "account",
        &[
            "id",
            "kind",
            "role",
            "state",
            "email",
            "legal_name",
            "created_at",
            "state_changed_at",
            "deletion_due_at",
        ],
    ),
    (
        "profile",
        &[
            "display_name",
            "headline",
            "bio",
            "visibility",
            "availability",
            "paused_until",
            "notifications",
            "away_message",
            "hourly_rate_minor",
            "currency",
            "photo_file_id",
        ],
    ),
    ("people", &["id", "display_name", "relation"]),
    (
        "job_posts",
        &["id", "client_id", "title", "status", "created_at"],
    ),
    (
        "proposals",
        &[
            "id",
            "kind",
            "job_post_id",
            "freelancer_id",
            "client_id",
            "sender_id",
            "cover_letter",
            "status",
            "created_at",
        ],
    ),
    (
        "contracts",
        &[
            "id",
            "client_id",
            "freelancer_id",
            "title",
            "status",
            "currency",
            "created_at",
            "ended_at",
        ],
    ),
    (
        "milestones",
        &[
            "id",
            "contract_id",
            "title",
            "amount_minor",
            "currency",
            "status",
            "created_at",
        ],
    ),
    (
        "payments",
        &[
            "id",
            "contract_id",
            "milestone_id",
            "payer_id",
            "payee_id",
            "amount_minor",
            "currency",
            "status",
            "created_at",
            "updated_at",
        ],
    ),
    (
        "payouts",
        &[
            "id",
            "amount_minor",
            "currency",
            "status",
            "created_at",
            "settles_at",
        ],
    ),
    ("balances", &["currency", "available_minor", "debt_minor"]),
    (
        "invoices",
        &[
            "id",
            "number",
            "contract_id",
            "issuer_id",
            "recipient_id",
            "description",
            "amount_minor",
            "currency",
            "status",
            "issued_at",
            "due_at",
            "paid_at",
            "pdf",
        ],
    ),
    (
        "disputes",
        &[
            "id",
            "contract_id",
            "opened_by",
            "status",
            "created_at",
            "resolved_at",
        ],
    ),
    (
        "threads",
        &[
            "id",
            "contract_id",
            "subject",
            "participants",
            "created_at",
            "last_message_at",
            "message_count",
            "message_parts",
        ],
    ),
    (
        "messages",
        &["id", "thread_id", "author_id", "body", "created_at"],
    ),
    (
        "submissions",
        &["id", "contract_id", "freelancer_id", "note", "created_at"],
    ),
    (
        "files",
        &[
            "id",
            "owner_id",
            "kind",
            "message_id",
            "submission_id",
            "name",
            "path",
            "content_type",
            "size_bytes",
            "sha256",
            "created_at",
        ],
    ),
    (
        "reviews",
        &[
            "id",
            "contract_id",
            "author_id",
            "subject_id",
            "rating",
            "body",
            "created_at",
        ],
    ),
    (
        "audit",
        &["id", "actor_id", "action", "reason", "detail", "created_at"],
    ),
    ("client_notices", &["client_id", "sent_at"]),
];

async fn data_files_have_the_documented_fields(t: &TestApp) {
    // A member who has a record in every category.
    let f = t.member("both").await;
    let c = t.member("client").await;
    t.post(
        Some(&f),
        "/api/v1/job-posts",
        json!({"title": "Need a logo"}),
    )
    .await
    .expect(201);
    t.post(
        Some(&f),
        "/api/v1/proposals",
        json!({"kind": "proposal", "to": c.id, "cover_letter": "I can help"}),
    )
    .await
    .expect(201);
    let k = t.contract(&c, &f, "Docs").await;
    t.fund(&c, &k, 10_000).await;
    let (thread, _) = start_thread(t, &c, &f, Some(&k)).await;
    message(t, &f, &thread, "On it").await;
    let delivered = t
        .post(
            Some(&f),
            &format!("/api/v1/contracts/{k}/submissions"),
            json!({"note": "v1", "files": [{"name": "a.txt", "content_type": "text/plain", "data_base64": b64(b"a")}]}),
        )
        .await
        .expect(201);
    let file_id = id_of(&delivered["files"][0]);
    t.post(
        Some(&f),
        &format!("/api/v1/contracts/{k}/invoices"),
        json!({"description": "Docs", "amount": {"minor": 5_000, "currency": "USD"}}),
    )
    .await
    .expect(201);
    t.contract_action(&c, &k, "open_dispute").await.expect(200);
    let k2 = t.contract(&c, &f, "Earlier work").await;
    t.contract_action(&c, &k2, "end").await.expect(200);
    t.post(
        Some(&f),
        &format!("/api/v1/contracts/{k2}/reviews"),
        json!({"rating": 5, "body": "Clear brief"}),
    )
    .await
    .expect(201);
    t.set_balance(&f, 1_000, 0).await;
    t.post(
        Some(&f),
        "/api/v1/me/withdrawals",
        json!({"amount": {"minor": 500, "currency": "USD"}}),
    )
    .await
    .expect(201);
    t.record_client_notice(&f, &c).await;
    let photo = t
        .post(
            Some(&f),
            "/api/v1/files",
            json!({"kind": "photo", "name": "me.png", "content_type": "image/png", "data_base64": b64(b"\x89PNG\r\n")}),
        )
        .await
        .expect(201);
    let photo_id = id_of(&photo);

    let view = ready_export(t, &f, json!({})).await;
    let bytes = archive_bytes(t, &f, &id_of(&view)).await;
    assert_verifies(t, &bytes, &f).await;
    let mut a = Archive::open(&bytes);
    let mut missing = Vec::new();
    for (category, fields) in DOCUMENTED {
        let v = a.json(&format!("data/{category}.json"));
        let records: Vec<Value> = match &v {
            Value::Array(items) => items.clone(),
            Value::Object(_) => vec![v.clone()],
            other => panic!("data/{category}.json is neither an object nor an array: {other}"),
        };
        assert!(!records.is_empty(), "data/{category}.json is empty");
        for r in &records {
            for field in *fields {
                if r.get(*field).is_none() {
                    missing.push(format!("{category}.{field}"));
                }
            }
        }
        assert!(
            a.has(&format!("schema/{category}.schema.json")),
            "schema of {category} missing"
        );
        if *category != "messages" {
            assert!(
                a.has(&format!("viewer/data/{category}.js")),
                "viewer copy of {category} missing"
            );
        }
    }
    for category in [
        "contracts",
        "payments",
        "payouts",
        "invoices",
        "messages",
        "reviews",
    ] {
        assert!(
            a.has(&format!("data/{category}.csv")),
            "data/{category}.csv missing"
        );
    }
    missing.dedup();
    assert!(
        missing.is_empty(),
        "documented fields missing from the archive's records: {missing:?}"
    );
    // Files name the submission they belong to.
    let sub = a.records("submissions");
    let file = a.record("files", &file_id);
    assert_eq!(file["submission_id"], sub[0]["id"], "{file}");
    assert_eq!(
        a.json("data/profile.json")["photo_file_id"],
        photo_id.as_str()
    );
}

/// Whether the deactivation preflight considers the member's downloaded export current.
async fn export_is_current(t: &TestApp, m: &Member) -> bool {
    !t.preflight(m)
        .await
        .warnings()
        .iter()
        .any(|w| w == "no_current_export")
}

async fn a_full_current_export_downloaded_clears_the_preflight_warning(t: &TestApp) {
    let f = t.member("freelancer").await;
    assert!(!export_is_current(t, &f).await);
    let view = ready_export(t, &f, json!({})).await;
    assert!(!export_is_current(t, &f).await, "ready is not downloaded");
    archive_bytes(t, &f, &id_of(&view)).await;
    assert!(export_is_current(t, &f).await);
}

async fn an_incremental_export_is_not_a_current_copy_for_the_preflight(t: &TestApp) {
    let f = t.member("freelancer").await;
    assert!(!export_is_current(t, &f).await);
    t.advance(2 * DAY); // 2026-01-03
    t.patch(
        Some(&f),
        "/api/v1/me/profile",
        json!({"headline": "Now in Lisbon"}),
    )
    .await
    .expect(200);
    // Only what changed from 2026-01-02: the account's earlier records are not in it.
    let inc = ready_export(t, &f, json!({"since": "2026-01-02"})).await;
    archive_bytes(t, &f, &id_of(&inc)).await;
    assert!(
        !export_is_current(t, &f).await,
        "downloading an incremental export cleared the no_current_export warning"
    );
}

async fn an_archive_built_before_the_last_change_is_not_current_for_the_preflight(t: &TestApp) {
    let f = t.member("freelancer").await;
    let stale = ready_export(t, &f, json!({})).await;
    t.advance(SECOND);
    t.patch(
        Some(&f),
        "/api/v1/me/profile",
        json!({"headline": "Now in Porto"}),
    )
    .await
    .expect(200);
    t.advance(SECOND);
    // Downloaded after the change, but built before it: the new headline is not in it.
    let bytes = archive_bytes(t, &f, &id_of(&stale)).await;
    let mut a = Archive::open(&bytes);
    assert_ne!(a.json("data/profile.json")["headline"], "Now in Porto");
    assert!(
        !export_is_current(t, &f).await,
        "downloading an archive built before the last change cleared the no_current_export warning"
    );
}

async fn only_a_download_to_the_end_is_a_current_copy(t: &TestApp) {
    let f = t.member("freelancer").await;
    let view = ready_export(t, &f, json!({})).await;
    let id = id_of(&view);
    let url = link(t, &f, &id).await;
    // The first part of a resumed download: audited, but the member holds no copy yet.
    t.download(Some(&f), &url, Some("0-99")).await.expect(206);
    assert!(!export_is_current(t, &f).await);
    assert_eq!(export(t, &f, &id).await["downloaded_at"], Value::Null);
    // The rest: now the member has the whole archive.
    t.download(Some(&f), &url, Some("100-")).await.expect(206);
    assert!(export_is_current(t, &f).await);
    let audit = t.get(Some(&f), "/api/v1/me/audit").await.expect(200);
    let downloads = audit
        .as_array()
        .or_else(|| audit["events"].as_array())
        .map(|a| {
            a.iter()
                .filter(|e| e["action"] == "export.downloaded")
                .count()
        })
        .unwrap_or(0);
    assert_eq!(downloads, 2, "{audit}");
}

async fn a_failed_export_does_not_count_towards_the_daily_limit(t: &TestApp) {
    let f = t.member("freelancer").await;
    for _ in 0..3 {
        let v = request(t, &f, json!({})).await;
        let mut tx = t.h.db.begin().await.unwrap();
        hiatus_testkit::store::exports::fail(&mut tx, &id_of(&v), "broken", t.now())
            .await
            .unwrap();
        tx.commit().await.unwrap();
    }
    request(t, &f, json!({})).await;
}

async fn a_refused_range_is_not_a_download(t: &TestApp) {
    let f = t.member("freelancer").await;
    let view = ready_export(t, &f, json!({})).await;
    let id = id_of(&view);
    let size = view["size_bytes"].as_i64().expect("size");
    let url = link(t, &f, &id).await;
    t.download(Some(&f), &url, Some(&format!("{size}-")))
        .await
        .problem(416, "range_not_satisfiable");
    // A HEAD probe (download managers ask for the size first) transfers nothing either.
    let probe = t
        .http
        .head(format!("{}{url}", t.base))
        .bearer_auth(&f.token)
        .send()
        .await
        .expect("request reaches the server");
    assert_eq!(probe.status().as_u16(), 200);
    assert_eq!(
        probe
            .headers()
            .get("content-length")
            .and_then(|v| v.to_str().ok()),
        Some(size.to_string().as_str())
    );
    // No byte left the server.
    let after = export(t, &f, &id).await;
    assert_eq!(after["downloaded_at"], Value::Null, "{after}");
    let audit = t.get(Some(&f), "/api/v1/me/audit").await.expect(200);
    assert!(
        !audit
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["action"] == "export.downloaded"),
        "{audit}"
    );
    assert!(!export_is_current(t, &f).await);
}

async fn simultaneous_requests_make_one_export(t: &TestApp) {
    let f = t.member("freelancer").await;
    let results = futures_join(t, &f, 6).await;
    let accepted = results.iter().filter(|s| **s == 202).count();
    let busy = results.iter().filter(|s| **s == 409).count();
    assert_eq!((accepted, busy), (1, 5), "statuses: {results:?}");
    let listed = t.get(Some(&f), EXPORTS).await.expect(200);
    assert_eq!(listed.as_array().unwrap().len(), 1, "{listed}");
}

/// Sends `n` export requests at once; returns their statuses.
async fn futures_join(t: &TestApp, who: &Member, n: usize) -> Vec<u16> {
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..n {
        let http = t.http.clone();
        let url = format!("{}{EXPORTS}", t.base);
        let token = who.token.clone();
        set.spawn(async move {
            http.post(url)
                .bearer_auth(token)
                .json(&json!({}))
                .send()
                .await
                .expect("request reaches the server")
                .status()
                .as_u16()
        });
    }
    let mut out = Vec::new();
    while let Some(r) = set.join_next().await {
        out.push(r.expect("task"));
    }
    out
}

async fn a_build_that_keeps_failing_ends_failed_with_a_reason(t: &TestApp) {
    let f = t.member("freelancer").await;
    let c = t.member("client").await;
    let k = t.contract(&c, &f, "Lost file").await;
    t.post(
        Some(&f),
        &format!("/api/v1/contracts/{k}/submissions"),
        json!({"files": [{"name": "w.bin", "content_type": "application/octet-stream", "data_base64": b64(b"work")}]}),
    )
    .await
    .expect(201);
    // The stored bytes vanish (a disk fault): every build attempt fails.
    let mut removed = 0;
    for entry in walk(&t.blob_dir) {
        std::fs::remove_file(&entry).expect("remove a blob");
        removed += 1;
    }
    assert_eq!(removed, 1, "one stored file");

    let id = id_of(&request(t, &f, json!({})).await);
    // Attempts with a growing pause between them, until the job gives up.
    for _ in 0..6 {
        t.drain_jobs().await;
        t.advance(MINUTE);
    }
    let view = export(t, &f, &id).await;
    assert_eq!(view["status"], "failed", "{view}");
    assert!(
        view["error"].as_str().is_some_and(|e| !e.is_empty()),
        "{view}"
    );
    t.post_empty(Some(&f), &format!("{EXPORTS}/{id}/links"))
        .await
        .problem(409, "export_not_ready");
    // No half-written archive is left behind.
    let leftovers: Vec<_> = walk(&t.blob_dir)
        .into_iter()
        .filter(|p| p.to_string_lossy().contains("exports"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    // A failed export does not block a new request.
    request(t, &f, json!({})).await;
}

/// Every regular file under `dir`.
fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}
