//! Configuration shared by every subcommand: flags, with `HIATUS_…` environment variables as
//! defaults. Passed down explicitly; nothing global.

use anyhow::{Context, Result, bail};
use clap::Args;
use hiatus_service::{Hiatus, PasswordParams, ServiceConfig, SystemClock};
use hiatus_store::{Blobs, Db, DbOptions, Keyring, SecretKey};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Options every subcommand takes.
#[derive(Args, Debug, Clone)]
pub struct Global {
    /// A TOML file with settings (keys: the long flag names; `[serve]` and `[worker]` tables
    /// for their options). Flags and `HIATUS_…` variables override it.
    #[arg(long, global = true, env = "HIATUS_CONFIG")]
    pub config: Option<PathBuf>,
    /// The data folder: SQLite database, files and the generated master key.
    #[arg(
        long,
        global = true,
        env = "HIATUS_DATA_DIR",
        default_value = "hiatus-data"
    )]
    pub data_dir: PathBuf,
    /// `postgres://user@host/db` to use PostgreSQL; default: SQLite in the data folder.
    #[arg(long, global = true, env = "HIATUS_DATABASE_URL")]
    pub database_url: Option<String>,
    /// The master key (64 hex digits) that wraps every member's data key. Default: the key
    /// file in the data folder, generated on first use.
    #[arg(long, global = true, env = "HIATUS_MASTER_KEY", hide_env_values = true)]
    pub master_key: Option<String>,
    /// The keyring file: the epoch keys that wrap members' data keys, sealed under the master
    /// key. Several machines share one file (or copies of it). Default: `<data-dir>/keyring`,
    /// created on first use.
    #[arg(long, global = true, env = "HIATUS_KEYRING_FILE")]
    pub keyring_file: Option<PathBuf>,
    /// Days between key rotations: every data key is re-wrapped under a new epoch key this
    /// often.
    #[arg(
        long,
        global = true,
        env = "HIATUS_KEY_EPOCH_DAYS",
        default_value_t = 1
    )]
    pub key_epoch_days: u64,
    /// Days an epoch key is kept after its epoch ends: set it to your backup window. Older
    /// epoch keys are destroyed, and copies of the database from then (dead rows, WAL, dumps)
    /// can no longer be read for members erased since.
    #[arg(
        long,
        global = true,
        env = "HIATUS_KEY_RETENTION_DAYS",
        default_value_t = 30
    )]
    pub key_retention_days: u64,
    /// Log filter, e.g. `info` or `hiatus=debug` (RUST_LOG syntax).
    #[arg(long, global = true, env = "HIATUS_LOG", default_value = "info")]
    pub log: String,
    /// Log as JSON lines instead of text.
    #[arg(long, global = true, env = "HIATUS_LOG_JSON")]
    pub log_json: bool,
    /// Deletion grace period in days (0 erases at the next worker run).
    #[arg(
        long,
        global = true,
        env = "HIATUS_DELETION_GRACE_DAYS",
        default_value_t = 30
    )]
    pub deletion_grace_days: i64,
    /// Days a finished export archive is kept for download before it is removed.
    #[arg(
        long,
        global = true,
        env = "HIATUS_EXPORT_RETENTION_DAYS",
        default_value_t = 7
    )]
    pub export_retention_days: i64,
    /// Exports a member may request per calendar day (UTC).
    #[arg(
        long,
        global = true,
        env = "HIATUS_EXPORT_DAILY_LIMIT",
        default_value_t = 3
    )]
    pub export_daily_limit: i64,
    /// Where mail goes: `smtp://[user:password@]host[:port]` (plain, for a local relay),
    /// `smtp+starttls://…`, `smtps://…`, `file:///folder` (one .eml file per message) or `none`.
    /// Default: files in `<data-dir>/mail`.
    #[arg(long, global = true, env = "HIATUS_MAIL_URL", hide_env_values = true)]
    pub mail_url: Option<String>,
    /// The sender of hiatus's mail.
    #[arg(
        long,
        global = true,
        env = "HIATUS_MAIL_FROM",
        default_value = "hiatus <no-reply@localhost>"
    )]
    pub mail_from: String,
    /// The address members reach hiatus at, for links in mail.
    #[arg(
        long,
        global = true,
        env = "HIATUS_PUBLIC_URL",
        default_value = "http://127.0.0.1:8080"
    )]
    pub public_url: String,
    /// Seconds a worker holds a job (or an erasure) before another worker may take it over;
    /// long jobs renew it while they run. Lower means faster recovery from a dead worker.
    #[arg(
        long,
        global = true,
        env = "HIATUS_JOB_LEASE_SECONDS",
        default_value_t = 300
    )]
    pub job_lease_seconds: i64,
    /// The erasure policy file (TOML) that classifies every column for erasure and export.
    /// Default: the policy shipped with hiatus (`hiatus erase --print-policy` prints it).
    #[arg(long, global = true, env = "HIATUS_ERASURE_POLICY")]
    pub erasure_policy: Option<PathBuf>,
    /// Keep file bytes and export archives in an S3 bucket (`s3://bucket/prefix`) instead of
    /// `<data-dir>/files`, so that several machines share them (builds with the `s3`
    /// feature). Credentials and region: the options below, else the usual `AWS_…`
    /// environment variables.
    #[arg(long, global = true, env = "HIATUS_OBJECT_STORE")]
    pub object_store: Option<String>,
    /// An S3-compatible server instead of AWS, e.g. `http://127.0.0.1:9000` (`http://` is
    /// allowed for it). Default: `AWS_ENDPOINT`, else AWS.
    #[arg(long, global = true, env = "HIATUS_S3_ENDPOINT")]
    pub s3_endpoint: Option<String>,
    /// The bucket's region. Default: `AWS_REGION` / `AWS_DEFAULT_REGION`, else us-east-1.
    #[arg(long, global = true, env = "HIATUS_S3_REGION")]
    pub s3_region: Option<String>,
    /// The access key id. Default: `AWS_ACCESS_KEY_ID` (or an instance profile).
    #[arg(long, global = true, env = "HIATUS_S3_ACCESS_KEY_ID")]
    pub s3_access_key_id: Option<String>,
    /// The secret access key. Default: `AWS_SECRET_ACCESS_KEY`.
    #[arg(
        long,
        global = true,
        env = "HIATUS_S3_SECRET_ACCESS_KEY",
        hide_env_values = true
    )]
    pub s3_secret_access_key: Option<String>,
    /// Let webhooks reach loopback, private and link-local addresses (receivers inside your
    /// own network). Off by default, so a subscription cannot make the server call its own
    /// metadata service, database or admin ports.
    #[arg(long, global = true, env = "HIATUS_WEBHOOK_ALLOW_PRIVATE")]
    pub webhook_allow_private: bool,
    /// Use cheap password hashing (tests and synthetic data only; never in production).
    #[arg(
        long,
        global = true,
        env = "HIATUS_INSECURE_FAST_PASSWORDS",
        hide = true
    )]
    pub insecure_fast_passwords: bool,
}

