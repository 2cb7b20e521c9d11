//! Write an archive, verify it, then break it in every way `verify` must notice.

use hiatus_archive::*;
use std::collections::BTreeMap;
use std::io::{Cursor, Read, Write};

fn key(seed: u8) -> SigningKey {
    SigningKey::from_bytes(&[seed; 32])
}

fn manifest() -> Manifest {
    Manifest {
        format_version: FORMAT_VERSION,
        account_id: "0190aaaa-bbbb-7ccc-8ddd-eeeeffff0011".into(),
        created_at: "2026-11-26T00:00:00Z".into(),
        since: None,
        files: vec![],
        exported: BTreeMap::from([
            ("messages".to_string(), 2),
            ("submission_files".to_string(), 2),
        ]),
        held: BTreeMap::from([
            ("messages".to_string(), 2),
            ("submission_files".to_string(), 2),
        ]),
        excluded: vec![Exclusion {
            what: "counterparties' contact details".into(),
            why: "their personal data, not yours".into(),
        }],
        renamed: vec![],
    }
}

/// A reader of `n` pseudo-random bytes that never holds them all in memory.
struct Noise {
    left: u64,
    state: u64,
}

impl Read for Noise {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = (buf.len() as u64).min(self.left) as usize;
        for b in &mut buf[..n] {
            self.state = self
                .state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            *b = (self.state >> 56) as u8;
        }
        self.left -= n as u64;
        Ok(n)
    }
}

fn build(k: &SigningKey) -> Vec<u8> {
    let mut w = ArchiveWriter::new(Vec::new());
    w.add_bytes(
        "data/messages.json",
        "messages_json",
        Compression::Deflate,
        br#"[{"body":"hi"},{"body":"bye"}]"#,
    )
    .unwrap();
    w.add(
        "files/report.pdf",
        "submission_files",
        Compression::Store,
        Noise {
            left: 3 * 1024 * 1024 + 17,
            state: 1,
        },
    )
    .unwrap();
    w.add_bytes(
        "files/notes.md",
        "submission_files",
        Compression::Deflate,
        b"# notes",
    )
    .unwrap();
    assert!(matches!(
        w.add_bytes("files/notes.md", "x", Compression::Store, b"again"),
        Err(ArchiveError::Duplicate(_))
    ));
    assert!(matches!(
        w.add_bytes("manifest.json", "x", Compression::Store, b"{}"),
        Err(ArchiveError::Reserved(_))
    ));
    assert!(matches!(
        w.add_bytes("../escape", "x", Compression::Store, b"x"),
        Err(ArchiveError::Reserved(_))
    ));
    w.finish(manifest(), k).unwrap()
}

/// Copies every entry of `zip` into a new ZIP, letting `edit` change, drop or add entries.
fn rewrite(
    zip: &[u8],
    edit: impl Fn(&str, Vec<u8>) -> Option<Vec<u8>>,
    extra: Option<(&str, &[u8])>,
) -> Vec<u8> {
    let mut src = zip::ZipArchive::new(Cursor::new(zip)).unwrap();
    let mut out = zip::ZipWriter::new(Cursor::new(Vec::new()));
    for i in 0..src.len() {
        let mut f = src.by_index(i).unwrap();
        let name = f.name().unwrap().to_string();
        let mut bytes = Vec::new();
        f.read_to_end(&mut bytes).unwrap();
        if let Some(b) = edit(&name, bytes) {
            out.start_file(name, zip::write::SimpleFileOptions::default())
                .unwrap();
            out.write_all(&b).unwrap();
        }
    }
    if let Some((name, b)) = extra {
        out.start_file(name, zip::write::SimpleFileOptions::default())
            .unwrap();
        out.write_all(b).unwrap();
    }
    out.finish().unwrap().into_inner()
}

fn codes(r: &Report) -> Vec<&'static str> {
    r.problems.iter().map(|p| p.code).collect()
}

#[test]
fn a_fresh_archive_verifies_with_and_without_the_expected_key() {
    let k = key(7);
    let zip = build(&k);
    let r = verify(Cursor::new(&zip), Some(&k.verifying_key()));
    assert!(r.ok(), "{:?}", r.problems);
    assert_eq!(r.files_checked, 3);
    assert_eq!(r.bytes_checked, 30 + 3 * 1024 * 1024 + 17 + 7);
    assert!(verify(Cursor::new(&zip), None).ok());
}

#[test]
fn another_signer_is_refused() {
    let zip = build(&key(7));
    let r = verify(Cursor::new(&zip), Some(&key(8).verifying_key()));
    assert!(codes(&r).contains(&"wrong_signer"), "{:?}", r.problems);
    assert!(codes(&r).contains(&"signature_invalid"));
}

