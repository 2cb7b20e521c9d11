//! Named queries and changes for the command-line tests, which run `hiatus` as processes
//! (servers, workers, commands) on one database: the jobs the workers take and what they
//! leave behind, exports, erasures, client notices and files.

use crate::db::{Arg, Tx};
use crate::error::StoreResult;
use crate::{Backend, args};

// ---- named queries: what the command-line tests inspect ------------------------------------

/// The id of the database's only account.
pub async fn only_account_id(tx: &mut Tx) -> StoreResult<String> {
    tx.scalar("SELECT id FROM accounts", vec![]).await
}

/// Replaces the wrapped data key of account `id` and its recorded epoch.
pub async fn tamper_wrapped_key(
    tx: &mut Tx,
    id: &str,
    wrapped: Vec<u8>,
    epoch: Option<i64>,
) -> StoreResult<u64> {
    tx.exec(
        "UPDATE accounts SET data_key_wrapped = $1, key_epoch = $2 WHERE id = $3",
        args![wrapped, epoch, id],
    )
    .await
}

/// Renames file `id` to `name`, bypassing every check of an upload.
pub async fn tamper_file_name(tx: &mut Tx, id: &str, name: &str) -> StoreResult<u64> {
    tx.exec("UPDATE files SET name = $1 WHERE id = $2", args![name, id])
        .await
}

// ---- named queries: jobs, exports and notices across processes ----------------------------

/// The jobs in one of `statuses` whose time to run has come by the database's clock.
async fn count_jobs_due_in(tx: &mut Tx, statuses: &[&str]) -> StoreResult<i64> {
    let now = match tx.backend() {
        Backend::Postgres => "(EXTRACT(EPOCH FROM now()) * 1000000)::bigint",
        Backend::Sqlite => "CAST((julianday('now') - 2440587.5) * 86400000000 AS INTEGER)",
    };
    let list = (1..=statuses.len())
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ");
    let sql = format!("SELECT COUNT(*) FROM jobs WHERE status IN ({list}) AND run_at <= {now}");
    let args = statuses.iter().map(|s| Arg::from(*s)).collect();
    tx.scalar_dyn(&sql, args).await
}

/// The queued jobs whose time to run has come (by the database's clock).
pub async fn count_queued_jobs_due(tx: &mut Tx) -> StoreResult<i64> {
    count_jobs_due_in(tx, &["queued"]).await
}

/// The queued or running jobs whose time to run has come (by the database's clock): what is
/// left to do now.
pub async fn count_unfinished_jobs_due(tx: &mut Tx) -> StoreResult<i64> {
    count_jobs_due_in(tx, &["queued", "running"]).await
}

/// A running export build, the one of export `export_id` first if it runs:
/// (job id, the worker holding it, payload).
pub async fn running_export_build_preferring(
    tx: &mut Tx,
    export_id: &str,
) -> StoreResult<Option<(String, String, String)>> {
    tx.opt(
        "SELECT id, locked_by, payload FROM jobs WHERE kind = 'export.build' AND status = 'running' \
         ORDER BY (payload LIKE '%' || $1 || '%') DESC LIMIT 1",
        args![export_id],
    )
    .await
}

/// The attempts of a running export build, if one runs.
pub async fn running_export_build_attempts(tx: &mut Tx) -> StoreResult<Option<i64>> {
    let row: Option<(i64,)> = tx
        .opt(
            "SELECT CAST(attempts AS BIGINT) FROM jobs WHERE kind = 'export.build' AND status = 'running'",
            vec![],
        )
        .await?;
    Ok(row.map(|(a,)| a))
}

/// The status of job `id`, and the worker holding it.
pub async fn job_status_and_holder(tx: &mut Tx, id: &str) -> StoreResult<(String, Option<String>)> {
    tx.one(
        "SELECT status, locked_by FROM jobs WHERE id = $1",
        args![id],
    )
    .await
}

/// The status of job `id`, its attempts, and the worker that held it last.
pub async fn job_status_attempts_and_holder(
    tx: &mut Tx,
    id: &str,
) -> StoreResult<(String, i64, Option<String>)> {
    tx.one(
        "SELECT status, CAST(attempts AS BIGINT), locked_by FROM jobs WHERE id = $1",
        args![id],
    )
    .await
}