/// Sets up logging to stderr.
pub fn init_logging(g: &Global) {
    let filter = tracing_subscriber::EnvFilter::try_new(&g.log)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let b = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if g.log_json {
        b.json().init();
    } else {
        b.init();
    }
}

const KEY_FILE: &str = "master.key";

/// The master key: from configuration, else the data folder's key file (created when
/// `create` is true).
pub fn master_key(g: &Global, create: bool) -> Result<SecretKey> {
    if let Some(k) = &g.master_key {
        return SecretKey::from_hex(k).context("HIATUS_MASTER_KEY / --master-key");
    }
    let path = g.data_dir.join(KEY_FILE);
    if path.exists() {
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        return SecretKey::from_hex(&text)
            .with_context(|| format!("{} does not hold a valid key", path.display()));
    }
    if !create {
        bail!(
            "no master key: set HIATUS_MASTER_KEY or run `hiatus migrate` once to create {}",
            path.display()
        );
    }
    std::fs::create_dir_all(&g.data_dir)
        .with_context(|| format!("creating {}", g.data_dir.display()))?;
    let key = SecretKey::generate();
    write_private(&path, &format!("{}\n", key.to_hex()))?;
    tracing::warn!(file = %path.display(), "generated a new master key; back it up: without it no personal data can be read");
    Ok(key)
}

