//! The marketplace records the lifecycle rules depend on: job posts, proposals, contracts,
//! milestones, payments, balances, payouts, invoices, disputes, threads, messages, work
//! submissions, files and reviews. These are shared records (both parties keep them), so
//! they are stored in clear; the person behind them is replaced by a pseudonym on erasure.

use crate::args;
use crate::crypto::Keyring;
use crate::db::Tx;
use crate::error::{StoreError, StoreResult};
use hiatus_domain::*;
use std::str::FromStr;

fn id<T: FromStr>(s: &str) -> StoreResult<T> {
    s.parse()
        .map_err(|_| StoreError::Corrupt(format!("id {s}")))
}
fn opt_id<T: FromStr>(s: &Option<String>) -> StoreResult<Option<T>> {
    s.as_deref().map(id).transpose()
}
fn money(minor: i64, cur: &str) -> StoreResult<Money> {
    Ok(Money {
        minor,
        currency: Currency::parse(cur)
            .map_err(|_| StoreError::Corrupt(format!("currency {cur}")))?,
    })
}
macro_rules! status {
    ($t:ty, $s:expr) => {
        <$t>::parse(&$s).ok_or_else(|| StoreError::Corrupt(format!("{} {}", stringify!($t), $s)))?
    };
}

// ---- job posts and proposals ----

#[derive(sqlx::FromRow)]
struct JobPostRow {
    id: String,
    client_id: String,
    title: String,
    status: String,
    created_at: i64,
}
impl JobPostRow {
    fn into_domain(self) -> StoreResult<JobPost> {
        Ok(JobPost {
            id: id(&self.id)?,
            client_id: id(&self.client_id)?,
            title: self.title,
            status: status!(JobPostStatus, self.status),
            created_at: self.created_at,
        })
    }
}

/// Creates an open job post.
pub async fn create_job_post(tx: &mut Tx, p: &JobPost) -> StoreResult<()> {
    tx.exec(
        "INSERT INTO job_posts (id, client_id, title, status, created_at) VALUES ($1, $2, $3, $4, $5)",
        args![p.id.to_text(), p.client_id.to_text(), p.title.clone(), p.status.as_str(), p.created_at],
    )
    .await?;
    Ok(())
}

/// A job post.
pub async fn job_post(tx: &mut Tx, jid: JobPostId) -> StoreResult<JobPost> {
    let r: JobPostRow = tx
        .one(
            "SELECT id, client_id, title, status, created_at FROM job_posts WHERE id = $1",
            args![jid.to_text()],
        )
        .await?;
    r.into_domain()
}

/// A client's job posts, newest first.
pub async fn job_posts_of(tx: &mut Tx, client: AccountId) -> StoreResult<Vec<JobPost>> {
    let rows: Vec<JobPostRow> = tx
        .all("SELECT id, client_id, title, status, created_at FROM job_posts WHERE client_id = $1 ORDER BY created_at DESC, id", args![client.to_text()])
        .await?;
    rows.into_iter().map(JobPostRow::into_domain).collect()
}

/// Closes every open job post of a client; returns how many.
pub async fn close_open_job_posts(tx: &mut Tx, client: AccountId) -> StoreResult<u64> {
    tx.exec(
        "UPDATE job_posts SET status = 'closed' WHERE client_id = $1 AND status = 'open'",
        args![client.to_text()],
    )
    .await
}

#[derive(sqlx::FromRow)]
struct ProposalRow {
    id: String,
    kind: String,
    job_post_id: Option<String>,
    freelancer_id: String,
    client_id: String,
    sender_id: String,
    cover_letter_enc: Option<Vec<u8>>,
    /// The sender's wrapped data key, which the cover letter is sealed under.
    sender_key: Option<Vec<u8>>,
    status: String,
    created_at: i64,
}
impl ProposalRow {
    fn into_domain(self, keys: &Keyring) -> StoreResult<Proposal> {
        // A sender erased meanwhile takes the cover letter with them (erasure deletes the
        // proposal too): it reads as empty until then.
        let cover_letter = match (&self.cover_letter_enc, self.sender_key.as_deref()) {
            (Some(b), Some(w)) => keys.unwrap_data_key(&self.sender_id, Some(w))?.open_field(
                "proposals",
                "cover_letter",
                &self.id,
                b,
            )?,
            _ => String::new(),
        };
        Ok(Proposal {
            id: id(&self.id)?,
            kind: status!(ProposalKind, self.kind),
            job_post_id: opt_id(&self.job_post_id)?,
            freelancer_id: id(&self.freelancer_id)?,
            client_id: id(&self.client_id)?,
            sender_id: id(&self.sender_id)?,
            cover_letter,
            status: status!(ProposalStatus, self.status),
            created_at: self.created_at,
        })
    }
}

/// Creates a proposal or invitation; the cover letter is sealed under the sender's data key.
pub async fn create_proposal(tx: &mut Tx, keys: &Keyring, p: &Proposal) -> StoreResult<()> {
    let dk = crate::accounts::get(tx, p.sender_id)
        .await?
        .data_key(keys)?;
    let pid = p.id.to_text();
    let letter = dk.seal_field("proposals", "cover_letter", &pid, &p.cover_letter);
    tx.exec(
        "INSERT INTO proposals (id, kind, job_post_id, freelancer_id, client_id, sender_id, cover_letter_enc, status, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        args![
            pid,
            p.kind.as_str(),
            p.job_post_id.map(|j| j.to_text()),
            p.freelancer_id.to_text(),
            p.client_id.to_text(),
            p.sender_id.to_text(),
            letter,
            p.status.as_str(),
            p.created_at
        ],
    )
    .await?;
    Ok(())
}

