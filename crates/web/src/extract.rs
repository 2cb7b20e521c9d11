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

/// The cookie that carries a login's device token (see [`device_token`]).
pub const DEVICE_COOKIE: &str = "hiatus_device";

/// The header in which API clients send back the `device_token` of an earlier login.
pub const DEVICE_HEADER: &str = "x-device-token";

/// How long a browser keeps the device token: a year.
pub const DEVICE_MAX_AGE: i64 = 365 * 24 * 3600;

/// The device token a client sends with a login (header first, then cookie): it shows that
/// this client logged in to the address before, so a flood of wrong passwords from other
/// clients does not block it.
pub fn device_token(parts: &Parts) -> Option<String> {
    if let Some(v) = parts
        .headers
        .get(DEVICE_HEADER)
        .and_then(|v| v.to_str().ok())
    {
        return Some(v.trim().to_string());
    }
    crate::cookies::read(&parts.headers, DEVICE_COOKIE)
}

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

/// The token of a request: `Authorization: Bearer …`, else the session cookie. The flag says
/// whether it came from the cookie (which a browser attaches on its own, so it needs the
/// cross-site check below).
pub fn token_of(parts: &Parts) -> Option<(String, bool)> {
    if let Some(v) = parts
        .headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        && let Some(t) = v
            .strip_prefix("Bearer ")
            .or_else(|| v.strip_prefix("bearer "))
    {
        return Some((t.trim().to_string(), false));
    }
    crate::cookies::read(&parts.headers, SESSION_COOKIE).map(|v| (v, true))
}

/// Refuses a cookie-authenticated, state-changing request that a browser sent from another
/// site (cross-site request forgery). Browsers mark such requests with `Sec-Fetch-Site` and
/// `Origin`; programs such as curl send neither and use their cookie as they please.
fn check_same_origin(parts: &Parts) -> Result<(), ApiError> {
    use axum::http::Method;
    if matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS) {
        return Ok(());
    }
    let h = &parts.headers;
    let forged = || {
        ApiError::new(
            StatusCode::FORBIDDEN,
            "cross_site_request",
            "this request came from another site; repeat it from hiatus itself",
        )
    };
    if let Some(site) = h.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        return if matches!(site, "same-origin" | "none") {
            Ok(())
        } else {
            Err(forged())
        };
    }
    if let Some(origin) = h
        .get(axum::http::header::ORIGIN)
        .and_then(|v| v.to_str().ok())
    {
        let host = h
            .get(axum::http::header::HOST)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let origin_host = origin.split_once("://").map(|(_, rest)| rest).unwrap_or("");
        if origin == "null" || origin_host != host {
            return Err(forged());
        }
    }
    Ok(())
}

/// Whether a posted form came from another site. Forms are checked more strictly than API
/// calls, because a browser posts them with its cookies from any page: `Sec-Fetch-Site` must
/// not say another site; an `Origin` must be this host (`null` only when `Sec-Fetch-Site`
/// vouches for the request); without an `Origin`, a `Referer` must be this host. Older
/// browsers send no `Sec-Fetch-Site`, which is why the other two are checked on their own.
pub fn foreign_form_post(parts: &Parts) -> bool {
    let h = &parts.headers;
    let text = |name: axum::http::HeaderName| h.get(name).and_then(|v| v.to_str().ok());
    let host = text(axum::http::header::HOST).unwrap_or("");
    let same_host = |url: &str| {
        url.split_once("://")
            .map(|(_, rest)| rest.split(['/', '?', '#']).next().unwrap_or(""))
            .is_some_and(|h| !host.is_empty() && h.eq_ignore_ascii_case(host))
    };
    let site = h.get("sec-fetch-site").and_then(|v| v.to_str().ok());
    let vouched = match site {
        Some("same-origin" | "none") => true,
        Some(_) => return true,
        None => false,
    };
    if h.contains_key(axum::http::header::ORIGIN) {
        return match text(axum::http::header::ORIGIN) {
            Some("null") => !vouched,
            Some(origin) => !same_host(origin),
            None => true,
        };
    }
    if h.contains_key(axum::http::header::REFERER) {
        return !text(axum::http::header::REFERER).is_some_and(same_host);
    }
    false
}

