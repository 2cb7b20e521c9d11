//! What erasure leaves behind, on SQLite and on PostgreSQL, for every demo member and for
//! generated members (profiles M and L):
//!
//! - every counterparty still sees, through the use cases, exactly the records they saw
//!   before, with the member replaced by the pseudonym shown in the plan, while the member's
//!   own data is gone and nothing but the documented exceptions refers to the old id;
//! - the plan's counts are what erasure did, and the receipt's retained lines are the
//!   retained records with their dates;
//! - no canary value of the member survives in the database files or the blob folder;
//! - a second run changes nothing.

mod support;

use hiatus_domain::preflight::Intent;
use hiatus_domain::{
    AccountId, AccountKind, ClosureReason, ContractId, Currency, FileKind, FileMeta, ProposalKind,
    Role,
};
use hiatus_service::erasure::{DeleteRequest, DeletionReceipt, EraseOptions, EraseOutcome};
use hiatus_service::market::{ContractAction, Upload};
use hiatus_service::worker::Worker;
use hiatus_service::{Actor, Hiatus, ServiceError, SignUp};
use hiatus_store::bulk::{self, NoProgress, Plan, Shape};
use hiatus_store::policy::Action;
use hiatus_store::{Backend, Blobs, StoreResult, Tx};
use hiatus_testkit::{files_under, sha256_hex, testing};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

// ---------------------------------------------------------------------------------------------
// Helpers shared by the tests of this file.

/// The actor of a member, as after a login with the password entered just now.
async fn actor(h: &Hiatus, id: AccountId) -> Actor {
    hiatus_testkit::actor(h, id, "erasure-outcome").await
}

/// Pages through a listing (`|limit, offset| call`) until it runs dry.
macro_rules! all {
    (|$l:ident, $o:ident| $call:expr) => {{
        let mut out = Vec::new();
        loop {
            let $l: i64 = 500;
            let $o: i64 = out.len() as i64;
            let page = $call.await.unwrap();
            let n = page.len();
            out.extend(page);
            if n < 500 {
                break out;
            }
        }
    }};
}

fn blob_dir(h: &Hiatus) -> PathBuf {
    h.blobs
        .local_dir()
        .expect("these tests keep files in a local folder")
        .to_path_buf()
}

/// The SQLite database file of a test environment (it sits next to the blob folder).
fn sqlite_file(h: &Hiatus) -> PathBuf {
    blob_dir(h).parent().unwrap().join("t.db")
}

/// A read through one of the store's named test queries.
async fn inspect<T>(h: &Hiatus, query: impl AsyncFnOnce(&mut Tx) -> StoreResult<T>) -> T {
    let mut tx = h.db.read().await.unwrap();
    let v = query(&mut tx).await.unwrap();
    tx.commit().await.unwrap();
    v
}

/// The rows of `table` whose `column` holds `value`.
async fn count_rows(h: &Hiatus, table: &str, column: &str, value: &str) -> i64 {
    inspect(h, async |tx| {
        testing::count_rows(tx, table, column, value).await
    })
    .await
}

/// Makes a member ready to leave with direct SQL on the test database, as if every blocker
/// had been resolved: live contracts ended, escrow released, balances and debt zero, payouts
/// settled, unpaid invoices (as client) paid, open disputes resolved.
async fn make_ready_to_leave(h: &Hiatus, member: AccountId) {
    let now = h.now();
    let m = member.to_text();
    let mut tx = h.db.begin().await.unwrap();
    testing::tamper_resolve_every_blocker(&mut tx, &m, now)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let a = actor(h, member).await;
    let pre = h.preflight(&a, Intent::Delete, None).await.unwrap();
    assert!(pre.can_proceed(), "still blocked: {:?}", pre.blockers);
}

/// Schedules the member's deletion the way the API does (recent re-authentication).
async fn schedule(h: &Hiatus, member: AccountId, detail: Option<String>) -> DeletionReceipt {
    let a = actor(h, member).await;
    let r = h
        .schedule_deletion(
            &a,
            DeleteRequest {
                password: None,
                reason: ClosureReason::PrivacyConcerns,
                detail,
                confirmation: "delete my account".into(),
            },
        )
        .await
        .unwrap();
    assert_eq!(r.due_at, h.now() + h.config.deletion_grace);
    assert_eq!(r.plan.due_at, Some(r.due_at));
    r
}

/// Moves the clock past the grace period and lets a worker run what is due.
async fn erase_by_worker(env: &support::Env, receipt: &DeletionReceipt) {
    env.clock.set(receipt.due_at + 1_000_000);
    let ran = Worker::new(env.h.clone(), Duration::from_millis(5))
        .drain()
        .await
        .unwrap();
    assert!(ran >= 1, "the erasure job ran");
    let row = erasure_row(&env.h, receipt.plan.account_id).await;
    assert_eq!(row.status, "done", "{row:?}");
}

async fn erasure_row(h: &Hiatus, member: AccountId) -> hiatus_store::erasures::ErasureRow {
    let mut tx = h.db.read().await.unwrap();
    let r = hiatus_store::erasures::get(&mut tx, member)
        .await
        .unwrap()
        .expect("an erasure row");
    tx.commit().await.unwrap();
    r
}

/// The pseudonym account that carries `label`.
async fn pseudonym_id(h: &Hiatus, label: &str) -> String {
    let rows = inspect(h, async |tx| testing::pseudonym_accounts(tx, label).await).await;
    assert_eq!(rows.len(), 1, "one account carries the pseudonym {label}");
    assert_eq!(rows[0].1, "deleted", "nobody can log in to a pseudonym");
    rows[0].0.clone()
}