/// A proposal, its cover letter opened.
pub async fn proposal(tx: &mut Tx, keys: &Keyring, pid: ProposalId) -> StoreResult<Proposal> {
    let r: ProposalRow = tx
        .one("SELECT p.id, p.kind, p.job_post_id, p.freelancer_id, p.client_id, p.sender_id, p.cover_letter_enc, \
              a.data_key_wrapped AS sender_key, p.status, p.created_at \
              FROM proposals p JOIN accounts a ON a.id = p.sender_id WHERE p.id = $1", args![pid.to_text()])
        .await?;
    r.into_domain(keys)
}

/// Proposals and invitations a member sent or received, newest first.
pub async fn proposals_of(
    tx: &mut Tx,
    keys: &Keyring,
    who: AccountId,
) -> StoreResult<Vec<Proposal>> {
    let rows: Vec<ProposalRow> = tx
        .all(
            "SELECT p.id, p.kind, p.job_post_id, p.freelancer_id, p.client_id, p.sender_id, p.cover_letter_enc, \
             a.data_key_wrapped AS sender_key, p.status, p.created_at \
             FROM proposals p JOIN accounts a ON a.id = p.sender_id \
             WHERE p.freelancer_id = $1 OR p.client_id = $1 ORDER BY p.created_at DESC, p.id",
            args![who.to_text()],
        )
        .await?;
    rows.into_iter().map(|r| r.into_domain(keys)).collect()
}

/// Sets a proposal's status.
pub async fn set_proposal_status(
    tx: &mut Tx,
    pid: ProposalId,
    s: ProposalStatus,
) -> StoreResult<()> {
    tx.exec(
        "UPDATE proposals SET status = $2 WHERE id = $1",
        args![pid.to_text(), s.as_str()],
    )
    .await?;
    Ok(())
}

/// Withdraws every open proposal or invitation the member sent; returns how many.
pub async fn withdraw_open_proposals(tx: &mut Tx, sender: AccountId) -> StoreResult<u64> {
    tx.exec(
        "UPDATE proposals SET status = 'withdrawn' WHERE sender_id = $1 AND status = 'open'",
        args![sender.to_text()],
    )
    .await
}

// ---- contracts, milestones, payments ----

#[derive(sqlx::FromRow)]
struct ContractRow {
    id: String,
    client_id: String,
    freelancer_id: String,
    title: String,
    status: String,
    currency: String,
    created_at: i64,
    ended_at: Option<i64>,
}
impl ContractRow {
    fn into_domain(self) -> StoreResult<Contract> {
        Ok(Contract {
            id: id(&self.id)?,
            client_id: id(&self.client_id)?,
            freelancer_id: id(&self.freelancer_id)?,
            title: self.title,
            status: status!(ContractStatus, self.status),
            currency: Currency::parse(&self.currency)
                .map_err(|_| StoreError::Corrupt("currency".into()))?,
            created_at: self.created_at,
            ended_at: self.ended_at,
        })
    }
}

/// Creates a contract.
pub async fn create_contract(tx: &mut Tx, c: &Contract) -> StoreResult<()> {
    tx.exec(
        "INSERT INTO contracts (id, client_id, freelancer_id, title, status, currency, created_at, ended_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        args![c.id.to_text(), c.client_id.to_text(), c.freelancer_id.to_text(), c.title.clone(), c.status.as_str(), c.currency.as_str(), c.created_at, c.ended_at],
    )
    .await?;
    Ok(())
}

/// A contract.
pub async fn contract(tx: &mut Tx, cid: ContractId) -> StoreResult<Contract> {
    let r: ContractRow = tx
        .one("SELECT id, client_id, freelancer_id, title, status, currency, created_at, ended_at FROM contracts WHERE id = $1", args![cid.to_text()])
        .await?;
    r.into_domain()
}

/// A member's contracts, either side, newest first.
pub async fn contracts_of(
    tx: &mut Tx,
    who: AccountId,
    limit: i64,
    offset: i64,
) -> StoreResult<Vec<Contract>> {
    let rows: Vec<ContractRow> = tx
        .all(
            "SELECT id, client_id, freelancer_id, title, status, currency, created_at, ended_at FROM contracts \
             WHERE freelancer_id = $1 OR client_id = $1 ORDER BY created_at DESC, id LIMIT $2 OFFSET $3",
            args![who.to_text(), limit, offset],
        )
        .await?;
    rows.into_iter().map(ContractRow::into_domain).collect()
}

