//! `hiatus`: the account lifecycle of a freelance marketplace.

mod bench;
mod config;
mod demo;
mod erase;
mod export;
mod run;
mod verify;

use anyhow::Result;
use clap::{Parser, Subcommand};
use config::Global;

/// Take a break, deactivate, download your data, delete for good, come back — without anyone
/// losing data they are entitled to keep.
#[derive(Parser, Debug)]
#[command(name = "hiatus", version, about, long_about = None, propagate_version = true)]
#[command(
    after_help = "Start with `hiatus demo`: it creates ./hiatus-data, loads a demo marketplace and prints a URL and logins."
)]
struct Cli {
    #[command(flatten)]
    global: Global,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the demo: a data folder with embedded SQLite, demo data, the server and a worker.
    Demo(demo::DemoArgs),
    /// Run the HTTP server (with an embedded worker unless --no-worker).
    Serve(run::ServeArgs),
    /// Run a background worker that processes jobs (break ends, payouts, …).
    Worker(run::WorkerArgs),
    /// Apply pending database migrations and exit.
    Migrate,
    /// Load deterministic synthetic data at scale (for benchmarks).
    Generate(run::GenerateArgs),
    /// Time preflight and deactivate/reactivate round trips on generated data (for
    /// scripts/bench; not part of the product).
    #[command(hide = true)]
    Bench(bench::BenchArgs),
    /// Build a member's export archive now and write it to a file (operator use).
    Export(export::ExportArgs),
    /// Check an export archive offline: structure, every hash, the signature, nothing
    /// unlisted or missing, the counts. Exits non-zero on any problem.
    Verify(verify::VerifyArgs),
    /// Erase a member for good: `--dry-run` shows the plan; without it a scheduled erasure
    /// runs now (`--now` skips the rest of the grace period); `verify` checks that nothing
    /// of an erased account is left.
    Erase(erase::EraseArgs),
    /// Operator tasks: staff accounts, queue health, account counts.
    Admin {
        #[command(subcommand)]
        command: run::AdminCommand,
    },
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    config::init_logging(&cli.global);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        match cli.command {
            Command::Demo(a) => demo::run(&cli.global, a).await,
            Command::Serve(a) => run::serve(&cli.global, a).await,
            Command::Worker(a) => run::worker(&cli.global, a).await,
            Command::Migrate => run::migrate(&cli.global).await,
            Command::Generate(a) => run::generate(&cli.global, a).await,
            Command::Bench(a) => bench::run(&cli.global, a).await,
            Command::Admin { command } => run::admin(&cli.global, command).await,
            Command::Export(a) => export::run(&cli.global, a).await,
            Command::Erase(a) => erase::run(&cli.global, a).await,
            // Offline: no database, no key file.
            Command::Verify(a) => verify::run(a),
        }
    })
}
