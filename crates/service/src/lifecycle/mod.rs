//! The account lifecycle: preflight, deactivation, reactivation, breaks, profile settings and
//! who may see a profile.

mod breaks;
mod profiles;

pub use profiles::PublicProfile;

use crate::error::{ServiceError, ServiceResult};
use crate::{Actor, Hiatus, check_text};
use hiatus_domain::effects::Effects;
use hiatus_domain::preflight::Intent;
use hiatus_domain::reason::REASON_DETAIL_MAX;
use hiatus_domain::*;
use hiatus_store::accounts;
use hiatus_store::audit::{self, NewAuditEvent};
use hiatus_store::facts;
use hiatus_store::{Tx, market};
use serde::Serialize;
use serde_json::json;

/// A member's own view of their account.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct AccountView {
    pub id: AccountId,
    pub kind: AccountKind,
    pub role: Role,
    pub state: AccountState,
    pub email: String,
    pub legal_name: String,
    pub phone: Option<String>,
    pub display_name: String,
    pub headline: String,
    pub bio: String,
    pub away_message: Option<String>,
    pub settings: ProfileSettings,
    pub effects: Effects,
    pub deletion_due_at: Option<Micros>,
    pub created_at: Micros,
}

/// What deactivation needs from the member.
#[derive(Clone, Debug)]
pub struct CloseRequest {
    pub password: Option<String>,
    pub reason: ClosureReason,
    pub detail: Option<String>,
}

/// What happened, for the receipt page and email.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Receipt {
    pub state: AccountState,
    pub at: Micros,
    pub proposals_withdrawn: u64,
    /// Contract offers waiting for an answer: those made to the member declined, those they
    /// made withdrawn.
    pub offers_closed: u64,
    pub job_posts_closed: u64,
    pub warnings: Vec<Finding>,
    /// How to come back, in words.
    pub next: String,
}

impl Hiatus {
    /// The caller's own account.
    pub async fn me(&self, actor: &Actor) -> ServiceResult<AccountView> {
        let mut tx = self.db.read().await?;
        let acct = accounts::get(&mut tx, actor.account).await?;
        let profile = accounts::profile(&mut tx, &self.keys, actor.account).await?;
        let (email, legal_name) = accounts::contact(&mut tx, &self.keys, actor.account).await?;
        let phone = accounts::phone(&mut tx, &self.keys, actor.account).await?;
        tx.commit().await?;
        let state = acct.state()?;
        Ok(AccountView {
            id: actor.account,
            kind: acct.kind()?,
            role: acct.role()?,
            state,
            email: email.as_str().to_string(),
            legal_name,
            phone,
            display_name: profile.display_name,
            headline: profile.headline,
            bio: profile.bio,
            away_message: profile.away_message,
            settings: profile.settings,
            effects: Effects::of(state),
            deletion_due_at: acct.deletion_due_at,
            created_at: acct.created_at,
        })
    }

