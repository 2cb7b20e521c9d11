//! The closing flow (Settings → Contact info → Close my account): choose, preflight, back up,
//! tell your clients, reason, confirm, receipt. Every step but the last two only reads; the
//! choices travel in the address (`?intent=…&reason=…`), so the flow needs no stored draft
//! and works without JavaScript. The service enforces every rule again at the confirmation.

use super::account::state_words;
use super::export::ExportLine;
use super::guard::{Fields, Member, PageQuery};
use super::view::{self, Layout, render, see_other};
use crate::AppState;
use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use hiatus_domain::preflight::{FindingCode, Intent};
use hiatus_domain::{AccountId, AccountState, ClosureReason, Finding};
use hiatus_service::ServiceError;
use hiatus_service::erasure::{CONFIRMATION, DeleteRequest};
use hiatus_service::lifecycle::CloseRequest;
use hiatus_service::notices::TellClients;
use serde::Deserialize;

/// The choices made so far, from the address.
#[derive(Deserialize, Default)]
pub struct Flow {
    intent: Option<String>,
    ack: Option<String>,
    reason: Option<String>,
    detail: Option<String>,
    ok: Option<String>,
}

fn intent_of(s: Option<&str>) -> Option<Intent> {
    match s? {
        "deactivate" => Some(Intent::Deactivate),
        "delete" => Some(Intent::Delete),
        _ => None,
    }
}

fn intent_code(i: Intent) -> &'static str {
    match i {
        Intent::Deactivate => "deactivate",
        Intent::Delete => "delete",
    }
}

#[derive(Template)]
#[template(path = "close_choose.html")]
struct ChoosePage {
    l: Layout,
    state: &'static str,
    active: bool,
    can_delete: bool,
}

/// GET /settings/close: break, deactivate or delete, side by side.
pub async fn choose(m: Member) -> Response {
    if m.actor.state == AccountState::DeletionScheduled {
        return see_other("/account/cancel-deletion");
    }
    render(
        StatusCode::OK,
        ChoosePage {
            l: Layout::member(&m, "settings"),
            state: state_words(m.actor.state),
            active: m.actor.state == AccountState::Active,
            can_delete: matches!(
                m.actor.state,
                AccountState::Active | AccountState::Deactivated
            ),
        },
    )
}

#[derive(Template)]
#[template(path = "close_preflight.html")]
struct PreflightPage {
    l: Layout,
    intent: &'static str,
    deleting: bool,
    blockers: Vec<Finding>,
    warnings: Vec<Finding>,
}

/// GET /settings/close/preflight?intent=…
pub async fn preflight(
    State(s): State<AppState>,
    m: Member,
    PageQuery(q): PageQuery<Flow>,
) -> Response {
    let Some(intent) = intent_of(q.intent.as_deref()) else {
        return see_other("/settings/close");
    };
    let l = Layout::member(&m, "settings");
    match s.hiatus.preflight(&m.actor, intent, None).await {
        Ok(p) => render(
            StatusCode::OK,
            PreflightPage {
                l,
                intent: intent_code(intent),
                deleting: intent == Intent::Delete,
                blockers: p.blockers,
                warnings: p.warnings,
            },
        ),
        Err(e) => view::failure(l, e, "/settings/close"),
    }
}

#[derive(Template)]
#[template(path = "close_backup.html")]
struct BackupPage {
    l: Layout,
    intent: &'static str,
    latest: Option<ExportLine>,
    current: bool,
}

