//! The account state machine of the product definition (§3). Every transition is one
//! function; everything else in hiatus asks this module whether a move is legal.

use crate::Micros;
use serde::{Deserialize, Serialize};
use std::fmt;

/// Where an account is in its lifecycle.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AccountState {
    /// In normal use.
    Active,
    /// Closed reversibly: hidden, read-only, can log in and reactivate.
    Deactivated,
    /// Deletion requested; erasure runs when the grace period ends unless cancelled.
    DeletionScheduled,
    /// Erased. Nothing leaves this state.
    Deleted,
}

/// Everything that can be asked of an account's lifecycle.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Deactivate,
    Reactivate,
    ScheduleDeletion,
    CancelDeletion,
    /// The erasure job, once the grace period has ended.
    CompleteDeletion,
}

impl Action {
    /// Every action, for exhaustive tests and documentation.
    pub const ALL: [Action; 5] = [
        Action::Deactivate,
        Action::Reactivate,
        Action::ScheduleDeletion,
        Action::CancelDeletion,
        Action::CompleteDeletion,
    ];
    /// The stable name used in audit events and API errors.
    pub fn as_str(&self) -> &'static str {
        match self {
            Action::Deactivate => "deactivate",
            Action::Reactivate => "reactivate",
            Action::ScheduleDeletion => "schedule_deletion",
            Action::CancelDeletion => "cancel_deletion",
            Action::CompleteDeletion => "complete_deletion",
        }
    }
}

/// An illegal transition, with a message that says what to do instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransitionError {
    #[error("the account is already deactivated; reactivate it instead")]
    AlreadyDeactivated,
    #[error("the account is active; there is nothing to reactivate")]
    NotDeactivated,
    #[error("deletion is already scheduled; cancel it by logging in before the grace period ends")]
    DeletionAlreadyScheduled,
    #[error("deletion is not scheduled, so there is nothing to cancel")]
    NoDeletionScheduled,
    #[error("deletion is scheduled; cancel the deletion to use the account again")]
    DeletionPending,
    #[error("the grace period has not ended yet")]
    GracePeriodRunning,
    #[error("this account was deleted and cannot be restored")]
    Deleted,
}

impl TransitionError {
    /// The stable machine code clients can switch on.
    pub fn code(&self) -> &'static str {
        match self {
            TransitionError::AlreadyDeactivated => "already_deactivated",
            TransitionError::NotDeactivated => "not_deactivated",
            TransitionError::DeletionAlreadyScheduled => "deletion_already_scheduled",
            TransitionError::NoDeletionScheduled => "no_deletion_scheduled",
            TransitionError::DeletionPending => "deletion_pending",
            TransitionError::GracePeriodRunning => "grace_period_running",
            TransitionError::Deleted => "account_deleted",
        }
    }
}

impl AccountState {
    /// Every state, for exhaustive tests.
    pub const ALL: [AccountState; 4] = [
        AccountState::Active,
        AccountState::Deactivated,
        AccountState::DeletionScheduled,
        AccountState::Deleted,
    ];

    /// The stable name stored in the database.
    pub fn as_str(&self) -> &'static str {
        match self {
            AccountState::Active => "active",
            AccountState::Deactivated => "deactivated",
            AccountState::DeletionScheduled => "deletion_scheduled",
            AccountState::Deleted => "deleted",
        }
    }

    /// Parses the stored name.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|st| st.as_str() == s)
    }

    /// active → deactivated.
    pub fn deactivate(self) -> Result<Self, TransitionError> {
        match self {
            AccountState::Active => Ok(AccountState::Deactivated),
            AccountState::Deactivated => Err(TransitionError::AlreadyDeactivated),
            AccountState::DeletionScheduled => Err(TransitionError::DeletionPending),
            AccountState::Deleted => Err(TransitionError::Deleted),
        }
    }

    /// deactivated → active. Settings are never touched by deactivation, so reactivation
    /// brings back exactly the visibility and availability the member had.
    pub fn reactivate(self) -> Result<Self, TransitionError> {
        match self {
            AccountState::Deactivated => Ok(AccountState::Active),
            AccountState::Active => Err(TransitionError::NotDeactivated),
            AccountState::DeletionScheduled => Err(TransitionError::DeletionPending),
            AccountState::Deleted => Err(TransitionError::Deleted),
        }
    }

    /// active or deactivated → deletion_scheduled (deactivation is implied).
    pub fn schedule_deletion(self) -> Result<Self, TransitionError> {
        match self {
            AccountState::Active | AccountState::Deactivated => Ok(AccountState::DeletionScheduled),
            AccountState::DeletionScheduled => Err(TransitionError::DeletionAlreadyScheduled),
            AccountState::Deleted => Err(TransitionError::Deleted),
        }
    }

    /// deletion_scheduled → active, while the grace period runs.
    pub fn cancel_deletion(self) -> Result<Self, TransitionError> {
        match self {
            AccountState::DeletionScheduled => Ok(AccountState::Active),
            AccountState::Active | AccountState::Deactivated => {
                Err(TransitionError::NoDeletionScheduled)
            }
            AccountState::Deleted => Err(TransitionError::Deleted),
        }
    }

    /// deletion_scheduled → deleted, only once `now` has reached `due_at`.
    pub fn complete_deletion(self, now: Micros, due_at: Micros) -> Result<Self, TransitionError> {
        match self {
            AccountState::DeletionScheduled if now >= due_at => Ok(AccountState::Deleted),
            AccountState::DeletionScheduled => Err(TransitionError::GracePeriodRunning),
            AccountState::Active | AccountState::Deactivated => {
                Err(TransitionError::NoDeletionScheduled)
            }
            AccountState::Deleted => Err(TransitionError::Deleted),
        }
    }

    /// Dispatches an action to its transition function. `now`/`due_at` only matter for
    /// [`Action::CompleteDeletion`].
    pub fn apply(
        self,
        action: Action,
        now: Micros,
        due_at: Micros,
    ) -> Result<Self, TransitionError> {
        match action {
            Action::Deactivate => self.deactivate(),
            Action::Reactivate => self.reactivate(),
            Action::ScheduleDeletion => self.schedule_deletion(),
            Action::CancelDeletion => self.cancel_deletion(),
            Action::CompleteDeletion => self.complete_deletion(now, due_at),
        }
    }
}

