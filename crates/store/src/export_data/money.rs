//! The money: payments, payouts, balances and invoices.

use super::{Record, o, opt_time, ot, t, time};
use schemars::JsonSchema;
use serde::Serialize;

/// A payment the member made or received.
#[derive(Debug, sqlx::FromRow, Serialize, JsonSchema)]
pub struct PaymentRecord {
    pub id: String,
    pub contract_id: String,
    pub milestone_id: Option<String>,
    pub payer_id: String,
    pub payee_id: String,
    pub amount_minor: i64,
    pub currency: String,
    pub status: String,
    #[serde(serialize_with = "time")]
    #[schemars(with = "String")]
    pub created_at: i64,
    #[serde(serialize_with = "time")]
    #[schemars(with = "String")]
    pub updated_at: i64,
}
impl Record for PaymentRecord {
    const CATEGORY: &'static str = "payments";
    const PAGE: &'static str = "SELECT id, contract_id, milestone_id, payer_id, payee_id, amount_minor, currency, status, created_at, updated_at FROM payments \
        WHERE (payer_id = $1 OR payee_id = $1) AND id > $2 AND updated_at >= $4 ORDER BY id LIMIT $3";
    const COUNT: &'static str =
        "SELECT COUNT(*) FROM payments WHERE (payer_id = $1 OR payee_id = $1) AND updated_at >= $2";
    const CSV: Option<&'static [&'static str]> = Some(&[
        "id",
        "contract_id",
        "milestone_id",
        "payer_id",
        "payee_id",
        "amount_minor",
        "currency",
        "status",
        "created_at",
        "updated_at",
    ]);
    fn key(&self) -> &str {
        &self.id
    }
    fn csv_row(&self) -> Vec<String> {
        vec![
            self.id.clone(),
            self.contract_id.clone(),
            o(&self.milestone_id),
            self.payer_id.clone(),
            self.payee_id.clone(),
            self.amount_minor.to_string(),
            self.currency.clone(),
            self.status.clone(),
            t(self.created_at),
            t(self.updated_at),
        ]
    }
}

/// A payout to the member.
#[derive(Debug, sqlx::FromRow, Serialize, JsonSchema)]
pub struct PayoutRecord {
    pub id: String,
    pub amount_minor: i64,
    pub currency: String,
    pub status: String,
    #[serde(serialize_with = "time")]
    #[schemars(with = "String")]
    pub created_at: i64,
    #[serde(serialize_with = "time")]
    #[schemars(with = "String")]
    pub settles_at: i64,
}
impl Record for PayoutRecord {
    const CATEGORY: &'static str = "payouts";
    const PAGE: &'static str = "SELECT id, amount_minor, currency, status, created_at, settles_at FROM payouts \
        WHERE account_id = $1 AND id > $2 AND (created_at >= $4 OR settles_at >= $4) ORDER BY id LIMIT $3";
    const COUNT: &'static str = "SELECT COUNT(*) FROM payouts WHERE account_id = $1 AND (created_at >= $2 OR settles_at >= $2)";
    const CSV: Option<&'static [&'static str]> = Some(&[
        "id",
        "amount_minor",
        "currency",
        "status",
        "created_at",
        "settles_at",
    ]);
    fn key(&self) -> &str {
        &self.id
    }
    fn csv_row(&self) -> Vec<String> {
        vec![
            self.id.clone(),
            self.amount_minor.to_string(),
            self.currency.clone(),
            self.status.clone(),
            t(self.created_at),
            t(self.settles_at),
        ]
    }
}

/// The member's balance in one currency.
#[derive(Debug, sqlx::FromRow, Serialize, JsonSchema)]
pub struct BalanceRecord {
    pub currency: String,
    pub available_minor: i64,
    pub debt_minor: i64,
}
impl Record for BalanceRecord {
    const CATEGORY: &'static str = "balances";
    const PAGE: &'static str = "SELECT currency, available_minor, debt_minor FROM balances \
        WHERE account_id = $1 AND currency > $2 AND updated_at >= $4 ORDER BY currency LIMIT $3";
    const COUNT: &'static str =
        "SELECT COUNT(*) FROM balances WHERE account_id = $1 AND updated_at >= $2";
    fn key(&self) -> &str {
        &self.currency
    }
}

/// An invoice the member issued or received.
#[derive(Debug, sqlx::FromRow, Serialize, JsonSchema)]
pub struct InvoiceRecord {
    pub id: String,
    pub number: String,
    pub contract_id: String,
    pub issuer_id: String,
    pub recipient_id: String,
    pub description: String,
    pub amount_minor: i64,
    pub currency: String,
    pub status: String,
    #[serde(serialize_with = "time")]
    #[schemars(with = "String")]
    pub issued_at: i64,
    #[serde(serialize_with = "time")]
    #[schemars(with = "String")]
    pub due_at: i64,
    #[serde(serialize_with = "opt_time")]
    #[schemars(with = "Option<String>")]
    pub paid_at: Option<i64>,
    /// The contract's title, for the PDF (not a column of its own in the JSON).
    #[serde(skip)]
    pub contract_title: String,
    /// The invoice's PDF inside the archive.
    #[sqlx(default)]
    pub pdf: String,
}
impl Record for InvoiceRecord {
    const CATEGORY: &'static str = "invoices";
    const PAGE: &'static str = "SELECT i.id, i.number, i.contract_id, i.issuer_id, i.recipient_id, i.description, i.amount_minor, i.currency, i.status, \
        i.issued_at, i.due_at, i.paid_at, c.title AS contract_title FROM invoices i JOIN contracts c ON c.id = i.contract_id \
        WHERE (i.issuer_id = $1 OR i.recipient_id = $1) AND i.id > $2 AND (i.issued_at >= $4 OR i.paid_at >= $4) ORDER BY i.id LIMIT $3";
    const COUNT: &'static str = "SELECT COUNT(*) FROM invoices WHERE (issuer_id = $1 OR recipient_id = $1) AND (issued_at >= $2 OR paid_at >= $2)";
    const CSV: Option<&'static [&'static str]> = Some(&[
        "id",
        "number",
        "contract_id",
        "issuer_id",
        "recipient_id",
        "description",
        "amount_minor",
        "currency",
        "status",
        "issued_at",
        "due_at",
        "paid_at",
        "pdf",
    ]);
    fn key(&self) -> &str {
        &self.id
    }
    fn csv_row(&self) -> Vec<String> {
        vec![
            self.id.clone(),
            self.number.clone(),
            self.contract_id.clone(),
            self.issuer_id.clone(),
            self.recipient_id.clone(),
            self.description.clone(),
            self.amount_minor.to_string(),
            self.currency.clone(),
            self.status.clone(),
            t(self.issued_at),
            t(self.due_at),
            ot(self.paid_at),
            self.pdf.clone(),
        ]
    }
}
