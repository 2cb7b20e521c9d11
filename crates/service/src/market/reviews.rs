//! Reviews, written once per ended contract.

use super::*;
use hiatus_store::market;

impl Hiatus {
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
