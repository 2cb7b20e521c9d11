//! The support side: the queue of requests an agent decides, and the decision itself.

use super::{effective_status, not_open};
use crate::auth::Actor;
use crate::error::{ServiceError, ServiceResult};
use crate::{Hiatus, check_text, link_token};
use hiatus_domain::{AccountId, AccountState, Micros};
use hiatus_store::audit::{self, NewAuditEvent};
use hiatus_store::restorations::{self, RestorationRow};
use hiatus_store::{Tx, accounts};
use serde::Serialize;
use serde_json::json;

/// A request as a support agent sees it in the queue.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct QueueItem {
    pub id: String,
    pub account_id: String,
    pub display_name: String,
    /// The address on file, partly hidden ("a•••@example.com").
    pub email_hint: String,
    pub account_state: String,
    pub status: String,
    /// Whether the requester typed back the code sent to the address on file.
    pub verified: bool,
    pub code_attempts: i64,
    pub explanation: String,
    pub created_at: Micros,
    pub expires_at: Micros,
    pub verified_at: Option<Micros>,
    pub decided_at: Option<Micros>,
    pub decided_by: Option<String>,
    pub decision_note: Option<String>,
}

fn mask_email(e: &str) -> String {
    match e.split_once('@') {
        Some((local, domain)) => {
            let first: String = local.chars().take(1).collect();
            format!("{first}•••@{domain}")
        }
        None => "•••".into(),
    }
}

impl Hiatus {
    /// The agent's note on a decided request (for the member's mail).
    pub(crate) async fn restoration_note(&self, id: &str) -> ServiceResult<Option<String>> {
        let mut tx = self.db.read().await?;
        let row = restorations::get(&mut tx, id).await?;
        tx.commit().await?;
        Ok(match row {
            Some(r) => r.note(&self.keys)?,
            None => None,
        })
    }

    /// The support queue: open requests (or all, newest first), with what an agent needs to
    /// decide. Support agents and operators only.
    pub async fn restoration_queue(
        &self,
        actor: &Actor,
        open_only: bool,
        limit: i64,
        offset: i64,
    ) -> ServiceResult<Vec<QueueItem>> {
        actor.require_staff()?;
        let now = self.now();
        let mut tx = self.db.read().await?;
        let rows = restorations::queue(&mut tx, open_only, now, limit.clamp(1, 200), offset.max(0))
            .await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            if let Some(item) = self.queue_item(&mut tx, &r, now).await? {
                out.push(item);
            }
        }
        tx.commit().await?;
        Ok(out)
    }

    /// A request as the support queue shows it; `None` when it names no account.
    pub(super) async fn queue_item(
        &self,
        tx: &mut Tx,
        r: &RestorationRow,
        now: Micros,
    ) -> ServiceResult<Option<QueueItem>> {
        let status = effective_status(r, now);
        let Some(aid) = r
            .account_id
            .as_deref()
            .and_then(|a| a.parse::<AccountId>().ok())
        else {
            return Ok(None);
        };
        let acct = accounts::get(tx, aid).await?;
        let state = acct.state()?;
        let (display_name, email_hint, explanation) = if state == AccountState::Deleted {
            (
                crate::FORMER_MEMBER.to_string(),
                String::new(),
                String::new(),
            )
        } else {
            let p = accounts::profile(tx, &self.keys, aid).await?;
            let (email, _) = accounts::contact(tx, &self.keys, aid).await?;
            let explanation = match &r.explanation_enc {
                Some(sealed) => acct.data_key(&self.keys)?.open_field(
                    "restoration_requests",
                    "explanation",
                    &r.id,
                    sealed,
                )?,
                None => String::new(),
            };
            (p.display_name, mask_email(email.as_str()), explanation)
        };
        Ok(Some(QueueItem {
            id: r.id.clone(),
            account_id: aid.to_text(),
            display_name,
            email_hint,
            account_state: state.as_str().to_string(),
            verified: r.verified_at.is_some(),
            status,
            code_attempts: r.code_attempts,
            explanation,
            created_at: r.created_at,
            expires_at: r.expires_at,
            verified_at: r.verified_at,
            decided_at: r.decided_at,
            decided_by: r.decided_by.clone(),
            decision_note: r.note(&self.keys)?,
        }))
    }

    /// Approves a verified request: the member gets a password-reset link by mail. Needs a
    /// recent re-authentication of the agent.
    pub async fn approve_restoration(
        &self,
        actor: &Actor,
        id: &str,
        note: &str,
    ) -> ServiceResult<QueueItem> {
        self.decide_restoration(actor, id, note, true).await
    }

    /// Denies an open request, with a note the member reads.
    pub async fn deny_restoration(
        &self,
        actor: &Actor,
        id: &str,
        note: &str,
    ) -> ServiceResult<QueueItem> {
        self.decide_restoration(actor, id, note, false).await
    }

    async fn decide_restoration(
        &self,
        actor: &Actor,
        id: &str,
        note: &str,
        approve: bool,
    ) -> ServiceResult<QueueItem> {
        actor.require_staff()?;
        // Deciding who gets into an account is a destructive step: the agent's password within
        // the last few minutes, as for a member closing their account.
        self.require_reauth(actor, None).await?;
        link_token::check(id, "restoration request")?;
        check_text("note", note, 2000, true)?;
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let row = restorations::get(&mut tx, id)
            .await?
            .ok_or(ServiceError::NotFound("restoration request"))?;
        let aid: AccountId = row
            .account_id
            .as_deref()
            .and_then(|a| a.parse().ok())
            .ok_or(ServiceError::NotFound("restoration request"))?;
        let status = effective_status(&row, now);
        if approve && status == "awaiting_code" {
            return Err(ServiceError::conflict(
                "not_verified",
                "the requester has not confirmed the code sent to the address on file; a request can be approved only after that",
            ));
        }
        if !matches!(status.as_str(), "awaiting_code" | "verified") {
            return Err(not_open(&status));
        }
        let acct = accounts::get_for_update(&mut tx, aid).await?;
        if acct.state()? == AccountState::Deleted {
            return Err(ServiceError::Gone {
                code: "account_deleted",
                message: "this account was deleted and cannot be restored".into(),
            });
        }
        let (to, from): (&str, &[&str]) = if approve {
            ("approved", &["verified"])
        } else {
            ("denied", &["awaiting_code", "verified"])
        };
        if !restorations::decide(
            &mut tx,
            &acct.data_key(&self.keys)?,
            id,
            from,
            to,
            &actor.account.to_text(),
            note.trim(),
            now,
        )
        .await?
        {
            return Err(not_open("closed"));
        }
        let event = if approve {
            "restoration.approved"
        } else {
            "restoration.denied"
        };
        audit::record(
            &mut tx,
            NewAuditEvent {
                account: Some(aid),
                actor: Some(actor.account),
                action: event,
                reason: None,
                detail: json!({"request_id": id}),
                now,
            },
        )
        .await?;
        audit::outbox(
            &mut tx,
            event,
            Some(aid),
            json!({"account_id": aid, "request_id": id}),
            now,
        )
        .await?;
        let row = restorations::get(&mut tx, id)
            .await?
            .ok_or(ServiceError::NotFound("restoration request"))?;
        let item = self
            .queue_item(&mut tx, &row, now)
            .await?
            .ok_or(ServiceError::NotFound("restoration request"))?;
        tx.commit().await?;
        Ok(item)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_addresses() {
        assert_eq!(mask_email("ana@example.com"), "a•••@example.com");
        assert_eq!(mask_email("x"), "•••");
    }
}
