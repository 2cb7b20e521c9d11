//! Writing an archive as a stream: entries go out as they come (with data descriptors, so
//! nothing is buffered or seeked), each hashed on the way through.

use crate::active::{SNIFF_BYTES, entry_is_active};
use crate::manifest::{Manifest, ManifestEntry};
use crate::{ArchiveError, MANIFEST_PATH, PUBLIC_KEY_PATH, SIGNATURE_PATH};
use ed25519_dalek::{Signer, SigningKey};
use sha2::{Digest, Sha256};
use std::collections::HashSet;
use std::io::{Read, Seek, Write};
use zip::write::{SimpleFileOptions, StreamWriter};
use zip::{CompressionMethod, ZipWriter};

/// How an entry is stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compression {
    /// Deflate: text, JSON, CSV, HTML.
    Deflate,
    /// As is: media and other already-compressed bytes gain nothing from deflate.
    Store,
}

/// An archive being written to `W`.
pub struct ArchiveWriter<W: Write> {
    zip: ZipWriter<StreamWriter<W>>,
    files: Vec<ManifestEntry>,
    paths: HashSet<String>,
}

const CHUNK: usize = 64 * 1024;

impl<W: Write> ArchiveWriter<W> {
    /// Starts an archive.
    pub fn new(out: W) -> Self {
        Self {
            zip: ZipWriter::new_stream(out),
            files: Vec::new(),
            paths: HashSet::new(),
        }
    }

    /// Adds a file, streaming it from `reader` in bounded chunks; returns its manifest entry.
    /// `path` must already be safe (see [`crate::safe_name`]); it is checked again here. A file
    /// that a browser could run (see [`crate::active`]) is refused unless it is one of the
    /// viewer's: by its name, and by its first bytes, read before anything is written.
    pub fn add(
        &mut self,
        path: &str,
        category: &str,
        compression: Compression,
        mut reader: impl Read,
    ) -> Result<&ManifestEntry, ArchiveError> {
        if [MANIFEST_PATH, SIGNATURE_PATH, PUBLIC_KEY_PATH].contains(&path) {
            return Err(ArchiveError::Reserved(path.to_string()));
        }
        if !path_is_safe(path) {
            return Err(ArchiveError::Reserved(path.to_string()));
        }
        let mut head = Vec::with_capacity(SNIFF_BYTES);
        (&mut reader)
            .take(SNIFF_BYTES as u64)
            .read_to_end(&mut head)?;
        if entry_is_active(path, &head) {
            return Err(ArchiveError::Active(path.to_string()));
        }
        if !self.paths.insert(path.to_lowercase()) {
            return Err(ArchiveError::Duplicate(path.to_string()));
        }
        let (sha256, size) =
            self.write_entry(path, compression, &mut head.as_slice().chain(reader))?;
        self.files.push(ManifestEntry {
            path: path.to_string(),
            size,
            sha256,
            category: category.to_string(),
        });
        Ok(self.files.last().expect("just pushed"))
    }

    /// Adds a file from memory.
    pub fn add_bytes(
        &mut self,
        path: &str,
        category: &str,
        compression: Compression,
        bytes: &[u8],
    ) -> Result<&ManifestEntry, ArchiveError> {
        self.add(path, category, compression, bytes)
    }

