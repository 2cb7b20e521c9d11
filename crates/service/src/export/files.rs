//! The member's files: named safely in a first pass, then listed for the archive writer (files
//! on local disk) or written to the part (private files, files in an object store).

use super::builder::{Builder, PAGE, io};
use super::pipe::{Piece, Spool};
use crate::Hiatus;
use crate::error::ServiceResult;
use futures_util::StreamExt;
use hiatus_archive::{Compression, Renamed, SNIFF_BYTES, SafeNames};
use hiatus_store::export_data::{self as ed, Record};
use hiatus_store::{StoreError, accounts};
use serde::Serialize;
use std::fs::File;
use std::io::{BufRead, BufReader, Seek, SeekFrom, Write};
use std::sync::Arc;
use std::sync::atomic::Ordering;

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

/// Files: their records (`data/files.json`, with each file's path in the archive), and two
/// lists of their bytes to write (one JSON line each): files on local disk as
/// `[path, deflate, file]`, for the archive writer, and the others — private files, sealed
/// under their owner's key, and files in an object store — as
/// `[path, deflate, file id, blob key, sealed]`, for [`sealed_files`].
///
/// The archive writer starts on the first list while it is being written: it gets the list
/// now and, every few files, how far the list is written.
pub(super) async fn files(
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
pub(super) async fn sealed_files(b: &mut Builder<'_>, list: Arc<File>) -> ServiceResult<()> {
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
