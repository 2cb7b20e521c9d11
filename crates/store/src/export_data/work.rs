//! The work: job posts, proposals, contracts, milestones, submissions, disputes and reviews.

use super::{Record, opt_time, ot, t, time};
use crate::crypto::Keyring;
use crate::error::StoreResult;
use schemars::JsonSchema;
use serde::Serialize;

/// A job post the member published.
#[derive(Debug, sqlx::FromRow, Serialize, JsonSchema)]
pub struct JobPostRecord {
    pub id: String,
    pub client_id: String,
    pub title: String,
    pub status: String,
    #[serde(serialize_with = "time")]
    #[schemars(with = "String")]
    pub created_at: i64,
}
impl Record for JobPostRecord {
    const CATEGORY: &'static str = "job_posts";
    const PAGE: &'static str = "SELECT id, client_id, title, status, created_at FROM job_posts \
        WHERE client_id = $1 AND id > $2 AND created_at >= $4 ORDER BY id LIMIT $3";
    const COUNT: &'static str =
        "SELECT COUNT(*) FROM job_posts WHERE client_id = $1 AND created_at >= $2";
    fn key(&self) -> &str {
        &self.id
    }
}

/// A proposal the member sent or received.
#[derive(Debug, sqlx::FromRow, Serialize, JsonSchema)]
pub struct ProposalRecord {
    pub id: String,
    pub kind: String,
    pub job_post_id: Option<String>,
    pub freelancer_id: String,
    pub client_id: String,
    pub sender_id: String,
    /// Opened by the caller ([`ProposalRecord::open`]).
    #[sqlx(default)]
    pub cover_letter: String,
    #[serde(skip)]
    #[schemars(skip)]
    pub cover_letter_enc: Option<Vec<u8>>,
    /// The sender's wrapped data key, which the cover letter is sealed under.
    #[serde(skip)]
    #[schemars(skip)]
    pub sender_key: Option<Vec<u8>>,
    pub status: String,
    #[serde(serialize_with = "time")]
    #[schemars(with = "String")]
    pub created_at: i64,
}
impl ProposalRecord {
    /// Opens the cover letter with its sender's key (empty when the sender's key is gone).
    pub fn open(&mut self, keys: &Keyring) -> StoreResult<()> {
        if let (Some(b), Some(w)) = (self.cover_letter_enc.take(), self.sender_key.take()) {
            self.cover_letter = keys
                .unwrap_data_key(&self.sender_id, Some(&w))?
                .open_field("proposals", "cover_letter", &self.id, &b)?;
        }
        Ok(())
    }
}
impl Record for ProposalRecord {
    const CATEGORY: &'static str = "proposals";
    const PAGE: &'static str = "SELECT p.id, p.kind, p.job_post_id, p.freelancer_id, p.client_id, p.sender_id, p.cover_letter_enc, \
        a.data_key_wrapped AS sender_key, p.status, p.created_at FROM proposals p JOIN accounts a ON a.id = p.sender_id \
        WHERE (p.freelancer_id = $1 OR p.client_id = $1) AND p.id > $2 AND p.created_at >= $4 ORDER BY p.id LIMIT $3";
    const COUNT: &'static str = "SELECT COUNT(*) FROM proposals WHERE (freelancer_id = $1 OR client_id = $1) AND created_at >= $2";
    fn key(&self) -> &str {
        &self.id
    }
}

/// A contract the member is a party to.
#[derive(Debug, sqlx::FromRow, Serialize, JsonSchema)]
pub struct ContractRecord {
    pub id: String,
    pub client_id: String,
    pub freelancer_id: String,
    pub title: String,
    pub status: String,
    pub currency: String,
    #[serde(serialize_with = "time")]
    #[schemars(with = "String")]
    pub created_at: i64,
    #[serde(serialize_with = "opt_time")]
    #[schemars(with = "Option<String>")]
    pub ended_at: Option<i64>,
}
impl Record for ContractRecord {
    const CATEGORY: &'static str = "contracts";
    const PAGE: &'static str = "SELECT id, client_id, freelancer_id, title, status, currency, created_at, ended_at FROM contracts \
        WHERE (client_id = $1 OR freelancer_id = $1) AND id > $2 AND (created_at >= $4 OR ended_at >= $4) ORDER BY id LIMIT $3";
    const COUNT: &'static str = "SELECT COUNT(*) FROM contracts WHERE (client_id = $1 OR freelancer_id = $1) AND (created_at >= $2 OR ended_at >= $2)";
    const CSV: Option<&'static [&'static str]> = Some(&[
        "id",
        "client_id",
        "freelancer_id",
        "title",
        "status",
        "currency",
        "created_at",
        "ended_at",
    ]);
    fn key(&self) -> &str {
        &self.id
    }
    fn csv_row(&self) -> Vec<String> {
        vec![
            self.id.clone(),
            self.client_id.clone(),
            self.freelancer_id.clone(),
            self.title.clone(),
            self.status.clone(),
            self.currency.clone(),
            t(self.created_at),
            ot(self.ended_at),
        ]
    }
}

