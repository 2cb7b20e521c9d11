//! Test environment for the service: a `Hiatus` on a fresh SQLite file or a fresh PostgreSQL
//! database, with a manual clock.
#![allow(dead_code)]

pub mod smtp;

use hiatus_domain::{AccountKind, Role};
use hiatus_service::{Actor, Hiatus, ManualClock, PasswordParams, ServiceConfig, SignUp};
use hiatus_store::{Blobs, Keyring, SecretKey, Tx};
use hiatus_testkit::testing;
use hiatus_testkit::{Backend, ScratchDb};
use std::sync::Arc;

pub struct Env {
    pub h: Hiatus,
    pub clock: ManualClock,
    _dir: tempfile::TempDir,
    // Declared last: dropped after the pool that holds connections to it.
    db: ScratchDb,
}

pub const START: i64 = 1_800_000_000_000_000;

pub async fn env(postgres: bool) -> Env {
    env_with(postgres, |_| {}).await
}

/// Like [`env`], with the service configuration changed by `configure`.
pub async fn env_with(postgres: bool, configure: impl FnOnce(&mut ServiceConfig)) -> Env {
    let dir = tempfile::tempdir().unwrap();
    // On SQLite the file is `t.db`, next to the blob folder (tests read it raw).
    let scratch = match Backend::postgres_if(postgres) {
        Backend::Sqlite => ScratchDb::sqlite_at(&dir.path().join("t.db")),
        Backend::Postgres => ScratchDb::new(Backend::Postgres).await,
    };
    let db = scratch.migrated(8).await;
    let clock = ManualClock::new(START);
    let mut config = ServiceConfig {
        password: PasswordParams::FAST,
        ..Default::default()
    };
    configure(&mut config);
    let h = Hiatus::new(
        db,
        Blobs::local(dir.path().join("files")).unwrap(),
        Keyring::new(SecretKey::generate()),
        Arc::new(clock.clone()),
        config,
    );
    Env {
        h,
        clock,
        _dir: dir,
        db: scratch,
    }
}

impl Env {
    /// The folder of the local blob store.
    pub fn files_dir(&self) -> std::path::PathBuf {
        self._dir.path().join("files")
    }

    /// The URL of the PostgreSQL test database (none on SQLite).
    pub fn db_url(&self) -> Option<String> {
        self.db.postgres_name().map(|_| self.db.url().to_string())
    }

    pub async fn finish(self) {
        self.h.db.close().await;
    }

    pub async fn freelancer(&self) -> Actor {
        let id = self
            .h
            .sign_up(
                SignUp {
                    email: format!("f{}@example.com", uuid::Uuid::new_v4().simple()),
                    password: "a long enough password".into(),
                    legal_name: "F".into(),
                    display_name: "F".into(),
                    kind: AccountKind::Freelancer,
                    headline: String::new(),
                    bio: String::new(),
                },
                Role::Member,
            )
            .await
            .unwrap();
        hiatus_testkit::member_actor(&self.h, id, AccountKind::Freelancer)
    }

    /// The rows of `table` whose `column` holds `value`.
    pub async fn count_rows(&self, table: &str, column: &str, value: &str) -> i64 {
        self.inspect(async |tx| testing::count_rows(tx, table, column, value).await)
            .await
    }

    /// A read of the database through one of the store's named test queries.
    pub async fn inspect<T>(
        &self,
        query: impl AsyncFnOnce(&mut Tx) -> hiatus_store::StoreResult<T>,
    ) -> T {
        let mut tx = self.h.db.read().await.unwrap();
        let v = query(&mut tx).await.unwrap();
        tx.commit().await.unwrap();
        v
    }
}
