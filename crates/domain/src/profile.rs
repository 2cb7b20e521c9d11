//! Profile settings: visibility, availability and notifications, and breaks built from them.

use crate::Micros;
use serde::{Deserialize, Serialize};

/// Who may see a profile while the account is active.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Visibility {
    /// Anyone, including search engines.
    Public,
    /// Logged-in members only.
    MembersOnly,
    /// Nobody but the member and the people they have contracts with.
    Private,
}

/// Whether a member takes new work.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Availability {
    /// Open to proposals and invitations.
    Available,
    /// Not taking new work (optionally until a date).
    Paused,
}

/// How much non-essential notification a member gets. Essential mail (security, deletion,
/// legal) is always sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum NotificationMode {
    All,
    Digest,
    Muted,
}

macro_rules! str_enum {
    ($t:ty { $($v:ident => $s:literal),* $(,)? }) => {
        impl $t {
            /// The stable stored name.
            pub fn as_str(&self) -> &'static str {
                match self { $(Self::$v => $s),* }
            }
            /// Parses the stored name.
            pub fn parse(s: &str) -> Option<Self> {
                match s { $($s => Some(Self::$v),)* _ => None }
            }
        }
    };
}
pub(crate) use str_enum;

str_enum!(Visibility { Public => "public", MembersOnly => "members_only", Private => "private" });
str_enum!(Availability { Available => "available", Paused => "paused" });
str_enum!(NotificationMode { All => "all", Digest => "digest", Muted => "muted" });

/// The settings a member controls. Deactivation never changes them: the state hides the
/// profile, and reactivation therefore brings back exactly these values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ProfileSettings {
    pub visibility: Visibility,
    pub availability: Availability,
    /// When a paused availability ends by itself (microseconds UTC).
    pub paused_until: Option<Micros>,
    pub notifications: NotificationMode,
}

impl Default for ProfileSettings {
    fn default() -> Self {
        Self {
            visibility: Visibility::Public,
            availability: Availability::Available,
            paused_until: None,
            notifications: NotificationMode::All,
        }
    }
}

/// What a member asks for when taking a break instead of leaving.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct BreakRequest {
    /// Make the profile private for the break.
    #[serde(default)]
    pub private: bool,
    /// Mute non-essential notifications for the break.
    #[serde(default)]
    pub mute: bool,
    /// When the break ends by itself (microseconds UTC); none means until ended by hand.
    #[serde(default)]
    pub until: Option<Micros>,
}

/// Why a break request was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BreakError {
    #[error("the end date of a break must be in the future")]
    EndInPast,
    #[error("a break can last at most one year")]
    TooLong,
}

impl ProfileSettings {
    /// The settings during a break. Availability is always paused; visibility and
    /// notifications change only where asked.
    pub fn with_break(self, req: &BreakRequest, now: Micros) -> Result<Self, BreakError> {
        if let Some(until) = req.until {
            if until <= now {
                return Err(BreakError::EndInPast);
            }
            if until - now > 366 * crate::DAY_MICROS {
                return Err(BreakError::TooLong);
            }
        }
        Ok(Self {
            visibility: if req.private {
                Visibility::Private
            } else {
                self.visibility
            },
            availability: Availability::Paused,
            paused_until: req.until,
            notifications: if req.mute {
                NotificationMode::Muted
            } else {
                self.notifications
            },
        })
    }

    /// True when a paused availability has reached its end date.
    pub fn break_due_to_end(&self, now: Micros) -> bool {
        self.availability == Availability::Paused && self.paused_until.is_some_and(|u| u <= now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_break_pauses_and_optionally_hides_and_mutes() {
        let s = ProfileSettings::default();
        let b = s
            .with_break(
                &BreakRequest {
                    private: true,
                    mute: true,
                    until: Some(10),
                },
                5,
            )
            .unwrap();
        assert_eq!(b.visibility, Visibility::Private);
        assert_eq!(b.availability, Availability::Paused);
        assert_eq!(b.notifications, NotificationMode::Muted);
        assert!(!b.break_due_to_end(9));
        assert!(b.break_due_to_end(10));
        let keep = s
            .with_break(
                &BreakRequest {
                    private: false,
                    mute: false,
                    until: None,
                },
                5,
            )
            .unwrap();
        assert_eq!(keep.visibility, Visibility::Public);
        assert_eq!(keep.notifications, NotificationMode::All);
        assert!(!keep.break_due_to_end(i64::MAX));
    }

    #[test]
    fn a_break_must_end_in_the_future_and_within_a_year() {
        let s = ProfileSettings::default();
        assert_eq!(
            s.with_break(
                &BreakRequest {
                    private: false,
                    mute: false,
                    until: Some(5)
                },
                5
            ),
            Err(BreakError::EndInPast)
        );
        let far = Some(400 * crate::DAY_MICROS);
        assert_eq!(
            s.with_break(
                &BreakRequest {
                    private: false,
                    mute: false,
                    until: far
                },
                0
            ),
            Err(BreakError::TooLong)
        );
    }

    #[test]
    fn names_round_trip() {
        for v in [
            Visibility::Public,
            Visibility::MembersOnly,
            Visibility::Private,
        ] {
            assert_eq!(Visibility::parse(v.as_str()), Some(v));
        }
        for n in [
            NotificationMode::All,
            NotificationMode::Digest,
            NotificationMode::Muted,
        ] {
            assert_eq!(NotificationMode::parse(n.as_str()), Some(n));
        }
        assert_eq!(Availability::parse("nope"), None);
    }
}
