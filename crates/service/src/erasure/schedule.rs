//! Scheduling deletion with a grace period, and cancelling it: by the member, or through the
//! single-use link in the reminder mail.

use super::*;
use crate::clock::format_date;
use crate::error::{ServiceError, ServiceResult};
use crate::jobs::Job;
use crate::{Actor, check_text, link_token};
use hiatus_domain::preflight::Intent;
use hiatus_domain::reason::REASON_DETAIL_MAX;
use hiatus_store::audit::{self, NewAuditEvent};
use hiatus_store::erasures;
use hiatus_store::jobs;
use hiatus_store::{Tx, accounts, market};
use serde_json::json;

/// A fresh random pseudonym label: not derived from anything about the member.
pub(super) fn pseudonym_label(kind: AccountKind, digits: usize) -> String {
    let who = match kind {
        AccountKind::Freelancer => "freelancer",
        AccountKind::Client => "client",
        AccountKind::Both => "member",
    };
    let bytes: [u8; 8] = hiatus_store::crypto::random_bytes();
    let hex: String = hex_upper(&bytes);
    format!("Former {who} #{}", &hex[..digits])
}

fn hex_upper(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02X}")).collect()
}

impl Hiatus {
    /// Whether `label` is a pseudonym this kind of member could have been shown, and no one
    /// has it.
    async fn pseudonym_free(
        &self,
        tx: &mut Tx,
        kind: AccountKind,
        label: &str,
    ) -> ServiceResult<bool> {
        let prefix = pseudonym_label(kind, 6);
        let prefix = &prefix[..prefix.len() - 6];
        let Some(digits) = label.strip_prefix(prefix) else {
            return Ok(false);
        };
        if !(6..=10).contains(&digits.len())
            || !digits
                .chars()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_lowercase())
        {
            return Ok(false);
        }
        Ok(!erasures::pseudonym_taken(tx, label).await?)
    }

    pub(super) async fn unique_pseudonym(
        &self,
        tx: &mut Tx,
        kind: AccountKind,
    ) -> ServiceResult<String> {
        for attempt in 0..20 {
            let label = pseudonym_label(kind, if attempt < 10 { 6 } else { 10 });
            if !erasures::pseudonym_taken(tx, &label).await? {
                return Ok(label);
            }
        }
        Err(ServiceError::conflict(
            "pseudonym_exhausted",
            "no free pseudonym could be found; try again",
        ))
    }

    /// Schedules the caller's deletion: refused while a preflight blocker exists; needs the
    /// password (or a recent re-authentication), a reason and the typed confirmation. The
    /// account is hidden at once; erasure runs when the grace period ends unless cancelled.
    pub async fn schedule_deletion(
        &self,
        actor: &Actor,
        req: DeleteRequest,
    ) -> ServiceResult<DeletionReceipt> {
        self.schedule_deletion_as(actor, req, None).await
    }

    /// Like [`Hiatus::schedule_deletion`], keeping the pseudonym the plan showed the member
    /// (`shown`, from [`Hiatus::erasure_plan`] before scheduling) when it is still free, so the
    /// name they confirmed is the name counterparties will see.
    pub async fn schedule_deletion_as(
        &self,
        actor: &Actor,
        req: DeleteRequest,
        shown: Option<&str>,
    ) -> ServiceResult<DeletionReceipt> {
        if let Some(d) = &req.detail {
            check_text("detail", d, REASON_DETAIL_MAX, false)?;
        }
        if req.confirmation.trim().to_lowercase() != CONFIRMATION {
            return Err(ServiceError::invalid(
                "confirmation_mismatch",
                format!(
                    "type \"{CONFIRMATION}\" to confirm that the account should be deleted for good"
                ),
            ));
        }
        self.require_reauth(actor, req.password.as_deref()).await?;
        let now = self.now();
        let due_at = now + self.config.deletion_grace;
        let mut tx = self.db.begin().await?;
        let acct = accounts::get_for_update(&mut tx, actor.account).await?;
        let next = acct.state()?.schedule_deletion()?;
        if acct.role()? != Role::Member {
            return Err(ServiceError::Forbidden {
                code: "staff_account",
                message: "staff accounts are removed by an operator, not deleted this way".into(),
            });
        }
        let pre = self
            .passed_preflight(&mut tx, actor.account, Intent::Delete, req.reason, now)
            .await?;
        let proposals_withdrawn = market::withdraw_open_proposals(&mut tx, actor.account).await?;
        let offers_closed = market::close_pending_offers(&mut tx, actor.account, now).await?;
        let job_posts_closed = market::close_open_job_posts(&mut tx, actor.account).await?;
        let existing = erasures::get(&mut tx, actor.account).await?;
        let label = match existing.as_ref().and_then(|e| e.pseudonym.clone()) {
            Some(l) => l,
            None => match shown {
                Some(l) if self.pseudonym_free(&mut tx, acct.kind()?, l).await? => l.to_string(),
                _ => self.unique_pseudonym(&mut tx, acct.kind()?).await?,
            },
        };
        let row = erasures::schedule(
            &mut tx,
            actor.account,
            &label,
            AccountId::new(),
            now,
            due_at,
        )
        .await?;
        accounts::set_state(&mut tx, actor.account, next, Some(due_at), now).await?;
        jobs::enqueue(
            &mut tx,
            &Job::Erase {
                account: actor.account,
            }
            .to_new(
                due_at,
                Some(format!("{}:{}:{due_at}", Job::ERASE, actor.account)),
                20,
            ),
            now,
        )
        .await?;
        for days in [7, 1] {
            let at = due_at - days * DAY_MICROS;
            if at > now {
                jobs::enqueue(
                    &mut tx,
                    &Job::RemindDeletion {
                        account: actor.account,
                        due_at,
                        days,
                    }
                    .to_new(
                        at,
                        Some(format!(
                            "{}:{}:{due_at}:{days}",
                            Job::REMIND_DELETION,
                            actor.account
                        )),
                        10,
                    ),
                    now,
                )
                .await?;
            }
        }
        let event = audit::record_event(
            &mut tx,
            NewAuditEvent {
                account: Some(actor.account),
                actor: Some(actor.account),
                action: "account.deletion_scheduled",
                reason: Some(req.reason.as_str().to_string()),
                detail: json!({
                    "note": req.detail.is_some(),
                    "due_at": due_at,
                    "proposals_withdrawn": proposals_withdrawn,
                    "offers_closed": offers_closed,
                    "job_posts_closed": job_posts_closed,
                    "warnings": pre.warnings.iter().map(|w| w.code).collect::<Vec<_>>(),
                }),
                now,
            },
            json!({"account_id": actor.account, "due_at": due_at}),
        )
        .await?;
        if let Some(note) = &req.detail {
            audit::attach_note(&mut tx, &self.keys, actor.account, event, note).await?;
        }
        audit::record_closure_reason(&mut tx, "delete", req.reason.as_str(), now).await?;
        let plan = self.plan_in(&mut tx, actor.account, &row, now).await?;
        tx.commit().await?;
        tracing::info!(account = %actor.account, "deletion scheduled");
        Ok(DeletionReceipt {
            state: next,
            at: now,
            due_at,
            proposals_withdrawn,
            offers_closed,
            job_posts_closed,
            warnings: pre.warnings,
            plan,
            next: format!(
                "Your account is hidden and will be erased on {}. Until then, log in and choose Cancel deletion to keep it.",
                format_date(due_at)
            ),
        })
    }

    /// Cancels the caller's scheduled deletion while the grace period runs; the account is
    /// active again with everything as it was.
    pub async fn cancel_deletion(&self, actor: &Actor) -> ServiceResult<AccountState> {
        self.cancel_deletion_of(actor.account, Some(actor.account))
            .await
    }

    /// Cancels a scheduled deletion (by the member, or by a signed link when `actor` is none).
    pub async fn cancel_deletion_of(
        &self,
        account: AccountId,
        actor: Option<AccountId>,
    ) -> ServiceResult<AccountState> {
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let acct = accounts::get_for_update(&mut tx, account).await?;
        let next = acct.state()?.cancel_deletion()?;
        if acct.deletion_due_at.is_some_and(|d| d <= now) {
            return Err(ServiceError::Gone {
                code: "grace_period_ended",
                message: "the grace period has ended; the account is being erased".into(),
            });
        }
        erasures::cancel(&mut tx, account).await?;
        accounts::set_state(&mut tx, account, next, None, now).await?;
        audit::record_event(
            &mut tx,
            NewAuditEvent {
                account: Some(account),
                actor,
                action: "account.deletion_cancelled",
                reason: None,
                detail: json!({}),
                now,
            },
            json!({"account_id": account}),
        )
        .await?;
        tx.commit().await?;
        tracing::info!(account = %account, "deletion cancelled");
        Ok(next)
    }

    /// Reminds a member that their erasure is near (the reminder job): an event, and so an
    /// email with a one-click cancel link. Nothing when the deletion was cancelled or moved.
    pub async fn remind_deletion(
        &self,
        account: AccountId,
        due_at: Micros,
        days: i64,
    ) -> ServiceResult<bool> {
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let acct = accounts::get(&mut tx, account).await?;
        if acct.state()? != AccountState::DeletionScheduled || acct.deletion_due_at != Some(due_at)
        {
            tx.commit().await?;
            return Ok(false);
        }
        audit::outbox(
            &mut tx,
            "account.deletion_reminder",
            Some(account),
            json!({"account_id": account, "due_at": due_at, "days_left": days}),
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Mints a single-use link that cancels the member's scheduled deletion, valid until the
    /// deletion is due. Returns the token (only its hash is stored).
    pub async fn mint_cancel_link(
        &self,
        account: AccountId,
        due_at: Micros,
    ) -> ServiceResult<String> {
        let token = link_token::new();
        let mut tx = self.db.begin().await?;
        if !hiatus_store::cancel_links::create(
            &mut tx,
            &token,
            &account.to_text(),
            self.now(),
            due_at,
        )
        .await?
        {
            // The erasure has begun: there is nothing left to cancel.
            return Err(Self::link_gone());
        }
        tx.commit().await?;
        Ok(token)
    }

    fn link_gone() -> ServiceError {
        ServiceError::Gone {
            code: "link_invalid",
            message: "this link is not valid any more: it was used already, or the deletion was cancelled or has happened; log in to see your account".into(),
        }
    }

    /// What a cancel link would do, without doing it (the confirmation page): the due time.
    pub async fn cancel_link_info(&self, token: &str) -> ServiceResult<Micros> {
        link_token::check(token, "link")?;
        let now = self.now();
        let mut tx = self.db.read().await?;
        let link = hiatus_store::cancel_links::find(&mut tx, token)
            .await?
            .ok_or(ServiceError::NotFound("link"))?;
        let account: AccountId = link
            .account_id
            .parse()
            .map_err(|_| ServiceError::NotFound("link"))?;
        let acct = accounts::get(&mut tx, account).await?;
        tx.commit().await?;
        if link.used_at.is_some()
            || link.expires_at <= now
            || acct.state()? != AccountState::DeletionScheduled
        {
            return Err(Self::link_gone());
        }
        Ok(link.expires_at)
    }

    /// Cancels a scheduled deletion through a link from the reminder email, on the POST of
    /// its confirmation page. Single-use and valid until the deletion is due; refused when
    /// someone else is logged in in this browser (`viewer`).
    pub async fn cancel_by_link(
        &self,
        token: &str,
        viewer: Option<AccountId>,
    ) -> ServiceResult<AccountState> {
        link_token::check(token, "link")?;
        let now = self.now();
        let mut tx = self.db.read().await?;
        let link = hiatus_store::cancel_links::find(&mut tx, token)
            .await?
            .ok_or(ServiceError::NotFound("link"))?;
        tx.commit().await?;
        let account: AccountId = link
            .account_id
            .parse()
            .map_err(|_| ServiceError::NotFound("link"))?;
        if viewer.is_some_and(|v| v != account) {
            return Err(ServiceError::Forbidden {
                code: "link_for_someone_else",
                message: "this link belongs to another account; log out first to use it".into(),
            });
        }
        let mut tx = self.db.begin().await?;
        if !hiatus_store::cancel_links::use_once(&mut tx, token, now).await? {
            return Err(Self::link_gone());
        }
        tx.commit().await?;
        // The link is spent either way: a link that fails here cannot be tried again.
        self.cancel_deletion_of(account, None)
            .await
            .map_err(|e| match e {
                ServiceError::Conflict { .. } | ServiceError::Gone { .. } => Self::link_gone(),
                e => e,
            })
    }
}
