//! The marketplace records as the rest of hiatus sees them: plain values with typed ids.

use crate::*;
use serde::{Deserialize, Serialize};

/// A job post by a client.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct JobPost {
    pub id: JobPostId,
    pub client_id: AccountId,
    pub title: String,
    pub status: JobPostStatus,
    pub created_at: Micros,
}

/// A proposal (freelancer → client) or invitation (client → freelancer).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Proposal {
    pub id: ProposalId,
    pub kind: ProposalKind,
    pub job_post_id: Option<JobPostId>,
    pub freelancer_id: AccountId,
    pub client_id: AccountId,
    pub sender_id: AccountId,
    pub cover_letter: String,
    pub status: ProposalStatus,
    pub created_at: Micros,
}

/// A contract: from a client's direct hire, an offer until the freelancer answers; from an
/// accepted proposal or invitation, open at once.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Contract {
    pub id: ContractId,
    pub client_id: AccountId,
    pub freelancer_id: AccountId,
    pub title: String,
    /// `offered` (waiting for the freelancer), `open`, `paused`, `in_dispute`, `ended`, or
    /// for an offer never accepted `declined` (by the freelancer) or `withdrawn` (by the
    /// client).
    pub status: ContractStatus,
    #[schema(value_type = String)]
    pub currency: Currency,
    /// When the client made the offer (or the proposal was accepted).
    pub created_at: Micros,
    /// When it ended, or when the offer was declined or withdrawn.
    pub ended_at: Option<Micros>,
}

/// A milestone of a contract.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Milestone {
    pub id: MilestoneId,
    pub contract_id: ContractId,
    pub title: String,
    pub amount: Money,
    pub status: MilestoneStatus,
    pub created_at: Micros,
}

/// A payment.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Payment {
    pub id: PaymentId,
    pub contract_id: ContractId,
    pub milestone_id: Option<MilestoneId>,
    pub payer_id: AccountId,
    pub payee_id: AccountId,
    pub amount: Money,
    pub status: PaymentStatus,
    pub created_at: Micros,
    pub updated_at: Micros,
}

/// A payout to the member's bank.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Payout {
    pub id: PayoutId,
    pub account_id: AccountId,
    pub amount: Money,
    pub status: PayoutStatus,
    pub created_at: Micros,
    pub settles_at: Micros,
}

/// A balance in one currency.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Balance {
    pub available: Money,
    pub debt: Money,
}

/// An invoice.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Invoice {
    pub id: InvoiceId,
    pub number: String,
    pub contract_id: ContractId,
    pub issuer_id: AccountId,
    pub recipient_id: AccountId,
    pub description: String,
    pub amount: Money,
    pub status: InvoiceStatus,
    pub issued_at: Micros,
    pub due_at: Micros,
    pub paid_at: Option<Micros>,
}

/// A dispute.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Dispute {
    pub id: DisputeId,
    pub contract_id: ContractId,
    pub opened_by: AccountId,
    pub status: DisputeStatus,
    pub created_at: Micros,
    pub resolved_at: Option<Micros>,
}

/// A message thread.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Thread {
    pub id: ThreadId,
    pub contract_id: Option<ContractId>,
    /// Shown with `{name}` replaced by the current name of [`Thread::named`].
    pub subject: String,
    pub participants: Vec<AccountId>,
    pub created_at: Micros,
    pub last_message_at: Micros,
    /// The person the subject names by reference (their name is never stored in it).
    #[serde(skip)]
    pub named: Option<AccountId>,
}

/// A message.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Message {
    pub id: MessageId,
    pub thread_id: ThreadId,
    pub author_id: AccountId,
    pub body: String,
    pub created_at: Micros,
}

/// A work submission under a contract.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Submission {
    pub id: SubmissionId,
    pub contract_id: ContractId,
    pub freelancer_id: AccountId,
    pub note: String,
    pub created_at: Micros,
}

/// A stored file's description (the bytes are fetched separately).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FileMeta {
    pub id: FileId,
    pub owner_id: AccountId,
    pub kind: FileKind,
    pub message_id: Option<MessageId>,
    pub submission_id: Option<SubmissionId>,
    pub name: String,
    pub content_type: String,
    pub size_bytes: i64,
    pub sha256: String,
    pub created_at: Micros,
}

/// A review.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Review {
    pub id: ReviewId,
    pub contract_id: ContractId,
    pub author_id: AccountId,
    pub subject_id: AccountId,
    pub rating: i64,
    pub body: String,
    pub created_at: Micros,
}
