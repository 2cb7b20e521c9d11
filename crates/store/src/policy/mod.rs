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

mod compiler;
mod model;
mod schema_check;
#[cfg(test)]
mod tests;
mod validate;

pub use compiler::CompiledRule;
pub use model::*;
pub use schema_check::{live_column_types, live_schema};

use crate::error::StoreError;

/// The policy shipped with hiatus.
pub const DEFAULT_POLICY: &str = include_str!("../../policy/erasure.toml");

/// Rows one erasure statement changes at most: small enough that no transaction holds its
/// locks for long, large enough that the per-statement cost stays small.
pub const BATCH: i64 = 2_000;

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
