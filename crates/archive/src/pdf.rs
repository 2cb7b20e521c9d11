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

use std::sync::LazyLock;

use krilla::color::rgb;
use krilla::geom::{PathBuilder, Point, Rect};
use krilla::metadata::Metadata;
use krilla::page::PageSettings;
use krilla::paint::Fill;
use krilla::surface::Surface;
use krilla::text::{Font, GlyphId, KrillaGlyph, TextDirection};
use krilla::{Document, SerializeSettings};
use unicode_normalization::UnicodeNormalization;

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

// ---------------------------------------------------------------------------------------------
// Fonts

const REGULAR_TTF: &[u8] = include_bytes!("../assets/fonts/DejaVuSans.ttf");
const BOLD_TTF: &[u8] = include_bytes!("../assets/fonts/DejaVuSans-Bold.ttf");

struct Fonts {
    regular: Face,
    bold: Face,
}

/// One weight: its metrics, and where its glyphs start in the font both weights share.
struct Face {
    font: Font,
    metrics: Metrics,
    first_glyph: u16,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Weight {
    Regular,
    Bold,
}

impl Fonts {
    fn face(&self, weight: Weight) -> &Face {
        match weight {
            Weight::Regular => &self.regular,
            Weight::Bold => &self.bold,
        }
    }
}

/// Read once per process. Both weights go into one font program (see `merge_fonts`): krilla
/// subsets, measures and compresses each font of each document anew, and that work is most of
/// the cost of an invoice, so one font instead of two nearly halves it. krilla's `Font` is
/// reference-counted: every document shares the parsed font.
static FONTS: LazyLock<Result<Fonts, String>> = LazyLock::new(|| {
    let metrics = |data, name| Metrics::parse(data).ok_or_else(|| format!("{name}: unreadable"));
    let regular = metrics(REGULAR_TTF, "DejaVuSans.ttf")?;
    let bold = metrics(BOLD_TTF, "DejaVuSans-Bold.ttf")?;
    if regular.units_per_em != bold.units_per_em {
        return Err("the two weights differ in units per em".to_string());
    }
    let merged = merge_fonts(REGULAR_TTF, BOLD_TTF).ok_or("the fonts could not be merged")?;
    let font = Font::new(merged.into(), 0).ok_or("the merged font is unreadable")?;
    let first_bold = u16::try_from(regular.advances.len()).map_err(|e| e.to_string())?;
    Ok(Fonts {
        regular: Face {
            font: font.clone(),
            metrics: regular,
            first_glyph: 0,
        },
        bold: Face {
            font,
            metrics: bold,
            first_glyph: first_bold,
        },
    })
});

fn fonts() -> Result<&'static Fonts, PdfError> {
    FONTS.as_ref().map_err(|e| PdfError::Font(e.clone()))
}

impl Face {
    /// The width of `text` in points at `size`, as `draw_line` places it.
    fn width(&self, text: &str, size: f32) -> f32 {
        let m = &self.metrics;
        let mut units = 0.0;
        let mut prev = None;
        for c in text.chars() {
            let g = m.glyph(c);
            if let Some(p) = prev {
                units += m.kern(p, g);
            }
            units += m.advance(g);
            prev = Some(g);
        }
        units * size / m.units_per_em
    }
}

/// What the layout needs from a TrueType font: the character map, advance widths and the
/// kerning pairs of the `kern` table.
struct Metrics {
    units_per_em: f32,
    /// The glyph of each code point of the Basic Multilingual Plane (0: none).
    bmp: Box<[u16]>,
    /// Ranges above the BMP: first code point, last code point, glyph of the first.
    astral: Vec<(u32, u32, u32)>,
    advances: Box<[u16]>,
    /// `(left << 16 | right, adjustment)`, sorted by key.
    kerning: Vec<(u32, i16)>,
}

fn be16(d: &[u8], at: usize) -> Option<u16> {
    let b = d.get(at..at.checked_add(2)?)?;
    Some(u16::from_be_bytes([b[0], b[1]]))
}

fn be32(d: &[u8], at: usize) -> Option<u32> {
    let b = d.get(at..at.checked_add(4)?)?;
    Some(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
}

fn font_table<'a>(font: &'a [u8], tag: &[u8; 4]) -> Option<&'a [u8]> {
    let count = usize::from(be16(font, 4)?);
    (0..count).find_map(|i| {
        let record = 12 + 16 * i;
        if font.get(record..record + 4)? != tag {
            return None;
        }
        let offset = be32(font, record + 8)? as usize;
        let len = be32(font, record + 12)? as usize;
        font.get(offset..offset.checked_add(len)?)
    })
}