/// Every column (as text) of every table that contains `needle`, with how many rows; with
/// `old`, the documented places that keep an erased member's old id are left out.
async fn mentions(h: &Hiatus, needle: &str, old: Option<&str>) -> BTreeMap<(String, String), i64> {
    testing::mentions(&h.db, needle, old, true).await.unwrap()
}

/// Every row of every table (columns by name, blobs as hex), rows sorted: a canonical dump.
async fn dump(h: &Hiatus) -> BTreeMap<String, Vec<String>> {
    hiatus_testkit::dump(&h.db).await
}

/// The differences between two dumps, in words (empty when equal).
fn dump_diff(a: &BTreeMap<String, Vec<String>>, b: &BTreeMap<String, Vec<String>>) -> String {
    hiatus_testkit::dump_diff(a, b, ("before", "after"), 3)
}

/// Adds a file the member sent as a message attachment (no use case uploads those yet).
async fn attach_to_message(h: &Hiatus, member: AccountId, bytes: &[u8]) -> Option<String> {
    let msg = inspect(h, async |tx| {
        testing::first_message_of(tx, &member.to_text()).await
    })
    .await?;
    Some(
        store_file(
            h,
            member,
            FileKind::Attachment,
            Some(msg),
            "attached.txt",
            bytes,
        )
        .await,
    )
}

/// Stores a file row with its bytes (in plain, as shared files are stored).
async fn store_file(
    h: &Hiatus,
    owner: AccountId,
    kind: FileKind,
    message: Option<String>,
    name: &str,
    bytes: &[u8],
) -> String {
    let id = hiatus_domain::FileId::new().to_text();
    let key = Blobs::new_key(&id);
    h.blobs.put(&key, bytes).await.unwrap();
    let row = hiatus_store::market::FileRow {
        id: id.clone(),
        owner_id: owner.to_text(),
        kind: kind.as_str().into(),
        message_id: message,
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
    id
}

fn plan(shape: Shape, seed: u64, files: bool) -> Plan {
    Plan {
        seed,
        shape,
        members: 1,
        background: 50,
        files,
        now: support::START,
        password_hash: "$argon2id$v=19$m=64,t=1,p=1$c2FsdA$aGFzaA".into(),
    }
}

/// Loads a generated member; returns their id and email.
async fn load_generated(h: &Hiatus, shape: Shape, seed: u64, files: bool) -> (AccountId, String) {
    let summary = bulk::load(
        &h.db,
        &h.keys,
        Some(&h.blobs),
        &plan(shape, seed, files),
        &NoProgress,
    )
    .await
    .unwrap();
    let m = &summary.members[0];
    (m.id.parse().unwrap(), m.email.clone())
}

/// The demo members who can delete their account (staff cannot), by email.
async fn demo_members(h: &Hiatus) -> Vec<(AccountId, String)> {
    let mut out = Vec::new();
    for login in hiatus_service::demo::DEMO_LOGINS {
        let id = h.find_account(login.email).await.unwrap();
        if actor(h, id).await.role == Role::Member {
            out.push((id, login.email.to_string()));
        }
    }
    assert_eq!(out.len(), 4, "four demo members, two staff");
    out
}

// ---------------------------------------------------------------------------------------------
// 1. Counterparties keep everything; the member's own data is gone.

/// The fields of each kind of record that name a person.
fn person_fields(category: &str) -> &'static [&'static str] {
    match category {
        "contract" => &["client_id", "freelancer_id"],
        "payment" => &["payer_id", "payee_id"],
        "invoice" => &["issuer_id", "recipient_id"],
        "thread" => &["participants"],
        "message" => &["author_id"],
        "submission" => &["freelancer_id"],
        "file" => &["owner_id"],
        "review" => &["author_id", "subject_id"],
        _ => &[],
    }
}

/// What a member sees through the use cases: every record by `category:id`, as served.
/// `bytes:<file id>` holds the SHA-256 of the bytes a download gives (or why it failed).
type View = BTreeMap<String, Value>;

