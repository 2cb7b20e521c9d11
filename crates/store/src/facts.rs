//! Gathers the facts preflight decides on, and the regular clients of a member.

use crate::args;
use crate::db::Tx;
use crate::error::{StoreError, StoreResult};
use hiatus_domain::regular::{ClientHistory, RegularBecause};
use hiatus_domain::{
    AccountId, Currency, DAY_MICROS, Micros, Money, PreflightFacts, RecordRef, RegularClientRule,
};

/// At most this many records are listed per finding; the count in the sentence stays exact.
const MAX_RECORDS: i64 = 100;

/// A regular client and why they count as one.
#[derive(Clone, Debug)]
pub struct RegularClient {
    pub client_id: AccountId,
    pub because: RegularBecause,
    pub told: bool,
}

/// The regular clients of a freelancer, most contracts first.
pub async fn regular_clients(
    tx: &mut Tx,
    member: AccountId,
    rule: &RegularClientRule,
    now: Micros,
) -> StoreResult<Vec<RegularClient>> {
    let rows: Vec<(String, i64, i64, i64, i64)> = tx
        .all(
            "SELECT g.client_id, g.contracts, g.live, g.last, \
             CAST(CASE WHEN n.client_id IS NULL THEN 0 ELSE 1 END AS BIGINT) \
             FROM (SELECT client_id, COUNT(*) AS contracts, SUM(CASE WHEN status <> 'ended' THEN 1 ELSE 0 END) AS live, \
                   MAX(COALESCE(ended_at, created_at)) AS last \
                   FROM contracts WHERE freelancer_id = $1 AND status NOT IN ('offered', 'declined', 'withdrawn') GROUP BY client_id \
                   HAVING SUM(CASE WHEN status <> 'ended' THEN 1 ELSE 0 END) > 0 OR MAX(COALESCE(ended_at, created_at)) >= $2 OR COUNT(*) >= $3) g \
             LEFT JOIN client_notices n ON n.account_id = $1 AND n.client_id = g.client_id \
             ORDER BY g.contracts DESC, g.client_id",
            // Only accepted contracts count: an offer the freelancer never accepted makes
            // nobody a regular client. The HAVING clause passes exactly the clients
            // `rule.judge` accepts (it still decides, below): a member with years of one-off
            // clients should not ship every one of them out of the database on each
            // preflight. Grouping before the join looks up notices for the regular clients
            // only, not for every contract.
            args![
                member.to_text(),
                now - rule.recent_days * DAY_MICROS,
                rule.min_contracts
            ],
        )
        .await?;
    let mut out = Vec::new();
    for (client, contracts, live, last, told) in rows {
        let h = ClientHistory {
            contracts,
            live_contracts: live,
            last_activity: last,
        };
        if let Some(because) = rule.judge(&h, now) {
            let client_id = client
                .parse()
                .map_err(|_| StoreError::Corrupt("client id".into()))?;
            out.push(RegularClient {
                client_id,
                because,
                told: told > 0,
            });
        }
    }
    Ok(out)
}

async fn refs(
    tx: &mut Tx,
    kind: &str,
    sql: &'static str,
    member: &str,
) -> StoreResult<Vec<RecordRef>> {
    let rows: Vec<(String, String)> = tx.all(sql, args![member.to_string(), MAX_RECORDS]).await?;
    Ok(rows
        .into_iter()
        .map(|(id, label)| RecordRef::new(kind, id, label))
        .collect())
}

/// Why a client counts as regular, in words: "3 contracts, one still open".
fn because_label(b: &RegularBecause) -> String {
    let mut s = match b.contracts {
        1 => "1 contract".to_string(),
        n => format!("{n} contracts"),
    };
    if b.open_contract {
        s.push_str(", one still open");
    } else if b.recent_contract {
        s.push_str(", one recent");
    }
    s
}

/// Like [`refs`], for records of an amount: the label is the amount as people write it
/// ("USD 1,200.00"), from rows of (id, currency, amount in minor units).
async fn money_refs(
    tx: &mut Tx,
    kind: &str,
    sql: &'static str,
    member: &str,
) -> StoreResult<Vec<RecordRef>> {
    let rows: Vec<(String, String, i64)> =
        tx.all(sql, args![member.to_string(), MAX_RECORDS]).await?;
    Ok(rows
        .into_iter()
        .map(|(id, currency, minor)| {
            let label = hiatus_domain::Currency::parse(&currency)
                .and_then(|c| hiatus_domain::Money::new(minor, c))
                .map(|m| m.to_string())
                .unwrap_or_else(|_| format!("{currency} {minor}"));
            RecordRef::new(kind, id, label)
        })
        .collect())
}

