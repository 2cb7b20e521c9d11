//! Restoration through support: the requests of members who lost their credentials, their
//! one-time codes, the agents' decisions, and the single-use password-reset links an approval
//! sends. Codes and tokens are kept only as SHA-256 hashes.

use crate::args;
use crate::crypto::{DataKey, Keyring};
use crate::db::Tx;
use crate::error::{StoreError, StoreResult};
use hiatus_domain::Micros;
use sha2::{Digest, Sha256};

/// The SHA-256 of a token or code, bound to what it is for (`purpose`) so a code of one
/// request is not the hash of another's token.
pub fn hash(purpose: &str, secret: &str) -> Vec<u8> {
    let mut h = Sha256::new();
    h.update(purpose.as_bytes());
    h.update([0u8]);
    h.update(secret.as_bytes());
    h.finalize().to_vec()
}

/// A request, as stored.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct RestorationRow {
    pub id: String,
    /// `None` when the address named no account that could be restored.
    pub account_id: Option<String>,
    pub token_hash: Vec<u8>,
    /// `awaiting_code`, `verified`, `approved`, `denied` or `expired`.
    pub status: String,
    pub explanation_enc: Option<Vec<u8>>,
    pub code_hash: Option<Vec<u8>>,
    pub code_expires_at: Option<i64>,
    pub code_attempts: i64,
    pub created_at: i64,
    pub expires_at: i64,
    pub verified_at: Option<i64>,
    pub decided_at: Option<i64>,
    pub decided_by: Option<String>,
    /// The agent's note, sealed under the member's data key ([`RestorationRow::note`]).
    pub decision_note_enc: Option<Vec<u8>>,
    /// The member's wrapped data key (`None` once erasure destroyed it).
    pub account_key: Option<Vec<u8>>,
}

