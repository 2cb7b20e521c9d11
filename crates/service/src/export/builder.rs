//! The state one build shares between its steps, and the steps every category takes: sending
//! pieces to the writers, counting progress, streaming a category's records.

use super::Lease;
use super::invoices::Rendered;
use super::pipe::{Piece, Spool};
use crate::Hiatus;
use crate::error::{ServiceError, ServiceResult};
use hiatus_archive::{Compression, Renamed, csv_safe};
use hiatus_domain::{AccountId, Micros};
use hiatus_store::export_data::{self as ed, Record};
use hiatus_store::exports::{self, Progress};
use hiatus_store::{StoreError, Tx, jobs};
use schemars::JsonSchema;
use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// Records read per query.
pub(super) const PAGE: i64 = 1000;
/// Serialized bytes handed to the writer at a time.
pub(super) const CHUNK: usize = 64 * 1024;
/// Kept invoice PDFs read, or new ones kept, per query.
pub(super) const PDF_BATCH: usize = 32;
/// How often progress (and the job's lease) is written.
pub(super) const BEAT: Duration = Duration::from_millis(1000);

/// Writes one CSV row, each cell made safe, without copying the cells again.
pub(super) fn csv_record<W: Write>(w: &mut csv::Writer<W>, row: &[String]) -> ServiceResult<()> {
    for c in row {
        w.write_field(csv_safe(c).as_bytes())
            .map_err(|e| io(std::io::Error::other(e)))?;
    }
    w.write_record(None::<&[u8]>)
        .map_err(|e| io(std::io::Error::other(e)))
}

pub(super) fn io(e: std::io::Error) -> ServiceError {
    ServiceError::Internal(StoreError::Blob(e))
}

/// Something else a category's records feed while they stream (the invoice PDFs' queue).
pub(super) type SideOutput<'a, R> = dyn FnMut(&R) -> ServiceResult<()> + Send + 'a;

/// Shared state of one build.
pub(super) struct Builder<'h> {
    pub(super) h: &'h Hiatus,
    pub(super) member: AccountId,
    pub(super) since: Micros,
    pub(super) tx: Tx,
    /// To the part writer: the records, CSV files, rendered PDFs, schemas.
    pub(super) to_writer: mpsc::Sender<Piece>,
    /// To the viewer's part writer: the viewer's copies.
    pub(super) to_viewer: mpsc::Sender<Piece>,
    /// To the archive writer.
    pub(super) to_archive: mpsc::Sender<Piece>,
    pub(super) spool_dir: PathBuf,
    pub(super) exported: BTreeMap<String, u64>,
    pub(super) held: BTreeMap<String, u64>,
    pub(super) progress: Progress,
    /// Whether `progress` has its totals yet (no progress is written before).
    pub(super) totals_known: bool,
    pub(super) file_bytes: Arc<AtomicU64>,
    pub(super) last_beat: Instant,
    pub(super) export_id: String,
    pub(super) lease: Option<Lease>,
    /// Invoice PDFs as the renderer finishes them.
    pub(super) pdfs: Option<mpsc::Receiver<Rendered>>,
    /// Rendered PDFs waiting to be kept for the next export.
    pub(super) to_keep: Vec<Rendered>,
    pub(super) people: HashMap<String, String>,
    /// Uploaded files stored under a neutral name, for the manifest.
    pub(super) renamed: Vec<Renamed>,
}

