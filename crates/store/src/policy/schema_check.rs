//! The policy against the live schema: every table and column classified, every classified
//! one present, and every personal text column sealed or declared not personal.

use super::model::{Erase, Policy};
use super::problem;
use crate::db::{Backend, Db};
use crate::error::StoreResult;
use std::collections::{BTreeMap, BTreeSet};

impl Policy {
    /// Compares the policy with the live schema (`table → columns`). Every problem is listed.
    pub fn check_schema(&self, live: &BTreeMap<String, BTreeSet<String>>) -> StoreResult<()> {
        self.check_schema_with(live, true)
    }

    /// Like [`Policy::check_schema`]; with `complete` false only what the database has and the
    /// policy does not classify is a problem (before pending migrations have created every
    /// table the policy knows).
    pub fn check_schema_with(
        &self,
        live: &BTreeMap<String, BTreeSet<String>>,
        complete: bool,
    ) -> StoreResult<()> {
        let mut problems = Vec::new();
        for (table, cols) in live {
            if self.system.tables.contains(table) {
                continue;
            }
            let Some(t) = self.tables.get(table) else {
                problems.push(format!("table {table} is not in the erasure policy"));
                continue;
            };
            for c in cols {
                if !t.columns.contains_key(c) {
                    problems.push(format!(
                        "column {table}.{c} is not classified in the erasure policy"
                    ));
                }
            }
            for c in t.columns.keys().filter(|_| complete) {
                if !cols.contains(c) {
                    problems.push(format!(
                        "the erasure policy classifies {table}.{c}, which the database does not have"
                    ));
                }
            }
        }
        for table in self.tables.keys().filter(|_| complete) {
            if !live.contains_key(table) {
                problems.push(format!(
                    "the erasure policy classifies table {table}, which the database does not have"
                ));
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problem(format!(
                "the erasure policy does not match the database: {}",
                problems.join("; ")
            )))
        }
    }

    /// Checks the policy against the database `db` is connected to.
    pub async fn check_db(&self, db: &Db) -> StoreResult<()> {
        self.check_schema(&live_schema(db).await?)
    }

    /// Like [`Policy::check_db`], for a database whose migrations may not all have run yet
    /// (`hiatus config check`): then only unclassified tables and columns are problems.
    /// Returns how many migrations are pending.
    pub async fn check_db_before_start(&self, db: &Db) -> StoreResult<usize> {
        let pending = db.pending_migrations().await?;
        self.check_schema_with(&live_schema(db).await?, pending == 0)?;
        Ok(pending)
    }
}

/// What a column's declared type says it holds, for the sealed-column rule.
fn holds_text_or_bytes(backend_type: &str) -> bool {
    let t = backend_type.to_ascii_lowercase();
    // SQLite's type affinity (a column declared without a type takes anything); PostgreSQL's
    // `data_type` names.
    t.is_empty()
        || ["text", "char", "clob", "blob", "bytea", "json"]
            .iter()
            .any(|k| t.contains(k))
}

/// Whether a column's declared type holds bytes (what a sealed value is).
fn holds_bytes(backend_type: &str) -> bool {
    let t = backend_type.to_ascii_lowercase();
    t.contains("blob") || t.contains("bytea")
}