/// GET /settings/close/backup?intent=…&ack=1
pub async fn backup(
    State(s): State<AppState>,
    m: Member,
    PageQuery(q): PageQuery<Flow>,
) -> Response {
    let Some(intent) = intent_of(q.intent.as_deref()) else {
        return see_other("/settings/close");
    };
    let back = format!("/settings/close/preflight?intent={}", intent_code(intent));
    let l = Layout::member(&m, "settings").with_notice(q.ok.as_deref());
    let pre = match s.hiatus.preflight(&m.actor, intent, None).await {
        Ok(p) => p,
        Err(e) => return view::failure(l, e, &back),
    };
    // The flow goes on only past a clean preflight whose warnings were acknowledged.
    if !pre.can_proceed() || (!pre.warnings.is_empty() && q.ack.is_none()) {
        return see_other(&back);
    }
    let exports = match s.hiatus.my_exports(&m.actor).await {
        Ok(x) => x,
        Err(e) => return view::failure(l, e, &back),
    };
    render(
        StatusCode::OK,
        BackupPage {
            l,
            intent: intent_code(intent),
            latest: exports.first().map(ExportLine::of),
            current: !pre
                .warnings
                .iter()
                .any(|w| w.code == FindingCode::NoCurrentExport),
        },
    )
}

/// POST /settings/close/backup/skip: go on without a copy; recorded.
pub async fn skip_backup(State(s): State<AppState>, m: Member, f: Fields) -> Response {
    let Some(intent) = intent_of(f.get("intent")) else {
        return see_other("/settings/close");
    };
    match s.hiatus.skip_backup(&m.actor, intent).await {
        Ok(()) => see_other(&format!(
            "/settings/close/clients?intent={}",
            intent_code(intent)
        )),
        Err(e) => view::failure(Layout::member(&m, "settings"), e, "/settings/close"),
    }
}

/// A regular client with the facts that make them one.
struct ClientLine {
    id: String,
    name: String,
    because: String,
    told: bool,
}

#[derive(Template)]
#[template(path = "close_clients.html")]
struct ClientsPage {
    l: Layout,
    intent: &'static str,
    clients: Vec<ClientLine>,
    message: String,
}

/// GET /settings/close/clients?intent=…
pub async fn clients_page(
    State(s): State<AppState>,
    m: Member,
    PageQuery(q): PageQuery<Flow>,
) -> Response {
    let intent = intent_of(q.intent.as_deref());
    let l = Layout::member(&m, "settings").with_notice(q.ok.as_deref());
    let list = match s.hiatus.regular_clients(&m.actor).await {
        Ok(x) => x,
        Err(e) => return view::failure(l, e, "/settings/close"),
    };
    let away = match intent {
        Some(Intent::Delete) => "I am closing my account on this marketplace for good.",
        _ => "I am stepping away from this marketplace for a while.",
    };
    render(
        StatusCode::OK,
        ClientsPage {
            l,
            intent: intent.map(intent_code).unwrap_or(""),
            clients: list
                .into_iter()
                .map(|c| {
                    let b = c.because;
                    let mut why = Vec::new();
                    if b.open_contract {
                        why.push("a contract is open".to_string());
                    }
                    if b.recent_contract {
                        why.push("you worked together in the last 12 months".to_string());
                    }
                    why.push(format!(
                        "{} contract{} in all",
                        b.contracts,
                        if b.contracts == 1 { "" } else { "s" }
                    ));
                    ClientLine {
                        id: c.id.to_text(),
                        name: c.name,
                        because: view::capitalized(&why.join("; ")),
                        told: c.told,
                    }
                })
                .collect(),
            message: format!(
                "Thank you for our work together. {away} Your contracts, messages and invoices stay available to you."
            ),
        },
    )
}

/// POST /settings/close/clients
pub async fn tell_clients(State(s): State<AppState>, m: Member, f: Fields) -> Response {
    let intent = intent_of(f.get("intent"));
    let back = match intent {
        Some(i) => format!("/settings/close/clients?intent={}", intent_code(i)),
        None => "/settings/close/clients".to_string(),
    };
    let l = Layout::member(&m, "settings");
    let mut chosen = Vec::new();
    for c in f.all("client") {
        match c.parse::<AccountId>() {
            Ok(id) => chosen.push(id),
            Err(_) => return view::bad_input(l, "One of the chosen clients is not known.", &back),
        }
    }
    if chosen.is_empty() {
        return view::bad_input(
            l,
            "Tick at least one client to tell, or continue without telling anyone.",
            &back,
        );
    }
    let req = TellClients {
        clients: Some(chosen),
        message: f.get("message").unwrap_or("").to_string(),
        forwarding: f.get("forwarding").map(str::to_string),
    };
    match s.hiatus.tell_clients(&m.actor, req).await {
        Ok(_) => see_other(&match intent {
            Some(i) => format!(
                "/settings/close/reason?intent={}&ok=clients_told",
                intent_code(i)
            ),
            None => "/settings/close?ok=clients_told".to_string(),
        }),
        Err(e) => view::failure(l, e, &back),
    }
}