async fn view(
    h: Hiatus,
    a: Actor,
    bytes: bool,
    attachments: Arc<BTreeMap<String, Vec<String>>>,
) -> View {
    let mut v = View::new();
    let mut put = |cat: &str, id: String, mut val: Value| {
        if cat == "thread"
            && let Some(p) = val.get_mut("participants").and_then(Value::as_array_mut)
        {
            p.sort_by(|x, y| x.as_str().cmp(&y.as_str()));
        }
        v.insert(format!("{cat}:{id}"), val);
    };
    let contracts = all!(|l, o| h.my_contracts(&a, l, o));
    for c in &contracts {
        put("contract", c.id.to_text(), serde_json::to_value(c).unwrap());
    }
    for p in all!(|l, o| h.my_payments(&a, l, o)) {
        put("payment", p.id.to_text(), serde_json::to_value(&p).unwrap());
    }
    for i in all!(|l, o| h.my_invoices(&a, l, o)) {
        put("invoice", i.id.to_text(), serde_json::to_value(&i).unwrap());
    }
    let mut files: Vec<FileMeta> = Vec::new();
    for t in all!(|l, o| h.my_threads(&a, l, o)) {
        put("thread", t.id.to_text(), serde_json::to_value(&t).unwrap());
        for m in all!(|l, o| h.thread_messages(&a, t.id, l, o)) {
            for f in attachments.get(&m.id.to_text()).into_iter().flatten() {
                match h.download_file(&a, f.parse().unwrap()).await {
                    Ok((meta, b)) => {
                        put("bytes", f.clone(), Value::String(sha256_hex(&b)));
                        put("file", f.clone(), serde_json::to_value(&meta).unwrap());
                    }
                    Err(e) => put("file", f.clone(), Value::String(format!("error: {e}"))),
                }
            }
            put("message", m.id.to_text(), serde_json::to_value(&m).unwrap());
        }
    }
    for c in &contracts {
        let id: ContractId = c.id;
        for (s, fs) in h.contract_submissions(&a, id).await.unwrap() {
            put(
                "submission",
                s.id.to_text(),
                serde_json::to_value(&s).unwrap(),
            );
            files.extend(fs);
        }
    }
    for f in files {
        let id = f.id.to_text();
        if bytes {
            let got = match h.download_file(&a, f.id).await {
                Ok((_, b)) => sha256_hex(&b),
                Err(e) => format!("error: {e}"),
            };
            put("bytes", id.clone(), Value::String(got));
        }
        put("file", id, serde_json::to_value(&f).unwrap());
    }
    for r in h.reviews_of(Some(&a), a.account).await.unwrap() {
        put("review", r.id.to_text(), serde_json::to_value(&r).unwrap());
    }
    v
}

/// People who share a contract, a thread or a review with the member.
async fn counterparties(h: &Hiatus, member: AccountId) -> Vec<AccountId> {
    inspect(h, async |tx| {
        testing::counterparties(tx, &member.to_text()).await
    })
    .await
    .into_iter()
    .map(|p| p.parse().unwrap())
    .collect()
}

/// What every counterparty sees, four at a time.
async fn views(
    h: &Hiatus,
    people: &[AccountId],
    bytes: bool,
    attachments: &Arc<BTreeMap<String, Vec<String>>>,
) -> BTreeMap<AccountId, View> {
    let mut out = BTreeMap::new();
    for chunk in people.chunks(4) {
        let mut set = tokio::task::JoinSet::new();
        for p in chunk {
            let a = actor(h, *p).await;
            let (h, att, p) = (h.clone(), attachments.clone(), *p);
            set.spawn(async move { (p, view(h, a, bytes, att).await) });
        }
        while let Some(r) = set.join_next().await {
            let (p, v) = r.unwrap();
            out.insert(p, v);
        }
    }
    out
}

/// `before` as it should look after erasure: every person field that named `member` names
/// `pseudonym`; nothing else changes.
fn expected_after(before: &View, member: &str, pseudonym: &str) -> (View, usize) {
    let mut named = 0;
    let mut out = View::new();
    for (k, v) in before {
        let cat = k.split(':').next().unwrap();
        let mut v = v.clone();
        for f in person_fields(cat) {
            match v.get_mut(*f) {
                Some(Value::String(s)) if s == member => {
                    *s = pseudonym.to_string();
                    named += 1;
                }
                Some(Value::Array(a)) => {
                    for x in a.iter_mut() {
                        if x.as_str() == Some(member) {
                            *x = Value::String(pseudonym.to_string());
                            named += 1;
                        }
                    }
                    a.sort_by(|x, y| x.as_str().cmp(&y.as_str()));
                }
                _ => {}
            }
        }
        out.insert(k.clone(), v);
    }
    (out, named)
}

fn view_diff(expected: &View, got: &View) -> Vec<String> {
    let mut out = Vec::new();
    for (k, v) in expected {
        match got.get(k) {
            None => out.push(format!("{k} disappeared")),
            Some(g) if g != v => out.push(format!("{k} changed: expected {v}, got {g}")),
            _ => {}
        }
    }
    for k in got.keys().filter(|k| !expected.contains_key(*k)) {
        out.push(format!("{k} appeared"));
    }
    out
}

