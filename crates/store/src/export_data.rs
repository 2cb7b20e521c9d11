//! The export's read model: every record a member can see, as it goes into their archive, read
//! a page at a time (keyset pagination, so memory stays flat whatever the account's size).
//! Each category has one query for a page and one for the count the database holds, with the
//! same conditions, so the manifest's "exported" and "held" numbers compare like with like.
//!
//! Conventions of every page query: `$1` the member, `$2` the last key of the previous page
//! (`''` to start), `$3` the page size, `$4` the start of an incremental export (0 for a full
//! one). Count queries take `$1` the member and `$2` the start.

use crate::args;
use crate::crypto::{DataKey, Keyring};
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

/// A job post the member published.
#[derive(Debug, sqlx::FromRow, Serialize, JsonSchema)]
pub struct JobPostRecord {
    pub id: String,
    pub client_id: String,
    pub title: String,
    pub status: String,
    #[serde(serialize_with = "time")]
    #[schemars(with = "String")]
    pub created_at: i64,
}
impl Record for JobPostRecord {
    const CATEGORY: &'static str = "job_posts";
    const PAGE: &'static str = "SELECT id, client_id, title, status, created_at FROM job_posts \
        WHERE client_id = $1 AND id > $2 AND created_at >= $4 ORDER BY id LIMIT $3";
    const COUNT: &'static str =
        "SELECT COUNT(*) FROM job_posts WHERE client_id = $1 AND created_at >= $2";
    fn key(&self) -> &str {
        &self.id
    }
}

/// A proposal the member sent or received.
#[derive(Debug, sqlx::FromRow, Serialize, JsonSchema)]
pub struct ProposalRecord {
    pub id: String,
    pub kind: String,
    pub job_post_id: Option<String>,
    pub freelancer_id: String,
    pub client_id: String,
    pub sender_id: String,
    /// Opened by the caller ([`ProposalRecord::open`]).
    #[sqlx(default)]
    pub cover_letter: String,
    #[serde(skip)]
    #[schemars(skip)]
    pub cover_letter_enc: Option<Vec<u8>>,
    /// The sender's wrapped data key, which the cover letter is sealed under.
    #[serde(skip)]
    #[schemars(skip)]
    pub sender_key: Option<Vec<u8>>,
    pub status: String,
    #[serde(serialize_with = "time")]
    #[schemars(with = "String")]
    pub created_at: i64,
}
impl ProposalRecord {
    /// Opens the cover letter with its sender's key (empty when the sender's key is gone).
    pub fn open(&mut self, keys: &Keyring) -> StoreResult<()> {
        if let (Some(b), Some(w)) = (self.cover_letter_enc.take(), self.sender_key.take()) {
            self.cover_letter = keys
                .unwrap_data_key(&self.sender_id, Some(&w))?
                .open_field("proposals", "cover_letter", &self.id, &b)?;
        }
        Ok(())
    }
}
impl Record for ProposalRecord {
    const CATEGORY: &'static str = "proposals";
    const PAGE: &'static str = "SELECT p.id, p.kind, p.job_post_id, p.freelancer_id, p.client_id, p.sender_id, p.cover_letter_enc, \
        a.data_key_wrapped AS sender_key, p.status, p.created_at FROM proposals p JOIN accounts a ON a.id = p.sender_id \
        WHERE (p.freelancer_id = $1 OR p.client_id = $1) AND p.id > $2 AND p.created_at >= $4 ORDER BY p.id LIMIT $3";
    const COUNT: &'static str = "SELECT COUNT(*) FROM proposals WHERE (freelancer_id = $1 OR client_id = $1) AND created_at >= $2";
    fn key(&self) -> &str {
        &self.id
    }
}

