//! The queue of email about lifecycle events: one row per event and member, claimed for an
//! attempt before it is sent (so a crash retries after a pause, with the same message id),
//! then recorded as sent, skipped (muted, or the account is gone) or dead.

use crate::args;
use crate::db::Tx;
use crate::error::StoreResult;
use hiatus_domain::Micros;

/// An email waiting to be sent, or sent.
#[derive(Clone, Debug, sqlx::FromRow, serde::Serialize)]
pub struct MailDelivery {
    pub id: String,
    /// The outbox event's id: the message's idempotency key.
    pub event_id: String,
    pub account_id: String,
    pub kind: String,
    pub essential: bool,
    pub payload: String,
    /// `pending`, `sent`, `skipped` or `dead`.
    pub status: String,
    pub attempts: i64,
    pub next_attempt_at: i64,
    pub last_error: Option<String>,
    pub created_at: i64,
    pub sent_at: Option<i64>,
}

macro_rules! columns {
    () => {
        "id, event_id, account_id, kind, essential, payload, status, attempts, next_attempt_at, last_error, created_at, sent_at"
    };
}

/// Pending mail due now, oldest first.
pub async fn due(tx: &mut Tx, now: Micros, limit: i64) -> StoreResult<Vec<MailDelivery>> {
    tx.all(
        concat!(
            "SELECT ",
            columns!(),
            " FROM mail_deliveries WHERE status = 'pending' AND next_attempt_at <= $1 ORDER BY next_attempt_at, id LIMIT $2"
        ),
        args![now, limit],
    )
    .await
}

/// Claims a due mail for one attempt (the next one pushed to `retry_at` first).
pub async fn claim(tx: &mut Tx, id: &str, now: Micros, retry_at: Micros) -> StoreResult<bool> {
    Ok(tx
        .exec(
            "UPDATE mail_deliveries SET attempts = attempts + 1, next_attempt_at = $3 \
             WHERE id = $1 AND status = 'pending' AND next_attempt_at <= $2",
            args![id.to_string(), now, retry_at],
        )
        .await?
        == 1)
}

/// Records the outcome of an attempt: `sent`, `skipped`, `dead`, or `pending` (retry later).
pub async fn record(
    tx: &mut Tx,
    id: &str,
    status: &str,
    error: Option<&str>,
    now: Micros,
) -> StoreResult<()> {
    tx.exec(
        "UPDATE mail_deliveries SET status = $2, last_error = $3, sent_at = CASE WHEN $2 = 'sent' THEN $4 ELSE sent_at END WHERE id = $1",
        args![id.to_string(), status.to_string(), error.map(str::to_string), now],
    )
    .await?;
    Ok(())
}

/// A member's mail, newest first.
pub async fn of_account(tx: &mut Tx, account: &str, limit: i64) -> StoreResult<Vec<MailDelivery>> {
    tx.all(
        concat!(
            "SELECT ",
            columns!(),
            " FROM mail_deliveries WHERE account_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2"
        ),
        args![account.to_string(), limit],
    )
    .await
}

/// Queues a mail that does not come from an outbox event (a notice to a client); unique per
/// `event_id` and recipient, like the others.
pub async fn queue(
    tx: &mut Tx,
    event_id: &str,
    account: &str,
    kind: &str,
    essential: bool,
    payload: &serde_json::Value,
    now: Micros,
) -> StoreResult<()> {
    // Nothing for an account whose erasure has begun.
    if !crate::accounts::attachable(tx, account).await? {
        return Ok(());
    }
    tx.exec(
        "INSERT INTO mail_deliveries (id, event_id, account_id, kind, essential, payload, status, attempts, next_attempt_at, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, 'pending', 0, $7, $7) ON CONFLICT (event_id, account_id) DO NOTHING",
        args![
            uuid::Uuid::now_v7().to_string(),
            event_id.to_string(),
            account.to_string(),
            kind.to_string(),
            essential,
            payload.to_string(),
            now
        ],
    )
    .await?;
    Ok(())
}

/// Members with mail held for their daily digest since at least `before`, not postponed
/// past `now` by a failed attempt.
pub async fn digests_due(
    tx: &mut Tx,
    before: Micros,
    now: Micros,
    limit: i64,
) -> StoreResult<Vec<String>> {
    let rows: Vec<(String,)> = tx
        .all(
            "SELECT account_id FROM mail_deliveries WHERE status = 'digest' GROUP BY account_id \
             HAVING MIN(created_at) <= $1 AND MAX(next_attempt_at) <= $2 ORDER BY MIN(created_at) LIMIT $3",
            args![before, now, limit],
        )
        .await?;
    Ok(rows.into_iter().map(|(a,)| a).collect())
}

/// The mail held for a member's digest, oldest first.
pub async fn held(tx: &mut Tx, account: &str) -> StoreResult<Vec<MailDelivery>> {
    tx.all(
        concat!(
            "SELECT ",
            columns!(),
            " FROM mail_deliveries WHERE account_id = $1 AND status = 'digest' ORDER BY created_at, id"
        ),
        args![account.to_string()],
    )
    .await
}

/// Postpones a member's digest after a failed attempt.
pub async fn postpone_digest(tx: &mut Tx, account: &str, until: Micros) -> StoreResult<()> {
    tx.exec(
        "UPDATE mail_deliveries SET next_attempt_at = $2 WHERE account_id = $1 AND status = 'digest'",
        args![account.to_string(), until],
    )
    .await?;
    Ok(())
}
