//! Files: uploads in JSON bodies, private files and downloads.

use crate::AppState;
use crate::extract::{ApiJson, ApiPath, Auth};
use crate::problem::{ApiError, ApiResult};
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use hiatus_domain::*;
use hiatus_service::market::Upload;
use serde::Deserialize;
use utoipa::ToSchema;

/// A file in a JSON body.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FileBody {
    pub name: String,
    pub content_type: String,
    /// The bytes, base64 (standard alphabet, padded).
    pub data_base64: String,
}

impl FileBody {
    pub(super) fn upload(self) -> ApiResult<Upload> {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(self.data_base64.as_bytes())
            .map_err(|_| {
                ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "invalid_base64",
                    "data_base64 is not valid base64",
                )
            })?;
        Ok(Upload {
            name: self.name,
            content_type: self.content_type,
            bytes,
        })
    }
}

/// A private file to store (encrypted under the member's key).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PrivateFileBody {
    /// `photo` (becomes the profile photo) or `private`.
    pub kind: FileKind,
    pub name: String,
    pub content_type: String,
    pub data_base64: String,
}

/// Uploads a profile photo or private file.
#[utoipa::path(post, path = "/api/v1/files", tag = "files", security(("bearer" = [])), request_body = PrivateFileBody,
    responses((status = 201, description = "Stored", body = FileMeta)))]
pub async fn upload_file(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiJson(b): ApiJson<PrivateFileBody>,
) -> ApiResult<(StatusCode, Json<FileMeta>)> {
    let up = FileBody {
        name: b.name,
        content_type: b.content_type,
        data_base64: b.data_base64,
    }
    .upload()?;
    Ok((
        StatusCode::CREATED,
        Json(s.hiatus.upload_private_file(&a, b.kind, up).await?),
    ))
}

/// Downloads a file: the owner's own, or a shared one the caller is party to.
#[utoipa::path(get, path = "/api/v1/files/{id}", tag = "files", security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "File id")),
    responses((status = 200, description = "The bytes", content_type = "application/octet-stream", body = Vec<u8>)))]
pub async fn download_file(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiPath(id): ApiPath<FileId>,
) -> ApiResult<Response> {
    let (meta, bytes) = s.hiatus.download_file(&a, id).await?;
    let mut res = bytes.into_response();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    let safe: String = meta
        .name
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
        .take(100)
        .collect();
    if let Ok(v) = HeaderValue::from_str(&format!(
        "attachment; filename=\"{}\"",
        if safe.is_empty() { "file" } else { &safe }
    )) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-store"),
    );
    Ok(res)
}
