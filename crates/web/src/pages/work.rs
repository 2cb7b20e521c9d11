//! The member's work, read-only: contracts and message threads, with every other person shown
//! by the name the member may see — for an erased member, their pseudonym. These are also the
//! pages preflight points to when a contract has to be ended first.

use super::guard::Member;
use super::view::{self, Layout, date, render};
use crate::AppState;
use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use hiatus_domain::{AccountId, ContractId, ThreadId};
use hiatus_service::{Actor, Hiatus};
use std::collections::HashMap;

/// Names of the people in the member's records, looked up once each.
struct Names<'a> {
    h: &'a Hiatus,
    actor: &'a Actor,
    known: HashMap<AccountId, (String, bool)>,
}

impl<'a> Names<'a> {
    fn new(h: &'a Hiatus, actor: &'a Actor) -> Self {
        Self {
            h,
            actor,
            known: HashMap::new(),
        }
    }

    /// (name, whether it is an erased member's pseudonym); "you" for the member.
    async fn of(&mut self, id: AccountId) -> (String, bool) {
        if id == self.actor.account {
            return ("you".into(), false);
        }
        if let Some(n) = self.known.get(&id) {
            return n.clone();
        }
        let n = match self.h.person(self.actor, id).await {
            Ok(p) => (p.name, p.former_member),
            Err(_) => ("someone".into(), false),
        };
        self.known.insert(id, n.clone());
        n
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
}

#[derive(Template)]
#[template(path = "contracts.html")]
struct ContractsPage {
    l: Layout,
    contracts: Vec<ContractLine>,
}

/// GET /contracts
pub async fn contracts(State(s): State<AppState>, m: Member) -> Response {
    let l = Layout::member(&m, "work");
    let list = match s.hiatus.my_contracts(&m.actor, 200, 0).await {
        Ok(v) => v,
        Err(e) => return view::failure(l, e, "/account"),
    };
    let mut names = Names::new(&s.hiatus, &m.actor);
    let mut contracts = Vec::with_capacity(list.len());
    for c in list {
        let (role, other) = if c.client_id == m.actor.account {
            ("client", c.freelancer_id)
        } else {
            ("freelancer", c.client_id)
        };
        let (other, other_former) = names.of(other).await;
        contracts.push(ContractLine {
            id: c.id.to_string(),
            title: c.title,
            role,
            other,
            other_former,
            status: c.status.as_str().replace('_', " "),
            started: date(c.created_at),
        });
    }
    render(StatusCode::OK, ContractsPage { l, contracts })
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
    threads: Vec<ThreadView>,
}

/// GET /contracts/{id}: the contract, the other party by the name the member may see, and
/// the messages of its threads.
pub async fn contract(State(s): State<AppState>, m: Member, Path(id): Path<String>) -> Response {
    let l = Layout::member(&m, "work");
    let Ok(id) = id.parse::<ContractId>() else {
        return view::failure(
            l,
            hiatus_service::ServiceError::NotFound("contract"),
            "/contracts",
        );
    };
    let c = match s.hiatus.contract(&m.actor, id).await {
        Ok(c) => c,
        Err(e) => return view::failure(l, e, "/contracts"),
    };
    let mut names = Names::new(&s.hiatus, &m.actor);
    let (role, other) = if c.client_id == m.actor.account {
        ("client", c.freelancer_id)
    } else {
        ("freelancer", c.client_id)
    };
    let (other, other_former) = names.of(other).await;
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
            c: ContractLine {
                id: c.id.to_string(),
                title: c.title,
                role,
                other,
                other_former,
                status: c.status.as_str().replace('_', " "),
                started: date(c.created_at),
            },
            threads: views,
        },
    )
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
    let Ok(id) = id.parse::<ThreadId>() else {
        return view::failure(
            l,
            hiatus_service::ServiceError::NotFound("thread"),
            "/messages",
        );
    };
    let t = match s.hiatus.my_thread(&m.actor, id).await {
        Ok(t) => t,
        Err(e) => return view::failure(l, e, "/messages"),
    };
    let mut names = Names::new(&s.hiatus, &m.actor);
    match thread_view(&s.hiatus, &m.actor, &mut names, &t).await {
        Ok(t) => render(StatusCode::OK, ThreadPage { l, t }),
        Err(e) => view::failure(l, e, "/messages"),
    }
}
