//! Export jobs and their download links. The archive itself is built by the service from the
//! readers in [`crate::export_data`]; this module keeps the bookkeeping: what was asked, how
//! far the job got, where the result is and until when.

use crate::args;
use crate::db::Tx;
use crate::error::{StoreError, StoreResult};
use hiatus_domain::{AccountId, ExportStatus, Micros};

/// An export as stored.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct ExportRow {
    pub id: String,
    pub account_id: String,
    /// `queued`, `running`, `ready`, `failed`, `expired` (and `downloaded` for the marker rows
    /// of [`crate::market::record_export_download`]).
    pub status: String,
    pub since: Option<i64>,
    pub records_done: i64,
    pub records_total: i64,
    pub bytes_done: i64,
    pub bytes_total: i64,
    pub blob_key: Option<String>,
    pub size_bytes: Option<i64>,
    pub created_at: i64,
    pub started_at: Option<i64>,
    pub heartbeat_at: Option<i64>,
    pub finished_at: Option<i64>,
    pub expires_at: Option<i64>,
    pub downloaded_at: Option<i64>,
    pub error: Option<String>,
}

impl ExportRow {
    /// The stored status as a type; an unknown name is a corrupt row.
    pub fn stage(&self) -> StoreResult<ExportStatus> {
        ExportStatus::parse(&self.status)
            .ok_or_else(|| StoreError::Corrupt(format!("unknown export status {:?}", self.status)))
    }
}

macro_rules! columns {
    () => {
        "id, account_id, status, since, records_done, records_total, bytes_done, bytes_total, blob_key, size_bytes, created_at, started_at, heartbeat_at, finished_at, expires_at, downloaded_at, error"
    };
}

/// Records a queued export.
pub async fn create(
    tx: &mut Tx,
    id: &str,
    account: AccountId,
    since: Option<Micros>,
    now: Micros,
) -> StoreResult<()> {
    tx.exec(
        "INSERT INTO exports (id, account_id, status, since, created_at) VALUES ($1, $2, 'queued', $3, $4)",
        args![id.to_string(), account.to_text(), since, now],
    )
    .await?;
    Ok(())
}

/// One export.
pub async fn get(tx: &mut Tx, id: &str) -> StoreResult<Option<ExportRow>> {
    tx.opt(
        concat!("SELECT ", columns!(), " FROM exports WHERE id = $1"),
        args![id.to_string()],
    )
    .await
}

/// A member's exports, newest first (the marker rows of downloads outside the export flow are
/// left out).
pub async fn list(tx: &mut Tx, account: AccountId, limit: i64) -> StoreResult<Vec<ExportRow>> {
    tx.all(
        concat!("SELECT ", columns!(), " FROM exports WHERE account_id = $1 AND status <> 'downloaded' ORDER BY created_at DESC, id DESC LIMIT $2"),
        args![account.to_text(), limit],
    )
    .await
}

/// The ids of all of a member's exports, whatever their state (erasure removes their files).
pub async fn ids_of(tx: &mut Tx, account: AccountId) -> StoreResult<Vec<String>> {
    #[derive(sqlx::FromRow)]
    struct Id(String);
    let rows: Vec<Id> = tx
        .all(
            "SELECT id FROM exports WHERE account_id = $1",
            args![account.to_text()],
        )
        .await?;
    Ok(rows.into_iter().map(|r| r.0).collect())
}

/// The member's export that is queued or running, if any.
pub async fn active(tx: &mut Tx, account: AccountId) -> StoreResult<Option<ExportRow>> {
    tx.opt(
        concat!("SELECT ", columns!(), " FROM exports WHERE account_id = $1 AND status IN ('queued', 'running') ORDER BY created_at LIMIT 1"),
        args![account.to_text()],
    )
    .await
}

/// How many exports the member requested at or after `from` (those that failed do not count:
/// the member got nothing from them).
pub async fn requested_since(tx: &mut Tx, account: AccountId, from: Micros) -> StoreResult<i64> {
    tx.scalar(
        "SELECT COUNT(*) FROM exports WHERE account_id = $1 AND created_at >= $2 AND status NOT IN ('downloaded', 'failed')",
        args![account.to_text(), from],
    )
    .await
}

/// Marks the export running (again, after a retry) and resets its progress.
pub async fn start(tx: &mut Tx, id: &str, now: Micros) -> StoreResult<bool> {
    let n = tx
        .exec(
            "UPDATE exports SET status = 'running', started_at = $2, heartbeat_at = $2, records_done = 0, bytes_done = 0, error = NULL \
             WHERE id = $1 AND status IN ('queued', 'running')",
            args![id.to_string(), now],
        )
        .await?;
    Ok(n == 1)
}

/// Progress of a running export; also its heartbeat.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Progress {
    pub records_done: i64,
    pub records_total: i64,
    pub bytes_done: i64,
    pub bytes_total: i64,
}

