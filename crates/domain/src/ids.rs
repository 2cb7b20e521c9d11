//! Newtypes for every identifier, so that a counterparty's id cannot be passed where the
//! member's goes and a payment id cannot stand in for a contract id.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use uuid::Uuid;

macro_rules! id_type {
    ($(#[$doc:meta] $name:ident),* $(,)?) => {$(
        #[$doc]
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub Uuid);

        impl $name {
            /// A new time-ordered identifier (UUID v7).
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }
            /// Wraps a UUID read from storage.
            pub fn from_uuid(u: Uuid) -> Self {
                Self(u)
            }
            /// The canonical text form, used on both database backends.
            pub fn to_text(&self) -> String {
                self.0.hyphenated().to_string()
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0.hyphenated(), f)
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self)
            }
        }

        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                utoipa::openapi::ObjectBuilder::new()
                    .schema_type(utoipa::openapi::schema::Type::String)
                    .format(Some(utoipa::openapi::SchemaFormat::KnownFormat(
                        utoipa::openapi::KnownFormat::Uuid,
                    )))
                    .into()
            }
        }
        impl utoipa::ToSchema for $name {}
    )*};
}

id_type! {
    /// A member, support agent or operator account.
    AccountId,
    /// A login session.
    SessionId,
    /// A job post by a client.
    JobPostId,
    /// A proposal (freelancer to client) or an invitation (client to freelancer).
    ProposalId,
    /// A contract between a client and a freelancer.
    ContractId,
    /// A milestone of a contract.
    MilestoneId,
    /// A payment under a contract.
    PaymentId,
    /// A payout from a member's balance to their bank.
    PayoutId,
    /// An invoice.
    InvoiceId,
    /// A dispute over a contract.
    DisputeId,
    /// A message thread.
    ThreadId,
    /// A message in a thread.
    MessageId,
    /// A stored file (attachment, work submission file, profile photo).
    FileId,
    /// A work submission under a contract.
    SubmissionId,
    /// A review one party of a contract wrote about the other.
    ReviewId,
    /// A background job.
    JobId,
    /// An audit event.
    AuditEventId,
}