/// Moves a contract from one of `from` to `to` (ending it, declining or withdrawing an offer
/// stamps `ended_at`), only when it
/// is still in one of `from`: false when a concurrent request changed it first. On
/// PostgreSQL the update also locks the row until commit, so a milestone funded or a payment
/// settled in parallel waits for this transaction and then sees the new status.
pub async fn move_contract(
    tx: &mut Tx,
    cid: ContractId,
    from: &[ContractStatus],
    to: ContractStatus,
    now: Micros,
) -> StoreResult<bool> {
    let ended = to.is_final().then_some(now);
    // Four statuses at most: unused slots repeat the first, which changes nothing.
    let slot = |i: usize| from.get(i).or(from.first()).map(|s| s.as_str().to_string());
    let n = tx
        .exec(
            "UPDATE contracts SET status = $2, ended_at = $3 WHERE id = $1 AND status IN ($4, $5, $6, $7)",
            args![cid.to_text(), to.as_str(), ended, slot(0), slot(1), slot(2), slot(3)],
        )
        .await?;
    Ok(n == 1)
}

/// Closes the contract offers waiting for an answer that involve a member who is leaving:
/// those made to them are declined, those they made withdrawn, all stamped `now`. Returns
/// how many.
pub async fn close_pending_offers(tx: &mut Tx, member: AccountId, now: Micros) -> StoreResult<u64> {
    let declined = tx
        .exec(
            "UPDATE contracts SET status = 'declined', ended_at = $2 WHERE freelancer_id = $1 AND status = 'offered'",
            args![member.to_text(), now],
        )
        .await?;
    let withdrawn = tx
        .exec(
            "UPDATE contracts SET status = 'withdrawn', ended_at = $2 WHERE client_id = $1 AND status = 'offered'",
            args![member.to_text(), now],
        )
        .await?;
    Ok(declined + withdrawn)
}

/// Takes the contract's row lock when it is still open (PostgreSQL; SQLite already holds
/// the write lock), so funding cannot interleave with ending or disputing it. False when the
/// contract is no longer open.
pub async fn lock_open_contract(tx: &mut Tx, cid: ContractId) -> StoreResult<bool> {
    let n = tx
        .exec(
            "UPDATE contracts SET status = status WHERE id = $1 AND status = 'open'",
            args![cid.to_text()],
        )
        .await?;
    Ok(n == 1)
}

/// Creates a milestone.
pub async fn create_milestone(tx: &mut Tx, m: &Milestone) -> StoreResult<()> {
    tx.exec(
        "INSERT INTO milestones (id, contract_id, title, amount_minor, currency, status, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        args![m.id.to_text(), m.contract_id.to_text(), m.title.clone(), m.amount.minor, m.amount.currency.as_str(), m.status.as_str(), m.created_at],
    )
    .await?;
    Ok(())
}

