//! Job posts, proposals and invitations.

use crate::AppState;
use crate::extract::{ApiJson, ApiPath, Auth};
use crate::problem::ApiResult;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use hiatus_domain::*;
use hiatus_service::market::ProposalAction;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A job post to create.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct JobPostBody {
    #[schema(min_length = 1, max_length = 200, pattern = "\\S")]
    pub title: String,
}

/// Posts a job (clients).
#[utoipa::path(post, path = "/api/v1/job-posts", tag = "marketplace", security(("bearer" = [])), request_body = JobPostBody,
    responses((status = 201, description = "Created", body = JobPost)))]
pub async fn create_job_post(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiJson(b): ApiJson<JobPostBody>,
) -> ApiResult<(StatusCode, Json<JobPost>)> {
    Ok((
        StatusCode::CREATED,
        Json(s.hiatus.create_job_post(&a, &b.title).await?),
    ))
}

/// The caller's job posts.
#[utoipa::path(get, path = "/api/v1/job-posts", tag = "marketplace", security(("bearer" = [])),
    responses((status = 200, description = "Job posts", body = [JobPost])))]
pub async fn list_job_posts(
    State(s): State<AppState>,
    Auth(a): Auth,
) -> ApiResult<Json<Vec<JobPost>>> {
    Ok(Json(s.hiatus.my_job_posts(&a).await?))
}

/// A proposal or invitation to send.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProposalBody {
    /// `proposal` (freelancer to client) or `invitation` (client to freelancer).
    pub kind: ProposalKind,
    /// The other member.
    pub to: AccountId,
    pub job_post_id: Option<JobPostId>,
    pub cover_letter: String,
}

/// Sends a proposal or an invitation. 404 when the other member is hidden (deactivated,
/// private) and the caller never had a contract or thread with them, as for an unknown id;
/// otherwise 409 `counterparty_unavailable` when they are deactivated or leaving. 409
/// `account_not_active` when the caller is.
#[utoipa::path(post, path = "/api/v1/proposals", tag = "marketplace", security(("bearer" = [])), request_body = ProposalBody,
    responses((status = 201, description = "Sent", body = Proposal)))]
pub async fn send_proposal(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiJson(b): ApiJson<ProposalBody>,
) -> ApiResult<(StatusCode, Json<Proposal>)> {
    Ok((
        StatusCode::CREATED,
        Json(
            s.hiatus
                .send_proposal(&a, b.kind, b.to, b.job_post_id, &b.cover_letter)
                .await?,
        ),
    ))
}

/// Proposals and invitations the caller sent or received.
#[utoipa::path(get, path = "/api/v1/proposals", tag = "marketplace", security(("bearer" = [])),
    responses((status = 200, description = "Proposals", body = [Proposal])))]
pub async fn list_proposals(
    State(s): State<AppState>,
    Auth(a): Auth,
) -> ApiResult<Json<Vec<Proposal>>> {
    Ok(Json(s.hiatus.my_proposals(&a).await?))
}

/// A response to a proposal.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProposalActionBody {
    pub action: ProposalAction,
}

/// The proposal after a response, and the contract an acceptance created.
#[derive(Serialize, ToSchema)]
pub struct ProposalOutcome {
    pub proposal: Proposal,
    pub contract: Option<Contract>,
}

/// Accepts, declines or withdraws a proposal.
#[utoipa::path(post, path = "/api/v1/proposals/{id}/respond", tag = "marketplace", security(("bearer" = [])), request_body = ProposalActionBody,
    params(("id" = uuid::Uuid, Path, description = "Proposal id")),
    responses((status = 200, description = "Done", body = ProposalOutcome)))]
pub async fn respond_proposal(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiPath(id): ApiPath<ProposalId>,
    ApiJson(b): ApiJson<ProposalActionBody>,
) -> ApiResult<Json<ProposalOutcome>> {
    let (proposal, contract) = s.hiatus.respond_proposal(&a, id, b.action).await?;
    Ok(Json(ProposalOutcome { proposal, contract }))
}
