//! Balances and payouts: credits under the row lock, debits only when covered.

use super::{id, money};
use crate::args;
use crate::db::Tx;
use crate::error::StoreResult;
use hiatus_domain::*;

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
