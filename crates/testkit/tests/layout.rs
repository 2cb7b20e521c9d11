//! The layout rules of the workspace, checked on its source:
//!
//! - SQL text lives in `crates/store` only: no string literal of another crate holds an SQL
//!   statement (`SELECT … FROM`, `INSERT INTO`, `UPDATE <table> SET`, `DELETE FROM`, in
//!   upper case);
//! - the web crate does not depend on the store (it reaches data through the service);
//! - no source file of a crate (under `src/`, `tests.rs` modules aside) is over 600 lines.
//!
//! A failure lists every violation as `file:line`.

use std::path::{Path, PathBuf};

/// The most lines a non-test source file may have.
const MAX_LINES: usize = 600;

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("the workspace folder")
}

/// Every `.rs` file under `dir`, sorted.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                if p.file_name().is_some_and(|n| n != "target") {
                    stack.push(p);
                }
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// The crates of the workspace: (name of the folder under `crates/`, its path).
fn crates() -> Vec<(String, PathBuf)> {
    let mut out: Vec<(String, PathBuf)> = std::fs::read_dir(workspace().join("crates"))
        .expect("the crates folder")
        .flatten()
        .filter(|e| e.path().join("Cargo.toml").is_file())
        .map(|e| (e.file_name().to_string_lossy().into_owned(), e.path()))
        .collect();
    out.sort();
    out
}

fn relative(p: &Path) -> String {
    p.strip_prefix(workspace())
        .unwrap_or(p)
        .display()
        .to_string()
}

/// The string literals of Rust source `src`: (line where each starts, its text as written,
/// escapes and all). Comments, character literals and lifetimes are skipped.
fn string_literals(src: &str) -> Vec<(usize, String)> {
    let b = src.as_bytes();
    let mut out = Vec::new();
    let mut line = 1;
    let mut i = 0;
    let count_lines = |from: usize, to: usize| b[from..to].iter().filter(|&&c| c == b'\n').count();
    while i < b.len() {
        match b[i] {
            b'\n' => {
                line += 1;
                i += 1;
            }
            b'/' if b.get(i + 1) == Some(&b'/') => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                let start = i;
                let mut depth = 0;
                while i < b.len() {
                    if b[i] == b'/' && b.get(i + 1) == Some(&b'*') {
                        depth += 1;
                        i += 2;
                    } else if b[i] == b'*' && b.get(i + 1) == Some(&b'/') {
                        depth -= 1;
                        i += 2;
                        if depth == 0 {
                            break;
                        }
                    } else {
                        i += 1;
                    }
                }
                line += count_lines(start, i);
            }
            // Raw strings: r"…", r#"…"#, br"…" (the `b` is skipped as an identifier byte).
            b'r' if (i == 0 || !is_ident(b[i - 1]) || b[i - 1] == b'b')
                && matches!(b.get(i + 1), Some(b'"') | Some(b'#')) =>
            {
                let mut j = i + 1;
                let mut hashes = 0;
                while b.get(j) == Some(&b'#') {
                    hashes += 1;
                    j += 1;
                }
                if b.get(j) != Some(&b'"') {
                    i += 1;
                    continue;
                }
                let start = j + 1;
                let mut end = start;
                loop {
                    if end >= b.len() {
                        break;
                    }
                    if b[end] == b'"'
                        && b[end + 1..]
                            .iter()
                            .take(hashes)
                            .filter(|&&c| c == b'#')
                            .count()
                            == hashes
                    {
                        break;
                    }
                    end += 1;
                }
                out.push((line, src[start..end.min(b.len())].to_string()));
                line += count_lines(i, end.min(b.len()));
                i = (end + 1 + hashes).min(b.len());
            }
            b'"' => {
                let start = i + 1;
                let mut end = start;
                while end < b.len() && b[end] != b'"' {
                    end += if b[end] == b'\\' { 2 } else { 1 };
                }
                let end = end.min(b.len());
                out.push((line, src[start..end].to_string()));
                line += count_lines(i, end);
                i = end + 1;
            }
            // A character literal ('x', '\n', '\u{..}') or a lifetime ('a).
            b'\'' => {
                if b.get(i + 1) == Some(&b'\\') {
                    let mut j = i + 2;
                    while j < b.len() && b[j] != b'\'' {
                        j += 1;
                    }
                    i = j + 1;
                } else if b.get(i + 2) == Some(&b'\'') {
                    i += 3;
                } else {
                    // A lifetime, or a multi-byte character: step over the quote.
                    let ch_len = src[i + 1..].chars().next().map_or(1, char::len_utf8);
                    if b.get(i + 1 + ch_len) == Some(&b'\'') {
                        i += 2 + ch_len;
                    } else {
                        i += 1;
                    }
                }
            }
            _ => i += 1,
        }
    }
    out
}

