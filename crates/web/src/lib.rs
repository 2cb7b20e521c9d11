//! The HTTP interface of hiatus: the JSON API under `/api/v1` with its OpenAPI document, the
//! members' account pages, health checks, and security headers. Handlers are thin: extract,
//! call one use case, map the error.

#![forbid(unsafe_code)]

pub mod api;
pub mod cancel;
pub mod client;
pub mod cookies;
pub mod extract;
pub mod home;
pub mod limit;
mod link_page;
pub mod metrics;
pub mod openapi;
mod pages;
pub mod problem;
pub mod reset;

use axum::Router;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{delete, get, patch, post, put};
pub use cookies::HOST_PREFIX;
use hiatus_service::Hiatus;
use problem::ApiError;
use std::sync::Arc;
use tower_http::set_header::SetResponseHeaderLayer;

/// Options of the HTTP layer.
#[derive(Clone, Debug)]
pub struct WebOptions {
    /// Mark cookies `Secure` (when served over TLS).
    pub secure_cookies: bool,
    /// Attempts per minute per address on login and re-authentication.
    pub auth_attempts_per_minute: u32,
    /// Largest request body in bytes.
    pub body_limit: usize,
    /// When set, `/metrics` answers only `Authorization: Bearer <token>`.
    pub metrics_token: Option<String>,
    /// Reverse proxies whose `X-Forwarded-For` / `Forwarded` headers name the client.
    pub trusted_proxies: client::TrustedProxies,
    /// Sign-ups per client address per hour.
    pub signups_per_hour: u32,
}

impl Default for WebOptions {
    fn default() -> Self {
        Self {
            secure_cookies: false,
            auth_attempts_per_minute: 30,
            body_limit: 12 * 1024 * 1024,
            metrics_token: None,
            trusted_proxies: client::TrustedProxies::default(),
            signups_per_hour: 20,
        }
    }
}

/// Shared state of the handlers.
#[derive(Clone)]
pub struct AppState {
    pub hiatus: Hiatus,
    pub options: WebOptions,
    pub limiter: Arc<limit::Limiter>,
    pub signups: Arc<limit::Limiter>,
    pub metrics: Arc<metrics::Registry>,
}

/// Logs each request by its route template (`/api/v1/contracts/{id}`), never the concrete
/// path or query, so ids of other people and search terms stay out of the logs.
async fn log_request(
    State(s): State<AppState>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let started = std::time::Instant::now();
    let method = req.method().clone();
    let route = req
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "unmatched".to_string());
    let res = next.run(req).await;
    let status = res.status().as_u16();
    let secs = started.elapsed().as_secs_f64();
    s.metrics.observe(method.as_str(), &route, status, secs);
    let ms = secs * 1000.0;
    if status >= 500 {
        tracing::error!(%method, %route, status, ms, "request failed");
    } else {
        tracing::info!(%method, %route, status, ms, "request");
    }
    res
}

async fn healthz() -> &'static str {
    "ok"
}

async fn readyz(State(s): State<AppState>) -> impl IntoResponse {
    match s.hiatus.db.ping().await {
        Ok(()) => (StatusCode::OK, "ready").into_response(),
        Err(e) => {
            tracing::error!(error = %e, "database not reachable");
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "not_ready",
                "the database is not reachable",
            )
            .into_response()
        }
    }
}

/// An unknown address: a page for browsers outside the API, a problem document otherwise.
async fn not_found(
    uri: axum::http::Uri,
    headers: axum::http::HeaderMap,
) -> axum::response::Response {
    let wants_html = headers
        .get(axum::http::header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/html"));
    if wants_html && !uri.path().starts_with("/api/") {
        return link_page::not_found();
    }
    ApiError::new(
        StatusCode::NOT_FOUND,
        "not_found",
        "there is nothing at this address; the API is under /api/v1 (see /api/v1/openapi.json)",
    )
    .into_response()
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this address does not accept that method",
    )
}

