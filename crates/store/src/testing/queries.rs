//! Named queries for what tests inspect, and named changes for what they tamper with on
//! purpose: each says what it reads or breaks, so no SQL text lives in a test.

use super::checked_name;
use crate::db::{Arg, Db, Tx};
use crate::error::StoreResult;
use crate::{Backend, args};
use std::collections::BTreeMap;

// ---- named queries: what tests inspect --------------------------------------------------

/// A table or column name tests may pass: lowercase letters, digits and underscores.
fn checked_ident(name: &str) -> StoreResult<&str> {
    checked_name(name)
}

/// The rows of `table` whose `column` holds `value`.
pub async fn count_rows(tx: &mut Tx, table: &str, column: &str, value: &str) -> StoreResult<i64> {
    let sql = format!(
        "SELECT COUNT(*) FROM {} WHERE {} = $1",
        checked_ident(table)?,
        checked_ident(column)?
    );
    tx.scalar_dyn(&sql, args![value]).await
}

/// The rows of `table` whose `column` is not null.
pub async fn count_filled(tx: &mut Tx, table: &str, column: &str) -> StoreResult<i64> {
    let sql = format!(
        "SELECT COUNT({}) FROM {}",
        checked_ident(column)?,
        checked_ident(table)?
    );
    tx.scalar_dyn(&sql, vec![]).await
}

/// The jobs of `kind` in `status`.
pub async fn count_jobs(tx: &mut Tx, kind: &str, status: &str) -> StoreResult<i64> {
    tx.scalar(
        "SELECT COUNT(*) FROM jobs WHERE kind = $1 AND status = $2",
        args![kind, status],
    )
    .await
}

/// The jobs done on their first attempt.
pub async fn count_jobs_done_at_first_attempt(tx: &mut Tx) -> StoreResult<i64> {
    tx.scalar(
        "SELECT COUNT(*) FROM jobs WHERE status = 'done' AND attempts = 1",
        vec![],
    )
    .await
}

/// The outbox rows whose payload contains any of `needles`.
pub async fn count_outbox_payloads_containing_any(
    tx: &mut Tx,
    needles: &[&str],
) -> StoreResult<i64> {
    let clauses = (1..=needles.len())
        .map(|i| format!("payload LIKE ${i}"))
        .collect::<Vec<_>>()
        .join(" OR ");
    let sql = format!("SELECT COUNT(*) FROM outbox WHERE {clauses}");
    let args = needles
        .iter()
        .map(|n| Arg::from(format!("%{n}%")))
        .collect();
    tx.scalar_dyn(&sql, args).await
}

// ---- named changes: what tests tamper with on purpose -----------------------------------

/// Puts the mail deliveries of `kind` back to pending and due, as if the worker died after
/// the server took them but before recording it.
pub async fn tamper_mail_deliveries_back_to_pending(tx: &mut Tx, kind: &str) -> StoreResult<u64> {
    tx.exec(
        "UPDATE mail_deliveries SET status = 'pending', next_attempt_at = 0 WHERE kind = $1",
        args![kind],
    )
    .await
}

// ---- named queries: accounts, invoices, retention --------------------------------------

/// The content hash and issuer of the PDF kept for invoice `invoice_id`, if one is kept.
pub async fn kept_invoice_pdf(
    tx: &mut Tx,
    invoice_id: &str,
) -> StoreResult<Option<(String, String)>> {
    tx.opt(
        "SELECT content_hash, issuer_id FROM invoice_pdfs WHERE invoice_id = $1",
        args![invoice_id],
    )
    .await
}

/// The issuer of invoice `invoice_id`.
pub async fn invoice_issuer(tx: &mut Tx, invoice_id: &str) -> StoreResult<String> {
    tx.scalar(
        "SELECT issuer_id FROM invoices WHERE id = $1",
        args![invoice_id],
    )
    .await
}

