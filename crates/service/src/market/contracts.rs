//! Contract offers and their answers, the contract actions, and funding milestones.

use super::*;
use hiatus_store::market;
use serde_json::json;

/// What a party can do to a contract.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ContractAction {
    /// The freelancer accepts an offer: it becomes an open contract.
    Accept,
    /// The freelancer declines an offer.
    Decline,
    /// The client takes an offer back before the freelancer answers.
    Withdraw,
    Pause,
    Resume,
    End,
    OpenDispute,
    ResolveDispute,
}

impl ContractAction {
    /// The answers to an offer, which only one side may give.
    fn answers_offer(self) -> bool {
        matches!(
            self,
            ContractAction::Accept | ContractAction::Decline | ContractAction::Withdraw
        )
    }
}

/// Takes the row locks of a contract's two accounts and returns the rows (client, then
/// freelancer). An unknown id is a 404 like any other.
pub(super) async fn lock_parties(
    tx: &mut Tx,
    client: AccountId,
    freelancer: AccountId,
) -> ServiceResult<[accounts::AccountRow; 2]> {
    // Locked in one order whoever calls (see `accounts::lock_in_order`), so two transactions
    // on the same pair never wait on each other crosswise.
    if accounts::lock_in_order(client, freelancer) {
        let c = accounts::get_for_update(tx, client)
            .await
            .map_err(not_found("member"))?;
        let f = accounts::get_for_update(tx, freelancer)
            .await
            .map_err(not_found("freelancer"))?;
        Ok([c, f])
    } else {
        let f = accounts::get_for_update(tx, freelancer)
            .await
            .map_err(not_found("freelancer"))?;
        let c = accounts::get_for_update(tx, client)
            .await
            .map_err(not_found("member"))?;
        Ok([c, f])
    }
}

/// 409 for anything but an answer on a contract the freelancer has not accepted: no work,
/// money or review happens under an offer, nor under one declined or withdrawn.
pub(super) fn not_accepted(status: ContractStatus) -> ServiceError {
    let why = match status {
        ContractStatus::Declined => "the freelancer declined this offer",
        ContractStatus::Withdrawn => "the client withdrew this offer",
        _ => "the freelancer has not accepted this offer yet",
    };
    ServiceError::conflict(
        "contract_not_accepted",
        format!("{why}: nothing can be funded, delivered, invoiced or reviewed under it"),
    )
}

