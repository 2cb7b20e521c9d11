//! Sealing the values older versions of hiatus stored in plaintext: client notices and their
//! forwarding contacts, proposal cover letters, support agents' notes on restoration
//! requests, and the free text given with a closure reason (inside the audit event's detail).
//!
//! A migration cannot seal (it has no keys), so the upgrade is three steps: migration
//! [`SEALED_COLUMNS_ADDED`] adds the sealed columns, [`seal_plaintext`] seals every remaining
//! plaintext value under its member's data key and clears it, and the next migration drops
//! the plaintext columns. [`crate::Db::migrate_sealing`] runs them in that order; without
//! the master key it refuses a database that still holds such values rather than drop them.
//!
//! Sealing stops new copies. The old plaintext stays in the database's free space and log
//! until they are reused (PostgreSQL: `VACUUM FULL` of the four tables rewrites them; SQLite:
//! `secure_delete` overwrites the freed cells, `VACUUM` the rest) and in backups taken before.

use crate::args;
use crate::crypto::Keyring;
use crate::db::{Db, Tx};
use crate::error::{StoreError, StoreResult};
use crate::policy::live_schema;

/// The migration that adds the sealed columns; the one after it drops the plaintext ones.
pub const SEALED_COLUMNS_ADDED: i64 = 21;

/// Seals the plaintext values an older version left, when the plaintext columns are still
/// there. Returns how many values were sealed (or cleared, for members whose key is already
/// destroyed: their values are deleted ones).
pub async fn seal_plaintext(db: &Db, keys: Option<&Keyring>) -> StoreResult<u64> {
    let schema = live_schema(db).await?;
    let has = |t: &str, c: &str| schema.get(t).is_some_and(|cols| cols.contains(c));
    if !has("proposals", "cover_letter") {
        return Ok(0); // sealed already, or a database created without them
    }
    let mut tx = db.begin().await?;
    let waiting: i64 = tx
        .scalar(
            "SELECT (SELECT COUNT(*) FROM client_notices WHERE message IS NOT NULL OR forwarding IS NOT NULL) \
             + (SELECT COUNT(*) FROM proposals WHERE cover_letter <> '') \
             + (SELECT COUNT(*) FROM restoration_requests WHERE decision_note IS NOT NULL) \
             + (SELECT COUNT(*) FROM audit_events WHERE detail LIKE '%\"detail\":\"%')",
            vec![],
        )
        .await?;
    if waiting == 0 {
        tx.commit().await?;
        return Ok(0);
    }
    let Some(keys) = keys else {
        tx.rollback().await?;
        return Err(StoreError::Config(format!(
            "the database holds {waiting} value(s) an older hiatus stored in plaintext; \
             run `hiatus migrate` with the master key to seal them"
        )));
    };
    let mut n = 0;
    n += notices(&mut tx, keys).await?;
    n += cover_letters(&mut tx, keys).await?;
    n += decision_notes(&mut tx, keys).await?;
    n += closure_notes(&mut tx, keys).await?;
    tx.commit().await?;
    Ok(n)
}

/// The member's data key, or `None` when erasure already destroyed it.
fn key_of(
    keys: &Keyring,
    account: &str,
    wrapped: Option<&[u8]>,
) -> StoreResult<Option<crate::DataKey>> {
    match keys.unwrap_data_key(account, wrapped) {
        Ok(k) => Ok(Some(k)),
        Err(StoreError::KeyDestroyed) => Ok(None),
        Err(e) => Err(e),
    }
}

