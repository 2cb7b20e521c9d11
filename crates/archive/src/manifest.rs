//! The manifest: what the archive holds, and what it deliberately does not.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The version of the archive format this crate writes.
pub const FORMAT_VERSION: u32 = 1;

/// A kind of content, counted in the manifest (exported vs held by the database).
pub type Category = String;

/// One file of the archive.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestEntry {
    pub path: String,
    pub size: u64,
    /// Lower-case hex.
    pub sha256: String,
    pub category: Category,
}

/// Something deliberately left out, and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Exclusion {
    pub what: String,
    pub why: String,
}

/// An uploaded file stored under a neutral name because a browser could run it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Renamed {
    /// Its path in the archive (ending in `.txt`).
    pub path: String,
    /// The name it was uploaded with, exactly (invisible characters included).
    pub original_name: String,
    /// `active_extension`, `active_type`, `active_content` or `unknown_extension` (see
    /// [`crate::ActiveReason`]).
    pub reason: String,
}

/// The manifest as stored in `manifest.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub format_version: u32,
    /// The account the archive belongs to.
    pub account_id: String,
    /// When it was made (RFC 3339, UTC).
    pub created_at: String,
    /// Only changes after this time, for incremental exports.
    pub since: Option<String>,
    pub files: Vec<ManifestEntry>,
    /// Records per category: how many the archive holds.
    pub exported: BTreeMap<Category, u64>,
    /// Records per category: how many the database held for the member when the export ran.
    pub held: BTreeMap<Category, u64>,
    pub excluded: Vec<Exclusion>,
    /// Uploaded files stored under a neutral name, and why (absent from archives made before
    /// files were renamed).
    #[serde(default)]
    pub renamed: Vec<Renamed>,
}
