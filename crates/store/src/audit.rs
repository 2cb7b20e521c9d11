//! The audit log: every transition and security event, with actor, time and reason. Details
//! hold ids and codes, never personal data.

use crate::crypto::Keyring;
use crate::db::Tx;
use crate::error::StoreResult;
use crate::{accounts, args};
use hiatus_domain::{AccountId, AuditEventId, Micros};

/// One audit event to record.
#[derive(Clone, Debug)]
pub struct NewAuditEvent<'a> {
    pub account: Option<AccountId>,
    pub actor: Option<AccountId>,
    pub action: &'a str,
    pub reason: Option<String>,
    pub detail: serde_json::Value,
    pub now: Micros,
}

impl<'a> NewAuditEvent<'a> {
    /// An event a member caused on their own account, with no reason attached (the common
    /// case: logins, settings, breaks, marketplace actions).
    pub fn by_member(
        account: AccountId,
        action: &'a str,
        detail: serde_json::Value,
        now: Micros,
    ) -> Self {
        Self {
            account: Some(account),
            actor: Some(account),
            action,
            reason: None,
            detail,
            now,
        }
    }
}

/// A recorded event.
#[derive(Clone, Debug, sqlx::FromRow, serde::Serialize)]
pub struct AuditEventRow {
    pub id: String,
    pub account_id: Option<String>,
    pub actor_id: Option<String>,
    pub action: String,
    pub reason: Option<String>,
    pub detail: String,
    pub created_at: i64,
    /// The sealed free text ([`attach_note`]); [`for_account`] opens it into `detail`.
    #[serde(skip)]
    pub note_enc: Option<Vec<u8>>,
}

/// Appends an event. Nothing once the account's erasure has begun (see
/// [`crate::accounts::attachable`]), but the erasure's own record.
pub async fn record(tx: &mut Tx, e: NewAuditEvent<'_>) -> StoreResult<AuditEventId> {
    let id = AuditEventId::new();
    if let Some(a) = e.account
        && !ERASURE_EVENTS.contains(&e.action)
        && !crate::accounts::attachable(tx, &a.to_text()).await?
    {
        return Ok(id);
    }
    tx.exec(
        "INSERT INTO audit_events (id, account_id, actor_id, action, reason, detail, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        args![
            id.to_text(),
            e.account.map(|a| a.to_text()),
            e.actor.map(|a| a.to_text()),
            e.action,
            e.reason,
            e.detail.to_string(),
            e.now
        ],
    )
    .await?;
    Ok(id)
}

/// Attaches the free text a member gave with a closure reason to its event, sealed under the
/// member's data key: erasure redacts the event and destroys the key, and the text is
/// unreadable in every old copy. The reason's code is what statistics keep, unlinked
/// ([`record_closure_reason`]).
pub async fn attach_note(
    tx: &mut Tx,
    keys: &Keyring,
    account: AccountId,
    event: AuditEventId,
    note: &str,
) -> StoreResult<()> {
    let dk = accounts::get(tx, account).await?.data_key(keys)?;
    let id = event.to_text();
    let sealed = dk.seal_field("audit_events", "note", &id, note);
    tx.exec(
        "UPDATE audit_events SET note_enc = $2 WHERE id = $1 AND account_id = $3",
        args![id, sealed, account.to_text()],
    )
    .await?;
    Ok(())
}

/// The events about an account, newest first, a page at a time. The free text of a closure
/// reason is opened with the account's key and shown as the detail's `detail`, as the member
/// wrote it (nothing, once erasure destroyed the key).
pub async fn for_account(
    tx: &mut Tx,
    keys: &Keyring,
    account: AccountId,
    limit: i64,
    offset: i64,
) -> StoreResult<Vec<AuditEventRow>> {
    let mut rows: Vec<AuditEventRow> = tx
        .all(
            "SELECT id, account_id, actor_id, action, reason, detail, created_at, note_enc FROM audit_events WHERE account_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2 OFFSET $3",
            args![account.to_text(), limit, offset],
        )
        .await?;
    if rows.iter().all(|r| r.note_enc.is_none()) {
        return Ok(rows);
    }
    let Ok(dk) = accounts::get(tx, account).await?.data_key(keys) else {
        return Ok(rows);
    };
    for r in &mut rows {
        let Some(sealed) = r.note_enc.take() else {
            continue;
        };
        let note = dk.open_field("audit_events", "note", &r.id, &sealed)?;
        if let Ok(serde_json::Value::Object(mut d)) = serde_json::from_str(&r.detail) {
            d.insert("detail".into(), serde_json::Value::String(note));
            r.detail = serde_json::Value::Object(d).to_string();
        }
    }
    Ok(rows)
}

/// Stores a closure reason without any link to the person, for statistics.
pub async fn record_closure_reason(
    tx: &mut Tx,
    action: &str,
    reason: &str,
    now: Micros,
) -> StoreResult<()> {
    // Rounded to the day so the time cannot be joined back to the audit event.
    let day = now - now.rem_euclid(hiatus_domain::DAY_MICROS);
    tx.exec(
        "INSERT INTO closure_reasons (id, action, reason, created_at) VALUES ($1, $2, $3, $4)",
        args![uuid::Uuid::new_v4().to_string(), action, reason, day],
    )
    .await?;
    Ok(())
}

/// Records a lifecycle event that subscribers hear of: its audit row and its outbox row (named
/// like the audit action, for the event's account, carrying `publish`: ids and dates only),
/// in the caller's transaction, so the change, its record and its announcement commit
/// together or not at all.
pub async fn record_event(
    tx: &mut Tx,
    e: NewAuditEvent<'_>,
    publish: serde_json::Value,
) -> StoreResult<AuditEventId> {
    let (action, account, now) = (e.action, e.account, e.now);
    let id = record(tx, e).await?;
    outbox(tx, action, account, publish, now).await?;
    Ok(id)
}

/// The events the erasure itself records about the account it erases (the only ones that
/// may name a tombstone).
pub const ERASURE_EVENTS: [&str; 2] = ["account.deleted", "account.erased"];

/// Appends an event to the outbox, delivered later by the worker. Nothing once the account's
/// erasure has begun (see [`crate::accounts::attachable`]), but the erasure's own events.
pub async fn outbox(
    tx: &mut Tx,
    event: &str,
    account: Option<AccountId>,
    payload: serde_json::Value,
    now: Micros,
) -> StoreResult<()> {
    if let Some(a) = account
        && !ERASURE_EVENTS.contains(&event)
        && !crate::accounts::attachable(tx, &a.to_text()).await?
    {
        return Ok(());
    }
    tx.exec(
        "INSERT INTO outbox (id, event, account_id, payload, created_at) VALUES ($1, $2, $3, $4, $5)",
        args![uuid::Uuid::now_v7().to_string(), event, account.map(|a| a.to_text()), payload.to_string(), now],
    )
    .await?;
    Ok(())
}
