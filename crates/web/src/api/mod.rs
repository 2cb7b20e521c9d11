//! The JSON API handlers.

pub mod account;
pub mod export;
pub mod market;
