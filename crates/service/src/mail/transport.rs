//! How mail leaves hiatus: SMTP (lettre) configured by URL, or `.eml` files in a folder.

use lettre::message::Mailbox;
use lettre::message::header::{Header, HeaderName, HeaderValue};
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

    pub(super) async fn send(&self, m: Message) -> Result<(), String> {
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
pub(super) struct IdempotencyKey(pub(super) String);

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
}
