//! What the service hands out about records it keeps for operators and members: its own
//! types, so nothing above the service names a storage row.

use hiatus_domain::Micros;
use serde::Serialize;

/// The profile text a member may change; `None` leaves a field as it is.
pub use hiatus_store::accounts::ProfileText;

/// An audit event.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct AuditEvent {
    pub id: String,
    pub actor_id: Option<String>,
    pub action: String,
    pub reason: Option<String>,
    pub detail: serde_json::Value,
    pub created_at: Micros,
}

impl From<hiatus_store::audit::AuditEventRow> for AuditEvent {
    fn from(r: hiatus_store::audit::AuditEventRow) -> Self {
        AuditEvent {
            id: r.id,
            actor_id: r.actor_id,
            action: r.action,
            reason: r.reason,
            detail: serde_json::from_str(&r.detail).unwrap_or(serde_json::Value::Null),
            created_at: r.created_at,
        }
    }
}

/// A delivery, as the log shows it.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
#[schema(as = Delivery)]
pub struct WebhookDelivery {
    pub id: String,
    pub subscription_id: String,
    /// The outbox event's id: the idempotency key receivers deduplicate on.
    pub event_id: String,
    pub event: String,
    pub payload: String,
    /// `pending`, `delivered` or `dead`.
    pub status: String,
    pub attempts: i64,
    pub next_attempt_at: i64,
    pub last_status: Option<i64>,
    pub last_error: Option<String>,
    pub created_at: i64,
    pub delivered_at: Option<i64>,
}

impl From<hiatus_store::webhooks::Delivery> for WebhookDelivery {
    fn from(d: hiatus_store::webhooks::Delivery) -> Self {
        WebhookDelivery {
            id: d.id,
            subscription_id: d.subscription_id,
            event_id: d.event_id,
            event: d.event,
            payload: d.payload,
            status: d.status,
            attempts: d.attempts,
            next_attempt_at: d.next_attempt_at,
            last_status: d.last_status,
            last_error: d.last_error,
            created_at: d.created_at,
            delivered_at: d.delivered_at,
        }
    }
}

/// Jobs of one kind that are waiting or running.
#[derive(Clone, Debug, Serialize)]
pub struct QueueDepth {
    pub kind: String,
    /// Due now and not taken.
    pub due: i64,
    /// Scheduled for later.
    pub scheduled: i64,
    pub running: i64,
    /// When the oldest due job became due (None when nothing is due).
    pub oldest_due_at: Option<Micros>,
    /// Jobs of this kind that gave up, ever.
    pub failed: i64,
}

impl From<hiatus_store::stats::QueueRow> for QueueDepth {
    fn from(q: hiatus_store::stats::QueueRow) -> Self {
        QueueDepth {
            kind: q.kind,
            due: q.due,
            scheduled: q.scheduled,
            running: q.running,
            oldest_due_at: q.oldest_due_at,
            failed: q.failed,
        }
    }
}

/// Deliveries not yet made: the outbox's undelivered events, and failed webhook and mail
/// deliveries.
#[derive(Clone, Debug, Default, Serialize)]
pub struct DeliveryBacklog {
    pub outbox_pending: i64,
    pub outbox_oldest_at: Option<Micros>,
    pub webhooks_pending: i64,
    pub webhooks_dead: i64,
    pub mail_pending: i64,
    pub mail_dead: i64,
}

impl From<hiatus_store::stats::Delivery> for DeliveryBacklog {
    fn from(d: hiatus_store::stats::Delivery) -> Self {
        DeliveryBacklog {
            outbox_pending: d.outbox_pending,
            outbox_oldest_at: d.outbox_oldest_at,
            webhooks_pending: d.webhooks_pending,
            webhooks_dead: d.webhooks_dead,
            mail_pending: d.mail_pending,
            mail_dead: d.mail_dead,
        }
    }
}

/// Exports or erasures that finished in a window: how many, how long they took in all, and
/// (exports) how many bytes they wrote.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Finished {
    pub count: i64,
    pub micros: i64,
    pub bytes: i64,
}

impl From<hiatus_store::stats::Finished> for Finished {
    fn from(f: hiatus_store::stats::Finished) -> Self {
        Finished {
            count: f.count,
            micros: f.micros,
            bytes: f.bytes,
        }
    }
}
