//! `hiatus bench keys`: times key rotation (every live data key re-wrapped under a new epoch)
//! on a generated database, for `scripts/bench keys`. Each run moves the clock one epoch on,
//! so every run re-wraps every key; only the rotation itself is timed.

use anyhow::Result;
use clap::Args;
use hiatus_domain::{DAY_MICROS, Micros};
use hiatus_service::{Clock, Hiatus, SystemClock};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Instant;

use crate::config::{self, Global};

/// Options of `bench keys`.
#[derive(Args, Debug)]
pub struct KeysBenchArgs {
    /// Timed rotations.
    #[arg(long, default_value_t = 5)]
    pub runs: u32,
    /// Print the results as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

/// The system clock moved forward by a shared amount.
#[derive(Debug)]
struct Ahead(Arc<AtomicI64>);

impl Clock for Ahead {
    fn now(&self) -> Micros {
        SystemClock.now() + self.0.load(Ordering::SeqCst)
    }
}

pub async fn run(g: &Global, a: KeysBenchArgs) -> Result<()> {
    let base = config::hiatus(g).await?;
    let ahead = Arc::new(AtomicI64::new(0));
    // The keyring file is not rewritten by rotation, so moving this process's clock on
    // changes nothing outside the scratch database.
    let h = Hiatus::new(
        base.db.clone(),
        base.blobs.clone(),
        (*base.keys).clone(),
        Arc::new(Ahead(ahead.clone())),
        base.config.clone(),
    );
    // Untimed: keys the generator left without a recorded epoch get one.
    h.rotate_keys().await?;
    let keys: i64 = h.key_status().await?.keys.iter().map(|k| k.keys).sum();
    let mut seconds = Vec::new();
    let mut rewrapped = Vec::new();
    for run in 1..=a.runs {
        ahead.store(
            i64::from(run) * h.keys.epoch_days() as i64 * DAY_MICROS,
            Ordering::SeqCst,
        );
        let t = Instant::now();
        let r = h.rotate_keys().await?;
        seconds.push(t.elapsed().as_secs_f64());
        rewrapped.push(r.rewrapped);
        if !a.json {
            eprintln!(
                "run {run}: re-wrapped {} keys in {:.2} s",
                r.rewrapped,
                seconds.last().unwrap()
            );
        }
    }
    let mut sorted = seconds.clone();
    sorted.sort_by(f64::total_cmp);
    let median = sorted.get(sorted.len() / 2).copied().unwrap_or(0.0);
    let out = serde_json::json!({
        "backend": format!("{:?}", h.db.backend()).to_lowercase(),
        "keys": keys,
        "seconds": seconds,
        "rewrapped": rewrapped,
        "median_seconds": median,
    });
    if a.json {
        println!("{out}");
    } else {
        println!("key rotation of {keys} data keys: median {median:.2} s");
    }
    h.db.close().await;
    Ok(())
}
