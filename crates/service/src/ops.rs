//! The figures operators watch (`/metrics`, the operator dashboard): the job queue by kind,
//! delivery backlogs, exports and erasures of the last day, accounts by state. Read from the
//! shared database, so every server process reports the whole deployment.

use crate::Hiatus;
use crate::error::ServiceResult;
use crate::views::{DeliveryBacklog, Finished, QueueDepth};
use hiatus_domain::{DAY_MICROS, Micros};
use hiatus_store::accounts;
use hiatus_store::stats;
use serde::Serialize;

/// A snapshot of the deployment's state.
#[derive(Clone, Debug, Serialize)]
pub struct Operations {
    pub at: Micros,
    pub queue: Vec<QueueDepth>,
    pub delivery: DeliveryBacklog,
    /// Exports built in the last 24 hours (count, time, bytes), and those that failed.
    pub exports_day: Finished,
    pub exports_failed_day: i64,
    /// Erasures finished in the last 24 hours, and those scheduled or running now.
    pub erasures_day: Finished,
    pub erasures_scheduled: i64,
    pub erasures_running: i64,
    /// Member and staff accounts by state (pseudonym accounts of erased members apart).
    pub accounts: Vec<(String, i64)>,
}

impl Hiatus {
    /// The deployment's operational state, now.
    pub async fn operations(&self) -> ServiceResult<Operations> {
        let now = self.now();
        let mut tx = self.db.read().await?;
        let queue = stats::queue(&mut tx, now).await?;
        let delivery = stats::delivery(&mut tx).await?;
        let (exports_day, exports_failed_day) =
            stats::exports_since(&mut tx, now - DAY_MICROS).await?;
        let (erasures_day, erasures_scheduled, erasures_running) =
            stats::erasures_since(&mut tx, now - DAY_MICROS).await?;
        let accounts = accounts::count_by_state(&mut tx).await?;
        tx.commit().await?;
        Ok(Operations {
            at: now,
            queue: queue.into_iter().map(QueueDepth::from).collect(),
            delivery: delivery.into(),
            exports_day: exports_day.into(),
            exports_failed_day,
            erasures_day: erasures_day.into(),
            erasures_scheduled,
            erasures_running,
            accounts,
        })
    }
}
