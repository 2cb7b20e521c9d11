//! Reviews written after a contract ends.

use super::id;
use crate::args;
use crate::db::Tx;
use crate::error::{StoreError, StoreResult};
use hiatus_domain::*;

#[derive(sqlx::FromRow)]
struct ReviewRow {
    id: String,
    contract_id: String,
    author_id: String,
    subject_id: String,
    rating: i64,
    body: String,
    created_at: i64,
}
impl ReviewRow {
    fn into_domain(self) -> StoreResult<Review> {
        Ok(Review {
            id: id(&self.id)?,
            contract_id: id(&self.contract_id)?,
            author_id: id(&self.author_id)?,
            subject_id: id(&self.subject_id)?,
            rating: self.rating,
            body: self.body,
            created_at: self.created_at,
        })
    }
}

/// Creates a review. One review per author and contract.
pub async fn create_review(tx: &mut Tx, r: &Review) -> StoreResult<()> {
    let dup: i64 = tx
        .scalar(
            "SELECT COUNT(*) FROM reviews WHERE contract_id = $1 AND author_id = $2",
            args![r.contract_id.to_text(), r.author_id.to_text()],
        )
        .await?;
    if dup > 0 {
        return Err(StoreError::Conflict("review".into()));
    }
    tx.exec(
        "INSERT INTO reviews (id, contract_id, author_id, subject_id, rating, body, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        args![r.id.to_text(), r.contract_id.to_text(), r.author_id.to_text(), r.subject_id.to_text(), r.rating, r.body.clone(), r.created_at],
    )
    .await?;
    Ok(())
}

/// Reviews a member wrote, newest first (about erased people: about their pseudonym).
pub async fn reviews_by(tx: &mut Tx, author: AccountId, limit: i64) -> StoreResult<Vec<Review>> {
    let rows: Vec<ReviewRow> = tx
        .all(
            "SELECT id, contract_id, author_id, subject_id, rating, body, created_at FROM reviews WHERE author_id = $1 ORDER BY created_at DESC, id LIMIT $2",
            args![author.to_text(), limit],
        )
        .await?;
    rows.into_iter().map(ReviewRow::into_domain).collect()
}

/// Reviews about a member, newest first.
pub async fn reviews_about(
    tx: &mut Tx,
    subject: AccountId,
    limit: i64,
) -> StoreResult<Vec<Review>> {
    let rows: Vec<ReviewRow> = tx
        .all(
            "SELECT id, contract_id, author_id, subject_id, rating, body, created_at FROM reviews WHERE subject_id = $1 ORDER BY created_at DESC, id LIMIT $2",
            args![subject.to_text(), limit],
        )
        .await?;
    rows.into_iter().map(ReviewRow::into_domain).collect()
}

/// How many reviews a member received and the sum of their ratings.
pub async fn review_summary(tx: &mut Tx, subject: AccountId) -> StoreResult<(i64, i64)> {
    // CAST: PostgreSQL sums BIGINT into NUMERIC.
    tx.one(
        "SELECT COUNT(*), CAST(COALESCE(SUM(rating), 0) AS BIGINT) FROM reviews WHERE subject_id = $1",
        args![subject.to_text()],
    )
    .await
}
