//! Tamper detection on a REAL export: the binary loads the demo data, exports a member's
//! archive, and `hiatus verify` must accept the untouched archive and refuse every way of
//! changing it — a byte flipped in any entry (metadata included), any entry removed, an entry
//! added, a signature by another key, a signature taken from another archive. Independent
//! tools (`unzip -t`, `unzip` + `sha256sum`) agree with the manifest.

use ed25519_dalek::{Signer, SigningKey};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::io::{Cursor, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

const MANIFEST: &str = "manifest.json";
const SIGNATURE: &str = "manifest.sig";
const PUBLIC_KEY: &str = "public-key.txt";
const METADATA: [&str; 3] = [MANIFEST, SIGNATURE, PUBLIC_KEY];

// ---- running the binary ----

/// The binary, quiet: no logs below warnings, and no backtrace on the expected failures
/// (resolving one in a debug build takes longer than the verification itself).
fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_hiatus"));
    c.env("HIATUS_LOG", "warn")
        .env("RUST_BACKTRACE", "0")
        .env("RUST_LIB_BACKTRACE", "0");
    c
}

/// `hiatus` with a data folder of its own and nothing inherited that could point elsewhere.
fn hiatus(data: &Path, args: &[&str]) -> Output {
    bin()
        .args(args)
        .env("HIATUS_DATA_DIR", data)
        .env("HIATUS_INSECURE_FAST_PASSWORDS", "true")
        .env_remove("HIATUS_DATABASE_URL")
        .env_remove("HIATUS_MASTER_KEY")
        .env_remove("HIATUS_LOG_JSON")
        .output()
        .expect("the hiatus binary runs")
}

