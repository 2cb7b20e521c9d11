//! Sign-up, login, sessions and re-authentication.

use crate::error::{ServiceError, ServiceResult};
use crate::{Hiatus, check_text, password};
use base64::Engine;
use hiatus_domain::effects::{Effects, Landing};
use hiatus_domain::{
    AccountId, AccountKind, AccountState, Email, Micros, ProfileSettings, Role, SessionId,
};
use hiatus_store::accounts::{self, NewAccount};
use hiatus_store::audit::{self, NewAuditEvent};
use hiatus_store::sessions;
use serde_json::json;

/// A new member's details.
#[derive(Clone)]
pub struct SignUp {
    pub email: String,
    pub password: String,
    pub legal_name: String,
    pub display_name: String,
    pub kind: AccountKind,
    pub headline: String,
    pub bio: String,
}

/// The logged-in caller of a request.
#[derive(Clone, Debug)]
pub struct Actor {
    pub account: AccountId,
    pub session_id: String,
    pub role: Role,
    pub kind: AccountKind,
    pub state: AccountState,
    pub reauth_at: Micros,
}

impl Actor {
    /// The capabilities of the caller's current state.
    pub fn effects(&self) -> Effects {
        Effects::of(self.state)
    }
    /// Requires the support or operator role.
    pub fn require_staff(&self) -> ServiceResult<()> {
        match self.role {
            Role::Support | Role::Operator => Ok(()),
            Role::Member => Err(ServiceError::forbidden(
                "staff_only",
                "only support agents and operators can do this",
            )),
        }
    }

    /// Refuses everyone but operators.
    pub fn require_operator(&self) -> ServiceResult<()> {
        match self.role {
            Role::Operator => Ok(()),
            _ => Err(ServiceError::forbidden(
                "operator_only",
                "only operators can do this",
            )),
        }
    }
}

/// A successful login.
#[derive(Clone, Debug)]
pub struct LoginOutcome {
    pub token: String,
    pub account: AccountId,
    pub state: AccountState,
    pub landing: Landing,
    pub expires_at: Micros,
}

pub(crate) fn new_token() -> String {
    let mut b = [0u8; 32];
    getrandom::fill(&mut b).expect("random source");
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}

impl Hiatus {
    /// Registers a member (or, from the admin CLI, staff).
    pub async fn sign_up(&self, s: SignUp, role: Role) -> ServiceResult<AccountId> {
        let email = Email::parse(&s.email)
            .map_err(|e| ServiceError::invalid("invalid_email", e.to_string()))?;
        password::check_new(&s.password)?;
        check_text("legal_name", &s.legal_name, 200, true)?;
        check_text("display_name", &s.display_name, 100, true)?;
        check_text("headline", &s.headline, 200, false)?;
        check_text("bio", &s.bio, 5000, false)?;
        let params = self.config.password;
        let pw = s.password.clone();
        let hash = tokio::task::spawn_blocking(move || password::hash(&pw, params))
            .await
            .map_err(|_| {
                ServiceError::Internal(hiatus_store::StoreError::Config(
                    "password hashing task failed".into(),
                ))
            })?;
        let now = self.now();
        let id = AccountId::new();
        let mut tx = self.db.begin().await?;
        accounts::insert(
            &mut tx,
            &self.keys,
            &NewAccount {
                id,
                kind: s.kind,
                role,
                email,
                legal_name: s.legal_name,
                display_name: s.display_name,
                headline: s.headline,
                bio: s.bio,
                password_hash: hash,
                settings: ProfileSettings::default(),
                hourly_rate_minor: None,
                now,
            },
        )
        .await?;
        audit::record(
            &mut tx,
            NewAuditEvent::by_member(
                id,
                "account.created",
                json!({"kind": s.kind.as_str(), "role": role.as_str()}),
                now,
            ),
        )
        .await?;
        tx.commit().await?;
        tracing::info!(account = %id, "account created");
        Ok(id)
    }

