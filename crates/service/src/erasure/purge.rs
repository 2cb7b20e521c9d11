//! The retention purge: retained records go when their retention ends, and the retained
//! identity when nothing needs it any more.

use super::*;
use crate::error::ServiceResult;
use crate::jobs::Job;
use hiatus_store::Tx;
use hiatus_store::erasures;
use hiatus_store::jobs;
use hiatus_store::policy::BATCH;

impl Hiatus {
    /// When the next retention period of a pseudonym's records ends (rows to purge, or the
    /// last record that needs the retained identity), and whether the identity is still
    /// needed now.
    pub(super) async fn next_retention_event(
        &self,
        tx: &mut Tx,
        pseudonym: &str,
        now: Micros,
    ) -> ServiceResult<(Option<Micros>, bool)> {
        let mut next: Option<Micros> = None;
        let mut identity_needed = false;
        for rule in self.erasure_rules() {
            let Some(r) = &rule.retention else { continue };
            let Some(start) = erasures::next_purge(tx, rule, pseudonym).await? else {
                continue;
            };
            let at = add_years(start, r.years);
            let rows = rule.purge_sql.is_some();
            if at > now || rows {
                next = Some(next.map_or(at, |x| x.min(at)));
            }
            if r.identity && at > now {
                identity_needed = true;
            }
        }
        Ok((next, identity_needed))
    }

    /// Purges a pseudonym's retained records whose retention has ended, destroys the
    /// retained identity when nothing needs it any more, and schedules the next purge.
    pub async fn purge_retained(&self, pseudonym: &str) -> ServiceResult<u64> {
        let now = self.now();
        let mut purged = 0;
        for rule in self.erasure_rules() {
            let Some(r) = &rule.retention else { continue };
            let cutoff = sub_years(now, r.years);
            loop {
                let mut tx = self.db.begin().await?;
                let n = erasures::purge_batch(&mut tx, rule, pseudonym, cutoff).await?;
                tx.commit().await?;
                purged += n;
                if n < BATCH as u64 {
                    break;
                }
            }
        }
        let mut tx = self.db.begin().await?;
        let (next, identity_needed) = self.next_retention_event(&mut tx, pseudonym, now).await?;
        if !identity_needed {
            erasures::drop_retained_identity(&mut tx, pseudonym).await?;
        }
        if let Some(at) = next {
            jobs::enqueue(
                &mut tx,
                &Job::Purge {
                    pseudonym: pseudonym.to_string(),
                }
                .to_new(
                    at.max(now + 1),
                    Some(format!("{}:{pseudonym}:{at}", Job::PURGE)),
                    20,
                ),
                now,
            )
            .await?;
        }
        tx.commit().await?;
        Ok(purged)
    }
}
