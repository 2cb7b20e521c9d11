//! The marketplace records, created and changed through the use cases so that every rule of
//! the lifecycle holds: only parties see a record, and a member's state decides what they may
//! still do (no proposals to or from a deactivated member, read-only messaging, …).

use crate::error::{ServiceError, ServiceResult};
use crate::{Actor, Hiatus, check_name, check_text};
use hiatus_domain::effects::{Effects, Viewer, can_view_profile};
use hiatus_domain::*;
use hiatus_store::accounts;
use hiatus_store::audit::{self, NewAuditEvent};
use hiatus_store::market::{self, FileRow};
use hiatus_store::{Blobs, StoreError, Tx};
use serde_json::json;
use sha2::{Digest, Sha256};

/// The largest file accepted through the API.
pub const MAX_FILE_BYTES: usize = 8 * 1024 * 1024;

fn not_found(what: &'static str) -> impl Fn(StoreError) -> ServiceError {
    move |e| match e {
        StoreError::NotFound => ServiceError::NotFound(what),
        e => e.into(),
    }
}

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

fn balance_limit() -> ServiceError {
    ServiceError::conflict(
        "balance_limit",
        format!(
            "this would take the balance above the largest balance hiatus holds ({} minor units); withdraw first",
            MAX_BALANCE_MINOR
        ),
    )
}

