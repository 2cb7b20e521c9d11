//! Download links: minted per click, for the owner only, short-lived; every download audited.

use super::{Download, DownloadLink, Serves, owned};
use crate::Hiatus;
use crate::auth::Actor;
use crate::error::{ServiceError, ServiceResult};
use hiatus_domain::DAY_MICROS;
use hiatus_domain::ExportStatus;
use hiatus_store::{audit, export_data::rfc3339, exports};

impl Hiatus {
    /// Mints a short-lived download link for a ready export of the caller's.
    pub async fn mint_download_link(
        &self,
        actor: &Actor,
        id: &str,
    ) -> ServiceResult<(String, DownloadLink)> {
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let row = owned(&mut tx, actor.account, id).await?;
        match row.stage()? {
            ExportStatus::Ready => {}
            ExportStatus::Expired => {
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
}
