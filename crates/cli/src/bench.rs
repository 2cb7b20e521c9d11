//! `hiatus bench` (hidden; `scripts/bench` drives it): times preflight and deactivate +
//! reactivate round trips through the service layer, as a member would call them, against
//! data loaded by `hiatus generate`; `hiatus bench export` times a member's export against a
//! floor (see [`export`]).

use crate::config::{self, Global};
use anyhow::{Context, Result, anyhow, bail};
use clap::{Args, Subcommand};
use hiatus_domain::preflight::Intent;
use hiatus_domain::{AccountState, ClosureReason, Email};
use hiatus_service::lifecycle::CloseRequest;
use hiatus_store::Backend;
use hiatus_store::bulk::GENERATED_PASSWORD;
use std::time::{Duration, Instant};

/// Options of `bench`.
#[derive(Args, Debug)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct BenchArgs {
    /// Another benchmark instead of preflight and round trips.
    #[command(subcommand)]
    pub mode: Option<BenchMode>,
    /// The member to measure, e.g. the one `hiatus generate` printed.
    #[arg(long, required = true)]
    pub email: Option<String>,
    /// Their password.
    #[arg(long, default_value = GENERATED_PASSWORD)]
    pub password: String,
    /// Preflight calls to time (after 50 untimed ones).
    #[arg(long, default_value_t = 2000)]
    pub preflights: u32,
    /// Deactivate + reactivate round trips to time.
    #[arg(long, default_value_t = 200)]
    pub round_trips: u32,
    /// Print the results as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

/// Benchmarks other than preflight and round trips.
#[derive(Subcommand, Debug)]
pub enum BenchMode {
    /// Time a member's full export against a floor (the same rows selected, the same file
    /// bytes read and hashed), alternating the two.
    Export(export::ExportBenchArgs),
    /// Time a member's erasure against a floor (the same row changes by hand in one
    /// transaction), each run on a fresh copy of the database, and other members' write
    /// latency while it runs.
    Erase(erase::EraseBenchArgs),
    /// Put work in the job queue for `scripts/bench scale` (breaks whose end is due,
    /// deletions due at once, exports), through the service layer.
    ScalePrepare(scale::ScalePrepareArgs),
    /// Time key rotation: every live data key re-wrapped under a new epoch, run after run.
    Keys(keys::KeysBenchArgs),
}

mod erase;
mod keys;
mod scale;

/// The Argon2 parameters of `PasswordParams::FAST`, as they appear in a stored hash.
const FAST_HASH_PREFIX: &str = "$argon2id$v=19$m=64,t=1,p=1$";

