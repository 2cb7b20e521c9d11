//! Invoices: issued under a contract, listed, read and paid.

use crate::AppState;
use crate::api::account::Page;
use crate::extract::{ApiJson, ApiPath, ApiQuery, Auth};
use crate::problem::ApiResult;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use hiatus_domain::*;
use serde::Deserialize;
use utoipa::ToSchema;

/// An invoice to issue.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InvoiceBody {
    pub description: String,
    pub amount: Money,
    /// Days until due (0 to 365); default 14.
    pub due_in_days: Option<i64>,
}

/// Issues an invoice to the contract's client (its freelancer) while the contract is accepted
/// and not ended; 409 `contract_not_accepted` for an offer, `contract_ended` after the end.
#[utoipa::path(post, path = "/api/v1/contracts/{id}/invoices", tag = "marketplace", security(("bearer" = [])), request_body = InvoiceBody,
    params(("id" = uuid::Uuid, Path, description = "Contract id")),
    responses((status = 201, description = "Issued", body = Invoice)))]
pub async fn issue_invoice(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiPath(id): ApiPath<ContractId>,
    ApiJson(b): ApiJson<InvoiceBody>,
) -> ApiResult<(StatusCode, Json<Invoice>)> {
    Ok((
        StatusCode::CREATED,
        Json(
            s.hiatus
                .issue_invoice(
                    &a,
                    id,
                    &b.description,
                    b.amount,
                    b.due_in_days.unwrap_or(14),
                )
                .await?,
        ),
    ))
}

/// The caller's invoices (issued and received).
#[utoipa::path(get, path = "/api/v1/invoices", tag = "money", security(("bearer" = [])), params(Page),
    responses((status = 200, description = "Invoices", body = [Invoice])))]
pub async fn list_invoices(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiQuery(p): ApiQuery<Page>,
) -> ApiResult<Json<Vec<Invoice>>> {
    let p = p.get()?;
    Ok(Json(s.hiatus.my_invoices(&a, p.limit, p.offset).await?))
}

/// An invoice the caller issued or received.
#[utoipa::path(get, path = "/api/v1/invoices/{id}", tag = "money", security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "Invoice id")),
    responses((status = 200, description = "The invoice", body = Invoice)))]
pub async fn get_invoice(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiPath(id): ApiPath<InvoiceId>,
) -> ApiResult<Json<Invoice>> {
    Ok(Json(s.hiatus.invoice(&a, id).await?))
}

/// Pays an invoice (its recipient).
#[utoipa::path(post, path = "/api/v1/invoices/{id}/pay", tag = "money", security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "Invoice id")),
    responses((status = 200, description = "Paid", body = Invoice)))]
pub async fn pay_invoice(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiPath(id): ApiPath<InvoiceId>,
) -> ApiResult<Json<Invoice>> {
    Ok(Json(s.hiatus.pay_invoice(&a, id).await?))
}
