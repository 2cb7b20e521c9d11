//! The member's work: contracts (offers are answered on the contract's page; open and paused
//! contracts can be ended) and message threads (read-only), with every other person shown by
//! the name the member may see — for an erased member, their pseudonym — and the contracts in
//! dispute, whose dispute can be marked resolved. These are also the pages preflight points to when a contract has to be ended or a
//! dispute resolved first.

use super::guard::{Fields, Member, PageQuery};
use super::view::{self, Filter, Layout, ListQuery, RowAction, date, render};
use crate::AppState;
use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use hiatus_domain::{AccountId, Contract, ContractId, ContractStatus, ThreadId};
use hiatus_service::market::ContractAction;
use hiatus_service::{Actor, Hiatus};
use std::collections::HashMap;

/// Names of the people and titles of the contracts in the member's records, looked up once
/// each.
pub struct Names<'a> {
    h: &'a Hiatus,
    actor: &'a Actor,
    known: HashMap<AccountId, (String, bool)>,
    titles: HashMap<ContractId, String>,
}

impl<'a> Names<'a> {
    pub fn new(h: &'a Hiatus, actor: &'a Actor) -> Self {
        Self {
            h,
            actor,
            known: HashMap::new(),
            titles: HashMap::new(),
        }
    }

    /// (name, whether it is an erased member's pseudonym); "you" for the member. Someone the
    /// member shares no record with yet (the other side of a proposal) is named as their
    /// profile shows them, when the member may see it.
    pub async fn of(&mut self, id: AccountId) -> (String, bool) {
        if id == self.actor.account {
            return ("you".into(), false);
        }
        if let Some(n) = self.known.get(&id) {
            return n.clone();
        }
        let n = match self.h.person(self.actor, id).await {
            Ok(p) => (p.name, p.former_member),
            Err(_) => match self.h.profile(Some(self.actor), id).await {
                Ok(p) => (p.display_name, false),
                Err(_) => ("someone".into(), false),
            },
        };
        self.known.insert(id, n.clone());
        n
    }

    /// The title of a contract the member is party to.
    pub async fn title(&mut self, id: ContractId) -> String {
        if let Some(t) = self.titles.get(&id) {
            return t.clone();
        }
        let t = match self.h.contract(self.actor, id).await {
            Ok(c) => c.title,
            Err(_) => "a contract".into(),
        };
        self.titles.insert(id, t.clone());
        t
    }
}

/// A contract in the list.
pub struct ContractLine {
    pub id: String,
    pub title: String,
    pub role: &'static str,
    pub other: String,
    pub other_former: bool,
    pub status: String,
    pub started: String,
    /// What the member can do to it from the list.
    pub actions: Vec<RowAction>,
}

impl ContractLine {
    async fn of(names: &mut Names<'_>, c: Contract, actions: Vec<RowAction>) -> ContractLine {
        let (role, other) = if c.client_id == names.actor.account {
            ("client", c.freelancer_id)
        } else {
            ("freelancer", c.client_id)
        };
        let (other, other_former) = names.of(other).await;
        ContractLine {
            id: c.id.to_string(),
            title: c.title,
            role,
            other,
            other_former,
            status: c.status.as_str().replace('_', " "),
            started: date(c.created_at),
            actions,
        }
    }
}

/// The contracts list's filter: those preflight asks to end first.
const LIVE: Filter = Filter {
    path: "/contracts",
    code: "live",
    words: "Open, paused or in dispute",
    on: false,
};

#[derive(Template)]
#[template(path = "contracts.html")]
struct ContractsPage {
    l: Layout,
    filter: Filter,
    rows: Vec<ContractLine>,
    more: bool,
}

/// The member's newest contracts that `keep` accepts, as lines of a list with the buttons
/// `act` gives each.
async fn contract_lines(
    h: &Hiatus,
    actor: &Actor,
    keep: impl Fn(&Contract) -> bool,
    act: impl Fn(&Contract) -> Vec<RowAction>,
) -> Result<(Vec<ContractLine>, bool), hiatus_service::ServiceError> {
    let (list, more) = view::newest(|n, skip| h.my_contracts(actor, n, skip), keep).await?;
    let mut names = Names::new(h, actor);
    let mut rows = Vec::with_capacity(list.len());
    for c in list {
        let actions = act(&c);
        rows.push(ContractLine::of(&mut names, c, actions).await);
    }
    Ok((rows, more))
}