    /// Preflight for deactivation or deletion.
    pub async fn preflight(
        &self,
        actor: &Actor,
        intent: Intent,
        reason: Option<ClosureReason>,
    ) -> ServiceResult<Preflight> {
        let now = self.now();
        let mut tx = self.db.read().await?;
        let f = facts::preflight_facts(
            &mut tx,
            actor.account,
            &self.config.regular_clients,
            reason.is_some_and(|r| r.is_temporary()),
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(Preflight::evaluate(intent, &f))
    }

    /// Preflight inside a closing transaction: the findings when nothing blocks `intent`,
    /// else the blockers as an error.
    pub(crate) async fn passed_preflight(
        &self,
        tx: &mut Tx,
        account: AccountId,
        intent: Intent,
        reason: ClosureReason,
        now: Micros,
    ) -> ServiceResult<Preflight> {
        let f = facts::preflight_facts(
            tx,
            account,
            &self.config.regular_clients,
            reason.is_temporary(),
            now,
        )
        .await?;
        let pre = Preflight::evaluate(intent, &f);
        if pre.can_proceed() {
            Ok(pre)
        } else {
            Err(ServiceError::Blocked(Box::new(pre)))
        }
    }

    /// Deactivates the caller's account: hidden, read-only, reversible. Refused while any
    /// preflight blocker exists; needs the current password.
    pub async fn deactivate(&self, actor: &Actor, req: CloseRequest) -> ServiceResult<Receipt> {
        if let Some(d) = &req.detail {
            check_text("detail", d, REASON_DETAIL_MAX, false)?;
        }
        self.require_reauth(actor, req.password.as_deref()).await?;
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let acct = accounts::get_for_update(&mut tx, actor.account).await?;
        let next = acct.state()?.deactivate()?;
        let pre = self
            .passed_preflight(&mut tx, actor.account, Intent::Deactivate, req.reason, now)
            .await?;
        let proposals_withdrawn = market::withdraw_open_proposals(&mut tx, actor.account).await?;
        let offers_closed = market::close_pending_offers(&mut tx, actor.account, now).await?;
        let job_posts_closed = market::close_open_job_posts(&mut tx, actor.account).await?;
        accounts::set_state(&mut tx, actor.account, next, None, now).await?;
        let event = audit::record_event(
            &mut tx,
            NewAuditEvent {
                account: Some(actor.account),
                actor: Some(actor.account),
                action: "account.deactivated",
                reason: Some(req.reason.as_str().to_string()),
                detail: json!({
                    "note": req.detail.is_some(),
                    "proposals_withdrawn": proposals_withdrawn,
                    "offers_closed": offers_closed,
                    "job_posts_closed": job_posts_closed,
                    "warnings": pre.warnings.iter().map(|w| w.code).collect::<Vec<_>>(),
                }),
                now,
            },
            json!({"account_id": actor.account}),
        )
        .await?;
        if let Some(note) = &req.detail {
            audit::attach_note(&mut tx, &self.keys, actor.account, event, note).await?;
        }
        audit::record_closure_reason(&mut tx, "deactivate", req.reason.as_str(), now).await?;
        tx.commit().await?;
        tracing::info!(account = %actor.account, "account deactivated");
        Ok(Receipt {
            state: next,
            at: now,
            proposals_withdrawn,
            offers_closed,
            job_posts_closed,
            warnings: pre.warnings,
            next: "Your profile is hidden and your data is kept. Log in any time and choose Reactivate to come back.".into(),
        })
    }

    /// Reactivates the caller's account, restoring the visibility and availability they had.
    pub async fn reactivate(&self, actor: &Actor) -> ServiceResult<AccountState> {
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let acct = accounts::get_for_update(&mut tx, actor.account).await?;
        let next = acct.state()?.reactivate()?;
        accounts::set_state(&mut tx, actor.account, next, None, now).await?;
        audit::record_event(
            &mut tx,
            NewAuditEvent::by_member(actor.account, "account.reactivated", json!({}), now),
            json!({"account_id": actor.account}),
        )
        .await?;
        tx.commit().await?;
        tracing::info!(account = %actor.account, "account reactivated");
        Ok(next)
    }

    /// The caller's audit trail, newest first, a page at a time.
    pub async fn audit_trail(
        &self,
        actor: &Actor,
        account: AccountId,
        limit: i64,
        offset: i64,
    ) -> ServiceResult<Vec<crate::views::AuditEvent>> {
        if account == actor.account {
            let mut tx = self.db.read().await?;
            let rows = audit::for_account(
                &mut tx,
                &self.keys,
                account,
                limit.clamp(1, 500),
                offset.max(0),
            )
            .await?;
            tx.commit().await?;
            return Ok(rows.into_iter().map(Into::into).collect());
        }
        // Support looking at a member's trail (after erasure: under the pseudonym's id); the
        // look itself goes on the trail.
        actor.require_staff()?;
        let mut tx = self.db.begin().await?;
        match accounts::get(&mut tx, account).await {
            Ok(a) if a.role()? == hiatus_domain::Role::Member => {}
            _ => return Err(ServiceError::NotFound("account")),
        }
        let rows = audit::for_account(
            &mut tx,
            &self.keys,
            account,
            limit.clamp(1, 500),
            offset.max(0),
        )
        .await?;
        audit::record(
            &mut tx,
            audit::NewAuditEvent {
                account: Some(account),
                actor: Some(actor.account),
                action: "audit.viewed",
                reason: None,
                detail: serde_json::json!({"count": rows.len()}),
                now: self.now(),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(rows.into_iter().map(Into::into).collect())
    }
}
