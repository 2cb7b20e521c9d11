//! `hiatus-bench export`: a member's export against its floor.
//!
//! The floor is the work no export can avoid: selecting the rows the export selects (every
//! category's pages with the export's own queries, messages thread by thread, decoded but not
//! serialized) and reading the bytes of every file the member can see and computing their
//! SHA-256. The export is a full `request_export_for` + `build_export`, as `hiatus export`
//! runs it, without copying the archive anywhere. One untimed run of each first (caches), then
//! floor and export alternate, so drift on the machine hits both alike. Each archive is deleted
//! after its run. Then a breakdown of where the export's time goes beyond the floor, each part
//! measured alone.

use crate::config::{self, Global};
use crate::spread::{Spread, spread};
use anyhow::{Context, Result, anyhow, bail};
use clap::Args;
use hiatus_domain::AccountId;
use hiatus_service::Hiatus;
use hiatus_service::export::{BuildOutcome, archive_key};
use hiatus_store::Backend;
use serde::Serialize;
use std::time::Instant;

mod breakdown;
mod floor;

use breakdown::breakdown;
use floor::floor;

/// Records per query, as the export reads them.
const PAGE: i64 = 1000;
/// File bytes read at a time.
const READ_CHUNK: usize = 64 * 1024;

/// Options of `export`.
#[derive(Args, Debug)]
pub struct ExportBenchArgs {
    /// The member to export, e.g. the one `hiatus-bench generate` printed.
    #[arg(long)]
    pub email: String,
    /// Timed runs of each (after one untimed run of each).
    #[arg(long, default_value_t = 5)]
    pub runs: u32,
    /// Skip the breakdown (serialization, deflate, PDFs, disk writes measured one by one).
    #[arg(long)]
    pub no_breakdown: bool,
    /// Times each part of the breakdown is measured (the median is reported).
    #[arg(long, default_value_t = 3)]
    pub breakdown_runs: u32,
    /// Print the results as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

/// CPU time of this process (all its threads), from /proc/self/stat.
#[derive(Clone, Copy, Default)]
struct Cpu {
    user: f64,
    system: f64,
}

fn cpu_now() -> Cpu {
    // Fields 14 and 15 (utime, stime) in clock ticks, counted after the command name.
    let ticks = 100.0; // sysconf(_SC_CLK_TCK) on Linux
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return Cpu::default();
    };
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    let num = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    Cpu {
        user: num(11) / ticks,
        system: num(12) / ticks,
    }
}

impl std::ops::Sub for Cpu {
    type Output = Cpu;
    fn sub(self, o: Cpu) -> Cpu {
        Cpu {
            user: self.user - o.user,
            system: self.system - o.system,
        }
    }
}

/// One timed run.
#[derive(Clone, Copy, Default)]
struct Run {
    pub secs: f64,
    pub cpu: Cpu,
}

/// What an export run produced.
#[derive(Clone, Copy, Default, Serialize)]
struct ExportStats {
    size_bytes: i64,
    records: i64,
}

/// A full export; the archive stays in the blob store (the caller deletes it).
async fn export(h: &Hiatus, member: AccountId) -> Result<(Run, ExportStats, String)> {
    let cpu = cpu_now();
    let t = Instant::now();
    let view = h
        .request_export_for(member, None, None)
        .await
        .map_err(|e| anyhow!("requesting the export: {e}"))?;
    let outcome = h
        .build_export(&view.id, None)
        .await
        .map_err(|e| anyhow!("building the export: {e}"))?;
    let run = Run {
        secs: t.elapsed().as_secs_f64(),
        cpu: cpu_now() - cpu,
    };
    let BuildOutcome::Ready {
        size_bytes,
        records,
    } = outcome
    else {
        bail!("the export was skipped");
    };
    Ok((
        run,
        ExportStats {
            size_bytes,
            records,
        },
        view.id,
    ))
}

/// Where a blob is on local disk: the export benchmark reads files directly.
fn on_disk(h: &Hiatus, key: &str) -> Result<std::path::PathBuf> {
    h.blobs.local_path(key).context(
        "the export benchmark reads files from the local folder: run it without --object-store",
    )
}

fn remove_archive(h: &Hiatus, id: &str) -> Result<()> {
    let path = on_disk(h, &archive_key(id))?;
    std::fs::remove_file(&path).with_context(|| format!("removing {}", path.display()))
}

/// How many of the member's invoices have a kept PDF.
async fn kept_pdf_count(h: &Hiatus, member: AccountId) -> Result<u64> {
    let mut tx = h.db.read().await?;
    let n = hiatus_store::invoice_pdfs::hashes_of(&mut tx, member)
        .await?
        .len() as u64;
    tx.commit().await?;
    Ok(n)
}

