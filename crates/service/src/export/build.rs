//! The export job: reads the member's records a page at a time in one consistent snapshot and
//! streams them into the archive.
//!
//! Three threads share the work. This task reads the database and serializes records; a
//! blocking thread owns the ZIP writer (deflate, CRC, SHA-256, disk) and reads file bytes
//! itself; a third renders the invoice PDFs. They talk through bounded channels, so memory stays
//! flat whatever the account's size: what does not fit in a channel waits in a temporary file
//! (the CSV copies, the viewer's copies, the invoices to render).

use super::{JOB_EXPIRE_EXPORT, archive_key};
use crate::Hiatus;
use crate::error::{ServiceError, ServiceResult};
use hiatus_archive::pdf::{InvoiceDoc, InvoiceLine, Party, render_invoice};
use hiatus_archive::{
    ArchiveWriter, Compression, Exclusion, FORMAT_VERSION, Manifest, SafeNames, SigningKey,
};
use hiatus_domain::{AccountId, Micros};
use hiatus_store::export_data::{self as ed, Record, rfc3339};
use hiatus_store::exports::{self, Finished, Progress};
use hiatus_store::jobs::{self, NewJob};
use hiatus_store::{StoreError, Tx, accounts, audit};
use schemars::JsonSchema;
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// Records read per query.
const PAGE: i64 = 1000;
/// Serialized bytes handed to the writer at a time.
const CHUNK: usize = 64 * 1024;
/// How often progress (and the job's lease) is written.
const BEAT: Duration = Duration::from_millis(1000);

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

/// A piece of the archive on its way to the writer thread.
enum Piece {
    /// Starts an entry whose bytes follow as `Bytes`, up to `End`.
    Entry {
        path: String,
        category: &'static str,
        compression: Compression,
    },
    Bytes(Vec<u8>),
    End,
    /// A whole entry from a file on disk (counts towards the byte progress).
    DiskFile {
        path: String,
        category: &'static str,
        compression: Compression,
        file: PathBuf,
    },
    /// A whole entry from a range of a spool file.
    Spooled {
        path: String,
        category: &'static str,
        compression: Compression,
        file: Arc<File>,
        offset: u64,
        len: u64,
    },
    Finish(Box<Manifest>),
}

/// Reads one entry's `Bytes` from the channel, up to `End`.
struct ChannelReader<'a> {
    rx: &'a mut mpsc::Receiver<Piece>,
    buf: Vec<u8>,
    pos: usize,
    done: bool,
}

impl Read for ChannelReader<'_> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        while self.pos == self.buf.len() {
            if self.done {
                return Ok(0);
            }
            match self.rx.blocking_recv() {
                Some(Piece::Bytes(b)) => {
                    self.buf = b;
                    self.pos = 0;
                }
                Some(Piece::End) => self.done = true,
                _ => return Err(std::io::Error::other("the export stopped mid-entry")),
            }
        }
        let n = out.len().min(self.buf.len() - self.pos);
        out[..n].copy_from_slice(&self.buf[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// A reader of `len` bytes at `offset` of a shared file (positioned reads, no seeking).
struct RangeReader {
    file: Arc<File>,
    offset: u64,
    left: u64,
}

impl Read for RangeReader {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        use std::os::unix::fs::FileExt;
        if self.left == 0 {
            return Ok(0);
        }
        let want = out.len().min(self.left as usize);
        let n = self.file.read_at(&mut out[..want], self.offset)?;
        if n == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "spool ended early",
            ));
        }
        self.offset += n as u64;
        self.left -= n as u64;
        Ok(n)
    }
}

/// Counts bytes read through it.
struct Counting<R> {
    inner: R,
    counter: Arc<AtomicU64>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(out)?;
        self.counter.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// Hands full buffers to a thread of its own that writes them to disk, so the kernel's time
/// writing the archive overlaps with reading and hashing the next file.
struct DiskWriter {
    buf: Vec<u8>,
    tx: Option<std::sync::mpsc::SyncSender<Vec<u8>>>,
    done: Option<std::thread::JoinHandle<std::io::Result<File>>>,
}

const DISK_CHUNK: usize = 1 << 20;

impl DiskWriter {
    fn new(mut file: File) -> Self {
        let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<u8>>(4);
        let done = std::thread::spawn(move || {
            for b in rx {
                file.write_all(&b)?;
            }
            Ok(file)
        });
        DiskWriter {
            buf: Vec::with_capacity(DISK_CHUNK),
            tx: Some(tx),
            done: Some(done),
        }
    }

