//! Restoration through support: the requester's side (no login: a request, the code from the
//! mail, the status) and the support console's (the queue, approve or deny, a member's audit
//! trail), and setting a new password with the link an approval mails.

use crate::AppState;
use crate::api::account::{AuditEvent, Page};
use crate::extract::{ApiJson, ApiPath, ApiQuery, Auth};
use crate::problem::{ApiError, ApiResult};
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use hiatus_domain::AccountId;
use hiatus_service::restoration::{QueueItem, RestorationStatus, RestorationTicket};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// The header that carries a restoration request's token.
pub const TOKEN_HEADER: &str = "x-restoration-token";

/// A request to restore an account whose credentials are lost.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RestorationBody {
    /// The address on file for the account.
    #[schema(max_length = 320)]
    pub email: String,
    /// What happened, for the support agent (optional).
    #[schema(max_length = 2000)]
    #[serde(default)]
    pub explanation: String,
}

/// Asks support to restore an account. The answer is the same whether or not the address has
/// an account; if it has one that can be restored, a one-time code goes to it. Keep the
/// token: it is needed to enter the code and to follow the request.
#[utoipa::path(post, path = "/api/v1/restorations", tag = "restoration", request_body = RestorationBody,
    responses((status = 202, description = "Requested", body = RestorationTicket)))]
pub async fn request(
    State(s): State<AppState>,
    ApiJson(b): ApiJson<RestorationBody>,
) -> ApiResult<(StatusCode, Json<RestorationTicket>)> {
    Ok((
        StatusCode::ACCEPTED,
        Json(
            s.hiatus
                .request_restoration(&b.email, &b.explanation)
                .await?,
        ),
    ))
}

fn token(headers: &HeaderMap) -> ApiResult<String> {
    headers
        .get(TOKEN_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.trim().to_string())
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::UNAUTHORIZED,
                "token_required",
                "send the request's token in the X-Restoration-Token header",
            )
        })
}

/// The status of a restoration request (its token in `X-Restoration-Token`).
#[utoipa::path(get, path = "/api/v1/restorations/{id}", tag = "restoration",
    params(("id" = String, Path, description = "Request id"),
           ("X-Restoration-Token" = String, Header, description = "The token the request returned")),
    responses((status = 200, description = "Status", body = RestorationStatus)))]
pub async fn status(
    State(s): State<AppState>,
    ApiPath(id): ApiPath<String>,
    headers: HeaderMap,
) -> ApiResult<Json<RestorationStatus>> {
    let t = token(&headers)?;
    Ok(Json(s.hiatus.restoration_status(&id, &t).await?))
}

/// The code from the mail.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CodeBody {
    /// The token the request returned.
    #[schema(max_length = 64)]
    pub token: String,
    /// The eight digits from the mail (spaces allowed).
    #[schema(max_length = 32)]
    pub code: String,
}

/// Confirms the request with the code sent to the address on file; the request then waits
/// for a support agent.
#[utoipa::path(post, path = "/api/v1/restorations/{id}/code", tag = "restoration", request_body = CodeBody,
    params(("id" = String, Path, description = "Request id")),
    responses((status = 200, description = "Confirmed", body = RestorationStatus),
        (status = 410, description = "The request expired, or too many wrong codes", body = crate::problem::Problem, content_type = "application/problem+json")))]
pub async fn code(
    State(s): State<AppState>,
    ApiPath(id): ApiPath<String>,
    ApiJson(b): ApiJson<CodeBody>,
) -> ApiResult<Json<RestorationStatus>> {
    if b.code.len() > 32 {
        return Err(ApiError::bad_request(
            "invalid_code",
            "the code has eight digits",
        ));
    }
    Ok(Json(
        s.hiatus
            .verify_restoration_code(&id, &b.token, &b.code)
            .await?,
    ))
}

/// Which requests the queue shows.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct QueueQuery {
    /// `open` (default: waiting for the code or for a decision) or `all` (newest first).
    pub show: Option<String>,
    /// At most this many (1 to 200; default 50).
    pub limit: Option<i64>,
    /// Skip this many.
    pub offset: Option<i64>,
}

/// The restoration queue (support agents and operators).
#[utoipa::path(get, path = "/api/v1/support/restorations", tag = "support", security(("bearer" = [])), params(QueueQuery),
    responses((status = 200, description = "Requests", body = Vec<QueueItem>)))]
