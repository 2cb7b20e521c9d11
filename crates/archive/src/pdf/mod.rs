//! Invoices as PDF documents: `invoices/<number>.pdf` in the archive.
//!
//! One A4 document per invoice: the title "Invoice <number>", the issuer and the recipient, the
//! invoice's number, status and dates, the contract it belongs to, a table of lines with
//! right-aligned amounts, the total, and "Exported from hiatus" with the page number at the foot
//! of every page. The text is real text (searchable, copyable) in DejaVu Sans, embedded and
//! subset to the glyphs used. The output depends only on the input: no dates, no random ids.
//!
//! krilla draws text one line at a time, so the layout is done here: text is measured with the
//! fonts' own advance widths and kerning pairs (read once per process from the embedded font
//! files), long text wraps (over-long words are broken), and what does not fit continues on a
//! new page under a running head. Input is treated as hostile: text is normalised to NFC,
//! control and invisible formatting characters are dropped, and nothing panics.
//!
//! Glyphs are placed directly, one per character with kerning: right for Latin, Greek, Cyrillic
//! and the symbols DejaVu Sans covers, and much faster than shaping. A line in a script that
//! needs shaping (Arabic, Hebrew, Indic, combining marks that NFC leaves, ...) goes through
//! krilla's shaper instead, in the regular weight and without bidirectional reordering of mixed
//! text. Characters the fonts lack show as the missing-glyph box but stay in the text layer.
//!
//! Speed: a one-page invoice takes about half a millisecond (release build). Most of it is
//! krilla subsetting and compressing the font for each document, which is why both weights are
//! merged into one font program without hinting (see `merge_fonts`), and why the page content
//! is left uncompressed.

mod draw;
mod font_merge;
mod fonts;
mod layout;
mod text;

use draw::draw;
use fonts::fonts;
use layout::layout;

/// One side of an invoice.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Party {
    /// The display name, as the member saw it.
    pub name: String,
    /// The account id.
    pub id: String,
}

/// One line of an invoice.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InvoiceLine {
    pub description: String,
    /// In the currency's minor unit (cents for USD or EUR).
    pub amount_minor: i64,
}

/// Everything an invoice document shows. Strings are shown as given (after dropping control
/// characters); dates are already formatted (`YYYY-MM-DD`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InvoiceDoc {
    pub number: String,
    pub status: String,
    pub issued_at: String,
    pub due_at: String,
    pub paid_at: Option<String>,
    pub issuer: Party,
    pub recipient: Party,
    pub contract_title: String,
    pub contract_id: String,
    /// ISO 4217 code, e.g. "USD" or "EUR".
    pub currency: String,
    pub lines: Vec<InvoiceLine>,
    /// In the currency's minor unit; shown as given, not recomputed from the lines.
    pub total_minor: i64,
}

/// Errors while rendering an invoice.
#[derive(Debug, thiserror::Error)]
pub enum PdfError {
    #[error("the embedded font could not be read: {0}")]
    Font(String),
    #[error("writing the PDF: {0}")]
    Render(String),
}

/// Renders one invoice as a PDF document (A4, one or more pages) and returns its bytes.
///
/// The output depends only on `doc` (no timestamps), so the same invoice always gives the same
/// bytes. Safe to call from several threads at once; the fonts are read once per process.
pub fn render_invoice(doc: &InvoiceDoc) -> Result<Vec<u8>, PdfError> {
    let fonts = fonts()?;
    let pages = layout(doc, fonts);
    draw(doc, fonts, &pages)
}

/// The renderer's version: raise it whenever the same [`InvoiceDoc`] would render to other
/// bytes (layout, fonts, krilla's output), so PDFs kept from an older renderer render again.
pub const RENDERER_VERSION: u32 = 1;

/// The SHA-256 (hex) of everything an invoice's PDF shows, and of the renderer's version: two
/// documents with the same hash render to the same bytes, so a PDF kept under this hash can
/// stand in for rendering `doc` again.
pub fn content_hash(doc: &InvoiceDoc) -> String {
    use sha2::{Digest, Sha256};
    fn text(h: &mut Sha256, s: &str) {
        h.update((s.len() as u64).to_le_bytes());
        h.update(s.as_bytes());
    }
    let mut h = Sha256::new();
    text(&mut h, env!("CARGO_PKG_VERSION"));
    h.update(RENDERER_VERSION.to_le_bytes());
    for s in [
        &doc.number,
        &doc.status,
        &doc.issued_at,
        &doc.due_at,
        &doc.issuer.name,
        &doc.issuer.id,
        &doc.recipient.name,
        &doc.recipient.id,
        &doc.contract_title,
        &doc.contract_id,
        &doc.currency,
    ] {
        text(&mut h, s);
    }
    match &doc.paid_at {
        Some(p) => {
            h.update([1]);
            text(&mut h, p);
        }
        None => h.update([0]),
    }
    h.update((doc.lines.len() as u64).to_le_bytes());
    for l in &doc.lines {
        text(&mut h, &l.description);
        h.update(l.amount_minor.to_le_bytes());
    }
    h.update(doc.total_minor.to_le_bytes());
    hex::encode(h.finalize())
}

/// Formats an amount in minor units with two decimals and thousands separators, followed by the
/// currency: `format_amount(123450, "USD")` is `"1,234.50 USD"`.
pub fn format_amount(amount_minor: i64, currency: &str) -> String {
    let abs = amount_minor.unsigned_abs();
    let digits = (abs / 100).to_string();
    let mut out = String::with_capacity(digits.len() * 4 / 3 + 8 + currency.len());
    if amount_minor < 0 {
        out.push('-');
    }
    for (i, d) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(d);
    }
    out.push('.');
    let cents = abs % 100;
    out.push(char::from(b'0' + (cents / 10) as u8));
    out.push(char::from(b'0' + (cents % 10) as u8));
    if !currency.is_empty() {
        out.push(' ');
        out.push_str(currency);
    }
    out
}