impl Builder<'_> {
    pub(super) async fn send(&self, p: Piece) -> ServiceResult<()> {
        self.to_writer
            .send(p)
            .await
            .map_err(|_| io(std::io::Error::other("the archive writer stopped")))
    }

    pub(super) async fn send_viewer(&self, p: Piece) -> ServiceResult<()> {
        self.to_viewer
            .send(p)
            .await
            .map_err(|_| io(std::io::Error::other("the viewer's part writer stopped")))
    }

    pub(super) async fn send_archive(&self, p: Piece) -> ServiceResult<()> {
        self.to_archive
            .send(p)
            .await
            .map_err(|_| io(std::io::Error::other("the archive writer stopped")))
    }

    /// Waits for `fut`, writing progress (and extending the lease) meanwhile.
    pub(super) async fn wait_ticking<F: std::future::Future + Unpin>(
        &mut self,
        fut: &mut F,
    ) -> ServiceResult<F::Output> {
        loop {
            match tokio::time::timeout(BEAT, &mut *fut).await {
                Ok(v) => return Ok(v),
                Err(_) => self.tick(0).await?,
            }
        }
    }

    pub(super) async fn entry(
        &self,
        path: &str,
        category: &'static str,
        bytes: Vec<u8>,
    ) -> ServiceResult<()> {
        self.send(Piece::Entry {
            path: path.into(),
            category,
            compression: Compression::Deflate,
        })
        .await?;
        self.send(Piece::Bytes(bytes)).await?;
        self.send(Piece::End).await
    }

    /// Counts records done; about once a second writes the progress and extends the job's
    /// lease, and stops the build when the lease was lost.
    pub(super) async fn tick(&mut self, records: u64) -> ServiceResult<()> {
        self.progress.records_done += records as i64;
        if self.last_beat.elapsed() < BEAT || !self.totals_known {
            return Ok(());
        }
        self.last_beat = Instant::now();
        self.progress.bytes_done = self.file_bytes.load(Ordering::Relaxed) as i64;
        let now = self.h.now();
        let mut tx = self.h.db.begin().await?;
        let mut alive = exports::progress(&mut tx, &self.export_id, self.progress, now).await?;
        if let Some(l) = &self.lease {
            alive &= jobs::extend_lease(
                &mut tx,
                &l.job_id,
                &l.worker_id,
                now + self.h.config.job_lease,
            )
            .await?;
        }
        tx.commit().await?;
        if alive {
            Ok(())
        } else {
            Err(ServiceError::conflict(
                "export_lease_lost",
                "the export was cancelled or taken over by another worker",
            ))
        }
    }

    /// Streams one category into `data/<cat>.json` and its viewer copy into the viewer's part;
    /// its CSV is spooled and written after it.
    pub(super) async fn category<R: Record>(
        &mut self,
        mut each: impl FnMut(&mut R, &HashMap<String, String>),
        mut after_page: impl AsyncFnMut(&mut Tx, &mut Vec<R>) -> ServiceResult<()>,
        mut side: Option<&mut SideOutput<'_, R>>,
    ) -> ServiceResult<()> {
        let cat = R::CATEGORY;
        self.send_viewer(Piece::Entry {
            path: format!("viewer/data/{cat}.js"),
            category: "viewer",
            compression: Compression::Deflate,
        })
        .await?;
        self.send_viewer(Piece::Bytes(format!("HIATUS.load({cat:?}, [").into_bytes()))
            .await?;
        let mut csv = match R::CSV {
            Some(header) => {
                let mut w = csv::Writer::from_writer(Spool::new(&self.spool_dir).map_err(io)?);
                w.write_record(header)
                    .map_err(|e| io(std::io::Error::other(e)))?;
                Some(w)
            }
            None => None,
        };
        self.send(Piece::Entry {
            path: format!("data/{cat}.json"),
            category: "data",
            compression: Compression::Deflate,
        })
        .await?;
        let mut buf = Vec::with_capacity(CHUNK + 4096);
        buf.extend_from_slice(b"[");
        let mut after = String::new();
        let mut n = 0u64;
        let mut skip_open = true;
        loop {
            let mut page: Vec<R> =
                ed::page::<R>(&mut self.tx, self.member, &after, PAGE, self.since).await?;
            if page.is_empty() {
                break;
            }
            after_page(&mut self.tx, &mut page).await?;
            after = page.last().expect("not empty").key().to_string();
            let count = page.len() as u64;
            for mut r in page {
                each(&mut r, &self.people);
                if n > 0 {
                    buf.push(b',');
                }
                buf.push(b'\n');
                serde_json::to_writer(&mut buf, &r).map_err(|e| io(e.into()))?;
                if let Some(w) = csv.as_mut() {
                    csv_record(w, &r.csv_row())?;
                }
                if let Some(f) = side.as_mut() {
                    f(&r)?;
                }
                n += 1;
                if buf.len() >= CHUNK {
                    self.send_viewer(Piece::Bytes(buf[usize::from(skip_open)..].to_vec()))
                        .await?;
                    skip_open = false;
                    self.send(Piece::Bytes(std::mem::take(&mut buf))).await?;
                    buf.reserve(CHUNK + 4096);
                }
            }
            self.tick(count).await?;
            if count < PAGE as u64 {
                break;
            }
        }
        buf.extend_from_slice(b"\n]\n");
        let mut tail = buf[usize::from(skip_open)..].to_vec();
        tail.extend_from_slice(b");\n");
        self.send_viewer(Piece::Bytes(tail)).await?;
        self.send_viewer(Piece::End).await?;
        self.send(Piece::Bytes(buf)).await?;
        self.send(Piece::End).await?;
        if let Some(w) = csv {
            let spool = w
                .into_inner()
                .map_err(|e| io(std::io::Error::other(e.to_string())))?;
            self.send_spooled(format!("data/{cat}.csv"), spool).await?;
        }
        self.exported.insert(cat.into(), n);
        self.write_pdfs(false).await
    }

    /// Writes a spool as one entry of the part.
    pub(super) async fn send_spooled(&self, path: String, spool: Spool) -> ServiceResult<()> {
        let (file, len) = spool.into_shared().map_err(io)?;
        self.send(Piece::Spooled {
            path,
            category: "data",
            compression: Compression::Deflate,
            file,
            offset: 0,
            len,
        })
        .await
    }

    pub(super) async fn schema<T: JsonSchema>(&self, cat: &str) -> ServiceResult<()> {
        let schema = schemars::schema_for!(T);
        let bytes = serde_json::to_vec_pretty(&schema).map_err(|e| io(e.into()))?;
        self.entry(&format!("schema/{cat}.schema.json"), "schema", bytes)
            .await
    }
}
