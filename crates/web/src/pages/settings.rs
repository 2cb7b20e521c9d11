//! Settings: contact info (with the way to close the account), profile visibility and
//! availability, notifications, security (re-authentication, sessions, password), breaks.

use super::account::Done;
use super::guard::{Fields, Member, PageQuery};
use super::view::{self, Layout, bad_input, render, see_other};
use crate::AppState;
use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use hiatus_domain::{
    AccountState, Availability, BreakRequest, DAY_MICROS, NotificationMode, Visibility,
};
use hiatus_service::lifecycle::AccountView;

/// GET /settings
pub async fn index() -> Response {
    see_other("/settings/contact")
}

#[derive(Template)]
#[template(path = "settings_contact.html")]
struct ContactPage {
    l: Layout,
    me: AccountView,
    editable: bool,
}

/// GET /settings/contact
pub async fn contact_page(
    State(s): State<AppState>,
    m: Member,
    PageQuery(q): PageQuery<Done>,
) -> Response {
    let l = Layout::member(&m, "settings").with_notice(q.ok.as_deref());
    match s.hiatus.me(&m.actor).await {
        Ok(me) => render(
            StatusCode::OK,
            ContactPage {
                l,
                editable: me.effects.edit_profile,
                me,
            },
        ),
        Err(e) => view::failure(l, e, "/settings/contact"),
    }
}

/// POST /settings/contact: the phone number (blank removes it).
pub async fn contact(State(s): State<AppState>, m: Member, f: Fields) -> Response {
    let phone = f.get("phone").map(str::to_string);
    match s.hiatus.set_phone(&m.actor, phone).await {
        Ok(()) => see_other("/settings/contact?ok=saved"),
        Err(e) => view::failure(Layout::member(&m, "settings"), e, "/settings/contact"),
    }
}

#[derive(Template)]
#[template(path = "settings_profile.html")]
struct ProfilePage {
    l: Layout,
    visibility: &'static str,
    availability: &'static str,
    paused_until: Option<String>,
    editable: bool,
}

/// GET /settings/profile
pub async fn profile_page(
    State(s): State<AppState>,
    m: Member,
    PageQuery(q): PageQuery<Done>,
) -> Response {
    let l = Layout::member(&m, "settings").with_notice(q.ok.as_deref());
    match s.hiatus.me(&m.actor).await {
        Ok(me) => render(
            StatusCode::OK,
            ProfilePage {
                l,
                visibility: me.settings.visibility.as_str(),
                availability: me.settings.availability.as_str(),
                paused_until: me.settings.paused_until.map(view::date),
                editable: me.effects.edit_profile,
            },
        ),
        Err(e) => view::failure(l, e, "/settings/profile"),
    }
}

/// POST /settings/profile
pub async fn profile(State(s): State<AppState>, m: Member, f: Fields) -> Response {
    let l = Layout::member(&m, "settings");
    let Some(visibility) = f.get("visibility").and_then(Visibility::parse) else {
        return bad_input(l, "Choose who can see your profile.", "/settings/profile");
    };
    let Some(availability) = f.get("availability").and_then(Availability::parse) else {
        return bad_input(l, "Choose whether you take new work.", "/settings/profile");
    };
    match s
        .hiatus
        .update_settings(&m.actor, Some(visibility), Some(availability), None)
        .await
    {
        Ok(_) => see_other("/settings/profile?ok=saved"),
        Err(e) => view::failure(l, e, "/settings/profile"),
    }
}

#[derive(Template)]
#[template(path = "settings_notifications.html")]
struct NotificationsPage {
    l: Layout,
    mode: &'static str,
    editable: bool,
}

/// GET /settings/notifications
pub async fn notifications_page(
    State(s): State<AppState>,
    m: Member,
    PageQuery(q): PageQuery<Done>,
) -> Response {
    let l = Layout::member(&m, "settings").with_notice(q.ok.as_deref());
    match s.hiatus.me(&m.actor).await {
        Ok(me) => render(
            StatusCode::OK,
            NotificationsPage {
                l,
                mode: me.settings.notifications.as_str(),
                editable: me.effects.edit_profile,
            },
        ),
        Err(e) => view::failure(l, e, "/settings/notifications"),
    }
}

/// POST /settings/notifications
pub async fn notifications(State(s): State<AppState>, m: Member, f: Fields) -> Response {
    let l = Layout::member(&m, "settings");
    let Some(mode) = f.get("notifications").and_then(NotificationMode::parse) else {
        return bad_input(
            l,
            "Choose how much notification you want.",
            "/settings/notifications",
        );
    };
    match s
        .hiatus
        .update_settings(&m.actor, None, None, Some(mode))
        .await
    {
        Ok(_) => see_other("/settings/notifications?ok=saved"),
        Err(e) => view::failure(l, e, "/settings/notifications"),
    }
}

/// A session as the Security page lists it.
struct SessionLine {
    current: bool,
    created: String,
    expires: String,
    password_entered: String,
}

#[derive(Template)]
#[template(path = "settings_security.html")]
struct SecurityPage {
    l: Layout,
    recent: bool,
    sessions: Vec<SessionLine>,
    others: usize,
    error: Option<String>,
}

