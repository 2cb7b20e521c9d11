//! The pure core of hiatus: identifiers, money, account states and their transitions, the
//! effects each state has, preflight rules and profile settings. No I/O and no async live
//! here, so every rule can be tested exhaustively and quickly.

#![forbid(unsafe_code)]

pub mod effects;
pub mod email;
pub mod fmt;
pub mod ids;
pub mod money;
pub mod page;
pub mod preflight;
pub mod profile;
pub mod reason;
pub mod records;
pub mod state;
pub mod text;

pub use effects::Effects;
pub use email::{Email, EmailError};
pub use ids::*;
pub use money::{Currency, MAX_AMOUNT_MINOR, MAX_BALANCE_MINOR, Money, MoneyError};
pub use page::Page;
pub use preflight::{Finding, FindingCode, Preflight, PreflightFacts, RecordRef, Severity};
pub use profile::{Availability, BreakRequest, NotificationMode, ProfileSettings, Visibility};
pub use reason::ClosureReason;
pub use records::*;
pub use state::{AccountState, Action, TransitionError};

/// Microseconds since the Unix epoch, UTC. Every stored time in hiatus is one of these.
pub type Micros = i64;

/// One day in microseconds.
pub const DAY_MICROS: Micros = 86_400 * 1_000_000;

pub mod regular;
pub mod views;
pub use regular::RegularClientRule;
pub use views::*;