    fn hand_over(&mut self) -> std::io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let full = std::mem::replace(&mut self.buf, Vec::with_capacity(DISK_CHUNK));
        match &self.tx {
            Some(tx) if tx.send(full).is_ok() => Ok(()),
            _ => Err(std::io::Error::other("the disk writer stopped")),
        }
    }

    /// Writes what is left and returns the file.
    fn finish(mut self) -> std::io::Result<File> {
        self.hand_over()?;
        drop(self.tx.take());
        self.done
            .take()
            .expect("joined once")
            .join()
            .map_err(|_| std::io::Error::other("the disk writer panicked"))?
    }
}

impl Write for DiskWriter {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        let room = DISK_CHUNK - self.buf.len();
        let n = b.len().min(room);
        self.buf.extend_from_slice(&b[..n]);
        if self.buf.len() == DISK_CHUNK {
            self.hand_over()?;
        }
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for DiskWriter {
    fn drop(&mut self) {
        drop(self.tx.take());
        if let Some(d) = self.done.take() {
            let _ = d.join();
        }
    }
}

/// The writer thread: takes pieces until `Finish`, returns the archive's size.
fn write_archive(
    mut rx: mpsc::Receiver<Piece>,
    out: File,
    key: SigningKey,
    file_bytes: Arc<AtomicU64>,
) -> Result<u64, String> {
    let mut w = ArchiveWriter::new(DiskWriter::new(out));
    loop {
        let piece = rx
            .blocking_recv()
            .ok_or_else(|| "the export stopped before it finished".to_string())?;
        match piece {
            Piece::Entry {
                path,
                category,
                compression,
            } => {
                let mut r = ChannelReader {
                    rx: &mut rx,
                    buf: Vec::new(),
                    pos: 0,
                    done: false,
                };
                w.add(&path, category, compression, &mut r)
                    .map_err(|e| e.to_string())?;
            }
            Piece::DiskFile {
                path,
                category,
                compression,
                file,
            } => {
                let f = File::open(&file).map_err(|e| format!("reading a stored file: {e}"))?;
                let r = Counting {
                    inner: f,
                    counter: file_bytes.clone(),
                };
                w.add(&path, category, compression, r)
                    .map_err(|e| e.to_string())?;
            }
            Piece::Spooled {
                path,
                category,
                compression,
                file,
                offset,
                len,
            } => {
                let r = RangeReader {
                    file,
                    offset,
                    left: len,
                };
                w.add(&path, category, compression, r)
                    .map_err(|e| e.to_string())?;
            }
            Piece::Bytes(_) | Piece::End => return Err("bytes outside an entry".into()),
            Piece::Finish(manifest) => {
                let out = w.finish(*manifest, &key).map_err(|e| e.to_string())?;
                let file = out.finish().map_err(|e| e.to_string())?;
                file.sync_all().map_err(|e| e.to_string())?;
                return file.metadata().map(|m| m.len()).map_err(|e| e.to_string());
            }
        }
    }
}

/// A temporary file that collects one or more entries written later.
struct Spool {
    file: BufWriter<File>,
    len: u64,
}

impl Spool {
    fn new(dir: &Path) -> std::io::Result<Self> {
        Ok(Spool {
            file: BufWriter::with_capacity(256 * 1024, tempfile::tempfile_in(dir)?),
            len: 0,
        })
    }
    fn put(&mut self, b: &[u8]) -> std::io::Result<()> {
        self.write_all(b)
    }
    fn into_shared(mut self) -> std::io::Result<(Arc<File>, u64)> {
        self.file.flush()?;
        let len = self.len;
        let f = self.file.into_inner().map_err(|e| e.into_error())?;
        Ok((Arc::new(f), len))
    }
}

impl Write for Spool {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        let n = self.file.write(b)?;
        self.len += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.file.flush()
    }
}

/// A cell a spreadsheet would take for a formula gets a leading quote.
pub(crate) fn csv_safe(cell: &str) -> std::borrow::Cow<'_, str> {
    match cell.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{cell}").into(),
        _ => cell.into(),
    }
}

fn io(e: std::io::Error) -> ServiceError {
    ServiceError::Internal(StoreError::Blob(e))
}

/// Whether a file's bytes are text that deflate shrinks. Office documents, archives, images
/// and the like are compressed already ("…openxmlformats…" is a ZIP despite its name).
fn text_like(content_type: &str) -> bool {
    let ct = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    ct.starts_with("text/")
        || ct.ends_with("+json")
        || ct.ends_with("+xml")
        || matches!(
            ct.as_str(),
            "application/json"
                | "application/xml"
                | "application/javascript"
                | "application/x-yaml"
                | "application/yaml"
                | "application/sql"
                | "application/rtf"
                | "application/x-ndjson"
        )
}