impl Metrics {
    fn parse(font: &[u8]) -> Option<Self> {
        let head = font_table(font, b"head")?;
        let units_per_em = f32::from(be16(head, 18)?.max(16));

        let num_glyphs = usize::from(be16(font_table(font, b"maxp")?, 4)?);
        let long_metrics = usize::from(be16(font_table(font, b"hhea")?, 34)?);
        let hmtx = font_table(font, b"hmtx")?;
        let mut advances = Vec::with_capacity(num_glyphs);
        let mut last = 0;
        for g in 0..num_glyphs {
            if g < long_metrics {
                last = be16(hmtx, 4 * g)?;
            }
            advances.push(last);
        }

        let mut bmp = vec![0u16; 0x10000].into_boxed_slice();
        let mut astral = Vec::new();
        read_cmap(font_table(font, b"cmap")?, &mut bmp, &mut astral)?;

        let kerning = font_table(font, b"kern").map(read_kern).unwrap_or_default();

        Some(Metrics {
            units_per_em,
            bmp,
            astral,
            advances: advances.into_boxed_slice(),
            kerning,
        })
    }

    fn glyph(&self, c: char) -> u16 {
        let c = u32::from(c);
        if c < 0x10000 {
            return self.bmp[c as usize];
        }
        let i = self.astral.partition_point(|&(_, last, _)| last < c);
        match self.astral.get(i) {
            Some(&(first, _, glyph)) if first <= c => {
                u16::try_from(glyph.saturating_add(c - first)).unwrap_or(0)
            }
            _ => 0,
        }
    }

    /// In font units.
    fn advance(&self, glyph: u16) -> f32 {
        let g = usize::from(glyph);
        f32::from(
            self.advances
                .get(g)
                .or(self.advances.last())
                .copied()
                .unwrap_or(0),
        )
    }

    /// In font units.
    fn kern(&self, left: u16, right: u16) -> f32 {
        if self.kerning.is_empty() {
            return 0.0;
        }
        let key = u32::from(left) << 16 | u32::from(right);
        match self.kerning.binary_search_by_key(&key, |&(k, _)| k) {
            Ok(i) => f32::from(self.kerning[i].1),
            Err(_) => 0.0,
        }
    }
}

/// Fills `bmp` and `astral` from the format 12 (full Unicode) subtable, which DejaVu has.
fn read_cmap(cmap: &[u8], bmp: &mut [u16], astral: &mut Vec<(u32, u32, u32)>) -> Option<()> {
    let at = (0..usize::from(be16(cmap, 2)?)).find_map(|i| {
        let record = 4 + 8 * i;
        let (platform, encoding) = (be16(cmap, record)?, be16(cmap, record + 2)?);
        let offset = be32(cmap, record + 4)? as usize;
        let full = matches!((platform, encoding), (3, 10) | (0, 4) | (0, 6));
        (full && be16(cmap, offset)? == 12).then_some(offset)
    })?;
    for i in 0..be32(cmap, at + 12)? as usize {
        let g = at + 16 + 12 * i;
        let (first, last, glyph) = (be32(cmap, g)?, be32(cmap, g + 4)?, be32(cmap, g + 8)?);
        let last = last.min(0x10FFFF);
        for c in first..=last.min(0xFFFF) {
            bmp[c as usize] = u16::try_from(glyph.saturating_add(c - first)).unwrap_or(0);
        }
        if last >= 0x10000 {
            let from = first.max(0x10000);
            astral.push((from, last, glyph.saturating_add(from - first)));
        }
    }
    astral.sort_unstable();
    Some(())
}

/// The horizontal kerning pairs of a version 0 `kern` table (format 0 subtables).
fn read_kern(kern: &[u8]) -> Vec<(u32, i16)> {
    let mut pairs = Vec::new();
    if be16(kern, 0) != Some(0) {
        return pairs;
    }
    let mut at = 4;
    for _ in 0..be16(kern, 2).unwrap_or(0) {
        let (Some(length), Some(coverage)) = (be16(kern, at + 2), be16(kern, at + 4)) else {
            break;
        };
        // Horizontal, format 0, not minimum values, not cross-stream.
        if coverage & 0xFF0F == 0x0001 {
            let count = usize::from(be16(kern, at + 6).unwrap_or(0));
            for i in 0..count {
                let p = at + 14 + 6 * i;
                let (Some(key), Some(value)) = (be32(kern, p), be16(kern, p + 4)) else {
                    break;
                };
                pairs.push((key, value as i16));
            }
            // The length field overflows for big subtables; the pair count does not.
            at += 14 + 6 * count;
        } else {
            at += usize::from(length);
        }
    }
    pairs.sort_unstable_by_key(|&(k, _)| k);
    pairs.dedup_by_key(|&mut (k, _)| k);
    pairs
}

/// The glyphs of a TrueType font, read from its `loca`, `glyf`, `hhea` and `hmtx` tables.
struct Glyphs<'a> {
    loca: &'a [u8],
    long_loca: bool,
    glyf: &'a [u8],
    hmtx: &'a [u8],
    long_metrics: usize,
    count: usize,
}

impl<'a> Glyphs<'a> {
    fn read(font: &'a [u8]) -> Option<Self> {
        Some(Glyphs {
            loca: font_table(font, b"loca")?,
            long_loca: be16(font_table(font, b"head")?, 50)? != 0,
            glyf: font_table(font, b"glyf")?,
            hmtx: font_table(font, b"hmtx")?,
            long_metrics: usize::from(be16(font_table(font, b"hhea")?, 34)?.max(1)),
            count: usize::from(be16(font_table(font, b"maxp")?, 4)?),
        })
    }