fn is_ident(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

// The keywords of the statement shapes, one to a line, so that this file does not itself read
// as holding a statement.
const SELECT: &str = "SELECT";
const INSERT: &str = "INSERT";
const DELETE: &str = "DELETE";
const UPDATE: &str = "UPDATE";
const FROM: &str = "FROM";
const INTO: &str = "INTO";
const SET: &str = "SET";

/// An SQL statement shape.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Shape {
    SelectFrom,
    InsertInto,
    DeleteFrom,
    UpdateSet,
}

impl std::fmt::Display for Shape {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Shape::SelectFrom => write!(f, "{} … {}", SELECT, FROM),
            Shape::InsertInto => write!(f, "{} {}", INSERT, INTO),
            Shape::DeleteFrom => write!(f, "{} {}", DELETE, FROM),
            Shape::UpdateSet => write!(f, "{} … {}", UPDATE, SET),
        }
    }
}

/// The SQL statement shape `text` holds, if any: upper-case keywords only, so HTTP methods
/// and English prose do not count.
fn sql_shape(text: &str) -> Option<Shape> {
    let words: Vec<&str> = text
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|w| !w.is_empty())
        .collect();
    let at = |i: usize| words.get(i).copied().unwrap_or("");
    for (i, &w) in words.iter().enumerate() {
        if w == SELECT && words[i + 1..].contains(&FROM) {
            return Some(Shape::SelectFrom);
        }
        if w == INSERT && at(i + 1) == INTO {
            return Some(Shape::InsertInto);
        }
        if w == DELETE && at(i + 1) == FROM {
            return Some(Shape::DeleteFrom);
        }
        let table = at(i + 1);
        if w == UPDATE
            && at(i + 2) == SET
            && table
                .chars()
                .all(|c| c.is_ascii_lowercase() || c == '_' || c.is_ascii_digit())
        {
            return Some(Shape::UpdateSet);
        }
    }
    None
}

fn sql_outside_the_store() -> Vec<String> {
    let mut out = Vec::new();
    for (name, dir) in crates() {
        if name == "store" {
            continue;
        }
        for file in rust_files(&dir) {
            let src = std::fs::read_to_string(&file).expect("a source file");
            for (line, text) in string_literals(&src) {
                if let Some(shape) = sql_shape(&text) {
                    out.push(format!("{}:{line}: {shape}", relative(&file)));
                }
            }
        }
    }
    out
}

fn web_depends_on_the_store() -> Vec<String> {
    let manifest = workspace().join("crates/web/Cargo.toml");
    let text = std::fs::read_to_string(&manifest).expect("the web crate's manifest");
    text.lines()
        .enumerate()
        .filter(|(_, l)| {
            let l = l.trim_start();
            l.starts_with("hiatus-store") || l.starts_with("[dependencies.hiatus-store")
        })
        .map(|(i, l)| format!("{}:{}: {}", relative(&manifest), i + 1, l.trim()))
        .collect()
}

fn long_source_files() -> Vec<String> {
    let mut out = Vec::new();
    for (_, dir) in crates() {
        for file in rust_files(&dir.join("src")) {
            if file.file_name().is_some_and(|n| n == "tests.rs") {
                continue;
            }
            let lines = std::fs::read_to_string(&file)
                .expect("a source file")
                .lines()
                .count();
            if lines > MAX_LINES {
                out.push(format!("{}: {lines} lines", relative(&file)));
            }
        }
    }
    out
}

#[test]
fn the_rules_of_the_layout_hold() {
    let sections = [
        (
            "SQL text outside crates/store (move it into a named function of the store; tests use hiatus_store::testing)",
            sql_outside_the_store(),
        ),
        (
            "the web crate depends on the store (it reaches data through the service)",
            web_depends_on_the_store(),
        ),
        (
            "non-test source files over 600 lines (split them by what they do)",
            long_source_files(),
        ),
    ];
    let mut report = String::new();
    for (rule, found) in &sections {
        if !found.is_empty() {
            report.push_str(&format!("\n{rule}: {}\n", found.len()));
            for f in found {
                report.push_str(&format!("  {f}\n"));
            }
        }
    }
    assert!(report.is_empty(), "the layout rules are broken:\n{report}");
}

#[test]
fn the_sql_check_sees_statements_and_nothing_else() {
    // What the check must find (and must not) in Rust source, kept in a file of its own.
    let src = include_str!("layout_fixture.txt");
    let found: Vec<(usize, Shape)> = string_literals(src)
        .iter()
        .filter_map(|(l, t)| sql_shape(t).map(|s| (*l, s)))
        .collect();
    assert_eq!(
        found,
        vec![
            (2, Shape::SelectFrom),
            (3, Shape::DeleteFrom),
            (4, Shape::UpdateSet),
            (7, Shape::InsertInto)
        ]
    );
}
