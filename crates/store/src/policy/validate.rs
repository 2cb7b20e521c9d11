//! The policy's own consistency, checked when it is parsed: names, markers and rules.

use super::model::{Action, ColumnPolicy, Erase, Export, Policy};
use super::{is_ident, problem};
use crate::error::StoreResult;

impl Policy {
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

    pub(super) fn validate(&self) -> StoreResult<()> {
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
