//! The attack table: one row per attack and backend, written where `scripts/test` collects
//! them (`<target tmp>/attacks/*.tsv`, `attack\tbackend\tattempts\tsuccesses`), and printed to
//! the test's own output.

use std::io::Write;
use std::path::{Path, PathBuf};

/// Where the rows go under a test binary's `CARGO_TARGET_TMPDIR`: one file per row, so tests
/// running in parallel never share a file.
pub fn dir(target_tmp: &Path) -> PathBuf {
    target_tmp.join("attacks")
}

/// Records one attack: `attempts` tries, of which `successes` achieved what the attacker
/// wanted. Fails the calling test when any attempt succeeded, or when none was made.
pub fn report(target_tmp: &Path, attack: &str, backend: &str, attempts: u64, successes: u64) {
    let line = format!("{attack}\t{backend}\t{attempts}\t{successes}\n");
    eprint!("attack: {line}");
    let dir = dir(target_tmp);
    std::fs::create_dir_all(&dir).expect("attack table folder");
    let slug: String = format!("{attack}-{backend}")
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    let mut f = std::fs::File::create(dir.join(format!("{slug}.tsv"))).expect("attack row");
    f.write_all(line.as_bytes()).expect("write the attack row");
    assert!(
        attempts > 0,
        "{attack} on {backend}: the attack was never tried"
    );
    assert_eq!(
        successes, 0,
        "{attack} on {backend}: {successes} of {attempts} attempts succeeded"
    );
}

/// `report_attack!(attack, backend, attempts, successes)`: [`report`] into the calling test
/// binary's `CARGO_TARGET_TMPDIR`.
#[macro_export]
macro_rules! report_attack {
    ($attack:expr, $backend:expr, $attempts:expr, $successes:expr $(,)?) => {
        $crate::attacks::report(
            ::std::path::Path::new(env!("CARGO_TARGET_TMPDIR")),
            $attack,
            $backend,
            $attempts,
            $successes,
        )
    };
}
