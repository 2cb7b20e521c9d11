//! Invoices: issued by the freelancer of a contract, paid by its client.

use super::*;
use hiatus_store::market;
use serde_json::json;

impl Hiatus {
    /// Issues an invoice (the freelancer of a contract, to its client) while the contract is
    /// accepted and not ended.
    pub async fn issue_invoice(
        &self,
        actor: &Actor,
        contract: ContractId,
        description: &str,
        amount: Money,
        due_in_days: i64,
    ) -> ServiceResult<Invoice> {
        check_text("description", description, 1000, true)?;
        check_amount(amount)?;
        if !(0..=365).contains(&due_in_days) {
            return Err(ServiceError::invalid(
                "due_invalid",
                "an invoice is due within 0 to 365 days",
            ));
        }
        Self::require_active(actor, "account_not_active", "issue invoices")?;
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let c = self.party_contract(&mut tx, actor, contract).await?;
        if c.freelancer_id != actor.account {
            return Err(ServiceError::forbidden(
                "freelancer_only",
                "only the freelancer of a contract issues its invoices",
            ));
        }
        if !c.status.was_accepted() {
            return Err(not_accepted(c.status));
        }
        if !c.status.is_live() {
            return Err(ServiceError::conflict(
                "contract_ended",
                "invoices are issued while a contract is open, paused or in dispute",
            ));
        }
        let id = InvoiceId::new();
        let number = format!(
            "INV-{}-{}",
            crate::clock::format_date(now).replace('-', ""),
            &id.to_text()[24..]
        );
        let i = Invoice {
            id,
            number,
            contract_id: contract,
            issuer_id: c.freelancer_id,
            recipient_id: c.client_id,
            description: description.to_string(),
            amount,
            status: InvoiceStatus::Unpaid,
            issued_at: now,
            due_at: now + due_in_days * DAY_MICROS,
            paid_at: None,
        };
        market::create_invoice(&mut tx, &i).await?;
        accounts::touch_data(&mut tx, &[&c.client_id, &c.freelancer_id], now).await?;
        self.audit(
            &mut tx,
            actor,
            "invoice.issued",
            json!({"invoice_id": i.id}),
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(i)
    }

    /// An invoice the caller issued or received.
    pub async fn invoice(&self, actor: &Actor, id: InvoiceId) -> ServiceResult<Invoice> {
        let mut tx = self.db.read().await?;
        let i = market::invoice(&mut tx, id)
            .await
            .map_err(not_found("invoice"))?;
        tx.commit().await?;
        if i.issuer_id != actor.account && i.recipient_id != actor.account {
            return Err(ServiceError::NotFound("invoice"));
        }
        Ok(i)
    }

    /// The caller's invoices.
    pub async fn my_invoices(
        &self,
        actor: &Actor,
        limit: i64,
        offset: i64,
    ) -> ServiceResult<Vec<Invoice>> {
        self.reading(async |tx| {
            Ok({
                let p = hiatus_domain::Page::new(limit, offset);
                market::invoices_of(tx, actor.account, p.limit, p.offset)
            }
            .await?)
        })
        .await
    }

    /// Pays an invoice (its recipient).
    pub async fn pay_invoice(&self, actor: &Actor, id: InvoiceId) -> ServiceResult<Invoice> {
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let mut i = market::invoice(&mut tx, id)
            .await
            .map_err(not_found("invoice"))?;
        if i.issuer_id != actor.account && i.recipient_id != actor.account {
            return Err(ServiceError::NotFound("invoice"));
        }
        if i.recipient_id != actor.account {
            return Err(ServiceError::forbidden(
                "recipient_only",
                "only the client an invoice is addressed to can pay it",
            ));
        }
        if i.status != InvoiceStatus::Unpaid {
            return Err(ServiceError::conflict(
                "invoice_not_unpaid",
                format!("this invoice is {}", i.status.as_str()),
            ));
        }
        if !market::pay_invoice_once(&mut tx, id, now).await? {
            return Err(ServiceError::conflict(
                "invoice_not_unpaid",
                "this invoice was paid or voided meanwhile",
            ));
        }
        if !market::credit_balance(&mut tx, i.issuer_id, i.amount, now).await? {
            return Err(balance_limit());
        }
        i.status = InvoiceStatus::Paid;
        i.paid_at = Some(now);
        accounts::touch_data(&mut tx, &[&i.issuer_id, &i.recipient_id], now).await?;
        self.audit(
            &mut tx,
            actor,
            "invoice.paid",
            json!({"invoice_id": id}),
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(i)
    }
}
