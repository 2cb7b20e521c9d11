//! The audit log: every transition and security event, with actor, time and reason. Details
//! hold ids and codes, never personal data.

use crate::args;
use crate::db::Tx;
use crate::error::StoreResult;
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

/// The events about an account, newest first, a page at a time.
pub async fn for_account(
    tx: &mut Tx,
    account: AccountId,
    limit: i64,
    offset: i64,
) -> StoreResult<Vec<AuditEventRow>> {
    tx.all(
        "SELECT id, account_id, actor_id, action, reason, detail, created_at FROM audit_events WHERE account_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2 OFFSET $3",
        args![account.to_text(), limit, offset],
    )
    .await
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