fn write_private(path: &Path, text: &str) -> Result<()> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    f.write_all(text.as_bytes())?;
    Ok(())
}

const KEYRING_FILE: &str = "keyring";

/// Where the keyring file is.
pub fn keyring_path(g: &Global) -> PathBuf {
    g.keyring_file
        .clone()
        .unwrap_or_else(|| g.data_dir.join(KEYRING_FILE))
}

/// The keyring: the master key and the keyring file it opens (created on first use).
pub fn keyring(g: &Global) -> Result<Keyring> {
    let master = master_key(g, true)?;
    let path = keyring_path(g);
    if g.key_epoch_days == 0 {
        bail!("--key-epoch-days must be 1 or more");
    }
    Ok(Keyring::open_file(master, &path)
        .with_context(|| format!("opening the keyring file {}", path.display()))?
        .with_epoch_days(g.key_epoch_days))
}

/// The database URL in effect.
pub fn database_url(g: &Global) -> String {
    match &g.database_url {
        Some(u) => u.clone(),
        None => format!("sqlite://{}", g.data_dir.join("hiatus.db").display()),
    }
}

/// Closes a data folder made by an older version (or under a looser umask) to other users:
/// with the folder 0700 nothing inside it can be read by them, whatever the files' own modes.
fn close_data_dir(g: &Global) -> Result<()> {
    #[cfg(unix)]
    if g.data_dir.is_dir() {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&g.data_dir, std::fs::Permissions::from_mode(0o700))
            .with_context(|| format!("making {} private", g.data_dir.display()))?;
    }
    Ok(())
}

/// Opens the database and applies migrations.
pub async fn open_db(g: &Global, max_connections: u32) -> Result<Db> {
    let url = database_url(g);
    if !url.starts_with("postgres") {
        std::fs::create_dir_all(&g.data_dir)
            .with_context(|| format!("creating {}", g.data_dir.display()))?;
    }
    close_data_dir(g)?;
    let db = Db::connect(&url, &DbOptions { max_connections }).await.with_context(|| {
        if url.starts_with("postgres") {
            "connecting to PostgreSQL (check --database-url / HIATUS_DATABASE_URL and that the server runs)".to_string()
        } else {
            format!("opening the SQLite database in {}", g.data_dir.display())
        }
    })?;
    // Values older versions stored in plaintext are sealed on the way (it needs the key).
    let keys = Keyring::new(master_key(g, true)?);
    db.migrate_sealing(Some(&keys))
        .await
        .context("applying migrations")?;
    Ok(db)
}

/// Assembles the service from the configuration.
pub async fn hiatus(g: &Global) -> Result<Hiatus> {
    let config = service_config(g)?;
    let keys = keyring(g)?;
    let db = open_db(g, 8).await?;
    let blobs = blobs(g)?;
    let h = Hiatus::new(db, blobs, keys, Arc::new(SystemClock), config);
    h.check_policy()
        .await
        .context("checking the erasure policy against the database")?;
    Ok(h)
}

/// Where file bytes and archives go: the object store when one is configured, else
/// `<data-dir>/files`.
pub fn blobs(g: &Global) -> Result<Blobs> {
    let Some(url) = &g.object_store else {
        if g.s3_endpoint.is_some() || g.s3_access_key_id.is_some() {
            bail!(
                "--s3-… options are set but --object-store is not: set --object-store s3://bucket/prefix"
            );
        }
        return Blobs::local(g.data_dir.join("files")).context("creating the files folder");
    };
    #[cfg(feature = "s3")]
    {
        let options = hiatus_store::S3Options {
            endpoint: g.s3_endpoint.clone(),
            region: g.s3_region.clone(),
            access_key_id: g.s3_access_key_id.clone(),
            secret_access_key: g.s3_secret_access_key.clone(),
        };
        Blobs::s3(url, &options, g.data_dir.join("spool"))
            .context("--object-store / HIATUS_OBJECT_STORE")
    }
    #[cfg(not(feature = "s3"))]
    {
        bail!(
            "--object-store {url}: this hiatus was built without object storage; build it with `cargo build --release -p hiatus --features s3`"
        )
    }
}

