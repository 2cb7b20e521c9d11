//! Who is asking, and whether a posted form really came from our own page.
//!
//! Form tokens: each page form carries a token derived by HMAC from the session's id under a
//! key derived from the server's master key, so it is different for every session, useless
//! after logout, and needs no storage. The login form has no session yet: it gets a random
//! value in a short-lived cookie and, in the form, the HMAC of that value; so do the pages of a
//! restoration request and the sign-up pages, each with a cookie of their own. A posted form is
//! checked in middleware before any handler runs, so no handler can forget it.

use super::view::{self, Layout};
use crate::AppState;
use crate::extract::token_of;
use axum::body::{Body, Bytes};
use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use hiatus_service::Actor;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// The hidden field of every page form.
pub const FORM_FIELD: &str = "csrf";
/// The cookie that binds the login form to the browser that loaded it.
pub const LOGIN_COOKIE: &str = "hiatus_login";
/// The cookie that binds the restoration request form (no session either) to its browser.
pub const RESTORE_FORM_COOKIE: &str = "hiatus_restore_form";
/// The cookie that binds the sign-up and address confirmation forms to their browser.
pub const SIGNUP_FORM_COOKIE: &str = "hiatus_signup_form";
/// How long a form cookie lasts, in seconds: two hours to fill in the form.
pub const FORM_COOKIE_MAX_AGE: i64 = 7200;
/// The largest form the pages accept.
const FORM_LIMIT: usize = 64 * 1024;

fn mac(s: &AppState, purpose: &str, value: &str) -> String {
    let key = s.hiatus.keys.derive_secret("page form token");
    let mut m = <Hmac<Sha256> as KeyInit>::new_from_slice(&key[..])
        .expect("HMAC takes a key of any length");
    m.update(purpose.as_bytes());
    m.update(b"\0");
    m.update(value.as_bytes());
    hex::encode(m.finalize().into_bytes())
}

/// The form token of a session.
pub fn session_token(s: &AppState, actor: &Actor) -> String {
    mac(s, "session", &actor.session_id)
}

/// The form token of the login form loaded with `cookie`.
pub fn login_token(s: &AppState, cookie: &str) -> String {
    mac(s, "login", cookie)
}

/// The form token of the restoration pages' forms loaded with `cookie`.
pub fn restore_token(s: &AppState, cookie: &str) -> String {
    mac(s, "restore", cookie)
}

/// The form token of the sign-up pages' forms loaded with `cookie`.
pub fn signup_token(s: &AppState, cookie: &str) -> String {
    mac(s, "signup", cookie)
}

/// The tokens a form posted without a session may carry: one per form cookie the browser
/// holds (each cookie only reaches its own pages).
fn anonymous_tokens(s: &AppState, parts: &Parts) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(c) = cookie(parts, LOGIN_COOKIE) {
        out.push(login_token(s, &c));
    }
    if let Some(c) = cookie(parts, RESTORE_FORM_COOKIE) {
        out.push(restore_token(s, &c));
    }
    if let Some(c) = cookie(parts, SIGNUP_FORM_COOKIE) {
        out.push(signup_token(s, &c));
    }
    out
}

/// Compares without stopping at the first difference.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// A page cookie's value; an empty one counts as none.
pub fn cookie(parts: &Parts, name: &str) -> Option<String> {
    crate::cookies::read(&parts.headers, name).filter(|v| !v.is_empty())
}

/// The fields of a posted form, already checked for the form token.
#[derive(Clone, Debug, Default)]
pub struct Fields(Vec<(String, String)>);

impl Fields {
    /// The first value of a field, trimmed; none when missing or blank.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.trim())
            .filter(|v| !v.is_empty())
    }

    /// The first value of a field exactly as sent (passwords keep their spaces).
    pub fn raw(&self, name: &str) -> &str {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .unwrap_or("")
    }

    /// Every value of a repeated field (checkboxes).
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// Whether a checkbox was ticked.
    pub fn checked(&self, name: &str) -> bool {
        self.get(name).is_some()
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Fields {
    type Rejection = Response;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        // Only the middleware puts them there, after checking the token; a route without it
        // gets nothing, never unchecked fields.
        parts.extensions.get::<Fields>().cloned().ok_or_else(|| {
            view::message(
                StatusCode::FORBIDDEN,
                Layout::anonymous(String::new()),
                "This form cannot be accepted",
                "Open the page again and submit its form from there.",
                Some(("/account", "Your account")),
            )
        })
    }
}

fn refused(status: StatusCode, title: &str, text: &str) -> Response {
    view::message(
        status,
        Layout::anonymous(String::new()),
        title,
        text,
        Some(("/account", "Go to your account")),
    )
}

