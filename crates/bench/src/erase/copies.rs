//! Fresh copies of the prepared database, one per run: SQLite copies the file, PostgreSQL
//! creates a database from the prepared one as a template.

use crate::config::{self, Global};
use anyhow::{Context, Result, anyhow, bail};
use hiatus_store::bench_support::postgres_copies;
use std::path::{Path, PathBuf};

/// Where the prepared database is and how to copy it.
pub enum Source {
    /// The SQLite file, and the folder the copies go to.
    Sqlite { base: PathBuf, dir: PathBuf },
    /// The server (URL without a database), the prepared database, the URL's query string.
    Postgres {
        server: String,
        base: String,
        query: String,
    },
}

impl Source {
    pub fn of(g: &Global) -> Result<Source> {
        let url = config::database_url(g);
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let (url, query) = match url.split_once('?') {
                Some((u, q)) => (u.to_string(), format!("?{q}")),
                None => (url.clone(), String::new()),
            };
            let (server, base) = url
                .rsplit_once('/')
                .filter(|(s, _)| s.contains("://") && !s.ends_with('/'))
                .ok_or_else(|| anyhow!("the database URL names no database"))?;
            if base.is_empty()
                || !base
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
            {
                bail!("the database name {base:?} is not a plain lower-case name");
            }
            Ok(Source::Postgres {
                server: server.to_string(),
                base: base.to_string(),
                query,
            })
        } else {
            let path = url
                .strip_prefix("sqlite://")
                .or_else(|| url.strip_prefix("sqlite:"))
                .unwrap_or(&url);
            Ok(Source::Sqlite {
                base: PathBuf::from(path),
                dir: g.data_dir.join("erase-bench-copies"),
            })
        }
    }

    /// A fresh copy of the prepared database, as the options to open it with.
    pub async fn copy(&self, g: &Global, n: u32) -> Result<Global> {
        let mut out = g.clone();
        match self {
            Source::Sqlite { base, dir } => {
                let wal = PathBuf::from(format!("{}-wal", base.display()));
                if std::fs::metadata(&wal).is_ok_and(|m| m.len() > 0) {
                    bail!(
                        "{} is not empty: another process has the database open",
                        wal.display()
                    );
                }
                std::fs::create_dir_all(dir)?;
                let path = dir.join(format!("run-{n}.db"));
                remove_sqlite(&path)?;
                std::fs::copy(base, &path)
                    .with_context(|| format!("copying {} to {}", base.display(), path.display()))?;
                // Written out now, so that writeback does not land in the timed run.
                std::fs::File::open(&path)?.sync_all()?;
                out.database_url = Some(format!("sqlite://{}", path.display()));
            }
            Source::Postgres {
                server,
                base,
                query,
            } => {
                let name = format!("{base}_r{n}");
                postgres_copies::copy(&format!("{server}/postgres{query}"), base, &name)
                    .await
                    .with_context(|| format!("copying the database {base} to {name}"))?;
                out.database_url = Some(format!("{server}/{name}{query}"));
            }
        }
        Ok(out)
    }

    /// Removes a copy (its pool must be closed).
    pub async fn drop_copy(&self, n: u32) -> Result<()> {
        match self {
            Source::Sqlite { dir, .. } => remove_sqlite(&dir.join(format!("run-{n}.db"))),
            Source::Postgres {
                server,
                base,
                query,
            } => {
                let name = format!("{base}_r{n}");
                postgres_copies::drop(&format!("{server}/postgres{query}"), &name)
                    .await
                    .with_context(|| format!("dropping the database {name}"))
            }
        }
    }

    pub fn finish(&self) {
        if let Source::Sqlite { dir, .. } = self {
            let _ = std::fs::remove_dir(dir);
        }
    }
}

fn remove_sqlite(path: &Path) -> Result<()> {
    for suffix in ["", "-wal", "-shm"] {
        let p = PathBuf::from(format!("{}{suffix}", path.display()));
        match std::fs::remove_file(&p) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e).with_context(|| format!("removing {}", p.display())),
        }
    }
    Ok(())
}
