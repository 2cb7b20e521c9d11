//! Sending the queued mail: each message composed at sending time from the member's sealed
//! contact details and what is minted for it alone, then sent and its outcome recorded.

use super::templates::{MailKind, Rendered, render};
use super::transport::{IdempotencyKey, Mailer};
use crate::Hiatus;
use crate::error::{ServiceError, ServiceResult};
use hiatus_domain::{AccountId, AccountState, NotificationMode};
use hiatus_store::mail::{self, MailDelivery};
use hiatus_store::{StoreError, accounts};
use lettre::Message;
use lettre::message::{Mailbox, MultiPart};

impl Hiatus {
    /// Whether mail goes anywhere.
    pub fn mail_enabled(&self) -> bool {
        self.mailer.is_some()
    }

    /// Sends every due mail once; returns how many were handled.
    pub(crate) async fn send_due_mail(&self) -> ServiceResult<usize> {
        let Some(mailer) = self.mailer.clone() else {
            return Ok(0);
        };
        let mut tx = self.db.read().await?;
        let due = mail::due(&mut tx, self.now(), 100).await?;
        tx.commit().await?;
        let mut n = 0;
        for d in due {
            if self.send_one(&mailer, &d).await? {
                n += 1;
            }
        }
        n += self.send_digests(&mailer).await?;
        Ok(n)
    }

