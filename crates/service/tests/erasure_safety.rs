//! Erasure under crashes and races, on SQLite and on PostgreSQL:
//!
//! - killed after any committed transaction and rerun (once, or again and again), erasure
//!   reaches exactly the end state of an uninterrupted run on a twin of the database;
//! - a cancel in the last microsecond of the grace period racing the erasure leaves either a
//!   cancelled deletion with all data intact or a complete erasure, never a mixture; after the
//!   due time cancelling is refused;
//! - two executors (or two workers) on one erasure end where a single run ends;
//! - an export built while erasure starts leaves no export and no archive behind.

use hiatus_domain::{AccountId, ClosureReason, FileKind, Micros};
use hiatus_service::erasure::{DeleteRequest, EraseOptions, EraseOutcome};
use hiatus_service::export::BuildOutcome;
use hiatus_service::market::{ContractAction, Upload};
use hiatus_service::worker::Worker;
use hiatus_service::{
    Actor, Hiatus, ManualClock, PasswordParams, ServiceConfig, ServiceError, SignUp,
};
use hiatus_store::bulk::{self, NoProgress, Plan, Shape};
use hiatus_store::{Blobs, Db, DbOptions, Keyring, SecretKey};
use hiatus_testkit::{ScratchDb, files_under, sha256_hex, testing};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

const START: Micros = 1_800_000_000_000_000;
const HOLDER: &str = "eraser-1";

// ---------------------------------------------------------------------------------------------
// Databases that can be copied: a fresh one, a snapshot of one, instances of a snapshot.

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let p = e.unwrap().path();
        let dest = to.join(p.file_name().unwrap());
        if p.is_dir() {
            copy_dir(&p, &dest);
        } else {
            std::fs::copy(&p, &dest).unwrap();
        }
    }
}

/// A running service on its own database and blob folder.
struct Instance {
    h: Hiatus,
    clock: ManualClock,
    dir: tempfile::TempDir,
    /// The PostgreSQL database (none on SQLite: the file is in `dir`).
    pg: Option<ScratchDb>,
    keys: Keyring,
}

fn config() -> ServiceConfig {
    ServiceConfig {
        password: PasswordParams::FAST,
        ..Default::default()
    }
}

impl Instance {
    async fn open(
        dir: tempfile::TempDir,
        pg: Option<ScratchDb>,
        keys: Keyring,
        at: Micros,
    ) -> Self {
        let db = match &pg {
            Some(scratch) => scratch.connect(8).await,
            None => {
                ScratchDb::sqlite_at(&dir.path().join("t.db"))
                    .connect(8)
                    .await
            }
        };
        let clock = ManualClock::new(at);
        let h = Hiatus::new(
            db,
            Blobs::local(dir.path().join("files")).unwrap(),
            keys.clone(),
            Arc::new(clock.clone()),
            config(),
        );
        Instance {
            h,
            clock,
            dir,
            pg,
            keys,
        }
    }

    async fn fresh(postgres: bool) -> Self {
        let pg = if postgres {
            Some(ScratchDb::new(hiatus_testkit::Backend::Postgres).await)
        } else {
            None
        };
        let i = Instance::open(
            tempfile::tempdir().unwrap(),
            pg,
            Keyring::new(SecretKey::generate()),
            START,
        )
        .await;
        i.h.db.migrate().await.unwrap();
        i
    }

    /// A copy of the database and the blob folder as they are now. PostgreSQL copies from a
    /// template, which needs every connection to the source closed: the pool is reopened.
    async fn snapshot(&mut self) -> Snapshot {
        let dir = tempfile::tempdir().unwrap();
        let pg = match &self.pg {
            Some(scratch) => {
                self.h.db.close().await;
                let copy = scratch.postgres_copy().await;
                let db = scratch.connect(8).await;
                self.h = Hiatus::new(
                    db,
                    self.h.blobs.clone(),
                    self.keys.clone(),
                    Arc::new(self.clock.clone()),
                    config(),
                );
                Some(copy)
            }
            None => {
                assert!(self.h.db.checkpoint_wal().await.unwrap(), "checkpoint");
                std::fs::copy(self.dir.path().join("t.db"), dir.path().join("t.db")).unwrap();
                None
            }
        };
        copy_dir(&self.dir.path().join("files"), &dir.path().join("files"));
        Snapshot {
            dir,
            pg,
            keys: self.keys.clone(),
            at: self.h.now(),
        }
    }

    async fn finish(self) {
        self.h.db.close().await;
    }
}

/// A frozen copy to start instances from.
struct Snapshot {
    dir: tempfile::TempDir,
    pg: Option<ScratchDb>,
    keys: Keyring,
    at: Micros,
}

impl Snapshot {
    async fn instance(&self) -> Instance {
        let dir = tempfile::tempdir().unwrap();
        copy_dir(self.dir.path(), dir.path());
        let pg = match &self.pg {
            Some(source) => Some(source.postgres_copy().await),
            None => None,
        };
        Instance::open(dir, pg, self.keys.clone(), self.at).await
    }

