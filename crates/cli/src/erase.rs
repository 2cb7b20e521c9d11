//! `hiatus erase`: operators look at an erasure plan (`--dry-run`), run a scheduled erasure
//! at once, check that an erased account left nothing behind (`verify`), or print the policy.

use anyhow::{Result, bail};
use clap::{Args, Subcommand};
use hiatus_service::erasure::{EraseOptions, EraseOutcome};

use crate::config::{self, Global};

/// Options of `erase`.
#[derive(Args, Debug)]
#[command(args_conflicts_with_subcommands = true)]
pub struct EraseArgs {
    #[command(subcommand)]
    pub command: Option<EraseCommand>,
    /// The member: an account id or an email address.
    #[arg(long)]
    pub account: Option<String>,
    /// Show what erasure would do, change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Erase now even though the grace period has not ended (the member must have scheduled
    /// deletion; this only shortens the wait).
    #[arg(long)]
    pub now: bool,
    /// Print JSON instead of sentences.
    #[arg(long)]
    pub json: bool,
    /// Print the erasure policy in effect and exit.
    #[arg(long)]
    pub print_policy: bool,
}

/// Subcommands of `erase`.
#[derive(Subcommand, Debug)]
pub enum EraseCommand {
    /// Check that an erased account left nothing behind in the database. Exits non-zero on
    /// any problem.
    Verify {
        /// The erased account's id.
        #[arg(long)]
        account: String,
    },
}

pub async fn run(g: &Global, a: EraseArgs) -> Result<()> {
    if a.print_policy {
        match &g.erasure_policy {
            Some(p) => print!("{}", std::fs::read_to_string(p)?),
            None => print!("{}", hiatus_store::policy::DEFAULT_POLICY),
        }
        return Ok(());
    }
    let h = config::hiatus(g).await?;
    if let Some(EraseCommand::Verify { account }) = a.command {
        let id = account
            .parse()
            .map_err(|_| anyhow::anyhow!("--account must be the erased account's id"))?;
        let problems = h.verify_erasure(id).await?;
        if problems.is_empty() {
            println!("ok: account {id} was erased and nothing refers to it");
            return Ok(());
        }
        for p in &problems {
            println!("problem: {p}");
        }
        bail!("{} problem(s) found", problems.len());
    }
    let Some(who) = a.account else {
        bail!("give --account <email|id> (or `hiatus erase verify --account <id>`)");
    };
    let id = h.find_account(&who).await?;
    if a.dry_run {
        let plan = h.erasure_plan_for(id).await?;
        if a.json {
            println!("{}", serde_json::to_string_pretty(&plan)?);
        } else {
            println!("Erasure plan for account {id}:");
            for line in &plan.summary {
                println!("  - {line}");
            }
            if plan.summary.is_empty() {
                println!(
                    "  - nothing of this account is kept or deleted beyond the account itself"
                );
            }
        }
        return Ok(());
    }
    let holder = format!("cli-{}", uuid::Uuid::new_v4().simple());
    let opts = EraseOptions {
        ignore_grace: a.now,
        stop_after: None,
    };
    let started = std::time::Instant::now();
    match h.erase_account(id, &holder, &opts).await? {
        EraseOutcome::Done => {
            let r = h.erasure_receipt(id).await?;
            if a.json {
                println!("{}", serde_json::to_string_pretty(&r)?);
            } else {
                for line in &r.summary {
                    println!("{line}");
                }
                println!("Took {:.1} s.", started.elapsed().as_secs_f64());
            }
            Ok(())
        }
        EraseOutcome::NotDue => bail!(
            "account {id} is not due for erasure: it must have scheduled deletion (add --now to skip the rest of the grace period)"
        ),
        EraseOutcome::Busy => bail!("another process is erasing account {id}; try again later"),
        EraseOutcome::Stopped => {
            bail!("erasure stopped before the end; run the command again to resume")
        }
    }
}
