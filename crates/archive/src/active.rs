//! Files a browser would run. An archive is opened from the file system, where every page of it
//! could read the viewer's data with `<script src>`; so no file a member or a counterparty
//! uploaded may be an active document. Such a file is stored under a neutral name (its safe
//! name with `.txt` appended), which every browser shows as text, and the viewer offers it as
//! a download under its original name.
//!
//! Whether a file is active is decided by its name, its declared type and its first bytes:
//! a page named `.pdf` or `.png`, or with no extension at all, is still a page to a browser
//! that sniffs it.

use serde::{Deserialize, Serialize};

/// What is appended to the name of an active file.
pub const NEUTRAL_SUFFIX: &str = ".txt";

/// How many of a file's first bytes [`content_is_active`] looks at (browsers sniff 512 after
/// leading whitespace; a byte order mark and more whitespace fit in the rest).
pub const SNIFF_BYTES: usize = 1024;

/// Extensions a browser renders as documents that run script or load other files: HTML and
/// its variants, SVG, XML with its style sheets and feeds, MHTML, script, style, and the
/// Windows HTML application.
const ACTIVE_EXTENSIONS: &[&str] = &[
    "htm", "html", "shtm", "shtml", "xht", "xhtm", "xhtml", "svg", "svgz", "xml", "xsl", "xslt",
    "rdf", "rss", "atom", "xbl", "xul", "mml", "mht", "mhtml", "js", "mjs", "cjs", "css", "hta",
    "htc", "swf", "jsp", "asp", "aspx", "php", "vbs", "wsf",
];

/// Extensions known to open as an image, a medium, a PDF, plain text or data, or to be
/// downloaded. A file with any other extension, or none, may be sniffed by a browser; it is
/// stored under a neutral name.
const INERT_EXTENSIONS: &[&str] = &[
    "txt", "text", "md", "markdown", "csv", "tsv", "json", "log", "yaml", "yml", "pdf", "png",
    "jpg", "jpeg", "jpe", "jfif", "gif", "webp", "bmp", "tif", "tiff", "heic", "heif", "avif",
    "doc", "docx", "dot", "dotx", "xls", "xlsx", "ppt", "pptx", "odt", "ods", "odp", "odg", "rtf",
    "pages", "numbers", "key", "epub", "zip", "gz", "tgz", "tar", "bz2", "xz", "7z", "rar", "mp3",
    "m4a", "wav", "ogg", "oga", "opus", "flac", "aac", "mp4", "m4v", "mov", "webm", "avi", "mkv",
    "ogv", "psd", "ai", "eps", "sketch", "fig", "xd", "indd", "ttf", "otf", "woff", "woff2", "sql",
    "ics", "vcf",
];

/// Why a file is stored under a neutral name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActiveReason {
    /// Its extension is one a browser runs (`.html`, `.svg`, `.xml`, `.js`…).
    ActiveExtension,
    /// Its declared content type is one a browser runs (`text/html`, `image/svg+xml`…).
    ActiveType,
    /// Its first bytes are markup (`<!doctype html`, `<html`, `<svg`, `<?xml`, `<script`…),
    /// which a browser may render whatever the name says.
    ActiveContent,
    /// Its extension, or the lack of one, tells a browser nothing, so it would sniff the bytes.
    UnknownExtension,
}

impl ActiveReason {
    /// The reason as the manifest and the file records spell it.
    pub fn code(self) -> &'static str {
        match self {
            ActiveReason::ActiveExtension => "active_extension",
            ActiveReason::ActiveType => "active_type",
            ActiveReason::ActiveContent => "active_content",
            ActiveReason::UnknownExtension => "unknown_extension",
        }
    }
}

/// The extension of a file name, lower case, without the dot (`None` without one).
fn extension(name: &str) -> Option<String> {
    let last = name.rsplit('/').next().unwrap_or(name);
    last.rsplit_once('.')
        .filter(|(stem, ext)| !stem.is_empty() && !ext.is_empty())
        .map(|(_, ext)| ext.trim().to_ascii_lowercase())
}

