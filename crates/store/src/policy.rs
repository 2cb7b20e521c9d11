//! The erasure policy (product definition §7): a data file that classifies every column of
//! every table — what erasure does with it and whether the export includes it — and lists the
//! rules erasure applies, in order. hiatus ships `policy/erasure.toml`; operators may point
//! `--erasure-policy` at their own copy. At start-up the policy is checked against the live
//! schema, so a column added by a migration without a classification stops hiatus (and fails
//! the tests) instead of escaping export or erasure.
//!
//! The SQL that erasure runs is built here from the policy: only from table and column names
//! that passed [`Policy::parse`]'s identifier check and [`Policy::check_schema`], with every
//! value bound as a parameter.

use crate::db::{Backend, Db};
use crate::error::{StoreError, StoreResult};
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet};

/// The policy shipped with hiatus.
pub const DEFAULT_POLICY: &str = include_str!("../policy/erasure.toml");

/// Rows one erasure statement changes at most: small enough that no transaction holds its
/// locks for long, large enough that the per-statement cost stays small.
pub const BATCH: i64 = 2_000;

/// The whole policy file.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    pub version: u32,
    pub retention: BTreeMap<String, Retention>,
    pub exclusions: BTreeMap<String, ExclusionReason>,
    #[serde(default)]
    pub system: System,
    pub tables: BTreeMap<String, TablePolicy>,
    pub rules: Vec<Rule>,
}

/// A retention period with its legal basis.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Retention {
    pub basis: String,
    pub years: u32,
    /// Whether the legal name is kept (with the pseudonym) while such records are retained.
    #[serde(default)]
    pub identity: bool,
}

/// Why the export leaves something out, as the manifest says it.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExclusionReason {
    pub what: String,
    pub why: String,
}

/// Tables of the database tooling, which hold no data of hiatus.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct System {
    #[serde(default)]
    pub tables: Vec<String>,
}

/// One table's columns.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TablePolicy {
    pub about: String,
    pub columns: BTreeMap<String, ColumnPolicy>,
}

/// One column: what erasure does with it, and whether the export includes it.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ColumnPolicy {
    pub erase: Erase,
    pub export: Export,
    /// For `export = "exclude"`: a key of `[exclusions]`.
    pub reason: Option<String>,
    pub note: Option<String>,
    /// The column holds values sealed under the member's data key (`DataKey::seal_field`), so
    /// destroying the key makes every copy unreadable: in dead rows, the write-ahead log and
    /// backups as much as in the live table.
    #[serde(default)]
    pub sealed: bool,
    /// The column holds text or bytes that say nothing about a person (ids, codes, states,
    /// hashes): deleting the row is enough, though old copies stay in dead rows and the log.
    #[serde(default)]
    pub not_personal: bool,
}

/// What erasure does with a column.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Erase {
    Delete,
    Pseudonymize,
    Redact,
    Retain,
    Keep,
    NotPersonal,
}

/// Whether the export includes a column.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Export {
    Include,
    Exclude,
}

/// What a rule does to the rows it matches.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// The rows go (and their blobs, if the rule names a blob column).
    Delete,
    /// The member's id in the rows becomes the pseudonym's.
    Pseudonymize,
    /// Columns of the rows become fixed placeholders.
    Redact,
    /// Pseudonymized now, deleted when the retention period ends.
    Retain,
}

/// A condition that narrows a rule's rows: one of `in`, `not_in`, `null` or `not_member` on a
/// column, or `any_not_null` over several columns.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Condition {
    pub column: Option<String>,
    #[serde(rename = "in")]
    pub is_in: Option<Vec<String>>,
    pub not_in: Option<Vec<String>>,
    pub null: Option<bool>,
    /// `true`: the column does not hold the member's id (keeps two rules of one table from
    /// counting the same row twice in the plan).
    pub not_member: Option<bool>,
    /// At least one of these columns is set.
    pub any_not_null: Option<Vec<String>>,
}

/// What happens when a retention period ends.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Purge {
    /// The rows are deleted (records only the member had: payouts, audit events).
    #[default]
    Rows,
    /// The rows stay with the counterparty, who keeps them; what ends is the member's
    /// retained identity on them (invoices, payments).
    Identity,
}

/// A JSON text column and the top-level field in it that holds the member's id.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JsonMember {
    pub column: String,
    pub field: String,
}

