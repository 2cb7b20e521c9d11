//! The database handle: SQLite (embedded, the default) or PostgreSQL, chosen by URL. One SQL
//! text serves both wherever the semantics agree; the few places that differ say why.

use crate::error::{StoreError, StoreResult};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{PgPool, Postgres, Sqlite, SqlitePool};
use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

/// Binds an [`Arg`] to a query of either backend.
#[macro_export]
macro_rules! bind_arg {
    ($q:expr, $a:expr) => {
        match $a {
            $crate::db::Arg::Text(v) => $q.bind(v),
            $crate::db::Arg::Int(v) => $q.bind(v),
            $crate::db::Arg::Bytes(v) => $q.bind(v),
            $crate::db::Arg::Bool(v) => $q.bind(v),
            $crate::db::Arg::Shared(v) => $q.bind(v),
        }
    };
}

/// Which engine a [`Db`] talks to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A connection pool on one of the two backends.
#[derive(Clone, Debug)]
pub enum Db {
    Sqlite(SqlitePool, WriteGate),
    Postgres(PgPool),
}

/// SQLite lets one transaction write at a time. Writers of one process queue here, first come
/// first served, instead of polling the file lock: SQLite's own wait sleeps and retries with
/// growing pauses, so a writer could miss one short gap after another while a long job (an
/// erasure in batches) keeps taking the lock. (Other processes still meet the file lock.)
#[derive(Clone, Debug)]
pub struct WriteGate(Arc<tokio::sync::Semaphore>);

impl WriteGate {
    fn new() -> Self {
        Self(Arc::new(tokio::sync::Semaphore::new(1)))
    }
}

