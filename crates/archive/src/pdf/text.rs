//! Text clean-up: what hostile input is reduced to before it is measured and drawn.

use unicode_normalization::UnicodeNormalization;

/// Characters dropped from all text: bidirectional controls (this layout does no bidi),
/// byte order marks, soft hyphens, variation selectors and tags.
pub(super) fn is_dropped(c: char) -> bool {
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
pub(super) fn is_nonbreaking_space(c: char) -> bool {
    matches!(c, '\u{00A0}' | '\u{2007}' | '\u{202F}')
}

/// NFC, without control or invisible formatting characters; runs of white space become one
/// space. With `multiline`, line breaks are kept (at most one blank line in a row), otherwise
/// they become spaces too.
pub(super) fn clean(text: &str, multiline: bool) -> String {
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
pub(super) fn needs_shaping(c: char) -> bool {
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
