//! Accounts, sessions and the lifecycle of the caller's own account.

use crate::AppState;
use crate::extract::{ApiJson, ApiQuery, Auth, SESSION_COOKIE};
use crate::problem::{ApiError, ApiResult};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use hiatus_domain::effects::Landing;
use hiatus_domain::preflight::Intent;
use hiatus_domain::*;
use hiatus_service::SignUp;
use hiatus_service::lifecycle::{AccountView, CloseRequest, Receipt};
use hiatus_service::views::ProfileText;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// Sign-up details.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignUpBody {
    #[schema(format = "email", max_length = 254)]
    pub email: String,
    /// At least 10 characters.
    #[schema(min_length = 10, max_length = 256)]
    pub password: String,
    #[schema(min_length = 1, max_length = 200, pattern = "\\S")]
    pub legal_name: String,
    #[schema(min_length = 1, max_length = 100, pattern = "\\S")]
    pub display_name: String,
    pub kind: AccountKind,
    #[serde(default)]
    pub headline: String,
    #[serde(default)]
    pub bio: String,
}

/// The answer to a sign-up: the same whether or not the address already had an account.
#[derive(Serialize, ToSchema)]
pub struct SignUpAccepted {
    /// Always `check_your_mail`.
    pub status: &'static str,
    pub message: &'static str,
}

/// Signs up a member. The answer is `202` with the same body whether the address is free,
/// already has an account (its owner gets a mail saying so, and nothing changes) or has one
/// still waiting for confirmation (this sign-up replaces that one's password and profile), so
/// sign-up cannot be used to learn who has an account. A new account confirms its address
/// before its first login: the mail to the address has a link, which works once, for 48
/// hours, together with the password chosen here (`POST /api/v1/accounts/confirm`, or the
/// page the link opens). Until then a login answers `401 bad_credentials`, exactly like a
/// wrong password. Limited per client address (`429 rate_limited`).
#[utoipa::path(post, path = "/api/v1/accounts", tag = "accounts", request_body = SignUpBody,
    responses(
        (status = 202, description = "Accepted; check your mail", body = SignUpAccepted),
        (status = 429, description = "Too many sign-ups from this address")))]
pub async fn sign_up(
    State(s): State<AppState>,
    parts: axum::http::request::Parts,
    ApiJson(b): ApiJson<SignUpBody>,
) -> ApiResult<Response> {
    if let Some(ip) = crate::client::of_parts(&parts, &s.options.trusted_proxies)
        && let Err(wait) = s.signups.hit(ip)
    {
        return Ok(crate::limit::limited(wait));
    }
    s.hiatus
        .register(SignUp {
            email: b.email,
            password: b.password,
            legal_name: b.legal_name,
            display_name: b.display_name,
            kind: b.kind,
            headline: b.headline,
            bio: b.bio,
        })
        .await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(SignUpAccepted {
            status: "check_your_mail",
            message: "we sent a mail to this address: open its link and enter the password you chose to confirm the address and log in",
        }),
    )
        .into_response())
}

/// Login details.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginBody {
    pub email: String,
    pub password: String,
}

/// A new session.
#[derive(Serialize, ToSchema)]
pub struct SessionBody {
    /// Send as `Authorization: Bearer <token>`; the same value is set as an HttpOnly cookie.
    pub token: String,
    pub account_id: AccountId,
    pub state: AccountState,
    /// Where a client should take the member: home, "reactivate?" or "cancel deletion?".
    pub landing: Landing,
    pub expires_at: Micros,
    /// Send as `X-Device-Token` with later logins to this address (browsers get it as an
    /// HttpOnly cookie): a flood of wrong passwords from other clients then does not block
    /// this one. It is no credential by itself.
    pub device_token: String,
}

/// Logs in. Deactivated and deletion-scheduled members can log in too; `landing` says what
/// to offer them. An erased account's address answers like an unknown one, and a new account
/// whose address is not confirmed yet like a wrong password (401 `bad_credentials`).
#[utoipa::path(post, path = "/api/v1/sessions", tag = "sessions", request_body = LoginBody,
    responses((status = 200, description = "Logged in", body = SessionBody)))]
