//! Restoration through support, the requester's side (PRODUCT.md §8): someone who lost their
//! password asks for their account back without logging in. The request form answers alike
//! whether or not the address has an account; the request is then known to this browser by a
//! cookie holding its id and token (never in an address, where logs and history would keep
//! it); its page shows the status in words and takes the eight-digit code from the mail.

use super::account::Done;
use super::guard::{self, FORM_COOKIE_MAX_AGE, Fields, PageQuery, RESTORE_FORM_COOKIE};
use super::view::{self, Layout, render, see_other};
use crate::AppState;
use crate::cookies::{self, Cookie};
use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::Response;
use hiatus_service::ServiceError;
use hiatus_service::restoration::RestorationStatus;

/// The cookie that remembers this browser's request: `id.token`.
pub const REQUEST_COOKIE: &str = "hiatus_restore";

/// The request this browser made, if it holds one: (id, token).
fn request_of(parts: &Parts) -> Option<(String, String)> {
    let v = guard::cookie(parts, REQUEST_COOKIE)?;
    let (id, token) = v.split_once('.')?;
    Some((id.to_string(), token.to_string()))
}

fn forget_request(res: &mut Response) {
    cookies::set(res, cookies::forget(REQUEST_COOKIE, "/restore"));
}

/// The layout of a restoration page: a logged-in member's own, or, for everyone else, one
/// whose forms are bound to this browser by a cookie (returned when it must be set).
async fn layout(s: &AppState, parts: &Parts) -> (Layout, Option<Cookie<'static>>) {
    if let Some(m) = guard::maybe_member(s, parts).await {
        return (Layout::member(&m, ""), None);
    }
    let existing = guard::cookie(parts, RESTORE_FORM_COOKIE);
    let value = existing
        .clone()
        .unwrap_or_else(|| uuid::Uuid::new_v4().simple().to_string());
    let l = Layout::anonymous(guard::restore_token(s, &value));
    let set = existing
        .is_none()
        .then(|| cookies::strict(RESTORE_FORM_COOKIE, value, "/restore", FORM_COOKIE_MAX_AGE));
    (l, set)
}

#[derive(Template)]
#[template(path = "restore.html")]
struct RequestPage {
    l: Layout,
    email: String,
    explanation: String,
    error: Option<String>,
    has_request: bool,
}

async fn request_form(
    s: &AppState,
    parts: &Parts,
    status: StatusCode,
    email: String,
    explanation: String,
    error: Option<String>,
) -> Response {
    let (l, set) = layout(s, parts).await;
    let mut res = render(
        status,
        RequestPage {
            l,
            email,
            explanation,
            error,
            has_request: request_of(parts).is_some(),
        },
    );
    if let Some(c) = set {
        cookies::set(&mut res, c);
    }
    res
}

/// GET /restore: the request form.
pub async fn page(State(s): State<AppState>, parts: Parts) -> Response {
    request_form(
        &s,
        &parts,
        StatusCode::OK,
        String::new(),
        String::new(),
        None,
    )
    .await
}

/// POST /restore: makes the request, remembers it in this browser, shows its status.
pub async fn request(State(s): State<AppState>, parts: Parts, f: Fields) -> Response {
    let email = f.get("email").unwrap_or("").to_string();
    let explanation = f.get("explanation").unwrap_or("").to_string();
    if email.is_empty() {
        return request_form(
            &s,
            &parts,
            StatusCode::UNPROCESSABLE_ENTITY,
            email,
            explanation,
            Some("Enter the email address of your account.".into()),
        )
        .await;
    }
    match s.hiatus.request_restoration(&email, &explanation).await {
        Ok(ticket) => {
            let max_age = ((ticket.expires_at - s.hiatus.now()) / 1_000_000).max(0);
            let mut res = see_other("/restore/status");
            cookies::set(
                &mut res,
                cookies::strict(
                    REQUEST_COOKIE,
                    format!("{}.{}", ticket.id, ticket.token),
                    "/restore",
                    max_age,
                ),
            );
            res
        }
        Err(ServiceError::Invalid { message, .. }) => {
            request_form(
                &s,
                &parts,
                StatusCode::UNPROCESSABLE_ENTITY,
                email,
                explanation,
                Some(view::capitalized(&message)),
            )
            .await
        }
        Err(e) => view::failure(layout(&s, &parts).await.0, e, "/restore"),
    }
}

#[derive(Template)]
#[template(path = "restore_status.html")]
struct StatusPage {
    l: Layout,
    st: RestorationStatus,
    words: &'static str,
    awaiting: bool,
    created: String,
    expires: String,
    decided: Option<String>,
    error: Option<String>,
}

/// A request's status in words.
fn status_words(status: &str) -> &'static str {
    match status {
        "awaiting_code" => "Waiting for the code from the email",
        "verified" => "Code confirmed — waiting for a support agent",
        "approved" => "Approved",
        "denied" => "Denied",
        _ => "Ended",
    }
}

async fn status_view(
    s: &AppState,
    parts: &Parts,
    status: StatusCode,
    ok: Option<&str>,
    error: Option<String>,
) -> Response {
    let Some((id, token)) = request_of(parts) else {
        return see_other("/restore");
    };
    let (l, set) = layout(s, parts).await;
    let l = l.with_notice(ok);
    let mut res = match s.hiatus.restoration_status(&id, &token).await {
        Ok(st) => render(
            status,
            StatusPage {
                words: status_words(&st.status),
                awaiting: st.status == "awaiting_code" && st.attempts_left > 0,
                created: view::time(st.created_at),
                expires: view::time(st.expires_at),
                decided: st.decided_at.map(view::time),
                st,
                l,
                error,
            },
        ),
        Err(ServiceError::NotFound(_)) => {
            // The request is gone (erased with its account, or the cookie is not ours): the
            // cookie is of no more use.
            let mut res = view::message(
                StatusCode::NOT_FOUND,
                l,
                "This request is not known",
                "It may have ended. You can make a new request.",
                Some(("/restore", "Ask support to restore your account")),
            );
            forget_request(&mut res);
            res
        }
        Err(e) => view::failure(l, e, "/restore"),
    };
    if let Some(c) = set {
        cookies::set(&mut res, c);
    }
    res
}

/// GET /restore/status: the status of this browser's request.
pub async fn status(
    State(s): State<AppState>,
    PageQuery(q): PageQuery<Done>,
    parts: Parts,
) -> Response {
    status_view(&s, &parts, StatusCode::OK, q.ok.as_deref(), None).await
}

/// POST /restore/code: the eight digits from the mail.
pub async fn code(State(s): State<AppState>, parts: Parts, f: Fields) -> Response {
    let Some((id, token)) = request_of(&parts) else {
        return see_other("/restore");
    };
    let code = f.get("code").unwrap_or("");
    let again = async |status, msg: String| status_view(&s, &parts, status, None, Some(msg)).await;
    if code.is_empty() || code.len() > 32 {
        return again(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Enter the eight digits from the email.".into(),
        )
        .await;
    }
    match s.hiatus.verify_restoration_code(&id, &token, code).await {
        Ok(_) => see_other("/restore/status?ok=code_confirmed"),
        Err(
            ServiceError::Invalid { message, .. }
            | ServiceError::Gone { message, .. }
            | ServiceError::Conflict { message, .. },
        ) => {
            again(
                StatusCode::UNPROCESSABLE_ENTITY,
                view::capitalized(&message),
            )
            .await
        }
        Err(e) => view::failure(layout(&s, &parts).await.0, e, "/restore/status"),
    }
}
