//! The one storage boundary of hiatus: the database (SQLite or PostgreSQL from one code base),
//! migrations, repositories that return domain types, the job queue, blob storage, and
//! encryption of personal data at rest.

#![forbid(unsafe_code)]

pub mod accounts;
pub mod audit;
#[cfg(feature = "generator")]
pub mod bench_support;
pub mod blobs;
#[cfg(feature = "generator")]
pub mod bulk;
pub mod cancel_links;
pub mod closures;
pub mod crypto;
pub mod db;
pub mod epochs;
pub mod erasure_check;
pub mod erasures;
pub mod error;
pub mod export_data;
pub mod exports;
pub mod facts;
pub mod invoice_pdfs;
pub mod jobs;
pub mod key_epochs;
pub mod mail;
pub mod market;
pub mod notices;
pub mod policy;
pub mod restorations;
pub mod sealing;
pub mod sessions;
pub mod signup_confirmations;
pub mod stats;
#[cfg(feature = "testing")]
pub mod testing;
pub mod throttle;
pub mod webhooks;

#[cfg(feature = "s3")]
pub use blobs::S3Options;
pub use blobs::{Blobs, ByteStream};
pub use crypto::{DataKey, Keyring, SecretKey};
pub use db::{Backend, Db, DbOptions, Tx};
pub use error::{StoreError, StoreResult};
