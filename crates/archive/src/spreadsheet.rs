//! CSV cells a spreadsheet would run. Excel, LibreOffice and Google Sheets read a cell that
//! starts with `=`, `+`, `-` or `@` as a formula (and some skip leading spaces and line breaks,
//! or fold the full-width forms `＝ ＋ － ＠` onto the ASCII ones before deciding); a leading tab
//! or carriage return hides such a start from the eye. Such cells get a leading single quote,
//! which spreadsheets read as "text".

use std::borrow::Cow;

fn formula_start(c: char) -> bool {
    matches!(
        c,
        '=' | '+' | '-' | '@' | '\u{FF1D}' | '\u{FF0B}' | '\u{FF0D}' | '\u{FF20}'
    )
}

/// `cell` as written to a CSV file: with a leading `'` when a spreadsheet could take it for a
/// formula (see the module's documentation), unchanged otherwise.
pub fn csv_safe(cell: &str) -> Cow<'_, str> {
    let starts_hidden = cell.starts_with(['\t', '\r']);
    let first = cell.trim_start().chars().next();
    if starts_hidden || first.is_some_and(formula_start) {
        format!("'{cell}").into()
    } else {
        cell.into()
    }
}

#[cfg(test)]
mod tests {
    use super::csv_safe;

    #[test]
    fn formulas_are_defused() {
        for (cell, safe) in [
            ("=SUM(A1)", "'=SUM(A1)"),
            ("+1", "'+1"),
            ("-2", "'-2"),
            ("@cmd", "'@cmd"),
            ("\tx", "'\tx"),
            ("\rx", "'\rx"),
            // After leading whitespace or line breaks.
            (" =HYPERLINK(\"http://x\")", "' =HYPERLINK(\"http://x\")"),
            ("  +1", "'  +1"),
            ("\n=1+1", "'\n=1+1"),
            ("\r\n@SUM(A1)", "'\r\n@SUM(A1)"),
            ("\u{3000}=1", "'\u{3000}=1"),
            ("\u{A0}-1", "'\u{A0}-1"),
            // Full-width forms.
            (
                "\u{FF1D}HYPERLINK(\"http://x\")",
                "'\u{FF1D}HYPERLINK(\"http://x\")",
            ),
            ("\u{FF0B}1", "'\u{FF0B}1"),
            ("\u{FF0D}1", "'\u{FF0D}1"),
            ("\u{FF20}SUM(A1)", "'\u{FF20}SUM(A1)"),
            (" \u{FF1D}1", "' \u{FF1D}1"),
        ] {
            assert_eq!(csv_safe(cell), safe, "{cell:?}");
        }
    }

    #[test]
    fn plain_cells_are_unchanged() {
        for cell in [
            "plain",
            "",
            " ",
            "a=b",
            "1+1",
            "x@y.z",
            " text",
            "\nline",
            "2026-12-07",
        ] {
            assert_eq!(csv_safe(cell), cell, "{cell:?}");
        }
    }
}