/// A reason as the form offers it.
struct ReasonLine {
    code: &'static str,
    label: &'static str,
    chosen: bool,
}

fn reasons(chosen: Option<&str>) -> Vec<ReasonLine> {
    ClosureReason::ALL
        .iter()
        .map(|r| ReasonLine {
            code: r.as_str(),
            label: r.label(),
            chosen: chosen == Some(r.as_str()),
        })
        .collect()
}

#[derive(Template)]
#[template(path = "close_reason.html")]
struct ReasonPage {
    l: Layout,
    intent: &'static str,
    reasons: Vec<ReasonLine>,
    detail: String,
    error: Option<String>,
}

/// GET /settings/close/reason?intent=…
pub async fn reason(m: Member, PageQuery(q): PageQuery<Flow>) -> Response {
    let Some(intent) = intent_of(q.intent.as_deref()) else {
        return see_other("/settings/close");
    };
    render(
        StatusCode::OK,
        ReasonPage {
            l: Layout::member(&m, "settings").with_notice(q.ok.as_deref()),
            intent: intent_code(intent),
            reasons: reasons(q.reason.as_deref()),
            detail: q.detail.unwrap_or_default(),
            error: None,
        },
    )
}

#[derive(Template)]
#[template(path = "close_confirm.html")]
struct ConfirmPage {
    l: Layout,
    intent: &'static str,
    deleting: bool,
    reason: &'static str,
    reason_label: &'static str,
    detail: String,
    blockers: Vec<Finding>,
    warnings: Vec<Finding>,
    recent: bool,
    plan: Vec<String>,
    pseudonym: String,
    confirmation: &'static str,
    error: Option<String>,
}

async fn confirm_view(
    s: &AppState,
    m: &Member,
    intent: Intent,
    reason: ClosureReason,
    detail: String,
    status: StatusCode,
    error: Option<String>,
) -> Response {
    let l = Layout::member(m, "settings");
    let back = format!("/settings/close/reason?intent={}", intent_code(intent));
    let pre = match s.hiatus.preflight(&m.actor, intent, Some(reason)).await {
        Ok(p) => p,
        Err(e) => return view::failure(l, e, &back),
    };
    let (plan, pseudonym) = if intent == Intent::Delete {
        match s.hiatus.erasure_plan(&m.actor).await {
            Ok(p) => (p.summary, p.pseudonym),
            Err(e) => return view::failure(l, e, &back),
        }
    } else {
        (Vec::new(), String::new())
    };
    render(
        status,
        ConfirmPage {
            l,
            intent: intent_code(intent),
            deleting: intent == Intent::Delete,
            reason: reason.as_str(),
            reason_label: reason.label(),
            detail,
            blockers: pre.blockers,
            warnings: pre.warnings,
            recent: s.hiatus.recently_reauthenticated(&m.actor),
            plan,
            pseudonym,
            confirmation: CONFIRMATION,
            error,
        },
    )
}

/// GET /settings/close/confirm?intent=…&reason=…&detail=…
pub async fn confirm_page(
    State(s): State<AppState>,
    m: Member,
    PageQuery(q): PageQuery<Flow>,
) -> Response {
    let Some(intent) = intent_of(q.intent.as_deref()) else {
        return see_other("/settings/close");
    };
    let detail = q.detail.unwrap_or_default();
    let Some(reason) = q.reason.as_deref().and_then(ClosureReason::parse) else {
        return render(
            StatusCode::UNPROCESSABLE_ENTITY,
            ReasonPage {
                l: Layout::member(&m, "settings"),
                intent: intent_code(intent),
                reasons: reasons(None),
                detail,
                error: Some("Choose a reason from the list.".into()),
            },
        );
    };
    confirm_view(&s, &m, intent, reason, detail, StatusCode::OK, None).await
}