/// The logged-in caller; 401 otherwise.
pub struct Auth(pub Actor);

impl FromRequestParts<AppState> for Auth {
    type Rejection = ApiError;
    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let (token, from_cookie) = token_of(parts).ok_or(ServiceError::Unauthorized)?;
        if from_cookie {
            check_same_origin(parts)?;
        }
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
            Some((t, _)) => match state.hiatus.authenticate(&t).await {
                Ok(a) => Ok(MaybeAuth(Some(a))),
                Err(ServiceError::Unauthorized) => Ok(MaybeAuth(None)),
                Err(e) => Err(e.into()),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(method: &str, headers: &[(&str, &str)]) -> Parts {
        let mut b = axum::http::Request::builder()
            .method(method)
            .uri("/api/v1/me/reactivate");
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        b.body(()).unwrap().into_parts().0
    }

    #[test]
    fn cross_site_cookie_requests_are_refused() {
        let host = ("host", "hiatus.example:8080");
        assert!(
            check_same_origin(&parts("POST", &[host, ("origin", "https://evil.example")])).is_err()
        );
        assert!(check_same_origin(&parts("POST", &[host, ("origin", "null")])).is_err());
        assert!(
            check_same_origin(&parts("POST", &[host, ("sec-fetch-site", "cross-site")])).is_err()
        );
        assert!(
            check_same_origin(&parts("DELETE", &[host, ("sec-fetch-site", "same-site")])).is_err()
        );
    }

    #[test]
    fn same_site_reads_and_programs_pass() {
        let host = ("host", "hiatus.example:8080");
        assert!(
            check_same_origin(&parts(
                "POST",
                &[host, ("origin", "https://hiatus.example:8080")]
            ))
            .is_ok()
        );
        assert!(
            check_same_origin(&parts("POST", &[host, ("sec-fetch-site", "same-origin")])).is_ok()
        );
        assert!(
            check_same_origin(&parts("POST", &[host])).is_ok(),
            "curl sends no Origin"
        );
        assert!(
            check_same_origin(&parts("GET", &[host, ("origin", "https://evil.example")])).is_ok()
        );
    }

    #[test]
    fn forms_from_other_sites_are_refused_without_sec_fetch_site() {
        let host = ("host", "hiatus.example:8080");
        for foreign in [
            vec![host, ("origin", "https://evil.example")],
            vec![host, ("origin", "null")],
            vec![host, ("referer", "https://evil.example/page")],
            vec![
                host,
                ("referer", "https://hiatus.example:8080.evil.example/"),
            ],
            vec![host, ("sec-fetch-site", "same-site")],
            vec![
                host,
                ("sec-fetch-site", "same-origin"),
                ("origin", "https://evil.example"),
            ],
        ] {
            assert!(
                foreign_form_post(&parts("POST", &foreign)),
                "{foreign:?} is foreign"
            );
        }
        for own in [
            vec![host],
            vec![host, ("origin", "https://hiatus.example:8080")],
            vec![
                host,
                ("referer", "http://hiatus.example:8080/cancel-deletion/x"),
            ],
            vec![host, ("sec-fetch-site", "same-origin"), ("origin", "null")],
        ] {
            assert!(!foreign_form_post(&parts("POST", &own)), "{own:?} is ours");
        }
    }

    #[test]
    fn bearer_wins_over_cookie() {
        let p = parts(
            "GET",
            &[
                ("authorization", "Bearer abc"),
                ("cookie", "hiatus_session=def"),
            ],
        );
        assert_eq!(token_of(&p), Some(("abc".to_string(), false)));
        let p = parts("GET", &[("cookie", "other=1; hiatus_session=def")]);
        assert_eq!(token_of(&p), Some(("def".to_string(), true)));
    }
}
