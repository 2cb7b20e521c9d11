//! `hiatus export`: an operator builds a member's export archive at once, with a progress bar,
//! and writes it to a file.

use anyhow::{Context, Result, bail};
use clap::Args;
use hiatus_service::export::BuildOutcome;
use indicatif::{ProgressBar, ProgressStyle};
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::config::{self, Global};

/// Options of `export`.
#[derive(Args, Debug)]
pub struct ExportArgs {
    /// The member: an account id or an email address.
    #[arg(long)]
    pub account: String,
    /// Where to write the archive (a .zip file; must not exist).
    #[arg(long)]
    pub out: PathBuf,
    /// Only what changed from this date (YYYY-MM-DD, UTC) or time (RFC 3339).
    #[arg(long)]
    pub since: Option<String>,
    /// No progress bar (for scripts).
    #[arg(long)]
    pub quiet: bool,
}

pub async fn run(g: &Global, a: ExportArgs) -> Result<()> {
    if a.out.exists() {
        bail!("{} already exists; choose another --out", a.out.display());
    }
    let since = match &a.since {
        Some(s) => Some(hiatus_web::api::export::parse_since(s).map_err(|_| {
            anyhow::anyhow!("--since must be a date like 2026-01-31 or an RFC 3339 time")
        })?),
        None => None,
    };
    let h = config::hiatus(g).await?;
    let member = h
        .find_account(&a.account)
        .await
        .with_context(|| format!("finding account {}", a.account))?;
    let view = h.request_export_for(member, since, None).await?;
    let bar = if a.quiet {
        ProgressBar::hidden()
    } else {
        ProgressBar::new(100)
    };
    bar.set_style(
        ProgressStyle::with_template("{spinner} [{elapsed_precise}] {bar:40} {percent:>3}% {msg}")
            .expect("a valid template"),
    );
    let watcher = {
        let h = h.clone();
        let bar = bar.clone();
        let id = view.id.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_millis(250)).await;
                if let Ok(rows) = h.export_progress(&id).await {
                    bar.set_position(rows.percent as u64);
                    bar.set_message(format!(
                        "{}/{} records, {}/{} MiB of files",
                        rows.records_done,
                        rows.records_total,
                        rows.bytes_done >> 20,
                        rows.bytes_total >> 20
                    ));
                }
            }
        })
    };
    let outcome = h.build_export(&view.id, None).await;
    watcher.abort();
    bar.finish_and_clear();
    let outcome = outcome?;
    let BuildOutcome::Ready {
        size_bytes,
        records,
    } = outcome
    else {
        bail!("the export was not built (it was cancelled or already finished)");
    };
    copy_out(
        &h.blobs,
        &hiatus_service::export::archive_key(&view.id),
        size_bytes as u64,
        &a.out,
    )
    .await
    .with_context(|| format!("writing {}", a.out.display()))?;
    eprintln!(
        "wrote {} ({} records, {:.1} MiB); check it with: hiatus verify {} --public-key {}",
        a.out.display(),
        records,
        size_bytes as f64 / 1048576.0,
        a.out.display(),
        hex::encode(h.export_public_key().to_bytes())
    );
    h.db.close().await;
    Ok(())
}

/// Copies an archive out of the file storage (a local folder or an object store), streamed.
async fn copy_out(blobs: &hiatus_store::Blobs, key: &str, size: u64, out: &Path) -> Result<()> {
    use futures_util::StreamExt;
    use tokio::io::AsyncWriteExt;
    let mut chunks = blobs.read(key, 0..size).await?;
    let mut file = tokio::fs::File::create(out).await?;
    while let Some(chunk) = chunks.next().await {
        file.write_all(&chunk?).await?;
    }
    file.flush().await?;
    Ok(())
}
