//! The support console (support agents and operators): the restoration queue with approve and
//! deny forms, and a member's audit trail. Who may see it is the service's decision; these
//! handlers only show what it answers. A decision cannot be taken back, so it needs the
//! agent's password from the last few minutes, like closing an account does.

use super::account::state_words;
use super::guard::{Fields, Member, PageQuery};
use super::view::{self, Layout, render, see_other};
use crate::AppState;
use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use hiatus_domain::{AccountId, AccountState};
use hiatus_service::ServiceError;
use hiatus_service::restoration::QueueItem;
use serde::Deserialize;

/// `?show=all`, `?page=N` (from 0) and `?ok=` after a decision.
#[derive(Deserialize, Default)]
pub struct QueueQuery {
    pub show: Option<String>,
    pub page: Option<u32>,
    pub ok: Option<String>,
}

/// A request as the console lists it.
struct Item {
    id: String,
    account_id: String,
    display_name: String,
    email_hint: String,
    account_state: &'static str,
    status: &'static str,
    verified: bool,
    code_attempts: i64,
    explanation: String,
    created: String,
    expires: String,
    decided: Option<String>,
    note: Option<String>,
    open: bool,
}

fn status_words(status: &str) -> &'static str {
    match status {
        "awaiting_code" => "Waiting for the code",
        "verified" => "Ready to decide",
        "approved" => "Approved",
        "denied" => "Denied",
        _ => "Expired",
    }
}

impl From<QueueItem> for Item {
    fn from(q: QueueItem) -> Self {
        Item {
            account_state: AccountState::parse(&q.account_state)
                .map(state_words)
                .unwrap_or("Unknown"),
            status: status_words(&q.status),
            open: matches!(q.status.as_str(), "awaiting_code" | "verified"),
            verified: q.verified,
            code_attempts: q.code_attempts,
            created: view::time(q.created_at),
            expires: view::time(q.expires_at),
            decided: q.decided_at.map(view::time),
            note: q.decision_note,
            id: q.id,
            account_id: q.account_id,
            display_name: q.display_name,
            email_hint: q.email_hint,
            explanation: q.explanation,
        }
    }
}

#[derive(Template)]
#[template(path = "support.html")]
struct QueuePage {
    l: Layout,
    items: Vec<Item>,
    all: bool,
    /// This page (from 0); links to the one before and, with `more`, the one after.
    page: u32,
    more: bool,
    recent: bool,
    error: Option<String>,
    /// The request the error is about.
    error_for: String,
}

async fn queue(
    s: &AppState,
    m: &Member,
    (all, page): (bool, u32),
    status: StatusCode,
    ok: Option<&str>,
    error: Option<(String, String)>,
) -> Response {
    let l = Layout::member(m, "support").with_notice(ok);
    match s.hiatus.support_queue(&m.actor, !all, page).await {
        Ok(q) => {
            let more = q.more;
            let items: Vec<Item> = q.items.into_iter().map(Item::from).collect();
            let (mut error_for, error) = match error {
                Some((id, e)) => (id, Some(e)),
                None => (String::new(), None),
            };
            // An error about a request no longer listed with its forms shows at the top.
            if !items.iter().any(|i| i.open && i.id == error_for) {
                error_for.clear();
            }
            render(
                status,
                QueuePage {
                    l,
                    items,
                    all,
                    page,
                    more,
                    recent: s.hiatus.recently_reauthenticated(&m.actor),
                    error,
                    error_for,
                },
            )
        }
        Err(e) => view::failure(l, e, "/account"),
    }
}

/// GET /support: the restoration queue, open requests first (`?show=all` for every request).
pub async fn page(
    State(s): State<AppState>,
    m: Member,
    PageQuery(q): PageQuery<QueueQuery>,
) -> Response {
    let all = q.show.as_deref() == Some("all");
    let page = q.page.unwrap_or(0);
    queue(&s, &m, (all, page), StatusCode::OK, q.ok.as_deref(), None).await
}

async fn decide(s: AppState, mut m: Member, id: String, f: Fields, approve: bool) -> Response {
    let Some(note) = f.get("note") else {
        return queue(
            &s,
            &m,
            (false, 0),
            StatusCode::UNPROCESSABLE_ENTITY,
            None,
            Some((
                id,
                "Write a note: it is kept with the decision, and a denied member reads it.".into(),
            )),
        )
        .await;
    };
    let note = note.to_string();
    match s
        .hiatus
        .decide_in_console(&mut m.actor, &id, &note, approve, f.raw("password"))
        .await
    {
        Ok(_) => see_other(if approve {
            "/support?ok=approved"
        } else {
            "/support?ok=denied"
        }),
        Err(ServiceError::Forbidden {
            code: "wrong_password",
            ..
        }) => {
            queue(
                &s,
                &m,
                (false, 0),
                StatusCode::FORBIDDEN,
                None,
                Some((id, "The password is not correct.".into())),
            )
            .await
        }
        Err(ServiceError::ReauthRequired) => {
            queue(
                &s,
                &m,
                (false, 0),
                StatusCode::FORBIDDEN,
                None,
                Some((id, "Enter your password to confirm this decision.".into())),
            )
            .await
        }
        Err(
            ServiceError::Conflict { message, .. }
            | ServiceError::Invalid { message, .. }
            | ServiceError::Gone { message, .. },
        ) => {
            queue(
                &s,
                &m,
                (false, 0),
                StatusCode::CONFLICT,
                None,
                Some((id, view::capitalized(&message))),
            )
            .await
        }
        Err(e) => view::failure(Layout::member(&m, "support"), e, "/support"),
    }
}

/// POST /support/requests/{id}/approve
pub async fn approve(
    State(s): State<AppState>,
    Path(id): Path<String>,
    m: Member,
    f: Fields,
) -> Response {
    decide(s, m, id, f, true).await
}

/// POST /support/requests/{id}/deny
pub async fn deny(
    State(s): State<AppState>,
    Path(id): Path<String>,
    m: Member,
    f: Fields,
) -> Response {
    decide(s, m, id, f, false).await
}

/// An audit event as the trail lists it.
struct Event {
    at: String,
    action: String,
    by: String,
    reason: String,
}

#[derive(Template)]
#[template(path = "support_audit.html")]
struct AuditPage {
    l: Layout,
    account: String,
    events: Vec<Event>,
}

/// GET /support/accounts/{id}/audit: a member's audit trail, newest first. The look is
/// recorded on the trail.
pub async fn audit(State(s): State<AppState>, Path(id): Path<String>, m: Member) -> Response {
    let l = Layout::member(&m, "support");
    let Ok(account) = id.parse::<AccountId>() else {
        return view::failure(l, ServiceError::NotFound("member"), "/support");
    };
    match s.hiatus.member_trail(&m.actor, account, 200, 0).await {
        Ok(rows) => {
            let events = rows
                .into_iter()
                .map(|r| Event {
                    at: view::time(r.created_at),
                    by: match r.actor_id {
                        None => "hiatus".into(),
                        Some(a) if a == id => "the member".into(),
                        Some(a) => format!("staff {a}"),
                    },
                    action: r.action,
                    reason: r.reason.unwrap_or_default(),
                })
                .collect();
            render(
                StatusCode::OK,
                AuditPage {
                    l,
                    account: account.to_text(),
                    events,
                },
            )
        }
        Err(e) => view::failure(l, e, "/support"),
    }
}
