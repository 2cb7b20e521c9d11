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

use super::{JOB_EXPIRE_EXPORT, archive_key};
use crate::Hiatus;
use crate::error::{ServiceError, ServiceResult};
use futures_util::StreamExt;
use hiatus_archive::pdf::{InvoiceDoc, InvoiceLine, Party, content_hash, render_invoice};
use hiatus_archive::{
    ArchiveWriter, Compression, Exclusion, FORMAT_VERSION, Manifest, ManifestEntry, Renamed,
    SNIFF_BYTES, SafeNames, SigningKey, csv_safe,
};
use hiatus_domain::{AccountId, Micros};
use hiatus_store::export_data::{self as ed, Record, rfc3339};
use hiatus_store::exports::{self, Finished, Progress};
use hiatus_store::jobs::{self, NewJob};
use hiatus_store::{StoreError, Tx, accounts, audit, invoice_pdfs};
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
/// Kept invoice PDFs read, or new ones kept, per query.
const PDF_BATCH: usize = 32;
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
    /// A whole entry from a range of a spool file.
    Spooled {
        path: String,
        category: &'static str,
        compression: Compression,
        file: Arc<File>,
        offset: u64,
        len: u64,
    },
    /// Every file of a list (one JSON `[path, deflate, file on disk]` a line), one after the
    /// other (counts towards the byte progress), as the list grows: `upto` tells how far it is
    /// written, and closes when it is complete. Reports on `done` when all are written.
    Files {
        list: Arc<File>,
        upto: std::sync::mpsc::Receiver<u64>,
        done: tokio::sync::oneshot::Sender<()>,
    },
    /// A part written by another thread (see `write_part`), copied in as it is.
    Part(File, Vec<ManifestEntry>),
    /// Closes a part.
    EndPart,
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
    /// Written buffers coming back, to be filled again (fresh memory costs page faults).
    back: std::sync::mpsc::Receiver<Vec<u8>>,
    done: Option<std::thread::JoinHandle<std::io::Result<File>>>,
}

const DISK_CHUNK: usize = 1 << 20;
/// The disk writer has the kernel start writing the archive out after this many bytes, so
/// that the final fsync finds little left to write.
const SYNC_EVERY: u64 = 64 << 20;

impl DiskWriter {
    fn new(mut file: File) -> Self {
        let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<u8>>(4);
        let (give_back, back) = std::sync::mpsc::channel::<Vec<u8>>();
        let done = std::thread::spawn(move || {
            // A thread of its own syncs what is written so far, now and then, while the
            // writes go on.
            let syncer = file.try_clone().ok().map(|f| {
                let (poke, pokes) = std::sync::mpsc::sync_channel::<()>(1);
                let t = std::thread::spawn(move || {
                    for () in pokes {
                        let _ = f.sync_data();
                    }
                });
                (poke, t)
            });
            let mut unsynced = 0u64;
            for mut b in rx {
                file.write_all(&b)?;
                unsynced += b.len() as u64;
                if unsynced >= SYNC_EVERY {
                    unsynced = 0;
                    if let Some((poke, _)) = &syncer {
                        let _ = poke.try_send(());
                    }
                }
                b.clear();
                let _ = give_back.send(b);
            }
            if let Some((poke, t)) = syncer {
                drop(poke);
                let _ = t.join();
            }
            Ok(file)
        });
        DiskWriter {
            buf: Vec::with_capacity(DISK_CHUNK),
            tx: Some(tx),
            back,
            done: Some(done),
        }
    }

