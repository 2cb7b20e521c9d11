//! `hiatus-bench generate` end to end: the binary loads a data set, and the member it prints can log
//! in, see preflight and deactivate through the service layer like any signed-up member.

use hiatus_domain::ClosureReason;
use hiatus_domain::preflight::Intent;
use hiatus_service::lifecycle::CloseRequest;
use hiatus_service::{Hiatus, PasswordParams, ServiceConfig, SystemClock};
use hiatus_store::{Blobs, Db, DbOptions, Keyring, SecretKey};
use std::process::Command;
use std::sync::Arc;

fn generate(dir: &std::path::Path, key: &str) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_hiatus-bench"))
        .args(["--data-dir"])
        .arg(dir)
        .args([
            "--master-key",
            key,
            "--insecure-fast-passwords",
            "--log",
            "warn",
            "generate",
            "--profile",
            "m",
            "--accounts",
            "60",
            "--seed",
            "9",
            "--no-files",
            "--json",
        ])
        .output()
        .expect("the hiatus-bench binary runs")
}

#[tokio::test]
async fn the_generated_member_logs_in_and_can_take_a_break() {
    let dir = tempfile::tempdir().unwrap();
    let key = SecretKey::generate().to_hex();
    let out = generate(dir.path(), &key);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["tables"]["contracts"], 30 + 40);
    assert!(summary["tables"]["messages"].as_u64().unwrap() >= 2_000);
    assert!(summary["rows_per_second"].as_f64().unwrap() > 0.0);
    let email = summary["login"]["email"].as_str().unwrap().to_string();
    let password = summary["login"]["password"].as_str().unwrap().to_string();

    // The same seed again is refused, with a message saying what to do.
    let again = generate(dir.path(), &key);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("another seed"));

    let db = Db::open_sqlite(&dir.path().join("hiatus.db"), &DbOptions::default())
        .await
        .unwrap();
    let h = Hiatus::new(
        db,
        Blobs::local(dir.path().join("files")).unwrap(),
        // The generator wrapped data keys under the epoch keys of the data folder's keyring.
        Keyring::open_file(
            SecretKey::from_hex(&key).unwrap(),
            &dir.path().join("keyring"),
        )
        .unwrap(),
        Arc::new(SystemClock),
        ServiceConfig {
            password: PasswordParams::FAST,
            ..Default::default()
        },
    );
    assert!(h.login(&email, "not the password").await.is_err());
    let login = h.login(&email, &password).await.unwrap();
    let actor = h.authenticate(&login.token).await.unwrap();
    let me = h.me(&actor).await.unwrap();
    assert_eq!(me.email, email);

    let pre = h.preflight(&actor, Intent::Deactivate, None).await.unwrap();
    assert!(pre.can_proceed(), "{:?}", pre.blockers);
    assert!(!pre.warnings.is_empty());
    h.deactivate(
        &actor,
        CloseRequest {
            password: Some(password),
            reason: ClosureReason::TakingABreak,
            detail: None,
        },
    )
    .await
    .unwrap();
    h.reactivate(&actor).await.unwrap();
    h.db.close().await;
}
