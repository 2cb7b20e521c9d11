//! Which epoch each live data key is wrapped under, and re-wrapping them in batches. The
//! wrapped key itself names its epoch (and binds it as associated data); `accounts.key_epoch`
//! repeats it so rotation and status find keys without opening them. A row whose `key_epoch`
//! is NULL was wrapped before key epochs (or by a path that does not record it): rotation
//! treats it as due.

use crate::db::Tx;
use crate::error::StoreResult;
use crate::{args, on_tx};

/// How many live data keys one epoch wraps; `epoch` is `None` for keys not yet recorded under
/// an epoch (wrapped under the master key before key epochs).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct EpochCount {
    pub epoch: Option<i64>,
    pub keys: i64,
}

/// Live data keys per epoch, oldest first (unrecorded first of all).
pub async fn counts(tx: &mut Tx) -> StoreResult<Vec<EpochCount>> {
    tx.all(
        "SELECT key_epoch AS epoch, COUNT(*) AS keys FROM accounts WHERE data_key_wrapped IS NOT NULL \
         GROUP BY key_epoch ORDER BY key_epoch",
        args![],
    )
    .await
}

/// How many live data keys are wrapped under an epoch before `epoch` (or unrecorded).
pub async fn count_before(tx: &mut Tx, epoch: u64) -> StoreResult<i64> {
    tx.scalar(
        "SELECT COUNT(*) FROM accounts WHERE data_key_wrapped IS NOT NULL \
         AND (key_epoch IS NULL OR key_epoch < $1)",
        args![epoch as i64],
    )
    .await
}

/// A live data key due for re-wrapping.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DueKey {
    pub id: String,
    pub data_key_wrapped: Vec<u8>,
}

/// The next `limit` accounts after `after_id` (by id) whose data key is wrapped under an epoch
/// before `epoch`.
pub async fn due(tx: &mut Tx, epoch: u64, after_id: &str, limit: i64) -> StoreResult<Vec<DueKey>> {
    tx.all(
        "SELECT id, data_key_wrapped FROM accounts WHERE data_key_wrapped IS NOT NULL \
         AND (key_epoch IS NULL OR key_epoch < $1) AND id > $2 ORDER BY id LIMIT $3",
        args![epoch as i64, after_id, limit],
    )
    .await
}

/// One re-wrapped key: the account, the wrapped key that was read, and its replacement.
#[derive(Debug, Clone)]
pub struct Rewrapped {
    pub id: String,
    pub old: Vec<u8>,
    pub new: Vec<u8>,
}

/// Stores re-wrapped keys under `epoch`. Each row changes only if it still holds the key that
/// was read: an erasure that destroyed the key meanwhile (or another process that re-wrapped
/// it) wins, so rotation never brings a destroyed key back. Returns the rows changed.
pub async fn store(tx: &mut Tx, epoch: u64, rows: &[Rewrapped]) -> StoreResult<u64> {
    if rows.is_empty() {
        return Ok(0);
    }
    let epoch = epoch as i64;
    Ok(on_tx!(tx, |c| store_on(c, epoch, rows).await?))
}

trait StoreOn {
    async fn store_rows(&mut self, epoch: i64, rows: &[Rewrapped]) -> Result<u64, sqlx::Error>;
}

impl StoreOn for sqlx::SqliteConnection {
    /// SQLite: one prepared statement run per row inside the transaction costs microseconds
    /// (no round trips), so there is nothing to gain from batching the statement.
    async fn store_rows(&mut self, epoch: i64, rows: &[Rewrapped]) -> Result<u64, sqlx::Error> {
        let mut n = 0;
        for r in rows {
            n += sqlx::query(
                "UPDATE accounts SET data_key_wrapped = $1, key_epoch = $2 WHERE id = $3 AND data_key_wrapped = $4",
            )
            .bind(&r.new)
            .bind(epoch)
            .bind(&r.id)
            .bind(&r.old)
            .execute(&mut *self)
            .await?
            .rows_affected();
        }
        Ok(n)
    }
}

impl StoreOn for sqlx::PgConnection {
    /// PostgreSQL: one statement per batch, since a round trip per row would make a rotation
    /// of 100,000 members take far longer than the work itself.
    async fn store_rows(&mut self, epoch: i64, rows: &[Rewrapped]) -> Result<u64, sqlx::Error> {
        let ids: Vec<&str> = rows.iter().map(|r| r.id.as_str()).collect();
        let old: Vec<&[u8]> = rows.iter().map(|r| r.old.as_slice()).collect();
        let new: Vec<&[u8]> = rows.iter().map(|r| r.new.as_slice()).collect();
        Ok(sqlx::query(
            "UPDATE accounts a SET data_key_wrapped = v.new, key_epoch = $4 \
             FROM UNNEST($1::text[], $2::bytea[], $3::bytea[]) AS v(id, old, new) \
             WHERE a.id = v.id AND a.data_key_wrapped = v.old",
        )
        .bind(&ids)
        .bind(&old)
        .bind(&new)
        .bind(epoch)
        .execute(&mut *self)
        .await?
        .rows_affected())
    }
}

async fn store_on<C: StoreOn>(c: &mut C, epoch: i64, rows: &[Rewrapped]) -> StoreResult<u64> {
    Ok(c.store_rows(epoch, rows).await?)
}
