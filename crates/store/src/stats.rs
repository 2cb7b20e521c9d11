//! Operational figures read from the shared database, so that any server process reports the
//! state of the whole deployment (every worker's jobs, exports and erasures), not only its
//! own: the job queue by kind, outbox lag, failed deliveries, recent exports and erasures.
//! Counts, times and sizes only; nothing about a person.

use crate::args;
use crate::db::Tx;
use crate::error::StoreResult;
use hiatus_domain::Micros;

/// Jobs of one kind that are waiting or running.
#[derive(Clone, Debug, sqlx::FromRow, serde::Serialize)]
pub struct QueueRow {
    pub kind: String,
    /// Due now and not taken.
    pub due: i64,
    /// Scheduled for later.
    pub scheduled: i64,
    pub running: i64,
    /// When the oldest due job became due (None when nothing is due).
    pub oldest_due_at: Option<i64>,
    /// Jobs of this kind that gave up, ever.
    pub failed: i64,
}

/// The job queue, by kind.
pub async fn queue(tx: &mut Tx, now: Micros) -> StoreResult<Vec<QueueRow>> {
    tx.all(
        "SELECT kind, \
           CAST(SUM(CASE WHEN status = 'queued' AND run_at <= $1 THEN 1 ELSE 0 END) AS BIGINT) AS due, \
           CAST(SUM(CASE WHEN status = 'queued' AND run_at > $1 THEN 1 ELSE 0 END) AS BIGINT) AS scheduled, \
           CAST(SUM(CASE WHEN status = 'running' THEN 1 ELSE 0 END) AS BIGINT) AS running, \
           MIN(CASE WHEN status = 'queued' AND run_at <= $1 THEN run_at END) AS oldest_due_at, \
           CAST(SUM(CASE WHEN status = 'failed' THEN 1 ELSE 0 END) AS BIGINT) AS failed \
         FROM jobs WHERE status IN ('queued', 'running', 'failed') GROUP BY kind ORDER BY kind",
        args![now],
    )
    .await
}

/// Deliveries not yet made: the outbox's undelivered events, and failed webhook and mail
/// deliveries.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct Delivery {
    pub outbox_pending: i64,
    pub outbox_oldest_at: Option<i64>,
    pub webhooks_pending: i64,
    pub webhooks_dead: i64,
    pub mail_pending: i64,
    pub mail_dead: i64,
}

/// The delivery backlog.
pub async fn delivery(tx: &mut Tx) -> StoreResult<Delivery> {
    #[derive(sqlx::FromRow)]
    struct Outbox {
        n: i64,
        oldest: Option<i64>,
    }
    let o: Outbox = tx
        .one(
            "SELECT CAST(COUNT(*) AS BIGINT) AS n, MIN(created_at) AS oldest FROM outbox WHERE delivered_at IS NULL",
            args![],
        )
        .await?;
    let count = |rows: &[(String, i64)], s: &str| {
        rows.iter()
            .find(|(k, _)| k == s)
            .map(|(_, n)| *n)
            .unwrap_or(0)
    };
    let hooks: Vec<(String, i64)> = tx
        .all(
            "SELECT status, CAST(COUNT(*) AS BIGINT) FROM webhook_deliveries WHERE status IN ('pending', 'dead') GROUP BY status",
            args![],
        )
        .await?;
    let mail: Vec<(String, i64)> = tx
        .all(
            "SELECT status, CAST(COUNT(*) AS BIGINT) FROM mail_deliveries WHERE status IN ('pending', 'dead') GROUP BY status",
            args![],
        )
        .await?;
    Ok(Delivery {
        outbox_pending: o.n,
        outbox_oldest_at: o.oldest,
        webhooks_pending: count(&hooks, "pending"),
        webhooks_dead: count(&hooks, "dead"),
        mail_pending: count(&mail, "pending"),
        mail_dead: count(&mail, "dead"),
    })
}

/// Exports or erasures that finished in a window: how many, how long they took in all, and
/// (exports) how many bytes they wrote.
#[derive(Clone, Debug, Default, sqlx::FromRow, serde::Serialize)]
pub struct Finished {
    pub count: i64,
    pub micros: i64,
    pub bytes: i64,
}

/// Exports built since `since` (ready, downloaded or expired since; failed ones apart).
pub async fn exports_since(tx: &mut Tx, since: Micros) -> StoreResult<(Finished, i64)> {
    let ok: Finished = tx
        .one(
            "SELECT CAST(COUNT(*) AS BIGINT) AS count, \
               CAST(COALESCE(SUM(finished_at - started_at), 0) AS BIGINT) AS micros, \
               CAST(COALESCE(SUM(size_bytes), 0) AS BIGINT) AS bytes \
             FROM exports WHERE status <> 'failed' AND finished_at >= $1 AND started_at IS NOT NULL",
            args![since],
        )
        .await?;
    let failed: i64 = tx
        .scalar(
            "SELECT CAST(COUNT(*) AS BIGINT) FROM exports WHERE status = 'failed' AND finished_at >= $1",
            args![since],
        )
        .await?;
    Ok((ok, failed))
}

/// Erasures finished since `since`, and those scheduled or running now.
pub async fn erasures_since(tx: &mut Tx, since: Micros) -> StoreResult<(Finished, i64, i64)> {
    let done: Finished = tx
        .one(
            "SELECT CAST(COUNT(*) AS BIGINT) AS count, \
               CAST(COALESCE(SUM(finished_at - started_at), 0) AS BIGINT) AS micros, \
               CAST(0 AS BIGINT) AS bytes \
             FROM erasures WHERE status = 'done' AND finished_at >= $1",
            args![since],
        )
        .await?;
    let scheduled: i64 = tx
        .scalar(
            "SELECT CAST(COUNT(*) AS BIGINT) FROM erasures WHERE status = 'scheduled'",
            args![],
        )
        .await?;
    let running: i64 = tx
        .scalar(
            "SELECT CAST(COUNT(*) AS BIGINT) FROM erasures WHERE status = 'running'",
            args![],
        )
        .await?;
    Ok((done, scheduled, running))
}
