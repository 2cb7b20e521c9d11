//! Errors of the use cases: what happened, in words a person understands, with a stable code.

use hiatus_domain::{Preflight, TransitionError};
use hiatus_store::StoreError;

/// A use case failed.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The record does not exist, or the caller may not know it exists.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// Not logged in, or the session ended.
    #[error("log in to continue")]
    Unauthorized,
    /// Wrong email or password, or an account whose address is not confirmed yet
    /// (deliberately not saying which).
    #[error("wrong email or password; if you just signed up, open the link we mailed you first")]
    BadCredentials,
    /// Logged in but not allowed.
    #[error("{message}")]
    Forbidden { code: &'static str, message: String },
    /// The request conflicts with the current state.
    #[error("{message}")]
    Conflict { code: &'static str, message: String },
    /// The request itself is not valid.
    #[error("{message}")]
    Invalid { code: &'static str, message: String },
    /// Preflight found blockers.
    #[error("{} blocker(s) must be resolved first", .0.blockers.len())]
    Blocked(Box<Preflight>),
    /// Too many attempts.
    #[error("too many attempts; try again in {retry_after_secs} seconds")]
    RateLimited { retry_after_secs: u64 },
    /// The thing existed but is no longer available (an expired link).
    #[error("{message}")]
    Gone { code: &'static str, message: String },
    /// A quota of the calendar day is used up; the message says when the next one is possible.
    #[error("{message}")]
    QuotaReached {
        code: &'static str,
        message: String,
        retry_after_secs: u64,
    },
    /// Recent re-authentication is needed.
    #[error("enter your password again to confirm this step")]
    ReauthRequired,
    /// Something below failed; details go to the log, not to the client.
    #[error("internal error")]
    Internal(#[source] StoreError),
}

impl ServiceError {
    /// The stable machine code.
    pub fn code(&self) -> &'static str {
        match self {
            ServiceError::NotFound(_) => "not_found",
            ServiceError::Unauthorized => "unauthorized",
            ServiceError::BadCredentials => "bad_credentials",
            ServiceError::Forbidden { code, .. } => code,
            ServiceError::Conflict { code, .. } => code,
            ServiceError::Invalid { code, .. } => code,
            ServiceError::Blocked(_) => "preflight_blocked",
            ServiceError::RateLimited { .. } => "rate_limited",
            ServiceError::ReauthRequired => "reauthentication_required",
            ServiceError::Gone { code, .. } => code,
            ServiceError::QuotaReached { code, .. } => code,
            ServiceError::Internal(_) => "internal",
        }
    }

    pub(crate) fn invalid(code: &'static str, message: impl Into<String>) -> Self {
        ServiceError::Invalid {
            code,
            message: message.into(),
        }
    }
    pub(crate) fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        ServiceError::Conflict {
            code,
            message: message.into(),
        }
    }
    pub(crate) fn forbidden(code: &'static str, message: impl Into<String>) -> Self {
        ServiceError::Forbidden {
            code,
            message: message.into(),
        }
    }
}

impl From<StoreError> for ServiceError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => ServiceError::NotFound("record"),
            StoreError::Conflict(what) if what == "email" => ServiceError::conflict(
                "email_taken",
                "an account with this email address already exists",
            ),
            StoreError::Conflict(_) => {
                ServiceError::conflict("duplicate", "this record already exists")
            }
            other => ServiceError::Internal(other),
        }
    }
}

impl From<TransitionError> for ServiceError {
    fn from(e: TransitionError) -> Self {
        ServiceError::Conflict {
            code: e.code(),
            message: e.to_string(),
        }
    }
}

/// Result of a use case.
pub type ServiceResult<T> = Result<T, ServiceError>;