async fn security(
    s: &AppState,
    m: &Member,
    l: Layout,
    status: StatusCode,
    error: Option<String>,
) -> Response {
    match s.hiatus.my_sessions(&m.actor).await {
        Ok(list) => render(
            status,
            SecurityPage {
                l,
                recent: s.hiatus.recently_reauthenticated(&m.actor),
                others: list.iter().filter(|x| !x.current).count(),
                sessions: list
                    .into_iter()
                    .map(|x| SessionLine {
                        current: x.current,
                        created: view::time(x.created_at),
                        expires: view::date(x.expires_at),
                        // Logging in does not count as entering the password again.
                        password_entered: if x.reauth_at > 0 {
                            view::time(x.reauth_at)
                        } else {
                            "not since logging in".to_string()
                        },
                    })
                    .collect(),
                error,
            },
        ),
        Err(e) => view::failure(l, e, "/settings/security"),
    }
}

/// GET /settings/security
pub async fn security_page(
    State(s): State<AppState>,
    m: Member,
    PageQuery(q): PageQuery<Done>,
) -> Response {
    let l = Layout::member(&m, "settings").with_notice(q.ok.as_deref());
    security(&s, &m, l, StatusCode::OK, None).await
}

/// POST /settings/security/reauth: enter the password again, opening the window in which
/// deactivation and deletion can be confirmed.
pub async fn reauth(State(s): State<AppState>, mut m: Member, f: Fields) -> Response {
    let l = Layout::member(&m, "settings");
    match s
        .hiatus
        .reauthenticate(&mut m.actor, f.raw("password"))
        .await
    {
        Ok(()) => see_other("/settings/security?ok=reauthenticated"),
        Err(hiatus_service::ServiceError::Forbidden { .. }) => {
            security(
                &s,
                &m,
                l,
                StatusCode::FORBIDDEN,
                Some("The password is not correct.".into()),
            )
            .await
        }
        Err(e) => view::failure(l, e, "/settings/security"),
    }
}

/// POST /settings/security/sign-out-others
pub async fn sign_out_others(State(s): State<AppState>, m: Member, _: Fields) -> Response {
    match s.hiatus.logout_others(&m.actor).await {
        Ok(_) => see_other("/settings/security?ok=signed_out_others"),
        Err(e) => view::failure(Layout::member(&m, "settings"), e, "/settings/security"),
    }
}

/// POST /settings/security/password
pub async fn change_password(State(s): State<AppState>, m: Member, f: Fields) -> Response {
    let l = Layout::member(&m, "settings");
    let new = f.raw("new_password");
    if new != f.raw("repeat_password") {
        return security(
            &s,
            &m,
            l,
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("The new password and its repetition differ.".into()),
        )
        .await;
    }
    match s
        .hiatus
        .change_password(&m.actor, f.raw("current_password"), new)
        .await
    {
        Ok(_) => see_other("/settings/security?ok=password_changed"),
        Err(hiatus_service::ServiceError::Forbidden { .. }) => {
            security(
                &s,
                &m,
                l,
                StatusCode::FORBIDDEN,
                Some("The current password is not correct.".into()),
            )
            .await
        }
        Err(hiatus_service::ServiceError::Invalid { message, .. }) => {
            security(
                &s,
                &m,
                l,
                StatusCode::UNPROCESSABLE_ENTITY,
                Some(view::capitalized(&message)),
            )
            .await
        }
        Err(e) => view::failure(l, e, "/settings/security"),
    }
}

#[derive(Template)]
#[template(path = "break.html")]
struct BreakPage {
    l: Layout,
    active: bool,
    on_break: bool,
    paused_until: Option<String>,
    today: String,
}

/// GET /settings/break: the alternative to leaving.
pub async fn break_page(
    State(s): State<AppState>,
    m: Member,
    PageQuery(q): PageQuery<Done>,
) -> Response {
    let l = Layout::member(&m, "settings").with_notice(q.ok.as_deref());
    match s.hiatus.me(&m.actor).await {
        Ok(me) => render(
            StatusCode::OK,
            BreakPage {
                l,
                active: me.state == AccountState::Active,
                on_break: me.settings.availability == Availability::Paused,
                paused_until: me.settings.paused_until.map(view::date),
                today: view::date(s.hiatus.now()),
            },
        ),
        Err(e) => view::failure(l, e, "/settings/break"),
    }
}

/// A `YYYY-MM-DD` date as the end of that day's first microsecond (UTC).
fn parse_day(s: &str) -> Option<i64> {
    let d: jiff::civil::Date = s.parse().ok()?;
    let ts = jiff::tz::Offset::UTC.to_timestamp(d.at(0, 0, 0, 0)).ok()?;
    Some(ts.as_microsecond())
}

/// POST /settings/break
pub async fn start_break(State(s): State<AppState>, m: Member, f: Fields) -> Response {
    let l = Layout::member(&m, "settings");
    let until = match f.get("until") {
        None => None,
        Some(v) => match parse_day(v) {
            // The break ends at the end of the chosen day.
            Some(t) => Some(t + DAY_MICROS - 1),
            None => {
                return bad_input(
                    l,
                    "The end date must be a date like 2026-12-31.",
                    "/settings/break",
                );
            }
        },
    };
    let req = BreakRequest {
        private: f.checked("private"),
        mute: f.checked("mute"),
        until,
    };
    match s.hiatus.start_break(&m.actor, req).await {
        Ok(_) => see_other("/settings/break?ok=break_started"),
        Err(e) => view::failure(l, e, "/settings/break"),
    }
}

/// POST /settings/break/end
pub async fn end_break(State(s): State<AppState>, m: Member, _: Fields) -> Response {
    match s.hiatus.end_break(&m.actor).await {
        Ok(_) => see_other("/settings/break?ok=break_ended"),
        Err(e) => view::failure(Layout::member(&m, "settings"), e, "/settings/break"),
    }
}
