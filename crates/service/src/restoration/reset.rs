//! The password reset an approval mails: a single-use link, and the new password it sets.

use super::RESET_TTL;
use crate::error::{ServiceError, ServiceResult};
use crate::{Hiatus, link_token, password};
use hiatus_domain::{AccountId, AccountState, Micros};
use hiatus_store::audit::{self, NewAuditEvent};
use hiatus_store::restorations;
use hiatus_store::{accounts, sessions};
use serde_json::json;

impl Hiatus {
    /// Mints a single-use password-reset link's token (for an approved request's mail).
    pub async fn mint_password_reset(
        &self,
        account: AccountId,
        request: &str,
    ) -> ServiceResult<(String, Micros)> {
        let token = link_token::new();
        let now = self.now();
        let mut tx = self.db.begin().await?;
        restorations::create_reset(
            &mut tx,
            &token,
            &account.to_text(),
            request,
            now,
            now + RESET_TTL,
        )
        .await?;
        tx.commit().await?;
        Ok((token, now + RESET_TTL))
    }

    async fn usable_reset(
        &self,
        token: &str,
    ) -> ServiceResult<(restorations::ResetRow, AccountId)> {
        link_token::check(token, "link")?;
        let now = self.now();
        let mut tx = self.db.read().await?;
        let link = restorations::find_reset(&mut tx, token)
            .await?
            .ok_or(ServiceError::NotFound("link"))?;
        let account: AccountId = link
            .account_id
            .parse()
            .map_err(|_| ServiceError::NotFound("link"))?;
        let acct = accounts::get(&mut tx, account).await?;
        tx.commit().await?;
        if link.used_at.is_some()
            || link.expires_at <= now
            || acct.state()? == AccountState::Deleted
        {
            return Err(ServiceError::Gone {
                code: "link_invalid",
                message: "this link is not valid any more: it was used already or has expired; ask support again if you still cannot log in".into(),
            });
        }
        Ok((link, account))
    }

    /// Whether a password-reset link can be used (its page), and until when.
    pub async fn password_reset_info(&self, token: &str) -> ServiceResult<Micros> {
        Ok(self.usable_reset(token).await?.0.expires_at)
    }

    /// Sets a new password through a reset link: single use; every session of the account
    /// ends and the lockout is lifted. Returns the account's state (a deactivated member is
    /// asked to reactivate when they log in).
    pub async fn reset_password(
        &self,
        token: &str,
        new_password: &str,
    ) -> ServiceResult<AccountState> {
        let (_, account) = self.usable_reset(token).await?;
        password::check_new(new_password)?;
        let params = self.config.password;
        let pw = new_password.to_string();
        let hash = tokio::task::spawn_blocking(move || password::hash(&pw, params))
            .await
            .map_err(|_| {
                ServiceError::Internal(hiatus_store::StoreError::Corrupt(
                    "password hashing failed".into(),
                ))
            })?;
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let acct = accounts::get_for_update(&mut tx, account).await?;
        let state = acct.state()?;
        if state == AccountState::Deleted
            || !restorations::use_reset(&mut tx, token, &account.to_text(), now).await?
        {
            return Err(ServiceError::Gone {
                code: "link_invalid",
                message: "this link is not valid any more: it was used already or has expired"
                    .into(),
            });
        }
        accounts::set_password_hash(&mut tx, account, &hash).await?;
        accounts::reset_login_failures(&mut tx, account).await?;
        let ended = sessions::delete_all(&mut tx, account, None).await?;
        audit::record(
            &mut tx,
            NewAuditEvent::by_member(
                account,
                "password.reset",
                json!({"sessions_ended": ended}),
                now,
            ),
        )
        .await?;
        audit::outbox(
            &mut tx,
            "account.password_changed",
            Some(account),
            json!({"account_id": account}),
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(state)
    }
}
