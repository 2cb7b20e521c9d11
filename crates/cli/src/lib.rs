//! What every command of hiatus shares: the options (flags, environment, configuration file)
//! and how they open the data folder, the database, the keyring and the file store. The
//! `hiatus` binary is built on it, and so is `hiatus-bench`, which must open a data folder
//! exactly as `hiatus` does.

pub mod config;
pub mod settings;

/// Everything hiatus writes — the SQLite database and its -wal/-shm, the master key, the mail
/// spool (whose messages hold live reset and cancel links), files and export archives — is
/// for its own user only: files 0600, folders 0700, whatever the login's umask says.
pub fn private_files() {
    #[cfg(unix)]
    // SAFETY: umask only changes the process's file-creation mask; it cannot fail, and it is
    // set before any thread that creates files exists.
    unsafe {
        libc::umask(0o077);
    }
}
