//! Hostile file names in a real export: whatever names a member gave their uploads, the
//! archive's paths are harmless on any system, distinct even where case does not count, and
//! unpack (with the system's `unzip` and with the `zip` crate) inside the target folder only;
//! `data/files.json` keeps every original name and says where its bytes are.

use crate::support::{Member, TestApp, on_both_backends};
use base64::Engine;
use hiatus_archive::VerifyingKey;
use hiatus_testkit::sha256_hex;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::io::{Cursor, Read};
use std::path::{Path, PathBuf};
use unicode_normalization::UnicodeNormalization;

on_both_backends!(
    names_the_upload_refuses_are_clear_problems,
    hostile_file_names_unpack_harmlessly,
);

const EXPORTS: &str = "/api/v1/me/exports";

// ---- helpers ----

fn id_of(v: &Value) -> String {
    v["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no id in {v}"))
        .to_string()
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Requests a full export, runs the worker, downloads the archive through a fresh link.
async fn exported_archive(t: &TestApp, who: &Member) -> Vec<u8> {
    let id = id_of(&t.post(Some(who), EXPORTS, json!({})).await.expect(202));
    t.drain_jobs().await;
    let view = t
        .get(Some(who), &format!("{EXPORTS}/{id}"))
        .await
        .expect(200);
    assert_eq!(view["status"], "ready", "{view}");
    let link = t
        .post_empty(Some(who), &format!("{EXPORTS}/{id}/links"))
        .await
        .expect(201);
    let url = link["url"].as_str().expect("url");
    t.download(Some(who), url, None).await.expect(200).to_vec()
}

async fn published_key(t: &TestApp) -> VerifyingKey {
    let k = t.get(None, "/api/v1/export-key").await.expect(200);
    let bytes: [u8; 32] = hex::decode(k["public_key"].as_str().expect("public_key"))
        .expect("hex")
        .try_into()
        .expect("32 bytes");
    VerifyingKey::from_bytes(&bytes).expect("a valid Ed25519 key")
}

/// Every entry of a ZIP: name, bytes, and whether its mode makes it a symbolic link.
fn zip_entries(bytes: &[u8]) -> Vec<(String, Vec<u8>, bool)> {
    let mut z = zip::ZipArchive::new(Cursor::new(bytes)).expect("the archive is a ZIP");
    assert!(
        !z.has_duplicate_names(),
        "a name occurs twice in the archive"
    );
    (0..z.len())
        .map(|i| {
            let mut f = z.by_index(i).expect("entry");
            let name = f.name().expect("entry name is UTF-8").to_string();
            let link = f.is_symlink() || f.unix_mode().is_some_and(|m| m & 0o170000 == 0o120000);
            let mut b = Vec::new();
            f.read_to_end(&mut b).expect("entry reads");
            (name, b, link)
        })
        .collect()
}

/// Device names Windows reserves, as Python's `ntpath.isreserved` (3.13) knows them.
fn is_reserved_device(component: &str) -> bool {
    let stem = component
        .split('.')
        .next()
        .unwrap_or_default()
        .trim_end_matches(' ')
        .to_uppercase();
    let mut reserved: Vec<String> = ["CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    for port in ["COM", "LPT"] {
        for d in ['1', '2', '3', '4', '5', '6', '7', '8', '9', '¹', '²', '³'] {
            reserved.push(format!("{port}{d}"));
        }
    }
    reserved.contains(&stem)
}