/// A contract the member is a party to.
#[derive(Debug, sqlx::FromRow, Serialize, JsonSchema)]
pub struct ContractRecord {
    pub id: String,
    pub client_id: String,
    pub freelancer_id: String,
    pub title: String,
    pub status: String,
    pub currency: String,
    #[serde(serialize_with = "time")]
    #[schemars(with = "String")]
    pub created_at: i64,
    #[serde(serialize_with = "opt_time")]
    #[schemars(with = "Option<String>")]
    pub ended_at: Option<i64>,
}
impl Record for ContractRecord {
    const CATEGORY: &'static str = "contracts";
    const PAGE: &'static str = "SELECT id, client_id, freelancer_id, title, status, currency, created_at, ended_at FROM contracts \
        WHERE (client_id = $1 OR freelancer_id = $1) AND id > $2 AND (created_at >= $4 OR ended_at >= $4) ORDER BY id LIMIT $3";
    const COUNT: &'static str = "SELECT COUNT(*) FROM contracts WHERE (client_id = $1 OR freelancer_id = $1) AND (created_at >= $2 OR ended_at >= $2)";
    const CSV: Option<&'static [&'static str]> = Some(&[
        "id",
        "client_id",
        "freelancer_id",
        "title",
        "status",
        "currency",
        "created_at",
        "ended_at",
    ]);
    fn key(&self) -> &str {
        &self.id
    }
    fn csv_row(&self) -> Vec<String> {
        vec![
            self.id.clone(),
            self.client_id.clone(),
            self.freelancer_id.clone(),
            self.title.clone(),
            self.status.clone(),
            self.currency.clone(),
            t(self.created_at),
            ot(self.ended_at),
        ]
    }
}

/// A milestone of one of the member's contracts.
#[derive(Debug, sqlx::FromRow, Serialize, JsonSchema)]
pub struct MilestoneRecord {
    pub id: String,
    pub contract_id: String,
    pub title: String,
    pub amount_minor: i64,
    pub currency: String,
    pub status: String,
    #[serde(serialize_with = "time")]
    #[schemars(with = "String")]
    pub created_at: i64,
}
impl Record for MilestoneRecord {
    const CATEGORY: &'static str = "milestones";
    const PAGE: &'static str = "SELECT m.id, m.contract_id, m.title, m.amount_minor, m.currency, m.status, m.created_at FROM milestones m \
        JOIN contracts c ON c.id = m.contract_id WHERE (c.client_id = $1 OR c.freelancer_id = $1) AND m.id > $2 AND m.created_at >= $4 ORDER BY m.id LIMIT $3";
    const COUNT: &'static str = "SELECT COUNT(*) FROM milestones m JOIN contracts c ON c.id = m.contract_id \
        WHERE (c.client_id = $1 OR c.freelancer_id = $1) AND m.created_at >= $2";
    fn key(&self) -> &str {
        &self.id
    }
}

/// A payment the member made or received.
#[derive(Debug, sqlx::FromRow, Serialize, JsonSchema)]
pub struct PaymentRecord {
    pub id: String,
    pub contract_id: String,
    pub milestone_id: Option<String>,
    pub payer_id: String,
    pub payee_id: String,
    pub amount_minor: i64,
    pub currency: String,
    pub status: String,
    #[serde(serialize_with = "time")]
    #[schemars(with = "String")]
    pub created_at: i64,
    #[serde(serialize_with = "time")]
    #[schemars(with = "String")]
    pub updated_at: i64,
}
impl Record for PaymentRecord {
    const CATEGORY: &'static str = "payments";
    const PAGE: &'static str = "SELECT id, contract_id, milestone_id, payer_id, payee_id, amount_minor, currency, status, created_at, updated_at FROM payments \
        WHERE (payer_id = $1 OR payee_id = $1) AND id > $2 AND updated_at >= $4 ORDER BY id LIMIT $3";
    const COUNT: &'static str =
        "SELECT COUNT(*) FROM payments WHERE (payer_id = $1 OR payee_id = $1) AND updated_at >= $2";
    const CSV: Option<&'static [&'static str]> = Some(&[
        "id",
        "contract_id",
        "milestone_id",
        "payer_id",
        "payee_id",
        "amount_minor",
        "currency",
        "status",
        "created_at",
        "updated_at",
    ]);
    fn key(&self) -> &str {
        &self.id
    }
    fn csv_row(&self) -> Vec<String> {
        vec![
            self.id.clone(),
            self.contract_id.clone(),
            o(&self.milestone_id),
            self.payer_id.clone(),
            self.payee_id.clone(),
            self.amount_minor.to_string(),
            self.currency.clone(),
            self.status.clone(),
            t(self.created_at),
            t(self.updated_at),
        ]
    }
}

