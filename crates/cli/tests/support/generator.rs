//! The data generator, `hiatus-bench generate`: a separate binary, kept out of `hiatus`.
//! `cargo test --workspace` builds it beside `hiatus` (the bench crate's own tests need it).
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// The `hiatus-bench` binary, beside the `hiatus` binary under test.
pub fn hiatus_bench() -> PathBuf {
    let path = Path::new(env!("CARGO_BIN_EXE_hiatus"))
        .with_file_name(format!("hiatus-bench{}", std::env::consts::EXE_SUFFIX));
    assert!(
        path.exists(),
        "{} is missing: run the tests with `cargo test --workspace`, or build it first with \
         `cargo build -p hiatus-bench` and the same features as these tests",
        path.display()
    );
    path
}

/// `c` (a `hiatus` command line) run by `hiatus-bench` instead: the same options,
/// environment and working folder.
pub fn on_bench(c: &Command) -> Command {
    let mut b = Command::new(hiatus_bench());
    b.args(c.get_args());
    for (k, v) in c.get_envs() {
        match v {
            Some(v) => b.env(k, v),
            None => b.env_remove(k),
        };
    }
    if let Some(dir) = c.get_current_dir() {
        b.current_dir(dir);
    }
    b
}
