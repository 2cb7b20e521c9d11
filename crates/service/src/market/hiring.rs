//! Job posts, proposals and invitations.

use super::*;
use hiatus_store::market;
use serde_json::json;

/// What a member can do to a proposal.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ProposalAction {
    Accept,
    Decline,
    Withdraw,
}

impl Hiatus {
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
}
