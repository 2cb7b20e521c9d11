//! The floor: one pass over everything the export selects, files read and hashed.

use super::{PAGE, READ_CHUNK, Run, cpu_now, on_disk};
use anyhow::{Context, Result};
use hiatus_domain::AccountId;
use hiatus_service::Hiatus;
use hiatus_store::Tx;
use hiatus_store::export_data::{self as ed, Record};
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::fs::File;
use std::io::Read;
use std::path::Path;
use std::time::Instant;

/// What a floor run did.
#[derive(Clone, Copy, Default, Serialize)]
pub struct FloorStats {
    pub rows: u64,
    pub files: u64,
    pub file_bytes: u64,
    /// Files whose bytes do not hash to the `sha256` of their row (unencrypted only).
    pub sha256_mismatches: u64,
    /// Time spent reading and hashing file bytes (the rest is selecting rows).
    pub files_secs: f64,
    /// JSON bytes, when the pass serializes.
    pub json_bytes: u64,
    /// Time spent serializing, when the pass serializes.
    pub json_secs: f64,
}

/// One pass over the member's rows in one read transaction, as the floor (or, with
/// `serialize`, the floor's rows plus the records' JSON).
struct Pass<'a> {
    h: &'a Hiatus,
    member: AccountId,
    tx: Tx,
    hash_files: bool,
    serialize: bool,
    json: Vec<u8>,
    stats: FloorStats,
}

impl Pass<'_> {
    fn seen<R: Serialize>(&mut self, rows: &[R]) -> Result<()> {
        self.stats.rows += rows.len() as u64;
        if self.serialize {
            let t = Instant::now();
            for r in rows {
                serde_json::to_writer(&mut self.json, r)?;
                if self.json.len() >= READ_CHUNK {
                    self.stats.json_bytes += self.json.len() as u64;
                    self.json.clear();
                }
            }
            self.stats.json_secs += t.elapsed().as_secs_f64();
        } else {
            std::hint::black_box(rows);
        }
        Ok(())
    }

    /// Every page of a category.
    async fn category<R: Record>(&mut self) -> Result<()> {
        let mut after = String::new();
        loop {
            let page: Vec<R> = ed::page(&mut self.tx, self.member, &after, PAGE, 0).await?;
            let Some(last) = page.last() else { break };
            after = last.key().to_string();
            self.seen(&page)?;
            if page.len() < PAGE as usize {
                break;
            }
        }
        Ok(())
    }

    /// Threads with their participants, and each thread's messages.
    async fn threads(&mut self) -> Result<()> {
        let mut after = String::new();
        loop {
            let mut page: Vec<ed::ThreadRecord> =
                ed::page(&mut self.tx, self.member, &after, PAGE, 0).await?;
            let Some(last) = page.last() else { break };
            after = last.id.clone();
            ed::thread_participants(&mut self.tx, self.member, &mut page).await?;
            self.seen(&page)?;
            for t in &page {
                let (mut at, mut aid) = (-1, String::new());
                loop {
                    let msgs = ed::messages_of_thread(
                        &mut self.tx,
                        &t.id,
                        at,
                        &aid,
                        ed::MESSAGES_PER_PART,
                    )
                    .await?;
                    let Some(m) = msgs.last() else { break };
                    (at, aid) = (m.created_at, m.id.clone());
                    self.seen(&msgs)?;
                    if msgs.len() < ed::MESSAGES_PER_PART as usize {
                        break;
                    }
                }
            }
            if page.len() < PAGE as usize {
                break;
            }
        }
        Ok(())
    }

    /// The file rows, and (for the floor) each file's bytes read and hashed.
    async fn files(&mut self) -> Result<()> {
        let mut after = String::new();
        let mut buf = vec![0u8; READ_CHUNK];
        loop {
            let page: Vec<ed::FileRecord> =
                ed::page(&mut self.tx, self.member, &after, PAGE, 0).await?;
            let Some(last) = page.last() else { break };
            after = last.id.clone();
            self.seen(&page)?;
            if self.hash_files {
                let t = Instant::now();
                for r in &page {
                    let path = on_disk(self.h, &r.blob_key)?;
                    let (n, digest) = sha256_file(&path, &mut buf)
                        .with_context(|| format!("reading {}", path.display()))?;
                    self.stats.files += 1;
                    self.stats.file_bytes += n;
                    if !r.encrypted && !digest.eq_ignore_ascii_case(&r.sha256) {
                        self.stats.sha256_mismatches += 1;
                    }
                }
                self.stats.files_secs += t.elapsed().as_secs_f64();
            }
            if page.len() < PAGE as usize {
                break;
            }
        }
        Ok(())
    }

    /// The people the member dealt with (ids and sealed names, not decrypted).
    async fn people(&mut self) -> Result<()> {
        let mut after = String::new();
        loop {
            let page = ed::counterparties_page(&mut self.tx, self.member, &after, PAGE).await?;
            let Some(last) = page.last() else { break };
            after = last.0.clone();
            self.seen(&page)?;
            if page.len() < PAGE as usize {
                break;
            }
        }
        Ok(())
    }
}

fn sha256_file(path: &Path, buf: &mut [u8]) -> std::io::Result<(u64, String)> {
    let mut f = File::open(path)?;
    let mut hasher = Sha256::new();
    let mut n = 0u64;
    loop {
        let k = f.read(buf)?;
        if k == 0 {
            break;
        }
        hasher.update(&buf[..k]);
        n += k as u64;
    }
    Ok((n, hex::encode(hasher.finalize())))
}

/// One pass over everything the export selects: the floor when `hash_files`.
pub async fn pass(
    h: &Hiatus,
    member: AccountId,
    hash_files: bool,
    serialize: bool,
) -> Result<FloorStats> {
    let tx = h.db.read().await?;
    let mut p = Pass {
        h,
        member,
        tx,
        hash_files,
        serialize,
        json: Vec::with_capacity(2 * READ_CHUNK),
        stats: FloorStats::default(),
    };
    p.people().await?;
    p.category::<ed::InvoiceRecord>().await?;
    p.category::<ed::ContractRecord>().await?;
    p.category::<ed::MilestoneRecord>().await?;
    p.category::<ed::PaymentRecord>().await?;
    p.category::<ed::PayoutRecord>().await?;
    p.category::<ed::BalanceRecord>().await?;
    p.category::<ed::DisputeRecord>().await?;
    p.category::<ed::JobPostRecord>().await?;
    p.category::<ed::ProposalRecord>().await?;
    p.category::<ed::SubmissionRecord>().await?;
    p.category::<ed::ReviewRecord>().await?;
    p.category::<ed::AuditRecord>().await?;
    p.category::<ed::ClientNoticeRecord>().await?;
    p.threads().await?;
    p.files().await?;
    p.stats.json_bytes += p.json.len() as u64;
    let stats = p.stats;
    p.tx.commit().await?;
    Ok(stats)
}

pub async fn floor(h: &Hiatus, member: AccountId) -> Result<(Run, FloorStats)> {
    let cpu = cpu_now();
    let t = Instant::now();
    let stats = pass(h, member, true, false).await?;
    Ok((
        Run {
            secs: t.elapsed().as_secs_f64(),
            cpu: cpu_now() - cpu,
        },
        stats,
    ))
}
