//! Preflight (§5): the checks before deactivation or deletion. Blockers must be fixed before
//! the flow can continue; warnings are shown and acknowledged. Each finding has a stable code,
//! a sentence a person understands, the records it concerns and the action that resolves it.

use crate::Money;
use serde::{Deserialize, Serialize};

/// What the member is about to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Intent {
    Deactivate,
    Delete,
}

/// Must fix, or should know.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Blocker,
    Warning,
}

/// The stable machine code of a finding.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FindingCode {
    OpenContracts,
    PaymentsInEscrow,
    PayoutsNotSettled,
    BalanceNotWithdrawn,
    DebtToPlatform,
    UnpaidInvoices,
    OpenDisputes,
    NoCurrentExport,
    RegularClientsNotTold,
    OpenProposalsWithdrawn,
    OpenOffersClosed,
    OpenJobPostsClosed,
    BreakWouldDo,
}

impl FindingCode {
    /// Every code, blockers first.
    pub const ALL: [FindingCode; 13] = [
        FindingCode::OpenContracts,
        FindingCode::PaymentsInEscrow,
        FindingCode::PayoutsNotSettled,
        FindingCode::BalanceNotWithdrawn,
        FindingCode::DebtToPlatform,
        FindingCode::UnpaidInvoices,
        FindingCode::OpenDisputes,
        FindingCode::NoCurrentExport,
        FindingCode::RegularClientsNotTold,
        FindingCode::OpenProposalsWithdrawn,
        FindingCode::OpenOffersClosed,
        FindingCode::OpenJobPostsClosed,
        FindingCode::BreakWouldDo,
    ];

    /// Whether this code blocks or warns.
    pub fn severity(&self) -> Severity {
        match self {
            FindingCode::OpenContracts
            | FindingCode::PaymentsInEscrow
            | FindingCode::PayoutsNotSettled
            | FindingCode::BalanceNotWithdrawn
            | FindingCode::DebtToPlatform
            | FindingCode::UnpaidInvoices
            | FindingCode::OpenDisputes => Severity::Blocker,
            _ => Severity::Warning,
        }
    }
}

/// A record a finding is about, for deep links.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RecordRef {
    /// `contract`, `payment`, `payout`, `balance`, `invoice`, `dispute`, `account`,
    /// `proposal` or `job_post`.
    pub kind: String,
    /// The record's id (or currency code for balances).
    pub id: String,
    /// A short description, e.g. the contract title or an amount.
    pub label: String,
}

impl RecordRef {
    /// Builds a reference.
    pub fn new(kind: &str, id: impl ToString, label: impl Into<String>) -> Self {
        Self {
            kind: kind.to_string(),
            id: id.to_string(),
            label: label.into(),
        }
    }
}

/// How to resolve a finding.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Resolution {
    /// What to do, in words.
    pub action: String,
    /// Where to do it (a path in the web app).
    pub href: String,
}

/// One blocker or warning.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Finding {
    pub code: FindingCode,
    pub severity: Severity,
    /// A sentence a person understands.
    pub message: String,
    pub records: Vec<RecordRef>,
    pub resolve: Resolution,
}

/// The facts preflight decides on, gathered by the store for one member.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PreflightFacts {
    /// Contracts open, paused or in dispute (offers not accepted yet are not among them).
    pub live_contracts: Vec<RecordRef>,
    /// Payments in escrow or pending release, as payer or payee.
    pub unsettled_payments: Vec<RecordRef>,
    /// Payouts scheduled but not settled.
    pub scheduled_payouts: Vec<RecordRef>,
    /// Available balances above zero.
    pub balances: Vec<Money>,
    /// Debts to the platform above zero.
    pub debts: Vec<Money>,
    /// Invoices the member owes as a client.
    pub unpaid_invoices: Vec<RecordRef>,
    /// Open disputes the member is party to.
    pub open_disputes: Vec<RecordRef>,
    /// An export was downloaded after the member's data last changed.
    pub export_current: bool,
    /// Regular clients who have not been told the member is leaving.
    pub regular_clients_not_told: Vec<RecordRef>,
    /// Open proposals and invitations sent by the member.
    pub open_proposals: Vec<RecordRef>,
    /// Contract offers waiting for an answer, made to the member or by them.
    pub open_offers: Vec<RecordRef>,
    /// Open job posts of the member.
    pub open_job_posts: Vec<RecordRef>,
    /// The member gave a temporary reason.
    pub reason_temporary: bool,
}

