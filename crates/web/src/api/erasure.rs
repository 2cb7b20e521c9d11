//! Deleting the caller's account for good: the erasure plan, scheduling, cancelling; and how
//! people appear in shared records (erased members by their pseudonym).

use crate::AppState;
use crate::extract::{ApiJson, ApiPath, Auth};
use crate::problem::ApiResult;
use axum::Json;
use axum::extract::State;
use hiatus_domain::*;
use hiatus_service::erasure::{DeleteRequest, DeletionReceipt, ErasurePlan, PersonCard};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// What erasure would do to the caller's data, in numbers and words: what counterparties keep
/// under the pseudonym, what is retained until when and why, what is deleted.
#[utoipa::path(get, path = "/api/v1/me/erasure-plan", tag = "lifecycle", security(("bearer" = [])),
    responses((status = 200, description = "The plan", body = ErasurePlan)))]
pub async fn plan(State(s): State<AppState>, Auth(a): Auth) -> ApiResult<Json<ErasurePlan>> {
    Ok(Json(s.hiatus.erasure_plan(&a).await?))
}

/// What scheduling deletion needs.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeleteBody {
    /// The current password (may be omitted within a few minutes of `POST /sessions/reauth`).
    pub password: Option<String>,
    pub reason: ClosureReason,
    /// Optional free text, at most 2,000 characters.
    pub detail: Option<String>,
    /// The words `delete my account`, typed by the member.
    #[schema(example = "delete my account")]
    pub confirmation: String,
    /// The pseudonym `GET /me/erasure-plan` showed; kept when still free, so counterparties
    /// see the name the member confirmed.
    #[schema(max_length = 64)]
    pub pseudonym: Option<String>,
}

/// Schedules the caller's deletion. The account is hidden at once and erased when the grace
/// period ends; logging in before then offers to cancel. Refused (409 `preflight_blocked`)
/// while anything blocks it; 422 `confirmation_mismatch` without the typed confirmation.
#[utoipa::path(post, path = "/api/v1/me/deletion", tag = "lifecycle", security(("bearer" = [])), request_body = DeleteBody,
    responses((status = 200, description = "Deletion scheduled", body = DeletionReceipt)))]
pub async fn schedule(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiJson(b): ApiJson<DeleteBody>,
) -> ApiResult<Json<DeletionReceipt>> {
    Ok(Json(
        s.hiatus
            .schedule_deletion_as(
                &a,
                DeleteRequest {
                    password: b.password,
                    reason: b.reason,
                    detail: b.detail,
                    confirmation: b.confirmation,
                },
                b.pseudonym.as_deref(),
            )
            .await?,
    ))
}

/// The state after cancelling.
#[derive(Serialize, ToSchema)]
pub struct CancelledBody {
    pub state: AccountState,
}

/// Cancels the caller's scheduled deletion while the grace period runs; everything is as it
/// was. 410 `grace_period_ended` once erasure is due.
#[utoipa::path(delete, path = "/api/v1/me/deletion", tag = "lifecycle", security(("bearer" = [])),
    responses((status = 200, description = "Deletion cancelled", body = CancelledBody)))]
pub async fn cancel(State(s): State<AppState>, Auth(a): Auth) -> ApiResult<Json<CancelledBody>> {
    Ok(Json(CancelledBody {
        state: s.hiatus.cancel_deletion(&a).await?,
    }))
}

/// How a person the caller shares records with (a contract, a thread, a review) appears:
/// their display name, or an erased member's pseudonym. 404 for anyone else.
#[utoipa::path(get, path = "/api/v1/people/{id}", tag = "market", security(("bearer" = [])),
    params(("id" = String, Path, description = "Account id")),
    responses((status = 200, description = "The person", body = PersonCard)))]
pub async fn person(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiPath(id): ApiPath<AccountId>,
) -> ApiResult<Json<PersonCard>> {
    Ok(Json(s.hiatus.person(&a, id).await?))
}