/// Erases `member` and checks what counterparties and the member are left with.
async fn counterparties_keep_everything(
    env: &support::Env,
    member: AccountId,
    email: &str,
    bytes: bool,
    login_token: Option<String>,
) -> Vec<String> {
    let h = &env.h;
    make_ready_to_leave(h, member).await;
    let people = counterparties(h, member).await;
    assert!(!people.is_empty(), "the member has counterparties");
    let attachments: BTreeMap<String, Vec<String>> = {
        let rows = inspect(h, testing::message_attachments).await;
        let mut m: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (msg, f) in rows {
            m.entry(msg).or_default().push(f);
        }
        m
    };
    let attachments = Arc::new(attachments);
    let reviews_about: Vec<String> = h
        .reviews_of(None, member)
        .await
        .map(|r| r.iter().map(|r| r.id.to_text()).collect())
        .unwrap_or_default();
    let before = views(h, &people, bytes, &attachments).await;

    let receipt = schedule(h, member, None).await;
    let label = receipt.plan.pseudonym.clone();
    assert!(label.starts_with("Former "), "{label}");
    let mut problems = Vec::new();
    if receipt.plan.counterparties != people.len() as i64 {
        problems.push(format!(
            "the plan counts {} counterparties, {} people share a contract, thread or review",
            receipt.plan.counterparties,
            people.len()
        ));
    }
    erase_by_worker(env, &receipt).await;
    let pid = pseudonym_id(h, &label).await;
    let m = member.to_text();
    assert_ne!(pid, m);

    // Counterparties: the same records, the member replaced by the pseudonym.
    let after = views(h, &people, bytes, &attachments).await;
    let mut named = 0;
    let mut records = 0;
    let mut lost = 0;
    let mut lost_old = 0;
    let retention_start = plus_years(h.now(), -7);
    for p in &people {
        let (expected, n) = expected_after(&before[p], &m, &pid);
        named += n;
        records += expected.len();
        for (k, v) in &expected {
            if !after[p].contains_key(k) {
                lost += 1;
                let at = v
                    .get("issued_at")
                    .or_else(|| v.get("created_at"))
                    .and_then(Value::as_i64)
                    .unwrap_or(i64::MAX);
                if at <= retention_start {
                    lost_old += 1;
                }
            }
        }
        for d in view_diff(&expected, &after[p]).into_iter().take(3) {
            problems.push(format!("counterparty {p}: {d}"));
        }
    }
    if lost > 0 {
        problems.insert(
            0,
            format!(
                "{lost} record(s) counterparties had disappeared, {lost_old} of them dated more than 7 years before the erasure \
                 (the retention purge ran at once and deleted the counterparties' copies)"
            ),
        );
    }
    if !(named > 0 && records > named / 2) {
        problems.push(format!(
            "the check saw too few records naming the member ({named} fields in {records} records)"
        ));
    }

    // The member: no login, no profile, no trace outside the documented exceptions.
    match h.login(email, "whatever the password was").await {
        Err(ServiceError::BadCredentials) => {}
        other => problems.push(format!("login of the tombstone: {other:?}")),
    }
    if let Some(token) = &login_token
        && !matches!(h.authenticate(token).await, Err(ServiceError::Unauthorized))
    {
        problems.push("the member's login token still works".into());
    }
    let cp = actor(h, people[0]).await;
    for viewer in [None, Some(&cp)] {
        if !matches!(
            h.profile(viewer, member).await,
            Err(ServiceError::NotFound(_))
        ) {
            problems.push("the profile is still served".into());
        }
    }
    let tomb: (String, i64) = {
        let state = inspect(h, async |tx| testing::account_state(tx, &m).await).await;
        let gone = inspect(h, async |tx| {
            let columns = [
                "email_enc",
                "legal_name_enc",
                "phone_enc",
                "data_key_wrapped",
                "password_hash",
                "totp_secret_enc",
            ];
            testing::account_columns_all_null(tx, &m, &columns).await
        })
        .await;
        (state, i64::from(gone))
    };
    if tomb != ("deleted".to_string(), 1) {
        problems.push(format!(
            "the tombstone keeps contact fields or is not deleted: {tomb:?}"
        ));
    }
    // Reviews others wrote about the member stay with their authors, about the pseudonym,
    // and no public profile shows them.
    for r in &reviews_about {
        let n = inspect(h, async |tx| {
            testing::count_reviews_about(tx, r, &pid).await
        })
        .await;
        if n != 1 {
            problems.push(format!(
                "review {r} about the member is not kept about the pseudonym"
            ));
        }
    }
    let pseudonym: AccountId = pid.parse().unwrap();
    for viewer in [None, Some(&cp)] {
        if !matches!(
            h.reviews_of(viewer, pseudonym).await,
            Err(ServiceError::NotFound(_))
        ) {
            problems.push("the pseudonym's reviews are on a public profile".into());
        }
    }
    let left = mentions(h, &m, Some(&m)).await;
    if !left.is_empty() {
        let jobs: Vec<(String, String, String)> =
            { inspect(h, async |tx| testing::jobs_naming(tx, &m).await).await };
        problems.push(format!(
            "the old id is still referenced outside the documented exceptions (table, column → rows): {left:?}; jobs naming it: {jobs:?}"
        ));
    }
    let simple = member.0.simple().to_string();
    let left = mentions(h, &simple, None).await;
    if !left.is_empty() {
        problems.push(format!(
            "the old id (without hyphens) is still referenced: {left:?}"
        ));
    }
    let row = erasure_row(h, member).await;
    if row.pseudonym.is_some() || row.pseudonym_id.is_some() {
        problems.push(format!(
            "the erasure row still links the pseudonym: {row:?}"
        ));
    }
    let label_at = mentions(h, &label, None).await;
    if label_at != BTreeMap::from([(("accounts".to_string(), "pseudonym".to_string()), 1)]) {
        problems.push(format!(
            "the pseudonym label should be on the pseudonym account only, it is at {label_at:?}"
        ));
    }
    let tomb_label = i64::from(
        inspect(h, async |tx| {
            testing::account_columns_all_null(tx, &m, &["pseudonym"]).await
        })
        .await,
    );
    if tomb_label != 1 {
        problems.push("the tombstone carries a pseudonym".into());
    }
    problems
        .into_iter()
        .map(|p| format!("after erasing {email}: {p}"))
        .collect()
}

#[track_caller]
fn no_problems(problems: Vec<String>) {
    assert!(
        problems.is_empty(),
        "{} problem(s):\n{}",
        problems.len(),
        problems.join("\n")
    );
}

