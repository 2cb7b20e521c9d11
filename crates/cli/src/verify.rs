//! `hiatus verify`: checks an export archive offline.

use anyhow::{Context, Result, bail};
use clap::Args;
use hiatus_archive::VerifyingKey;
use std::path::PathBuf;

/// Options of `verify`.
#[derive(Args, Debug)]
pub struct VerifyArgs {
    /// The archive (a .zip downloaded from hiatus).
    pub archive: PathBuf,
    /// The server's public key (64 hex digits, as the server publishes it). Without it the
    /// key inside the archive is used: that proves the archive is whole, not who made it.
    #[arg(long)]
    pub public_key: Option<String>,
    /// Print the report as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

fn parse_key(hex_text: &str) -> Result<VerifyingKey> {
    let bytes = hex::decode(hex_text.trim()).context("--public-key must be 64 hex digits")?;
    let arr: [u8; 32] = bytes
        .try_into()
        .map_err(|_| anyhow::anyhow!("--public-key must be 64 hex digits (32 bytes)"))?;
    VerifyingKey::from_bytes(&arr).context("--public-key is not a valid Ed25519 public key")
}

/// Runs the verification; exits non-zero when anything is wrong.
pub fn run(a: VerifyArgs) -> Result<()> {
    let key = a.public_key.as_deref().map(parse_key).transpose()?;
    let file = std::fs::File::open(&a.archive)
        .with_context(|| format!("opening {}", a.archive.display()))?;
    let report = hiatus_archive::verify(std::io::BufReader::new(file), key.as_ref());
    if a.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!("archive   {}", a.archive.display());
        println!("account   {}", report.account_id.as_deref().unwrap_or("?"));
        println!("created   {}", report.created_at.as_deref().unwrap_or("?"));
        println!(
            "signer    {}{}",
            report.signer.as_deref().unwrap_or("none"),
            if key.is_some() {
                " (as expected)"
            } else {
                " (key inside the archive)"
            }
        );
        println!(
            "checked   {} files, {} bytes",
            report.files_checked, report.bytes_checked
        );
        for (cat, n) in &report.exported {
            let held = report
                .held
                .get(cat)
                .map(|h| h.to_string())
                .unwrap_or_else(|| "?".into());
            println!("  {cat:<24} {n} exported of {held} held");
        }
        if report.ok() {
            println!(
                "OK: every file is present, whole and listed, and the manifest's signature is valid"
            );
        } else {
            for p in &report.problems {
                println!("PROBLEM {}: {}", p.code, p.detail);
            }
        }
    }
    if !report.ok() {
        bail!(
            "the archive failed verification ({} problem(s))",
            report.problems.len()
        );
    }
    Ok(())
}
