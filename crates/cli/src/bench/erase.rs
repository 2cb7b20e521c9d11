//! `hiatus bench erase`: erasure of a member (`Hiatus::erase_account`, the executor) against
//! a floor, and the latency of other members' writes while it runs.
//!
//! The floor is `scripts/bench-erase-floor.sql`: the same row changes written by hand and run
//! in one transaction (on SQLite followed by the same write-ahead-log checkpoint the executor
//! ends with, so both leave no erased page behind). Erasure destroys its data, so every run
//! gets a fresh copy of a prepared database, made before the clock starts: SQLite copies the
//! file, PostgreSQL creates a database from it as a template (`psql` does that). The prepared
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
use anyhow::{Context, Result, anyhow, bail};
use clap::Args;
use hiatus_domain::preflight::Intent;
use hiatus_domain::{AccountId, ClosureReason};
use hiatus_service::erasure::{CONFIRMATION, DeleteRequest, EraseOptions, EraseOutcome, add_years};
use hiatus_service::{Actor, Hiatus};
use hiatus_store::bulk::GENERATED_PASSWORD;
use hiatus_store::db::Arg;
use hiatus_store::policy::{Action, BATCH};
use hiatus_store::{Backend, erasures};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// The floor: the executor's row changes, by hand, in one transaction.
const FLOOR_SQL: &str = include_str!("../../../../scripts/bench-erase-floor.sql");
/// Who holds the executor's lease in these runs.
const HOLDER: &str = "bench-erase";
/// What redacted history entries hold (the policy's placeholder).
const REDACTED: &str = "{\"redacted\":true}";

/// Options of `bench erase`.
#[derive(Args, Debug)]
pub struct EraseBenchArgs {
    /// The member to erase, e.g. the one `hiatus generate` printed.
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

/// Median, smallest and largest of some runs.
#[derive(Serialize, Clone, Default)]
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

fn median(v: Vec<f64>) -> f64 {
    spread(v).median
}

// ---------------------------------------------------------------------------------------------
// Copies of the prepared database.

/// Where the prepared database is and how to copy it.
enum Source {
    /// The SQLite file, and the folder the copies go to.
    Sqlite { base: PathBuf, dir: PathBuf },
    /// The server (URL without a database), the prepared database, the URL's query string.
    Postgres {
        server: String,
        base: String,
        query: String,
    },
}

impl Source {
    fn of(g: &Global) -> Result<Source> {
        let url = config::database_url(g);
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let (url, query) = match url.split_once('?') {
                Some((u, q)) => (u.to_string(), format!("?{q}")),
                None => (url.clone(), String::new()),
            };
            let (server, base) = url
                .rsplit_once('/')
                .filter(|(s, _)| s.contains("://") && !s.ends_with('/'))
                .ok_or_else(|| anyhow!("the database URL names no database"))?;
            if base.is_empty()
                || !base
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
            {
                bail!("the database name {base:?} is not a plain lower-case name");
            }
            Ok(Source::Postgres {
                server: server.to_string(),
                base: base.to_string(),
                query,
            })
        } else {
            let path = url
                .strip_prefix("sqlite://")
                .or_else(|| url.strip_prefix("sqlite:"))
                .unwrap_or(&url);
            Ok(Source::Sqlite {
                base: PathBuf::from(path),
                dir: g.data_dir.join("erase-bench-copies"),
            })
        }
    }

