//! Extractors that turn every malformed request into a problem response, and the caller's
//! identity from a bearer token or the session cookie.

use crate::AppState;
use crate::problem::ApiError;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use hiatus_service::{Actor, ServiceError};
use serde::de::DeserializeOwned;

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "hiatus_session";

/// A JSON body; malformed JSON, wrong types and oversized bodies become problems.
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;
    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(ApiJson(v)),
            Err(r) => Err(json_rejection(r)),
        }
    }
}

fn json_rejection(r: JsonRejection) -> ApiError {
    let status = r.status();
    let (code, detail) = match &r {
        JsonRejection::MissingJsonContentType(_) => (
            "unsupported_media_type",
            "send the body as JSON with Content-Type: application/json".to_string(),
        ),
        JsonRejection::JsonSyntaxError(_) => (
            "malformed_json",
            format!("the body is not valid JSON: {}", r.body_text()),
        ),
        JsonRejection::JsonDataError(_) => (
            "invalid_body",
            format!(
                "the body does not have the expected fields and types: {}",
                r.body_text()
            ),
        ),
        _ if status == StatusCode::PAYLOAD_TOO_LARGE => {
            ("body_too_large", "the body is too large".to_string())
        }
        _ => ("invalid_body", r.body_text()),
    };
    let status = if status == StatusCode::UNPROCESSABLE_ENTITY {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        status
    };
    ApiError::new(status, code, detail)
}

/// A path parameter; a malformed id is a 404 (it names no record), never a 500.
pub struct ApiPath<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(v)) => Ok(ApiPath(v)),
            Err(PathRejection::FailedToDeserializePathParams(e)) => Err(ApiError::new(
                StatusCode::NOT_FOUND,
                "not_found",
                format!("no such record: {}", e.body_text()),
            )),
            Err(e) => Err(ApiError::bad_request("invalid_path", e.body_text())),
        }
    }
}

/// A query string; malformed values become a 400.
pub struct ApiQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(v)) => Ok(ApiQuery(v)),
            Err(QueryRejection::FailedToDeserializeQueryString(e)) => {
                Err(ApiError::bad_request("invalid_query", e.body_text()))
            }
            Err(e) => Err(ApiError::bad_request("invalid_query", e.body_text())),
        }
    }
}

/// The token of a request: `Authorization: Bearer …`, else the session cookie.
pub fn token_of(parts: &Parts) -> Option<String> {
    if let Some(v) = parts
        .headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    {
        if let Some(t) = v
            .strip_prefix("Bearer ")
            .or_else(|| v.strip_prefix("bearer "))
        {
            return Some(t.trim().to_string());
        }
    }
    for c in parts.headers.get_all(axum::http::header::COOKIE) {
        let Ok(s) = c.to_str() else { continue };
        for pair in s.split(';') {
            if let Some((k, v)) = pair.trim().split_once('=') {
                if k == SESSION_COOKIE {
                    return Some(v.to_string());
                }
            }
        }
    }
    None
}

/// The logged-in caller; 401 otherwise.
pub struct Auth(pub Actor);

impl FromRequestParts<AppState> for Auth {
    type Rejection = ApiError;
    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let token = token_of(parts).ok_or(ServiceError::Unauthorized)?;
        Ok(Auth(state.hiatus.authenticate(&token).await?))
    }
}

/// The caller if logged in.
pub struct MaybeAuth(pub Option<Actor>);

impl FromRequestParts<AppState> for MaybeAuth {
    type Rejection = ApiError;
    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        match token_of(parts) {
            None => Ok(MaybeAuth(None)),
            Some(t) => match state.hiatus.authenticate(&t).await {
                Ok(a) => Ok(MaybeAuth(Some(a))),
                Err(ServiceError::Unauthorized) => Ok(MaybeAuth(None)),
                Err(e) => Err(e.into()),
            },
        }
    }
}
