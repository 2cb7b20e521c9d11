//! The SQL erasure runs, compiled from the policy's rules: only checked identifiers in the
//! text, every value bound as a parameter.

use super::BATCH;
use super::model::{Action, Policy, Purge, Retention, Rule};
use crate::db::Backend;

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
    pub(super) fn new(r: &Rule, p: &Policy, backend: Backend) -> Self {
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
