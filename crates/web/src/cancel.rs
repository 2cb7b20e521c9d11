//! The page behind the "cancel deletion" link of the deletion emails. Opening the link (GET)
//! only shows what it would do and a button; the button's POST cancels. The link works once,
//! until the deletion is due, and not while someone else is logged in in the same browser.

use crate::AppState;
use crate::extract::token_of;
use axum::extract::{Path, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use hiatus_domain::AccountId;
use hiatus_service::ServiceError;
use hiatus_service::clock::format_date;

pub(crate) fn page(status: StatusCode, title: &str, body: &str) -> Response {
    let html = format!(
        r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="same-origin">
<title>{title} — hiatus</title>
<style>
body {{ font: 16px/1.5 system-ui, sans-serif; max-width: 36rem; margin: 2rem auto; padding: 0 1rem; color: #1b1b1b; }}
h1 {{ font-size: 1.5rem; }}
button {{ font: inherit; padding: .6rem 1.2rem; border: 2px solid #0b57d0; background: #0b57d0; color: #fff; border-radius: 6px; cursor: pointer; }}
button:focus-visible {{ outline: 3px solid #f9ab00; outline-offset: 2px; }}
</style>
</head>
<body>
<main>
<h1>{title}</h1>
{body}
</main>
</body>
</html>
"#
    );
    let mut res = (status, Html(html)).into_response();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'",
        ),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    // Not `no-referrer`: with it, browsers send `Origin: null` on the page's own POST, which
    // could not be told from a forged one. `same-origin` keeps the link out of other sites.
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    res
}

/// The page for a link from an email that cannot be used: not found, spent or expired, for
/// another account, or a failure (logged as `what`, with `fallback` telling what to do).
pub(crate) fn link_problem(e: ServiceError, what: &str, fallback: &str) -> Response {
    match e {
        ServiceError::NotFound(_) => page(
            StatusCode::NOT_FOUND,
            "Link not found",
            "<p>This link does not exist. Check that you copied all of it from the email.</p>",
        ),
        ServiceError::Gone { message, .. } => page(
            StatusCode::GONE,
            "This link has been used or has expired",
            &format!("<p>{}</p>", html_escape(&message)),
        ),
        ServiceError::Forbidden { message, .. } => page(
            StatusCode::FORBIDDEN,
            "This link is for another account",
            &format!("<p>{}</p>", html_escape(&message)),
        ),
        e => {
            tracing::error!(error = %e, "{what} failed");
            page(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Something went wrong",
                &format!("<p>Nothing was changed. {fallback}</p>"),
            )
        }
    }
}

fn problem_page(e: ServiceError) -> Response {
    link_problem(
        e,
        "cancel link",
        "Please try again in a moment, or log in and choose Cancel deletion.",
    )
}

pub(crate) fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The logged-in account of this browser, if any (its session cookie or bearer token).
async fn viewer(s: &AppState, parts: &Parts) -> Option<AccountId> {
    let (token, _) = token_of(parts)?;
    s.hiatus.authenticate(&token).await.ok().map(|a| a.account)
}

/// GET: what the link would do, and the button. Changes nothing.
pub async fn show(State(s): State<AppState>, Path(token): Path<String>) -> Response {
    match s.hiatus.cancel_link_info(&token).await {
        Ok(due) => page(
            StatusCode::OK,
            "Keep your account?",
            &format!(
                r#"<p>Your account is scheduled to be erased for good on <strong>{}</strong>.</p>
<p>Cancel the deletion to keep it: everything stays as it was.</p>
<form method="post" action="/cancel-deletion/{}">
<button type="submit">Cancel the deletion</button>
</form>"#,
                format_date(due),
                html_escape(&token)
            ),
        ),
        Err(e) => problem_page(e),
    }
}

/// POST: cancels the deletion, once.
pub async fn confirm(
    State(s): State<AppState>,
    Path(token): Path<String>,
    parts: Parts,
) -> Response {
    // A form posted from another site carries the browser's cookies but says where it came
    // from (Sec-Fetch-Site, Origin or Referer); the link's own page posts from this origin.
    if crate::extract::foreign_form_post(&parts) {
        return page(
            StatusCode::FORBIDDEN,
            "Not from this site",
            "<p>Open the link from your email and use its button.</p>",
        );
    }
    let who = viewer(&s, &parts).await;
    match s.hiatus.cancel_by_link(&token, who).await {
        Ok(_) => page(
            StatusCode::OK,
            "Your account will not be deleted",
            "<p>The deletion is cancelled and your account is active again, with everything as it was. You can log in as usual.</p>",
        ),
        Err(e) => problem_page(e),
    }
}