impl fmt::Display for AccountState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use AccountState::*;
    use proptest::prelude::*;

    /// The whole table, written out by hand from the product definition: (state, action) →
    /// result. The test fails if a cell changes or a state or action is added without a row.
    #[test]
    fn every_state_action_pair() {
        let (now, due) = (100, 50);
        let table: [(AccountState, Action, Result<AccountState, TransitionError>); 20] = [
            (Active, Action::Deactivate, Ok(Deactivated)),
            (
                Active,
                Action::Reactivate,
                Err(TransitionError::NotDeactivated),
            ),
            (Active, Action::ScheduleDeletion, Ok(DeletionScheduled)),
            (
                Active,
                Action::CancelDeletion,
                Err(TransitionError::NoDeletionScheduled),
            ),
            (
                Active,
                Action::CompleteDeletion,
                Err(TransitionError::NoDeletionScheduled),
            ),
            (
                Deactivated,
                Action::Deactivate,
                Err(TransitionError::AlreadyDeactivated),
            ),
            (Deactivated, Action::Reactivate, Ok(Active)),
            (Deactivated, Action::ScheduleDeletion, Ok(DeletionScheduled)),
            (
                Deactivated,
                Action::CancelDeletion,
                Err(TransitionError::NoDeletionScheduled),
            ),
            (
                Deactivated,
                Action::CompleteDeletion,
                Err(TransitionError::NoDeletionScheduled),
            ),
            (
                DeletionScheduled,
                Action::Deactivate,
                Err(TransitionError::DeletionPending),
            ),
            (
                DeletionScheduled,
                Action::Reactivate,
                Err(TransitionError::DeletionPending),
            ),
            (
                DeletionScheduled,
                Action::ScheduleDeletion,
                Err(TransitionError::DeletionAlreadyScheduled),
            ),
            (DeletionScheduled, Action::CancelDeletion, Ok(Active)),
            (DeletionScheduled, Action::CompleteDeletion, Ok(Deleted)),
            (Deleted, Action::Deactivate, Err(TransitionError::Deleted)),
            (Deleted, Action::Reactivate, Err(TransitionError::Deleted)),
            (
                Deleted,
                Action::ScheduleDeletion,
                Err(TransitionError::Deleted),
            ),
            (
                Deleted,
                Action::CancelDeletion,
                Err(TransitionError::Deleted),
            ),
            (
                Deleted,
                Action::CompleteDeletion,
                Err(TransitionError::Deleted),
            ),
        ];
        // The table covers the full product of states and actions, each pair once.
        let pairs: std::collections::HashSet<_> = table.iter().map(|(s, a, _)| (*s, *a)).collect();
        assert_eq!(pairs.len(), AccountState::ALL.len() * Action::ALL.len());
        for (state, action, expected) in table {
            assert_eq!(
                state.apply(action, now, due),
                expected,
                "{state} + {action:?}"
            );
        }
    }

    #[test]
    fn erasure_waits_for_the_grace_period() {
        assert_eq!(
            DeletionScheduled.complete_deletion(49, 50),
            Err(TransitionError::GracePeriodRunning)
        );
        assert_eq!(DeletionScheduled.complete_deletion(50, 50), Ok(Deleted));
    }

    #[test]
    fn names_round_trip() {
        for s in AccountState::ALL {
            assert_eq!(AccountState::parse(s.as_str()), Some(s));
        }
        assert_eq!(AccountState::parse("gone"), None);
    }

    fn any_action() -> impl Strategy<Value = Action> {
        prop::sample::select(Action::ALL.to_vec())
    }

    proptest! {
        /// Nothing ever leaves `deleted`, and every error leaves the state unchanged.
        #[test]
        fn deleted_is_final(actions in prop::collection::vec((any_action(), any::<bool>()), 0..60)) {
            let mut state = Active;
            let mut seen_deleted = false;
            for (action, grace_over) in actions {
                let (now, due) = if grace_over { (10, 5) } else { (1, 5) };
                if let Ok(next) = state.apply(action, now, due) {
                    state = next;
                }
                if seen_deleted {
                    prop_assert_eq!(state, Deleted);
                }
                seen_deleted |= state == Deleted;
            }
        }

        /// Only the erasure job reaches `deleted`, and only from `deletion_scheduled`.
        #[test]
        fn only_erasure_deletes(state in prop::sample::select(AccountState::ALL.to_vec()), action in any_action()) {
            if let Ok(Deleted) = state.apply(action, 10, 5) {
                prop_assert_eq!(action, Action::CompleteDeletion);
                prop_assert_eq!(state, DeletionScheduled);
            }
        }
    }
}
