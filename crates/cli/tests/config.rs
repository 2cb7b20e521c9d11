//! One configuration from a file, the environment and flags (flag > environment > file >
//! default): `hiatus config check` shows each value's source with secrets redacted, refuses
//! unknown keys and invalid values, checks that the database answers; `serve` takes its
//! `[serve]` options from the file.

use hiatus_testkit::{Backend, ScratchDb};
use std::io::Read;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn hiatus(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_hiatus"));
    c.current_dir(dir).args(args).env("RUST_BACKTRACE", "0");
    // The test's own environment must not leak settings in.
    for (k, _) in std::env::vars() {
        if k.starts_with("HIATUS_") {
            c.env_remove(k);
        }
    }
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().expect("run hiatus")
}

fn json(o: &Output) -> serde_json::Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: {}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        )
    })
}

const FILE: &str = r#"
data-dir = "from-file"
deletion_grace_days = 14
export_daily_limit = 2
mail_url = "smtps://me:s3cret-mail@mail.example.com"
master_key = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"

[serve]
metrics_token = "s3cret-token"
"#;

#[test]
fn flags_beat_environment_beat_file_beat_defaults() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("hiatus.toml"), FILE).unwrap();
    let out = hiatus(
        dir.path(),
        &[
            "--config",
            "hiatus.toml",
            "--export-daily-limit",
            "5",
            "config",
            "check",
            "--json",
        ],
        &[("HIATUS_DELETION_GRACE_DAYS", "3")],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v = json(&out);
    let s = &v["settings"];
    let pair = |k: &str| {
        (
            s[k]["value"].as_str().unwrap().to_string(),
            s[k]["source"].as_str().unwrap().to_string(),
        )
    };
    assert_eq!(pair("export_daily_limit"), ("5".into(), "flag".into()));
    assert_eq!(
        pair("deletion_grace_days"),
        ("3".into(), "environment".into())
    );
    assert_eq!(pair("data_dir"), ("from-file".into(), "file".into()));
    assert_eq!(
        pair("export_retention_days"),
        ("7".into(), "default".into())
    );
    assert_eq!(pair("mail_url").0, "smtps://me:***@mail.example.com");
    assert_eq!(
        pair("master_key"),
        ("(set, redacted)".into(), "file".into())
    );
    let text = String::from_utf8_lossy(&out.stdout);
    for secret in ["s3cret-mail", "s3cret-token", "00112233445566778899"] {
        assert!(!text.contains(secret), "{secret} printed");
    }
    assert_eq!(v["problems"].as_array().unwrap().len(), 0);
    // The same in words.
    let out = hiatus(
        dir.path(),
        &["--config", "hiatus.toml", "config", "check"],
        &[],
    );
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("serve.metrics_token") && text.contains("(set, redacted)"),
        "{text}"
    );
    assert!(!text.contains("s3cret"), "{text}");
}

#[test]
fn mistakes_are_named_and_fail() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("typo.toml"), "dta_dir = \"x\"\n").unwrap();
    let out = hiatus(
        dir.path(),
        &["--config", "typo.toml", "config", "check"],
        &[],
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown setting dta_dir"));
    std::fs::write(
        dir.path().join("section.toml"),
        "[serve]\nlisten_on = \"x\"\n",
    )
    .unwrap();
    let out = hiatus(
        dir.path(),
        &["--config", "section.toml", "config", "check"],
        &[],
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("serve.listen_on"));
    std::fs::write(dir.path().join("broken.toml"), "data_dir = \n").unwrap();
    let out = hiatus(
        dir.path(),
        &["--config", "broken.toml", "config", "check"],
        &[],
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not valid TOML"));
    let out = hiatus(
        dir.path(),
        &["--deletion-grace-days=-1", "config", "check"],
        &[],
    );
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stdout)
            .contains("FAIL settings: --deletion-grace-days must be 0 or more")
    );
    let out = hiatus(
        dir.path(),
        &["--mail-url", "gopher://x", "config", "check"],
        &[],
    );
    assert!(!out.status.success());
    let out = hiatus(
        dir.path(),
        &["--config", "missing.toml", "config", "check"],
        &[],
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("missing.toml"));
}

