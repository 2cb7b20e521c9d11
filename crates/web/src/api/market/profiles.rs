//! Profiles and the reviews shown with them.

use crate::AppState;
use crate::api::account::Page;
use crate::extract::{ApiPath, ApiQuery, Auth, MaybeAuth};
use crate::problem::ApiResult;
use axum::Json;
use axum::extract::State;
use hiatus_domain::*;
use hiatus_service::lifecycle::PublicProfile;

/// Profiles listed to the caller (public ones, plus members-only ones when logged in).
#[utoipa::path(get, path = "/api/v1/profiles", tag = "profiles", params(Page),
    responses((status = 200, description = "Profiles", body = [PublicProfile])))]
pub async fn list_profiles(
    State(s): State<AppState>,
    MaybeAuth(a): MaybeAuth,
    ApiQuery(p): ApiQuery<Page>,
) -> ApiResult<Json<Vec<PublicProfile>>> {
    let p = p.get()?;
    Ok(Json(
        s.hiatus
            .list_profiles(a.as_ref(), p.limit.min(100), p.offset)
            .await?,
    ))
}

/// One profile. Hidden (deactivated, private, erased) profiles are 404, like missing ones.
#[utoipa::path(get, path = "/api/v1/profiles/{id}", tag = "profiles", params(("id" = uuid::Uuid, Path, description = "Account id")),
    responses((status = 200, description = "The profile", body = PublicProfile)))]
pub async fn get_profile(
    State(s): State<AppState>,
    MaybeAuth(a): MaybeAuth,
    ApiPath(id): ApiPath<AccountId>,
) -> ApiResult<Json<PublicProfile>> {
    Ok(Json(s.hiatus.profile(a.as_ref(), id).await?))
}

/// The reviews the caller wrote, newest first (those about a member erased since name the
/// pseudonym).
#[utoipa::path(get, path = "/api/v1/me/reviews", tag = "me", security(("bearer" = [])),
    responses((status = 200, description = "Reviews", body = [Review])))]
pub async fn my_reviews(State(s): State<AppState>, Auth(a): Auth) -> ApiResult<Json<Vec<Review>>> {
    Ok(Json(s.hiatus.my_reviews(&a).await?))
}

/// Reviews about a member whose profile the caller may see.
#[utoipa::path(get, path = "/api/v1/profiles/{id}/reviews", tag = "profiles", params(("id" = uuid::Uuid, Path, description = "Account id")),
    responses((status = 200, description = "Reviews", body = [Review])))]
pub async fn profile_reviews(
    State(s): State<AppState>,
    MaybeAuth(a): MaybeAuth,
    ApiPath(id): ApiPath<AccountId>,
) -> ApiResult<Json<Vec<Review>>> {
    Ok(Json(s.hiatus.reviews_of(a.as_ref(), id).await?))
}
