//! Email about lifecycle events to the member they concern: SMTP (lettre) configured by URL,
//! or `.eml` files in a folder (the demo's default). Every lifecycle event that has a template
//! gets one queued mail per member in the transaction that dispatches the event; the sender
//! delivers it at least once, with a `Message-ID` and an `X-Hiatus-Idempotency-Key` derived
//! from the event, so a retry never shows twice to a person whose mail system deduplicates.
//! Essential mail (security, deletion, data requests) is always sent; the rest is skipped for
//! a member who muted notifications. Addresses are read from the sealed contact details at
//! sending time and never logged.

use crate::Hiatus;
use crate::clock::format_date;
use crate::error::{ServiceError, ServiceResult};
use hiatus_domain::{AccountId, AccountState, NotificationMode};
use hiatus_store::mail::{self, MailDelivery};
use hiatus_store::{StoreError, accounts};
use lettre::message::header::{Header, HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart};
use lettre::{AsyncTransport, Message, Tokio1Executor};
use std::path::PathBuf;

/// How mail leaves hiatus.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MailTransport {
    /// No mail at all (libraries and tests that do not look at mail).
    Disabled,
    /// Each message as an `.eml` file in this folder.
    Files(PathBuf),
    /// An SMTP server.
    Smtp {
        host: String,
        port: u16,
        security: SmtpSecurity,
        user: Option<String>,
        password: Option<String>,
    },
}

/// How the SMTP connection is protected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SmtpSecurity {
    /// Plain text: only for a relay on loopback or a trusted network (`smtp://`).
    None,
    /// STARTTLS, required (`smtp+starttls://`, port 587 by default).
    StartTls,
    /// TLS from the first byte (`smtps://`, port 465 by default).
    Tls,
}

impl MailTransport {
    /// Parses `smtp://[user:password@]host[:port]`, `smtp+starttls://…`, `smtps://…`,
    /// `file:///folder` or `none`.
    pub fn parse(url: &str) -> Result<Self, String> {
        if url == "none" {
            return Ok(Self::Disabled);
        }
        if let Some(path) = url.strip_prefix("file://") {
            if path.is_empty() {
                return Err("file:// needs a folder, e.g. file:///var/lib/hiatus/mail".into());
            }
            return Ok(Self::Files(PathBuf::from(path)));
        }
        let (security, rest, default_port) = if let Some(r) = url.strip_prefix("smtp://") {
            (SmtpSecurity::None, r, 25)
        } else if let Some(r) = url.strip_prefix("smtp+starttls://") {
            (SmtpSecurity::StartTls, r, 587)
        } else if let Some(r) = url.strip_prefix("smtps://") {
            (SmtpSecurity::Tls, r, 465)
        } else {
            return Err(
                "the mail URL starts with smtp://, smtp+starttls://, smtps://, file:// or is none"
                    .into(),
            );
        };
        let rest = rest.trim_end_matches('/');
        let (creds, hostport) = match rest.rsplit_once('@') {
            Some((c, h)) => (Some(c), h),
            None => (None, rest),
        };
        let (user, password) = match creds {
            Some(c) => match c.split_once(':') {
                Some((u, p)) => (Some(u.to_string()), Some(p.to_string())),
                None => (Some(c.to_string()), None),
            },
            None => (None, None),
        };
        let (host, port) = match hostport.rsplit_once(':') {
            Some((h, p)) => (
                h.to_string(),
                p.parse()
                    .map_err(|_| format!("{p:?} is not a port number"))?,
            ),
            None => (hostport.to_string(), default_port),
        };
        if host.is_empty() {
            return Err("the mail URL names no host".into());
        }
        Ok(Self::Smtp {
            host,
            port,
            security,
            user,
            password,
        })
    }
}

/// Whether `s` is a sender address lettre accepts (`Name <address>` or `address`).
pub fn valid_sender(s: &str) -> bool {
    s.parse::<Mailbox>().is_ok()
}

/// Mail settings.
#[derive(Clone, Debug)]
pub struct MailConfig {
    pub transport: MailTransport,
    /// The sender, e.g. `hiatus <no-reply@example.com>`.
    pub from: String,
    /// Where members reach hiatus, for the links in the mail.
    pub public_url: String,
    /// Attempts before a message is given up.
    pub max_attempts: i64,
}

