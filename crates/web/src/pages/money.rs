//! The member's money: payments in escrow to release, approve or refund, invoices to pay,
//! the balance to withdraw, payouts on their way to the bank, and what is owed to the
//! platform. Preflight links here for each of them; every action calls the same use case as
//! the API, which decides whether the member may take it.

use super::guard::{Fields, Member, PageQuery};
use super::view::{self, Filter, Layout, ListQuery, RowAction, date, render};
use super::work::Names;
use crate::AppState;
use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use hiatus_domain::{Currency, Invoice, InvoiceStatus, Payment, PaymentStatus, PayoutStatus};
use hiatus_service::ServiceError;
use hiatus_service::market::PaymentAction;

/// The payments list's filter: money still in escrow or pending release.
const UNSETTLED: Filter = Filter {
    path: "/payments",
    code: "unsettled",
    words: "Unsettled",
    on: false,
};

/// A payment as listed.
pub struct PaymentLine {
    pub amount: String,
    pub contract_id: String,
    pub contract: String,
    /// The member pays (the client), or is paid (the freelancer).
    pub paying: bool,
    pub other: (String, bool),
    pub status: String,
    pub since: String,
    pub actions: Vec<RowAction>,
}

impl PaymentLine {
    async fn of(names: &mut Names<'_>, me: &Member, filter: &Filter, p: Payment) -> Self {
        let paying = p.payer_id == me.actor.account;
        let contract = names.title(p.contract_id).await;
        let amount = p.amount.to_string();
        // The buttons each side has; the use case checks again.
        let mut actions = Vec::new();
        let mut offer = |act: &str, words| {
            actions.push(filter.action(
                format!("/payments/{}/{act}", p.id),
                words,
                format!("{amount} for {contract}"),
            ))
        };
        match (paying, p.status) {
            (true, PaymentStatus::InEscrow) => {
                offer("approve", "Approve the work");
                offer("release", "Release");
            }
            (true, PaymentStatus::PendingRelease) => offer("release", "Release"),
            (false, s) if s.is_unsettled() => offer("refund", "Refund"),
            _ => {}
        }
        PaymentLine {
            contract_id: p.contract_id.to_string(),
            other: names.of(if paying { p.payee_id } else { p.payer_id }).await,
            status: p.status.as_str().replace('_', " "),
            since: date(p.updated_at),
            amount,
            contract,
            paying,
            actions,
        }
    }
}

#[derive(Template)]
#[template(path = "payments.html")]
struct PaymentsPage {
    l: Layout,
    filter: Filter,
    rows: Vec<PaymentLine>,
    more: bool,
}

/// GET /payments[?status=unsettled]
pub async fn payments(
    State(s): State<AppState>,
    m: Member,
    PageQuery(q): PageQuery<ListQuery>,
) -> Response {
    let l = Layout::member(&m, "work").with_notice(q.ok.as_deref());
    let filter = UNSETTLED.with(q.status.as_deref());
    let found = view::newest(
        |n, skip| s.hiatus.my_payments(&m.actor, n, skip),
        |p: &Payment| !filter.on || p.status.is_unsettled(),
    )
    .await;
    let (list, more) = match found {
        Ok(v) => v,
        Err(e) => return view::failure(l, e, "/account"),
    };
    let mut names = Names::new(&s.hiatus, &m.actor);
    let mut rows = Vec::with_capacity(list.len());
    for p in list {
        rows.push(PaymentLine::of(&mut names, &m, &filter, p).await);
    }
    render(
        StatusCode::OK,
        PaymentsPage {
            l,
            filter,
            rows,
            more,
        },
    )
}

