//! The export job: reads the member's records a page at a time in one consistent snapshot and
//! streams them into the archive.
//!
//! Several threads share the work, so both of a small machine's cores stay busy. This task
//! reads the database and serializes records. The archive writer (a blocking thread, with one
//! more that only writes to disk) reads, hashes and writes the files' bytes from the start;
//! meanwhile a part writer deflates the records, the CSV and viewer copies and the PDFs into a
//! temporary ZIP, which the archive writer copies in whole (compressed) once the files are
//! written. A third thread renders the invoice PDFs that no earlier export kept (see
//! `hiatus_store::invoice_pdfs`); kept ones are copied from the database. They talk through
//! bounded channels, so memory stays flat whatever the account's size: what does not fit in a
//! channel waits in a temporary file (the file lists, the CSV copies, the viewer's copies, the
//! invoices to render).

use super::pipe::{Piece, Writers, write_archive, write_part};
use super::produce::Build;
use super::{archive_key, builder::io};
use crate::Hiatus;
use crate::error::{ServiceError, ServiceResult};
use crate::jobs::Job;
use hiatus_domain::AccountId;
use hiatus_domain::ExportStatus;
use hiatus_store::audit;
use hiatus_store::export_data::rfc3339;
use hiatus_store::exports::{self, Finished};
use hiatus_store::jobs;
use std::fs::File;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Instant;
use tokio::sync::mpsc;

/// What a build did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BuildOutcome {
    /// The archive is ready.
    Ready { size_bytes: i64, records: i64 },
    /// Nothing to do: the export was already finished, failed or gone.
    Skipped,
}

/// The job's lease, extended with every progress beat.
#[derive(Clone, Debug)]
pub struct Lease {
    pub job_id: String,
    pub worker_id: String,
}

impl Hiatus {
    /// True when the export's row is gone or no longer running (erasure stopped it).
    async fn export_was_stopped(&self, export_id: &str) -> bool {
        let Ok(mut tx) = self.db.read().await else {
            return false;
        };
        let row = exports::get(&mut tx, export_id).await;
        let _ = tx.commit().await;
        match row {
            Ok(Some(r)) => r.stage().ok() != Some(ExportStatus::Running),
            Ok(None) => true,
            Err(_) => false,
        }
    }

    /// Builds the archive of an export (the export job). Safe to run again after a crash: it
    /// starts over and replaces any partial file.
    pub async fn build_export(
        &self,
        export_id: &str,
        lease: Option<Lease>,
    ) -> ServiceResult<BuildOutcome> {
        let now = self.now();
        let row = {
            let mut tx = self.db.begin().await?;
            let Some(row) = exports::get(&mut tx, export_id).await? else {
                return Ok(BuildOutcome::Skipped);
            };
            if !exports::start(&mut tx, export_id, now).await? {
                return Ok(BuildOutcome::Skipped);
            }
            tx.commit().await?;
            row
        };
        let member: AccountId = row
            .account_id
            .parse()
            .map_err(|_| ServiceError::NotFound("account"))?;
        let key = archive_key(export_id);
        // The archive is built in a local folder (beside its final place, or the object
        // store's spool) and published when whole.
        let dir = self.blobs.scratch_dir(&key)?;
        let partial = self.blobs.partial_path(&key)?;
        let out = File::create(&partial).map_err(io)?;

        let started = Instant::now();
        let (to_archive, rx) = mpsc::channel::<Piece>(32);
        let file_bytes = Arc::new(AtomicU64::new(0));
        let signing = self.export_signing_key();
        let fb = file_bytes.clone();
        let writer = tokio::task::spawn_blocking(move || write_archive(rx, out, signing, fb));
        let (to_writer, part_rx) = mpsc::channel::<Piece>(32);
        let part_file = tempfile::tempfile_in(&dir).map_err(io)?;
        let fb = file_bytes.clone();
        let part = tokio::task::spawn_blocking(move || write_part(part_rx, part_file, fb));
        let (to_viewer, viewer_rx) = mpsc::channel::<Piece>(32);
        let viewer_file = tempfile::tempfile_in(&dir).map_err(io)?;
        let fb = file_bytes.clone();
        let viewer = tokio::task::spawn_blocking(move || write_part(viewer_rx, viewer_file, fb));

        let result = self
            .produce(Build {
                export_id,
                member,
                since: row.since,
                writers: Writers {
                    to_writer,
                    to_viewer,
                    to_archive,
                    part,
                    viewer,
                },
                spool_dir: &dir,
                file_bytes,
                lease,
            })
            .await;
        let written = writer
            .await
            .map_err(|e| io(std::io::Error::other(e.to_string())))?;
        tracing::debug!(export = %export_id, phase = "synced", ms = started.elapsed().as_millis() as u64, "export phase done");
        let (records, progress) = match (result, written) {
            (Ok(r), Ok(_)) => r,
            (Err(e), _) => {
                let _ = std::fs::remove_file(&partial);
                // Erasure started while the archive was being built: there is nothing left
                // to export, and that is not a failure to retry.
                if self.export_was_stopped(export_id).await {
                    return Ok(BuildOutcome::Skipped);
                }
                return Err(e);
            }
            (Ok(_), Err(e)) => {
                let _ = std::fs::remove_file(&partial);
                return Err(io(std::io::Error::other(e)));
            }
        };
        let size = match self.blobs.publish(&key, &partial).await {
            Ok(n) => n as i64,
            Err(e) => {
                let _ = std::fs::remove_file(&partial);
                return Err(e.into());
            }
        };
        let now = self.now();
        let expires_at = now + self.config.exports.retention;
        let mut tx = self.db.begin().await?;
        let finished = exports::finish(
            &mut tx,
            export_id,
            &Finished {
                blob_key: key.clone(),
                size_bytes: size,
                expires_at,
                progress,
            },
            now,
        )
        .await?;
        if !finished {
            drop(tx);
            let _ = self.blobs.delete(&key).await;
            return Ok(BuildOutcome::Skipped);
        }
        jobs::enqueue(
            &mut tx,
            &Job::ExpireExport {
                export_id: export_id.to_string(),
            }
            .to_new(expires_at, Some(format!("export-expire:{export_id}")), 5),
            now,
        )
        .await?;
        // A day before it goes, a reminder (when the archive was not downloaded by then).
        let remind_at = expires_at - hiatus_domain::DAY_MICROS;
        if remind_at > now {
            jobs::enqueue(
                &mut tx,
                &Job::RemindExport {
                    export_id: export_id.to_string(),
                }
                .to_new(remind_at, Some(format!("export-remind:{export_id}")), 5),
                now,
            )
            .await?;
        }
        audit::record_event(&mut tx, audit::NewAuditEvent {
                account: Some(member),
                actor: None,
                action: "export.ready",
                reason: None,
                detail: serde_json::json!({ "export_id": export_id, "size_bytes": size, "records": records }),
                now,
            }, serde_json::json!({ "account_id": member, "export_id": export_id, "expires_at": rfc3339(expires_at) })).await?;
        tx.commit().await?;
        Ok(BuildOutcome::Ready {
            size_bytes: size,
            records,
        })
    }
}