impl Default for MailConfig {
    fn default() -> Self {
        Self {
            transport: MailTransport::Disabled,
            from: "hiatus <no-reply@localhost>".into(),
            public_url: "http://127.0.0.1:8080".into(),
            max_attempts: 8,
        }
    }
}

/// The built transport.
#[derive(Clone)]
pub(crate) enum Mailer {
    Smtp(lettre::AsyncSmtpTransport<Tokio1Executor>),
    Files(lettre::AsyncFileTransport<Tokio1Executor>),
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Mailer::Smtp(_) => "Mailer::Smtp",
            Mailer::Files(_) => "Mailer::Files",
        })
    }
}

impl Mailer {
    /// Builds the transport; `None` when mail is disabled or cannot be set up (logged).
    pub(crate) fn build(t: &MailTransport) -> Option<Mailer> {
        match t {
            MailTransport::Disabled => None,
            MailTransport::Files(dir) => {
                if let Err(e) = std::fs::create_dir_all(dir) {
                    tracing::error!(error = %e, "cannot create the mail folder; no mail will be written");
                    return None;
                }
                Some(Mailer::Files(lettre::AsyncFileTransport::new(dir)))
            }
            MailTransport::Smtp {
                host,
                port,
                security,
                user,
                password,
            } => {
                use lettre::AsyncSmtpTransport as T;
                let builder = match security {
                    SmtpSecurity::None => Ok(T::<Tokio1Executor>::builder_dangerous(host)),
                    SmtpSecurity::StartTls => T::<Tokio1Executor>::starttls_relay(host),
                    SmtpSecurity::Tls => T::<Tokio1Executor>::relay(host),
                };
                let mut b = match builder {
                    Ok(b) => b.port(*port),
                    Err(e) => {
                        tracing::error!(error = %e, "cannot set up SMTP; no mail will be sent");
                        return None;
                    }
                };
                if let Some(u) = user {
                    b = b.credentials(lettre::transport::smtp::authentication::Credentials::new(
                        u.clone(),
                        password.clone().unwrap_or_default(),
                    ));
                }
                Some(Mailer::Smtp(
                    b.timeout(Some(std::time::Duration::from_secs(20))).build(),
                ))
            }
        }
    }

    async fn send(&self, m: Message) -> Result<(), String> {
        match self {
            Mailer::Smtp(t) => t.send(m).await.map(|_| ()).map_err(|e| {
                if e.is_permanent() {
                    "the mail server refused the message".to_string()
                } else {
                    "the mail server could not be reached or failed".to_string()
                }
            }),
            Mailer::Files(t) => t
                .send(m)
                .await
                .map(|_| ())
                .map_err(|_| "the message could not be written to the mail folder".to_string()),
        }
    }
}

/// The idempotency key header: the event's id, the same on every attempt.
#[derive(Clone, Debug)]
struct IdempotencyKey(String);

impl Header for IdempotencyKey {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("X-Hiatus-Idempotency-Key")
    }
    fn parse(s: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(Self(s.to_string()))
    }
    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), self.0.clone())
    }
}

/// The events that are mailed to the member, and whether each is essential (sent even when
/// notifications are muted).
pub const MAILED: [(&str, bool); 19] = [
    ("account.deactivated", true),
    ("account.reactivated", true),
    ("account.deletion_scheduled", true),
    ("account.deletion_cancelled", true),
    ("account.deletion_reminder", true),
    ("break.started", false),
    ("break.ended", false),
    ("break.ending", false),
    ("export.expiring", true),
    ("export.ready", true),
    ("export.failed", true),
    ("export.expired", false),
    ("restoration.requested", true),
    ("restoration.approved", true),
    ("restoration.denied", true),
    ("account.password_changed", true),
    ("account.erased", true),
    ("account.signup_repeated", true),
    (crate::signup::EVENT_CONFIRM, true),
];