/// Whether invoice `invoice_id` exists and names a pseudonym account as its issuer (0 or 1).
pub async fn count_invoices_issued_by_a_pseudonym(
    tx: &mut Tx,
    invoice_id: &str,
) -> StoreResult<i64> {
    tx.scalar(
        "SELECT COUNT(*) FROM invoices WHERE id = $1 AND issuer_id = \
         (SELECT id FROM accounts WHERE pseudonym IS NOT NULL AND id = invoices.issuer_id)",
        args![invoice_id],
    )
    .await
}

/// What account `id` still holds of its sealed legal name and its wrapped data key:
/// (legal name present, data key present).
pub async fn sealed_name_and_key(tx: &mut Tx, id: &str) -> StoreResult<(bool, bool)> {
    let (name, key): (i64, i64) = tx
        .one(
            "SELECT CAST((CASE WHEN legal_name_enc IS NULL THEN 0 ELSE 1 END) AS BIGINT), \
             CAST((CASE WHEN data_key_wrapped IS NULL THEN 0 ELSE 1 END) AS BIGINT) \
             FROM accounts WHERE id = $1",
            args![id],
        )
        .await?;
    Ok((name == 1, key == 1))
}

/// The date until which account `id` (a pseudonym) is retained.
pub async fn retained_until(tx: &mut Tx, id: &str) -> StoreResult<i64> {
    tx.scalar(
        "SELECT retained_until FROM accounts WHERE id = $1",
        args![id],
    )
    .await
}

/// The wrapped data key of account `id` as stored (none once destroyed).
pub async fn stored_data_key(tx: &mut Tx, id: &str) -> StoreResult<Option<Vec<u8>>> {
    tx.scalar(
        "SELECT data_key_wrapped FROM accounts WHERE id = $1",
        args![id],
    )
    .await
}

/// The email lookup hash of account `id` as stored.
pub async fn stored_email_lookup(tx: &mut Tx, id: &str) -> StoreResult<Vec<u8>> {
    tx.scalar("SELECT email_lookup FROM accounts WHERE id = $1", args![id])
        .await
}

/// Turns account `id` into one stored before key epochs: its data key wrapped directly under
/// the master key (`legacy_wrapped`), no epoch, and the email lookup `lookup`.
pub async fn tamper_into_legacy_keys(
    tx: &mut Tx,
    id: &str,
    legacy_wrapped: Vec<u8>,
    lookup: Vec<u8>,
) -> StoreResult<u64> {
    tx.exec(
        "UPDATE accounts SET data_key_wrapped = $1, key_epoch = NULL, email_lookup = $3 WHERE id = $2",
        args![legacy_wrapped, id, lookup],
    )
    .await
}

// ---- named queries: erasure ---------------------------------------------------------------

/// Every column (as text) of every table that contains `needle`, with how many rows. With
/// `erased` (an erased member's old id), the documented places that keep that id are left
/// out: its own account and erasure rows, the `account.erased` audit event, the deletion
/// events of the outbox and of webhook deliveries, and (with `erase_job_kept`) the erasure's
/// own job.
pub async fn mentions(
    db: &Db,
    needle: &str,
    erased: Option<&str>,
    erase_job_kept: bool,
) -> StoreResult<BTreeMap<(String, String), i64>> {
    let schema = crate::policy::live_schema(db).await?;
    let mut out = BTreeMap::new();
    let mut tx = db.read().await?;
    for (t, cols) in &schema {
        for c in cols {
            let extra = match (erased.is_some(), t.as_str(), c.as_str()) {
                (false, _, _) => "",
                (_, "accounts", "id") => " AND \"id\" <> $2",
                (_, "erasures", "account_id") => " AND \"account_id\" <> $2",
                (_, "audit_events", _) => " AND \"action\" <> 'account.erased'",
                (_, "outbox" | "webhook_deliveries", _) => {
                    " AND \"event\" NOT IN ('account.deleted', 'account.erased')"
                }
                (_, "jobs", _) if erase_job_kept => " AND \"kind\" <> 'account.erase'",
                _ => "",
            };
            let sql =
                format!("SELECT COUNT(*) FROM \"{t}\" WHERE CAST(\"{c}\" AS TEXT) LIKE $1{extra}");
            let mut a = args![format!("%{needle}%")];
            if let (true, Some(old)) = (extra.contains("$2"), erased) {
                a.push(old.into());
            }
            let n: i64 = tx.scalar_dyn(&sql, a).await?;
            if n > 0 {
                out.insert((t.clone(), c.clone()), n);
            }
        }
    }
    tx.commit().await?;
    Ok(out)
}

