//! Work submissions and the files sent with messages and submissions.

use super::id;
use crate::args;
use crate::db::Tx;
use crate::error::StoreResult;
use hiatus_domain::*;

/// Creates a work submission.
pub async fn create_submission(tx: &mut Tx, s: &Submission) -> StoreResult<()> {
    tx.exec(
        "INSERT INTO submissions (id, contract_id, freelancer_id, note, created_at) VALUES ($1, $2, $3, $4, $5)",
        args![s.id.to_text(), s.contract_id.to_text(), s.freelancer_id.to_text(), s.note.clone(), s.created_at],
    )
    .await?;
    Ok(())
}

/// The submissions under a contract.
pub async fn submissions_of_contract(tx: &mut Tx, cid: ContractId) -> StoreResult<Vec<Submission>> {
    let rows: Vec<(String, String, String, String, i64)> = tx
        .all(
            "SELECT id, contract_id, freelancer_id, note, created_at FROM submissions WHERE contract_id = $1 ORDER BY created_at, id",
            args![cid.to_text()],
        )
        .await?;
    rows.into_iter()
        .map(|(i, c, f, note, created_at)| {
            Ok(Submission {
                id: id(&i)?,
                contract_id: id(&c)?,
                freelancer_id: id(&f)?,
                note,
                created_at,
            })
        })
        .collect()
}

/// A submission.
pub async fn submission(tx: &mut Tx, sid: SubmissionId) -> StoreResult<Submission> {
    let (i, c, f, note, created_at): (String, String, String, String, i64) = tx
        .one("SELECT id, contract_id, freelancer_id, note, created_at FROM submissions WHERE id = $1", args![sid.to_text()])
        .await?;
    Ok(Submission {
        id: id(&i)?,
        contract_id: id(&c)?,
        freelancer_id: id(&f)?,
        note,
        created_at,
    })
}

/// A file row as stored.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct FileRow {
    pub id: String,
    pub owner_id: String,
    pub kind: String,
    pub message_id: Option<String>,
    pub submission_id: Option<String>,
    pub blob_key: String,
    pub name: Option<String>,
    pub name_enc: Option<Vec<u8>>,
    pub content_type: String,
    pub size_bytes: i64,
    pub sha256: String,
    pub encrypted: bool,
    pub created_at: i64,
}

/// Records a stored file.
pub async fn create_file(tx: &mut Tx, f: &FileRow) -> StoreResult<()> {
    tx.exec(
        "INSERT INTO files (id, owner_id, kind, message_id, submission_id, blob_key, name, name_enc, content_type, size_bytes, sha256, encrypted, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
        args![
            f.id.clone(),
            f.owner_id.clone(),
            f.kind.clone(),
            f.message_id.clone(),
            f.submission_id.clone(),
            f.blob_key.clone(),
            f.name.clone(),
            f.name_enc.clone(),
            f.content_type.clone(),
            f.size_bytes,
            f.sha256.clone(),
            f.encrypted,
            f.created_at
        ],
    )
    .await?;
    Ok(())
}

/// A file row.
pub async fn file(tx: &mut Tx, fid: FileId) -> StoreResult<FileRow> {
    tx.one(
        "SELECT id, owner_id, kind, message_id, submission_id, blob_key, name, name_enc, content_type, size_bytes, sha256, encrypted, created_at FROM files WHERE id = $1",
        args![fid.to_text()],
    )
    .await
}

/// Files attached to a submission.
pub async fn files_of_submission(tx: &mut Tx, sid: SubmissionId) -> StoreResult<Vec<FileRow>> {
    tx.all(
        "SELECT id, owner_id, kind, message_id, submission_id, blob_key, name, name_enc, content_type, size_bytes, sha256, encrypted, created_at FROM files WHERE submission_id = $1 ORDER BY created_at, id",
        args![sid.to_text()],
    )
    .await
}

/// Makes a stored file the member's profile photo.
pub async fn set_profile_photo(tx: &mut Tx, member: AccountId, file: FileId) -> StoreResult<()> {
    tx.exec(
        "UPDATE profiles SET photo_file_id = $2 WHERE account_id = $1",
        args![member.to_text(), file.to_text()],
    )
    .await?;
    Ok(())
}
