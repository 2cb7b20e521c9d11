//! Where the export's time goes beyond the floor, each part measured alone.

use super::floor::pass;
use super::{PAGE, READ_CHUNK, on_disk};
use crate::spread::median;
use anyhow::{Result, anyhow};
use hiatus_archive::pdf::{InvoiceDoc, InvoiceLine, Party, render_invoice};
use hiatus_archive::{ArchiveWriter, Compression, SNIFF_BYTES, SafeNames};
use hiatus_domain::AccountId;
use hiatus_service::Hiatus;
use hiatus_store::export_data::{self as ed, rfc3339};
use serde::Serialize;
use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufWriter, Read, Seek, Write};
use std::path::Path;
use std::time::Instant;

/// Where the export's time goes beyond the floor, each part measured alone.
#[derive(Serialize, Default)]
pub struct Breakdown {
    /// Each part was measured this many times; the figures are medians.
    runs: u32,
    /// The export's 16 count queries and the file-bytes sum (the manifest's "held").
    counts_secs: f64,
    /// The floor's rows alone (no files).
    rows_secs: f64,
    /// Serializing those rows to JSON once, timed alone (the export also copies each
    /// record's JSON to the viewer's copy and, for some categories, writes a CSV row).
    json_secs: f64,
    json_bytes: u64,
    /// The files read, hashed (SHA-256) and CRC'd into a stored ZIP entry, written nowhere.
    files_store_secs: f64,
    /// The floor's files alone: read and SHA-256.
    files_sha_secs: f64,
    file_bytes: u64,
    /// The archive's deflated entries, compressed again (deflate, CRC, SHA-256) from their
    /// uncompressed bytes, by top folder: (entries, bytes in, bytes out, seconds).
    deflate: BTreeMap<String, (u64, u64, u64, f64)>,
    /// The archive's stored entries: (entries, bytes).
    stored: BTreeMap<String, (u64, u64)>,
    /// Writing the archive's size in bytes to a new file in the export folder.
    write_bytes: u64,
    write_secs: f64,
    /// ... and its fsync.
    write_fsync_secs: f64,
    /// Rendering every invoice PDF of the member (what the first export does).
    pdfs: u64,
    pdf_secs: f64,
    pdf_bytes: u64,
    /// Reading the member's kept invoice PDFs, as later exports do instead of rendering.
    kept_pdfs: u64,
    kept_pdf_secs: f64,
    kept_pdf_bytes: u64,
}

/// Reads every kept PDF of the member, 32 at a time, as the export does.
async fn kept_pdfs(h: &Hiatus, member: AccountId) -> Result<(u64, f64, u64)> {
    let t = Instant::now();
    let mut tx = h.db.read().await?;
    let ids: Vec<String> = hiatus_store::invoice_pdfs::hashes_of(&mut tx, member)
        .await?
        .into_iter()
        .map(|c| c.invoice_id)
        .collect();
    let (mut n, mut bytes) = (0u64, 0u64);
    for batch in ids.chunks(32) {
        for p in hiatus_store::invoice_pdfs::get_many(&mut tx, &h.keys, batch).await? {
            n += 1;
            bytes += p.pdf.len() as u64;
        }
    }
    tx.commit().await?;
    Ok((n, t.elapsed().as_secs_f64(), bytes))
}

async fn counts(h: &Hiatus, member: AccountId) -> Result<f64> {
    let t = Instant::now();
    let mut tx = h.db.read().await?;
    // The export's own counts (`held_counts`), as `produce` runs them.
    std::hint::black_box(ed::held_counts(&mut tx, member, 0).await?);
    std::hint::black_box(ed::file_bytes(&mut tx, member, 0).await?);
    tx.commit().await?;
    Ok(t.elapsed().as_secs_f64())
}

