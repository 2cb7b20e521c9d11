//! Deletion schedules and the erasure executor's storage: the `erasures` row of each member
//! who asked to be deleted (schedule, pseudonym, checkpoint, lease, receipt), the first step
//! that makes the account unusable in one transaction, and the batches the policy's rules run.

use crate::db::{Arg, Tx};
use crate::error::{StoreError, StoreResult};
use crate::policy::CompiledRule;
use crate::{Db, args};
use hiatus_domain::{AccountId, ErasureStatus, Micros};

/// An erasure's row.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct ErasureRow {
    pub account_id: String,
    /// `scheduled`, `cancelled`, `running` or `done`.
    pub status: String,
    pub pseudonym: Option<String>,
    pub pseudonym_id: Option<String>,
    pub scheduled_at: i64,
    pub due_at: i64,
    pub started_at: Option<i64>,
    pub finished_at: Option<i64>,
    /// How many of the executor's steps are done (0: none; 1: the account is unusable; then
    /// one per policy rule; the last: finished).
    pub step: i64,
    pub locked_by: Option<String>,
    pub locked_until: Option<i64>,
    pub receipt: Option<String>,
}

impl ErasureRow {
    /// The stored status as a type; an unknown name is a corrupt row.
    pub fn stage(&self) -> StoreResult<ErasureStatus> {
        ErasureStatus::parse(&self.status)
            .ok_or_else(|| StoreError::Corrupt(format!("unknown erasure status {:?}", self.status)))
    }
}

macro_rules! columns {
    () => {
        "account_id, status, pseudonym, pseudonym_id, scheduled_at, due_at, started_at, finished_at, step, locked_by, locked_until, receipt"
    };
}

/// The erasure row of an account, if it ever asked to be deleted.
pub async fn get(tx: &mut Tx, account: AccountId) -> StoreResult<Option<ErasureRow>> {
    tx.opt(
        concat!(
            "SELECT ",
            columns!(),
            " FROM erasures WHERE account_id = $1"
        ),
        args![account.to_text()],
    )
    .await
}

/// Records a schedule. A member who cancelled and asks again keeps the pseudonym they were
/// shown the first time.
pub async fn schedule(
    tx: &mut Tx,
    account: AccountId,
    pseudonym: &str,
    pseudonym_id: AccountId,
    now: Micros,
    due_at: Micros,
) -> StoreResult<ErasureRow> {
    tx.exec(
        "INSERT INTO erasures (account_id, status, pseudonym, pseudonym_id, scheduled_at, due_at) \
         VALUES ($1, 'scheduled', $2, $3, $4, $5) \
         ON CONFLICT (account_id) DO UPDATE SET status = 'scheduled', scheduled_at = $4, due_at = $5, \
         pseudonym = COALESCE(erasures.pseudonym, $2), pseudonym_id = COALESCE(erasures.pseudonym_id, $3)",
        args![
            account.to_text(),
            pseudonym.to_string(),
            pseudonym_id.to_text(),
            now,
            due_at
        ],
    )
    .await?;
    Ok(get(tx, account).await?.expect("just written"))
}

/// Marks a schedule cancelled.
pub async fn cancel(tx: &mut Tx, account: AccountId) -> StoreResult<bool> {
    Ok(tx
        .exec(
            "UPDATE erasures SET status = 'cancelled' WHERE account_id = $1 AND status = 'scheduled'",
            args![account.to_text()],
        )
        .await?
        == 1)
}

/// Takes (or renews) the executor's lease on an erasure. False when another executor holds
/// a lease that has not run out, or when there is nothing left to do.
pub async fn lease(
    db: &Db,
    account: AccountId,
    holder: &str,
    now: Micros,
    lease: Micros,
) -> StoreResult<bool> {
    let mut tx = db.begin().await?;
    let n = tx
        .exec(
            "UPDATE erasures SET locked_by = $2, locked_until = $3 WHERE account_id = $1 \
             AND status IN ('scheduled', 'running') AND (locked_until IS NULL OR locked_until < $4 OR locked_by = $2)",
            args![account.to_text(), holder.to_string(), now + lease, now],
        )
        .await?;
    tx.commit().await?;
    Ok(n == 1)
}

