//! The offline viewer of a REAL export: the generated `M` member (40 contracts and threads,
//! 2,000 messages, 100 files) is exported by the `hiatus` binary, the archive is unpacked
//! (without the file bytes, which the viewer only links to), and headless Chromium opens
//! `index.html` from a `file://` URL: the thread list shows, a thread opens with its messages
//! exactly as the archive's data holds them, every section renders, and nothing goes wrong in
//! the console. The viewer at the scale of the `L` member (2,000 threads, 200,000 messages)
//! is tested on a synthetic archive in `viewer.rs`; exporting the `L` member is measured by
//! `scripts/bench export`.
//!
//! Needs Chromium and chromedriver: run `scripts/ensure-chromium` first.

#[path = "support/browser.rs"]
mod browser;

use browser::{Browser, SECTIONS};
use serde_json::Value;
use std::io::Read;
use std::path::Path;
use std::process::Command;

fn hiatus(dir: &Path, key: &str, args: &[&str]) -> std::process::Output {
    let out = Command::new(env!("CARGO_BIN_EXE_hiatus"))
        .arg("--data-dir")
        .arg(dir)
        .args([
            "--master-key",
            key,
            "--insecure-fast-passwords",
            "--log",
            "warn",
        ])
        .args(args)
        .output()
        .expect("the hiatus binary runs");
    assert!(
        out.status.success(),
        "hiatus {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Unpacks everything but `files/` into `dir`; returns the archive's messages and threads.
fn unpack(archive: &Path, dir: &Path) -> (Value, Value) {
    let mut zip = zip::ZipArchive::new(std::fs::File::open(archive).unwrap()).unwrap();
    let mut messages = Value::Null;
    let mut threads = Value::Null;
    for i in 0..zip.len() {
        let mut f = zip.by_index(i).unwrap();
        let name = f.enclosed_name().expect("a safe name");
        if name.starts_with("files") {
            continue;
        }
        let mut bytes = Vec::new();
        f.read_to_end(&mut bytes).unwrap();
        if name == Path::new("data/messages.json") {
            messages = serde_json::from_slice(&bytes).unwrap();
        }
        if name == Path::new("data/threads.json") {
            threads = serde_json::from_slice(&bytes).unwrap();
        }
        let out = dir.join(&name);
        std::fs::create_dir_all(out.parent().unwrap()).unwrap();
        std::fs::write(out, bytes).unwrap();
    }
    (messages, threads)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_viewer_of_a_real_export_lists_threads_and_opens_one() {
    let data = tempfile::tempdir().unwrap();
    let key = "5e".repeat(32);
    let out = hiatus(
        data.path(),
        &key,
        &["generate", "--profile", "m", "--seed", "21", "--json"],
    );
    let summary: Value = serde_json::from_slice(&out.stdout).unwrap();
    let email = summary["login"]["email"].as_str().unwrap().to_string();
    let archive = data.path().join("m.zip");
    hiatus(
        data.path(),
        &key,
        &[
            "export",
            "--account",
            &email,
            "--out",
            archive.to_str().unwrap(),
            "--quiet",
        ],
    );
    let site = tempfile::tempdir().unwrap();
    let (messages, threads) = unpack(&archive, site.path());
    let messages = messages.as_array().expect("data/messages.json is an array");
    let threads = threads.as_array().expect("data/threads.json is an array");
    assert_eq!(messages.len(), 2_000);
    assert_eq!(threads.len(), 40);

    let b = Browser::start().await;
    browser::open_viewer(&b, site.path()).await;
    browser::show_section(&b, "messages").await;
    let links = browser::thread_links(&b).await;
    assert_eq!(links.len(), threads.len(), "every thread on the first page");

    // The first listed thread shows its first part: the archive's messages, oldest first.
    let (thread, _) = &links[0];
    let expected: Vec<String> = messages
        .iter()
        .filter(|m| m["thread_id"] == thread.as_str())
        .take(500)
        .map(|m| m["body"].as_str().unwrap().to_string())
        .collect();
    assert!(!expected.is_empty(), "thread {thread} has messages");
    b.click(&format!(r#"a.thread-link[data-thread-id="{thread}"]"#))
        .await;
    browser::check_thread(&b, thread, 0, &expected).await;

    for section in SECTIONS {
        browser::show_section(&b, section).await;
    }
    b.assert_no_errors("the viewer of the M export").await;
    b.assert_no_alert("the viewer of the M export").await;
    b.quit().await;
}
