//! "Download your data": export requests, the job that builds the archive, download links.
//!
//! A member asks; a job builds the archive while the member watches its progress; the archive
//! is kept for a configurable number of days; each click on "download" mints a short-lived link
//! that only works for the owner, in the owner's session. One export at a time per member, and
//! a daily limit counted in calendar days.

mod build;
mod stream;

pub use build::{BuildOutcome, Lease};

use crate::Hiatus;
use crate::auth::Actor;
use crate::error::{ServiceError, ServiceResult};
use hiatus_archive::{SigningKey, VerifyingKey};
use hiatus_domain::{AccountId, AccountState, DAY_MICROS, Micros};
use hiatus_store::exports::{self, ExportRow};
use hiatus_store::jobs::{self, NewJob};
use hiatus_store::{StoreError, accounts, audit, export_data::rfc3339};
use serde::Serialize;

/// The job that builds an archive.
pub const JOB_BUILD_EXPORT: &str = "export.build";
/// The job that removes an archive when its retention ends.
pub const JOB_EXPIRE_EXPORT: &str = "export.expire";
/// The job that reminds a member a day before their archive is removed.
pub const JOB_REMIND_EXPORT: &str = "export.remind";

/// The label of the export signing key's derivation from the master key.
const SIGNING_LABEL: &str = "export archive signing key";

/// Progress of an export, for the member to watch.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct ExportProgress {
    pub records_done: i64,
    pub records_total: i64,
    pub bytes_done: i64,
    pub bytes_total: i64,
    /// 0 to 100, from records and bytes together.
    pub percent: u8,
}

/// An export as the member sees it.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct ExportView {
    pub id: String,
    /// `queued`, `running`, `ready`, `failed` or `expired`.
    pub status: String,
    /// For an incremental export: only what changed from this time (RFC 3339).
    pub since: Option<String>,
    pub progress: ExportProgress,
    pub created_at: String,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    /// When the archive will be removed (ready exports).
    pub expires_at: Option<String>,
    pub size_bytes: Option<i64>,
    pub downloaded_at: Option<String>,
    /// Why it failed, in words.
    pub error: Option<String>,
}

impl From<&ExportRow> for ExportView {
    fn from(r: &ExportRow) -> Self {
        let total = (r.records_total + r.bytes_total / 65_536).max(1);
        let done = r.records_done + r.bytes_done / 65_536;
        let percent = if r.status == "ready" {
            100
        } else {
            ((done * 100) / total).clamp(0, 99) as u8
        };
        ExportView {
            id: r.id.clone(),
            status: r.status.clone(),
            since: r.since.map(rfc3339),
            progress: ExportProgress {
                records_done: r.records_done,
                records_total: r.records_total,
                bytes_done: r.bytes_done,
                bytes_total: r.bytes_total,
                percent,
            },
            created_at: rfc3339(r.created_at),
            started_at: r.started_at.map(rfc3339),
            finished_at: r.finished_at.map(rfc3339),
            expires_at: r.expires_at.map(rfc3339),
            size_bytes: r.size_bytes,
            downloaded_at: r.downloaded_at.map(rfc3339),
            error: r.error.clone(),
        }
    }
}

/// A freshly minted download link.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct DownloadLink {
    /// Relative URL of the download; works once logged in as the owner, until `expires_at`.
    pub url: String,
    pub expires_at: String,
}

/// What a download request gets of the archive.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Serves {
    /// No bytes (a HEAD probe, a refused range): not a download.
    Nothing,
    /// Bytes that stop short of the archive's end (one part of a resumed download).
    Part,
    /// Bytes up to the archive's last one: the member now holds the whole archive.
    ToTheEnd,
}

/// What a download serves.
#[derive(Clone, Debug)]
pub struct Download {
    pub export_id: String,
    /// The archive's blob key: read it with `Blobs::read`.
    pub key: String,
    pub size: u64,
    pub file_name: String,
}

/// The folder (key prefix) of export archives.
const EXPORTS_FOLDER: &str = "exports";

/// The export id an archive key names (`exports/<id>.zip`).
fn export_id_of(key: &str) -> Option<&str> {
    key.strip_prefix("exports/")?.strip_suffix(".zip")
}

/// The blob key of an export's archive.
pub fn archive_key(export_id: &str) -> String {
    format!("exports/{export_id}.zip")
}

fn start_of_day(t: Micros) -> Micros {
    t - t.rem_euclid(DAY_MICROS)
}

impl Hiatus {
    /// The key that signs export archives (derived from the master key).
    pub fn export_signing_key(&self) -> SigningKey {
        SigningKey::from_bytes(&self.keys.derive_secret(SIGNING_LABEL))
    }

    /// The public key that verifies export archives (hex), as the server publishes it.
    pub fn export_public_key(&self) -> VerifyingKey {
        self.export_signing_key().verifying_key()
    }