/// Extends the executor's lease between batches. False when the caller no longer holds it
/// (it ran out and another executor took over).
pub async fn hold_lease(
    tx: &mut Tx,
    account: AccountId,
    holder: &str,
    until: Micros,
) -> StoreResult<bool> {
    Ok(tx
        .exec(
            "UPDATE erasures SET locked_until = $3 WHERE account_id = $1 AND locked_by = $2 AND status = 'running'",
            args![account.to_text(), holder.to_string(), until],
        )
        .await?
        == 1)
}

/// Gives the lease back (after a failure, so a retry need not wait for it to run out).
pub async fn release(tx: &mut Tx, account: AccountId, holder: &str) -> StoreResult<()> {
    tx.exec(
        "UPDATE erasures SET locked_by = NULL, locked_until = NULL WHERE account_id = $1 AND locked_by = $2",
        args![account.to_text(), holder.to_string()],
    )
    .await?;
    Ok(())
}

/// Records that `step` steps are done, if the caller still holds the lease.
pub async fn checkpoint(
    tx: &mut Tx,
    account: AccountId,
    holder: &str,
    step: i64,
) -> StoreResult<bool> {
    Ok(tx
        .exec(
            "UPDATE erasures SET step = $3 WHERE account_id = $1 AND locked_by = $2 AND status = 'running'",
            args![account.to_text(), holder.to_string(), step],
        )
        .await?
        == 1)
}

/// What the first step writes for the pseudonym account.
pub struct NewPseudonym<'a> {
    pub id: AccountId,
    pub label: &'a str,
    pub kind: &'a str,
    /// The legal name sealed under the pseudonym's own key, with that key wrapped, when
    /// records that need it are retained.
    pub retained: Option<(Vec<u8>, Vec<u8>)>,
    pub retained_until: Option<Micros>,
    /// Random, so no email can ever log in to it.
    pub email_lookup: Vec<u8>,
    /// Random, replacing the tombstone's keyed hash of the member's email: after erasure
    /// nothing tells whether an address had an account (login and sign-up answer as for an
    /// unknown address).
    pub tombstone_lookup: Vec<u8>,
}

/// The first step, in the caller's transaction: the pseudonym account exists, the member's
/// account is `deleted` with every secret and contact detail cleared (the data key first of
/// all), their sessions and download links are gone and their running exports stopped.
pub async fn make_unusable(
    tx: &mut Tx,
    account: AccountId,
    p: &NewPseudonym<'_>,
    now: Micros,
) -> StoreResult<()> {
    let (name_enc, key_wrapped) = match &p.retained {
        Some((n, k)) => (Some(n.clone()), Some(k.clone())),
        None => (None, None),
    };
    let key_epoch = key_wrapped
        .as_deref()
        .and_then(crate::crypto::wrapped_epoch)
        .map(|e| e as i64);
    tx.exec(
        "INSERT INTO accounts (id, kind, role, state, email_lookup, legal_name_enc, data_key_wrapped, key_epoch, data_changed_at, state_changed_at, created_at, pseudonym, retained_until) \
         VALUES ($1, $2, 'member', 'deleted', $3, $4, $5, $9, $6, $6, $6, $7, $8) ON CONFLICT (id) DO NOTHING",
        args![
            p.id.to_text(),
            p.kind.to_string(),
            p.email_lookup.clone(),
            name_enc,
            key_wrapped,
            // The pseudonym's times say only the day it appeared, so they cannot be matched
            // to the microsecond with the tombstone's.
            now - now.rem_euclid(hiatus_domain::DAY_MICROS),
            p.label.to_string(),
            p.retained_until,
            key_epoch
        ],
    )
    .await?;
    tx.exec(
        "UPDATE accounts SET state = 'deleted', email_lookup = $3, email_enc = NULL, legal_name_enc = NULL, phone_enc = NULL, \
         data_key_wrapped = NULL, password_hash = NULL, totp_secret_enc = NULL, failed_logins = 0, locked_until = NULL, \
         deletion_due_at = NULL, state_changed_at = $2, data_changed_at = $2 WHERE id = $1",
        args![account.to_text(), now, p.tombstone_lookup.clone()],
    )
    .await?;
    tx.exec(
        "DELETE FROM sessions WHERE account_id = $1",
        args![account.to_text()],
    )
    .await?;
    tx.exec(
        "DELETE FROM export_links WHERE account_id = $1",
        args![account.to_text()],
    )
    .await?;
    tx.exec(
        "UPDATE exports SET status = 'failed', error = 'the account was deleted', finished_at = $2 \
         WHERE account_id = $1 AND status IN ('queued', 'running')",
        args![account.to_text(), now],
    )
    .await?;
    tx.exec(
        "UPDATE erasures SET status = 'running', started_at = $2, step = 1 WHERE account_id = $1",
        args![account.to_text(), now],
    )
    .await?;
    Ok(())
}