#[derive(sqlx::FromRow)]
struct PaymentRow {
    id: String,
    contract_id: String,
    milestone_id: Option<String>,
    payer_id: String,
    payee_id: String,
    amount_minor: i64,
    currency: String,
    status: String,
    created_at: i64,
    updated_at: i64,
}
impl PaymentRow {
    fn into_domain(self) -> StoreResult<Payment> {
        Ok(Payment {
            id: id(&self.id)?,
            contract_id: id(&self.contract_id)?,
            milestone_id: opt_id(&self.milestone_id)?,
            payer_id: id(&self.payer_id)?,
            payee_id: id(&self.payee_id)?,
            amount: money(self.amount_minor, &self.currency)?,
            status: status!(PaymentStatus, self.status),
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }
}

/// Creates a payment.
pub async fn create_payment(tx: &mut Tx, p: &Payment) -> StoreResult<()> {
    tx.exec(
        "INSERT INTO payments (id, contract_id, milestone_id, payer_id, payee_id, amount_minor, currency, status, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        args![
            p.id.to_text(),
            p.contract_id.to_text(),
            p.milestone_id.map(|m| m.to_text()),
            p.payer_id.to_text(),
            p.payee_id.to_text(),
            p.amount.minor,
            p.amount.currency.as_str(),
            p.status.as_str(),
            p.created_at,
            p.updated_at
        ],
    )
    .await?;
    Ok(())
}

/// A payment.
pub async fn payment(tx: &mut Tx, pid: PaymentId) -> StoreResult<Payment> {
    let r: PaymentRow = tx
        .one(
            "SELECT id, contract_id, milestone_id, payer_id, payee_id, amount_minor, currency, status, created_at, updated_at FROM payments WHERE id = $1",
            args![pid.to_text()],
        )
        .await?;
    r.into_domain()
}

/// A member's payments, either side, newest first.
pub async fn payments_of(
    tx: &mut Tx,
    who: AccountId,
    limit: i64,
    offset: i64,
) -> StoreResult<Vec<Payment>> {
    let rows: Vec<PaymentRow> = tx
        .all(
            "SELECT id, contract_id, milestone_id, payer_id, payee_id, amount_minor, currency, status, created_at, updated_at FROM payments \
             WHERE payer_id = $1 OR payee_id = $1 ORDER BY created_at DESC, id LIMIT $2 OFFSET $3",
            args![who.to_text(), limit, offset],
        )
        .await?;
    rows.into_iter().map(PaymentRow::into_domain).collect()
}

/// Approves a payment held in escrow (escrow → pending release), once: false when it was not
/// in escrow any more (approved, released or refunded by a concurrent request).
pub async fn approve_payment_once(tx: &mut Tx, pid: PaymentId, now: Micros) -> StoreResult<bool> {
    let n = tx
        .exec(
            "UPDATE payments SET status = 'pending_release', updated_at = $2 WHERE id = $1 AND status = 'in_escrow'",
            args![pid.to_text(), now],
        )
        .await?;
    Ok(n == 1)
}

/// Marks an unsettled payment released, once: false when it was already released or
/// refunded. The caller credits the payee in the same transaction.
pub async fn release_payment_once(tx: &mut Tx, pid: PaymentId, now: Micros) -> StoreResult<bool> {
    let n = tx
        .exec(
            "UPDATE payments SET status = 'released', updated_at = $2 WHERE id = $1 AND status IN ('in_escrow', 'pending_release')",
            args![pid.to_text(), now],
        )
        .await?;
    Ok(n == 1)
}

/// Marks an unsettled payment refunded, once: false when it was already released or refunded.
pub async fn refund_payment_once(tx: &mut Tx, pid: PaymentId, now: Micros) -> StoreResult<bool> {
    let n = tx
        .exec(
            "UPDATE payments SET status = 'refunded', updated_at = $2 WHERE id = $1 AND status IN ('in_escrow', 'pending_release')",
            args![pid.to_text(), now],
        )
        .await?;
    Ok(n == 1)
}

// ---- balances and payouts ----

/// Sets a balance (creating it when missing).
pub async fn set_balance(tx: &mut Tx, who: AccountId, b: &Balance, now: Micros) -> StoreResult<()> {
    tx.exec(
        "INSERT INTO balances (account_id, currency, available_minor, debt_minor, updated_at) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (account_id, currency) DO UPDATE SET available_minor = excluded.available_minor, debt_minor = excluded.debt_minor, updated_at = excluded.updated_at",
        args![who.to_text(), b.available.currency.as_str(), b.available.minor, b.debt.minor, now],
    )
    .await?;
    Ok(())
}

/// Adds to the available balance of a currency, atomically (the sum is computed by the
/// database under the row's lock, never read and written back). False, with nothing changed,
/// when the balance would pass [`MAX_BALANCE_MINOR`].
pub async fn credit_balance(
    tx: &mut Tx,
    who: AccountId,
    m: Money,
    now: Micros,
) -> StoreResult<bool> {
    if !(0..=MAX_AMOUNT_MINOR).contains(&m.minor) {
        return Ok(false);
    }
    // Both operands are at most 10^15, so the sum cannot overflow a 64-bit integer (which
    // SQLite would turn into a floating-point value).
    let n = tx
        .exec(
            "INSERT INTO balances (account_id, currency, available_minor, debt_minor, updated_at) VALUES ($1, $2, $3, 0, $4) \
             ON CONFLICT (account_id, currency) DO UPDATE SET available_minor = balances.available_minor + excluded.available_minor, updated_at = excluded.updated_at \
             WHERE balances.available_minor + excluded.available_minor <= $5",
            args![who.to_text(), m.currency.as_str(), m.minor, now, MAX_BALANCE_MINOR],
        )
        .await?;
    Ok(n == 1)
}

/// Takes an amount from the available balance of a currency, atomically and only when it is
/// there: false, with nothing changed, when the balance is smaller (or missing). Two
/// concurrent withdrawals of the whole balance cannot both pass.
pub async fn debit_balance_once(
    tx: &mut Tx,
    who: AccountId,
    m: Money,
    now: Micros,
) -> StoreResult<bool> {
    if m.minor <= 0 {
        return Ok(false);
    }
    let n = tx
        .exec(
            "UPDATE balances SET available_minor = available_minor - $3, updated_at = $4 \
             WHERE account_id = $1 AND currency = $2 AND available_minor >= $3",
            args![who.to_text(), m.currency.as_str(), m.minor, now],
        )
        .await?;
    Ok(n == 1)
}

/// Records what a member owes the platform in a currency, leaving the available balance as
/// it is (creating the balance row when missing).
pub async fn set_debt(tx: &mut Tx, who: AccountId, debt: Money, now: Micros) -> StoreResult<()> {
    tx.exec(
        "INSERT INTO balances (account_id, currency, available_minor, debt_minor, updated_at) VALUES ($1, $2, 0, $3, $4) \
         ON CONFLICT (account_id, currency) DO UPDATE SET debt_minor = excluded.debt_minor, updated_at = excluded.updated_at",
        args![who.to_text(), debt.currency.as_str(), debt.minor, now],
    )
    .await?;
    Ok(())
}

/// A member's balances.
pub async fn balances_of(tx: &mut Tx, who: AccountId) -> StoreResult<Vec<Balance>> {
    let rows: Vec<(String, i64, i64)> = tx
        .all("SELECT currency, available_minor, debt_minor FROM balances WHERE account_id = $1 ORDER BY currency", args![who.to_text()])
        .await?;
    rows.into_iter()
        .map(|(c, a, d)| {
            Ok(Balance {
                available: money(a, &c)?,
                debt: money(d, &c)?,
            })
        })
        .collect()
}

#[derive(sqlx::FromRow)]
struct PayoutRow {
    id: String,
    account_id: String,
    amount_minor: i64,
    currency: String,
    status: String,
    created_at: i64,
    settles_at: i64,
}
impl PayoutRow {
    fn into_domain(self) -> StoreResult<Payout> {
        Ok(Payout {
            id: id(&self.id)?,
            account_id: id(&self.account_id)?,
            amount: money(self.amount_minor, &self.currency)?,
            status: status!(PayoutStatus, self.status),
            created_at: self.created_at,
            settles_at: self.settles_at,
        })
    }
}

/// Creates a payout.
pub async fn create_payout(tx: &mut Tx, p: &Payout) -> StoreResult<()> {
    tx.exec(
        "INSERT INTO payouts (id, account_id, amount_minor, currency, status, created_at, settles_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        args![p.id.to_text(), p.account_id.to_text(), p.amount.minor, p.amount.currency.as_str(), p.status.as_str(), p.created_at, p.settles_at],
    )
    .await?;
    Ok(())
}

/// A member's payouts, newest first.
pub async fn payouts_of(tx: &mut Tx, who: AccountId) -> StoreResult<Vec<Payout>> {
    let rows: Vec<PayoutRow> = tx
        .all(
            "SELECT id, account_id, amount_minor, currency, status, created_at, settles_at FROM payouts WHERE account_id = $1 ORDER BY created_at DESC, id",
            args![who.to_text()],
        )
        .await?;
    rows.into_iter().map(PayoutRow::into_domain).collect()
}

/// A payout.
pub async fn payout(tx: &mut Tx, pid: PayoutId) -> StoreResult<Payout> {
    let r: PayoutRow = tx
        .one("SELECT id, account_id, amount_minor, currency, status, created_at, settles_at FROM payouts WHERE id = $1", args![pid.to_text()])
        .await?;
    r.into_domain()
}

/// Settles a scheduled payout, once: false when it was already settled.
pub async fn settle_payout_once(tx: &mut Tx, pid: PayoutId) -> StoreResult<bool> {
    let n = tx
        .exec(
            "UPDATE payouts SET status = 'settled' WHERE id = $1 AND status = 'scheduled'",
            args![pid.to_text()],
        )
        .await?;
    Ok(n == 1)
}

// ---- invoices and disputes ----

#[derive(sqlx::FromRow)]
struct InvoiceRow {
    id: String,
    number: String,
    contract_id: String,
    issuer_id: String,
    recipient_id: String,
    description: String,
    amount_minor: i64,
    currency: String,
    status: String,
    issued_at: i64,
    due_at: i64,
    paid_at: Option<i64>,
}
impl InvoiceRow {
    fn into_domain(self) -> StoreResult<Invoice> {
        Ok(Invoice {
            id: id(&self.id)?,
            number: self.number,
            contract_id: id(&self.contract_id)?,
            issuer_id: id(&self.issuer_id)?,
            recipient_id: id(&self.recipient_id)?,
            description: self.description,
            amount: money(self.amount_minor, &self.currency)?,
            status: status!(InvoiceStatus, self.status),
            issued_at: self.issued_at,
            due_at: self.due_at,
            paid_at: self.paid_at,
        })
    }
}

/// Creates an invoice.
pub async fn create_invoice(tx: &mut Tx, i: &Invoice) -> StoreResult<()> {
    tx.exec(
        "INSERT INTO invoices (id, number, contract_id, issuer_id, recipient_id, description, amount_minor, currency, status, issued_at, due_at, paid_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        args![
            i.id.to_text(),
            i.number.clone(),
            i.contract_id.to_text(),
            i.issuer_id.to_text(),
            i.recipient_id.to_text(),
            i.description.clone(),
            i.amount.minor,
            i.amount.currency.as_str(),
            i.status.as_str(),
            i.issued_at,
            i.due_at,
            i.paid_at
        ],
    )
    .await?;
    Ok(())
}