    /// Requests an export of the caller's data (everything, or what changed from `since`).
    pub async fn request_export(
        &self,
        actor: &Actor,
        since: Option<Micros>,
    ) -> ServiceResult<ExportView> {
        self.request_export_for(actor.account, since, Some(actor.account))
            .await
    }

    /// Requests an export of `member`'s data on behalf of `by`: the member (queued for the
    /// worker, within the daily limit), or an operator with `None` (not queued: the operator's
    /// command builds it at once with [`Hiatus::build_export`]; no daily limit). One export at
    /// a time either way.
    pub async fn request_export_for(
        &self,
        member: AccountId,
        since: Option<Micros>,
        by: Option<AccountId>,
    ) -> ServiceResult<ExportView> {
        let now = self.now();
        if let Some(s) = since
            && (s > now || s < 0)
        {
            return Err(ServiceError::invalid(
                "since_invalid",
                "since must be a date in the past",
            ));
        }
        let cfg = &self.config.exports;
        let mut tx = self.db.begin().await?;
        let acct = accounts::get_for_update(&mut tx, member)
            .await
            .map_err(|_| ServiceError::NotFound("account"))?;
        if acct.state()? == AccountState::Deleted {
            return Err(ServiceError::conflict(
                "account_deleted",
                "this account was deleted; there is nothing left to export",
            ));
        }
        if let Some(active) = exports::active(&mut tx, member).await? {
            let stale = match active.status.as_str() {
                "running" => {
                    active.heartbeat_at.unwrap_or(active.created_at) + 2 * self.config.job_lease
                        < now
                }
                _ => active.created_at + cfg.queue_timeout < now,
            };
            if stale {
                exports::fail(
                    &mut tx,
                    &active.id,
                    "the export stopped responding and was abandoned; request a new one",
                    now,
                )
                .await?;
            } else {
                return Err(ServiceError::conflict(
                    "export_in_progress",
                    format!(
                        "an export is already {} (requested {}); wait for it to finish",
                        if active.status == "running" {
                            "being built"
                        } else {
                            "waiting to start"
                        },
                        rfc3339(active.created_at)
                    ),
                ));
            }
        }
        let today = start_of_day(now);
        let n = exports::requested_since(&mut tx, member, today).await?;
        if by.is_some() && n >= cfg.daily_limit {
            let next = today + DAY_MICROS;
            let date = rfc3339(next);
            return Err(ServiceError::QuotaReached {
                code: "export_daily_limit",
                message: format!(
                    "you have requested {n} exports today, the most allowed per day; you can request the next one from {} 00:00 UTC",
                    &date[..10]
                ),
                retry_after_secs: ((next - now) / 1_000_000).max(1) as u64,
            });
        }
        let id = uuid::Uuid::now_v7().to_string();
        exports::create(&mut tx, &id, member, since, now).await?;
        if by.is_some() {
            jobs::enqueue(
                &mut tx,
                &NewJob {
                    kind: JOB_BUILD_EXPORT.into(),
                    payload: serde_json::json!({ "export_id": id }),
                    run_at: now,
                    dedupe_key: Some(format!("export:{id}")),
                    max_attempts: cfg.max_attempts,
                },
                now,
            )
            .await?;
        }
        audit::record(
            &mut tx,
            audit::NewAuditEvent {
                account: Some(member),
                actor: by,
                action: "export.requested",
                reason: None,
                detail: serde_json::json!({ "export_id": id, "since": since.map(rfc3339) }),
                now,
            },
        )
        .await?;
        let row = exports::get(&mut tx, &id)
            .await?
            .ok_or(ServiceError::NotFound("export"))?;
        tx.commit().await?;
        Ok(ExportView::from(&row))
    }

    /// The progress of any export (for the operator's command).
    pub async fn export_progress(&self, id: &str) -> ServiceResult<ExportProgress> {
        self.reading(async |tx| {
            let row = exports::get(tx, id)
                .await?
                .ok_or(ServiceError::NotFound("export"))?;
            Ok(ExportView::from(&row).progress)
        })
        .await
    }

    /// The caller's exports, newest first.
    pub async fn my_exports(&self, actor: &Actor) -> ServiceResult<Vec<ExportView>> {
        self.reading(async |tx| {
            Ok(exports::list(tx, actor.account, 50)
                .await?
                .iter()
                .map(ExportView::from)
                .collect())
        })
        .await
    }

    /// One of the caller's exports.
    pub async fn my_export(&self, actor: &Actor, id: &str) -> ServiceResult<ExportView> {
        self.reading(async |tx| {
            let row = owned(tx, actor.account, id).await?;
            Ok(ExportView::from(&row))
        })
        .await
    }

