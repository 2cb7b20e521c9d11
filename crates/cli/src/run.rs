//! serve, worker, migrate and admin.

use crate::config::{self, Global};
use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use hiatus_domain::{AccountKind, Role};
use hiatus_service::keys::KEYRING_RELOAD_EVERY;
use hiatus_service::worker::Worker;
use hiatus_service::{Hiatus, SignUp};
use hiatus_web::WebOptions;
use hiatus_web::client::TrustedProxies;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Notify, watch};

/// Options of `serve`.
#[derive(Args, Debug)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "HIATUS_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Do not run an embedded worker (run `hiatus worker` processes instead).
    #[arg(long, env = "HIATUS_NO_WORKER")]
    pub no_worker: bool,
    /// Mark cookies Secure (set when a TLS proxy fronts hiatus).
    #[arg(long, env = "HIATUS_SECURE_COOKIES")]
    pub secure_cookies: bool,
    /// Login attempts per minute per client address.
    #[arg(long, env = "HIATUS_LOGIN_ATTEMPTS_PER_MINUTE", default_value_t = 30)]
    pub login_attempts_per_minute: u32,
    /// Require `Authorization: Bearer <token>` on `/metrics`. Without it, `/metrics` answers
    /// only requests straight from this machine (loopback, no proxy forwarding headers).
    #[arg(long, env = "HIATUS_METRICS_TOKEN", hide_env_values = true)]
    pub metrics_token: Option<String>,
    /// Reverse proxies (comma-separated CIDRs or addresses, e.g. `127.0.0.1/32,10.0.0.0/8`)
    /// whose `X-Forwarded-For` / `Forwarded` headers name the client. From anyone else these
    /// headers are ignored. Default: none.
    #[arg(long, env = "HIATUS_TRUSTED_PROXIES", value_parser = parse_proxies, default_value = "")]
    pub trusted_proxies: TrustedProxies,
    /// Sign-ups per client address per hour.
    #[arg(long, env = "HIATUS_SIGNUPS_PER_HOUR", default_value_t = 20)]
    pub signups_per_hour: u32,
}

fn parse_proxies(s: &str) -> Result<TrustedProxies, String> {
    TrustedProxies::parse(s)
}

/// Options of `worker`.
#[derive(Args, Debug)]
pub struct WorkerArgs {
    /// Seconds to wait when the queue is empty.
    #[arg(long, default_value_t = 1.0)]
    pub poll_seconds: f64,
    /// Run the jobs that are due now, then exit.
    #[arg(long)]
    pub once: bool,
}

/// `admin` subcommands.
#[derive(Subcommand, Debug)]
pub enum AdminCommand {
    /// Create a support agent or operator account.
    CreateStaff {
        #[arg(long)]
        email: String,
        #[arg(long)]
        name: String,
        /// `support` or `operator`.
        #[arg(long, default_value = "support")]
        role: String,
        /// The password (read from HIATUS_NEW_PASSWORD when not given).
        #[arg(long, env = "HIATUS_NEW_PASSWORD", hide_env_values = true)]
        password: String,
    },
    /// Job queue health: counts and oldest due time per kind and status.
    Jobs,
    /// Number of accounts per lifecycle state.
    Accounts,
    /// Webhook subscriptions and their delivery log.
    Webhooks {
        #[command(subcommand)]
        command: WebhookCommand,
    },
}

/// `hiatus admin webhooks …`
#[derive(Subcommand, Debug)]
pub enum WebhookCommand {
    /// Subscribe a URL to events; prints the subscription and its signing secret (shown once).
    Add {
        /// Where to POST the events (https:// in production).
        #[arg(long)]
        url: String,
        /// Comma-separated event names, or * for all of them.
        #[arg(long, default_value = "*", value_delimiter = ',')]
        events: Vec<String>,
    },
    /// List the subscriptions.
    List,
    /// Stop a subscription (its delivery log stays).
    Remove {
        #[arg(long)]
        id: String,
    },
    /// The delivery log, newest first.
    Deliveries {
        /// Only this subscription's deliveries.
        #[arg(long)]
        subscription: Option<String>,
        /// Only deliveries in this state: pending, delivered or dead.
        #[arg(long)]
        status: Option<String>,
        #[arg(long, default_value_t = 50)]
        limit: i64,
    },
    /// Send a dead (or delivered) delivery again.
    Replay {
        #[arg(long)]
        delivery: String,
    },
}

fn shutdown_signal() -> watch::Receiver<bool> {
    let (tx, rx) = watch::channel(false);
    tokio::spawn(async move {
        let ctrl_c = tokio::signal::ctrl_c();
        #[cfg(unix)]
        {
            let mut term =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                    .expect("signal handler");
            tokio::select! { _ = ctrl_c => {}, _ = term.recv() => {} }
        }
        #[cfg(not(unix))]
        let _ = ctrl_c.await;
        tracing::info!("shutting down");
        let _ = tx.send(true);
    });
    rx
}

/// Reads the keyring file again every few minutes and at once on SIGHUP, until shutdown, so
/// a long-running process adopts retirements other processes made (see
/// [`Hiatus::reload_keyring_until`]).
fn keep_keyring_fresh(h: &Hiatus, shutdown: watch::Receiver<bool>) -> tokio::task::JoinHandle<()> {
    let now = Arc::new(Notify::new());
    #[cfg(unix)]
    {
        let now = now.clone();
        let mut hup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
            .expect("signal handler");
        let mut stop = shutdown.clone();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    Some(()) = hup.recv() => {
                        tracing::info!("SIGHUP: reloading the keyring file");
                        now.notify_one();
                    }
                    _ = stop.wait_for(|s| *s) => return,
                }
            }
        });
    }
    let h = h.clone();
    tokio::spawn(async move {
        h.reload_keyring_until(KEYRING_RELOAD_EVERY, now, shutdown)
            .await
    })
}