pub async fn queue(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiQuery(q): ApiQuery<QueueQuery>,
) -> ApiResult<Json<Vec<QueueItem>>> {
    let open = match q.show.as_deref() {
        None | Some("open") => true,
        Some("all") => false,
        Some(_) => {
            return Err(ApiError::bad_request(
                "invalid_query",
                "show is open or all",
            ));
        }
    };
    Ok(Json(
        s.hiatus
            .restoration_queue(&a, open, q.limit.unwrap_or(50), q.offset.unwrap_or(0))
            .await?,
    ))
}

/// An agent's decision.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DecisionBody {
    /// Why; on a denial the member reads it in the mail.
    #[schema(max_length = 2000)]
    pub note: String,
}

/// Approves a confirmed request: the member gets a single-use link to set a new password.
/// Needs the agent's password within the last few minutes (`POST /api/v1/sessions/reauth`).
#[utoipa::path(post, path = "/api/v1/support/restorations/{id}/approve", tag = "support", security(("bearer" = [])),
    request_body = DecisionBody, params(("id" = String, Path, description = "Request id")),
    responses((status = 200, description = "Approved", body = QueueItem),
        (status = 410, description = "The request expired, or the account was erased", body = crate::problem::Problem, content_type = "application/problem+json")))]
pub async fn approve(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiPath(id): ApiPath<String>,
    ApiJson(b): ApiJson<DecisionBody>,
) -> ApiResult<Json<QueueItem>> {
    Ok(Json(s.hiatus.approve_restoration(&a, &id, &b.note).await?))
}

/// Denies a request, with a note the member reads.
#[utoipa::path(post, path = "/api/v1/support/restorations/{id}/deny", tag = "support", security(("bearer" = [])),
    request_body = DecisionBody, params(("id" = String, Path, description = "Request id")),
    responses((status = 200, description = "Denied", body = QueueItem),
        (status = 410, description = "The request expired, or the account was erased", body = crate::problem::Problem, content_type = "application/problem+json")))]
pub async fn deny(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiPath(id): ApiPath<String>,
    ApiJson(b): ApiJson<DecisionBody>,
) -> ApiResult<Json<QueueItem>> {
    Ok(Json(s.hiatus.deny_restoration(&a, &id, &b.note).await?))
}

/// A member's audit trail, newest first (support agents and operators; after erasure, ask
/// with the pseudonym's id). The look is recorded on the trail.
#[utoipa::path(get, path = "/api/v1/support/accounts/{id}/audit", tag = "support", security(("bearer" = [])),
    params(("id" = String, Path, description = "Account id"), Page),
    responses((status = 200, description = "Audit events", body = [AuditEvent])))]
pub async fn audit(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiPath(id): ApiPath<AccountId>,
    ApiQuery(p): ApiQuery<Page>,
) -> ApiResult<Json<Vec<AuditEvent>>> {
    let p = p.get()?;
    let rows = s.hiatus.member_trail(&a, id, p.limit, p.offset).await?;
    Ok(Json(rows))
}

/// A new password, with the link's token.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResetBody {
    /// The token at the end of the link in the mail.
    #[schema(max_length = 64)]
    pub token: String,
    #[schema(max_length = 256)]
    pub password: String,
}

/// The account after a reset.
#[derive(Serialize, ToSchema)]
pub struct ResetDone {
    /// The account's state: a deactivated member is asked to reactivate when logging in.
    pub state: String,
}

/// Sets a new password with the single-use link an approved restoration mailed. Every
/// session of the account ends.
#[utoipa::path(post, path = "/api/v1/password-resets", tag = "restoration", request_body = ResetBody,
    responses((status = 200, description = "Password set", body = ResetDone),
        (status = 410, description = "The link was used or expired", body = crate::problem::Problem, content_type = "application/problem+json")))]
pub async fn reset(
    State(s): State<AppState>,
    ApiJson(b): ApiJson<ResetBody>,
) -> ApiResult<Json<ResetDone>> {
    let state = s.hiatus.reset_password(&b.token, &b.password).await?;
    Ok(Json(ResetDone {
        state: state.as_str().to_string(),
    }))
}
