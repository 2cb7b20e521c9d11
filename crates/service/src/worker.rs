//! The background worker: claims due jobs from the queue and runs their handlers. Handlers are
//! idempotent, so a job run twice (after a crash or a lost lease) changes nothing the second
//! time.

use crate::Hiatus;
use crate::erasure::{EraseOptions, EraseOutcome};
use crate::error::{ServiceError, ServiceResult};
use crate::export::Lease;
use crate::jobs::Job;
use hiatus_store::jobs::{self, JobRow};
use std::time::Duration;
use tokio::sync::watch;

/// How often a running worker looks for due erasures outside the job queue.
const SWEEP_EVERY: Duration = Duration::from_secs(300);

/// A worker process or task.
#[derive(Clone, Debug)]
pub struct Worker {
    hiatus: Hiatus,
    id: String,
    idle_poll: Duration,
}

impl Worker {
    /// A worker with a unique id (host-free: a random suffix).
    pub fn new(hiatus: Hiatus, idle_poll: Duration) -> Self {
        let id = format!("worker-{}", uuid::Uuid::new_v4().simple());
        Self {
            hiatus,
            id,
            idle_poll,
        }
    }

    /// This worker's id, as recorded on the jobs it holds.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Claims and runs one due job. Returns false when nothing was due.
    pub async fn run_once(&self) -> ServiceResult<bool> {
        let h = &self.hiatus;
        let Some(job) = jobs::claim(&h.db, &self.id, h.now(), h.config.job_lease).await? else {
            // No job due: deliver lifecycle events to webhook subscriptions. (Not counted as
            // a job: `drain` reports the jobs it ran.)
            h.webhook_round().await?;
            return Ok(false);
        };
        let result = if job.attempts > job.max_attempts {
            // Reclaimed after its last attempt died with its worker: give up for good.
            self.give_up(&job).await;
            Err(ServiceError::conflict(
                "job_abandoned",
                "the job's last attempt stopped without finishing",
            ))
        } else {
            self.handle(&job).await
        };
        if let Err(e) = &result
            && job.attempts >= job.max_attempts
        {
            tracing::warn!(job = %job.id, kind = %job.kind, error = %e, "job failed for good");
            self.give_up(&job).await;
        }
        let now = h.now();
        let mut tx = h.db.begin().await?;
        match result {
            Ok(()) => {
                if !jobs::complete(&mut tx, &job.id, &self.id, now).await? {
                    tracing::warn!(job = %job.id, kind = %job.kind, "lease lost before completion; another worker will rerun it");
                }
            }
            Err(e) => {
                tracing::warn!(job = %job.id, kind = %job.kind, attempt = job.attempts, error = %e, "job failed");
                jobs::fail(&mut tx, &job, &self.id, &e.to_string(), now).await?;
            }
        }
        tx.commit().await?;
        Ok(true)
    }

    async fn handle(&self, job: &JobRow) -> ServiceResult<()> {
        let h = &self.hiatus;
        match Job::parse(&job.kind, &job.payload)? {
            Job::EndBreak { account, .. } => {
                h.end_break_of(account, None).await?;
            }
            Job::SettlePayout { payout } => {
                h.settle_payout(payout).await?;
            }
            Job::BuildExport { export_id } => {
                let lease = Lease {
                    job_id: job.id.clone(),
                    worker_id: self.id.clone(),
                };
                if let Err(e) = h.build_export(&export_id, Some(lease)).await {
                    // The member sees that it is being retried, and why it failed.
                    let mut tx = h.db.begin().await?;
                    hiatus_store::exports::progress_note(
                        &mut tx,
                        &export_id,
                        "retrying after an error",
                    )
                    .await?;
                    tx.commit().await?;
                    return Err(e);
                }
            }
            Job::Erase { account } => {
                // Another worker holds the erasure: try again after its lease.
                if let EraseOutcome::Busy = h
                    .erase_account(account, &self.id, &EraseOptions::default())
                    .await?
                {
                    return Err(ServiceError::conflict(
                        "erasure_busy",
                        "another worker is erasing this account",
                    ));
                }
            }
            Job::RemindDeletion {
                account,
                due_at,
                days,
            } => {
                h.remind_deletion(account, due_at, days).await?;
            }
            Job::RemindBreak { account, until } => {
                h.remind_break_end(account, until).await?;
            }
            Job::RemindExport { export_id } => {
                h.remind_export(&export_id).await?;
            }
            Job::NotifyClients { account } => {
                h.deliver_client_notices(account).await?;
            }
            Job::Purge { pseudonym } => {
                h.purge_retained(&pseudonym).await?;
            }
            Job::ExpireExport { export_id } => {
                h.expire_export(&export_id).await?;
            }
        }
        Ok(())
    }