/// A payout to the member.
#[derive(Debug, sqlx::FromRow, Serialize, JsonSchema)]
pub struct PayoutRecord {
    pub id: String,
    pub amount_minor: i64,
    pub currency: String,
    pub status: String,
    #[serde(serialize_with = "time")]
    #[schemars(with = "String")]
    pub created_at: i64,
    #[serde(serialize_with = "time")]
    #[schemars(with = "String")]
    pub settles_at: i64,
}
impl Record for PayoutRecord {
    const CATEGORY: &'static str = "payouts";
    const PAGE: &'static str = "SELECT id, amount_minor, currency, status, created_at, settles_at FROM payouts \
        WHERE account_id = $1 AND id > $2 AND (created_at >= $4 OR settles_at >= $4) ORDER BY id LIMIT $3";
    const COUNT: &'static str = "SELECT COUNT(*) FROM payouts WHERE account_id = $1 AND (created_at >= $2 OR settles_at >= $2)";
    const CSV: Option<&'static [&'static str]> = Some(&[
        "id",
        "amount_minor",
        "currency",
        "status",
        "created_at",
        "settles_at",
    ]);
    fn key(&self) -> &str {
        &self.id
    }
    fn csv_row(&self) -> Vec<String> {
        vec![
            self.id.clone(),
            self.amount_minor.to_string(),
            self.currency.clone(),
            self.status.clone(),
            t(self.created_at),
            t(self.settles_at),
        ]
    }
}

/// The member's balance in one currency.
#[derive(Debug, sqlx::FromRow, Serialize, JsonSchema)]
pub struct BalanceRecord {
    pub currency: String,
    pub available_minor: i64,
    pub debt_minor: i64,
}
impl Record for BalanceRecord {
    const CATEGORY: &'static str = "balances";
    const PAGE: &'static str = "SELECT currency, available_minor, debt_minor FROM balances \
        WHERE account_id = $1 AND currency > $2 AND updated_at >= $4 ORDER BY currency LIMIT $3";
    const COUNT: &'static str =
        "SELECT COUNT(*) FROM balances WHERE account_id = $1 AND updated_at >= $2";
    fn key(&self) -> &str {
        &self.currency
    }
}