/// POST /payments/{id}/{approve|release|refund}
pub async fn payment_action(
    State(s): State<AppState>,
    m: Member,
    Path((id, act)): Path<(String, String)>,
    f: Fields,
) -> Response {
    let back = UNSETTLED.of_form(&f);
    let outcome = async {
        let id = view::record_id(&id, "payment")?;
        let (action, ok) = match act.as_str() {
            "approve" => (PaymentAction::Approve, "payment_approved"),
            "release" => (PaymentAction::Release, "payment_released"),
            "refund" => (PaymentAction::Refund, "payment_refunded"),
            _ => return Err(ServiceError::NotFound("payment action")),
        };
        s.hiatus.payment_action(&m.actor, id, action).await?;
        Ok(back.confirmed(ok))
    };
    view::done(&m, outcome.await, &back.address())
}

/// The invoices list's filter: those not paid yet.
const UNPAID: Filter = Filter {
    path: "/invoices",
    code: "unpaid",
    words: "Unpaid",
    on: false,
};

/// An invoice as listed.
pub struct InvoiceLine {
    pub number: String,
    pub description: String,
    pub contract_id: String,
    pub contract: String,
    /// The member pays it (the client it is addressed to), or issued it.
    pub paying: bool,
    pub other: (String, bool),
    pub amount: String,
    pub status: &'static str,
    pub issued: String,
    pub due: String,
    pub actions: Vec<RowAction>,
}

impl InvoiceLine {
    async fn of(names: &mut Names<'_>, me: &Member, filter: &Filter, i: Invoice) -> Self {
        let paying = i.recipient_id == me.actor.account;
        let amount = i.amount.to_string();
        let mut actions = Vec::new();
        if paying && i.status == InvoiceStatus::Unpaid {
            actions.push(filter.action(
                format!("/invoices/{}/pay", i.id),
                "Pay",
                format!("invoice {} of {amount}", i.number),
            ));
        }
        InvoiceLine {
            contract_id: i.contract_id.to_string(),
            contract: names.title(i.contract_id).await,
            other: names
                .of(if paying { i.issuer_id } else { i.recipient_id })
                .await,
            status: i.status.as_str(),
            issued: date(i.issued_at),
            due: date(i.due_at),
            number: i.number,
            description: i.description,
            amount,
            paying,
            actions,
        }
    }
}

#[derive(Template)]
#[template(path = "invoices.html")]
struct InvoicesPage {
    l: Layout,
    filter: Filter,
    rows: Vec<InvoiceLine>,
    more: bool,
}

/// GET /invoices[?status=unpaid]: invoices the member received and issued.
pub async fn invoices(
    State(s): State<AppState>,
    m: Member,
    PageQuery(q): PageQuery<ListQuery>,
) -> Response {
    let l = Layout::member(&m, "work").with_notice(q.ok.as_deref());
    let filter = UNPAID.with(q.status.as_deref());
    let found = view::newest(
        |n, skip| s.hiatus.my_invoices(&m.actor, n, skip),
        |i: &Invoice| !filter.on || i.status == InvoiceStatus::Unpaid,
    )
    .await;
    let (list, more) = match found {
        Ok(v) => v,
        Err(e) => return view::failure(l, e, "/account"),
    };
    let mut names = Names::new(&s.hiatus, &m.actor);
    let mut rows = Vec::with_capacity(list.len());
    for i in list {
        rows.push(InvoiceLine::of(&mut names, &m, &filter, i).await);
    }
    render(
        StatusCode::OK,
        InvoicesPage {
            l,
            filter,
            rows,
            more,
        },
    )
}

/// POST /invoices/{id}/pay
pub async fn pay_invoice(
    State(s): State<AppState>,
    m: Member,
    Path(id): Path<String>,
    f: Fields,
) -> Response {
    let back = UNPAID.of_form(&f);
    let outcome = async {
        let id = view::record_id(&id, "invoice")?;
        s.hiatus.pay_invoice(&m.actor, id).await?;
        Ok(back.confirmed("invoice_paid"))
    };
    view::done(&m, outcome.await, &back.address())
}

/// A balance in one currency.
pub struct BalanceLine {
    pub currency: String,
    pub available: String,
    /// The whole available amount, as the withdrawal form starts with it.
    pub withdrawable: Option<String>,
    pub debt: Option<String>,
}