/// A milestone of one of the member's contracts.
#[derive(Debug, sqlx::FromRow, Serialize, JsonSchema)]
pub struct MilestoneRecord {
    pub id: String,
    pub contract_id: String,
    pub title: String,
    pub amount_minor: i64,
    pub currency: String,
    pub status: String,
    #[serde(serialize_with = "time")]
    #[schemars(with = "String")]
    pub created_at: i64,
}
impl Record for MilestoneRecord {
    const CATEGORY: &'static str = "milestones";
    const PAGE: &'static str = "SELECT m.id, m.contract_id, m.title, m.amount_minor, m.currency, m.status, m.created_at FROM milestones m \
        JOIN contracts c ON c.id = m.contract_id WHERE (c.client_id = $1 OR c.freelancer_id = $1) AND m.id > $2 AND m.created_at >= $4 ORDER BY m.id LIMIT $3";
    const COUNT: &'static str = "SELECT COUNT(*) FROM milestones m JOIN contracts c ON c.id = m.contract_id \
        WHERE (c.client_id = $1 OR c.freelancer_id = $1) AND m.created_at >= $2";
    fn key(&self) -> &str {
        &self.id
    }
}

/// A dispute on one of the member's contracts.
#[derive(Debug, sqlx::FromRow, Serialize, JsonSchema)]
pub struct DisputeRecord {
    pub id: String,
    pub contract_id: String,
    pub opened_by: String,
    pub status: String,
    #[serde(serialize_with = "time")]
    #[schemars(with = "String")]
    pub created_at: i64,
    #[serde(serialize_with = "opt_time")]
    #[schemars(with = "Option<String>")]
    pub resolved_at: Option<i64>,
}
impl Record for DisputeRecord {
    const CATEGORY: &'static str = "disputes";
    const PAGE: &'static str = "SELECT d.id, d.contract_id, d.opened_by, d.status, d.created_at, d.resolved_at FROM disputes d \
        JOIN contracts c ON c.id = d.contract_id WHERE (c.client_id = $1 OR c.freelancer_id = $1) AND d.id > $2 \
        AND (d.created_at >= $4 OR d.resolved_at >= $4) ORDER BY d.id LIMIT $3";
    const COUNT: &'static str = "SELECT COUNT(*) FROM disputes d JOIN contracts c ON c.id = d.contract_id \
        WHERE (c.client_id = $1 OR c.freelancer_id = $1) AND (d.created_at >= $2 OR d.resolved_at >= $2)";
    fn key(&self) -> &str {
        &self.id
    }
}

/// A work submission on one of the member's contracts.
#[derive(Debug, sqlx::FromRow, Serialize, JsonSchema)]
pub struct SubmissionRecord {
    pub id: String,
    pub contract_id: String,
    pub freelancer_id: String,
    pub note: String,
    #[serde(serialize_with = "time")]
    #[schemars(with = "String")]
    pub created_at: i64,
}
impl Record for SubmissionRecord {
    const CATEGORY: &'static str = "submissions";
    const PAGE: &'static str = "SELECT s.id, s.contract_id, s.freelancer_id, s.note, s.created_at FROM submissions s \
        JOIN contracts c ON c.id = s.contract_id WHERE (c.client_id = $1 OR c.freelancer_id = $1) AND s.id > $2 AND s.created_at >= $4 ORDER BY s.id LIMIT $3";
    const COUNT: &'static str = "SELECT COUNT(*) FROM submissions s JOIN contracts c ON c.id = s.contract_id \
        WHERE (c.client_id = $1 OR c.freelancer_id = $1) AND s.created_at >= $2";
    fn key(&self) -> &str {
        &self.id
    }
}

/// A review the member wrote or received.
#[derive(Debug, sqlx::FromRow, Serialize, JsonSchema)]
pub struct ReviewRecord {
    pub id: String,
    pub contract_id: String,
    pub author_id: String,
    pub subject_id: String,
    pub rating: i64,
    pub body: String,
    #[serde(serialize_with = "time")]
    #[schemars(with = "String")]
    pub created_at: i64,
}
impl Record for ReviewRecord {
    const CATEGORY: &'static str = "reviews";
    const PAGE: &'static str = "SELECT id, contract_id, author_id, subject_id, rating, body, created_at FROM reviews \
        WHERE (author_id = $1 OR subject_id = $1) AND id > $2 AND created_at >= $4 ORDER BY id LIMIT $3";
    const COUNT: &'static str = "SELECT COUNT(*) FROM reviews WHERE (author_id = $1 OR subject_id = $1) AND created_at >= $2";
    const CSV: Option<&'static [&'static str]> = Some(&[
        "id",
        "contract_id",
        "author_id",
        "subject_id",
        "rating",
        "body",
        "created_at",
    ]);
    fn key(&self) -> &str {
        &self.id
    }
    fn csv_row(&self) -> Vec<String> {
        vec![
            self.id.clone(),
            self.contract_id.clone(),
            self.author_id.clone(),
            self.subject_id.clone(),
            self.rating.to_string(),
            self.body.clone(),
            t(self.created_at),
        ]
    }
}