/// An invoice the member issued or received.
#[derive(Debug, sqlx::FromRow, Serialize, JsonSchema)]
pub struct InvoiceRecord {
    pub id: String,
    pub number: String,
    pub contract_id: String,
    pub issuer_id: String,
    pub recipient_id: String,
    pub description: String,
    pub amount_minor: i64,
    pub currency: String,
    pub status: String,
    #[serde(serialize_with = "time")]
    #[schemars(with = "String")]
    pub issued_at: i64,
    #[serde(serialize_with = "time")]
    #[schemars(with = "String")]
    pub due_at: i64,
    #[serde(serialize_with = "opt_time")]
    #[schemars(with = "Option<String>")]
    pub paid_at: Option<i64>,
    /// The contract's title, for the PDF (not a column of its own in the JSON).
    #[serde(skip)]
    pub contract_title: String,
    /// The invoice's PDF inside the archive.
    #[sqlx(default)]
    pub pdf: String,
}
impl Record for InvoiceRecord {
    const CATEGORY: &'static str = "invoices";
    const PAGE: &'static str = "SELECT i.id, i.number, i.contract_id, i.issuer_id, i.recipient_id, i.description, i.amount_minor, i.currency, i.status, \
        i.issued_at, i.due_at, i.paid_at, c.title AS contract_title FROM invoices i JOIN contracts c ON c.id = i.contract_id \
        WHERE (i.issuer_id = $1 OR i.recipient_id = $1) AND i.id > $2 AND (i.issued_at >= $4 OR i.paid_at >= $4) ORDER BY i.id LIMIT $3";
    const COUNT: &'static str = "SELECT COUNT(*) FROM invoices WHERE (issuer_id = $1 OR recipient_id = $1) AND (issued_at >= $2 OR paid_at >= $2)";
    const CSV: Option<&'static [&'static str]> = Some(&[
        "id",
        "number",
        "contract_id",
        "issuer_id",
        "recipient_id",
        "description",
        "amount_minor",
        "currency",
        "status",
        "issued_at",
        "due_at",
        "paid_at",
        "pdf",
    ]);
    fn key(&self) -> &str {
        &self.id
    }
    fn csv_row(&self) -> Vec<String> {
        vec![
            self.id.clone(),
            self.number.clone(),
            self.contract_id.clone(),
            self.issuer_id.clone(),
            self.recipient_id.clone(),
            self.description.clone(),
            self.amount_minor.to_string(),
            self.currency.clone(),
            self.status.clone(),
            t(self.issued_at),
            t(self.due_at),
            ot(self.paid_at),
            self.pdf.clone(),
        ]
    }
}

/// A dispute on one of the member's contracts.
#[derive(Debug, sqlx::FromRow, Serialize, JsonSchema)]
pub struct DisputeRecord {
    pub id: String,
    pub contract_id: String,
    pub opened_by: String,
    pub status: String,
    #[serde(serialize_with = "time")]
    #[schemars(with = "String")]
    pub created_at: i64,
    #[serde(serialize_with = "opt_time")]
    #[schemars(with = "Option<String>")]
    pub resolved_at: Option<i64>,
}
impl Record for DisputeRecord {
    const CATEGORY: &'static str = "disputes";
    const PAGE: &'static str = "SELECT d.id, d.contract_id, d.opened_by, d.status, d.created_at, d.resolved_at FROM disputes d \
        JOIN contracts c ON c.id = d.contract_id WHERE (c.client_id = $1 OR c.freelancer_id = $1) AND d.id > $2 \
        AND (d.created_at >= $4 OR d.resolved_at >= $4) ORDER BY d.id LIMIT $3";
    const COUNT: &'static str = "SELECT COUNT(*) FROM disputes d JOIN contracts c ON c.id = d.contract_id \
        WHERE (c.client_id = $1 OR c.freelancer_id = $1) AND (d.created_at >= $2 OR d.resolved_at >= $2)";
    fn key(&self) -> &str {
        &self.id
    }
}

/// How many messages go into one part of a thread in the viewer.
pub const MESSAGES_PER_PART: i64 = 500;

/// A message thread the member takes part in.
#[derive(Debug, sqlx::FromRow, Serialize, JsonSchema)]
pub struct ThreadRecord {
    pub id: String,
    pub contract_id: Option<String>,
    /// With `{name}` replaced by the caller (see `named_id`).
    pub subject: String,
    /// The person the subject names by reference.
    #[serde(skip)]
    #[schemars(skip)]
    pub named_id: Option<String>,
    /// Filled in by [`thread_participants`].
    #[sqlx(skip)]
    pub participants: Vec<String>,
    #[serde(serialize_with = "time")]
    #[schemars(with = "String")]
    pub created_at: i64,
    #[serde(serialize_with = "time")]
    #[schemars(with = "String")]
    pub last_message_at: i64,
    pub message_count: i64,
    /// Filled in by [`thread_participants`].
    #[sqlx(skip)]
    pub message_parts: i64,
}
impl Record for ThreadRecord {
    const CATEGORY: &'static str = "threads";
    const PAGE: &'static str = "SELECT t.id, t.contract_id, t.subject, t.named_id, t.created_at, t.last_message_at, \
        (SELECT COUNT(*) FROM messages m WHERE m.thread_id = t.id AND m.created_at >= $4) AS message_count \
        FROM threads t JOIN thread_participants p ON p.thread_id = t.id \
        WHERE p.account_id = $1 AND t.id > $2 AND t.last_message_at >= $4 ORDER BY t.id LIMIT $3";
    const COUNT: &'static str = "SELECT COUNT(*) FROM threads t JOIN thread_participants p ON p.thread_id = t.id \
        WHERE p.account_id = $1 AND t.last_message_at >= $2";
    fn key(&self) -> &str {
        &self.id
    }
}

