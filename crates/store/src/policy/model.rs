//! The policy file's model: tables, columns, rules and the retention periods, as parsed.

use super::compiler::CompiledRule;
use super::{DEFAULT_POLICY, problem};
use crate::db::Backend;
use crate::error::StoreResult;
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet};

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
