//! Errors of the storage layer.

/// What can go wrong below the service layer. The message is for logs and operators; the
/// service layer decides what a person is told.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("database error: {0}")]
    Database(#[source] sqlx::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("decryption failed for {0}: wrong master key or tampered data")]
    Decrypt(String),
    #[error("the data key of this account was destroyed")]
    KeyDestroyed,
    #[error("data key wrapped under retired epoch {0}: its key was destroyed")]
    KeyRetired(u64),
    #[error("blob storage: {0}")]
    Blob(#[from] std::io::Error),
    #[error("stored data is not valid: {0}")]
    Corrupt(String),
    #[error("configuration: {0}")]
    Config(String),
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        match &e {
            sqlx::Error::RowNotFound => StoreError::NotFound,
            sqlx::Error::Database(db) if db.is_unique_violation() => {
                StoreError::Conflict(db.constraint().unwrap_or("unique").to_string())
            }
            _ => StoreError::Database(e),
        }
    }
}

/// Result of the storage layer.
pub type StoreResult<T> = Result<T, StoreError>;
