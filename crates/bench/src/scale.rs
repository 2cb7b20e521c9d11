//! `hiatus-bench scale-prepare`: puts work in the job queue for the scale benchmark of
//! `scripts/bench scale`, through the service layer, as members would ask for it. The script
//! then copies the prepared database for every run and times `hiatus worker` processes until
//! the queue is empty.
//!
//! - `--breaks N`: N background members (`bg0`, `bg1`, … of the seed; deactivated ones are
//!   skipped) log in and start a break with an end date (`Hiatus::start_break`), which enqueues
//!   the job that ends it. So that these jobs are due when the workers start, this process runs
//!   on a clock set back (`--backdate-minutes`, default two hours) and every break ends halfway
//!   between that time and the real start of the command: the end date is in the future for
//!   `start_break` (as long as preparing takes less than half the backdating), in the past for
//!   the workers. No reminder job is enqueued (its day-ahead time is before the backdated
//!   clock), and nothing is changed by SQL.
//! - `--erasures N`: N background members schedule their deletion (`Hiatus::schedule_deletion`,
//!   with the password, a reason and the confirmation), on the same backdated clock; members
//!   whose preflight is blocked (live contracts, money in escrow) are skipped. Needs
//!   `--deletion-grace-days 0`, so that the erasure is due at once.
//! - `--exports N`: the first N generated members (`member0`, `member1`, … of the seed, e.g.
//!   `generate --profile m --members N`) request an export each (`Hiatus::request_export`), on
//!   the real clock; the build jobs are due at once.

use crate::config::{self, Global};
use anyhow::{Result, anyhow, bail};
use clap::Args;
use hiatus_domain::profile::BreakRequest;
use hiatus_domain::{ClosureReason, Micros};
use hiatus_service::erasure::{CONFIRMATION, DeleteRequest};
use hiatus_service::{Clock, Hiatus, ServiceError, SystemClock};
use hiatus_store::bulk::{GENERATED_DOMAIN, GENERATED_PASSWORD};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