/// An invoice.
pub async fn invoice(tx: &mut Tx, iid: InvoiceId) -> StoreResult<Invoice> {
    let r: InvoiceRow = tx
        .one(
            "SELECT id, number, contract_id, issuer_id, recipient_id, description, amount_minor, currency, status, issued_at, due_at, paid_at FROM invoices WHERE id = $1",
            args![iid.to_text()],
        )
        .await?;
    r.into_domain()
}

/// Invoices a member issued or received, newest first.
pub async fn invoices_of(
    tx: &mut Tx,
    who: AccountId,
    limit: i64,
    offset: i64,
) -> StoreResult<Vec<Invoice>> {
    let rows: Vec<InvoiceRow> = tx
        .all(
            "SELECT id, number, contract_id, issuer_id, recipient_id, description, amount_minor, currency, status, issued_at, due_at, paid_at FROM invoices \
             WHERE issuer_id = $1 OR recipient_id = $1 ORDER BY issued_at DESC, id LIMIT $2 OFFSET $3",
            args![who.to_text(), limit, offset],
        )
        .await?;
    rows.into_iter().map(InvoiceRow::into_domain).collect()
}

/// Marks an unpaid invoice paid (stamping `paid_at`), once: false when it was not unpaid any
/// more (paid by a concurrent request, or void). The caller credits the issuer in the same
/// transaction.
pub async fn pay_invoice_once(tx: &mut Tx, iid: InvoiceId, now: Micros) -> StoreResult<bool> {
    let n = tx
        .exec(
            "UPDATE invoices SET status = 'paid', paid_at = $2 WHERE id = $1 AND status = 'unpaid'",
            args![iid.to_text(), now],
        )
        .await?;
    Ok(n == 1)
}

