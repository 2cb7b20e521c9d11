//! Invoices and disputes.

use super::{id, money};
use crate::args;
use crate::db::Tx;
use crate::error::StoreResult;
use hiatus_domain::*;

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
