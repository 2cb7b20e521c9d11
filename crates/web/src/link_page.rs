//! The standalone pages that links from emails open (cancel a deletion, reset a password),
//! and the page for an unknown address: no site layout and no session needed, their own
//! inline style, and a policy that lets their one form post back to this site.

use askama::Template;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use hiatus_service::ServiceError;

/// Renders a link page with a status and its security headers.
pub(crate) fn render<T: Template>(status: StatusCode, page: T) -> Response {
    let mut res = askama_web::WebTemplate(page).into_response();
    if res.status() == StatusCode::OK {
        *res.status_mut() = status;
    }
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'",
        ),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    // Not `no-referrer`: with it, browsers send `Origin: null` on the page's own POST, which
    // could not be told from a forged one. `same-origin` keeps the link out of other sites.
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    res
}

/// A link page that says one thing.
#[derive(Template)]
#[template(path = "link_message.html")]
struct Message<'a> {
    title: &'a str,
    text: &'a str,
}

/// A link page with a title and one paragraph of `text`.
pub(crate) fn message(status: StatusCode, title: &str, text: &str) -> Response {
    render(status, Message { title, text })
}

#[derive(Template)]
#[template(path = "not_found.html")]
struct NotFound {
    title: &'static str,
}

/// The page for an address with nothing at it, for browsers.
pub(crate) fn not_found() -> Response {
    render(
        StatusCode::NOT_FOUND,
        NotFound {
            title: "Page not found",
        },
    )
}

/// The page for a link from an email that cannot be used: not found, spent or expired, for
/// another account, or a failure (logged as `what`, with `fallback` telling what to do).
pub(crate) fn link_problem(e: ServiceError, what: &str, fallback: &str) -> Response {
    match e {
        ServiceError::NotFound(_) => message(
            StatusCode::NOT_FOUND,
            "Link not found",
            "This link does not exist. Check that you copied all of it from the email.",
        ),
        ServiceError::Gone { message: m, .. } => message(
            StatusCode::GONE,
            "This link has been used or has expired",
            &m,
        ),
        ServiceError::Forbidden { message: m, .. } => message(
            StatusCode::FORBIDDEN,
            "This link is for another account",
            &m,
        ),
        e => {
            tracing::error!(error = %e, "{what} failed");
            message(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Something went wrong",
                &format!("Nothing was changed. {fallback}"),
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn text_is_escaped_and_headers_set() {
        let res = message(StatusCode::GONE, "A <title>", "It's <b>\"gone\"</b> & more");
        assert_eq!(res.status(), StatusCode::GONE);
        let csp = res.headers()[header::CONTENT_SECURITY_POLICY]
            .to_str()
            .unwrap();
        assert!(csp.contains("form-action 'self'"), "{csp}");
        assert_eq!(res.headers()[header::REFERRER_POLICY], "same-origin");
        assert_eq!(res.headers()[header::CACHE_CONTROL], "no-store");
        let body = axum::body::to_bytes(res.into_body(), usize::MAX)
            .await
            .unwrap();
        let body = String::from_utf8(body.to_vec()).unwrap();
        assert!(
            body.contains("<title>A &#60;title&#62; — hiatus</title>"),
            "{body}"
        );
        assert!(body.contains("<h1>A &#60;title&#62;</h1>"), "{body}");
        assert!(
            body.contains("<p>It&#39;s &#60;b&#62;&#34;gone&#34;&#60;/b&#62; &#38; more</p>"),
            "{body}"
        );
    }
}