    /// Mints a short-lived download link for a ready export of the caller's.
    pub async fn mint_download_link(
        &self,
        actor: &Actor,
        id: &str,
    ) -> ServiceResult<(String, DownloadLink)> {
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let row = owned(&mut tx, actor.account, id).await?;
        match row.status.as_str() {
            "ready" => {}
            "expired" => {
                return Err(ServiceError::Gone {
                    code: "export_expired",
                    message: "this export was removed when its retention ended; request a new one"
                        .into(),
                });
            }
            _ => {
                return Err(ServiceError::conflict(
                    "export_not_ready",
                    "the export is not ready yet",
                ));
            }
        }
        let token = crate::auth::new_token();
        let expires_at = now + self.config.exports.link_ttl;
        exports::create_link(
            &mut tx,
            &hiatus_store::sessions::token_hash(&token),
            &row.id,
            actor.account,
            now,
            expires_at,
        )
        .await?;
        exports::purge_links(&mut tx, now - DAY_MICROS).await?;
        tx.commit().await?;
        let link = DownloadLink {
            url: format!("/api/v1/export-downloads/{token}"),
            expires_at: rfc3339(expires_at),
        };
        Ok((token, link))
    }

    /// Opens a download: the link must exist (404), be unexpired (410) and belong to the
    /// logged-in caller (404 for anyone else, as if it did not exist). Every download is
    /// audited; `range` says which bytes, for resumed downloads. `serves` tells, from the
    /// archive's size, what the request gets: nothing (a refused range, a HEAD) is neither
    /// audited nor recorded; only bytes up to the archive's end count as "downloaded" for the
    /// preflight's current-copy check.
    pub async fn open_download(
        &self,
        actor: &Actor,
        token: &str,
        range: Option<&str>,
        serves: impl FnOnce(u64) -> Serves,
    ) -> ServiceResult<Download> {
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let link = exports::link(&mut tx, &hiatus_store::sessions::token_hash(token))
            .await?
            .ok_or(ServiceError::NotFound("download link"))?;
        if link.account_id != actor.account.to_text() {
            return Err(ServiceError::NotFound("download link"));
        }
        if link.expires_at <= now {
            return Err(ServiceError::Gone {
                code: "link_expired",
                message:
                    "this download link has expired; start the download again from your exports"
                        .into(),
            });
        }
        let row = exports::get(&mut tx, &link.export_id)
            .await?
            .ok_or(ServiceError::NotFound("export"))?;
        let key = match (row.status.as_str(), &row.blob_key) {
            ("ready", Some(k)) => k.clone(),
            _ => {
                return Err(ServiceError::Gone {
                    code: "export_expired",
                    message: "this export is no longer available; request a new one".into(),
                });
            }
        };
        let size = self
            .blobs
            .size(&key)
            .await?
            .ok_or_else(|| ServiceError::Gone {
                code: "export_expired",
                message: "this export is no longer available; request a new one".into(),
            })?;
        let served = serves(size);
        if served == Serves::ToTheEnd {
            exports::mark_downloaded(&mut tx, &row.id, now).await?;
        }
        if served != Serves::Nothing {
            audit::record(
                &mut tx,
                audit::NewAuditEvent::by_member(
                    actor.account,
                    "export.downloaded",
                    serde_json::json!({
                        "export_id": row.id,
                        "range": range.map(|r| r.chars().take(100).collect::<String>()),
                    }),
                    now,
                ),
            )
            .await?;
        }
        tx.commit().await?;
        let date = &rfc3339(row.created_at)[..10];
        Ok(Download {
            export_id: row.id.clone(),
            key,
            size,
            file_name: format!("hiatus-export-{date}-{}.zip", &row.id[row.id.len() - 8..]),
        })
    }

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
                Some(r) => r.status != "running" || r.heartbeat_at.unwrap_or(0) < stale,
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
        if row.status != "ready" || row.expires_at.is_some_and(|e| e > now) {
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
        if row.status != "ready" || row.downloaded_at.is_some() {
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

    /// Resolves an operator's `email or id` to an account.
    pub async fn find_account(&self, who: &str) -> ServiceResult<AccountId> {
        if let Ok(id) = who.parse::<AccountId>() {
            return Ok(id);
        }
        let email = hiatus_domain::Email::parse(who)
            .map_err(|_| ServiceError::invalid("account_invalid", "give an account id or email"))?;
        let found = self
            .reading(async |tx| Ok(accounts::find_by_email(tx, &self.keys, &email).await?))
            .await?;
        found
            .map(|a| a.account_id())
            .transpose()?
            .ok_or(ServiceError::NotFound("account"))
    }
}

async fn owned(tx: &mut hiatus_store::Tx, who: AccountId, id: &str) -> ServiceResult<ExportRow> {
    let row = exports::get(tx, id)
        .await?
        .ok_or(ServiceError::NotFound("export"))?;
    if row.account_id != who.to_text() || row.status == "downloaded" {
        return Err(ServiceError::NotFound("export"));
    }
    Ok(row)
}
