//! What the account pages need beyond the API's use cases: the member's own sessions, a
//! password change, and the record that a member chose to leave without a copy of their data.

use crate::error::{ServiceError, ServiceResult};
use crate::{Actor, Hiatus, password};
use hiatus_domain::Micros;
use hiatus_domain::preflight::Intent;
use hiatus_store::accounts;
use hiatus_store::audit::{self, NewAuditEvent};
use hiatus_store::sessions;
use serde_json::json;

/// One of the member's live sessions, as the Security page lists them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionView {
    /// The session this request came with.
    pub current: bool,
    pub created_at: Micros,
    pub expires_at: Micros,
    /// When the password was last entered in this session (at login, or re-authentication).
    pub reauth_at: Micros,
}

impl Hiatus {
    /// The caller's live sessions, newest first.
    pub async fn my_sessions(&self, actor: &Actor) -> ServiceResult<Vec<SessionView>> {
        let now = self.now();
        self.reading(async |tx| {
            Ok(sessions::list(tx, actor.account, now)
                .await?
                .into_iter()
                .map(|s| SessionView {
                    current: s.id == actor.session_id,
                    created_at: s.created_at,
                    expires_at: s.expires_at,
                    reauth_at: s.reauth_at,
                })
                .collect())
        })
        .await
    }

    /// True while the caller's last password entry is within the re-authentication window.
    pub fn recently_reauthenticated(&self, actor: &Actor) -> bool {
        self.now() - actor.reauth_at <= self.config.reauth_window
    }

    /// Changes the caller's password. The current password must be given (a session left
    /// open on a shared computer is not enough); every other session ends, so whoever knew
    /// the old password is signed out.
    pub async fn change_password(
        &self,
        actor: &Actor,
        current: &str,
        new: &str,
    ) -> ServiceResult<u64> {
        password::check_new(new)?;
        if new == current {
            return Err(ServiceError::invalid(
                "password_unchanged",
                "the new password must differ from the current one",
            ));
        }
        self.check_password(actor, current).await?;
        let params = self.config.password;
        let pw = new.to_string();
        let hash = tokio::task::spawn_blocking(move || password::hash(&pw, params))
            .await
            .map_err(|_| {
                ServiceError::Internal(hiatus_store::StoreError::Config(
                    "password hashing task failed".into(),
                ))
            })?;
        let now = self.now();
        let mut tx = self.db.begin().await?;
        accounts::set_password_hash(&mut tx, actor.account, &hash).await?;
        let ended = sessions::delete_all(&mut tx, actor.account, Some(&actor.session_id)).await?;
        sessions::mark_reauth(&mut tx, &actor.session_id, now).await?;
        audit::record(
            &mut tx,
            NewAuditEvent::by_member(
                actor.account,
                "password.changed",
                json!({"sessions_ended": ended}),
                now,
            ),
        )
        .await?;
        tx.commit().await?;
        tracing::info!(account = %actor.account, "password changed");
        Ok(ended)
    }

    /// Records that the member went on with closing without downloading their data, so the
    /// audit trail shows they were told and chose to skip.
    pub async fn skip_backup(&self, actor: &Actor, intent: Intent) -> ServiceResult<()> {
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let intent = match intent {
            Intent::Deactivate => "deactivate",
            Intent::Delete => "delete",
        };
        audit::record(
            &mut tx,
            NewAuditEvent::by_member(
                actor.account,
                "closing.backup_skipped",
                json!({"intent": intent}),
                now,
            ),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }
}