/// Everything preflight needs about one member.
pub async fn preflight_facts(
    tx: &mut Tx,
    member: AccountId,
    rule: &RegularClientRule,
    reason_temporary: bool,
    now: Micros,
) -> StoreResult<PreflightFacts> {
    let m = member.to_text();
    let live_contracts = refs(
        tx,
        "contract",
        // Offers (pending, declined or withdrawn) are not contracts anyone works under. The
        // list spells out `<> 'ended'`, the predicate of PostgreSQL's partial indexes on
        // live contracts, so the planner keeps using them.
        "SELECT id, title FROM contracts WHERE (freelancer_id = $1 OR client_id = $1) \
         AND status <> 'ended' AND status NOT IN ('offered', 'declined', 'withdrawn') ORDER BY created_at LIMIT $2",
        &m,
    )
    .await?;
    let open_offers = refs(
        tx,
        "contract",
        "SELECT id, title FROM ( \
            SELECT id, title, created_at FROM contracts WHERE freelancer_id = $1 AND status = 'offered' \
            UNION ALL SELECT id, title, created_at FROM contracts WHERE client_id = $1 AND status = 'offered' \
         ) o ORDER BY created_at LIMIT $2",
        &m,
    )
    .await?;
    // Two indexed lookups joined by UNION ALL use the (payer_id, status) and (payee_id, status)
    // indexes; an OR across both columns would scan every payment of a heavy member.
    let unsettled_payments = money_refs(
        tx,
        "payment",
        "SELECT id, currency, amount_minor FROM ( \
            SELECT id, currency, amount_minor, created_at FROM payments WHERE payer_id = $1 AND status IN ('in_escrow', 'pending_release') \
            UNION ALL SELECT id, currency, amount_minor, created_at FROM payments WHERE payee_id = $1 AND status IN ('in_escrow', 'pending_release') \
         ) p ORDER BY created_at LIMIT $2",
        &m,
    )
    .await?;
    let scheduled_payouts = money_refs(
        tx,
        "payout",
        "SELECT id, currency, amount_minor FROM payouts WHERE account_id = $1 AND status = 'scheduled' ORDER BY created_at LIMIT $2",
        &m,
    )
    .await?;
    let unpaid_invoices = refs(
        tx,
        "invoice",
        "SELECT id, number FROM invoices WHERE recipient_id = $1 AND status = 'unpaid' ORDER BY issued_at LIMIT $2",
        &m,
    )
    .await?;
    let open_disputes = refs(
        tx,
        "dispute",
        "SELECT d.id, c.title FROM disputes d JOIN contracts c ON c.id = d.contract_id \
         WHERE (c.freelancer_id = $1 OR c.client_id = $1) AND d.status = 'open' ORDER BY d.created_at LIMIT $2",
        &m,
    )
    .await?;
    let open_proposals = refs(
        tx,
        "proposal",
        "SELECT id, kind FROM proposals WHERE sender_id = $1 AND status = 'open' ORDER BY created_at LIMIT $2",
        &m,
    )
    .await?;
    let open_job_posts = refs(
        tx,
        "job_post",
        "SELECT id, title FROM job_posts WHERE client_id = $1 AND status = 'open' ORDER BY created_at LIMIT $2",
        &m,
    )
    .await?;
    let money_rows: Vec<(String, i64, i64)> = tx
        .all("SELECT currency, available_minor, debt_minor FROM balances WHERE account_id = $1 ORDER BY currency", args![m.clone()])
        .await?;
    let mut balances = Vec::new();
    let mut debts = Vec::new();
    for (cur, avail, debt) in money_rows {
        let currency = Currency::parse(&cur).map_err(|_| StoreError::Corrupt("currency".into()))?;
        if avail > 0 {
            balances.push(Money {
                minor: avail,
                currency,
            });
        }
        if debt > 0 {
            debts.push(Money {
                minor: debt,
                currency,
            });
        }
    }
    let export_current: i64 = tx
        .scalar(
            "SELECT COUNT(*) FROM exports e JOIN accounts a ON a.id = e.account_id WHERE e.account_id = $1 AND e.since IS NULL \
             AND e.downloaded_at IS NOT NULL AND COALESCE(e.started_at, e.created_at) >= a.data_changed_at",
            args![m.clone()],
        )
        .await?;
    let regular_clients_not_told = regular_clients(tx, member, rule, now)
        .await?
        .into_iter()
        .filter(|c| !c.told)
        .map(|c| RecordRef::new("account", c.client_id, because_label(&c.because)))
        .collect();
    Ok(PreflightFacts {
        live_contracts,
        unsettled_payments,
        scheduled_payouts,
        balances,
        debts,
        unpaid_invoices,
        open_disputes,
        export_current: export_current > 0,
        regular_clients_not_told,
        open_proposals,
        open_offers,
        open_job_posts,
        reason_temporary,
    })
}