impl Policy {
    /// The sealed-column rule: every column that erasure deletes or redacts and that holds
    /// text or bytes is either sealed under the member's data key or declared `not_personal`.
    /// Deleting a plaintext value removes it from the table but not from dead rows, the
    /// write-ahead log or a backup; a sealed value is unreadable everywhere once erasure
    /// destroys the key. `types` is `table → column → declared type`; every problem is listed.
    pub fn check_sealed(
        &self,
        types: &BTreeMap<String, BTreeMap<String, String>>,
    ) -> StoreResult<()> {
        let mut problems = Vec::new();
        for (table, t) in &self.tables {
            let Some(live) = types.get(table) else {
                continue; // check_schema names missing tables
            };
            for (col, c) in &t.columns {
                let Some(ty) = live.get(col) else { continue };
                if c.sealed && !holds_bytes(ty) {
                    problems.push(format!(
                        "{table}.{col} is marked sealed but its type {ty:?} does not hold sealed bytes"
                    ));
                }
                if matches!(c.erase, Erase::Delete | Erase::Redact)
                    && holds_text_or_bytes(ty)
                    && !c.sealed
                    && !c.not_personal
                {
                    problems.push(format!(
                        "{table}.{col} is classified {} and holds {ty} in plaintext: seal it under the member's data key and mark it sealed = true, or mark it not_personal = true if it holds nothing about a person",
                        match c.erase {
                            Erase::Delete => "delete",
                            _ => "redact",
                        }
                    ));
                }
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problem(format!(
                "the erasure policy leaves personal data in plaintext that erasure cannot reach in old copies: {}",
                problems.join("; ")
            )))
        }
    }

    /// Whether the policy marks `table.column` sealed.
    pub fn is_sealed(&self, table: &str, column: &str) -> bool {
        self.tables
            .get(table)
            .and_then(|t| t.columns.get(column))
            .is_some_and(|c| c.sealed)
    }

    /// [`Policy::check_sealed`] against the database `db` is connected to.
    pub async fn check_sealed_db(&self, db: &Db) -> StoreResult<()> {
        self.check_sealed(&live_column_types(db).await?)
    }
}

/// The declared type of every column of the database (`table → column → type`), without
/// SQLite's own tables.
pub async fn live_column_types(db: &Db) -> StoreResult<BTreeMap<String, BTreeMap<String, String>>> {
    #[derive(sqlx::FromRow)]
    struct Col {
        t: String,
        c: String,
        ty: String,
    }
    let mut tx = db.read().await?;
    let rows: Vec<Col> = match tx.backend() {
        Backend::Sqlite => {
            tx.all(
                "SELECT m.name AS t, p.name AS c, p.type AS ty FROM sqlite_master m, pragma_table_info(m.name) p \
                 WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite\\_%' ESCAPE '\\'",
                vec![],
            )
            .await?
        }
        Backend::Postgres => {
            tx.all(
                "SELECT table_name::text AS t, column_name::text AS c, data_type::text AS ty \
                 FROM information_schema.columns WHERE table_schema = current_schema()",
                vec![],
            )
            .await?
        }
    };
    tx.commit().await?;
    let mut out: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    for r in rows {
        out.entry(r.t).or_default().insert(r.c, r.ty);
    }
    Ok(out)
}

/// The tables and columns of the database, without SQLite's own tables.
pub async fn live_schema(db: &Db) -> StoreResult<BTreeMap<String, BTreeSet<String>>> {
    #[derive(sqlx::FromRow)]
    struct Col {
        t: String,
        c: String,
    }
    let mut tx = db.read().await?;
    let rows: Vec<Col> = match tx.backend() {
        Backend::Sqlite => {
            tx.all(
                "SELECT m.name AS t, p.name AS c FROM sqlite_master m, pragma_table_info(m.name) p \
                 WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite\\_%' ESCAPE '\\'",
                vec![],
            )
            .await?
        }
        // Every schema of the database, not only hiatus's own: a table elsewhere in the same
        // database (a copy, a reporting schema) can hold members' data that erasure would
        // never reach. Tables outside the current schema are named `schema.table`, which no
        // policy entry matches, so the check refuses them.
        Backend::Postgres => {
            tx.all(
                "SELECT CASE WHEN table_schema = current_schema() THEN table_name::text \
                 ELSE table_schema::text || '.' || table_name::text END AS t, column_name::text AS c \
                 FROM information_schema.columns \
                 WHERE table_schema NOT IN ('pg_catalog', 'information_schema') \
                 AND table_schema NOT LIKE 'pg\\_toast%' AND table_schema NOT LIKE 'pg\\_temp\\_%'",
                vec![],
            )
            .await?
        }
    };
    tx.commit().await?;
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for r in rows {
        out.entry(r.t).or_default().insert(r.c);
    }
    Ok(out)
}