#[derive(sqlx::FromRow)]
struct DisputeRow {
    id: String,
    contract_id: String,
    opened_by: String,
    status: String,
    created_at: i64,
    resolved_at: Option<i64>,
}
impl DisputeRow {
    fn into_domain(self) -> StoreResult<Dispute> {
        Ok(Dispute {
            id: id(&self.id)?,
            contract_id: id(&self.contract_id)?,
            opened_by: id(&self.opened_by)?,
            status: status!(DisputeStatus, self.status),
            created_at: self.created_at,
            resolved_at: self.resolved_at,
        })
    }
}

/// Opens a dispute.
pub async fn create_dispute(tx: &mut Tx, d: &Dispute) -> StoreResult<()> {
    tx.exec(
        "INSERT INTO disputes (id, contract_id, opened_by, status, created_at, resolved_at) VALUES ($1, $2, $3, $4, $5, $6)",
        args![d.id.to_text(), d.contract_id.to_text(), d.opened_by.to_text(), d.status.as_str(), d.created_at, d.resolved_at],
    )
    .await?;
    Ok(())
}

/// A dispute.
pub async fn dispute(tx: &mut Tx, did: DisputeId) -> StoreResult<Dispute> {
    let r: DisputeRow = tx
        .one("SELECT id, contract_id, opened_by, status, created_at, resolved_at FROM disputes WHERE id = $1", args![did.to_text()])
        .await?;
    r.into_domain()
}

/// Resolves every open dispute of a contract; returns how many.
pub async fn resolve_open_disputes(tx: &mut Tx, cid: ContractId, now: Micros) -> StoreResult<u64> {
    tx.exec(
        "UPDATE disputes SET status = 'resolved', resolved_at = $2 WHERE contract_id = $1 AND status = 'open'",
        args![cid.to_text(), now],
    )
    .await
}

// ---- threads, messages, submissions, files, reviews ----

#[derive(sqlx::FromRow)]
struct ThreadRow {
    id: String,
    contract_id: Option<String>,
    subject: String,
    named_id: Option<String>,
    created_at: i64,
    last_message_at: i64,
}

/// What a thread subject says where it names a person: the person is in `threads.named_id`,
/// and their current name (the pseudonym once they are erased) is put in when it is shown,
/// so no name is ever copied into the subject, which erasure keeps.
pub const NAMED: &str = "{name}";

/// Creates a thread with its participants.
pub async fn create_thread(tx: &mut Tx, t: &Thread) -> StoreResult<()> {
    create_thread_naming(tx, t, None).await
}

/// Creates a thread whose subject names `named` by reference ([`NAMED`]).
pub async fn create_thread_naming(
    tx: &mut Tx,
    t: &Thread,
    named: Option<AccountId>,
) -> StoreResult<()> {
    tx.exec(
        "INSERT INTO threads (id, contract_id, subject, named_id, created_at, last_message_at) VALUES ($1, $2, $3, $4, $5, $6)",
        args![t.id.to_text(), t.contract_id.map(|c| c.to_text()), t.subject.clone(), named.map(|n| n.to_text()), t.created_at, t.last_message_at],
    )
    .await?;
    for p in &t.participants {
        tx.exec(
            "INSERT INTO thread_participants (thread_id, account_id) VALUES ($1, $2)",
            args![t.id.to_text(), p.to_text()],
        )
        .await?;
    }
    Ok(())
}

async fn participants(tx: &mut Tx, tid: &str) -> StoreResult<Vec<AccountId>> {
    let rows: Vec<(String,)> = tx
        .all(
            "SELECT account_id FROM thread_participants WHERE thread_id = $1 ORDER BY account_id",
            args![tid.to_string()],
        )
        .await?;
    rows.iter().map(|(s,)| id(s)).collect()
}

/// A thread with its participants.
pub async fn thread(tx: &mut Tx, tid: ThreadId) -> StoreResult<Thread> {
    let r: ThreadRow = tx
        .one("SELECT id, contract_id, subject, named_id, created_at, last_message_at FROM threads WHERE id = $1", args![tid.to_text()])
        .await?;
    Ok(Thread {
        participants: participants(tx, &r.id).await?,
        id: id(&r.id)?,
        contract_id: opt_id(&r.contract_id)?,
        subject: r.subject,
        created_at: r.created_at,
        last_message_at: r.last_message_at,
        named: opt_id(&r.named_id)?,
    })
}

/// The threads a member takes part in, most recent first.
pub async fn threads_of(
    tx: &mut Tx,
    who: AccountId,
    limit: i64,
    offset: i64,
) -> StoreResult<Vec<Thread>> {
    let rows: Vec<ThreadRow> = tx
        .all(
            "SELECT t.id, t.contract_id, t.subject, t.named_id, t.created_at, t.last_message_at FROM threads t \
             JOIN thread_participants p ON p.thread_id = t.id WHERE p.account_id = $1 ORDER BY t.last_message_at DESC, t.id LIMIT $2 OFFSET $3",
            args![who.to_text(), limit, offset],
        )
        .await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        out.push(Thread {
            participants: participants(tx, &r.id).await?,
            id: id(&r.id)?,
            contract_id: opt_id(&r.contract_id)?,
            subject: r.subject,
            created_at: r.created_at,
            last_message_at: r.last_message_at,
            named: opt_id(&r.named_id)?,
        });
    }
    Ok(out)
}