/// The account as exported.
#[derive(Serialize, JsonSchema)]
struct AccountRecord {
    id: String,
    kind: String,
    role: String,
    state: String,
    email: String,
    legal_name: String,
    phone: Option<String>,
    created_at: String,
    state_changed_at: String,
    deletion_due_at: Option<String>,
}

/// The profile as exported.
#[derive(Serialize, JsonSchema)]
struct ProfileRecord {
    display_name: String,
    headline: String,
    bio: String,
    visibility: String,
    availability: String,
    paused_until: Option<String>,
    notifications: String,
    away_message: Option<String>,
    hourly_rate_minor: Option<i64>,
    currency: String,
    /// The profile photo, one of the `files`.
    photo_file_id: Option<String>,
}

/// A person the member dealt with, by the name the member saw.
#[derive(Serialize, JsonSchema)]
struct PersonRecord {
    id: String,
    display_name: String,
    /// `self` or `counterparty`.
    relation: String,
}

/// Something else a category's records feed while they stream (the invoice PDFs' queue).
type SideOutput<'a, R> = dyn FnMut(&R) -> ServiceResult<()> + Send + 'a;

/// Shared state of one build.
struct Builder<'h> {
    h: &'h Hiatus,
    member: AccountId,
    since: Micros,
    tx: Tx,
    to_writer: mpsc::Sender<Piece>,
    spool_dir: PathBuf,
    exported: BTreeMap<String, u64>,
    held: BTreeMap<String, u64>,
    progress: Progress,
    file_bytes: Arc<AtomicU64>,
    last_beat: Instant,
    export_id: String,
    lease: Option<Lease>,
    /// Invoice PDFs as the renderer finishes them.
    pdfs: Option<mpsc::Receiver<(String, Vec<u8>)>>,
    /// Viewer copies and CSV files waiting to be written: (path, category, spool).
    spooled: Vec<(String, &'static str, Arc<File>, u64, u64)>,
    people: HashMap<String, String>,
}