/// The service's settings from the options, each checked.
pub fn service_config(g: &Global) -> Result<ServiceConfig> {
    let mut config = ServiceConfig::default();
    if g.deletion_grace_days < 0 {
        bail!("--deletion-grace-days must be 0 or more");
    }
    config.deletion_grace = g.deletion_grace_days * hiatus_domain::DAY_MICROS;
    if !(1..=365).contains(&g.export_retention_days) {
        bail!("--export-retention-days must be between 1 and 365");
    }
    if !(1..=100).contains(&g.export_daily_limit) {
        bail!("--export-daily-limit must be between 1 and 100");
    }
    config.exports.retention = g.export_retention_days * hiatus_domain::DAY_MICROS;
    config.exports.daily_limit = g.export_daily_limit;
    if !(2..=86_400).contains(&g.job_lease_seconds) {
        bail!("--job-lease-seconds must be between 2 and 86400");
    }
    config.job_lease = g.job_lease_seconds * 1_000_000;
    config.webhooks.allow_private = g.webhook_allow_private;
    config.key_retention_days = g.key_retention_days;
    if g.insecure_fast_passwords {
        config.password = PasswordParams::FAST;
    }
    config.mail.transport = match &g.mail_url {
        Some(u) => hiatus_service::mail::MailTransport::parse(u)
            .map_err(|e| anyhow::anyhow!("--mail-url / HIATUS_MAIL_URL: {e}"))?,
        None => hiatus_service::mail::MailTransport::Files(g.data_dir.join("mail")),
    };
    if !hiatus_service::mail::valid_sender(&g.mail_from) {
        bail!("--mail-from must be an address like 'hiatus <no-reply@example.com>'");
    }
    config.mail.from = g.mail_from.clone();
    if !(g.public_url.starts_with("http://") || g.public_url.starts_with("https://")) {
        bail!("--public-url must start with http:// or https://");
    }
    config.mail.public_url = g.public_url.clone();
    if let Some(p) = &g.erasure_policy {
        config.policy = Arc::new(hiatus_store::policy::Policy::load(p)?);
    }
    Ok(config)
}

