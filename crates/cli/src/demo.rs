//! `hiatus demo`: everything a newcomer needs in one command.

use crate::config::{self, Global};
use crate::run::{ServeArgs, serve_with};
use anyhow::{Result, anyhow};
use clap::Args;
use hiatus_service::demo::{DEMO_LOGINS, DEMO_PASSWORD};
use std::net::SocketAddr;

/// Options of `demo`.
#[derive(Args, Debug)]
pub struct DemoArgs {
    /// Address to listen on.
    #[arg(long, env = "HIATUS_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Load the data and exit without serving (for scripts).
    #[arg(long)]
    pub no_serve: bool,
}

pub async fn run(g: &Global, a: DemoArgs) -> Result<()> {
    let h = config::hiatus(g).await?;
    let loaded = h
        .load_demo()
        .await
        .map_err(|e| anyhow!("loading demo data: {e}"))?;
    eprintln!(
        "{} demo data in {}",
        if loaded { "Loaded" } else { "Reusing" },
        g.data_dir.display()
    );
    if a.no_serve {
        h.db.close().await;
        return Ok(());
    }
    let args = ServeArgs {
        listen: a.listen,
        no_worker: false,
        secure_cookies: false,
        login_attempts_per_minute: 30,
        metrics_token: None,
        trusted_proxies: Default::default(),
        signups_per_hour: 20,
    };
    let data_dir = g.data_dir.display().to_string();
    serve_with(h, &args, |addr| {
        println!("\nhiatus is running at http://{addr}/");
        println!("  API:      http://{addr}/api/v1/  (OpenAPI: http://{addr}/api/v1/openapi.json)");
        println!("\nDemo logins (password for all: {DEMO_PASSWORD}):");
        for l in DEMO_LOGINS {
            println!("  {:<26} {}", l.email, l.who);
        }
        println!("\nPress Ctrl-C to stop. Data stays in {data_dir}.");
    })
    .await
}