impl Builder<'_> {
    async fn send(&self, p: Piece) -> ServiceResult<()> {
        self.to_writer
            .send(p)
            .await
            .map_err(|_| io(std::io::Error::other("the archive writer stopped")))
    }

    async fn entry(&self, path: &str, category: &'static str, bytes: Vec<u8>) -> ServiceResult<()> {
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
    async fn tick(&mut self, records: u64) -> ServiceResult<()> {
        self.progress.records_done += records as i64;
        if self.last_beat.elapsed() < BEAT {
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

    /// Streams one category into `data/<cat>.json`, with its viewer copy and CSV spooled.
    async fn category<R: Record>(
        &mut self,
        mut each: impl FnMut(&mut R, &HashMap<String, String>),
        mut after_page: impl AsyncFnMut(&mut Tx, &mut Vec<R>) -> ServiceResult<()>,
        mut side: Option<&mut SideOutput<'_, R>>,
    ) -> ServiceResult<()> {
        let cat = R::CATEGORY;
        let mut view = Spool::new(&self.spool_dir).map_err(io)?;
        view.put(format!("HIATUS.load({cat:?}, [").as_bytes())
            .map_err(io)?;
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
                    let row = r.csv_row();
                    w.write_record(row.iter().map(|c| csv_safe(c).into_owned()))
                        .map_err(|e| io(std::io::Error::other(e)))?;
                }
                if let Some(f) = side.as_mut() {
                    f(&r)?;
                }
                n += 1;
                if buf.len() >= CHUNK {
                    view.put(&buf[usize::from(skip_open)..]).map_err(io)?;
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
        view.put(&buf[usize::from(skip_open)..]).map_err(io)?;
        self.send(Piece::Bytes(buf)).await?;
        self.send(Piece::End).await?;
        view.put(b");\n").map_err(io)?;
        let (f, len) = view.into_shared().map_err(io)?;
        self.spooled
            .push((format!("viewer/data/{cat}.js"), "viewer", f, 0, len));
        if let Some(w) = csv {
            let spool = w
                .into_inner()
                .map_err(|e| io(std::io::Error::other(e.to_string())))?;
            let (f, len) = spool.into_shared().map_err(io)?;
            self.spooled
                .push((format!("data/{cat}.csv"), "data", f, 0, len));
        }
        self.exported.insert(cat.into(), n);
        self.write_pdfs(false).await
    }

    /// Writes the invoice PDFs rendered so far (all of them, waiting for the renderer, when
    /// `to_the_end`). Called between entries, so the renderer never waits for a full channel
    /// while the rest of the archive is written. PDFs are stored as they are: deflating them
    /// again saves a little space for much CPU.
    async fn write_pdfs(&mut self, to_the_end: bool) -> ServiceResult<()> {
        let Some(mut rx) = self.pdfs.take() else {
            return Ok(());
        };
        loop {
            let next = if to_the_end {
                rx.recv().await
            } else {
                rx.try_recv().ok()
            };
            let Some((path, bytes)) = next else { break };
            self.send(Piece::Entry {
                path,
                category: "invoices",
                compression: Compression::Store,
            })
            .await?;
            self.send(Piece::Bytes(bytes)).await?;
            self.send(Piece::End).await?;
        }
        if !to_the_end {
            self.pdfs = Some(rx);
        }
        Ok(())
    }

    async fn schema<T: JsonSchema>(&self, cat: &str) -> ServiceResult<()> {
        let schema = schemars::schema_for!(T);
        let bytes = serde_json::to_vec_pretty(&schema).map_err(|e| io(e.into()))?;
        self.entry(&format!("schema/{cat}.schema.json"), "schema", bytes)
            .await
    }
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
            Ok(Some(r)) => r.status != "running",
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
        let final_path = self.blobs.local_path(&key);
        let dir = final_path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."));
        std::fs::create_dir_all(&dir).map_err(io)?;
        let partial = final_path.with_extension("zip.partial");
        let out = File::create(&partial).map_err(io)?;

        let (to_writer, rx) = mpsc::channel::<Piece>(32);
        let file_bytes = Arc::new(AtomicU64::new(0));
        let signing = self.export_signing_key();
        let fb = file_bytes.clone();
        let writer = tokio::task::spawn_blocking(move || write_archive(rx, out, signing, fb));

        let result = self
            .produce(
                export_id, member, row.since, to_writer, &dir, file_bytes, lease,
            )
            .await;
        let written = writer
            .await
            .map_err(|e| io(std::io::Error::other(e.to_string())))?;
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
        std::fs::rename(&partial, &final_path).map_err(io)?;
        let size = std::fs::metadata(&final_path).map_err(io)?.len() as i64;
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
            let _ = std::fs::remove_file(&final_path);
            return Ok(BuildOutcome::Skipped);
        }
        jobs::enqueue(
            &mut tx,
            &NewJob {
                kind: JOB_EXPIRE_EXPORT.into(),
                payload: serde_json::json!({ "export_id": export_id }),
                run_at: expires_at,
                dedupe_key: Some(format!("export-expire:{export_id}")),
                max_attempts: 5,
            },
            now,
        )
        .await?;
        // A day before it goes, a reminder (when the archive was not downloaded by then).
        let remind_at = expires_at - hiatus_domain::DAY_MICROS;
        if remind_at > now {
            jobs::enqueue(
                &mut tx,
                &NewJob {
                    kind: super::JOB_REMIND_EXPORT.into(),
                    payload: serde_json::json!({ "export_id": export_id }),
                    run_at: remind_at,
                    dedupe_key: Some(format!("export-remind:{export_id}")),
                    max_attempts: 5,
                },
                now,
            )
            .await?;
        }
        audit::record(
            &mut tx,
            audit::NewAuditEvent {
                account: Some(member),
                actor: None,
                action: "export.ready",
                reason: None,
                detail: serde_json::json!({ "export_id": export_id, "size_bytes": size, "records": records }),
                now,
            },
        )
        .await?;
        audit::outbox(
            &mut tx,
            "export.ready",
            Some(member),
            serde_json::json!({ "account_id": member, "export_id": export_id, "expires_at": rfc3339(expires_at) }),
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(BuildOutcome::Ready {
            size_bytes: size,
            records,
        })
    }

    #[allow(clippy::too_many_arguments)]
    async fn produce(
        &self,
        export_id: &str,
        member: AccountId,
        since: Option<Micros>,
        to_writer: mpsc::Sender<Piece>,
        spool_dir: &Path,
        file_bytes: Arc<AtomicU64>,
        lease: Option<Lease>,
    ) -> ServiceResult<(i64, Progress)> {
        let started = Instant::now();
        let phase = |name: &str| tracing::debug!(export = %export_id, phase = name, ms = started.elapsed().as_millis() as u64, "export phase done");
        let mut tx = self.db.read().await?;
        let s = since.unwrap_or(0);
        // What the database holds, counted in the same snapshot the records are read from.
        let held = ed::held_counts(&mut tx, member, s).await?;
        let bytes_total = ed::file_bytes(&mut tx, member, s).await?;
        let records_total: u64 = held.values().sum();

        // The account, the profile and the people the member dealt with.
        let acct = accounts::get(&mut tx, member).await?;
        let (email, legal_name) = accounts::contact(&mut tx, &self.keys, member).await?;
        let phone = accounts::phone(&mut tx, &self.keys, member).await?;
        let profile = accounts::profile(&mut tx, &self.keys, member).await?;
        let mut people = HashMap::new();
        people.insert(member.to_text(), profile.display_name.clone());
        let mut person_list = vec![PersonRecord {
            id: member.to_text(),
            display_name: profile.display_name.clone(),
            relation: "self".into(),
        }];
        let mut after = String::new();
        loop {
            let page = ed::counterparties_page(&mut tx, member, &after, PAGE).await?;
            let Some(last) = page.last() else { break };
            after = last.0.clone();
            let done = page.len() < PAGE as usize;
            for (id, wrapped, name_enc, pseudonym) in page {
                let name = match (wrapped, name_enc) {
                    _ if pseudonym.is_some() => pseudonym.unwrap_or_default(),
                    (Some(w), Some(n)) => self
                        .keys
                        .unwrap_data_key(&id, Some(&w))
                        .and_then(|dk| dk.open_field("profiles", "display_name", &id, &n))
                        .unwrap_or_else(|_| crate::FORMER_MEMBER.into()),
                    _ => crate::FORMER_MEMBER.into(),
                };
                people.insert(id.clone(), name.clone());
                person_list.push(PersonRecord {
                    id,
                    display_name: name,
                    relation: "counterparty".into(),
                });
            }
            if done {
                break;
            }
        }

        let mut b = Builder {
            h: self,
            export_id: export_id.to_string(),
            lease,
            member,
            since: s,
            tx,
            to_writer,
            spool_dir: spool_dir.to_path_buf(),
            exported: BTreeMap::new(),
            held,
            progress: Progress {
                records_done: 0,
                records_total: records_total as i64,
                bytes_done: 0,
                bytes_total,
            },
            file_bytes,
            last_beat: Instant::now() - BEAT,
            spooled: Vec::new(),
            pdfs: None,
            people,
        };
        b.tick(0).await?;

        let account = AccountRecord {
            id: member.to_text(),
            kind: acct.kind.clone(),
            role: acct.role.clone(),
            state: acct.state.clone(),
            email: email.as_str().to_string(),
            legal_name,
            phone,
            created_at: rfc3339(acct.created_at),
            state_changed_at: rfc3339(acct.state_changed_at),
            deletion_due_at: acct.deletion_due_at.map(rfc3339),
        };
        let prof = ProfileRecord {
            display_name: profile.display_name.clone(),
            headline: profile.headline.clone(),
            bio: profile.bio.clone(),
            visibility: profile.settings.visibility.as_str().into(),
            availability: profile.settings.availability.as_str().into(),
            paused_until: profile.settings.paused_until.map(rfc3339),
            notifications: profile.settings.notifications.as_str().into(),
            away_message: profile.away_message.clone(),
            hourly_rate_minor: profile.hourly_rate_minor,
            currency: profile.currency.clone(),
            photo_file_id: ed::photo_file_id(&mut b.tx, member).await?,
        };
        for (cat, json) in [
            ("account", serde_json::to_vec_pretty(&account)),
            ("profile", serde_json::to_vec_pretty(&prof)),
            ("people", serde_json::to_vec_pretty(&person_list)),
        ] {
            let json = json.map_err(|e| io(e.into()))?;
            let mut js = format!("HIATUS.load({cat:?}, ").into_bytes();
            js.extend_from_slice(&json);
            js.extend_from_slice(b");\n");
            b.entry(&format!("data/{cat}.json"), "data", json).await?;
            b.entry(&format!("viewer/data/{cat}.js"), "viewer", js)
                .await?;
        }
        b.exported.insert("account".into(), 1);
        b.held.insert("account".into(), 1);
        b.exported.insert("people".into(), person_list.len() as u64);
        b.held.insert("people".into(), person_list.len() as u64);
        drop(person_list);

        // Invoices first: their PDFs render on another thread while the rest is written.
        let mut invoice_spool = Spool::new(spool_dir).map_err(io)?;
        let mut pdf_names = SafeNames::default();
        {
            let spool = &mut invoice_spool;
            let people = b.people.clone();
            let mut side = |r: &ed::InvoiceRecord| -> ServiceResult<()> {
                let name = |id: &str| {
                    people
                        .get(id)
                        .cloned()
                        .unwrap_or_else(|| crate::FORMER_MEMBER.into())
                };
                let job = PdfJob {
                    path: r.pdf.clone(),
                    number: r.number.clone(),
                    status: r.status.clone(),
                    issued_at: r.issued_at,
                    due_at: r.due_at,
                    paid_at: r.paid_at,
                    issuer: (name(&r.issuer_id), r.issuer_id.clone()),
                    recipient: (name(&r.recipient_id), r.recipient_id.clone()),
                    contract: (r.contract_title.clone(), r.contract_id.clone()),
                    currency: r.currency.clone(),
                    description: r.description.clone(),
                    amount_minor: r.amount_minor,
                };
                let line = serde_json::to_vec(&job).map_err(|e| io(e.into()))?;
                spool.put(&line).map_err(io)?;
                spool.put(b"\n").map_err(io)
            };
            b.category::<ed::InvoiceRecord>(
                |r, _| r.pdf = format!("invoices/{}", pdf_names.name(&format!("{}.pdf", r.number))),
                async |_, _| Ok(()),
                Some(&mut side),
            )
            .await?;
        }
        phase("invoices");
        let (invoices, _) = invoice_spool.into_shared().map_err(io)?;
        let (pdf_tx, pdf_rx) = mpsc::channel::<(String, Vec<u8>)>(16);
        let renderer = tokio::task::spawn_blocking(move || render_all(invoices, pdf_tx));
        b.pdfs = Some(pdf_rx);

        b.category::<ed::ContractRecord>(|_, _| {}, async |_, _| Ok(()), None)
            .await?;
        b.category::<ed::MilestoneRecord>(|_, _| {}, async |_, _| Ok(()), None)
            .await?;
        b.category::<ed::PaymentRecord>(|_, _| {}, async |_, _| Ok(()), None)
            .await?;
        b.category::<ed::PayoutRecord>(|_, _| {}, async |_, _| Ok(()), None)
            .await?;
        b.category::<ed::BalanceRecord>(|_, _| {}, async |_, _| Ok(()), None)
            .await?;
        b.category::<ed::DisputeRecord>(|_, _| {}, async |_, _| Ok(()), None)
            .await?;
        b.category::<ed::JobPostRecord>(|_, _| {}, async |_, _| Ok(()), None)
            .await?;
        b.category::<ed::ProposalRecord>(|_, _| {}, async |_, _| Ok(()), None)
            .await?;
        b.category::<ed::SubmissionRecord>(|_, _| {}, async |_, _| Ok(()), None)
            .await?;
        b.category::<ed::ReviewRecord>(|_, _| {}, async |_, _| Ok(()), None)
            .await?;
        b.category::<ed::AuditRecord>(|_, _| {}, async |_, _| Ok(()), None)
            .await?;
        b.category::<ed::ClientNoticeRecord>(|_, _| {}, async |_, _| Ok(()), None)
            .await?;
        let member_for_threads = member;
        b.category::<ed::ThreadRecord>(
            |_, _| {},
            async move |tx, page| {
                ed::thread_participants(tx, member_for_threads, page).await?;
                Ok(())
            },
            None,
        )
        .await?;
        phase("records");
        messages(&mut b).await?;
        phase("messages");
        files(&mut b, true).await?;
        files(&mut b, false).await?;
        phase("files");

        // Spooled copies, then the PDFs as they finish.
        for (path, cat, f, off, len) in std::mem::take(&mut b.spooled) {
            b.send(Piece::Spooled {
                path,
                category: cat,
                compression: Compression::Deflate,
                file: f,
                offset: off,
                len,
            })
            .await?;
        }
        for (path, bytes) in hiatus_archive::viewer_assets() {
            b.entry(path, "viewer", bytes.to_vec()).await?;
        }
        macro_rules! schemas {
            ($($t:ty),*) => {$( b.schema::<Vec<$t>>(<$t>::CATEGORY).await?; )*};
        }
        hiatus_store::for_each_export_record!(schemas);
        b.schema::<AccountRecord>("account").await?;
        b.schema::<ProfileRecord>("profile").await?;
        b.schema::<Vec<PersonRecord>>("people").await?;
        phase("copies");
        b.write_pdfs(true).await?;
        renderer
            .await
            .map_err(|e| io(std::io::Error::other(e.to_string())))?
            .map_err(|e| io(std::io::Error::other(e)))?;

        phase("pdfs");
        let records = b.progress.records_done;
        b.progress.bytes_done = b.file_bytes.load(Ordering::Relaxed) as i64;
        let progress = b.progress;
        let manifest = Manifest {
            format_version: FORMAT_VERSION,
            account_id: member.to_text(),
            created_at: rfc3339(self.now()),
            since: since.map(rfc3339),
            files: Vec::new(),
            exported: std::mem::take(&mut b.exported),
            held: std::mem::take(&mut b.held),
            excluded: self
                .config
                .policy
                .export_exclusions()
                .into_iter()
                .map(|r| Exclusion {
                    what: r.what.clone(),
                    why: r.why.clone(),
                })
                .collect(),
        };
        b.send(Piece::Finish(Box::new(manifest))).await?;
        let Builder { tx, .. } = b;
        tx.commit().await?;
        Ok((records, progress))
    }
}

/// An invoice waiting for its PDF (one line of the spool).
#[derive(Serialize, serde::Deserialize)]
struct PdfJob {
    path: String,
    number: String,
    status: String,
    issued_at: Micros,
    due_at: Micros,
    paid_at: Option<Micros>,
    /// (display name, id)
    issuer: (String, String),
    recipient: (String, String),
    /// (title, id)
    contract: (String, String),
    currency: String,
    description: String,
    amount_minor: i64,
}

/// Renders every invoice of the spool and hands the PDFs over as they finish.
fn render_all(spool: Arc<File>, out: mpsc::Sender<(String, Vec<u8>)>) -> Result<(), String> {
    let mut f = spool.as_ref();
    f.seek(SeekFrom::Start(0)).map_err(|e| e.to_string())?;
    for line in BufReader::new(f).lines() {
        let line = line.map_err(|e| e.to_string())?;
        let job: PdfJob = serde_json::from_str(&line).map_err(|e| e.to_string())?;
        let date = |t: Micros| rfc3339(t)[..10].to_string();
        let doc = InvoiceDoc {
            number: job.number,
            status: job.status,
            issued_at: date(job.issued_at),
            due_at: date(job.due_at),
            paid_at: job.paid_at.map(date),
            issuer: Party {
                name: job.issuer.0,
                id: job.issuer.1,
            },
            recipient: Party {
                name: job.recipient.0,
                id: job.recipient.1,
            },
            contract_title: job.contract.0,
            contract_id: job.contract.1,
            currency: job.currency,
            lines: vec![InvoiceLine {
                description: job.description,
                amount_minor: job.amount_minor,
            }],
            total_minor: job.amount_minor,
        };
        let pdf = render_invoice(&doc).map_err(|e| e.to_string())?;
        if out.blocking_send((job.path, pdf)).is_err() {
            return Err("the export stopped".into());
        }
    }
    Ok(())
}

/// Messages: `data/messages.json` straight to the archive, the CSV and the viewer's parts
/// (one thread, up to 500 messages each) spooled.
async fn messages(b: &mut Builder<'_>) -> ServiceResult<()> {
    let mut parts = Spool::new(&b.spool_dir).map_err(io)?;
    let mut index: Vec<(String, u64, u64)> = Vec::new();
    let mut csv = csv::Writer::from_writer(Spool::new(&b.spool_dir).map_err(io)?);
    csv.write_record(ed::MessageRecord::CSV.expect("messages have a CSV"))
        .map_err(|e| io(std::io::Error::other(e)))?;
    b.send(Piece::Entry {
        path: "data/messages.json".into(),
        category: "data",
        compression: Compression::Deflate,
    })
    .await?;
    let mut buf = Vec::with_capacity(CHUNK + 4096);
    buf.push(b'[');
    let mut n = 0u64;
    let mut after_thread = String::new();
    loop {
        let threads =
            ed::thread_ids_page(&mut b.tx, b.member, &after_thread, PAGE, b.since).await?;
        let Some(last) = threads.last() else { break };
        after_thread = last.clone();
        let last_page = threads.len() < PAGE as usize;
        for thread in threads {
            let (mut at, mut aid) = (b.since - 1, String::new());
            let mut part = 0u64;
            loop {
                let msgs =
                    ed::messages_of_thread(&mut b.tx, &thread, at, &aid, ed::MESSAGES_PER_PART)
                        .await?;
                let Some(m) = msgs.last() else { break };
                (at, aid) = (m.created_at, m.id.clone());
                let count = msgs.len();
                let start = parts.len;
                parts
                    .write(format!("HIATUS.messages({thread:?}, {part}, [").as_bytes())
                    .map_err(io)?;
                for (i, m) in msgs.iter().enumerate() {
                    if n > 0 {
                        buf.push(b',');
                    }
                    buf.push(b'\n');
                    let at = buf.len();
                    serde_json::to_writer(&mut buf, m).map_err(|e| io(e.into()))?;
                    if i > 0 {
                        parts.put(b",\n").map_err(io)?;
                    }
                    parts.put(&buf[at..]).map_err(io)?;
                    csv.write_record(m.csv_row().iter().map(|c| csv_safe(c).into_owned()))
                        .map_err(|e| io(std::io::Error::other(e)))?;
                    n += 1;
                    if buf.len() >= CHUNK {
                        b.send(Piece::Bytes(std::mem::take(&mut buf))).await?;
                        buf.reserve(CHUNK + 4096);
                    }
                }
                parts.put(b"]);\n").map_err(io)?;
                index.push((
                    format!("viewer/messages/{thread}-{part}.js"),
                    start,
                    parts.len - start,
                ));
                part += 1;
                b.tick(count as u64).await?;
                if count < ed::MESSAGES_PER_PART as usize {
                    break;
                }
            }
        }
        if last_page {
            break;
        }
    }
    buf.extend_from_slice(b"\n]\n");
    b.send(Piece::Bytes(buf)).await?;
    b.send(Piece::End).await?;
    b.exported.insert("messages".into(), n);
    let (f, _) = parts.into_shared().map_err(io)?;
    for (path, off, len) in index {
        b.spooled.push((path, "viewer", f.clone(), off, len));
    }
    let spool = csv
        .into_inner()
        .map_err(|e| io(std::io::Error::other(e.to_string())))?;
    let (f, len) = spool.into_shared().map_err(io)?;
    b.spooled
        .push(("data/messages.csv".into(), "data", f, 0, len));
    Ok(())
}

/// Files in two passes with the same naming: first the records (`data/files.json`, with each
/// file's path in the archive), then the bytes.
async fn files(b: &mut Builder<'_>, records: bool) -> ServiceResult<()> {
    let mut names = SafeNames::default();
    if records {
        // Decrypting private file names needs the owner's key: the member's own.
        let acct = accounts::get(&mut b.tx, b.member).await?;
        let dk = acct.data_key(&b.h.keys)?;
        b.category::<ed::FileRecord>(
            |r, _| {
                if r.encrypted {
                    r.name = r
                        .name_enc
                        .as_deref()
                        .and_then(|n| dk.open_field("files", "name", &r.id, n).ok());
                }
                let original = r.name.clone().unwrap_or_else(|| r.id.clone());
                r.path = format!("files/{}/{}", r.kind, names.name(&original));
            },
            async |_, _| Ok(()),
            None,
        )
        .await?;
        return Ok(());
    }
    let acct = accounts::get(&mut b.tx, b.member).await?;
    let dk = acct.data_key(&b.h.keys)?;
    let mut after = String::new();
    loop {
        let page: Vec<ed::FileRecord> =
            ed::page(&mut b.tx, b.member, &after, PAGE, b.since).await?;
        let Some(last) = page.last() else { break };
        after = last.id.clone();
        let last_page = page.len() < PAGE as usize;
        for r in page {
            let original = if r.encrypted {
                r.name_enc
                    .as_deref()
                    .and_then(|n| dk.open_field("files", "name", &r.id, n).ok())
            } else {
                r.name.clone()
            }
            .unwrap_or_else(|| r.id.clone());
            let path = format!("files/{}/{}", r.kind, names.name(&original));
            let compression = if text_like(&r.content_type) {
                Compression::Deflate
            } else {
                Compression::Store
            };
            if r.encrypted {
                // Private files are sealed under their owner's key: the member's own.
                let sealed = b.h.blobs.get(&r.blob_key).await?;
                let plain = dk.open_blob(&r.id, &sealed)?;
                b.file_bytes
                    .fetch_add(plain.len() as u64, Ordering::Relaxed);
                b.send(Piece::Entry {
                    path,
                    category: "files",
                    compression,
                })
                .await?;
                b.send(Piece::Bytes(plain)).await?;
                b.send(Piece::End).await?;
            } else {
                b.send(Piece::DiskFile {
                    path,
                    category: "files",
                    compression,
                    file: b.h.blobs.local_path(&r.blob_key),
                })
                .await?;
            }
            b.write_pdfs(false).await?;
            b.tick(0).await?;
        }
        if last_page {
            break;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_text_is_deflated() {
        for t in [
            "text/plain",
            "text/markdown; charset=utf-8",
            "application/json",
            "image/svg+xml",
            "application/ld+json",
        ] {
            assert!(text_like(t), "{t}");
        }
        for t in [
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            "application/zip",
            "application/pdf",
            "image/png",
            "video/mp4",
            "application/octet-stream",
            "",
        ] {
            assert!(!text_like(t), "{t}");
        }
    }

    #[test]
    fn formulas_are_defused_in_csv() {
        assert_eq!(csv_safe("=SUM(A1)"), "'=SUM(A1)");
        assert_eq!(csv_safe("+1"), "'+1");
        assert_eq!(csv_safe("-2"), "'-2");
        assert_eq!(csv_safe("@cmd"), "'@cmd");
        assert_eq!(csv_safe("\tx"), "'\tx");
        assert_eq!(csv_safe("plain"), "plain");
    }
}
