//! The attack table: one row per attack and backend, written where `scripts/test` collects
//! them (`<target tmp>/attacks/*.tsv`), and printed to the test's own output.

use std::io::Write;
use std::path::PathBuf;

/// Where the rows go: one file per row, so tests running in parallel never share a file.
#[allow(dead_code)]
pub fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("attacks")
}

/// Records one attack: `attempts` tries, of which `successes` achieved what the attacker
/// wanted. Fails the calling test when any attempt succeeded.
// The first attacks land with the fixes they prove.
#[allow(dead_code)]
pub fn report(attack: &str, backend: &str, attempts: u64, successes: u64) {
    let line = format!("{attack}\t{backend}\t{attempts}\t{successes}\n");
    eprint!("attack: {line}");
    let dir = dir();
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
