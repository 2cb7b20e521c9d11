//! "Download your data": export requests, the job that builds the archive, download links.
//!
//! A member asks; a job builds the archive while the member watches its progress; the archive
//! is kept for a configurable number of days; each click on "download" mints a short-lived link
//! that only works for the owner, in the owner's session. One export at a time per member, and
//! a daily limit counted in calendar days.

mod build;
mod builder;
mod categories;
mod download;
mod files;
mod invoices;
mod pipe;
mod produce;
mod request;
mod retention;
mod stream;

pub use build::{BuildOutcome, Lease};

use crate::Hiatus;
use crate::error::{ServiceError, ServiceResult};
use hiatus_archive::{SigningKey, VerifyingKey};
use hiatus_domain::ExportStatus;
use hiatus_domain::{AccountId, DAY_MICROS, Micros};
use hiatus_store::export_data::rfc3339;
use hiatus_store::exports::{self, ExportRow};
use serde::Serialize;

/// The label of the export signing key's derivation from the master key.
const SIGNING_LABEL: &str = "export archive signing key";

/// Progress of an export, for the member to watch.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct ExportProgress {
    pub records_done: i64,
    pub records_total: i64,
    pub bytes_done: i64,
    pub bytes_total: i64,
    /// 0 to 100, from records and bytes together.
    pub percent: u8,
}

/// An export as the member sees it.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct ExportView {
    pub id: String,
    /// `queued`, `running`, `ready`, `failed` or `expired`.
    pub status: String,
    /// For an incremental export: only what changed from this time (RFC 3339).
    pub since: Option<String>,
    pub progress: ExportProgress,
    pub created_at: String,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    /// When the archive will be removed (ready exports).
    pub expires_at: Option<String>,
    pub size_bytes: Option<i64>,
    pub downloaded_at: Option<String>,
    /// Why it failed, in words.
    pub error: Option<String>,
}

impl From<&ExportRow> for ExportView {
    fn from(r: &ExportRow) -> Self {
        let total = (r.records_total + r.bytes_total / 65_536).max(1);
        let done = r.records_done + r.bytes_done / 65_536;
        let percent = if r.stage().ok() == Some(ExportStatus::Ready) {
            100
        } else {
            ((done * 100) / total).clamp(0, 99) as u8
        };
        ExportView {
            id: r.id.clone(),
            status: r.status.clone(),
            since: r.since.map(rfc3339),
            progress: ExportProgress {
                records_done: r.records_done,
                records_total: r.records_total,
                bytes_done: r.bytes_done,
                bytes_total: r.bytes_total,
                percent,
            },
            created_at: rfc3339(r.created_at),
            started_at: r.started_at.map(rfc3339),
            finished_at: r.finished_at.map(rfc3339),
            expires_at: r.expires_at.map(rfc3339),
            size_bytes: r.size_bytes,
            downloaded_at: r.downloaded_at.map(rfc3339),
            error: r.error.clone(),
        }
    }
}

/// A freshly minted download link.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct DownloadLink {
    /// Relative URL of the download; works once logged in as the owner, until `expires_at`.
    pub url: String,
    pub expires_at: String,
}

/// What a download request gets of the archive.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Serves {
    /// No bytes (a HEAD probe, a refused range): not a download.
    Nothing,
    /// Bytes that stop short of the archive's end (one part of a resumed download).
    Part,
    /// Bytes up to the archive's last one: the member now holds the whole archive.
    ToTheEnd,
}

/// What a download serves.
#[derive(Clone, Debug)]
pub struct Download {
    pub export_id: String,
    /// The archive's blob key: read it with `Blobs::read`.
    pub key: String,
    pub size: u64,
    pub file_name: String,
}

/// The folder (key prefix) of export archives.
const EXPORTS_FOLDER: &str = "exports";

/// The export id an archive key names (`exports/<id>.zip`).
fn export_id_of(key: &str) -> Option<&str> {
    key.strip_prefix("exports/")?.strip_suffix(".zip")
}

/// The blob key of an export's archive.
pub fn archive_key(export_id: &str) -> String {
    format!("exports/{export_id}.zip")
}

fn start_of_day(t: Micros) -> Micros {
    t - t.rem_euclid(DAY_MICROS)
}

impl Hiatus {
    /// The key that signs export archives (derived from the master key).
    pub fn export_signing_key(&self) -> SigningKey {
        SigningKey::from_bytes(&self.keys.derive_secret(SIGNING_LABEL))
    }

    /// The public key that verifies export archives (hex), as the server publishes it.
    pub fn export_public_key(&self) -> VerifyingKey {
        self.export_signing_key().verifying_key()
    }
}

async fn owned(tx: &mut hiatus_store::Tx, who: AccountId, id: &str) -> ServiceResult<ExportRow> {
    let row = exports::get(tx, id)
        .await?
        .ok_or(ServiceError::NotFound("export"))?;
    if row.account_id != who.to_text() || row.status == "downloaded" {
        return Err(ServiceError::NotFound("export"));
    }
    Ok(row)
}
