//! Logging in and out, the account's home page, and coming back: reactivation, cancelling a
//! scheduled deletion, and the page for an account that was erased.

use super::guard::{self, FORM_COOKIE_MAX_AGE, Fields, LOGIN_COOKIE, Member, PageQuery};
use super::view::{self, Layout, render, see_other};
use crate::extract::SESSION_COOKIE;
use crate::{AppState, cookies};
use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::Response;
use hiatus_domain::effects::Landing;
use hiatus_domain::{AccountState, Availability};
use hiatus_service::ServiceError;
use hiatus_service::dashboard::staff_home;
use hiatus_service::lifecycle::AccountView;
use serde::Deserialize;

/// `?ok=` after a redirect.
#[derive(Deserialize, Default)]
pub struct Done {
    pub ok: Option<String>,
}

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    l: Layout,
    email: String,
    error: Option<String>,
}

pub(super) fn where_to(landing: Landing) -> &'static str {
    match landing {
        Landing::Home => "/account",
        Landing::Reactivate => "/account/reactivate",
        Landing::CancelDeletion => "/account/cancel-deletion",
    }
}

/// Where a login lands: the state's own page, or, for staff with nothing to decide about
/// their own account, their console.
pub(super) fn landing_of(actor: &hiatus_service::Actor, landing: Landing) -> &'static str {
    match landing {
        Landing::Home => staff_home(actor).unwrap_or("/account"),
        other => where_to(other),
    }
}

/// Where a new session goes (the landing its state calls for), with its cookies.
pub(super) async fn logged_in(s: &AppState, out: hiatus_service::LoginOutcome) -> Response {
    let max_age = (out.expires_at - s.hiatus.now()) / 1_000_000;
    let to = match s.hiatus.authenticate(&out.token).await {
        Ok(actor) => landing_of(&actor, out.landing),
        Err(_) => where_to(out.landing),
    };
    let mut res = see_other(to);
    for c in crate::cookies::login(out.token, max_age, out.device) {
        cookies::set(&mut res, c);
    }
    res
}

/// The login form, bound to this browser by a cookie.
fn login_form(
    s: &AppState,
    status: StatusCode,
    parts: &Parts,
    email: String,
    error: Option<String>,
    ok: Option<&str>,
) -> Response {
    let existing = guard::cookie(parts, LOGIN_COOKIE);
    let value = existing
        .clone()
        .unwrap_or_else(|| uuid::Uuid::new_v4().simple().to_string());
    let l = Layout::anonymous(guard::login_token(s, &value)).with_notice(ok);
    let mut res = render(status, LoginPage { l, email, error });
    if existing.is_none() {
        cookies::set(
            &mut res,
            cookies::strict(LOGIN_COOKIE, value, "/login", FORM_COOKIE_MAX_AGE),
        );
    }
    res
}

/// GET /login
pub async fn login_page(
    State(s): State<AppState>,
    PageQuery(q): PageQuery<Done>,
    parts: Parts,
) -> Response {
    if let Some(m) = guard::maybe_member(&s, &parts).await {
        let landing = m.actor.effects().login.unwrap_or(Landing::Home);
        return see_other(landing_of(&m.actor, landing));
    }
    login_form(
        &s,
        StatusCode::OK,
        &parts,
        String::new(),
        None,
        q.ok.as_deref(),
    )
}

#[derive(Template)]
#[template(path = "deleted.html")]
struct DeletedPage {
    l: Layout,
}

/// POST /login
pub async fn login(State(s): State<AppState>, parts: Parts, f: Fields) -> Response {
    let email = f.get("email").unwrap_or("").to_string();
    let password = f.raw("password");
    if email.is_empty() || password.is_empty() {
        return login_form(
            &s,
            StatusCode::UNPROCESSABLE_ENTITY,
            &parts,
            email,
            Some("Enter your email address and your password.".into()),
            None,
        );
    }
    let client = crate::client::of_parts(&parts, &s.options.trusted_proxies);
    let device = crate::extract::device_token(&parts);
    match s
        .hiatus
        .login_with_device(&email, password, client, device.as_deref())
        .await
    {
        Ok(out) => {
            let mut res = logged_in(&s, out).await;
            cookies::set(&mut res, cookies::forget(LOGIN_COOKIE, "/login"));
            res
        }
        Err(ServiceError::Forbidden {
            code: "account_deleted",
            ..
        }) => render(
            StatusCode::GONE,
            DeletedPage {
                l: Layout::anonymous(String::new()),
            },
        ),
        Err(ServiceError::BadCredentials) => login_form(
            &s,
            StatusCode::UNAUTHORIZED,
            &parts,
            email,
            Some("Wrong email or password. If you just signed up, open the link we mailed you first.".into()),
            None,
        ),
        Err(e @ ServiceError::RateLimited { .. }) => login_form(
            &s,
            StatusCode::TOO_MANY_REQUESTS,
            &parts,
            email,
            Some(view::capitalized(&e.to_string())),
            None,
        ),
        Err(e) => view::failure(Layout::anonymous(String::new()), e, "/login"),
    }
}