/// A contract action on a row of a list that comes back to `list`.
fn contract_button(list: &Filter, c: &Contract, act: &str, words: &'static str) -> RowAction {
    list.action(
        format!("{}/{}/{act}", list.path, c.id),
        words,
        c.title.clone(),
    )
}

/// After a contract action posted from `list`: back to it with the confirmation `ok`.
async fn act_on_contract(
    s: &AppState,
    m: &Member,
    id: &str,
    action: ContractAction,
    list: Filter,
    ok: &str,
) -> Response {
    let outcome = async {
        let id = view::record_id(id, "contract")?;
        s.hiatus.contract_action(&m.actor, id, action).await?;
        Ok(list.confirmed(ok))
    };
    view::done(m, outcome.await, &list.address())
}

/// GET /contracts[?status=live]: the member's contracts; open and paused ones can be ended.
pub async fn contracts(
    State(s): State<AppState>,
    m: Member,
    PageQuery(q): PageQuery<ListQuery>,
) -> Response {
    let l = Layout::member(&m, "work").with_notice(q.ok.as_deref());
    let filter = LIVE.with(q.status.as_deref());
    let found = contract_lines(
        &s.hiatus,
        &m.actor,
        |c| !filter.on || c.status.is_live(),
        |c| match c.status {
            ContractStatus::Open | ContractStatus::Paused => {
                vec![contract_button(&filter, c, "end", "End the contract")]
            }
            _ => Vec::new(),
        },
    )
    .await;
    match found {
        Ok((rows, more)) => render(
            StatusCode::OK,
            ContractsPage {
                l,
                filter,
                rows,
                more,
            },
        ),
        Err(e) => view::failure(l, e, "/account"),
    }
}

/// POST /contracts/{id}/end
pub async fn end_contract(
    State(s): State<AppState>,
    m: Member,
    Path(id): Path<String>,
    f: Fields,
) -> Response {
    let list = LIVE.of_form(&f);
    act_on_contract(&s, &m, &id, ContractAction::End, list, "contract_ended").await
}

/// The disputes page lists every contract in dispute; it has no other view.
const DISPUTES: Filter = Filter {
    path: "/disputes",
    code: "open",
    words: "Open",
    on: false,
};

#[derive(Template)]
#[template(path = "disputes.html")]
struct DisputesPage {
    l: Layout,
    rows: Vec<ContractLine>,
    more: bool,
}

/// GET /disputes: the contracts in dispute, each with its page and the way to mark the
/// dispute resolved.
pub async fn disputes(
    State(s): State<AppState>,
    m: Member,
    PageQuery(q): PageQuery<ListQuery>,
) -> Response {
    let l = Layout::member(&m, "work").with_notice(q.ok.as_deref());
    let found = contract_lines(
        &s.hiatus,
        &m.actor,
        |c| c.status == ContractStatus::InDispute,
        |c| vec![contract_button(&DISPUTES, c, "resolve", "Mark resolved")],
    )
    .await;
    match found {
        Ok((rows, more)) => render(StatusCode::OK, DisputesPage { l, rows, more }),
        Err(e) => view::failure(l, e, "/account"),
    }
}

/// POST /disputes/{contract id}/resolve
pub async fn resolve_dispute(
    State(s): State<AppState>,
    m: Member,
    Path(id): Path<String>,
) -> Response {
    let action = ContractAction::ResolveDispute;
    act_on_contract(&s, &m, &id, action, DISPUTES, "dispute_resolved").await
}

/// A message as shown.
pub struct MessageLine {
    pub author: String,
    pub author_former: bool,
    pub mine: bool,
    pub body: String,
    pub at: String,
}