/// What is unsafe about an archive path (nothing, for a safe one): it must stay inside the
/// folder it is unpacked to and be a plain, portable name on Linux, macOS and Windows.
fn path_problems(path: &str) -> Vec<String> {
    let mut p = Vec::new();
    if path.is_empty() {
        p.push("empty".to_string());
    }
    if path.starts_with('/') {
        p.push("absolute".into());
    }
    if path.contains('\\') {
        p.push("backslash".into());
    }
    if path.chars().any(char::is_control) {
        p.push("control character".into());
    }
    if path.nfc().collect::<String>() != path {
        p.push("not NFC".into());
    }
    for c in path.split('/') {
        if c.is_empty() || c == "." || c == ".." {
            p.push(format!("component {c:?}"));
            continue;
        }
        if c.len() > 255 {
            p.push(format!("component of {} bytes", c.len()));
        }
        if c.chars().any(|ch| "<>:\"|?*".contains(ch)) {
            p.push(format!("{c:?} has a character Windows forbids"));
        }
        if c.starts_with('.') {
            p.push(format!("{c:?} is hidden (leading dot)"));
        }
        if c.ends_with('.') || c.ends_with(' ') {
            p.push(format!(
                "{c:?} ends with a dot or space (Windows drops them)"
            ));
        }
        if is_reserved_device(c) {
            p.push(format!("{c:?} is a reserved device name"));
        }
    }
    p
}

/// The name as a case-insensitive file system compares it (full case folding, roughly:
/// `ſ` and `S` are the same letter to Windows and macOS).
fn fold(s: &str) -> String {
    s.nfc().collect::<String>().to_uppercase().to_lowercase()
}

/// Every file, directory and link under `dir`, without following links.
fn walk_all(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).expect("read_dir").flatten() {
        let p = e.path();
        let meta = std::fs::symlink_metadata(&p).expect("metadata");
        out.push(p.clone());
        if meta.is_dir() {
            out.extend(walk_all(&p));
        }
    }
    out
}

/// The names the upload itself refuses, with the problem code it gives.
fn refused_names() -> Vec<(String, &'static str)> {
    vec![
        (String::new(), "field_required"),
        ("   ".into(), "field_required"),
        ("a\u{0}b".into(), "field_invalid"),
        ("bell\u{7}.txt".into(), "field_invalid"),
        ("esc\u{1b}[31m.txt".into(), "field_invalid"),
        ("del\u{7f}.txt".into(), "field_invalid"),
        (format!("{}.pdf", "n".repeat(296)), "field_too_long"),
    ]
}

