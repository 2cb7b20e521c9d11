//! Deletion for good (product definition §3, §4 steps 6–7, §7): scheduling with a grace
//! period, cancelling, the erasure plan, the executor and the retention purge.
//!
//! The executor follows the erasure policy ([`hiatus_store::policy`]). Its first step, in one
//! transaction, makes the account unusable and unreadable: state `deleted`, sessions and links
//! gone, the data key destroyed (the legal name moves to the pseudonym account first when
//! records that need it are retained). Then every rule of the policy runs in batches of at
//! most [`BATCH`](hiatus_store::policy::BATCH) rows, one short transaction each, with the step recorded as a checkpoint.
//! Every batch is idempotent (it selects what still matches), so a crash anywhere and a rerun
//! reach the same end state, and a second run finds nothing to do.

use crate::Hiatus;
use hiatus_domain::*;
use hiatus_store::StoreError;
use hiatus_store::policy::{Action, CompiledRule};
use serde::Serialize;

mod executor;
mod plan;
mod purge;
mod schedule;
#[cfg(test)]
mod tests;
mod verify;

/// How a person appears to those who share records with them (see [`Hiatus::person`]).
pub use crate::market::PersonCard;
pub(crate) use executor::open_notice;
pub use plan::plan_sentences;

/// What a member types to confirm deletion.
pub const CONFIRMATION: &str = "delete my account";

/// What scheduling deletion needs from the member.
#[derive(Clone, Debug)]
pub struct DeleteRequest {
    pub password: Option<String>,
    pub reason: ClosureReason,
    pub detail: Option<String>,
    /// Must be [`CONFIRMATION`] (case and surrounding spaces do not matter).
    pub confirmation: String,
}

/// One line of the plan: what happens to one kind of record.
#[derive(Clone, Debug, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct PlanItem {
    pub table: String,
    pub what: String,
    /// `what` for a single record.
    #[serde(default)]
    pub what_one: String,
    /// `delete`, `pseudonymize`, `redact` or `retain`.
    #[schema(value_type = String)]
    pub action: Action,
    pub count: i64,
    /// For retained records: when the last of them is purged.
    pub retained_until: Option<Micros>,
    /// For retained records: the legal basis.
    pub basis: Option<String>,
    /// For retained records the counterparty keeps: only the member's identity on them ends
    /// at `retained_until`; the records stay.
    pub kept_by_others: bool,
    /// Whether the summary tells this line (false when another line already tells its rows).
    pub in_summary: bool,
}

/// What erasure will do (or did) to a member's data, in numbers and in words.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct ErasurePlan {
    pub account_id: AccountId,
    /// The name counterparties will see in place of the member.
    pub pseudonym: String,
    /// When erasure runs (none before deletion is scheduled).
    pub due_at: Option<Micros>,
    /// People who keep records the member appears in (contracts, threads, reviews).
    pub counterparties: i64,
    pub items: Vec<PlanItem>,
    /// The plan in plain sentences.
    pub summary: Vec<String>,
    /// From this day no copy of the database (backups, dead rows, WAL) can be read for the
    /// member: the keys of the epoch erasure runs in are destroyed.
    pub unreadable_everywhere_at: Micros,
}

/// What a member is told after scheduling deletion.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct DeletionReceipt {
    pub state: AccountState,
    pub at: Micros,
    pub due_at: Micros,
    pub proposals_withdrawn: u64,
    /// Contract offers waiting for an answer: those made to the member declined, those they
    /// made withdrawn.
    pub offers_closed: u64,
    pub job_posts_closed: u64,
    pub warnings: Vec<Finding>,
    pub plan: ErasurePlan,
    /// How to undo it, in words.
    pub next: String,
}

/// How far an executor run got.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub enum EraseOutcome {
    /// Erasure finished (now, or already before).
    Done,
    /// Nothing to do: not scheduled, cancelled, or the grace period is still running.
    NotDue,
    /// Another executor holds the erasure; it will finish it.
    Busy,
    /// Stopped after the given number of transactions (see [`EraseOptions::stop_after`]).
    Stopped,
}

/// How an executor run behaves.
#[derive(Clone, Debug, Default)]
pub struct EraseOptions {
    /// Run even though the grace period has not ended (operators).
    pub ignore_grace: bool,
    /// Stop after this many committed transactions, as a crash there would (tests).
    pub stop_after: Option<u64>,
}

/// The erasure receipt kept after erasure (counts and dates, no pseudonym).
#[derive(Clone, Debug, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct ErasureReceipt {
    pub erased_at: Micros,
    /// From this day no copy of the database taken before erasure can be read for the member
    /// (receipts written before key epochs do not have it).
    #[serde(default)]
    pub unreadable_everywhere_at: Option<Micros>,
    pub summary: Vec<String>,
    pub retained: Vec<RetainedLine>,
    /// What could not be kept because the member's data was already partly gone.
    #[serde(default)]
    pub not_retained: Vec<NotRetained>,
}

/// Something erasure meant to keep (for a legal obligation, or to send the last mail) and
/// could not, because the member's data was already partly gone.
#[derive(Clone, Debug, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct NotRetained {
    pub what: String,
    pub why: String,
}

/// Why a value of the member could not be read, in words (no value, no key material).
fn unreadable(e: &StoreError) -> String {
    match e {
        StoreError::KeyDestroyed => "the member's data key or the value was already destroyed",
        _ => "the stored value no longer opens with the member's data key",
    }
    .to_string()
}

fn capitalized(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

/// A kind of record kept after erasure, and until when.
#[derive(Clone, Debug, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct RetainedLine {
    pub what: String,
    pub count: i64,
    pub until: Micros,
    pub basis: String,
    /// The records stay with the counterparty; only the legal name on them ends at `until`.
    #[serde(default)]
    pub kept_by_others: bool,
}

/// Adds calendar years to a time (UTC); 29 February becomes 28 February when needed.
pub fn add_years(t: Micros, years: u32) -> Micros {
    shift_years(t, years as i64)
}

/// Subtracts calendar years (the purge cut-off: records started before it are due).
fn sub_years(t: Micros, years: u32) -> Micros {
    shift_years(t, -(years as i64))
}

fn shift_years(t: Micros, years: i64) -> Micros {
    let Ok(ts) = jiff::Timestamp::from_microsecond(t) else {
        return t;
    };
    jiff::tz::Offset::UTC
        .to_datetime(ts)
        .checked_add(jiff::Span::new().years(years))
        .ok()
        .and_then(|d| jiff::tz::Offset::UTC.to_timestamp(d).ok())
        .map(|t| t.as_microsecond())
        .unwrap_or(t)
}

impl Hiatus {
    /// The policy's rules, compiled for this database.
    pub fn erasure_rules(&self) -> &[CompiledRule] {
        &self.erasure_rules
    }
}