#[track_caller]
fn ok(out: &Output, what: &str) {
    assert!(
        out.status.success(),
        "{what} failed ({}):\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Exports `email`'s account to `out`; returns the public key the command prints last.
fn export(data: &Path, email: &str, out: &Path) -> String {
    let o = hiatus(
        data,
        &[
            "export",
            "--account",
            email,
            "--out",
            out.to_str().unwrap(),
            "--quiet",
        ],
    );
    ok(&o, "hiatus export");
    let stderr = String::from_utf8_lossy(&o.stderr);
    let last = stderr.lines().last().unwrap_or_default();
    let key = last
        .rsplit_once("--public-key ")
        .map(|(_, k)| k.trim().to_string())
        .unwrap_or_else(|| panic!("no --public-key on the last line of: {stderr}"));
    assert_eq!(key.len(), 64, "{last}");
    assert!(key.bytes().all(|b| b.is_ascii_hexdigit()), "{last}");
    key
}

/// `hiatus verify ARCHIVE --json [--public-key KEY]`: (exit success, report).
fn verify_json(archive: &Path, key: Option<&str>) -> (bool, Value, String) {
    let mut args = vec!["verify", archive.to_str().unwrap(), "--json"];
    if let Some(k) = key {
        args.extend(["--public-key", k]);
    }
    let o = bin().args(&args).output().expect("the hiatus binary runs");
    let report: Value = serde_json::from_slice(&o.stdout).unwrap_or(Value::Null);
    let text = format!(
        "stdout: {}\nstderr: {}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    (o.status.success(), report, text)
}

fn problems(report: &Value) -> Vec<(String, String)> {
    report["problems"]
        .as_array()
        .map(|ps| {
            ps.iter()
                .map(|p| {
                    (
                        p["code"].as_str().unwrap_or_default().to_string(),
                        p["detail"].as_str().unwrap_or_default().to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

// ---- reading and rewriting ZIPs ----

/// Every entry's name and (decompressed) bytes, in archive order.
fn entries(zip: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut z = zip::ZipArchive::new(Cursor::new(zip)).expect("a ZIP");
    (0..z.len())
        .map(|i| {
            let mut f = z.by_index(i).expect("entry");
            let name = f.name().expect("entry name").to_string();
            let mut b = Vec::new();
            f.read_to_end(&mut b).expect("entry reads");
            (name, b)
        })
        .collect()
}

/// What to do with one entry when rewriting.
enum Edit {
    Keep,
    Replace(Vec<u8>),
    Drop,
}

/// Copies `zip` entry by entry: kept entries are copied raw (same compressed bytes, same
/// headers), replaced ones are written anew with the same options (and a correct CRC, as a
/// careful forger would), dropped ones are left out; `extra` entries are appended.
fn rewrite(zip: &[u8], edit: impl Fn(&str) -> Edit, extra: &[(&str, &[u8])]) -> Vec<u8> {
    let mut src = zip::ZipArchive::new(Cursor::new(zip)).expect("a ZIP");
    let mut out = zip::ZipWriter::new(Cursor::new(Vec::new()));
    for i in 0..src.len() {
        let name = src.by_index_raw(i).unwrap().name().unwrap().to_string();
        match edit(&name) {
            Edit::Keep => out.raw_copy_file(src.by_index_raw(i).unwrap()).unwrap(),
            Edit::Drop => {}
            Edit::Replace(bytes) => {
                let options = src.by_index_raw(i).unwrap().options();
                out.start_file(name, options).unwrap();
                out.write_all(&bytes).unwrap();
            }
        }
    }
    for (name, bytes) in extra {
        out.start_file(*name, zip::write::SimpleFileOptions::default())
            .unwrap();
        out.write_all(bytes).unwrap();
    }
    out.finish().unwrap().into_inner()
}

/// `zip` with a second entry named `name` (holding `forged`) placed BEFORE the genuine one.
/// The ZIP writer refuses duplicate names, so the copy is written under a placeholder of the
/// same length, which is then renamed in its local header and its central directory record.
fn with_copy_first(zip: &[u8], name: &str, forged: &[u8]) -> Vec<u8> {
    let mut placeholder = name.as_bytes().to_vec();
    let last = placeholder.len() - 1;
    placeholder[last] = if placeholder[last] == b'~' {
        b'#'
    } else {
        b'~'
    };
    let placeholder = String::from_utf8(placeholder).unwrap();
    let mut src = zip::ZipArchive::new(Cursor::new(zip)).expect("a ZIP");
    let mut out = zip::ZipWriter::new(Cursor::new(Vec::new()));
    out.start_file(
        placeholder.as_str(),
        zip::write::SimpleFileOptions::default(),
    )
    .unwrap();
    out.write_all(forged).unwrap();
    for i in 0..src.len() {
        out.raw_copy_file(src.by_index_raw(i).unwrap()).unwrap();
    }
    let mut bytes = out.finish().unwrap().into_inner();
    let p = placeholder.as_bytes();
    let at: Vec<usize> = (0..=bytes.len() - p.len())
        .filter(|&i| &bytes[i..i + p.len()] == p)
        .collect();
    assert_eq!(
        at.len(),
        2,
        "the placeholder {placeholder} occurs in two headers"
    );
    for i in at {
        bytes[i..i + p.len()].copy_from_slice(name.as_bytes());
    }
    bytes
}

/// `bytes` with the byte at `at` changed (xor 1); an empty entry gets one byte instead.
fn flipped(bytes: &[u8], at: usize) -> Vec<u8> {
    let mut b = bytes.to_vec();
    if b.is_empty() {
        b.push(b'x');
    } else {
        b[at] ^= 0x01;
    }
    b
}

/// The first, middle and last positions of an entry of `len` bytes.
fn positions(len: usize) -> Vec<usize> {
    let mut p: Vec<usize> = [0, len / 2, len.saturating_sub(1)].into();
    p.dedup();
    p
}

// ---- one tampering, checked ----

struct Case {
    what: String,
    archive: Vec<u8>,
    key: Option<String>,
    /// Some problem's detail must name this (the entry that was touched).
    names: String,
    /// When set, one problem must have this code.
    code: Option<&'static str>,
}

/// Runs every case on a few threads (each is one `hiatus verify` process); returns the
/// failures as readable lines.
fn run_cases(dir: &Path, cases: &[Case]) -> Vec<String> {
    let next = AtomicUsize::new(0);
    let failures = Mutex::new(Vec::new());
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2)
        .clamp(2, 8);
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    let Some(c) = cases.get(i) else { break };
                    let path = dir.join(format!("case-{i}.zip"));
                    std::fs::write(&path, &c.archive).unwrap();
                    let (success, report, text) = verify_json(&path, c.key.as_deref());
                    let ps = problems(&report);
                    let mode = if c.key.is_some() {
                        "with --public-key"
                    } else {
                        "without --public-key"
                    };
                    let fail = if success {
                        Some("verify exited 0".to_string())
                    } else if report.is_null() {
                        Some(format!("no JSON report: {text}"))
                    } else if ps.is_empty() {
                        Some("non-zero exit but no problem listed".to_string())
                    } else if !ps.iter().any(|(_, d)| d.contains(&c.names)) {
                        Some(format!("no problem names {}: {ps:?}", c.names))
                    } else if let Some(code) = c.code
                        && !ps.iter().any(|(k, _)| k == code)
                    {
                        Some(format!("no {code} problem: {ps:?}"))
                    } else {
                        None
                    };
                    if let Some(f) = fail {
                        failures
                            .lock()
                            .unwrap()
                            .push(format!("{} ({mode}): {f}", c.what));
                    }
                    let _ = std::fs::remove_file(&path);
                }
            });
        }
    });
    let mut f = failures.into_inner().unwrap();
    f.sort();
    f
}

/// `with_copy_first`, checked: the zip crate still reads the genuine copy, while `unzip -n`
/// (never overwrite) unpacks the forged one — so the duplicate does matter.
fn copy_first_checked(zip: &[u8], name: &str, forged: &[u8], dir: &Path) -> Vec<u8> {
    let dup = with_copy_first(zip, name, forged);
    let mut z = zip::ZipArchive::new(Cursor::new(&dup)).unwrap();
    assert!(z.has_duplicate_names());
    let mut genuine = Vec::new();
    z.by_name(name).unwrap().read_to_end(&mut genuine).unwrap();
    assert_ne!(genuine, forged);
    let path = dir.join("dup.zip");
    std::fs::write(&path, &dup).unwrap();
    let out = dir.join("dup");
    let u = Command::new("unzip")
        .args([
            "-n",
            "-q",
            path.to_str().unwrap(),
            "-d",
            out.to_str().unwrap(),
        ])
        .output()
        .expect("unzip is installed");
    ok(&u, "unzip -n");
    assert_eq!(std::fs::read(out.join(name)).unwrap(), forged);
    dup
}

/// The ZIP's local entry data range of entry `name` (offset of its first stored byte and the
/// compressed size).
fn data_range(zip: &[u8], name: &str) -> (usize, usize) {
    let mut z = zip::ZipArchive::new(Cursor::new(zip)).unwrap();
    let f = z.by_name(name).unwrap();
    let start = f.data_start().expect("data start known") as usize;
    (start, f.compressed_size() as usize)
}

#[test]
fn a_real_export_verifies_and_every_tampering_is_caught() {
    let started = std::time::Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    ok(
        &hiatus(&data, &["demo", "--no-serve"]),
        "hiatus demo --no-serve",
    );
    let x_path = dir.path().join("x.zip");
    let key = export(&data, "ben@demo.hiatus.test", &x_path);
    let y_path = dir.path().join("y.zip");
    let key_y = export(&data, "ana@demo.hiatus.test", &y_path);
    assert_eq!(key, key_y, "one server, one signing key");
    let x = std::fs::read(&x_path).unwrap();
    let y = std::fs::read(&y_path).unwrap();
    let original = entries(&x);
    let names: Vec<&str> = original.iter().map(|(n, _)| n.as_str()).collect();
    let content: BTreeMap<&str, &[u8]> = original
        .iter()
        .map(|(n, b)| (n.as_str(), b.as_slice()))
        .collect();
    assert_eq!(content.len(), names.len(), "entry names are unique");
    for m in METADATA
        .iter()
        .chain(["index.html", "data/files.json"].iter())
    {
        assert!(content.contains_key(m), "{m} is in the archive: {names:?}");
    }
    assert!(
        names.iter().any(|n| n.starts_with("files/submission/")),
        "the demo member's archive holds delivered files: {names:?}"
    );
    assert_eq!(
        std::str::from_utf8(content[PUBLIC_KEY]).unwrap().trim(),
        key,
        "the archive carries the key the server printed"
    );

    // ---- the untouched archive passes ----
    let plain = bin()
        .args(["verify", x_path.to_str().unwrap(), "--public-key", &key])
        .output()
        .unwrap();
    ok(&plain, "hiatus verify on the untouched archive");
    let text = String::from_utf8_lossy(&plain.stdout);
    assert!(text.contains("OK:"), "{text}");
    for k in [Some(key.as_str()), None] {
        let (success, report, out) = verify_json(&x_path, k);
        assert!(success, "verify --json {k:?}: {out}");
        assert_eq!(report["problems"], serde_json::json!([]), "{report}");
        assert_eq!(report["signer"], key.as_str(), "{report}");
        let manifest: Value = serde_json::from_slice(content[MANIFEST]).unwrap();
        let listed = manifest["files"].as_array().unwrap().len();
        assert_eq!(report["files_checked"], listed, "{report}");
        assert_eq!(listed + METADATA.len(), names.len(), "{report}");
    }
    // The rewriting itself changes nothing that matters: a copy passes.
    let copy = rewrite(&x, |_| Edit::Keep, &[]);
    let copy_path = dir.path().join("copy.zip");
    std::fs::write(&copy_path, &copy).unwrap();
    let (success, _, out) = verify_json(&copy_path, Some(&key));
    assert!(success, "a faithful copy verifies: {out}");
    assert_eq!(entries(&copy), original);

    // ---- every entry: a byte flipped, the entry removed, a byte flipped on disk ----
    let mut cases = Vec::new();
    for (name, bytes) in &original {
        let name = name.as_str();
        let is_meta = METADATA.contains(&name);
        let mut at: Vec<usize> = if bytes.is_empty() {
            vec![0]
        } else {
            positions(bytes.len())
        };
        if name == PUBLIC_KEY {
            // Every hex digit: a flip may give another valid key, an invalid point or no hex.
            at = (0..bytes.len()).collect();
        } else if name == SIGNATURE {
            at = (0..bytes.len())
                .step_by(8)
                .chain([bytes.len() - 1])
                .collect();
        }
        for (n, &pos) in at.iter().enumerate() {
            let changed = flipped(bytes, pos);
            let tampered = rewrite(
                &x,
                |e| {
                    if e == name {
                        Edit::Replace(changed.clone())
                    } else {
                        Edit::Keep
                    }
                },
                &[],
            );
            // The tampering did what it says: this entry differs, every other is the same.
            let after = entries(&tampered);
            assert_eq!(after.len(), original.len());
            for ((n1, b1), (n2, b2)) in original.iter().zip(&after) {
                assert_eq!(n1, n2);
                if n1 == name {
                    assert_ne!(b1, b2, "the flip in {name} changed its bytes");
                    assert_eq!(b2, &changed);
                } else {
                    assert_eq!(b1, b2, "{n1} untouched when flipping {name}");
                }
            }
            let keys: Vec<Option<String>> = if is_meta && n < 3 {
                vec![Some(key.clone()), None]
            } else {
                vec![Some(key.clone())]
            };
            for k in keys {
                cases.push(Case {
                    what: format!("byte {pos} of {name} flipped"),
                    archive: tampered.clone(),
                    key: k,
                    names: name.to_string(),
                    code: None,
                });
            }
        }
        let removed = rewrite(&x, |e| if e == name { Edit::Drop } else { Edit::Keep }, &[]);
        assert_eq!(entries(&removed).len(), original.len() - 1);
        let keys: Vec<Option<String>> = if is_meta {
            vec![Some(key.clone()), None]
        } else {
            vec![Some(key.clone())]
        };
        for k in keys {
            cases.push(Case {
                what: format!("{name} removed"),
                archive: removed.clone(),
                key: k,
                names: name.to_string(),
                code: if is_meta { None } else { Some("file_missing") },
            });
        }
        // A byte flipped in place in the file (as a bad disk would): the stored CRC no longer
        // matches, or the compressed stream no longer decodes.
        let (start, len) = data_range(&x, name);
        if len > 0 {
            let mut raw = x.clone();
            raw[start + len / 2] ^= 0x01;
            assert_ne!(raw, x);
            cases.push(Case {
                what: format!("{name} corrupted on disk"),
                archive: raw,
                key: Some(key.clone()),
                names: name.to_string(),
                code: None,
            });
        }
    }

    // ---- an entry added ----
    for extra in [
        "extra.txt",
        "files/submission/smuggled.exe",
        "data/extra.json",
        "viewer/extra.js",
    ] {
        let added = rewrite(&x, |_| Edit::Keep, &[(extra, b"MZ not listed")]);
        assert_eq!(entries(&added).len(), original.len() + 1);
        for k in [Some(key.clone()), None] {
            cases.push(Case {
                what: format!("{extra} added"),
                archive: added.clone(),
                key: k,
                names: extra.to_string(),
                code: Some("unlisted_file"),
            });
        }
    }

    // ---- a second copy of an entry, placed first ----
    // Extractors differ in which copy they keep: `unzip -n` keeps the first, the forged one.
    let forged_profile = br#"{"display_name":"Someone Else"}"#;
    let hidden = copy_first_checked(&x, "data/profile.json", forged_profile, dir.path());
    cases.push(Case {
        what: "a forged copy of data/profile.json placed before the genuine one".into(),
        archive: hidden,
        key: Some(key.clone()),
        names: "data/profile.json".into(),
        code: Some("unlisted_file"),
    });
    for name in [
        MANIFEST,
        SIGNATURE,
        PUBLIC_KEY,
        "index.html",
        names
            .iter()
            .find(|n| n.starts_with("files/"))
            .expect("a delivered file"),
    ] {
        let forged = flipped(content[name], 0);
        for k in [Some(key.clone()), None] {
            cases.push(Case {
                what: format!("a changed copy of {name} placed before the genuine one"),
                archive: with_copy_first(&x, name, &forged),
                key: k,
                names: name.to_string(),
                code: Some("unlisted_file"),
            });
        }
    }

    // ---- signed by another key ----
    let other = SigningKey::from_bytes(&[42u8; 32]);
    let other_public = hex::encode(other.verifying_key().to_bytes());
    assert_ne!(other_public, key);
    let forged_sig = hex::encode(other.sign(content[MANIFEST]).to_bytes());
    let forged = rewrite(
        &x,
        |e| match e {
            SIGNATURE => Edit::Replace(forged_sig.clone().into_bytes()),
            PUBLIC_KEY => Edit::Replace(other_public.clone().into_bytes()),
            _ => Edit::Keep,
        },
        &[],
    );
    // The forgery is otherwise perfect: on its own (key inside the archive) it verifies, as
    // documented (integrity, not origin)...
    let forged_path = dir.path().join("forged.zip");
    std::fs::write(&forged_path, &forged).unwrap();
    let (success, report, out) = verify_json(&forged_path, None);
    assert!(success, "the forgery is self-consistent: {out}");
    assert_eq!(report["signer"], other_public.as_str(), "{report}");
    // ...and only the server's key tells it apart.
    cases.push(Case {
        what: "signed by another key (manifest.sig and public-key.txt replaced)".into(),
        archive: forged,
        key: Some(key.clone()),
        names: String::new(),
        code: Some("wrong_signer"),
    });
    // Only the signature replaced: it matches neither key.
    let forged_sig_only = rewrite(
        &x,
        |e| {
            if e == SIGNATURE {
                Edit::Replace(forged_sig.clone().into_bytes())
            } else {
                Edit::Keep
            }
        },
        &[],
    );
    for k in [Some(key.clone()), None] {
        cases.push(Case {
            what: "manifest.sig replaced by another key's signature".into(),
            archive: forged_sig_only.clone(),
            key: k,
            names: SIGNATURE.into(),
            code: Some("signature_invalid"),
        });
    }

    // ---- a signature (or a signed manifest) from another valid archive ----
    let other_archive: BTreeMap<String, Vec<u8>> = entries(&y).into_iter().collect();
    assert_ne!(other_archive[MANIFEST].as_slice(), content[MANIFEST]);
    assert_ne!(other_archive[SIGNATURE].as_slice(), content[SIGNATURE]);
    let swapped = rewrite(
        &x,
        |e| {
            if e == SIGNATURE {
                Edit::Replace(other_archive[SIGNATURE].clone())
            } else {
                Edit::Keep
            }
        },
        &[],
    );
    for k in [Some(key.clone()), None] {
        cases.push(Case {
            what: "manifest.sig taken from another valid archive".into(),
            archive: swapped.clone(),
            key: k,
            names: SIGNATURE.into(),
            code: Some("signature_invalid"),
        });
    }
    let swapped_both = rewrite(
        &x,
        |e| {
            if e == SIGNATURE || e == MANIFEST {
                Edit::Replace(other_archive[e].clone())
            } else {
                Edit::Keep
            }
        },
        &[],
    );
    for k in [Some(key.clone()), None] {
        cases.push(Case {
            what: "manifest.json and manifest.sig taken from another valid archive".into(),
            archive: swapped_both.clone(),
            key: k,
            names: String::new(),
            code: None,
        });
    }

    let n = cases.len();
    let failures = run_cases(dir.path(), &cases);
    assert!(
        failures.is_empty(),
        "{} of {n} tamperings were not caught as they should be:\n{}",
        failures.len(),
        failures.join("\n")
    );
    eprintln!(
        "{n} tampered archives refused by hiatus verify in {:?} in all",
        started.elapsed()
    );
}

#[test]
fn independent_tools_agree_with_the_manifest() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    ok(
        &hiatus(&data, &["demo", "--no-serve"]),
        "hiatus demo --no-serve",
    );
    let x_path = dir.path().join("x.zip");
    export(&data, "ben@demo.hiatus.test", &x_path);

    // unzip's own test of every entry's CRC.
    let t = Command::new("unzip")
        .args(["-t", x_path.to_str().unwrap()])
        .output()
        .expect("unzip is installed");
    ok(&t, "unzip -t");
    assert!(
        String::from_utf8_lossy(&t.stdout).contains("No errors detected"),
        "{}",
        String::from_utf8_lossy(&t.stdout)
    );
    // It can fail: a byte flipped on disk is an error for it too.
    let x = std::fs::read(&x_path).unwrap();
    let (start, len) = data_range(&x, "data/files.json");
    let mut bad = x.clone();
    bad[start + len / 2] ^= 0x01;
    let bad_path = dir.path().join("bad.zip");
    std::fs::write(&bad_path, &bad).unwrap();
    let t = Command::new("unzip")
        .args(["-t", bad_path.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!t.status.success(), "unzip -t accepted a corrupted archive");

    // Unpacked, every file's size and SHA-256 (by the system's sha256sum) match the manifest.
    let out = dir.path().join("unpacked");
    let u = Command::new("unzip")
        .args(["-q", x_path.to_str().unwrap(), "-d", out.to_str().unwrap()])
        .env("LC_ALL", "C.UTF-8")
        .output()
        .unwrap();
    ok(&u, "unzip");
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(out.join(MANIFEST)).unwrap()).unwrap();
    let listed: BTreeMap<String, (u64, String)> = manifest["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["path"].as_str().unwrap().to_string(),
                (
                    f["size"].as_u64().unwrap(),
                    f["sha256"].as_str().unwrap().to_string(),
                ),
            )
        })
        .collect();
    assert!(listed.len() > 20, "{manifest}");
    let on_disk: BTreeSet<String> = walk(&out)
        .into_iter()
        .map(|p| {
            p.strip_prefix(&out)
                .unwrap()
                .to_str()
                .expect("UTF-8 path")
                .to_string()
        })
        .collect();
    let expected: BTreeSet<String> = listed
        .keys()
        .cloned()
        .chain(METADATA.iter().map(|s| s.to_string()))
        .collect();
    assert_eq!(on_disk, expected, "unzip produced exactly the listed files");
    let paths: Vec<&String> = listed.keys().collect();
    let sums = Command::new("sha256sum")
        .arg("--")
        .args(&paths)
        .current_dir(&out)
        .output()
        .expect("sha256sum is installed");
    ok(&sums, "sha256sum");
    let mut summed = BTreeMap::new();
    for line in String::from_utf8(sums.stdout).unwrap().lines() {
        let (hash, path) = line.split_once("  ").expect("sha256sum output");
        summed.insert(path.to_string(), hash.to_string());
    }
    assert_eq!(summed.len(), listed.len(), "one sum per listed file");
    for (path, (size, sha)) in &listed {
        assert_eq!(summed.get(path), Some(sha), "sha256sum of {path}");
        let meta = std::fs::metadata(out.join(path)).unwrap();
        assert_eq!(meta.len(), *size, "size of {path}");
    }
    // The unpacked signature and key are the archive's own, and name the server's key.
    let sig = std::fs::read_to_string(out.join(SIGNATURE)).unwrap();
    assert_eq!(sig.trim().len(), 128);
}

/// Every regular file under `dir`.
fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}
