//! Other members writing meanwhile: background members change their phone numbers one after
//! the other through the service while the executor runs, each write's latency recorded.

use super::EraseBenchArgs;
use super::executor::executor;
use anyhow::{Context, Result, anyhow, bail};
use hiatus_domain::AccountId;
use hiatus_service::{Actor, Hiatus};
use serde::Serialize;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

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
pub struct Latency {
    pub count: usize,
    pub errors: usize,
    pub per_second: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    pub mean_ms: f64,
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
pub struct Load {
    pub writers: usize,
    pub write_gap_ms: u64,
    /// The executor's time with the writes going on.
    pub erase_secs: f64,
    /// Writes that started while the executor ran.
    pub during: Latency,
    /// Writes in the baseline window before it started (the first 10 % left out).
    pub before: Latency,
}

/// The email of background member `i` next to a generated member's email
/// (`member0.seed1@…` → `bg{i}.seed1@…`).
fn background_email(member: &str, i: u32) -> Option<String> {
    let (local, domain) = member.split_once('@')?;
    let (_, seed) = local.split_once('.')?;
    seed.starts_with("seed")
        .then(|| format!("bg{i}.{seed}@{domain}"))
}

pub async fn under_load(
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn background_emails_follow_the_member_seed() {
        assert_eq!(
            background_email("member0.seed1@generated.hiatus.test", 7).as_deref(),
            Some("bg7.seed1@generated.hiatus.test")
        );
        assert_eq!(background_email("someone@example.com", 1), None);
    }
}
