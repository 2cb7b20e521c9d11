//! Login sessions. The client holds a random token; the table holds only its SHA-256, so a
//! database leak yields no usable session, and "sign out everywhere" is one DELETE.

use crate::args;
use crate::db::Tx;
use crate::error::StoreResult;
use hiatus_domain::{AccountId, Micros, SessionId};
use sha2::{Digest, Sha256};

/// The hash stored for a token.
pub fn token_hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// A live session joined with its account's id.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct SessionRow {
    pub id: String,
    pub account_id: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub reauth_at: i64,
}

/// Creates a session for a token. Its re-authentication time starts at zero: logging in does
/// not count as re-authentication, so a stolen session cannot close the account without the
/// password.
pub async fn create(
    tx: &mut Tx,
    id: SessionId,
    account: AccountId,
    token: &str,
    now: Micros,
    ttl: Micros,
) -> StoreResult<()> {
    tx.exec(
        "INSERT INTO sessions (id, account_id, token_hash, created_at, expires_at, reauth_at) VALUES ($1, $2, $3, $4, $5, 0)",
        args![id.to_text(), account.to_text(), token_hash(token), now, now + ttl],
    )
    .await?;
    Ok(())
}

/// The unexpired session for a token.
pub async fn find(tx: &mut Tx, token: &str, now: Micros) -> StoreResult<Option<SessionRow>> {
    tx.opt(
        "SELECT id, account_id, created_at, expires_at, reauth_at FROM sessions WHERE token_hash = $1 AND expires_at > $2",
        args![token_hash(token), now],
    )
    .await
}

/// Records a fresh re-authentication (password entered again).
pub async fn mark_reauth(tx: &mut Tx, id: &str, now: Micros) -> StoreResult<()> {
    tx.exec(
        "UPDATE sessions SET reauth_at = $2 WHERE id = $1",
        args![id.to_string(), now],
    )
    .await?;
    Ok(())
}

/// Ends one session.
pub async fn delete(tx: &mut Tx, id: &str) -> StoreResult<u64> {
    tx.exec("DELETE FROM sessions WHERE id = $1", args![id.to_string()])
        .await
}

/// Ends every session of an account (optionally keeping one).
pub async fn delete_all(tx: &mut Tx, account: AccountId, keep: Option<&str>) -> StoreResult<u64> {
    tx.exec(
        "DELETE FROM sessions WHERE account_id = $1 AND ($2 IS NULL OR id <> $2)",
        args![account.to_text(), keep.map(str::to_string)],
    )
    .await
}

/// The sessions of an account, newest first.
pub async fn list(tx: &mut Tx, account: AccountId, now: Micros) -> StoreResult<Vec<SessionRow>> {
    tx.all(
        "SELECT id, account_id, created_at, expires_at, reauth_at FROM sessions WHERE account_id = $1 AND expires_at > $2 ORDER BY created_at DESC",
        args![account.to_text(), now],
    )
    .await
}

/// Removes expired sessions.
pub async fn purge_expired(tx: &mut Tx, now: Micros) -> StoreResult<u64> {
    tx.exec("DELETE FROM sessions WHERE expires_at <= $1", args![now])
        .await
}
