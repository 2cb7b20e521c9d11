//! The threads the member takes part in and their messages.

use super::{Record, t, time};
use crate::args;
use crate::db::Tx;
use crate::error::StoreResult;
use hiatus_domain::{AccountId, Micros};
use schemars::JsonSchema;
use serde::Serialize;

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