/// Records progress (and that the job is alive). False when the export is no longer running.
pub async fn progress(tx: &mut Tx, id: &str, p: Progress, now: Micros) -> StoreResult<bool> {
    let n = tx
        .exec(
            "UPDATE exports SET records_done = $2, records_total = $3, bytes_done = $4, bytes_total = $5, heartbeat_at = $6 \
             WHERE id = $1 AND status = 'running'",
            args![id.to_string(), p.records_done, p.records_total, p.bytes_done, p.bytes_total, now],
        )
        .await?;
    Ok(n == 1)
}

/// The finished archive.
#[derive(Clone, Debug)]
pub struct Finished {
    pub blob_key: String,
    pub size_bytes: i64,
    pub expires_at: Micros,
    pub progress: Progress,
}

/// Marks the export ready. False when it was no longer running (cancelled or expired).
pub async fn finish(tx: &mut Tx, id: &str, f: &Finished, now: Micros) -> StoreResult<bool> {
    let p = f.progress;
    let n = tx
        .exec(
            "UPDATE exports SET status = 'ready', blob_key = $2, size_bytes = $3, expires_at = $4, finished_at = $5, heartbeat_at = $5, \
             records_done = $6, records_total = $7, bytes_done = $8, bytes_total = $9, error = NULL WHERE id = $1 AND status = 'running'",
            args![id.to_string(), f.blob_key.clone(), f.size_bytes, f.expires_at, now, p.records_done, p.records_total, p.bytes_done, p.bytes_total],
        )
        .await?;
    Ok(n == 1)
}

/// Marks the export failed with a reason for the member.
pub async fn fail(tx: &mut Tx, id: &str, error: &str, now: Micros) -> StoreResult<bool> {
    let n = tx
        .exec(
            "UPDATE exports SET status = 'failed', error = $2, finished_at = $3 WHERE id = $1 AND status IN ('queued', 'running')",
            args![id.to_string(), error.to_string(), now],
        )
        .await?;
    Ok(n == 1)
}

/// Ready exports whose retention ended, oldest first.
pub async fn expired(tx: &mut Tx, now: Micros, limit: i64) -> StoreResult<Vec<ExportRow>> {
    tx.all(
        concat!(
            "SELECT ",
            columns!(),
            " FROM exports WHERE status = 'ready' AND expires_at <= $1 ORDER BY expires_at LIMIT $2"
        ),
        args![now, limit],
    )
    .await
}

/// Marks an export expired (its archive removed). Its links stay until they are purged, so
/// they answer "gone" rather than "not found".
pub async fn mark_expired(tx: &mut Tx, id: &str) -> StoreResult<()> {
    tx.exec(
        "UPDATE exports SET status = 'expired' WHERE id = $1 AND status = 'ready'",
        args![id.to_string()],
    )
    .await?;
    Ok(())
}

/// Records a download of the archive.
pub async fn mark_downloaded(tx: &mut Tx, id: &str, now: Micros) -> StoreResult<()> {
    tx.exec(
        "UPDATE exports SET downloaded_at = $2 WHERE id = $1",
        args![id.to_string(), now],
    )
    .await?;
    Ok(())
}

/// Stores a download link (the token's hash).
pub async fn create_link(
    tx: &mut Tx,
    token_hash: &[u8],
    export_id: &str,
    account: AccountId,
    now: Micros,
    expires_at: Micros,
) -> StoreResult<()> {
    tx.exec(
        "INSERT INTO export_links (token_hash, export_id, account_id, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)",
        args![token_hash.to_vec(), export_id.to_string(), account.to_text(), now, expires_at],
    )
    .await?;
    Ok(())
}

/// A download link as stored.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct LinkRow {
    pub export_id: String,
    pub account_id: String,
    pub expires_at: i64,
}

/// The link for a token hash, expired or not (the caller tells the two apart).
pub async fn link(tx: &mut Tx, token_hash: &[u8]) -> StoreResult<Option<LinkRow>> {
    tx.opt(
        "SELECT export_id, account_id, expires_at FROM export_links WHERE token_hash = $1",
        args![token_hash.to_vec()],
    )
    .await
}

/// Removes links that expired before `before` (they answer 410 until then, 404 after).
pub async fn purge_links(tx: &mut Tx, before: Micros) -> StoreResult<u64> {
    tx.exec(
        "DELETE FROM export_links WHERE expires_at < $1",
        args![before],
    )
    .await
}

/// Puts a running export back in the queue with a note (a retry follows).
pub async fn progress_note(tx: &mut Tx, id: &str, note: &str) -> StoreResult<()> {
    tx.exec(
        "UPDATE exports SET status = 'queued', error = $2 WHERE id = $1 AND status = 'running'",
        args![id.to_string(), note.to_string()],
    )
    .await?;
    Ok(())
}
