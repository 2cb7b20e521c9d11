//! The statuses and kinds of the marketplace records the lifecycle rules depend on.

use crate::profile::str_enum;
use serde::{Deserialize, Serialize};

macro_rules! record_enum {
    ($(#[$doc:meta])* $name:ident { $($v:ident => $s:literal),* $(,)? }) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($v),* }
        str_enum!($name { $($v => $s),* });
    };
}

record_enum!(
    /// Which side of the marketplace an account is on.
    AccountKind { Freelancer => "freelancer", Client => "client", Both => "both" }
);
record_enum!(
    /// What an account may do beyond being a member.
    Role { Member => "member", Support => "support", Operator => "operator" }
);
record_enum!(
    /// Where an account's erasure stands: scheduled (in its grace period), cancelled by the
    /// member, running (the executor has made the account unusable and works through the
    /// policy's rules), or done.
    ErasureStatus { Scheduled => "scheduled", Cancelled => "cancelled", Running => "running", Done => "done" }
);
record_enum!(
    /// An export's status: queued, running (being built), ready (to download), failed, expired
    /// (removed when its retention ended), or downloaded (the marker row a download leaves).
    ExportStatus { Queued => "queued", Running => "running", Ready => "ready", Failed => "failed", Expired => "expired", Downloaded => "downloaded" }
);
record_enum!(
    /// A contract's status. A client's direct hire starts as an offer the freelancer accepts
    /// (open) or declines; the client may withdraw it before an answer. Open, paused and
    /// in-dispute contracts block closing; offers do not.
    ContractStatus { Offered => "offered", Open => "open", Paused => "paused", InDispute => "in_dispute", Ended => "ended", Declined => "declined", Withdrawn => "withdrawn" }
);
record_enum!(
    /// A payment's status. Escrowed and pending payments block closing.
    PaymentStatus { InEscrow => "in_escrow", PendingRelease => "pending_release", Released => "released", Refunded => "refunded" }
);
record_enum!(
    /// A payout's status. Scheduled payouts block closing.
    PayoutStatus { Scheduled => "scheduled", Settled => "settled" }
);
record_enum!(
    /// An invoice's status. Unpaid invoices where the member is the client block closing.
    InvoiceStatus { Unpaid => "unpaid", Paid => "paid", Void => "void" }
);
record_enum!(
    /// Whether a freelancer proposed to a client or a client invited a freelancer.
    ProposalKind { Proposal => "proposal", Invitation => "invitation" }
);
record_enum!(
    /// A proposal's or invitation's status.
    ProposalStatus { Open => "open", Accepted => "accepted", Declined => "declined", Withdrawn => "withdrawn" }
);
record_enum!(
    /// A job post's status.
    JobPostStatus { Open => "open", Closed => "closed" }
);
record_enum!(
    /// A dispute's status.
    DisputeStatus { Open => "open", Resolved => "resolved" }
);
record_enum!(
    /// A milestone's status.
    MilestoneStatus { Pending => "pending", Funded => "funded", Submitted => "submitted", Approved => "approved" }
);
record_enum!(
    /// What a stored file is for.
    FileKind { Attachment => "attachment", Submission => "submission", Photo => "photo", Private => "private" }
);

impl ContractStatus {
    /// Open, paused or in dispute: accepted, and work or money may still move.
    pub fn is_live(&self) -> bool {
        matches!(
            self,
            ContractStatus::Open | ContractStatus::Paused | ContractStatus::InDispute
        )
    }

    /// The freelancer accepted it (or it came from an accepted proposal): both sides
    /// consented, so work, money and reviews may follow.
    pub fn was_accepted(&self) -> bool {
        self.is_live() || *self == ContractStatus::Ended
    }

    /// Nothing more happens to it: ended, or an offer declined or withdrawn. It carries the
    /// time that happened in `ended_at`.
    pub fn is_final(&self) -> bool {
        matches!(
            self,
            ContractStatus::Ended | ContractStatus::Declined | ContractStatus::Withdrawn
        )
    }
}

impl PaymentStatus {
    /// Money not yet settled one way or the other.
    pub fn is_unsettled(&self) -> bool {
        matches!(
            self,
            PaymentStatus::InEscrow | PaymentStatus::PendingRelease
        )
    }
}

impl AccountKind {
    /// Can act as a freelancer.
    pub fn freelances(&self) -> bool {
        matches!(self, AccountKind::Freelancer | AccountKind::Both)
    }
    /// Can act as a client.
    pub fn hires(&self) -> bool {
        matches!(self, AccountKind::Client | AccountKind::Both)
    }
}

#[cfg(test)]
mod tests {
    use super::ContractStatus as S;

    #[test]
    fn only_accepted_contracts_are_live_or_reviewable() {
        let all = [
            S::Offered,
            S::Open,
            S::Paused,
            S::InDispute,
            S::Ended,
            S::Declined,
            S::Withdrawn,
        ];
        let live: Vec<_> = all.iter().filter(|s| s.is_live()).collect();
        assert_eq!(live, [&S::Open, &S::Paused, &S::InDispute]);
        let accepted: Vec<_> = all.iter().filter(|s| s.was_accepted()).collect();
        assert_eq!(accepted, [&S::Open, &S::Paused, &S::InDispute, &S::Ended]);
        let last: Vec<_> = all.iter().filter(|s| s.is_final()).collect();
        assert_eq!(last, [&S::Ended, &S::Declined, &S::Withdrawn]);
        for s in all {
            assert_eq!(S::parse(s.as_str()).unwrap(), s);
        }
    }
}