impl Hiatus {
    /// Offers a contract directly (the client, to a freelancer). Both must be active. The
    /// contract starts `offered`: nothing can happen under it until the freelancer accepts.
    pub async fn create_contract(
        &self,
        actor: &Actor,
        freelancer: AccountId,
        title: &str,
        currency: Currency,
    ) -> ServiceResult<Contract> {
        check_name("title", title, 200, true)?;
        Self::require_active(actor, "account_not_active", "start contracts")?;
        if !actor.kind.hires() {
            return Err(ServiceError::forbidden(
                "clients_only",
                "only client accounts can start contracts",
            ));
        }
        if freelancer == actor.account {
            return Err(ServiceError::invalid(
                "self_contract",
                "you cannot hire yourself",
            ));
        }
        let now = self.now();
        let mut tx = self.db.begin().await?;
        // Closing an account closes its pending offers under the account's row lock: taking
        // both rows here means no offer slips in beside a deactivation and stays pending.
        lock_parties(&mut tx, actor.account, freelancer).await?;
        let (st, kind, settings) = self.member_state(&mut tx, freelancer, "freelancer").await?;
        // A private profile is not revealed by hiring its owner out of the blue: a hidden
        // member answers a stranger like an id that does not exist, before any other check.
        self.reachable(&mut tx, actor, freelancer, st, &settings, "freelancer")
            .await?;
        if !kind.freelances() {
            return Err(ServiceError::invalid(
                "wrong_side",
                "that account is not a freelancer",
            ));
        }
        if !Effects::of(st).proposals {
            return Err(ServiceError::conflict(
                "counterparty_unavailable",
                "this freelancer is not taking new work",
            ));
        }
        let c = Contract {
            id: ContractId::new(),
            client_id: actor.account,
            freelancer_id: freelancer,
            title: title.to_string(),
            status: ContractStatus::Offered,
            currency,
            created_at: now,
            ended_at: None,
        };
        market::create_contract(&mut tx, &c).await?;
        accounts::touch_data(&mut tx, &[&c.client_id, &c.freelancer_id], now).await?;
        self.audit(
            &mut tx,
            actor,
            "contract.offered",
            json!({"contract_id": c.id}),
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(c)
    }

    pub(super) async fn party_contract(
        &self,
        tx: &mut Tx,
        actor: &Actor,
        id: ContractId,
    ) -> ServiceResult<Contract> {
        let c = market::contract(tx, id)
            .await
            .map_err(not_found("contract"))?;
        if c.client_id != actor.account && c.freelancer_id != actor.account {
            return Err(ServiceError::NotFound("contract"));
        }
        Ok(c)
    }

    /// A contract the caller is party to.
    pub async fn contract(&self, actor: &Actor, id: ContractId) -> ServiceResult<Contract> {
        let mut tx = self.db.read().await?;
        let c = self.party_contract(&mut tx, actor, id).await?;
        tx.commit().await?;
        Ok(c)
    }

    /// The caller's contracts.
    pub async fn my_contracts(
        &self,
        actor: &Actor,
        limit: i64,
        offset: i64,
    ) -> ServiceResult<Vec<Contract>> {
        self.reading(async |tx| {
            Ok({
                let p = hiatus_domain::Page::new(limit, offset);
                market::contracts_of(tx, actor.account, p.limit, p.offset)
            }
            .await?)
        })
        .await
    }

    /// Answers an offer (the freelancer accepts or declines, the client withdraws), or pauses,
    /// resumes, ends, or disputes a contract. Ending is refused while money is in escrow.
    /// The status moves with a conditional update made first, so two concurrent actions
    /// cannot both apply (the loser gets 409), and a milestone funded in parallel is either
    /// seen here or refused.
    pub async fn contract_action(
        &self,
        actor: &Actor,
        id: ContractId,
        action: ContractAction,
    ) -> ServiceResult<Contract> {
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let mut c = self.party_contract(&mut tx, actor, id).await?;
        use ContractStatus as S;
        let is_client = c.client_id == actor.account;
        match action {
            ContractAction::Accept | ContractAction::Decline if is_client => {
                return Err(ServiceError::forbidden(
                    "not_your_move",
                    "only the freelancer accepts or declines an offer; the client can withdraw it",
                ));
            }
            ContractAction::Withdraw if !is_client => {
                return Err(ServiceError::forbidden(
                    "not_your_move",
                    "only the client withdraws an offer; the freelancer accepts or declines it",
                ));
            }
            _ => {}
        }
        let (from, next): (&[S], S) = match (action, c.status) {
            (ContractAction::Accept, S::Offered) => (&[S::Offered], S::Open),
            (ContractAction::Decline, S::Offered) => (&[S::Offered], S::Declined),
            (ContractAction::Withdraw, S::Offered) => (&[S::Offered], S::Withdrawn),
            (ContractAction::Pause, S::Open) => (&[S::Open], S::Paused),
            (ContractAction::Resume, S::Paused) => (&[S::Paused], S::Open),
            (ContractAction::End, S::Open | S::Paused) => (&[S::Open, S::Paused], S::Ended),
            (ContractAction::OpenDispute, S::Open | S::Paused) => {
                (&[S::Open, S::Paused], S::InDispute)
            }
            (ContractAction::ResolveDispute, S::InDispute) => (&[S::InDispute], S::Open),
            (a, s) if !a.answers_offer() && !s.was_accepted() => return Err(not_accepted(s)),
            (a, s) => {
                return Err(ServiceError::conflict(
                    "contract_action_invalid",
                    format!(
                        "cannot {} a contract that is {}",
                        format!("{a:?}").to_lowercase(),
                        s.as_str().replace('_', " ")
                    ),
                ));
            }
        };
        if action.answers_offer() {
            // Both accounts' rows first, as closing an account does before it closes the
            // account's offers: an offer is never accepted beside a deactivation that would
            // have declined it, and the two never wait on each other's rows.
            let [client, freelancer] = lock_parties(&mut tx, c.client_id, c.freelancer_id).await?;
            if action == ContractAction::Accept {
                if !Effects::of(freelancer.state()?).proposals {
                    return Err(ServiceError::conflict(
                        "account_not_active",
                        format!(
                            "your account is {}; reactivate it to accept offers",
                            freelancer.state()?
                        ),
                    ));
                }
                if client.role()? != Role::Member || !Effects::of(client.state()?).proposals {
                    return Err(ServiceError::conflict(
                        "counterparty_unavailable",
                        "the client is no longer available",
                    ));
                }
            }
        }
        if !market::move_contract(&mut tx, id, from, next, now).await? {
            return Err(ServiceError::conflict(
                "contract_changed",
                "this contract changed meanwhile; reload it",
            ));
        }
        match action {
            ContractAction::End => {
                // Counted after the update: a milestone funded concurrently has either
                // committed (and is counted) or waits on the row and then finds it ended.
                if market::unsettled_payments_of_contract(&mut tx, c.id).await? > 0 {
                    return Err(ServiceError::conflict(
                        "payments_in_escrow",
                        "release or refund the payments in escrow before ending the contract",
                    ));
                }
            }
            ContractAction::OpenDispute => {
                market::create_dispute(
                    &mut tx,
                    &Dispute {
                        id: DisputeId::new(),
                        contract_id: c.id,
                        opened_by: actor.account,
                        status: DisputeStatus::Open,
                        created_at: now,
                        resolved_at: None,
                    },
                )
                .await?;
            }
            ContractAction::ResolveDispute => {
                market::resolve_open_disputes(&mut tx, c.id, now).await?;
            }
            ContractAction::Accept
            | ContractAction::Decline
            | ContractAction::Withdraw
            | ContractAction::Pause
            | ContractAction::Resume => {}
        }
        c.status = next;
        if next.is_final() {
            c.ended_at = Some(now);
        }
        accounts::touch_data(&mut tx, &[&c.client_id, &c.freelancer_id], now).await?;
        self.audit(
            &mut tx,
            actor,
            "contract.changed",
            json!({"contract_id": id, "status": next.as_str()}),
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(c)
    }

    /// Adds a funded milestone (the client): its amount goes into escrow.
    pub async fn fund_milestone(
        &self,
        actor: &Actor,
        contract: ContractId,
        title: &str,
        amount: Money,
    ) -> ServiceResult<(Milestone, Payment)> {
        check_name("title", title, 200, true)?;
        check_amount(amount)?;
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let c = self.party_contract(&mut tx, actor, contract).await?;
        if c.client_id != actor.account {
            return Err(ServiceError::forbidden(
                "client_only",
                "only the client funds milestones",
            ));
        }
        Self::require_active(actor, "account_not_active", "fund milestones")?;
        if !c.status.was_accepted() {
            return Err(not_accepted(c.status));
        }
        if c.status != ContractStatus::Open {
            return Err(ServiceError::conflict(
                "contract_not_open",
                "milestones can only be funded on an open contract",
            ));
        }
        if amount.currency != c.currency {
            return Err(ServiceError::invalid(
                "currency_mismatch",
                format!("this contract is in {}", c.currency),
            ));
        }
        // Holds the contract open until this commits: ending it in parallel waits, then
        // finds this payment in escrow and refuses.
        if !market::lock_open_contract(&mut tx, contract).await? {
            return Err(ServiceError::conflict(
                "contract_not_open",
                "milestones can only be funded on an open contract",
            ));
        }
        let m = Milestone {
            id: MilestoneId::new(),
            contract_id: contract,
            title: title.to_string(),
            amount,
            status: MilestoneStatus::Funded,
            created_at: now,
        };
        market::create_milestone(&mut tx, &m).await?;
        let p = Payment {
            id: PaymentId::new(),
            contract_id: contract,
            milestone_id: Some(m.id),
            payer_id: c.client_id,
            payee_id: c.freelancer_id,
            amount,
            status: PaymentStatus::InEscrow,
            created_at: now,
            updated_at: now,
        };
        market::create_payment(&mut tx, &p).await?;
        accounts::touch_data(&mut tx, &[&c.client_id, &c.freelancer_id], now).await?;
        self.audit(
            &mut tx,
            actor,
            "payment.escrowed",
            json!({"payment_id": p.id}),
            now,
        )
        .await?;
        tx.commit().await?;
        Ok((m, p))
    }
}