    fn write_entry(
        &mut self,
        path: &str,
        compression: Compression,
        reader: &mut impl Read,
    ) -> Result<(String, u64), ArchiveError> {
        let method = match compression {
            Compression::Deflate => CompressionMethod::Deflated,
            Compression::Store => CompressionMethod::Stored,
        };
        // ZIP64 fields on every entry: sizes are unknown until the stream ends, and an entry
        // may pass 4 GiB.
        // Level 1: nearly the size of the default level for JSON and CSV at several times the
        // speed, which matters when an export holds hundreds of megabytes of text.
        let options = SimpleFileOptions::default()
            .compression_method(method)
            .compression_level((compression == Compression::Deflate).then_some(1))
            .large_file(true)
            .unix_permissions(0o644);
        self.zip.start_file(path, options)?;
        let mut hasher = Sha256::new();
        let mut size = 0u64;
        let mut buf = vec![0u8; CHUNK];
        loop {
            let n = match reader.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e.into()),
            };
            hasher.update(&buf[..n]);
            self.zip.write_all(&buf[..n])?;
            size += n as u64;
        }
        Ok((hex::encode(hasher.finalize()), size))
    }

    /// The entries written so far.
    pub fn files(&self) -> &[ManifestEntry] {
        &self.files
    }

    /// Closes a part of an archive: a ZIP without manifest or signature, whose entries
    /// [`ArchiveWriter::append_part`] copies into the archive proper. Two writers can so fill
    /// one archive at the same time. Returns the writer and the part's entries.
    pub fn finish_part(self) -> Result<(W, Vec<ManifestEntry>), ArchiveError> {
        Ok((self.zip.finish()?.into_inner(), self.files))
    }

    /// Copies every entry of a part (see [`ArchiveWriter::finish_part`]) into this archive as
    /// it is, compressed bytes, CRC-32 and all, and lists them with `entries`, the part's own
    /// manifest entries. Nothing is compressed or hashed again.
    pub fn append_part<R: Read + Seek>(
        &mut self,
        part: R,
        entries: Vec<ManifestEntry>,
    ) -> Result<(), ArchiveError> {
        let mut zip = zip::ZipArchive::new(part)?;
        if zip.len() != entries.len() {
            return Err(ArchiveError::Part(format!(
                "{} entries, {} listed",
                zip.len(),
                entries.len()
            )));
        }
        for (i, e) in entries.into_iter().enumerate() {
            let f = zip.by_index_raw(i)?;
            let named = f.name().is_ok_and(|n| n == e.path.as_str());
            if !named || f.size() != e.size {
                return Err(ArchiveError::Part(format!(
                    "entry {i} is not {:?} as listed",
                    e.path
                )));
            }
            if [MANIFEST_PATH, SIGNATURE_PATH, PUBLIC_KEY_PATH].contains(&e.path.as_str())
                || !path_is_safe(&e.path)
            {
                return Err(ArchiveError::Reserved(e.path));
            }
            // The bytes were sniffed when the part was written; the name is checked again.
            if entry_is_active(&e.path, b"") {
                return Err(ArchiveError::Active(e.path));
            }
            if !self.paths.insert(e.path.to_lowercase()) {
                return Err(ArchiveError::Duplicate(e.path));
            }
            self.zip.raw_copy_file(f)?;
            self.files.push(e);
        }
        Ok(())
    }

    /// Writes the manifest (with every entry written so far), its signature and the public
    /// key, and closes the archive. Returns the writer.
    pub fn finish(mut self, mut manifest: Manifest, key: &SigningKey) -> Result<W, ArchiveError> {
        manifest.files = std::mem::take(&mut self.files);
        let json = serde_json::to_vec_pretty(&manifest).map_err(std::io::Error::other)?;
        let signature = key.sign(&json);
        let opts = SimpleFileOptions::default()
            .compression_method(CompressionMethod::Deflated)
            .unix_permissions(0o644);
        self.zip.start_file(MANIFEST_PATH, opts)?;
        self.zip.write_all(&json)?;
        self.zip.start_file(SIGNATURE_PATH, opts)?;
        self.zip
            .write_all(hex::encode(signature.to_bytes()).as_bytes())?;
        self.zip.start_file(PUBLIC_KEY_PATH, opts)?;
        self.zip
            .write_all(hex::encode(key.verifying_key().to_bytes()).as_bytes())?;
        Ok(self.zip.finish()?.into_inner())
    }
}

/// A relative path of safe components: no empty, `.` or `..` parts, no backslashes, no
/// control, invisible or bidirectional formatting characters, not absolute.
pub(crate) fn path_is_safe(path: &str) -> bool {
    !path.is_empty()
        && !path.starts_with('/')
        && !path.contains('\\')
        && !path.chars().any(hiatus_domain::text::is_invisible_control)
        && path
            .split('/')
            .all(|part| !part.is_empty() && part != "." && part != "..")
}