#[test]
fn the_database_is_checked() {
    if hiatus_testkit::skip_postgres() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let pg = hiatus_testkit::admin_url();
    let out = hiatus(
        dir.path(),
        &["--database-url", &pg, "config", "check", "--json"],
        &[],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let v = json(&out);
    assert!(
        v["checks"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["check"] == "database" && c["result"] == "reachable"),
        "{v}"
    );
    // Nothing listens on port 9 of loopback.
    let out = hiatus(
        dir.path(),
        &[
            "--database-url",
            "postgres://app:pw-here@127.0.0.1:9/none",
            "config",
            "check",
            "--json",
        ],
        &[],
    );
    assert!(!out.status.success());
    let v = json(&out);
    assert!(
        v["problems"][0].as_str().unwrap().starts_with("database:"),
        "{v}"
    );
    assert_eq!(
        v["settings"]["database_url"]["value"],
        "postgres://app:***@127.0.0.1:9/none"
    );
}

#[test]
fn serve_takes_its_section_from_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    std::fs::write(
        dir.path().join("hiatus.toml"),
        format!("data_dir = \"data\"\ninsecure_fast_passwords = true\n\n[serve]\nlisten = \"127.0.0.1:{port}\"\nno_worker = true\n"),
    )
    .unwrap();
    // A hidden option is not a setting of the file.
    let out = hiatus(
        dir.path(),
        &["--config", "hiatus.toml", "config", "check"],
        &[],
    );
    assert!(
        !out.status.success(),
        "hidden options are not file settings"
    );
    std::fs::write(
        dir.path().join("hiatus.toml"),
        format!(
            "data_dir = \"data\"\n\n[serve]\nlisten = \"127.0.0.1:{port}\"\nno_worker = true\n"
        ),
    )
    .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_hiatus"))
        .current_dir(dir.path())
        .args(["--config", "hiatus.toml", "serve"])
        .env("RUST_BACKTRACE", "0")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    let mut up = false;
    while started.elapsed() < Duration::from_secs(60) {
        if let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) {
            use std::io::Write;
            s.write_all(b"GET /healthz HTTP/1.0\r\n\r\n").unwrap();
            let mut r = String::new();
            let _ = s.read_to_string(&mut r);
            up = r.starts_with("HTTP/1.0 200") || r.starts_with("HTTP/1.1 200");
            if up {
                break;
            }
        }
        if child.try_wait().unwrap().is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = child.kill();
    let out = child.wait_with_output().unwrap();
    assert!(
        up,
        "serve did not listen on the file's port: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        dir.path().join("data").join("hiatus.db").exists(),
        "the file's data folder"
    );
}

