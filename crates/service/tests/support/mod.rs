//! Test environment for the service: a `Hiatus` on a fresh SQLite file or a fresh PostgreSQL
//! database, with a manual clock.
#![allow(dead_code)]

pub mod smtp;

use hiatus_domain::{AccountKind, Role};
use hiatus_service::{Actor, Hiatus, ManualClock, PasswordParams, ServiceConfig, SignUp};
use hiatus_store::{Blobs, Db, DbOptions, Keyring, SecretKey, args};
use std::sync::Arc;

pub struct Env {
    pub h: Hiatus,
    pub clock: ManualClock,
    _dir: tempfile::TempDir,
    pg: Option<(String, String)>,
}

pub const START: i64 = 1_800_000_000_000_000;

pub async fn env(postgres: bool) -> Env {
    env_with(postgres, |_| {}).await
}

/// Like [`env`], with the service configuration changed by `configure`.
/// The PostgreSQL server's maintenance database, where test databases are created.
pub fn admin_url() -> String {
    std::env::var("HIATUS_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

pub async fn env_with(postgres: bool, configure: impl FnOnce(&mut ServiceConfig)) -> Env {
    let dir = tempfile::tempdir().unwrap();
    let (db, pg) = if postgres {
        let admin = admin_url();
        let name = format!("hiatus_jobs_{}", uuid::Uuid::new_v4().simple());
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
        (
            Db::connect(&url, &DbOptions { max_connections: 8 })
                .await
                .unwrap(),
            Some((admin, name)),
        )
    } else {
        (
            Db::open_sqlite(&dir.path().join("t.db"), &DbOptions { max_connections: 8 })
                .await
                .unwrap(),
            None,
        )
    };
    db.migrate().await.unwrap();
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
        pg,
    }
}

impl Env {
    /// The folder of the local blob store.
    pub fn files_dir(&self) -> std::path::PathBuf {
        self._dir.path().join("files")
    }

    /// The URL of the PostgreSQL test database (none on SQLite).
    pub fn db_url(&self) -> Option<String> {
        let (admin, name) = self.pg.as_ref()?;
        Some(format!("{}/{name}", &admin[..admin.rfind('/')?]))
    }

    pub async fn finish(self) {
        self.h.db.close().await;
        if let Some((admin, name)) = self.pg {
            let pool = sqlx::PgPool::connect(&admin).await.unwrap();
            let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
                "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
            )))
            .execute(&pool)
            .await;
            pool.close().await;
        }
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
        Actor {
            account: id,
            session_id: String::new(),
            role: Role::Member,
            kind: AccountKind::Freelancer,
            state: hiatus_domain::AccountState::Active,
            reauth_at: self.h.now(),
        }
    }

    pub async fn count(&self, sql: &'static str) -> i64 {
        let mut tx = self.h.db.read().await.unwrap();
        let n: i64 = tx.scalar(sql, args![]).await.unwrap();
        tx.commit().await.unwrap();
        n
    }
}