/// Keeps what the first step counted (the plan, counts and dates only), for the receipt the
/// last step writes.
pub async fn set_receipt(
    tx: &mut Tx,
    account: AccountId,
    receipt: &serde_json::Value,
) -> StoreResult<()> {
    tx.exec(
        "UPDATE erasures SET receipt = $2 WHERE account_id = $1",
        args![account.to_text(), receipt.to_string()],
    )
    .await?;
    Ok(())
}

/// The last step: the link between the tombstone and the pseudonym is cleared and the
/// receipt (counts and dates only) is kept.
pub async fn finish(
    tx: &mut Tx,
    account: AccountId,
    receipt: &serde_json::Value,
    step: i64,
    now: Micros,
) -> StoreResult<()> {
    tx.exec(
        "UPDATE erasures SET status = 'done', finished_at = $2, pseudonym = NULL, pseudonym_id = NULL, \
         locked_by = NULL, locked_until = NULL, receipt = $3, step = $4 WHERE account_id = $1",
        args![account.to_text(), now, receipt.to_string(), step],
    )
    .await?;
    Ok(())
}

fn rule_args(rule: &CompiledRule, member: &str, pseudonym: Option<&str>) -> Vec<Arg> {
    let mut a = vec![Arg::from(rule.member_arg(member))];
    match rule.rule.action {
        crate::policy::Action::Delete => {}
        crate::policy::Action::Pseudonymize | crate::policy::Action::Retain => {
            a.push(Arg::from(pseudonym.unwrap_or_default()))
        }
        crate::policy::Action::Redact => {
            a.extend(rule.redact_values.iter().map(|v| Arg::from(v.as_str())))
        }
    }
    a.extend(rule.when_values.iter().map(|v| Arg::from(v.as_str())));
    a
}

/// How many rows a rule matches for the member, and for retain rules the latest start of
/// the retention clock among them.
pub async fn count(
    tx: &mut Tx,
    rule: &CompiledRule,
    member: &str,
) -> StoreResult<(i64, Option<i64>)> {
    #[derive(sqlx::FromRow)]
    struct N {
        n: i64,
        latest: Option<i64>,
    }
    let mut a = vec![Arg::from(rule.member_arg(member))];
    a.extend(rule.when_values.iter().map(|v| Arg::from(v.as_str())));
    let r: Vec<N> = tx.all_dyn(&rule.count_sql, a).await?;
    Ok(r.first().map(|r| (r.n, r.latest)).unwrap_or((0, None)))
}

/// The blob keys of the rule's next batch (rules with blobs).
pub async fn batch_blobs(
    tx: &mut Tx,
    rule: &CompiledRule,
    member: &str,
) -> StoreResult<Vec<String>> {
    let Some(sql) = &rule.blobs_sql else {
        return Ok(Vec::new());
    };
    #[derive(sqlx::FromRow)]
    struct B(Option<String>);
    let mut a = vec![Arg::from(rule.member_arg(member))];
    a.extend(rule.when_values.iter().map(|v| Arg::from(v.as_str())));
    let rows: Vec<B> = tx.all_dyn(sql, a).await?;
    Ok(rows.into_iter().filter_map(|b| b.0).collect())
}

/// Runs one batch of a rule; returns the rows it changed (0: the rule is done).
pub async fn run_batch(
    tx: &mut Tx,
    rule: &CompiledRule,
    member: &str,
    pseudonym: Option<&str>,
) -> StoreResult<u64> {
    tx.exec_dyn(&rule.batch_sql, rule_args(rule, member, pseudonym))
        .await
}