#[test]
fn the_file_storage_is_checked() {
    let dir = tempfile::tempdir().unwrap();
    let out = hiatus(dir.path(), &["config", "check", "--json"], &[]);
    let v = json(&out);
    assert!(
        v["checks"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["check"] == "file storage"
                && c["result"]
                    .as_str()
                    .unwrap()
                    .starts_with("reachable: local folder")),
        "{v}"
    );
    // An object store that does not answer (nothing listens on port 9 of loopback), with its
    // secret from the environment.
    let out = hiatus(
        dir.path(),
        &[
            "--object-store",
            "s3://bucket/prefix",
            "--s3-endpoint",
            "http://127.0.0.1:9",
            "config",
            "check",
            "--json",
        ],
        &[
            ("HIATUS_S3_ACCESS_KEY_ID", "key-id"),
            ("HIATUS_S3_SECRET_ACCESS_KEY", "s3cret-s3"),
        ],
    );
    assert!(!out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!text.contains("s3cret-s3"), "the secret is printed: {text}");
    let v = json(&out);
    assert_eq!(
        v["settings"]["s3_secret_access_key"]["value"],
        "(set, redacted)"
    );
    assert_eq!(
        v["settings"]["s3_secret_access_key"]["source"],
        "environment"
    );
    assert_eq!(v["settings"]["object_store"]["value"], "s3://bucket/prefix");
    let problem = v["problems"][0].as_str().unwrap();
    assert!(problem.starts_with("file storage"), "{v}");
    if cfg!(feature = "s3") {
        assert!(
            problem.contains("s3://bucket/prefix at http://127.0.0.1:9"),
            "{v}"
        );
    } else {
        assert!(problem.contains("built without object storage"), "{v}");
    }
    // --s3-… options without a store are a mistake, not silently ignored.
    let out = hiatus(
        dir.path(),
        &[
            "--s3-endpoint",
            "http://127.0.0.1:9",
            "config",
            "check",
            "--json",
        ],
        &[],
    );
    assert!(!out.status.success());
    assert!(
        json(&out)["problems"][0]
            .as_str()
            .unwrap()
            .contains("--object-store is not"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

fn block<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(f)
}

/// Runs `sql` on the database at `url` (a fresh connection).
fn run_sql(url: &str, sql: &str) {
    block(hiatus_testkit::testing::run_script(url, sql)).expect("sql runs");
}

fn migrate(url: &str) {
    block(async {
        let opts = hiatus_store::DbOptions { max_connections: 1 };
        let db = match url.strip_prefix("sqlite://") {
            Some(path) => hiatus_store::Db::open_sqlite(Path::new(path), &opts).await,
            None => hiatus_store::Db::connect(url, &opts).await,
        }
        .expect("connect");
        db.migrate().await.expect("migrations apply");
        db.close().await;
    })
}

/// `config check --json` on the database at `url` (a SQLite one in `dir`): (exit status,
/// checks, problems).
fn check_db(dir: &Path, url: &str) -> (bool, String, Vec<String>) {
    let data = dir.display().to_string();
    let args: Vec<&str> = if url.starts_with("sqlite") {
        vec!["--data-dir", &data, "config", "check", "--json"]
    } else {
        vec!["--database-url", url, "config", "check", "--json"]
    };
    let out = hiatus(dir, &args, &[]);
    let v = json(&out);
    let problems = v["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap().to_string())
        .collect();
    (out.status.success(), v["checks"].to_string(), problems)
}

/// What `serve` refuses, `config check` refuses: a column the erasure policy does not
/// classify (SQLite and PostgreSQL), and on PostgreSQL a table in another schema of the
/// same database.
#[test]
fn an_unclassified_column_or_a_table_in_another_schema_fails_the_check() {
    let dir = tempfile::tempdir().unwrap();
    // SQLite.
    let file = dir.path().join("hiatus.db");
    let sqlite = format!("sqlite://{}", file.display());
    migrate(&sqlite);
    let (ok, checks, problems) = check_db(dir.path(), &sqlite);
    assert!(ok, "{problems:?}");
    assert!(
        checks.contains("classifies every table and column"),
        "{checks}"
    );
    run_sql(&sqlite, "ALTER TABLE accounts ADD COLUMN nickname TEXT");
    let (ok, _, problems) = check_db(dir.path(), &sqlite);
    assert!(!ok);
    assert!(
        problems
            .iter()
            .any(|p| p.starts_with("erasure policy:") && p.contains("accounts.nickname")),
        "{problems:?}"
    );

    // PostgreSQL: a fresh database (migrations pending), then a migrated one.
    if hiatus_testkit::skip_postgres() {
        return;
    }
    let scratch = block(ScratchDb::new(Backend::Postgres));
    let pg = scratch.url().to_string();
    let (ok, checks, problems) = check_db(dir.path(), &pg);
    assert!(ok, "{problems:?}");
    assert!(checks.contains("migration(s) pending"), "{checks}");
    migrate(&pg);
    let (ok, checks, problems) = check_db(dir.path(), &pg);
    assert!(ok, "{problems:?}");
    assert!(
        checks.contains("classifies every table and column"),
        "{checks}"
    );
    run_sql(
        &pg,
        "CREATE SCHEMA reporting; CREATE TABLE reporting.members_copy (id TEXT, email TEXT)",
    );
    let (ok, _, problems) = check_db(dir.path(), &pg);
    assert!(!ok);
    assert!(
        problems
            .iter()
            .any(|p| p.contains("reporting.members_copy")),
        "{problems:?}"
    );
    run_sql(
        &pg,
        "DROP SCHEMA reporting CASCADE; ALTER TABLE accounts ADD COLUMN nickname TEXT",
    );
    let (ok, _, problems) = check_db(dir.path(), &pg);
    assert!(!ok);
    assert!(
        problems.iter().any(|p| p.contains("accounts.nickname")),
        "{problems:?}"
    );
    drop(scratch);
}
