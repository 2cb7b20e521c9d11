//! The erasure policy against the real schema of both backends: the shipped policy matches
//! the migrations exactly, and a column added without a classification is refused.

use hiatus_store::Db;
use hiatus_store::policy::Policy;
use hiatus_store::testing::raw::RawSql;
use hiatus_testkit::{Backend, ScratchDb};

/// Migrates, checks the shipped policy, then adds a column the way a careless migration
/// would and checks that the policy check names it.
async fn check(db: &Db) {
    db.migrate().await.unwrap();
    let policy = Policy::shipped();
    policy.check_db(db).await.unwrap();
    // Every column erasure deletes or redacts is sealed or holds nothing personal.
    policy.check_sealed_db(db).await.unwrap();
    let mut tx = db.begin().await.unwrap();
    tx.raw_exec("ALTER TABLE messages ADD COLUMN mood TEXT", vec![])
        .await
        .unwrap();
    tx.raw_exec(
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
    tx.raw_exec("ALTER TABLE reviews DROP COLUMN body", vec![])
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let e = policy.check_db(db).await.unwrap_err().to_string();
    assert!(
        e.contains("classifies reviews.body, which the database does not have"),
        "{e}"
    );
}

async fn schema_is_fully_classified(backend: Backend) {
    let scratch = ScratchDb::new(backend).await;
    let db = scratch.connect(2).await;
    check(&db).await;
    db.close().await;
}

hiatus_testkit::on_both!(schema_is_fully_classified);
