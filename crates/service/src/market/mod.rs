//! The marketplace records, created and changed through the use cases so that every rule of
//! the lifecycle holds: only parties see a record, and a member's state decides what they may
//! still do (no proposals to or from a deactivated member, read-only messaging, …).

use crate::error::{ServiceError, ServiceResult};
use crate::{Actor, Hiatus, check_name, check_text};
use hiatus_domain::effects::{Effects, Viewer, can_view_profile};
use hiatus_domain::*;
use hiatus_store::audit::{self, NewAuditEvent};
use hiatus_store::{StoreError, Tx, accounts, market};

mod contracts;
mod files;
mod hiring;
mod invoices;
mod messages;
mod money;
mod people;
mod reviews;

use contracts::not_accepted;
use money::{balance_limit, check_amount};

pub use contracts::ContractAction;
pub use files::{MAX_FILE_BYTES, Upload};
pub use hiring::ProposalAction;
pub use money::PaymentAction;
pub use people::PersonCard;

fn not_found(what: &'static str) -> impl Fn(StoreError) -> ServiceError {
    move |e| match e {
        StoreError::NotFound => ServiceError::NotFound(what),
        e => e.into(),
    }
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
}