/// Checks the form token of every POST and hands the parsed fields to the handler.
pub async fn check_form_token(State(s): State<AppState>, req: Request, next: Next) -> Response {
    if req.method() != Method::POST {
        return next.run(req).await;
    }
    let (mut parts, body) = req.into_parts();
    // The form token already ties a form to its session; this refuses a foreign page's post
    // before anything is read, as a second line.
    if crate::extract::foreign_form_post(&parts) {
        return refused(
            StatusCode::FORBIDDEN,
            "This form cannot be accepted",
            "It was sent from another site. Nothing was changed. Open the page again and submit its form from there.",
        );
    }
    let Ok(bytes) = axum::body::to_bytes(body, FORM_LIMIT).await else {
        return refused(
            StatusCode::PAYLOAD_TOO_LARGE,
            "Too much text",
            "The form was larger than this page accepts. Shorten the text and try again.",
        );
    };
    let Ok(pairs) = serde_urlencoded::from_bytes::<Vec<(String, String)>>(&bytes) else {
        return refused(
            StatusCode::BAD_REQUEST,
            "This form could not be read",
            "Open the page again and submit its form from there.",
        );
    };
    let fields = Fields(pairs);
    let expected = match token_of(&parts) {
        Some((token, _)) => match s.hiatus.authenticate(&token).await {
            Ok(actor) => vec![session_token(&s, &actor)],
            Err(_) => anonymous_tokens(&s, &parts),
        },
        None => anonymous_tokens(&s, &parts),
    };
    let sent = fields.raw(FORM_FIELD);
    // Every candidate is compared, so the time taken does not tell which one matched.
    let matched = expected.iter().fold(false, |acc, e| same(e, sent) | acc);
    if !matched || sent.is_empty() {
        return refused(
            StatusCode::FORBIDDEN,
            "This form cannot be accepted",
            "It did not come from a page of this site, or it was opened in an earlier session. Nothing was changed. Open the page again and submit its form from there.",
        );
    }
    parts.extensions.insert(fields);
    next.run(Request::from_parts(parts, Body::from(Bytes::clone(&bytes))))
        .await
}

/// A query string read leniently: pages read it only for choices already made and for the
/// confirmation to show, so a malformed one is treated as empty (the page then asks again)
/// instead of failing.
pub struct PageQuery<T>(pub T);

impl<S: Send + Sync, T: serde::de::DeserializeOwned + Default> FromRequestParts<S>
    for PageQuery<T>
{
    type Rejection = std::convert::Infallible;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let q = parts.uri.query().unwrap_or("");
        Ok(PageQuery(serde_urlencoded::from_str(q).unwrap_or_default()))
    }
}

/// Limits password attempts per address on the pages that take a password.
pub async fn attempts(State(s): State<AppState>, req: Request, next: Next) -> Response {
    if req.method() == Method::POST
        && let Some(ip) = crate::client::of_request(&req, &s.options.trusted_proxies)
        && let Err(wait) = s.limiter.hit(ip)
    {
        let mut res = refused(
            StatusCode::TOO_MANY_REQUESTS,
            "Too many attempts",
            &format!("Please wait {wait} seconds, then try again."),
        );
        if let Ok(v) = axum::http::HeaderValue::from_str(&wait.to_string()) {
            res.headers_mut().insert(axum::http::header::RETRY_AFTER, v);
        }
        return res;
    }
    next.run(req).await
}

/// The logged-in member of a page request; anyone else is sent to the login page.
pub struct Member {
    pub actor: Actor,
    /// The form token for this session's forms.
    pub csrf: String,
}

impl FromRequestParts<AppState> for Member {
    type Rejection = Response;
    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let Some((token, _)) = token_of(parts) else {
            return Err(view::see_other("/login"));
        };
        match state.hiatus.authenticate(&token).await {
            Ok(actor) => Ok(Member {
                csrf: session_token(state, &actor),
                actor,
            }),
            Err(hiatus_service::ServiceError::Unauthorized) => Err(view::see_other("/login")),
            Err(e) => Err(view::failure(Layout::anonymous(String::new()), e, "/login")),
        }
    }
}

/// The logged-in member, if any (for the login page).
pub async fn maybe_member(state: &AppState, parts: &Parts) -> Option<Member> {
    let (token, _) = token_of(parts)?;
    let actor = state.hiatus.authenticate(&token).await.ok()?;
    Some(Member {
        csrf: session_token(state, &actor),
        actor,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comparison_needs_equal_strings() {
        assert!(same("abc", "abc"));
        assert!(!same("abc", "abd"));
        assert!(!same("abc", "ab"));
        assert!(!same("", "a"));
    }

    #[test]
    fn fields_keep_repeats_and_trim() {
        let f = Fields(vec![
            ("client".into(), "a".into()),
            ("client".into(), "b".into()),
            ("name".into(), "  x ".into()),
            ("blank".into(), "  ".into()),
        ]);
        assert_eq!(f.all("client"), vec!["a", "b"]);
        assert_eq!(f.get("name"), Some("x"));
        assert_eq!(f.get("blank"), None);
        assert_eq!(f.raw("name"), "  x ");
        assert!(!f.checked("missing"));
    }
}
