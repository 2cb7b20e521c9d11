//! Why members close their accounts: a fixed list for statistics, plus optional free text.

use serde::{Deserialize, Serialize};

/// The reasons offered in the closing flow.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ClosureReason {
    TakingABreak,
    NotEnoughWork,
    FoundFullTimeJob,
    FeesTooHigh,
    PrivacyConcerns,
    BadExperience,
    MovingToAnotherPlatform,
    DuplicateAccount,
    Other,
}

impl ClosureReason {
    /// Every reason, in the order the closing flow lists them.
    pub const ALL: [ClosureReason; 9] = [
        ClosureReason::TakingABreak,
        ClosureReason::NotEnoughWork,
        ClosureReason::FoundFullTimeJob,
        ClosureReason::FeesTooHigh,
        ClosureReason::PrivacyConcerns,
        ClosureReason::BadExperience,
        ClosureReason::MovingToAnotherPlatform,
        ClosureReason::DuplicateAccount,
        ClosureReason::Other,
    ];

    /// The stable stored code.
    pub fn as_str(&self) -> &'static str {
        match self {
            ClosureReason::TakingABreak => "taking_a_break",
            ClosureReason::NotEnoughWork => "not_enough_work",
            ClosureReason::FoundFullTimeJob => "found_full_time_job",
            ClosureReason::FeesTooHigh => "fees_too_high",
            ClosureReason::PrivacyConcerns => "privacy_concerns",
            ClosureReason::BadExperience => "bad_experience",
            ClosureReason::MovingToAnotherPlatform => "moving_to_another_platform",
            ClosureReason::DuplicateAccount => "duplicate_account",
            ClosureReason::Other => "other",
        }
    }

    /// Parses the stored code.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == s)
    }

    /// The label a person reads.
    pub fn label(&self) -> &'static str {
        match self {
            ClosureReason::TakingABreak => "I need a break and plan to come back",
            ClosureReason::NotEnoughWork => "Not enough work",
            ClosureReason::FoundFullTimeJob => "I found a full-time job",
            ClosureReason::FeesTooHigh => "Fees are too high",
            ClosureReason::PrivacyConcerns => "Privacy concerns",
            ClosureReason::BadExperience => "I had a bad experience",
            ClosureReason::MovingToAnotherPlatform => "I am moving to another platform",
            ClosureReason::DuplicateAccount => "This is a duplicate account",
            ClosureReason::Other => "Another reason",
        }
    }

    /// True when the reason says the member means to come back, so a break would do.
    pub fn is_temporary(&self) -> bool {
        matches!(self, ClosureReason::TakingABreak)
    }
}

/// The free text that may go with a reason: at most this many characters.
pub const REASON_DETAIL_MAX: usize = 2000;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_are_unique() {
        let mut seen = std::collections::HashSet::new();
        for r in ClosureReason::ALL {
            assert_eq!(ClosureReason::parse(r.as_str()), Some(r));
            assert!(seen.insert(r.as_str()));
        }
        assert!(ClosureReason::TakingABreak.is_temporary());
        assert!(!ClosureReason::FeesTooHigh.is_temporary());
    }
}
