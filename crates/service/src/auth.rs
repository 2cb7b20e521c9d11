//! Sign-up, login, sessions and re-authentication.

use crate::error::{ServiceError, ServiceResult};
use crate::{Hiatus, check_name, check_text, password};
use base64::Engine;
use hiatus_domain::effects::{Effects, Landing};
use hiatus_domain::{
    AccountId, AccountKind, AccountState, Email, Micros, ProfileSettings, Role, SessionId,
};
use hiatus_store::accounts::{self, NewAccount};
use hiatus_store::audit::{self, NewAuditEvent};
use hiatus_store::sessions;
use hiatus_store::throttle;
use serde_json::json;
use std::net::IpAddr;

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
    /// Proof that this client logged in to this address: sent back with later logins, it
    /// keeps the owner's devices out of the block that a flood of wrong passwords from many
    /// client addresses puts on the address.
    pub device: String,
}

/// The client of re-authentication counters: the session itself is the subject.
const REAUTH_CLIENT: &str = "session";

/// How a client address is stored in the throttle: one key per address, one for "unknown"
/// (callers without an address, such as the CLI).
fn client_key(client: Option<IpAddr>) -> String {
    match client {
        // An IPv4 client reached over IPv6 counts as the IPv4 address.
        Some(IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => v6.to_string(),
        },
        Some(ip) => ip.to_string(),
        None => "unknown".to_string(),
    }
}

fn rate_limited(until: Micros, now: Micros) -> ServiceError {
    ServiceError::RateLimited {
        retry_after_secs: ((until - now) / 1_000_000).max(1) as u64,
    }
}

pub(crate) fn new_token() -> String {
    let mut b = [0u8; 32];
    getrandom::fill(&mut b).expect("random source");
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}

impl Hiatus {
    /// Checks a sign-up's details and hashes its password (on a blocking thread).
    pub(crate) async fn prepare_sign_up(&self, s: &SignUp) -> ServiceResult<(Email, String)> {
        let email = Email::parse(&s.email)
            .map_err(|e| ServiceError::invalid("invalid_email", e.to_string()))?;
        password::check_new(&s.password)?;
        check_name("legal_name", &s.legal_name, 200, true)?;
        check_name("display_name", &s.display_name, 100, true)?;
        check_name("headline", &s.headline, 200, false)?;
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
        Ok((email, hash))
    }