    async fn finish(self) {}
}

// ---------------------------------------------------------------------------------------------
// Canonical dumps.

fn blob_dir(h: &Hiatus) -> PathBuf {
    h.blobs
        .local_dir()
        .expect("these tests keep files in a local folder")
        .to_path_buf()
}

fn bytes_of(v: &Value) -> Option<Vec<u8>> {
    let s = v.as_str()?;
    let hex = s.strip_prefix("\\x").or_else(|| s.strip_prefix('x'))?;
    (0..hex.len() / 2)
        .map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok())
        .collect()
}

/// Every row of every table (rows sorted) and every blob, with the values that are random
/// per run replaced: the ids of audit events, outbox rows and jobs, the worker that held a
/// job, the pseudonym account's random email hash and fresh encryption (its sealed legal
/// name is compared in the clear), and the sealed address of the erasure-completed mail.
async fn canonical(h: &Hiatus) -> BTreeMap<String, Vec<String>> {
    let mut out = hiatus_testkit::dump_with(&h.db, |t, v| {
        let random = Value::String("<random per run>".into());
        match t {
            "audit_events" | "outbox" => {
                v.insert("id".into(), random);
            }
            "jobs" => {
                v.insert("id".into(), random.clone());
                if v["locked_by"]
                    .as_str()
                    .is_some_and(|w| w.starts_with("worker-"))
                {
                    v.insert("locked_by".into(), random);
                }
            }
            // Sealed with a fresh nonce each run: compared by presence.
            "erasures" => {
                let sealed = !v["notify_enc"].is_null();
                v.insert("notify_enc".into(), Value::Bool(sealed));
            }
            "accounts" if !v["pseudonym"].is_null() => {
                v.insert("email_lookup".into(), random);
                let id = v["id"].as_str().unwrap().to_string();
                let name = match (
                    bytes_of(&v["data_key_wrapped"]),
                    bytes_of(&v["legal_name_enc"]),
                ) {
                    (Some(w), Some(n)) => {
                        let dk = h.keys.unwrap_data_key(&id, Some(&w)).unwrap();
                        Value::String(dk.open_field("accounts", "legal_name", &id, &n).unwrap())
                    }
                    (w, n) => Value::String(format!("key {}, name {}", w.is_some(), n.is_some())),
                };
                v.insert("legal_name_enc".into(), name);
                v.insert("data_key_wrapped".into(), Value::Null);
            }
            // The tombstone's email hash is replaced with random bytes.
            "accounts" if v["state"] == "deleted" => {
                v.insert("email_lookup".into(), random);
            }
            _ => {}
        }
    })
    .await;
    out.insert(
        "(blob folder)".into(),
        files_under(&blob_dir(h))
            .into_iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect(),
    );
    out
}

/// The differences between two dumps, in words (empty when equal).
fn diff(a: &BTreeMap<String, Vec<String>>, b: &BTreeMap<String, Vec<String>>) -> String {
    hiatus_testkit::dump_diff(a, b, ("in the reference", "here"), 2)
}

// ---------------------------------------------------------------------------------------------
// A member with something for most rules.

async fn actor(h: &Hiatus, id: AccountId) -> Actor {
    hiatus_testkit::actor(h, id, "erasure-safety").await
}

/// A small member over eight years (some invoices already past their retention), with more
/// messages than one batch holds twice.
const SMALL: Shape = Shape {
    years: 8,
    contracts: 8,
    clients: 4,
    payments: 12,
    invoices: 10,
    threads: 5,
    messages: 4_100,
    submissions: 5,
    files: 8,
    file_bytes: 64 << 10,
    reviews: 4,
    payouts: 4,
    disputes: 1,
    proposals: 6,
};

/// Stores a file row with its bytes (in plain, as shared files are stored).
async fn store_file(h: &Hiatus, owner: AccountId, name: &str, bytes: &[u8]) {
    let id = hiatus_domain::FileId::new().to_text();
    let key = Blobs::new_key(&id);
    h.blobs.put(&key, bytes).await.unwrap();
    let row = hiatus_store::market::FileRow {
        id,
        owner_id: owner.to_text(),
        kind: "attachment".into(),
        message_id: None,
        submission_id: None,
        blob_key: key,
        name: Some(name.into()),
        name_enc: None,
        content_type: "text/plain".into(),
        size_bytes: bytes.len() as i64,
        sha256: sha256_hex(bytes),
        encrypted: false,
        created_at: h.now(),
    };
    let mut tx = h.db.begin().await.unwrap();
    hiatus_store::market::create_file(&mut tx, &row)
        .await
        .unwrap();
    tx.commit().await.unwrap();
}

async fn schedule(h: &Hiatus, member: AccountId) -> Micros {
    let a = actor(h, member).await;
    h.schedule_deletion(
        &a,
        DeleteRequest {
            password: None,
            reason: ClosureReason::Other,
            detail: Some("moving on".into()),
            confirmation: "delete my account".into(),
        },
    )
    .await
    .unwrap()
    .due_at
}