/// The member's files through the archive writer as stored entries, into nothing, under the
/// names the export gives them: each file's first bytes read, then a safe and, where a
/// browser could run the file, neutral name (`files/<kind>/<name>`; the writer refuses any
/// other).
async fn files_store(h: &Hiatus, member: AccountId) -> Result<(f64, u64)> {
    let mut tx = h.db.read().await?;
    let mut w = ArchiveWriter::new(std::io::sink());
    let mut names = SafeNames::default();
    let mut head = Vec::with_capacity(SNIFF_BYTES);
    let mut after = String::new();
    let mut secs = 0.0;
    let mut bytes = 0u64;
    loop {
        let page: Vec<ed::FileRecord> = ed::page(&mut tx, member, &after, PAGE, 0).await?;
        let Some(last) = page.last() else { break };
        after = last.id.clone();
        let t = Instant::now();
        for r in &page {
            let mut f = File::open(on_disk(h, &r.blob_key)?)?;
            head.clear();
            (&mut f).take(SNIFF_BYTES as u64).read_to_end(&mut head)?;
            f.rewind()?;
            let original = r.name.as_deref().unwrap_or(&r.id);
            let (name, _) = names.name_for(original, &r.content_type, &head);
            let path = format!("files/{}/{name}", r.kind);
            bytes += w.add(&path, "files", Compression::Store, f)?.size;
        }
        secs += t.elapsed().as_secs_f64();
        if page.len() < PAGE as usize {
            break;
        }
    }
    tx.commit().await?;
    Ok((secs, bytes))
}

/// Every deflated entry of the archive compressed again, alone, into nothing.
fn deflate(archive: &Path, b: &mut Breakdown) -> Result<()> {
    let mut zip = zip::ZipArchive::new(File::open(archive)?)?;
    let mut w = ArchiveWriter::new(std::io::sink());
    let mut bytes = Vec::new();
    for i in 0..zip.len() {
        let mut e = zip.by_index(i)?;
        let name = e.name()?.to_string();
        let top = name.split('/').next().unwrap_or("").to_string();
        if e.compression() != zip::CompressionMethod::Deflated {
            let s = b.stored.entry(top).or_default();
            s.0 += 1;
            s.1 += e.size();
            continue;
        }
        if !name.contains('/') {
            continue; // the manifest, its signature and the public key
        }
        let out = e.compressed_size();
        bytes.clear();
        e.read_to_end(&mut bytes)?;
        let t = Instant::now();
        w.add_bytes(&name, &top, Compression::Deflate, &bytes)?;
        let d = b.deflate.entry(top).or_default();
        d.0 += 1;
        d.1 += bytes.len() as u64;
        d.2 += out;
        d.3 += t.elapsed().as_secs_f64();
    }
    Ok(())
}

/// Writes `len` bytes to a new file in `dir`, 64 KiB at a time through a 1 MiB buffer as
/// the export's writer does; returns the seconds to write and to fsync.
fn write_file(dir: &Path, len: u64) -> Result<(f64, f64)> {
    let path = dir.join("bench-write.tmp");
    let chunk: Vec<u8> = (0..READ_CHUNK).map(|i| (i * 31 % 251) as u8).collect();
    let t = Instant::now();
    let mut w = BufWriter::with_capacity(1 << 20, File::create(&path)?);
    let mut left = len;
    while left > 0 {
        let n = left.min(READ_CHUNK as u64) as usize;
        w.write_all(&chunk[..n])?;
        left -= n as u64;
    }
    let f = w.into_inner().map_err(|e| e.into_error())?;
    let written = t.elapsed().as_secs_f64();
    f.sync_all()?;
    let total = t.elapsed().as_secs_f64();
    drop(f);
    std::fs::remove_file(&path)?;
    Ok((written, total - written))
}

