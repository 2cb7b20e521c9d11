//! Both weights merged into one TrueType font program without hinting, so krilla subsets and
//! compresses one font per document instead of two.

use super::fonts::{be16, be32, font_table};

/// The glyphs of a TrueType font, read from its `loca`, `glyf`, `hhea` and `hmtx` tables.
pub(super) struct Glyphs<'a> {
    pub(super) loca: &'a [u8],
    pub(super) long_loca: bool,
    pub(super) glyf: &'a [u8],
    pub(super) hmtx: &'a [u8],
    pub(super) long_metrics: usize,
    pub(super) count: usize,
}

impl<'a> Glyphs<'a> {
    pub(super) fn read(font: &'a [u8]) -> Option<Self> {
        Some(Glyphs {
            loca: font_table(font, b"loca")?,
            long_loca: be16(font_table(font, b"head")?, 50)? != 0,
            glyf: font_table(font, b"glyf")?,
            hmtx: font_table(font, b"hmtx")?,
            long_metrics: usize::from(be16(font_table(font, b"hhea")?, 34)?.max(1)),
            count: usize::from(be16(font_table(font, b"maxp")?, 4)?),
        })
    }

    pub(super) fn outline(&self, g: usize) -> Option<&'a [u8]> {
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
    pub(super) fn metric(&self, g: usize) -> Option<[u8; 4]> {
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
pub(super) fn merge_fonts(first: &[u8], second: &[u8]) -> Option<Vec<u8>> {
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
pub(super) fn simple_points_len(data: &[u8], count: usize) -> Option<usize> {
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
pub(super) fn sfnt(tables: &[([u8; 4], &[u8])]) -> Vec<u8> {
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
