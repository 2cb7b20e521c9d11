//! The attack suite: each test reproduces an attack that once worked against hiatus (or one
//! that a hostile counterparty, a stolen session, a flood of concurrent requests or a copy of
//! the disk would try) and asserts that it fails, on SQLite and on PostgreSQL.
//!
//! Every attack reports how often it was tried and how often it succeeded through
//! [`tally::report`]; `scripts/test` prints the rows as one table after the run. A success
//! count above zero fails the test that measured it.

#[path = "../support/mod.rs"]
mod support;

mod erased_address;
mod erasure_race;
mod tally;

/// Runs every listed attack (an `async fn(Backend)` in the calling module, which starts the
/// app it needs) once per backend, as `sqlite::<name>` and `postgres::<name>`.
macro_rules! attack_on_both {
    ($($name:ident),* $(,)?) => {
        hiatus_testkit::on_both!($($name),*);
    };
}
pub(crate) use attack_on_both;

mod auth;
mod consent;
mod forms;
mod money;
mod proxies;
mod visibility;
mod webhooks;
