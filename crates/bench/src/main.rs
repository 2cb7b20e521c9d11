//! `hiatus-bench`: load tests and benchmarks of hiatus, driven by `scripts/bench`. It loads
//! synthetic data (`generate`) and times the service layer on it. It takes the same options
//! as `hiatus` (data folder, database URL, master key, …) and opens a data folder the same
//! way, but it is a separate binary: the generator writes accounts with a published password,
//! and none of this belongs in the production binary.

#![forbid(unsafe_code)]

mod erase;
mod export;
mod generate;
mod keys;
mod preflight;
mod scale;
mod spread;

use anyhow::Result;
use clap::{Parser, Subcommand};
use hiatus::config::{self, Global};

/// Load tests and benchmarks of hiatus (not part of the product).
#[derive(Parser, Debug)]
#[command(name = "hiatus-bench", version, about, long_about = None, propagate_version = true)]
struct Cli {
    #[command(flatten)]
    global: Global,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Load deterministic synthetic data at scale. Every generated member's password is the
    /// published `hiatus-generated-password`: never point this at a production database.
    Generate(generate::GenerateArgs),
    /// Time preflight and deactivate + reactivate round trips of a generated member.
    Preflight(preflight::PreflightBenchArgs),
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

fn main() -> Result<()> {
    hiatus::private_files();
    let cli = Cli::parse();
    config::init_logging(&cli.global);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let g = cli.global;
    rt.block_on(async move {
        match cli.command {
            Command::Generate(a) => generate::run(&g, a).await,
            Command::Preflight(a) => preflight::run(&g, a).await,
            Command::Export(a) => export::run(&g, a).await,
            Command::Erase(a) => erase::run(&g, a).await,
            Command::ScalePrepare(a) => scale::run(&g, a).await,
            Command::Keys(a) => keys::run(&g, a).await,
        }
    })
}
