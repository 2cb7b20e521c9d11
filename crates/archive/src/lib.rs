//! The export archive: one ZIP with the member's data and files, a manifest listing every file
//! with its size and SHA-256, and an Ed25519 signature over the manifest. Writing streams
//! (bounded memory whatever the size); verification needs only the archive and, optionally,
//! the server's public key. This crate never sees the database: it takes records and bytes.

#![forbid(unsafe_code)]

pub mod active;
mod manifest;
mod names;
pub mod pdf;
mod spreadsheet;
mod verify;
mod write;

pub use active::{ActiveReason, SNIFF_BYTES};
pub use manifest::{Category, Exclusion, FORMAT_VERSION, Manifest, ManifestEntry, Renamed};
pub use names::{SafeNames, safe_name};
pub use spreadsheet::csv_safe;
pub use verify::{Problem, Report, verify};
pub use write::{ArchiveWriter, Compression};

pub use ed25519_dalek::{SigningKey, VerifyingKey};

/// The manifest's path inside the archive.
pub const MANIFEST_PATH: &str = "manifest.json";
/// The detached signature of the manifest (hex of the 64 signature bytes).
pub const SIGNATURE_PATH: &str = "manifest.sig";
/// The signer's public key (hex of the 32 key bytes), so the archive verifies on its own; pass
/// the key published by the server to `verify` to check it is the right signer.
pub const PUBLIC_KEY_PATH: &str = "public-key.txt";

/// Errors while writing an archive.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    #[error("writing the archive: {0}")]
    Io(#[from] std::io::Error),
    #[error("ZIP: {0}")]
    Zip(#[from] zip::result::ZipError),
    #[error("a file named {0:?} is already in the archive")]
    Duplicate(String),
    #[error("{0:?} is reserved for the archive's own metadata")]
    Reserved(String),
    #[error("{0:?} could run in a browser: an uploaded file must have a neutral name")]
    Active(String),
    #[error("the part to append does not match its entries: {0}")]
    Part(String),
}

/// The offline viewer's static files, as (path in the archive, bytes).
pub fn viewer_assets() -> [(&'static str, &'static [u8]); 3] {
    [
        ("index.html", include_bytes!("../assets/viewer/index.html")),
        (
            "viewer/viewer.js",
            include_bytes!("../assets/viewer/viewer.js"),
        ),
        (
            "viewer/viewer.css",
            include_bytes!("../assets/viewer/viewer.css"),
        ),
    ]
}