pub async fn login(
    State(s): State<AppState>,
    parts: axum::http::request::Parts,
    ApiJson(b): ApiJson<LoginBody>,
) -> ApiResult<Response> {
    let client = crate::client::of_parts(&parts, &s.options.trusted_proxies);
    let device = crate::extract::device_token(&parts);
    let out = s
        .hiatus
        .login_with_device(&b.email, &b.password, client, device.as_deref())
        .await?;
    Ok(session_response(&s, out))
}

/// The answer to a login or a confirmation: the session in the body and as a cookie, and
/// the device token as a long-lived cookie.
fn session_response(s: &AppState, out: hiatus_service::LoginOutcome) -> Response {
    let max_age = (out.expires_at - s.hiatus.now()) / 1_000_000;
    let cookies = crate::cookies::login(out.token.clone(), max_age, out.device.clone());
    let mut res = Json(SessionBody {
        token: out.token,
        account_id: out.account,
        state: out.state,
        landing: out.landing,
        expires_at: out.expires_at,
        device_token: out.device,
    })
    .into_response();
    for c in cookies {
        crate::cookies::set(&mut res, c);
    }
    res
}

/// A confirmation link's token, with the password chosen at sign-up.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConfirmBody {
    /// The last part of the link in the confirmation mail (`…/signup/confirm/{token}`).
    #[schema(max_length = 64)]
    pub token: String,
    /// The password chosen at sign-up.
    #[schema(max_length = 256)]
    pub password: String,
}

/// Confirms a new account's address with the token of the mailed link and the password chosen
/// at sign-up, and logs in: the answer is a session, exactly like `POST /api/v1/sessions`. The
/// link works once, for 48 hours, and only the latest sign-up's link works. A wrong password,
/// or a link that is unknown, used, expired or replaced, all answer `422
/// confirmation_failed`.
#[utoipa::path(post, path = "/api/v1/accounts/confirm", tag = "accounts", request_body = ConfirmBody,
    responses(
        (status = 200, description = "Confirmed and logged in", body = SessionBody),
        (status = 422, description = "The link or the password does not confirm an account", body = crate::problem::Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many attempts from this address")))]
pub async fn confirm(
    State(s): State<AppState>,
    ApiJson(b): ApiJson<ConfirmBody>,
) -> ApiResult<Response> {
    let out = s.hiatus.confirm_signup(&b.token, &b.password).await?;
    Ok(session_response(&s, out))
}

/// Logs out of this session.
#[utoipa::path(delete, path = "/api/v1/sessions/current", tag = "sessions", security(("bearer" = [])),
    responses((status = 204, description = "Logged out")))]
pub async fn logout(State(s): State<AppState>, Auth(a): Auth) -> ApiResult<Response> {
    s.hiatus.logout(&a).await?;
    let mut res = StatusCode::NO_CONTENT.into_response();
    crate::cookies::set(&mut res, crate::cookies::forget(SESSION_COOKIE, "/"));
    Ok(res)
}

/// A count of records changed.
#[derive(Serialize, ToSchema)]
pub struct Count {
    pub count: u64,
}

/// Signs out every other session of the caller.
#[utoipa::path(delete, path = "/api/v1/sessions/others", tag = "sessions", security(("bearer" = [])),
    responses((status = 200, description = "Other sessions ended", body = Count)))]
pub async fn logout_others(State(s): State<AppState>, Auth(a): Auth) -> ApiResult<Json<Count>> {
    Ok(Json(Count {
        count: s.hiatus.logout_others(&a).await?,
    }))
}

/// A password, to confirm a destructive step.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordBody {
    pub password: String,
}

/// Re-authenticates: opens a short window in which destructive steps need no password.
#[utoipa::path(post, path = "/api/v1/sessions/reauth", tag = "sessions", security(("bearer" = [])), request_body = PasswordBody,
    responses((status = 204, description = "Re-authenticated")))]
pub async fn reauth(
    State(s): State<AppState>,
    Auth(mut a): Auth,
    ApiJson(b): ApiJson<PasswordBody>,
) -> ApiResult<StatusCode> {
    s.hiatus.reauthenticate(&mut a, &b.password).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The caller's account.
#[utoipa::path(get, path = "/api/v1/me", tag = "me", security(("bearer" = [])),
    responses((status = 200, description = "The account", body = AccountView)))]
pub async fn me(State(s): State<AppState>, Auth(a): Auth) -> ApiResult<Json<AccountView>> {
    Ok(Json(s.hiatus.me(&a).await?))
}

