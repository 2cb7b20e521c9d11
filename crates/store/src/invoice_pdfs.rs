//! Invoice PDFs kept after an export rendered them, so an unchanged invoice renders once. A
//! row is valid for the content it was rendered from: callers compare `content_hash` with the
//! hash of what they would render now, and a different hash means render again and `put`.
//! The parties' ids are copied from the invoice so that erasure deletes a member's PDFs (the
//! policy's `invoice_pdfs` rules).
//!
//! A PDF shows both parties' names, so it is sealed twice: under the issuer's data key, then
//! under the recipient's. Erasing either party destroys a key it needs, and no old copy of
//! the row (dead rows, the write-ahead log, a backup) can be read after that.

use crate::args;
use crate::crypto::{DataKey, Keyring};
use crate::db::{Arg, Tx};
use crate::error::{StoreError, StoreResult};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use hiatus_domain::{AccountId, Micros};

/// A party's data key, by account id.
async fn key_of(tx: &mut Tx, keys: &Keyring, account: &str) -> StoreResult<DataKey> {
    let wrapped: Option<Vec<u8>> = tx
        .scalar(
            "SELECT data_key_wrapped FROM accounts WHERE id = $1",
            args![account.to_string()],
        )
        .await?;
    keys.unwrap_data_key(account, wrapped.as_deref())
}

/// Seals a PDF under the issuer's key and the result under the recipient's. `seal_field`
/// takes text, so each layer is the Base64 of the one inside it.
fn seal_pdf(issuer: &DataKey, recipient: &DataKey, invoice_id: &str, pdf: &[u8]) -> Vec<u8> {
    let inner = issuer.seal_field("invoice_pdfs", "pdf", invoice_id, &B64.encode(pdf));
    recipient.seal_field("invoice_pdfs", "pdf", invoice_id, &B64.encode(inner))
}

fn open_pdf(
    issuer: &DataKey,
    recipient: &DataKey,
    invoice_id: &str,
    sealed: &[u8],
) -> StoreResult<Vec<u8>> {
    let corrupt = |_| StoreError::Corrupt(format!("kept PDF of invoice {invoice_id}"));
    let inner = B64
        .decode(recipient.open_field("invoice_pdfs", "pdf", invoice_id, sealed)?)
        .map_err(corrupt)?;
    B64.decode(issuer.open_field("invoice_pdfs", "pdf", invoice_id, &inner)?)
        .map_err(corrupt)
}

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

/// The kept PDFs of these invoices (those that have one and both of whose parties still have
/// their keys), opened, in no particular order.
pub async fn get_many(
    tx: &mut Tx,
    keys: &Keyring,
    invoice_ids: &[String],
) -> StoreResult<Vec<CachedPdf>> {
    if invoice_ids.is_empty() {
        return Ok(Vec::new());
    }
    #[derive(sqlx::FromRow)]
    struct SealedPdf {
        invoice_id: String,
        issuer_id: String,
        recipient_id: String,
        pdf: Vec<u8>,
        issuer_key: Option<Vec<u8>>,
        recipient_key: Option<Vec<u8>>,
    }
    let marks: Vec<String> = (1..=invoice_ids.len()).map(|i| format!("${i}")).collect();
    let sql = format!(
        "SELECT p.invoice_id, p.issuer_id, p.recipient_id, p.pdf, i.data_key_wrapped AS issuer_key, \
         r.data_key_wrapped AS recipient_key FROM invoice_pdfs p \
         JOIN accounts i ON i.id = p.issuer_id JOIN accounts r ON r.id = p.recipient_id \
         WHERE p.invoice_id IN ({})",
        marks.join(", ")
    );
    let args: Vec<Arg> = invoice_ids.iter().map(|i| Arg::from(i.clone())).collect();
    let rows: Vec<SealedPdf> = tx.all_dyn(&sql, args).await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let (Ok(i), Ok(k)) = (
            keys.unwrap_data_key(&r.issuer_id, r.issuer_key.as_deref()),
            keys.unwrap_data_key(&r.recipient_id, r.recipient_key.as_deref()),
        ) else {
            continue;
        };
        out.push(CachedPdf {
            pdf: open_pdf(&i, &k, &r.invoice_id, &r.pdf)?,
            invoice_id: r.invoice_id,
        });
    }
    Ok(out)
}

/// Keeps an invoice's PDF, replacing an older one. Nothing is kept when the invoice's parties
/// are no longer `issuer` and `recipient` (erasure pseudonymized one of them since the PDF was
/// rendered), so a PDF showing an erased member's name is never stored after erasure ran.
#[allow(clippy::too_many_arguments)]
pub async fn put(
    tx: &mut Tx,
    keys: &Keyring,
    invoice_id: &str,
    issuer: &str,
    recipient: &str,
    content_hash: &str,
    pdf: Vec<u8>,
    now: Micros,
) -> StoreResult<bool> {
    let (Ok(i), Ok(r)) = (
        key_of(tx, keys, issuer).await,
        key_of(tx, keys, recipient).await,
    ) else {
        return Ok(false); // a party was erased: nothing showing them is kept
    };
    let pdf = seal_pdf(&i, &r, invoice_id, &pdf);
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
