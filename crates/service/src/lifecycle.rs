//! The account lifecycle: preflight, deactivation, reactivation, breaks, profile settings and
//! who may see a profile.

use crate::error::{ServiceError, ServiceResult};
use crate::{Actor, Hiatus, check_name, check_text};
use hiatus_domain::effects::{Effects, Viewer, can_view_profile};
use hiatus_domain::preflight::Intent;
use hiatus_domain::profile::BreakError;
use hiatus_domain::reason::REASON_DETAIL_MAX;
use hiatus_domain::*;
use hiatus_store::accounts::{self, Profile, ProfileText};
use hiatus_store::audit::{self, NewAuditEvent};
use hiatus_store::facts;
use hiatus_store::jobs::{self, NewJob};
use hiatus_store::{Tx, market};
use serde::Serialize;
use serde_json::json;

/// The job that ends a break on its end date.
pub const JOB_END_BREAK: &str = "break.end";
/// The job that tells a member, a day ahead, that their break ends.
pub const JOB_REMIND_BREAK: &str = "break.remind";

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

/// A profile as others see it.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct PublicProfile {
    pub id: AccountId,
    pub kind: AccountKind,
    pub display_name: String,
    pub headline: String,
    pub bio: String,
    pub availability: Availability,
    pub reviews: i64,
    pub average_rating: Option<f64>,
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

    async fn viewer_of(
        &self,
        tx: &mut Tx,
        viewer: Option<&Actor>,
        owner: AccountId,
    ) -> ServiceResult<Viewer> {
        Ok(match viewer {
            None => Viewer::Anonymous,
            Some(a) if a.account == owner => Viewer::Owner,
            Some(a) if market::have_contract(tx, a.account, owner).await? => Viewer::Counterparty,
            Some(_) => Viewer::Member,
        })
    }

    /// A profile by id; hidden profiles are "not found", exactly like missing ones.
    pub async fn profile(
        &self,
        viewer: Option<&Actor>,
        id: AccountId,
    ) -> ServiceResult<PublicProfile> {
        let mut tx = self.db.read().await?;
        let acct = match accounts::get(&mut tx, id).await {
            Ok(a) => a,
            Err(hiatus_store::StoreError::NotFound) => {
                return Err(ServiceError::NotFound("profile"));
            }
            Err(e) => return Err(e.into()),
        };
        let state = acct.state()?;
        if state == AccountState::Deleted || acct.role()? != Role::Member {
            return Err(ServiceError::NotFound("profile"));
        }
        let p = accounts::profile(&mut tx, &self.keys, id).await?;
        let who = self.viewer_of(&mut tx, viewer, id).await?;
        if !can_view_profile(state, p.settings.visibility, who) {
            return Err(ServiceError::NotFound("profile"));
        }
        let reviews = market::review_summary(&mut tx, id).await?;
        tx.commit().await?;
        Ok(public(acct.kind()?, p, reviews))
    }

    /// Profiles listed to the viewer, a page at a time.
    pub async fn list_profiles(
        &self,
        viewer: Option<&Actor>,
        limit: i64,
        offset: i64,
    ) -> ServiceResult<Vec<PublicProfile>> {
        let mut tx = self.db.read().await?;
        let rows = accounts::listed_profiles(
            &mut tx,
            &self.keys,
            viewer.is_some(),
            limit.clamp(1, 100),
            offset.max(0),
        )
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for p in rows {
            let kind = accounts::get(&mut tx, p.account_id).await?.kind()?;
            let reviews = market::review_summary(&mut tx, p.account_id).await?;
            out.push(public(kind, p, reviews));
        }
        tx.commit().await?;
        Ok(out)
    }

    fn require_editable(actor: &Actor) -> ServiceResult<()> {
        if Effects::of(actor.state).edit_profile {
            Ok(())
        } else {
            Err(ServiceError::conflict(
                "account_not_active",
                format!(
                    "the account is {}; reactivate it before changing the profile",
                    actor.state
                ),
            ))
        }
    }

    /// Changes profile text.
    pub async fn update_profile(&self, actor: &Actor, t: ProfileText) -> ServiceResult<()> {
        Self::require_editable(actor)?;
        if let Some(v) = &t.display_name {
            check_name("display_name", v, 100, true)?;
        }
        if let Some(v) = &t.headline {
            check_name("headline", v, 200, false)?;
        }
        if let Some(v) = &t.bio {
            check_text("bio", v, 5000, false)?;
        }
        if let Some(Some(v)) = &t.away_message {
            check_text("away_message", v, 2000, false)?;
        }
        let now = self.now();
        let mut tx = self.db.begin().await?;
        accounts::update_profile_text(&mut tx, &self.keys, actor.account, &t, now).await?;
        audit::record(
            &mut tx,
            NewAuditEvent::by_member(actor.account, "profile.updated", json!({}), now),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Sets or clears the caller's phone number (contact info; never shown to others).
    pub async fn set_phone(&self, actor: &Actor, phone: Option<String>) -> ServiceResult<()> {
        Self::require_editable(actor)?;
        if let Some(p) = &phone {
            check_text("phone", p, 32, true)?;
            if !p
                .chars()
                .all(|c| c.is_ascii_digit() || " +-().".contains(c))
                || p.chars().filter(|c| c.is_ascii_digit()).count() < 5
            {
                return Err(ServiceError::invalid(
                    "phone_invalid",
                    "a phone number has at least 5 digits and only digits, spaces and + - ( ) .",
                ));
            }
        }
        let now = self.now();
        let mut tx = self.db.begin().await?;
        accounts::set_phone(&mut tx, &self.keys, actor.account, phone.as_deref(), now).await?;
        audit::record(
            &mut tx,
            NewAuditEvent::by_member(actor.account, "contact.updated", json!({}), now),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Changes visibility, availability or notifications.
    pub async fn update_settings(
        &self,
        actor: &Actor,
        visibility: Option<Visibility>,
        availability: Option<Availability>,
        notifications: Option<NotificationMode>,
    ) -> ServiceResult<ProfileSettings> {
        Self::require_editable(actor)?;
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let mut s = accounts::profile(&mut tx, &self.keys, actor.account)
            .await?
            .settings;
        if let Some(v) = visibility {
            s.visibility = v;
        }
        if let Some(a) = availability {
            s.availability = a;
            if a == Availability::Available {
                s.paused_until = None;
            }
        }
        if let Some(n) = notifications {
            s.notifications = n;
        }
        accounts::update_settings(
            &mut tx,
            actor.account,
            &s,
            visibility.is_some(),
            notifications.is_some(),
            now,
        )
        .await?;
        let detail = json!({
            "visibility": s.visibility.as_str(),
            "availability": s.availability.as_str(),
            "notifications": s.notifications.as_str(),
        });
        audit::record(
            &mut tx,
            NewAuditEvent::by_member(actor.account, "settings.updated", detail, now),
        )
        .await?;
        tx.commit().await?;
        Ok(s)
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
        let event = audit::record(
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
        )
        .await?;
        if let Some(note) = &req.detail {
            audit::attach_note(&mut tx, &self.keys, actor.account, event, note).await?;
        }
        audit::record_closure_reason(&mut tx, "deactivate", req.reason.as_str(), now).await?;
        audit::outbox(
            &mut tx,
            "account.deactivated",
            Some(actor.account),
            json!({"account_id": actor.account}),
            now,
        )
        .await?;
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
        audit::record(
            &mut tx,
            NewAuditEvent::by_member(actor.account, "account.reactivated", json!({}), now),
        )
        .await?;
        audit::outbox(
            &mut tx,
            "account.reactivated",
            Some(actor.account),
            json!({"account_id": actor.account}),
            now,
        )
        .await?;
        tx.commit().await?;
        tracing::info!(account = %actor.account, "account reactivated");
        Ok(next)
    }

    /// Starts a break: availability paused (until a date, if given), optionally private and
    /// muted. A job ends it on the date.
    pub async fn start_break(
        &self,
        actor: &Actor,
        req: BreakRequest,
    ) -> ServiceResult<ProfileSettings> {
        Self::require_editable(actor)?;
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let before = accounts::profile(&mut tx, &self.keys, actor.account)
            .await?
            .settings;
        let during = before.with_break(&req, now).map_err(|e| match e {
            BreakError::EndInPast => ServiceError::invalid("break_end_in_past", e.to_string()),
            BreakError::TooLong => ServiceError::invalid("break_too_long", e.to_string()),
        })?;
        accounts::start_break(&mut tx, actor.account, &before, &during, now).await?;
        if let Some(until) = req.until {
            jobs::enqueue(
                &mut tx,
                &NewJob {
                    kind: JOB_END_BREAK.into(),
                    payload: json!({"account_id": actor.account, "until": until}),
                    run_at: until,
                    dedupe_key: Some(format!("{JOB_END_BREAK}:{}:{until}", actor.account)),
                    max_attempts: 10,
                },
                now,
            )
            .await?;
            let remind_at = until - DAY_MICROS;
            if remind_at > now {
                jobs::enqueue(
                    &mut tx,
                    &NewJob {
                        kind: JOB_REMIND_BREAK.into(),
                        payload: json!({"account_id": actor.account, "until": until}),
                        run_at: remind_at,
                        dedupe_key: Some(format!("{JOB_REMIND_BREAK}:{}:{until}", actor.account)),
                        max_attempts: 10,
                    },
                    now,
                )
                .await?;
            }
        }
        audit::record(
            &mut tx,
            NewAuditEvent::by_member(
                actor.account,
                "break.started",
                json!({"until": req.until, "private": req.private, "mute": req.mute}),
                now,
            ),
        )
        .await?;
        audit::outbox(
            &mut tx,
            "break.started",
            Some(actor.account),
            json!({"account_id": actor.account, "until": req.until}),
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(during)
    }

    /// Ends the caller's break now.
    pub async fn end_break(&self, actor: &Actor) -> ServiceResult<ProfileSettings> {
        Self::require_editable(actor)?;
        self.end_break_of(actor.account, Some(actor.account))
            .await?;
        let mut tx = self.db.read().await?;
        let s = accounts::profile(&mut tx, &self.keys, actor.account)
            .await?
            .settings;
        tx.commit().await?;
        Ok(s)
    }

    /// Ends a break (by the member, or by the job when `actor` is `None`). Idempotent: a break
    /// already ended is left alone.
    pub async fn end_break_of(
        &self,
        account: AccountId,
        actor: Option<AccountId>,
    ) -> ServiceResult<bool> {
        let now = self.now();
        let mut tx = self.db.begin().await?;
        if actor.is_none() {
            // The job only ends a break whose date has come (the member may have changed it).
            let p = accounts::profile(&mut tx, &self.keys, account).await?;
            if !p.settings.break_due_to_end(now) {
                tx.commit().await?;
                return Ok(false);
            }
        }
        let ended = accounts::end_break(&mut tx, account, now).await?;
        if ended {
            audit::record(
                &mut tx,
                NewAuditEvent {
                    account: Some(account),
                    actor,
                    action: "break.ended",
                    reason: None,
                    detail: json!({"by": if actor.is_some() { "member" } else { "schedule" }}),
                    now,
                },
            )
            .await?;
            audit::outbox(
                &mut tx,
                "break.ended",
                Some(account),
                json!({"account_id": account}),
                now,
            )
            .await?;
        }
        tx.commit().await?;
        Ok(ended)
    }

    /// Tells a member their break ends tomorrow (the reminder job), if it still does.
    pub async fn remind_break_end(&self, account: AccountId, until: Micros) -> ServiceResult<bool> {
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let acct = accounts::get(&mut tx, account).await?;
        if acct.state()? == AccountState::Deleted {
            return Ok(false);
        }
        let p = accounts::profile(&mut tx, &self.keys, account).await?;
        if p.settings.availability != Availability::Paused || p.settings.paused_until != Some(until)
        {
            return Ok(false);
        }
        audit::outbox(
            &mut tx,
            "break.ending",
            Some(account),
            json!({"account_id": account, "until": until}),
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(true)
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

fn public(kind: AccountKind, p: Profile, (reviews, rating_sum): (i64, i64)) -> PublicProfile {
    PublicProfile {
        id: p.account_id,
        kind,
        display_name: p.display_name,
        headline: p.headline,
        bio: p.bio,
        availability: p.settings.availability,
        reviews,
        average_rating: (reviews > 0).then(|| rating_sum as f64 / reviews as f64),
    }
}