async fn demo_counterparties(postgres: bool) {
    let members = {
        let env = support::env(postgres).await;
        let h = &env.h;
        assert!(h.load_demo().await.unwrap());
        let m = demo_members(h).await;
        // Staff accounts are removed by an operator, not deleted this way.
        for login in &hiatus_service::demo::DEMO_LOGINS[4..] {
            let a = actor(h, h.find_account(login.email).await.unwrap()).await;
            let r = h
                .schedule_deletion(
                    &a,
                    DeleteRequest {
                        password: None,
                        reason: ClosureReason::Other,
                        detail: None,
                        confirmation: "delete my account".into(),
                    },
                )
                .await;
            assert_eq!(
                r.err().map(|e| e.code()),
                Some("staff_account"),
                "{}",
                login.email
            );
        }
        env.finish().await;
        m
    };
    let mut problems = Vec::new();
    for (i, (_, email)) in members.iter().enumerate() {
        // A fresh marketplace for each member, so each erasure starts from the demo data.
        let env = support::env(postgres).await;
        assert!(env.h.load_demo().await.unwrap());
        let id = env.h.find_account(email).await.unwrap();
        attach_to_message(
            &env.h,
            id,
            format!("attachment {i} sent by {email}").as_bytes(),
        )
        .await
        .expect("every demo member wrote a message");
        let token = env
            .h
            .login(email, hiatus_service::demo::DEMO_PASSWORD)
            .await
            .unwrap()
            .token;
        problems.extend(counterparties_keep_everything(&env, id, email, true, Some(token)).await);
        env.finish().await;
    }
    no_problems(problems);
}

async fn generated_counterparties(postgres: bool, shape: Shape, seed: u64, files: bool) {
    let env = support::env(postgres).await;
    let (id, email) = load_generated(&env.h, shape, seed, files).await;
    let problems = counterparties_keep_everything(&env, id, &email, files, None).await;
    env.finish().await;
    no_problems(problems);
}

#[tokio::test]
async fn sqlite_counterparties_keep_everything_demo() {
    demo_counterparties(false).await;
}
#[tokio::test]
async fn postgres_counterparties_keep_everything_demo() {
    if hiatus_testkit::skip_postgres() {
        return;
    }
    demo_counterparties(true).await;
}
#[tokio::test]
async fn sqlite_counterparties_keep_everything_generated_m() {
    generated_counterparties(false, Shape::M, 21, true).await;
}
#[tokio::test]
async fn postgres_counterparties_keep_everything_generated_m() {
    if hiatus_testkit::skip_postgres() {
        return;
    }
    generated_counterparties(true, Shape::M, 22, true).await;
}
#[tokio::test]
async fn sqlite_counterparties_keep_everything_generated_l() {
    generated_counterparties(false, Shape::L, 23, false).await;
}
#[tokio::test]
async fn postgres_counterparties_keep_everything_generated_l() {
    if hiatus_testkit::skip_postgres() {
        return;
    }
    generated_counterparties(true, Shape::L, 24, false).await;
}

// ---------------------------------------------------------------------------------------------
// 2. The plan says what erasure does; the receipt says what it kept.

/// The key that tells a table's rows apart.
async fn keys_of(h: &Hiatus, table: &str) -> BTreeSet<String> {
    inspect(h, async |tx| testing::row_keys(tx, table).await)
        .await
        .into_iter()
        .collect()
}

/// `t` plus calendar years, in UTC.
fn plus_years(t: i64, years: i64) -> i64 {
    let utc = jiff::tz::Offset::UTC;
    let civil = utc.to_datetime(jiff::Timestamp::from_microsecond(t).unwrap());
    let later = civil.checked_add(jiff::Span::new().years(years)).unwrap();
    utc.to_timestamp(later).unwrap().as_microsecond()
}

