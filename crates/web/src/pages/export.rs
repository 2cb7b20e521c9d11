//! The data export page: history, progress, a freshly minted link per download, and how to
//! check an archive offline.

use super::account::Done;
use super::guard::{Fields, Member, PageQuery};
use super::view::{self, Layout, render, see_other};
use crate::AppState;
use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;

/// An export as the pages show it.
pub struct ExportLine {
    pub id: String,
    pub status: String,
    pub percent: u8,
    pub created: String,
    pub expires: Option<String>,
    pub size: Option<String>,
    pub downloaded: Option<String>,
    pub error: Option<String>,
}

impl ExportLine {
    pub fn of(v: &hiatus_service::export::ExportView) -> Self {
        let day = |t: &str| t.get(..10).unwrap_or(t).to_string();
        ExportLine {
            id: v.id.clone(),
            status: v.status.clone(),
            percent: v.progress.percent,
            created: v
                .created_at
                .get(..16)
                .unwrap_or(&v.created_at)
                .replace('T', " "),
            expires: v.expires_at.as_deref().map(day),
            size: v.size_bytes.map(size_words),
            downloaded: v.downloaded_at.as_deref().map(day),
            error: v.error.clone(),
        }
    }
    pub fn pending(&self) -> bool {
        self.status == "queued" || self.status == "running"
    }
}

/// A size in bytes as a person reads it.
pub fn size_words(b: i64) -> String {
    const MB: i64 = 1024 * 1024;
    if b >= MB {
        format!("{:.1} MB", b as f64 / MB as f64)
    } else {
        format!("{} KB", (b + 1023) / 1024)
    }
}

#[derive(Template)]
#[template(path = "export.html")]
struct ExportPage {
    l: Layout,
    exports: Vec<ExportLine>,
    pending: bool,
    can_export: bool,
    /// The key archives are signed with, for `hiatus verify --public-key`.
    public_key: String,
}

/// GET /settings/export
pub async fn page(State(s): State<AppState>, m: Member, PageQuery(q): PageQuery<Done>) -> Response {
    let l = Layout::member(&m, "export").with_notice(q.ok.as_deref());
    match s.hiatus.my_exports(&m.actor).await {
        Ok(list) => {
            let exports: Vec<ExportLine> = list.iter().map(ExportLine::of).collect();
            render(
                StatusCode::OK,
                ExportPage {
                    l,
                    pending: exports.iter().any(ExportLine::pending),
                    can_export: m.actor.effects().export,
                    public_key: hex::encode(s.hiatus.export_public_key().to_bytes()),
                    exports,
                },
            )
        }
        Err(e) => view::failure(l, e, "/account"),
    }
}

/// Where to go after requesting: back to the closing flow's backup step, or this page.
fn after_request(f: &Fields) -> String {
    match f.get("return") {
        Some("close-deactivate") => "/settings/close/backup?intent=deactivate&ack=1".into(),
        Some("close-delete") => "/settings/close/backup?intent=delete&ack=1".into(),
        _ => "/settings/export?ok=export_requested".into(),
    }
}

/// POST /settings/export: request a new export of everything.
pub async fn request(State(s): State<AppState>, m: Member, f: Fields) -> Response {
    match s.hiatus.request_export(&m.actor, None).await {
        Ok(_) => see_other(&after_request(&f)),
        Err(e) => view::failure(Layout::member(&m, "export"), e, "/settings/export"),
    }
}

/// POST /settings/export/{id}/download: mints a link for this click and follows it.
pub async fn download(
    State(s): State<AppState>,
    m: Member,
    Path(id): Path<String>,
    _: Fields,
) -> Response {
    match s.hiatus.mint_download_link(&m.actor, &id).await {
        Ok((_, link)) => see_other(&link.url),
        Err(e) => view::failure(Layout::member(&m, "export"), e, "/settings/export"),
    }
}
