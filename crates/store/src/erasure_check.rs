//! What the check after an erasure reads: whether the tombstone still holds anything, and
//! which columns of which tables still name the erased account.

use crate::db::Tx;
use crate::error::StoreResult;
use crate::policy::{Policy, is_ident, live_schema};
use crate::{Db, args};
use hiatus_domain::AccountId;

/// True when the erased account's row is not a bare tombstone: its state is not `deleted`,
/// or it still holds a contact detail, a secret or its data key.
pub async fn tombstone_holds_data(tx: &mut Tx, account: AccountId) -> StoreResult<bool> {
    let left: i64 = tx
        .scalar(
            "SELECT COUNT(*) FROM accounts WHERE id = $1 AND (state <> 'deleted' OR email_enc IS NOT NULL OR legal_name_enc IS NOT NULL \
             OR phone_enc IS NOT NULL OR data_key_wrapped IS NOT NULL OR password_hash IS NOT NULL OR totp_secret_enc IS NOT NULL)",
            args![account.to_text()],
        )
        .await?;
    Ok(left > 0)
}

/// A column in which rows still name an erased account.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reference {
    pub table: String,
    pub column: String,
    pub rows: i64,
}

/// Every column of every table of the live schema (the policy's system tables apart) whose
/// value, as text, still contains the erased account's id, with the number of such rows.
/// Left out, because erasure keeps them on purpose: the tombstone itself, its erasure row
/// and job, the events that record the erasure (and their webhook deliveries), and the last
/// mail, "your account was erased", which goes to the tombstone.
pub async fn references_left(
    db: &Db,
    policy: &Policy,
    account: AccountId,
) -> StoreResult<Vec<Reference>> {
    let schema = live_schema(db).await?;
    let pattern = format!("%{}%", account.to_text());
    let mut found = Vec::new();
    let mut tx = db.read().await?;
    for (table, cols) in &schema {
        if policy.system.tables.contains(table) || !is_ident(table) {
            continue;
        }
        for col in cols.iter().filter(|c| is_ident(c)) {
            let allowed = match (table.as_str(), col.as_str()) {
                ("accounts", "id") | ("erasures", "account_id") => continue,
                ("audit_events", _) => " AND action <> 'account.erased'",
                ("outbox" | "webhook_deliveries", _) => {
                    " AND event NOT IN ('account.deleted', 'account.erased')"
                }
                ("mail_deliveries", _) => " AND kind <> 'account.erased'",
                ("jobs", _) => " AND kind <> 'account.erase'",
                _ => "",
            };
            // Names come from the live schema and are checked identifiers; the id travels
            // as a bind parameter.
            let sql =
                format!("SELECT COUNT(*) FROM {table} WHERE CAST({col} AS TEXT) LIKE $1{allowed}");
            let n: i64 = tx.scalar_dyn(&sql, args![pattern.clone()]).await?;
            if n > 0 {
                found.push(Reference {
                    table: table.clone(),
                    column: col.clone(),
                    rows: n,
                });
            }
        }
    }
    tx.commit().await?;
    Ok(found)
}
