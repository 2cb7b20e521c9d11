//! Threads between members and their messages.

use crate::AppState;
use crate::api::account::Page;
use crate::extract::{ApiJson, ApiPath, ApiQuery, Auth};
use crate::problem::ApiResult;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use hiatus_domain::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A thread to start.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ThreadBody {
    pub with: AccountId,
    pub subject: String,
    pub body: String,
    pub contract_id: Option<ContractId>,
}

/// A thread with its first message.
#[derive(Serialize, ToSchema)]
pub struct ThreadOut {
    pub thread: Thread,
    pub message: Message,
}

/// Starts a thread with another member. 409 `messaging_read_only` while deactivated.
#[utoipa::path(post, path = "/api/v1/threads", tag = "messages", security(("bearer" = [])), request_body = ThreadBody,
    responses((status = 201, description = "Started", body = ThreadOut)))]
pub async fn start_thread(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiJson(b): ApiJson<ThreadBody>,
) -> ApiResult<(StatusCode, Json<ThreadOut>)> {
    let (thread, message) = s
        .hiatus
        .start_thread(&a, b.with, &b.subject, &b.body, b.contract_id)
        .await?;
    Ok((StatusCode::CREATED, Json(ThreadOut { thread, message })))
}

/// The caller's threads, most recent first.
#[utoipa::path(get, path = "/api/v1/threads", tag = "messages", security(("bearer" = [])), params(Page),
    responses((status = 200, description = "Threads", body = [Thread])))]
pub async fn list_threads(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiQuery(p): ApiQuery<Page>,
) -> ApiResult<Json<Vec<Thread>>> {
    let p = p.get()?;
    Ok(Json(s.hiatus.my_threads(&a, p.limit, p.offset).await?))
}

/// Messages of a thread, oldest first.
#[utoipa::path(get, path = "/api/v1/threads/{id}/messages", tag = "messages", security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "Thread id"), Page),
    responses((status = 200, description = "Messages", body = [Message])))]
pub async fn list_messages(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiPath(id): ApiPath<ThreadId>,
    ApiQuery(p): ApiQuery<Page>,
) -> ApiResult<Json<Vec<Message>>> {
    let p = p.get()?;
    Ok(Json(
        s.hiatus.thread_messages(&a, id, p.limit, p.offset).await?,
    ))
}

/// A message to post.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MessageBody {
    pub body: String,
}

/// Posts a message. 409 `messaging_read_only` while deactivated.
#[utoipa::path(post, path = "/api/v1/threads/{id}/messages", tag = "messages", security(("bearer" = [])), request_body = MessageBody,
    params(("id" = uuid::Uuid, Path, description = "Thread id")),
    responses((status = 201, description = "Posted", body = Message)))]
pub async fn post_message(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiPath(id): ApiPath<ThreadId>,
    ApiJson(b): ApiJson<MessageBody>,
) -> ApiResult<(StatusCode, Json<Message>)> {
    Ok((
        StatusCode::CREATED,
        Json(s.hiatus.post_message(&a, id, &b.body).await?),
    ))
}
