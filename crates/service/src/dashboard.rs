//! What the staff pages read and do: the support console (the restoration queue, decisions
//! confirmed by a recent password, a member's audit trail) and the operator dashboard
//! (closure reasons over time, accounts by state, the job queue's health). Who may see what
//! is decided here, so no page can forget a check.

use crate::Hiatus;
use crate::auth::Actor;
use crate::error::{ServiceError, ServiceResult};
use crate::ops::Operations;
use crate::restoration::QueueItem;
use crate::views::AuditEvent;
use hiatus_domain::{AccountId, ClosureReason, DAY_MICROS, Micros, Role};
use hiatus_store::{accounts, closures};
use serde::Serialize;

/// The length of one period of the closure chart.
pub const WEEK: Micros = 7 * DAY_MICROS;
/// How many weeks the dashboard looks back.
pub const DASHBOARD_WEEKS: usize = 12;
/// How many requests the console lists at once.
pub const QUEUE_PAGE: i64 = 100;

/// One page of the support console's queue.
#[derive(Debug)]
pub struct QueuePage {
    pub items: Vec<QueueItem>,
    /// Whether a next page has more.
    pub more: bool,
}

/// Closures for one reason, period by period.
#[derive(Clone, Debug, Serialize)]
pub struct ReasonSeries {
    /// The stored code (`not_enough_work`).
    pub reason: String,
    /// The words the closing flow offered.
    pub label: String,
    /// One count per period, oldest first.
    pub counts: Vec<i64>,
    pub total: i64,
}

/// Why members left, period by period.
#[derive(Clone, Debug, Serialize)]
pub struct ClosureTrend {
    /// When each period starts (UTC), oldest first.
    pub starts: Vec<Micros>,
    pub period: Micros,
    /// The reasons given at least once in the window, in the order the closing flow lists them.
    pub series: Vec<ReasonSeries>,
    pub deactivations: i64,
    pub deletions: i64,
}

/// Everything the operator dashboard shows.
#[derive(Clone, Debug, Serialize)]
pub struct Dashboard {
    pub operations: Operations,
    pub closures: ClosureTrend,
}

/// Where a member of staff starts after logging in.
pub fn staff_home(actor: &Actor) -> Option<&'static str> {
    match actor.role {
        Role::Support => Some("/support"),
        Role::Operator => Some("/operator"),
        Role::Member => None,
    }
}

fn order(code: &str) -> usize {
    ClosureReason::parse(code)
        .and_then(|r| ClosureReason::ALL.iter().position(|x| *x == r))
        .unwrap_or(ClosureReason::ALL.len())
}

/// Folds the store's counts into one series per reason over `periods` periods.
fn trend(
    rows: &[closures::ClosureCount],
    since: Micros,
    period: Micros,
    periods: usize,
) -> ClosureTrend {
    let mut series: Vec<ReasonSeries> = Vec::new();
    let (mut deactivations, mut deletions) = (0, 0);
    for r in rows {
        let Ok(i) = usize::try_from(r.period) else {
            continue;
        };
        if i >= periods {
            continue;
        }
        match r.action.as_str() {
            "delete" => deletions += r.count,
            _ => deactivations += r.count,
        }
        let s = match series.iter_mut().position(|s| s.reason == r.reason) {
            Some(at) => &mut series[at],
            None => {
                series.push(ReasonSeries {
                    reason: r.reason.clone(),
                    label: ClosureReason::parse(&r.reason)
                        .map(|x| x.label().to_string())
                        .unwrap_or_else(|| r.reason.clone()),
                    counts: vec![0; periods],
                    total: 0,
                });
                series.last_mut().expect("just pushed")
            }
        };
        s.counts[i] += r.count;
        s.total += r.count;
    }
    series.sort_by_key(|s| order(&s.reason));
    ClosureTrend {
        starts: (0..periods).map(|i| since + i as i64 * period).collect(),
        period,
        series,
        deactivations,
        deletions,
    }
}

impl Hiatus {
    /// The operator dashboard (operators only).
    pub async fn operator_dashboard(&self, actor: &Actor) -> ServiceResult<Dashboard> {
        actor.require_operator()?;
        let operations = self.operations().await?;
        let closures = self.closure_trend(actor, DASHBOARD_WEEKS).await?;
        Ok(Dashboard {
            operations,
            closures,
        })
    }

