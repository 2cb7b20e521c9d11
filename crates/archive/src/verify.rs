//! Offline verification: the ZIP opens, the manifest is signed by the expected key, every
//! listed file is present with its size and hash, nothing unlisted is there, and the counts add
//! up.

use crate::active::{SNIFF_BYTES, entry_is_active};
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
    /// `unlisted_file`, `unsafe_path`, `active_file`, `count_mismatch`, `unknown_format`.
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
    // The signature. Both files must be there and usable, whether or not the expected key is
    // given: a damaged or removed public-key.txt is a changed archive too.
    let key_in_archive = read_entry(&mut zip, PUBLIC_KEY_PATH, 1024)
        .and_then(|b| hex::decode(String::from_utf8_lossy(&b).trim()).ok())
        .and_then(|b| <[u8; 32]>::try_from(b).ok())
        .and_then(|b| VerifyingKey::from_bytes(&b).ok());
    if key_in_archive.is_none() {
        report.problems.push(problem(
            "signature_missing",
            format!("{PUBLIC_KEY_PATH} is missing or is not an Ed25519 public key (64 hex digits)"),
        ));
    }
    let signer = match (expected, key_in_archive) {
        (Some(e), Some(k)) if e != &k => {
            report.problems.push(problem(
                "wrong_signer",
                format!(
                    "the archive was signed by another key than the one given: {PUBLIC_KEY_PATH} holds {}",
                    hex::encode(k.to_bytes())
                ),
            ));
            Some(*e)
        }
        (Some(e), _) => Some(*e),
        (None, k) => k,
    };
    report.signer = signer.map(|k| hex::encode(k.to_bytes()));
    let signature = read_entry(&mut zip, SIGNATURE_PATH, 1024)
        .and_then(|b| hex::decode(String::from_utf8_lossy(&b).trim()).ok())
        .and_then(|b| <[u8; 64]>::try_from(b).ok())
        .map(|b| Signature::from_bytes(&b));
    if signature.is_none() {
        report.problems.push(problem(
            "signature_missing",
            format!("{SIGNATURE_PATH} is missing or is not an Ed25519 signature (128 hex digits)"),
        ));
    }
    if let (Some(k), Some(sig)) = (signer, signature)
        && k.verify_strict(&json, &sig).is_err()
    {
        report.problems.push(problem(
            "signature_invalid",
            format!(
                "{SIGNATURE_PATH} is not a valid signature of {MANIFEST_PATH} by {}: the archive was changed or not made by this server",
                if expected.is_some() {
                    "the key given".to_string()
                } else {
                    format!("the key in {PUBLIC_KEY_PATH}")
                }
            ),
        ));
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
        let mut head = Vec::with_capacity(SNIFF_BYTES);
        loop {
            match f.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    hasher.update(&buf[..n]);
                    size += n as u64;
                    if head.len() < SNIFF_BYTES {
                        let more = n.min(SNIFF_BYTES - head.len());
                        head.extend_from_slice(&buf[..more]);
                    }
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
        // Opened from the file system, an active file could read the viewer's data.
        if entry_is_active(&entry.path, &head) {
            report.problems.push(problem(
                "active_file",
                format!(
                    "{} could run in a browser: only the viewer's own files may (open the archive's files with care)",
                    entry.path
                ),
            ));
        }
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
    // Nothing twice: readers differ in which copy of a name they take (this one, the last;
    // `unzip -n` and others, the first), so a second copy could hide what the member sees.
    if zip.has_duplicate_names() {
        let cd_start = zip.central_directory_start();
        let twice = duplicate_names(zip.into_inner(), cd_start);
        let which = if twice.is_empty() {
            "some name".to_string()
        } else {
            twice.join(", ")
        };
        report.problems.push(problem(
            "unlisted_file",
            format!("{which} is in the archive more than once: only one copy is in the manifest"),
        ));
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

/// The names that occur more than once in the central directory starting at `start` (the
/// ZIP reader keeps one entry per name, so it cannot list them).
fn duplicate_names<R: Read + Seek>(mut r: R, start: u64) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    let mut twice = std::collections::BTreeSet::new();
    if r.seek(std::io::SeekFrom::Start(start)).is_err() {
        return Vec::new();
    }
    // Central directory headers: signature, 42 fixed bytes, then name, extra field, comment.
    let mut header = [0u8; 46];
    while r.read_exact(&mut header).is_ok() && header[..4] == [0x50, 0x4b, 0x01, 0x02] {
        let len = |at: usize| u16::from_le_bytes([header[at], header[at + 1]]) as usize;
        let (name_len, rest) = (len(28), len(30) + len(32));
        let mut name = vec![0u8; name_len];
        if r.read_exact(&mut name).is_err()
            || r.seek(std::io::SeekFrom::Current(rest as i64)).is_err()
        {
            break;
        }
        let name = String::from_utf8_lossy(&name).into_owned();
        if !seen.insert(name.clone()) {
            twice.insert(name);
        }
    }
    twice.into_iter().collect()
}
