//! Payments, balances, withdrawals, platform debts and payouts.

use super::*;
use crate::jobs::Job;
use hiatus_store::market;
use serde_json::json;

/// Refuses amounts outside (0, [`MAX_AMOUNT_MINOR`]]: 422 `amount_invalid`, never an
/// overflow further on.
pub(crate) fn check_amount(amount: Money) -> ServiceResult<Money> {
    Money::payable(amount.minor, amount.currency).map_err(|_| {
        ServiceError::invalid(
            "amount_invalid",
            format!(
                "the amount must be above zero and at most {}",
                Money {
                    minor: MAX_AMOUNT_MINOR,
                    currency: amount.currency
                }
            ),
        )
    })
}

pub(super) fn balance_limit() -> ServiceError {
    ServiceError::conflict(
        "balance_limit",
        format!(
            "this would take the balance above the largest balance hiatus holds ({} minor units); withdraw first",
            MAX_BALANCE_MINOR
        ),
    )
}

/// What can be done to a payment.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PaymentAction {
    /// Client approves the work: escrow → pending release.
    Approve,
    /// Money reaches the freelancer's balance.
    Release,
    /// Money goes back to the client.
    Refund,
}

impl Hiatus {
    /// The caller's payments.
    pub async fn my_payments(
        &self,
        actor: &Actor,
        limit: i64,
        offset: i64,
    ) -> ServiceResult<Vec<Payment>> {
        self.reading(async |tx| {
            Ok({
                let p = hiatus_domain::Page::new(limit, offset);
                market::payments_of(tx, actor.account, p.limit, p.offset)
            }
            .await?)
        })
        .await
    }

    /// Approves, releases or refunds a payment. The client approves and releases; the
    /// freelancer refunds. Staff do not move money, with one exception: an operator may act
    /// on any payment (a decided dispute), and the audit trail of both parties names them.
    /// Support agents are refused. Each transition happens once whatever the concurrency: the
    /// status changes with a conditional update, and the loser of a race gets 409.
    pub async fn payment_action(
        &self,
        actor: &Actor,
        id: PaymentId,
        action: PaymentAction,
    ) -> ServiceResult<Payment> {
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let mut p = market::payment(&mut tx, id)
            .await
            .map_err(not_found("payment"))?;
        let is_party = p.payer_id == actor.account || p.payee_id == actor.account;
        let operator = !is_party && actor.require_operator().is_ok();
        if !is_party && !operator {
            // Staff learn a payment exists (they reach it from a case), members do not.
            if actor.require_staff().is_err() {
                return Err(ServiceError::NotFound("payment"));
            }
            return Err(ServiceError::forbidden(
                "operator_only",
                "only operators can act on someone else's payment",
            ));
        }
        let may = |party: AccountId| party == actor.account || operator;
        if !p.status.is_unsettled() {
            return Err(ServiceError::conflict(
                "payment_settled",
                "this payment is already settled",
            ));
        }
        let moved = match action {
            PaymentAction::Approve if may(p.payer_id) => {
                if p.status != PaymentStatus::InEscrow {
                    return Err(ServiceError::conflict(
                        "payment_approved",
                        "this payment is already approved",
                    ));
                }
                market::approve_payment_once(&mut tx, id, now).await?
            }
            PaymentAction::Release if may(p.payer_id) => {
                market::release_payment_once(&mut tx, id, now).await?
            }
            PaymentAction::Refund if may(p.payee_id) => {
                market::refund_payment_once(&mut tx, id, now).await?
            }
            _ => {
                return Err(ServiceError::forbidden(
                    "not_your_move",
                    "the client approves and releases; the freelancer refunds",
                ));
            }
        };
        if !moved {
            // A concurrent request settled (or approved) it between our read and our update.
            return Err(ServiceError::conflict(
                "payment_settled",
                "this payment changed meanwhile; reload it",
            ));
        }
        let next = match action {
            PaymentAction::Approve => PaymentStatus::PendingRelease,
            PaymentAction::Release => PaymentStatus::Released,
            PaymentAction::Refund => PaymentStatus::Refunded,
        };
        if next == PaymentStatus::Released
            && !market::credit_balance(&mut tx, p.payee_id, p.amount, now).await?
        {
            return Err(balance_limit());
        }
        p.status = next;
        p.updated_at = now;
        accounts::touch_data(&mut tx, &[&p.payer_id, &p.payee_id], now).await?;
        let detail = json!({"payment_id": id, "status": next.as_str()});
        if operator {
            for party in [p.payer_id, p.payee_id] {
                audit::record(
                    &mut tx,
                    NewAuditEvent {
                        account: Some(party),
                        actor: Some(actor.account),
                        action: "payment.changed_by_staff",
                        reason: None,
                        detail: detail.clone(),
                        now,
                    },
                )
                .await?;
            }
        } else {
            self.audit(&mut tx, actor, "payment.changed", detail, now)
                .await?;
        }
        tx.commit().await?;
        Ok(p)
    }