/// Erases `member` (through the executor) and compares the plan shown at scheduling with
/// what happened, and the receipt with what was kept. Returns the mismatches in words.
async fn plan_and_receipt(env: &support::Env, member: AccountId, who: &str) -> Vec<String> {
    let h = &env.h;
    make_ready_to_leave(h, member).await;
    let receipt = schedule(h, member, None).await;
    let plan = &receipt.plan;
    let m = member.to_text();
    let tables: BTreeSet<String> = plan.items.iter().map(|i| i.table.clone()).collect();
    let mut before = BTreeMap::new();
    for t in &tables {
        before.insert(t.clone(), keys_of(h, t).await);
    }
    // The invoices the member issued, for the retention date the receipt must give.
    let latest_issued: Option<i64> = {
        inspect(h, async |tx| {
            testing::latest_date(tx, "invoices", "issued_at", "issuer_id", &m).await
        })
        .await
    };
    env.clock.set(receipt.due_at + 1);
    let out = h
        .erase_account(member, "plan-check", &EraseOptions::default())
        .await
        .unwrap();
    assert_eq!(out, EraseOutcome::Done);
    let pid = pseudonym_id(h, &plan.pseudonym).await;
    let mut problems = Vec::new();

    // Per table and action: the plan's counts against the rows erasure touched.
    let rules = h.erasure_rules();
    let mut planned: BTreeMap<(String, String), (Action, i64)> = BTreeMap::new();
    for i in &plan.items {
        planned
            .entry((i.table.clone(), format!("{:?}", i.action)))
            .or_insert((i.action, 0))
            .1 += i.count;
    }
    for ((table, _), (action, n)) in &planned {
        let actual = match action {
            Action::Delete => {
                let after = keys_of(h, table).await;
                before[table].difference(&after).count() as i64
            }
            Action::Pseudonymize | Action::Retain => {
                let cols: BTreeSet<&str> = rules
                    .iter()
                    .filter(|r| &r.rule.table == table && r.rule.action == *action)
                    .filter_map(|r| r.rule.member.as_deref())
                    .collect();
                let mut sum = 0;
                for c in cols {
                    sum += count_rows(h, table, c, &pid).await;
                }
                sum
            }
            Action::Redact => {
                inspect(h, async |tx| {
                    testing::count_redacted_audit_rows(tx, table, &pid).await
                })
                .await
            }
        };
        if actual != *n {
            let items: Vec<String> = plan
                .items
                .iter()
                .filter(|i| &i.table == table && i.action == *action)
                .map(|i| format!("\u{201c}{}\u{201d}: {}", i.what, i.count))
                .collect();
            problems.push(format!(
                "{who}: {table} {action:?}: the plan says {n} ({}), erasure changed {actual} row(s)",
                items.join(", ")
            ));
        }
    }

    // The receipt: one line per kind of retained record, with its count and date.
    let got = h.erasure_receipt(member).await.unwrap();
    let mut expected = Vec::new();
    let mut seen = BTreeSet::new();
    for r in rules {
        let (Some(spec), Some(ret)) = (&r.rule.retain, &r.retention) else {
            continue;
        };
        let col = r.rule.member.as_deref().unwrap();
        let t = &r.rule.table;
        let n = count_rows(h, t, col, &pid).await;
        if n == 0 || !seen.insert(r.rule.noun.clone()) {
            continue;
        }
        let latest: i64 = {
            let v = inspect(h, async |tx| {
                testing::latest_date(tx, t, &spec.from, col, &pid).await
            })
            .await;
            v.unwrap()
        };
        expected.push((
            r.rule.noun.clone(),
            n,
            plus_years(latest, ret.years as i64),
            ret.basis.clone(),
        ));
    }
    let lines: Vec<(String, i64, i64, String)> = got
        .retained
        .iter()
        .map(|l| (l.what.clone(), l.count, l.until, l.basis.clone()))
        .collect();
    if lines != expected {
        problems.push(format!(
            "{who}: the receipt's retained lines {lines:?} are not the retained records {expected:?}"
        ));
    }
    if let Some(issued) = latest_issued {
        let line = got
            .retained
            .iter()
            .find(|l| l.what == "invoices you issued");
        match line {
            Some(l) if l.until == plus_years(issued, 7) => {}
            other => problems.push(format!(
                "{who}: invoices issued until {} expected, receipt says {other:?}",
                plus_years(issued, 7)
            )),
        }
    }
    // The plan promised the same dates.
    for l in &got.retained {
        let promised = plan
            .items
            .iter()
            .find(|i| i.what == l.what && i.action == Action::Retain)
            .and_then(|i| i.retained_until);
        if promised != Some(l.until) {
            problems.push(format!(
                "{who}: {}: the plan promised {promised:?}, the receipt says {}",
                l.what, l.until
            ));
        }
    }
    // The receipt tells the plan in the past tense: the erasure's date first, then a sentence
    // for every kind the plan told, retained kinds with their dates; the pseudonym is not
    // named (nothing links it to the person any more).
    assert!(
        got.summary[0].starts_with("Your account was erased on "),
        "{:?}",
        got.summary
    );
    let told: Vec<&hiatus_service::erasure::PlanItem> = plan
        .items
        .iter()
        .filter(|i| i.count > 0 && i.in_summary && i.action != Action::Redact)
        .collect();
    let people = usize::from(plan.counterparties > 0);
    // …and last, when copies of the database (backups, dead rows) become unreadable too.
    assert_eq!(
        got.summary.len(),
        1 + people + told.len() + 1,
        "{:?}",
        got.summary
    );
    let copies = got.summary.last().unwrap();
    let gone_at = got
        .unreadable_everywhere_at
        .expect("the receipt dates the copies");
    assert!(
        copies.starts_with("Your personal data is gone from the live system now")
            && copies.contains(&format!(
                "gone from backups and database files on {}",
                hiatus_service::clock::format_date(gone_at)
            )),
        "{copies}"
    );
    for l in got
        .retained
        .iter()
        .filter(|l| told.iter().any(|i| i.what == l.what))
    {
        let date = hiatus_service::clock::format_date(l.until);
        let one = told
            .iter()
            .find(|i| i.what == l.what)
            .map(|i| i.what_one.clone())
            .unwrap_or_default();
        let named = |s: &String| s.contains(&l.what) || (l.count == 1 && s.contains(&one));
        assert!(
            got.summary.iter().any(|s| named(s) && s.contains(&date)),
            "{who}: the receipt does not tell {} until {date}: {:?}",
            l.what,
            got.summary
        );
    }
    assert!(
        !got.summary.iter().any(|s| s.contains(&plan.pseudonym)),
        "the receipt names the pseudonym: {:?}",
        got.summary
    );
    problems
}

