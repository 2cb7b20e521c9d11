//! How a person appears to someone who shares records with them.

use super::*;
use hiatus_store::erasures;
use serde::Serialize;

/// How a person appears to someone who shares records with them.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct PersonCard {
    pub id: AccountId,
    /// Their display name, or for an erased member their pseudonym.
    pub name: String,
    /// True for the pseudonym of an erased member.
    pub former_member: bool,
}

impl Hiatus {
    /// The name to show for a person in records the caller shares with them (contracts,
    /// threads, reviews). Erased members appear by their pseudonym. People the caller shares
    /// nothing with are "not found", like missing ones.
    pub async fn person(&self, actor: &Actor, id: AccountId) -> ServiceResult<PersonCard> {
        let mut tx = self.db.read().await?;
        let shared = if id == actor.account {
            1
        } else {
            market::shared_record_count(&mut tx, actor.account, id).await?
        };
        if shared == 0 {
            return Err(ServiceError::NotFound("person"));
        }
        let card = match erasures::pseudonym_of(&mut tx, &id.to_text()).await? {
            Some(label) => PersonCard {
                id,
                name: label,
                former_member: true,
            },
            None => {
                let acct = accounts::get(&mut tx, id).await?;
                let name = if acct.state()? == AccountState::Deleted {
                    crate::FORMER_MEMBER.to_string()
                } else {
                    accounts::profile(&mut tx, &self.keys, id)
                        .await?
                        .display_name
                };
                PersonCard {
                    id,
                    name,
                    former_member: false,
                }
            }
        };
        tx.commit().await?;
        Ok(card)
    }
}