/// Adds a message and bumps the thread.
pub async fn post_message(tx: &mut Tx, m: &Message) -> StoreResult<()> {
    tx.exec(
        "INSERT INTO messages (id, thread_id, author_id, body, created_at) VALUES ($1, $2, $3, $4, $5)",
        args![m.id.to_text(), m.thread_id.to_text(), m.author_id.to_text(), m.body.clone(), m.created_at],
    )
    .await?;
    tx.exec(
        "UPDATE threads SET last_message_at = $2 WHERE id = $1",
        args![m.thread_id.to_text(), m.created_at],
    )
    .await?;
    Ok(())
}

/// Messages of a thread in order, a page at a time.
pub async fn messages(
    tx: &mut Tx,
    tid: ThreadId,
    limit: i64,
    offset: i64,
) -> StoreResult<Vec<Message>> {
    let rows: Vec<(String, String, String, String, i64)> = tx
        .all(
            "SELECT id, thread_id, author_id, body, created_at FROM messages WHERE thread_id = $1 ORDER BY created_at, id LIMIT $2 OFFSET $3",
            args![tid.to_text(), limit, offset],
        )
        .await?;
    rows.into_iter()
        .map(|(i, t, a, body, created_at)| {
            Ok(Message {
                id: id(&i)?,
                thread_id: id(&t)?,
                author_id: id(&a)?,
                body,
                created_at,
            })
        })
        .collect()
}

/// Creates a work submission.
pub async fn create_submission(tx: &mut Tx, s: &Submission) -> StoreResult<()> {
    tx.exec(
        "INSERT INTO submissions (id, contract_id, freelancer_id, note, created_at) VALUES ($1, $2, $3, $4, $5)",
        args![s.id.to_text(), s.contract_id.to_text(), s.freelancer_id.to_text(), s.note.clone(), s.created_at],
    )
    .await?;
    Ok(())
}

/// The submissions under a contract.
pub async fn submissions_of_contract(tx: &mut Tx, cid: ContractId) -> StoreResult<Vec<Submission>> {
    let rows: Vec<(String, String, String, String, i64)> = tx
        .all(
            "SELECT id, contract_id, freelancer_id, note, created_at FROM submissions WHERE contract_id = $1 ORDER BY created_at, id",
            args![cid.to_text()],
        )
        .await?;
    rows.into_iter()
        .map(|(i, c, f, note, created_at)| {
            Ok(Submission {
                id: id(&i)?,
                contract_id: id(&c)?,
                freelancer_id: id(&f)?,
                note,
                created_at,
            })
        })
        .collect()
}

/// A submission.
pub async fn submission(tx: &mut Tx, sid: SubmissionId) -> StoreResult<Submission> {
    let (i, c, f, note, created_at): (String, String, String, String, i64) = tx
        .one("SELECT id, contract_id, freelancer_id, note, created_at FROM submissions WHERE id = $1", args![sid.to_text()])
        .await?;
    Ok(Submission {
        id: id(&i)?,
        contract_id: id(&c)?,
        freelancer_id: id(&f)?,
        note,
        created_at,
    })
}

/// A file row as stored.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct FileRow {
    pub id: String,
    pub owner_id: String,
    pub kind: String,
    pub message_id: Option<String>,
    pub submission_id: Option<String>,
    pub blob_key: String,
    pub name: Option<String>,
    pub name_enc: Option<Vec<u8>>,
    pub content_type: String,
    pub size_bytes: i64,
    pub sha256: String,
    pub encrypted: bool,
    pub created_at: i64,
}

/// Records a stored file.
pub async fn create_file(tx: &mut Tx, f: &FileRow) -> StoreResult<()> {
    tx.exec(
        "INSERT INTO files (id, owner_id, kind, message_id, submission_id, blob_key, name, name_enc, content_type, size_bytes, sha256, encrypted, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
        args![
            f.id.clone(),
            f.owner_id.clone(),
            f.kind.clone(),
            f.message_id.clone(),
            f.submission_id.clone(),
            f.blob_key.clone(),
            f.name.clone(),
            f.name_enc.clone(),
            f.content_type.clone(),
            f.size_bytes,
            f.sha256.clone(),
            f.encrypted,
            f.created_at
        ],
    )
    .await?;
    Ok(())
}

/// A file row.
pub async fn file(tx: &mut Tx, fid: FileId) -> StoreResult<FileRow> {
    tx.one(
        "SELECT id, owner_id, kind, message_id, submission_id, blob_key, name, name_enc, content_type, size_bytes, sha256, encrypted, created_at FROM files WHERE id = $1",
        args![fid.to_text()],
    )
    .await
}

/// Files attached to a submission.
pub async fn files_of_submission(tx: &mut Tx, sid: SubmissionId) -> StoreResult<Vec<FileRow>> {
    tx.all(
        "SELECT id, owner_id, kind, message_id, submission_id, blob_key, name, name_enc, content_type, size_bytes, sha256, encrypted, created_at FROM files WHERE submission_id = $1 ORDER BY created_at, id",
        args![sid.to_text()],
    )
    .await
}

#[derive(sqlx::FromRow)]
struct ReviewRow {
    id: String,
    contract_id: String,
    author_id: String,
    subject_id: String,
    rating: i64,
    body: String,
    created_at: i64,
}
impl ReviewRow {
    fn into_domain(self) -> StoreResult<Review> {
        Ok(Review {
            id: id(&self.id)?,
            contract_id: id(&self.contract_id)?,
            author_id: id(&self.author_id)?,
            subject_id: id(&self.subject_id)?,
            rating: self.rating,
            body: self.body,
            created_at: self.created_at,
        })
    }
}