async fn plan_and_receipt_all(postgres: bool) {
    let mut problems = Vec::new();
    // Every demo member, each on a fresh demo marketplace; Ben also keeps a private file and
    // a draft attachment he never sent, and sent a proposal.
    let emails: Vec<String> = hiatus_service::demo::DEMO_LOGINS[..4]
        .iter()
        .map(|l| l.email.to_string())
        .collect();
    for email in &emails {
        let env = support::env(postgres).await;
        assert!(env.h.load_demo().await.unwrap());
        let id = env.h.find_account(email).await.unwrap();
        if email.starts_with("ben") {
            let h = &env.h;
            let a = actor(h, id).await;
            h.upload_private_file(
                &a,
                FileKind::Private,
                Upload {
                    name: "draft.txt".into(),
                    content_type: "text/plain".into(),
                    bytes: b"a draft".to_vec(),
                },
            )
            .await
            .unwrap();
            store_file(
                h,
                id,
                FileKind::Attachment,
                None,
                "unsent.txt",
                b"never sent",
            )
            .await;
            let dev = h.find_account("dev@demo.hiatus.test").await.unwrap();
            h.send_proposal(
                &a,
                ProposalKind::Proposal,
                dev,
                None,
                "Shall we work again?",
            )
            .await
            .unwrap();
        }
        problems.extend(plan_and_receipt(&env, id, email).await);
        env.finish().await;
    }
    let env = support::env(postgres).await;
    let (id, _) = load_generated(&env.h, Shape::M, 31, false).await;
    problems.extend(plan_and_receipt(&env, id, "generated M").await);
    env.finish().await;
    assert!(
        problems.is_empty(),
        "{} mismatch(es) between the plan, the receipt and what erasure did:\n{}",
        problems.len(),
        problems.join("\n")
    );
}

#[tokio::test]
async fn sqlite_plan_and_receipt_tell_the_truth() {
    plan_and_receipt_all(false).await;
}
#[tokio::test]
async fn postgres_plan_and_receipt_tell_the_truth() {
    if hiatus_testkit::skip_postgres() {
        return;
    }
    plan_and_receipt_all(true).await;
}

// ---------------------------------------------------------------------------------------------
// 3. Residue: nothing of the member's survives in the database files or the blob folder.

struct Canaries {
    gone: Vec<(&'static str, String)>,
    kept: String,
}

fn canaries() -> Canaries {
    let r = uuid::Uuid::new_v4().simple().to_string();
    let digits: String = r
        .bytes()
        .map(|b| char::from(b'0' + b % 10))
        .take(9)
        .collect();
    Canaries {
        gone: vec![
            ("email", format!("canary.email.{r}@example.com")),
            ("display name", format!("CanaryDisplay{r}")),
            ("legal name", format!("CanaryLegal{r}")),
            ("phone", format!("+7 {digits}")),
            ("bio", format!("CanaryBio{r}")),
            ("headline", format!("CanaryHeadline{r}")),
            ("private file bytes", format!("CanaryPrivateBytes{r}")),
            ("private file name", format!("CanaryPrivateName{r}.txt")),
            ("unsent attachment bytes", format!("CanaryUnsentBytes{r}")),
            ("unsent attachment name", format!("CanaryUnsentName{r}.txt")),
            ("proposal cover letter", format!("CanaryCoverLetter{r}")),
            ("deletion detail", format!("CanaryDeletionDetail{r}")),
        ],
        kept: format!("CanaryKeptMessage{r}"),
    }
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    let s = s.strip_prefix("\\x")?;
    (0..s.len() / 2)
        .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).ok())
        .collect()
}

/// Where each canary appears: raw bytes of the SQLite files, every value of every row
/// (PostgreSQL byte strings decoded), every file in the blob folder.
async fn find_canaries(h: &Hiatus, needles: &[String]) -> BTreeMap<String, Vec<String>> {
    let mut places: Vec<(String, Vec<u8>)> = Vec::new();
    if h.db.backend() == Backend::Sqlite {
        let db = sqlite_file(h);
        for suffix in ["", "-wal"] {
            let p = PathBuf::from(format!("{}{suffix}", db.display()));
            if let Ok(b) = std::fs::read(&p) {
                places.push((format!("database file t.db{suffix}"), b));
            }
        }
    }
    for (t, rows) in dump(h).await {
        for row in rows {
            let v: BTreeMap<String, Value> = serde_json::from_str(&row).unwrap();
            for (c, val) in v {
                if let Value::String(s) = val {
                    let bytes = unhex(&s).unwrap_or_else(|| s.into_bytes());
                    places.push((format!("row of {t}.{c}"), bytes));
                }
            }
        }
    }
    let dir = blob_dir(h);
    for rel in files_under(&dir).keys() {
        places.push((format!("blob {rel}"), std::fs::read(dir.join(rel)).unwrap()));
    }
    let mut found: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for n in needles {
        for (where_, bytes) in &places {
            if contains(bytes, n.as_bytes()) {
                found.entry(n.clone()).or_default().push(where_.clone());
            }
        }
    }
    found
}

