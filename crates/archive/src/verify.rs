//! Offline verification: the ZIP opens, the manifest is signed by the expected key, every
//! listed file is present with its size and hash, nothing unlisted is there, and the counts add
//! up.

use crate::manifest::Manifest;
use crate::write::path_is_safe;
use crate::{FORMAT_VERSION, MANIFEST_PATH, PUBLIC_KEY_PATH, SIGNATURE_PATH};
use ed25519_dalek::{Signature, VerifyingKey};
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::io::{Read, Seek};

/// One thing wrong with an archive.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// A stable code: `not_a_zip`, `manifest_missing`, `manifest_invalid`, `signature_missing`,
    /// `signature_invalid`, `wrong_signer`, `file_missing`, `size_mismatch`, `hash_mismatch`,
    /// `unlisted_file`, `unsafe_path`, `count_mismatch`, `unknown_format`.
    pub code: &'static str,
    /// What is wrong, in words.
    pub detail: String,
}

/// The outcome of a verification.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub account_id: Option<String>,
    pub created_at: Option<String>,
    pub files_checked: usize,
    pub bytes_checked: u64,
    pub signer: Option<String>,
    pub exported: BTreeMap<String, u64>,
    pub held: BTreeMap<String, u64>,
    pub problems: Vec<Problem>,
}

impl Report {
    /// True when nothing is wrong.
    pub fn ok(&self) -> bool {
        self.problems.is_empty()
    }
}

fn problem(code: &'static str, detail: impl Into<String>) -> Problem {
    Problem {
        code,
        detail: detail.into(),
    }
}

fn read_entry<R: Read + Seek>(
    zip: &mut zip::ZipArchive<R>,
    name: &str,
    limit: u64,
) -> Option<Vec<u8>> {
    let f = zip.by_name(name).ok()?;
    let mut v = Vec::new();
    f.take(limit).read_to_end(&mut v).ok()?;
    Some(v)
}

