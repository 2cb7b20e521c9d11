//! The job queue: a table, enqueued in the caller's transaction, claimed with a lease. A
//! worker that dies loses its lease and the job runs again, so handlers are idempotent.

use crate::args;
use crate::db::{Backend, Db, Tx};
use crate::error::{StoreError, StoreResult};
use hiatus_domain::{JobId, Micros};

/// A job to enqueue.
#[derive(Clone, Debug)]
pub struct NewJob {
    pub kind: String,
    pub payload: serde_json::Value,
    pub run_at: Micros,
    /// At most one queued or running job per key (e.g. one break end per account and date).
    pub dedupe_key: Option<String>,
    pub max_attempts: i64,
}

/// A claimed job.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct JobRow {
    pub id: String,
    pub kind: String,
    pub payload: String,
    pub attempts: i64,
    pub max_attempts: i64,
    pub run_at: i64,
}

/// Enqueues a job. A job with the same dedupe key that is still pending makes this a no-op.
pub async fn enqueue(tx: &mut Tx, job: &NewJob, now: Micros) -> StoreResult<Option<JobId>> {
    let id = JobId::new();
    // No job for an account whose erasure has begun, but the erasure's own.
    if let Some(a) = job.payload.get("account_id").and_then(|a| a.as_str())
        && job.kind != "account.erase"
        && !crate::accounts::attachable(tx, a).await?
    {
        return Ok(None);
    }
    let n = tx
        .exec(
            "INSERT INTO jobs (id, kind, payload, dedupe_key, status, attempts, max_attempts, run_at, created_at) \
             VALUES ($1, $2, $3, $4, 'queued', 0, $5, $6, $7) ON CONFLICT (dedupe_key) DO NOTHING",
            args![id.to_text(), job.kind.clone(), job.payload.to_string(), job.dedupe_key.clone(), job.max_attempts, job.run_at, now],
        )
        .await?;
    Ok((n == 1).then_some(id))
}

/// Claims the next job that is due (or whose lease ran out). PostgreSQL skips rows other
/// workers hold (`FOR UPDATE SKIP LOCKED`); SQLite has a single writer, and `BEGIN IMMEDIATE`
/// makes the select-and-update one atomic step.
pub async fn claim(
    db: &Db,
    worker: &str,
    now: Micros,
    lease: Micros,
) -> StoreResult<Option<JobRow>> {
    // Two lookups rather than one with OR, so that each can use the `jobs_ready` index
    // (status, run_at): with OR, PostgreSQL scans and sorts every due job on every claim, and
    // draining a backlog of n jobs costs n². A job whose lease ran out (its worker died) is
    // taken up first, then the next queued one. On SQLite the write transaction (BEGIN
    // IMMEDIATE) is the lock.
    macro_rules! claim {
        ($which:literal, $lock:literal) => {
            concat!(
                "UPDATE jobs SET status = 'running', attempts = attempts + 1, locked_by = $1, locked_until = $2 \
                 WHERE id = (SELECT id FROM jobs WHERE ",
                $which,
                " ORDER BY run_at LIMIT 1",
                $lock,
                ") RETURNING id, kind, payload, attempts, max_attempts, run_at"
            )
        };
    }
    let statements: [&'static str; 2] = match db.backend() {
        Backend::Postgres => [
            claim!(
                "status = 'running' AND locked_until < $3",
                " FOR UPDATE SKIP LOCKED"
            ),
            claim!(
                "status = 'queued' AND run_at <= $3",
                " FOR UPDATE SKIP LOCKED"
            ),
        ],
        Backend::Sqlite => [
            claim!("status = 'running' AND locked_until < $3", ""),
            claim!("status = 'queued' AND run_at <= $3", ""),
        ],
    };
    let mut tx = db.begin().await?;
    let mut row: Option<JobRow> = None;
    for sql in statements {
        row = tx
            .opt(sql, args![worker.to_string(), now + lease, now])
            .await?;
        if row.is_some() {
            break;
        }
    }
    tx.commit().await?;
    Ok(row)
}

/// Marks a job done. Only the worker that holds the lease can finish it.
pub async fn complete(tx: &mut Tx, id: &str, worker: &str, now: Micros) -> StoreResult<bool> {
    let n = tx
        .exec(
            "UPDATE jobs SET status = 'done', finished_at = $3, locked_by = NULL, locked_until = NULL, dedupe_key = NULL \
             WHERE id = $1 AND locked_by = $2 AND status = 'running'",
            args![id.to_string(), worker.to_string(), now],
        )
        .await?;
    Ok(n == 1)
}

/// Records a failure: retried later with exponential backoff, or failed for good after the
/// last attempt.
pub async fn fail(
    tx: &mut Tx,
    job: &JobRow,
    worker: &str,
    error: &str,
    now: Micros,
) -> StoreResult<()> {
    let error: String = error.chars().take(2000).collect();
    if job.attempts >= job.max_attempts {
        tx.exec(
            "UPDATE jobs SET status = 'failed', last_error = $3, finished_at = $4, locked_by = NULL, locked_until = NULL, dedupe_key = NULL \
             WHERE id = $1 AND locked_by = $2",
            args![job.id.clone(), worker.to_string(), error, now],
        )
        .await?;
    } else {
        let backoff = backoff_micros(job.attempts);
        tx.exec(
            "UPDATE jobs SET status = 'queued', last_error = $3, run_at = $4, locked_by = NULL, locked_until = NULL WHERE id = $1 AND locked_by = $2",
            args![job.id.clone(), worker.to_string(), error, now + backoff],
        )
        .await?;
    }
    Ok(())
}

/// 2^attempts seconds, capped at one hour.
pub fn backoff_micros(attempts: i64) -> Micros {
    let secs = 1i64 << attempts.clamp(0, 12);
    secs.min(3600) * 1_000_000
}

/// Queue health: count and oldest run time per (kind, status).
#[derive(Clone, Debug, sqlx::FromRow, serde::Serialize)]
pub struct QueueStat {
    pub kind: String,
    pub status: String,
    pub count: i64,
    pub oldest_run_at: Option<i64>,
}

/// Counts per kind and status.
pub async fn stats(tx: &mut Tx) -> StoreResult<Vec<QueueStat>> {
    tx.all(
        "SELECT kind, status, COUNT(*) AS count, MIN(run_at) AS oldest_run_at FROM jobs GROUP BY kind, status ORDER BY kind, status",
        args![],
    )
    .await
}

/// A job by id, for tests and the admin CLI.
pub async fn status(tx: &mut Tx, id: &str) -> StoreResult<(String, i64)> {
    let r: Option<(String, i64)> = tx
        .opt(
            "SELECT status, attempts FROM jobs WHERE id = $1",
            args![id.to_string()],
        )
        .await?;
    r.ok_or(StoreError::NotFound)
}

/// Extends the lease of a job this worker holds (a long job's heartbeat). False when the lease
/// was lost: another worker may have claimed the job, and this one should stop.
pub async fn extend_lease(
    tx: &mut Tx,
    id: &str,
    worker: &str,
    locked_until: Micros,
) -> StoreResult<bool> {
    let n = tx
        .exec(
            "UPDATE jobs SET locked_until = $3 WHERE id = $1 AND locked_by = $2 AND status = 'running'",
            args![id.to_string(), worker.to_string(), locked_until],
        )
        .await?;
    Ok(n == 1)
}
