//! The behaviour suite: the product's rules (§3 effects of each account state, §5 preflight,
//! breaks, the audit trail) checked through the HTTP API, once on SQLite and once on
//! PostgreSQL, with identical expectations.

#[path = "../support/mod.rs"]
mod support;

mod admin;
mod audit;
mod breaks;
mod deletion;
mod effects;
mod export_safety;
mod exports;
mod metrics;
mod preflight;
mod restoration;
mod reviews;
mod signup;
