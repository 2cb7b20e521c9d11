//! The bulk loader on a real SQLite file: row counts, determinism, encryption that the
//! repositories can open, foreign keys, and file bytes in the blob store.

use hiatus_domain::{AccountId, Email, RegularClientRule};
use hiatus_store::bulk::{self, NoProgress, Plan, Shape, Summary};
use hiatus_store::testing::raw::RawSql;
use hiatus_store::{Blobs, Db, Keyring, SecretKey, StoreError, accounts, args, facts};
use hiatus_testkit::{Backend, ScratchDb};
use std::path::Path;

const NOW: i64 = 1_780_000_000_000_000;

const SMALL: Shape = Shape {
    years: 4,
    contracts: 30,
    clients: 8,
    payments: 90,
    invoices: 60,
    threads: 25,
    messages: 700,
    submissions: 12,
    files: 20,
    file_bytes: 64 * 1024,
    reviews: 10,
    payouts: 12,
    disputes: 2,
    proposals: 15,
};

fn plan(seed: u64, files: bool) -> Plan {
    Plan {
        seed,
        shape: SMALL,
        members: 2,
        background: 300,
        files,
        now: NOW,
        password_hash: "$argon2id$v=19$m=64,t=1,p=1$c2FsdA$aGFzaA".into(),
    }
}

async fn open(dir: &Path) -> Db {
    ScratchDb::sqlite_at(&dir.join("t.db")).migrated(1).await
}

async fn load(dir: &Path, keys: &Keyring, seed: u64, files: bool) -> (Db, Summary) {
    let db = open(dir).await;
    let blobs = Blobs::local(dir.join("files")).unwrap();
    let s = bulk::load(&db, keys, Some(&blobs), &plan(seed, files), &NoProgress)
        .await
        .unwrap();
    (db, s)
}

async fn ids(db: &Db, table: &'static str) -> Vec<String> {
    let sql: &'static str = match table {
        "accounts" => "SELECT id FROM accounts ORDER BY id",
        "contracts" => "SELECT id FROM contracts ORDER BY id",
        "messages" => "SELECT id || ' ' || body FROM messages ORDER BY id",
        "files" => "SELECT id || ' ' || sha256 FROM files ORDER BY id",
        "payments" => "SELECT id || ' ' || milestone_id FROM payments ORDER BY id",
        _ => unreachable!(),
    };
    let mut tx = db.read().await.unwrap();
    let v: Vec<(String,)> = tx.raw_all(sql, args![]).await.unwrap();
    tx.commit().await.unwrap();
    v.into_iter().map(|(s,)| s).collect()
}

#[tokio::test]
async fn loads_counts_and_is_deterministic() {
    let keys = Keyring::new(SecretKey::generate());
    let a = tempfile::tempdir().unwrap();
    let (db, s) = load(a.path(), &keys, 42, true).await;

    // The summary counts what is in the tables.
    for (table, n) in &s.tables {
        let sql = format!("SELECT COUNT(*) FROM {table}");
        let got: i64 = match &db {
            Db::Sqlite(p, _) => sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
                .fetch_one(p)
                .await
                .unwrap(),
            Db::Postgres(_) => unreachable!(),
        };
        assert_eq!(got as u64, *n, "{table}");
    }
    let count = |t: &str| s.tables.iter().find(|(n, _)| *n == t).unwrap().1;
    assert_eq!(count("accounts"), 300 + 2 * (1 + 8));
    assert_eq!(count("contracts"), 150 + 2 * 30);
    assert_eq!(count("files"), 2 * 20);
    assert!(count("reviews") >= 2 * 10 - 3);
    assert_eq!(s.rows, s.tables.iter().map(|(_, n)| n).sum::<u64>());
    assert_eq!(s.files_written, 2 * 20);
    assert_eq!(s.file_bytes, 2 * 64 * 1024);

    // Foreign keys hold, and the connection is back to how it was before the load.
    if let Db::Sqlite(p, _) = &db {
        let broken: Vec<(String, i64, String, i64)> = sqlx::query_as("PRAGMA foreign_key_check")
            .fetch_all(p)
            .await
            .unwrap();
        assert!(broken.is_empty(), "{broken:?}");
        let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
            .fetch_one(p)
            .await
            .unwrap();
        assert_eq!(mode, "wal");
        for (pragma, was) in [("PRAGMA foreign_keys", 1), ("PRAGMA synchronous", 1)] {
            let v: i64 = sqlx::query_scalar(pragma).fetch_one(p).await.unwrap();
            assert_eq!(v, was, "{pragma}");
        }
    }

    // The same seed gives the same ids and text; another seed does not.
    let b = tempfile::tempdir().unwrap();
    let (db2, s2) = load(b.path(), &Keyring::new(SecretKey::generate()), 42, false).await;
    assert_eq!(s.tables, s2.tables);
    for t in ["accounts", "contracts", "messages", "payments"] {
        assert_eq!(ids(&db, t).await, ids(&db2, t).await, "{t}");
    }
    let c = tempfile::tempdir().unwrap();
    let (db3, _) = load(c.path(), &keys, 43, false).await;
    assert_ne!(ids(&db, "accounts").await, ids(&db3, "accounts").await);
    for d in [&db2, &db3] {
        d.close().await;
    }

    // A second load of the same seed is refused before writing anything.
    let blobs = Blobs::local(a.path().join("files")).unwrap();
    let again = bulk::load(&db, &keys, Some(&blobs), &plan(42, true), &NoProgress).await;
    assert!(matches!(again, Err(StoreError::Conflict(_))));

    // File rows point at their bytes.
    let mut tx = db.read().await.unwrap();
    let files: Vec<(String, String, i64)> = tx
        .raw_all("SELECT blob_key, sha256, size_bytes FROM files", args![])
        .await
        .unwrap();
    tx.commit().await.unwrap();
    for (key, sha, size) in files {
        let bytes = blobs.get(&key).await.unwrap();
        assert_eq!(bytes.len() as i64, size);
        assert_eq!(hiatus_testkit::sha256_hex(&bytes), sha);
    }
    db.close().await;
}

