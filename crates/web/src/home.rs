//! The page at `/`: what this server is and where to go next. The account pages themselves
//! are server-rendered elsewhere; this one works without them.

use askama::Template;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

#[derive(Template)]
#[template(path = "index.html")]
struct Index;

/// Serves the page with a policy that allows its inline style and nothing else.
pub async fn page() -> Response {
    let mut res = askama_web::WebTemplate(Index).into_response();
    res.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
        ),
    );
    res
}