    fn outline(&self, g: usize) -> Option<&'a [u8]> {
        let offset = |g: usize| -> Option<usize> {
            Some(if self.long_loca {
                be32(self.loca, 4 * g)? as usize
            } else {
                2 * usize::from(be16(self.loca, 2 * g)?)
            })
        };
        self.glyf.get(offset(g)?..offset(g + 1)?)
    }

    /// Advance width and left side bearing, as an `hmtx` long metric.
    fn metric(&self, g: usize) -> Option<[u8; 4]> {
        let n = self.long_metrics;
        let advance = be16(self.hmtx, 4 * (g.min(n - 1)))?;
        let lsb = if g < n {
            be16(self.hmtx, 4 * g + 2)?
        } else {
            be16(self.hmtx, 4 * n + 2 * (g - n))?
        };
        let [a, b] = advance.to_be_bytes();
        let [c, d] = lsb.to_be_bytes();
        Some([a, b, c, d])
    }
}

/// One TrueType font with the glyphs of `first` and then those of `second` (whose glyph ids
/// are shifted by the number of glyphs in `first`), without hinting. Everything else (the
/// character map, kerning, names, the licence) is `first`'s; drawing the second font's glyphs
/// is done by glyph id, with the second font's own metrics.
///
/// Hinting (the instructions of every glyph and the tables only they use) is dropped: it only
/// matters when rasterising at small pixel sizes, most PDF viewers ignore it, and it would be
/// embedded, and compressed, with every document. Glyph names (`post` format 2) go too; PDF
/// does not use them.
fn merge_fonts(first: &[u8], second: &[u8]) -> Option<Vec<u8>> {
    let sources = [Glyphs::read(first)?, Glyphs::read(second)?];
    let total = u16::try_from(sources[0].count + sources[1].count).ok()?;

    let mut glyf = Vec::with_capacity(sources[0].glyf.len() + sources[1].glyf.len());
    let mut loca = Vec::with_capacity(4 * (usize::from(total) + 1));
    let mut hmtx = Vec::with_capacity(4 * usize::from(total));
    let mut shift = 0u16;
    for source in &sources {
        for g in 0..source.count {
            loca.extend_from_slice(&u32::try_from(glyf.len()).ok()?.to_be_bytes());
            hmtx.extend_from_slice(&source.metric(g)?);
            let glyph = source.outline(g)?;
            if glyph.is_empty() {
                continue;
            }
            glyf.extend_from_slice(glyph.get(..10)?);
            let contours = be16(glyph, 0)? as i16;
            if contours >= 0 {
                // End points, then the instructions' length and the instructions.
                let at = 10 + 2 * contours as usize;
                let points = glyph.get(at + 2 + usize::from(be16(glyph, at)?)..)?;
                let points_len = if contours == 0 {
                    0
                } else {
                    let last_point = be16(glyph, at - 2)?;
                    simple_points_len(points, usize::from(last_point) + 1)?
                };
                glyf.extend_from_slice(glyph.get(10..at)?);
                glyf.extend_from_slice(&[0, 0]);
                glyf.extend_from_slice(points.get(..points_len)?);
            } else {
                // Components; instructions, if any, follow the last one.
                let mut at = 10;
                loop {
                    let flags = be16(glyph, at)?;
                    let arguments = if flags & 0x0001 != 0 { 4 } else { 2 };
                    let scale = match flags {
                        f if f & 0x0008 != 0 => 2,
                        f if f & 0x0040 != 0 => 4,
                        f if f & 0x0080 != 0 => 8,
                        _ => 0,
                    };
                    let component = be16(glyph, at + 2)?.checked_add(shift)?;
                    glyf.extend_from_slice(&(flags & !0x0100).to_be_bytes());
                    glyf.extend_from_slice(&component.to_be_bytes());
                    glyf.extend_from_slice(glyph.get(at + 4..at + 4 + arguments + scale)?);
                    at += 4 + arguments + scale;
                    if flags & 0x0020 == 0 {
                        break;
                    }
                }
            }
            glyf.resize(glyf.len().next_multiple_of(4), 0);
        }
        shift = u16::try_from(source.count).ok()?;
    }
    loca.extend_from_slice(&u32::try_from(glyf.len()).ok()?.to_be_bytes());

    let pair = |tag: &[u8; 4]| Some((font_table(first, tag)?, font_table(second, tag)?));
    let field = |table: &[u8], at: usize| be16(table, at).map(|v| v as i16);
    let mut head = font_table(first, b"head")?.to_vec();
    let heads = pair(b"head")?;
    for (at, larger) in [(36, false), (38, false), (40, true), (42, true)] {
        let (a, b) = (field(heads.0, at)?, field(heads.1, at)?);
        let v = if larger { a.max(b) } else { a.min(b) };
        head.get_mut(at..at + 2)?.copy_from_slice(&v.to_be_bytes());
    }
    head.get_mut(50..52)?.copy_from_slice(&1u16.to_be_bytes()); // long `loca`

    let mut hhea = font_table(first, b"hhea")?.to_vec();
    let hheas = pair(b"hhea")?;
    for (at, larger) in [(10, true), (12, false), (14, false), (16, true)] {
        let (a, b) = (field(hheas.0, at)?, field(hheas.1, at)?);
        let v = if at == 10 {
            (a as u16).max(b as u16) as i16
        } else if larger {
            a.max(b)
        } else {
            a.min(b)
        };
        hhea.get_mut(at..at + 2)?.copy_from_slice(&v.to_be_bytes());
    }
    hhea.get_mut(34..36)?.copy_from_slice(&total.to_be_bytes());

    let mut maxp = font_table(first, b"maxp")?.to_vec();
    let maxps = pair(b"maxp")?;
    maxp.get_mut(4..6)?.copy_from_slice(&total.to_be_bytes());
    for at in (6..maxp.len().min(maxps.1.len())).step_by(2) {
        let v = be16(maxps.0, at)?.max(be16(maxps.1, at)?);
        maxp.get_mut(at..at + 2)?.copy_from_slice(&v.to_be_bytes());
    }

    let mut post = font_table(first, b"post")?.get(..32)?.to_vec();
    post[..4].copy_from_slice(&0x0003_0000u32.to_be_bytes());

    let mut tables: Vec<([u8; 4], &[u8])> = Vec::new();
    for i in 0..usize::from(be16(first, 4)?) {
        let record = 12 + 16 * i;
        let tag: [u8; 4] = first.get(record..record + 4)?.try_into().ok()?;
        let data: &[u8] = match &tag {
            b"cvt " | b"fpgm" | b"prep" | b"hdmx" | b"LTSH" | b"VDMX" | b"gasp" => continue,
            b"glyf" => &glyf,
            b"loca" => &loca,
            b"hmtx" => &hmtx,
            b"head" => &head,
            b"hhea" => &hhea,
            b"maxp" => &maxp,
            b"post" => &post,
            _ => font_table(first, &tag)?,
        };
        tables.push((tag, data));
    }
    Some(sfnt(&tables))
}