/// GET /account/deleted
pub async fn deleted() -> Response {
    render(
        StatusCode::OK,
        DeletedPage {
            l: Layout::anonymous(String::new()),
        },
    )
}

/// POST /logout
pub async fn logout(State(s): State<AppState>, m: Member, _: Fields) -> Response {
    if let Err(e) = s.hiatus.logout(&m.actor).await {
        return view::failure(Layout::member(&m, ""), e, "/account");
    }
    let mut res = see_other("/login?ok=logged_out");
    cookies::set(&mut res, cookies::forget(SESSION_COOKIE, "/"));
    res
}

#[derive(Template)]
#[template(path = "home.html")]
struct HomePage {
    l: Layout,
    me: AccountView,
    state: &'static str,
    code: &'static str,
    on_break: bool,
    paused_until: Option<String>,
    due: Option<String>,
}

/// A state in words.
pub fn state_words(s: AccountState) -> &'static str {
    match s {
        AccountState::Active => "Active",
        AccountState::Deactivated => "Deactivated",
        AccountState::DeletionScheduled => "Scheduled for deletion",
        AccountState::Deleted => "Deleted",
    }
}

/// GET /account
pub async fn home(State(s): State<AppState>, m: Member, PageQuery(q): PageQuery<Done>) -> Response {
    let l = Layout::member(&m, "account").with_notice(q.ok.as_deref());
    match s.hiatus.me(&m.actor).await {
        Ok(me) => render(
            StatusCode::OK,
            HomePage {
                state: state_words(me.state),
                code: me.state.as_str(),
                on_break: me.state == AccountState::Active
                    && me.settings.availability == Availability::Paused,
                paused_until: me.settings.paused_until.map(view::date),
                due: me.deletion_due_at.map(view::date),
                me,
                l,
            },
        ),
        Err(e) => view::failure(l, e, "/account"),
    }
}

#[derive(Template)]
#[template(path = "reactivate.html")]
struct ReactivatePage {
    l: Layout,
}

/// GET /account/reactivate: where a deactivated member lands after logging in.
pub async fn reactivate_page(m: Member) -> Response {
    if m.actor.state != AccountState::Deactivated {
        return see_other("/account");
    }
    render(
        StatusCode::OK,
        ReactivatePage {
            l: Layout::member(&m, "account"),
        },
    )
}

/// POST /account/reactivate
pub async fn reactivate(State(s): State<AppState>, m: Member, _: Fields) -> Response {
    match s.hiatus.reactivate(&m.actor).await {
        Ok(_) => see_other("/account?ok=reactivated"),
        Err(e) => view::failure(Layout::member(&m, "account"), e, "/account"),
    }
}

#[derive(Template)]
#[template(path = "cancel_deletion.html")]
struct CancelPage {
    l: Layout,
    due: String,
}

/// GET /account/cancel-deletion: where a member with a scheduled deletion lands.
pub async fn cancel_page(State(s): State<AppState>, m: Member) -> Response {
    if m.actor.state != AccountState::DeletionScheduled {
        return see_other("/account");
    }
    let l = Layout::member(&m, "account");
    match s.hiatus.me(&m.actor).await {
        Ok(me) => render(
            StatusCode::OK,
            CancelPage {
                l,
                due: me.deletion_due_at.map(view::date).unwrap_or_default(),
            },
        ),
        Err(e) => view::failure(l, e, "/account"),
    }
}

/// POST /account/cancel-deletion
pub async fn cancel(State(s): State<AppState>, m: Member, _: Fields) -> Response {
    match s.hiatus.cancel_deletion(&m.actor).await {
        Ok(_) => see_other("/account?ok=deletion_cancelled"),
        Err(e) => view::failure(Layout::member(&m, "account"), e, "/account"),
    }
}