#[tokio::test]
async fn generated_members_open_like_signed_up_ones() {
    let keys = Keyring::new(SecretKey::generate());
    let dir = tempfile::tempdir().unwrap();
    let (db, s) = load(dir.path(), &keys, 7, false).await;
    let free = &s.members[0];
    let blocked = &s.members[1];
    assert!(free.free_to_leave && !blocked.free_to_leave);

    let mut tx = db.read().await.unwrap();
    let email = Email::parse(&free.email).unwrap();
    let row = accounts::find_by_email(&mut tx, &keys, &email)
        .await
        .unwrap()
        .expect("found by the email lookup hash");
    assert_eq!(row.id, free.id);
    assert_eq!(
        row.password_hash.as_deref(),
        Some(plan(7, false).password_hash.as_str())
    );
    let id: AccountId = free.id.parse().unwrap();
    let (opened, legal_name) = accounts::contact(&mut tx, &keys, id).await.unwrap();
    assert_eq!(opened.as_str(), free.email);
    assert!(!legal_name.is_empty());
    let profile = accounts::profile(&mut tx, &keys, id).await.unwrap();
    assert!(!profile.display_name.is_empty() && !profile.bio.is_empty());

    // The free member has nothing blocking; the other one does.
    let rule = RegularClientRule::default();
    let f = facts::preflight_facts(&mut tx, id, &rule, false, NOW)
        .await
        .unwrap();
    assert!(f.live_contracts.is_empty() && f.unsettled_payments.is_empty());
    assert!(f.balances.is_empty() && f.unpaid_invoices.is_empty());
    assert!(!f.regular_clients_not_told.is_empty());
    assert_eq!(f.open_proposals.len(), 2);
    let other: AccountId = blocked.id.parse().unwrap();
    let f = facts::preflight_facts(&mut tx, other, &rule, false, NOW)
        .await
        .unwrap();
    assert_eq!(f.live_contracts.len(), 3);
    assert!(!f.unsettled_payments.is_empty() && !f.balances.is_empty());
    tx.commit().await.unwrap();
    db.close().await;
}

async fn foreign_keys(db: &Db) -> i64 {
    let Db::Postgres(p) = db else { unreachable!() };
    sqlx::query_scalar("SELECT COUNT(*) FROM pg_constraint WHERE contype = 'f'")
        .fetch_one(p)
        .await
        .unwrap()
}

#[tokio::test]
async fn postgres_gets_the_same_rows_and_keeps_its_foreign_keys() {
    if hiatus_testkit::skip_postgres() {
        return;
    }
    let keys = Keyring::new(SecretKey::generate());
    let dir = tempfile::tempdir().unwrap();
    let (lite, s_lite) = load(dir.path(), &keys, 5, false).await;
    let scratch = ScratchDb::new(Backend::Postgres).await;
    let pg = scratch.migrated(1).await;
    let before = foreign_keys(&pg).await;
    let s_pg = bulk::load(&pg, &keys, None, &plan(5, false), &NoProgress)
        .await
        .unwrap();
    assert_eq!(s_lite.tables, s_pg.tables);
    for t in ["accounts", "contracts", "messages", "payments"] {
        assert_eq!(ids(&lite, t).await, ids(&pg, t).await, "{t}");
    }
    // The loader suspends foreign keys during the load; they are all back, and validated.
    assert_eq!(foreign_keys(&pg).await, before);
    let mut tx = pg.read().await.unwrap();
    let email = Email::parse(&s_pg.members[0].email).unwrap();
    assert!(
        accounts::find_by_email(&mut tx, &keys, &email)
            .await
            .unwrap()
            .is_some()
    );
    tx.commit().await.unwrap();
    lite.close().await;
    pg.close().await;
}