/// An open transaction. Every repository function takes one, so a state change, its audit
/// event and its jobs commit together or not at all.
pub enum Tx {
    /// A SQLite transaction; a writing one holds the process's place at the [`WriteGate`].
    Sqlite(
        sqlx::Transaction<'static, Sqlite>,
        Option<tokio::sync::OwnedSemaphorePermit>,
    ),
    Postgres(sqlx::Transaction<'static, Postgres>),
}

/// Runs the same expression against whichever backend a [`Tx`] holds; `$c` is bound to the
/// connection. The arms are type-checked separately, so the body must yield one neutral type.
#[macro_export]
macro_rules! on_tx {
    ($tx:expr, |$c:ident| $body:expr) => {
        match $tx {
            $crate::db::Tx::Sqlite(t, _) => {
                let $c = &mut **t;
                $body
            }
            $crate::db::Tx::Postgres(t) => {
                let $c = &mut **t;
                $body
            }
        }
    };
}

/// Options for opening a database.
#[derive(Clone, Debug)]
pub struct DbOptions {
    pub max_connections: u32,
}

impl Default for DbOptions {
    fn default() -> Self {
        Self { max_connections: 8 }
    }
}

impl Db {
    /// Opens `postgres://…` or `sqlite://path` / a plain file path, creating a SQLite file
    /// when missing. SQLite runs in WAL mode with foreign keys and a busy timeout.
    pub async fn connect(url: &str, opts: &DbOptions) -> StoreResult<Db> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let o = PgConnectOptions::from_str(url)
                .map_err(|e| StoreError::Config(format!("bad PostgreSQL URL: {e}")))?;
            let pool = PgPoolOptions::new()
                .max_connections(opts.max_connections)
                .acquire_timeout(Duration::from_secs(15))
                .connect_with(o)
                .await?;
            Ok(Db::Postgres(pool))
        } else {
            let path = url
                .strip_prefix("sqlite://")
                .or_else(|| url.strip_prefix("sqlite:"))
                .unwrap_or(url);
            Self::open_sqlite(Path::new(path), opts).await
        }
    }

    /// Opens (or creates) a SQLite database file.
    pub async fn open_sqlite(path: &Path, opts: &DbOptions) -> StoreResult<Db> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        let o = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10))
            // Erased data must not linger in free pages of the file.
            .pragma("secure_delete", "ON")
            // The connection's thread hands rows over through a channel; at the default 50
            // it stalls every 50 rows until the reader catches up, and each stall is a thread
            // wake-up. Preflight of a member with hundreds of regular clients reads them all.
            .row_buffer_size(1024);
        let pool = SqlitePoolOptions::new()
            .max_connections(opts.max_connections.max(1))
            .connect_with(o)
            .await?;
        Ok(Db::Sqlite(pool, WriteGate::new()))
    }

    /// Which engine this is.
    pub fn backend(&self) -> Backend {
        match self {
            Db::Sqlite(..) => Backend::Sqlite,
            Db::Postgres(_) => Backend::Postgres,
        }
    }

    /// Applies the pending migrations of this backend. A database that still holds values
    /// older versions stored in plaintext is refused: [`Db::migrate_sealing`] with the master
    /// key seals them.
    pub async fn migrate(&self) -> StoreResult<usize> {
        self.migrate_sealing(None).await
    }

    /// Applies the migrations up to `version` and no further: a database as an older hiatus
    /// left it, for testing the upgrade ([`Db::migrate_sealing`]).
    pub async fn migrate_until(&self, version: i64) -> StoreResult<()> {
        match self {
            Db::Sqlite(p, _) => {
                sqlx::migrate!("./migrations/sqlite")
                    .run_to(version, p)
                    .await?
            }
            Db::Postgres(p) => {
                sqlx::migrate!("./migrations/postgres")
                    .run_to(version, p)
                    .await?
            }
        }
        Ok(())
    }

    /// Applies the pending migrations, sealing on the way the values that older versions
    /// stored in plaintext (see [`crate::sealing`]): migrations up to
    /// [`crate::sealing::SEALED_COLUMNS_ADDED`] add the sealed columns, the values are sealed
    /// with `keys`, and the next migration drops the plaintext columns.
    pub async fn migrate_sealing(&self, keys: Option<&crate::Keyring>) -> StoreResult<usize> {
        let until = crate::sealing::SEALED_COLUMNS_ADDED;
        let n = match self {
            Db::Sqlite(p, _) => {
                let m = sqlx::migrate!("./migrations/sqlite");
                m.run_to(until, p).await?;
                m.migrations.len()
            }
            Db::Postgres(p) => {
                let m = sqlx::migrate!("./migrations/postgres");
                m.run_to(until, p).await?;
                m.migrations.len()
            }
        };
        crate::sealing::seal_plaintext(self, keys).await?;
        match self {
            Db::Sqlite(p, _) => sqlx::migrate!("./migrations/sqlite").run(p).await?,
            Db::Postgres(p) => sqlx::migrate!("./migrations/postgres").run(p).await?,
        }
        Ok(n)
    }

    /// How many of this backend's migrations have not been applied (all of them on a database
    /// hiatus never started on). Changes nothing.
    pub async fn pending_migrations(&self) -> StoreResult<usize> {
        let (known, applied): (Vec<i64>, Result<Vec<i64>, sqlx::Error>) = match self {
            Db::Sqlite(p, _) => (
                sqlx::migrate!("./migrations/sqlite")
                    .migrations
                    .iter()
                    .map(|m| m.version)
                    .collect(),
                sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success")
                    .fetch_all(p)
                    .await,
            ),
            Db::Postgres(p) => (
                sqlx::migrate!("./migrations/postgres")
                    .migrations
                    .iter()
                    .map(|m| m.version)
                    .collect(),
                sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success")
                    .fetch_all(p)
                    .await,
            ),
        };
        // No migrations table: nothing was ever applied.
        let applied = applied.unwrap_or_default();
        Ok(known.iter().filter(|v| !applied.contains(v)).count())
    }

    /// Starts a transaction that will write. On SQLite it takes the write lock up front
    /// (`BEGIN IMMEDIATE`), so two writers never deadlock upgrading a read lock.
    pub async fn begin(&self) -> StoreResult<Tx> {
        Ok(match self {
            Db::Sqlite(p, gate) => {
                let permit = gate
                    .0
                    .clone()
                    .acquire_owned()
                    .await
                    .map_err(|_| StoreError::Config("the database was closed".into()))?;
                Tx::Sqlite(p.begin_with("BEGIN IMMEDIATE").await?, Some(permit))
            }
            Db::Postgres(p) => Tx::Postgres(p.begin().await?),
        })
    }

    /// Starts a transaction that only reads.
    pub async fn read(&self) -> StoreResult<Tx> {
        Ok(match self {
            Db::Sqlite(p, _) => Tx::Sqlite(p.begin().await?, None),
            Db::Postgres(p) => Tx::Postgres(p.begin().await?),
        })
    }

    /// SQLite: copies the write-ahead log into the database file and truncates it, so old
    /// page images are gone from the log. True when it completed; false when readers kept
    /// part of the log busy. PostgreSQL: nothing to do.
    pub async fn checkpoint_wal(&self) -> StoreResult<bool> {
        match self {
            Db::Sqlite(p, _) => {
                let (busy, _, _): (i64, i64, i64) =
                    sqlx::query_as("PRAGMA wal_checkpoint(TRUNCATE)")
                        .fetch_one(p)
                        .await?;
                Ok(busy == 0)
            }
            Db::Postgres(_) => Ok(true),
        }
    }

    /// Closes the pool, checkpointing the SQLite WAL.
    pub async fn close(&self) {
        match self {
            Db::Sqlite(p, _) => p.close().await,
            Db::Postgres(p) => p.close().await,
        }
    }

    /// Checks the database answers.
    pub async fn ping(&self) -> StoreResult<()> {
        let mut tx = self.read().await?;
        let _: i64 = on_tx!(&mut tx, |c| sqlx::query_scalar("SELECT CAST(1 AS BIGINT)")
            .fetch_one(c)
            .await)?;
        tx.commit().await
    }
}

