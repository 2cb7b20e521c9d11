//! Characters that change how text looks without being seen: a name holding them can pass for
//! another (`Invoice\u{202E}fdp.html` shows as "Invoice…lmth.pdf").

/// True for characters that are invisible or reorder the text around them: the bidirectional
/// embeddings, overrides and isolates (U+202A–U+202E, U+2066–U+2069), the marks U+200E,
/// U+200F and U+061C, zero-width characters (U+200B–U+200D, U+2060–U+2064, U+FEFF), the soft
/// hyphen, the Mongolian vowel separator, the interlinear annotation marks, and every C0 and
/// C1 control character (line breaks and tabs included).
pub fn is_invisible_control(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{00AD}'
                | '\u{061C}'
                | '\u{180E}'
                | '\u{200B}'..='\u{200F}'
                | '\u{202A}'..='\u{202E}'
                | '\u{2060}'..='\u{2064}'
                | '\u{2066}'..='\u{2069}'
                | '\u{FEFF}'
                | '\u{FFF9}'..='\u{FFFB}'
        )
}

/// The first character of a name (a display name, a headline, a title, a file name) that could
/// make it pass for another: any of [`is_invisible_control`] except the zero-width joiner and
/// non-joiner, which Persian, Indic scripts and emoji sequences need and which cannot reorder
/// text, and except line breaks and tabs, which show as what they are.
pub fn first_spoofing_char(s: &str) -> Option<char> {
    s.chars().find(|&c| {
        is_invisible_control(c) && !matches!(c, '\u{200C}' | '\u{200D}' | '\n' | '\r' | '\t')
    })
}

/// `s` with every invisible or reordering character written out as `[U+XXXX]`, so a person
/// sees what a name really holds.
pub fn show_invisible(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if is_invisible_control(c) {
            out.push_str(&format!("[U+{:04X}]", c as u32));
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bidi_and_invisible_characters_are_recognized() {
        for c in [
            '\u{202E}', '\u{202A}', '\u{2066}', '\u{2069}', '\u{200B}', '\u{200F}', '\u{061C}',
            '\u{FEFF}', '\u{0}', '\u{1B}', '\u{85}', '\u{9F}', '\u{AD}', '\u{2060}',
        ] {
            assert!(is_invisible_control(c), "U+{:04X}", c as u32);
        }
        for c in ['a', 'é', 'ж', '中', ' ', '\u{00A0}', '-', '.', 'ـ'] {
            assert!(!is_invisible_control(c), "U+{:04X}", c as u32);
        }
        assert_eq!(first_spoofing_char("Ann\u{202E}nnA"), Some('\u{202E}'));
        assert_eq!(first_spoofing_char("a\u{2067}b"), Some('\u{2067}'));
        assert_eq!(first_spoofing_char("a\nb\tc\r"), None);
        assert_eq!(first_spoofing_char("a\u{1b}b"), Some('\u{1b}'));
        // Joiners are part of writing, not tricks.
        assert_eq!(first_spoofing_char("\u{645}\u{200C}\u{6CC}"), None);
        assert_eq!(first_spoofing_char("\u{1F469}\u{200D}\u{1F4BB} Ana"), None);
        assert_eq!(
            show_invisible("Invoice\u{202E}fdp.html"),
            "Invoice[U+202E]fdp.html"
        );
    }
}
