//! The check after an erasure: nothing of the member left in the database or the files.

use super::*;
use crate::error::ServiceResult;
use hiatus_store::{erasure_check, erasures};

impl Hiatus {
    /// Checks that an erased account left nothing behind in the database: the erasure
    /// finished, the tombstone holds no contact detail, secret or key, and no column of any
    /// table refers to the old id except the tombstone itself, its erasure row and job, and
    /// the events that record the erasure (and their webhook deliveries); and no export archive,
    /// finished or partial, of the member (or of no export at all) is left in the files folder
    /// or the object store. Returns the problems found (none: all clear).
    pub async fn verify_erasure(&self, account: AccountId) -> ServiceResult<Vec<String>> {
        let mut problems = Vec::new();
        let mut tx = self.db.read().await?;
        match erasures::get(&mut tx, account).await? {
            None => problems.push("the account was never scheduled for deletion".to_string()),
            Some(r) if r.stage()? != hiatus_domain::ErasureStatus::Done => {
                problems.push(format!("erasure has not finished (status {})", r.status))
            }
            Some(r) if r.pseudonym.is_some() || r.pseudonym_id.is_some() => {
                problems.push("the erasure row still links the account to its pseudonym".into())
            }
            Some(_) => {}
        }
        if erasure_check::tombstone_holds_data(&mut tx, account).await? {
            problems.push("the tombstone still holds contact details, secrets or its key".into());
        }
        tx.commit().await?;
        for r in erasure_check::references_left(&self.db, &self.config.policy, account).await? {
            problems.push(format!(
                "{}.{}: {} row(s) still refer to the erased account",
                r.table, r.column, r.rows
            ));
        }
        // Files outside the database: export archives, finished or partial.
        problems.extend(self.export_files_left(account).await?);
        if !self.db.checkpoint_wal().await? {
            problems.push(
                "the SQLite write-ahead log could not be emptied (readers kept it busy); run again"
                    .into(),
            );
        }
        Ok(problems)
    }
}