    fn hand_over(&mut self) -> std::io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let next = self
            .back
            .try_recv()
            .unwrap_or_else(|_| Vec::with_capacity(DISK_CHUNK));
        let full = std::mem::replace(&mut self.buf, next);
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

/// How a writer's pieces ended.
enum Ending {
    Signed(Box<Manifest>),
    Part,
}

/// Writes pieces into `w` until `Finish` or `EndPart`.
fn take_pieces<W: Write>(
    rx: &mut mpsc::Receiver<Piece>,
    w: &mut ArchiveWriter<W>,
    file_bytes: &Arc<AtomicU64>,
) -> Result<Ending, String> {
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
                    rx: &mut *rx,
                    buf: Vec::new(),
                    pos: 0,
                    done: false,
                };
                w.add(&path, category, compression, &mut r)
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
            Piece::Files { list, upto, done } => {
                let mut read = 0u64;
                let lines = upto.iter().flat_map(|end| {
                    let range = RangeReader {
                        file: list.clone(),
                        offset: read,
                        left: end.saturating_sub(read),
                    };
                    read = read.max(end);
                    BufReader::new(range).lines()
                });
                for line in lines {
                    // The producer gave up: stop reading a gigabyte nobody will keep.
                    if rx.is_closed() {
                        return Err("the export stopped before it finished".into());
                    }
                    let line = line.map_err(|e| e.to_string())?;
                    let (path, deflate, file): (String, bool, PathBuf) =
                        serde_json::from_str(&line).map_err(|e| e.to_string())?;
                    let f = File::open(&file).map_err(|e| format!("reading a stored file: {e}"))?;
                    let r = Counting {
                        inner: f,
                        counter: file_bytes.clone(),
                    };
                    let compression = if deflate {
                        Compression::Deflate
                    } else {
                        Compression::Store
                    };
                    w.add(&path, "files", compression, r)
                        .map_err(|e| e.to_string())?;
                }
                let _ = done.send(());
            }
            Piece::Part(file, entries) => {
                w.append_part(BufReader::with_capacity(1 << 20, file), entries)
                    .map_err(|e| e.to_string())?;
            }
            Piece::Bytes(_) | Piece::End => return Err("bytes outside an entry".into()),
            Piece::EndPart => return Ok(Ending::Part),
            Piece::Finish(manifest) => return Ok(Ending::Signed(manifest)),
        }
    }
}

/// The archive writer thread: takes pieces until `Finish`, returns the archive's size.
fn write_archive(
    mut rx: mpsc::Receiver<Piece>,
    out: File,
    key: SigningKey,
    file_bytes: Arc<AtomicU64>,
) -> Result<u64, String> {
    let mut w = ArchiveWriter::new(DiskWriter::new(out));
    let Ending::Signed(manifest) = take_pieces(&mut rx, &mut w, &file_bytes)? else {
        return Err("the archive ended as a part".into());
    };
    let out = w.finish(*manifest, &key).map_err(|e| e.to_string())?;
    let file = out.finish().map_err(|e| e.to_string())?;
    file.sync_all().map_err(|e| e.to_string())?;
    file.metadata().map(|m| m.len()).map_err(|e| e.to_string())
}