/// The state of account `id`.
pub async fn account_state(tx: &mut Tx, id: &str) -> StoreResult<String> {
    tx.scalar("SELECT state FROM accounts WHERE id = $1", args![id])
        .await
}

/// Whether every one of `columns` of account `id` is null (the account must exist).
pub async fn account_columns_all_null(
    tx: &mut Tx,
    id: &str,
    columns: &[&str],
) -> StoreResult<bool> {
    let mut test = Vec::new();
    for c in columns {
        test.push(format!("{} IS NULL", checked_ident(c)?));
    }
    let sql = format!(
        "SELECT CAST((CASE WHEN {} THEN 1 ELSE 0 END) AS BIGINT) FROM accounts WHERE id = $1",
        test.join(" AND ")
    );
    let n: i64 = tx.scalar_dyn(&sql, args![id]).await?;
    Ok(n == 1)
}

/// The status of the erasure of account `id`, and the executor holding it.
pub async fn erasure_status(tx: &mut Tx, id: &str) -> StoreResult<(String, Option<String>)> {
    tx.one(
        "SELECT status, locked_by FROM erasures WHERE account_id = $1",
        args![id],
    )
    .await
}

/// The first contract (by id) of `freelancer_id` that ended and has no review.
pub async fn first_ended_contract_without_review(
    tx: &mut Tx,
    freelancer_id: &str,
) -> StoreResult<String> {
    tx.scalar(
        "SELECT id FROM contracts WHERE freelancer_id = $1 AND status = 'ended' \
         AND id NOT IN (SELECT contract_id FROM reviews) ORDER BY id LIMIT 1",
        args![freelancer_id],
    )
    .await
}

/// The exports of account `id`, or with id `export_id`.
pub async fn count_exports_of(tx: &mut Tx, id: &str, export_id: &str) -> StoreResult<i64> {
    tx.scalar(
        "SELECT COUNT(*) FROM exports WHERE account_id = $1 OR id = $2",
        args![id, export_id],
    )
    .await
}

/// Destroys the wrapped data key of account `id`, as lost data would.
pub async fn tamper_destroy_data_key(tx: &mut Tx, id: &str) -> StoreResult<u64> {
    tx.exec(
        "UPDATE accounts SET data_key_wrapped = NULL WHERE id = $1",
        args![id],
    )
    .await
}

/// Overwrites the sealed legal name of account `id` with `bytes`, as corruption would.
pub async fn tamper_legal_name(tx: &mut Tx, id: &str, bytes: Vec<u8>) -> StoreResult<u64> {
    tx.exec(
        "UPDATE accounts SET legal_name_enc = $2 WHERE id = $1",
        args![id, bytes],
    )
    .await
}

/// Resolves every blocker of `member` behind the service's back, as if each had been settled:
/// open disputes resolved, escrow released, live contracts ended, balance and debt zero,
/// scheduled payouts settled, unpaid invoices (as client) paid.
pub async fn tamper_resolve_every_blocker(tx: &mut Tx, member: &str, now: i64) -> StoreResult<()> {
    tx.exec(
        "UPDATE disputes SET status = 'resolved', resolved_at = $2 WHERE status = 'open' \
         AND contract_id IN (SELECT id FROM contracts WHERE client_id = $1 OR freelancer_id = $1)",
        args![member, now],
    )
    .await?;
    tx.exec(
        "UPDATE payments SET status = 'released', updated_at = $2 \
         WHERE (payer_id = $1 OR payee_id = $1) AND status IN ('in_escrow', 'pending_release')",
        args![member, now],
    )
    .await?;
    tx.exec(
        "UPDATE contracts SET status = 'ended', ended_at = $2 \
         WHERE (client_id = $1 OR freelancer_id = $1) AND status <> 'ended'",
        args![member, now],
    )
    .await?;
    tx.exec(
        "UPDATE balances SET available_minor = 0, debt_minor = 0, updated_at = $2 WHERE account_id = $1",
        args![member, now],
    )
    .await?;
    tx.exec(
        "UPDATE payouts SET status = 'settled' WHERE account_id = $1 AND status = 'scheduled'",
        args![member],
    )
    .await?;
    tx.exec(
        "UPDATE invoices SET status = 'paid', paid_at = $2 WHERE recipient_id = $1 AND status = 'unpaid'",
        args![member, now],
    )
    .await?;
    Ok(())
}

