//! Safe file names inside the archive: whatever a member once uploaded, the name unpacks to a
//! harmless file on any system, shows what it is (no invisible or reordering characters) and
//! does not run in a browser (see [`crate::active`]). The original name stays in the JSON data.

use crate::active::{ActiveReason, NEUTRAL_SUFFIX, active_reason};
use hiatus_domain::text::is_invisible_control;
use std::collections::HashSet;
use unicode_normalization::UnicodeNormalization;

/// Names Windows refuses for files, whatever the extension (and spaces before it): the list
/// of Python's `ntpath.isreserved`, superscript port numbers and console devices included.
const RESERVED: [&str; 30] = [
    "CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$", "COM1", "COM2", "COM3", "COM4", "COM5",
    "COM6", "COM7", "COM8", "COM9", "COM¹", "COM²", "COM³", "LPT1", "LPT2", "LPT3", "LPT4", "LPT5",
    "LPT6", "LPT7", "LPT8", "LPT9", "LPT¹", "LPT²", "LPT³",
];

/// The longest name kept, in bytes (most file systems allow 255).
const MAX_BYTES: usize = 120;

/// One path component made safe: Unicode NFC; no separators, `..`, control characters or
/// characters Windows forbids; no invisible or bidirectional formatting characters (removed:
/// `Invoice\u{202E}fdp.html` becomes `Invoicefdp.html`, which shows what it is); no leading dots or trailing dots and spaces; not a reserved
/// device name; at most 120 bytes (extension kept); never empty.
pub fn safe_name(original: &str) -> String {
    let nfc: String = original.nfc().collect();
    let mut s: String = nfc
        .chars()
        .filter(|&c| c.is_control() || !is_invisible_control(c))
        .map(|c| match c {
            '/' | '\\' | ':' | '*' | '?' | '"' | '<' | '>' | '|' => '_',
            c if c.is_control() => '_',
            c => c,
        })
        .collect();
    s = s.trim_matches(|c: char| c == ' ' || c == '.').to_string();
    while s.contains("..") {
        s = s.replace("..", ".");
    }
    if s.is_empty() {
        s = "file".to_string();
    }
    // Cut first: a cut can leave a reserved name ("CON" + spaces + more).
    let s = truncate(&s, MAX_BYTES - 1);
    let stem = s.split('.').next().unwrap_or("").trim_end_matches(' ');
    if RESERVED.contains(&stem.to_ascii_uppercase().as_str()) {
        return format!("_{s}");
    }
    s
}

fn truncate(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let (stem, ext) = match s.rfind('.') {
        Some(i) if s.len() - i <= 16 && i > 0 => (&s[..i], &s[i..]),
        _ => (s, ""),
    };
    let mut cut = max - ext.len();
    while !stem.is_char_boundary(cut) {
        cut -= 1;
    }
    // The cut may end on a space or a dot, which Windows drops from a name's end. (The name
    // does not start with either, so something is left.)
    let stem = stem[..cut].trim_end_matches([' ', '.']);
    format!("{stem}{ext}")
}

/// A name as case-insensitive file systems compare it, roughly (full case folding: to
/// Windows and macOS, `ſ` and `s` are the same letter, as `ß` and `ss` may be).
fn fold(s: &str) -> String {
    s.to_uppercase().to_lowercase()
}

/// Hands out unique safe names within one folder: a second `report.pdf` becomes
/// `report (2).pdf`. Comparison ignores case, as on the file systems most people unpack to.
#[derive(Debug, Default)]
pub struct SafeNames {
    taken: HashSet<String>,
}

impl SafeNames {
    /// A unique safe name for `original`, a name the archive itself chose (see
    /// [`SafeNames::name_for`] for uploaded files).
    pub fn name(&mut self, original: &str) -> String {
        self.unique(safe_name(original))
    }

