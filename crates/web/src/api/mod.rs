//! The JSON API handlers.

pub mod account;
pub mod erasure;
pub mod export;
pub mod market;
pub mod notices;
pub mod support;
pub mod webhooks;