impl Tx {
    /// Commits.
    pub async fn commit(self) -> StoreResult<()> {
        match self {
            Tx::Sqlite(t, _permit) => t.commit().await?,
            Tx::Postgres(t) => t.commit().await?,
        }
        Ok(())
    }

    /// Rolls back (also what dropping does).
    pub async fn rollback(self) -> StoreResult<()> {
        match self {
            Tx::Sqlite(t, _permit) => t.rollback().await?,
            Tx::Postgres(t) => t.rollback().await?,
        }
        Ok(())
    }

    /// Which engine this transaction runs on.
    pub fn backend(&self) -> Backend {
        match self {
            Tx::Sqlite(..) => Backend::Sqlite,
            Tx::Postgres(_) => Backend::Postgres,
        }
    }

    /// Executes a statement and returns the number of rows it changed.
    pub(crate) async fn exec(&mut self, sql: &'static str, args: Vec<Arg>) -> StoreResult<u64> {
        Ok(on_tx!(self, |c| {
            let mut q = sqlx::query(sql);
            for a in args {
                q = bind_arg!(q, a);
            }
            q.execute(c).await?.rows_affected()
        }))
    }

    /// Like [`Tx::exec`], for SQL text assembled at run time (the bulk loader's multi-row
    /// `INSERT`s, whose placeholder count varies with the batch). The text must be built only
    /// from this crate's own table and column names and placeholders, never from input: every
    /// value still travels as a bind parameter, encoded beforehand by [`EncodedArgs::encode`].
    #[cfg(feature = "generator")]
    pub(crate) async fn exec_built(&mut self, sql: String, args: EncodedArgs) -> StoreResult<u64> {
        let sql = sqlx::AssertSqlSafe(sql);
        Ok(match (self, args) {
            (Tx::Sqlite(t, _), EncodedArgs::Sqlite(a)) => sqlx::query_with(sql, a)
                .execute(&mut **t)
                .await?
                .rows_affected(),
            (Tx::Postgres(t), EncodedArgs::Postgres(a)) => sqlx::query_with(sql, a)
                .execute(&mut **t)
                .await?
                .rows_affected(),
            _ => {
                return Err(StoreError::Config(
                    "parameters encoded for the other database backend".into(),
                ));
            }
        })
    }
}

