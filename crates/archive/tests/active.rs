//! No uploaded file of an archive may run in a browser: the writer refuses one under an active
//! name or with markup under a name a browser would sniff, and `verify` refuses a signed
//! archive that holds one anyway (one made before files were renamed, or by another tool).

use ed25519_dalek::Signer;
use hiatus_archive::*;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::io::{Cursor, Write};
use zip::write::SimpleFileOptions;

fn manifest(files: Vec<ManifestEntry>) -> Manifest {
    Manifest {
        format_version: FORMAT_VERSION,
        account_id: "acct".into(),
        created_at: "2026-11-26T00:00:00Z".into(),
        since: None,
        files,
        exported: BTreeMap::new(),
        held: BTreeMap::new(),
        excluded: vec![],
        renamed: vec![],
    }
}

#[test]
fn the_writer_refuses_active_files_outside_the_viewer() {
    let mut w = ArchiveWriter::new(Vec::new());
    for (path, bytes) in [
        ("files/work/Invoice.html", &b"<html><script>x</script>"[..]),
        ("files/work/logo.svg", b"<svg onload=x>"),
        ("files/work/page.xhtml", b"hello"),
        ("files/work/scan.pdf", b"<!doctype html><script>x</script>"),
        ("files/work/photo.png", b"\xEF\xBB\xBF  <html>"),
        ("files/work/notes", b"<svg>"),
        ("viewer/extra.js", b"alert(1)"),
        ("data/index.html", b"{}"),
    ] {
        assert!(
            matches!(
                w.add_bytes(path, "files", Compression::Store, bytes),
                Err(ArchiveError::Active(_))
            ),
            "{path}"
        );
    }
    // Names with invisible or bidirectional characters are not safe paths.
    assert!(matches!(
        w.add_bytes(
            "files/work/a\u{202E}fdp.txt",
            "files",
            Compression::Store,
            b"x"
        ),
        Err(ArchiveError::Reserved(_))
    ));
    // Neutral names, inert files and the viewer's own files are written.
    for (path, bytes) in [
        (
            "files/work/Invoice.html.txt",
            &b"<html><script>x</script>"[..],
        ),
        ("files/work/scan.pdf", b"%PDF-1.7"),
        ("index.html", b"<!doctype html>"),
        ("viewer/data/account.js", b"HIATUS.load()"),
    ] {
        w.add_bytes(path, "files", Compression::Store, bytes)
            .unwrap_or_else(|e| panic!("{path}: {e}"));
    }
    // A file refused for its bytes left nothing behind: its path is still free.
    w.add_bytes("files/work/notes", "files", Compression::Store, b"plain")
        .unwrap();
    let zip = w
        .finish(manifest(vec![]), &SigningKey::from_bytes(&[1; 32]))
        .unwrap();
    let r = verify(Cursor::new(&zip), None);
    assert!(r.ok(), "{:?}", r.problems);
}

/// A signed archive holding `files`, written without the writer's checks.
fn forged(files: &[(&str, &[u8])], key: &SigningKey) -> Vec<u8> {
    let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let mut entries = Vec::new();
    for (path, bytes) in files {
        zip.start_file(*path, SimpleFileOptions::default()).unwrap();
        zip.write_all(bytes).unwrap();
        entries.push(ManifestEntry {
            path: path.to_string(),
            size: bytes.len() as u64,
            sha256: hex::encode(Sha256::digest(bytes)),
            category: "files".into(),
        });
    }
    let json = serde_json::to_vec_pretty(&manifest(entries)).unwrap();
    for (name, bytes) in [
        (MANIFEST_PATH, json.clone()),
        (
            SIGNATURE_PATH,
            hex::encode(key.sign(&json).to_bytes()).into_bytes(),
        ),
        (
            PUBLIC_KEY_PATH,
            hex::encode(key.verifying_key().to_bytes()).into_bytes(),
        ),
    ] {
        zip.start_file(name, SimpleFileOptions::default()).unwrap();
        zip.write_all(&bytes).unwrap();
    }
    zip.finish().unwrap().into_inner()
}

fn codes(r: &Report) -> Vec<&'static str> {
    r.problems.iter().map(|p| p.code).collect()
}

#[test]
fn verify_refuses_an_archive_with_an_active_file() {
    let key = SigningKey::from_bytes(&[2; 32]);
    let fine = forged(
        &[
            ("index.html", b"<!doctype html>"),
            ("viewer/data/people.js", b"HIATUS.load()"),
            ("files/work/a.html.txt", b"<html>"),
            ("files/work/a.pdf", b"%PDF"),
        ],
        &key,
    );
    let r = verify(Cursor::new(&fine), Some(&key.verifying_key()));
    assert!(r.ok(), "{:?}", r.problems);
    for (path, bytes) in [
        (
            "files/work/Invoice-2026-12fdp.html",
            &b"<script>x</script>"[..],
        ),
        ("files/work/x.svg", b"<svg/>"),
        ("files/work/x.png", b"\n<html>"),
        ("viewer/evil.html", b"x"),
    ] {
        let bad = forged(&[("index.html", b"<!doctype html>"), (path, bytes)], &key);
        let r = verify(Cursor::new(&bad), Some(&key.verifying_key()));
        assert_eq!(codes(&r), vec!["active_file"], "{path}");
    }
    let bad = forged(&[("files/work/a\u{202E}fdp.txt", b"x")], &key);
    let r = verify(Cursor::new(&bad), Some(&key.verifying_key()));
    assert_eq!(codes(&r), vec!["unsafe_path"]);
}