pub async fn run(g: &Global, a: BenchArgs) -> Result<()> {
    match a.mode {
        Some(BenchMode::Export(e)) => return export::run(g, e).await,
        Some(BenchMode::Erase(e)) => return erase::run(g, e).await,
        Some(BenchMode::ScalePrepare(s)) => return scale::run(g, s).await,
        Some(BenchMode::Keys(k)) => return keys::run(g, k).await,
        None => {}
    }
    let email_text = a.email.as_deref().context("--email is required")?;
    let h = config::hiatus(g).await?;
    let email = Email::parse(email_text).map_err(|e| anyhow!("--email: {e}"))?;
    let mut tx = h.db.read().await?;
    let row = hiatus_store::accounts::find_by_email(&mut tx, &h.keys, &email).await?;
    tx.commit().await?;
    let Some(row) = row else {
        bail!("no account has that email: run `hiatus generate` first");
    };
    let fast = row
        .password_hash
        .as_deref()
        .is_some_and(|p| p.starts_with(FAST_HASH_PREFIX));
    if !fast && a.round_trips > 0 {
        eprintln!(
            "warning: the member's password hash uses slow Argon2 parameters, so round trips \
             measure mostly Argon2; generate with --insecure-fast-passwords for the benchmark"
        );
    }
    if row.state()? != AccountState::Active {
        bail!("the member is {}, not active", row.state()?);
    }

    let login = h
        .login(email_text, &a.password)
        .await
        .map_err(|e| anyhow!("logging in: {e}"))?;
    let actor = h
        .authenticate(&login.token)
        .await
        .map_err(|e| anyhow!("{e}"))?;

    for _ in 0..50.min(a.preflights) {
        h.preflight(&actor, Intent::Deactivate, None)
            .await
            .map_err(|e| anyhow!("preflight: {e}"))?;
    }
    let mut times = Vec::with_capacity(a.preflights as usize);
    let mut found = (0, 0);
    for _ in 0..a.preflights {
        let t = Instant::now();
        let p = h
            .preflight(&actor, Intent::Deactivate, None)
            .await
            .map_err(|e| anyhow!("preflight: {e}"))?;
        times.push(t.elapsed());
        found = (p.blockers.len(), p.warnings.len());
    }
    times.sort_unstable();

    let close = CloseRequest {
        password: Some(a.password.clone()),
        reason: ClosureReason::TakingABreak,
        detail: None,
    };
    let started = Instant::now();
    for _ in 0..a.round_trips {
        h.deactivate(&actor, close.clone())
            .await
            .map_err(|e| anyhow!("deactivating: {e}"))
            .context("the member must have nothing blocking deactivation")?;
        h.reactivate(&actor)
            .await
            .map_err(|e| anyhow!("reactivating: {e}"))?;
    }
    let round_trip_secs = started.elapsed().as_secs_f64();
    let backend = match h.db.backend() {
        Backend::Sqlite => "sqlite",
        Backend::Postgres => "postgres",
    };
    h.db.close().await;

    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let pct = |q: f64| {
        if times.is_empty() {
            0.0
        } else {
            ms(times[((times.len() - 1) as f64 * q).round() as usize])
        }
    };
    let mean = if times.is_empty() {
        0.0
    } else {
        ms(times.iter().sum::<Duration>()) / times.len() as f64
    };
    let per_second = f64::from(a.round_trips) / round_trip_secs.max(1e-9);
    if a.json {
        let out = serde_json::json!({
            "backend": backend,
            "preflight": {
                "iterations": times.len(),
                "p50_ms": pct(0.50),
                "p99_ms": pct(0.99),
                "mean_ms": mean,
                "max_ms": times.last().map(|d| ms(*d)).unwrap_or(0.0),
                "blockers": found.0,
                "warnings": found.1,
            },
            "round_trips": {
                "count": a.round_trips,
                "seconds": round_trip_secs,
                "per_second": per_second,
                "fast_password_hash": fast,
            },
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        println!(
            "preflight ({backend}, {} calls, {} blockers, {} warnings): p50 {:.3} ms, p99 {:.3} ms, mean {:.3} ms",
            times.len(),
            found.0,
            found.1,
            pct(0.50),
            pct(0.99),
            mean
        );
        println!(
            "deactivate + reactivate: {} round trips in {:.2} s, {:.1} per second",
            a.round_trips, round_trip_secs, per_second
        );
    }
    Ok(())
}

/// `hiatus bench export`: a member's export against its floor.
///
/// The floor is the work no export can avoid: selecting the rows the export selects (every
/// category's pages with the export's own queries, messages thread by thread, decoded but not
/// serialized) and reading the bytes of every file the member can see and computing their
/// SHA-256. The export is a full `request_export_for` + `build_export`, as `hiatus export`
/// runs it, without copying the archive anywhere. One untimed run of each first (caches), then
/// floor and export alternate, so drift on the machine hits both alike. Each archive is deleted
/// after its run. Then a breakdown of where the export's time goes beyond the floor, each part
/// measured alone.
pub mod export {
    use crate::config::{self, Global};
    use anyhow::{Context, Result, anyhow, bail};
    use clap::Args;
    use hiatus_archive::pdf::{InvoiceDoc, InvoiceLine, Party, render_invoice};
    use hiatus_archive::{ArchiveWriter, Compression};
    use hiatus_domain::AccountId;
    use hiatus_service::Hiatus;
    use hiatus_service::export::{BuildOutcome, archive_key};
    use hiatus_store::export_data::{self as ed, Record, rfc3339};
    use hiatus_store::{Backend, Tx};
    use serde::Serialize;
    use sha2::{Digest, Sha256};
    use std::collections::BTreeMap;
    use std::fs::File;
    use std::io::{BufWriter, Read, Write};
    use std::path::Path;
    use std::time::Instant;

    /// Records per query, as the export reads them.
    const PAGE: i64 = 1000;
    /// File bytes read at a time.
    const READ_CHUNK: usize = 64 * 1024;

    /// Options of `bench export`.
    #[derive(Args, Debug)]
    pub struct ExportBenchArgs {
        /// The member to export, e.g. the one `hiatus generate` printed.
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
        secs: f64,
        cpu: Cpu,
    }

    /// What a floor run did.
    #[derive(Clone, Copy, Default, Serialize)]
    struct FloorStats {
        rows: u64,
        files: u64,
        file_bytes: u64,
        /// Files whose bytes do not hash to the `sha256` of their row (unencrypted only).
        sha256_mismatches: u64,
        /// Time spent reading and hashing file bytes (the rest is selecting rows).
        files_secs: f64,
        /// JSON bytes, when the pass serializes.
        json_bytes: u64,
        /// Time spent serializing, when the pass serializes.
        json_secs: f64,
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
    async fn pass(
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

    async fn floor(h: &Hiatus, member: AccountId) -> Result<(Run, FloorStats)> {
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

    /// Median, min and max.
    #[derive(Serialize)]
    struct Spread {
        median: f64,
        min: f64,
        max: f64,
        all: Vec<f64>,
    }

    fn spread(mut v: Vec<f64>) -> Spread {
        let all = v.clone();
        v.sort_by(f64::total_cmp);
        let n = v.len();
        let median = if n == 0 {
            0.0
        } else if n % 2 == 1 {
            v[n / 2]
        } else {
            (v[n / 2 - 1] + v[n / 2]) / 2.0
        };
        Spread {
            median,
            min: v.first().copied().unwrap_or(0.0),
            max: v.last().copied().unwrap_or(0.0),
            all,
        }
    }

    /// Where the export's time goes beyond the floor, each part measured alone.
    #[derive(Serialize, Default)]
    struct Breakdown {
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

    /// How many of the member's invoices have a kept PDF.
    async fn kept_pdf_count(h: &Hiatus, member: AccountId) -> Result<u64> {
        let mut tx = h.db.read().await?;
        let n = hiatus_store::invoice_pdfs::hashes_of(&mut tx, member)
            .await?
            .len() as u64;
        tx.commit().await?;
        Ok(n)
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

    /// The member's files through the archive writer as stored entries, into nothing.
    async fn files_store(h: &Hiatus, member: AccountId) -> Result<(f64, u64)> {
        let mut tx = h.db.read().await?;
        let mut w = ArchiveWriter::new(std::io::sink());
        let mut after = String::new();
        let mut secs = 0.0;
        let mut bytes = 0u64;
        loop {
            let page: Vec<ed::FileRecord> = ed::page(&mut tx, member, &after, PAGE, 0).await?;
            let Some(last) = page.last() else { break };
            after = last.id.clone();
            let t = Instant::now();
            for r in &page {
                let f = File::open(on_disk(h, &r.blob_key)?)?;
                bytes += w
                    .add(&format!("files/{}", r.id), "files", Compression::Store, f)?
                    .size;
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

    fn median(v: Vec<f64>) -> f64 {
        spread(v).median
    }

    /// Each part `runs` times, one part after the other; the median of each.
    async fn breakdown(
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
}