async fn notices(tx: &mut Tx, keys: &Keyring) -> StoreResult<u64> {
    type NoticeRow = (
        String,
        String,
        Option<String>,
        Option<String>,
        Option<Vec<u8>>,
    );
    let rows: Vec<NoticeRow> = tx
        .all(
            "SELECT n.account_id, n.client_id, n.message, n.forwarding, a.data_key_wrapped \
             FROM client_notices n JOIN accounts a ON a.id = n.account_id \
             WHERE n.message IS NOT NULL OR n.forwarding IS NOT NULL",
            vec![],
        )
        .await?;
    let n = rows.len() as u64;
    for (member, client, message, forwarding, wrapped) in rows {
        let dk = key_of(keys, &member, wrapped.as_deref())?;
        let seal = |col: &str, v: &Option<String>| {
            dk.as_ref()
                .zip(v.as_ref())
                .map(|(k, v)| k.seal_field("client_notices", col, &client, v))
        };
        tx.exec(
            "UPDATE client_notices SET message_enc = $3, forwarding_enc = $4, message = NULL, forwarding = NULL \
             WHERE account_id = $1 AND client_id = $2",
            args![
                member.clone(),
                client.clone(),
                seal("message", &message),
                seal("forwarding", &forwarding)
            ],
        )
        .await?;
    }
    Ok(n)
}

async fn cover_letters(tx: &mut Tx, keys: &Keyring) -> StoreResult<u64> {
    let rows: Vec<(String, String, String, Option<Vec<u8>>)> = tx
        .all(
            "SELECT p.id, p.sender_id, p.cover_letter, a.data_key_wrapped \
             FROM proposals p JOIN accounts a ON a.id = p.sender_id WHERE p.cover_letter <> ''",
            vec![],
        )
        .await?;
    let n = rows.len() as u64;
    for (id, sender, letter, wrapped) in rows {
        let sealed = key_of(keys, &sender, wrapped.as_deref())?
            .map(|k| k.seal_field("proposals", "cover_letter", &id, &letter));
        tx.exec(
            "UPDATE proposals SET cover_letter_enc = $2, cover_letter = '' WHERE id = $1",
            args![id, sealed],
        )
        .await?;
    }
    Ok(n)
}

async fn decision_notes(tx: &mut Tx, keys: &Keyring) -> StoreResult<u64> {
    let rows: Vec<(String, String, String, Option<Vec<u8>>)> = tx
        .all(
            "SELECT r.id, r.account_id, r.decision_note, a.data_key_wrapped \
             FROM restoration_requests r JOIN accounts a ON a.id = r.account_id WHERE r.decision_note IS NOT NULL",
            vec![],
        )
        .await?;
    let n = rows.len() as u64;
    for (id, member, note, wrapped) in rows {
        let sealed = key_of(keys, &member, wrapped.as_deref())?
            .map(|k| k.seal_field("restoration_requests", "decision_note", &id, &note));
        tx.exec(
            "UPDATE restoration_requests SET decision_note_enc = $2, decision_note = NULL WHERE id = $1",
            args![id, sealed],
        )
        .await?;
    }
    Ok(n)
}

async fn closure_notes(tx: &mut Tx, keys: &Keyring) -> StoreResult<u64> {
    /// Event id, account, detail, the account's wrapped key.
    type EventRow = (String, Option<String>, String, Option<Vec<u8>>);
    let rows: Vec<EventRow> = tx
        .all(
            "SELECT e.id, e.account_id, e.detail, a.data_key_wrapped \
             FROM audit_events e LEFT JOIN accounts a ON a.id = e.account_id \
             WHERE e.detail LIKE '%\"detail\":\"%'",
            vec![],
        )
        .await?;
    let mut n = 0;
    for (id, member, detail, wrapped) in rows {
        let Ok(serde_json::Value::Object(mut d)) = serde_json::from_str(&detail) else {
            continue;
        };
        let Some(serde_json::Value::String(note)) = d.remove("detail") else {
            continue;
        };
        let dk = match &member {
            Some(m) => key_of(keys, m, wrapped.as_deref())?,
            None => None,
        };
        let sealed = dk.map(|k| k.seal_field("audit_events", "note", &id, &note));
        tx.exec(
            "UPDATE audit_events SET detail = $2, note_enc = $3 WHERE id = $1",
            args![id, serde_json::Value::Object(d).to_string(), sealed],
        )
        .await?;
        n += 1;
    }
    Ok(n)
}
