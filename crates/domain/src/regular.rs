//! Who counts as a regular client (§2): a client with an open contract, or with a contract in
//! the last 12 months, or with 3 or more contracts ever. The thresholds are configurable.

use crate::{DAY_MICROS, Micros};
use serde::{Deserialize, Serialize};

/// The thresholds that make a client "regular".
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegularClientRule {
    /// A contract that started or ended within this many days.
    pub recent_days: i64,
    /// This many contracts ever.
    pub min_contracts: i64,
}

impl Default for RegularClientRule {
    fn default() -> Self {
        Self {
            recent_days: 365,
            min_contracts: 3,
        }
    }
}

/// What hiatus knows of one client's history with a freelancer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClientHistory {
    pub contracts: i64,
    pub live_contracts: i64,
    /// The latest start or end of any of their contracts.
    pub last_activity: Micros,
}

/// Why a client is regular: the facts a member sees next to each name.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RegularBecause {
    pub open_contract: bool,
    pub recent_contract: bool,
    pub many_contracts: bool,
    pub contracts: i64,
}

impl RegularClientRule {
    /// `Some(reasons)` when the history makes the client regular.
    pub fn judge(&self, h: &ClientHistory, now: Micros) -> Option<RegularBecause> {
        let because = RegularBecause {
            open_contract: h.live_contracts > 0,
            recent_contract: now - h.last_activity <= self.recent_days * DAY_MICROS,
            many_contracts: h.contracts >= self.min_contracts,
            contracts: h.contracts,
        };
        (because.open_contract || because.recent_contract || because.many_contracts)
            .then_some(because)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_criterion_alone_makes_a_regular_client() {
        let r = RegularClientRule::default();
        let now = 1000 * DAY_MICROS;
        let old = now - 400 * DAY_MICROS;
        assert!(
            r.judge(
                &ClientHistory {
                    contracts: 1,
                    live_contracts: 0,
                    last_activity: old
                },
                now
            )
            .is_none()
        );
        assert!(
            r.judge(
                &ClientHistory {
                    contracts: 1,
                    live_contracts: 1,
                    last_activity: old
                },
                now
            )
            .unwrap()
            .open_contract
        );
        let recent = r
            .judge(
                &ClientHistory {
                    contracts: 1,
                    live_contracts: 0,
                    last_activity: now - 30 * DAY_MICROS,
                },
                now,
            )
            .unwrap();
        assert!(recent.recent_contract && !recent.open_contract && !recent.many_contracts);
        assert!(
            r.judge(
                &ClientHistory {
                    contracts: 3,
                    live_contracts: 0,
                    last_activity: old
                },
                now
            )
            .unwrap()
            .many_contracts
        );
        assert!(
            r.judge(
                &ClientHistory {
                    contracts: 2,
                    live_contracts: 0,
                    last_activity: old
                },
                now
            )
            .is_none()
        );
    }
}