/// Verifies an archive. With `expected`, the signature must come from that key; without, the
/// key inside the archive is used (proving integrity, not origin).
pub fn verify<R: Read + Seek>(reader: R, expected: Option<&VerifyingKey>) -> Report {
    let mut report = Report {
        account_id: None,
        created_at: None,
        files_checked: 0,
        bytes_checked: 0,
        signer: None,
        exported: BTreeMap::new(),
        held: BTreeMap::new(),
        problems: Vec::new(),
    };
    let mut zip = match zip::ZipArchive::new(reader) {
        Ok(z) => z,
        Err(e) => {
            report.problems.push(problem(
                "not_a_zip",
                format!("the file is not a readable ZIP archive: {e}"),
            ));
            return report;
        }
    };
    let Some(json) = read_entry(&mut zip, MANIFEST_PATH, 256 * 1024 * 1024) else {
        report.problems.push(problem(
            "manifest_missing",
            "the archive has no manifest.json",
        ));
        return report;
    };
    // The signature.
    let key_in_archive = read_entry(&mut zip, PUBLIC_KEY_PATH, 1024)
        .and_then(|b| hex::decode(String::from_utf8_lossy(&b).trim()).ok())
        .and_then(|b| <[u8; 32]>::try_from(b).ok())
        .and_then(|b| VerifyingKey::from_bytes(&b).ok());
    let signer = match (expected, key_in_archive) {
        (Some(e), Some(k)) if e != &k => {
            report.problems.push(problem(
                "wrong_signer",
                "the archive was signed by another key than the one given",
            ));
            Some(*e)
        }
        (Some(e), _) => Some(*e),
        (None, Some(k)) => Some(k),
        (None, None) => None,
    };
    report.signer = signer.map(|k| hex::encode(k.to_bytes()));
    let signature = read_entry(&mut zip, SIGNATURE_PATH, 1024)
        .and_then(|b| hex::decode(String::from_utf8_lossy(&b).trim()).ok())
        .and_then(|b| <[u8; 64]>::try_from(b).ok())
        .map(|b| Signature::from_bytes(&b));
    match (signer, signature) {
        (Some(k), Some(sig)) => {
            if k.verify_strict(&json, &sig).is_err() {
                report.problems.push(problem("signature_invalid", "the manifest's signature does not match: the archive was changed or not made by this server"));
            }
        }
        _ => report.problems.push(problem(
            "signature_missing",
            "the archive has no usable signature or public key",
        )),
    }
    let manifest: Manifest = match serde_json::from_slice(&json) {
        Ok(m) => m,
        Err(e) => {
            report.problems.push(problem(
                "manifest_invalid",
                format!("manifest.json is not a valid manifest: {e}"),
            ));
            return report;
        }
    };
    if manifest.format_version != FORMAT_VERSION {
        report.problems.push(problem(
            "unknown_format",
            format!(
                "format version {} (this tool reads {FORMAT_VERSION})",
                manifest.format_version
            ),
        ));
    }
    report.account_id = Some(manifest.account_id.clone());
    report.created_at = Some(manifest.created_at.clone());
    report.exported = manifest.exported.clone();
    report.held = manifest.held.clone();

    // Every listed file, streamed through the hash.
    let mut listed = std::collections::HashSet::new();
    let mut per_category: BTreeMap<String, u64> = BTreeMap::new();
    for entry in &manifest.files {
        listed.insert(entry.path.as_str());
        *per_category.entry(entry.category.clone()).or_default() += 1;
        if !path_is_safe(&entry.path) {
            report.problems.push(problem(
                "unsafe_path",
                format!("{:?} is not a safe path", entry.path),
            ));
            continue;
        }
        let Ok(mut f) = zip.by_name(&entry.path) else {
            report.problems.push(problem(
                "file_missing",
                format!("{} is listed but not in the archive", entry.path),
            ));
            continue;
        };
        let mut hasher = Sha256::new();
        let mut buf = vec![0u8; 64 * 1024];
        let mut size = 0u64;
        let mut failed = false;
        loop {
            match f.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    hasher.update(&buf[..n]);
                    size += n as u64;
                }
                Err(e) => {
                    report.problems.push(problem(
                        "hash_mismatch",
                        format!("{} cannot be read: {e}", entry.path),
                    ));
                    failed = true;
                    break;
                }
            }
        }
        if failed {
            continue;
        }
        report.files_checked += 1;
        report.bytes_checked += size;
        if size != entry.size {
            report.problems.push(problem(
                "size_mismatch",
                format!(
                    "{} has {size} bytes, the manifest says {}",
                    entry.path, entry.size
                ),
            ));
        } else if hex::encode(hasher.finalize()) != entry.sha256 {
            report.problems.push(problem(
                "hash_mismatch",
                format!("{} does not match its SHA-256 in the manifest", entry.path),
            ));
        }
    }
    // Nothing unlisted.
    for i in 0..zip.len() {
        let Ok(f) = zip.by_index_raw(i) else { continue };
        let Ok(name) = f.name().map(|n| n.to_string()) else {
            report.problems.push(problem(
                "unsafe_path",
                format!("entry {i} has a name that is not valid text"),
            ));
            continue;
        };
        if f.is_dir() || [MANIFEST_PATH, SIGNATURE_PATH, PUBLIC_KEY_PATH].contains(&name.as_str()) {
            continue;
        }
        if !listed.contains(name.as_str()) {
            report.problems.push(problem(
                "unlisted_file",
                format!("{name} is in the archive but not in the manifest"),
            ));
        }
    }
    // File categories that the manifest counts must have at least that many files.
    for (cat, n) in &per_category {
        if let Some(exported) = manifest.exported.get(cat)
            && exported < n
        {
            report.problems.push(problem(
                "count_mismatch",
                format!("{cat}: {n} files but {exported} exported records"),
            ));
        }
    }
    for (cat, exported) in &manifest.exported {
        if let Some(held) = manifest.held.get(cat)
            && exported > held
        {
            report.problems.push(problem(
                "count_mismatch",
                format!("{cat}: {exported} exported but only {held} held"),
            ));
        }
    }
    report
}
