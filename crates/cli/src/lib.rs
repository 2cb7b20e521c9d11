//! What every command of hiatus shares: the options (flags, environment, configuration file)
//! and how they open the data folder, the database, the keyring and the file store. The
//! `hiatus` binary is built on it, and so is `hiatus-bench`, which must open a data folder
//! exactly as `hiatus` does.

#![forbid(unsafe_code)]

pub mod config;
pub mod settings;

/// Everything hiatus writes — the SQLite database and its -wal/-shm, the master key, the mail
/// spool (whose messages hold live reset and cancel links), files and export archives — is
/// for its own user only: files 0600, folders 0700, whatever the login's umask says.
pub fn private_files() {
    // Set before any thread that creates files exists.
    #[cfg(unix)]
    rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o077));
}