    /// What happens when a job fails for good: an export is marked failed, so the member sees
    /// it and can ask again.
    async fn give_up(&self, job: &JobRow) {
        let Ok(Job::BuildExport { export_id: id }) = Job::parse(&job.kind, &job.payload) else {
            return;
        };
        let h = &self.hiatus;
        let r: ServiceResult<()> = async {
            let mut tx = h.db.begin().await?;
            let failed = hiatus_store::exports::fail(
                &mut tx,
                &id,
                "the export could not be built after several attempts; request a new one",
                h.now(),
            )
            .await?;
            if failed && let Some(row) = hiatus_store::exports::get(&mut tx, &id).await? {
                hiatus_store::audit::outbox(
                    &mut tx,
                    "export.failed",
                    row.account_id.parse().ok(),
                    serde_json::json!({"account_id": row.account_id, "export_id": id}),
                    h.now(),
                )
                .await?;
            }
            tx.commit().await?;
            // The partial archive of the attempt that died with its worker goes now, not at
            // the next sweep.
            h.remove_export_files(&id).await
        }
        .await;
        if let Err(e) = r {
            tracing::error!(error = %e, "could not mark an export failed");
        }
    }

    /// Runs until `shutdown` turns true; finishes the job in hand before returning.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        tracing::info!(worker = %self.id, "worker started");
        let mut last_sweep: Option<std::time::Instant> = None;
        loop {
            if *shutdown.borrow() {
                break;
            }
            // A safety net for erasures whose job was lost or gave up: every few minutes,
            // erase what is due (the lease keeps two workers from doing the same one).
            if last_sweep.is_none_or(|t| t.elapsed() >= SWEEP_EVERY) {
                last_sweep = Some(std::time::Instant::now());
                // Partial archives of builds killed with their worker (the first sweep runs
                // when the worker starts).
                match self.hiatus.sweep_export_partials().await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(removed = n, "removed partial export archives"),
                    Err(e) => {
                        tracing::warn!(error = %e, "sweep for partial export archives failed")
                    }
                }
                match self.hiatus.erase_due(&self.id).await {
                    Ok(0) => {}
                    Ok(n) => {
                        tracing::info!(erased = n, "erased accounts whose grace period had ended")
                    }
                    Err(e) => tracing::warn!(error = %e, "sweep for due erasures failed"),
                }
                // Accounts never confirmed: gone when their link expires.
                match self.hiatus.purge_unconfirmed().await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(removed = n, "removed accounts never confirmed"),
                    Err(e) => tracing::warn!(error = %e, "removing unconfirmed accounts failed"),
                }
                // Wrong-password counters hold client addresses: gone when their window is.
                if let Err(e) = self.hiatus.purge_auth_throttle().await {
                    tracing::warn!(error = %e, "purging old wrong-password counters failed");
                }
                // Key epochs: re-wrap data keys under the current epoch (the first run after an
                // upgrade re-wraps keys still under the master key), then destroy epoch keys
                // older than the backup window. Refused retirement (keys still in use) is
                // retried next time, after the rotation.
                if let Err(e) = self.hiatus.maintain_keys().await {
                    tracing::warn!(error = %e, "key rotation or retirement failed");
                }
            }
            match self.run_once().await {
                Ok(true) => continue,
                Ok(false) => {}
                Err(e) => tracing::error!(error = %e, "worker could not reach the queue"),
            }
            tokio::select! {
                _ = tokio::time::sleep(self.idle_poll) => {}
                _ = shutdown.changed() => {}
            }
        }
        tracing::info!(worker = %self.id, "worker stopped");
    }

    /// Runs every job that is due now, then returns how many ran (for tests and the CLI).
    pub async fn drain(&self) -> ServiceResult<usize> {
        let mut n = 0;
        while self.run_once().await? {
            n += 1;
        }
        Ok(n)
    }
}