/// Fills in the participants of a page of threads (one query for the page) and the number
/// of viewer parts of each.
pub async fn thread_participants(
    tx: &mut Tx,
    member: AccountId,
    threads: &mut [ThreadRecord],
) -> StoreResult<()> {
    let (Some(first), Some(last)) = (threads.first(), threads.last()) else {
        return Ok(());
    };
    let rows: Vec<(String, String)> = tx
        .all(
            "SELECT tp.thread_id, tp.account_id FROM thread_participants tp \
             JOIN thread_participants me ON me.thread_id = tp.thread_id AND me.account_id = $1 \
             WHERE tp.thread_id >= $2 AND tp.thread_id <= $3 ORDER BY tp.thread_id, tp.account_id",
            args![member.to_text(), first.id.clone(), last.id.clone()],
        )
        .await?;
    let mut rows = rows.into_iter().peekable();
    for t in threads.iter_mut() {
        t.message_parts = (t.message_count + MESSAGES_PER_PART - 1) / MESSAGES_PER_PART;
        while let Some((tid, _)) = rows.peek() {
            if tid.as_str() < t.id.as_str() {
                rows.next();
            } else {
                break;
            }
        }
        while let Some((tid, _)) = rows.peek() {
            if *tid == t.id {
                let (_, who) = rows.next().expect("peeked");
                t.participants.push(who);
            } else {
                break;
            }
        }
    }
    Ok(())
}

/// A message in one of the member's threads.
#[derive(Debug, sqlx::FromRow, Serialize, JsonSchema)]
pub struct MessageRecord {
    pub id: String,
    pub thread_id: String,
    pub author_id: String,
    pub body: String,
    #[serde(serialize_with = "time")]
    #[schemars(with = "String")]
    pub created_at: i64,
}
impl Record for MessageRecord {
    const CATEGORY: &'static str = "messages";
    // Read per thread (see `messages_of_thread`); this query serves only the trait's contract.
    const PAGE: &'static str = "SELECT m.id, m.thread_id, m.author_id, m.body, m.created_at FROM messages m \
        JOIN thread_participants p ON p.thread_id = m.thread_id WHERE p.account_id = $1 AND m.id > $2 AND m.created_at >= $4 ORDER BY m.id LIMIT $3";
    const COUNT: &'static str = "SELECT COUNT(*) FROM messages m JOIN thread_participants p ON p.thread_id = m.thread_id \
        WHERE p.account_id = $1 AND m.created_at >= $2";
    const CSV: Option<&'static [&'static str]> =
        Some(&["id", "thread_id", "author_id", "body", "created_at"]);
    fn key(&self) -> &str {
        &self.id
    }
    fn csv_row(&self) -> Vec<String> {
        vec![
            self.id.clone(),
            self.thread_id.clone(),
            self.author_id.clone(),
            self.body.clone(),
            t(self.created_at),
        ]
    }
}

/// The next messages of a thread, oldest first, after (`after_time`, `after_id`).
pub async fn messages_of_thread(
    tx: &mut Tx,
    thread: &str,
    after_time: Micros,
    after_id: &str,
    limit: i64,
) -> StoreResult<Vec<MessageRecord>> {
    tx.all(
        "SELECT id, thread_id, author_id, body, created_at FROM messages \
         WHERE thread_id = $1 AND (created_at > $2 OR (created_at = $2 AND id > $3)) ORDER BY created_at, id LIMIT $4",
        args![thread.to_string(), after_time, after_id.to_string(), limit],
    )
    .await
}

