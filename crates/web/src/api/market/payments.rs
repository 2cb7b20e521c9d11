//! Payments in escrow and the debts members owe the platform.

use crate::AppState;
use crate::api::account::Page;
use crate::extract::{ApiJson, ApiPath, ApiQuery, Auth};
use crate::problem::{ApiError, ApiResult};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use hiatus_domain::*;
use hiatus_service::market::PaymentAction;
use serde::Deserialize;
use utoipa::ToSchema;

/// The caller's payments.
#[utoipa::path(get, path = "/api/v1/payments", tag = "money", security(("bearer" = [])), params(Page),
    responses((status = 200, description = "Payments", body = [Payment])))]
pub async fn list_payments(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiQuery(p): ApiQuery<Page>,
) -> ApiResult<Json<Vec<Payment>>> {
    let p = p.get()?;
    Ok(Json(s.hiatus.my_payments(&a, p.limit, p.offset).await?))
}

/// A change to a payment.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PaymentActionBody {
    pub action: PaymentAction,
}

/// Approves, releases or refunds a payment: the client approves and releases, the freelancer
/// refunds, an operator may act on any payment. Each happens once: a payment already settled
/// (also by a concurrent request) is 409 `payment_settled`; a release that would take the
/// freelancer's balance past its bound is 409 `balance_limit`; support agents get 403.
#[utoipa::path(post, path = "/api/v1/payments/{id}/actions", tag = "money", security(("bearer" = [])), request_body = PaymentActionBody,
    params(("id" = uuid::Uuid, Path, description = "Payment id")),
    responses((status = 200, description = "The payment now", body = Payment)))]
pub async fn payment_action(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiPath(id): ApiPath<PaymentId>,
    ApiJson(b): ApiJson<PaymentActionBody>,
) -> ApiResult<Json<Payment>> {
    Ok(Json(s.hiatus.payment_action(&a, id, b.action).await?))
}

/// A debt to record.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DebtBody {
    /// What the member owes, in minor units (cents); zero clears the debt in that currency.
    #[schema(minimum = 0)]
    pub minor: i64,
    /// ISO 4217 code, e.g. USD.
    #[schema(value_type = String, example = "USD")]
    pub currency: Currency,
}

/// Records what a member owes the platform (support agents and operators only).
#[utoipa::path(post, path = "/api/v1/admin/accounts/{id}/debt", tag = "admin", security(("bearer" = [])), request_body = DebtBody,
    params(("id" = uuid::Uuid, Path, description = "Account id")),
    responses((status = 200, description = "The balance now", body = Balance)))]
pub async fn set_debt(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiPath(id): ApiPath<AccountId>,
    ApiJson(b): ApiJson<DebtBody>,
) -> ApiResult<Json<Balance>> {
    let debt = Money::new(b.minor, b.currency).map_err(|e| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "amount_invalid",
            e.to_string(),
        )
    })?;
    Ok(Json(s.hiatus.set_platform_debt(&a, id, debt).await?))
}
