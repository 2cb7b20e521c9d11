//! The fonts: DejaVu Sans in two weights, embedded, with the metrics the layout measures text
//! with (character map, advance widths, kerning pairs), read by hand from the TrueType tables.

use super::PdfError;
use super::font_merge::merge_fonts;
use krilla::text::Font;
use std::sync::LazyLock;

pub(super) const REGULAR_TTF: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");
pub(super) const BOLD_TTF: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans-Bold.ttf");

pub(super) struct Fonts {
    pub(super) regular: Face,
    pub(super) bold: Face,
}

/// One weight: its metrics, and where its glyphs start in the font both weights share.
pub(super) struct Face {
    pub(super) font: Font,
    pub(super) metrics: Metrics,
    pub(super) first_glyph: u16,
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Weight {
    Regular,
    Bold,
}

impl Fonts {
    pub(super) fn face(&self, weight: Weight) -> &Face {
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
pub(super) static FONTS: LazyLock<Result<Fonts, String>> = LazyLock::new(|| {
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

pub(super) fn fonts() -> Result<&'static Fonts, PdfError> {
    FONTS.as_ref().map_err(|e| PdfError::Font(e.clone()))
}

impl Face {
    /// The width of `text` in points at `size`, as `draw_line` places it.
    pub(super) fn width(&self, text: &str, size: f32) -> f32 {
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
pub(super) struct Metrics {
    pub(super) units_per_em: f32,
    /// The glyph of each code point of the Basic Multilingual Plane (0: none).
    pub(super) bmp: Box<[u16]>,
    /// Ranges above the BMP: first code point, last code point, glyph of the first.
    pub(super) astral: Vec<(u32, u32, u32)>,
    pub(super) advances: Box<[u16]>,
    /// `(left << 16 | right, adjustment)`, sorted by key.
    pub(super) kerning: Vec<(u32, i16)>,
}

pub(super) fn be16(d: &[u8], at: usize) -> Option<u16> {
    let b = d.get(at..at.checked_add(2)?)?;
    Some(u16::from_be_bytes([b[0], b[1]]))
}

pub(super) fn be32(d: &[u8], at: usize) -> Option<u32> {
    let b = d.get(at..at.checked_add(4)?)?;
    Some(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
}

pub(super) fn font_table<'a>(font: &'a [u8], tag: &[u8; 4]) -> Option<&'a [u8]> {
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
    pub(super) fn parse(font: &[u8]) -> Option<Self> {
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

    pub(super) fn glyph(&self, c: char) -> u16 {
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
    pub(super) fn advance(&self, glyph: u16) -> f32 {
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
    pub(super) fn kern(&self, left: u16, right: u16) -> f32 {
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
pub(super) fn read_cmap(
    cmap: &[u8],
    bmp: &mut [u16],
    astral: &mut Vec<(u32, u32, u32)>,
) -> Option<()> {
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
pub(super) fn read_kern(kern: &[u8]) -> Vec<(u32, i16)> {
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