/// Which retention period applies and the column its clock starts from.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetainSpec {
    pub period: String,
    pub from: String,
    #[serde(default)]
    pub purge: Purge,
}

/// One step of erasure.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    pub table: String,
    /// The column holding the member's id.
    pub member: Option<String>,
    /// A JSON text column whose top-level field holds the member's id.
    pub member_json: Option<JsonMember>,
    pub action: Action,
    /// The column batches are chosen by (default `id`).
    pub key: Option<String>,
    #[serde(default)]
    pub when: Vec<Condition>,
    /// A column of blob keys whose objects go with the rows.
    pub blobs: Option<String>,
    pub retain: Option<RetainSpec>,
    /// For `redact`: column → placeholder.
    #[serde(default)]
    pub columns: BTreeMap<String, String>,
    /// What the rows are, for the plan ("messages you wrote").
    pub noun: String,
    /// The same for one row ("message you wrote"); the noun when not given.
    pub one: Option<String>,
    /// Whether the plan's sentences tell this rule (false for a rule whose rows another rule
    /// already tells, such as the second id column of the same records).
    #[serde(default = "yes")]
    pub summary: bool,
}

fn yes() -> bool {
    true
}

/// A problem with the policy or with how it fits the schema.
fn problem(msg: impl Into<String>) -> StoreError {
    StoreError::Config(msg.into())
}

