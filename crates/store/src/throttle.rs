//! Wrong-password counters per (subject, client): the subject is what was guessed at (the
//! keyed hash of an address, or a session), the client where the guesses came from. A block
//! applies to that pair only, so guessing from one place never locks the owner out from
//! another. Failures from all clients together are also counted (client [`ALL_CLIENTS`]), to
//! bound guessing spread over many client addresses. Every change is one conditional upsert,
//! so concurrent failures all count.

use crate::args;
use crate::db::Tx;
use crate::error::StoreResult;
use hiatus_domain::Micros;

/// The subject of a login: the keyed hash of the address that was tried, whether or not it
/// belongs to an account (so known and unknown addresses are throttled alike). It is
/// [`crate::Keyring::stable_email_hash`], not the account's email lookup: that one changes
/// with every key epoch, and a rotation must not reset the count.
pub fn login_subject(address_hash: &[u8]) -> Vec<u8> {
    let mut s = b"login:".to_vec();
    s.extend_from_slice(address_hash);
    s
}

/// The client under which failures from every client together are counted for a subject.
pub const ALL_CLIENTS: &str = "*";

/// The subject of a re-authentication: the session that asks.
pub fn reauth_subject(session_id: &str) -> Vec<u8> {
    format!("reauth:{session_id}").into_bytes()
}

/// Until when the pair is blocked, if it is blocked now.
pub async fn blocked_until(
    tx: &mut Tx,
    subject: &[u8],
    client: &str,
    now: Micros,
) -> StoreResult<Option<Micros>> {
    let row: Option<(Option<i64>,)> = tx
        .opt(
            "SELECT blocked_until FROM auth_throttle WHERE subject = $1 AND client = $2 AND blocked_until > $3",
            args![subject.to_vec(), client.to_string(), now],
        )
        .await?;
    Ok(row.and_then(|r| r.0))
}

/// Counts one failure in a window of `window` microseconds, and blocks the pair for
/// `block_for` once `max_failures` are reached. Returns the block's end when blocked.
pub async fn record_failure(
    tx: &mut Tx,
    subject: &[u8],
    client: &str,
    now: Micros,
    window: Micros,
    max_failures: i64,
    block_for: Micros,
) -> StoreResult<Option<Micros>> {
    // A window that ended starts over at one failure; the block is set by the same statement
    // that reaches the limit.
    let row: (i64, Option<i64>) = tx
        .one(
            "INSERT INTO auth_throttle (subject, client, failures, window_start, blocked_until) \
             VALUES ($1, $2, 1, $3, CASE WHEN 1 >= $5 THEN $3 + $6 ELSE NULL END) \
             ON CONFLICT (subject, client) DO UPDATE SET \
               failures = CASE WHEN auth_throttle.window_start <= $3 - $4 THEN 1 ELSE auth_throttle.failures + 1 END, \
               window_start = CASE WHEN auth_throttle.window_start <= $3 - $4 THEN $3 ELSE auth_throttle.window_start END, \
               blocked_until = CASE \
                 WHEN (CASE WHEN auth_throttle.window_start <= $3 - $4 THEN 1 ELSE auth_throttle.failures + 1 END) >= $5 THEN $3 + $6 \
                 ELSE auth_throttle.blocked_until END \
             RETURNING failures, blocked_until",
            args![
                subject.to_vec(),
                client.to_string(),
                now,
                window,
                max_failures,
                block_for
            ],
        )
        .await?;
    Ok(row.1.filter(|u| *u > now))
}

/// Forgets the failures of a pair (after the right password from that client).
pub async fn clear(tx: &mut Tx, subject: &[u8], client: &str) -> StoreResult<()> {
    tx.exec(
        "DELETE FROM auth_throttle WHERE subject = $1 AND client = $2",
        args![subject.to_vec(), client.to_string()],
    )
    .await?;
    Ok(())
}

/// Removes counters whose window and block are over.
pub async fn purge(tx: &mut Tx, now: Micros, window: Micros) -> StoreResult<u64> {
    tx.exec(
        "DELETE FROM auth_throttle WHERE window_start <= $1 AND (blocked_until IS NULL OR blocked_until <= $2)",
        args![now - window, now],
    )
    .await
}
