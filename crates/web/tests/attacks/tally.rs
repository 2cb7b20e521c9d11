//! The attack table: one row per attack and backend, written where `scripts/test` collects
//! them (`<target tmp>/attacks/*.tsv`), and printed to the test's own output.

/// Records one attack: `attempts` tries, of which `successes` achieved what the attacker
/// wanted. Fails the calling test when any attempt succeeded.
pub fn report(attack: &str, backend: &str, attempts: u64, successes: u64) {
    hiatus_testkit::report_attack!(attack, backend, attempts, successes);
}
