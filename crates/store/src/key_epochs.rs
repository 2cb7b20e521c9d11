//! Which epoch each live data key is wrapped under, and re-wrapping them in batches. The
//! wrapped key itself names its epoch (and binds it as associated data); `accounts.key_epoch`
//! repeats it so rotation and status find keys without opening them, and names the epoch
//! whose lookup key hashed `accounts.email_lookup`. A row whose `key_epoch` is NULL was
//! written before key epochs or before lookups were keyed per epoch: its lookup is hashed
//! under the key derived from the master key, and rotation treats it as due.

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

/// The epochs live accounts are recorded under, oldest first; `None` among them when some
/// are not recorded (their email lookups are hashed under the master-derived key). Epochs are
/// few, and each is found by one seek in the `key_epoch` index, so this stays cheap however
/// many accounts there are: sign-up and login ask it.
pub async fn live(tx: &mut Tx) -> StoreResult<Vec<Option<i64>>> {
    let rows: Vec<(Option<i64>,)> = tx
        .all(
            "WITH RECURSIVE live(epoch) AS ( \
               SELECT (SELECT key_epoch FROM accounts WHERE data_key_wrapped IS NOT NULL \
                       AND key_epoch IS NOT NULL ORDER BY key_epoch LIMIT 1) \
               UNION ALL \
               SELECT (SELECT key_epoch FROM accounts WHERE data_key_wrapped IS NOT NULL \
                       AND key_epoch > live.epoch ORDER BY key_epoch LIMIT 1) \
               FROM live WHERE live.epoch IS NOT NULL) \
             SELECT CAST(NULL AS BIGINT) WHERE EXISTS (SELECT 1 FROM accounts \
               WHERE data_key_wrapped IS NOT NULL AND key_epoch IS NULL) \
             UNION ALL SELECT epoch FROM live WHERE epoch IS NOT NULL",
            args![],
        )
        .await?;
    Ok(rows.into_iter().map(|r| r.0).collect())
}

/// A live data key due for re-wrapping, with the sealed email its lookup is hashed from.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DueKey {
    pub id: String,
    pub data_key_wrapped: Vec<u8>,
    pub email_lookup: Vec<u8>,
    /// `None` for a pseudonym, whose lookup is random and stays as it is.
    pub email_enc: Option<Vec<u8>>,
}

/// The next `limit` accounts after `after_id` (by id) whose data key is wrapped under an epoch
/// before `epoch`.
pub async fn due(tx: &mut Tx, epoch: u64, after_id: &str, limit: i64) -> StoreResult<Vec<DueKey>> {
    tx.all(
        "SELECT id, data_key_wrapped, email_lookup, email_enc FROM accounts WHERE data_key_wrapped IS NOT NULL \
         AND (key_epoch IS NULL OR key_epoch < $1) AND id > $2 ORDER BY id LIMIT $3",
        args![epoch as i64, after_id, limit],
    )
    .await
}

/// One re-wrapped key: the account, the wrapped key and the email lookup that were read, the
/// key's replacement, and the email lookup hashed under the new epoch (`None`: keep the stored
/// one).
#[derive(Debug, Clone)]
pub struct Rewrapped {
    pub id: String,
    pub old: Vec<u8>,
    pub old_lookup: Vec<u8>,
    pub new: Vec<u8>,
    pub lookup: Option<Vec<u8>>,
}

/// Stores re-wrapped keys under `epoch` together with their email lookups rehashed under it.
/// Each row changes only if it still holds the key and the lookup that were read: an erasure
/// that destroyed the key meanwhile (or another process that re-wrapped it) wins, so rotation
/// never brings a destroyed key back, nor a lookup erasure replaced. Returns the rows changed.
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
    /// SQLite: one statement per batch as well. There are no network round trips, but every
    /// statement is a hand-off to the connection's thread and back, which costs more than
    /// the row change itself. `?` placeholders: numbered ones are resolved by a linear search,
    /// which makes a statement with thousands of them slow to prepare.
    async fn store_rows(&mut self, epoch: i64, rows: &[Rewrapped]) -> Result<u64, sqlx::Error> {
        let mut n = 0;
        for chunk in rows.chunks(SQLITE_ROWS_PER_STATEMENT) {
            let mut sql = String::from(
                "UPDATE accounts SET data_key_wrapped = v.column3, key_epoch = ?, \
                 email_lookup = COALESCE(v.column4, accounts.email_lookup) FROM (VALUES ",
            );
            for i in 0..chunk.len() {
                sql.push_str(if i == 0 {
                    "(?, ?, ?, ?, ?)"
                } else {
                    ", (?, ?, ?, ?, ?)"
                });
            }
            sql.push_str(
                ") AS v WHERE accounts.id = v.column1 AND accounts.data_key_wrapped = v.column2 \
                 AND accounts.email_lookup = v.column5",
            );
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(epoch);
            for r in chunk {
                q = q
                    .bind(r.id.as_str())
                    .bind(r.old.as_slice())
                    .bind(r.new.as_slice())
                    .bind(r.lookup.as_deref())
                    .bind(r.old_lookup.as_slice());
            }
            n += q.execute(&mut *self).await?.rows_affected();
        }
        Ok(n)
    }
}

/// Rows per `UPDATE` on SQLite: five parameters each, under its limit of 32,766.
const SQLITE_ROWS_PER_STATEMENT: usize = 6_000;

impl StoreOn for sqlx::PgConnection {
    /// PostgreSQL: one statement per batch, since a round trip per row would make a rotation
    /// of 100,000 members take far longer than the work itself.
    async fn store_rows(&mut self, epoch: i64, rows: &[Rewrapped]) -> Result<u64, sqlx::Error> {
        let ids: Vec<&str> = rows.iter().map(|r| r.id.as_str()).collect();
        let old: Vec<&[u8]> = rows.iter().map(|r| r.old.as_slice()).collect();
        let new: Vec<&[u8]> = rows.iter().map(|r| r.new.as_slice()).collect();
        let lookup: Vec<Option<&[u8]>> = rows.iter().map(|r| r.lookup.as_deref()).collect();
        let old_lookup: Vec<&[u8]> = rows.iter().map(|r| r.old_lookup.as_slice()).collect();
        Ok(sqlx::query(
            "UPDATE accounts a SET data_key_wrapped = v.new, key_epoch = $4, \
             email_lookup = COALESCE(v.lookup, a.email_lookup) \
             FROM UNNEST($1::text[], $2::bytea[], $3::bytea[], $5::bytea[], $6::bytea[]) \
               AS v(id, old, new, lookup, old_lookup) \
             WHERE a.id = v.id AND a.data_key_wrapped = v.old AND a.email_lookup = v.old_lookup",
        )
        .bind(&ids)
        .bind(&old)
        .bind(&new)
        .bind(epoch)
        .bind(&lookup)
        .bind(&old_lookup)
        .execute(&mut *self)
        .await?
        .rows_affected())
    }
}

async fn store_on<C: StoreOn>(c: &mut C, epoch: i64, rows: &[Rewrapped]) -> StoreResult<u64> {
    Ok(c.store_rows(epoch, rows).await?)
}