impl RestorationRow {
    /// The agent's note, opened; `None` when there is none or the member's key is gone.
    pub fn note(&self, keys: &Keyring) -> StoreResult<Option<String>> {
        let (Some(account), Some(sealed)) = (&self.account_id, &self.decision_note_enc) else {
            return Ok(None);
        };
        match keys.unwrap_data_key(account, self.account_key.as_deref()) {
            Ok(dk) => Ok(Some(dk.open_field(
                "restoration_requests",
                "decision_note",
                &self.id,
                sealed,
            )?)),
            Err(StoreError::KeyDestroyed) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

macro_rules! columns {
    () => {
        "id, account_id, token_hash, status, explanation_enc, code_hash, code_expires_at, code_attempts, created_at, expires_at, verified_at, decided_at, decided_by, decision_note_enc, \
         (SELECT a.data_key_wrapped FROM accounts a WHERE a.id = restoration_requests.account_id) AS account_key"
    };
}

/// A new request.
pub struct NewRestoration<'a> {
    pub id: &'a str,
    pub account_id: Option<&'a str>,
    pub token_hash: Vec<u8>,
    pub explanation_enc: Option<Vec<u8>>,
    pub now: Micros,
    pub expires_at: Micros,
}

/// Stores a new request, awaiting its code.
pub async fn insert(tx: &mut Tx, r: NewRestoration<'_>) -> StoreResult<()> {
    tx.exec(
        "INSERT INTO restoration_requests (id, account_id, token_hash, status, explanation_enc, code_attempts, created_at, expires_at) \
         VALUES ($1, $2, $3, 'awaiting_code', $4, 0, $5, $6)",
        args![
            r.id.to_string(),
            r.account_id.map(str::to_string),
            r.token_hash,
            r.explanation_enc,
            r.now,
            r.expires_at
        ],
    )
    .await?;
    Ok(())
}

/// A request by id.
pub async fn get(tx: &mut Tx, id: &str) -> StoreResult<Option<RestorationRow>> {
    tx.opt(
        concat!(
            "SELECT ",
            columns!(),
            " FROM restoration_requests WHERE id = $1"
        ),
        args![id.to_string()],
    )
    .await
}

/// How many requests named an account since `since` (the per-account daily limit).
pub async fn count_since(tx: &mut Tx, account: &str, since: Micros) -> StoreResult<i64> {
    tx.scalar(
        "SELECT COUNT(*) FROM restoration_requests WHERE account_id = $1 AND created_at >= $2",
        args![account.to_string(), since],
    )
    .await
}

/// Sets a fresh code (its hash) on a request that still waits for one; the previous code
/// stops working. False when the request no longer waits for a code.
pub async fn set_code(
    tx: &mut Tx,
    id: &str,
    code_hash: Vec<u8>,
    expires_at: Micros,
    now: Micros,
) -> StoreResult<bool> {
    Ok(tx
        .exec(
            "UPDATE restoration_requests SET code_hash = $2, code_expires_at = $3 \
             WHERE id = $1 AND status = 'awaiting_code' AND expires_at > $4",
            args![id.to_string(), code_hash, expires_at, now],
        )
        .await?
        == 1)
}

/// Takes one of the request's `max` attempts at its code, before the code is compared: one
/// conditional update, so concurrent guesses cannot all be evaluated against a count read
/// before any of them was recorded. False when the attempts are used up or the request no
/// longer waits for a code.
pub async fn take_attempt(tx: &mut Tx, id: &str, max: i64) -> StoreResult<bool> {
    Ok(tx
        .exec(
            "UPDATE restoration_requests SET code_attempts = code_attempts + 1 \
             WHERE id = $1 AND status = 'awaiting_code' AND code_attempts < $2",
            args![id.to_string(), max],
        )
        .await?
        == 1)
}

/// Marks a request verified (the right code came back in time). The attempt the right code
/// took is given back, so the count shows wrong codes only.
pub async fn mark_verified(tx: &mut Tx, id: &str, now: Micros) -> StoreResult<bool> {
    Ok(tx
        .exec(
            "UPDATE restoration_requests SET status = 'verified', verified_at = $2, code_hash = NULL, code_expires_at = NULL, code_attempts = code_attempts - 1 \
             WHERE id = $1 AND status = 'awaiting_code'",
            args![id.to_string(), now],
        )
        .await?
        == 1)
}

/// Records an agent's decision on a request in `from` status: true when it was still open.
/// The note is sealed under `member`'s data key (the account the request names).
#[allow(clippy::too_many_arguments)]
pub async fn decide(
    tx: &mut Tx,
    member: &DataKey,
    id: &str,
    from: &[&str],
    to: &str,
    agent: &str,
    note: &str,
    now: Micros,
) -> StoreResult<bool> {
    let sql = match from {
        ["verified"] => {
            "UPDATE restoration_requests SET status = $2, decided_by = $3, decision_note_enc = $4, decided_at = $5, code_hash = NULL \
             WHERE id = $1 AND status = 'verified'"
        }
        _ => {
            "UPDATE restoration_requests SET status = $2, decided_by = $3, decision_note_enc = $4, decided_at = $5, code_hash = NULL \
             WHERE id = $1 AND status IN ('awaiting_code', 'verified')"
        }
    };
    Ok(tx
        .exec(
            sql,
            args![
                id.to_string(),
                to.to_string(),
                agent.to_string(),
                member.seal_field("restoration_requests", "decision_note", id, note),
                now
            ],
        )
        .await?
        == 1)
}

/// Marks open requests past their end `expired`; returns how many.
pub async fn expire(tx: &mut Tx, now: Micros) -> StoreResult<u64> {
    tx.exec(
        "UPDATE restoration_requests SET status = 'expired', code_hash = NULL \
         WHERE status IN ('awaiting_code', 'verified') AND expires_at <= $1",
        args![now],
    )
    .await
}

/// The support queue: requests that name an account; the open ones oldest first, or all of
/// them newest first.
pub async fn queue(
    tx: &mut Tx,
    open_only: bool,
    now: Micros,
    limit: i64,
    offset: i64,
) -> StoreResult<Vec<RestorationRow>> {
    if open_only {
        // Open: not decided and not expired (expiry is a time, never written as a status).
        tx.all(
            concat!(
                "SELECT ",
                columns!(),
                " FROM restoration_requests WHERE account_id IS NOT NULL AND status IN ('awaiting_code', 'verified') \
                 AND expires_at > $3 ORDER BY created_at, id LIMIT $1 OFFSET $2"
            ),
            args![limit, offset, now],
        )
        .await
    } else {
        tx.all(
            concat!(
                "SELECT ",
                columns!(),
                " FROM restoration_requests WHERE account_id IS NOT NULL ORDER BY created_at DESC, id DESC LIMIT $1 OFFSET $2"
            ),
            args![limit, offset],
        )
        .await
    }
}

/// A reset link, as stored.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct ResetRow {
    pub account_id: String,
    pub request_id: Option<String>,
    pub expires_at: i64,
    pub used_at: Option<i64>,
}

/// Stores a new password-reset link (its hash).
pub async fn create_reset(
    tx: &mut Tx,
    token: &str,
    account: &str,
    request: &str,
    now: Micros,
    expires_at: Micros,
) -> StoreResult<()> {
    tx.exec(
        "INSERT INTO password_resets (token_hash, account_id, request_id, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)",
        args![
            hash("password reset", token),
            account.to_string(),
            request.to_string(),
            now,
            expires_at
        ],
    )
    .await?;
    Ok(())
}

/// The reset link a token names, if any.
pub async fn find_reset(tx: &mut Tx, token: &str) -> StoreResult<Option<ResetRow>> {
    tx.opt(
        "SELECT account_id, request_id, expires_at, used_at FROM password_resets WHERE token_hash = $1",
        args![hash("password reset", token)],
    )
    .await
}

/// Uses a reset link: true only the first time, before it expires. Every other unused link of
/// the account is spent with it.
pub async fn use_reset(tx: &mut Tx, token: &str, account: &str, now: Micros) -> StoreResult<bool> {
    let n = tx
        .exec(
            "UPDATE password_resets SET used_at = $2 WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2",
            args![hash("password reset", token), now],
        )
        .await?;
    if n == 1 {
        tx.exec(
            "UPDATE password_resets SET used_at = $2 WHERE account_id = $1 AND used_at IS NULL",
            args![account.to_string(), now],
        )
        .await?;
    }
    Ok(n == 1)
}
