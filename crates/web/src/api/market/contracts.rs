//! Contracts: offers and their answers, milestones, delivered work and reviews.

use super::files::FileBody;
use crate::AppState;
use crate::api::account::Page;
use crate::extract::{ApiJson, ApiPath, ApiQuery, Auth};
use crate::problem::ApiResult;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use hiatus_domain::*;
use hiatus_service::market::ContractAction;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A contract to start.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ContractBody {
    pub freelancer_id: AccountId,
    pub title: String,
    /// ISO 4217 code; default USD.
    #[schema(value_type = Option<String>)]
    pub currency: Option<Currency>,
}

/// Offers a contract to a freelancer (clients). It starts `offered`: nothing can be funded,
/// delivered, invoiced or reviewed under it until the freelancer accepts it through
/// `POST /api/v1/contracts/{id}/actions` (`accept` or `decline`); the client may `withdraw`
/// it until then.
#[utoipa::path(post, path = "/api/v1/contracts", tag = "marketplace", security(("bearer" = [])), request_body = ContractBody,
    responses((status = 201, description = "The offer, waiting for the freelancer", body = Contract)))]
pub async fn create_contract(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiJson(b): ApiJson<ContractBody>,
) -> ApiResult<(StatusCode, Json<Contract>)> {
    Ok((
        StatusCode::CREATED,
        Json(
            s.hiatus
                .create_contract(
                    &a,
                    b.freelancer_id,
                    &b.title,
                    b.currency.unwrap_or(Currency::USD),
                )
                .await?,
        ),
    ))
}

/// The caller's contracts.
#[utoipa::path(get, path = "/api/v1/contracts", tag = "marketplace", security(("bearer" = [])), params(Page),
    responses((status = 200, description = "Contracts", body = [Contract])))]
pub async fn list_contracts(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiQuery(p): ApiQuery<Page>,
) -> ApiResult<Json<Vec<Contract>>> {
    let p = p.get()?;
    Ok(Json(s.hiatus.my_contracts(&a, p.limit, p.offset).await?))
}

/// A contract the caller is party to.
#[utoipa::path(get, path = "/api/v1/contracts/{id}", tag = "marketplace", security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "Contract id")),
    responses((status = 200, description = "The contract", body = Contract)))]
pub async fn get_contract(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiPath(id): ApiPath<ContractId>,
) -> ApiResult<Json<Contract>> {
    Ok(Json(s.hiatus.contract(&a, id).await?))
}

/// A change to a contract.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ContractActionBody {
    pub action: ContractAction,
}

/// Answers an offer (`accept` or `decline`: the freelancer; `withdraw`: the client; anyone
/// else's answer is 403 `not_your_move`), or pauses, resumes, ends, disputes or resolves the
/// dispute of an accepted contract. Of concurrent requests for one change, one applies and
/// the others get 409.
#[utoipa::path(post, path = "/api/v1/contracts/{id}/actions", tag = "marketplace", security(("bearer" = [])), request_body = ContractActionBody,
    params(("id" = uuid::Uuid, Path, description = "Contract id")),
    responses((status = 200, description = "The contract now", body = Contract)))]
pub async fn contract_action(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiPath(id): ApiPath<ContractId>,
    ApiJson(b): ApiJson<ContractActionBody>,
) -> ApiResult<Json<Contract>> {
    Ok(Json(s.hiatus.contract_action(&a, id, b.action).await?))
}

/// A milestone to fund.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MilestoneBody {
    pub title: String,
    pub amount: Money,
}

/// A funded milestone and its escrow payment.
#[derive(Serialize, ToSchema)]
pub struct Funded {
    pub milestone: Milestone,
    pub payment: Payment,
}

/// Funds a milestone (the client) of an open contract: the amount goes into escrow. An offer
/// the freelancer has not accepted (or declined, or withdrawn) answers 409
/// `contract_not_accepted`.
#[utoipa::path(post, path = "/api/v1/contracts/{id}/milestones", tag = "marketplace", security(("bearer" = [])), request_body = MilestoneBody,
    params(("id" = uuid::Uuid, Path, description = "Contract id")),
    responses((status = 201, description = "Funded", body = Funded)))]
pub async fn fund_milestone(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiPath(id): ApiPath<ContractId>,
    ApiJson(b): ApiJson<MilestoneBody>,
) -> ApiResult<(StatusCode, Json<Funded>)> {
    let (milestone, payment) = s.hiatus.fund_milestone(&a, id, &b.title, b.amount).await?;
    Ok((StatusCode::CREATED, Json(Funded { milestone, payment })))
}

/// Work to deliver.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SubmissionBody {
    #[serde(default)]
    pub note: String,
    #[serde(default)]
    pub files: Vec<FileBody>,
}

/// A submission with its files.
#[derive(Serialize, ToSchema)]
pub struct SubmissionOut {
    pub submission: Submission,
    pub files: Vec<FileMeta>,
}

/// Delivers work under an accepted, not ended contract (its freelancer); 409
/// `contract_not_accepted` for an offer.
#[utoipa::path(post, path = "/api/v1/contracts/{id}/submissions", tag = "marketplace", security(("bearer" = [])), request_body = SubmissionBody,
    params(("id" = uuid::Uuid, Path, description = "Contract id")),
    responses((status = 201, description = "Submitted", body = SubmissionOut)))]
pub async fn submit_work(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiPath(id): ApiPath<ContractId>,
    ApiJson(b): ApiJson<SubmissionBody>,
) -> ApiResult<(StatusCode, Json<SubmissionOut>)> {
    let files = b
        .files
        .into_iter()
        .map(FileBody::upload)
        .collect::<ApiResult<Vec<_>>>()?;
    let (submission, files) = s.hiatus.submit_work(&a, id, &b.note, files).await?;
    Ok((
        StatusCode::CREATED,
        Json(SubmissionOut { submission, files }),
    ))
}

/// The submissions of a contract.
#[utoipa::path(get, path = "/api/v1/contracts/{id}/submissions", tag = "marketplace", security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "Contract id")),
    responses((status = 200, description = "Submissions", body = [SubmissionOut])))]
pub async fn list_submissions(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiPath(id): ApiPath<ContractId>,
) -> ApiResult<Json<Vec<SubmissionOut>>> {
    let v = s.hiatus.contract_submissions(&a, id).await?;
    Ok(Json(
        v.into_iter()
            .map(|(submission, files)| SubmissionOut { submission, files })
            .collect(),
    ))
}

/// A review to write.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReviewBody {
    /// 1 to 5.
    pub rating: i64,
    #[serde(default)]
    pub body: String,
}

/// Reviews the other party of a contract that was accepted and then ended; an offer, answered
/// or not, is never reviewed (409 `contract_not_accepted`).
#[utoipa::path(post, path = "/api/v1/contracts/{id}/reviews", tag = "marketplace", security(("bearer" = [])), request_body = ReviewBody,
    params(("id" = uuid::Uuid, Path, description = "Contract id")),
    responses((status = 201, description = "Written", body = Review)))]
pub async fn write_review(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiPath(id): ApiPath<ContractId>,
    ApiJson(b): ApiJson<ReviewBody>,
) -> ApiResult<(StatusCode, Json<Review>)> {
    Ok((
        StatusCode::CREATED,
        Json(s.hiatus.write_review(&a, id, b.rating, &b.body).await?),
    ))
}