/// A thread as shown, with its latest messages.
pub struct ThreadView {
    pub id: String,
    pub subject: String,
    pub with: Vec<(String, bool)>,
    pub messages: Vec<MessageLine>,
}

async fn thread_view(
    h: &Hiatus,
    actor: &Actor,
    names: &mut Names<'_>,
    t: &hiatus_domain::Thread,
) -> Result<ThreadView, hiatus_service::ServiceError> {
    let mut with = Vec::new();
    for p in &t.participants {
        if *p != actor.account {
            with.push(names.of(*p).await);
        }
    }
    let msgs = h.thread_messages(actor, t.id, 200, 0).await?;
    let mut messages = Vec::with_capacity(msgs.len());
    for msg in msgs {
        let (author, author_former) = names.of(msg.author_id).await;
        messages.push(MessageLine {
            mine: msg.author_id == actor.account,
            author,
            author_former,
            body: msg.body,
            at: view::time(msg.created_at),
        });
    }
    Ok(ThreadView {
        id: t.id.to_string(),
        subject: t.subject.clone(),
        with,
        messages,
    })
}

#[derive(Template)]
#[template(path = "contract.html")]
struct ContractPage {
    l: Layout,
    c: ContractLine,
    /// Where the offer stands, in words, while the contract is (or was only) an offer.
    offer: Option<String>,
    /// The answers the member can give to the offer.
    answers: Vec<RowAction>,
    threads: Vec<ThreadView>,
}

/// Where an offer stands for the member, and the answers they can give: the freelancer
/// accepts or declines, the client withdraws. `other` names the other party.
fn offer_view(c: &Contract, me: AccountId, other: &str) -> (Option<String>, Vec<RowAction>) {
    let client = c.client_id == me;
    let answer = |act: &str, words: &'static str| RowAction {
        action: format!("/contracts/{}/{act}", c.id),
        words,
        about: c.title.clone(),
        status: None,
    };
    match (c.status, client) {
        (ContractStatus::Offered, false) => (
            Some(format!(
                "{other} offers you this contract. Nothing is funded, delivered or invoiced under it until you accept it."
            )),
            vec![
                answer("accept", "Accept the offer"),
                answer("decline", "Decline the offer"),
            ],
        ),
        (ContractStatus::Offered, true) => (
            Some(format!(
                "Your offer waits for {other} to accept it. You can withdraw it until they answer."
            )),
            vec![answer("withdraw", "Withdraw the offer")],
        ),
        (ContractStatus::Declined, false) => (Some("You declined this offer.".into()), vec![]),
        (ContractStatus::Declined, true) => (Some(format!("{other} declined this offer.")), vec![]),
        (ContractStatus::Withdrawn, false) => {
            (Some(format!("{other} withdrew this offer.")), vec![])
        }
        (ContractStatus::Withdrawn, true) => (Some("You withdrew this offer.".into()), vec![]),
        _ => (None, vec![]),
    }
}

/// GET /contracts/{id}: the contract, the other party by the name the member may see, where
/// an offer stands with the answers the member can give, and the messages of its threads.
pub async fn contract(
    State(s): State<AppState>,
    m: Member,
    Path(id): Path<String>,
    PageQuery(q): PageQuery<ListQuery>,
) -> Response {
    let l = Layout::member(&m, "work").with_notice(q.ok.as_deref());
    let c = match view::record_id(&id, "contract") {
        Ok(id) => s.hiatus.contract(&m.actor, id).await,
        Err(e) => Err(e),
    };
    let c = match c {
        Ok(c) => c,
        Err(e) => return view::failure(l, e, "/contracts"),
    };
    let id = c.id;
    let mut names = Names::new(&s.hiatus, &m.actor);
    let c_offer = c.clone();
    let line = ContractLine::of(&mut names, c, Vec::new()).await;
    let (offer, answers) = offer_view(&c_offer, m.actor.account, &line.other);
    let threads = match s.hiatus.my_threads(&m.actor, 500, 0).await {
        Ok(v) => v,
        Err(e) => return view::failure(l, e, "/contracts"),
    };
    let mut views = Vec::new();
    for t in threads.iter().filter(|t| t.contract_id == Some(id)) {
        match thread_view(&s.hiatus, &m.actor, &mut names, t).await {
            Ok(v) => views.push(v),
            Err(e) => return view::failure(l, e, "/contracts"),
        }
    }
    render(
        StatusCode::OK,
        ContractPage {
            l,
            c: line,
            offer,
            answers,
            threads: views,
        },
    )
}

