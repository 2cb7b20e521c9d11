//! Email about lifecycle events to the member they concern: SMTP (lettre) configured by URL,
//! or `.eml` files in a folder (the demo's default). Every lifecycle event that has a template
//! gets one queued mail per member in the transaction that dispatches the event; the sender
//! delivers it at least once, with a `Message-ID` and an `X-Hiatus-Idempotency-Key` derived
//! from the event, so a retry never shows twice to a person whose mail system deduplicates.
//! Essential mail (security, deletion, data requests) is always sent; the rest is skipped for
//! a member who muted notifications. Addresses are read from the sealed contact details at
//! sending time and never logged.

mod delivery;
mod digest;
mod templates;
mod transport;

pub use templates::{MAILED, MailKind, Rendered, render};
pub(crate) use transport::Mailer;
pub use transport::{MailConfig, MailTransport, SmtpSecurity, valid_sender};

use crate::Hiatus;
use crate::error::ServiceResult;
use hiatus_domain::AccountId;
use hiatus_store::mail::{self, MailDelivery};

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