    /// The caller's balances.
    pub async fn my_balances(&self, actor: &Actor) -> ServiceResult<Vec<Balance>> {
        self.reading(async |tx| Ok(market::balances_of(tx, actor.account).await?))
            .await
    }

    /// Withdraws available balance to the bank: a scheduled payout that settles later.
    pub async fn withdraw(&self, actor: &Actor, amount: Money) -> ServiceResult<Payout> {
        check_amount(amount)?;
        let now = self.now();
        let mut tx = self.db.begin().await?;
        if !market::debit_balance_once(&mut tx, actor.account, amount, now).await? {
            return Err(ServiceError::conflict(
                "insufficient_balance",
                "the amount is more than your available balance",
            ));
        }
        let p = Payout {
            id: PayoutId::new(),
            account_id: actor.account,
            amount,
            status: PayoutStatus::Scheduled,
            created_at: now,
            settles_at: now + 3 * DAY_MICROS,
        };
        market::create_payout(&mut tx, &p).await?;
        hiatus_store::jobs::enqueue(
            &mut tx,
            &Job::SettlePayout { payout: p.id }.to_new(
                p.settles_at,
                Some(format!("{}:{}", Job::SETTLE_PAYOUT, p.id)),
                10,
            ),
            now,
        )
        .await?;
        accounts::touch_data(&mut tx, &[&actor.account], now).await?;
        self.audit(
            &mut tx,
            actor,
            "payout.scheduled",
            json!({"payout_id": p.id}),
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(p)
    }

    /// Records what a member owes the platform in a currency (support and operators, as the
    /// billing system would); zero clears it. The available balance is left as it is.
    pub async fn set_platform_debt(
        &self,
        actor: &Actor,
        member: AccountId,
        debt: Money,
    ) -> ServiceResult<Balance> {
        actor.require_staff()?;
        if debt.minor != 0 {
            check_amount(debt)?;
        }
        let now = self.now();
        let mut tx = self.db.begin().await?;
        self.member_state(&mut tx, member, "member").await?;
        market::set_debt(&mut tx, member, debt, now).await?;
        let b = market::balances_of(&mut tx, member)
            .await?
            .into_iter()
            .find(|b| b.debt.currency == debt.currency)
            .unwrap_or(Balance {
                available: Money::zero(debt.currency),
                debt,
            });
        accounts::touch_data(&mut tx, &[&member], now).await?;
        audit::record(
            &mut tx,
            NewAuditEvent {
                account: Some(member),
                actor: Some(actor.account),
                action: "debt.recorded",
                reason: None,
                detail: json!({"currency": debt.currency.as_str(), "minor": debt.minor}),
                now,
            },
        )
        .await?;
        tx.commit().await?;
        Ok(b)
    }

    /// The caller's payouts.
    pub async fn my_payouts(&self, actor: &Actor) -> ServiceResult<Vec<Payout>> {
        self.reading(async |tx| Ok(market::payouts_of(tx, actor.account).await?))
            .await
    }

    /// Settles a payout (the scheduled job; idempotent).
    pub async fn settle_payout(&self, id: PayoutId) -> ServiceResult<bool> {
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let p = market::payout(&mut tx, id)
            .await
            .map_err(not_found("payout"))?;
        if !market::settle_payout_once(&mut tx, id).await? {
            tx.commit().await?;
            return Ok(false);
        }
        accounts::touch_data(&mut tx, &[&p.account_id], now).await?;
        audit::record(
            &mut tx,
            NewAuditEvent {
                account: Some(p.account_id),
                actor: None,
                action: "payout.settled",
                reason: None,
                detail: json!({"payout_id": id}),
                now,
            },
        )
        .await?;
        tx.commit().await?;
        Ok(true)
    }
}