    async fn send_one(&self, mailer: &Mailer, d: &MailDelivery) -> ServiceResult<bool> {
        let cfg = &self.config.mail;
        let now = self.now();
        let attempt = d.attempts + 1;
        let mut tx = self.db.begin().await?;
        let retry_at = now + crate::webhooks::backoff(&self.config.webhooks, attempt);
        if !mail::claim(&mut tx, &d.id, now, retry_at).await? {
            return Ok(false);
        }
        tx.commit().await?;
        let outcome = self.compose(d).await;
        let (status, error) = match outcome {
            Ok(Composed::Skip(why)) => ("skipped", Some(why)),
            Ok(Composed::Hold) => ("digest", None),
            Ok(Composed::Message(m)) => match mailer.send(*m).await {
                Ok(()) => ("sent", None),
                Err(e) if attempt >= cfg.max_attempts => ("dead", Some(e)),
                Err(e) => ("pending", Some(e)),
            },
            Err(e) => {
                tracing::warn!(mail = %d.id, error = %e, "could not compose a mail");
                if attempt >= cfg.max_attempts {
                    (
                        "dead",
                        Some("the message could not be composed".to_string()),
                    )
                } else {
                    (
                        "pending",
                        Some("the message could not be composed".to_string()),
                    )
                }
            }
        };
        if status == "pending" || status == "dead" {
            tracing::warn!(mail = %d.id, kind = %d.kind, attempt, status, "mail not sent");
        }
        let mut tx = self.db.begin().await?;
        mail::record(&mut tx, &d.id, status, error.as_deref(), self.now()).await?;
        if MailKind::of(&d.kind) == Some(MailKind::AccountErased)
            && status != "pending"
            && let Ok(account) = d.account_id.parse::<AccountId>()
        {
            hiatus_store::erasures::clear_notify(&mut tx, account).await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    async fn compose(&self, d: &MailDelivery) -> ServiceResult<Composed> {
        let cfg = &self.config.mail;
        let account: AccountId = d
            .account_id
            .parse()
            .map_err(|_| ServiceError::Internal(StoreError::Corrupt("mail account id".into())))?;
        let kind = MailKind::of(&d.kind);
        if kind == Some(MailKind::AccountErased) {
            return self.compose_erased(d, account).await;
        }
        let mut tx = self.db.read().await?;
        let acct = accounts::get(&mut tx, account).await?;
        if acct.state()? == AccountState::Deleted {
            tx.commit().await?;
            return Ok(Composed::Skip("the account was erased".into()));
        }
        let profile = accounts::profile(&mut tx, &self.keys, account).await?;
        if !d.essential && profile.settings.notifications == NotificationMode::Muted {
            tx.commit().await?;
            return Ok(Composed::Skip("notifications are muted".into()));
        }
        if !d.essential && profile.settings.notifications == NotificationMode::Digest {
            tx.commit().await?;
            return Ok(Composed::Hold);
        }
        let (email, _) = accounts::contact(&mut tx, &self.keys, account).await?;
        tx.commit().await?;
        let mut payload: serde_json::Value =
            serde_json::from_str(&d.payload).unwrap_or(serde_json::Value::Null);
        if kind == Some(MailKind::ClientNotice)
            && !self.fill_notice(&d.event_id, &mut payload).await?
        {
            return Ok(Composed::Skip(
                "the sender was erased, or the message is gone".into(),
            ));
        }
        // Deletion mail carries a one-click cancel link, minted for this message (single use,
        // valid until the deletion is due) and never stored in the event.
        if matches!(
            kind,
            Some(MailKind::DeletionScheduled | MailKind::DeletionReminder)
        ) && acct.state()? == AccountState::DeletionScheduled
            && let Some(due) = acct.deletion_due_at
        {
            let token = self.mint_cancel_link(account, due).await?;
            payload["cancel_url"] = serde_json::Value::String(format!(
                "{}/cancel-deletion/{token}",
                cfg.public_url.trim_end_matches('/')
            ));
        }
        // The confirmation mail of a sign-up carries a link minted for this message; none
        // once the address is confirmed, or a newer sign-up of it replaced this one. The name
        // is whatever the sign-up typed, perhaps not the address owner's: it is left out.
        if kind == Some(MailKind::SignupConfirm) {
            let signup = payload["signup_id"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            let Some((token, until)) = self.mint_signup_link(account, &signup).await? else {
                return Ok(Composed::Skip(
                    "the address is confirmed, or a newer sign-up replaced this one".into(),
                ));
            };
            payload["confirm_url"] = serde_json::Value::String(format!(
                "{}/signup/confirm/{token}",
                cfg.public_url.trim_end_matches('/')
            ));
            payload["confirm_until"] = serde_json::Value::from(until);
            let Some(r) = render(&d.kind, "", &payload, &cfg.public_url) else {
                return Ok(Composed::Skip(format!("no template for {}", d.kind)));
            };
            return self.message(d, None, email.as_str(), r);
        }
        // Restoration mail carries what is minted for this message alone: the one-time code,
        // the password-reset link; a denial, the agent's note. None of it is in the event.
        let request = payload["request_id"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        match kind {
            Some(MailKind::RestorationRequested) => {
                match self.mint_restoration_code(&request).await? {
                    Some(code) => payload["code"] = serde_json::Value::String(code),
                    None => {
                        return Ok(Composed::Skip(
                            "the request no longer waits for a code".into(),
                        ));
                    }
                }
            }
            Some(MailKind::RestorationApproved) => {
                let (token, until) = self.mint_password_reset(account, &request).await?;
                payload["reset_url"] = serde_json::Value::String(format!(
                    "{}/reset-password/{token}",
                    cfg.public_url.trim_end_matches('/')
                ));
                payload["reset_until"] = serde_json::Value::from(until);
            }
            Some(MailKind::RestorationDenied) => {
                if let Some(note) = self.restoration_note(&request).await? {
                    payload["note"] = serde_json::Value::String(note);
                }
            }
            _ => {}
        }
        let Some(r) = render(&d.kind, &profile.display_name, &payload, &cfg.public_url) else {
            return Ok(Composed::Skip(format!("no template for {}", d.kind)));
        };
        self.message(d, Some(profile.display_name.clone()), email.as_str(), r)
    }

    /// Fills a notice mail's sender name and message from where they are kept: the sender's
    /// sealed profile and the message posted in the shared thread (its id is the mail's event
    /// id). False when either is gone: the sender was erased.
    pub(super) async fn fill_notice(
        &self,
        event_id: &str,
        payload: &mut serde_json::Value,
    ) -> ServiceResult<bool> {
        let Some(sender) = payload["from_account"]
            .as_str()
            .and_then(|s| s.parse::<AccountId>().ok())
        else {
            return Ok(false);
        };
        let mut tx = self.db.read().await?;
        let body = hiatus_store::notices::message_body(&mut tx, event_id).await?;
        let name = accounts::profile(&mut tx, &self.keys, sender)
            .await
            .ok()
            .map(|p| p.display_name);
        tx.commit().await?;
        let (Some(body), Some(name)) = (body, name) else {
            return Ok(false);
        };
        payload["from_name"] = serde_json::Value::String(name);
        payload["message"] = serde_json::Value::String(body);
        Ok(true)
    }

    /// The last mail to an erased member, to the address kept sealed for it since erasure
    /// began, with the receipt's summary; the address is forgotten once the mail is handled.
    async fn compose_erased(
        &self,
        d: &MailDelivery,
        account: AccountId,
    ) -> ServiceResult<Composed> {
        let cfg = &self.config.mail;
        let mut tx = self.db.read().await?;
        let sealed = hiatus_store::erasures::notify(&mut tx, account).await?;
        let receipt = hiatus_store::erasures::get(&mut tx, account)
            .await?
            .and_then(|r| r.receipt);
        tx.commit().await?;
        let Some(sealed) = sealed else {
            return Ok(Composed::Skip("no address kept for this mail".into()));
        };
        let email = crate::erasure::open_notice(&self.keys, account, &sealed)?;
        let mut payload: serde_json::Value = receipt
            .and_then(|r| serde_json::from_str(&r).ok())
            .unwrap_or(serde_json::Value::Null);
        if payload.is_null() {
            payload = serde_json::json!({});
        }
        let Some(r) = render(&d.kind, "", &payload, &cfg.public_url) else {
            return Ok(Composed::Skip(format!("no template for {}", d.kind)));
        };
        self.message(d, None, &email, r)
    }

    fn message(
        &self,
        d: &MailDelivery,
        name: Option<String>,
        email: &str,
        r: Rendered,
    ) -> ServiceResult<Composed> {
        let cfg = &self.config.mail;
        let from: Mailbox = cfg.from.parse().map_err(|_| {
            ServiceError::invalid(
                "mail_from_invalid",
                "the configured sender address is not valid",
            )
        })?;
        let to = Mailbox::new(
            name,
            email
                .parse()
                .map_err(|_| ServiceError::Internal(StoreError::Corrupt("stored email".into())))?,
        );
        let m = Message::builder()
            .from(from)
            .to(to)
            .subject(r.subject)
            .message_id(Some(format!("<{}.{}@hiatus>", d.event_id, d.account_id)))
            .header(IdempotencyKey(d.event_id.clone()))
            .multipart(MultiPart::alternative_plain_html(r.text, r.html))
            .map_err(|e| ServiceError::Internal(StoreError::Corrupt(format!("mail: {e}"))))?;
        Ok(Composed::Message(Box::new(m)))
    }
}

enum Composed {
    Skip(String),
    /// Held for the member's daily digest.
    Hold,
    Message(Box<Message>),
}
