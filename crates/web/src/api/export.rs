//! "Download your data": request an export, watch it, mint a download link, download (with
//! range requests, so a large download can resume), and the key that verifies archives.

use crate::AppState;
use crate::extract::{ApiJson, ApiPath, Auth};
use crate::problem::{ApiError, ApiResult};
use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use hiatus_service::export::{DownloadLink, ExportView, Serves};
use serde::{Deserialize, Serialize};

use utoipa::ToSchema;

/// What to export.
#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct ExportBody {
    /// Only what changed from this date (`YYYY-MM-DD`, UTC) or time (RFC 3339): an
    /// incremental export. Leave out for everything.
    #[serde(default)]
    #[schema(example = "2026-01-31")]
    pub since: Option<String>,
}

/// Parses `YYYY-MM-DD` (midnight UTC) or an RFC 3339 time into microseconds.
pub fn parse_since(s: &str) -> Result<i64, ApiError> {
    let bad = || {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "since_invalid",
            "since must be a date like 2026-01-31 or a time like 2026-01-31T12:00:00Z",
        )
    };
    let s = s.trim();
    if let Ok(d) = s.parse::<jiff::civil::Date>() {
        return format!("{d}T00:00:00Z")
            .parse::<jiff::Timestamp>()
            .map(|t| t.as_microsecond())
            .map_err(|_| bad());
    }
    s.parse::<jiff::Timestamp>()
        .map(|t| t.as_microsecond())
        .map_err(|_| bad())
}

/// Requests an export of the caller's data (send `{}` for everything). The archive is built in
/// the background; poll the export for progress.
#[utoipa::path(post, path = "/api/v1/me/exports", tag = "exports", security(("bearer" = [])),
    request_body = ExportBody,
    responses((status = 202, description = "Export queued", body = ExportView)))]
pub async fn request(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiJson(b): ApiJson<ExportBody>,
) -> ApiResult<(StatusCode, Json<ExportView>)> {
    let since = b.since.as_deref().map(parse_since).transpose()?;
    Ok((
        StatusCode::ACCEPTED,
        Json(s.hiatus.request_export(&a, since).await?),
    ))
}

/// The caller's exports, newest first.
#[utoipa::path(get, path = "/api/v1/me/exports", tag = "exports", security(("bearer" = [])),
    responses((status = 200, description = "Exports", body = [ExportView])))]
pub async fn list(State(s): State<AppState>, Auth(a): Auth) -> ApiResult<Json<Vec<ExportView>>> {
    Ok(Json(s.hiatus.my_exports(&a).await?))
}

/// One export, with its progress.
#[utoipa::path(get, path = "/api/v1/me/exports/{id}", tag = "exports", security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "Export id")),
    responses((status = 200, description = "The export", body = ExportView)))]
pub async fn get(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiPath(id): ApiPath<uuid::Uuid>,
) -> ApiResult<Json<ExportView>> {
    Ok(Json(s.hiatus.my_export(&a, &id.to_string()).await?))
}

/// Mints a download link for a ready export: valid for a few minutes, only in the owner's
/// session.
#[utoipa::path(post, path = "/api/v1/me/exports/{id}/links", tag = "exports", security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "Export id")),
    responses((status = 201, description = "A download link", body = DownloadLink),
        (status = 410, description = "The export expired", body = crate::problem::Problem, content_type = "application/problem+json")))]
pub async fn mint_link(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiPath(id): ApiPath<uuid::Uuid>,
) -> ApiResult<(StatusCode, Json<DownloadLink>)> {
    let (_, link) = s.hiatus.mint_download_link(&a, &id.to_string()).await?;
    Ok((StatusCode::CREATED, Json(link)))
}

/// A byte range of a file of `size` bytes, from a `Range` header. `Ok(None)`: the whole file.
fn parse_range(headers: &HeaderMap, size: u64) -> Result<Option<(u64, u64)>, ()> {
    let Some(v) = headers.get(header::RANGE).and_then(|v| v.to_str().ok()) else {
        return Ok(None);
    };
    let Some(spec) = v.trim().strip_prefix("bytes=") else {
        return Ok(None);
    };
    if spec.contains(',') {
        // Several ranges: serve the whole file, which the standard allows.
        return Ok(None);
    }
    let (a, b) = spec.split_once('-').ok_or(())?;
    let (a, b) = (a.trim(), b.trim());
    let (start, end) = if a.is_empty() {
        let n: u64 = b.parse().map_err(|_| ())?;
        if n == 0 {
            return Err(());
        }
        (size.saturating_sub(n), size.saturating_sub(1))
    } else {
        let start: u64 = a.parse().map_err(|_| ())?;
        let end: u64 = if b.is_empty() {
            size.saturating_sub(1)
        } else {
            b.parse::<u64>()
                .map_err(|_| ())?
                .min(size.saturating_sub(1))
        };
        (start, end)
    };
    if size == 0 || start > end || start >= size {
        return Err(());
    }
    Ok(Some((start, end)))
}

