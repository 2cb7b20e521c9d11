//! `hiatus`: the account lifecycle of a freelance marketplace.

#![forbid(unsafe_code)]

mod demo;
mod erase;
mod export;
mod keys;
mod run;
mod verify;

use anyhow::Result;
use clap::Parser;
use clap::{CommandFactory, FromArgMatches, Subcommand};
use hiatus::config::{self, Global};
use hiatus::settings;
use std::ffi::OsString;

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
    /// Build a member's export archive now and write it to a file (operator use).
    Export(export::ExportArgs),
    /// Check an export archive offline: structure, every hash, the signature, nothing
    /// unlisted or missing, the counts. Exits non-zero on any problem.
    Verify(verify::VerifyArgs),
    /// Erase a member for good: `--dry-run` shows the plan; without it a scheduled erasure
    /// runs now (`--now` skips the rest of the grace period); `verify` checks that nothing
    /// of an erased account is left.
    Erase(erase::EraseArgs),
    /// Key epochs: `status` lists them, `rotate` re-wraps data keys under the current epoch,
    /// `retire` destroys epoch keys older than the backup window.
    Keys(keys::KeysArgs),
    /// Operator tasks: staff accounts, queue health, account counts.
    Admin {
        #[command(subcommand)]
        command: run::AdminCommand,
    },
    /// The configuration: `check` validates it and prints the effective settings with where
    /// each came from, secrets redacted.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
}

#[derive(Subcommand, Debug)]
enum ConfigCommand {
    /// Validate the configuration (file, environment, flags) and print it, secrets redacted;
    /// exits non-zero on any problem.
    Check {
        /// Print JSON on stdout.
        #[arg(long)]
        json: bool,
    },
}

/// What the command line, the environment and the configuration file say together.
struct Parsed {
    cli: Cli,
    sources: std::collections::BTreeMap<String, &'static str>,
    sections: Vec<(String, String)>,
}

/// Parses the command line; with `--config FILE`, the file fills in every option that no flag
/// and no environment variable set, and the command line is parsed again with it.
fn parse() -> Result<Parsed> {
    let mut cmd = Cli::command();
    cmd.build();
    let args: Vec<OsString> = std::env::args_os().collect();
    let matches = cmd
        .clone()
        .try_get_matches_from(&args)
        .unwrap_or_else(|e| e.exit());
    let Some(path) = matches.get_one::<std::path::PathBuf>("config").cloned() else {
        let sources = settings::sources(&cmd, &matches, &[]);
        return Ok(Parsed {
            cli: Cli::from_arg_matches(&matches)?,
            sources,
            sections: Vec::new(),
        });
    };
    let extra = settings::from_file(&path, &cmd, &matches)?;
    let mut argv: Vec<OsString> = args[..1].to_vec();
    argv.extend(extra.global);
    argv.extend(args[1..].iter().cloned());
    argv.extend(extra.sub);
    let matches = cmd
        .clone()
        .try_get_matches_from(&argv)
        .unwrap_or_else(|e| e.exit());
    Ok(Parsed {
        cli: Cli::from_arg_matches(&matches)?,
        sources: settings::sources(&cmd, &matches, &extra.keys),
        sections: extra.sections,
    })
}

fn main() -> Result<()> {
    hiatus::private_files();
    let Parsed {
        cli,
        sources,
        sections,
    } = parse()?;
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
            Command::Admin { command } => run::admin(&cli.global, command).await,
            Command::Export(a) => export::run(&cli.global, a).await,
            Command::Erase(a) => erase::run(&cli.global, a).await,
            Command::Keys(a) => keys::run(&cli.global, a).await,
            Command::Config {
                command: ConfigCommand::Check { json },
            } => config::check(&cli.global, &sources, &sections, json).await,
            // Offline: no database, no key file.
            Command::Verify(a) => verify::run(a),
        }
    })
}
