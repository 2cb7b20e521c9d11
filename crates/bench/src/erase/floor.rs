//! The floor: the statements of `scripts/bench-erase-floor.sql` in one transaction, each
//! timed, with the values of one run bound to their placeholders.

use super::prepare::Prepared;
use anyhow::{Context, Result, anyhow, bail};
use hiatus_service::Hiatus;
use hiatus_store::Backend;
use hiatus_store::bench_support::{FloorStatement, REDACTED};
use hiatus_store::db::Arg;
use std::collections::BTreeMap;
use std::time::Instant;

/// What the floor's placeholders stand for, in one run.
fn floor_values(p: &Prepared, now: i64, rules: usize) -> BTreeMap<&'static str, Arg> {
    let lookup: [u8; 32] = hiatus_store::crypto::random_bytes();
    let tombstone_lookup: [u8; 32] = hiatus_store::crypto::random_bytes();
    // What the sealed address of the erasure mail takes, about: nonce, address, tag.
    let notify: [u8; 64] = hiatus_store::crypto::random_bytes();
    let m = &p.member_text;
    let mut v: BTreeMap<&'static str, Arg> = BTreeMap::new();
    v.insert("member", m.as_str().into());
    v.insert("pseudonym", p.pseudonym_id.as_str().into());
    v.insert("label", p.label.as_str().into());
    v.insert("lookup", lookup.to_vec().into());
    v.insert("tombstone_lookup", tombstone_lookup.to_vec().into());
    v.insert("now", now.into());
    v.insert(
        "day",
        (now - now.rem_euclid(hiatus_domain::DAY_MICROS)).into(),
    );
    v.insert("notify", notify.to_vec().into());
    v.insert("retained_until", p.retained_until.into());
    v.insert("redacted", REDACTED.into());
    v.insert("member_pattern", format!("%\"account_id\":\"{m}\"%").into());
    v.insert("from_pattern", format!("%\"from_account\":\"{m}\"%").into());
    v.insert("outbox_id", uuid::Uuid::now_v7().to_string().into());
    v.insert("erased_outbox_id", uuid::Uuid::now_v7().to_string().into());
    v.insert(
        "outbox_payload",
        serde_json::json!({ "account_id": m }).to_string().into(),
    );
    let purge_at = p.first_purge.unwrap_or(now);
    v.insert("job_id", uuid::Uuid::new_v4().to_string().into());
    v.insert(
        "job_payload",
        serde_json::json!({ "pseudonym_id": p.pseudonym_id })
            .to_string()
            .into(),
    );
    v.insert(
        "job_dedupe",
        format!("retention.purge:{}:{purge_at}", p.pseudonym_id).into(),
    );
    v.insert("purge_at", purge_at.into());
    v.insert("audit_id", uuid::Uuid::new_v4().to_string().into());
    v.insert(
        "audit_detail",
        serde_json::json!({ "policy_rules": rules })
            .to_string()
            .into(),
    );
    v.insert(
        "receipt",
        serde_json::json!({ "erased_at": now, "summary": [], "retained": [] })
            .to_string()
            .into(),
    );
    v.insert("step", (rules as i64 + 2).into());
    v
}

/// One floor run: the script in one transaction, each statement timed.
pub struct FloorRun {
    pub secs: f64,
    /// Per statement: rows changed, seconds.
    pub statements: Vec<(u64, f64)>,
    pub commit_secs: f64,
    pub checkpoint_secs: f64,
}

pub async fn floor(h: &Hiatus, script: &[FloorStatement], p: &Prepared) -> Result<FloorRun> {
    let values = floor_values(p, h.now(), h.erasure_rules().len());
    let bound: Vec<Vec<Arg>> = script
        .iter()
        .map(|s| {
            s.names
                .iter()
                .map(|n| {
                    values
                        .get(n.as_str())
                        .cloned()
                        .ok_or_else(|| anyhow!("the floor script uses :{n}, which has no value"))
                })
                .collect::<Result<Vec<_>>>()
        })
        .collect::<Result<_>>()?;
    let mut statements = Vec::with_capacity(script.len());
    let start = Instant::now();
    let mut tx = h.db.begin().await?;
    for (s, args) in script.iter().zip(bound) {
        let t = Instant::now();
        let n = s
            .run(&mut tx, args)
            .await
            .with_context(|| format!("floor: {}", s.text))?;
        statements.push((n, t.elapsed().as_secs_f64()));
    }
    let t = Instant::now();
    tx.commit().await?;
    let commit_secs = t.elapsed().as_secs_f64();
    let t = Instant::now();
    if h.db.backend() == Backend::Sqlite && !h.db.checkpoint_wal().await? {
        bail!("floor: the write-ahead log checkpoint did not complete");
    }
    let checkpoint_secs = t.elapsed().as_secs_f64();
    Ok(FloorRun {
        secs: start.elapsed().as_secs_f64(),
        statements,
        commit_secs,
        checkpoint_secs,
    })
}
