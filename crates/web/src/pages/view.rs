//! What every page shares: the layout's data, rendering with a status, redirects after a
//! POST, and errors of the use cases shown as pages in words a person understands.

use super::guard::Member;
use askama::Template;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use hiatus_domain::{Finding, Role};
use hiatus_service::ServiceError;

/// The data of the layout around every page.
pub struct Layout {
    /// The form token of this session (or of the login form).
    pub csrf: String,
    pub signed_in: bool,
    /// A confirmation to show at the top ("Saved."), after a redirect.
    pub notice: Option<&'static str>,
    /// Which part of the site the page belongs to, for the navigation's `aria-current`.
    pub section: &'static str,
    /// Support agents and operators see the support console in the navigation.
    pub staff: bool,
    /// Operators also see the dashboard.
    pub operator: bool,
}

impl Layout {
    /// The layout for a logged-in member.
    pub fn member(m: &Member, section: &'static str) -> Self {
        Self {
            csrf: m.csrf.clone(),
            signed_in: true,
            notice: None,
            section,
            staff: matches!(m.actor.role, Role::Support | Role::Operator),
            operator: m.actor.role == Role::Operator,
        }
    }

    /// The layout for someone not logged in.
    pub fn anonymous(csrf: String) -> Self {
        Self {
            csrf,
            signed_in: false,
            notice: None,
            section: "",
            staff: false,
            operator: false,
        }
    }

    /// Shows the confirmation that belongs to `code` (from `?ok=` after a redirect).
    pub fn with_notice(mut self, code: Option<&str>) -> Self {
        self.notice = code.and_then(notice);
        self
    }
}

/// The fixed confirmations a redirect can ask for; anything else shows nothing, so a link
/// cannot put words of its own on our pages.
fn notice(code: &str) -> Option<&'static str> {
    Some(match code {
        "saved" => "Your changes are saved.",
        "logged_out" => "You are logged out.",
        "reactivated" => {
            "Welcome back: your account is active again, with your previous visibility and availability."
        }
        "deletion_cancelled" => {
            "The deletion is cancelled. Your account is active again, with everything as it was."
        }
        "reauthenticated" => {
            "Password confirmed. For the next few minutes you can confirm sensitive steps without entering it again."
        }
        "signed_out_others" => "Every other session is signed out.",
        "password_changed" => "Your password is changed, and every other session is signed out.",
        "break_started" => "Your break has started.",
        "break_ended" => "Your break has ended: you are available again.",
        "export_requested" => "Your export is being prepared. This page shows its progress.",
        "clients_told" => "Your message is on its way to the clients you chose.",
        "code_confirmed" => "The code is confirmed. A support agent will look at your request.",
        "approved" => "The request is approved: the member gets a link to choose a new password.",
        "denied" => "The request is denied: the member reads your note.",
        _ => return None,
    })
}

/// Renders a template with a status.
pub fn render<T: Template>(status: StatusCode, t: T) -> Response {
    let mut res = askama_web::WebTemplate(t).into_response();
    if res.status() == StatusCode::OK {
        *res.status_mut() = status;
    }
    res
}

/// A page that says one thing: an error, or a short outcome.
#[derive(Template)]
#[template(path = "message.html")]
pub struct MessagePage {
    pub l: Layout,
    pub title: String,
    pub text: String,
    /// Blockers to list (when preflight refused the step).
    pub findings: Vec<Finding>,
    /// Where to go next: (address, words).
    pub next: Option<(String, String)>,
}

/// A page with a title, a sentence and a link onwards.
pub fn message(
    status: StatusCode,
    l: Layout,
    title: &str,
    text: &str,
    next: Option<(&str, &str)>,
) -> Response {
    render(
        status,
        MessagePage {
            l,
            title: title.to_string(),
            text: text.to_string(),
            findings: Vec::new(),
            next: next.map(|(a, b)| (a.to_string(), b.to_string())),
        },
    )
}

/// After a successful POST: see the result at `to`.
pub fn see_other(to: &str) -> Response {
    Redirect::to(to).into_response()
}

/// A use case's error as a page; `back` is where the member can try again.
pub fn failure(l: Layout, e: ServiceError, back: &str) -> Response {
    let back_link = Some((back, "Go back"));
    match e {
        ServiceError::Unauthorized => see_other("/login"),
        ServiceError::BadCredentials => message(
            StatusCode::UNAUTHORIZED,
            l,
            "Not accepted",
            "The email or password is not correct.",
            back_link,
        ),
        ServiceError::ReauthRequired => message(
            StatusCode::FORBIDDEN,
            l,
            "Confirm your password first",
            "This step needs your password again. Enter it on the form and submit once more.",
            back_link,
        ),
        ServiceError::Blocked(pre) => render(
            StatusCode::CONFLICT,
            MessagePage {
                l,
                title: "Something must be resolved first".into(),
                text: "Nothing was changed. Resolve each item below, then try again.".into(),
                findings: pre.blockers,
                next: Some((back.to_string(), "Go back".to_string())),
            },
        ),
        ServiceError::NotFound(what) => message(
            StatusCode::NOT_FOUND,
            l,
            "Not found",
            &format!("There is no such {what}, or it is not yours."),
            back_link,
        ),
        ServiceError::Forbidden { message: m, .. } => {
            message(StatusCode::FORBIDDEN, l, "Not allowed", &m, back_link)
        }
        ServiceError::Conflict { message: m, .. } => message(
            StatusCode::CONFLICT,
            l,
            "That is not possible right now",
            &capitalized(&m),
            back_link,
        ),
        ServiceError::Invalid { message: m, .. } => message(
            StatusCode::UNPROCESSABLE_ENTITY,
            l,
            "Please check what you entered",
            &capitalized(&m),
            back_link,
        ),
        ServiceError::Gone { message: m, .. } => message(
            StatusCode::GONE,
            l,
            "No longer available",
            &capitalized(&m),
            back_link,
        ),
        e @ (ServiceError::RateLimited { .. } | ServiceError::QuotaReached { .. }) => message(
            StatusCode::TOO_MANY_REQUESTS,
            l,
            "Please wait a moment",
            &capitalized(&e.to_string()),
            back_link,
        ),
        ServiceError::Internal(e) => {
            tracing::error!(error = %e, "page failed");
            message(
                StatusCode::INTERNAL_SERVER_ERROR,
                l,
                "Something went wrong",
                "Nothing was changed. Please try again in a moment.",
                back_link,
            )
        }
    }
}

/// Input the page itself refuses before asking the service (a missing choice).
pub fn bad_input(l: Layout, text: &str, back: &str) -> Response {
    message(
        StatusCode::UNPROCESSABLE_ENTITY,
        l,
        "Please check what you entered",
        text,
        Some((back, "Go back")),
    )
}

/// The service's messages start in lower case (they are also API details); a page's
/// sentences start with a capital.
pub fn capitalized(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

/// A date (UTC) as a person reads it.
pub fn date(t: hiatus_domain::Micros) -> String {
    hiatus_service::clock::format_date(t)
}

/// A time (UTC, to the minute) as a person reads it.
pub fn time(t: hiatus_domain::Micros) -> String {
    jiff::Timestamp::from_microsecond(t)
        .map(|ts| ts.strftime("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_else(|_| t.to_string())
}
