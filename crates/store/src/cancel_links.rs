//! Single-use links that cancel a scheduled deletion, sent in the deletion emails. Only the
//! SHA-256 of a token is stored.

use crate::args;
use crate::db::Tx;
use crate::error::StoreResult;
use hiatus_domain::Micros;
use sha2::{Digest, Sha256};

fn hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// A link, as stored.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct CancelLink {
    pub account_id: String,
    pub expires_at: i64,
    pub used_at: Option<i64>,
}

/// Stores a new link's token (its hash). False, storing nothing, once the account's erasure
/// has begun.
pub async fn create(
    tx: &mut Tx,
    token: &str,
    account: &str,
    now: Micros,
    expires_at: Micros,
) -> StoreResult<bool> {
    if !crate::accounts::attachable(tx, account).await? {
        return Ok(false);
    }
    tx.exec(
        "INSERT INTO deletion_cancel_links (token_hash, account_id, created_at, expires_at) VALUES ($1, $2, $3, $4)",
        args![hash(token), account.to_string(), now, expires_at],
    )
    .await?;
    Ok(true)
}

/// The link a token names, if any.
pub async fn find(tx: &mut Tx, token: &str) -> StoreResult<Option<CancelLink>> {
    tx.opt(
        "SELECT account_id, expires_at, used_at FROM deletion_cancel_links WHERE token_hash = $1",
        args![hash(token)],
    )
    .await
}

/// Uses a link: true only the first time, before it expires.
pub async fn use_once(tx: &mut Tx, token: &str, now: Micros) -> StoreResult<bool> {
    Ok(tx
        .exec(
            "UPDATE deletion_cancel_links SET used_at = $2 WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2",
            args![hash(token), now],
        )
        .await?
        == 1)
}
