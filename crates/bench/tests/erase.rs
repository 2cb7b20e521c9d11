//! `hiatus-bench erase` end to end on a small generated member (SQLite): the floor
//! (`scripts/bench-erase-floor.sql`) and the executor must end with the same rows, or the
//! benchmark fails. A change to what erasure does that the floor does not follow fails here,
//! not in the next `scripts/bench erase`.

use hiatus_store::SecretKey;
use std::path::Path;
use std::process::{Command, Output};

fn bench(dir: &Path, key: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_hiatus-bench"))
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
        .expect("the hiatus-bench binary runs")
}

fn succeeded(out: &Output) -> serde_json::Value {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn the_floor_ends_where_the_executor_does() {
    let dir = tempfile::tempdir().unwrap();
    let key = SecretKey::generate().to_hex();
    let generated = succeeded(&bench(
        dir.path(),
        &key,
        &[
            "generate",
            "--profile",
            "m",
            "--accounts",
            "40",
            "--seed",
            "3",
            "--no-files",
            "--json",
        ],
    ));
    let email = generated["login"]["email"].as_str().unwrap();
    // One untimed and one timed run of each, and the executor rule by rule: five end states
    // compared with the first floor's.
    let erased = succeeded(&bench(
        dir.path(),
        &key,
        &[
            "erase",
            "--email",
            email,
            "--runs",
            "1",
            "--no-load",
            "--json",
        ],
    ));
    assert_eq!(erased["check"]["equal"], true);
    assert_eq!(erased["check"]["runs_compared"], 5);
    // The check covers what the member had: reviews on both sides, history, contracts.
    let plan = erased["plan"].as_array().unwrap();
    let rows = |table: &str, column: &str| -> i64 {
        plan.iter()
            .filter(|r| r["table"] == table && r["column"] == column)
            .map(|r| r["rows"].as_i64().unwrap())
            .sum()
    };
    assert!(rows("reviews", "subject_id") > 0, "{plan:?}");
    assert!(rows("audit_events", "account_id") > 0, "{plan:?}");
    assert!(rows("contracts", "freelancer_id") > 0, "{plan:?}");
}
