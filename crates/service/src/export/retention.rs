//! The end of an archive: expiry when its retention ends, the reminder the day before, and
//! the files a build or an erasure may have left behind.

use super::{EXPORTS_FOLDER, archive_key, export_id_of};
use crate::Hiatus;
use crate::error::{ServiceError, ServiceResult};
use hiatus_domain::AccountId;
use hiatus_domain::ExportStatus;
use hiatus_store::{StoreError, exports};

impl Hiatus {
    /// Removes every file an export may have left: the published archive (local folder or
    /// object store) and the partial file of a build that was interrupted. Idempotent.
    pub(crate) async fn remove_export_files(&self, export_id: &str) -> ServiceResult<()> {
        let key = archive_key(export_id);
        self.blobs.delete(&key).await?;
        let partial = self.blobs.partial_path(&key)?;
        match tokio::fs::remove_file(&partial).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(ServiceError::Internal(StoreError::Blob(e))),
        }
    }

    /// Removes the partial archives no build is writing any more: builds killed with their
    /// worker, whose export has since failed, been erased or stopped reporting progress for
    /// longer than a job lease (a retry starts over with a fresh file). Every worker does it
    /// when it starts and every few minutes after. Returns how many it removed.
    pub async fn sweep_export_partials(&self) -> ServiceResult<usize> {
        let stale = self.now() - self.config.job_lease;
        let mut removed = 0;
        for (key, path) in self.blobs.partials(EXPORTS_FOLDER)? {
            let Some(id) = export_id_of(&key) else {
                continue;
            };
            let mut tx = self.db.read().await?;
            let row = exports::get(&mut tx, id).await?;
            tx.commit().await?;
            let abandoned = match &row {
                None => true,
                Some(r) => {
                    r.stage()? != ExportStatus::Running || r.heartbeat_at.unwrap_or(0) < stale
                }
            };
            if abandoned {
                match tokio::fs::remove_file(&path).await {
                    Ok(()) => removed += 1,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => return Err(ServiceError::Internal(StoreError::Blob(e))),
                }
                tracing::info!(export = %id, "removed the partial archive of an interrupted build");
            }
        }
        Ok(removed)
    }

    /// Export files (published or partial) that belong to `account` or to no export at all:
    /// after that member's erasure, each is a leak (`erase verify`).
    pub async fn export_files_left(&self, account: AccountId) -> ServiceResult<Vec<String>> {
        let mut keys: Vec<(String, bool)> = self
            .blobs
            .list(EXPORTS_FOLDER)
            .await?
            .into_iter()
            .map(|k| (k, false))
            .collect();
        keys.extend(
            self.blobs
                .partials(EXPORTS_FOLDER)?
                .into_iter()
                .map(|(k, _)| (k, true)),
        );
        let mut out = Vec::new();
        let mut tx = self.db.read().await?;
        for (key, partial) in keys {
            let row = match export_id_of(&key) {
                Some(id) => exports::get(&mut tx, id).await?,
                None => None,
            };
            let what = if partial {
                "partial archive"
            } else {
                "archive"
            };
            match row {
                None => out.push(format!(
                    "{key}: an export {what} that belongs to no export (it may hold the erased member's data)"
                )),
                Some(r) if r.account_id == account.to_text() => {
                    out.push(format!("{key}: an export {what} of the erased member"))
                }
                Some(_) => {}
            }
        }
        tx.commit().await?;
        Ok(out)
    }

    /// Removes an archive whose retention ended (the expiry job). Idempotent.
    pub async fn expire_export(&self, id: &str) -> ServiceResult<bool> {
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let Some(row) = exports::get(&mut tx, id).await? else {
            return Ok(false);
        };
        if row.stage()? != ExportStatus::Ready || row.expires_at.is_some_and(|e| e > now) {
            return Ok(false);
        }
        if let Some(key) = &row.blob_key {
            self.blobs.delete(key).await?;
        }
        exports::mark_expired(&mut tx, id).await?;
        hiatus_store::audit::outbox(
            &mut tx,
            "export.expired",
            row.account_id.parse().ok(),
            serde_json::json!({"account_id": row.account_id, "export_id": id}),
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Reminds the member that their archive goes tomorrow, unless they downloaded it (the
    /// reminder job).
    pub async fn remind_export(&self, id: &str) -> ServiceResult<bool> {
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let Some(row) = exports::get(&mut tx, id).await? else {
            return Ok(false);
        };
        if row.stage()? != ExportStatus::Ready || row.downloaded_at.is_some() {
            return Ok(false);
        }
        hiatus_store::audit::outbox(
            &mut tx,
            "export.expiring",
            row.account_id.parse().ok(),
            serde_json::json!({"account_id": row.account_id, "export_id": id, "expires_at": row.expires_at}),
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Removes every archive whose retention ended (a safety net beside the per-export job).
    pub async fn expire_exports(&self) -> ServiceResult<usize> {
        let now = self.now();
        let due = self
            .reading(async |tx| Ok(exports::expired(tx, now, 1000).await?))
            .await?;
        let mut n = 0;
        for e in due {
            if self.expire_export(&e.id).await? {
                n += 1;
            }
        }
        Ok(n)
    }
}
