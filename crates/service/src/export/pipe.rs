//! The build's plumbing: the pieces of the archive on their way to the writer threads, the
//! threads that write them (the archive writer, the part writers, the disk writer), and the
//! temporary files that hold what does not fit in a channel.

use hiatus_archive::{ArchiveWriter, Compression, Manifest, ManifestEntry, SigningKey};
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::sync::mpsc;

/// A piece of the archive on its way to the writer thread.
pub(super) enum Piece {
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
pub(super) fn write_archive(
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
pub(super) fn write_part(
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
pub(super) struct Spool {
    pub(super) file: BufWriter<File>,
    pub(super) len: u64,
}

impl Spool {
    pub(super) fn new(dir: &Path) -> std::io::Result<Self> {
        Ok(Spool {
            file: BufWriter::with_capacity(256 * 1024, tempfile::tempfile_in(dir)?),
            len: 0,
        })
    }
    pub(super) fn put(&mut self, b: &[u8]) -> std::io::Result<()> {
        self.write_all(b)
    }
    pub(super) fn into_shared(mut self) -> std::io::Result<(Arc<File>, u64)> {
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

/// The writer threads of a build: two part writers (records, CSV files, rendered PDFs; the
/// viewer's copies) and the archive writer (kept PDFs, files, then the parts, the manifest
/// and the signature).
pub(super) struct Writers {
    pub(super) to_writer: mpsc::Sender<Piece>,
    pub(super) to_viewer: mpsc::Sender<Piece>,
    pub(super) to_archive: mpsc::Sender<Piece>,
    pub(super) part: PartWriter,
    pub(super) viewer: PartWriter,
}

pub(super) type PartWriter = tokio::task::JoinHandle<Result<(File, Vec<ManifestEntry>), String>>;
