//! The files the member can see.

use super::{Record, time};
use crate::args;
use crate::db::Tx;
use crate::error::StoreResult;
use hiatus_domain::{AccountId, Micros};
use schemars::JsonSchema;
use serde::Serialize;

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
