//! The export's read model: every record a member can see, as it goes into their archive, read
//! a page at a time (keyset pagination, so memory stays flat whatever the account's size).
//! Each category has one query for a page and one for the count the database holds, with the
//! same conditions, so the manifest's "exported" and "held" numbers compare like with like.
//!
//! Conventions of every page query: `$1` the member, `$2` the last key of the previous page
//! (`''` to start), `$3` the page size, `$4` the start of an incremental export (0 for a full
//! one). Count queries take `$1` the member and `$2` the start.

mod files;
mod history;
mod messages;
mod money;
mod work;

pub use files::*;
pub use history::*;
pub use messages::*;
pub use money::*;
pub use work::*;

use crate::args;
use crate::db::{Row, Tx};
use crate::error::StoreResult;
use hiatus_domain::{AccountId, Micros};
use schemars::JsonSchema;
use serde::{Serialize, Serializer};

/// An RFC 3339 time in UTC, from microseconds.
pub fn rfc3339(micros: Micros) -> String {
    jiff::Timestamp::from_microsecond(micros)
        .map(|t| t.to_string())
        .unwrap_or_default()
}

fn time<S: Serializer>(v: &i64, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&rfc3339(*v))
}
fn opt_time<S: Serializer>(v: &Option<i64>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(v) => s.serialize_str(&rfc3339(*v)),
        None => s.serialize_none(),
    }
}
fn json_text<S: Serializer>(v: &str, s: S) -> Result<S::Ok, S::Error> {
    let value: serde_json::Value =
        serde_json::from_str(v).unwrap_or_else(|_| serde_json::Value::String(v.to_string()));
    value.serialize(s)
}

/// A record of the export: knows its category, its key for paging, and its CSV row.
pub trait Record: Row + Serialize + JsonSchema + Send + 'static {
    /// The category (file name under `data/`).
    const CATEGORY: &'static str;
    /// A page of records after `after`.
    const PAGE: &'static str;
    /// How many records the database holds for the member.
    const COUNT: &'static str;
    /// The CSV header, when the category has a CSV file.
    const CSV: Option<&'static [&'static str]> = None;
    /// The paging key of this record.
    fn key(&self) -> &str;
    /// The CSV cells, in the order of [`Record::CSV`].
    fn csv_row(&self) -> Vec<String> {
        Vec::new()
    }
}

/// A page of `R`.
pub async fn page<R: Record>(
    tx: &mut Tx,
    member: AccountId,
    after: &str,
    limit: i64,
    since: Micros,
) -> StoreResult<Vec<R>> {
    tx.all(
        R::PAGE,
        args![member.to_text(), after.to_string(), limit, since],
    )
    .await
}

/// The count the database holds of `R` for the member.
pub async fn count<R: Record>(tx: &mut Tx, member: AccountId, since: Micros) -> StoreResult<i64> {
    tx.scalar(R::COUNT, args![member.to_text(), since]).await
}

fn t(v: i64) -> String {
    rfc3339(v)
}
fn ot(v: Option<i64>) -> String {
    v.map(rfc3339).unwrap_or_default()
}
fn o(v: &Option<String>) -> String {
    v.clone().unwrap_or_default()
}

/// The people the member dealt with (ids only; names are decrypted by the caller): the other
/// parties of contracts, proposals, threads and reviews, with the pseudonym of those erased.
pub async fn counterparties_page(
    tx: &mut Tx,
    member: AccountId,
    after: &str,
    limit: i64,
) -> StoreResult<Vec<(String, Option<Vec<u8>>, Option<Vec<u8>>, Option<String>)>> {
    tx.all(
        "SELECT a.id, a.data_key_wrapped, p.display_name_enc, a.pseudonym FROM accounts a LEFT JOIN profiles p ON p.account_id = a.id WHERE a.id > $2 AND a.id <> $1 AND a.id IN ( \
           SELECT client_id FROM contracts WHERE freelancer_id = $1 UNION SELECT freelancer_id FROM contracts WHERE client_id = $1 \
           UNION SELECT client_id FROM proposals WHERE freelancer_id = $1 UNION SELECT freelancer_id FROM proposals WHERE client_id = $1 \
           UNION SELECT tp.account_id FROM thread_participants tp JOIN thread_participants me ON me.thread_id = tp.thread_id AND me.account_id = $1 \
           UNION SELECT author_id FROM reviews WHERE subject_id = $1 UNION SELECT subject_id FROM reviews WHERE author_id = $1) \
         ORDER BY a.id LIMIT $3",
        args![member.to_text(), after.to_string(), limit],
    )
    .await
}

/// The member's profile photo (a file id), if any.
pub async fn photo_file_id(tx: &mut Tx, member: AccountId) -> StoreResult<Option<String>> {
    let row: Option<(Option<String>,)> = tx
        .opt(
            "SELECT photo_file_id FROM profiles WHERE account_id = $1",
            args![member.to_text()],
        )
        .await?;
    Ok(row.and_then(|(p,)| p))
}

/// Calls `$m!` with every record type of the export, so lists of categories (counts, schemas)
/// come from one place and none can be forgotten.
#[macro_export]
macro_rules! for_each_export_record {
    ($m:ident) => {
        $m!(
            $crate::export_data::JobPostRecord,
            $crate::export_data::ProposalRecord,
            $crate::export_data::ContractRecord,
            $crate::export_data::MilestoneRecord,
            $crate::export_data::PaymentRecord,
            $crate::export_data::PayoutRecord,
            $crate::export_data::BalanceRecord,
            $crate::export_data::InvoiceRecord,
            $crate::export_data::DisputeRecord,
            $crate::export_data::ThreadRecord,
            $crate::export_data::MessageRecord,
            $crate::export_data::SubmissionRecord,
            $crate::export_data::FileRecord,
            $crate::export_data::ReviewRecord,
            $crate::export_data::AuditRecord,
            $crate::export_data::ClientNoticeRecord,
            $crate::export_data::RestorationRecord
        )
    };
}

/// What the database holds for the member, per category (the manifest's "held").
pub async fn held_counts(
    tx: &mut Tx,
    member: AccountId,
    since: Micros,
) -> StoreResult<std::collections::BTreeMap<String, u64>> {
    let mut held = std::collections::BTreeMap::new();
    macro_rules! held {
        ($($t:ty),*) => {$(
            held.insert(<$t>::CATEGORY.to_string(), count::<$t>(tx, member, since).await? as u64);
        )*};
    }
    for_each_export_record!(held);
    Ok(held)
}