/// Renders every invoice of the member (names are the ids: no decryption).
async fn pdfs(h: &Hiatus, member: AccountId) -> Result<(u64, f64, u64)> {
    let mut tx = h.db.read().await?;
    let mut after = String::new();
    let (mut n, mut secs, mut bytes) = (0u64, 0.0, 0u64);
    let date = |t: i64| rfc3339(t)[..10].to_string();
    loop {
        let page: Vec<ed::InvoiceRecord> = ed::page(&mut tx, member, &after, PAGE, 0).await?;
        let Some(last) = page.last() else { break };
        after = last.id.clone();
        for r in &page {
            let doc = InvoiceDoc {
                number: r.number.clone(),
                status: r.status.clone(),
                issued_at: date(r.issued_at),
                due_at: date(r.due_at),
                paid_at: r.paid_at.map(date),
                issuer: Party {
                    name: r.issuer_id.clone(),
                    id: r.issuer_id.clone(),
                },
                recipient: Party {
                    name: r.recipient_id.clone(),
                    id: r.recipient_id.clone(),
                },
                contract_title: r.contract_title.clone(),
                contract_id: r.contract_id.clone(),
                currency: r.currency.clone(),
                lines: vec![InvoiceLine {
                    description: r.description.clone(),
                    amount_minor: r.amount_minor,
                }],
                total_minor: r.amount_minor,
            };
            let t = Instant::now();
            let pdf = render_invoice(&doc).map_err(|e| anyhow!("rendering: {e}"))?;
            secs += t.elapsed().as_secs_f64();
            n += 1;
            bytes += pdf.len() as u64;
        }
        if page.len() < PAGE as usize {
            break;
        }
    }
    tx.commit().await?;
    Ok((n, secs, bytes))
}

/// Each part `runs` times, one part after the other; the median of each.
pub async fn breakdown(
    h: &Hiatus,
    member: AccountId,
    archive: &Path,
    floor_files_secs: f64,
    runs: u32,
) -> Result<Breakdown> {
    let mut b = Breakdown {
        files_sha_secs: floor_files_secs,
        write_bytes: std::fs::metadata(archive)?.len(),
        ..Breakdown::default()
    };
    let dir = archive.parent().unwrap_or(Path::new("."));
    let runs = runs.max(1);
    let mut t: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
    let mut deflated: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for _ in 0..runs {
        t.entry("counts")
            .or_default()
            .push(counts(h, member).await?);
        let start = Instant::now();
        pass(h, member, false, false).await?;
        t.entry("rows")
            .or_default()
            .push(start.elapsed().as_secs_f64());
        let s = pass(h, member, false, true).await?;
        b.json_bytes = s.json_bytes;
        t.entry("json").or_default().push(s.json_secs);
        let (secs, bytes) = files_store(h, member).await?;
        t.entry("files_store").or_default().push(secs);
        b.file_bytes = bytes;
        let mut once = Breakdown::default();
        deflate(archive, &mut once)?;
        for (group, v) in &once.deflate {
            deflated.entry(group.clone()).or_default().push(v.3);
        }
        (b.deflate, b.stored) = (once.deflate, once.stored);
        let (write, fsync) = write_file(dir, b.write_bytes)?;
        t.entry("write").or_default().push(write);
        t.entry("fsync").or_default().push(fsync);
        let (n, secs, bytes) = pdfs(h, member).await?;
        t.entry("pdf").or_default().push(secs);
        (b.pdfs, b.pdf_bytes) = (n, bytes);
        let (n, secs, bytes) = kept_pdfs(h, member).await?;
        t.entry("kept_pdf").or_default().push(secs);
        (b.kept_pdfs, b.kept_pdf_bytes) = (n, bytes);
    }
    let mut m = |k: &str| median(t.remove(k).unwrap_or_default());
    b.counts_secs = m("counts");
    b.rows_secs = m("rows");
    b.json_secs = m("json");
    b.files_store_secs = m("files_store");
    b.write_secs = m("write");
    b.write_fsync_secs = m("fsync");
    b.pdf_secs = m("pdf");
    b.kept_pdf_secs = m("kept_pdf");
    for (group, secs) in deflated {
        if let Some(d) = b.deflate.get_mut(&group) {
            d.3 = median(secs);
        }
    }
    b.runs = runs;
    Ok(b)
}
