//! Webhook subscriptions and their delivery log, for operators.

use crate::AppState;
use crate::extract::{ApiJson, ApiPath, ApiQuery, Auth};
use crate::problem::ApiResult;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use hiatus_service::views::WebhookDelivery;
use hiatus_service::webhooks::SubscriptionView;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

/// A new subscription.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SubscribeBody {
    /// Where to POST the events (https:// in production).
    #[schema(max_length = 2000)]
    pub url: String,
    /// Event names, or `*` for all of them.
    pub events: Vec<String>,
}

/// Subscribes a URL to lifecycle events. The response carries the signing secret, once.
#[utoipa::path(post, path = "/api/v1/admin/webhooks", tag = "admin", security(("bearer" = [])), request_body = SubscribeBody,
    responses((status = 201, description = "Subscribed", body = SubscriptionView)))]
pub async fn subscribe(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiJson(b): ApiJson<SubscribeBody>,
) -> ApiResult<(StatusCode, Json<SubscriptionView>)> {
    Ok((
        StatusCode::CREATED,
        Json(
            s.hiatus
                .subscribe_webhook(Some(&a), &b.url, &b.events)
                .await?,
        ),
    ))
}

/// Every subscription.
#[utoipa::path(get, path = "/api/v1/admin/webhooks", tag = "admin", security(("bearer" = [])),
    responses((status = 200, description = "Subscriptions", body = Vec<SubscriptionView>)))]
pub async fn list(
    State(s): State<AppState>,
    Auth(a): Auth,
) -> ApiResult<Json<Vec<SubscriptionView>>> {
    Ok(Json(s.hiatus.webhook_subscriptions(Some(&a)).await?))
}

/// Stops a subscription; its delivery log stays.
#[utoipa::path(delete, path = "/api/v1/admin/webhooks/{id}", tag = "admin", security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "Subscription id")),
    responses((status = 204, description = "Stopped")))]
pub async fn remove(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiPath(id): ApiPath<uuid::Uuid>,
) -> ApiResult<StatusCode> {
    s.hiatus
        .unsubscribe_webhook(Some(&a), &id.to_string())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Filters of the delivery log.
#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct DeliveriesQuery {
    /// Only this subscription's deliveries.
    pub subscription: Option<uuid::Uuid>,
    /// `pending`, `delivered` or `dead`.
    pub status: Option<String>,
    /// At most this many (1 to 1,000; default 100).
    pub limit: Option<i64>,
}

/// The delivery log, newest first.
#[utoipa::path(get, path = "/api/v1/admin/webhook-deliveries", tag = "admin", security(("bearer" = [])), params(DeliveriesQuery),
    responses((status = 200, description = "Deliveries", body = Vec<WebhookDelivery>)))]
pub async fn deliveries(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiQuery(q): ApiQuery<DeliveriesQuery>,
) -> ApiResult<Json<Vec<WebhookDelivery>>> {
    let sub = q.subscription.map(|u| u.to_string());
    Ok(Json(
        s.hiatus
            .webhook_deliveries(
                Some(&a),
                sub.as_deref(),
                q.status.as_deref(),
                q.limit.unwrap_or(100),
            )
            .await?,
    ))
}

/// Sends a dead (or delivered) delivery again.
#[utoipa::path(post, path = "/api/v1/admin/webhook-deliveries/{id}/replay", tag = "admin", security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "Delivery id")),
    responses((status = 204, description = "Queued again")))]
pub async fn replay(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiPath(id): ApiPath<uuid::Uuid>,
) -> ApiResult<StatusCode> {
    s.hiatus.replay_webhook(Some(&a), &id.to_string()).await?;
    Ok(StatusCode::NO_CONTENT)
}