/// A plain lower-case SQL identifier (what policy and catalog names must be).
pub fn is_ident(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.chars()
            .next()
            .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

impl Policy {
    /// The policy shipped with hiatus.
    pub fn shipped() -> Self {
        Self::parse(DEFAULT_POLICY).expect("the shipped erasure policy is valid")
    }

    /// Reads a policy file.
    pub fn load(path: &std::path::Path) -> StoreResult<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            problem(format!(
                "cannot read the erasure policy {}: {e}",
                path.display()
            ))
        })?;
        Self::parse(&text).map_err(|e| problem(format!("erasure policy {}: {e}", path.display())))
    }

    /// Parses and checks a policy's own consistency (not yet against a database).
    pub fn parse(text: &str) -> StoreResult<Self> {
        let p: Policy = toml::from_str(text).map_err(|e| problem(e.to_string()))?;
        p.validate()?;
        Ok(p)
    }

    fn column(&self, table: &str, column: &str) -> StoreResult<&ColumnPolicy> {
        self.tables
            .get(table)
            .and_then(|t| t.columns.get(column))
            .ok_or_else(|| {
                problem(format!(
                    "a rule names {table}.{column}, which the policy does not classify"
                ))
            })
    }

    fn validate(&self) -> StoreResult<()> {
        if self.version != 1 {
            return Err(problem(format!(
                "policy version {} is not supported (this hiatus reads version 1)",
                self.version
            )));
        }
        for (name, t) in &self.tables {
            if !is_ident(name) {
                return Err(problem(format!("{name:?} is not a table name")));
            }
            for (col, c) in &t.columns {
                if !is_ident(col) {
                    return Err(problem(format!("{name}.{col:?} is not a column name")));
                }
                match (c.export, &c.reason) {
                    (Export::Exclude, None) => {
                        return Err(problem(format!(
                            "{name}.{col} is excluded from the export without a reason"
                        )));
                    }
                    (Export::Exclude, Some(r)) if !self.exclusions.contains_key(r) => {
                        return Err(problem(format!(
                            "{name}.{col}: exclusion reason {r:?} is not in [exclusions]"
                        )));
                    }
                    (Export::Include, Some(_)) => {
                        return Err(problem(format!(
                            "{name}.{col} is included in the export but gives an exclusion reason"
                        )));
                    }
                    _ => {}
                }
                check_markers(name, col, c)?;
            }
        }
        for (i, r) in self.rules.iter().enumerate() {
            let at = format!("rule {} ({} {:?})", i + 1, r.table, r.action);
            if !self.tables.contains_key(&r.table) {
                return Err(problem(format!(
                    "{at}: table {} is not classified",
                    r.table
                )));
            }
            if r.noun.trim().is_empty() {
                return Err(problem(format!("{at}: noun is empty")));
            }
            match (&r.member, &r.member_json) {
                (Some(m), None) => {
                    let c = self.column(&r.table, m)?;
                    if matches!(c.erase, Erase::Keep | Erase::NotPersonal) {
                        return Err(problem(format!(
                            "{at}: {}.{m} holds the member's id but is classified {:?}",
                            r.table, c.erase
                        )));
                    }
                }
                (None, Some(m)) => {
                    self.column(&r.table, &m.column)?;
                    if !is_ident(&m.field) || r.action != Action::Delete {
                        return Err(problem(format!(
                            "{at}: member_json works with delete rules only"
                        )));
                    }
                }
                _ => {
                    return Err(problem(format!(
                        "{at}: give exactly one of member and member_json"
                    )));
                }
            }
            self.column(&r.table, r.key())?;
            for w in &r.when {
                let kinds = [
                    w.is_in.is_some(),
                    w.not_in.is_some(),
                    w.null.is_some(),
                    w.not_member.is_some(),
                    w.any_not_null.is_some(),
                ];
                if kinds.iter().filter(|k| **k).count() != 1 {
                    return Err(problem(format!(
                        "{at}: a condition needs exactly one of in, not_in, null, not_member, any_not_null"
                    )));
                }
                match (&w.column, &w.any_not_null) {
                    (None, Some(cols)) if !cols.is_empty() => {
                        for c in cols {
                            self.column(&r.table, c)?;
                        }
                    }
                    (Some(c), None) => {
                        self.column(&r.table, c)?;
                    }
                    _ => {
                        return Err(problem(format!(
                            "{at}: a condition names one column, or lists columns in any_not_null"
                        )));
                    }
                }
                if w.is_in
                    .as_ref()
                    .or(w.not_in.as_ref())
                    .is_some_and(|v| v.is_empty())
                {
                    return Err(problem(format!("{at}: an empty list in a condition")));
                }
                if w.not_member == Some(false) || w.null.is_some() && w.not_member.is_some() {
                    return Err(problem(format!("{at}: write not_member = true")));
                }
                if w.not_member.is_some() && r.member_json.is_some() {
                    return Err(problem(format!(
                        "{at}: not_member works with member, not member_json"
                    )));
                }
            }
            if let Some(b) = &r.blobs {
                self.column(&r.table, b)?;
                if r.action != Action::Delete {
                    return Err(problem(format!("{at}: blobs go with delete rules only")));
                }
            }
            match (r.action, &r.retain) {
                (Action::Retain, Some(spec)) => {
                    if !self.retention.contains_key(&spec.period) {
                        return Err(problem(format!(
                            "{at}: retention period {:?} is not in [retention]",
                            spec.period
                        )));
                    }
                    self.column(&r.table, &spec.from)?;
                }
                (Action::Retain, None) => {
                    return Err(problem(format!(
                        "{at}: retain needs retain = {{ period, from }}"
                    )));
                }
                (_, Some(_)) => {
                    return Err(problem(format!("{at}: only retain rules take a retention")));
                }
                _ => {}
            }
            if (r.action == Action::Redact) == r.columns.is_empty() {
                return Err(problem(format!(
                    "{at}: redact rules, and only they, list columns = {{ column = placeholder }}"
                )));
            }
            for col in r.columns.keys() {
                if self.column(&r.table, col)?.erase != Erase::Redact {
                    return Err(problem(format!(
                        "{at}: {}.{col} is redacted by a rule but not classified redact",
                        r.table
                    )));
                }
            }
        }
        // Every column classified as pseudonymized or redacted is handled by a rule.
        for (name, t) in &self.tables {
            for (col, c) in &t.columns {
                let covered = match c.erase {
                    Erase::Pseudonymize => self.rules.iter().any(|r| {
                        r.table == *name
                            && r.member.as_deref() == Some(col)
                            && matches!(r.action, Action::Pseudonymize | Action::Retain)
                    }),
                    Erase::Redact => self
                        .rules
                        .iter()
                        .any(|r| r.table == *name && r.columns.contains_key(col)),
                    _ => true,
                };
                if !covered {
                    return Err(problem(format!(
                        "{name}.{col} is classified {:?} but no rule does it",
                        c.erase
                    )));
                }
            }
        }
        Ok(())
    }

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

    /// The export's exclusions, as the manifest lists them: every reason some column uses.
    pub fn export_exclusions(&self) -> Vec<&ExclusionReason> {
        let used: BTreeSet<&str> = self
            .tables
            .values()
            .flat_map(|t| t.columns.values())
            .filter_map(|c| c.reason.as_deref())
            .collect();
        self.exclusions
            .iter()
            .filter(|(k, _)| used.contains(k.as_str()))
            .map(|(_, v)| v)
            .collect()
    }

    /// The rules compiled to SQL for `backend`.
    pub fn compile(&self, backend: Backend) -> Vec<CompiledRule> {
        self.rules
            .iter()
            .map(|r| CompiledRule::new(r, self, backend))
            .collect()
    }
}