/// The accounts carrying pseudonym `label`: (id, state).
pub async fn pseudonym_accounts(tx: &mut Tx, label: &str) -> StoreResult<Vec<(String, String)>> {
    tx.all(
        "SELECT id, state FROM accounts WHERE pseudonym = $1",
        args![label],
    )
    .await
}

/// The first message (by id) `author` wrote.
pub async fn first_message_of(tx: &mut Tx, author: &str) -> StoreResult<Option<String>> {
    let m: Option<(String,)> = tx
        .opt(
            "SELECT id FROM messages WHERE author_id = $1 ORDER BY id LIMIT 1",
            args![author],
        )
        .await?;
    Ok(m.map(|(id,)| id))
}

/// The people who share a contract, a thread or a review with `member`, sorted.
pub async fn counterparties(tx: &mut Tx, member: &str) -> StoreResult<Vec<String>> {
    let rows: Vec<(String,)> = tx
        .all(
            "SELECT p FROM ( \
               SELECT client_id AS p FROM contracts WHERE freelancer_id = $1 \
               UNION SELECT freelancer_id FROM contracts WHERE client_id = $1 \
               UNION SELECT tp2.account_id FROM thread_participants tp1 \
                 JOIN thread_participants tp2 ON tp2.thread_id = tp1.thread_id \
                 WHERE tp1.account_id = $1 AND tp2.account_id <> $1 \
               UNION SELECT subject_id FROM reviews WHERE author_id = $1 \
               UNION SELECT author_id FROM reviews WHERE subject_id = $1 \
             ) people ORDER BY p",
            args![member],
        )
        .await?;
    Ok(rows.into_iter().map(|(p,)| p).collect())
}

/// Every file attached to a message: (message id, file id).
pub async fn message_attachments(tx: &mut Tx) -> StoreResult<Vec<(String, String)>> {
    tx.all(
        "SELECT message_id, id FROM files WHERE message_id IS NOT NULL",
        vec![],
    )
    .await
}

/// Whether review `review_id` is about `subject_id` (0 or 1).
pub async fn count_reviews_about(
    tx: &mut Tx,
    review_id: &str,
    subject_id: &str,
) -> StoreResult<i64> {
    tx.scalar(
        "SELECT COUNT(*) FROM reviews WHERE id = $1 AND subject_id = $2",
        args![review_id, subject_id],
    )
    .await
}

/// The jobs whose payload contains `needle`: (kind, status, payload).
pub async fn jobs_naming(tx: &mut Tx, needle: &str) -> StoreResult<Vec<(String, String, String)>> {
    tx.all(
        "SELECT kind, status, payload FROM jobs WHERE payload LIKE $1",
        args![format!("%{needle}%")],
    )
    .await
}

/// The key of each row of `table`, as text (hashes as lowercase hex): what tells rows apart
/// before and after a change.
pub async fn row_keys(tx: &mut Tx, table: &str) -> StoreResult<Vec<String>> {
    let table = checked_ident(table)?;
    let key = match table {
        "export_links" | "deletion_cancel_links" | "password_resets" => "token_hash",
        "profiles" | "signup_confirmations" => "account_id",
        "invoice_pdfs" => "invoice_id",
        "client_notices" => "account_id || ':' || client_id",
        "balances" => "account_id || ':' || currency",
        "thread_participants" | "away_replies" => "thread_id || ':' || account_id",
        _ => "id",
    };
    let sql = match (tx.backend(), key) {
        (Backend::Postgres, "token_hash") => {
            format!("SELECT encode(token_hash, 'hex') FROM {table}")
        }
        (Backend::Sqlite, "token_hash") => format!("SELECT hex(token_hash) FROM {table}"),
        _ => format!("SELECT {key} FROM {table}"),
    };
    let rows: Vec<(String,)> = tx.all_dyn(&sql, vec![]).await?;
    Ok(rows.into_iter().map(|(k,)| k).collect())
}