/// A generated member with a private file, a draft never sent, a phone number, a review they
/// wrote and a ready export archive; deletion scheduled and the grace period over. Returns
/// the instance, a snapshot of that moment and the member.
async fn prepared(postgres: bool, seed: u64) -> (Instance, Snapshot, AccountId) {
    let mut i = Instance::fresh(postgres).await;
    let h = i.h.clone();
    let summary = bulk::load(
        &h.db,
        &h.keys,
        Some(&h.blobs),
        &Plan {
            seed,
            shape: SMALL,
            members: 1,
            background: 20,
            files: true,
            now: START,
            password_hash: "$argon2id$v=19$m=64,t=1,p=1$c2FsdA$aGFzaA".into(),
        },
        &NoProgress,
    )
    .await
    .unwrap();
    let member: AccountId = summary.members[0].id.parse().unwrap();
    let a = actor(&h, member).await;
    h.upload_private_file(
        &a,
        FileKind::Private,
        Upload {
            name: "notes.txt".into(),
            content_type: "text/plain".into(),
            bytes: b"private notes".to_vec(),
        },
    )
    .await
    .unwrap();
    store_file(&h, member, "draft.txt", b"a draft never sent").await;
    h.set_phone(&a, Some("+44 20 7946 0958".into()))
        .await
        .unwrap();
    let contract: String = {
        let mut tx = h.db.read().await.unwrap();
        let c = testing::first_ended_contract_without_review(&mut tx, &member.to_text())
            .await
            .unwrap();
        tx.commit().await.unwrap();
        c
    };
    h.write_review(&a, contract.parse().unwrap(), 5, "A fine client.")
        .await
        .unwrap();
    let ex = h.request_export(&a, None).await.unwrap();
    let built = h.build_export(&ex.id, None).await.unwrap();
    assert!(matches!(built, BuildOutcome::Ready { .. }), "{built:?}");
    let due = schedule(&h, member).await;
    i.clock.set(due + 1);
    let snap = i.snapshot().await;
    (i, snap, member)
}

async fn erase_with_stops(h: &Hiatus, member: AccountId, k: u64) -> u64 {
    let opts = EraseOptions {
        ignore_grace: false,
        stop_after: Some(k),
    };
    for runs in 1..10_000 {
        match h.erase_account(member, HOLDER, &opts).await.unwrap() {
            EraseOutcome::Stopped => continue,
            EraseOutcome::Done => return runs,
            other => panic!("run {runs} with stops after {k}: {other:?}"),
        }
    }
    panic!("erasure never finished")
}

// ---------------------------------------------------------------------------------------------
// 5. Crash safety.

