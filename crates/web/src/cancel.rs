//! The page behind the "cancel deletion" link of the deletion emails. Opening the link (GET)
//! only shows what it would do and a button; the button's POST cancels. The link works once,
//! until the deletion is due, and not while someone else is logged in in the same browser.

use crate::AppState;
use crate::extract::token_of;
use crate::link_page::{link_problem, message, render};
use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::Response;
use hiatus_domain::AccountId;
use hiatus_service::ServiceError;
use hiatus_service::clock::format_date;

#[derive(Template)]
#[template(path = "cancel_link.html")]
struct CancelLink {
    title: &'static str,
    due: String,
    token: String,
}

fn problem_page(e: ServiceError) -> Response {
    link_problem(
        e,
        "cancel link",
        "Please try again in a moment, or log in and choose Cancel deletion.",
    )
}

/// The logged-in account of this browser, if any (its session cookie or bearer token).
async fn viewer(s: &AppState, parts: &Parts) -> Option<AccountId> {
    let (token, _) = token_of(parts)?;
    s.hiatus.authenticate(&token).await.ok().map(|a| a.account)
}

/// GET: what the link would do, and the button. Changes nothing.
pub async fn show(State(s): State<AppState>, Path(token): Path<String>) -> Response {
    match s.hiatus.cancel_link_info(&token).await {
        Ok(due) => render(
            StatusCode::OK,
            CancelLink {
                title: "Keep your account?",
                due: format_date(due),
                token,
            },
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
        return message(
            StatusCode::FORBIDDEN,
            "Not from this site",
            "Open the link from your email and use its button.",
        );
    }
    let who = viewer(&s, &parts).await;
    match s.hiatus.cancel_by_link(&token, who).await {
        Ok(_) => message(
            StatusCode::OK,
            "Your account will not be deleted",
            "The deletion is cancelled and your account is active again, with everything as it was. You can log in as usual.",
        ),
        Err(e) => problem_page(e),
    }
}