/// The latest `date_column` among the rows of `table` whose `column` holds `value`.
pub async fn latest_date(
    tx: &mut Tx,
    table: &str,
    date_column: &str,
    column: &str,
    value: &str,
) -> StoreResult<Option<i64>> {
    let sql = format!(
        "SELECT MAX({}) FROM {} WHERE {} = $1",
        checked_ident(date_column)?,
        checked_ident(table)?,
        checked_ident(column)?
    );
    tx.scalar_dyn(&sql, args![value]).await
}

/// The rows of audit table `table` redacted to `{"redacted":true}` that name `account` as
/// subject or actor.
pub async fn count_redacted_audit_rows(
    tx: &mut Tx,
    table: &str,
    account: &str,
) -> StoreResult<i64> {
    let sql = format!(
        "SELECT COUNT(*) FROM {} WHERE detail = '{{\"redacted\":true}}' AND (account_id = $1 OR actor_id = $1)",
        checked_ident(table)?
    );
    tx.scalar_dyn(&sql, args![account]).await
}

// ---- named queries: what the web tests inspect -------------------------------------------

/// The rows of `table`.
pub async fn count_all(tx: &mut Tx, table: &str) -> StoreResult<i64> {
    let sql = format!("SELECT COUNT(*) FROM {}", checked_ident(table)?);
    tx.scalar_dyn(&sql, vec![]).await
}

/// The sum of `column` over the rows of `table` (0 when there are none).
pub async fn sum_of(tx: &mut Tx, table: &str, column: &str) -> StoreResult<i64> {
    let sql = format!(
        "SELECT CAST(COALESCE(SUM({}), 0) AS BIGINT) FROM {}",
        checked_ident(column)?,
        checked_ident(table)?
    );
    tx.scalar_dyn(&sql, vec![]).await
}

/// The audit events other than a member of staff looking at a trail.
pub async fn count_audit_events_but_views(tx: &mut Tx) -> StoreResult<i64> {
    tx.scalar(
        "SELECT CAST(COUNT(*) AS BIGINT) FROM audit_events WHERE action <> 'audit.viewed'",
        vec![],
    )
    .await
}

/// The erasures not done yet.
pub async fn count_erasures_not_done(tx: &mut Tx) -> StoreResult<i64> {
    tx.scalar(
        "SELECT COUNT(*) FROM erasures WHERE status <> 'done'",
        vec![],
    )
    .await
}

/// The id of an account with `role` (the first one the database returns).
pub async fn account_with_role(tx: &mut Tx, role: &str) -> StoreResult<String> {
    tx.scalar("SELECT id FROM accounts WHERE role = $1", args![role])
        .await
}

/// The id of the pseudonym the erasure of account `id` made.
pub async fn pseudonym_of(tx: &mut Tx, id: &str) -> StoreResult<String> {
    tx.scalar(
        "SELECT pseudonym_id FROM erasures WHERE account_id = $1",
        args![id],
    )
    .await
}

/// Stores what no request can carry, as a corrupted or hostile database would hold it: a
/// balance beyond any integer (what an overflowing sum became on SQLite) for `account`.
pub async fn tamper_balance_beyond_integers(tx: &mut Tx, account: &str) -> StoreResult<u64> {
    tx.exec(
        "UPDATE balances SET available_minor = 18446744073709551615.0 WHERE account_id = $1",
        args![account],
    )
    .await
}

/// Sets the amount of payment `id` to `minor`, whatever it is.
pub async fn tamper_payment_amount(tx: &mut Tx, id: &str, minor: i64) -> StoreResult<u64> {
    tx.exec(
        "UPDATE payments SET amount_minor = $2 WHERE id = $1",
        args![id, minor],
    )
    .await
}
