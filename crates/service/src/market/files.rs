//! Delivered work and files: shared files kept by both parties, private files sealed
//! under the member's key.

use super::*;
use hiatus_store::Blobs;
use hiatus_store::market::{self, FileRow};
use serde_json::json;
use sha2::{Digest, Sha256};

/// The largest file accepted through the API.
pub const MAX_FILE_BYTES: usize = 8 * 1024 * 1024;

/// A file sent with a message or a submission.
#[derive(Clone, Debug)]
pub struct Upload {
    pub name: String,
    pub content_type: String,
    pub bytes: Vec<u8>,
}

impl Hiatus {
    /// Delivers work under a contract (its freelancer), with files. The client keeps them.
    pub async fn submit_work(
        &self,
        actor: &Actor,
        contract: ContractId,
        note: &str,
        files: Vec<Upload>,
    ) -> ServiceResult<(Submission, Vec<FileMeta>)> {
        check_text("note", note, 5000, false)?;
        if files.len() > 20 {
            return Err(ServiceError::invalid(
                "too_many_files",
                "at most 20 files per submission",
            ));
        }
        for f in &files {
            check_upload(f)?;
        }
        Self::require_active(actor, "account_not_active", "submit work")?;
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let c = self.party_contract(&mut tx, actor, contract).await?;
        if c.freelancer_id != actor.account {
            return Err(ServiceError::forbidden(
                "freelancer_only",
                "only the freelancer of a contract submits work",
            ));
        }
        if !c.status.was_accepted() {
            return Err(not_accepted(c.status));
        }
        if !c.status.is_live() {
            return Err(ServiceError::conflict(
                "contract_ended",
                "work cannot be submitted to an ended contract",
            ));
        }
        let s = Submission {
            id: SubmissionId::new(),
            contract_id: contract,
            freelancer_id: actor.account,
            note: note.to_string(),
            created_at: now,
        };
        market::create_submission(&mut tx, &s).await?;
        let mut metas = Vec::new();
        for f in files {
            let row = self
                .store_shared_file(
                    &f,
                    actor.account,
                    FileKind::Submission,
                    None,
                    Some(s.id),
                    now,
                )
                .await?;
            market::create_file(&mut tx, &row).await?;
            metas.push(meta(&row, f.name));
        }
        accounts::touch_data(&mut tx, &[&c.client_id, &c.freelancer_id], now).await?;
        self.audit(
            &mut tx,
            actor,
            "work.submitted",
            json!({"submission_id": s.id, "files": metas.len()}),
            now,
        )
        .await?;
        tx.commit().await?;
        Ok((s, metas))
    }

    /// The submissions of a contract the caller is party to, with their files.
    pub async fn contract_submissions(
        &self,
        actor: &Actor,
        contract: ContractId,
    ) -> ServiceResult<Vec<(Submission, Vec<FileMeta>)>> {
        let mut tx = self.db.read().await?;
        self.party_contract(&mut tx, actor, contract).await?;
        let subs = market::submissions_of_contract(&mut tx, contract).await?;
        let mut out = Vec::new();
        for s in subs {
            let files = market::files_of_submission(&mut tx, s.id).await?;
            let metas = files
                .iter()
                .map(|r| meta(r, r.name.clone().unwrap_or_default()))
                .collect();
            out.push((s, metas));
        }
        tx.commit().await?;
        Ok(out)
    }

    async fn store_shared_file(
        &self,
        f: &Upload,
        owner: AccountId,
        kind: FileKind,
        message: Option<MessageId>,
        submission: Option<SubmissionId>,
        now: Micros,
    ) -> ServiceResult<FileRow> {
        let id = FileId::new();
        let key = Blobs::new_key(&id.to_text());
        self.blobs.put(&key, &f.bytes).await?;
        Ok(FileRow {
            id: id.to_text(),
            owner_id: owner.to_text(),
            kind: kind.as_str().into(),
            message_id: message.map(|m| m.to_text()),
            submission_id: submission.map(|s| s.to_text()),
            blob_key: key,
            name: Some(f.name.clone()),
            name_enc: None,
            content_type: f.content_type.clone(),
            size_bytes: f.bytes.len() as i64,
            sha256: hex_sha256(&f.bytes),
            encrypted: false,
            created_at: now,
        })
    }

