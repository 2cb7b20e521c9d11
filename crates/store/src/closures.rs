//! Closure reasons over time, for the operator dashboard. The rows of `closure_reasons` carry
//! no link to a person and only the day they were recorded, so these counts say nothing about
//! anyone in particular.

use crate::args;
use crate::db::Tx;
use crate::error::StoreResult;
use hiatus_domain::Micros;

/// How many closures of one kind, for one reason, fell into one period.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow, serde::Serialize)]
pub struct ClosureCount {
    /// `deactivate` or `delete`.
    pub action: String,
    /// The stored reason code.
    pub reason: String,
    /// Which period, counted from `since` (0 is the first).
    pub period: i64,
    pub count: i64,
}

/// Closures recorded from `since` on, by action, reason and period of `period` microseconds
/// (a week, a day). Periods with no closures are absent.
pub async fn by_reason(
    tx: &mut Tx,
    since: Micros,
    period: Micros,
) -> StoreResult<Vec<ClosureCount>> {
    // Integer division is the same on both backends for non-negative BIGINTs; grouping by
    // position keeps PostgreSQL from comparing two copies of the parameterised expression.
    tx.all(
        "SELECT action, reason, CAST((created_at - $1) / $2 AS BIGINT) AS period, \
           CAST(COUNT(*) AS BIGINT) AS count \
         FROM closure_reasons WHERE created_at >= $1 \
         GROUP BY 1, 2, 3 \
         ORDER BY period, reason, action",
        args![since, period.max(1)],
    )
    .await
}
