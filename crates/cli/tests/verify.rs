//! `hiatus verify` on a real archive file: exit 0 and a report when whole, non-zero with the
//! problem named when not.

use hiatus_archive::{ArchiveWriter, Compression, FORMAT_VERSION, Manifest, SigningKey};
use std::collections::BTreeMap;
use std::process::Command;

fn archive(path: &std::path::Path, key: &SigningKey) {
    let f = std::fs::File::create(path).unwrap();
    let mut w = ArchiveWriter::new(std::io::BufWriter::new(f));
    w.add_bytes(
        "data/profile.json",
        "profile",
        Compression::Deflate,
        br#"{"display_name":"Ana"}"#,
    )
    .unwrap();
    let m = Manifest {
        format_version: FORMAT_VERSION,
        account_id: "acct".into(),
        created_at: "2026-11-26T00:00:00Z".into(),
        since: None,
        files: vec![],
        exported: BTreeMap::from([("profile".to_string(), 1)]),
        held: BTreeMap::from([("profile".to_string(), 1)]),
        excluded: vec![],
        renamed: vec![],
    };
    use std::io::Write;
    w.finish(m, key).unwrap().flush().unwrap();
}

fn hiatus(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_hiatus"))
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn verify_reports_whole_and_broken_archives() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("export.zip");
    let key = SigningKey::from_bytes(&[3; 32]);
    archive(&path, &key);
    let p = path.to_str().unwrap();
    let public = hex::encode(key.verifying_key().to_bytes());

    let ok = hiatus(&["verify", p, "--public-key", &public]);
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stdout)
    );
    let out = String::from_utf8_lossy(&ok.stdout);
    assert!(
        out.contains("OK:") && out.contains("profile") && out.contains("1 exported of 1 held"),
        "{out}"
    );

    let other = hex::encode(SigningKey::from_bytes(&[4; 32]).verifying_key().to_bytes());
    let bad = hiatus(&["verify", p, "--public-key", &other, "--json"]);
    assert!(!bad.status.success());
    let report: serde_json::Value = serde_json::from_slice(&bad.stdout).unwrap();
    assert!(
        report["problems"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["code"] == "wrong_signer"),
        "{report}"
    );

    std::fs::write(dir.path().join("junk.zip"), b"junk").unwrap();
    let junk = hiatus(&["verify", dir.path().join("junk.zip").to_str().unwrap()]);
    assert!(!junk.status.success());
    assert!(String::from_utf8_lossy(&junk.stdout).contains("not_a_zip"));

    let missing = hiatus(&["verify", dir.path().join("nope.zip").to_str().unwrap()]);
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("opening"));
}
