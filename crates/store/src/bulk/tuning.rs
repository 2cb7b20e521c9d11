//! What each backend is told for the duration of a load, and told back afterwards.

use super::writer::Table;
use crate::args;
use crate::db::{Db, EncodedArgs, Tx};
use crate::error::StoreResult;

/// SQLite settings for the duration of a load, put back afterwards:
/// - `journal_mode = DELETE` instead of WAL: in WAL mode every page is written twice, to the
///   WAL at the commit and again by the checkpoint that follows; a rollback journal copies
///   only the pages that existed before the load (in a fresh database, hardly any). Leaving
///   WAL needs the database to itself: while another process has the file open, SQLite
///   refuses and the load runs in WAL.
/// - `synchronous = OFF` skips the fsyncs: a crash of the operating system during the load
///   can damage the file, a crash of hiatus cannot (the journal rolls an unfinished load back).
/// - A page cache large enough to keep the indexes being filled in memory until the commit.
/// - `foreign_keys = OFF`: every child row would otherwise look its parents up. The generator
///   sends parents before children (and PostgreSQL, which checks, proves it on every load);
///   the tests run SQLite's `foreign_key_check` over a generated database.
///
/// Pragmas belong to one connection, so this only applies when the pool has exactly one (as
/// `hiatus generate` opens it): with more, the load might run on a connection that was never
/// tuned, or leave a pooled connection without foreign keys for good.
pub(super) struct SqliteTuning {
    journal_mode: String,
    synchronous: i64,
    cache_size: i64,
    foreign_keys: i64,
}

/// 1 GiB, as a negative `cache_size` (KiB). Pages are only allocated as they are used.
const LOAD_CACHE_KIB: i64 = 1024 * 1024;

/// The journal modes SQLite reports, the only words put back into a `PRAGMA`.
const JOURNAL_MODES: [&str; 6] = ["delete", "truncate", "persist", "memory", "wal", "off"];

impl SqliteTuning {
    pub(super) async fn apply(db: &Db) -> StoreResult<Option<Self>> {
        let Db::Sqlite(pool, _) = db else {
            return Ok(None);
        };
        if pool.options().get_max_connections() != 1 {
            tracing::debug!("bulk load on a pool of several connections: SQLite left untuned");
            return Ok(None);
        }
        let read = |pragma: &'static str| sqlx::query_scalar::<_, i64>(pragma).fetch_one(pool);
        let t = Self {
            journal_mode: sqlx::query_scalar("PRAGMA journal_mode")
                .fetch_one(pool)
                .await?,
            synchronous: read("PRAGMA synchronous").await?,
            cache_size: read("PRAGMA cache_size").await?,
            foreign_keys: read("PRAGMA foreign_keys").await?,
        };
        set(db, 0, -LOAD_CACHE_KIB, 0).await?;
        // Busy while another process has the file open: the load then runs in WAL.
        let mode: Result<String, _> = sqlx::query_scalar("PRAGMA journal_mode = DELETE")
            .fetch_one(pool)
            .await;
        tracing::debug!(journal_mode = ?mode, "bulk load on SQLite");
        Ok(Some(t))
    }

    pub(super) async fn restore(self, db: &Db) -> StoreResult<()> {
        if let Db::Sqlite(pool, _) = db {
            let mode = self.journal_mode.to_lowercase();
            if JOURNAL_MODES.contains(&mode.as_str()) {
                let _: String = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                    "PRAGMA journal_mode = {mode}"
                )))
                .fetch_one(pool)
                .await?;
            }
        }
        set(db, self.synchronous, self.cache_size, self.foreign_keys).await
    }
}

async fn set(db: &Db, synchronous: i64, cache_size: i64, fk: i64) -> StoreResult<()> {
    if let Db::Sqlite(pool, _) = db {
        // Integers only, read from SQLite or constants: nothing from outside.
        let sql = format!(
            "PRAGMA synchronous = {synchronous}; PRAGMA cache_size = {cache_size}; PRAGMA foreign_keys = {fk}"
        );
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
            .execute(pool)
            .await?;
    }
    Ok(())
}

/// PostgreSQL checks a foreign key with a trigger per row that looks up and locks the
/// parent row: on a load of a million rows that is most of the time. The loader drops the
/// foreign keys of the tables it fills and adds them back before committing, which
/// validates every row at once with a join. DDL is transactional in PostgreSQL, so a failed
/// load rolls the constraints back with the rows; the price is that the tables are locked
/// for the duration of the load.
pub(super) struct PgForeignKeys {
    /// `(table, constraint, definition)`, names already quoted by PostgreSQL.
    dropped: Vec<(String, String, String)>,
}

impl PgForeignKeys {
    pub(super) async fn suspend(tx: &mut Tx) -> StoreResult<Self> {
        if tx.backend() != crate::db::Backend::Postgres {
            return Ok(Self {
                dropped: Vec::new(),
            });
        }
        let all: Vec<(String, String, String, String)> = tx
            .all(
                "SELECT c.conrelid::regclass::text, quote_ident(c.conrelid::regclass::text), quote_ident(c.conname), pg_get_constraintdef(c.oid) \
                 FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace \
                 WHERE c.contype = 'f' AND n.nspname = current_schema() ORDER BY 1, 3",
                args![],
            )
            .await?;
        let filled: Vec<&str> = Table::ALL.iter().map(|t| t.name()).collect();
        let dropped: Vec<(String, String, String)> = all
            .into_iter()
            .filter(|(table, ..)| filled.contains(&table.as_str()))
            .map(|(_, table, name, def)| (table, name, def))
            .collect();
        for (table, name, _) in &dropped {
            // Identifiers quoted by PostgreSQL itself, from its own catalog.
            ddl(tx, format!("ALTER TABLE {table} DROP CONSTRAINT {name}")).await?;
        }
        Ok(Self { dropped })
    }

    pub(super) async fn restore(self, tx: &mut Tx) -> StoreResult<()> {
        for (table, name, def) in self.dropped {
            ddl(
                tx,
                format!("ALTER TABLE {table} ADD CONSTRAINT {name} {def}"),
            )
            .await?;
        }
        Ok(())
    }
}

async fn ddl(tx: &mut Tx, sql: String) -> StoreResult<()> {
    let none = EncodedArgs::encode(tx.backend(), Vec::new())?;
    tx.exec_built(sql, none).await?;
    Ok(())
}
