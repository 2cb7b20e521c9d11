//! Creating an account in the browser: the sign-up form, the "check your mail" page that
//! follows it whatever the address (so the page never tells whether it had an account), and
//! the page the mailed link opens, where the password chosen at sign-up confirms the address
//! and logs in. The forms have no session: a cookie of their own binds them to the browser.

use super::guard::{self, FORM_COOKIE_MAX_AGE, Fields, SIGNUP_FORM_COOKIE};
use super::view::{self, Layout, render, see_other};
use crate::AppState;
use crate::cookies::{self, Cookie};
use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::Response;
use hiatus_domain::AccountKind;
use hiatus_service::clock::format_date;
use hiatus_service::{ServiceError, SignUp};

/// The layout of a sign-up page, whose forms are bound to this browser by a cookie (returned
/// when it must be set).
fn layout(s: &AppState, parts: &Parts) -> (Layout, Option<Cookie<'static>>) {
    let existing = guard::cookie(parts, SIGNUP_FORM_COOKIE);
    let value = existing
        .clone()
        .unwrap_or_else(|| uuid::Uuid::new_v4().simple().to_string());
    let l = Layout::anonymous(guard::signup_token(s, &value));
    let set = existing
        .is_none()
        .then(|| cookies::strict(SIGNUP_FORM_COOKIE, value, "/signup", FORM_COOKIE_MAX_AGE));
    (l, set)
}

fn with_cookie(mut res: Response, set: Option<Cookie<'static>>) -> Response {
    if let Some(c) = set {
        cookies::set(&mut res, c);
    }
    res
}

/// What the sign-up form shows again after a mistake (never the passwords).
#[derive(Default)]
struct Filled {
    email: String,
    legal_name: String,
    display_name: String,
    kind: String,
}

#[derive(Template)]
#[template(path = "signup.html")]
struct SignUpPage {
    l: Layout,
    f: Filled,
    error: Option<String>,
}

fn form(
    s: &AppState,
    parts: &Parts,
    status: StatusCode,
    f: Filled,
    error: Option<String>,
) -> Response {
    let (l, set) = layout(s, parts);
    with_cookie(render(status, SignUpPage { l, f, error }), set)
}

/// GET /signup
pub async fn page(State(s): State<AppState>, parts: Parts) -> Response {
    if guard::maybe_member(&s, &parts).await.is_some() {
        return see_other("/account");
    }
    let f = Filled {
        kind: "freelancer".into(),
        ..Filled::default()
    };
    form(&s, &parts, StatusCode::OK, f, None)
}

/// POST /signup: answered with "check your mail" whatever the address.
pub async fn sign_up(State(s): State<AppState>, parts: Parts, fields: Fields) -> Response {
    let f = Filled {
        email: fields.get("email").unwrap_or("").to_string(),
        legal_name: fields.get("legal_name").unwrap_or("").to_string(),
        display_name: fields.get("display_name").unwrap_or("").to_string(),
        kind: fields.get("kind").unwrap_or("").to_string(),
    };
    let password = fields.raw("password");
    let again = |status, f, msg: &str| form(&s, &parts, status, f, Some(msg.to_string()));
    let Some(kind) = AccountKind::parse(&f.kind) else {
        return again(
            StatusCode::UNPROCESSABLE_ENTITY,
            f,
            "Choose whether you are here to work, to hire, or both.",
        );
    };
    if f.email.is_empty() || password.is_empty() {
        return again(
            StatusCode::UNPROCESSABLE_ENTITY,
            f,
            "Enter your email address and a password.",
        );
    }
    if password != fields.raw("confirm") {
        return again(
            StatusCode::UNPROCESSABLE_ENTITY,
            f,
            "The two passwords are not the same.",
        );
    }
    if let Some(ip) = crate::client::of_parts(&parts, &s.options.trusted_proxies)
        && let Err(wait) = s.signups.hit(ip)
    {
        return again(
            StatusCode::TOO_MANY_REQUESTS,
            f,
            &format!(
                "Too many sign-ups from your network. Please wait {wait} seconds, then try again."
            ),
        );
    }
    let result = s
        .hiatus
        .register(SignUp {
            email: f.email.clone(),
            password: password.to_string(),
            legal_name: f.legal_name.clone(),
            display_name: f.display_name.clone(),
            kind,
            headline: String::new(),
            bio: String::new(),
        })
        .await;
    match result {
        Ok(()) => see_other("/signup/check-your-mail"),
        Err(ServiceError::Invalid { message, .. }) => again(
            StatusCode::UNPROCESSABLE_ENTITY,
            f,
            &view::capitalized(&message),
        ),
        Err(e) => view::failure(layout(&s, &parts).0, e, "/signup"),
    }
}

#[derive(Template)]
#[template(path = "signup_sent.html")]
struct SentPage {
    l: Layout,
}

/// GET /signup/check-your-mail
pub async fn sent() -> Response {
    render(
        StatusCode::OK,
        SentPage {
            l: Layout::anonymous(String::new()),
        },
    )
}

#[derive(Template)]
#[template(path = "signup_confirm.html")]
struct ConfirmPage {
    l: Layout,
    token: String,
    until: String,
    error: Option<String>,
}

fn link_gone(l: Layout) -> Response {
    view::message(
        StatusCode::GONE,
        l,
        "This link does not work any more",
        "It was used already, it expired, or a newer sign-up of the address replaced it (only the newest link works). If you confirmed the address already, log in; otherwise sign up again to get a new link.",
        Some(("/signup", "Sign up again")),
    )
}

/// GET /signup/confirm/{token}: the password form. Changes nothing.
pub async fn confirm_page(
    State(s): State<AppState>,
    Path(token): Path<String>,
    parts: Parts,
) -> Response {
    let (l, set) = layout(&s, &parts);
    let res = match s.hiatus.signup_link_info(&token).await {
        Ok(until) => render(
            StatusCode::OK,
            ConfirmPage {
                l,
                token,
                until: format_date(until),
                error: None,
            },
        ),
        Err(ServiceError::Invalid { .. }) => link_gone(l),
        Err(e) => view::failure(l, e, "/signup"),
    };
    with_cookie(res, set)
}

/// POST /signup/confirm/{token}: confirms with the password and logs in.
pub async fn confirm(
    State(s): State<AppState>,
    Path(token): Path<String>,
    parts: Parts,
    fields: Fields,
) -> Response {
    match s
        .hiatus
        .confirm_signup(&token, fields.raw("password"))
        .await
    {
        Ok(out) => {
            let mut res = super::account::logged_in(&s, out).await;
            cookies::set(&mut res, cookies::forget(SIGNUP_FORM_COOKIE, "/signup"));
            res
        }
        Err(ServiceError::Invalid { .. }) => {
            let (l, set) = layout(&s, &parts);
            // The same answer for a wrong password and for a link that stopped working; the
            // form stays while the link could still work, so a mistyped password can be fixed.
            let res = match s.hiatus.signup_link_info(&token).await {
                Ok(until) => render(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    ConfirmPage {
                        l,
                        token,
                        until: format_date(until),
                        error: Some(
                            "That did not work. Enter the password you chose when you signed up; only the link in the newest sign-up mail works."
                                .into(),
                        ),
                    },
                ),
                Err(_) => link_gone(l),
            };
            with_cookie(res, set)
        }
        Err(e) => view::failure(layout(&s, &parts).0, e, "/signup"),
    }
}