/// A work submission on one of the member's contracts.
#[derive(Debug, sqlx::FromRow, Serialize, JsonSchema)]
pub struct SubmissionRecord {
    pub id: String,
    pub contract_id: String,
    pub freelancer_id: String,
    pub note: String,
    #[serde(serialize_with = "time")]
    #[schemars(with = "String")]
    pub created_at: i64,
}
impl Record for SubmissionRecord {
    const CATEGORY: &'static str = "submissions";
    const PAGE: &'static str = "SELECT s.id, s.contract_id, s.freelancer_id, s.note, s.created_at FROM submissions s \
        JOIN contracts c ON c.id = s.contract_id WHERE (c.client_id = $1 OR c.freelancer_id = $1) AND s.id > $2 AND s.created_at >= $4 ORDER BY s.id LIMIT $3";
    const COUNT: &'static str = "SELECT COUNT(*) FROM submissions s JOIN contracts c ON c.id = s.contract_id \
        WHERE (c.client_id = $1 OR c.freelancer_id = $1) AND s.created_at >= $2";
    fn key(&self) -> &str {
        &self.id
    }
}

/// A file the member can see: their own (profile photo, private files, what they attached or
/// delivered), work delivered under their contracts, attachments in their threads.
#[derive(Debug, sqlx::FromRow, Serialize, JsonSchema)]
pub struct FileRecord {
    pub id: String,
    pub owner_id: String,
    pub kind: String,
    pub message_id: Option<String>,
    pub submission_id: Option<String>,
    /// The original name, as uploaded.
    pub name: Option<String>,
    /// Where the bytes are in the archive.
    #[sqlx(default)]
    pub path: String,
    /// Why the file is stored under a neutral name (`path` ends in `.txt`) because a browser
    /// could run it: `active_extension`, `active_type`, `active_content` or
    /// `unknown_extension`; null when it keeps its name.
    #[sqlx(default)]
    pub renamed: Option<String>,
    pub content_type: String,
    pub size_bytes: i64,
    pub sha256: String,
    #[serde(serialize_with = "time")]
    #[schemars(with = "String")]
    pub created_at: i64,
    #[serde(skip)]
    pub blob_key: String,
    #[serde(skip)]
    pub name_enc: Option<Vec<u8>>,
    #[serde(skip)]
    pub encrypted: bool,
}
macro_rules! file_visible {
    () => {
        "(f.owner_id = $1 \
        OR f.submission_id IN (SELECT s.id FROM submissions s JOIN contracts c ON c.id = s.contract_id WHERE c.client_id = $1 OR c.freelancer_id = $1) \
        OR f.message_id IN (SELECT m.id FROM messages m JOIN thread_participants p ON p.thread_id = m.thread_id WHERE p.account_id = $1))"
    };
}
impl Record for FileRecord {
    const CATEGORY: &'static str = "files";
    const PAGE: &'static str = concat!(
        "SELECT f.id, f.owner_id, f.kind, f.message_id, f.submission_id, f.name, f.content_type, f.size_bytes, f.sha256, f.created_at, \
         f.blob_key, f.name_enc, f.encrypted FROM files f WHERE ",
        file_visible!(),
        " AND f.id > $2 AND f.created_at >= $4 ORDER BY f.id LIMIT $3"
    );
    const COUNT: &'static str = concat!(
        "SELECT COUNT(*) FROM files f WHERE ",
        file_visible!(),
        " AND f.created_at >= $2"
    );
    fn key(&self) -> &str {
        &self.id
    }
}