async fn crash_safety(postgres: bool) {
    let (i, snap, member) = prepared(postgres, 41).await;
    // The reference: an uninterrupted run on a twin.
    let twin = snap.instance().await;
    assert_eq!(
        twin.h
            .erase_account(member, HOLDER, &EraseOptions::default())
            .await
            .unwrap(),
        EraseOutcome::Done
    );
    let reference = canonical(&twin.h).await;
    twin.finish().await;

    // What differs from the reference, with the kill patterns that gave it.
    let mut problems: BTreeMap<String, Vec<String>> = BTreeMap::new();
    // Killed right after the first transaction: the account is already unusable.
    let opts = EraseOptions {
        ignore_grace: false,
        stop_after: Some(1),
    };
    assert_eq!(
        i.h.erase_account(member, HOLDER, &opts).await.unwrap(),
        EraseOutcome::Stopped
    );
    let (state, key_gone): (String, i64) = {
        let mut tx = i.h.db.read().await.unwrap();
        let id = member.to_text();
        let state = testing::account_state(&mut tx, &id).await.unwrap();
        let gone =
            testing::account_columns_all_null(&mut tx, &id, &["data_key_wrapped", "email_enc"])
                .await
                .unwrap();
        let r = (state, i64::from(gone));
        tx.commit().await.unwrap();
        r
    };
    assert_eq!(
        (state.as_str(), key_gone),
        ("deleted", 1),
        "after the first transaction"
    );
    // Killed after every transaction: each rerun does one more and is killed again.
    let n = 1 + erase_with_stops(&i.h, member, 1).await;
    assert!(n > 30, "the erasure took {n} transactions");
    let got = canonical(&i.h).await;
    if got != reference {
        problems
            .entry(diff(&reference, &got))
            .or_default()
            .push("after every transaction".into());
    }
    // Killed every k transactions (k = 2..n-1; k = n is an uninterrupted run), each from the
    // moment deletion became due.
    for k in 2..n {
        let inst = snap.instance().await;
        let runs = erase_with_stops(&inst.h, member, k).await;
        assert_eq!(runs, n.div_ceil(k), "k = {k}");
        let got = canonical(&inst.h).await;
        if got != reference {
            problems
                .entry(diff(&reference, &got))
                .or_default()
                .push(format!("every {k}"));
        }
        inst.finish().await;
    }
    eprintln!("crash safety: {n} transactions, every kill point tried");
    snap.finish().await;
    i.finish().await;
    assert!(
        problems.is_empty(),
        "resumed runs ended elsewhere than the uninterrupted run:\n{}",
        problems
            .iter()
            .map(|(d, kills)| format!("killed {}:{d}", kills.join(", ")))
            .collect::<Vec<_>>()
            .join("\n")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_killed_at_every_transaction_ends_like_one_run() {
    crash_safety(false).await;
}
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_killed_at_every_transaction_ends_like_one_run() {
    if hiatus_testkit::skip_postgres() {
        return;
    }
    crash_safety(true).await;
}

// ---------------------------------------------------------------------------------------------
// 6a. Cancelling in the last microsecond against the erasure job.

/// Rows naming the member in the records they share or own (not their history, which
/// cancelling adds to).
async fn footprint(h: &Hiatus, member: AccountId) -> BTreeMap<String, i64> {
    let cols = [
        ("accounts", "id"),
        ("profiles", "account_id"),
        ("contracts", "client_id"),
        ("contracts", "freelancer_id"),
        ("messages", "author_id"),
        ("thread_participants", "account_id"),
        ("files", "owner_id"),
        ("reviews", "author_id"),
        ("reviews", "subject_id"),
        ("submissions", "freelancer_id"),
        ("invoices", "issuer_id"),
        ("payments", "payee_id"),
        ("balances", "account_id"),
        ("proposals", "sender_id"),
    ];
    let mut out = BTreeMap::new();
    let mut tx = h.db.read().await.unwrap();
    for (t, c) in cols {
        let n = testing::count_rows(&mut tx, t, c, &member.to_text())
            .await
            .unwrap();
        out.insert(format!("{t}.{c}"), n);
    }
    tx.commit().await.unwrap();
    out
}

/// Every column (as text) of every table that mentions `old`, with how many rows, except the
/// documented places that keep an erased member's old id.
async fn mentions(h: &Hiatus, old: &str) -> BTreeMap<(String, String), i64> {
    testing::mentions(&h.db, old, Some(old), false)
        .await
        .unwrap()
}

/// A freelancer who worked for `client`: a contract, messages both ways, reviews both ways, a
/// delivered file and a private one.
async fn worker_of(h: &Hiatus, client: &Actor, n: usize) -> (AccountId, hiatus_domain::FileId) {
    let id = h
        .sign_up(
            SignUp {
                email: format!("racer{n}.{}@example.com", uuid::Uuid::new_v4().simple()),
                password: "a long enough password".into(),
                legal_name: format!("Racer {n}"),
                display_name: format!("Racer {n}"),
                kind: hiatus_domain::AccountKind::Freelancer,
                headline: "Racing".into(),
                bio: String::new(),
            },
            hiatus_domain::Role::Member,
        )
        .await
        .unwrap();
    let a = actor(h, id).await;
    let c = h
        .create_contract(client, id, "Race work", hiatus_domain::Currency::USD)
        .await
        .unwrap();
    h.contract_action(&a, c.id, ContractAction::Accept)
        .await
        .unwrap();
    let (t, _) = h
        .start_thread(client, id, "Race", "Ready?", Some(c.id))
        .await
        .unwrap();
    h.post_message(&a, t.id, "Ready.").await.unwrap();
    h.submit_work(
        &a,
        c.id,
        "Done",
        vec![Upload {
            name: "work.txt".into(),
            content_type: "text/plain".into(),
            bytes: format!("work of racer {n}").into_bytes(),
        }],
    )
    .await
    .unwrap();
    h.contract_action(client, c.id, ContractAction::End)
        .await
        .unwrap();
    h.write_review(client, c.id, 5, "Quick.").await.unwrap();
    h.write_review(&a, c.id, 5, "Clear.").await.unwrap();
    let private = h
        .upload_private_file(
            &a,
            FileKind::Private,
            Upload {
                name: "mine.txt".into(),
                content_type: "text/plain".into(),
                bytes: b"mine".to_vec(),
            },
        )
        .await
        .unwrap();
    (id, private.id)
}

async fn cancel_race(postgres: bool) {
    let i = Instance::fresh(postgres).await;
    let h = &i.h;
    let client_id = h
        .sign_up(
            SignUp {
                email: "race.client@example.com".into(),
                password: "a long enough password".into(),
                legal_name: "Client".into(),
                display_name: "Client".into(),
                kind: hiatus_domain::AccountKind::Client,
                headline: String::new(),
                bio: String::new(),
            },
            hiatus_domain::Role::Member,
        )
        .await
        .unwrap();
    let client = actor(h, client_id).await;
    let (mut cancelled, mut erased, mut busy) = (0, 0, 0);
    // Head starts in microseconds (cancel, erase): a tight race first, then either side
    // clearly ahead, so both endings are seen whatever the machine's timing.
    let mut starts: Vec<(u64, u64)> = Vec::new();
    for round in 0..3 {
        for (c, e) in [(0, 0), (200, 0), (0, 200), (500, 0), (0, 500), (1000, 0)] {
            starts.push((c * (round + 1), e * (round + 1)));
        }
    }
    starts.extend([(100_000, 0), (0, 100_000)]);
    for (n, (cancel_after, erase_after)) in starts.into_iter().enumerate() {
        let (member, private) = worker_of(h, &client, n).await;
        let due = schedule(h, member).await;
        let before = footprint(h, member).await;
        let a = actor(h, member).await;
        // The member's clock says one microsecond is left; the executor's says it is due.
        i.clock.set(due - 1);
        let executor = Hiatus::new(
            h.db.clone(),
            h.blobs.clone(),
            i.keys.clone(),
            Arc::new(ManualClock::new(due)),
            config(),
        );
        let (hc, ac) = (h.clone(), a.clone());
        let cancel = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_micros(cancel_after)).await;
            hc.cancel_deletion(&ac).await
        });
        let erase = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_micros(erase_after)).await;
            executor
                .erase_account(member, HOLDER, &EraseOptions::default())
                .await
        });
        let (c, e) = tokio::join!(cancel, erase);
        let (c, e) = (c.unwrap(), e.unwrap().unwrap());
        let mut tx = h.db.read().await.unwrap();
        let state = testing::account_state(&mut tx, &member.to_text())
            .await
            .unwrap();
        let (status, locked_by) = testing::erasure_status(&mut tx, &member.to_text())
            .await
            .unwrap();
        tx.commit().await.unwrap();
        match (&c, &e) {
            (Ok(_), EraseOutcome::NotDue | EraseOutcome::Busy) => {
                cancelled += 1;
                if e == EraseOutcome::Busy {
                    busy += 1;
                }
                assert_eq!(
                    (state.as_str(), status.as_str()),
                    ("active", "cancelled"),
                    "race {n}"
                );
                assert_eq!(footprint(h, member).await, before, "race {n}: data intact");
                let a = actor(h, member).await;
                let me = h.me(&a).await.unwrap();
                assert_eq!(me.phone, None);
                assert_eq!(me.display_name, format!("Racer {n}"));
                let (_, bytes) = h.download_file(&a, private).await.unwrap();
                assert_eq!(bytes, b"mine", "race {n}: the private file is readable");
                if locked_by.is_some() {
                    eprintln!(
                        "race {n}: the cancelled erasure keeps a lease of {locked_by:?} (outcome {e:?})"
                    );
                }
            }
            (Err(_), EraseOutcome::Done) => {
                erased += 1;
                assert_eq!(
                    (state.as_str(), status.as_str()),
                    ("deleted", "done"),
                    "race {n}"
                );
                let left = mentions(h, &member.to_text()).await;
                assert!(
                    left.is_empty(),
                    "race {n}: the old id is still referenced: {left:?}"
                );
                assert!(matches!(
                    h.profile(None, member).await,
                    Err(ServiceError::NotFound(_))
                ));
            }
            other => panic!(
                "race {n}: an inconsistent outcome {other:?} (state {state}, erasure {status})"
            ),
        }
    }
    eprintln!(
        "cancel race: {cancelled} cancelled ({busy} with Busy from the executor), {erased} erased"
    );
    assert!(cancelled > 0 && erased > 0, "both endings were seen");

    // After the due time, cancelling is refused and changes nothing.
    let (member, _) = worker_of(h, &client, 99).await;
    let due = schedule(h, member).await;
    let a = actor(h, member).await;
    for at in [due, due + 1, due + 3_600_000_000] {
        i.clock.set(at);
        match h.cancel_deletion(&a).await {
            Err(e) => assert_eq!(e.code(), "grace_period_ended", "{e:?}"),
            Ok(s) => panic!("cancelled at {at} (due {due}): {s:?}"),
        }
    }
    let mut tx = h.db.read().await.unwrap();
    let state = testing::account_state(&mut tx, &member.to_text())
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(state, "deletion_scheduled");
    i.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_cancel_at_the_last_microsecond_races_the_erasure() {
    cancel_race(false).await;
}
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_cancel_at_the_last_microsecond_races_the_erasure() {
    if hiatus_testkit::skip_postgres() {
        return;
    }
    cancel_race(true).await;
}