    /// A unique safe name for an uploaded file named `original`, declared as `content_type`,
    /// whose first bytes (at least [`crate::SNIFF_BYTES`] of them, or all) are `head`; and, when
    /// a browser could run the file, why it got a neutral name instead (its safe name with
    /// `.txt` appended).
    pub fn name_for(
        &mut self,
        original: &str,
        content_type: &str,
        head: &[u8],
    ) -> (String, Option<ActiveReason>) {
        let base = safe_name(original);
        // Decided on the safe name: that is what the file unpacks as.
        let reason = active_reason(&base, content_type, head);
        let base = match reason {
            Some(_) => format!(
                "{}{NEUTRAL_SUFFIX}",
                truncate(&base, MAX_BYTES - 1 - NEUTRAL_SUFFIX.len())
            ),
            None => base,
        };
        (self.unique(base), reason)
    }

    fn unique(&mut self, base: String) -> String {
        if self.taken.insert(fold(&base)) {
            return base;
        }
        let (stem, ext) = match base.rfind('.') {
            Some(i) if i > 0 => (&base[..i], &base[i..]),
            _ => (base.as_str(), ""),
        };
        // Numbered before the extension, so a neutral name stays a `.txt` one.
        (2..)
            .map(|n| format!("{stem} ({n}){ext}"))
            .find(|candidate| self.taken.insert(fold(candidate)))
            .expect("an unused number exists")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_names_become_harmless() {
        assert_eq!(safe_name("../../etc/passwd"), "_._etc_passwd");
        assert_eq!(safe_name("/abs/path.txt"), "_abs_path.txt");
        assert_eq!(safe_name("C:\\Windows\\x.dll"), "C__Windows_x.dll");
        assert_eq!(safe_name("a\u{0}b\nc.txt"), "a_b_c.txt");
        assert_eq!(safe_name("CON"), "_CON");
        assert_eq!(safe_name("nul.txt"), "_nul.txt");
        assert_eq!(safe_name("..."), "file");
        assert_eq!(safe_name(""), "file");
        assert_eq!(safe_name(" report. "), "report");
        for n in ["../../x", "a/../b", "..\\..\\y", ".."] {
            let s = safe_name(n);
            assert!(
                !s.contains('/') && !s.contains('\\') && !s.contains("..") && !s.starts_with('.'),
                "{n} -> {s}"
            );
        }
    }

    #[test]
    fn every_windows_device_name_is_defused() {
        for n in [
            "con .txt",
            "CONIN$",
            "conout$.log",
            "COM\u{b9}.txt",
            "lpt\u{b3}",
            "nul  .tar.gz",
        ] {
            assert!(safe_name(n).starts_with('_'), "{n} -> {}", safe_name(n));
        }
        // A cut that would leave a device name, or a trailing space or dot.
        assert_eq!(safe_name(&format!("CON{}x", " ".repeat(200))), "_CON");
        let s = safe_name(&format!("{} {}", "x".repeat(119), "y".repeat(40)));
        assert_eq!(s, "x".repeat(119));
        let s = safe_name(&format!("{}.{}", "z".repeat(119), "w".repeat(20)));
        assert_eq!(s, "z".repeat(119));
    }

    #[test]
    fn unicode_is_normalized_and_long_names_keep_their_extension() {
        // "é" as e + combining accent becomes the single precomposed character.
        assert_eq!(safe_name("caf\u{65}\u{301}.txt"), "caf\u{e9}.txt");
        let long = format!("{}.pdf", "ж".repeat(200));
        let s = safe_name(&long);
        assert!(s.len() <= 120 && s.ends_with(".pdf"), "{s}");
    }

    #[test]
    fn invisible_and_bidi_controls_are_removed() {
        assert_eq!(
            safe_name("Invoice-2026-12\u{202E}fdp.html"),
            "Invoice-2026-12fdp.html"
        );
        for c in [
            '\u{202A}', '\u{202B}', '\u{202C}', '\u{202D}', '\u{202E}', '\u{2066}', '\u{2067}',
            '\u{2068}', '\u{2069}', '\u{200B}', '\u{200C}', '\u{200D}', '\u{200E}', '\u{200F}',
            '\u{061C}', '\u{FEFF}', '\u{2060}', '\u{AD}',
        ] {
            let s = safe_name(&format!("a{c}b.pdf"));
            assert_eq!(s, "ab.pdf", "U+{:04X}", c as u32);
        }
        // C0 and C1 controls become visible underscores.
        assert_eq!(safe_name("a\u{85}b\u{1b}c.txt"), "a_b_c.txt");
        // Nothing but invisible characters: still a name.
        assert_eq!(safe_name("\u{202E}\u{200B}"), "file");
        // A name that only differs by an invisible character is numbered, not repeated.
        let mut n = SafeNames::default();
        assert_eq!(n.name("report.pdf"), "report.pdf");
        assert_eq!(n.name("re\u{200B}port.pdf"), "report (2).pdf");
    }

    #[test]
    fn active_files_get_neutral_unique_names() {
        let mut n = SafeNames::default();
        let (name, why) = n.name_for(
            "Invoice-2026-12\u{202E}fdp.html",
            "application/pdf",
            b"%PDF",
        );
        assert_eq!(name, "Invoice-2026-12fdp.html.txt");
        assert_eq!(why, Some(ActiveReason::ActiveExtension));
        // The same name again, and a file that would fold onto it.
        let (name, _) = n.name_for("Invoice-2026-12fdp.html", "text/html", b"<html>");
        assert_eq!(name, "Invoice-2026-12fdp.html (2).txt");
        let (name, _) = n.name_for("invoice-2026-12fdp.HTML", "text/html", b"<html>");
        assert_eq!(name, "invoice-2026-12fdp.HTML (3).txt");
        // A page named like a PDF or an image is found by its bytes.
        let (name, why) = n.name_for("scan.pdf", "application/pdf", b"\n<!doctype html>");
        assert_eq!(
            (name.as_str(), why),
            ("scan.pdf.txt", Some(ActiveReason::ActiveContent))
        );
        let (name, why) = n.name_for("logo.png", "image/png", b"\xEF\xBB\xBF<svg>");
        assert_eq!(
            (name.as_str(), why),
            ("logo.png.txt", Some(ActiveReason::ActiveContent))
        );
        // An inert file keeps its name; an inert one named like a neutral one is numbered.
        let (name, why) = n.name_for("scan.pdf", "application/pdf", b"%PDF-1.7");
        assert_eq!((name.as_str(), why), ("scan.pdf", None));
        let (name, why) = n.name_for("scan.pdf.txt", "text/plain", b"hello");
        assert_eq!((name.as_str(), why), ("scan.pdf (2).txt", None));
        // A name cut to length can end in anything: the decision is made on the cut name.
        let long = format!("{}.html.{}", "x".repeat(110), "y".repeat(30));
        let (name, why) = n.name_for(&long, "text/plain", b"hello");
        assert!(name.ends_with(".txt") && name.len() <= 120, "{name}");
        assert!(why.is_some());
        let long = format!("{}.svg", "z".repeat(300));
        let (name, _) = n.name_for(&long, "image/svg+xml", b"<svg>");
        assert!(name.ends_with(".svg.txt") && name.len() <= 120, "{name}");
    }

    #[test]
    fn duplicates_are_numbered() {
        let mut n = SafeNames::default();
        assert_eq!(n.name("report.pdf"), "report.pdf");
        assert_eq!(n.name("Report.pdf"), "Report (2).pdf");
        assert_eq!(n.name("report.pdf"), "report (3).pdf");
        assert_eq!(n.name("notes"), "notes");
        assert_eq!(n.name("notes"), "notes (2)");
        // Letters that fold together on case-insensitive file systems.
        assert_eq!(n.name("S.txt"), "S.txt");
        assert_eq!(n.name("\u{17f}.txt"), "\u{17f} (2).txt");
        assert_eq!(n.name("k.txt"), "k.txt");
        // (The Kelvin sign is a plain K once normalized.)
        assert_eq!(n.name("\u{212a}.txt"), "K (2).txt");
    }
}