#[derive(Template)]
#[template(path = "balance.html")]
struct BalancePage {
    l: Layout,
    balances: Vec<BalanceLine>,
    owes: bool,
    /// The page about what is owed (`/balance/pay`), rather than about withdrawing.
    paying: bool,
}

/// The member's balances, as the page about withdrawing or the one about debts shows them.
async fn balance_page(s: &AppState, m: &Member, ok: Option<&str>, paying: bool) -> Response {
    let l = Layout::member(m, "work").with_notice(ok);
    let list = match s.hiatus.my_balances(&m.actor).await {
        Ok(v) => v,
        Err(e) => return view::failure(l, e, "/account"),
    };
    let balances: Vec<BalanceLine> = list
        .into_iter()
        .map(|b| BalanceLine {
            currency: b.available.currency.to_string(),
            available: b.available.to_string(),
            withdrawable: b
                .available
                .is_positive()
                .then(|| view::amount_field(b.available)),
            debt: b.debt.is_positive().then(|| b.debt.to_string()),
        })
        .collect();
    let owes = balances.iter().any(|b| b.debt.is_some());
    render(
        StatusCode::OK,
        BalancePage {
            l,
            balances,
            owes,
            paying,
        },
    )
}

/// GET /balance/withdraw: the available balance in each currency, with a form to withdraw it.
pub async fn balance(
    State(s): State<AppState>,
    m: Member,
    PageQuery(q): PageQuery<ListQuery>,
) -> Response {
    balance_page(&s, &m, q.ok.as_deref(), false).await
}

/// POST /balance/withdraw: `currency` and `amount` ("120.50").
pub async fn withdraw(State(s): State<AppState>, m: Member, f: Fields) -> Response {
    let back = "/balance/withdraw";
    let amount = f
        .get("currency")
        .and_then(|c| Currency::parse(c).ok())
        .and_then(|c| view::amount(f.get("amount").unwrap_or_default(), c));
    let Some(amount) = amount else {
        return view::bad_input(
            Layout::member(&m, "work"),
            "Enter the amount to withdraw as a number, for example 120.50.",
            back,
        );
    };
    let outcome = s
        .hiatus
        .withdraw(&m.actor, amount)
        .await
        .map(|_| format!("{back}?ok=withdrawal_scheduled"));
    view::done(&m, outcome, back)
}

/// GET /balance/pay: what the member owes the platform, and how it is settled.
pub async fn debts(State(s): State<AppState>, m: Member) -> Response {
    balance_page(&s, &m, None, true).await
}

/// The payouts list's filter: those not settled yet.
const SCHEDULED: Filter = Filter {
    path: "/payouts",
    code: "scheduled",
    words: "Not settled yet",
    on: false,
};

/// A payout as listed.
pub struct PayoutLine {
    pub amount: String,
    pub settled: bool,
    pub requested: String,
    pub settles: String,
}

#[derive(Template)]
#[template(path = "payouts.html")]
struct PayoutsPage {
    l: Layout,
    filter: Filter,
    rows: Vec<PayoutLine>,
    more: bool,
}

/// GET /payouts[?status=scheduled]: withdrawals on their way to the bank, and past ones.
pub async fn payouts(
    State(s): State<AppState>,
    m: Member,
    PageQuery(q): PageQuery<ListQuery>,
) -> Response {
    let l = Layout::member(&m, "work").with_notice(q.ok.as_deref());
    let filter = SCHEDULED.with(q.status.as_deref());
    let list = match s.hiatus.my_payouts(&m.actor).await {
        Ok(v) => v,
        Err(e) => return view::failure(l, e, "/account"),
    };
    let (list, more) = view::kept(list, |p| !filter.on || p.status == PayoutStatus::Scheduled);
    let rows = list
        .into_iter()
        .map(|p| PayoutLine {
            amount: p.amount.to_string(),
            settled: p.status == PayoutStatus::Settled,
            requested: date(p.created_at),
            settles: date(p.settles_at),
        })
        .collect();
    render(
        StatusCode::OK,
        PayoutsPage {
            l,
            filter,
            rows,
            more,
        },
    )
}