/// `hiatus config check`: every option's effective value and where it came from (secrets
/// redacted), then the checks a start would make. Fails when any check fails.
pub async fn check(
    g: &Global,
    sources: &std::collections::BTreeMap<String, &'static str>,
    sections: &[(String, String)],
    json: bool,
) -> Result<()> {
    use crate::settings::redact_url;
    let values: Vec<(&str, String)> = vec![
        (
            "config",
            g.config
                .as_ref()
                .map_or("(none)".into(), |p| p.display().to_string()),
        ),
        ("data_dir", g.data_dir.display().to_string()),
        ("database_url", redact_url(&database_url(g))),
        (
            "master_key",
            match &g.master_key {
                Some(_) => "(set, redacted)".into(),
                None => format!("key file {}", g.data_dir.join(KEY_FILE).display()),
            },
        ),
        ("keyring_file", keyring_path(g).display().to_string()),
        ("key_epoch_days", g.key_epoch_days.to_string()),
        ("key_retention_days", g.key_retention_days.to_string()),
        ("log", g.log.clone()),
        ("log_json", g.log_json.to_string()),
        ("deletion_grace_days", g.deletion_grace_days.to_string()),
        ("export_retention_days", g.export_retention_days.to_string()),
        ("export_daily_limit", g.export_daily_limit.to_string()),
        ("job_lease_seconds", g.job_lease_seconds.to_string()),
        (
            "mail_url",
            g.mail_url.as_deref().map_or_else(
                || format!("file://{}", g.data_dir.join("mail").display()),
                redact_url,
            ),
        ),
        ("mail_from", g.mail_from.clone()),
        ("public_url", g.public_url.clone()),
        (
            "object_store",
            g.object_store.clone().unwrap_or_else(|| {
                format!(
                    "(none: local folder {})",
                    g.data_dir.join("files").display()
                )
            }),
        ),
        (
            "s3_endpoint",
            g.s3_endpoint
                .clone()
                .unwrap_or_else(|| "(AWS_ENDPOINT or AWS)".into()),
        ),
        (
            "s3_region",
            g.s3_region
                .clone()
                .unwrap_or_else(|| "(AWS_REGION or us-east-1)".into()),
        ),
        (
            "s3_access_key_id",
            g.s3_access_key_id
                .clone()
                .unwrap_or_else(|| "(AWS_ACCESS_KEY_ID)".into()),
        ),
        (
            "s3_secret_access_key",
            match &g.s3_secret_access_key {
                Some(_) => "(set, redacted)".into(),
                None => "(AWS_SECRET_ACCESS_KEY)".into(),
            },
        ),
        (
            "erasure_policy",
            g.erasure_policy
                .as_ref()
                .map_or("(shipped policy)".into(), |p| p.display().to_string()),
        ),
        ("webhook_allow_private", g.webhook_allow_private.to_string()),
    ];
    let mut problems: Vec<String> = Vec::new();
    let mut checks: Vec<(String, String)> = Vec::new();
    match service_config(g) {
        Ok(_) => checks.push(("settings".into(), "valid".into())),
        Err(e) => problems.push(format!("settings: {e:#}")),
    }
    match master_key(g, false) {
        Ok(_) => checks.push(("master key".into(), "readable".into())),
        Err(_) if g.master_key.is_none() => checks.push((
            "master key".into(),
            "no key file yet: the first start generates one (back it up)".into(),
        )),
        Err(e) => problems.push(format!("master key: {e:#}")),
    }
    match blobs(g) {
        Ok(b) => match b.size("hiatus-config-check").await {
            Ok(_) => checks.push((
                "file storage".into(),
                format!("reachable: {}", b.describe()),
            )),
            Err(e) => problems.push(format!("file storage {}: {e}", b.describe())),
        },
        Err(e) => problems.push(format!("file storage: {e:#}")),
    }
    // The policy a start would load (the shipped one when the settings are broken).
    let policy = service_config(g)
        .map(|c| c.policy)
        .unwrap_or_else(|_| ServiceConfig::default().policy);
    let url = database_url(g);
    if url.starts_with("sqlite") && !g.data_dir.join("hiatus.db").exists() {
        checks.push((
            "database".into(),
            "no SQLite file yet: the first start creates it".into(),
        ));
    } else {
        match Db::connect(&url, &DbOptions { max_connections: 1 }).await {
            Ok(db) => {
                match db.ping().await {
                    Ok(()) => {
                        checks.push(("database".into(), "reachable".into()));
                        // What `serve` and `worker` refuse to start with: a table or column
                        // the erasure policy does not classify (in any schema of the
                        // database, on PostgreSQL).
                        match policy.check_db_before_start(&db).await {
                            Ok(0) => checks.push((
                                "erasure policy".into(),
                                "classifies every table and column of the database".into(),
                            )),
                            Ok(n) => checks.push((
                                "erasure policy".into(),
                                format!(
                                    "classifies every table and column the database has; {n} migration(s) pending (the first start applies them)"
                                ),
                            )),
                            Err(e) => problems.push(format!("erasure policy: {e}")),
                        }
                    }
                    Err(e) => problems.push(format!("database: {e}")),
                }
                db.close().await;
            }
            Err(e) => problems.push(format!("database: cannot connect: {e}")),
        }
    }
    if json {
        let doc = serde_json::json!({
            "settings": values.iter().map(|(k, v)| (k.to_string(), serde_json::json!({
                "value": v, "source": sources.get(*k).copied().unwrap_or("default")
            }))).collect::<serde_json::Map<_, _>>(),
            "sections": sections.iter().map(|(k, v)| serde_json::json!({"key": k, "value": v})).collect::<Vec<_>>(),
            "checks": checks.iter().map(|(k, v)| serde_json::json!({"check": k, "result": v})).collect::<Vec<_>>(),
            "problems": problems,
        });
        println!("{}", serde_json::to_string_pretty(&doc)?);
    } else {
        println!("Effective configuration (flag > environment > file > default):");
        for (k, v) in &values {
            println!(
                "  {:<24} {:<12} {}",
                k,
                sources.get(*k).copied().unwrap_or("default"),
                v
            );
        }
        for (k, v) in sections {
            println!("  {:<24} {:<12} {}", k, "file", v);
        }
        println!("Checks:");
        for (k, v) in &checks {
            println!("  ok   {k}: {v}");
        }
        for p in &problems {
            println!("  FAIL {p}");
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        bail!("{} problem(s) in the configuration", problems.len())
    }
}