/// Whether the name ends in an extension a browser runs.
pub fn extension_is_active(name: &str) -> bool {
    extension(name).is_some_and(|e| ACTIVE_EXTENSIONS.contains(&e.as_str()))
}

/// Whether the name ends in an extension known to be inert.
pub fn extension_is_inert(name: &str) -> bool {
    extension(name).is_some_and(|e| INERT_EXTENSIONS.contains(&e.as_str()))
}

/// Whether a declared content type is one a browser runs: HTML, XHTML, SVG, any XML, XSLT,
/// script, style, MHTML.
pub fn type_is_active(content_type: &str) -> bool {
    let t = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    t.contains("html")
        || t.contains("xml")
        || t.contains("svg")
        || t.contains("javascript")
        || t.contains("ecmascript")
        || t.contains("xslt")
        || t == "text/css"
        || t == "multipart/related"
        || t == "message/rfc822"
}

/// Whether a file's first bytes look like markup: after a byte order mark (UTF-8, or UTF-16
/// read as its ASCII bytes) and whitespace, a `<` followed by a letter, `!` or `?`. This is a
/// superset of every pattern a browser sniffs as HTML or XML (`<!doctype html`, `<html`,
/// `<script`, `<svg`, `<?xml`, `<!--`, …).
pub fn content_is_active(head: &[u8]) -> bool {
    let head = &head[..head.len().min(SNIFF_BYTES)];
    let ascii: Vec<u8>;
    let mut b = head;
    if b.starts_with(&[0xEF, 0xBB, 0xBF]) {
        b = &b[3..];
    } else if b.starts_with(&[0xFE, 0xFF]) || b.starts_with(&[0xFF, 0xFE]) {
        ascii = b[2..].iter().copied().filter(|&x| x != 0).collect();
        b = &ascii;
    }
    let start = b
        .iter()
        .position(|c| !matches!(c, b' ' | b'\t' | b'\n' | b'\r' | b'\x0C'));
    match start.map(|i| &b[i..]) {
        Some([b'<', next, ..]) => next.is_ascii_alphabetic() || matches!(next, b'!' | b'?'),
        _ => false,
    }
}

/// Why a file named `name` (already a safe name), declared as `content_type`, whose first
/// bytes are `head`, must not keep its name; `None` when it is inert.
pub fn active_reason(name: &str, content_type: &str, head: &[u8]) -> Option<ActiveReason> {
    if extension_is_active(name) {
        Some(ActiveReason::ActiveExtension)
    } else if content_is_active(head) {
        Some(ActiveReason::ActiveContent)
    } else if type_is_active(content_type) {
        Some(ActiveReason::ActiveType)
    } else if !extension_is_inert(name) {
        Some(ActiveReason::UnknownExtension)
    } else {
        None
    }
}

/// Whether an archive path belongs to the offline viewer, the only active files an archive
/// may hold: `index.html` and the viewer's script, style and data scripts.
pub fn is_viewer_path(path: &str) -> bool {
    path == "index.html"
        || path == "viewer/viewer.js"
        || path == "viewer/viewer.css"
        || ((path.starts_with("viewer/data/") || path.starts_with("viewer/messages/"))
            && path.ends_with(".js")
            && path.matches('/').count() == 2)
}