/// Downloads an archive through a minted link. Only the owner, logged in, before the link
/// expires (another member: 404; no session: 401; expired: 410). Supports `Range`.
#[utoipa::path(get, path = "/api/v1/export-downloads/{token}", tag = "exports", security(("bearer" = [])),
    params(("token" = String, Path, description = "The link's token")),
    responses((status = 200, description = "The archive", content_type = "application/zip"),
        (status = 206, description = "Part of the archive", content_type = "application/zip"),
        (status = 410, description = "The link expired", body = crate::problem::Problem, content_type = "application/problem+json"),
        (status = 416, description = "The range is outside the file", body = crate::problem::Problem, content_type = "application/problem+json")))]
pub async fn download(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiPath(token): ApiPath<String>,
    method: axum::http::Method,
    headers: HeaderMap,
) -> ApiResult<Response> {
    if token.len() > 128 {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            "download link not found",
        ));
    }
    let raw_range = headers.get(header::RANGE).and_then(|v| v.to_str().ok());
    let d = s
        .hiatus
        .open_download(&a, &token, raw_range, |size| {
            // A HEAD probe and a refused range transfer nothing: not downloads.
            match parse_range(&headers, size) {
                _ if method == axum::http::Method::HEAD => Serves::Nothing,
                Err(()) => Serves::Nothing,
                Ok(Some((_, end))) if end + 1 < size => Serves::Part,
                Ok(_) => Serves::ToTheEnd,
            }
        })
        .await?;
    let range = match parse_range(&headers, d.size) {
        Ok(r) => r,
        Err(()) => {
            let mut e = ApiError::new(
                StatusCode::RANGE_NOT_SATISFIABLE,
                "range_not_satisfiable",
                format!(
                    "the archive has {} bytes; ask for a range inside it",
                    d.size
                ),
            )
            .into_response();
            if let Ok(v) = HeaderValue::from_str(&format!("bytes */{}", d.size)) {
                e.headers_mut().insert(header::CONTENT_RANGE, v);
            }
            return Ok(e);
        }
    };
    let (status, start, len) = match range {
        Some((a, b)) => (StatusCode::PARTIAL_CONTENT, a, b - a + 1),
        None => (StatusCode::OK, 0, d.size),
    };
    let chunks = s
        .hiatus
        .read_download(&d, start..start + len)
        .await
        .map_err(|e| match e {
            hiatus_service::ServiceError::Internal(e) => {
                tracing::error!(error = %e, "reading an export archive");
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "storage_unavailable",
                    "the archive cannot be read right now; try again in a few minutes",
                )
            }
            e => ApiError::from(e),
        })?;
    let body = Body::from_stream(chunks);
    let mut res = Response::new(body);
    *res.status_mut() = status;
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/zip"),
    );
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-store"),
    );
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{}\"", d.file_name)) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    if let Some((a, b)) = range
        && let Ok(v) = HeaderValue::from_str(&format!("bytes {a}-{b}/{}", d.size))
    {
        h.insert(header::CONTENT_RANGE, v);
    }
    Ok(res)
}

/// The key that signs export archives.
#[derive(Serialize, ToSchema)]
pub struct ExportKey {
    /// Always `Ed25519`.
    pub algorithm: &'static str,
    /// The public key, 64 hex digits; pass it to `hiatus verify --public-key`.
    pub public_key: String,
}

/// The public key that verifies export archives (no login needed).
#[utoipa::path(get, path = "/api/v1/export-key", tag = "exports",
    responses((status = 200, description = "The signing key", body = ExportKey)))]
pub async fn key(State(s): State<AppState>) -> Json<ExportKey> {
    Json(ExportKey {
        algorithm: "Ed25519",
        public_key: hex::encode(s.hiatus.export_public_key().to_bytes()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(v: &str) -> HeaderMap {
        let mut m = HeaderMap::new();
        m.insert(header::RANGE, HeaderValue::from_str(v).unwrap());
        m
    }

    #[test]
    fn ranges() {
        assert_eq!(parse_range(&HeaderMap::new(), 100), Ok(None));
        assert_eq!(parse_range(&h("bytes=0-9"), 100), Ok(Some((0, 9))));
        assert_eq!(parse_range(&h("bytes=90-"), 100), Ok(Some((90, 99))));
        assert_eq!(parse_range(&h("bytes=-10"), 100), Ok(Some((90, 99))));
        assert_eq!(parse_range(&h("bytes=50-500"), 100), Ok(Some((50, 99))));
        assert_eq!(parse_range(&h("bytes=100-"), 100), Err(()));
        assert_eq!(parse_range(&h("bytes=9-1"), 100), Err(()));
        assert_eq!(parse_range(&h("bytes=x-1"), 100), Err(()));
        assert_eq!(parse_range(&h("bytes=0-1,5-6"), 100), Ok(None));
        assert_eq!(parse_range(&h("items=0-1"), 100), Ok(None));
    }

    #[test]
    fn since_dates() {
        assert_eq!(parse_since("1970-01-02").ok(), Some(86_400_000_000));
        assert_eq!(parse_since("1970-01-01T00:00:01Z").ok(), Some(1_000_000));
        assert!(parse_since("yesterday").is_err());
    }
}