/// Creates a review. One review per author and contract.
pub async fn create_review(tx: &mut Tx, r: &Review) -> StoreResult<()> {
    let dup: i64 = tx
        .scalar(
            "SELECT COUNT(*) FROM reviews WHERE contract_id = $1 AND author_id = $2",
            args![r.contract_id.to_text(), r.author_id.to_text()],
        )
        .await?;
    if dup > 0 {
        return Err(StoreError::Conflict("review".into()));
    }
    tx.exec(
        "INSERT INTO reviews (id, contract_id, author_id, subject_id, rating, body, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        args![r.id.to_text(), r.contract_id.to_text(), r.author_id.to_text(), r.subject_id.to_text(), r.rating, r.body.clone(), r.created_at],
    )
    .await?;
    Ok(())
}

/// Reviews a member wrote, newest first (about erased people: about their pseudonym).
pub async fn reviews_by(tx: &mut Tx, author: AccountId, limit: i64) -> StoreResult<Vec<Review>> {
    let rows: Vec<ReviewRow> = tx
        .all(
            "SELECT id, contract_id, author_id, subject_id, rating, body, created_at FROM reviews WHERE author_id = $1 ORDER BY created_at DESC, id LIMIT $2",
            args![author.to_text(), limit],
        )
        .await?;
    rows.into_iter().map(ReviewRow::into_domain).collect()
}

/// Reviews about a member, newest first.
pub async fn reviews_about(
    tx: &mut Tx,
    subject: AccountId,
    limit: i64,
) -> StoreResult<Vec<Review>> {
    let rows: Vec<ReviewRow> = tx
        .all(
            "SELECT id, contract_id, author_id, subject_id, rating, body, created_at FROM reviews WHERE subject_id = $1 ORDER BY created_at DESC, id LIMIT $2",
            args![subject.to_text(), limit],
        )
        .await?;
    rows.into_iter().map(ReviewRow::into_domain).collect()
}

/// How many reviews a member received and the sum of their ratings.
pub async fn review_summary(tx: &mut Tx, subject: AccountId) -> StoreResult<(i64, i64)> {
    // CAST: PostgreSQL sums BIGINT into NUMERIC.
    tx.one(
        "SELECT COUNT(*), CAST(COALESCE(SUM(rating), 0) AS BIGINT) FROM reviews WHERE subject_id = $1",
        args![subject.to_text()],
    )
    .await
}

/// Payments of a contract still in escrow or pending release.
pub async fn unsettled_payments_of_contract(tx: &mut Tx, cid: ContractId) -> StoreResult<i64> {
    tx.scalar(
        "SELECT COUNT(*) FROM payments WHERE contract_id = $1 AND status IN ('in_escrow', 'pending_release')",
        args![cid.to_text()],
    )
    .await
}

/// True when two accounts share a contract the freelancer accepted (either side; open or
/// ended). An offer, answered or not, makes nobody a counterparty: a client cannot gain
/// sight of a private profile by sending an offer.
pub async fn have_contract(tx: &mut Tx, a: AccountId, b: AccountId) -> StoreResult<bool> {
    let n: i64 = tx
        .scalar(
            "SELECT COUNT(*) FROM contracts WHERE ((client_id = $1 AND freelancer_id = $2) OR (client_id = $2 AND freelancer_id = $1)) \
             AND status NOT IN ('offered', 'declined', 'withdrawn')",
            args![a.to_text(), b.to_text()],
        )
        .await?;
    Ok(n > 0)
}

/// True when two accounts share an accepted contract or a message thread: they already
/// know each other, so one may reach the other even while hidden.
pub async fn know_each_other(tx: &mut Tx, a: AccountId, b: AccountId) -> StoreResult<bool> {
    if have_contract(tx, a, b).await? {
        return Ok(true);
    }
    let n: i64 = tx
        .scalar(
            "SELECT COUNT(*) FROM thread_participants x JOIN thread_participants y ON y.thread_id = x.thread_id \
             WHERE x.account_id = $1 AND y.account_id = $2",
            args![a.to_text(), b.to_text()],
        )
        .await?;
    Ok(n > 0)
}

/// Records that a member told a client they are leaving.
pub async fn record_client_notice(
    tx: &mut Tx,
    member: AccountId,
    client: AccountId,
    now: Micros,
) -> StoreResult<()> {
    tx.exec(
        "INSERT INTO client_notices (account_id, client_id, sent_at) VALUES ($1, $2, $3) ON CONFLICT (account_id, client_id) DO UPDATE SET sent_at = excluded.sent_at",
        args![member.to_text(), client.to_text(), now],
    )
    .await?;
    Ok(())
}

/// Records that a member downloaded a complete export of their data.
pub async fn record_export_download(
    tx: &mut Tx,
    member: AccountId,
    now: Micros,
) -> StoreResult<()> {
    tx.exec(
        "INSERT INTO exports (id, account_id, status, created_at, downloaded_at) VALUES ($1, $2, 'downloaded', $3, $3)",
        args![uuid::Uuid::now_v7().to_string(), member.to_text(), now],
    )
    .await?;
    Ok(())
}