impl Rule {
    /// The column batches are chosen by.
    pub fn key(&self) -> &str {
        self.key.as_deref().unwrap_or("id")
    }
}

/// The `sealed` and `not_personal` markers of one column agree with each other and with its
/// classification.
fn check_markers(table: &str, col: &str, c: &ColumnPolicy) -> StoreResult<()> {
    if c.sealed && c.not_personal {
        return Err(problem(format!(
            "{table}.{col} is marked both sealed and not_personal: a sealed column holds personal data"
        )));
    }
    if c.not_personal && c.erase != Erase::Delete && c.erase != Erase::Redact {
        return Err(problem(format!(
            "{table}.{col}: not_personal = true is for columns classified delete or redact (use erase = \"not_personal\" for a column erasure leaves alone)"
        )));
    }
    Ok(())
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

/// A rule with its SQL built. Parameters: `$1` is what identifies the member's rows (their id,
/// or a `LIKE` pattern for `member_json`); then, by statement, the pseudonym's id (`$2`) or
/// the placeholders of a redaction; then the values of the `when` conditions.
#[derive(Clone, Debug)]
pub struct CompiledRule {
    pub rule: Rule,
    /// `SELECT COUNT(*)` (and for retain rules the latest start of the retention clock).
    pub count_sql: String,
    /// Changes at most [`BATCH`] rows; run until it changes none.
    pub batch_sql: String,
    /// For rules with blobs: the blob keys of the next batch, in the order `batch_sql` takes.
    pub blobs_sql: Option<String>,
    /// For retain rules that purge rows: deletes at most [`BATCH`] rows of the pseudonym
    /// (`$1`) whose clock started at or before `$2`.
    pub purge_sql: Option<String>,
    /// For retain rules: when the next purge is due, as the start of a retention clock among
    /// the pseudonym's (`$1`) rows — the earliest for rules that purge rows, the latest for
    /// rules that purge the identity.
    pub next_purge_sql: Option<String>,
    /// The values of the `when` conditions, in placeholder order.
    pub when_values: Vec<String>,
    /// The placeholders of a redaction, in placeholder order.
    pub redact_values: Vec<String>,
    /// The retention period, for retain rules.
    pub retention: Option<Retention>,
}

impl CompiledRule {
    fn new(r: &Rule, p: &Policy, backend: Backend) -> Self {
        let t = &r.table;
        let key = r.key();
        let mut n = 1; // $1 is the member
        let redact_cols: Vec<(&String, &String)> = r.columns.iter().collect();
        let set = match r.action {
            Action::Delete => None,
            Action::Pseudonymize | Action::Retain => {
                n += 1;
                Some(format!("{} = $2", r.member.as_deref().unwrap_or_default()))
            }
            // A sealed column is cleared rather than given a placeholder: it holds bytes, and
            // a placeholder would only stand where nothing readable is left anyway.
            Action::Redact => Some(
                redact_cols
                    .iter()
                    .map(|(c, _)| {
                        if p.is_sealed(t, c) {
                            return format!("{c} = NULL");
                        }
                        n += 1;
                        format!("{c} = ${n}")
                    })
                    .collect::<Vec<_>>()
                    .join(", "),
            ),
        };
        // The `when` placeholders come after the statement's own; the count statement has
        // none of its own, so it numbers them from 2.
        let when_from = n + 1;
        let matcher = |first: usize| -> String {
            let mut m = match (&r.member, &r.member_json) {
                (Some(c), _) => format!("{c} = $1"),
                (None, Some(j)) => format!("{} LIKE $1", j.column),
                _ => unreachable!("validated: one of member and member_json"),
            };
            let mut i = first;
            for w in &r.when {
                let col = w.column.as_deref().unwrap_or_default();
                if let Some(null) = w.null {
                    m.push_str(&format!(
                        " AND {col} IS {}NULL",
                        if null { "" } else { "NOT " }
                    ));
                    continue;
                }
                if w.not_member.is_some() {
                    m.push_str(&format!(" AND ({col} IS NULL OR {col} <> $1)"));
                    continue;
                }
                if let Some(cols) = &w.any_not_null {
                    let any: Vec<String> =
                        cols.iter().map(|c| format!("{c} IS NOT NULL")).collect();
                    m.push_str(&format!(" AND ({})", any.join(" OR ")));
                    continue;
                }
                let (vals, op) = match (&w.is_in, &w.not_in) {
                    (Some(v), _) => (v, "IN"),
                    (_, Some(v)) => (v, "NOT IN"),
                    _ => unreachable!("validated: one condition kind"),
                };
                let ph: Vec<String> = vals
                    .iter()
                    .map(|_| {
                        let s = format!("${i}");
                        i += 1;
                        s
                    })
                    .collect();
                m.push_str(&format!(" AND {col} {op} ({})", ph.join(", ")));
            }
            m
        };
        let when_values: Vec<String> = r
            .when
            .iter()
            .flat_map(|w| w.is_in.iter().chain(w.not_in.iter()).flatten().cloned())
            .collect();
        let m_stmt = matcher(when_from);
        let m_count = matcher(2);
        // Rules with blobs read the batch's blob keys first and then delete the same rows, so
        // both statements take the rows in key order; the others take whatever the index
        // gives first (sorting every remaining row per batch would cost more than the batch).
        //
        // On SQLite a batch names its rows by rowid, and nothing else: with the member's
        // condition repeated outside the subquery, SQLite walks every remaining row of the
        // member through the index for each batch (quadratic in the member's rows). On
        // PostgreSQL the key and the condition together are what its planner handles well.
        let (key, outer) = match backend {
            Backend::Sqlite => ("rowid", String::new()),
            Backend::Postgres => (key, format!("{m_stmt} AND ")),
        };
        let order = if r.blobs.is_some() {
            format!(" ORDER BY {key}")
        } else {
            String::new()
        };
        let pick = format!("SELECT {key} FROM {t} WHERE {m_stmt}{order} LIMIT {BATCH}");
        let batch_sql = match &set {
            None => format!("DELETE FROM {t} WHERE {outer}{key} IN ({pick})"),
            Some(set) => format!("UPDATE {t} SET {set} WHERE {outer}{key} IN ({pick})"),
        };
        let blobs_sql = r
            .blobs
            .as_ref()
            .map(|b| format!("SELECT {b} FROM {t} WHERE {m_stmt} ORDER BY {key} LIMIT {BATCH}"));
        let retention = r
            .retain
            .as_ref()
            .and_then(|s| p.retention.get(&s.period).cloned());
        let count_sql = match &r.retain {
            Some(s) => format!(
                "SELECT COUNT(*) AS n, MAX({}) AS latest FROM {t} WHERE {m_count}",
                s.from
            ),
            None => format!("SELECT COUNT(*) AS n, NULL AS latest FROM {t} WHERE {m_count}"),
        };
        let (purge_sql, next_purge_sql) = match &r.retain {
            Some(s) => {
                let m = r.member.as_deref().unwrap_or_default();
                let from = &s.from;
                match s.purge {
                    Purge::Rows => (
                        Some(match backend {
                            Backend::Sqlite => format!(
                                "DELETE FROM {t} WHERE rowid IN \
                                 (SELECT rowid FROM {t} WHERE {m} = $1 AND {from} <= $2 LIMIT {BATCH})"
                            ),
                            Backend::Postgres => format!(
                                "DELETE FROM {t} WHERE {m} = $1 AND {from} <= $2 AND {key} IN \
                                 (SELECT {key} FROM {t} WHERE {m} = $1 AND {from} <= $2 LIMIT {BATCH})"
                            ),
                        }),
                        Some(format!("SELECT MIN({from}) FROM {t} WHERE {m} = $1")),
                    ),
                    // The rows stay; the identity is needed until the latest one's period ends.
                    Purge::Identity => (
                        None,
                        Some(format!("SELECT MAX({from}) FROM {t} WHERE {m} = $1")),
                    ),
                }
            }
            None => (None, None),
        };
        CompiledRule {
            rule: r.clone(),
            count_sql,
            batch_sql,
            blobs_sql,
            purge_sql,
            next_purge_sql,
            when_values,
            redact_values: redact_cols
                .iter()
                .filter(|(c, _)| !p.is_sealed(t, c))
                .map(|(_, v)| (*v).clone())
                .collect(),
            retention,
        }
    }

    /// The value `$1` takes for `member`.
    pub fn member_arg(&self, member: &str) -> String {
        match &self.rule.member_json {
            Some(j) => format!("%\"{}\":\"{member}\"%", j.field),
            None => member.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_policy_is_valid_and_classifies_every_rule_column() {
        let p = Policy::shipped();
        assert!(p.tables.len() >= 25);
        assert!(!p.export_exclusions().is_empty());
        for c in p.compile(Backend::Sqlite) {
            assert!(c.batch_sql.contains(&c.rule.table));
        }
    }

    fn edit(from: &str, to: &str) -> String {
        assert!(DEFAULT_POLICY.contains(from), "{from}");
        DEFAULT_POLICY.replacen(from, to, 1)
    }

    #[test]
    fn inconsistent_policies_are_refused_with_the_reason() {
        let cases = [
            (
                edit(
                    "author_id = { erase = \"pseudonymize\", export = \"include\" }\nbody",
                    "author_id = { erase = \"keep\", export = \"include\" }\nbody",
                ),
                "classified Keep",
            ),
            (
                edit(
                    "password_hash = { erase = \"delete\", export = \"exclude\", reason = \"secrets\", not_personal = true }",
                    "password_hash = { erase = \"delete\", export = \"exclude\", not_personal = true }",
                ),
                "without a reason",
            ),
            (
                edit("reason = \"secrets\" }", "reason = \"nope\" }"),
                "not in [exclusions]",
            ),
            (
                edit("period = \"tax\"", "period = \"forever\""),
                "not in [retention]",
            ),
            (edit("version = 1", "version = 2"), "not supported"),
            (
                edit(
                    "noun = \"job posts\"",
                    "noun = \"job posts\"\nkey = \"nope\"",
                ),
                "does not classify",
            ),
            (
                edit(
                    "table = \"messages\"\nmember = \"author_id\"",
                    "table = \"messages\"\nmember = \"body\"",
                ),
                "classified Keep",
            ),
            (
                edit(
                    "member = \"opened_by\"\naction = \"pseudonymize\"",
                    "member = \"opened_by\"\naction = \"delete\"",
                ),
                "disputes.opened_by is classified Pseudonymize but no rule does it",
            ),
            (
                edit("erase = \"keep\"", "erase = \"forget\""),
                "unknown variant",
            ),
        ];
        for (text, expect) in cases {
            let e = Policy::parse(&text).expect_err(expect).to_string();
            assert!(e.contains(expect), "{expect:?} not in {e}");
        }
    }

    #[test]
    fn schema_mismatches_are_listed() {
        let p = Policy::shipped();
        let mut live: BTreeMap<String, BTreeSet<String>> = p
            .tables
            .iter()
            .map(|(t, tp)| (t.clone(), tp.columns.keys().cloned().collect()))
            .collect();
        p.check_schema(&live).unwrap();
        live.get_mut("messages").unwrap().insert("mood".into());
        live.get_mut("files").unwrap().remove("sha256");
        live.insert("stickers".into(), ["id".to_string()].into());
        live.insert("_sqlx_migrations".into(), ["version".to_string()].into());
        let e = p.check_schema(&live).unwrap_err().to_string();
        assert!(e.contains("column messages.mood is not classified"), "{e}");
        assert!(
            e.contains("classifies files.sha256, which the database does not have"),
            "{e}"
        );
        assert!(
            e.contains("table stickers is not in the erasure policy"),
            "{e}"
        );
        assert!(!e.contains("_sqlx_migrations"), "{e}");
    }

    /// The declared types of a schema that matches the shipped policy: ids and codes as text,
    /// sealed values as bytes.
    fn types_of(p: &Policy) -> BTreeMap<String, BTreeMap<String, String>> {
        p.tables
            .iter()
            .map(|(t, tp)| {
                let cols = tp
                    .columns
                    .iter()
                    .map(|(c, cp)| {
                        let ty = if cp.sealed || c.ends_with("_enc") || c == "pdf" {
                            "BLOB"
                        } else {
                            "TEXT"
                        };
                        (c.clone(), ty.to_string())
                    })
                    .collect();
                (t.clone(), cols)
            })
            .collect()
    }

    #[test]
    fn an_unsealed_text_column_that_erasure_deletes_is_refused_by_name() {
        let text = edit(
            "display_name_enc = { erase = \"delete\", export = \"include\", sealed = true }",
            "display_name_enc = { erase = \"delete\", export = \"include\" }\ndisplay_name = { erase = \"delete\", export = \"include\" }",
        );
        let p = Policy::parse(&text).unwrap();
        let mut types = types_of(&p);
        let e = p.check_sealed(&types).unwrap_err().to_string();
        assert!(
            e.contains("profiles.display_name is classified delete and holds TEXT in plaintext"),
            "{e}"
        );
        assert!(
            e.contains(
                "profiles.display_name_enc is classified delete and holds BLOB in plaintext"
            ),
            "the marker is what counts, not the name: {e}"
        );
        // A redacted column is held to the same rule; an integer column is not.
        types
            .get_mut("profiles")
            .unwrap()
            .insert("display_name".into(), "BIGINT".into());
        let e = p.check_sealed(&types).unwrap_err().to_string();
        assert!(!e.contains("profiles.display_name is"), "{e}");
        // A column marked sealed must hold bytes.
        let p = Policy::parse(&edit(
            "bio_enc = { erase = \"delete\", export = \"include\", sealed = true }",
            "bio_enc = { erase = \"delete\", export = \"include\", sealed = true }",
        ))
        .unwrap();
        let mut types = types_of(&p);
        types
            .get_mut("profiles")
            .unwrap()
            .insert("bio_enc".into(), "text".into());
        let e = p.check_sealed(&types).unwrap_err().to_string();
        assert!(
            e.contains("profiles.bio_enc is marked sealed but its type \"text\""),
            "{e}"
        );
        // Both markers at once, or not_personal on a kept column, are contradictions.
        let e = Policy::parse(&edit(
            "bio_enc = { erase = \"delete\", export = \"include\", sealed = true }",
            "bio_enc = { erase = \"delete\", export = \"include\", sealed = true, not_personal = true }",
        ))
        .unwrap_err()
        .to_string();
        assert!(e.contains("both sealed and not_personal"), "{e}");
    }

    #[test]
    fn statements_bind_every_value() {
        let p = Policy::shipped();
        let rules = p.compile(Backend::Postgres);
        let files = rules
            .iter()
            .find(|c| c.rule.table == "files" && c.rule.when.iter().any(|w| w.is_in.is_some()))
            .unwrap();
        assert_eq!(files.when_values, ["photo", "private"]);
        assert!(
            files
                .batch_sql
                .starts_with("DELETE FROM files WHERE owner_id = $1 AND kind IN ($2, $3)"),
            "{}",
            files.batch_sql
        );
        assert!(files.count_sql.contains("kind IN ($2, $3)"));
        let msgs = rules.iter().find(|c| c.rule.table == "messages").unwrap();
        assert!(
            msgs.batch_sql
                .starts_with("UPDATE messages SET author_id = $2 WHERE author_id = $1"),
            "{}",
            msgs.batch_sql
        );
        let audit = rules
            .iter()
            .find(|c| c.rule.action == Action::Redact)
            .unwrap();
        assert!(
            audit.batch_sql.contains("SET detail = $2") && audit.batch_sql.contains("NOT IN ($3)"),
            "{}",
            audit.batch_sql
        );
        let sqlite = p.compile(Backend::Sqlite);
        let msgs = sqlite.iter().find(|c| c.rule.table == "messages").unwrap();
        assert_eq!(
            msgs.batch_sql,
            format!(
                "UPDATE messages SET author_id = $2 WHERE rowid IN (SELECT rowid FROM messages WHERE author_id = $1 LIMIT {BATCH})"
            )
        );
        let jobs = rules.iter().find(|c| c.rule.table == "jobs").unwrap();
        assert_eq!(jobs.member_arg("abc"), "%\"account_id\":\"abc\"%");
        assert!(
            !rules.iter().any(|c| c.batch_sql.contains('\'')),
            "values are bound, never inlined"
        );
    }
}
