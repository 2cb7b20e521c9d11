//! The public sign-up, which never tells whether an address has an account.
//!
//! Every sign-up is answered alike. A free address gets a new, *unconfirmed* account and a
//! mail with a confirmation link; a registered one gets a mail saying it already has an
//! account; an address whose account is still unconfirmed gets its sign-up replaced (nobody
//! proved to own the address yet) and a fresh link. An unconfirmed account cannot log in: a
//! login answers exactly like a wrong password. It is confirmed with the link *and* the
//! password chosen at sign-up, so whoever signed up someone else's address never has the link,
//! and the address's owner cannot be led into confirming an account whose password someone
//! else knows. Unconfirmed accounts whose link expired are removed by the worker.

use crate::auth::{LoginOutcome, SignUp};
use crate::error::{ServiceError, ServiceResult};
use crate::{Hiatus, link_token, password};
use hiatus_domain::Visibility;
use hiatus_domain::{AccountId, AccountState, DAY_MICROS, Micros, ProfileSettings, Role};
use hiatus_store::accounts::{self, AccountRow, NewAccount};
use hiatus_store::audit::{self, NewAuditEvent};
use hiatus_store::{StoreError, signup_confirmations as pending};
use serde_json::json;

/// How long a confirmation link works; an account not confirmed by then is removed.
pub const SIGNUP_LINK_TTL: Micros = 2 * DAY_MICROS;

/// The event whose mail carries the confirmation link.
pub const EVENT_CONFIRM: &str = "account.confirmation_requested";

/// The one answer to every confirmation that fails, whatever failed: the link (unknown, used,
/// expired, replaced by a newer sign-up) or the password.
fn not_confirmed() -> ServiceError {
    ServiceError::invalid(
        "confirmation_failed",
        "this link and password do not confirm an account: the password must be the one chosen at sign-up, and the link works once, for 48 hours, and only from the latest sign-up mail; sign up again to get a new link",
    )
}

/// How a sign-up leaves the address (for the log, never for the answer).
enum Outcome {
    Created(AccountId),
    Replaced(AccountId),
    Registered,
}

impl Hiatus {
    /// Sign-up as the public sees it: the answer is the same whether the address is free,
    /// registered or waiting for confirmation, and the password is hashed in every case, so
    /// sign-up cannot be used to learn who has an account. See the module documentation.
    pub async fn register(&self, s: SignUp) -> ServiceResult<()> {
        let (email, hash) = self.prepare_sign_up(&s).await?;
        // A confirmation, a removal or a sign-up of the same address may run at the same
        // time; the loser of such a race finds the address changed and looks again, once.
        for _ in 0..2 {
            let now = self.now();
            let signup_id = link_token::new();
            let new = NewAccount {
                id: AccountId::new(),
                kind: s.kind,
                role: Role::Member,
                email: email.clone(),
                legal_name: s.legal_name.clone(),
                display_name: s.display_name.clone(),
                headline: s.headline.clone(),
                bio: s.bio.clone(),
                password_hash: hash.clone(),
                // Private until confirmed: nobody can find or reach an account that may not
                // be its address's owner's.
                settings: ProfileSettings {
                    visibility: Visibility::Private,
                    ..ProfileSettings::default()
                },
                hourly_rate_minor: None,
                now,
            };
            let mut tx = self.db.begin().await?;
            let found = accounts::find_by_email(&mut tx, &self.keys, &email).await?;
            let outcome = match found {
                None => match accounts::insert(&mut tx, &self.keys, &new).await {
                    Ok(()) => Outcome::Created(new.id),
                    // Someone else's sign-up of the address got there first.
                    Err(StoreError::Conflict(_)) => {
                        tx.rollback().await?;
                        continue;
                    }
                    Err(e) => return Err(e.into()),
                },
                Some(acct) => {
                    let id = acct.account_id()?;
                    if pending::renew(&mut tx, id, &signup_id, now, now + SIGNUP_LINK_TTL).await? {
                        accounts::replace_signup(&mut tx, &self.keys, &NewAccount { id, ..new })
                            .await?;
                        Outcome::Replaced(id)
                    } else {
                        if acct.state()? != AccountState::Deleted {
                            audit::outbox(
                                &mut tx,
                                "account.signup_repeated",
                                Some(id),
                                json!({}),
                                now,
                            )
                            .await?;
                        }
                        Outcome::Registered
                    }
                }
            };
            let id = match outcome {
                Outcome::Created(id) => {
                    pending::create(&mut tx, id, &signup_id, now, now + SIGNUP_LINK_TTL).await?;
                    audit::record(
                        &mut tx,
                        NewAuditEvent::by_member(
                            id,
                            "account.created",
                            json!({"kind": s.kind.as_str(), "role": "member", "confirmed": false}),
                            now,
                        ),
                    )
                    .await?;
                    Some(id)
                }
                Outcome::Replaced(id) => {
                    audit::record(
                        &mut tx,
                        NewAuditEvent::by_member(
                            id,
                            "account.signup_replaced",
                            json!({"kind": s.kind.as_str()}),
                            now,
                        ),
                    )
                    .await?;
                    Some(id)
                }
                Outcome::Registered => None,
            };
            if let Some(id) = id {
                audit::outbox(
                    &mut tx,
                    EVENT_CONFIRM,
                    Some(id),
                    json!({"account_id": id, "signup_id": signup_id}),
                    now,
                )
                .await?;
                tracing::info!(account = %id, "sign-up waits for confirmation");
            }
            tx.commit().await?;
            return Ok(());
        }
        Err(ServiceError::conflict(
            "signup_busy",
            "this sign-up met another change of the same address; please send it again",
        ))
    }