/// The outcome of preflight.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Preflight {
    pub intent: Intent,
    pub blockers: Vec<Finding>,
    pub warnings: Vec<Finding>,
}

impl Preflight {
    /// True when nothing blocks the flow.
    pub fn can_proceed(&self) -> bool {
        self.blockers.is_empty()
    }

    /// Applies the rules to the facts.
    pub fn evaluate(intent: Intent, f: &PreflightFacts) -> Preflight {
        let leaving = match intent {
            Intent::Deactivate => "deactivate",
            Intent::Delete => "delete your account",
        };
        let mut all: Vec<Finding> = Vec::new();
        let mut push = |code: FindingCode,
                        records: Vec<RecordRef>,
                        message: String,
                        action: &str,
                        href: &str| {
            all.push(Finding {
                code,
                severity: code.severity(),
                message,
                records,
                resolve: Resolution {
                    action: action.to_string(),
                    href: href.to_string(),
                },
            });
        };
        let n = |v: &Vec<RecordRef>| v.len();
        if !f.live_contracts.is_empty() {
            push(
                FindingCode::OpenContracts,
                f.live_contracts.clone(),
                format!(
                    "You have {} open contract{} (active, paused or in dispute). End {} before you {leaving}.",
                    n(&f.live_contracts),
                    plural(n(&f.live_contracts)),
                    them(n(&f.live_contracts))
                ),
                "End or complete each contract",
                "/contracts?status=live",
            );
        }
        if !f.unsettled_payments.is_empty() {
            push(
                FindingCode::PaymentsInEscrow,
                f.unsettled_payments.clone(),
                format!(
                    "{} payment{} {} still in escrow or pending release. Wait until {} released or refunded so no money is left behind.",
                    n(&f.unsettled_payments),
                    plural(n(&f.unsettled_payments)),
                    are(n(&f.unsettled_payments)),
                    they_are(n(&f.unsettled_payments))
                ),
                "Release, approve or refund each payment",
                "/payments?status=unsettled",
            );
        }
        if !f.scheduled_payouts.is_empty() {
            push(
                FindingCode::PayoutsNotSettled,
                f.scheduled_payouts.clone(),
                format!(
                    "{} payout{} to your bank {} not settled yet. Wait until {} settled.",
                    n(&f.scheduled_payouts),
                    plural(n(&f.scheduled_payouts)),
                    are(n(&f.scheduled_payouts)),
                    they_are(n(&f.scheduled_payouts))
                ),
                "Wait for the payout to settle",
                "/payouts",
            );
        }
        if !f.balances.is_empty() {
            let list = f
                .balances
                .iter()
                .map(|m| m.to_string())
                .collect::<Vec<_>>()
                .join(", ");
            let records = f
                .balances
                .iter()
                .map(|m| RecordRef::new("balance", m.currency, m.to_string()))
                .collect();
            push(
                FindingCode::BalanceNotWithdrawn,
                records,
                format!(
                    "You still have {list} available. Withdraw it first: don't leave money behind."
                ),
                "Withdraw your balance",
                "/balance/withdraw",
            );
        }
        if !f.debts.is_empty() {
            let list = f
                .debts
                .iter()
                .map(|m| m.to_string())
                .collect::<Vec<_>>()
                .join(", ");
            let records = f
                .debts
                .iter()
                .map(|m| RecordRef::new("balance", m.currency, m.to_string()))
                .collect();
            push(
                FindingCode::DebtToPlatform,
                records,
                format!("You owe the platform {list}. Settle it before you {leaving}."),
                "Pay what you owe",
                "/balance/pay",
            );
        }
        if !f.unpaid_invoices.is_empty() {
            push(
                FindingCode::UnpaidInvoices,
                f.unpaid_invoices.clone(),
                format!(
                    "You have {} unpaid invoice{} as a client. Pay {} so your freelancers are not left unpaid.",
                    n(&f.unpaid_invoices),
                    plural(n(&f.unpaid_invoices)),
                    them(n(&f.unpaid_invoices))
                ),
                "Pay each invoice",
                "/invoices?status=unpaid",
            );
        }
        if !f.open_disputes.is_empty() {
            push(
                FindingCode::OpenDisputes,
                f.open_disputes.clone(),
                format!(
                    "You are party to {} open dispute{}. {} must be resolved first.",
                    n(&f.open_disputes),
                    plural(n(&f.open_disputes)),
                    if n(&f.open_disputes) == 1 {
                        "It"
                    } else {
                        "They"
                    }
                ),
                "Resolve the dispute",
                "/disputes",
            );
        }
        if !f.export_current {
            push(FindingCode::NoCurrentExport, vec![],
                "You have not downloaded your data since it last changed. Download your contracts, invoices, messages and work submissions first.".to_string(),
                "Download your data", "/settings/export");
        }
        if !f.regular_clients_not_told.is_empty() {
            push(
                FindingCode::RegularClientsNotTold,
                f.regular_clients_not_told.clone(),
                format!(
                    "{} regular client{} {} not been told you are leaving. They may think you are ignoring them.",
                    n(&f.regular_clients_not_told),
                    plural(n(&f.regular_clients_not_told)),
                    if n(&f.regular_clients_not_told) == 1 {
                        "has"
                    } else {
                        "have"
                    }
                ),
                "Tell your clients",
                "/settings/close/clients",
            );
        }
        if !f.open_proposals.is_empty() {
            push(
                FindingCode::OpenProposalsWithdrawn,
                f.open_proposals.clone(),
                format!(
                    "{} open proposal{} or invitation{} will be withdrawn.",
                    n(&f.open_proposals),
                    plural(n(&f.open_proposals)),
                    plural(n(&f.open_proposals))
                ),
                "Review your proposals",
                "/proposals?status=open",
            );
        }
        if !f.open_offers.is_empty() {
            push(
                FindingCode::OpenOffersClosed,
                f.open_offers.clone(),
                format!(
                    "{} contract offer{} {} waiting for an answer: offers made to you will be declined, offers you made withdrawn.",
                    n(&f.open_offers),
                    plural(n(&f.open_offers)),
                    are(n(&f.open_offers))
                ),
                "Answer or withdraw each offer",
                "/contracts",
            );
        }
        if !f.open_job_posts.is_empty() {
            push(
                FindingCode::OpenJobPostsClosed,
                f.open_job_posts.clone(),
                format!(
                    "{} open job post{} will be closed.",
                    n(&f.open_job_posts),
                    plural(n(&f.open_job_posts))
                ),
                "Review your job posts",
                "/jobs?status=open",
            );
        }
        if f.reason_temporary {
            push(
                FindingCode::BreakWouldDo,
                vec![],
                format!(
                    "You said you plan to come back. A break keeps your profile and lets you return with one click; you do not need to {leaving}."
                ),
                "Take a break instead",
                "/settings/break",
            );
        }
        let (blockers, warnings) = all
            .into_iter()
            .partition(|x| x.severity == Severity::Blocker);
        Preflight {
            intent,
            blockers,
            warnings,
        }
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}
fn are(n: usize) -> &'static str {
    if n == 1 { "is" } else { "are" }
}
fn them(n: usize) -> &'static str {
    if n == 1 { "it" } else { "them" }
}
fn they_are(n: usize) -> &'static str {
    if n == 1 { "it is" } else { "they are" }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Currency;

    fn r(kind: &str) -> Vec<RecordRef> {
        vec![RecordRef::new(kind, "x", "label")]
    }

    fn clean() -> PreflightFacts {
        PreflightFacts {
            export_current: true,
            ..Default::default()
        }
    }

    #[test]
    fn a_clean_member_may_proceed_with_no_findings() {
        for intent in [Intent::Deactivate, Intent::Delete] {
            let p = Preflight::evaluate(intent, &clean());
            assert!(p.can_proceed());
            assert!(p.warnings.is_empty());
        }
    }

    /// Each rule, alone, produces exactly its own finding with the right severity.
    #[test]
    fn each_rule_alone() {
        let usd = Money::new(500, Currency::USD).unwrap();
        let cases: Vec<(FindingCode, PreflightFacts)> = vec![
            (
                FindingCode::OpenContracts,
                PreflightFacts {
                    live_contracts: r("contract"),
                    ..clean()
                },
            ),
            (
                FindingCode::PaymentsInEscrow,
                PreflightFacts {
                    unsettled_payments: r("payment"),
                    ..clean()
                },
            ),
            (
                FindingCode::PayoutsNotSettled,
                PreflightFacts {
                    scheduled_payouts: r("payout"),
                    ..clean()
                },
            ),
            (
                FindingCode::BalanceNotWithdrawn,
                PreflightFacts {
                    balances: vec![usd],
                    ..clean()
                },
            ),
            (
                FindingCode::DebtToPlatform,
                PreflightFacts {
                    debts: vec![usd],
                    ..clean()
                },
            ),
            (
                FindingCode::UnpaidInvoices,
                PreflightFacts {
                    unpaid_invoices: r("invoice"),
                    ..clean()
                },
            ),
            (
                FindingCode::OpenDisputes,
                PreflightFacts {
                    open_disputes: r("dispute"),
                    ..clean()
                },
            ),
            (
                FindingCode::NoCurrentExport,
                PreflightFacts {
                    export_current: false,
                    ..clean()
                },
            ),
            (
                FindingCode::RegularClientsNotTold,
                PreflightFacts {
                    regular_clients_not_told: r("account"),
                    ..clean()
                },
            ),
            (
                FindingCode::OpenProposalsWithdrawn,
                PreflightFacts {
                    open_proposals: r("proposal"),
                    ..clean()
                },
            ),
            (
                FindingCode::OpenOffersClosed,
                PreflightFacts {
                    open_offers: r("contract"),
                    ..clean()
                },
            ),
            (
                FindingCode::OpenJobPostsClosed,
                PreflightFacts {
                    open_job_posts: r("job_post"),
                    ..clean()
                },
            ),
            (
                FindingCode::BreakWouldDo,
                PreflightFacts {
                    reason_temporary: true,
                    ..clean()
                },
            ),
        ];
        assert_eq!(cases.len(), FindingCode::ALL.len());
        for (code, facts) in cases {
            for intent in [Intent::Deactivate, Intent::Delete] {
                let p = Preflight::evaluate(intent, &facts);
                let all: Vec<_> = p.blockers.iter().chain(&p.warnings).collect();
                assert_eq!(all.len(), 1, "{code:?}");
                let f = all[0];
                assert_eq!(f.code, code);
                assert_eq!(f.severity, code.severity());
                assert!(!f.message.is_empty() && f.resolve.href.starts_with('/'));
                assert_eq!(
                    p.can_proceed(),
                    code.severity() == Severity::Warning,
                    "{code:?}"
                );
            }
        }
    }

    #[test]
    fn messages_count_and_name_amounts() {
        let facts = PreflightFacts {
            live_contracts: vec![
                RecordRef::new("contract", 1, "a"),
                RecordRef::new("contract", 2, "b"),
            ],
            balances: vec![Money::new(12_345, Currency::USD).unwrap()],
            ..clean()
        };
        let p = Preflight::evaluate(Intent::Delete, &facts);
        assert!(
            p.blockers[0]
                .message
                .starts_with("You have 2 open contracts")
        );
        assert!(p.blockers[0].message.contains("delete your account"));
        assert!(p.blockers[1].message.contains("USD 123.45"));
        assert_eq!(p.blockers[0].records.len(), 2);
    }
}