    /// Registers a member (or, from the admin CLI, staff) whose address needs no
    /// confirmation: operators, the demo and tests. The public sign-up is
    /// [`Hiatus::register`].
    pub async fn sign_up(&self, s: SignUp, role: Role) -> ServiceResult<AccountId> {
        let (email, hash) = self.prepare_sign_up(&s).await?;
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

    /// Logs in from an unknown client address (the CLI, tools). See [`Hiatus::login_from`].
    pub async fn login(&self, email: &str, password_text: &str) -> ServiceResult<LoginOutcome> {
        self.login_from(email, password_text, None).await
    }

    /// Logs in. Works in every state but `deleted`, and says where to land.
    ///
    /// Wrong passwords are counted per (address tried, client address): after
    /// `login_max_failures` within `login_lockout`, that client gets 429 for that address, while
    /// the owner's right password from any other client still works. Known and unknown
    /// addresses take the same path (a dummy hash with the configured cost, the same writes),
    /// so neither the answers nor their timing tell which addresses have accounts.
    pub async fn login_from(
        &self,
        email: &str,
        password_text: &str,
        client: Option<IpAddr>,
    ) -> ServiceResult<LoginOutcome> {
        self.login_with_device(email, password_text, client, None)
            .await
    }

    /// Logs in like [`Hiatus::login_from`], with the device token an earlier login of this
    /// client to this address returned ([`LoginOutcome::device`]).
    ///
    /// Wrong passwords for an address are also counted from all clients together: after
    /// `login_max_failures_all_clients` within `login_lockout`, every client without a valid
    /// device token for the address gets 429 for it, known and unknown addresses alike. The
    /// owner's devices keep their own per-client limit only, so a botnet can neither guess
    /// without bound nor lock the owner out.
    pub async fn login_with_device(
        &self,
        email: &str,
        password_text: &str,
        client: Option<IpAddr>,
        device: Option<&str>,
    ) -> ServiceResult<LoginOutcome> {
        let Ok(email) = Email::parse(email) else {
            return Err(ServiceError::BadCredentials);
        };
        let now = self.now();
        let subject = self.login_subject(&email);
        let known_device = device.is_some_and(|d| {
            let want = self.device_token(&subject);
            crate::link_token::constant_time_eq(d.as_bytes(), want.as_bytes())
        });
        let client = client_key(client);
        let mut tx = self.db.read().await?;
        let mut blocked = throttle::blocked_until(&mut tx, &subject, &client, now).await?;
        if !known_device && blocked.is_none() {
            blocked =
                throttle::blocked_until(&mut tx, &subject, throttle::ALL_CLIENTS, now).await?;
        }
        let found = accounts::find_by_email(&mut tx, &self.keys, &email).await?;
        tx.commit().await?;
        if let Some(until) = blocked {
            return Err(rate_limited(until, now));
        }
        // Erasure replaces the tombstone's email hash with random bytes, so an erased
        // address is not found; a deleted account found anyway (a tombstone written before
        // that) answers exactly as an unknown address does.
        let found = found.filter(|a| a.state().ok() != Some(AccountState::Deleted));
        // An account whose address is not confirmed yet answers like a wrong password, after
        // the same work (its hash is still checked): else signing up an address with a
        // password of one's own and logging in with it would tell whether it was free.
        let unconfirmed = self.awaits_confirmation(found.as_ref()).await?;
        let (id, state, stored) = match &found {
            Some(acct) => (
                Some(acct.account_id()?),
                Some(acct.state()?),
                acct.password_hash.clone().unwrap_or_default(),
            ),
            // Spend the same time as a real check, so timing does not reveal which emails
            // exist: the dummy hash has the configured parameters.
            None => (None, None, self.dummy_hash.to_string()),
        };
        let pw = password_text.to_string();
        let verified = tokio::task::spawn_blocking(move || password::verify(&pw, &stored))
            .await
            .unwrap_or(false);
        let (Some(id), Some(state), true, false) = (id, state, verified, unconfirmed) else {
            let mut tx = self.db.begin().await?;
            throttle::record_failure(
                &mut tx,
                &subject,
                &client,
                now,
                self.config.login_lockout,
                self.config.login_max_failures,
                self.config.login_lockout,
            )
            .await?;
            throttle::record_failure(
                &mut tx,
                &subject,
                throttle::ALL_CLIENTS,
                now,
                self.config.login_lockout,
                self.config.login_max_failures_all_clients,
                self.config.login_lockout,
            )
            .await?;
            audit::record(
                &mut tx,
                NewAuditEvent {
                    account: id,
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
        };
        let mut tx = self.db.begin().await?;
        // Erasure may have begun while the password was checked: no session for it.
        if !accounts::attachable(&mut tx, &id.to_text()).await? {
            return Err(ServiceError::BadCredentials);
        }
        throttle::clear(&mut tx, &subject, &client).await?;
        let out = self
            .open_session(tx, id, state, self.device_token(&subject))
            .await?;
        Ok(out)
    }

    /// Starts a session for a member whose password was just checked, records the login,
    /// and commits `tx`.
    pub(crate) async fn open_session(
        &self,
        mut tx: hiatus_store::Tx,
        id: AccountId,
        state: AccountState,
        device: String,
    ) -> ServiceResult<LoginOutcome> {
        let now = self.now();
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
        Ok(LoginOutcome {
            token,
            account: id,
            state,
            landing: Effects::of(state).login.unwrap_or(Landing::Home),
            expires_at,
            device,
        })
    }

    /// What wrong passwords for an address are counted under.
    fn login_subject(&self, email: &Email) -> Vec<u8> {
        throttle::login_subject(&self.keys.stable_email_hash(email.as_str()))
    }

    /// The device token a login to `email` returns (see [`LoginOutcome::device`]).
    pub(crate) fn device_token_of(&self, email: &Email) -> String {
        self.device_token(&self.login_subject(email))
    }

    /// The device token of a login subject: a keyed hash, so only a client that once logged
    /// in to the address holds it, and nothing needs to be stored.
    fn device_token(&self, subject: &[u8]) -> String {
        use hmac::{Hmac, KeyInit, Mac};
        let key = self.keys.derive_secret("login device token v1");
        let mut mac =
            <Hmac<sha2::Sha256> as KeyInit>::new_from_slice(&key[..]).expect("any key length");
        mac.update(subject);
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&mac.finalize().into_bytes()[..24])
    }

    /// Removes wrong-password counters whose window and block are over (they hold client
    /// addresses, kept no longer than they are needed).
    pub async fn purge_auth_throttle(&self) -> ServiceResult<u64> {
        let mut tx = self.db.begin().await?;
        let n = throttle::purge(&mut tx, self.now(), self.config.login_lockout).await?;
        tx.commit().await?;
        Ok(n)
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
        self.check_password(actor, password_text).await?;
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

    /// Checks the caller's password (re-authentication, password change). Wrong passwords
    /// count per session: a stolen session gets `reauth_max_failures` guesses per
    /// `login_lockout`, then 429, and the owner's other sessions and logins are untouched.
    pub(crate) async fn check_password(
        &self,
        actor: &Actor,
        password_text: &str,
    ) -> ServiceResult<()> {
        let now = self.now();
        let subject = throttle::reauth_subject(&actor.session_id);
        let mut tx = self.db.read().await?;
        let blocked = throttle::blocked_until(&mut tx, &subject, REAUTH_CLIENT, now).await?;
        let acct = accounts::get(&mut tx, actor.account).await?;
        tx.commit().await?;
        if let Some(until) = blocked {
            return Err(rate_limited(until, now));
        }
        let stored = acct.password_hash.unwrap_or_default();
        let pw = password_text.to_string();
        let ok = tokio::task::spawn_blocking(move || password::verify(&pw, &stored))
            .await
            .unwrap_or(false);
        let mut tx = self.db.begin().await?;
        if ok {
            throttle::clear(&mut tx, &subject, REAUTH_CLIENT).await?;
            tx.commit().await?;
            return Ok(());
        }
        throttle::record_failure(
            &mut tx,
            &subject,
            REAUTH_CLIENT,
            now,
            self.config.login_lockout,
            self.config.reauth_max_failures,
            self.config.login_lockout,
        )
        .await?;
        audit::record(
            &mut tx,
            NewAuditEvent::by_member(actor.account, "reauthentication.failed", json!({}), now),
        )
        .await?;
        tx.commit().await?;
        Err(ServiceError::forbidden(
            "wrong_password",
            "the password is not correct",
        ))
    }

    /// The password, if given, must be right; otherwise the session must have re-authenticated
    /// within the window.
    pub(crate) async fn require_reauth(
        &self,
        actor: &Actor,
        password_text: Option<&str>,
    ) -> ServiceResult<()> {
        match password_text {
            Some(p) if !p.is_empty() => self.check_password(actor, p).await,
            _ if self.now() - actor.reauth_at <= self.config.reauth_window => Ok(()),
            _ => Err(ServiceError::ReauthRequired),
        }
    }
}
