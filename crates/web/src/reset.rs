//! The page behind the password-reset link an approved restoration mails. Opening the link
//! (GET) only shows the form; its POST sets the new password, once, and ends every session.

use crate::AppState;
use crate::link_page::{link_problem, message, render};
use askama::Template;
use axum::Form;
use axum::extract::rejection::FormRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::Response;
use hiatus_domain::AccountState;
use hiatus_service::ServiceError;
use hiatus_service::clock::format_date;
use serde::Deserialize;

/// The form, with the link's deadline on a first visit or what went wrong after a post.
#[derive(Template)]
#[template(path = "reset_link.html")]
struct ResetPage<'a> {
    title: &'static str,
    token: &'a str,
    until: Option<String>,
    error: Option<&'a str>,
}

impl<'a> ResetPage<'a> {
    fn new(token: &'a str) -> Self {
        Self {
            title: "Choose a new password",
            token,
            until: None,
            error: None,
        }
    }
}

fn problem_page(e: ServiceError) -> Response {
    link_problem(e, "password reset", "Please try again in a moment.")
}

/// GET: the form. Changes nothing.
pub async fn show(State(s): State<AppState>, Path(token): Path<String>) -> Response {
    match s.hiatus.password_reset_info(&token).await {
        Ok(until) => render(
            StatusCode::OK,
            ResetPage {
                until: Some(format_date(until)),
                ..ResetPage::new(&token)
            },
        ),
        Err(e) => problem_page(e),
    }
}

/// The form's fields.
#[derive(Deserialize)]
pub struct ResetForm {
    password: String,
    confirm: String,
}

/// POST: sets the password, once.
pub async fn confirm(
    State(s): State<AppState>,
    Path(token): Path<String>,
    parts: Parts,
    body: Result<Form<ResetForm>, FormRejection>,
) -> Response {
    if crate::extract::foreign_form_post(&parts) {
        return message(
            StatusCode::FORBIDDEN,
            "Not from this site",
            "Open the link from your email and use its form.",
        );
    }
    let again = |status: StatusCode, msg: &str| {
        render(
            status,
            ResetPage {
                error: Some(msg),
                ..ResetPage::new(&token)
            },
        )
    };
    let Ok(Form(f)) = body else {
        return again(
            StatusCode::BAD_REQUEST,
            "Fill in both fields and send the form again.",
        );
    };
    if f.password != f.confirm {
        return again(
            StatusCode::UNPROCESSABLE_ENTITY,
            "The two passwords are not the same.",
        );
    }
    match s.hiatus.reset_password(&token, &f.password).await {
        Ok(state) => message(
            StatusCode::OK,
            "Your new password is set",
            match state {
                AccountState::Deactivated => {
                    "Every session was signed out. Log in with the new password: you will be asked whether to reactivate your account."
                }
                AccountState::DeletionScheduled => {
                    "Every session was signed out. Log in with the new password: your account is scheduled for deletion, and you can cancel it there."
                }
                _ => "Every session was signed out. Log in with the new password.",
            },
        ),
        Err(ServiceError::Invalid { message, .. }) => {
            again(StatusCode::UNPROCESSABLE_ENTITY, &message)
        }
        Err(e) => problem_page(e),
    }
}