/// The hostile names the upload accepts (stored as given).
fn hostile_names() -> Vec<String> {
    let mut v: Vec<String> = [
        "../../etc/passwd",
        "/etc/shadow",
        "C:\\Windows\\system32\\evil.dll",
        "..\\..\\x.txt",
        "a/../../b",
        "../../../../../../../../tmp/escaped.txt",
        "tab\there",
        "nl\nname",
        "cr\rname.txt",
        "CON",
        "nul.txt",
        "LPT1.log",
        "aux",
        "con .txt",
        "CONIN$",
        "COM¹.txt",
        "caf\u{e9}.txt",
        "cafe\u{301}.txt",
        "report.pdf",
        "report.pdf",
        "Report.PDF",
        "report (2).pdf",
        ".",
        "..",
        "...",
        "trailing.",
        "trailing ",
        "trailing. . .",
        "..hidden",
        ".bashrc",
        "🎉 party 🎉.png",
        "what?<>|*\":.txt",
        "\u{17f}.txt",
        "S.txt",
        "\u{212a}.txt",
        "k.txt",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    // Long: 255 characters (the most the upload takes) but 506 bytes; twice.
    let long = format!("{}.txt", "ж".repeat(251));
    v.push(long.clone());
    v.push(long);
    // Long without a usable extension, cut where a space or a dot would end the name.
    v.push(format!("{} {}", "x".repeat(119), "y".repeat(40)));
    v.push(format!("{}.{}", "z".repeat(119), "w".repeat(20)));
    v
}

/// Uploaded file: its id, the name sent, its bytes.
struct Sent {
    id: String,
    name: String,
    bytes: Vec<u8>,
}

fn content(i: usize, name: &str) -> Vec<u8> {
    let mut b = format!("file {i}: {name:?}\n").into_bytes();
    if i % 2 == 1 {
        b.extend(0..=255u8);
    }
    b
}

// ---- scenarios ----

async fn names_the_upload_refuses_are_clear_problems(t: &TestApp) {
    let f = t.member("freelancer").await;
    let c = t.member("client").await;
    let k = t.contract(&c, &f, "Refused names").await;
    for (name, code) in refused_names() {
        let file = json!({"name": name, "content_type": "text/plain", "data_base64": b64(b"x")});
        let r = t
            .post(
                Some(&f),
                &format!("/api/v1/contracts/{k}/submissions"),
                json!({"note": "bad name", "files": [file.clone()]}),
            )
            .await;
        let p = r.problem(422, code);
        assert!(
            p["detail"]
                .as_str()
                .unwrap_or_default()
                .contains("file name"),
            "the problem for {name:?} says what is wrong: {p}"
        );
        let r = t
            .post(
                Some(&f),
                "/api/v1/files",
                json!({"kind": "private", "name": name, "content_type": "text/plain", "data_base64": b64(b"x")}),
            )
            .await;
        r.problem(422, code);
    }
    // Nothing was stored: no submission, and no file in the export.
    let subs = t
        .get(Some(&f), &format!("/api/v1/contracts/{k}/submissions"))
        .await
        .expect(200);
    assert_eq!(subs, json!([]), "{subs}");
    let bytes = exported_archive(t, &f).await;
    let entries = zip_entries(&bytes);
    assert!(
        !entries.iter().any(|(n, _, _)| n.starts_with("files/")),
        "{:?}",
        entries.iter().map(|e| &e.0).collect::<Vec<_>>()
    );
}

async fn hostile_file_names_unpack_harmlessly(t: &TestApp) {
    let f = t.member("freelancer").await;
    let c = t.member("client").await;
    let k = t.contract(&c, &f, "Hostile names").await;
    let names = hostile_names();
    let mut sent: Vec<Sent> = Vec::new();

    // Delivered work, at most 20 files per submission.
    let as_submission: Vec<(usize, &String)> = names.iter().enumerate().collect();
    for chunk in as_submission.chunks(20) {
        let files: Vec<Value> = chunk
            .iter()
            .map(|(i, n)| {
                json!({
                    "name": n,
                    "content_type": if i % 2 == 1 { "application/octet-stream" } else { "text/plain" },
                    "data_base64": b64(&content(*i, n)),
                })
            })
            .collect();
        let out = t
            .post(
                Some(&f),
                &format!("/api/v1/contracts/{k}/submissions"),
                json!({"note": "hostile", "files": files}),
            )
            .await
            .expect(201);
        let metas = out["files"].as_array().expect("files");
        assert_eq!(metas.len(), chunk.len(), "{out}");
        for ((i, n), m) in chunk.iter().zip(metas) {
            // The upload keeps the name exactly as sent: no normalization, no trimming.
            assert_eq!(m["name"].as_str(), Some(n.as_str()), "{m}");
            sent.push(Sent {
                id: id_of(m),
                name: n.to_string(),
                bytes: content(*i, n),
            });
        }
    }
    // Private files and a profile photo, whose names are stored encrypted.
    let private: Vec<(&str, &str)> = vec![
        ("private", "../../etc/passwd"),
        ("private", "report.pdf"),
        ("private", "CON"),
        ("private", "..\\..\\private.txt"),
        ("private", "cafe\u{301}.txt"),
        ("photo", "../../../me.png"),
    ];
    for (j, (kind, n)) in private.iter().enumerate() {
        let i = names.len() + j;
        let m = t
            .post(
                Some(&f),
                "/api/v1/files",
                json!({"kind": kind, "name": n, "content_type": "application/octet-stream", "data_base64": b64(&content(i, n))}),
            )
            .await
            .expect(201);
        assert_eq!(m["name"].as_str(), Some(*n), "{m}");
        sent.push(Sent {
            id: id_of(&m),
            name: n.to_string(),
            bytes: content(i, n),
        });
    }
    // Through the API the names come back as sent, too.
    let listed = t
        .get(Some(&f), &format!("/api/v1/contracts/{k}/submissions"))
        .await
        .expect(200);
    let api_names: BTreeMap<String, String> = listed
        .as_array()
        .expect("a list")
        .iter()
        .flat_map(|s| s["files"].as_array().expect("files").clone())
        .map(|m| (id_of(&m), m["name"].as_str().expect("name").to_string()))
        .collect();
    for s in sent.iter().filter(|s| api_names.contains_key(&s.id)) {
        assert_eq!(api_names[&s.id], s.name);
    }
    assert_eq!(api_names.len(), names.len());

    let bytes = exported_archive(t, &f).await;
    let report = hiatus_archive::verify(Cursor::new(&bytes), Some(&published_key(t).await));
    assert!(report.ok(), "the archive verifies: {:?}", report.problems);
    let entries = zip_entries(&bytes);
    let by_path: BTreeMap<&str, &[u8]> = entries
        .iter()
        .map(|(n, b, _)| (n.as_str(), b.as_slice()))
        .collect();

    // (1) Every path is safe; no entry is a link.
    let mut unsafe_paths = Vec::new();
    for (name, _, link) in &entries {
        let mut p = path_problems(name);
        if *link {
            p.push("a symbolic link".into());
        }
        if !p.is_empty() {
            unsafe_paths.push(format!("{name:?}: {}", p.join(", ")));
        }
    }
    assert!(
        unsafe_paths.is_empty(),
        "unsafe paths in the archive:\n{}",
        unsafe_paths.join("\n")
    );

    // (3) data/files.json: every original name, exactly, with the path of its bytes.
    let records: Vec<Value> =
        serde_json::from_slice(by_path["data/files.json"]).expect("data/files.json is JSON");
    let by_id: BTreeMap<String, &Value> = records.iter().map(|r| (id_of(r), r)).collect();
    let mut paths = Vec::new();
    for s in &sent {
        let r = by_id
            .get(&s.id)
            .unwrap_or_else(|| panic!("{:?} ({}) is not in data/files.json", s.name, s.id));
        assert_eq!(
            r["name"].as_str(),
            Some(s.name.as_str()),
            "the original name is kept: {r}"
        );
        let path = r["path"].as_str().expect("path").to_string();
        assert!(path.starts_with("files/"), "{r}");
        // (2) Present, with the bytes uploaded.
        let stored = by_path
            .get(path.as_str())
            .unwrap_or_else(|| panic!("{path:?} (for {:?}) is not in the archive", s.name));
        assert_eq!(*stored, s.bytes.as_slice(), "the bytes at {path:?}");
        assert_eq!(r["sha256"], sha256_hex(&s.bytes), "{r}");
        assert_eq!(r["size_bytes"], s.bytes.len(), "{r}");
        paths.push(path);
    }
    assert_eq!(records.len(), sent.len(), "one record per uploaded file");
    // (2) Pairwise distinct, also where case (and normalization) does not count.
    let mut folded: BTreeMap<String, Vec<&str>> = BTreeMap::new();
    for p in &paths {
        folded.entry(fold(p)).or_default().push(p);
    }
    let clashes: Vec<_> = folded.values().filter(|v| v.len() > 1).collect();
    assert!(
        clashes.is_empty(),
        "paths that one file system would take for the same file: {clashes:?}"
    );
    let file_entries: BTreeSet<&str> = entries
        .iter()
        .map(|(n, _, _)| n.as_str())
        .filter(|n| n.starts_with("files/"))
        .collect();
    let expected: BTreeSet<&str> = paths.iter().map(String::as_str).collect();
    assert_eq!(file_entries, expected, "files/ holds exactly the uploads");

    // (4) Unpacked for real, twice; nothing lands outside the target folder.
    let root = tempfile::tempdir().expect("temp dir");
    let sentinel = root.path().join("sentinel.txt");
    std::fs::write(&sentinel, b"untouched").unwrap();
    let archive = root.path().join("archive.zip");
    std::fs::write(&archive, &bytes).unwrap();
    // Deep enough that `../` a few times over would still land under `root`, where we look.
    let by_unzip = root.path().join("u1/u2/u3/u4/u5/u6/u7/u8/out");
    let by_crate = root.path().join("z1/z2/z3/z4/z5/z6/z7/z8/out");
    std::fs::create_dir_all(&by_unzip).unwrap();
    std::fs::create_dir_all(&by_crate).unwrap();
    let out = std::process::Command::new("unzip")
        .arg("-q")
        .arg(&archive)
        .arg("-d")
        .arg(&by_unzip)
        .env("LC_ALL", "C.UTF-8")
        .output()
        .expect("unzip is installed");
    assert!(
        out.status.success(),
        "unzip failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    zip::ZipArchive::new(Cursor::new(&bytes))
        .unwrap()
        .extract(&by_crate)
        .expect("the zip crate extracts the archive");
    let targets = [
        by_unzip.canonicalize().unwrap(),
        by_crate.canonicalize().unwrap(),
    ];
    let root_c = root.path().canonicalize().unwrap();
    let archive_c = archive.canonicalize().unwrap();
    let sentinel_c = sentinel.canonicalize().unwrap();
    let mut outside = Vec::new();
    for p in walk_all(root.path()) {
        let meta = std::fs::symlink_metadata(&p).unwrap();
        assert!(!meta.file_type().is_symlink(), "a link was created: {p:?}");
        let c = p.canonicalize().unwrap();
        assert!(c.starts_with(&root_c), "{c:?}");
        if meta.is_dir() {
            // Only the folders leading to the targets, and folders inside them.
            let leads = targets
                .iter()
                .any(|t| t.starts_with(&c) || c.starts_with(t));
            if !leads {
                outside.push(c);
            }
        } else if c != archive_c && c != sentinel_c && !targets.iter().any(|t| c.starts_with(t)) {
            outside.push(c);
        }
    }
    assert!(
        outside.is_empty(),
        "created outside the target folder: {outside:?}"
    );
    assert_eq!(std::fs::read(&sentinel).unwrap(), b"untouched");
    for target in &targets {
        // Exactly the archive's entries, each with its bytes, each inside the target.
        let mut found = BTreeSet::new();
        for p in walk_all(target) {
            if std::fs::symlink_metadata(&p).unwrap().is_file() {
                let c = p.canonicalize().unwrap();
                assert!(c.starts_with(target), "{c:?} is outside {target:?}");
                let rel = c
                    .strip_prefix(target)
                    .unwrap()
                    .to_str()
                    .expect("UTF-8 path")
                    .to_string();
                found.insert(rel);
            }
        }
        let want: BTreeSet<String> = by_path.keys().map(|s| s.to_string()).collect();
        assert_eq!(found, want, "unpacked into {target:?}");
        for (path, expected) in &by_path {
            assert_eq!(
                std::fs::read(target.join(path)).unwrap(),
                *expected,
                "{path:?} unpacked into {target:?}"
            );
        }
    }

    // The client, who keeps the delivered work, gets safe and distinct paths too.
    let theirs = exported_archive(t, &c).await;
    let entries = zip_entries(&theirs);
    let mut seen = BTreeSet::new();
    let mut delivered = 0;
    for (name, _, link) in &entries {
        assert!(!link, "{name:?} is a link");
        let p = path_problems(name);
        assert!(p.is_empty(), "{name:?}: {p:?}");
        assert!(seen.insert(fold(name)), "{name:?} clashes");
        delivered += usize::from(name.starts_with("files/"));
    }
    assert_eq!(
        delivered,
        names.len(),
        "the client has every delivered file"
    );
}
