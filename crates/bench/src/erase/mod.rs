//! `hiatus-bench erase`: erasure of a member (`Hiatus::erase_account`, the executor) against
//! a floor, and the latency of other members' writes while it runs.
//!
//! The floor is `scripts/bench-erase-floor.sql`: the same row changes written by hand and run
//! in one transaction (on SQLite followed by the same write-ahead-log checkpoint the executor
//! ends with, so both leave no erased page behind). Erasure destroys its data, so every run
//! gets a fresh copy of a prepared database, made before the clock starts: SQLite copies the
//! file, PostgreSQL creates a database from it as a template. The prepared
//! database is the generated one with the member's deletion scheduled (and, if anything blocked
//! it, those records settled by direct SQL), so floor and executor start from the same rows.
//!
//! One untimed run of each first, then floor and executor alternate. After every run the rows
//! are counted (every table; every member column holding the member's or the pseudonym's id;
//! redacted history entries): every run must end where the first floor ended, or the
//! benchmark fails. Then, on two more copies: the executor's time per policy rule (its first
//! transaction and its last are `erase_account` itself; the rules run through the same store
//! calls, batch by batch, as the executor makes them), and one executor run while a
//! background task changes other members' phone numbers one after the other through the
//! service, each write's latency recorded.

use crate::config::{self, Global};
use crate::spread::{Spread, median, spread};
use anyhow::{Result, bail};
use clap::Args;
use hiatus_store::bench_support::{ERASE_FLOOR, parse_floor};
use hiatus_store::bulk::GENERATED_PASSWORD;
use hiatus_store::policy::BATCH;
use std::collections::BTreeMap;
use std::sync::Arc;

mod copies;
mod executor;
mod floor;
mod load;
mod prepare;

use copies::Source;
use executor::{breakdown, executor};
use floor::{FloorRun, floor};
use load::under_load;
use prepare::{differences, prepare, snapshot};

/// Who holds the executor's lease in these runs.
const HOLDER: &str = "bench-erase";

