//! Asking for an export (one at a time, a daily limit), and watching its progress.

use super::{ExportProgress, ExportView, owned, start_of_day};
use crate::Hiatus;
use crate::auth::Actor;
use crate::error::{ServiceError, ServiceResult};
use crate::jobs::Job;
use hiatus_domain::ExportStatus;
use hiatus_domain::{AccountId, AccountState, DAY_MICROS, Micros};
use hiatus_store::exports;
use hiatus_store::jobs;
use hiatus_store::{accounts, audit, export_data::rfc3339};

impl Hiatus {
    /// Requests an export of the caller's data (everything, or what changed from `since`).
    pub async fn request_export(
        &self,
        actor: &Actor,
        since: Option<Micros>,
    ) -> ServiceResult<ExportView> {
        self.request_export_for(actor.account, since, Some(actor.account))
            .await
    }

    /// Requests an export of `member`'s data on behalf of `by`: the member (queued for the
    /// worker, within the daily limit), or an operator with `None` (not queued: the operator's
    /// command builds it at once with [`Hiatus::build_export`]; no daily limit). One export at
    /// a time either way.
    pub async fn request_export_for(
        &self,
        member: AccountId,
        since: Option<Micros>,
        by: Option<AccountId>,
    ) -> ServiceResult<ExportView> {
        let now = self.now();
        if let Some(s) = since
            && (s > now || s < 0)
        {
            return Err(ServiceError::invalid(
                "since_invalid",
                "since must be a date in the past",
            ));
        }
        let cfg = &self.config.exports;
        let mut tx = self.db.begin().await?;
        let acct = accounts::get_for_update(&mut tx, member)
            .await
            .map_err(|_| ServiceError::NotFound("account"))?;
        if acct.state()? == AccountState::Deleted {
            return Err(ServiceError::conflict(
                "account_deleted",
                "this account was deleted; there is nothing left to export",
            ));
        }
        if let Some(active) = exports::active(&mut tx, member).await? {
            let stale = match active.stage()? {
                ExportStatus::Running => {
                    active.heartbeat_at.unwrap_or(active.created_at) + 2 * self.config.job_lease
                        < now
                }
                _ => active.created_at + cfg.queue_timeout < now,
            };
            if stale {
                exports::fail(
                    &mut tx,
                    &active.id,
                    "the export stopped responding and was abandoned; request a new one",
                    now,
                )
                .await?;
            } else {
                return Err(ServiceError::conflict(
                    "export_in_progress",
                    format!(
                        "an export is already {} (requested {}); wait for it to finish",
                        if active.stage()? == ExportStatus::Running {
                            "being built"
                        } else {
                            "waiting to start"
                        },
                        rfc3339(active.created_at)
                    ),
                ));
            }
        }
        let today = start_of_day(now);
        let n = exports::requested_since(&mut tx, member, today).await?;
        if by.is_some() && n >= cfg.daily_limit {
            let next = today + DAY_MICROS;
            let date = rfc3339(next);
            return Err(ServiceError::QuotaReached {
                code: "export_daily_limit",
                message: format!(
                    "you have requested {n} exports today, the most allowed per day; you can request the next one from {} 00:00 UTC",
                    &date[..10]
                ),
                retry_after_secs: ((next - now) / 1_000_000).max(1) as u64,
            });
        }
        let id = uuid::Uuid::now_v7().to_string();
        exports::create(&mut tx, &id, member, since, now).await?;
        if by.is_some() {
            jobs::enqueue(
                &mut tx,
                &Job::BuildExport {
                    export_id: id.clone(),
                }
                .to_new(now, Some(format!("export:{id}")), cfg.max_attempts),
                now,
            )
            .await?;
        }
        audit::record(
            &mut tx,
            audit::NewAuditEvent {
                account: Some(member),
                actor: by,
                action: "export.requested",
                reason: None,
                detail: serde_json::json!({ "export_id": id, "since": since.map(rfc3339) }),
                now,
            },
        )
        .await?;
        let row = exports::get(&mut tx, &id)
            .await?
            .ok_or(ServiceError::NotFound("export"))?;
        tx.commit().await?;
        Ok(ExportView::from(&row))
    }

    /// The progress of any export (for the operator's command).
    pub async fn export_progress(&self, id: &str) -> ServiceResult<ExportProgress> {
        self.reading(async |tx| {
            let row = exports::get(tx, id)
                .await?
                .ok_or(ServiceError::NotFound("export"))?;
            Ok(ExportView::from(&row).progress)
        })
        .await
    }

    /// The caller's exports, newest first.
    pub async fn my_exports(&self, actor: &Actor) -> ServiceResult<Vec<ExportView>> {
        self.reading(async |tx| {
            Ok(exports::list(tx, actor.account, 50)
                .await?
                .iter()
                .map(ExportView::from)
                .collect())
        })
        .await
    }

    /// One of the caller's exports.
    pub async fn my_export(&self, actor: &Actor, id: &str) -> ServiceResult<ExportView> {
        self.reading(async |tx| {
            let row = owned(tx, actor.account, id).await?;
            Ok(ExportView::from(&row))
        })
        .await
    }

    /// Resolves an operator's `email or id` to an account.
    pub async fn find_account(&self, who: &str) -> ServiceResult<AccountId> {
        if let Ok(id) = who.parse::<AccountId>() {
            return Ok(id);
        }
        let email = hiatus_domain::Email::parse(who)
            .map_err(|_| ServiceError::invalid("account_invalid", "give an account id or email"))?;
        let found = self
            .reading(async |tx| Ok(accounts::find_by_email(tx, &self.keys, &email).await?))
            .await?;
        found
            .map(|a| a.account_id())
            .transpose()?
            .ok_or(ServiceError::NotFound("account"))
    }
}