impl Tx {
    /// Like [`Tx::exec`], for SQL built at run time from a checked policy (see
    /// [`crate::policy`]): names only from the policy, every value a bind parameter.
    pub(crate) async fn exec_dyn(&mut self, sql: &str, args: Vec<Arg>) -> StoreResult<u64> {
        Ok(on_tx!(self, |c| {
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.to_string()));
            for a in args {
                q = bind_arg!(q, a);
            }
            q.execute(c).await?.rows_affected()
        }))
    }

    /// Like [`Tx::all`], for SQL built at run time from a checked policy.
    pub(crate) async fn all_dyn<R: Row>(
        &mut self,
        sql: &str,
        args: Vec<Arg>,
    ) -> StoreResult<Vec<R>> {
        Ok(on_tx!(self, |c| {
            let mut q = sqlx::query_as::<_, R>(sqlx::AssertSqlSafe(sql.to_string()));
            for a in args {
                q = bind_arg!(q, a);
            }
            q.fetch_all(c).await?
        }))
    }

    /// Like [`Tx::scalar`], for SQL built at run time from a checked policy.
    pub(crate) async fn scalar_dyn<T: Scalar>(
        &mut self,
        sql: &str,
        args: Vec<Arg>,
    ) -> StoreResult<T> {
        Ok(on_tx!(self, |c| {
            let mut q = sqlx::query_scalar::<_, T>(sqlx::AssertSqlSafe(sql.to_string()));
            for a in args {
                q = bind_arg!(q, a);
            }
            q.fetch_one(c).await?
        }))
    }
}

/// Bind parameters already encoded for one backend. Encoding tens of thousands of values
/// takes a while; a bulk loader does it for the next statement while the database still
/// executes the previous one.
pub enum EncodedArgs {
    Sqlite(sqlx::sqlite::SqliteArguments),
    Postgres(sqlx::postgres::PgArguments),
}

impl EncodedArgs {
    /// Encodes values for `backend`.
    pub fn encode(backend: Backend, args: Vec<Arg>) -> StoreResult<Self> {
        use sqlx::Arguments;
        macro_rules! encode_all {
            ($a:ident) => {{
                $a.reserve(args.len(), 0);
                for v in args {
                    match v {
                        Arg::Text(v) => $a.add(v),
                        Arg::Int(v) => $a.add(v),
                        Arg::Bytes(v) => $a.add(v),
                        Arg::Bool(v) => $a.add(v),
                        Arg::Shared(v) => $a.add(v),
                    }
                    .map_err(|e| StoreError::Config(format!("encoding a parameter: {e}")))?;
                }
            }};
        }
        Ok(match backend {
            Backend::Sqlite => {
                let mut a = sqlx::sqlite::SqliteArguments::default();
                encode_all!(a);
                EncodedArgs::Sqlite(a)
            }
            Backend::Postgres => {
                let mut a = sqlx::postgres::PgArguments::default();
                encode_all!(a);
                EncodedArgs::Postgres(a)
            }
        })
    }
}

/// A bind parameter in backend-neutral form, for statements built once and run on either
/// backend.
#[derive(Clone, Debug)]
pub enum Arg {
    Text(Option<String>),
    Int(Option<i64>),
    Bytes(Option<Vec<u8>>),
    Bool(bool),
    /// Text many rows share (an id referred to again and again, a status code): SQLite binds
    /// it without a copy per row.
    Shared(Arc<str>),
}