/// Total bytes of the files the member can see (for progress).
pub async fn file_bytes(tx: &mut Tx, member: AccountId, since: Micros) -> StoreResult<i64> {
    tx.scalar(
        concat!(
            "SELECT CAST(COALESCE(SUM(f.size_bytes), 0) AS BIGINT) FROM files f WHERE ",
            file_visible!(),
            " AND f.created_at >= $2"
        ),
        args![member.to_text(), since],
    )
    .await
}

/// A review the member wrote or received.
#[derive(Debug, sqlx::FromRow, Serialize, JsonSchema)]
pub struct ReviewRecord {
    pub id: String,
    pub contract_id: String,
    pub author_id: String,
    pub subject_id: String,
    pub rating: i64,
    pub body: String,
    #[serde(serialize_with = "time")]
    #[schemars(with = "String")]
    pub created_at: i64,
}
impl Record for ReviewRecord {
    const CATEGORY: &'static str = "reviews";
    const PAGE: &'static str = "SELECT id, contract_id, author_id, subject_id, rating, body, created_at FROM reviews \
        WHERE (author_id = $1 OR subject_id = $1) AND id > $2 AND created_at >= $4 ORDER BY id LIMIT $3";
    const COUNT: &'static str = "SELECT COUNT(*) FROM reviews WHERE (author_id = $1 OR subject_id = $1) AND created_at >= $2";
    const CSV: Option<&'static [&'static str]> = Some(&[
        "id",
        "contract_id",
        "author_id",
        "subject_id",
        "rating",
        "body",
        "created_at",
    ]);
    fn key(&self) -> &str {
        &self.id
    }
    fn csv_row(&self) -> Vec<String> {
        vec![
            self.id.clone(),
            self.contract_id.clone(),
            self.author_id.clone(),
            self.subject_id.clone(),
            self.rating.to_string(),
            self.body.clone(),
            t(self.created_at),
        ]
    }
}

/// An event of the account's audit history.
#[derive(Debug, sqlx::FromRow, Serialize, JsonSchema)]
pub struct AuditRecord {
    pub id: String,
    pub actor_id: Option<String>,
    pub action: String,
    pub reason: Option<String>,
    #[serde(serialize_with = "json_text")]
    #[schemars(with = "serde_json::Value")]
    pub detail: String,
    /// The free text the member gave with a closure reason, opened by the caller
    /// ([`AuditRecord::open`]).
    #[sqlx(default)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    #[serde(skip)]
    #[schemars(skip)]
    pub note_enc: Option<Vec<u8>>,
    #[serde(serialize_with = "time")]
    #[schemars(with = "String")]
    pub created_at: i64,
}
impl AuditRecord {
    /// Opens the free-text note with the member's key.
    pub fn open(&mut self, dk: &DataKey) -> StoreResult<()> {
        if let Some(b) = self.note_enc.take() {
            self.note = Some(dk.open_field("audit_events", "note", &self.id, &b)?);
        }
        Ok(())
    }
}
impl Record for AuditRecord {
    const CATEGORY: &'static str = "audit";
    const PAGE: &'static str = "SELECT id, actor_id, action, reason, detail, note_enc, created_at FROM audit_events \
        WHERE account_id = $1 AND id > $2 AND created_at >= $4 ORDER BY id LIMIT $3";
    const COUNT: &'static str =
        "SELECT COUNT(*) FROM audit_events WHERE account_id = $1 AND created_at >= $2";
    fn key(&self) -> &str {
        &self.id
    }
}

