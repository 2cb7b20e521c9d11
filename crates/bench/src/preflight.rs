//! `hiatus-bench preflight`: times preflight and deactivate + reactivate round trips through
//! the service layer, as a member would call them, against data loaded by
//! `hiatus-bench generate`.

use crate::config::{self, Global};
use anyhow::{Context, Result, anyhow, bail};
use clap::Args;
use hiatus_domain::preflight::Intent;
use hiatus_domain::{AccountState, ClosureReason, Email};
use hiatus_service::lifecycle::CloseRequest;
use hiatus_store::Backend;
use hiatus_store::bulk::GENERATED_PASSWORD;
use std::time::{Duration, Instant};

/// Options of `preflight`.
#[derive(Args, Debug)]
pub struct PreflightBenchArgs {
    /// The member to measure, e.g. the one `hiatus-bench generate` printed.
    #[arg(long)]
    pub email: String,
    /// Their password.
    #[arg(long, default_value = GENERATED_PASSWORD)]
    pub password: String,
    /// Preflight calls to time (after 50 untimed ones).
    #[arg(long, default_value_t = 2000)]
    pub preflights: u32,
    /// Deactivate + reactivate round trips to time.
    #[arg(long, default_value_t = 200)]
    pub round_trips: u32,
    /// Print the results as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

/// The Argon2 parameters of `PasswordParams::FAST`, as they appear in a stored hash.
const FAST_HASH_PREFIX: &str = "$argon2id$v=19$m=64,t=1,p=1$";

pub async fn run(g: &Global, a: PreflightBenchArgs) -> Result<()> {
    let email_text = a.email.as_str();
    let h = config::hiatus(g).await?;
    let email = Email::parse(email_text).map_err(|e| anyhow!("--email: {e}"))?;
    let mut tx = h.db.read().await?;
    let row = hiatus_store::accounts::find_by_email(&mut tx, &h.keys, &email).await?;
    tx.commit().await?;
    let Some(row) = row else {
        bail!("no account has that email: run `hiatus-bench generate` first");
    };
    let fast = row
        .password_hash
        .as_deref()
        .is_some_and(|p| p.starts_with(FAST_HASH_PREFIX));
    if !fast && a.round_trips > 0 {
        eprintln!(
            "warning: the member's password hash uses slow Argon2 parameters, so round trips \
             measure mostly Argon2; generate with --insecure-fast-passwords for the benchmark"
        );
    }
    if row.state()? != AccountState::Active {
        bail!("the member is {}, not active", row.state()?);
    }

    let login = h
        .login(email_text, &a.password)
        .await
        .map_err(|e| anyhow!("logging in: {e}"))?;
    let actor = h
        .authenticate(&login.token)
        .await
        .map_err(|e| anyhow!("{e}"))?;

    for _ in 0..50.min(a.preflights) {
        h.preflight(&actor, Intent::Deactivate, None)
            .await
            .map_err(|e| anyhow!("preflight: {e}"))?;
    }
    let mut times = Vec::with_capacity(a.preflights as usize);
    let mut found = (0, 0);
    for _ in 0..a.preflights {
        let t = Instant::now();
        let p = h
            .preflight(&actor, Intent::Deactivate, None)
            .await
            .map_err(|e| anyhow!("preflight: {e}"))?;
        times.push(t.elapsed());
        found = (p.blockers.len(), p.warnings.len());
    }
    times.sort_unstable();

    let close = CloseRequest {
        password: Some(a.password.clone()),
        reason: ClosureReason::TakingABreak,
        detail: None,
    };
    let started = Instant::now();
    for _ in 0..a.round_trips {
        h.deactivate(&actor, close.clone())
            .await
            .map_err(|e| anyhow!("deactivating: {e}"))
            .context("the member must have nothing blocking deactivation")?;
        h.reactivate(&actor)
            .await
            .map_err(|e| anyhow!("reactivating: {e}"))?;
    }
    let round_trip_secs = started.elapsed().as_secs_f64();
    let backend = match h.db.backend() {
        Backend::Sqlite => "sqlite",
        Backend::Postgres => "postgres",
    };
    h.db.close().await;

    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let pct = |q: f64| {
        if times.is_empty() {
            0.0
        } else {
            ms(times[((times.len() - 1) as f64 * q).round() as usize])
        }
    };
    let mean = if times.is_empty() {
        0.0
    } else {
        ms(times.iter().sum::<Duration>()) / times.len() as f64
    };
    let per_second = f64::from(a.round_trips) / round_trip_secs.max(1e-9);
    if a.json {
        let out = serde_json::json!({
            "backend": backend,
            "preflight": {
                "iterations": times.len(),
                "p50_ms": pct(0.50),
                "p99_ms": pct(0.99),
                "mean_ms": mean,
                "max_ms": times.last().map(|d| ms(*d)).unwrap_or(0.0),
                "blockers": found.0,
                "warnings": found.1,
            },
            "round_trips": {
                "count": a.round_trips,
                "seconds": round_trip_secs,
                "per_second": per_second,
                "fast_password_hash": fast,
            },
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        println!(
            "preflight ({backend}, {} calls, {} blockers, {} warnings): p50 {:.3} ms, p99 {:.3} ms, mean {:.3} ms",
            times.len(),
            found.0,
            found.1,
            pct(0.50),
            pct(0.99),
            mean
        );
        println!(
            "deactivate + reactivate: {} round trips in {:.2} s, {:.1} per second",
            a.round_trips, round_trip_secs, per_second
        );
    }
    Ok(())
}
