//! Job posts, and the proposals and invitations sent between freelancers and clients.

use super::{id, opt_id};
use crate::args;
use crate::crypto::Keyring;
use crate::db::Tx;
use crate::error::StoreResult;
use hiatus_domain::*;

#[derive(sqlx::FromRow)]
struct JobPostRow {
    id: String,
    client_id: String,
    title: String,
    status: String,
    created_at: i64,
}
impl JobPostRow {
    fn into_domain(self) -> StoreResult<JobPost> {
        Ok(JobPost {
            id: id(&self.id)?,
            client_id: id(&self.client_id)?,
            title: self.title,
            status: status!(JobPostStatus, self.status),
            created_at: self.created_at,
        })
    }
}

/// Creates an open job post.
pub async fn create_job_post(tx: &mut Tx, p: &JobPost) -> StoreResult<()> {
    tx.exec(
        "INSERT INTO job_posts (id, client_id, title, status, created_at) VALUES ($1, $2, $3, $4, $5)",
        args![p.id.to_text(), p.client_id.to_text(), p.title.clone(), p.status.as_str(), p.created_at],
    )
    .await?;
    Ok(())
}

/// A job post.
pub async fn job_post(tx: &mut Tx, jid: JobPostId) -> StoreResult<JobPost> {
    let r: JobPostRow = tx
        .one(
            "SELECT id, client_id, title, status, created_at FROM job_posts WHERE id = $1",
            args![jid.to_text()],
        )
        .await?;
    r.into_domain()
}

/// A client's job posts, newest first.
pub async fn job_posts_of(tx: &mut Tx, client: AccountId) -> StoreResult<Vec<JobPost>> {
    let rows: Vec<JobPostRow> = tx
        .all("SELECT id, client_id, title, status, created_at FROM job_posts WHERE client_id = $1 ORDER BY created_at DESC, id", args![client.to_text()])
        .await?;
    rows.into_iter().map(JobPostRow::into_domain).collect()
}

/// Closes every open job post of a client; returns how many.
pub async fn close_open_job_posts(tx: &mut Tx, client: AccountId) -> StoreResult<u64> {
    tx.exec(
        "UPDATE job_posts SET status = 'closed' WHERE client_id = $1 AND status = 'open'",
        args![client.to_text()],
    )
    .await
}

#[derive(sqlx::FromRow)]
struct ProposalRow {
    id: String,
    kind: String,
    job_post_id: Option<String>,
    freelancer_id: String,
    client_id: String,
    sender_id: String,
    cover_letter_enc: Option<Vec<u8>>,
    /// The sender's wrapped data key, which the cover letter is sealed under.
    sender_key: Option<Vec<u8>>,
    status: String,
    created_at: i64,
}
impl ProposalRow {
    fn into_domain(self, keys: &Keyring) -> StoreResult<Proposal> {
        // A sender erased meanwhile takes the cover letter with them (erasure deletes the
        // proposal too): it reads as empty until then.
        let cover_letter = match (&self.cover_letter_enc, self.sender_key.as_deref()) {
            (Some(b), Some(w)) => keys.unwrap_data_key(&self.sender_id, Some(w))?.open_field(
                "proposals",
                "cover_letter",
                &self.id,
                b,
            )?,
            _ => String::new(),
        };
        Ok(Proposal {
            id: id(&self.id)?,
            kind: status!(ProposalKind, self.kind),
            job_post_id: opt_id(&self.job_post_id)?,
            freelancer_id: id(&self.freelancer_id)?,
            client_id: id(&self.client_id)?,
            sender_id: id(&self.sender_id)?,
            cover_letter,
            status: status!(ProposalStatus, self.status),
            created_at: self.created_at,
        })
    }
}

/// Creates a proposal or invitation; the cover letter is sealed under the sender's data key.
pub async fn create_proposal(tx: &mut Tx, keys: &Keyring, p: &Proposal) -> StoreResult<()> {
    let dk = crate::accounts::get(tx, p.sender_id)
        .await?
        .data_key(keys)?;
    let pid = p.id.to_text();
    let letter = dk.seal_field("proposals", "cover_letter", &pid, &p.cover_letter);
    tx.exec(
        "INSERT INTO proposals (id, kind, job_post_id, freelancer_id, client_id, sender_id, cover_letter_enc, status, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        args![
            pid,
            p.kind.as_str(),
            p.job_post_id.map(|j| j.to_text()),
            p.freelancer_id.to_text(),
            p.client_id.to_text(),
            p.sender_id.to_text(),
            letter,
            p.status.as_str(),
            p.created_at
        ],
    )
    .await?;
    Ok(())
}

/// A proposal, its cover letter opened.
pub async fn proposal(tx: &mut Tx, keys: &Keyring, pid: ProposalId) -> StoreResult<Proposal> {
    let r: ProposalRow = tx
        .one("SELECT p.id, p.kind, p.job_post_id, p.freelancer_id, p.client_id, p.sender_id, p.cover_letter_enc, \
              a.data_key_wrapped AS sender_key, p.status, p.created_at \
              FROM proposals p JOIN accounts a ON a.id = p.sender_id WHERE p.id = $1", args![pid.to_text()])
        .await?;
    r.into_domain(keys)
}

/// Proposals and invitations a member sent or received, newest first.
pub async fn proposals_of(
    tx: &mut Tx,
    keys: &Keyring,
    who: AccountId,
) -> StoreResult<Vec<Proposal>> {
    let rows: Vec<ProposalRow> = tx
        .all(
            "SELECT p.id, p.kind, p.job_post_id, p.freelancer_id, p.client_id, p.sender_id, p.cover_letter_enc, \
             a.data_key_wrapped AS sender_key, p.status, p.created_at \
             FROM proposals p JOIN accounts a ON a.id = p.sender_id \
             WHERE p.freelancer_id = $1 OR p.client_id = $1 ORDER BY p.created_at DESC, p.id",
            args![who.to_text()],
        )
        .await?;
    rows.into_iter().map(|r| r.into_domain(keys)).collect()
}

/// Sets a proposal's status.
pub async fn set_proposal_status(
    tx: &mut Tx,
    pid: ProposalId,
    s: ProposalStatus,
) -> StoreResult<()> {
    tx.exec(
        "UPDATE proposals SET status = $2 WHERE id = $1",
        args![pid.to_text(), s.as_str()],
    )
    .await?;
    Ok(())
}

/// Withdraws every open proposal or invitation the member sent; returns how many.
pub async fn withdraw_open_proposals(tx: &mut Tx, sender: AccountId) -> StoreResult<u64> {
    tx.exec(
        "UPDATE proposals SET status = 'withdrawn' WHERE sender_id = $1 AND status = 'open'",
        args![sender.to_text()],
    )
    .await
}
