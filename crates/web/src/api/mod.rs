//! The JSON API handlers.

pub mod account;
pub mod market;
