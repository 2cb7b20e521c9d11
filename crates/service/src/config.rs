//! Settings of the use cases, passed down from the binary's configuration (no global state).

use hiatus_domain::{DAY_MICROS, Micros, RegularClientRule};

/// Argon2id cost parameters. Production defaults follow OWASP's minimums; tests use cheap
/// ones so a suite of hundreds of logins stays fast.
#[derive(Clone, Copy, Debug)]
pub struct PasswordParams {
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
}

impl PasswordParams {
    /// The production default: 19 MiB, 2 passes, 1 lane.
    pub const DEFAULT: PasswordParams = PasswordParams {
        memory_kib: 19 * 1024,
        iterations: 2,
        parallelism: 1,
    };
    /// Cheap parameters for tests and synthetic data.
    pub const FAST: PasswordParams = PasswordParams {
        memory_kib: 64,
        iterations: 1,
        parallelism: 1,
    };
}

/// The service configuration.
#[derive(Clone, Debug)]
pub struct ServiceConfig {
    pub session_ttl: Micros,
    /// How recent an explicit re-authentication must be for destructive steps given without
    /// a password (logging in does not count).
    pub reauth_window: Micros,
    pub deletion_grace: Micros,
    pub password: PasswordParams,
    pub regular_clients: RegularClientRule,
    /// Wrong passwords per (address, client address) within `login_lockout` before that
    /// client is refused for that address for `login_lockout`.
    pub login_max_failures: i64,
    pub login_lockout: Micros,
    /// Wrong passwords for one address from all clients together within `login_lockout`
    /// before clients that never logged in to it (no device token) are refused for that
    /// address for `login_lockout`: guessing spread over many client addresses is bounded,
    /// and the owner's own devices keep logging in.
    pub login_max_failures_all_clients: i64,
    /// Wrong passwords per session at re-authentication within `login_lockout`.
    pub reauth_max_failures: i64,
    pub job_lease: Micros,
    pub exports: ExportConfig,
    /// What erasure does to every column, and what the export includes.
    pub policy: std::sync::Arc<hiatus_store::policy::Policy>,
    pub webhooks: crate::webhooks::WebhookConfig,
    pub mail: crate::mail::MailConfig,
    /// Days an epoch key is kept after its epoch ends (at least the backup window): then it
    /// is destroyed, and copies of the database from that epoch can no longer be read.
    pub key_retention_days: u64,
}

/// Export settings.
#[derive(Clone, Debug)]
pub struct ExportConfig {
    /// How long a finished archive is kept before it is removed.
    pub retention: Micros,
    /// Exports a member may request per calendar day (UTC).
    pub daily_limit: i64,
    /// How long a download link works after it is minted.
    pub link_ttl: Micros,
    /// A queued export that has not started after this long no longer blocks a new request.
    pub queue_timeout: Micros,
    /// Attempts before a failing export is given up.
    pub max_attempts: i64,
}

impl Default for ExportConfig {
    fn default() -> Self {
        Self {
            retention: 7 * DAY_MICROS,
            daily_limit: 3,
            link_ttl: 5 * 60 * 1_000_000,
            queue_timeout: 60 * 60 * 1_000_000,
            max_attempts: 3,
        }
    }
}

impl Default for ServiceConfig {
    fn default() -> Self {
        Self {
            session_ttl: 14 * DAY_MICROS,
            reauth_window: 5 * 60 * 1_000_000,
            deletion_grace: 30 * DAY_MICROS,
            password: PasswordParams::DEFAULT,
            regular_clients: RegularClientRule::default(),
            login_max_failures: 10,
            login_max_failures_all_clients: 100,
            login_lockout: 15 * 60 * 1_000_000,
            reauth_max_failures: 5,
            job_lease: 5 * 60 * 1_000_000,
            exports: ExportConfig::default(),
            policy: std::sync::Arc::new(hiatus_store::policy::Policy::shipped()),
            webhooks: crate::webhooks::WebhookConfig::default(),
            mail: crate::mail::MailConfig::default(),
            key_retention_days: 30,
        }
    }
}