/// A rendered message.
#[derive(Debug, PartialEq, Eq)]
pub struct Rendered {
    pub subject: String,
    pub text: String,
    pub html: String,
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// Renders the template of `kind` for a member called `name`. The paragraphs are written once
/// and become both the plain-text and the HTML body.
pub fn render(
    kind: &str,
    name: &str,
    payload: &serde_json::Value,
    public_url: &str,
) -> Option<Rendered> {
    let date = |field: &str| payload[field].as_i64().map(format_date);
    let url = public_url.trim_end_matches('/');
    let (subject, paragraphs): (String, Vec<String>) = match kind {
        "account.deactivated" => (
            "Your account is deactivated".into(),
            vec![
                "Your hiatus account was deactivated. Your profile is hidden and nobody can send you proposals; your messages, contracts and invoices are kept.".into(),
                format!("To come back, log in at {url} and choose Reactivate."),
                "If you did not do this, log in and reactivate now, then change your password.".into(),
            ],
        ),
        "account.reactivated" => (
            "Your account is active again".into(),
            vec![
                "Your hiatus account was reactivated, with the visibility and availability you had before.".into(),
                "If you did not do this, change your password and sign out of your other sessions.".into(),
            ],
        ),
        "account.deletion_scheduled" | "account.deletion_reminder" => {
            let due = date("due_at").unwrap_or_else(|| "the end of the grace period".into());
            let cancel = match payload["cancel_url"].as_str() {
                Some(link) => format!("Changed your mind? Cancel the deletion before {due} with this link (it works once): {link} — or log in at {url} and choose Cancel deletion. Everything stays as it was."),
                None => format!("Changed your mind? Log in at {url} before {due} and choose Cancel deletion: everything stays as it was."),
            };
            if kind == "account.deletion_reminder" {
                let left = match payload["days_left"].as_i64() {
                    Some(1) => "tomorrow".to_string(),
                    Some(d) => format!("in {d} days"),
                    None => "soon".to_string(),
                };
                (
                    format!("Your account will be erased {left}"),
                    vec![
                        format!("A reminder: your hiatus account will be erased for good on {due}, as you asked."),
                        cancel,
                    ],
                )
            } else {
                (
                    format!("Your account will be deleted on {due}"),
                    vec![
                        format!("You asked for your hiatus account to be deleted. It is hidden now, and on {due} it will be erased for good."),
                        cancel,
                        "The people you worked with keep their contracts, messages, delivered work and invoices, under a pseudonym instead of your name.".into(),
                    ],
                )
            }
        }
        "account.deletion_cancelled" => (
            "Your account will not be deleted".into(),
            vec!["The deletion of your hiatus account was cancelled. Your account is active again, with everything as it was.".into()],
        ),
        "break.started" => {
            let until = date("until");
            (
                "Your break has started".into(),
                vec![match until {
                    Some(d) => format!("Your availability is paused until {d}; it comes back by itself on that day."),
                    None => "Your availability is paused until you end the break.".into(),
                }],
            )
        }
        "break.ending" => (
            "Your break ends tomorrow".into(),
            vec![format!(
                "Your break ends on {}: your availability comes back as it was. To stay away longer, log in at {url} and change the end date.",
                date("until").unwrap_or_else(|| "its end date".into())
            )],
        ),
        "export.expiring" => (
            "Your data export will be removed tomorrow".into(),
            vec![format!(
                "You have not downloaded the archive of your data yet. It will be removed on {}; log in at {url} to download it before then.",
                date("expires_at").unwrap_or_else(|| "tomorrow".into())
            )],
        ),
        "break.ended" => (
            "Your break has ended".into(),
            vec!["Your break has ended: your profile and availability are as they were before it.".into()],
        ),
        "export.ready" => (
            "Your data export is ready".into(),
            vec![
                "The archive of your data you asked for is ready to download.".into(),
                format!("Log in at {url} to download it; the link in the app works only for you, for a few minutes at a time."),
            ],
        ),
        "export.failed" => (
            "Your data export could not be built".into(),
            vec![format!("We could not build the archive of your data after several attempts. Please request a new one at {url}.")],
        ),
        "export.expired" => (
            "Your data export was removed".into(),
            vec![format!("The archive of your data was removed at the end of its retention. You can request a new one at {url} at any time.")],
        ),
        "account.signup_repeated" => (
            "You already have a hiatus account".into(),
            vec![
                "Someone — perhaps you — tried to create a new hiatus account with this address. You already have one, so nothing was created.".into(),
                format!("Log in at {url} with your password. If you lost it, ask for a restoration on the login page."),
                "If it was not you, you can ignore this message: your account was not changed.".into(),
            ],
        ),
        crate::signup::EVENT_CONFIRM => {
            let until = date("confirm_until").unwrap_or_else(|| "two days from the sign-up".into());
            (
                "Confirm your address to start using hiatus".into(),
                vec![
                    "Someone — we hope you — signed up for a hiatus account with this address.".into(),
                    format!(
                        "To confirm the address, open this link and enter the password chosen when signing up; you are then logged in. The link works once, until {until}: {}",
                        payload["confirm_url"].as_str().unwrap_or(url)
                    ),
                    "The account cannot be used until then. If you did not sign up, ignore this message: nothing is done with this address without the link, and the account is removed when the link expires.".into(),
                ],
            )
        }
        "restoration.requested" => (
            "Your code to restore your hiatus account".into(),
            vec![
                "Someone — we hope you — asked our support team to restore access to your hiatus account.".into(),
                format!(
                    "If it was you, enter this code on the page of your request: {}. It works for 30 minutes; if you asked more than once, only the latest code works.",
                    payload["code"].as_str().unwrap_or("(no code)")
                ),
                "If it was not you, ignore this message: nothing changes without this code and a support agent's approval.".into(),
            ],
        ),
        "restoration.approved" => (
            "Choose a new password for hiatus".into(),
            vec![
                "Our support team approved your request to restore your hiatus account.".into(),
                format!(
                    "Choose a new password with this link (it works once, until {}): {}",
                    date("reset_until").unwrap_or_else(|| "tomorrow".into()),
                    payload["reset_url"].as_str().unwrap_or(url)
                ),
                "Every session of your account is signed out when the new password is set.".into(),
            ],
        ),
        "restoration.denied" => {
            let mut p = vec!["Our support team could not restore your hiatus account from this request.".into()];
            if let Some(note) = payload["note"].as_str().filter(|n| !n.is_empty()) {
                p.push(format!("The agent's note: {note}"));
            }
            p.push(format!("You can make a new request at {url}."));
            ("Your request to restore your account".into(), p)
        }
        "account.password_changed" => (
            "Your hiatus password was changed".into(),
            vec![
                "The password of your hiatus account was changed with a reset link, and every session was signed out.".into(),
                "If you did not do this, contact support at once.".into(),
            ],
        ),
        "account.erased" => {
            let mut p = vec![format!(
                "Your hiatus account was erased for good on {}, as you asked. It cannot be restored.",
                date("erased_at").unwrap_or_else(|| "today".into())
            )];
            if let Some(lines) = payload["summary"].as_array() {
                p.extend(lines.iter().filter_map(|l| l.as_str()).map(str::to_string));
            }
            p.push("This is the last message to this address: erasure removed it, and it is forgotten once this message is sent.".into());
            ("Your hiatus account was erased".into(), p)
        }
        "client.notice" => {
            // `from_name` and `message` are filled in when the mail is sent (see
            // `Hiatus::fill_notice`), never stored in the queue.
            let from = payload["from_name"].as_str().unwrap_or("A freelancer you worked with");
            let mut p = vec![
                format!("{from} sent you a message on hiatus:"),
                payload["message"].as_str().unwrap_or_default().to_string(),
            ];
            p.push(format!("Reply in your thread with {from} at {url}."));
            (format!("A message from {from}"), p)
        }
        _ => return None,
    };
    let greeting = if name.is_empty() {
        "Hello,".to_string()
    } else {
        format!("Hello {name},")
    };
    let sign = "— hiatus";
    let text = std::iter::once(greeting.clone())
        .chain(paragraphs.iter().cloned())
        .chain(std::iter::once(sign.to_string()))
        .collect::<Vec<_>>()
        .join("\n\n")
        + "\n";
    let html = format!(
        "<!doctype html><html><body style=\"font-family: sans-serif; line-height: 1.5\">{}</body></html>\n",
        std::iter::once(&greeting)
            .chain(paragraphs.iter())
            .chain(std::iter::once(&sign.to_string()))
            .map(|p| format!("<p>{}</p>", escape(p)))
            .collect::<String>()
    );
    Some(Rendered {
        subject,
        text,
        html,
    })
}

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