    /// Logs in. Works in every state but `deleted`, and says where to land.
    pub async fn login(&self, email: &str, password_text: &str) -> ServiceResult<LoginOutcome> {
        let Ok(email) = Email::parse(email) else {
            return Err(ServiceError::BadCredentials);
        };
        let now = self.now();
        let mut tx = self.db.read().await?;
        let found = accounts::find_by_email(&mut tx, &self.keys, &email).await?;
        tx.commit().await?;
        // Erasure replaces the tombstone's email hash with random bytes, so an erased
        // address is not found; a deleted account found anyway (a tombstone written before
        // that) answers exactly as an unknown address does.
        let Some(acct) = found.filter(|a| a.state().ok() != Some(AccountState::Deleted)) else {
            // Spend the same time as a real check, so timing does not reveal which emails exist.
            let params = self.config.password;
            let _ = tokio::task::spawn_blocking(move || password::hash("timing equalizer", params))
                .await;
            return Err(ServiceError::BadCredentials);
        };
        let id = acct.account_id()?;
        let state = acct.state()?;
        if let Some(until) = acct.locked_until.filter(|u| *u > now) {
            return Err(ServiceError::RateLimited {
                retry_after_secs: ((until - now) / 1_000_000).max(1) as u64,
            });
        }
        let stored = acct.password_hash.clone().unwrap_or_default();
        let pw = password_text.to_string();
        let ok = tokio::task::spawn_blocking(move || password::verify(&pw, &stored))
            .await
            .unwrap_or(false);
        let mut tx = self.db.begin().await?;
        if !ok {
            accounts::record_login_failure(
                &mut tx,
                id,
                self.config.login_max_failures,
                now,
                self.config.login_lockout,
            )
            .await?;
            audit::record(
                &mut tx,
                NewAuditEvent {
                    account: Some(id),
                    actor: None,
                    action: "login.failed",
                    reason: None,
                    detail: json!({}),
                    now,
                },
            )
            .await?;
            tx.commit().await?;
            return Err(ServiceError::BadCredentials);
        }
        // Erasure may have begun while the password was checked: no session for it.
        if !accounts::attachable(&mut tx, &id.to_text()).await? {
            return Err(ServiceError::BadCredentials);
        }
        accounts::reset_login_failures(&mut tx, id).await?;
        let token = new_token();
        let expires_at = now + self.config.session_ttl;
        sessions::create(
            &mut tx,
            SessionId::new(),
            id,
            &token,
            now,
            self.config.session_ttl,
        )
        .await?;
        audit::record(
            &mut tx,
            NewAuditEvent::by_member(id, "login.succeeded", json!({"state": state.as_str()}), now),
        )
        .await?;
        tx.commit().await?;
        let landing = Effects::of(state).login.unwrap_or(Landing::Home);
        Ok(LoginOutcome {
            token,
            account: id,
            state,
            landing,
            expires_at,
        })
    }

    /// Resolves a session token to the caller.
    pub async fn authenticate(&self, token: &str) -> ServiceResult<Actor> {
        if token.is_empty() || token.len() > 128 {
            return Err(ServiceError::Unauthorized);
        }
        let now = self.now();
        let mut tx = self.db.read().await?;
        let s = sessions::find(&mut tx, token, now)
            .await?
            .ok_or(ServiceError::Unauthorized)?;
        let acct = accounts::get(
            &mut tx,
            s.account_id
                .parse()
                .map_err(|_| ServiceError::Unauthorized)?,
        )
        .await?;
        tx.commit().await?;
        let state = acct.state()?;
        if state == AccountState::Deleted {
            return Err(ServiceError::Unauthorized);
        }
        Ok(Actor {
            account: acct.account_id()?,
            session_id: s.id,
            role: acct.role()?,
            kind: acct.kind()?,
            state,
            reauth_at: s.reauth_at,
        })
    }

    /// Ends the caller's session.
    pub async fn logout(&self, actor: &Actor) -> ServiceResult<()> {
        let now = self.now();
        let mut tx = self.db.begin().await?;
        sessions::delete(&mut tx, &actor.session_id).await?;
        audit::record(
            &mut tx,
            NewAuditEvent::by_member(actor.account, "logout", json!({}), now),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Ends every other session of the caller ("sign out everywhere else").
    pub async fn logout_others(&self, actor: &Actor) -> ServiceResult<u64> {
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let n = sessions::delete_all(&mut tx, actor.account, Some(&actor.session_id)).await?;
        audit::record(
            &mut tx,
            NewAuditEvent::by_member(actor.account, "sessions.revoked", json!({"count": n}), now),
        )
        .await?;
        tx.commit().await?;
        Ok(n)
    }

    /// Checks the password again and stamps the session, opening the re-authentication window.
    pub async fn reauthenticate(
        &self,
        actor: &mut Actor,
        password_text: &str,
    ) -> ServiceResult<()> {
        self.check_password(actor.account, password_text).await?;
        let now = self.now();
        let mut tx = self.db.begin().await?;
        sessions::mark_reauth(&mut tx, &actor.session_id, now).await?;
        audit::record(
            &mut tx,
            NewAuditEvent::by_member(actor.account, "reauthenticated", json!({}), now),
        )
        .await?;
        tx.commit().await?;
        actor.reauth_at = now;
        Ok(())
    }

    pub(crate) async fn check_password(
        &self,
        account: AccountId,
        password_text: &str,
    ) -> ServiceResult<()> {
        let mut tx = self.db.read().await?;
        let acct = accounts::get(&mut tx, account).await?;
        tx.commit().await?;
        let stored = acct.password_hash.unwrap_or_default();
        let pw = password_text.to_string();
        let ok = tokio::task::spawn_blocking(move || password::verify(&pw, &stored))
            .await
            .unwrap_or(false);
        if ok {
            Ok(())
        } else {
            Err(ServiceError::forbidden(
                "wrong_password",
                "the password is not correct",
            ))
        }
    }

    /// The password, if given, must be right; otherwise the session must have re-authenticated
    /// within the window.
    pub(crate) async fn require_reauth(
        &self,
        actor: &Actor,
        password_text: Option<&str>,
    ) -> ServiceResult<()> {
        match password_text {
            Some(p) if !p.is_empty() => self.check_password(actor.account, p).await,
            _ if self.now() - actor.reauth_at <= self.config.reauth_window => Ok(()),
            _ => Err(ServiceError::ReauthRequired),
        }
    }
}