/// The whole HTTP application.
pub fn router(hiatus: Hiatus, options: WebOptions) -> Router {
    use api::{
        account as a, erasure as e, export as x, market as m, notices as n, support as r,
        webhooks as w,
    };
    let state = AppState {
        limiter: Arc::new(limit::Limiter::new(options.auth_attempts_per_minute)),
        signups: Arc::new(limit::Limiter::per(
            options.signups_per_hour,
            std::time::Duration::from_secs(3600),
        )),
        metrics: Arc::new(metrics::Registry::default()),
        hiatus,
        options: options.clone(),
    };
    let guarded = Router::new()
        .route("/sessions", post(a::login))
        .route("/accounts/confirm", post(a::confirm))
        .route("/sessions/reauth", post(a::reauth))
        .route("/me/deactivate", post(a::deactivate))
        .route("/me/deletion", post(e::schedule).delete(e::cancel))
        .route("/restorations", post(r::request))
        .route("/restorations/{id}/code", post(r::code))
        .route("/password-resets", post(r::reset))
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            limit::guard,
        ));
    let v1 = Router::new()
        .route("/openapi.json", get(openapi::serve))
        .route("/accounts", post(a::sign_up))
        .route("/sessions/current", delete(a::logout))
        .route("/sessions/others", delete(a::logout_others))
        .route("/me", get(a::me))
        .route("/me/profile", patch(a::update_profile))
        .route("/me/contact", put(a::set_contact))
        .route("/me/settings", patch(a::update_settings))
        .route("/me/break", post(a::start_break).delete(a::end_break))
        .route("/me/preflight", get(a::preflight))
        .route("/me/reactivate", post(a::reactivate))
        .route("/me/erasure-plan", get(e::plan))
        .route("/people/{id}", get(e::person))
        .route("/me/regular-clients", get(n::regular_clients))
        .route("/me/client-notices", post(n::tell))
        .route("/restorations/{id}", get(r::status))
        .route("/support/restorations", get(r::queue))
        .route("/support/restorations/{id}/approve", post(r::approve))
        .route("/support/restorations/{id}/deny", post(r::deny))
        .route("/support/accounts/{id}/audit", get(r::audit))
        .route("/admin/webhooks", post(w::subscribe).get(w::list))
        .route("/admin/webhooks/{id}", delete(w::remove))
        .route("/admin/webhook-deliveries", get(w::deliveries))
        .route("/admin/webhook-deliveries/{id}/replay", post(w::replay))
        .route("/me/audit", get(a::audit))
        .route("/me/balances", get(a::balances))
        .route("/me/withdrawals", post(a::withdraw))
        .route("/me/payouts", get(a::payouts))
        .route("/me/exports", post(x::request).get(x::list))
        .route("/me/exports/{id}", get(x::get))
        .route("/me/exports/{id}/links", post(x::mint_link))
        .route("/export-downloads/{token}", get(x::download))
        .route("/export-key", get(x::key))
        .route("/profiles", get(m::list_profiles))
        .route("/profiles/{id}", get(m::get_profile))
        .route("/profiles/{id}/reviews", get(m::profile_reviews))
        .route("/me/reviews", get(m::my_reviews))
        .route(
            "/job-posts",
            post(m::create_job_post).get(m::list_job_posts),
        )
        .route("/proposals", post(m::send_proposal).get(m::list_proposals))
        .route("/proposals/{id}/respond", post(m::respond_proposal))
        .route(
            "/contracts",
            post(m::create_contract).get(m::list_contracts),
        )
        .route("/contracts/{id}", get(m::get_contract))
        .route("/contracts/{id}/actions", post(m::contract_action))
        .route("/contracts/{id}/milestones", post(m::fund_milestone))
        .route(
            "/contracts/{id}/submissions",
            post(m::submit_work).get(m::list_submissions),
        )
        .route("/contracts/{id}/invoices", post(m::issue_invoice))
        .route("/contracts/{id}/reviews", post(m::write_review))
        .route("/payments", get(m::list_payments))
        .route("/payments/{id}/actions", post(m::payment_action))
        .route("/invoices", get(m::list_invoices))
        .route("/invoices/{id}", get(m::get_invoice))
        .route("/invoices/{id}/pay", post(m::pay_invoice))
        .route("/threads", post(m::start_thread).get(m::list_threads))
        .route(
            "/threads/{id}/messages",
            get(m::list_messages).post(m::post_message),
        )
        .route("/files", post(m::upload_file))
        .route("/files/{id}", get(m::download_file))
        .route("/admin/accounts/{id}/debt", post(m::set_debt))
        .merge(guarded);
    let header = |name: &'static str, value: &'static str| {
        SetResponseHeaderLayer::if_not_present(
            HeaderName::from_static(name),
            HeaderValue::from_static(value),
        )
    };
    let router = Router::new()
        .nest("/api/v1", v1)
        .merge(pages::router(&state))
        .route("/", get(home::page))
        .route(
            "/cancel-deletion/{token}",
            get(cancel::show).post(cancel::confirm),
        )
        .route(
            "/reset-password/{token}",
            get(reset::show).post(reset::confirm),
        )
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics::serve))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(options.body_limit))
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            log_request,
        ))
        .layer(header("x-content-type-options", "nosniff"))
        .layer(header("x-frame-options", "DENY"))
        .layer(header("referrer-policy", "no-referrer"))
        .layer(header(
            "content-security-policy",
            "default-src 'none'; frame-ancestors 'none'",
        ))
        .layer(header("cache-control", "no-store"));
    let router = if options.secure_cookies {
        router.layer(axum::middleware::from_fn(cookies::host_prefix))
    } else {
        router
    };
    router.with_state(state)
}
