//! What a PostgreSQL server keeps on disk, read through the server.

use crate::error::StoreResult;

// ---- a PostgreSQL server's own files --------------------------------------------------------

/// One connection to a PostgreSQL database, for reading what the server keeps on disk (its
/// relation files and write-ahead log) the way a copy of its data folder would show it.
/// Needs a superuser.
pub struct ServerFiles(sqlx::PgConnection);

impl ServerFiles {
    pub async fn connect(url: &str) -> StoreResult<ServerFiles> {
        use sqlx::Connection;
        Ok(ServerFiles(sqlx::PgConnection::connect(url).await?))
    }

    /// The write-ahead log segment being written now.
    pub async fn current_wal_segment(&mut self) -> StoreResult<String> {
        Ok(
            sqlx::query_scalar("SELECT pg_walfile_name(pg_current_wal_lsn())")
                .fetch_one(&mut self.0)
                .await?,
        )
    }

    /// `VACUUM`, then `CHECKPOINT`: dead rows reclaimed, everything written to the files.
    pub async fn vacuum_and_checkpoint(&mut self) -> StoreResult<()> {
        sqlx::raw_sql("VACUUM").execute(&mut self.0).await?;
        sqlx::raw_sql("CHECKPOINT").execute(&mut self.0).await?;
        Ok(())
    }

    /// Every relation of the database (tables, their TOAST, indexes) with its file, relative
    /// to the server's data folder: (name, path).
    pub async fn relation_files(&mut self) -> StoreResult<Vec<(String, String)>> {
        Ok(sqlx::query_as(
            "SELECT c.relname::text AS name, pg_relation_filepath(c.oid) AS path FROM pg_class c \
             JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE n.nspname IN ('public', 'pg_toast') AND c.relkind IN ('r', 't', 'i') \
             AND pg_relation_filepath(c.oid) IS NOT NULL",
        )
        .fetch_all(&mut self.0)
        .await?)
    }

    /// The bytes of a file under the server's data folder, read by the server.
    pub async fn read(&mut self, path: &str) -> StoreResult<Vec<u8>> {
        Ok(sqlx::query_scalar("SELECT pg_read_binary_file($1)")
            .bind(path)
            .fetch_one(&mut self.0)
            .await?)
    }

    /// The write-ahead log segments from `first` on, in order.
    pub async fn wal_segments_since(&mut self, first: &str) -> StoreResult<Vec<String>> {
        Ok(sqlx::query_scalar(
            "SELECT name FROM pg_ls_waldir() WHERE name ~ '^[0-9A-F]{24}$' AND name >= $1 ORDER BY name",
        )
        .bind(first)
        .fetch_all(&mut self.0)
        .await?)
    }

    /// The bytes of write-ahead log segment `name`.
    pub async fn read_wal_segment(&mut self, name: &str) -> StoreResult<Vec<u8>> {
        self.read(&format!("pg_wal/{name}")).await
    }

    pub async fn close(self) -> StoreResult<()> {
        use sqlx::Connection;
        Ok(self.0.close().await?)
    }
}
