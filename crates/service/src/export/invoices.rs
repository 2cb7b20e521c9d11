//! The invoices' PDFs: rendered on a thread of their own while the rest of the archive is
//! written, kept for the next export, or copied when an earlier export kept them.

use super::builder::{Builder, PDF_BATCH, io};
use super::pipe::{Piece, Spool};
use crate::error::ServiceResult;
use hiatus_archive::Compression;
use hiatus_archive::pdf::{InvoiceDoc, InvoiceLine, Party, content_hash, render_invoice};
use hiatus_domain::Micros;
use hiatus_store::export_data::{self as ed, rfc3339};
use hiatus_store::{StoreError, invoice_pdfs};
use serde::Serialize;
use std::collections::HashMap;
use std::fs::File;
use std::io::{BufRead, BufReader, Seek, SeekFrom};
use std::sync::Arc;
use tokio::sync::mpsc;

impl Builder<'_> {
    /// Writes the invoice PDFs rendered so far (all of them, waiting for the renderer, when
    /// `to_the_end`). Called between entries, so the renderer never waits for a full channel
    /// while the rest of the archive is written. PDFs are stored as they are: deflating them
    /// again saves a little space for much CPU.
    pub(super) async fn write_pdfs(&mut self, to_the_end: bool) -> ServiceResult<()> {
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
    pub(super) async fn write_kept_pdfs(&mut self, hits: Arc<File>) -> ServiceResult<()> {
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
}

/// An invoice waiting for its PDF (one line of the spool).
#[derive(Serialize, serde::Deserialize)]
pub(super) struct PdfJob {
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
pub(super) struct Rendered {
    pub(super) path: String,
    pub(super) invoice_id: String,
    pub(super) issuer_id: String,
    pub(super) recipient_id: String,
    pub(super) hash: String,
    pub(super) pdf: Vec<u8>,
}

/// Renders every invoice of the spool and hands the PDFs over as they finish.
pub(super) fn render_all(spool: Arc<File>, out: mpsc::Sender<Rendered>) -> Result<(), String> {
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

/// Queues the PDF of one invoice as its record streams: a line of `hits` when an earlier
/// export kept a PDF of the same content, else a line of `to_render`.
pub(super) fn queue_pdf(
    r: &ed::InvoiceRecord,
    people: &HashMap<String, String>,
    kept: &HashMap<String, String>,
    hits: &mut Spool,
    to_render: &mut Spool,
) -> ServiceResult<()> {
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
        let line = serde_json::to_vec(&(&job.invoice_id, &job.path)).map_err(|e| io(e.into()))?;
        hits.put(&line).map_err(io)?;
        return hits.put(b"\n").map_err(io);
    }
    let line = serde_json::to_vec(&job).map_err(|e| io(e.into()))?;
    to_render.put(&line).map_err(io)?;
    to_render.put(b"\n").map_err(io)
}