/// Runs the server (and a worker) until a signal.
pub async fn serve_with(
    h: Hiatus,
    args: &ServeArgs,
    on_ready: impl FnOnce(SocketAddr),
) -> Result<()> {
    let shutdown = shutdown_signal();
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("listening on {}", args.listen))?;
    let addr = listener.local_addr()?;
    let reloader = keep_keyring_fresh(&h, shutdown.clone());
    let worker = if args.no_worker {
        None
    } else {
        Some(tokio::spawn(
            Worker::new(h.clone(), Duration::from_secs(1)).run(shutdown.clone()),
        ))
    };
    let app = hiatus_web::router(
        h.clone(),
        WebOptions {
            secure_cookies: args.secure_cookies,
            auth_attempts_per_minute: args.login_attempts_per_minute,
            metrics_token: args.metrics_token.clone(),
            trusted_proxies: args.trusted_proxies.clone(),
            signups_per_hour: args.signups_per_hour,
            ..WebOptions::default()
        },
    );
    on_ready(addr);
    let mut stop = shutdown.clone();
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async move {
        let _ = stop.wait_for(|s| *s).await;
    })
    .await?;
    if let Some(w) = worker {
        let _ = w.await;
    }
    let _ = reloader.await;
    h.db.close().await;
    Ok(())
}

pub async fn serve(g: &Global, args: ServeArgs) -> Result<()> {
    let h = config::hiatus(g).await?;
    tracing::info!(files = %h.blobs.describe(), "file storage");
    serve_with(
        h,
        &args,
        |addr| tracing::info!(%addr, "hiatus is listening"),
    )
    .await
}

pub async fn worker(g: &Global, args: WorkerArgs) -> Result<()> {
    let h = config::hiatus(g).await?;
    tracing::info!(files = %h.blobs.describe(), "file storage");
    if !(0.01..=3600.0).contains(&args.poll_seconds) {
        bail!("--poll-seconds must be between 0.01 and 3600");
    }
    let w = Worker::new(h.clone(), Duration::from_secs_f64(args.poll_seconds));
    if args.once {
        let n = w.drain().await?;
        eprintln!("ran {n} job(s)");
    } else {
        let shutdown = shutdown_signal();
        let reloader = keep_keyring_fresh(&h, shutdown.clone());
        w.run(shutdown).await;
        let _ = reloader.await;
    }
    h.db.close().await;
    Ok(())
}

pub async fn migrate(g: &Global) -> Result<()> {
    let h = config::hiatus(g).await?;
    eprintln!("database is up to date ({:?})", h.db.backend());
    // A database from before key epochs has its data keys wrapped under the master key: the
    // first rotation re-wraps them under the current epoch's key.
    let r = h.rotate_keys().await.context("re-wrapping data keys")?;
    if r.rewrapped > 0 {
        eprintln!(
            "re-wrapped {} data keys under epoch {}",
            r.rewrapped, r.epoch
        );
    }
    h.db.close().await;
    Ok(())
}

pub async fn admin(g: &Global, cmd: AdminCommand) -> Result<()> {
    let h = config::hiatus(g).await?;
    match cmd {
        AdminCommand::CreateStaff {
            email,
            name,
            role,
            password,
        } => {
            let role = match role.as_str() {
                "support" => Role::Support,
                "operator" => Role::Operator,
                other => bail!("--role must be support or operator, not {other:?}"),
            };
            let id = h
                .sign_up(
                    SignUp {
                        email,
                        password,
                        legal_name: name.clone(),
                        display_name: name,
                        kind: AccountKind::Client,
                        headline: String::new(),
                        bio: String::new(),
                    },
                    role,
                )
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            println!("{id}");
        }
        AdminCommand::Jobs => {
            let mut tx = h.db.read().await?;
            let stats = hiatus_store::jobs::stats(&mut tx).await?;
            tx.commit().await?;
            println!("{}", serde_json::to_string_pretty(&stats)?);
        }
        AdminCommand::Webhooks { command } => match command {
            WebhookCommand::Add { url, events } => {
                let sub = h.subscribe_webhook(None, &url, &events).await?;
                println!("{}", serde_json::to_string_pretty(&sub)?);
                eprintln!("Keep the secret: it signs every delivery and is not shown again.");
            }
            WebhookCommand::List => {
                let subs = h.webhook_subscriptions(None).await?;
                println!("{}", serde_json::to_string_pretty(&subs)?);
            }
            WebhookCommand::Remove { id } => {
                h.unsubscribe_webhook(None, &id).await?;
                println!("subscription {id} stopped");
            }
            WebhookCommand::Deliveries {
                subscription,
                status,
                limit,
            } => {
                let log = h
                    .webhook_deliveries(None, subscription.as_deref(), status.as_deref(), limit)
                    .await?;
                println!("{}", serde_json::to_string_pretty(&log)?);
            }
            WebhookCommand::Replay { delivery } => {
                h.replay_webhook(None, &delivery).await?;
                println!("delivery {delivery} queued again");
            }
        },
        AdminCommand::Accounts => {
            let mut tx = h.db.read().await?;
            let counts = hiatus_store::accounts::count_by_state(&mut tx).await?;
            tx.commit().await?;
            for (state, n) in counts {
                println!("{state}\t{n}");
            }
        }
    }
    h.db.close().await;
    Ok(())
}
