//! The daily digest: the mail held for a member who chose one, sent together once a day.

use super::templates::{MailKind, escape, render};
use super::transport::{IdempotencyKey, Mailer};
use crate::Hiatus;
use crate::error::ServiceResult;
use hiatus_domain::{AccountId, AccountState};
use hiatus_store::{accounts, mail};
use lettre::Message;
use lettre::message::{Mailbox, MultiPart};

impl Hiatus {
    /// Sends each member whose held mail is a day old one message with all of it.
    pub(super) async fn send_digests(&self, mailer: &Mailer) -> ServiceResult<usize> {
        let cfg = &self.config.mail;
        let now = self.now();
        let mut tx = self.db.read().await?;
        let due = mail::digests_due(&mut tx, now - hiatus_domain::DAY_MICROS, now, 100).await?;
        tx.commit().await?;
        let mut n = 0;
        for account in due {
            let Ok(id) = account.parse::<AccountId>() else {
                continue;
            };
            let mut tx = self.db.read().await?;
            let held = mail::held(&mut tx, &account).await?;
            let acct = accounts::get(&mut tx, id).await?;
            let contact = if acct.state()? == AccountState::Deleted {
                None
            } else {
                let p = accounts::profile(&mut tx, &self.keys, id).await?;
                let (email, _) = accounts::contact(&mut tx, &self.keys, id).await?;
                Some((p.display_name, email))
            };
            tx.commit().await?;
            let Some(first) = held.first() else { continue };
            let result = match &contact {
                None => Err("the account was erased".to_string()),
                Some((name, email)) => {
                    let mut text = format!(
                        "Hello {name},\n\nWhat happened on hiatus since your last digest:\n"
                    );
                    let mut html = format!(
                        "<!doctype html><html><body style=\"font-family: sans-serif; line-height: 1.5\"><p>Hello {},</p><p>What happened on hiatus since your last digest:</p>",
                        escape(name)
                    );
                    for h in &held {
                        let mut payload: serde_json::Value =
                            serde_json::from_str(&h.payload).unwrap_or(serde_json::Value::Null);
                        if MailKind::of(&h.kind) == Some(MailKind::ClientNotice)
                            && !self.fill_notice(&h.event_id, &mut payload).await?
                        {
                            continue;
                        }
                        if let Some(r) = render(&h.kind, name, &payload, &cfg.public_url) {
                            let body: Vec<&str> = r.text.split("\n\n").skip(1).collect();
                            let body = body[..body.len().saturating_sub(1)].join("\n\n");
                            text.push_str(&format!("\n* {}\n  {}\n", r.subject, body.trim()));
                            html.push_str(&format!(
                                "<h2 style=\"font-size:1.1rem\">{}</h2><p>{}</p>",
                                escape(&r.subject),
                                escape(body.trim())
                            ));
                        }
                    }
                    text.push_str("\n— hiatus\n");
                    html.push_str("<p>— hiatus</p></body></html>\n");
                    let built = cfg
                        .from
                        .parse::<Mailbox>()
                        .map_err(|_| "the configured sender address is not valid".to_string())
                        .and_then(|from| {
                            let to = Mailbox::new(
                                Some(name.clone()),
                                email
                                    .as_str()
                                    .parse()
                                    .map_err(|_| "the stored address is not valid".to_string())?,
                            );
                            Message::builder()
                                .from(from)
                                .to(to)
                                .subject(format!("Your hiatus digest: {} update(s)", held.len()))
                                .message_id(Some(format!(
                                    "<digest.{}.{}@hiatus>",
                                    first.id, account
                                )))
                                .header(IdempotencyKey(format!("digest.{}", first.id)))
                                .multipart(MultiPart::alternative_plain_html(text, html))
                                .map_err(|e| format!("the digest could not be composed: {e}"))
                        });
                    match built {
                        Ok(m) => mailer.send(m).await,
                        Err(e) => Err(e),
                    }
                }
            };
            let status = match &result {
                Ok(()) => "sent",
                Err(_) if contact.is_none() => "skipped",
                // Held mail waits for the next round; the digest is tried again then.
                Err(_) => "digest",
            };
            if status == "digest" {
                tracing::warn!(account = %account, "digest not sent; trying again in 10 minutes");
                let mut tx = self.db.begin().await?;
                mail::postpone_digest(&mut tx, &account, now + 600 * 1_000_000).await?;
                tx.commit().await?;
                continue;
            }
            let mut tx = self.db.begin().await?;
            for h in &held {
                mail::record(
                    &mut tx,
                    &h.id,
                    status,
                    result.as_ref().err().map(String::as_str),
                    self.now(),
                )
                .await?;
            }
            tx.commit().await?;
            n += 1;
        }
        Ok(n)
    }
}