    /// A fresh copy of the prepared database, as the options to open it with.
    fn copy(&self, g: &Global, n: u32) -> Result<Global> {
        let mut out = g.clone();
        match self {
            Source::Sqlite { base, dir } => {
                let wal = PathBuf::from(format!("{}-wal", base.display()));
                if std::fs::metadata(&wal).is_ok_and(|m| m.len() > 0) {
                    bail!(
                        "{} is not empty: another process has the database open",
                        wal.display()
                    );
                }
                std::fs::create_dir_all(dir)?;
                let path = dir.join(format!("run-{n}.db"));
                remove_sqlite(&path)?;
                std::fs::copy(base, &path)
                    .with_context(|| format!("copying {} to {}", base.display(), path.display()))?;
                // Written out now, so that writeback does not land in the timed run.
                std::fs::File::open(&path)?.sync_all()?;
                out.database_url = Some(format!("sqlite://{}", path.display()));
            }
            Source::Postgres {
                server,
                base,
                query,
            } => {
                let name = format!("{base}_r{n}");
                let admin = format!("{server}/postgres{query}");
                psql(
                    &admin,
                    &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
                )?;
                // FILE_COPY checkpoints before and after the copy: the timed run starts
                // with nothing left to write out. (Before PostgreSQL 15: the default.)
                if psql(
                    &admin,
                    &format!("CREATE DATABASE {name} TEMPLATE {base} STRATEGY FILE_COPY"),
                )
                .is_err()
                {
                    psql(&admin, &format!("CREATE DATABASE {name} TEMPLATE {base}"))?;
                    let _ = psql(&admin, "CHECKPOINT");
                }
                out.database_url = Some(format!("{server}/{name}{query}"));
            }
        }
        Ok(out)
    }

    /// Removes a copy (its pool must be closed).
    fn drop_copy(&self, n: u32) -> Result<()> {
        match self {
            Source::Sqlite { dir, .. } => remove_sqlite(&dir.join(format!("run-{n}.db"))),
            Source::Postgres {
                server,
                base,
                query,
            } => psql(
                &format!("{server}/postgres{query}"),
                &format!("DROP DATABASE IF EXISTS {base}_r{n} WITH (FORCE)"),
            ),
        }
    }

    fn finish(&self) {
        if let Source::Sqlite { dir, .. } = self {
            let _ = std::fs::remove_dir(dir);
        }
    }
}

fn remove_sqlite(path: &Path) -> Result<()> {
    for suffix in ["", "-wal", "-shm"] {
        let p = PathBuf::from(format!("{}{suffix}", path.display()));
        match std::fs::remove_file(&p) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e).with_context(|| format!("removing {}", p.display())),
        }
    }
    Ok(())
}