// ---------------------------------------------------------------------------------------------
// 6b. Two executors, two workers.

async fn two_executors(postgres: bool) {
    let (i, snap, member) = prepared(postgres, 51).await;
    i.finish().await;
    let mut problems = Vec::new();

    let single = snap.instance().await;
    assert_eq!(
        single
            .h
            .erase_account(member, HOLDER, &EraseOptions::default())
            .await
            .unwrap(),
        EraseOutcome::Done
    );
    let reference = canonical(&single.h).await;
    single.finish().await;
    for round in 0..3 {
        let inst = snap.instance().await;
        let (h1, h2) = (inst.h.clone(), inst.h.clone());
        let a = tokio::spawn(async move {
            h1.erase_account(member, HOLDER, &EraseOptions::default())
                .await
        });
        let b = tokio::spawn(async move {
            for _ in 0..round {
                tokio::task::yield_now().await;
            }
            h2.erase_account(member, "eraser-2", &EraseOptions::default())
                .await
        });
        let (a, b) = tokio::join!(a, b);
        let outcomes = [a.unwrap().unwrap(), b.unwrap().unwrap()];
        assert!(
            outcomes.contains(&EraseOutcome::Done)
                && outcomes
                    .iter()
                    .all(|o| matches!(o, EraseOutcome::Done | EraseOutcome::Busy)),
            "round {round}: {outcomes:?}"
        );
        let got = canonical(&inst.h).await;
        if got != reference {
            problems.push(format!(
                "two executors, round {round}:{}",
                diff(&reference, &got)
            ));
        }
        inst.finish().await;
    }

    let single = snap.instance().await;
    Worker::new(single.h.clone(), Duration::from_millis(5))
        .drain()
        .await
        .unwrap();
    let reference = canonical(&single.h).await;
    single.finish().await;
    for round in 0..2 {
        let inst = snap.instance().await;
        let w1 = Worker::new(inst.h.clone(), Duration::from_millis(5));
        let w2 = Worker::new(inst.h.clone(), Duration::from_millis(5));
        let a = tokio::spawn(async move { w1.drain().await });
        let b = tokio::spawn(async move { w2.drain().await });
        let (a, b) = tokio::join!(a, b);
        a.unwrap().unwrap();
        b.unwrap().unwrap();
        let got = canonical(&inst.h).await;
        if got != reference {
            problems.push(format!(
                "two workers, round {round}:{}",
                diff(&reference, &got)
            ));
        }
        inst.finish().await;
    }
    snap.finish().await;
    assert!(
        problems.is_empty(),
        "{} concurrent run(s) ended elsewhere than a single run:\n{}",
        problems.len(),
        problems.join("\n")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_two_executors_end_like_one() {
    two_executors(false).await;
}
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_two_executors_end_like_one() {
    if hiatus_testkit::skip_postgres() {
        return;
    }
    two_executors(true).await;
}

// ---------------------------------------------------------------------------------------------
// 6c. An export being built while erasure starts.

async fn export_during_erasure(postgres: bool) {
    let (i, snap, member) = prepared(postgres, 61).await;
    i.finish().await;
    let mut outcomes = Vec::new();
    for delay in [0u64, 2, 10, 40, 150] {
        let inst = snap.instance().await;
        let h = inst.h.clone();
        let a = actor(&h, member).await;
        let ex = h.request_export(&a, None).await.unwrap();
        let (hb, he, id) = (h.clone(), h.clone(), ex.id.clone());
        let build = tokio::spawn(async move { hb.build_export(&id, None).await });
        let erase = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(delay)).await;
            he.erase_account(member, HOLDER, &EraseOptions::default())
                .await
        });
        let (b, e) = tokio::join!(build, erase);
        let b = b.expect("the build does not panic");
        assert_eq!(e.unwrap().unwrap(), EraseOutcome::Done, "delay {delay} ms");
        let left: i64 = {
            let mut tx = h.db.read().await.unwrap();
            let n = testing::count_exports_of(&mut tx, &member.to_text(), &ex.id)
                .await
                .unwrap();
            tx.commit().await.unwrap();
            n
        };
        assert_eq!(
            left, 0,
            "delay {delay} ms: the export rows are gone ({b:?})"
        );
        let files: Vec<String> = files_under(&blob_dir(&h))
            .into_keys()
            .filter(|k| k.starts_with("exports"))
            .collect();
        assert!(
            files.is_empty(),
            "delay {delay} ms: archive files remain after erasure: {files:?} (build: {b:?})"
        );
        outcomes.push(match &b {
            Ok(BuildOutcome::Ready { .. }) => "ready before erasure".to_string(),
            Ok(BuildOutcome::Skipped) => "skipped".to_string(),
            Err(e) => format!("error {}: {e:?}", e.code()),
        });
        inst.finish().await;
    }
    eprintln!("builds racing the erasure: {outcomes:?}");
    assert!(
        outcomes.iter().any(|o| o != "ready before erasure"),
        "at least one build overlapped the erasure: {outcomes:?}"
    );
    snap.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_export_built_during_erasure_leaves_nothing() {
    export_during_erasure(false).await;
}
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_export_built_during_erasure_leaves_nothing() {
    if hiatus_testkit::skip_postgres() {
        return;
    }
    export_during_erasure(true).await;
}