    /// Whether an account found for a login still waits for its address to be confirmed.
    /// Asks the database whether or not there is an account, so both take the same time.
    pub(crate) async fn awaits_confirmation(
        &self,
        found: Option<&AccountRow>,
    ) -> ServiceResult<bool> {
        let id = found.map(|a| a.id.as_str()).unwrap_or_default();
        let mut tx = self.db.read().await?;
        let waits = pending::is_pending(&mut tx, id).await?;
        tx.commit().await?;
        Ok(waits)
    }

    /// Mints the confirmation link of the sign-up `signup_id` for its mail: the token and
    /// until when it works. `None` when that sign-up is no longer the account's latest, the
    /// account is confirmed already, or its time is over: then there is nothing to mail.
    /// Only the latest link minted works.
    pub(crate) async fn mint_signup_link(
        &self,
        account: AccountId,
        signup_id: &str,
    ) -> ServiceResult<Option<(String, Micros)>> {
        let token = link_token::new();
        let mut tx = self.db.begin().await?;
        let until =
            pending::set_token(&mut tx, account, Some(signup_id), &token, self.now()).await?;
        tx.commit().await?;
        Ok(until.map(|u| (token, u)))
    }

    /// Whether a confirmation link can still be used (its page), and until when. A link of
    /// our shape that cannot is `confirmation_failed`, whatever the reason; anything else
    /// names nothing of ours (404).
    pub async fn signup_link_info(&self, token: &str) -> ServiceResult<Micros> {
        link_token::check(token, "confirmation link")?;
        let mut tx = self.db.read().await?;
        let row = pending::find(&mut tx, token, self.now()).await?;
        tx.commit().await?;
        row.map(|r| r.expires_at).ok_or_else(not_confirmed)
    }

    /// Confirms a new account's address with the mailed link and the password chosen at
    /// sign-up, and logs it in: the link works once. A wrong password, or a link that is
    /// unknown, used, expired or replaced, gets the same answer after the same work.
    pub async fn confirm_signup(
        &self,
        token: &str,
        password_text: &str,
    ) -> ServiceResult<LoginOutcome> {
        let now = self.now();
        let found = if link_token::check(token, "confirmation link").is_ok() {
            let mut tx = self.db.read().await?;
            let row = pending::find(&mut tx, token, now).await?;
            let acct = match row.and_then(|r| r.account_id.parse::<AccountId>().ok()) {
                Some(id) => Some(accounts::get(&mut tx, id).await?),
                None => None,
            };
            tx.commit().await?;
            acct
        } else {
            None
        };
        let stored = match &found {
            Some(a) => a.password_hash.clone().unwrap_or_default(),
            None => self.dummy_hash.to_string(),
        };
        let pw = password_text.to_string();
        let verified = tokio::task::spawn_blocking(move || password::verify(&pw, &stored))
            .await
            .unwrap_or(false);
        let Some(acct) = found.filter(|_| verified) else {
            return Err(not_confirmed());
        };
        let id = acct.account_id()?;
        let state = acct.state()?;
        let mut tx = self.db.begin().await?;
        let (email, _) = accounts::contact(&mut tx, &self.keys, id).await?;
        // Deleting the row is the use: a second confirmation (or a new sign-up or removal
        // that got there first) finds nothing.
        if !pending::confirm(&mut tx, &id.to_text(), token, now).await? {
            return Err(not_confirmed());
        }
        accounts::update_settings(&mut tx, id, &ProfileSettings::default(), false, false, now)
            .await?;
        audit::record(
            &mut tx,
            NewAuditEvent::by_member(id, "account.confirmed", json!({}), now),
        )
        .await?;
        let out = self
            .open_session(tx, id, state, self.device_token_of(&email))
            .await?;
        tracing::info!(account = %id, "address confirmed");
        Ok(out)
    }

    /// Removes unconfirmed accounts whose link expired, with everything they have (nobody
    /// ever proved to own them), up to 500 per call. Returns how many went.
    pub async fn purge_unconfirmed(&self) -> ServiceResult<u64> {
        let now = self.now();
        let mut tx = self.db.read().await?;
        let due = pending::expired(&mut tx, now, 500).await?;
        tx.commit().await?;
        let mut n = 0;
        for id in due {
            let removed: ServiceResult<bool> = async {
                let mut tx = self.db.begin().await?;
                let removed = pending::remove_expired(&mut tx, id, now).await?;
                tx.commit().await?;
                Ok(removed)
            }
            .await;
            match removed {
                Ok(true) => {
                    n += 1;
                    tracing::info!(account = %id, "removed an account that was never confirmed");
                }
                Ok(false) => {}
                // One that cannot go (something refers to it) does not hold up the others.
                Err(e) => {
                    tracing::warn!(account = %id, error = %e, "could not remove an unconfirmed account")
                }
            }
        }
        Ok(n)
    }
}
