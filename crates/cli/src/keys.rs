//! `hiatus keys`: operators see where the key epochs stand, rotate data keys under the current
//! epoch, and destroy epoch keys older than the backup window. The worker does both on its
//! own every few minutes; these are for checking and for doing it now.

use anyhow::Result;
use clap::{Args, Subcommand};

use crate::config::{self, Global};

/// Options of `keys`.
#[derive(Args, Debug)]
pub struct KeysArgs {
    #[command(subcommand)]
    pub command: KeysCommand,
}

/// Subcommands of `keys`.
#[derive(Subcommand, Debug)]
pub enum KeysCommand {
    /// The current and oldest kept epoch, live data keys per epoch, and when the next rotation
    /// and retirement are due.
    Status {
        /// Print JSON on stdout.
        #[arg(long)]
        json: bool,
    },
    /// Re-wrap every live data key under the current epoch's key now.
    Rotate {
        /// Print JSON on stdout.
        #[arg(long)]
        json: bool,
    },
    /// Destroy the keys of epochs older than --key-retention-days. Refuses while a live data
    /// key is still wrapped under one of them (run `rotate` first).
    Retire {
        /// Print JSON on stdout.
        #[arg(long)]
        json: bool,
    },
}

pub async fn run(g: &Global, a: KeysArgs) -> Result<()> {
    let h = config::hiatus(g).await?;
    match a.command {
        KeysCommand::Status { json } => {
            let s = h.key_status().await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&s)?);
                return Ok(());
            }
            println!(
                "current epoch   {} (began {}, a new one every {} day(s))",
                s.current_epoch, s.current_epoch_began, s.epoch_days
            );
            println!(
                "oldest kept     {} (epoch keys kept {} days after their epoch ends)",
                s.oldest_epoch, s.retention_days
            );
            if let Some(f) = &s.keyring_file {
                println!("keyring file    {f}");
            }
            println!("next rotation   {}", s.next_rotation);
            println!("next retirement {}", s.next_retirement);
            println!("live data keys per epoch:");
            if s.keys.is_empty() {
                println!("  (none)");
            }
            for k in &s.keys {
                match k.epoch {
                    Some(e) => println!("  {e:>8}  {}", k.keys),
                    None => println!(
                        "    legacy  {} (wrapped under the master key; the next rotation re-wraps them)",
                        k.keys
                    ),
                }
            }
        }
        KeysCommand::Rotate { json } => {
            let r = h.rotate_keys().await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&r)?);
            } else {
                println!(
                    "re-wrapped {} data keys under epoch {}{}",
                    r.rewrapped,
                    r.epoch,
                    if r.unreadable > 0 {
                        format!("; {} could not be opened (see the log)", r.unreadable)
                    } else {
                        String::new()
                    }
                );
            }
        }
        KeysCommand::Retire { json } => {
            let r = h.retire_keys().await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&r)?);
            } else if r.retired == 0 {
                println!(
                    "nothing to retire: the oldest kept epoch {} is inside the retention window",
                    r.oldest_epoch
                );
            } else {
                println!(
                    "destroyed {} epoch key(s); the oldest kept epoch is now {}",
                    r.retired, r.oldest_epoch
                );
            }
        }
    }
    h.db.close().await;
    Ok(())
}