/// How many jobs of each kind are done, by kind.
pub async fn jobs_done_by_kind(tx: &mut Tx) -> StoreResult<Vec<(String, i64)>> {
    tx.all(
        "SELECT kind, CAST(COUNT(*) AS BIGINT) FROM jobs WHERE status = 'done' GROUP BY kind ORDER BY kind",
        vec![],
    )
    .await
}

/// The status of export `id` (the export must exist).
pub async fn export_status(tx: &mut Tx, id: &str) -> StoreResult<String> {
    tx.scalar("SELECT status FROM exports WHERE id = $1", args![id])
        .await
}

/// The exports announced ready more than once.
pub async fn count_exports_announced_twice(tx: &mut Tx) -> StoreResult<i64> {
    let sql = match tx.backend() {
        Backend::Postgres => {
            "SELECT COUNT(*) FROM (SELECT payload::json->>'export_id' FROM outbox \
             WHERE event = 'export.ready' GROUP BY 1 HAVING COUNT(*) > 1) d"
        }
        Backend::Sqlite => {
            "SELECT COUNT(*) FROM (SELECT json_extract(payload, '$.export_id') FROM outbox \
             WHERE event = 'export.ready' GROUP BY 1 HAVING COUNT(*) > 1) d"
        }
    };
    tx.scalar(sql, vec![]).await
}

/// The status of the erasure of account `id`, if one was scheduled.
pub async fn erasure_status_if_any(tx: &mut Tx, id: &str) -> StoreResult<Option<String>> {
    let row: Option<(String,)> = tx
        .opt(
            "SELECT status FROM erasures WHERE account_id = $1",
            args![id],
        )
        .await?;
    Ok(row.map(|(s,)| s))
}

/// The accounts whose break was ended more than once.
pub async fn count_breaks_ended_twice(tx: &mut Tx) -> StoreResult<i64> {
    tx.scalar(
        "SELECT COUNT(*) FROM (SELECT account_id FROM audit_events WHERE action = 'break.ended' \
         GROUP BY 1 HAVING COUNT(*) > 1) d",
        vec![],
    )
    .await
}

/// The messages whose body is `body`, and the threads they are in: (messages, threads).
pub async fn messages_with_body(tx: &mut Tx, body: &str) -> StoreResult<(i64, i64)> {
    tx.one(
        "SELECT CAST(COUNT(*) AS BIGINT), CAST(COUNT(DISTINCT thread_id) AS BIGINT) FROM messages \
         WHERE body = $1",
        args![body],
    )
    .await
}

/// The client notices of member `account` that went out.
pub async fn count_client_notices_sent(tx: &mut Tx, account: &str) -> StoreResult<i64> {
    tx.scalar(
        "SELECT CAST(COUNT(*) AS BIGINT) FROM client_notices WHERE account_id = $1 AND status = 'sent'",
        args![account],
    )
    .await
}

/// The accounts waiting for the confirmation of their address.
pub async fn accounts_awaiting_confirmation(tx: &mut Tx) -> StoreResult<Vec<String>> {
    let rows: Vec<(String,)> = tx
        .all("SELECT account_id FROM signup_confirmations", vec![])
        .await?;
    Ok(rows.into_iter().map(|(id,)| id).collect())
}

/// The storage keys of the files `owner` delivered to clients (in a message or a submission).
pub async fn delivered_file_keys(tx: &mut Tx, owner: &str) -> StoreResult<Vec<String>> {
    let rows: Vec<(String,)> = tx
        .all(
            "SELECT blob_key FROM files WHERE owner_id = $1 \
             AND (message_id IS NOT NULL OR submission_id IS NOT NULL)",
            args![owner],
        )
        .await?;
    Ok(rows.into_iter().map(|(k,)| k).collect())
}

/// The storage keys of the private files and photos of `owner`.
pub async fn private_file_keys(tx: &mut Tx, owner: &str) -> StoreResult<Vec<String>> {
    let rows: Vec<(String,)> = tx
        .all(
            "SELECT blob_key FROM files WHERE owner_id = $1 AND kind IN ('private', 'photo')",
            args![owner],
        )
        .await?;
    Ok(rows.into_iter().map(|(k,)| k).collect())
}
