//! `hiatus-bench generate`: loads deterministic synthetic data at scale (`hiatus_store::bulk`)
//! into a data folder, for benchmarks and load tests. Every generated member has the same
//! published password, so this command is not part of the `hiatus` binary: it must never be
//! one mistyped database URL away from a production database.

use crate::config::{self, Global};
use anyhow::{Context, Result};
use clap::{Args, ValueEnum};
use hiatus_service::{Clock, PasswordParams, SystemClock, password};
use hiatus_store::Backend;
use hiatus_store::bulk::{self, Plan, Progress, Shape, Summary};
use indicatif::{MultiProgress, ProgressBar, ProgressState, ProgressStyle};

/// Size profiles of `generate`.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum SizeProfile {
    /// A typical member: 40 contracts, 2,000 messages, 100 files (about 50 MiB).
    M,
    /// A heavy member over ten years: 2,000 contracts, 200,000 messages, 5,000 files (about 1 GiB).
    L,
}

/// Options of `generate`.
#[derive(Args, Debug)]
pub struct GenerateArgs {
    /// The profile of the member(s) to generate.
    #[arg(long, value_enum, default_value = "m")]
    pub profile: SizeProfile,
    /// How many members of the profile. The first has nothing blocking deactivation; the
    /// others have live contracts, money in escrow and a balance.
    #[arg(long, default_value_t = 1)]
    pub members: u32,
    /// Background accounts around them, each with a profile, one contract for every two.
    #[arg(long, default_value_t = 1000)]
    pub accounts: u64,
    /// Seed: the same seed gives the same data.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Skip writing file bytes, for database benchmarks: the files rows are still written,
    /// pointing at blobs that do not exist.
    #[arg(long)]
    pub no_files: bool,
    /// Print a JSON summary on stdout.
    #[arg(long)]
    pub json: bool,
}

pub async fn run(g: &Global, args: GenerateArgs) -> Result<()> {
    let keys = config::keyring(g)?;
    // One connection: the load's SQLite tuning is per connection (see `hiatus_store::bulk`).
    let db = config::open_db(g, 1).await?;
    let blobs = if args.no_files {
        None
    } else {
        Some(config::blobs(g)?)
    };
    let params = if g.insecure_fast_passwords {
        PasswordParams::FAST
    } else {
        PasswordParams::DEFAULT
    };
    let password_hash =
        tokio::task::spawn_blocking(move || password::hash(bulk::GENERATED_PASSWORD, params))
            .await?;
    let shape = match args.profile {
        SizeProfile::M => Shape::M,
        SizeProfile::L => Shape::L,
    };
    let plan = Plan {
        seed: args.seed,
        shape,
        members: args.members,
        background: args.accounts,
        files: !args.no_files,
        now: SystemClock.now(),
        password_hash,
    };
    let bars = LoadBars::new();
    let summary = bulk::load(&db, &keys, blobs.as_ref(), &plan, &bars)
        .await
        .context("generating data")?;
    bars.finish();
    let backend = db.backend();
    db.close().await;
    print_summary(&args, backend, &summary)
}

/// Progress bars on stderr; indicatif hides them when stderr is not a terminal.
struct LoadBars {
    multi: MultiProgress,
    rows: ProgressBar,
    bytes: ProgressBar,
}

impl LoadBars {
    fn new() -> Self {
        let multi = MultiProgress::new();
        let rows = multi.add(
            ProgressBar::new(0).with_style(
                ProgressStyle::with_template(
                    "{msg:>19} [{bar:32}] {human_pos}/{human_len} rows, {rate} rows/s, {eta} left",
                )
                .expect("valid template")
                .with_key("rate", |s: &ProgressState, w: &mut dyn std::fmt::Write| {
                    let _ = w.write_str(&thousands(s.per_sec() as u64));
                })
                .progress_chars("=> "),
            ),
        );
        let bytes = ProgressBar::new(0).with_style(
            ProgressStyle::with_template(
                "{msg:>19} [{bar:32}] {bytes}/{total_bytes}, {bytes_per_sec}",
            )
            .expect("valid template")
            .progress_chars("=> "),
        );
        Self { multi, rows, bytes }
    }

    fn finish(&self) {
        self.rows.finish_and_clear();
        self.bytes.finish_and_clear();
    }
}

impl Progress for LoadBars {
    fn start(&self, rows: u64, file_bytes: u64) {
        self.rows.set_length(rows);
        if file_bytes > 0 {
            let b = self.multi.add(self.bytes.clone());
            b.set_length(file_bytes);
            b.set_message("file bytes");
        }
    }
    fn rows(&self, table: &'static str, n: u64) {
        self.rows.set_message(table);
        self.rows.inc(n);
    }
    fn file_bytes(&self, n: u64) {
        self.bytes.inc(n);
    }
}

fn print_summary(args: &GenerateArgs, backend: Backend, s: &Summary) -> Result<()> {
    let backend = match backend {
        Backend::Sqlite => "sqlite",
        Backend::Postgres => "postgres",
    };
    let profile = match args.profile {
        SizeProfile::M => "m",
        SizeProfile::L => "l",
    };
    let login = s.members.first();
    if args.json {
        let tables: serde_json::Map<String, serde_json::Value> = s
            .tables
            .iter()
            .map(|(t, n)| (t.to_string(), (*n).into()))
            .collect();
        let out = serde_json::json!({
            "backend": backend,
            "seed": args.seed,
            "profile": profile,
            "members": s.members,
            "accounts": args.accounts,
            "rows": s.rows,
            "seconds": s.seconds,
            "rows_per_second": s.rows_per_second(),
            "tables": tables,
            "files_written": s.files_written,
            "file_bytes": s.file_bytes,
            "login": login.map(|m| serde_json::json!({
                "account_id": m.id,
                "email": m.email,
                "password": bulk::GENERATED_PASSWORD,
            })),
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(());
    }
    println!(
        "Generated {} rows in {:.2} s ({} rows/s) on {backend}, seed {}.",
        thousands(s.rows),
        s.seconds,
        thousands(s.rows_per_second() as u64),
        args.seed
    );
    for (t, n) in &s.tables {
        println!("  {t:<20} {:>12}", thousands(*n));
    }
    if s.files_written > 0 {
        println!(
            "  {} files, {:.1} MiB in the blob store",
            thousands(s.files_written),
            s.file_bytes as f64 / (1024.0 * 1024.0)
        );
    }
    if let Some(m) = login {
        println!(
            "\nLog in as the generated member (profile {}, {}):",
            profile.to_uppercase(),
            if m.free_to_leave {
                "nothing blocks deactivation"
            } else {
                "blocked by open contracts"
            }
        );
        println!("  email:    {}", m.email);
        println!("  password: {}", bulk::GENERATED_PASSWORD);
    }
    Ok(())
}

/// 1234567 as "1,234,567".
fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}