/// The part writer thread: the records, copies and PDFs, deflated into a temporary ZIP while
/// the archive writer writes the files; the archive copies the part in whole at the end.
/// Takes pieces until `EndPart`; returns the part, rewound, and its entries.
fn write_part(
    mut rx: mpsc::Receiver<Piece>,
    out: File,
    file_bytes: Arc<AtomicU64>,
) -> Result<(File, Vec<ManifestEntry>), String> {
    let mut w = ArchiveWriter::new(BufWriter::with_capacity(DISK_CHUNK, out));
    let Ending::Part = take_pieces(&mut rx, &mut w, &file_bytes)? else {
        return Err("a part cannot be signed".into());
    };
    let (out, entries) = w.finish_part().map_err(|e| e.to_string())?;
    let mut file = out.into_inner().map_err(|e| e.into_error().to_string())?;
    file.seek(SeekFrom::Start(0)).map_err(|e| e.to_string())?;
    Ok((file, entries))
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

/// Writes one CSV row, each cell made safe, without copying the cells again.
fn csv_record<W: Write>(w: &mut csv::Writer<W>, row: &[String]) -> ServiceResult<()> {
    for c in row {
        w.write_field(csv_safe(c).as_bytes())
            .map_err(|e| io(std::io::Error::other(e)))?;
    }
    w.write_record(None::<&[u8]>)
        .map_err(|e| io(std::io::Error::other(e)))
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
    /// To the part writer: the records, CSV files, rendered PDFs, schemas.
    to_writer: mpsc::Sender<Piece>,
    /// To the viewer's part writer: the viewer's copies.
    to_viewer: mpsc::Sender<Piece>,
    /// To the archive writer.
    to_archive: mpsc::Sender<Piece>,
    spool_dir: PathBuf,
    exported: BTreeMap<String, u64>,
    held: BTreeMap<String, u64>,
    progress: Progress,
    /// Whether `progress` has its totals yet (no progress is written before).
    totals_known: bool,
    file_bytes: Arc<AtomicU64>,
    last_beat: Instant,
    export_id: String,
    lease: Option<Lease>,
    /// Invoice PDFs as the renderer finishes them.
    pdfs: Option<mpsc::Receiver<Rendered>>,
    /// Rendered PDFs waiting to be kept for the next export.
    to_keep: Vec<Rendered>,
    people: HashMap<String, String>,
    /// Uploaded files stored under a neutral name, for the manifest.
    renamed: Vec<Renamed>,
}

impl Builder<'_> {
    async fn send(&self, p: Piece) -> ServiceResult<()> {
        self.to_writer
            .send(p)
            .await
            .map_err(|_| io(std::io::Error::other("the archive writer stopped")))
    }

    async fn send_viewer(&self, p: Piece) -> ServiceResult<()> {
        self.to_viewer
            .send(p)
            .await
            .map_err(|_| io(std::io::Error::other("the viewer's part writer stopped")))
    }

    async fn send_archive(&self, p: Piece) -> ServiceResult<()> {
        self.to_archive
            .send(p)
            .await
            .map_err(|_| io(std::io::Error::other("the archive writer stopped")))
    }

    /// Waits for `fut`, writing progress (and extending the lease) meanwhile.
    async fn wait_ticking<F: std::future::Future + Unpin>(
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
    async fn category<R: Record>(
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
            let Some(mut r) = next else { break };
            self.send(Piece::Entry {
                path: std::mem::take(&mut r.path),
                category: "invoices",
                compression: Compression::Store,
            })
            .await?;
            self.send(Piece::Bytes(r.pdf.clone())).await?;
            self.send(Piece::End).await?;
            self.to_keep.push(r);
            if self.to_keep.len() >= PDF_BATCH {
                self.keep_pdfs().await;
            }
        }
        if to_the_end {
            self.keep_pdfs().await;
        } else {
            self.pdfs = Some(rx);
        }
        Ok(())
    }

    /// Keeps the PDFs rendered since the last call, so the next export copies them instead of
    /// rendering them again. A failure costs only that: the export goes on.
    async fn keep_pdfs(&mut self) {
        if self.to_keep.is_empty() {
            return;
        }
        let batch = std::mem::take(&mut self.to_keep);
        let now = self.h.now();
        let kept: Result<(), StoreError> = async {
            let mut tx = self.h.db.begin().await?;
            for r in batch {
                invoice_pdfs::put(
                    &mut tx,
                    &self.h.keys,
                    &r.invoice_id,
                    &r.issuer_id,
                    &r.recipient_id,
                    &r.hash,
                    r.pdf,
                    now,
                )
                .await?;
            }
            tx.commit().await
        }
        .await;
        if let Err(e) = kept {
            tracing::warn!(export = %self.export_id, error = %e, "could not keep rendered invoice PDFs");
        }
    }

    /// Sends the kept PDFs of the invoices listed in `hits` (one JSON `[invoice id, path]` a
    /// line) to the archive writer, read from the database a few at a time.
    async fn write_kept_pdfs(&mut self, hits: Arc<File>) -> ServiceResult<()> {
        let mut f = hits.as_ref();
        f.seek(SeekFrom::Start(0)).map_err(io)?;
        let mut lines = BufReader::new(f).lines();
        let mut batch: Vec<(String, String)> = Vec::with_capacity(PDF_BATCH);
        loop {
            let line = lines.next().transpose().map_err(io)?;
            if let Some(line) = &line {
                let hit: (String, String) = serde_json::from_str(line).map_err(|e| io(e.into()))?;
                batch.push(hit);
            }
            if batch.len() < PDF_BATCH && line.is_some() {
                continue;
            }
            if batch.is_empty() {
                break;
            }
            let ids: Vec<String> = batch.iter().map(|(id, _)| id.clone()).collect();
            let mut pdfs: HashMap<String, Vec<u8>> =
                invoice_pdfs::get_many(&mut self.tx, &self.h.keys, &ids)
                    .await?
                    .into_iter()
                    .map(|p| (p.invoice_id, p.pdf))
                    .collect();
            for (id, path) in batch.drain(..) {
                let pdf = pdfs.remove(&id).ok_or_else(|| {
                    io(std::io::Error::other(format!(
                        "the kept PDF of invoice {id} is gone"
                    )))
                })?;
                self.send_archive(Piece::Entry {
                    path,
                    category: "invoices",
                    compression: Compression::Store,
                })
                .await?;
                self.send_archive(Piece::Bytes(pdf)).await?;
                self.send_archive(Piece::End).await?;
            }
            if line.is_none() {
                break;
            }
        }
        Ok(())
    }

    /// Writes a spool as one entry of the part.
    async fn send_spooled(&self, path: String, spool: Spool) -> ServiceResult<()> {
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
            .produce(
                export_id,
                member,
                row.since,
                Writers {
                    to_writer,
                    to_viewer,
                    to_archive,
                    part,
                    viewer,
                },
                &dir,
                file_bytes,
                lease,
            )
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
        writers: Writers,
        spool_dir: &Path,
        file_bytes: Arc<AtomicU64>,
        lease: Option<Lease>,
    ) -> ServiceResult<(i64, Progress)> {
        let started = Instant::now();
        let phase = |name: &str| tracing::debug!(export = %export_id, phase = name, ms = started.elapsed().as_millis() as u64, "export phase done");
        let mut tx = self.db.read().await?;
        let s = since.unwrap_or(0);

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
            to_writer: writers.to_writer,
            to_viewer: writers.to_viewer,
            to_archive: writers.to_archive,
            spool_dir: spool_dir.to_path_buf(),
            exported: BTreeMap::new(),
            held: BTreeMap::new(),
            // Counted once the archive writer has work (below).
            progress: Progress {
                records_done: 0,
                records_total: 0,
                bytes_done: 0,
                bytes_total: 0,
            },
            totals_known: false,
            file_bytes,
            last_beat: Instant::now(),
            pdfs: None,
            to_keep: Vec::new(),
            people,
            renamed: Vec::new(),
        };

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
            b.send_viewer(Piece::Entry {
                path: format!("viewer/data/{cat}.js"),
                category: "viewer",
                compression: Compression::Deflate,
            })
            .await?;
            b.send_viewer(Piece::Bytes(js)).await?;
            b.send_viewer(Piece::End).await?;
        }
        b.exported.insert("account".into(), 1);
        b.held.insert("account".into(), 1);
        b.exported.insert("people".into(), person_list.len() as u64);
        b.held.insert("people".into(), person_list.len() as u64);
        drop(person_list);

        // Invoices first: their PDFs render on another thread while the rest is written. An
        // invoice whose PDF was kept by an earlier export, for the same content, is not
        // rendered again: its kept bytes are copied.
        let kept: HashMap<String, String> = invoice_pdfs::hashes_of(&mut b.tx, member)
            .await?
            .into_iter()
            .map(|c| (c.invoice_id, c.content_hash))
            .collect();
        let mut invoice_spool = Spool::new(spool_dir).map_err(io)?;
        let mut hit_spool = Spool::new(spool_dir).map_err(io)?;
        let mut pdf_names = SafeNames::default();
        {
            let spool = &mut invoice_spool;
            let hits = &mut hit_spool;
            let kept = &kept;
            let people = b.people.clone();
            let mut side = |r: &ed::InvoiceRecord| -> ServiceResult<()> {
                let name = |id: &str| {
                    people
                        .get(id)
                        .cloned()
                        .unwrap_or_else(|| crate::FORMER_MEMBER.into())
                };
                let mut job = PdfJob {
                    invoice_id: r.id.clone(),
                    hash: String::new(),
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
                job.hash = content_hash(&job.doc());
                if kept.get(&job.invoice_id) == Some(&job.hash) {
                    let line = serde_json::to_vec(&(&job.invoice_id, &job.path))
                        .map_err(|e| io(e.into()))?;
                    hits.put(&line).map_err(io)?;
                    return hits.put(b"\n").map_err(io);
                }
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
        drop(kept);
        let (invoices, _) = invoice_spool.into_shared().map_err(io)?;
        let (pdf_tx, pdf_rx) = mpsc::channel::<Rendered>(16);
        let renderer = tokio::task::spawn_blocking(move || render_all(invoices, pdf_tx));
        b.pdfs = Some(pdf_rx);
        let (hits, _) = hit_spool.into_shared().map_err(io)?;
        // The archive writer's work, first the kept PDFs, then the files' bytes: it reads,
        // hashes and writes them while the rest is read from the database and deflated into
        // the part.
        b.write_kept_pdfs(hits).await?;
        phase("invoices");
        let (files_done, mut files_written) = tokio::sync::oneshot::channel();
        let sealed = files(&mut b, files_done).await?;
        phase("files_listed");

        // What the database holds, counted in the same snapshot the records are read from.
        let held = ed::held_counts(&mut b.tx, member, s).await?;
        b.progress.bytes_total = ed::file_bytes(&mut b.tx, member, s).await?;
        b.progress.records_total = held.values().sum::<u64>() as i64;
        b.held.extend(held);
        b.totals_known = true;
        b.last_beat = Instant::now() - BEAT;
        b.tick(0).await?;

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
        // Sealed values: cover letters under their senders' keys, notices and closure notes
        // under the member's.
        // (Opened record by record: a failure is kept and returned after the category.)
        let keys = b.h.keys.clone();
        let dk = accounts::get(&mut b.tx, member)
            .await?
            .data_key(&b.h.keys)?;
        let mut failed: Option<StoreError> = None;
        b.category::<ed::ProposalRecord>(
            |r, _| {
                if let Err(e) = r.open(&keys) {
                    failed.get_or_insert(e);
                }
            },
            async |_, _| Ok(()),
            None,
        )
        .await?;
        b.category::<ed::SubmissionRecord>(|_, _| {}, async |_, _| Ok(()), None)
            .await?;
        b.category::<ed::ReviewRecord>(|_, _| {}, async |_, _| Ok(()), None)
            .await?;
        b.category::<ed::AuditRecord>(
            |r, _| {
                if let Err(e) = r.open(&dk) {
                    failed.get_or_insert(e);
                }
            },
            async |_, _| Ok(()),
            None,
        )
        .await?;
        b.category::<ed::ClientNoticeRecord>(
            |r, _| {
                if let Err(e) = r.open(&dk) {
                    failed.get_or_insert(e);
                }
            },
            async |_, _| Ok(()),
            None,
        )
        .await?;
        // What the member wrote to support is sealed under their key.
        b.category::<ed::RestorationRecord>(
            |r, _| {
                r.explanation = r.explanation_enc.as_deref().and_then(|e| {
                    dk.open_field("restoration_requests", "explanation", &r.id, e)
                        .ok()
                });
                r.decision_note = r.decision_note_enc.as_deref().and_then(|e| {
                    dk.open_field("restoration_requests", "decision_note", &r.id, e)
                        .ok()
                });
            },
            async |_, _| Ok(()),
            None,
        )
        .await?;
        if let Some(e) = failed {
            return Err(e.into());
        }
        let member_for_threads = member;
        b.category::<ed::ThreadRecord>(
            // A subject that names someone by reference shows their name as the archive
            // knows them (the pseudonym of an erased member).
            |t, people| {
                if let Some(named) = &t.named_id {
                    let name = people
                        .get(named)
                        .map(String::as_str)
                        .unwrap_or(crate::FORMER_MEMBER);
                    t.subject = t.subject.replace(hiatus_store::market::NAMED, name);
                }
            },
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
        sealed_files(&mut b, sealed).await?;

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
        phase("rendered");
        b.send(Piece::EndPart).await?;
        b.send_viewer(Piece::EndPart).await?;

        // The archive writer's files, then the kept PDFs, then the part.
        b.wait_ticking(&mut files_written)
            .await?
            .map_err(|_| io(std::io::Error::other("the archive writer stopped")))?;
        phase("files_written");
        for mut part in [writers.part, writers.viewer] {
            let (part, entries) = b
                .wait_ticking(&mut part)
                .await?
                .map_err(|e| io(std::io::Error::other(e.to_string())))?
                .map_err(|e| io(std::io::Error::other(e)))?;
            b.send_archive(Piece::Part(part, entries)).await?;
        }
        phase("part");
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
            renamed: std::mem::take(&mut b.renamed),
        };
        b.send_archive(Piece::Finish(Box::new(manifest))).await?;
        let Builder { tx, .. } = b;
        tx.commit().await?;
        Ok((records, progress))
    }
}

/// The writer threads of a build: two part writers (records, CSV files, rendered PDFs; the
/// viewer's copies) and the archive writer (kept PDFs, files, then the parts, the manifest
/// and the signature).
struct Writers {
    to_writer: mpsc::Sender<Piece>,
    to_viewer: mpsc::Sender<Piece>,
    to_archive: mpsc::Sender<Piece>,
    part: PartWriter,
    viewer: PartWriter,
}

type PartWriter = tokio::task::JoinHandle<Result<(File, Vec<ManifestEntry>), String>>;

/// An invoice waiting for its PDF (one line of the spool).
#[derive(Serialize, serde::Deserialize)]
struct PdfJob {
    invoice_id: String,
    /// [`content_hash`] of [`PdfJob::doc`].
    hash: String,
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

impl PdfJob {
    /// What the PDF shows.
    fn doc(&self) -> InvoiceDoc {
        let date = |t: Micros| rfc3339(t)[..10].to_string();
        InvoiceDoc {
            number: self.number.clone(),
            status: self.status.clone(),
            issued_at: date(self.issued_at),
            due_at: date(self.due_at),
            paid_at: self.paid_at.map(date),
            issuer: Party {
                name: self.issuer.0.clone(),
                id: self.issuer.1.clone(),
            },
            recipient: Party {
                name: self.recipient.0.clone(),
                id: self.recipient.1.clone(),
            },
            contract_title: self.contract.0.clone(),
            contract_id: self.contract.1.clone(),
            currency: self.currency.clone(),
            lines: vec![InvoiceLine {
                description: self.description.clone(),
                amount_minor: self.amount_minor,
            }],
            total_minor: self.amount_minor,
        }
    }
}

/// A PDF the renderer finished: its place in the archive, and what it is kept under.
struct Rendered {
    path: String,
    invoice_id: String,
    issuer_id: String,
    recipient_id: String,
    hash: String,
    pdf: Vec<u8>,
}

/// Renders every invoice of the spool and hands the PDFs over as they finish.
fn render_all(spool: Arc<File>, out: mpsc::Sender<Rendered>) -> Result<(), String> {
    let mut f = spool.as_ref();
    f.seek(SeekFrom::Start(0)).map_err(|e| e.to_string())?;
    for line in BufReader::new(f).lines() {
        let line = line.map_err(|e| e.to_string())?;
        let job: PdfJob = serde_json::from_str(&line).map_err(|e| e.to_string())?;
        let pdf = render_invoice(&job.doc()).map_err(|e| e.to_string())?;
        let done = Rendered {
            path: job.path,
            invoice_id: job.invoice_id,
            issuer_id: job.issuer.1,
            recipient_id: job.recipient.1,
            hash: job.hash,
            pdf,
        };
        if out.blocking_send(done).is_err() {
            return Err("the export stopped".into());
        }
    }
    Ok(())
}

/// Messages: `data/messages.json` straight to the part, the viewer's parts (one thread, up to
/// 500 messages each) to the viewer's part, the CSV spooled.
async fn messages(b: &mut Builder<'_>) -> ServiceResult<()> {
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
                let mut view = format!("HIATUS.messages({thread:?}, {part}, [").into_bytes();
                for (i, m) in msgs.iter().enumerate() {
                    if n > 0 {
                        buf.push(b',');
                    }
                    buf.push(b'\n');
                    let at = buf.len();
                    serde_json::to_writer(&mut buf, m).map_err(|e| io(e.into()))?;
                    if i > 0 {
                        view.extend_from_slice(b",\n");
                    }
                    view.extend_from_slice(&buf[at..]);
                    csv_record(&mut csv, &m.csv_row())?;
                    n += 1;
                    if buf.len() >= CHUNK {
                        b.send(Piece::Bytes(std::mem::take(&mut buf))).await?;
                        buf.reserve(CHUNK + 4096);
                    }
                }
                view.extend_from_slice(b"]);\n");
                b.send_viewer(Piece::Entry {
                    path: format!("viewer/messages/{thread}-{part}.js"),
                    category: "viewer",
                    compression: Compression::Deflate,
                })
                .await?;
                b.send_viewer(Piece::Bytes(view)).await?;
                b.send_viewer(Piece::End).await?;
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
    let spool = csv
        .into_inner()
        .map_err(|e| io(std::io::Error::other(e.to_string())))?;
    b.send_spooled("data/messages.csv".into(), spool).await
}

/// Files: their records (`data/files.json`, with each file's path in the archive), and two
/// lists of their bytes to write (one JSON line each): files on local disk as
/// `[path, deflate, file]`, for the archive writer, and the others — private files, sealed
/// under their owner's key, and files in an object store — as
/// `[path, deflate, file id, blob key, sealed]`, for [`sealed_files`].
///
/// The archive writer starts on the first list while it is being written: it gets the list
/// now and, every few files, how far the list is written.
async fn files(
    b: &mut Builder<'_>,
    done: tokio::sync::oneshot::Sender<()>,
) -> ServiceResult<Arc<File>> {
    let mut names = SafeNames::default();
    // Decrypting private file names needs the owner's key: the member's own.
    let acct = accounts::get(&mut b.tx, b.member).await?;
    let dk = acct.data_key(&b.h.keys)?;
    let h = b.h;
    let (named, renamed) = name_files(b, &dk, &mut names).await?;
    b.renamed = renamed;
    let mut list = Spool::new(&b.spool_dir).map_err(io)?;
    let (upto_tx, upto) = std::sync::mpsc::channel::<u64>();
    let shared = list.file.get_ref().try_clone().map_err(io)?;
    b.send_archive(Piece::Files {
        list: Arc::new(shared),
        upto,
        done,
    })
    .await?;
    let mut sealed = Spool::new(&b.spool_dir).map_err(io)?;
    {
        let (list, sealed) = (&mut list, &mut sealed);
        let mut listed = 0u64;
        let upto_tx = &upto_tx;
        let mut side = |r: &ed::FileRecord| -> ServiceResult<()> {
            let deflate = text_like(&r.content_type);
            let on_disk = match r.encrypted {
                true => None,
                false => h.blobs.local_path(&r.blob_key),
            };
            let listed_here = on_disk.is_some();
            let (spool, line): (&mut Spool, _) = match on_disk {
                Some(file) => (&mut *list, serde_json::to_vec(&(&r.path, deflate, file))),
                None => (
                    &mut *sealed,
                    serde_json::to_vec(&(&r.path, deflate, &r.id, &r.blob_key, r.encrypted)),
                ),
            };
            spool.put(&line.map_err(|e| io(e.into()))?).map_err(io)?;
            spool.put(b"\n").map_err(io)?;
            if listed_here {
                listed += 1;
                if listed.is_multiple_of(16) {
                    list.flush().map_err(io)?;
                    let _ = upto_tx.send(list.len);
                }
            }
            Ok(())
        };
        let mut named = BufReader::new(named.as_ref()).lines();
        b.category::<ed::FileRecord>(
            |r, _| {
                let line = named.next().and_then(|l| l.ok());
                let entry = line.and_then(|l| serde_json::from_str::<NamedFile>(&l).ok());
                match entry {
                    Some(n) if n.id == r.id => {
                        r.name = n.name;
                        r.path = n.path;
                        r.renamed = n.renamed;
                    }
                    // Not the file the first pass named (it cannot happen in one snapshot):
                    // a neutral name, whatever the file is.
                    _ => {
                        let original = r.name.clone().unwrap_or_else(|| r.id.clone());
                        let (name, why) = names.name_for(&original, &r.content_type, b"<?");
                        r.path = format!("files/{}/{name}", r.kind);
                        r.renamed = why.map(|w| w.code().to_string());
                    }
                }
            },
            async |_, _| Ok(()),
            Some(&mut side),
        )
        .await?;
    }
    list.flush().map_err(io)?;
    let _ = upto_tx.send(list.len);
    drop(upto_tx);
    let (sealed, _) = sealed.into_shared().map_err(io)?;
    Ok(sealed)
}

/// A file's name in the archive, as the first pass of [`files`] decided it (one JSON line of a
/// spool per file, in the order the records are read).
#[derive(Serialize, serde::Deserialize)]
struct NamedFile {
    id: String,
    /// The original name (decrypted, for a private file).
    name: Option<String>,
    path: String,
    renamed: Option<String>,
}

/// The first pass over the files: reads each one's first bytes and names it (see
/// [`SafeNames::name_for`]), so that a page named `.pdf` does not keep its name. Returns the
/// names, spooled in the order the second pass reads the records (the same query in the same
/// snapshot), and the files renamed.
async fn name_files(
    b: &mut Builder<'_>,
    dk: &hiatus_store::crypto::DataKey,
    names: &mut SafeNames,
) -> ServiceResult<(Arc<File>, Vec<Renamed>)> {
    let mut spool = Spool::new(&b.spool_dir).map_err(io)?;
    let mut renamed = Vec::new();
    let mut after = String::new();
    loop {
        let page: Vec<ed::FileRecord> =
            ed::page::<ed::FileRecord>(&mut b.tx, b.member, &after, PAGE, b.since).await?;
        let Some(last) = page.last() else { break };
        after = last.key().to_string();
        for r in &page {
            let name = match r.encrypted {
                true => r
                    .name_enc
                    .as_deref()
                    .and_then(|n| dk.open_field("files", "name", &r.id, n).ok()),
                false => r.name.clone(),
            };
            let original = name.clone().unwrap_or_else(|| r.id.clone());
            let head = file_head(
                b.h,
                dk,
                &HeadOf {
                    id: r.id.clone(),
                    blob_key: r.blob_key.clone(),
                    encrypted: r.encrypted,
                    size_bytes: r.size_bytes,
                },
            )
            .await?;
            let (safe, why) = names.name_for(&original, &r.content_type, &head);
            let path = format!("files/{}/{safe}", r.kind);
            if let Some(why) = why {
                renamed.push(Renamed {
                    path: path.clone(),
                    original_name: original,
                    reason: why.code().into(),
                });
            }
            let line = NamedFile {
                id: r.id.clone(),
                name,
                path,
                renamed: why.map(|w| w.code().to_string()),
            };
            serde_json::to_writer(&mut spool, &line).map_err(|e| io(e.into()))?;
            spool.put(b"\n").map_err(io)?;
        }
        if page.len() < PAGE as usize {
            break;
        }
    }
    let (file, _) = spool.into_shared().map_err(io)?;
    let mut f = file.as_ref();
    f.seek(SeekFrom::Start(0)).map_err(io)?;
    Ok((file, renamed))
}

/// Which file's first bytes to read.
struct HeadOf {
    id: String,
    blob_key: String,
    encrypted: bool,
    size_bytes: i64,
}

/// A file's first bytes (up to [`SNIFF_BYTES`]), to tell whether a browser could run it: read
/// from disk or the object store, or, for a private file, from its decrypted bytes (private
/// files are small: uploads are read whole).
async fn file_head(
    h: &Hiatus,
    dk: &hiatus_store::crypto::DataKey,
    f: &HeadOf,
) -> ServiceResult<Vec<u8>> {
    if f.encrypted {
        let mut plain = dk.open_blob(&f.id, &h.blobs.get(&f.blob_key).await?)?;
        plain.truncate(SNIFF_BYTES);
        return Ok(plain);
    }
    let mut head = Vec::with_capacity(SNIFF_BYTES);
    if let Some(path) = h.blobs.local_path(&f.blob_key) {
        use tokio::io::AsyncReadExt;
        tokio::fs::File::open(&path)
            .await
            .map_err(|e| io(std::io::Error::other(format!("reading a stored file: {e}"))))?
            .take(SNIFF_BYTES as u64)
            .read_to_end(&mut head)
            .await
            .map_err(io)?;
        return Ok(head);
    }
    let len = (f.size_bytes.max(0) as u64).min(SNIFF_BYTES as u64);
    if len > 0 {
        let mut chunks = h.blobs.read(&f.blob_key, 0..len).await?;
        while let Some(chunk) = chunks.next().await {
            head.extend_from_slice(&chunk.map_err(io)?);
        }
    }
    head.truncate(SNIFF_BYTES);
    Ok(head)
}

/// The files of [`files`]' second list, written to the part: private ones read whole and
/// decrypted with the member's key (their owner's), files in an object store streamed.
async fn sealed_files(b: &mut Builder<'_>, list: Arc<File>) -> ServiceResult<()> {
    let acct = accounts::get(&mut b.tx, b.member).await?;
    let dk = acct.data_key(&b.h.keys)?;
    let mut f = list.as_ref();
    f.seek(SeekFrom::Start(0)).map_err(io)?;
    for line in BufReader::new(f).lines() {
        let line = line.map_err(io)?;
        let (path, deflate, id, blob_key, sealed): (String, bool, String, String, bool) =
            serde_json::from_str(&line).map_err(|e| io(e.into()))?;
        b.send(Piece::Entry {
            path,
            category: "files",
            compression: if deflate {
                Compression::Deflate
            } else {
                Compression::Store
            },
        })
        .await?;
        if sealed {
            let plain = dk.open_blob(&id, &b.h.blobs.get(&blob_key).await?)?;
            b.file_bytes
                .fetch_add(plain.len() as u64, Ordering::Relaxed);
            b.send(Piece::Bytes(plain)).await?;
        } else {
            // Streamed in chunks: a large file never sits whole in memory.
            let size =
                b.h.blobs
                    .size(&blob_key)
                    .await?
                    .ok_or(StoreError::NotFound)?;
            let mut chunks = b.h.blobs.read(&blob_key, 0..size).await?;
            while let Some(chunk) = chunks.next().await {
                let chunk = chunk.map_err(io)?;
                b.file_bytes
                    .fetch_add(chunk.len() as u64, Ordering::Relaxed);
                b.send(Piece::Bytes(chunk.to_vec())).await?;
            }
        }
        b.send(Piece::End).await?;
        b.write_pdfs(false).await?;
        b.tick(0).await?;
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
}
