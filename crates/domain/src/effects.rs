//! What each account state allows (§3's effects table), as data the whole system consults:
//! API handlers, listings, messaging and login all ask here instead of re-deciding.

use crate::{AccountState, Visibility};
use serde::Serialize;

/// Where a successful login should take the member.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Landing {
    /// The ordinary home page.
    Home,
    /// "Your account is deactivated. Reactivate?"
    Reactivate,
    /// "Your account is scheduled for deletion. Cancel the deletion?"
    CancelDeletion,
}

/// Who is looking at a profile.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Viewer {
    /// Not logged in.
    Anonymous,
    /// A logged-in member with no contract with the profile's owner.
    Member,
    /// A logged-in member who has or had a contract with the owner.
    Counterparty,
    /// The owner.
    Owner,
}

/// The capabilities of an account in one state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Effects {
    /// Others can find the profile in listings and open it by URL (subject to visibility).
    pub profile_listed: bool,
    /// Can send proposals and invitations, and receive them.
    pub proposals: bool,
    /// Where login lands, or `None` when login is refused.
    pub login: Option<Landing>,
    /// Can read past messages, contracts and invoices.
    pub read_history: bool,
    /// Can send new messages.
    pub send_messages: bool,
    /// Can request and download a data export.
    pub export: bool,
    /// Can edit profile settings or start a break.
    pub edit_profile: bool,
}

impl Effects {
    /// The effects table.
    pub const fn of(state: AccountState) -> Effects {
        match state {
            AccountState::Active => Effects {
                profile_listed: true,
                proposals: true,
                login: Some(Landing::Home),
                read_history: true,
                send_messages: true,
                export: true,
                edit_profile: true,
            },
            AccountState::Deactivated => Effects {
                profile_listed: false,
                proposals: false,
                login: Some(Landing::Reactivate),
                read_history: true,
                send_messages: false,
                export: true,
                edit_profile: false,
            },
            AccountState::DeletionScheduled => Effects {
                profile_listed: false,
                proposals: false,
                login: Some(Landing::CancelDeletion),
                read_history: true,
                send_messages: false,
                export: true,
                edit_profile: false,
            },
            AccountState::Deleted => Effects {
                profile_listed: false,
                proposals: false,
                login: None,
                read_history: false,
                send_messages: false,
                export: false,
                edit_profile: false,
            },
        }
    }
}

/// Whether `viewer` may see the profile of an account in `state` with `visibility`.
/// The owner always sees their own profile (until erasure); others only while it is listed.
pub fn can_view_profile(state: AccountState, visibility: Visibility, viewer: Viewer) -> bool {
    if state == AccountState::Deleted {
        return false;
    }
    if viewer == Viewer::Owner {
        return true;
    }
    if !Effects::of(state).profile_listed {
        return false;
    }
    match visibility {
        Visibility::Public => true,
        Visibility::MembersOnly => viewer != Viewer::Anonymous,
        Visibility::Private => viewer == Viewer::Counterparty,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use AccountState::*;

    #[test]
    fn the_effects_table() {
        // (state, listed, proposals, login, read, send, export)
        let rows = [
            (Active, true, true, Some(Landing::Home), true, true, true),
            (
                Deactivated,
                false,
                false,
                Some(Landing::Reactivate),
                true,
                false,
                true,
            ),
            (
                DeletionScheduled,
                false,
                false,
                Some(Landing::CancelDeletion),
                true,
                false,
                true,
            ),
            (Deleted, false, false, None, false, false, false),
        ];
        for (s, listed, proposals, login, read, send, export) in rows {
            let e = Effects::of(s);
            assert_eq!(
                (
                    e.profile_listed,
                    e.proposals,
                    e.login,
                    e.read_history,
                    e.send_messages,
                    e.export
                ),
                (listed, proposals, login, read, send, export),
                "{s}"
            );
        }
    }

    #[test]
    fn profile_visibility_by_viewer() {
        use Viewer::*;
        use Visibility::*;
        assert!(can_view_profile(Active, Public, Anonymous));
        assert!(!can_view_profile(Active, MembersOnly, Anonymous));
        assert!(can_view_profile(Active, MembersOnly, Member));
        assert!(!can_view_profile(Active, Private, Member));
        assert!(can_view_profile(Active, Private, Counterparty));
        for s in [Deactivated, DeletionScheduled] {
            for v in [Public, MembersOnly, Private] {
                for who in [Anonymous, Member, Counterparty] {
                    assert!(!can_view_profile(s, v, who), "{s} {v:?} {who:?}");
                }
                assert!(can_view_profile(s, v, Owner));
            }
        }
        assert!(!can_view_profile(Deleted, Public, Owner));
    }
}
