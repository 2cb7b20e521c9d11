//! What the test suites of the other crates need from the database, behind the `testing`
//! feature (a dev-dependency only, never part of a shipped build): scratch databases on a
//! PostgreSQL server, a canonical dump of every row, and named queries for what tests inspect
//! or tamper with on purpose, so that no SQL text lives outside this crate.

use crate::Backend;
use crate::db::Db;
use crate::error::{StoreError, StoreResult};
use serde_json::Value;
use std::collections::BTreeMap;

mod processes;
mod queries;
pub mod raw;
mod server_files;

pub use processes::*;
pub use queries::*;
pub use server_files::ServerFiles;

// ---- scratch databases ----------------------------------------------------------------------

/// A database name tests may create or drop: lowercase letters, digits and underscores.
pub(crate) fn checked_name(name: &str) -> StoreResult<&str> {
    let ok = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if ok {
        Ok(name)
    } else {
        Err(StoreError::Config(format!(
            "not a scratch database name: {name:?}"
        )))
    }
}

async fn on_server(admin_url: &str, sql: String) -> StoreResult<()> {
    use sqlx::Connection;
    let mut c = sqlx::PgConnection::connect(admin_url).await?;
    let r = sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
        .execute(&mut c)
        .await;
    let _ = c.close().await;
    r?;
    Ok(())
}

/// Creates database `name` on the server of `admin_url`, empty or as a copy of `template`
/// (which must have no open connection).
pub async fn create_database(
    admin_url: &str,
    name: &str,
    template: Option<&str>,
) -> StoreResult<()> {
    let name = checked_name(name)?;
    let sql = match template {
        Some(t) => format!("CREATE DATABASE {name} TEMPLATE {}", checked_name(t)?),
        None => format!("CREATE DATABASE {name}"),
    };
    on_server(admin_url, sql).await
}

/// Drops database `name` on the server of `admin_url`, closing its connections first.
pub async fn drop_database(admin_url: &str, name: &str) -> StoreResult<()> {
    let name = checked_name(name)?;
    on_server(
        admin_url,
        format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
    )
    .await
}

/// Runs `sql` (statements separated by `;`) on the database of `url` (SQLite or PostgreSQL);
/// for tests that change a schema the way an operator or a careless migration would.
pub async fn run_script(url: &str, sql: &str) -> StoreResult<()> {
    use sqlx::Connection;
    if url.starts_with("sqlite") {
        let mut c = sqlx::SqliteConnection::connect(url).await?;
        let r = sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_string()))
            .execute(&mut c)
            .await;
        let _ = c.close().await;
        r?;
        Ok(())
    } else {
        on_server(url, sql.to_string()).await
    }
}

// ---- the canonical dump ---------------------------------------------------------------------

/// Every row of every table, each as a JSON object of its columns (blobs as `x`-prefixed hex
/// on SQLite, `\x`-prefixed hex on PostgreSQL), by table, in no particular order.
pub async fn all_rows(db: &Db) -> StoreResult<BTreeMap<String, Vec<BTreeMap<String, Value>>>> {
    let schema = crate::policy::live_schema(db).await?;
    let mut out = BTreeMap::new();
    let mut tx = db.read().await?;
    for (t, cols) in &schema {
        let sql = match db.backend() {
            Backend::Sqlite => format!(
                "SELECT json_object({}) FROM \"{t}\"",
                cols.iter()
                    .map(|c| format!(
                        "'{c}', CASE WHEN typeof(\"{c}\") = 'blob' THEN 'x' || hex(\"{c}\") ELSE \"{c}\" END"
                    ))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Backend::Postgres => format!("SELECT to_jsonb(r)::text FROM \"{t}\" r"),
        };
        let rows: Vec<(String,)> = tx.all_dyn(&sql, vec![]).await?;
        let rows = rows
            .into_iter()
            .map(|(j,)| serde_json::from_str(&j).map_err(|e| StoreError::Config(e.to_string())))
            .collect::<StoreResult<Vec<_>>>()?;
        out.insert(t.clone(), rows);
    }
    tx.commit().await?;
    Ok(out)
}
