//! The executor: `Hiatus::erase_account` timed whole, or in three parts with each policy
//! rule timed on its own.

use super::HOLDER;
use anyhow::{Result, anyhow, bail};
use hiatus_domain::AccountId;
use hiatus_service::Hiatus;
use hiatus_service::erasure::{EraseOptions, EraseOutcome};
use hiatus_store::bench_support::renew_erasure_lease;
use hiatus_store::erasures;
use hiatus_store::policy::{Action, BATCH};
use serde::Serialize;
use std::time::Instant;

fn erase_opts(stop_after: Option<u64>) -> EraseOptions {
    EraseOptions {
        ignore_grace: true,
        stop_after,
    }
}

pub async fn executor(h: &Hiatus, account: AccountId) -> Result<f64> {
    let t = Instant::now();
    let outcome = h
        .erase_account(account, HOLDER, &erase_opts(None))
        .await
        .map_err(|e| anyhow!("erasing: {e}"))?;
    let secs = t.elapsed().as_secs_f64();
    if outcome != EraseOutcome::Done {
        bail!("the executor ended with {outcome:?}, not Done");
    }
    Ok(secs)
}

/// The executor's time per rule.
#[derive(Serialize, Default)]
pub struct Breakdown {
    /// `erase_account` stopped after its first transaction (the account made unusable, the
    /// pseudonym account inserted, the retained identity sealed again).
    pub first_secs: f64,
    pub rules: Vec<RuleTime>,
    /// `erase_account` resumed after the last rule: the receipt, the purge job, the history
    /// entry, and on SQLite the write-ahead-log checkpoint.
    pub finish_secs: f64,
    pub total_secs: f64,
}

#[derive(Serialize)]
pub struct RuleTime {
    /// What the rows are, as the plan words it.
    pub noun: String,
    pub table: String,
    pub column: String,
    pub action: Action,
    pub rows: u64,
    pub batches: u32,
    pub secs: f64,
}

/// The executor run in three parts: `erase_account` up to its first commit; each rule batch
/// by batch through the store, exactly as `erase_leased` runs them (lease renewed, blob keys
/// read, batch, checkpoint after the last batch); `erase_account` again, which resumes after
/// the last rule and finishes.
pub async fn breakdown(h: &Hiatus, account: AccountId, pseudonym: &str) -> Result<Breakdown> {
    let member = account.to_text();
    let mut b = Breakdown::default();
    let all = Instant::now();
    let t = Instant::now();
    let outcome = h
        .erase_account(account, HOLDER, &erase_opts(Some(1)))
        .await
        .map_err(|e| anyhow!("erasing, first step: {e}"))?;
    b.first_secs = t.elapsed().as_secs_f64();
    if outcome != EraseOutcome::Stopped {
        bail!("the first step ended with {outcome:?}, not Stopped");
    }
    for (i, rule) in h.erasure_rules().iter().enumerate() {
        let t = Instant::now();
        let (mut rows, mut batches) = (0u64, 0u32);
        loop {
            let now = h.now();
            let mut tx = h.db.begin().await?;
            let held =
                renew_erasure_lease(&mut tx, &member, HOLDER, now + h.config.job_lease).await?;
            if held != 1 {
                bail!("lost the erasure's lease");
            }
            for key in erasures::batch_blobs(&mut tx, rule, &member).await? {
                h.blobs.delete(&key).await?;
            }
            let n = erasures::run_batch(&mut tx, rule, &member, Some(pseudonym)).await?;
            rows += n;
            batches += 1;
            let done = n < BATCH as u64;
            if done {
                erasures::checkpoint(&mut tx, account, HOLDER, i as i64 + 2).await?;
            }
            tx.commit().await?;
            if done {
                break;
            }
        }
        b.rules.push(RuleTime {
            noun: rule.rule.noun.clone(),
            table: rule.rule.table.clone(),
            column: rule
                .rule
                .member
                .clone()
                .or_else(|| {
                    rule.rule
                        .member_json
                        .as_ref()
                        .map(|j| format!("{}.{}", j.column, j.field))
                })
                .unwrap_or_default(),
            action: rule.rule.action,
            rows,
            batches,
            secs: t.elapsed().as_secs_f64(),
        });
    }
    let t = Instant::now();
    let outcome = h
        .erase_account(account, HOLDER, &erase_opts(None))
        .await
        .map_err(|e| anyhow!("erasing, last step: {e}"))?;
    b.finish_secs = t.elapsed().as_secs_f64();
    if outcome != EraseOutcome::Done {
        bail!("the last step ended with {outcome:?}, not Done");
    }
    b.total_secs = all.elapsed().as_secs_f64();
    Ok(b)
}
