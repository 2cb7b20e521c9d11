//! The page behind the password-reset link an approved restoration mails. Opening the link
//! (GET) only shows the form; its POST sets the new password, once, and ends every session.

use crate::AppState;
use crate::cancel::{html_escape, link_problem, page};
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

fn form(token: &str, error: Option<&str>) -> String {
    let error = error
        .map(|e| format!(r#"<p role="alert"><strong>{}</strong></p>"#, html_escape(e)))
        .unwrap_or_default();
    format!(
        r#"{error}<form method="post" action="/reset-password/{}">
<p><label for="password">New password (at least 10 characters)</label><br>
<input id="password" name="password" type="password" autocomplete="new-password" required minlength="10" maxlength="256"></p>
<p><label for="confirm">The same password again</label><br>
<input id="confirm" name="confirm" type="password" autocomplete="new-password" required minlength="10" maxlength="256"></p>
<button type="submit">Set the new password</button>
</form>"#,
        html_escape(token)
    )
}

fn problem_page(e: ServiceError) -> Response {
    link_problem(e, "password reset", "Please try again in a moment.")
}

/// GET: the form. Changes nothing.
pub async fn show(State(s): State<AppState>, Path(token): Path<String>) -> Response {
    match s.hiatus.password_reset_info(&token).await {
        Ok(until) => page(
            StatusCode::OK,
            "Choose a new password",
            &format!(
                "<p>This link works once, until {}. Setting a new password signs out every session of your account.</p>{}",
                format_date(until),
                form(&token, None)
            ),
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
        return page(
            StatusCode::FORBIDDEN,
            "Not from this site",
            "<p>Open the link from your email and use its form.</p>",
        );
    }
    let again = |status: StatusCode, msg: &str| {
        page(status, "Choose a new password", &form(&token, Some(msg)))
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
        Ok(state) => page(
            StatusCode::OK,
            "Your new password is set",
            match state {
                AccountState::Deactivated => {
                    "<p>Every session was signed out. Log in with the new password: you will be asked whether to reactivate your account.</p>"
                }
                AccountState::DeletionScheduled => {
                    "<p>Every session was signed out. Log in with the new password: your account is scheduled for deletion, and you can cancel it there.</p>"
                }
                _ => "<p>Every session was signed out. Log in with the new password.</p>",
            },
        ),
        Err(ServiceError::Invalid { message, .. }) => {
            again(StatusCode::UNPROCESSABLE_ENTITY, &message)
        }
        Err(e) => problem_page(e),
    }
}