pub async fn run(g: &Global, a: ExportBenchArgs) -> Result<()> {
    if a.runs == 0 {
        bail!("--runs must be at least 1");
    }
    let h = config::hiatus(g).await?;
    let member = h
        .find_account(&a.email)
        .await
        .map_err(|e| anyhow!("finding {}: {e}", a.email))?;
    let backend = match h.db.backend() {
        Backend::Sqlite => "sqlite",
        Backend::Postgres => "postgres",
    };
    let say = |m: String| {
        if !a.json {
            eprintln!("{m}");
        }
    };

    // Warm-up, untimed: the page cache holds the files and the database, the statements
    // are prepared, the PDF fonts are loaded. On a fresh database this first export
    // renders every invoice PDF and keeps them; the timed ones copy the kept PDFs. Its
    // time is reported apart.
    let (_, floor_stats) = floor(&h, member).await?;
    let kept_before = kept_pdf_count(&h, member).await?;
    let (first, _, id) = export(&h, member).await?;
    let kept_after = kept_pdf_count(&h, member).await?;
    remove_archive(&h, &id)?;
    say(format!(
        "first export {:.2} s ({kept_before} invoice PDFs kept before it, {kept_after} after)",
        first.secs
    ));
    if floor_stats.files == 0 {
        bail!("the member has no file bytes: generate without --no-files");
    }

    let mut floors = Vec::new();
    let mut exports = Vec::new();
    let mut files_secs = Vec::new();
    let mut last = None;
    let mut stats = ExportStats::default();
    for i in 0..a.runs {
        let (f, s) = floor(&h, member).await?;
        say(format!(
            "run {} of {}: floor {:.2} s (files {:.2} s)",
            i + 1,
            a.runs,
            f.secs,
            s.files_secs
        ));
        floors.push(f);
        files_secs.push(s.files_secs);
        let (e, st, id) = export(&h, member).await?;
        say(format!(
            "run {} of {}: export {:.2} s",
            i + 1,
            a.runs,
            e.secs
        ));
        exports.push(e);
        stats = st;
        if let Some(prev) = last.replace(id) {
            remove_archive(&h, &prev)?;
        }
    }
    let last = last.expect("at least one run");
    let archive = on_disk(&h, &archive_key(&last))?;
    let files_secs = spread(files_secs);
    let b = if a.no_breakdown {
        None
    } else {
        say("breakdown".into());
        Some(breakdown(&h, member, &archive, files_secs.median, a.breakdown_runs).await?)
    };
    remove_archive(&h, &last)?;
    h.db.close().await;

    let floor_secs = spread(floors.iter().map(|r| r.secs).collect());
    let export_secs = spread(exports.iter().map(|r| r.secs).collect());
    let ratio = export_secs.median / floor_secs.median.max(1e-9);
    let cpu = |runs: &[Run]| {
        serde_json::json!({
            "user": spread(runs.iter().map(|r| r.cpu.user).collect()).median,
            "system": spread(runs.iter().map(|r| r.cpu.system).collect()).median,
        })
    };
    if a.json {
        let out = serde_json::json!({
            "backend": backend,
            "member": a.email,
            "runs": a.runs,
            "floor": {
                "seconds": floor_secs,
                "files_seconds": files_secs,
                "cpu_seconds": cpu(&floors),
                "rows": floor_stats.rows,
                "files": floor_stats.files,
                "file_bytes": floor_stats.file_bytes,
                "sha256_mismatches": floor_stats.sha256_mismatches,
            },
            "export": {
                "seconds": export_secs,
                "cpu_seconds": cpu(&exports),
                "archive_bytes": stats.size_bytes,
                "records": stats.records,
            },
            "ratio": ratio,
            "first_export": {
                "seconds": first.secs,
                "cpu_seconds": { "user": first.cpu.user, "system": first.cpu.system },
                "pdfs_kept_before": kept_before,
                "pdfs_kept_after": kept_after,
            },
            "breakdown": b,
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        let s = |x: &Spread| format!("{:.2} s ({:.2}–{:.2})", x.median, x.min, x.max);
        println!(
            "export ({backend}, {} runs): floor {}, export {}, ratio {:.2}",
            a.runs,
            s(&floor_secs),
            s(&export_secs),
            ratio
        );
        println!(
            "floor: {} rows, {} files, {:.1} MiB; archive {:.1} MiB, {} records",
            floor_stats.rows,
            floor_stats.files,
            floor_stats.file_bytes as f64 / 1048576.0,
            stats.size_bytes as f64 / 1048576.0,
            stats.records
        );
        if let Some(b) = &b {
            println!("{}", serde_json::to_string_pretty(b)?);
        }
    }
    Ok(())
}