/// Options of `scale-prepare`.
#[derive(Args, Debug)]
pub struct ScalePrepareArgs {
    /// The seed the data was generated with.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Background members who start a break whose end is due when the workers start.
    #[arg(long, default_value_t = 0)]
    pub breaks: u32,
    /// Background members who schedule their deletion (with `--deletion-grace-days 0`).
    #[arg(long, default_value_t = 0)]
    pub erasures: u32,
    /// Generated members who request an export each.
    #[arg(long, default_value_t = 0)]
    pub exports: u32,
    /// How far back the clock of this process is set for breaks and deletions, in minutes.
    #[arg(long, default_value_t = 120)]
    pub backdate_minutes: i64,
    /// Members prepared at the same time.
    #[arg(long, default_value_t = 8)]
    pub concurrency: usize,
    /// Print the results as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

/// The system clock, set back by a fixed amount.
#[derive(Debug)]
struct Backdated(Micros);

impl Clock for Backdated {
    fn now(&self) -> Micros {
        SystemClock.now() - self.0
    }
}

/// What one member's preparation came to.
enum Outcome {
    Done,
    /// The member cannot do it (deactivated, or blocked by preflight): the next one is tried.
    Skipped(&'static str),
}

/// What a member does.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Ask {
    Break { until: Micros },
    Deletion,
    Export,
}

async fn prepare_one(h: &Hiatus, email: &str, ask: Ask) -> Result<Outcome> {
    let login = match h.login(email, GENERATED_PASSWORD).await {
        Ok(l) => l,
        Err(ServiceError::BadCredentials) => bail!(
            "{email} cannot log in: the database holds fewer generated members than asked for"
        ),
        Err(e) => bail!("logging in {email}: {e}"),
    };
    let actor = h
        .authenticate(&login.token)
        .await
        .map_err(|e| anyhow!("{email}: {e}"))?;
    let result = match ask {
        Ask::Break { until } => h
            .start_break(
                &actor,
                BreakRequest {
                    private: false,
                    mute: false,
                    until: Some(until),
                },
            )
            .await
            .map(|_| ()),
        Ask::Deletion => h
            .schedule_deletion(
                &actor,
                DeleteRequest {
                    password: Some(GENERATED_PASSWORD.into()),
                    reason: ClosureReason::Other,
                    detail: Some("scale benchmark".into()),
                    confirmation: CONFIRMATION.into(),
                },
            )
            .await
            .map(|_| ()),
        Ask::Export => h.request_export(&actor, None).await.map(|_| ()),
    };
    match result {
        Ok(()) => Ok(Outcome::Done),
        Err(e) => match e.code() {
            "account_not_active" | "preflight_blocked" => Ok(Outcome::Skipped(e.code())),
            _ => bail!("{email}: {e}"),
        },
    }
}

/// Prepares `wanted` members, taking emails from `email(i)` for i = 0, 1, …; returns how
/// many were done and the skipped ones per reason.
async fn prepare(
    h: &Hiatus,
    wanted: u32,
    concurrency: usize,
    email: impl Fn(u64) -> String,
    ask: Ask,
) -> Result<(u32, BTreeMap<&'static str, u32>)> {
    let mut done = 0u32;
    let mut skipped = BTreeMap::new();
    let mut next = 0u64;
    let mut set = tokio::task::JoinSet::new();
    // When most members have to be skipped, the data set is not the one this expects.
    let limit = u64::from(wanted) * 4 + 1000;
    // At most `wanted` members done: no more are started than can still be needed.
    while done < wanted {
        while set.len() < concurrency.max(1) && done + (set.len() as u32) < wanted {
            if next >= limit {
                bail!("only {done} of {wanted} members could be prepared among the first {limit}");
            }
            let (h, e) = (h.clone(), email(next));
            next += 1;
            set.spawn(async move { prepare_one(&h, &e, ask).await });
        }
        match set.join_next().await {
            Some(r) => match r?? {
                Outcome::Done => done += 1,
                Outcome::Skipped(why) => *skipped.entry(why).or_insert(0) += 1,
            },
            None => break,
        }
    }
    Ok((done, skipped))
}

pub async fn run(g: &Global, a: ScalePrepareArgs) -> Result<()> {
    if a.erasures > 0 && g.deletion_grace_days != 0 {
        bail!("--erasures needs --deletion-grace-days 0, so that the erasures are due at once");
    }
    if a.backdate_minutes < 2 {
        bail!("--backdate-minutes must be at least 2");
    }
    let h = config::hiatus(g).await?;
    let started = Instant::now();
    let real_start = h.now();
    let backdate = a.backdate_minutes * 60_000_000;
    // Breaks and deletions: on the backdated clock.
    let mut past = h.clone();
    past.clock = Arc::new(Backdated(backdate));
    let seed = a.seed;
    let background = move |i: u64| format!("bg{i}.seed{seed}@{GENERATED_DOMAIN}");
    let member = move |k: u64| format!("member{k}.seed{seed}@{GENERATED_DOMAIN}");

    let until = real_start - backdate / 2;
    let (breaks, breaks_skipped) = prepare(
        &past,
        a.breaks,
        a.concurrency,
        background,
        Ask::Break { until },
    )
    .await?;
    // Deletions: other background members than the breaks, should both be asked for.
    let offset = if a.breaks > 0 {
        u64::from(breaks) + breaks_skipped.values().map(|v| u64::from(*v)).sum::<u64>()
    } else {
        0
    };
    let (erasures, erasures_skipped) = prepare(
        &past,
        a.erasures,
        a.concurrency,
        move |i| background(i + offset),
        Ask::Deletion,
    )
    .await?;
    let (exports, _) = prepare(&h, a.exports, a.concurrency, member, Ask::Export).await?;
    let seconds = started.elapsed().as_secs_f64();
    h.db.close().await;

    if a.json {
        let out = serde_json::json!({
            "breaks": {"started": breaks, "skipped": breaks_skipped, "end_at": until},
            "erasures": {"scheduled": erasures, "skipped": erasures_skipped},
            "exports": {"requested": exports},
            "backdate_minutes": a.backdate_minutes,
            "seconds": seconds,
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        println!(
            "{breaks} breaks started (skipped: {breaks_skipped:?}), {erasures} deletions scheduled \
             (skipped: {erasures_skipped:?}), {exports} exports requested, in {seconds:.1} s"
        );
    }
    Ok(())
}