/// What a member can do to a proposal.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ProposalAction {
    Accept,
    Decline,
    Withdraw,
}

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
async fn lock_parties(
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
fn not_accepted(status: ContractStatus) -> ServiceError {
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

/// A file sent with a message or a submission.
#[derive(Clone, Debug)]
pub struct Upload {
    pub name: String,
    pub content_type: String,
    pub bytes: Vec<u8>,
}

impl Hiatus {
    async fn member_state(
        &self,
        tx: &mut Tx,
        id: AccountId,
        what: &'static str,
    ) -> ServiceResult<(AccountState, AccountKind, ProfileSettings)> {
        let a = accounts::get(tx, id).await.map_err(not_found(what))?;
        if a.role()? != Role::Member || a.state()? == AccountState::Deleted {
            return Err(ServiceError::NotFound(what));
        }
        let p = accounts::profile(tx, &self.keys, id).await?;
        Ok((a.state()?, a.kind()?, p.settings))
    }

    /// Refuses, as if the id were unknown, to reach a member who is hidden (deactivated,
    /// awaiting deletion, or private, e.g. during a break) from someone who has no contract
    /// or thread with them yet: a hidden member cannot be found or probed by id.
    async fn reachable(
        &self,
        tx: &mut Tx,
        actor: &Actor,
        id: AccountId,
        state: AccountState,
        settings: &ProfileSettings,
        what: &'static str,
    ) -> ServiceResult<()> {
        if can_view_profile(state, settings.visibility, Viewer::Member)
            || market::know_each_other(tx, actor.account, id).await?
        {
            Ok(())
        } else {
            Err(ServiceError::NotFound(what))
        }
    }

    fn require_active(actor: &Actor, code: &'static str, doing: &str) -> ServiceResult<()> {
        if Effects::of(actor.state).proposals {
            Ok(())
        } else {
            Err(ServiceError::conflict(
                code,
                format!("your account is {}; reactivate it to {doing}", actor.state),
            ))
        }
    }

    async fn audit(
        &self,
        tx: &mut Tx,
        actor: &Actor,
        action: &str,
        detail: serde_json::Value,
        now: Micros,
    ) -> ServiceResult<()> {
        audit::record(
            tx,
            NewAuditEvent::by_member(actor.account, action, detail, now),
        )
        .await?;
        Ok(())
    }

    /// Posts a job (clients).
    pub async fn create_job_post(&self, actor: &Actor, title: &str) -> ServiceResult<JobPost> {
        check_name("title", title, 200, true)?;
        Self::require_active(actor, "account_not_active", "post jobs")?;
        if !actor.kind.hires() {
            return Err(ServiceError::forbidden(
                "clients_only",
                "only client accounts can post jobs",
            ));
        }
        let now = self.now();
        let p = JobPost {
            id: JobPostId::new(),
            client_id: actor.account,
            title: title.to_string(),
            status: JobPostStatus::Open,
            created_at: now,
        };
        let mut tx = self.db.begin().await?;
        market::create_job_post(&mut tx, &p).await?;
        accounts::touch_data(&mut tx, &[&actor.account], now).await?;
        tx.commit().await?;
        Ok(p)
    }

    /// The caller's job posts.
    pub async fn my_job_posts(&self, actor: &Actor) -> ServiceResult<Vec<JobPost>> {
        self.reading(async |tx| Ok(market::job_posts_of(tx, actor.account).await?))
            .await
    }

    /// Sends a proposal (freelancer → client) or an invitation (client → freelancer). Refused
    /// when either side cannot take part in proposals in their current state.
    pub async fn send_proposal(
        &self,
        actor: &Actor,
        kind: ProposalKind,
        to: AccountId,
        job_post: Option<JobPostId>,
        cover_letter: &str,
    ) -> ServiceResult<Proposal> {
        check_text("cover_letter", cover_letter, 10_000, true)?;
        Self::require_active(actor, "account_not_active", "send proposals")?;
        if to == actor.account {
            return Err(ServiceError::invalid(
                "self_proposal",
                "you cannot send a proposal to yourself",
            ));
        }
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let (their_state, their_kind, their_settings) =
            self.member_state(&mut tx, to, "member").await?;
        // A hidden member (deactivated, private, on a break) answers a stranger exactly like
        // an id that does not exist: no code below may tell the two apart.
        self.reachable(&mut tx, actor, to, their_state, &their_settings, "member")
            .await?;
        let (freelancer_id, client_id) = match kind {
            ProposalKind::Proposal => {
                if !actor.kind.freelances() || !their_kind.hires() {
                    return Err(ServiceError::invalid(
                        "wrong_side",
                        "proposals go from a freelancer to a client",
                    ));
                }
                (actor.account, to)
            }
            ProposalKind::Invitation => {
                if !actor.kind.hires() || !their_kind.freelances() {
                    return Err(ServiceError::invalid(
                        "wrong_side",
                        "invitations go from a client to a freelancer",
                    ));
                }
                (to, actor.account)
            }
        };
        if !Effects::of(their_state).proposals {
            return Err(ServiceError::conflict(
                "counterparty_unavailable",
                "this member is not accepting proposals or invitations",
            ));
        }
        if kind == ProposalKind::Invitation && their_settings.availability == Availability::Paused {
            return Err(ServiceError::conflict(
                "freelancer_unavailable",
                "this freelancer has paused their availability and is not taking new work",
            ));
        }
        if let Some(j) = job_post {
            let post = market::job_post(&mut tx, j)
                .await
                .map_err(not_found("job post"))?;
            if post.client_id != client_id {
                return Err(ServiceError::invalid(
                    "wrong_job_post",
                    "the job post belongs to another client",
                ));
            }
            if post.status != JobPostStatus::Open {
                return Err(ServiceError::conflict(
                    "job_post_closed",
                    "this job post is closed",
                ));
            }
        }
        let p = Proposal {
            id: ProposalId::new(),
            kind,
            job_post_id: job_post,
            freelancer_id,
            client_id,
            sender_id: actor.account,
            cover_letter: cover_letter.to_string(),
            status: ProposalStatus::Open,
            created_at: now,
        };
        market::create_proposal(&mut tx, &self.keys, &p).await?;
        accounts::touch_data(&mut tx, &[&freelancer_id, &client_id], now).await?;
        tx.commit().await?;
        Ok(p)
    }

    /// Proposals the caller sent or received.
    pub async fn my_proposals(&self, actor: &Actor) -> ServiceResult<Vec<Proposal>> {
        self.reading(async |tx| Ok(market::proposals_of(tx, &self.keys, actor.account).await?))
            .await
    }

    /// Accepts (the recipient; creates a contract), declines (the recipient) or withdraws (the
    /// sender) an open proposal.
    pub async fn respond_proposal(
        &self,
        actor: &Actor,
        id: ProposalId,
        action: ProposalAction,
    ) -> ServiceResult<(Proposal, Option<Contract>)> {
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let mut p = market::proposal(&mut tx, &self.keys, id)
            .await
            .map_err(not_found("proposal"))?;
        if p.freelancer_id != actor.account && p.client_id != actor.account {
            return Err(ServiceError::NotFound("proposal"));
        }
        if p.status != ProposalStatus::Open {
            return Err(ServiceError::conflict(
                "proposal_not_open",
                format!("this proposal is already {}", p.status.as_str()),
            ));
        }
        let is_sender = p.sender_id == actor.account;
        let next = match action {
            ProposalAction::Withdraw if is_sender => ProposalStatus::Withdrawn,
            ProposalAction::Accept | ProposalAction::Decline if !is_sender => {
                if action == ProposalAction::Accept {
                    ProposalStatus::Accepted
                } else {
                    ProposalStatus::Declined
                }
            }
            _ => {
                return Err(ServiceError::forbidden(
                    "not_your_move",
                    "only the recipient can accept or decline, and only the sender can withdraw",
                ));
            }
        };
        let mut contract = None;
        if next == ProposalStatus::Accepted {
            Self::require_active(actor, "account_not_active", "accept proposals")?;
            let other = if is_sender {
                actor.account
            } else {
                p.sender_id
            };
            let (st, _, _) = self.member_state(&mut tx, other, "member").await?;
            if !Effects::of(st).proposals {
                return Err(ServiceError::conflict(
                    "counterparty_unavailable",
                    "the other member is no longer available",
                ));
            }
            let title = match p.job_post_id {
                Some(j) => market::job_post(&mut tx, j).await?.title,
                None => "Contract".to_string(),
            };
            let c = Contract {
                id: ContractId::new(),
                client_id: p.client_id,
                freelancer_id: p.freelancer_id,
                title,
                status: ContractStatus::Open,
                currency: Currency::USD,
                created_at: now,
                ended_at: None,
            };
            market::create_contract(&mut tx, &c).await?;
            contract = Some(c);
        }
        market::set_proposal_status(&mut tx, id, next).await?;
        p.status = next;
        accounts::touch_data(&mut tx, &[&p.freelancer_id, &p.client_id], now).await?;
        self.audit(
            &mut tx,
            actor,
            "proposal.responded",
            json!({"proposal_id": id, "status": next.as_str()}),
            now,
        )
        .await?;
        tx.commit().await?;
        Ok((p, contract))
    }

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

    async fn party_contract(
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
            Ok(market::contracts_of(tx, actor.account, limit.clamp(1, 500), offset.max(0)).await?)
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

    /// The caller's payments.
    pub async fn my_payments(
        &self,
        actor: &Actor,
        limit: i64,
        offset: i64,
    ) -> ServiceResult<Vec<Payment>> {
        self.reading(async |tx| {
            Ok(market::payments_of(tx, actor.account, limit.clamp(1, 500), offset.max(0)).await?)
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
            &hiatus_store::jobs::NewJob {
                kind: crate::worker::JOB_SETTLE_PAYOUT.into(),
                payload: json!({"payout_id": p.id}),
                run_at: p.settles_at,
                dedupe_key: Some(format!("{}:{}", crate::worker::JOB_SETTLE_PAYOUT, p.id)),
                max_attempts: 10,
            },
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
            Ok(market::invoices_of(tx, actor.account, limit.clamp(1, 500), offset.max(0)).await?)
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

    /// Opens a thread with another member (optionally about a contract) with a first message.
    pub async fn start_thread(
        &self,
        actor: &Actor,
        with: AccountId,
        subject: &str,
        body: &str,
        contract: Option<ContractId>,
    ) -> ServiceResult<(Thread, Message)> {
        check_name("subject", subject, 200, true)?;
        check_text("body", body, 20_000, true)?;
        if !Effects::of(actor.state).send_messages {
            return Err(ServiceError::conflict(
                "messaging_read_only",
                "your account is read-only while deactivated; reactivate it to send messages",
            ));
        }
        if with == actor.account {
            return Err(ServiceError::invalid(
                "self_thread",
                "you cannot message yourself",
            ));
        }
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let (state, _, settings) = self.member_state(&mut tx, with, "member").await?;
        self.reachable(&mut tx, actor, with, state, &settings, "member")
            .await?;
        if let Some(c) = contract {
            let c = self.party_contract(&mut tx, actor, c).await?;
            if c.client_id != with && c.freelancer_id != with {
                return Err(ServiceError::invalid(
                    "not_a_party",
                    "the other member is not party to that contract",
                ));
            }
        }
        let t = Thread {
            id: ThreadId::new(),
            contract_id: contract,
            subject: subject.to_string(),
            participants: vec![actor.account, with],
            created_at: now,
            last_message_at: now,
            named: None,
        };
        market::create_thread(&mut tx, &t).await?;
        let m = Message {
            id: MessageId::new(),
            thread_id: t.id,
            author_id: actor.account,
            body: body.to_string(),
            created_at: now,
        };
        market::post_message(&mut tx, &m).await?;
        accounts::touch_data(&mut tx, &[&actor.account, &with], now).await?;
        tx.commit().await?;
        Ok((t, m))
    }

    async fn participant_thread(
        &self,
        tx: &mut Tx,
        actor: &Actor,
        id: ThreadId,
    ) -> ServiceResult<Thread> {
        let mut t = market::thread(tx, id).await.map_err(not_found("thread"))?;
        if !t.participants.contains(&actor.account) {
            return Err(ServiceError::NotFound("thread"));
        }
        self.name_subject(tx, &mut t).await?;
        Ok(t)
    }

    /// Puts the current name of the person a thread's subject names into it: their display
    /// name, or their pseudonym once they are erased.
    pub(crate) async fn name_subject(&self, tx: &mut Tx, t: &mut Thread) -> ServiceResult<()> {
        if let Some(named) = t.named {
            let name = self.current_name(tx, named).await?;
            t.subject = t.subject.replace(market::NAMED, &name);
        }
        Ok(())
    }

    /// How a person is named today: by their display name, by their pseudonym once erased.
    pub(crate) async fn current_name(&self, tx: &mut Tx, id: AccountId) -> ServiceResult<String> {
        if let Some(label) = hiatus_store::erasures::pseudonym_of(tx, &id.to_text()).await? {
            return Ok(label);
        }
        Ok(match accounts::profile(tx, &self.keys, id).await {
            Ok(p) => p.display_name,
            Err(_) => crate::FORMER_MEMBER.to_string(),
        })
    }

    /// Posts a message to a thread the caller takes part in. Read-only while deactivated.
    pub async fn post_message(
        &self,
        actor: &Actor,
        thread: ThreadId,
        body: &str,
    ) -> ServiceResult<Message> {
        check_text("body", body, 20_000, true)?;
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let t = self.participant_thread(&mut tx, actor, thread).await?;
        if !Effects::of(actor.state).send_messages {
            return Err(ServiceError::conflict(
                "messaging_read_only",
                "your account is read-only while deactivated; reactivate it to send messages",
            ));
        }
        let m = Message {
            id: MessageId::new(),
            thread_id: thread,
            author_id: actor.account,
            body: body.to_string(),
            created_at: now,
        };
        market::post_message(&mut tx, &m).await?;
        self.away_replies(&mut tx, actor.account, &t.participants, thread, now)
            .await?;
        let ids: Vec<&AccountId> = t.participants.iter().collect();
        accounts::touch_data(&mut tx, &ids, now).await?;
        tx.commit().await?;
        Ok(m)
    }

    /// The automatic away replies to a message: each other participant who is deactivated (or
    /// awaiting deletion) and set an away message answers with it, at most once per thread
    /// and calendar day (UTC).
    async fn away_replies(
        &self,
        tx: &mut hiatus_store::Tx,
        sender: AccountId,
        participants: &[AccountId],
        thread: ThreadId,
        now: Micros,
    ) -> ServiceResult<()> {
        let day_start = now - now.rem_euclid(DAY_MICROS);
        for p in participants.iter().filter(|p| **p != sender) {
            let acct = accounts::get(tx, *p).await?;
            if !matches!(
                acct.state()?,
                AccountState::Deactivated | AccountState::DeletionScheduled
            ) {
                continue;
            }
            let Some(away) = accounts::profile(tx, &self.keys, *p)
                .await?
                .away_message
                .filter(|a| !a.trim().is_empty())
            else {
                continue;
            };
            if !hiatus_store::notices::claim_away_reply(tx, &thread.to_text(), *p, day_start, now)
                .await?
            {
                continue;
            }
            market::post_message(
                tx,
                &Message {
                    id: MessageId::new(),
                    thread_id: thread,
                    author_id: *p,
                    body: format!("Automatic reply: {away}"),
                    // Just after the message it answers, so it reads in order.
                    created_at: now + 1,
                },
            )
            .await?;
        }
        Ok(())
    }

    /// The caller's threads.
    pub async fn my_threads(
        &self,
        actor: &Actor,
        limit: i64,
        offset: i64,
    ) -> ServiceResult<Vec<Thread>> {
        self.reading(async |tx| {
            let mut threads =
                market::threads_of(tx, actor.account, limit.clamp(1, 500), offset.max(0)).await?;
            for t in &mut threads {
                self.name_subject(tx, t).await?;
            }
            Ok(threads)
        })
        .await
    }

    /// One thread the caller takes part in (404 for any other, as if it did not exist).
    pub async fn my_thread(&self, actor: &Actor, thread: ThreadId) -> ServiceResult<Thread> {
        let mut tx = self.db.read().await?;
        let t = self.participant_thread(&mut tx, actor, thread).await?;
        tx.commit().await?;
        Ok(t)
    }

    /// Messages of a thread the caller takes part in.
    pub async fn thread_messages(
        &self,
        actor: &Actor,
        thread: ThreadId,
        limit: i64,
        offset: i64,
    ) -> ServiceResult<Vec<Message>> {
        let mut tx = self.db.read().await?;
        self.participant_thread(&mut tx, actor, thread).await?;
        let v = market::messages(&mut tx, thread, limit.clamp(1, 1000), offset.max(0)).await?;
        tx.commit().await?;
        Ok(v)
    }

    /// Delivers work under a contract (its freelancer), with files. The client keeps them.
    pub async fn submit_work(
        &self,
        actor: &Actor,
        contract: ContractId,
        note: &str,
        files: Vec<Upload>,
    ) -> ServiceResult<(Submission, Vec<FileMeta>)> {
        check_text("note", note, 5000, false)?;
        if files.len() > 20 {
            return Err(ServiceError::invalid(
                "too_many_files",
                "at most 20 files per submission",
            ));
        }
        for f in &files {
            check_upload(f)?;
        }
        Self::require_active(actor, "account_not_active", "submit work")?;
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let c = self.party_contract(&mut tx, actor, contract).await?;
        if c.freelancer_id != actor.account {
            return Err(ServiceError::forbidden(
                "freelancer_only",
                "only the freelancer of a contract submits work",
            ));
        }
        if !c.status.was_accepted() {
            return Err(not_accepted(c.status));
        }
        if !c.status.is_live() {
            return Err(ServiceError::conflict(
                "contract_ended",
                "work cannot be submitted to an ended contract",
            ));
        }
        let s = Submission {
            id: SubmissionId::new(),
            contract_id: contract,
            freelancer_id: actor.account,
            note: note.to_string(),
            created_at: now,
        };
        market::create_submission(&mut tx, &s).await?;
        let mut metas = Vec::new();
        for f in files {
            let row = self
                .store_shared_file(
                    &f,
                    actor.account,
                    FileKind::Submission,
                    None,
                    Some(s.id),
                    now,
                )
                .await?;
            market::create_file(&mut tx, &row).await?;
            metas.push(meta(&row, f.name));
        }
        accounts::touch_data(&mut tx, &[&c.client_id, &c.freelancer_id], now).await?;
        self.audit(
            &mut tx,
            actor,
            "work.submitted",
            json!({"submission_id": s.id, "files": metas.len()}),
            now,
        )
        .await?;
        tx.commit().await?;
        Ok((s, metas))
    }

    /// The submissions of a contract the caller is party to, with their files.
    pub async fn contract_submissions(
        &self,
        actor: &Actor,
        contract: ContractId,
    ) -> ServiceResult<Vec<(Submission, Vec<FileMeta>)>> {
        let mut tx = self.db.read().await?;
        self.party_contract(&mut tx, actor, contract).await?;
        let subs = market::submissions_of_contract(&mut tx, contract).await?;
        let mut out = Vec::new();
        for s in subs {
            let files = market::files_of_submission(&mut tx, s.id).await?;
            let metas = files
                .iter()
                .map(|r| meta(r, r.name.clone().unwrap_or_default()))
                .collect();
            out.push((s, metas));
        }
        tx.commit().await?;
        Ok(out)
    }

    async fn store_shared_file(
        &self,
        f: &Upload,
        owner: AccountId,
        kind: FileKind,
        message: Option<MessageId>,
        submission: Option<SubmissionId>,
        now: Micros,
    ) -> ServiceResult<FileRow> {
        let id = FileId::new();
        let key = Blobs::new_key(&id.to_text());
        self.blobs.put(&key, &f.bytes).await?;
        Ok(FileRow {
            id: id.to_text(),
            owner_id: owner.to_text(),
            kind: kind.as_str().into(),
            message_id: message.map(|m| m.to_text()),
            submission_id: submission.map(|s| s.to_text()),
            blob_key: key,
            name: Some(f.name.clone()),
            name_enc: None,
            content_type: f.content_type.clone(),
            size_bytes: f.bytes.len() as i64,
            sha256: hex_sha256(&f.bytes),
            encrypted: false,
            created_at: now,
        })
    }

    /// Stores a private file (profile photo or draft), encrypted under the member's key.
    pub async fn upload_private_file(
        &self,
        actor: &Actor,
        kind: FileKind,
        f: Upload,
    ) -> ServiceResult<FileMeta> {
        check_upload(&f)?;
        if !matches!(kind, FileKind::Photo | FileKind::Private) {
            return Err(ServiceError::invalid(
                "kind_invalid",
                "private uploads are photos or private files",
            ));
        }
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let acct = accounts::get(&mut tx, actor.account).await?;
        let dk = acct.data_key(&self.keys)?;
        let id = FileId::new();
        let idt = id.to_text();
        let key = Blobs::new_key(&idt);
        self.blobs.put(&key, &dk.seal_blob(&idt, &f.bytes)).await?;
        let row = FileRow {
            id: idt.clone(),
            owner_id: actor.account.to_text(),
            kind: kind.as_str().into(),
            message_id: None,
            submission_id: None,
            blob_key: key,
            name: None,
            name_enc: Some(dk.seal_field("files", "name", &idt, &f.name)),
            content_type: f.content_type.clone(),
            size_bytes: f.bytes.len() as i64,
            sha256: hex_sha256(&f.bytes),
            encrypted: true,
            created_at: now,
        };
        market::create_file(&mut tx, &row).await?;
        if kind == FileKind::Photo {
            tx.exec(
                "UPDATE profiles SET photo_file_id = $2 WHERE account_id = $1",
                hiatus_store::args![actor.account.to_text(), idt.clone()],
            )
            .await?;
        }
        accounts::touch_data(&mut tx, &[&actor.account], now).await?;
        tx.commit().await?;
        Ok(meta(&row, f.name))
    }

    /// A file's bytes and description, for its owner or, for shared files, the parties.
    pub async fn download_file(
        &self,
        actor: &Actor,
        id: FileId,
    ) -> ServiceResult<(FileMeta, Vec<u8>)> {
        let mut tx = self.db.read().await?;
        let row = market::file(&mut tx, id).await.map_err(not_found("file"))?;
        let owner: AccountId = row
            .owner_id
            .parse()
            .map_err(|_| ServiceError::NotFound("file"))?;
        let allowed = if owner == actor.account {
            true
        } else if let Some(s) = &row.submission_id {
            let s = market::submission(
                &mut tx,
                s.parse().map_err(|_| ServiceError::NotFound("file"))?,
            )
            .await?;
            self.party_contract(&mut tx, actor, s.contract_id)
                .await
                .is_ok()
        } else if let Some(m) = &row.message_id {
            let tid: Option<(String,)> = tx
                .opt(
                    "SELECT thread_id FROM messages WHERE id = $1",
                    hiatus_store::args![m.clone()],
                )
                .await?;
            match tid {
                Some((t,)) => self
                    .participant_thread(
                        &mut tx,
                        actor,
                        t.parse().map_err(|_| ServiceError::NotFound("file"))?,
                    )
                    .await
                    .is_ok(),
                None => false,
            }
        } else {
            false
        };
        if !allowed {
            return Err(ServiceError::NotFound("file"));
        }
        let (name, bytes) = if row.encrypted {
            let acct = accounts::get(&mut tx, owner).await?;
            let dk = acct.data_key(&self.keys)?;
            let name = dk.open_field(
                "files",
                "name",
                &row.id,
                row.name_enc.as_deref().unwrap_or_default(),
            )?;
            let sealed = self.blobs.get(&row.blob_key).await?;
            (name, dk.open_blob(&row.id, &sealed)?)
        } else {
            (
                row.name.clone().unwrap_or_default(),
                self.blobs.get(&row.blob_key).await?,
            )
        };
        tx.commit().await?;
        Ok((meta(&row, name), bytes))
    }

    /// Reviews the other party of a contract (once per contract, after it was accepted and
    /// then ended; never an offer, answered or not).
    pub async fn write_review(
        &self,
        actor: &Actor,
        contract: ContractId,
        rating: i64,
        body: &str,
    ) -> ServiceResult<Review> {
        check_text("body", body, 5000, false)?;
        if !(1..=5).contains(&rating) {
            return Err(ServiceError::invalid(
                "rating_invalid",
                "a rating is 1 to 5 stars",
            ));
        }
        Self::require_active(actor, "account_not_active", "write reviews")?;
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let c = self.party_contract(&mut tx, actor, contract).await?;
        if !c.status.was_accepted() {
            return Err(not_accepted(c.status));
        }
        if c.status != ContractStatus::Ended {
            return Err(ServiceError::conflict(
                "contract_not_ended",
                "reviews are written after a contract ends",
            ));
        }
        let subject = if c.client_id == actor.account {
            c.freelancer_id
        } else {
            c.client_id
        };
        let r = Review {
            id: ReviewId::new(),
            contract_id: contract,
            author_id: actor.account,
            subject_id: subject,
            rating,
            body: body.to_string(),
            created_at: now,
        };
        market::create_review(&mut tx, &r)
            .await
            .map_err(|e| match e {
                StoreError::Conflict(_) => {
                    ServiceError::conflict("review_exists", "you already reviewed this contract")
                }
                e => e.into(),
            })?;
        accounts::touch_data(&mut tx, &[&c.client_id, &c.freelancer_id], now).await?;
        tx.commit().await?;
        Ok(r)
    }

    /// The reviews the caller wrote, newest first. A review of someone erased since stays,
    /// about their pseudonym.
    pub async fn my_reviews(&self, actor: &Actor) -> ServiceResult<Vec<Review>> {
        let me = actor.account;
        self.reading(async |tx| Ok(market::reviews_by(tx, me, 500).await?))
            .await
    }

    /// Reviews about a member whose profile the viewer may see.
    pub async fn reviews_of(
        &self,
        viewer: Option<&Actor>,
        member: AccountId,
    ) -> ServiceResult<Vec<Review>> {
        self.profile(viewer, member).await?;
        self.reading(async |tx| Ok(market::reviews_about(tx, member, 200).await?))
            .await
    }
}

fn check_upload(f: &Upload) -> ServiceResult<()> {
    check_name("file name", &f.name, 255, true)?;
    check_text("content type", &f.content_type, 100, true)?;
    if f.bytes.len() > MAX_FILE_BYTES {
        return Err(ServiceError::invalid(
            "file_too_large",
            format!("a file can be at most {} MiB", MAX_FILE_BYTES / 1024 / 1024),
        ));
    }
    Ok(())
}

fn hex_sha256(b: &[u8]) -> String {
    Sha256::digest(b)
        .iter()
        .map(|x| format!("{x:02x}"))
        .collect()
}

fn meta(r: &FileRow, name: String) -> FileMeta {
    FileMeta {
        id: r.id.parse().unwrap_or_default(),
        owner_id: r.owner_id.parse().unwrap_or_default(),
        kind: FileKind::parse(&r.kind).unwrap_or(FileKind::Attachment),
        message_id: r.message_id.as_deref().and_then(|s| s.parse().ok()),
        submission_id: r.submission_id.as_deref().and_then(|s| s.parse().ok()),
        name,
        content_type: r.content_type.clone(),
        size_bytes: r.size_bytes,
        sha256: r.sha256.clone(),
        created_at: r.created_at,
    }
}
