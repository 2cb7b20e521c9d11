//! Contracts and their milestones: offers, their answers, and the status moves that
//! decide what may still happen under a contract.

use super::id;
use crate::args;
use crate::db::Tx;
use crate::error::{StoreError, StoreResult};
use hiatus_domain::*;

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
