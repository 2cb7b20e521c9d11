//! The account's history: its audit events, the notices the member sent its clients, and its
//! restoration requests.

use super::{Record, json_text, opt_time, time};
use crate::crypto::DataKey;
use crate::error::StoreResult;
use schemars::JsonSchema;
use serde::Serialize;

/// An event of the account's audit history.
#[derive(Debug, sqlx::FromRow, Serialize, JsonSchema)]
pub struct AuditRecord {
    pub id: String,
    pub actor_id: Option<String>,
    pub action: String,
    pub reason: Option<String>,
    #[serde(serialize_with = "json_text")]
    #[schemars(with = "serde_json::Value")]
    pub detail: String,
    /// The free text the member gave with a closure reason, opened by the caller
    /// ([`AuditRecord::open`]).
    #[sqlx(default)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    #[serde(skip)]
    #[schemars(skip)]
    pub note_enc: Option<Vec<u8>>,
    #[serde(serialize_with = "time")]
    #[schemars(with = "String")]
    pub created_at: i64,
}
impl AuditRecord {
    /// Opens the free-text note with the member's key.
    pub fn open(&mut self, dk: &DataKey) -> StoreResult<()> {
        if let Some(b) = self.note_enc.take() {
            self.note = Some(dk.open_field("audit_events", "note", &self.id, &b)?);
        }
        Ok(())
    }
}
impl Record for AuditRecord {
    const CATEGORY: &'static str = "audit";
    const PAGE: &'static str = "SELECT id, actor_id, action, reason, detail, note_enc, created_at FROM audit_events \
        WHERE account_id = $1 AND id > $2 AND created_at >= $4 ORDER BY id LIMIT $3";
    const COUNT: &'static str =
        "SELECT COUNT(*) FROM audit_events WHERE account_id = $1 AND created_at >= $2";
    fn key(&self) -> &str {
        &self.id
    }
}

/// A client the member told they were leaving.
#[derive(Debug, sqlx::FromRow, Serialize, JsonSchema)]
pub struct ClientNoticeRecord {
    pub client_id: String,
    #[serde(serialize_with = "time")]
    #[schemars(with = "String")]
    pub sent_at: i64,
    /// What the member wrote (notices from before messages were kept have none), opened by
    /// the caller ([`ClientNoticeRecord::open`]).
    #[sqlx(default)]
    pub message: Option<String>,
    #[sqlx(default)]
    pub forwarding: Option<String>,
    #[serde(skip)]
    #[schemars(skip)]
    pub message_enc: Option<Vec<u8>>,
    #[serde(skip)]
    #[schemars(skip)]
    pub forwarding_enc: Option<Vec<u8>>,
    /// `pending` until delivered, then `sent`.
    pub status: String,
}
impl ClientNoticeRecord {
    /// Opens the message and forwarding contact with the member's key.
    pub fn open(&mut self, dk: &DataKey) -> StoreResult<()> {
        if let Some(b) = self.message_enc.take() {
            self.message = Some(dk.open_field("client_notices", "message", &self.client_id, &b)?);
        }
        if let Some(b) = self.forwarding_enc.take() {
            self.forwarding =
                Some(dk.open_field("client_notices", "forwarding", &self.client_id, &b)?);
        }
        Ok(())
    }
}
impl Record for ClientNoticeRecord {
    const CATEGORY: &'static str = "client_notices";
    const PAGE: &'static str = "SELECT client_id, sent_at, message_enc, forwarding_enc, status FROM client_notices \
        WHERE account_id = $1 AND client_id > $2 AND sent_at >= $4 ORDER BY client_id LIMIT $3";
    const COUNT: &'static str =
        "SELECT COUNT(*) FROM client_notices WHERE account_id = $1 AND sent_at >= $2";
    fn key(&self) -> &str {
        &self.client_id
    }
}

/// A request to restore the account through support (lost credentials), and support's
/// decision. The one-time code, the request's token and the deciding agent stay out
/// (secrets, internal).
#[derive(Debug, sqlx::FromRow, Serialize, JsonSchema)]
pub struct RestorationRecord {
    pub id: String,
    /// `awaiting_code`, `verified`, `approved`, `denied`, `expired`.
    pub status: String,
    /// What the requester wrote to support (decrypted by the caller with the member's key).
    #[sqlx(default)]
    pub explanation: Option<String>,
    #[serde(serialize_with = "time")]
    #[schemars(with = "String")]
    pub created_at: i64,
    #[serde(serialize_with = "time")]
    #[schemars(with = "String")]
    pub expires_at: i64,
    #[serde(serialize_with = "opt_time")]
    #[schemars(with = "Option<String>")]
    pub verified_at: Option<i64>,
    #[serde(serialize_with = "opt_time")]
    #[schemars(with = "Option<String>")]
    pub decided_at: Option<i64>,
    /// What support wrote with its decision (decrypted by the caller with the member's key).
    #[sqlx(default)]
    pub decision_note: Option<String>,
    #[serde(skip)]
    pub explanation_enc: Option<Vec<u8>>,
    #[serde(skip)]
    pub decision_note_enc: Option<Vec<u8>>,
}
impl Record for RestorationRecord {
    const CATEGORY: &'static str = "restorations";
    const PAGE: &'static str = "SELECT id, status, created_at, expires_at, verified_at, decided_at, explanation_enc, decision_note_enc FROM restoration_requests WHERE account_id = $1 AND id > $2 AND created_at >= $4 ORDER BY id LIMIT $3";
    const COUNT: &'static str =
        "SELECT COUNT(*) FROM restoration_requests WHERE account_id = $1 AND created_at >= $2";
    fn key(&self) -> &str {
        &self.id
    }
}