/// Deletes one batch of a retain rule's rows of `pseudonym` whose retention clock started at
/// or before `cutoff`.
pub async fn purge_batch(
    tx: &mut Tx,
    rule: &CompiledRule,
    pseudonym: &str,
    cutoff: Micros,
) -> StoreResult<u64> {
    let Some(sql) = &rule.purge_sql else {
        return Ok(0);
    };
    tx.exec_dyn(sql, args![pseudonym.to_string(), cutoff]).await
}

/// The earliest start of a retain rule's clock among the pseudonym's rows.
pub async fn next_purge(
    tx: &mut Tx,
    rule: &CompiledRule,
    pseudonym: &str,
) -> StoreResult<Option<i64>> {
    let Some(sql) = &rule.next_purge_sql else {
        return Ok(None);
    };
    tx.scalar_dyn::<Option<i64>>(sql, args![pseudonym.to_string()])
        .await
}

/// Destroys a pseudonym's retained identity (its legal name and key) once nothing that
/// needs it is retained any longer.
pub async fn drop_retained_identity(tx: &mut Tx, pseudonym: &str) -> StoreResult<bool> {
    Ok(tx
        .exec(
            "UPDATE accounts SET legal_name_enc = NULL, data_key_wrapped = NULL, retained_until = NULL \
             WHERE id = $1 AND pseudonym IS NOT NULL AND (legal_name_enc IS NOT NULL OR data_key_wrapped IS NOT NULL)",
            args![pseudonym.to_string()],
        )
        .await?
        == 1)
}

/// The pseudonym shown for an account, if it is a pseudonym account.
pub async fn pseudonym_of(tx: &mut Tx, id: &str) -> StoreResult<Option<String>> {
    tx.scalar::<Option<String>>(
        "SELECT pseudonym FROM accounts WHERE id = $1",
        args![id.to_string()],
    )
    .await
    .or_else(|e| match e {
        crate::StoreError::NotFound => Ok(None),
        e => Err(e),
    })
}

/// Erasures whose grace period has ended, or that started and did not finish.
pub async fn due(tx: &mut Tx, now: Micros, limit: i64) -> StoreResult<Vec<AccountId>> {
    #[derive(sqlx::FromRow)]
    struct Id(String);
    let rows: Vec<Id> = tx
        .all(
            "SELECT account_id FROM erasures WHERE (status = 'scheduled' AND due_at <= $1) OR status = 'running' \
             ORDER BY due_at LIMIT $2",
            args![now, limit],
        )
        .await?;
    Ok(rows.into_iter().filter_map(|r| r.0.parse().ok()).collect())
}

/// Keeps the sealed address the "your account was erased" mail goes to, from the first step
/// (which clears the contact details) until that mail is sent.
pub async fn set_notify(tx: &mut Tx, account: AccountId, sealed: Vec<u8>) -> StoreResult<()> {
    tx.exec(
        "UPDATE erasures SET notify_enc = $2 WHERE account_id = $1",
        args![account.to_text(), sealed],
    )
    .await?;
    Ok(())
}

/// The sealed address of the erasure-completed mail, if it is still kept.
pub async fn notify(tx: &mut Tx, account: AccountId) -> StoreResult<Option<Vec<u8>>> {
    #[derive(sqlx::FromRow)]
    struct N {
        notify_enc: Option<Vec<u8>>,
    }
    Ok(tx
        .opt::<N>(
            "SELECT notify_enc FROM erasures WHERE account_id = $1",
            args![account.to_text()],
        )
        .await?
        .and_then(|n| n.notify_enc))
}

/// Forgets the address once the erasure-completed mail is sent or given up.
pub async fn clear_notify(tx: &mut Tx, account: AccountId) -> StoreResult<()> {
    tx.exec(
        "UPDATE erasures SET notify_enc = NULL WHERE account_id = $1",
        args![account.to_text()],
    )
    .await?;
    Ok(())
}

/// True when a pseudonym label is in use: by a pseudonym account, or reserved by a scheduled
/// erasure.
pub async fn pseudonym_taken(tx: &mut Tx, label: &str) -> StoreResult<bool> {
    let taken: i64 = tx
        .scalar(
            "SELECT (SELECT COUNT(*) FROM accounts WHERE pseudonym = $1) + (SELECT COUNT(*) FROM erasures WHERE pseudonym = $1)",
            args![label.to_string()],
        )
        .await?;
    Ok(taken > 0)
}