/// Options of `erase`.
#[derive(Args, Debug)]
pub struct EraseBenchArgs {
    /// The member to erase, e.g. the one `hiatus-bench generate` printed.
    #[arg(long)]
    pub email: String,
    /// Their password (to schedule the deletion once, before any copy is made).
    #[arg(long, default_value = GENERATED_PASSWORD)]
    pub password: String,
    /// Timed runs of each (after one untimed run of each).
    #[arg(long, default_value_t = 5)]
    pub runs: u32,
    /// Skip the executor's time per policy rule.
    #[arg(long)]
    pub no_breakdown: bool,
    /// Skip the run with other members writing.
    #[arg(long)]
    pub no_load: bool,
    /// Background members who write during the run under load (`bg0`, `bg1`, … of the
    /// member's seed; deactivated ones are skipped).
    #[arg(long, default_value_t = 50)]
    pub writers: u32,
    /// Pause between one write and the next, in milliseconds.
    #[arg(long, default_value_t = 5)]
    pub write_gap_ms: u64,
    /// How long the writer runs before the erasure starts (its latencies without erasure).
    #[arg(long, default_value_t = 2000)]
    pub baseline_ms: u64,
    /// Print the results as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

pub async fn run(g: &Global, a: EraseBenchArgs) -> Result<()> {
    if a.runs == 0 {
        bail!("--runs must be at least 1");
    }
    let script = parse_floor(ERASE_FLOOR)?;
    let say = |m: String| {
        if !a.json {
            eprintln!("{m}");
        }
    };
    let src = Source::of(g)?;
    let p = prepare(g, &a).await?;
    let backend = match src {
        Source::Sqlite { .. } => "sqlite",
        Source::Postgres { .. } => "postgres",
    };
    if !p.resolved.is_empty() {
        say(format!(
            "settled by direct SQL before copying: {}",
            p.resolved.join(", ")
        ));
    }

    let mut copies = 0u32;
    let result = async {
        let mut reference: Option<BTreeMap<String, i64>> = None;
        let mut floors: Vec<FloorRun> = Vec::new();
        let mut execs: Vec<f64> = Vec::new();
        // Untimed warm-up (index 0), then the timed runs, floor first.
        for i in 0..=a.runs {
            for is_floor in [true, false] {
                copies += 1;
                let cg = src.copy(g, copies).await?;
                let h = config::hiatus(&cg).await?;
                let (what, secs) = if is_floor {
                    let f = floor(&h, &script, &p).await?;
                    let secs = f.secs;
                    if i > 0 {
                        floors.push(f);
                    }
                    ("floor", secs)
                } else {
                    let secs = executor(&h, p.account).await?;
                    if i > 0 {
                        execs.push(secs);
                    }
                    ("executor", secs)
                };
                let snap = snapshot(&h, &p.member_text, &p.pseudonym_id).await?;
                h.db.close().await;
                src.drop_copy(copies).await?;
                match &reference {
                    None => reference = Some(snap),
                    Some(r) => {
                        let d = differences(r, &snap);
                        if !d.is_empty() {
                            bail!(
                                "the {what} ended with other rows than the first floor run:\n  {}",
                                d.join("\n  ")
                            );
                        }
                    }
                }
                if i == 0 {
                    say(format!("warm-up: {what} {secs:.2} s"));
                } else {
                    say(format!("run {i} of {}: {what} {secs:.2} s", a.runs));
                }
            }
        }
        let reference = reference.expect("at least one run");

        let b = if a.no_breakdown {
            None
        } else {
            copies += 1;
            let cg = src.copy(g, copies).await?;
            let h = config::hiatus(&cg).await?;
            let b = breakdown(&h, p.account, &p.pseudonym_id).await?;
            let snap = snapshot(&h, &p.member_text, &p.pseudonym_id).await?;
            h.db.close().await;
            src.drop_copy(copies).await?;
            let d = differences(&reference, &snap);
            if !d.is_empty() {
                bail!(
                    "the executor run rule by rule ended with other rows than the floor:\n  {}",
                    d.join("\n  ")
                );
            }
            say(format!(
                "executor rule by rule: {:.2} s (first step {:.2} s, finish {:.2} s)",
                b.total_secs, b.first_secs, b.finish_secs
            ));
            Some(b)
        };

        let load = if a.no_load {
            None
        } else {
            copies += 1;
            let cg = src.copy(g, copies).await?;
            let h = Arc::new(config::hiatus(&cg).await?);
            let l = under_load(h.clone(), &a, p.account, &a.password).await;
            h.db.close().await;
            src.drop_copy(copies).await?;
            let l = l?;
            say(format!(
                "under load: executor {:.2} s; {} writes meanwhile, p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
                l.erase_secs, l.during.count, l.during.p50_ms, l.during.p99_ms, l.during.max_ms
            ));
            Some(l)
        };
        Ok::<_, anyhow::Error>((reference, floors, execs, b, load))
    }
    .await;
    if result.is_err() {
        let _ = src.drop_copy(copies).await;
    }
    src.finish();
    let (reference, floors, execs, b, load) = result?;

    let floor_secs = spread(floors.iter().map(|f| f.secs).collect());
    let exec_secs = spread(execs.clone());
    let ratio = exec_secs.median / floor_secs.median.max(1e-9);
    let statements: Vec<serde_json::Value> = script
        .iter()
        .enumerate()
        .map(|(i, s)| {
            serde_json::json!({
                "sql": s.text,
                "rows": floors.first().map(|f| f.statements[i].0).unwrap_or(0),
                "seconds": median(floors.iter().map(|f| f.statements[i].1).collect()),
            })
        })
        .collect();
    let plan: Vec<serde_json::Value> = p
        .plan
        .iter()
        .map(
            |(t, c, act, n)| serde_json::json!({"table": t, "column": c, "action": act, "rows": n}),
        )
        .collect();
    let tables: BTreeMap<&str, i64> = reference
        .iter()
        .filter_map(|(k, v)| k.strip_suffix(": rows").map(|t| (t, *v)))
        .collect();
    let runs_compared = 2 * (a.runs + 1) + u32::from(b.is_some());
    if a.json {
        let out = serde_json::json!({
            "backend": backend,
            "member": a.email,
            "runs": a.runs,
            "batch": BATCH,
            "database_bytes": p.db_bytes,
            "settled_before": p.resolved,
            "plan": plan,
            "plan_rows": p.plan_rows,
            "floor": {
                "seconds": floor_secs,
                "commit_seconds": median(floors.iter().map(|f| f.commit_secs).collect()),
                "checkpoint_seconds": median(floors.iter().map(|f| f.checkpoint_secs).collect()),
                "statements": statements,
            },
            "executor": { "seconds": exec_secs },
            "ratio": ratio,
            "check": {
                "equal": true,
                "compared": reference.len(),
                "runs_compared": runs_compared,
                "tables_after": tables,
            },
            "breakdown": b,
            "load": load,
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        let s = |x: &Spread| format!("{:.2} s ({:.2}–{:.2})", x.median, x.min, x.max);
        println!(
            "erase ({backend}, {} runs): floor {}, executor {}, ratio {:.2}",
            a.runs,
            s(&floor_secs),
            s(&exec_secs),
            ratio
        );
        println!(
            "check: floor and executor ended with the same {} counts in every run",
            reference.len()
        );
        println!("rows the rules match: {}", p.plan_rows);
        if let Some(b) = &b {
            println!(
                "executor rule by rule: first step {:.3} s, finish {:.3} s",
                b.first_secs, b.finish_secs
            );
            for r in &b.rules {
                println!(
                    "  {:>8.3} s  {:>7} rows {:>4} batches  {:?} {}.{}",
                    r.secs, r.rows, r.batches, r.action, r.table, r.column
                );
            }
        }
        if let Some(l) = &load {
            println!(
                "under load ({} writers, {} ms apart): executor {:.2} s; writes during: {} (p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms, {} errors); before: p50 {:.1} ms, p99 {:.1} ms",
                l.writers,
                l.write_gap_ms,
                l.erase_secs,
                l.during.count,
                l.during.p50_ms,
                l.during.p99_ms,
                l.during.max_ms,
                l.during.errors,
                l.before.p50_ms,
                l.before.p99_ms
            );
        }
    }
    Ok(())
}
