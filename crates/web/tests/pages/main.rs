//! The account pages driven like a browser without JavaScript: forms posted with their
//! tokens, redirects followed one by one. Each scenario runs on SQLite and on PostgreSQL.

#[path = "../support/mod.rs"]
mod support;

mod browser;
mod flows;
mod resolve;
mod safety;
mod signup;
mod staff;
