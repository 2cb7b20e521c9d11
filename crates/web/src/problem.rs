//! Errors as `application/problem+json` (RFC 9457) with a stable `code`. The person reads
//! `detail`; programs switch on `code`; internals go to the log only.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use hiatus_domain::Finding;
use hiatus_service::ServiceError;
use serde::Serialize;

/// The body of every error response.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Problem {
    /// A URI naming the kind of problem.
    #[serde(rename = "type")]
    pub kind: String,
    /// A short summary.
    pub title: String,
    /// The HTTP status.
    pub status: u16,
    /// What happened and what to do next.
    pub detail: String,
    /// A stable machine code.
    pub code: String,
    /// Preflight blockers, when the code is `preflight_blocked`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub blockers: Option<Vec<Finding>>,
    /// Seconds to wait, when rate limited.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<u64>,
}

/// An error response.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: String,
    pub detail: String,
    pub blockers: Option<Vec<Finding>>,
    pub retry_after: Option<u64>,
}

impl ApiError {
    /// An error with a status, a code and a message.
    pub fn new(status: StatusCode, code: &str, detail: impl Into<String>) -> Self {
        Self {
            status,
            code: code.to_string(),
            detail: detail.into(),
            blockers: None,
            retry_after: None,
        }
    }
    /// 400 Bad Request.
    pub fn bad_request(code: &str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, detail)
    }
    /// 404 Not Found.
    pub fn not_found(what: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("{what} not found"),
        )
    }
}

impl From<ServiceError> for ApiError {
    fn from(e: ServiceError) -> Self {
        let code = e.code();
        let status = match &e {
            ServiceError::NotFound(_) => StatusCode::NOT_FOUND,
            ServiceError::Unauthorized | ServiceError::BadCredentials => StatusCode::UNAUTHORIZED,
            ServiceError::Forbidden { .. } | ServiceError::ReauthRequired => StatusCode::FORBIDDEN,
            ServiceError::Conflict { .. } | ServiceError::Blocked(_) => StatusCode::CONFLICT,
            ServiceError::Invalid { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            ServiceError::RateLimited { .. } | ServiceError::QuotaReached { .. } => {
                StatusCode::TOO_MANY_REQUESTS
            }
            ServiceError::Gone { .. } => StatusCode::GONE,
            ServiceError::Internal(inner) => {
                tracing::error!(error = %inner, "internal error");
                StatusCode::INTERNAL_SERVER_ERROR
            }
        };
        let mut a = ApiError::new(status, code, e.to_string());
        match e {
            ServiceError::Blocked(p) => {
                a.detail = format!(
                    "{} Resolve {} first.",
                    p.blockers
                        .iter()
                        .map(|b| b.message.as_str())
                        .collect::<Vec<_>>()
                        .join(" "),
                    if p.blockers.len() == 1 { "it" } else { "them" }
                );
                a.blockers = Some(p.blockers);
            }
            ServiceError::RateLimited { retry_after_secs }
            | ServiceError::QuotaReached {
                retry_after_secs, ..
            } => a.retry_after = Some(retry_after_secs),
            ServiceError::Internal(_) => {
                a.detail =
                    "something went wrong on our side; the error was logged. Try again later."
                        .into()
            }
            _ => {}
        }
        a
    }
}

fn title(status: StatusCode) -> String {
    status.canonical_reason().unwrap_or("Error").to_string()
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = Problem {
            kind: format!("https://hiatus.dev/problems/{}", self.code),
            title: title(self.status),
            status: self.status.as_u16(),
            detail: self.detail,
            code: self.code,
            blockers: self.blockers,
            retry_after: self.retry_after,
        };
        let mut res = (self.status, axum::Json(body)).into_response();
        res.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if let Some(s) = self.retry_after
            && let Ok(v) = HeaderValue::from_str(&s.to_string())
        {
            res.headers_mut().insert(header::RETRY_AFTER, v);
        }
        res
    }
}

/// Result of a handler.
pub type ApiResult<T> = Result<T, ApiError>;