// ---------------------------------------------------------------------------------------------
// Partial archives: a build killed mid-way leaves `<id>.zip.partial` (the member's decrypted
// files) beside the archives. Erasure removes it, `verify` reports one that is left, and a
// worker's sweep removes one whose export is gone.

async fn partial_archives(postgres: bool) {
    let (i, snap, member) = prepared(postgres, 67).await;
    snap.finish().await;
    let h = i.h.clone();
    let a = actor(&h, member).await;
    let ex = h.request_export(&a, None).await.unwrap();
    let mut tx = h.db.begin().await.unwrap();
    assert!(
        hiatus_store::exports::start(&mut tx, &ex.id, h.now())
            .await
            .unwrap()
    );
    tx.commit().await.unwrap();
    let partial = h
        .blobs
        .partial_path(&hiatus_service::export::archive_key(&ex.id))
        .unwrap();
    std::fs::write(&partial, b"PK the member's decrypted files").unwrap();
    // A partial archive of a running build is not swept: its build is alive.
    assert_eq!(h.sweep_export_partials().await.unwrap(), 0);

    assert_eq!(
        h.erase_account(member, HOLDER, &EraseOptions::default())
            .await
            .unwrap(),
        EraseOutcome::Done
    );
    assert!(!partial.exists(), "erasure left the partial archive");
    let left: Vec<String> = files_under(&blob_dir(&h))
        .into_keys()
        .filter(|k| k.starts_with("exports"))
        .collect();
    assert!(left.is_empty(), "export files left: {left:?}");
    let problems = h.verify_erasure(member).await.unwrap();
    assert!(problems.is_empty(), "{problems:?}");

    // One planted again (a build killed after the erasure's clean-up): verify reports it.
    std::fs::write(&partial, b"PK the member's decrypted files").unwrap();
    let problems = h.verify_erasure(member).await.unwrap();
    assert!(
        problems.iter().any(|p| p.contains("partial archive")),
        "verify did not see the partial archive: {problems:?}"
    );
    // A finished archive of no export is reported too.
    let orphan = hiatus_service::export::archive_key("0190aaaa-bbbb-7ccc-8ddd-eeeeffff0011");
    h.blobs.put(&orphan, b"PK").await.unwrap();
    let problems = h.verify_erasure(member).await.unwrap();
    assert!(
        problems.iter().any(|p| p.starts_with(&orphan)),
        "verify did not see the archive: {problems:?}"
    );
    h.blobs.delete(&orphan).await.unwrap();
    // The next worker sweep removes the partial archive: its export is gone.
    assert_eq!(h.sweep_export_partials().await.unwrap(), 1);
    assert!(!partial.exists());
    let problems = h.verify_erasure(member).await.unwrap();
    assert!(problems.is_empty(), "{problems:?}");
    i.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_partial_archives_are_erased_swept_and_verified() {
    partial_archives(false).await;
}
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_partial_archives_are_erased_swept_and_verified() {
    if hiatus_testkit::skip_postgres() {
        return;
    }
    partial_archives(true).await;
}

// ---------------------------------------------------------------------------------------------
// Data already partly gone: a data key destroyed before erasure, or a legal name that no
// longer opens. Erasure finishes and its receipt says what could not be kept.

async fn partly_gone(postgres: bool) {
    let (i, snap, member) = prepared(postgres, 71).await;
    i.finish().await;
    for damage in ["data key destroyed", "legal name corrupted"] {
        let inst = snap.instance().await;
        let h = inst.h.clone();
        let mut tx = h.db.begin().await.unwrap();
        let n = if damage == "data key destroyed" {
            testing::tamper_destroy_data_key(&mut tx, &member.to_text())
                .await
                .unwrap()
        } else {
            testing::tamper_legal_name(&mut tx, &member.to_text(), vec![7u8; 48])
                .await
                .unwrap()
        };
        assert_eq!(n, 1);
        tx.commit().await.unwrap();
        assert_eq!(
            h.erase_account(member, HOLDER, &EraseOptions::default())
                .await
                .unwrap_or_else(|e| panic!("{damage}: erasure failed: {e:?}")),
            EraseOutcome::Done,
            "{damage}"
        );
        let receipt = h.erasure_receipt(member).await.unwrap();
        eprintln!("{damage}: {:?}", receipt.not_retained);
        assert!(
            receipt
                .not_retained
                .iter()
                .any(|n| n.what.contains("legal name") && !n.why.is_empty()),
            "{damage}: {:?}",
            receipt.not_retained
        );
        assert!(
            receipt
                .summary
                .iter()
                .any(|s| s.contains("legal name") && s.contains("could not be kept")),
            "{damage}: {:?}",
            receipt.summary
        );
        // Without the key the address for the last mail cannot be read either.
        assert_eq!(
            receipt
                .not_retained
                .iter()
                .any(|n| n.what.contains("address")),
            damage == "data key destroyed",
            "{damage}: {:?}",
            receipt.not_retained
        );
        let problems = h.verify_erasure(member).await.unwrap();
        assert!(problems.is_empty(), "{damage}: {problems:?}");
        inst.finish().await;
    }
    snap.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_erasure_of_partly_gone_data_finishes_and_says_what_was_lost() {
    partly_gone(false).await;
}
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_erasure_of_partly_gone_data_finishes_and_says_what_was_lost() {
    if hiatus_testkit::skip_postgres() {
        return;
    }
    partly_gone(true).await;
}

// ---------------------------------------------------------------------------------------------
// Workers racing an erasure on PostgreSQL: with a 0-day grace period, mail on and a webhook
// subscribed to every event, the member's "deletion scheduled" event is dispatched (mail
// delivery, webhook delivery, cancel link) by one worker while another runs the erasure. Once
// the erasure has begun nothing may attach to the account: `verify` passes every time.

/// A service on its own connection pool, as a separate worker process would have.
async fn racer(
    url: &str,
    mail_dir: &Path,
    blobs: &Path,
    keys: &Keyring,
    clock: &ManualClock,
) -> Hiatus {
    let db = Db::connect(url, &DbOptions { max_connections: 4 })
        .await
        .expect("connect to the scratch database");
    let mut config = config();
    config.deletion_grace = 0;
    config.mail.transport = hiatus_service::mail::MailTransport::Files(mail_dir.to_path_buf());
    config.webhooks.timeout = Duration::from_millis(200);
    // The subscription points at this machine on purpose.
    config.webhooks.allow_private = true;
    Hiatus::new(
        db,
        Blobs::local(blobs).unwrap(),
        keys.clone(),
        Arc::new(clock.clone()),
        config,
    )
}

async fn workers_race_the_erasure(workers: usize, runs: usize) {
    let scratch = ScratchDb::new(hiatus_testkit::Backend::Postgres).await;
    let url = scratch.url();
    let dir = tempfile::tempdir().unwrap();
    let keys = Keyring::new(SecretKey::generate());
    let clock = ManualClock::new(START);
    let mut hs = Vec::new();
    for _ in 0..workers + 1 {
        hs.push(
            racer(
                url,
                &dir.path().join("mail"),
                &dir.path().join("files"),
                &keys,
                &clock,
            )
            .await,
        );
    }
    let api = hs.pop().unwrap();
    api.db.migrate().await.unwrap();
    // Nothing listens on port 9: deliveries fail fast, but their rows are written.
    api.subscribe_webhook(None, "http://127.0.0.1:9/hook", &["*".to_string()])
        .await
        .unwrap();
    let mut failures = Vec::new();
    for run in 0..runs {
        let member = api
            .sign_up(
                SignUp {
                    email: format!("racer{run}-{}@example.test", uuid::Uuid::new_v4().simple()),
                    password: "correct horse battery staple".into(),
                    legal_name: "Race Member".into(),
                    display_name: "Racer".into(),
                    kind: hiatus_domain::AccountKind::Freelancer,
                    headline: String::new(),
                    bio: String::new(),
                },
                hiatus_domain::Role::Member,
            )
            .await
            .unwrap();
        // The workers are already polling when the deletion is scheduled (due at once).
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let mut tasks = tokio::task::JoinSet::new();
        for (i, h) in hs.iter().enumerate() {
            let w = Worker::new(h.clone(), Duration::from_millis(1));
            let stop = stop.clone();
            tasks.spawn(async move {
                // Stagger the workers a little differently every run.
                tokio::time::sleep(Duration::from_micros(((run * 7 + i * 13) % 5) as u64 * 300))
                    .await;
                while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                    if let Err(e) = w.run_once().await {
                        return Err(format!("worker {i}: {e:?}"));
                    }
                }
                // Then until nothing is due.
                w.drain().await.map_err(|e| format!("worker {i}: {e:?}"))?;
                Ok::<(), String>(())
            });
        }
        schedule(&api, member).await;
        // Let the workers race for a while: the erasure job and the dispatch of the events.
        let started = std::time::Instant::now();
        loop {
            let mut tx = api.db.read().await.unwrap();
            let done = hiatus_store::erasures::get(&mut tx, member)
                .await
                .unwrap()
                .is_some_and(|r| r.status == "done");
            tx.commit().await.unwrap();
            if done || started.elapsed() > Duration::from_secs(30) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        stop.store(true, std::sync::atomic::Ordering::SeqCst);
        while let Some(r) = tasks.join_next().await {
            if let Err(e) = r.unwrap() {
                failures.push(format!("run {run}: {e}"));
            }
        }
        let problems = api.verify_erasure(member).await.unwrap();
        if !problems.is_empty() {
            failures.push(format!("run {run}: {problems:?}"));
        }
    }
    eprintln!(
        "{workers} workers racing the erasure on PostgreSQL: {} of {runs} runs failed verify",
        failures.len()
    );
    for h in hs.iter().chain([&api]) {
        h.db.close().await;
    }
    drop(scratch);
    assert!(failures.is_empty(), "{failures:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_two_workers_racing_the_erasure_leave_nothing() {
    if hiatus_testkit::skip_postgres() {
        return;
    }
    workers_race_the_erasure(2, 20).await;
}
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_three_workers_racing_the_erasure_leave_nothing() {
    if hiatus_testkit::skip_postgres() {
        return;
    }
    workers_race_the_erasure(3, 20).await;
}