/// Profile fields to change; absent fields stay as they are.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProfileBody {
    pub display_name: Option<String>,
    pub headline: Option<String>,
    pub bio: Option<String>,
    /// The automatic reply counterparties get while the account is deactivated; empty clears it.
    pub away_message: Option<String>,
}

/// Changes the caller's profile text.
#[utoipa::path(patch, path = "/api/v1/me/profile", tag = "me", security(("bearer" = [])), request_body = ProfileBody,
    responses((status = 200, description = "Updated account", body = AccountView)))]
pub async fn update_profile(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiJson(b): ApiJson<ProfileBody>,
) -> ApiResult<Json<AccountView>> {
    let t = ProfileText {
        display_name: b.display_name,
        headline: b.headline,
        bio: b.bio,
        away_message: b
            .away_message
            .map(|m| if m.trim().is_empty() { None } else { Some(m) }),
    };
    s.hiatus.update_profile(&a, t).await?;
    Ok(Json(s.hiatus.me(&a).await?))
}

/// Settings to change; absent fields stay as they are.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SettingsBody {
    pub visibility: Option<Visibility>,
    pub availability: Option<Availability>,
    pub notifications: Option<NotificationMode>,
}

/// Changes visibility, availability or notifications.
#[utoipa::path(patch, path = "/api/v1/me/settings", tag = "me", security(("bearer" = [])), request_body = SettingsBody,
    responses((status = 200, description = "The settings now", body = ProfileSettings)))]
pub async fn update_settings(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiJson(b): ApiJson<SettingsBody>,
) -> ApiResult<Json<ProfileSettings>> {
    Ok(Json(
        s.hiatus
            .update_settings(&a, b.visibility, b.availability, b.notifications)
            .await?,
    ))
}

/// Takes a break: availability paused (until a date, if given), optionally private and muted.
#[utoipa::path(post, path = "/api/v1/me/break", tag = "lifecycle", security(("bearer" = [])), request_body = BreakRequest,
    responses((status = 200, description = "The settings during the break", body = ProfileSettings)))]
pub async fn start_break(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiJson(b): ApiJson<BreakRequest>,
) -> ApiResult<Json<ProfileSettings>> {
    Ok(Json(s.hiatus.start_break(&a, b).await?))
}

/// Ends the break now, restoring visibility and notifications.
#[utoipa::path(delete, path = "/api/v1/me/break", tag = "lifecycle", security(("bearer" = [])),
    responses((status = 200, description = "The settings after the break", body = ProfileSettings)))]
pub async fn end_break(
    State(s): State<AppState>,
    Auth(a): Auth,
) -> ApiResult<Json<ProfileSettings>> {
    Ok(Json(s.hiatus.end_break(&a).await?))
}

/// What preflight checks for.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PreflightQuery {
    /// `deactivate` or `delete`.
    pub intent: Intent,
    /// The reason the member gave, if any (a temporary reason adds the "a break would do" warning).
    pub reason: Option<ClosureReason>,
}

/// Blockers and warnings before deactivation or deletion.
#[utoipa::path(get, path = "/api/v1/me/preflight", tag = "lifecycle", security(("bearer" = [])), params(PreflightQuery),
    responses((status = 200, description = "Blockers and warnings", body = Preflight)))]
pub async fn preflight(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiQuery(q): ApiQuery<PreflightQuery>,
) -> ApiResult<Json<Preflight>> {
    Ok(Json(s.hiatus.preflight(&a, q.intent, q.reason).await?))
}

/// What deactivation needs.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeactivateBody {
    /// The current password (may be omitted within a few minutes of `POST /sessions/reauth`).
    pub password: Option<String>,
    pub reason: ClosureReason,
    /// Optional free text, at most 2,000 characters.
    pub detail: Option<String>,
}

/// Deactivates the caller's account: hidden, read-only, reversible. Refused (409
/// `preflight_blocked`, with the blockers) while anything blocks it.
#[utoipa::path(post, path = "/api/v1/me/deactivate", tag = "lifecycle", security(("bearer" = [])), request_body = DeactivateBody,
    responses((status = 200, description = "Deactivated", body = Receipt)))]
pub async fn deactivate(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiJson(b): ApiJson<DeactivateBody>,
) -> ApiResult<Json<Receipt>> {
    Ok(Json(
        s.hiatus
            .deactivate(
                &a,
                CloseRequest {
                    password: b.password,
                    reason: b.reason,
                    detail: b.detail,
                },
            )
            .await?,
    ))
}

