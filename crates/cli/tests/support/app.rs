//! A demo marketplace served on a local port for browser tests: a fresh SQLite database with
//! the demo members, a manual clock, mail written as files into a folder.
#![allow(dead_code)]

use hiatus_service::mail::{MailConfig, MailTransport};
use hiatus_service::{Hiatus, ManualClock, PasswordParams, ServiceConfig};
use hiatus_store::{Blobs, Db, DbOptions, Keyring, SecretKey};
use std::sync::Arc;

pub struct App {
    pub base: String,
    pub mail: std::path::PathBuf,
    pub h: Hiatus,
    pub clock: ManualClock,
    _dir: tempfile::TempDir,
    _server: tokio::task::JoinHandle<()>,
}

/// Starts the app.
pub async fn app() -> App {
    let dir = tempfile::tempdir().unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let db = Db::open_sqlite(&dir.path().join("h.db"), &DbOptions { max_connections: 4 })
        .await
        .unwrap();
    db.migrate().await.unwrap();
    let clock = ManualClock::new(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_micros() as i64,
    );
    let h = Hiatus::new(
        db,
        Blobs::local(dir.path().join("files")).unwrap(),
        Keyring::new(SecretKey::generate()),
        Arc::new(clock.clone()),
        ServiceConfig {
            password: PasswordParams::FAST,
            mail: MailConfig {
                transport: MailTransport::Files(dir.path().join("mail")),
                public_url: format!("http://{addr}"),
                ..Default::default()
            },
            ..Default::default()
        },
    );
    assert!(h.load_demo().await.unwrap());
    let router = hiatus_web::router(
        h.clone(),
        hiatus_web::WebOptions {
            auth_attempts_per_minute: 100_000,
            ..Default::default()
        },
    );
    let server = tokio::spawn(async move {
        axum::serve(
            listener,
            router.into_make_service_with_connect_info::<std::net::SocketAddr>(),
        )
        .await
        .unwrap();
    });
    App {
        base: format!("http://{addr}"),
        mail: dir.path().join("mail"),
        h,
        clock,
        _dir: dir,
        _server: server,
    }
}
