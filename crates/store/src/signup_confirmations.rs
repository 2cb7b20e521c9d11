//! Accounts created by a public sign-up wait here until their owner confirms the address: the
//! link mailed to it, together with the password chosen at sign-up. An account with a row here
//! cannot log in. Only the SHA-256 of a link's token is stored.

use crate::args;
use crate::db::Tx;
use crate::error::StoreResult;
use hiatus_domain::{AccountId, Micros};
use sha2::{Digest, Sha256};

fn hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// Bytes no token hashes to (the row before its mail mints a link, or after a newer sign-up
/// replaced it): 32 random bytes.
fn unusable() -> Vec<u8> {
    crate::crypto::random_bytes::<32>().to_vec()
}

/// A pending confirmation, as stored.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct PendingSignup {
    pub account_id: String,
    pub signup_id: String,
    pub expires_at: i64,
    pub created_at: i64,
}

/// Marks a new account unconfirmed, for the sign-up `signup_id`, until `expires_at`.
pub async fn create(
    tx: &mut Tx,
    account: AccountId,
    signup_id: &str,
    now: Micros,
    expires_at: Micros,
) -> StoreResult<()> {
    tx.exec(
        "INSERT INTO signup_confirmations (account_id, signup_id, token_hash, expires_at, created_at) VALUES ($1, $2, $3, $4, $5)",
        args![account.to_text(), signup_id, unusable(), expires_at, now],
    )
    .await?;
    Ok(())
}

/// Starts over for a new sign-up of a still unconfirmed account: earlier links stop working
/// and the mail of an earlier sign-up mints none. False, changing nothing, when the account
/// has no row (it was confirmed or removed meanwhile).
pub async fn renew(
    tx: &mut Tx,
    account: AccountId,
    signup_id: &str,
    now: Micros,
    expires_at: Micros,
) -> StoreResult<bool> {
    Ok(tx
        .exec(
            "UPDATE signup_confirmations SET signup_id = $2, token_hash = $3, expires_at = $4, created_at = $5 WHERE account_id = $1",
            args![account.to_text(), signup_id, unusable(), expires_at, now],
        )
        .await?
        == 1)
}

/// Whether an account still waits for its confirmation (expired or not).
pub async fn is_pending(tx: &mut Tx, account: &str) -> StoreResult<bool> {
    let n: i64 = tx
        .scalar(
            "SELECT COUNT(*) FROM signup_confirmations WHERE account_id = $1",
            args![account],
        )
        .await?;
    Ok(n > 0)
}

/// Stores the hash of a newly minted link's token, replacing any earlier one, for the sign-up
/// `signup_id` (any sign-up of the account when `None`). False when that sign-up is no longer
/// the account's current one, the account is confirmed, or the link time is over.
pub async fn set_token(
    tx: &mut Tx,
    account: AccountId,
    signup_id: Option<&str>,
    token: &str,
    now: Micros,
) -> StoreResult<Option<Micros>> {
    let rows: Vec<(i64,)> = tx
        .all(
            "UPDATE signup_confirmations SET token_hash = $3 \
             WHERE account_id = $1 AND ($2 IS NULL OR signup_id = $2) AND expires_at > $4 RETURNING expires_at",
            args![account.to_text(), signup_id.map(str::to_string), hash(token), now],
        )
        .await?;
    Ok(rows.first().map(|r| r.0))
}

/// The pending confirmation a link's token names, if it is still usable.
pub async fn find(tx: &mut Tx, token: &str, now: Micros) -> StoreResult<Option<PendingSignup>> {
    tx.opt(
        "SELECT account_id, signup_id, expires_at, created_at FROM signup_confirmations WHERE token_hash = $1 AND expires_at > $2",
        args![hash(token), now],
    )
    .await
}

/// Confirms the account a token names: the row goes, so the link works once. True only for
/// the first use, before it expires.
pub async fn confirm(tx: &mut Tx, account: &str, token: &str, now: Micros) -> StoreResult<bool> {
    Ok(tx
        .exec(
            "DELETE FROM signup_confirmations WHERE account_id = $1 AND token_hash = $2 AND expires_at > $3",
            args![account, hash(token), now],
        )
        .await?
        == 1)
}

/// Unconfirmed accounts whose link time is over, oldest first.
pub async fn expired(tx: &mut Tx, now: Micros, limit: i64) -> StoreResult<Vec<AccountId>> {
    let ids: Vec<(String,)> = tx
        .all(
            "SELECT account_id FROM signup_confirmations WHERE expires_at <= $1 ORDER BY expires_at LIMIT $2",
            args![now, limit],
        )
        .await?;
    Ok(ids
        .into_iter()
        .filter_map(|(id,)| id.parse().ok())
        .collect())
}

/// Removes an unconfirmed account whose link time is over, with everything it has: its
/// profile, its mail, its events and history. Nobody ever proved to own it, so nothing of it
/// is kept. False, removing nothing, when the account is no longer unconfirmed and expired
/// (confirmed, or signed up again, meanwhile).
pub async fn remove_expired(tx: &mut Tx, account: AccountId, now: Micros) -> StoreResult<bool> {
    let id = account.to_text();
    // Taking the row first decides the race with a confirmation or a new sign-up of the same
    // address: whichever deletes or updates it first wins, the other finds nothing.
    let taken = tx
        .exec(
            "DELETE FROM signup_confirmations WHERE account_id = $1 AND expires_at <= $2",
            args![id.clone(), now],
        )
        .await?;
    if taken != 1 {
        return Ok(false);
    }
    tx.exec(
        "DELETE FROM mail_deliveries WHERE account_id = $1",
        args![id.clone()],
    )
    .await?;
    tx.exec(
        "DELETE FROM outbox WHERE account_id = $1",
        args![id.clone()],
    )
    .await?;
    tx.exec(
        "DELETE FROM audit_events WHERE account_id = $1",
        args![id.clone()],
    )
    .await?;
    tx.exec(
        "DELETE FROM profiles WHERE account_id = $1",
        args![id.clone()],
    )
    .await?;
    tx.exec("DELETE FROM accounts WHERE id = $1", args![id])
        .await?;
    Ok(true)
}