impl From<&str> for Arg {
    fn from(v: &str) -> Self {
        Arg::Text(Some(v.to_string()))
    }
}
impl From<String> for Arg {
    fn from(v: String) -> Self {
        Arg::Text(Some(v))
    }
}
impl From<Option<String>> for Arg {
    fn from(v: Option<String>) -> Self {
        Arg::Text(v)
    }
}
impl From<i64> for Arg {
    fn from(v: i64) -> Self {
        Arg::Int(Some(v))
    }
}
impl From<Option<i64>> for Arg {
    fn from(v: Option<i64>) -> Self {
        Arg::Int(v)
    }
}
impl From<Vec<u8>> for Arg {
    fn from(v: Vec<u8>) -> Self {
        Arg::Bytes(Some(v))
    }
}
impl From<Option<Vec<u8>>> for Arg {
    fn from(v: Option<Vec<u8>>) -> Self {
        Arg::Bytes(v)
    }
}
impl From<Arc<str>> for Arg {
    fn from(v: Arc<str>) -> Self {
        Arg::Shared(v)
    }
}
impl From<bool> for Arg {
    fn from(v: bool) -> Self {
        Arg::Bool(v)
    }
}

/// Builds a `Vec<Arg>` from values.
#[macro_export]
macro_rules! args {
    ($($v:expr),* $(,)?) => { vec![$($crate::db::Arg::from($v)),*] };
}

/// A row type readable from both backends.
pub trait Row:
    for<'r> sqlx::FromRow<'r, sqlx::sqlite::SqliteRow>
    + for<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow>
    + Send
    + Unpin
{
}
impl<T> Row for T where
    T: for<'r> sqlx::FromRow<'r, sqlx::sqlite::SqliteRow>
        + for<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow>
        + Send
        + Unpin
{
}

/// A single value readable from both backends.
pub trait Scalar:
    for<'r> sqlx::Decode<'r, Sqlite>
    + sqlx::Type<Sqlite>
    + for<'r> sqlx::Decode<'r, Postgres>
    + sqlx::Type<Postgres>
    + Send
    + Unpin
{
}
impl<T> Scalar for T where
    T: for<'r> sqlx::Decode<'r, Sqlite>
        + sqlx::Type<Sqlite>
        + for<'r> sqlx::Decode<'r, Postgres>
        + sqlx::Type<Postgres>
        + Send
        + Unpin
{
}

impl Tx {
    /// All rows of a query.
    pub(crate) async fn all<R: Row>(
        &mut self,
        sql: &'static str,
        args: Vec<Arg>,
    ) -> StoreResult<Vec<R>> {
        Ok(on_tx!(self, |c| {
            let mut q = sqlx::query_as::<_, R>(sql);
            for a in args {
                q = bind_arg!(q, a);
            }
            q.fetch_all(c).await?
        }))
    }

    /// At most one row.
    pub(crate) async fn opt<R: Row>(
        &mut self,
        sql: &'static str,
        args: Vec<Arg>,
    ) -> StoreResult<Option<R>> {
        Ok(on_tx!(self, |c| {
            let mut q = sqlx::query_as::<_, R>(sql);
            for a in args {
                q = bind_arg!(q, a);
            }
            q.fetch_optional(c).await?
        }))
    }

    /// Exactly one row, or [`StoreError::NotFound`].
    pub(crate) async fn one<R: Row>(
        &mut self,
        sql: &'static str,
        args: Vec<Arg>,
    ) -> StoreResult<R> {
        self.opt(sql, args).await?.ok_or(StoreError::NotFound)
    }

    /// One value of the first row (e.g. a count).
    pub(crate) async fn scalar<T: Scalar>(
        &mut self,
        sql: &'static str,
        args: Vec<Arg>,
    ) -> StoreResult<T> {
        Ok(on_tx!(self, |c| {
            let mut q = sqlx::query_scalar::<_, T>(sql);
            for a in args {
                q = bind_arg!(q, a);
            }
            q.fetch_one(c).await?
        }))
    }
}