    /// Sends each member whose held mail is a day old one message with all of it.
    async fn send_digests(&self, mailer: &Mailer) -> ServiceResult<usize> {
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
                        if h.kind == "client.notice"
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
        if d.kind == "account.erased"
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
        if d.kind == "account.erased" {
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
        if d.kind == "client.notice" && !self.fill_notice(&d.event_id, &mut payload).await? {
            return Ok(Composed::Skip(
                "the sender was erased, or the message is gone".into(),
            ));
        }
        // Deletion mail carries a one-click cancel link, minted for this message (single use,
        // valid until the deletion is due) and never stored in the event.
        if matches!(
            d.kind.as_str(),
            "account.deletion_scheduled" | "account.deletion_reminder"
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
        if d.kind == crate::signup::EVENT_CONFIRM {
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
        match d.kind.as_str() {
            "restoration.requested" => match self.mint_restoration_code(&request).await? {
                Some(code) => payload["code"] = serde_json::Value::String(code),
                None => {
                    return Ok(Composed::Skip(
                        "the request no longer waits for a code".into(),
                    ));
                }
            },
            "restoration.approved" => {
                let (token, until) = self.mint_password_reset(account, &request).await?;
                payload["reset_url"] = serde_json::Value::String(format!(
                    "{}/reset-password/{token}",
                    cfg.public_url.trim_end_matches('/')
                ));
                payload["reset_until"] = serde_json::Value::from(until);
            }
            "restoration.denied" => {
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
    async fn fill_notice(
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

/// When a member last received each kind of mail (for support and tests).
pub async fn mail_of(
    h: &Hiatus,
    account: AccountId,
    limit: i64,
) -> ServiceResult<Vec<MailDelivery>> {
    let mut tx = h.db.read().await?;
    let rows = mail::of_account(&mut tx, &account.to_text(), limit).await?;
    tx.commit().await?;
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mail_urls_parse() {
        assert_eq!(
            MailTransport::parse("smtp://127.0.0.1:2525").unwrap(),
            MailTransport::Smtp {
                host: "127.0.0.1".into(),
                port: 2525,
                security: SmtpSecurity::None,
                user: None,
                password: None
            }
        );
        assert_eq!(
            MailTransport::parse("smtps://me:s3cret@mail.example.com").unwrap(),
            MailTransport::Smtp {
                host: "mail.example.com".into(),
                port: 465,
                security: SmtpSecurity::Tls,
                user: Some("me".into()),
                password: Some("s3cret".into())
            }
        );
        assert!(matches!(
            MailTransport::parse("smtp+starttls://mail.example.com").unwrap(),
            MailTransport::Smtp {
                port: 587,
                security: SmtpSecurity::StartTls,
                ..
            }
        ));
        assert_eq!(
            MailTransport::parse("file:///var/mail/hiatus").unwrap(),
            MailTransport::Files("/var/mail/hiatus".into())
        );
        for bad in ["http://x", "smtp://", "smtp://host:port", "file://"] {
            assert!(MailTransport::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn templates_escape_html_and_say_what_to_do() {
        let r = render(
            "account.deletion_scheduled",
            "Ana <b>",
            &serde_json::json!({"due_at": 1_800_000_000_000_000i64}),
            "https://hiatus.example.com/",
        )
        .unwrap();
        assert_eq!(r.subject, "Your account will be deleted on 2027-01-15");
        assert!(r.text.starts_with("Hello Ana <b>,"));
        assert!(r.text.contains(
            "Log in at https://hiatus.example.com before 2027-01-15 and choose Cancel deletion"
        ));
        assert!(r.html.contains("Hello Ana &lt;b&gt;,") && !r.html.contains("<b>"));
        for (kind, _) in MAILED {
            assert!(
                render(kind, "x", &serde_json::Value::Null, "http://h").is_some(),
                "{kind}"
            );
        }
        assert!(render("account.sneezed", "x", &serde_json::Value::Null, "http://h").is_none());
    }
}
