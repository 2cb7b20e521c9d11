//! Looking for work and for people: the member's proposals and invitations (withdraw the ones
//! they sent, decline the ones they received) and their job posts. Preflight warns that open
//! ones are withdrawn or closed when the member leaves, and links here.

use super::guard::{Fields, Member, PageQuery};
use super::view::{self, Filter, Layout, ListQuery, RowAction, date, render};
use super::work::Names;
use crate::AppState;
use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use hiatus_domain::{JobPostStatus, Proposal, ProposalKind, ProposalStatus};
use hiatus_service::ServiceError;
use hiatus_service::market::ProposalAction;

/// The proposals list's filter: those still waiting for an answer.
const OPEN_PROPOSALS: Filter = Filter {
    path: "/proposals",
    code: "open",
    words: "Open",
    on: false,
};

/// How much of a cover letter the list shows.
const EXCERPT: usize = 140;

/// A proposal or invitation as listed.
pub struct ProposalLine {
    /// "Proposal" or "Invitation".
    pub kind: &'static str,
    pub sent: bool,
    pub other: (String, bool),
    pub excerpt: String,
    pub status: &'static str,
    pub date: String,
    pub actions: Vec<RowAction>,
}

impl ProposalLine {
    async fn of(names: &mut Names<'_>, me: &Member, filter: &Filter, p: Proposal) -> Self {
        let sent = p.sender_id == me.actor.account;
        let other = if p.freelancer_id == me.actor.account {
            p.client_id
        } else {
            p.freelancer_id
        };
        let other = names.of(other).await;
        let kind = match p.kind {
            ProposalKind::Proposal => "Proposal",
            ProposalKind::Invitation => "Invitation",
        };
        let mut actions = Vec::new();
        if p.status == ProposalStatus::Open {
            let (act, words) = if sent {
                ("withdraw", "Withdraw")
            } else {
                ("decline", "Decline")
            };
            actions.push(filter.action(
                format!("/proposals/{}/{act}", p.id),
                words,
                format!(
                    "the {} {} {}",
                    kind.to_lowercase(),
                    if sent { "to" } else { "from" },
                    other.0
                ),
            ));
        }
        let mut excerpt: String = p.cover_letter.chars().take(EXCERPT).collect();
        if p.cover_letter.chars().count() > EXCERPT {
            excerpt.push('…');
        }
        ProposalLine {
            kind,
            sent,
            other,
            excerpt,
            status: p.status.as_str(),
            date: date(p.created_at),
            actions,
        }
    }
}

#[derive(Template)]
#[template(path = "proposals.html")]
struct ProposalsPage {
    l: Layout,
    filter: Filter,
    rows: Vec<ProposalLine>,
    more: bool,
}

/// GET /proposals[?status=open]: proposals and invitations the member sent or received.
pub async fn proposals(
    State(s): State<AppState>,
    m: Member,
    PageQuery(q): PageQuery<ListQuery>,
) -> Response {
    let l = Layout::member(&m, "work").with_notice(q.ok.as_deref());
    let filter = OPEN_PROPOSALS.with(q.status.as_deref());
    let list = match s.hiatus.my_proposals(&m.actor).await {
        Ok(v) => v,
        Err(e) => return view::failure(l, e, "/account"),
    };
    let (list, more) = view::kept(list, |p| !filter.on || p.status == ProposalStatus::Open);
    let mut names = Names::new(&s.hiatus, &m.actor);
    let mut rows = Vec::with_capacity(list.len());
    for p in list {
        rows.push(ProposalLine::of(&mut names, &m, &filter, p).await);
    }
    render(
        StatusCode::OK,
        ProposalsPage {
            l,
            filter,
            rows,
            more,
        },
    )
}

/// POST /proposals/{id}/{withdraw|decline}
pub async fn respond(
    State(s): State<AppState>,
    m: Member,
    Path((id, act)): Path<(String, String)>,
    f: Fields,
) -> Response {
    let back = OPEN_PROPOSALS.of_form(&f);
    let outcome = async {
        let id = view::record_id(&id, "proposal")?;
        let (action, ok) = match act.as_str() {
            "withdraw" => (ProposalAction::Withdraw, "proposal_withdrawn"),
            "decline" => (ProposalAction::Decline, "proposal_declined"),
            _ => return Err(ServiceError::NotFound("proposal action")),
        };
        s.hiatus.respond_proposal(&m.actor, id, action).await?;
        Ok(back.confirmed(ok))
    };
    view::done(&m, outcome.await, &back.address())
}

/// The job posts list's filter: those still taking proposals.
const OPEN_JOBS: Filter = Filter {
    path: "/jobs",
    code: "open",
    words: "Open",
    on: false,
};

/// A job post as listed.
pub struct JobLine {
    pub title: String,
    pub open: bool,
    pub posted: String,
}

#[derive(Template)]
#[template(path = "jobs.html")]
struct JobsPage {
    l: Layout,
    filter: Filter,
    rows: Vec<JobLine>,
    more: bool,
}

/// GET /jobs[?status=open]: the member's job posts. There is no way to close one by itself:
/// open ones close when the member deactivates or deletes their account, as preflight says.
pub async fn jobs(
    State(s): State<AppState>,
    m: Member,
    PageQuery(q): PageQuery<ListQuery>,
) -> Response {
    let l = Layout::member(&m, "work").with_notice(q.ok.as_deref());
    let filter = OPEN_JOBS.with(q.status.as_deref());
    let list = match s.hiatus.my_job_posts(&m.actor).await {
        Ok(v) => v,
        Err(e) => return view::failure(l, e, "/account"),
    };
    let (list, more) = view::kept(list, |j| !filter.on || j.status == JobPostStatus::Open);
    let rows = list
        .into_iter()
        .map(|j| JobLine {
            open: j.status == JobPostStatus::Open,
            title: j.title,
            posted: date(j.created_at),
        })
        .collect();
    render(
        StatusCode::OK,
        JobsPage {
            l,
            filter,
            rows,
            more,
        },
    )
}
