//! The erasure policy against the real schema of both backends: the shipped policy matches
//! the migrations exactly, and a column added without a classification is refused.

use hiatus_store::policy::Policy;
use hiatus_store::{Db, DbOptions};

async fn scratch_pg() -> (Db, String, String) {
    let admin = std::env::var("HIATUS_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let name = format!("hiatus_policy_{}", uuid::Uuid::new_v4().simple());
    let pool = sqlx::PgPool::connect(&admin)
        .await
        .expect("PostgreSQL must be reachable at HIATUS_TEST_POSTGRES_URL");
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    let url = match admin.rfind('/') {
        Some(i) => format!("{}/{name}", &admin[..i]),
        None => panic!("HIATUS_TEST_POSTGRES_URL must name a database"),
    };
    let db = Db::connect(&url, &DbOptions { max_connections: 2 })
        .await
        .unwrap();
    (db, admin, name)
}

async fn drop_pg(db: Db, admin: &str, name: &str) {
    db.close().await;
    let pool = sqlx::PgPool::connect(admin).await.unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
    )))
    .execute(&pool)
    .await
    .unwrap();
    pool.close().await;
}

/// Migrates, checks the shipped policy, then adds a column the way a careless migration
/// would and checks that the policy check names it.
async fn check(db: &Db) {
    db.migrate().await.unwrap();
    let policy = Policy::shipped();
    policy.check_db(db).await.unwrap();
    // Every column erasure deletes or redacts is sealed or holds nothing personal.
    policy.check_sealed_db(db).await.unwrap();
    let mut tx = db.begin().await.unwrap();
    tx.exec("ALTER TABLE messages ADD COLUMN mood TEXT", vec![])
        .await
        .unwrap();
    tx.exec(
        "CREATE TABLE stickers (id TEXT PRIMARY KEY, owner_id TEXT)",
        vec![],
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let e = policy.check_db(db).await.unwrap_err().to_string();
    assert!(e.contains("column messages.mood is not classified"), "{e}");
    assert!(
        e.contains("table stickers is not in the erasure policy"),
        "{e}"
    );
    // And a classified column that a migration dropped is named too.
    let mut tx = db.begin().await.unwrap();
    tx.exec("ALTER TABLE reviews DROP COLUMN body", vec![])
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let e = policy.check_db(db).await.unwrap_err().to_string();
    assert!(
        e.contains("classifies reviews.body, which the database does not have"),
        "{e}"
    );
}

#[tokio::test]
async fn sqlite_schema_is_fully_classified() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open_sqlite(&dir.path().join("t.db"), &DbOptions { max_connections: 2 })
        .await
        .unwrap();
    check(&db).await;
    db.close().await;
}

#[tokio::test]
async fn postgres_schema_is_fully_classified() {
    let (db, admin, name) = scratch_pg().await;
    check(&db).await;
    drop_pg(db, &admin, &name).await;
}