/// POST /contracts/{id}/{accept|decline|withdraw}: answers an offer, then back to the
/// contract with what happened.
async fn answer_offer(s: &AppState, m: &Member, id: &str, action: ContractAction) -> Response {
    let back = match id.parse::<ContractId>() {
        Ok(c) => format!("/contracts/{c}"),
        Err(_) => "/contracts".to_string(),
    };
    let outcome = async {
        let id: ContractId = view::record_id(id, "contract")?;
        s.hiatus.contract_action(&m.actor, id, action).await?;
        let ok = match action {
            ContractAction::Accept => "offer_accepted",
            ContractAction::Decline => "offer_declined",
            _ => "offer_withdrawn",
        };
        Ok(format!("/contracts/{id}?ok={ok}"))
    };
    view::done(m, outcome.await, &back)
}

/// POST /contracts/{id}/accept
pub async fn accept_offer(
    State(s): State<AppState>,
    m: Member,
    Path(id): Path<String>,
) -> Response {
    answer_offer(&s, &m, &id, ContractAction::Accept).await
}

/// POST /contracts/{id}/decline
pub async fn decline_offer(
    State(s): State<AppState>,
    m: Member,
    Path(id): Path<String>,
) -> Response {
    answer_offer(&s, &m, &id, ContractAction::Decline).await
}

/// POST /contracts/{id}/withdraw
pub async fn withdraw_offer(
    State(s): State<AppState>,
    m: Member,
    Path(id): Path<String>,
) -> Response {
    answer_offer(&s, &m, &id, ContractAction::Withdraw).await
}

/// A thread in the list.
pub struct ThreadLine {
    pub id: String,
    pub subject: String,
    pub with: Vec<(String, bool)>,
    pub last: String,
}

#[derive(Template)]
#[template(path = "threads.html")]
struct ThreadsPage {
    l: Layout,
    threads: Vec<ThreadLine>,
}

/// GET /messages
pub async fn threads(State(s): State<AppState>, m: Member) -> Response {
    let l = Layout::member(&m, "work");
    let list = match s.hiatus.my_threads(&m.actor, 200, 0).await {
        Ok(v) => v,
        Err(e) => return view::failure(l, e, "/account"),
    };
    let mut names = Names::new(&s.hiatus, &m.actor);
    let mut threads = Vec::with_capacity(list.len());
    for t in list {
        let mut with = Vec::new();
        for p in &t.participants {
            if *p != m.actor.account {
                with.push(names.of(*p).await);
            }
        }
        threads.push(ThreadLine {
            id: t.id.to_string(),
            subject: t.subject,
            with,
            last: view::time(t.last_message_at),
        });
    }
    render(StatusCode::OK, ThreadsPage { l, threads })
}

#[derive(Template)]
#[template(path = "thread.html")]
struct ThreadPage {
    l: Layout,
    t: ThreadView,
}

/// GET /messages/{id}
pub async fn thread(State(s): State<AppState>, m: Member, Path(id): Path<String>) -> Response {
    let l = Layout::member(&m, "work");
    let t = match view::record_id::<ThreadId>(&id, "thread") {
        Ok(id) => s.hiatus.my_thread(&m.actor, id).await,
        Err(e) => Err(e),
    };
    let t = match t {
        Ok(t) => t,
        Err(e) => return view::failure(l, e, "/messages"),
    };
    let mut names = Names::new(&s.hiatus, &m.actor);
    match thread_view(&s.hiatus, &m.actor, &mut names, &t).await {
        Ok(t) => render(StatusCode::OK, ThreadPage { l, t }),
        Err(e) => view::failure(l, e, "/messages"),
    }
}
