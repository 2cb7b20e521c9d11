//! Payments under contracts: escrow, approval, release and refund, each a conditional
//! update that moves money once.

use super::{id, money, opt_id};
use crate::args;
use crate::db::Tx;
use crate::error::StoreResult;
use hiatus_domain::*;

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

/// Payments of a contract still in escrow or pending release.
pub async fn unsettled_payments_of_contract(tx: &mut Tx, cid: ContractId) -> StoreResult<i64> {
    tx.scalar(
        "SELECT COUNT(*) FROM payments WHERE contract_id = $1 AND status IN ('in_escrow', 'pending_release')",
        args![cid.to_text()],
    )
    .await
}