/// The state after a transition.
#[derive(Serialize, ToSchema)]
pub struct StateBody {
    pub state: AccountState,
}

/// Reactivates a deactivated account, restoring its previous visibility and availability.
#[utoipa::path(post, path = "/api/v1/me/reactivate", tag = "lifecycle", security(("bearer" = [])),
    responses((status = 200, description = "Reactivated", body = StateBody)))]
pub async fn reactivate(State(s): State<AppState>, Auth(a): Auth) -> ApiResult<Json<StateBody>> {
    Ok(Json(StateBody {
        state: s.hiatus.reactivate(&a).await?,
    }))
}

pub use hiatus_service::views::AuditEvent;

/// Paging.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Page {
    /// At most this many (1 to 500; default 50).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
    /// Skip this many.
    #[param(minimum = 0)]
    pub offset: Option<i64>,
}

impl Page {
    /// The page asked for, with defaults; a limit or offset out of range is refused rather
    /// than corrected, so the caller learns the bounds.
    pub fn get(&self) -> ApiResult<hiatus_domain::Page> {
        use hiatus_domain::page::{PAGE_DEFAULT, PAGE_MAX, PAGE_MIN};
        hiatus_domain::Page::exact(self.limit.unwrap_or(PAGE_DEFAULT), self.offset.unwrap_or(0))
            .ok_or_else(|| {
                ApiError::bad_request(
                    "invalid_query",
                    format!("limit is {PAGE_MIN} to {PAGE_MAX} and offset 0 or more"),
                )
            })
    }
}

/// The caller's audit trail, newest first.
#[utoipa::path(get, path = "/api/v1/me/audit", tag = "me", security(("bearer" = [])), params(Page),
    responses((status = 200, description = "Audit events", body = [AuditEvent])))]
pub async fn audit(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiQuery(p): ApiQuery<Page>,
) -> ApiResult<Json<Vec<AuditEvent>>> {
    let p = p.get()?;
    Ok(Json(
        s.hiatus
            .audit_trail(&a, a.account, p.limit, p.offset)
            .await?,
    ))
}

/// The caller's balances.
#[utoipa::path(get, path = "/api/v1/me/balances", tag = "money", security(("bearer" = [])),
    responses((status = 200, description = "Balances", body = [Balance])))]
pub async fn balances(State(s): State<AppState>, Auth(a): Auth) -> ApiResult<Json<Vec<Balance>>> {
    Ok(Json(s.hiatus.my_balances(&a).await?))
}

/// An amount to withdraw.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WithdrawBody {
    pub amount: Money,
}

/// Withdraws available balance: a payout scheduled to settle in three days.
#[utoipa::path(post, path = "/api/v1/me/withdrawals", tag = "money", security(("bearer" = [])), request_body = WithdrawBody,
    responses((status = 201, description = "Payout scheduled", body = Payout)))]
pub async fn withdraw(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiJson(b): ApiJson<WithdrawBody>,
) -> ApiResult<(StatusCode, Json<Payout>)> {
    Ok((
        StatusCode::CREATED,
        Json(s.hiatus.withdraw(&a, b.amount).await?),
    ))
}

/// The caller's payouts.
#[utoipa::path(get, path = "/api/v1/me/payouts", tag = "money", security(("bearer" = [])),
    responses((status = 200, description = "Payouts", body = [Payout])))]
pub async fn payouts(State(s): State<AppState>, Auth(a): Auth) -> ApiResult<Json<Vec<Payout>>> {
    Ok(Json(s.hiatus.my_payouts(&a).await?))
}

/// Contact details to set.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ContactBody {
    /// A phone number (digits, spaces and `+ - ( ) .`), or null to remove it. Never shown to
    /// other members.
    #[schema(max_length = 32)]
    pub phone: Option<String>,
}

/// Sets the caller's contact phone number.
#[utoipa::path(put, path = "/api/v1/me/contact", tag = "me", security(("bearer" = [])), request_body = ContactBody,
    responses((status = 204, description = "Saved")))]
pub async fn set_contact(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiJson(b): ApiJson<ContactBody>,
) -> ApiResult<StatusCode> {
    s.hiatus.set_phone(&a, b.phone).await?;
    Ok(StatusCode::NO_CONTENT)
}
