//! Invoice PDFs kept after an export rendered them, so an unchanged invoice renders once. A
//! row is valid for the content it was rendered from: callers compare `content_hash` with the
//! hash of what they would render now, and a different hash means render again and `put`.
//! The parties' ids are copied from the invoice so that erasure deletes a member's PDFs (the
//! policy's `invoice_pdfs` rules).

use crate::args;
use crate::db::{Arg, Tx};
use crate::error::StoreResult;
use hiatus_domain::{AccountId, Micros};

/// An invoice's cached PDF: which content it shows.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Cached {
    pub invoice_id: String,
    pub content_hash: String,
    pub rendered_at: i64,
}

/// A cached PDF's bytes.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct CachedPdf {
    pub invoice_id: String,
    pub pdf: Vec<u8>,
}

/// Which of the member's invoices (issued or received) have a PDF kept, and for which content.
pub async fn hashes_of(tx: &mut Tx, member: AccountId) -> StoreResult<Vec<Cached>> {
    let m = member.to_text();
    tx.all(
        "SELECT invoice_id, content_hash, rendered_at FROM invoice_pdfs WHERE issuer_id = $1 \
         UNION ALL SELECT invoice_id, content_hash, rendered_at FROM invoice_pdfs \
         WHERE recipient_id = $1 AND issuer_id <> $1",
        args![m],
    )
    .await
}

/// The kept PDFs of these invoices (those that have one), in no particular order.
pub async fn get_many(tx: &mut Tx, invoice_ids: &[String]) -> StoreResult<Vec<CachedPdf>> {
    if invoice_ids.is_empty() {
        return Ok(Vec::new());
    }
    let marks: Vec<String> = (1..=invoice_ids.len()).map(|i| format!("${i}")).collect();
    let sql = format!(
        "SELECT invoice_id, pdf FROM invoice_pdfs WHERE invoice_id IN ({})",
        marks.join(", ")
    );
    let args: Vec<Arg> = invoice_ids.iter().map(|i| Arg::from(i.clone())).collect();
    tx.all_dyn(&sql, args).await
}

/// Keeps an invoice's PDF, replacing an older one. Nothing is kept when the invoice's parties
/// are no longer `issuer` and `recipient` (erasure pseudonymized one of them since the PDF was
/// rendered), so a PDF showing an erased member's name is never stored after erasure ran.
pub async fn put(
    tx: &mut Tx,
    invoice_id: &str,
    issuer: &str,
    recipient: &str,
    content_hash: &str,
    pdf: Vec<u8>,
    now: Micros,
) -> StoreResult<bool> {
    Ok(tx
        .exec(
            "INSERT INTO invoice_pdfs (invoice_id, issuer_id, recipient_id, content_hash, pdf, rendered_at) \
             SELECT id, issuer_id, recipient_id, $4, $5, $6 FROM invoices \
             WHERE id = $1 AND issuer_id = $2 AND recipient_id = $3 \
             ON CONFLICT (invoice_id) DO UPDATE SET issuer_id = excluded.issuer_id, \
             recipient_id = excluded.recipient_id, content_hash = excluded.content_hash, \
             pdf = excluded.pdf, rendered_at = excluded.rendered_at",
            args![
                invoice_id.to_string(),
                issuer.to_string(),
                recipient.to_string(),
                content_hash.to_string(),
                pdf,
                now
            ],
        )
        .await?
        == 1)
}
