//! The account center: server-rendered pages for members (sign up, log in, the account's state,
//! settings, the closing flow, the data export, restoration through support when the password
//! is lost, and the work and money preflight asks them to settle before they leave) and for
//! staff (the support console, the operator dashboard). They work without JavaScript; the one
//! script only refreshes the export page while an archive is being built.
//!
//! Every state change is a POST carrying the form token that [`guard`] checks before any
//! handler runs; every GET only reads. Handlers stay thin: read the form, call one use case,
//! show the result or the error as a page.

mod account;
mod close;
mod export;
mod guard;
mod hiring;
mod money;
mod operator;
mod restore;
mod settings;
mod signup;
mod support;
mod view;
mod work;

use crate::AppState;
use axum::Router;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use tower_http::set_header::SetResponseHeaderLayer;

/// The policy of every page: our own styles and script only, forms only to us, never framed.
const PAGE_POLICY: &str = "default-src 'none'; style-src 'self'; script-src 'self'; \
img-src 'self'; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

const STYLE: &str = include_str!("../../assets/hiatus.css");
const SCRIPT: &str = include_str!("../../assets/export-progress.js");

async fn style() -> Response {
    asset("text/css; charset=utf-8", STYLE)
}

async fn script() -> Response {
    asset("text/javascript; charset=utf-8", SCRIPT)
}

fn asset(kind: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(kind)),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=3600"),
            ),
        ],
        body,
    )
        .into_response()
}

/// The pages' routes, merged into the application's router.
pub fn router(state: &AppState) -> Router<AppState> {
    let guarded = Router::new()
        .route("/login", get(account::login_page).post(account::login))
        .route("/settings/security/reauth", post(settings::reauth))
        .route(
            "/settings/security/password",
            post(settings::change_password),
        )
        .route(
            "/settings/close/confirm",
            get(close::confirm_page).post(close::confirm),
        )
        .route("/restore", get(restore::page).post(restore::request))
        .route("/restore/code", post(restore::code))
        .route(
            "/signup/confirm/{token}",
            get(signup::confirm_page).post(signup::confirm),
        )
        .route("/support/requests/{id}/approve", post(support::approve))
        .route("/support/requests/{id}/deny", post(support::deny))
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            guard::attempts,
        ));
    Router::new()
        .route("/assets/hiatus.css", get(style))
        .route("/assets/export-progress.js", get(script))
        .route("/logout", post(account::logout))
        .route("/signup", get(signup::page).post(signup::sign_up))
        .route("/signup/check-your-mail", get(signup::sent))
        .route("/account", get(account::home))
        .route(
            "/account/reactivate",
            get(account::reactivate_page).post(account::reactivate),
        )
        .route(
            "/account/cancel-deletion",
            get(account::cancel_page).post(account::cancel),
        )
        .route("/account/deleted", get(account::deleted))
        .route("/settings", get(settings::index))
        .route(
            "/settings/contact",
            get(settings::contact_page).post(settings::contact),
        )
        .route(
            "/settings/profile",
            get(settings::profile_page).post(settings::profile),
        )
        .route(
            "/settings/notifications",
            get(settings::notifications_page).post(settings::notifications),
        )
        .route("/settings/security", get(settings::security_page))
        .route(
            "/settings/security/sign-out-others",
            post(settings::sign_out_others),
        )
        .route(
            "/settings/break",
            get(settings::break_page).post(settings::start_break),
        )
        .route("/settings/break/end", post(settings::end_break))
        .route("/settings/close", get(close::choose))
        .route("/settings/close/preflight", get(close::preflight))
        .route("/settings/close/backup", get(close::backup))
        .route("/settings/close/backup/skip", post(close::skip_backup))
        .route(
            "/settings/close/clients",
            get(close::clients_page).post(close::tell_clients),
        )
        .route("/settings/close/reason", get(close::reason))
        .route("/settings/export", get(export::page).post(export::request))
        .route("/settings/export/{id}/download", post(export::download))
        .route("/contracts", get(work::contracts))
        .route("/contracts/{id}", get(work::contract))
        .route("/contracts/{id}/end", post(work::end_contract))
        .route("/contracts/{id}/accept", post(work::accept_offer))
        .route("/contracts/{id}/decline", post(work::decline_offer))
        .route("/contracts/{id}/withdraw", post(work::withdraw_offer))
        .route("/messages", get(work::threads))
        .route("/messages/{id}", get(work::thread))
        .route("/disputes", get(work::disputes))
        .route("/disputes/{id}/resolve", post(work::resolve_dispute))
        .route("/payments", get(money::payments))
        .route("/payments/{id}/{action}", post(money::payment_action))
        .route("/invoices", get(money::invoices))
        .route("/invoices/{id}/pay", post(money::pay_invoice))
        .route(
            "/balance/withdraw",
            get(money::balance).post(money::withdraw),
        )
        .route("/balance/pay", get(money::debts))
        .route("/payouts", get(money::payouts))
        .route("/proposals", get(hiring::proposals))
        .route("/proposals/{id}/{action}", post(hiring::respond))
        .route("/jobs", get(hiring::jobs))
        .route("/restore/status", get(restore::status))
        .route("/support", get(support::page))
        .route("/support/accounts/{id}/audit", get(support::audit))
        .route("/operator", get(operator::page))
        .merge(guarded)
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            guard::check_form_token,
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(PAGE_POLICY),
        ))
}
