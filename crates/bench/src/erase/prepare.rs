//! The database every copy is made from (the member's deletion scheduled, once), and the
//! state every run must end in.

use super::EraseBenchArgs;
use super::copies::Source;
use crate::config::{self, Global};
use anyhow::{Context, Result, anyhow, bail};
use hiatus_domain::preflight::Intent;
use hiatus_domain::{AccountId, ClosureReason};
use hiatus_service::Hiatus;
use hiatus_service::erasure::{CONFIRMATION, DeleteRequest, add_years};
use hiatus_store::policy::Action;
use hiatus_store::{Backend, bench_support, erasures};
use std::collections::{BTreeMap, BTreeSet};

/// Row counts after a run (see [`bench_support::end_state`]).
pub async fn snapshot(h: &Hiatus, member: &str, pseudonym: &str) -> Result<BTreeMap<String, i64>> {
    let mut tx = h.db.read().await?;
    let out = bench_support::end_state(&mut tx, &h.config.policy, member, pseudonym).await?;
    tx.commit().await?;
    Ok(out)
}

/// The keys whose counts differ, with both counts.
pub fn differences(a: &BTreeMap<String, i64>, b: &BTreeMap<String, i64>) -> Vec<String> {
    a.keys()
        .chain(b.keys())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .filter(|k| a.get(*k) != b.get(*k))
        .map(|k| format!("{k}: floor {:?}, executor {:?}", a.get(k), b.get(k)))
        .collect()
}

/// What the runs need to know about the prepared member.
pub struct Prepared {
    pub account: AccountId,
    pub member_text: String,
    pub pseudonym_id: String,
    pub label: String,
    pub retained_until: Option<i64>,
    pub first_purge: Option<i64>,
    /// Per rule: table, member column, action, rows it matches.
    pub plan: Vec<(String, String, Action, i64)>,
    pub plan_rows: i64,
    /// What blocked the deletion and was settled by direct SQL.
    pub resolved: Vec<String>,
    pub db_bytes: i64,
}

/// Schedules the member's deletion on the prepared database (once: a database prepared by an
/// earlier run is used as it is) and gathers what the runs need.
pub async fn prepare(g: &Global, a: &EraseBenchArgs) -> Result<Prepared> {
    let h = config::hiatus(g).await?;
    let account = h
        .find_account(&a.email)
        .await
        .map_err(|e| anyhow!("finding {}: {e}", a.email))?;
    let member_text = account.to_text();
    let mut tx = h.db.read().await?;
    let row = erasures::get(&mut tx, account).await?;
    tx.commit().await?;
    let mut resolved = Vec::new();
    match row.as_ref().map(|r| r.status.as_str()) {
        Some("scheduled") => {}
        Some(s) => bail!("the member's erasure is {s} on this database: generate it again"),
        None => {
            let login = h
                .login(&a.email, &a.password)
                .await
                .map_err(|e| anyhow!("logging in: {e}"))?;
            let actor = h
                .authenticate(&login.token)
                .await
                .map_err(|e| anyhow!("{e}"))?;
            let pre = h
                .preflight(&actor, Intent::Delete, None)
                .await
                .map_err(|e| anyhow!("preflight: {e}"))?;
            if !pre.blockers.is_empty() {
                resolved = pre
                    .blockers
                    .iter()
                    .map(|f| format!("{:?} ({})", f.code, f.records.len()))
                    .collect();
                let mut tx = h.db.begin().await?;
                bench_support::settle_blockers(&mut tx, &member_text, h.now())
                    .await
                    .context("settling what blocks the deletion")?;
                tx.commit().await?;
            }
            h.schedule_deletion(
                &actor,
                DeleteRequest {
                    password: Some(a.password.clone()),
                    reason: ClosureReason::TakingABreak,
                    detail: Some("erasure benchmark".into()),
                    confirmation: CONFIRMATION.into(),
                },
            )
            .await
            .map_err(|e| anyhow!("scheduling the deletion: {e}"))?;
        }
    }
    let mut tx = h.db.read().await?;
    let row = erasures::get(&mut tx, account)
        .await?
        .context("no erasure row after scheduling")?;
    let mut plan = Vec::new();
    let mut retained_until: Option<i64> = None;
    let mut first_purge: Option<i64> = None;
    for rule in h.erasure_rules() {
        let (n, latest) = erasures::count(&mut tx, rule, &member_text).await?;
        if let (Some(r), Some(latest)) = (&rule.retention, latest)
            && n > 0
        {
            let until = add_years(latest, r.years);
            if r.identity {
                retained_until = retained_until.max(Some(until));
            }
        }
        if let Some(r) = &rule.retention
            && let Some(start) = erasures::next_purge(&mut tx, rule, &member_text).await?
        {
            let at = add_years(start, r.years);
            first_purge = Some(first_purge.map_or(at, |f: i64| f.min(at)));
        }
        let column = rule
            .rule
            .member
            .clone()
            .or_else(|| rule.rule.member_json.as_ref().map(|j| j.column.clone()))
            .unwrap_or_default();
        plan.push((rule.rule.table.clone(), column, rule.rule.action, n));
    }
    let db_bytes = bench_support::database_bytes(&mut tx).await?;
    tx.commit().await?;
    if h.db.backend() == Backend::Sqlite && !h.db.checkpoint_wal().await? {
        bail!("the write-ahead log of the prepared database stayed busy");
    }
    h.db.close().await;
    let db_bytes = match Source::of(g)? {
        Source::Sqlite { base, .. } => std::fs::metadata(&base)?.len() as i64,
        _ => db_bytes,
    };
    // Each retain rule counts its rows once in the plan; redaction rules match rows that
    // retain rules then pseudonymize, so the sum is of rows matched per rule.
    let plan_rows = plan.iter().map(|p| p.3).sum();
    Ok(Prepared {
        account,
        member_text,
        pseudonym_id: row
            .pseudonym_id
            .context("the erasure row has no pseudonym id")?,
        label: row.pseudonym.context("the erasure row has no pseudonym")?,
        retained_until,
        first_purge,
        plan,
        plan_rows,
        resolved,
        db_bytes,
    })
}