/// Whether an archive entry could run in a browser where it should not: outside the viewer,
/// a name with an active extension, or markup under any name but a `.txt` one; inside
/// `viewer/`, anything but the viewer's own files. `head` is the entry's first bytes.
pub fn entry_is_active(path: &str, head: &[u8]) -> bool {
    if is_viewer_path(path) {
        return false;
    }
    path.starts_with("viewer/")
        || extension_is_active(path)
        || (content_is_active(head) && !path.to_ascii_lowercase().ends_with(NEUTRAL_SUFFIX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_is_sniffed_whatever_the_name() {
        for head in [
            &b"<!DOCTYPE html><p>x"[..],
            b"<html>",
            b"  \r\n\t<HTML lang=en>",
            b"<svg xmlns='http://www.w3.org/2000/svg'>",
            b"<?xml version='1.0'?>",
            b"<script>alert(1)</script>",
            b"<!-- comment --><b>",
            b"\xEF\xBB\xBF<html>",
            b"\xEF\xBB\xBF \n<svg>",
            b"\xFF\xFE<\0h\0t\0m\0l\0>\0",
            b"\xFE\xFF\0<\0s\0v\0g",
            b"<iframe src=x>",
            b"<a href=x>",
        ] {
            assert!(
                content_is_active(head),
                "{:?}",
                String::from_utf8_lossy(head)
            );
        }
        for head in [
            &b"%PDF-1.7\n"[..],
            b"\x89PNG\r\n\x1a\n",
            b"PK\x03\x04",
            b"plain text < 3",
            b"1 < 2",
            b"< not a tag",
            b"",
            b"{\"json\": \"<html>\"}",
            b"id,name\n1,<html>",
        ] {
            assert!(
                !content_is_active(head),
                "{:?}",
                String::from_utf8_lossy(head)
            );
        }
    }

    #[test]
    fn names_types_and_bytes_decide_together() {
        let png = b"\x89PNG\r\n\x1a\n";
        assert_eq!(active_reason("photo.png", "image/png", png), None);
        assert_eq!(
            active_reason("report.PDF", "application/pdf", b"%PDF"),
            None
        );
        assert_eq!(
            active_reason("Invoice-2026-12fdp.html", "application/pdf", b"%PDF"),
            Some(ActiveReason::ActiveExtension)
        );
        for name in [
            "x.svg", "x.XHTML", "x.xml", "x.mht", "x.mhtml", "x.js", "x.mjs", "x.xsl",
        ] {
            assert_eq!(
                active_reason(name, "text/plain", b"hello"),
                Some(ActiveReason::ActiveExtension),
                "{name}"
            );
        }
        assert_eq!(
            active_reason("invoice.pdf", "application/pdf", b"<html><script>"),
            Some(ActiveReason::ActiveContent)
        );
        assert_eq!(
            active_reason("photo.png", "image/png", b"\n<svg onload=x>"),
            Some(ActiveReason::ActiveContent)
        );
        assert_eq!(
            active_reason("photo.png", "image/svg+xml", png),
            Some(ActiveReason::ActiveType)
        );
        assert_eq!(
            active_reason("notes", "text/plain", b"hello"),
            Some(ActiveReason::UnknownExtension)
        );
        assert_eq!(
            active_reason("model.blend", "application/octet-stream", b"BLENDER"),
            Some(ActiveReason::UnknownExtension)
        );
        assert_eq!(ActiveReason::ActiveContent.code(), "active_content");
    }

    #[test]
    fn only_the_viewer_may_be_active() {
        for p in [
            "index.html",
            "viewer/viewer.js",
            "viewer/viewer.css",
            "viewer/data/account.js",
            "viewer/messages/t-0.js",
        ] {
            assert!(is_viewer_path(p) && !entry_is_active(p, b"<html>"), "{p}");
        }
        for (p, head) in [
            ("files/work/a.html", &b"hello"[..]),
            ("files/work/a.svg", b"hello"),
            ("files/work/a.html.txt.html", b"hello"),
            ("files/work/a.pdf", b"<html>"),
            ("files/work/a", b"<svg>"),
            ("viewer/evil.html", b""),
            ("viewer/data/x/y.js", b""),
            ("data/index.html", b""),
        ] {
            assert!(entry_is_active(p, head), "{p}");
        }
        for (p, head) in [
            ("files/work/a.html.txt", &b"<html>"[..]),
            ("files/work/a.pdf", b"%PDF"),
            ("data/account.json", b"{"),
            ("invoices/1.pdf", b"%PDF"),
            ("files/work/notes", b"hello"),
        ] {
            assert!(!entry_is_active(p, head), "{p}");
        }
    }
}