async fn residue(postgres: bool) {
    let env = support::env(postgres).await;
    let h = &env.h;
    let c = canaries();
    let canary = |what: &str| c.gone.iter().find(|(w, _)| *w == what).unwrap().1.clone();
    let sign_up = |email: String, name: String, legal: String, kind, headline, bio| SignUp {
        email,
        password: "a long enough password".into(),
        legal_name: legal,
        display_name: name,
        kind,
        headline,
        bio,
    };
    let member = h
        .sign_up(
            sign_up(
                canary("email"),
                canary("display name"),
                canary("legal name"),
                AccountKind::Freelancer,
                canary("headline"),
                canary("bio"),
            ),
            Role::Member,
        )
        .await
        .unwrap();
    let client = h
        .sign_up(
            sign_up(
                "client.of.the.canary@example.com".into(),
                "Client".into(),
                "Client Person".into(),
                AccountKind::Client,
                String::new(),
                String::new(),
            ),
            Role::Member,
        )
        .await
        .unwrap();
    let ma = actor(h, member).await;
    let ca = actor(h, client).await;
    h.set_phone(&ma, Some(canary("phone"))).await.unwrap();
    h.upload_private_file(
        &ma,
        FileKind::Private,
        Upload {
            name: canary("private file name"),
            content_type: "text/plain".into(),
            bytes: canary("private file bytes").into_bytes(),
        },
    )
    .await
    .unwrap();
    store_file(
        h,
        member,
        FileKind::Attachment,
        None,
        &canary("unsent attachment name"),
        canary("unsent attachment bytes").as_bytes(),
    )
    .await;
    h.send_proposal(
        &ma,
        ProposalKind::Proposal,
        client,
        None,
        &canary("proposal cover letter"),
    )
    .await
    .unwrap();
    let contract = h
        .create_contract(&ca, member, "Logo work", Currency::USD)
        .await
        .unwrap();
    h.contract_action(&ma, contract.id, ContractAction::Accept)
        .await
        .unwrap();
    let (t, _) = h
        .start_thread(&ca, member, "Logo", "Hello there", Some(contract.id))
        .await
        .unwrap();
    h.post_message(&ma, t.id, &c.kept).await.unwrap();
    h.contract_action(&ca, contract.id, ContractAction::End)
        .await
        .unwrap();
    h.write_review(&ca, contract.id, 4, "A review the client keeps.")
        .await
        .unwrap();
    // An export archive of the member, ready for download when erasure comes.
    let ex = h.request_export(&ma, None).await.unwrap();
    let built = h.build_export(&ex.id, None).await.unwrap();
    assert!(matches!(
        built,
        hiatus_service::export::BuildOutcome::Ready { .. }
    ));

    let receipt = schedule(h, member, Some(canary("deletion detail"))).await;
    // Before erasure the scan finds the values stored in plain (the others are sealed,
    // cover letters and the free text of a closure reason among them).
    let plain = ["unsent attachment bytes", "unsent attachment name"];
    let sealed = ["proposal cover letter", "deletion detail"];
    let found = find_canaries(h, &sealed.map(canary)).await;
    assert!(found.is_empty(), "sealed values in plain: {found:?}");
    let found = find_canaries(h, &plain.map(canary)).await;
    for what in plain {
        assert!(
            found.contains_key(&canary(what)),
            "before erasure the scan finds the {what}"
        );
    }
    env.clock.set(receipt.due_at + 1);
    assert_eq!(
        h.erase_account(member, "residue", &EraseOptions::default())
            .await
            .unwrap(),
        EraseOutcome::Done
    );
    // The scan proves itself on a record that is kept.
    let mut needles: Vec<String> = c.gone.iter().map(|(_, v)| v.clone()).collect();
    needles.push(c.kept.clone());
    let found = find_canaries(h, &needles).await;
    assert!(
        found.contains_key(&c.kept),
        "the scan finds the message the member wrote, which the client keeps"
    );
    if postgres {
        assert!(
            found[&c.kept]
                .iter()
                .any(|w| w.starts_with("row of messages"))
        );
    } else {
        assert!(
            found[&c.kept]
                .iter()
                .any(|w| w.starts_with("database file"))
        );
    }
    let left: Vec<String> = c
        .gone
        .iter()
        .filter_map(|(what, v)| found.get(v).map(|w| format!("{what} ({v}) in {w:?}")))
        .collect();
    assert!(left.is_empty(), "erased values survive: {left:?}");
    let archives: Vec<String> = files_under(&blob_dir(h))
        .into_keys()
        .filter(|k| k.starts_with("exports"))
        .collect();
    assert!(archives.is_empty(), "export archives remain: {archives:?}");
    env.finish().await;
}

#[tokio::test]
async fn sqlite_no_residue_in_files() {
    residue(false).await;
}
#[tokio::test]
async fn postgres_no_residue_in_rows_or_files() {
    if hiatus_testkit::skip_postgres() {
        return;
    }
    residue(true).await;
}

// ---------------------------------------------------------------------------------------------
// 4. A second run after Done changes nothing.

async fn idempotent(postgres: bool) {
    let env = support::env(postgres).await;
    let h = &env.h;
    assert!(h.load_demo().await.unwrap());
    let ben = h.find_account("ben@demo.hiatus.test").await.unwrap();
    attach_to_message(h, ben, b"sent with a message")
        .await
        .unwrap();
    let receipt = schedule(h, ben, None).await;
    erase_by_worker(&env, &receipt).await;
    let db1 = dump(h).await;
    let files1 = files_under(&blob_dir(h));
    for opts in [
        EraseOptions::default(),
        EraseOptions {
            ignore_grace: true,
            stop_after: None,
        },
        EraseOptions {
            ignore_grace: false,
            stop_after: Some(1),
        },
    ] {
        assert_eq!(
            h.erase_account(ben, "second-run", &opts).await.unwrap(),
            EraseOutcome::Done
        );
    }
    assert_eq!(h.erase_due("second-run").await.unwrap(), 0);
    Worker::new(h.clone(), Duration::from_millis(5))
        .drain()
        .await
        .unwrap();
    let db2 = dump(h).await;
    assert!(
        db1 == db2,
        "a second run changed the database:{}",
        dump_diff(&db1, &db2)
    );
    assert_eq!(
        files1,
        files_under(&blob_dir(h)),
        "a second run changed the blob folder"
    );
    env.finish().await;
}

#[tokio::test]
async fn sqlite_second_run_changes_nothing() {
    idempotent(false).await;
}
#[tokio::test]
async fn postgres_second_run_changes_nothing() {
    if hiatus_testkit::skip_postgres() {
        return;
    }
    idempotent(true).await;
}
