//! `hiatus-bench keys`: times key rotation (every live data key re-wrapped under a new epoch,
//! its email lookup rehashed) on a generated database, for `scripts/bench keys`. Each run
//! moves the clock one epoch on, so every run re-wraps every key; only the rotation itself is
//! timed. Meanwhile a member logs in again and again (and reads their own page), as people
//! would during a rotation: the login times are compared with logins while nothing rotates.

use anyhow::{Result, anyhow, bail};
use clap::Args;
use hiatus_domain::{DAY_MICROS, Micros};
use hiatus_service::{Clock, Hiatus, SystemClock};
use hiatus_store::bulk::GENERATED_PASSWORD;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::time::{Duration, Instant};

use crate::config::{self, Global};

/// Options of `keys`.
#[derive(Args, Debug)]
pub struct KeysBenchArgs {
    /// Timed rotations.
    #[arg(long, default_value_t = 5)]
    pub runs: u32,
    /// The member who logs in during the rotations (the generator's first member).
    #[arg(long, default_value = "member0.seed1@generated.hiatus.test")]
    pub email: String,
    /// Their password.
    #[arg(long, default_value = GENERATED_PASSWORD)]
    pub password: String,
    /// Pause between two logins, in milliseconds.
    #[arg(long, default_value_t = 20)]
    pub login_gap_ms: u64,
    /// Logins timed while nothing rotates (the comparison).
    #[arg(long, default_value_t = 100)]
    pub quiet_logins: u32,
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

/// One login and the member's own page, as a browser does it; the login alone is timed.
async fn login_once(h: &Hiatus, email: &str, password: &str) -> Result<Duration> {
    let t = Instant::now();
    let l = h
        .login(email, password)
        .await
        .map_err(|e| anyhow!("logging in: {e}"))?;
    let took = t.elapsed();
    let actor = h
        .authenticate(&l.token)
        .await
        .map_err(|e| anyhow!("opening the session: {e}"))?;
    let me = h
        .me(&actor)
        .await
        .map_err(|e| anyhow!("reading the member's page: {e}"))?;
    if me.email != email {
        bail!("the member's page shows another address");
    }
    Ok(took)
}

/// Logins every `gap` until `stop`: their times, and the errors met.
async fn logins_until(
    h: Hiatus,
    email: String,
    password: String,
    gap: Duration,
    stop: Arc<AtomicBool>,
) -> (Vec<f64>, Vec<String>) {
    let mut times = Vec::new();
    let mut errors = Vec::new();
    while !stop.load(Ordering::SeqCst) {
        match login_once(&h, &email, &password).await {
            Ok(t) => times.push(t.as_secs_f64() * 1e3),
            Err(e) => errors.push(e.to_string()),
        }
        tokio::time::sleep(gap).await;
    }
    (times, errors)
}

fn median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    s.get(s.len() / 2).copied().unwrap_or(0.0)
}

fn max(v: &[f64]) -> f64 {
    v.iter().copied().fold(0.0, f64::max)
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
    let gap = Duration::from_millis(a.login_gap_ms);

    // Logins while nothing rotates, paced as during the rotations.
    let mut quiet = Vec::new();
    for _ in 0..a.quiet_logins {
        quiet.push(login_once(&h, &a.email, &a.password).await?.as_secs_f64() * 1e3);
        tokio::time::sleep(gap).await;
    }

    let mut seconds = Vec::new();
    let mut rewrapped = Vec::new();
    let mut during = Vec::new();
    let mut errors = Vec::new();
    for run in 1..=a.runs {
        ahead.store(
            i64::from(run) * h.keys.epoch_days() as i64 * DAY_MICROS,
            Ordering::SeqCst,
        );
        let stop = Arc::new(AtomicBool::new(false));
        let logins = tokio::spawn(logins_until(
            h.clone(),
            a.email.clone(),
            a.password.clone(),
            gap,
            stop.clone(),
        ));
        let t = Instant::now();
        let r = h.rotate_keys().await;
        seconds.push(t.elapsed().as_secs_f64());
        stop.store(true, Ordering::SeqCst);
        let (times, errs) = logins.await?;
        let r = r?;
        rewrapped.push(r.rewrapped);
        if !a.json {
            eprintln!(
                "run {run}: re-wrapped {} keys in {:.2} s; {} logins meanwhile (median {:.1} ms, max {:.1} ms), {} failed",
                r.rewrapped,
                seconds.last().unwrap(),
                times.len(),
                median(&times),
                max(&times),
                errs.len()
            );
        }
        during.extend(times);
        errors.extend(errs);
    }
    let median_seconds = median(&seconds);
    let out = serde_json::json!({
        "backend": format!("{:?}", h.db.backend()).to_lowercase(),
        "keys": keys,
        "seconds": seconds,
        "rewrapped": rewrapped,
        "median_seconds": median_seconds,
        "login_gap_ms": a.login_gap_ms,
        "logins_quiet": {"count": quiet.len(), "median_ms": median(&quiet), "max_ms": max(&quiet)},
        "logins_during": {"count": during.len(), "median_ms": median(&during), "max_ms": max(&during)},
        "login_errors": errors.len(),
        "first_login_error": errors.first(),
    });
    if a.json {
        println!("{out}");
    } else {
        println!(
            "key rotation of {keys} data keys: median {median_seconds:.2} s; logins during rotation median {:.1} ms (max {:.1}), without {:.1} ms (max {:.1}); {} failed",
            median(&during),
            max(&during),
            median(&quiet),
            max(&quiet),
            errors.len()
        );
    }
    h.db.close().await;
    Ok(())
}