#[derive(Template)]
#[template(path = "close_receipt.html")]
struct ReceiptPage {
    l: Layout,
    deleting: bool,
    at: String,
    next: String,
    proposals_withdrawn: u64,
    offers_closed: u64,
    job_posts_closed: u64,
    warnings: Vec<Finding>,
    due: String,
    plan: Vec<String>,
    pseudonym: String,
}

/// POST /settings/close/confirm: re-authenticate, then deactivate or schedule deletion.
pub async fn confirm(State(s): State<AppState>, mut m: Member, f: Fields) -> Response {
    let Some(intent) = intent_of(f.get("intent")) else {
        return see_other("/settings/close");
    };
    let detail = f.get("detail").unwrap_or("").to_string();
    let Some(reason) = f.get("reason").and_then(ClosureReason::parse) else {
        return view::bad_input(
            Layout::member(&m, "settings"),
            "Choose a reason from the list.",
            &format!("/settings/close/reason?intent={}", intent_code(intent)),
        );
    };
    let again = async |m: &Member, status, msg: &str| {
        confirm_view(
            &s,
            m,
            intent,
            reason,
            detail.clone(),
            status,
            Some(msg.to_string()),
        )
        .await
    };
    let password = f.raw("password");
    if !password.is_empty() {
        match s.hiatus.reauthenticate(&mut m.actor, password).await {
            Ok(()) => {}
            Err(ServiceError::Forbidden { .. }) => {
                return again(&m, StatusCode::FORBIDDEN, "The password is not correct.").await;
            }
            Err(e) => return view::failure(Layout::member(&m, "settings"), e, "/settings/close"),
        }
    }
    let detail_opt = (!detail.is_empty()).then(|| detail.clone());
    let l = Layout::member(&m, "account");
    let outcome = match intent {
        Intent::Deactivate => s
            .hiatus
            .deactivate(
                &m.actor,
                CloseRequest {
                    password: None,
                    reason,
                    detail: detail_opt,
                },
            )
            .await
            .map(|r| ReceiptPage {
                l,
                deleting: false,
                at: view::time(r.at),
                next: r.next,
                proposals_withdrawn: r.proposals_withdrawn,
                offers_closed: r.offers_closed,
                job_posts_closed: r.job_posts_closed,
                warnings: r.warnings,
                due: String::new(),
                plan: Vec::new(),
                pseudonym: String::new(),
            }),
        Intent::Delete => s
            .hiatus
            .schedule_deletion_as(
                &m.actor,
                DeleteRequest {
                    password: None,
                    reason,
                    detail: detail_opt,
                    confirmation: f.raw("confirmation").to_string(),
                },
                f.get("pseudonym"),
            )
            .await
            .map(|r| ReceiptPage {
                l,
                deleting: true,
                at: view::time(r.at),
                next: r.next,
                proposals_withdrawn: r.proposals_withdrawn,
                offers_closed: r.offers_closed,
                job_posts_closed: r.job_posts_closed,
                warnings: r.warnings,
                due: view::date(r.due_at),
                plan: r.plan.summary,
                pseudonym: r.plan.pseudonym,
            }),
    };
    match outcome {
        Ok(page) => render(StatusCode::OK, page),
        Err(ServiceError::ReauthRequired) => {
            again(
                &m,
                StatusCode::FORBIDDEN,
                "Enter your password to confirm this step.",
            )
            .await
        }
        Err(ServiceError::Invalid {
            code: "confirmation_mismatch",
            ..
        }) => {
            again(
                &m,
                StatusCode::UNPROCESSABLE_ENTITY,
                &format!("Type “{CONFIRMATION}” exactly to confirm the deletion."),
            )
            .await
        }
        Err(e) => view::failure(
            Layout::member(&m, "settings"),
            e,
            &format!("/settings/close/preflight?intent={}", intent_code(intent)),
        ),
    }
}