    /// Closures by reason, week by week, for the last `weeks` weeks up to the end of today
    /// (operators only).
    pub async fn closure_trend(&self, actor: &Actor, weeks: usize) -> ServiceResult<ClosureTrend> {
        actor.require_operator()?;
        let weeks = weeks.clamp(1, 104);
        let now = self.now();
        let end = now - now.rem_euclid(DAY_MICROS) + DAY_MICROS;
        let since = end - weeks as i64 * WEEK;
        let mut tx = self.db.read().await?;
        let rows = closures::by_reason(&mut tx, since, WEEK).await?;
        tx.commit().await?;
        Ok(trend(&rows, since, WEEK, weeks))
    }

    /// The restoration queue as the support console lists it: open requests, or all of them,
    /// newest first (support agents and operators only).
    pub async fn support_queue(
        &self,
        actor: &Actor,
        open_only: bool,
        page: u32,
    ) -> ServiceResult<QueuePage> {
        actor.require_staff()?;
        let offset = i64::from(page.min(100_000)) * QUEUE_PAGE;
        let mut items = self
            .restoration_queue(actor, open_only, QUEUE_PAGE + 1, offset)
            .await?;
        let more = items.len() as i64 > QUEUE_PAGE;
        items.truncate(QUEUE_PAGE as usize);
        Ok(QueuePage { items, more })
    }

    /// Approves or denies a request from the support console. Like every step that cannot be
    /// taken back, it needs the agent's password from the last few minutes: given here (it
    /// then opens the window for the next decisions too), or entered recently.
    pub async fn decide_in_console(
        &self,
        actor: &mut Actor,
        id: &str,
        note: &str,
        approve: bool,
        password: &str,
    ) -> ServiceResult<QueueItem> {
        actor.require_staff()?;
        if !password.is_empty() {
            self.reauthenticate(actor, password).await?;
        }
        self.require_reauth(actor, None).await?;
        if approve {
            self.approve_restoration(actor, id, note).await
        } else {
            self.deny_restoration(actor, id, note).await
        }
    }

    /// A member's audit trail for support, newest first; the look is recorded on the trail.
    /// After erasure the trail is under the pseudonym's id; the erased id answers exactly as an
    /// id that never existed. Staff read their own trail where every member does, not here.
    pub async fn member_trail(
        &self,
        actor: &Actor,
        account: AccountId,
        limit: i64,
        offset: i64,
    ) -> ServiceResult<Vec<AuditEvent>> {
        actor.require_staff()?;
        if account == actor.account {
            return Err(ServiceError::NotFound("member"));
        }
        // An erased member's id leads nowhere: what is kept is under the pseudonym.
        let mut tx = self.db.read().await?;
        let erased = accounts::is_tombstone(&mut tx, account).await?;
        tx.commit().await?;
        if erased {
            // The same answer as for an unknown id (`audit_trail`), so staff cannot tell an
            // erased member's id from a random one.
            return Err(ServiceError::NotFound("account"));
        }
        self.audit_trail(actor, account, limit, offset).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(action: &str, reason: &str, period: i64, count: i64) -> closures::ClosureCount {
        closures::ClosureCount {
            action: action.into(),
            reason: reason.into(),
            period,
            count,
        }
    }

    #[test]
    fn folds_counts_into_one_series_per_reason() {
        let rows = [
            row("deactivate", "other", 0, 1),
            row("delete", "fees_too_high", 2, 2),
            row("deactivate", "fees_too_high", 2, 1),
            row("deactivate", "other", 9, 5),
        ];
        let t = trend(&rows, 1_000, WEEK, 3);
        assert_eq!(t.starts, vec![1_000, 1_000 + WEEK, 1_000 + 2 * WEEK]);
        // In the closing flow's order, whatever order the rows came in.
        assert_eq!(t.series[0].reason, "fees_too_high");
        assert_eq!(t.series[0].counts, vec![0, 0, 3]);
        assert_eq!(t.series[0].label, "Fees are too high");
        assert_eq!(t.series[1].counts, vec![1, 0, 0]);
        // Outside the window: not counted.
        assert_eq!(t.series[1].total, 1);
        assert_eq!((t.deactivations, t.deletions), (2, 2));
    }

    #[test]
    fn an_empty_window_has_no_series() {
        let t = trend(&[], 0, WEEK, 12);
        assert!(t.series.is_empty());
        assert_eq!(t.starts.len(), 12);
    }
}
