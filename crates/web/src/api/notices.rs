//! Telling regular clients that the member is leaving or pausing.

use crate::AppState;
use crate::extract::{ApiJson, Auth};
use crate::problem::ApiResult;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use hiatus_domain::AccountId;
use hiatus_service::notices::{RegularClientView, TellClients};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The caller's regular clients with the facts that make each one regular, and whether they
/// were told already.
#[utoipa::path(get, path = "/api/v1/me/regular-clients", tag = "lifecycle", security(("bearer" = [])),
    responses((status = 200, description = "Regular clients", body = Vec<RegularClientView>)))]
pub async fn regular_clients(
    State(s): State<AppState>,
    Auth(a): Auth,
) -> ApiResult<Json<Vec<RegularClientView>>> {
    Ok(Json(s.hiatus.regular_clients(&a).await?))
}

/// What to tell them.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TellBody {
    /// Which regular clients (default: all of them).
    #[schema(value_type = Option<Vec<String>>)]
    pub clients: Option<Vec<AccountId>>,
    /// The farewell or away message, at most 5,000 characters.
    #[schema(min_length = 1, max_length = 5000)]
    pub message: String,
    /// Where clients can reach you instead, at most 300 characters.
    #[schema(max_length = 300)]
    pub forwarding: Option<String>,
}

/// Who will be told.
#[derive(Serialize, ToSchema)]
pub struct Told {
    #[schema(value_type = Vec<String>)]
    pub clients: Vec<AccountId>,
}

/// Sends the message to the chosen regular clients, in the thread each shares with the caller
/// and by email. Delivered in the background; 202 says who will get it.
#[utoipa::path(post, path = "/api/v1/me/client-notices", tag = "lifecycle", security(("bearer" = [])), request_body = TellBody,
    responses((status = 202, description = "Queued", body = Told)))]
pub async fn tell(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiJson(b): ApiJson<TellBody>,
) -> ApiResult<(StatusCode, Json<Told>)> {
    let clients = s
        .hiatus
        .tell_clients(
            &a,
            TellClients {
                clients: b.clients,
                message: b.message,
                forwarding: b.forwarding,
            },
        )
        .await?;
    Ok((StatusCode::ACCEPTED, Json(Told { clients })))
}