/// Runs one statement with `psql` (`CREATE DATABASE` cannot run in a transaction, and the
/// store opens one for every statement).
fn psql(url: &str, sql: &str) -> Result<()> {
    let out = std::process::Command::new("psql")
        .arg(url)
        .args(["-qAt", "-v", "ON_ERROR_STOP=1", "-c", sql])
        .env("PGOPTIONS", "--client-min-messages=warning")
        .output()
        .context("running psql, which copies the PostgreSQL database for each run")?;
    if !out.status.success() {
        bail!(
            "psql: {sql}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// The floor script.

/// One statement of the floor, with numbered parameters.
struct Statement {
    /// The statement as written, on one line.
    text: String,
    /// With `$1`, `$2`, … in place of the names.
    sql: String,
    /// The names, in parameter order.
    names: Vec<String>,
}

/// Splits the script into statements (a `;` ends one; `--` lines are comments) and numbers
/// the `:name` placeholders of each.
fn parse_floor(script: &str) -> Result<Vec<Statement>> {
    let body: String = script
        .lines()
        .filter(|l| !l.trim_start().starts_with("--"))
        .collect::<Vec<_>>()
        .join("\n");
    let mut out = Vec::new();
    for raw in body.split(';') {
        let text = raw.split_whitespace().collect::<Vec<_>>().join(" ");
        if text.is_empty() {
            continue;
        }
        let mut sql = String::new();
        let mut names: Vec<String> = Vec::new();
        let mut quoted = false;
        let mut chars = text.chars().peekable();
        while let Some(c) = chars.next() {
            if c == '\'' {
                quoted = !quoted;
            }
            if c == ':' && !quoted && chars.peek().is_some_and(|n| n.is_ascii_lowercase()) {
                let mut name = String::new();
                while let Some(&n) = chars.peek() {
                    if n.is_ascii_lowercase() || n.is_ascii_digit() || n == '_' {
                        name.push(n);
                        chars.next();
                    } else {
                        break;
                    }
                }
                let i = match names.iter().position(|x| *x == name) {
                    Some(i) => i,
                    None => {
                        names.push(name);
                        names.len() - 1
                    }
                };
                sql.push_str(&format!("${}", i + 1));
            } else {
                sql.push(c);
            }
        }
        if quoted {
            bail!("unterminated quote in the floor script: {text}");
        }
        out.push(Statement { text, sql, names });
    }
    if out.is_empty() {
        bail!("the floor script has no statements");
    }
    Ok(out)
}

/// What the floor's placeholders stand for, in one run.
fn floor_values(p: &Prepared, now: i64, rules: usize) -> BTreeMap<&'static str, Arg> {
    let lookup: [u8; 32] = hiatus_store::crypto::random_bytes();
    let m = &p.member_text;
    let mut v: BTreeMap<&'static str, Arg> = BTreeMap::new();
    v.insert("member", m.as_str().into());
    v.insert("pseudonym", p.pseudonym_id.as_str().into());
    v.insert("label", p.label.as_str().into());
    v.insert("lookup", lookup.to_vec().into());
    v.insert("now", now.into());
    v.insert("retained_until", p.retained_until.into());
    v.insert("redacted", REDACTED.into());
    v.insert("member_pattern", format!("%\"account_id\":\"{m}\"%").into());
    v.insert("outbox_id", uuid::Uuid::now_v7().to_string().into());
    v.insert(
        "outbox_payload",
        serde_json::json!({ "account_id": m }).to_string().into(),
    );
    let purge_at = p.first_purge.unwrap_or(now);
    v.insert("job_id", uuid::Uuid::new_v4().to_string().into());
    v.insert(
        "job_payload",
        serde_json::json!({ "pseudonym_id": p.pseudonym_id })
            .to_string()
            .into(),
    );
    v.insert(
        "job_dedupe",
        format!("retention.purge:{}:{purge_at}", p.pseudonym_id).into(),
    );
    v.insert("purge_at", purge_at.into());
    v.insert("audit_id", uuid::Uuid::new_v4().to_string().into());
    v.insert(
        "audit_detail",
        serde_json::json!({ "rows": p.plan_rows })
            .to_string()
            .into(),
    );
    v.insert(
        "receipt",
        serde_json::json!({ "erased_at": now, "summary": [], "retained": [] })
            .to_string()
            .into(),
    );
    v.insert("step", (rules as i64 + 2).into());
    v
}

/// One floor run: the script in one transaction, each statement timed.
struct FloorRun {
    secs: f64,
    /// Per statement: rows changed, seconds.
    statements: Vec<(u64, f64)>,
    commit_secs: f64,
    checkpoint_secs: f64,
}

async fn floor(h: &Hiatus, script: &[Statement], p: &Prepared) -> Result<FloorRun> {
    let values = floor_values(p, h.now(), h.erasure_rules().len());
    let bound: Vec<Vec<Arg>> = script
        .iter()
        .map(|s| {
            s.names
                .iter()
                .map(|n| {
                    values
                        .get(n.as_str())
                        .cloned()
                        .ok_or_else(|| anyhow!("the floor script uses :{n}, which has no value"))
                })
                .collect::<Result<Vec<_>>>()
        })
        .collect::<Result<_>>()?;
    let mut statements = Vec::with_capacity(script.len());
    let start = Instant::now();
    let mut tx = h.db.begin().await?;
    for (s, args) in script.iter().zip(bound) {
        let t = Instant::now();
        let n = tx
            .exec_dyn(&s.sql, args)
            .await
            .with_context(|| format!("floor: {}", s.text))?;
        statements.push((n, t.elapsed().as_secs_f64()));
    }
    let t = Instant::now();
    tx.commit().await?;
    let commit_secs = t.elapsed().as_secs_f64();
    let t = Instant::now();
    if h.db.backend() == Backend::Sqlite && !h.db.checkpoint_wal().await? {
        bail!("floor: the write-ahead log checkpoint did not complete");
    }
    let checkpoint_secs = t.elapsed().as_secs_f64();
    Ok(FloorRun {
        secs: start.elapsed().as_secs_f64(),
        statements,
        commit_secs,
        checkpoint_secs,
    })
}

// ---------------------------------------------------------------------------------------------
// The executor.

fn erase_opts(stop_after: Option<u64>) -> EraseOptions {
    EraseOptions {
        ignore_grace: true,
        stop_after,
    }
}

async fn executor(h: &Hiatus, account: AccountId) -> Result<f64> {
    let t = Instant::now();
    let outcome = h
        .erase_account(account, HOLDER, &erase_opts(None))
        .await
        .map_err(|e| anyhow!("erasing: {e}"))?;
    let secs = t.elapsed().as_secs_f64();
    if outcome != EraseOutcome::Done {
        bail!("the executor ended with {outcome:?}, not Done");
    }
    Ok(secs)
}

/// The executor's time per rule.
#[derive(Serialize, Default)]
struct Breakdown {
    /// `erase_account` stopped after its first transaction (the account made unusable, the
    /// pseudonym account inserted, the retained identity sealed again).
    first_secs: f64,
    rules: Vec<RuleTime>,
    /// `erase_account` resumed after the last rule: the receipt, the purge job, the history
    /// entry, and on SQLite the write-ahead-log checkpoint.
    finish_secs: f64,
    total_secs: f64,
}

#[derive(Serialize)]
struct RuleTime {
    /// What the rows are, as the plan words it.
    noun: String,
    table: String,
    column: String,
    action: Action,
    rows: u64,
    batches: u32,
    secs: f64,
}

/// The executor run in three parts: `erase_account` up to its first commit; each rule batch
/// by batch through the store, exactly as `erase_leased` runs them (lease renewed, blob keys
/// read, batch, checkpoint after the last batch); `erase_account` again, which resumes after
/// the last rule and finishes.
async fn breakdown(h: &Hiatus, account: AccountId, pseudonym: &str) -> Result<Breakdown> {
    let member = account.to_text();
    let mut b = Breakdown::default();
    let all = Instant::now();
    let t = Instant::now();
    let outcome = h
        .erase_account(account, HOLDER, &erase_opts(Some(1)))
        .await
        .map_err(|e| anyhow!("erasing, first step: {e}"))?;
    b.first_secs = t.elapsed().as_secs_f64();
    if outcome != EraseOutcome::Stopped {
        bail!("the first step ended with {outcome:?}, not Stopped");
    }
    for (i, rule) in h.erasure_rules().iter().enumerate() {
        let t = Instant::now();
        let (mut rows, mut batches) = (0u64, 0u32);
        loop {
            let now = h.now();
            let mut tx = h.db.begin().await?;
            let held = tx
                .exec_dyn(
                    "UPDATE erasures SET locked_until = $3 WHERE account_id = $1 AND locked_by = $2 AND status = 'running'",
                    vec![
                        Arg::from(member.as_str()),
                        Arg::from(HOLDER),
                        Arg::from(now + h.config.job_lease),
                    ],
                )
                .await?;
            if held != 1 {
                bail!("lost the erasure's lease");
            }
            for key in erasures::batch_blobs(&mut tx, rule, &member).await? {
                h.blobs.delete(&key).await?;
            }
            let n = erasures::run_batch(&mut tx, rule, &member, Some(pseudonym)).await?;
            rows += n;
            batches += 1;
            let done = n < BATCH as u64;
            if done {
                erasures::checkpoint(&mut tx, account, HOLDER, i as i64 + 2).await?;
            }
            tx.commit().await?;
            if done {
                break;
            }
        }
        b.rules.push(RuleTime {
            noun: rule.rule.noun.clone(),
            table: rule.rule.table.clone(),
            column: rule
                .rule
                .member
                .clone()
                .or_else(|| {
                    rule.rule
                        .member_json
                        .as_ref()
                        .map(|j| format!("{}.{}", j.column, j.field))
                })
                .unwrap_or_default(),
            action: rule.rule.action,
            rows,
            batches,
            secs: t.elapsed().as_secs_f64(),
        });
    }
    let t = Instant::now();
    let outcome = h
        .erase_account(account, HOLDER, &erase_opts(None))
        .await
        .map_err(|e| anyhow!("erasing, last step: {e}"))?;
    b.finish_secs = t.elapsed().as_secs_f64();
    if outcome != EraseOutcome::Done {
        bail!("the last step ended with {outcome:?}, not Done");
    }
    b.total_secs = all.elapsed().as_secs_f64();
    Ok(b)
}

// ---------------------------------------------------------------------------------------------
// Other members writing meanwhile.

/// One write: when it started (seconds from the writer's start), how long it took, whether
/// it succeeded.
type Sample = (f64, f64, bool);

/// Changes the phone number of one member after the other until told to stop.
async fn write_loop(
    h: Arc<Hiatus>,
    actors: Vec<Actor>,
    gap: Duration,
    stop: Arc<AtomicBool>,
    origin: Instant,
) -> Vec<Sample> {
    let mut out = Vec::new();
    let mut i = 0usize;
    while !stop.load(Ordering::Relaxed) {
        let a = &actors[i % actors.len()];
        let phone = format!("+1 555 {:04} {:03}", i % 10_000, i % 1000);
        let t = Instant::now();
        let ok = h.set_phone(a, Some(phone)).await.is_ok();
        out.push((
            t.duration_since(origin).as_secs_f64(),
            t.elapsed().as_secs_f64() * 1000.0,
            ok,
        ));
        i += 1;
        if !gap.is_zero() {
            tokio::time::sleep(gap).await;
        }
    }
    out
}

#[derive(Serialize, Default)]
struct Latency {
    count: usize,
    errors: usize,
    per_second: f64,
    p50_ms: f64,
    p99_ms: f64,
    max_ms: f64,
    mean_ms: f64,
}

fn latency(samples: &[&Sample], secs: f64) -> Latency {
    let mut ms: Vec<f64> = samples.iter().map(|s| s.1).collect();
    ms.sort_by(f64::total_cmp);
    let pct = |q: f64| {
        if ms.is_empty() {
            0.0
        } else {
            ms[((ms.len() - 1) as f64 * q).round() as usize]
        }
    };
    Latency {
        count: ms.len(),
        errors: samples.iter().filter(|s| !s.2).count(),
        per_second: ms.len() as f64 / secs.max(1e-9),
        p50_ms: pct(0.50),
        p99_ms: pct(0.99),
        max_ms: ms.last().copied().unwrap_or(0.0),
        mean_ms: if ms.is_empty() {
            0.0
        } else {
            ms.iter().sum::<f64>() / ms.len() as f64
        },
    }
}

#[derive(Serialize, Default)]
struct Load {
    writers: usize,
    write_gap_ms: u64,
    /// The executor's time with the writes going on.
    erase_secs: f64,
    /// Writes that started while the executor ran.
    during: Latency,
    /// Writes in the baseline window before it started (the first 10 % left out).
    before: Latency,
}

/// The email of background member `i` next to a generated member's email
/// (`member0.seed1@…` → `bg{i}.seed1@…`).
fn background_email(member: &str, i: u32) -> Option<String> {
    let (local, domain) = member.split_once('@')?;
    let (_, seed) = local.split_once('.')?;
    seed.starts_with("seed")
        .then(|| format!("bg{i}.{seed}@{domain}"))
}

async fn under_load(
    h: Arc<Hiatus>,
    a: &EraseBenchArgs,
    account: AccountId,
    password: &str,
) -> Result<Load> {
    let mut actors = Vec::new();
    for i in 0..a.writers.max(1) * 2 {
        if actors.len() >= a.writers.max(1) as usize {
            break;
        }
        let email = background_email(&a.email, i).ok_or_else(|| {
            anyhow!(
                "{} is not a generated member's email (member<k>.seed<s>@…): pass --no-load",
                a.email
            )
        })?;
        let Ok(login) = h.login(&email, password).await else {
            continue;
        };
        let actor = h
            .authenticate(&login.token)
            .await
            .map_err(|e| anyhow!("{e}"))?;
        // Deactivated members cannot edit; try one write first.
        if h.set_phone(&actor, Some("+1 555 0000".into()))
            .await
            .is_ok()
        {
            actors.push(actor);
        }
    }
    if actors.is_empty() {
        bail!("no background member could log in and write");
    }
    let writers = actors.len();
    let stop = Arc::new(AtomicBool::new(false));
    let origin = Instant::now();
    let task = tokio::spawn(write_loop(
        h.clone(),
        actors,
        Duration::from_millis(a.write_gap_ms),
        stop.clone(),
        origin,
    ));
    tokio::time::sleep(Duration::from_millis(a.baseline_ms)).await;
    let start = origin.elapsed().as_secs_f64();
    let erased = executor(&h, account).await;
    let end = origin.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    let samples = task.await.context("the writer task")?;
    let erase_secs = erased?;
    let warm = start * 0.1;
    let before: Vec<&Sample> = samples
        .iter()
        .filter(|s| s.0 >= warm && s.0 < start)
        .collect();
    let during: Vec<&Sample> = samples
        .iter()
        .filter(|s| s.0 >= start && s.0 <= end)
        .collect();
    Ok(Load {
        writers,
        write_gap_ms: a.write_gap_ms,
        erase_secs,
        during: latency(&during, end - start),
        before: latency(&before, start - warm),
    })
}

// ---------------------------------------------------------------------------------------------
// The end state.

/// Row counts after a run: every table; every member column of the rules, for the member's
/// and for the pseudonym's id; redacted history entries; the tombstone.
async fn snapshot(h: &Hiatus, member: &str, pseudonym: &str) -> Result<BTreeMap<String, i64>> {
    let policy = h.config.policy.clone();
    let mut out = BTreeMap::new();
    let mut tx = h.db.read().await?;
    for t in policy.tables.keys() {
        let n: i64 = tx
            .scalar_dyn(&format!("SELECT COUNT(*) FROM {t}"), vec![])
            .await?;
        out.insert(format!("{t}: rows"), n);
    }
    let cols: BTreeSet<(String, String)> = policy
        .rules
        .iter()
        .filter_map(|r| r.member.clone().map(|c| (r.table.clone(), c)))
        .collect();
    for (t, c) in cols {
        for (who, id) in [("member", member), ("pseudonym", pseudonym)] {
            let n: i64 = tx
                .scalar_dyn(
                    &format!("SELECT COUNT(*) FROM {t} WHERE {c} = $1"),
                    vec![Arg::from(id)],
                )
                .await?;
            out.insert(format!("{t}.{c} = {who}"), n);
        }
    }
    let checks: [(&str, &str, Vec<Arg>); 4] = [
        (
            "audit_events: redacted",
            "SELECT COUNT(*) FROM audit_events WHERE detail = $1",
            vec![REDACTED.into()],
        ),
        (
            "jobs: naming the member",
            "SELECT COUNT(*) FROM jobs WHERE payload LIKE $1",
            vec![format!("%\"account_id\":\"{member}\"%").into()],
        ),
        (
            "accounts: the tombstone, cleared",
            "SELECT COUNT(*) FROM accounts WHERE id = $1 AND state = 'deleted' AND email_enc IS NULL \
             AND legal_name_enc IS NULL AND data_key_wrapped IS NULL AND password_hash IS NULL",
            vec![member.into()],
        ),
        (
            "erasures: done, unlinked",
            "SELECT COUNT(*) FROM erasures WHERE account_id = $1 AND status = 'done' AND pseudonym_id IS NULL",
            vec![member.into()],
        ),
    ];
    for (key, sql, args) in checks {
        out.insert(key.to_string(), tx.scalar_dyn::<i64>(sql, args).await?);
    }
    tx.commit().await?;
    Ok(out)
}

/// The keys whose counts differ, with both counts.
fn differences(a: &BTreeMap<String, i64>, b: &BTreeMap<String, i64>) -> Vec<String> {
    a.keys()
        .chain(b.keys())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .filter(|k| a.get(*k) != b.get(*k))
        .map(|k| format!("{k}: floor {:?}, executor {:?}", a.get(k), b.get(k)))
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Preparing the database every copy is made from.

/// What the runs need to know about the prepared member.
struct Prepared {
    account: AccountId,
    member_text: String,
    pseudonym_id: String,
    label: String,
    retained_until: Option<i64>,
    first_purge: Option<i64>,
    /// Per rule: table, member column, action, rows it matches.
    plan: Vec<(String, String, Action, i64)>,
    plan_rows: i64,
    /// What blocked the deletion and was settled by direct SQL.
    resolved: Vec<String>,
    db_bytes: i64,
}

/// Settles what blocks the member's deletion, directly in the database.
const SETTLE: [&str; 6] = [
    "UPDATE contracts SET status = 'ended', ended_at = COALESCE(ended_at, $2) \
     WHERE (freelancer_id = $1 OR client_id = $1) AND status <> 'ended'",
    "UPDATE payments SET status = 'released', updated_at = $2 \
     WHERE (payer_id = $1 OR payee_id = $1) AND status IN ('in_escrow', 'pending_release')",
    "UPDATE payouts SET status = 'settled', settles_at = $2 WHERE account_id = $1 AND status = 'scheduled'",
    "UPDATE balances SET available_minor = 0, debt_minor = 0, updated_at = $2 WHERE account_id = $1",
    "UPDATE invoices SET status = 'paid', paid_at = $2 WHERE recipient_id = $1 AND status = 'unpaid'",
    "UPDATE disputes SET status = 'resolved', resolved_at = $2 WHERE status = 'open' AND contract_id IN \
     (SELECT id FROM contracts WHERE freelancer_id = $1 OR client_id = $1)",
];

/// Schedules the member's deletion on the prepared database (once: a database prepared by an
/// earlier run is used as it is) and gathers what the runs need.
async fn prepare(g: &Global, a: &EraseBenchArgs) -> Result<Prepared> {
    let h = config::hiatus(g).await?;
    let account = h
        .find_account(&a.email)
        .await
        .map_err(|e| anyhow!("finding {}: {e}", a.email))?;
    let member_text = account.to_text();
    let mut tx = h.db.read().await?;
    let row = erasures::get(&mut tx, account).await?;
    tx.commit().await?;
    let mut resolved = Vec::new();
    match row.as_ref().map(|r| r.status.as_str()) {
        Some("scheduled") => {}
        Some(s) => bail!("the member's erasure is {s} on this database: generate it again"),
        None => {
            let login = h
                .login(&a.email, &a.password)
                .await
                .map_err(|e| anyhow!("logging in: {e}"))?;
            let actor = h
                .authenticate(&login.token)
                .await
                .map_err(|e| anyhow!("{e}"))?;
            let pre = h
                .preflight(&actor, Intent::Delete, None)
                .await
                .map_err(|e| anyhow!("preflight: {e}"))?;
            if !pre.blockers.is_empty() {
                resolved = pre
                    .blockers
                    .iter()
                    .map(|f| format!("{:?} ({})", f.code, f.records.len()))
                    .collect();
                let mut tx = h.db.begin().await?;
                for sql in SETTLE {
                    tx.exec_dyn(sql, vec![Arg::from(member_text.as_str()), h.now().into()])
                        .await
                        .with_context(|| format!("settling: {sql}"))?;
                }
                tx.commit().await?;
            }
            h.schedule_deletion(
                &actor,
                DeleteRequest {
                    password: Some(a.password.clone()),
                    reason: ClosureReason::TakingABreak,
                    detail: Some("erasure benchmark".into()),
                    confirmation: CONFIRMATION.into(),
                },
            )
            .await
            .map_err(|e| anyhow!("scheduling the deletion: {e}"))?;
        }
    }
    let mut tx = h.db.read().await?;
    let row = erasures::get(&mut tx, account)
        .await?
        .context("no erasure row after scheduling")?;
    let mut plan = Vec::new();
    let mut retained_until: Option<i64> = None;
    let mut first_purge: Option<i64> = None;
    for rule in h.erasure_rules() {
        let (n, latest) = erasures::count(&mut tx, rule, &member_text).await?;
        if let (Some(r), Some(latest)) = (&rule.retention, latest)
            && n > 0
        {
            let until = add_years(latest, r.years);
            if r.identity {
                retained_until = retained_until.max(Some(until));
            }
        }
        if let (Some(r), Some(sql)) = (&rule.retention, &rule.next_purge_sql) {
            let sql = sql.clone();
            if let Some(start) = tx
                .scalar_dyn::<Option<i64>>(&sql, vec![Arg::from(member_text.as_str())])
                .await?
            {
                let at = add_years(start, r.years);
                first_purge = Some(first_purge.map_or(at, |f: i64| f.min(at)));
            }
        }
        let column = rule
            .rule
            .member
            .clone()
            .or_else(|| rule.rule.member_json.as_ref().map(|j| j.column.clone()))
            .unwrap_or_default();
        plan.push((rule.rule.table.clone(), column, rule.rule.action, n));
    }
    let db_bytes = match h.db.backend() {
        Backend::Postgres => {
            tx.scalar_dyn::<i64>("SELECT pg_database_size(current_database())", vec![])
                .await?
        }
        Backend::Sqlite => 0,
    };
    tx.commit().await?;
    if h.db.backend() == Backend::Sqlite && !h.db.checkpoint_wal().await? {
        bail!("the write-ahead log of the prepared database stayed busy");
    }
    h.db.close().await;
    let db_bytes = match Source::of(g)? {
        Source::Sqlite { base, .. } => std::fs::metadata(&base)?.len() as i64,
        _ => db_bytes,
    };
    // Each retain rule counts its rows once in the plan; redaction rules match rows that
    // retain rules then pseudonymize, so the sum is of rows matched per rule.
    let plan_rows = plan.iter().map(|p| p.3).sum();
    Ok(Prepared {
        account,
        member_text,
        pseudonym_id: row
            .pseudonym_id
            .context("the erasure row has no pseudonym id")?,
        label: row.pseudonym.context("the erasure row has no pseudonym")?,
        retained_until,
        first_purge,
        plan,
        plan_rows,
        resolved,
        db_bytes,
    })
}

// ---------------------------------------------------------------------------------------------

pub async fn run(g: &Global, a: EraseBenchArgs) -> Result<()> {
    if a.runs == 0 {
        bail!("--runs must be at least 1");
    }
    let script = parse_floor(FLOOR_SQL)?;
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
                let cg = src.copy(g, copies)?;
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
                src.drop_copy(copies)?;
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
            let cg = src.copy(g, copies)?;
            let h = config::hiatus(&cg).await?;
            let b = breakdown(&h, p.account, &p.pseudonym_id).await?;
            let snap = snapshot(&h, &p.member_text, &p.pseudonym_id).await?;
            h.db.close().await;
            src.drop_copy(copies)?;
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
            let cg = src.copy(g, copies)?;
            let h = Arc::new(config::hiatus(&cg).await?);
            let l = under_load(h.clone(), &a, p.account, &a.password).await;
            h.db.close().await;
            src.drop_copy(copies)?;
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
        let _ = src.drop_copy(copies);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_floor_script_parses_and_numbers_its_placeholders() {
        let s = parse_floor(FLOOR_SQL).unwrap();
        assert!(s.len() > 30, "{}", s.len());
        let msgs = s
            .iter()
            .find(|s| s.text.starts_with("UPDATE messages"))
            .unwrap();
        assert_eq!(
            msgs.sql,
            "UPDATE messages SET author_id = $1 WHERE author_id = $2"
        );
        assert_eq!(msgs.names, ["pseudonym", "member"]);
        assert!(
            s.iter().all(|s| !s.sql.contains(':')),
            "every name replaced"
        );
    }

    #[test]
    fn background_emails_follow_the_member_seed() {
        assert_eq!(
            background_email("member0.seed1@generated.hiatus.test", 7).as_deref(),
            Some("bg7.seed1@generated.hiatus.test")
        );
        assert_eq!(background_email("someone@example.com", 1), None);
    }
}
