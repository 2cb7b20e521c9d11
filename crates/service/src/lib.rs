//! The use cases of hiatus. Each public method opens a transaction, applies the domain's
//! rules, writes the change with its audit event and its jobs, and commits — all or nothing.

#![forbid(unsafe_code)]

pub mod account_pages;
pub mod auth;
pub mod clock;
pub mod config;
pub mod dashboard;
pub mod demo;
pub mod erasure;
pub mod error;
pub mod export;
pub mod jobs;
pub mod keys;
pub mod lifecycle;
mod link_token;
pub mod mail;
pub mod market;
pub mod notices;
pub mod ops;
pub mod password;
pub mod restoration;
pub mod signup;
pub mod views;
pub mod webhook_target;
pub mod webhooks;
pub mod worker;

pub use auth::{Actor, LoginOutcome, SignUp};
pub use clock::{Clock, ManualClock, SystemClock};
pub use config::{PasswordParams, ServiceConfig};
pub use error::{ServiceError, ServiceResult};
/// The handles the service is assembled from (the database, the blob store, the keyring).
pub use hiatus_store::{Blobs, Db, DbOptions, Keyring, SecretKey};

use std::sync::Arc;

/// The name shown for someone whose profile can no longer be read (erased before pseudonyms
/// existed, or mid-erasure).
pub const FORMER_MEMBER: &str = "Former member";

/// Everything a use case needs: no globals, so tests build as many as they like.
#[derive(Clone, Debug)]
pub struct Hiatus {
    pub db: Db,
    pub blobs: Blobs,
    pub keys: Arc<Keyring>,
    pub clock: Arc<dyn Clock>,
    pub config: ServiceConfig,
    /// The erasure policy's rules, compiled for this database.
    pub(crate) erasure_rules: Arc<Vec<hiatus_store::policy::CompiledRule>>,
    /// The HTTP client webhooks are sent with (one connection pool for the process).
    pub(crate) http: reqwest::Client,
    /// Where mail goes; none when mail is disabled.
    pub(crate) mailer: Option<mail::Mailer>,
    /// A hash of no one's password with the configured parameters: logins for unknown
    /// addresses verify against it, so they take as long as logins for known ones.
    pub(crate) dummy_hash: Arc<str>,
}

impl Hiatus {
    /// Assembles the service.
    pub fn new(
        db: Db,
        blobs: Blobs,
        keys: Keyring,
        clock: Arc<dyn Clock>,
        config: ServiceConfig,
    ) -> Self {
        let erasure_rules = Arc::new(config.policy.compile(db.backend()));
        // Webhook receivers answer quickly or are retried later; redirects are not followed
        // (a subscription names the URL that gets the data).
        let mut http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(std::time::Duration::from_secs(5));
        if !config.webhooks.allow_private {
            // Names are resolved by a resolver that refuses internal addresses, and the
            // client connects to what it returned: no second lookup an attacker could answer
            // differently.
            http = http.dns_resolver(Arc::new(webhook_target::CheckedResolver));
        }
        let http = http
            .build()
            .expect("the HTTP client builds with its defaults");
        let mailer = mail::Mailer::build(&config.mail.transport);
        let dummy_hash = password::hash("no account has this password", config.password).into();
        // Epochs follow the injected clock, so tests can move past the backup window.
        let keys = {
            let clock = clock.clone();
            keys.with_clock(Arc::new(move || clock.now()))
        };
        Self {
            db,
            blobs,
            keys: Arc::new(keys),
            clock,
            config,
            erasure_rules,
            http,
            mailer,
            dummy_hash,
        }
    }

    /// Checks the erasure policy against the database's schema: a column without a
    /// classification is an error, and so is a column erasure deletes or redacts that holds
    /// text or bytes without being sealed (or declared not personal), so hiatus does not start
    /// with either.
    pub async fn check_policy(&self) -> ServiceResult<()> {
        self.config.policy.check_db(&self.db).await?;
        self.config.policy.check_sealed_db(&self.db).await?;
        Ok(())
    }

    /// The current time.
    pub fn now(&self) -> hiatus_domain::Micros {
        self.clock.now()
    }

    /// Runs `f` in a read-only transaction, so the reads see one consistent snapshot.
    pub(crate) async fn reading<T>(
        &self,
        f: impl AsyncFnOnce(&mut hiatus_store::Tx) -> ServiceResult<T>,
    ) -> ServiceResult<T> {
        let mut tx = self.db.read().await?;
        let v = f(&mut tx).await?;
        tx.commit().await?;
        Ok(v)
    }
}

/// Rejects text that is empty or too long, with a message naming the field.
/// [`check_text`] for a name people recognize something by (a display or legal name, a
/// headline, a title, a subject, a file name): none of the invisible or
/// direction-changing characters that make one name pass for another (U+202E shows
/// `Invoice\u{202E}fdp.html` as "Invoice…lmth.pdf"). Refused rather than stripped, so what is
/// stored is what the member typed and saw.
pub(crate) fn check_name(
    field: &'static str,
    value: &str,
    max: usize,
    required: bool,
) -> ServiceResult<()> {
    check_text(field, value, max, required)?;
    if let Some(c) = hiatus_domain::text::first_spoofing_char(value) {
        return Err(ServiceError::invalid(
            "field_invalid",
            format!(
                "{field} contains an invisible or direction-changing character (U+{:04X}); remove it",
                c as u32
            ),
        ));
    }
    Ok(())
}

pub(crate) fn check_text(
    field: &'static str,
    value: &str,
    max: usize,
    required: bool,
) -> ServiceResult<()> {
    if required && value.trim().is_empty() {
        return Err(ServiceError::invalid(
            "field_required",
            format!("{field} must not be empty"),
        ));
    }
    if value.chars().count() > max {
        return Err(ServiceError::invalid(
            "field_too_long",
            format!("{field} can be at most {max} characters"),
        ));
    }
    if value
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t' && c != '\r')
    {
        return Err(ServiceError::invalid(
            "field_invalid",
            format!("{field} contains control characters"),
        ));
    }
    Ok(())
}