    /// Stores a private file (profile photo or draft), encrypted under the member's key.
    pub async fn upload_private_file(
        &self,
        actor: &Actor,
        kind: FileKind,
        f: Upload,
    ) -> ServiceResult<FileMeta> {
        check_upload(&f)?;
        if !matches!(kind, FileKind::Photo | FileKind::Private) {
            return Err(ServiceError::invalid(
                "kind_invalid",
                "private uploads are photos or private files",
            ));
        }
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let acct = accounts::get(&mut tx, actor.account).await?;
        let dk = acct.data_key(&self.keys)?;
        let id = FileId::new();
        let idt = id.to_text();
        let key = Blobs::new_key(&idt);
        self.blobs.put(&key, &dk.seal_blob(&idt, &f.bytes)).await?;
        let row = FileRow {
            id: idt.clone(),
            owner_id: actor.account.to_text(),
            kind: kind.as_str().into(),
            message_id: None,
            submission_id: None,
            blob_key: key,
            name: None,
            name_enc: Some(dk.seal_field("files", "name", &idt, &f.name)),
            content_type: f.content_type.clone(),
            size_bytes: f.bytes.len() as i64,
            sha256: hex_sha256(&f.bytes),
            encrypted: true,
            created_at: now,
        };
        market::create_file(&mut tx, &row).await?;
        if kind == FileKind::Photo {
            market::set_profile_photo(&mut tx, actor.account, id).await?;
        }
        accounts::touch_data(&mut tx, &[&actor.account], now).await?;
        tx.commit().await?;
        Ok(meta(&row, f.name))
    }

    /// A file's bytes and description, for its owner or, for shared files, the parties.
    pub async fn download_file(
        &self,
        actor: &Actor,
        id: FileId,
    ) -> ServiceResult<(FileMeta, Vec<u8>)> {
        let mut tx = self.db.read().await?;
        let row = market::file(&mut tx, id).await.map_err(not_found("file"))?;
        let owner: AccountId = row
            .owner_id
            .parse()
            .map_err(|_| ServiceError::NotFound("file"))?;
        let allowed = if owner == actor.account {
            true
        } else if let Some(s) = &row.submission_id {
            let s = market::submission(
                &mut tx,
                s.parse().map_err(|_| ServiceError::NotFound("file"))?,
            )
            .await?;
            self.party_contract(&mut tx, actor, s.contract_id)
                .await
                .is_ok()
        } else if let Some(m) = &row.message_id {
            match market::thread_of_message(&mut tx, m).await? {
                Some(t) => self
                    .participant_thread(
                        &mut tx,
                        actor,
                        t.parse().map_err(|_| ServiceError::NotFound("file"))?,
                    )
                    .await
                    .is_ok(),
                None => false,
            }
        } else {
            false
        };
        if !allowed {
            return Err(ServiceError::NotFound("file"));
        }
        let (name, bytes) = if row.encrypted {
            let acct = accounts::get(&mut tx, owner).await?;
            let dk = acct.data_key(&self.keys)?;
            let name = dk.open_field(
                "files",
                "name",
                &row.id,
                row.name_enc.as_deref().unwrap_or_default(),
            )?;
            let sealed = self.blobs.get(&row.blob_key).await?;
            (name, dk.open_blob(&row.id, &sealed)?)
        } else {
            (
                row.name.clone().unwrap_or_default(),
                self.blobs.get(&row.blob_key).await?,
            )
        };
        tx.commit().await?;
        Ok((meta(&row, name), bytes))
    }
}

fn check_upload(f: &Upload) -> ServiceResult<()> {
    check_name("file name", &f.name, 255, true)?;
    check_text("content type", &f.content_type, 100, true)?;
    if f.bytes.len() > MAX_FILE_BYTES {
        return Err(ServiceError::invalid(
            "file_too_large",
            format!("a file can be at most {} MiB", MAX_FILE_BYTES / 1024 / 1024),
        ));
    }
    Ok(())
}

fn hex_sha256(b: &[u8]) -> String {
    hex::encode(Sha256::digest(b))
}

fn meta(r: &FileRow, name: String) -> FileMeta {
    FileMeta {
        id: r.id.parse().unwrap_or_default(),
        owner_id: r.owner_id.parse().unwrap_or_default(),
        kind: FileKind::parse(&r.kind).unwrap_or(FileKind::Attachment),
        message_id: r.message_id.as_deref().and_then(|s| s.parse().ok()),
        submission_id: r.submission_id.as_deref().and_then(|s| s.parse().ok()),
        name,
        content_type: r.content_type.clone(),
        size_bytes: r.size_bytes,
        sha256: r.sha256.clone(),
        created_at: r.created_at,
    }
}
