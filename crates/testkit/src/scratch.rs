//! Scratch databases: a SQLite file in a temporary folder, or a uniquely named PostgreSQL
//! database on the server of `HIATUS_TEST_POSTGRES_URL` (its query string kept), dropped when
//! the [`ScratchDb`] goes, also when the test panicked.

use crate::Backend;
use hiatus_store::{Db, DbOptions};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The variable naming the PostgreSQL server's maintenance database.
pub const POSTGRES_URL_VAR: &str = "HIATUS_TEST_POSTGRES_URL";

/// The URL of the PostgreSQL server's maintenance database, where scratch databases are
/// created. Its absence fails the test, loudly: the full tier runs on PostgreSQL.
pub fn admin_url() -> String {
    match std::env::var(POSTGRES_URL_VAR) {
        Ok(url) if !url.is_empty() => url,
        _ => panic!(
            "{POSTGRES_URL_VAR} is not set, and this test runs on PostgreSQL. Run the suite \
             with `scripts/test` (it starts PostgreSQL and sets the variable), set it yourself \
             (e.g. postgres://postgres@127.0.0.1:5432/postgres), or run the fast tier without \
             PostgreSQL: `scripts/test --fast` or `{}=fast cargo test`.",
            crate::TIER_VAR
        ),
    }
}

/// `url` with its database name replaced by `name`, keeping its query string.
pub fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let scheme_end = base.find("://").map(|i| i + 3).unwrap_or(0);
    let host_part = match base[scheme_end..].find('/') {
        Some(i) => &base[..scheme_end + i],
        None => base,
    };
    match query {
        Some(q) => format!("{host_part}/{name}?{q}"),
        None => format!("{host_part}/{name}"),
    }
}

/// Drops the PostgreSQL database when it goes out of scope.
struct PgDatabase {
    admin_url: String,
    name: String,
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        let admin_url = self.admin_url.clone();
        let name = self.name.clone();
        // Drop cannot await, and the test's runtime may be unwinding: use a runtime of our own
        // on a thread of our own.
        let done = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime for dropping the test database");
            rt.block_on(async move {
                let _ = hiatus_store::testing::drop_database(&admin_url, &name).await;
            });
        });
        let _ = done.join();
    }
}

/// A throwaway database.
pub struct ScratchDb {
    backend: Backend,
    url: String,
    sqlite_path: Option<PathBuf>,
    // Dropped after everything above: the folder of a SQLite file the kit chose itself.
    _dir: Option<tempfile::TempDir>,
    pg: Option<PgDatabase>,
}

impl ScratchDb {
    /// An empty database: a SQLite file in a folder of its own, or a new PostgreSQL database.
    pub async fn new(backend: Backend) -> ScratchDb {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("a temporary folder");
                let mut db = ScratchDb::sqlite_at(&dir.path().join("hiatus.db"));
                db._dir = Some(dir);
                db
            }
            Backend::Postgres => ScratchDb::postgres(None).await,
        }
    }

    /// Like [`ScratchDb::new`], with a SQLite file in `dir` (next to the test's other files;
    /// the caller keeps the folder).
    pub async fn new_in(backend: Backend, dir: &Path) -> ScratchDb {
        match backend {
            Backend::Sqlite => ScratchDb::sqlite_at(&dir.join("hiatus.db")),
            Backend::Postgres => ScratchDb::postgres(None).await,
        }
    }

    /// A SQLite file at `path` (created when first opened).
    pub fn sqlite_at(path: &Path) -> ScratchDb {
        ScratchDb {
            backend: Backend::Sqlite,
            url: format!("sqlite://{}", path.display()),
            sqlite_path: Some(path.to_path_buf()),
            _dir: None,
            pg: None,
        }
    }

    /// A PostgreSQL database with the tables and rows of this one, which must have no open
    /// connection (waits a while for the last ones to go).
    pub async fn postgres_copy(&self) -> ScratchDb {
        let source = self
            .pg
            .as_ref()
            .expect("a copy is made of a PostgreSQL scratch database");
        ScratchDb::postgres(Some(&source.name)).await
    }

    async fn postgres(template: Option<&str>) -> ScratchDb {
        let admin_url = admin_url();
        let name = format!("hiatus_t_{}", uuid::Uuid::new_v4().simple());
        for attempt in 0.. {
            let created = tokio::time::timeout(
                Duration::from_secs(30),
                hiatus_store::testing::create_database(&admin_url, &name, template),
            )
            .await;
            match created {
                Ok(Ok(())) => break,
                // A template still in use by a connection that is closing.
                Ok(Err(e)) if attempt < 100 && e.to_string().contains("being accessed") => {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Ok(Err(e)) => panic!(
                    "cannot create a test database on {admin_url}: {e}. The suite runs on \
                     PostgreSQL too: start the server or point {POSTGRES_URL_VAR} at one."
                ),
                Err(_) => panic!(
                    "PostgreSQL at {admin_url} did not answer within 30 seconds. Start the \
                     server or point {POSTGRES_URL_VAR} at one."
                ),
            }
        }
        ScratchDb {
            backend: Backend::Postgres,
            url: with_database(&admin_url, &name),
            sqlite_path: None,
            _dir: None,
            pg: Some(PgDatabase { admin_url, name }),
        }
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The database's URL, as `--database-url` takes it.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The SQLite file (none on PostgreSQL).
    pub fn sqlite_path(&self) -> Option<&Path> {
        self.sqlite_path.as_deref()
    }

    /// The PostgreSQL database's name (none on SQLite).
    pub fn postgres_name(&self) -> Option<&str> {
        self.pg.as_ref().map(|p| p.name.as_str())
    }

    /// A pool of at most `max_connections` on the database, without migrating it.
    pub async fn connect(&self, max_connections: u32) -> Db {
        let opts = DbOptions { max_connections };
        match &self.sqlite_path {
            Some(p) => Db::open_sqlite(p, &opts).await,
            None => Db::connect(&self.url, &opts).await,
        }
        .expect("connect to the scratch database")
    }

    /// Like [`ScratchDb::connect`], with every migration applied.
    pub async fn migrated(&self, max_connections: u32) -> Db {
        let db = self.connect(max_connections).await;
        db.migrate().await.expect("migrations apply");
        db
    }
}
