//! Breaks: availability paused until a date (or until the member ends it), optionally private
//! and muted; jobs remind the member a day ahead and end it on the date.

use crate::error::{ServiceError, ServiceResult};
use crate::jobs::Job;
use crate::{Actor, Hiatus};
use hiatus_domain::profile::BreakError;
use hiatus_domain::*;
use hiatus_store::accounts;
use hiatus_store::audit::{self, NewAuditEvent};
use hiatus_store::jobs;
use serde_json::json;

impl Hiatus {
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
                &Job::EndBreak {
                    account: actor.account,
                    until,
                }
                .to_new(
                    until,
                    Some(format!("{}:{}:{until}", Job::END_BREAK, actor.account)),
                    10,
                ),
                now,
            )
            .await?;
            let remind_at = until - DAY_MICROS;
            if remind_at > now {
                jobs::enqueue(
                    &mut tx,
                    &Job::RemindBreak {
                        account: actor.account,
                        until,
                    }
                    .to_new(
                        remind_at,
                        Some(format!("{}:{}:{until}", Job::REMIND_BREAK, actor.account)),
                        10,
                    ),
                    now,
                )
                .await?;
            }
        }
        audit::record_event(
            &mut tx,
            NewAuditEvent::by_member(
                actor.account,
                "break.started",
                json!({"until": req.until, "private": req.private, "mute": req.mute}),
                now,
            ),
            json!({"account_id": actor.account, "until": req.until}),
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
            audit::record_event(
                &mut tx,
                NewAuditEvent {
                    account: Some(account),
                    actor,
                    action: "break.ended",
                    reason: None,
                    detail: json!({"by": if actor.is_some() { "member" } else { "schedule" }}),
                    now,
                },
                json!({"account_id": account}),
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
}