/// A client the member told they were leaving.
#[derive(Debug, sqlx::FromRow, Serialize, JsonSchema)]
pub struct ClientNoticeRecord {
    pub client_id: String,
    #[serde(serialize_with = "time")]
    #[schemars(with = "String")]
    pub sent_at: i64,
    /// What the member wrote (notices from before messages were kept have none), opened by
    /// the caller ([`ClientNoticeRecord::open`]).
    #[sqlx(default)]
    pub message: Option<String>,
    #[sqlx(default)]
    pub forwarding: Option<String>,
    #[serde(skip)]
    #[schemars(skip)]
    pub message_enc: Option<Vec<u8>>,
    #[serde(skip)]
    #[schemars(skip)]
    pub forwarding_enc: Option<Vec<u8>>,
    /// `pending` until delivered, then `sent`.
    pub status: String,
}
impl ClientNoticeRecord {
    /// Opens the message and forwarding contact with the member's key.
    pub fn open(&mut self, dk: &DataKey) -> StoreResult<()> {
        if let Some(b) = self.message_enc.take() {
            self.message = Some(dk.open_field("client_notices", "message", &self.client_id, &b)?);
        }
        if let Some(b) = self.forwarding_enc.take() {
            self.forwarding =
                Some(dk.open_field("client_notices", "forwarding", &self.client_id, &b)?);
        }
        Ok(())
    }
}
impl Record for ClientNoticeRecord {
    const CATEGORY: &'static str = "client_notices";
    const PAGE: &'static str = "SELECT client_id, sent_at, message_enc, forwarding_enc, status FROM client_notices \
        WHERE account_id = $1 AND client_id > $2 AND sent_at >= $4 ORDER BY client_id LIMIT $3";
    const COUNT: &'static str =
        "SELECT COUNT(*) FROM client_notices WHERE account_id = $1 AND sent_at >= $2";
    fn key(&self) -> &str {
        &self.client_id
    }
}

/// A request to restore the account through support (lost credentials), and support's
/// decision. The one-time code, the request's token and the deciding agent stay out
/// (secrets, internal).
#[derive(Debug, sqlx::FromRow, Serialize, JsonSchema)]
pub struct RestorationRecord {
    pub id: String,
    /// `awaiting_code`, `verified`, `approved`, `denied`, `expired`.
    pub status: String,
    /// What the requester wrote to support (decrypted by the caller with the member's key).
    #[sqlx(default)]
    pub explanation: Option<String>,
    #[serde(serialize_with = "time")]
    #[schemars(with = "String")]
    pub created_at: i64,
    #[serde(serialize_with = "time")]
    #[schemars(with = "String")]
    pub expires_at: i64,
    #[serde(serialize_with = "opt_time")]
    #[schemars(with = "Option<String>")]
    pub verified_at: Option<i64>,
    #[serde(serialize_with = "opt_time")]
    #[schemars(with = "Option<String>")]
    pub decided_at: Option<i64>,
    /// What support wrote with its decision (decrypted by the caller with the member's key).
    #[sqlx(default)]
    pub decision_note: Option<String>,
    #[serde(skip)]
    pub explanation_enc: Option<Vec<u8>>,
    #[serde(skip)]
    pub decision_note_enc: Option<Vec<u8>>,
}
impl Record for RestorationRecord {
    const CATEGORY: &'static str = "restorations";
    const PAGE: &'static str = "SELECT id, status, created_at, expires_at, verified_at, decided_at, explanation_enc, decision_note_enc FROM restoration_requests WHERE account_id = $1 AND id > $2 AND created_at >= $4 ORDER BY id LIMIT $3";
    const COUNT: &'static str =
        "SELECT COUNT(*) FROM restoration_requests WHERE account_id = $1 AND created_at >= $2";
    fn key(&self) -> &str {
        &self.id
    }
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

/// The ids of a page of the member's threads, in the order and with the filter of
/// [`ThreadRecord`]'s pages, without the per-thread message count (for walking messages).
pub async fn thread_ids_page(
    tx: &mut Tx,
    member: AccountId,
    after: &str,
    limit: i64,
    since: Micros,
) -> StoreResult<Vec<String>> {
    let rows: Vec<(String,)> = tx
        .all(
            "SELECT t.id FROM threads t JOIN thread_participants p ON p.thread_id = t.id \
             WHERE p.account_id = $1 AND t.id > $2 AND t.last_message_at >= $4 ORDER BY t.id LIMIT $3",
            args![member.to_text(), after.to_string(), limit, since],
        )
        .await?;
    Ok(rows.into_iter().map(|(id,)| id).collect())
}