/// The length of a simple glyph's flags and coordinates for `count` points.
fn simple_points_len(data: &[u8], count: usize) -> Option<usize> {
    let (mut at, mut seen, mut coordinates) = (0, 0, 0);
    while seen < count {
        let flags = *data.get(at)?;
        at += 1;
        let mut times = 1;
        if flags & 0x08 != 0 {
            times += usize::from(*data.get(at)?);
            at += 1;
        }
        let x = match flags & 0x12 {
            0x02 | 0x12 => 1,
            0x10 => 0,
            _ => 2,
        };
        let y = match flags & 0x24 {
            0x04 | 0x24 => 1,
            0x20 => 0,
            _ => 2,
        };
        coordinates += times * (x + y);
        seen += times;
    }
    Some(at + coordinates)
}

/// A TrueType font file of `tables` (sorted by tag, as the format wants).
fn sfnt(tables: &[([u8; 4], &[u8])]) -> Vec<u8> {
    let mut tables = tables.to_vec();
    tables.sort_by_key(|&(tag, _)| tag);
    let count = tables.len() as u16;
    let mut power = 1u16;
    while power * 2 <= count {
        power *= 2;
    }
    let mut out = Vec::new();
    out.extend_from_slice(&0x0001_0000u32.to_be_bytes());
    for v in [
        count,
        power * 16,
        power.trailing_zeros() as u16,
        count * 16 - power * 16,
    ] {
        out.extend_from_slice(&v.to_be_bytes());
    }
    let mut offset = 12 + 16 * tables.len();
    for (tag, data) in &tables {
        let checksum = data.chunks(4).fold(0u32, |sum, chunk| {
            let mut word = [0u8; 4];
            word[..chunk.len()].copy_from_slice(chunk);
            sum.wrapping_add(u32::from_be_bytes(word))
        });
        out.extend_from_slice(tag);
        out.extend_from_slice(&checksum.to_be_bytes());
        out.extend_from_slice(&(offset as u32).to_be_bytes());
        out.extend_from_slice(&(data.len() as u32).to_be_bytes());
        offset += data.len().next_multiple_of(4);
    }
    for (_, data) in &tables {
        out.extend_from_slice(data);
        out.resize(out.len().next_multiple_of(4), 0);
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Text clean-up

/// Characters dropped from all text: bidirectional controls (this layout does no bidi),
/// byte order marks, soft hyphens, variation selectors and tags.
fn is_dropped(c: char) -> bool {
    matches!(
        u32::from(c),
        0x00AD
            | 0x061C
            | 0x200E
            | 0x200F
            | 0x202A..=0x202E
            | 0x2060..=0x2069
            | 0xFE00..=0xFE0F
            | 0xFEFF
            | 0xFFF9..=0xFFFB
            | 0xE0000..=0xE0FFF
    ) || (c.is_control() && !c.is_whitespace())
}

/// Spaces that must not become a line break.
fn is_nonbreaking_space(c: char) -> bool {
    matches!(c, '\u{00A0}' | '\u{2007}' | '\u{202F}')
}

/// NFC, without control or invisible formatting characters; runs of white space become one
/// space. With `multiline`, line breaks are kept (at most one blank line in a row), otherwise
/// they become spaces too.
fn clean(text: &str, multiline: bool) -> String {
    let mut lines: Vec<String> = Vec::new();
    let mut line = String::with_capacity(text.len().min(4096));
    let mut space = false;
    let mut prev = '\0';
    let mut feed = |c: char| {
        let after_cr = std::mem::replace(&mut prev, c) == '\r';
        if c == '\n' && after_cr {
            return; // "\r\n" is one line break
        }
        if matches!(
            c,
            '\n' | '\r' | '\u{0B}' | '\u{0C}' | '\u{85}' | '\u{2028}' | '\u{2029}'
        ) {
            if multiline {
                lines.push(std::mem::take(&mut line));
                space = false;
            } else {
                space = true;
            }
        } else if c.is_whitespace() && !is_nonbreaking_space(c) {
            space = true;
        } else if !is_dropped(c) {
            if space && !line.is_empty() {
                line.push(' ');
            }
            space = false;
            line.push(c);
        }
    };
    if text.is_ascii() {
        text.chars().for_each(&mut feed);
    } else {
        text.nfc().for_each(&mut feed);
    }
    if !multiline {
        return line;
    }
    lines.push(line);
    // At most one blank line in a row, none at the start or the end.
    let mut out = String::with_capacity(text.len());
    let mut blank_pending = false;
    for l in lines {
        if l.is_empty() {
            blank_pending = !out.is_empty();
        } else {
            if !out.is_empty() {
                out.push('\n');
                if blank_pending {
                    out.push('\n');
                }
            }
            out.push_str(&l);
            blank_pending = false;
        }
    }
    out
}

/// Whether drawing `c` needs a shaper: joining scripts, scripts with reordering or stacking,
/// combining marks that NFC left alone, zero-width joiners, anything above the BMP.
fn needs_shaping(c: char) -> bool {
    matches!(
        u32::from(c),
        0x0300..=0x036F
            | 0x0483..=0x0489
            | 0x0591..=0x08FF
            | 0x0900..=0x0DFF
            | 0x0E00..=0x0FFF
            | 0x1000..=0x109F
            | 0x1700..=0x18AF
            | 0x1AB0..=0x1AFF
            | 0x1DC0..=0x1DFF
            | 0x200C..=0x200D
            | 0x20D0..=0x20FF
            | 0xFB1D..=0xFDFF
            | 0xFE20..=0xFE2F
            | 0xFE70..=0xFEFF
            | 0x10000..
    )
}

// ---------------------------------------------------------------------------------------------
// Layout

/// A4 in points.
const PAGE_W: f32 = 595.276;
const PAGE_H: f32 = 841.89;
const MARGIN: f32 = 56.7;
const CONTENT_W: f32 = PAGE_W - 2.0 * MARGIN;
const RIGHT: f32 = PAGE_W - MARGIN;
/// Content stops here; the footer sits below.
const BOTTOM: f32 = PAGE_H - 64.0;
const FOOTER_BASELINE: f32 = PAGE_H - 34.0;
const LEADING: f32 = 1.35;

const BODY: f32 = 10.0;
const SMALL: f32 = 8.5;
const TITLE: f32 = 20.0;

/// A gray level, 0 for black.
#[derive(Clone, Copy)]
struct Ink(u8);

const BLACK: Ink = Ink(0);
const GRAY: Ink = Ink(96);
const LIGHT: Ink = Ink(200);

struct TextOp {
    x: f32,
    /// The baseline.
    y: f32,
    size: f32,
    weight: Weight,
    ink: Ink,
    text: String,
}

struct RuleOp {
    x: f32,
    y: f32,
    w: f32,
    h: f32,
    ink: Ink,
}

#[derive(Default)]
struct PageOps {
    texts: Vec<TextOp>,
    rules: Vec<RuleOp>,
}

/// A styled run of text to wrap: size, weight, ink.
#[derive(Clone, Copy)]
struct Style {
    size: f32,
    weight: Weight,
    ink: Ink,
}

impl Style {
    const fn new(size: f32, weight: Weight, ink: Ink) -> Self {
        Style { size, weight, ink }
    }

    fn line_height(self) -> f32 {
        self.size * LEADING
    }
}

const BODY_STYLE: Style = Style::new(BODY, Weight::Regular, BLACK);
const LABEL_STYLE: Style = Style::new(SMALL, Weight::Regular, GRAY);
const HEAD_STYLE: Style = Style::new(SMALL, Weight::Bold, GRAY);

struct Layout<'a> {
    fonts: &'a Fonts,
    pages: Vec<PageOps>,
    /// The top of the next line.
    y: f32,
    /// Shown at the top of every page after the first.
    running_head: String,
}

impl<'a> Layout<'a> {
    fn new(fonts: &'a Fonts, running_head: String) -> Self {
        let mut layout = Layout {
            fonts,
            pages: Vec::new(),
            y: MARGIN,
            running_head,
        };
        layout.new_page();
        layout
    }

    fn new_page(&mut self) {
        self.pages.push(PageOps::default());
        self.y = MARGIN;
        if self.pages.len() > 1 {
            let head = self.fit(&self.running_head, LABEL_STYLE, CONTENT_W);
            self.text(MARGIN, LABEL_STYLE, head);
            self.y += LABEL_STYLE.line_height() + 10.0;
        }
    }

    /// Starts a new page unless `height` more fits on this one. True if it did.
    fn ensure(&mut self, height: f32) -> bool {
        if self.y + height > BOTTOM && self.y > MARGIN + 40.0 {
            self.new_page();
            true
        } else {
            false
        }
    }

    fn page(&mut self) -> &mut PageOps {
        self.pages.last_mut().expect("a layout always has a page")
    }

    /// Places one line whose top is the current `y`.
    fn text(&mut self, x: f32, style: Style, text: String) {
        if text.is_empty() {
            return;
        }
        let y = self.y + style.size;
        self.page().texts.push(TextOp {
            x,
            y,
            size: style.size,
            weight: style.weight,
            ink: style.ink,
            text,
        });
    }

    fn text_right(&mut self, right: f32, style: Style, text: String) {
        let w = self.fonts.face(style.weight).width(&text, style.size);
        self.text(right - w, style, text);
    }

    fn rule(&mut self, y: f32, h: f32, ink: Ink) {
        self.page().rules.push(RuleOp {
            x: MARGIN,
            y,
            w: CONTENT_W,
            h,
            ink,
        });
    }

    /// Flows wrapped text at `x`, breaking pages between lines.
    fn paragraph(&mut self, x: f32, width: f32, style: Style, text: &str) {
        for line in self.wrap(text, style, width) {
            self.ensure(style.line_height());
            self.text(x, style, line);
            self.y += style.line_height();
        }
    }

    /// Breaks `text` (from `clean`) into lines no wider than `width`: at spaces and line
    /// breaks, and inside words too long for a line.
    fn wrap(&self, text: &str, style: Style, width: f32) -> Vec<String> {
        let face = self.fonts.face(style.weight);
        let space = face.width(" ", style.size);
        let mut lines = Vec::new();
        for para in text.split('\n') {
            let mut line = String::new();
            let mut line_w = 0.0;
            for word in para.split(' ').filter(|w| !w.is_empty()) {
                let word_w = face.width(word, style.size);
                if line.is_empty() && word_w <= width {
                    line.push_str(word);
                    line_w = word_w;
                } else if !line.is_empty() && line_w + space + word_w <= width {
                    line.push(' ');
                    line.push_str(word);
                    line_w += space + word_w;
                } else {
                    if !line.is_empty() {
                        lines.push(std::mem::take(&mut line));
                        line_w = 0.0;
                    }
                    if word_w <= width {
                        line.push_str(word);
                        line_w = word_w;
                    } else {
                        // Too long for any line: break it where it reaches the edge.
                        for c in word.chars() {
                            let c_w = face.width(c.encode_utf8(&mut [0; 4]), style.size);
                            if !line.is_empty() && line_w + c_w > width && c_w > 0.0 {
                                lines.push(std::mem::take(&mut line));
                                line_w = 0.0;
                            }
                            line.push(c);
                            line_w += c_w;
                        }
                    }
                }
            }
            lines.push(line);
        }
        lines
    }

    /// `text` on one line, cut with an ellipsis if it is wider than `width`.
    fn fit(&self, text: &str, style: Style, width: f32) -> String {
        let face = self.fonts.face(style.weight);
        if face.width(text, style.size) <= width {
            return text.to_string();
        }
        let room = width - face.width("…", style.size);
        let mut out = String::new();
        let mut w = 0.0;
        for c in text.chars() {
            w += face.width(c.encode_utf8(&mut [0; 4]), style.size);
            if w > room {
                break;
            }
            out.push(c);
        }
        out.push('…');
        out
    }
}

fn or_dash(text: String) -> String {
    if text.is_empty() {
        "—".to_string()
    } else {
        text
    }
}

fn layout(doc: &InvoiceDoc, fonts: &Fonts) -> Vec<PageOps> {
    let number = clean(&doc.number, false);
    let currency = clean(&doc.currency, false);
    let title = format!("Invoice {number}");
    let mut l = Layout::new(fonts, format!("{title} (continued)"));

    l.paragraph(
        MARGIN,
        CONTENT_W,
        Style::new(TITLE, Weight::Bold, BLACK),
        &title,
    );
    l.y += 14.0;

    parties(&mut l, &doc.issuer, &doc.recipient);
    l.y += 16.0;

    let mut details = vec![
        ("Invoice number", number),
        ("Status", clean(&doc.status, false)),
        ("Issued", clean(&doc.issued_at, false)),
        ("Due", clean(&doc.due_at, false)),
    ];
    if let Some(paid) = &doc.paid_at {
        details.push(("Paid", clean(paid, false)));
    }
    details.push(("Contract", clean(&doc.contract_title, false)));
    details.push(("Contract ID", clean(&doc.contract_id, false)));
    const LABEL_W: f32 = 96.0;
    for (label, value) in details {
        let lines = l.wrap(&or_dash(value), BODY_STYLE, CONTENT_W - LABEL_W);
        for (i, line) in lines.into_iter().enumerate() {
            l.ensure(BODY_STYLE.line_height());
            if i == 0 {
                // Share the value's baseline.
                l.y += BODY - SMALL;
                l.text(MARGIN, LABEL_STYLE, label.to_string());
                l.y -= BODY - SMALL;
            }
            l.text(MARGIN + LABEL_W, BODY_STYLE, line);
            l.y += BODY_STYLE.line_height();
        }
    }
    l.y += 22.0;

    lines_table(&mut l, doc, &currency);
    l.pages
}

/// "From" and "To", side by side if they fit on the page, one after the other if not.
fn parties(l: &mut Layout, issuer: &Party, recipient: &Party) {
    const GUTTER: f32 = 24.0;
    let column_w = (CONTENT_W - GUTTER) / 2.0;
    let name_style = Style::new(11.0, Weight::Regular, BLACK);
    let column = |l: &Layout, label: &str, party: &Party| {
        let mut lines = vec![(HEAD_STYLE, label.to_string())];
        let name = or_dash(clean(&party.name, false));
        for line in l.wrap(&name, name_style, column_w) {
            lines.push((name_style, line));
        }
        let id = format!("Account ID: {}", or_dash(clean(&party.id, false)));
        for line in l.wrap(&id, LABEL_STYLE, column_w) {
            lines.push((LABEL_STYLE, line));
        }
        lines
    };
    let columns = [column(l, "From", issuer), column(l, "To", recipient)];
    let height = |c: &[(Style, String)]| c.iter().map(|(s, _)| s.line_height()).sum::<f32>();
    let tallest = height(&columns[0]).max(height(&columns[1]));
    if l.y + tallest <= BOTTOM {
        let top = l.y;
        for (i, column) in columns.into_iter().enumerate() {
            l.y = top;
            let x = MARGIN + i as f32 * (column_w + GUTTER);
            for (style, text) in column {
                l.text(x, style, text);
                l.y += style.line_height();
            }
        }
        l.y = top + tallest;
    } else {
        for (i, column) in columns.into_iter().enumerate() {
            if i > 0 {
                l.y += 8.0;
            }
            for (style, text) in column {
                l.ensure(style.line_height());
                l.text(MARGIN, style, text);
                l.y += style.line_height();
            }
        }
    }
}

fn lines_table(l: &mut Layout, doc: &InvoiceDoc, currency: &str) {
    const GUTTER: f32 = 16.0;
    let amounts: Vec<String> = doc
        .lines
        .iter()
        .map(|line| format_amount(line.amount_minor, currency))
        .collect();
    let total = format_amount(doc.total_minor, currency);
    let total_style = Style::new(11.0, Weight::Bold, BLACK);
    let body = l.fonts.face(Weight::Regular);
    let amount_w = amounts
        .iter()
        .map(|a| body.width(a, BODY))
        .chain([
            l.fonts.face(Weight::Bold).width(&total, total_style.size),
            l.fonts.face(Weight::Bold).width("Amount", SMALL),
        ])
        .fold(0.0f32, f32::max)
        .min(CONTENT_W * 0.4);
    let description_w = CONTENT_W - amount_w - GUTTER;

    let header = |l: &mut Layout| {
        l.text(MARGIN, HEAD_STYLE, "Description".to_string());
        l.text_right(RIGHT, HEAD_STYLE, "Amount".to_string());
        l.y += HEAD_STYLE.line_height() + 2.0;
        let y = l.y;
        l.rule(y, 0.75, BLACK);
        l.y += 6.0;
    };
    l.ensure(HEAD_STYLE.line_height() + 8.0 + 2.0 * BODY_STYLE.line_height());
    header(l);

    if doc.lines.is_empty() {
        l.text(
            MARGIN,
            Style::new(BODY, Weight::Regular, GRAY),
            "No lines".to_string(),
        );
        l.y += BODY_STYLE.line_height() + 4.0;
    }
    let lh = BODY_STYLE.line_height();
    for (i, (line, amount)) in doc.lines.iter().zip(amounts).enumerate() {
        if i > 0 {
            let y = l.y;
            l.rule(y, 0.5, LIGHT);
            l.y += 5.0;
        }
        let description = or_dash(clean(&line.description, true));
        let description = l.wrap(&description, BODY_STYLE, description_w);
        let amount = l.wrap(&amount, BODY_STYLE, amount_w);
        let rows = description.len().max(amount.len());
        let mut description = description.into_iter();
        let mut amount = amount.into_iter();
        for _ in 0..rows {
            if l.ensure(lh) {
                header(l);
            }
            if let Some(text) = description.next() {
                l.text(MARGIN, BODY_STYLE, text);
            }
            if let Some(text) = amount.next() {
                l.text_right(RIGHT, BODY_STYLE, text);
            }
            l.y += lh;
        }
        l.y += 3.0;
    }

    let total_lines = l.wrap(&total, total_style, amount_w.max(CONTENT_W * 0.4));
    l.ensure(8.0 + total_lines.len() as f32 * total_style.line_height());
    let y = l.y;
    l.rule(y, 1.0, BLACK);
    l.y += 7.0;
    l.text(MARGIN, total_style, "Total".to_string());
    for text in total_lines {
        l.text_right(RIGHT, total_style, text);
        l.y += total_style.line_height();
    }
}

// ---------------------------------------------------------------------------------------------
// Drawing

fn draw(doc: &InvoiceDoc, fonts: &Fonts, pages: &[PageOps]) -> Result<Vec<u8>, PdfError> {
    let settings = SerializeSettings {
        // The title goes into the document information dictionary; XMP would only repeat it.
        xmp_metadata: false,
        enable_tagging: false,
        // An invoice's page description is a few kilobytes: compressing it costs about a fifth
        // of the rendering time and saves ~7 KB per invoice. The font program is compressed
        // regardless (krilla always does).
        compress_content_streams: false,
        ..SerializeSettings::default()
    };
    let mut document = Document::new_with(settings);
    let title: String = format!("Invoice {}", clean(&doc.number, false))
        .chars()
        .take(200)
        .collect();
    document.set_metadata(Metadata::new().title(title).creator("hiatus".to_string()));
    let page_settings = PageSettings::from_wh(PAGE_W, PAGE_H)
        .ok_or_else(|| PdfError::Render("invalid page size".to_string()))?;
    let mut glyphs = Vec::new();
    let count = pages.len();
    for (n, ops) in pages.iter().enumerate() {
        let mut page = document.start_page_with(page_settings.clone());
        let mut surface = page.surface();
        for rule in &ops.rules {
            fill_rect(&mut surface, rule);
        }
        for op in &ops.texts {
            draw_line(&mut surface, fonts.face(op.weight), op, &mut glyphs);
        }
        // Footer.
        let footer_style = Style::new(8.0, Weight::Regular, GRAY);
        fill_rect(
            &mut surface,
            &RuleOp {
                x: MARGIN,
                y: FOOTER_BASELINE - 14.0,
                w: CONTENT_W,
                h: 0.5,
                ink: LIGHT,
            },
        );
        let page_label = format!("Page {} of {count}", n + 1);
        let label_w = fonts.regular.width(&page_label, footer_style.size);
        for (x, text) in [
            (MARGIN, "Exported from hiatus".to_string()),
            (RIGHT - label_w, page_label),
        ] {
            let op = TextOp {
                x,
                y: FOOTER_BASELINE,
                size: footer_style.size,
                weight: footer_style.weight,
                ink: footer_style.ink,
                text,
            };
            draw_line(&mut surface, &fonts.regular, &op, &mut glyphs);
        }
        surface.finish();
        page.finish();
    }
    document
        .finish()
        .map_err(|e| PdfError::Render(e.to_string()))
}

fn set_ink(surface: &mut Surface, ink: Ink) {
    surface.set_fill(Some(Fill {
        paint: rgb::Color::new(ink.0, ink.0, ink.0).into(),
        ..Fill::default()
    }));
}

fn fill_rect(surface: &mut Surface, rule: &RuleOp) {
    let Some(rect) = Rect::from_xywh(rule.x, rule.y, rule.w, rule.h) else {
        return;
    };
    let mut path = PathBuilder::new();
    path.push_rect(rect);
    if let Some(path) = path.finish() {
        set_ink(surface, rule.ink);
        surface.draw_path(&path);
    }
}

/// Draws one line of text with its baseline at `op.y`.
fn draw_line(surface: &mut Surface, face: &Face, op: &TextOp, glyphs: &mut Vec<KrillaGlyph>) {
    if op.text.is_empty() {
        return;
    }
    set_ink(surface, op.ink);
    let start = Point::from_xy(op.x, op.y);
    if op.text.chars().any(needs_shaping) {
        surface.draw_text(
            start,
            face.font.clone(),
            op.size,
            &op.text,
            false,
            TextDirection::Auto,
        );
        return;
    }
    // One glyph per character, placed with the same advances and kerning `Face::width` uses.
    let m = &face.metrics;
    glyphs.clear();
    let mut prev = None;
    for (i, c) in op.text.char_indices() {
        let g = m.glyph(c);
        if let (Some(p), Some(last)) = (prev, glyphs.last_mut()) {
            last.x_advance += m.kern(p, g) / m.units_per_em;
        }
        glyphs.push(KrillaGlyph::new(
            GlyphId::new(u32::from(face.first_glyph) + u32::from(g)),
            m.advance(g) / m.units_per_em,
            0.0,
            0.0,
            0.0,
            i..i + c.len_utf8(),
            None,
        ));
        prev = Some(g);
    }
    surface.draw_glyphs(
        start,
        glyphs.as_slice(),
        face.font.clone(),
        &op.text,
        op.size,
        false,
    );
}