#[test]
fn changed_bytes_are_caught() {
    let k = key(7);
    let zip = build(&k);
    let tampered = rewrite(
        &zip,
        |name, mut b| {
            if name == "files/notes.md" {
                b[0] ^= 1;
            }
            Some(b)
        },
        None,
    );
    assert_eq!(
        codes(&verify(Cursor::new(&tampered), Some(&k.verifying_key()))),
        vec!["hash_mismatch"]
    );
    let truncated = rewrite(
        &zip,
        |name, b| {
            Some(if name == "files/notes.md" {
                b[..3].to_vec()
            } else {
                b
            })
        },
        None,
    );
    assert_eq!(
        codes(&verify(Cursor::new(&truncated), Some(&k.verifying_key()))),
        vec!["size_mismatch"]
    );
}

#[test]
fn missing_and_unlisted_files_are_caught() {
    let k = key(7);
    let zip = build(&k);
    let missing = rewrite(
        &zip,
        |name, b| (name != "files/report.pdf").then_some(b),
        None,
    );
    assert_eq!(
        codes(&verify(Cursor::new(&missing), Some(&k.verifying_key()))),
        vec!["file_missing"]
    );
    let extra = rewrite(&zip, |_, b| Some(b), Some(("files/smuggled.exe", b"MZ")));
    assert_eq!(
        codes(&verify(Cursor::new(&extra), Some(&k.verifying_key()))),
        vec!["unlisted_file"]
    );
}

#[test]
fn an_edited_manifest_breaks_the_signature() {
    let k = key(7);
    let zip = build(&k);
    let edited = rewrite(
        &zip,
        |name, b| {
            Some(if name == MANIFEST_PATH {
                String::from_utf8(b)
                    .unwrap()
                    .replacen("\"messages\": 2", "\"messages\": 3", 1)
                    .into_bytes()
            } else {
                b
            })
        },
        None,
    );
    let r = verify(Cursor::new(&edited), Some(&k.verifying_key()));
    assert!(codes(&r).contains(&"signature_invalid"), "{:?}", r.problems);
    assert!(
        codes(&r).contains(&"count_mismatch"),
        "exported 3 of 2 held: {:?}",
        r.problems
    );
}

#[test]
fn garbage_is_not_a_zip() {
    assert_eq!(
        codes(&verify(Cursor::new(b"not a zip at all".to_vec()), None)),
        vec!["not_a_zip"]
    );
    let no_manifest = rewrite(
        &build(&key(7)),
        |name, b| (name != MANIFEST_PATH).then_some(b),
        None,
    );
    assert_eq!(
        codes(&verify(Cursor::new(&no_manifest), None)),
        vec!["manifest_missing"]
    );
}

#[test]
fn a_part_written_apart_is_copied_in_whole_and_verifies() {
    let k = key(7);
    let mut part = ArchiveWriter::new(Vec::new());
    part.add_bytes(
        "data/messages.json",
        "data",
        Compression::Deflate,
        br#"[{"body":"hi"},{"body":"bye"}]"#,
    )
    .unwrap();
    part.add(
        "invoices/INV-1.pdf",
        "invoices",
        Compression::Store,
        Noise {
            left: 100_000,
            state: 3,
        },
    )
    .unwrap();
    let (bytes, entries) = part.finish_part().unwrap();
    assert_eq!(entries.len(), 2);

    let mut w = ArchiveWriter::new(Vec::new());
    w.add_bytes("files/notes.md", "files", Compression::Deflate, b"# notes")
        .unwrap();
    // A part whose listing does not match it is refused.
    let mut wrong = entries.clone();
    wrong[1].size += 1;
    assert!(matches!(
        w.append_part(Cursor::new(&bytes), wrong),
        Err(ArchiveError::Part(_))
    ));
    let mut w = ArchiveWriter::new(Vec::new());
    w.add_bytes("files/notes.md", "files", Compression::Deflate, b"# notes")
        .unwrap();
    w.append_part(Cursor::new(&bytes), entries.clone()).unwrap();
    // Its paths count as written: the same path again is a duplicate.
    assert!(matches!(
        w.add_bytes("data/messages.json", "data", Compression::Store, b"[]"),
        Err(ArchiveError::Duplicate(_))
    ));
    let zip = w.finish(manifest(), &k).unwrap();
    let r = verify(Cursor::new(&zip), Some(&k.verifying_key()));
    assert!(r.ok(), "{:?}", r.problems);
    assert_eq!(r.files_checked, 3);
    assert_eq!(r.bytes_checked, 7 + 30 + 100_000);
    let mut z = zip::ZipArchive::new(Cursor::new(&zip)).unwrap();
    let mut json = String::new();
    z.by_name("data/messages.json")
        .unwrap()
        .read_to_string(&mut json)
        .unwrap();
    assert_eq!(json, r#"[{"body":"hi"},{"body":"bye"}]"#);
    let pdf = z.by_name("invoices/INV-1.pdf").unwrap();
    assert_eq!(pdf.compression(), zip::CompressionMethod::Stored);
    assert_eq!(pdf.size(), 100_000);
}
