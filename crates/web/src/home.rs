//! The page at `/`: what this server is and where to go next. The account pages themselves
//! are server-rendered elsewhere; this one works without them.

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

const PAGE: &str = r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>hiatus</title>
<style>
body { font: 16px/1.5 system-ui, sans-serif; max-width: 42rem; margin: 2rem auto; padding: 0 1rem; color: #1b1b1b; }
h1 { font-size: 1.8rem; margin-bottom: .2rem; }
code { background: #f1f1f1; padding: .1rem .3rem; border-radius: 3px; }
a { color: #0b57d0; }
li { margin: .3rem 0; }
</style>
</head>
<body>
<h1>hiatus</h1>
<p>Take a break, deactivate, download your data, delete for good, come back &mdash; and nobody
loses data they are entitled to keep.</p>
<p><a href="/login">Log in to your account</a> &mdash; settings, your data, taking a break or
closing your account (Settings &rarr; Contact info &rarr; Close my account).</p>
<h2>Where to go</h2>
<ul>
<li><a href="/api/v1/openapi.json">The API's OpenAPI document</a> (<code>/api/v1</code>)</li>
<li><a href="/api/v1/profiles">Listed profiles</a> &mdash; deactivated members disappear from here</li>
<li><a href="/healthz">Health</a> and <a href="/readyz">readiness</a></li>
</ul>
<h2>Try the closing flow</h2>
<p>Log in with <code>POST /api/v1/sessions</code>, then ask
<code>GET /api/v1/me/preflight?intent=deactivate</code> what stands in the way, and
<code>POST /api/v1/me/deactivate</code>. The README has a copy-paste walk-through with the demo
logins.</p>
</body>
</html>
"#;

/// Serves the page with a policy that allows its inline style and nothing else.
pub async fn page() -> Response {
    let mut res = axum::response::Html(PAGE).into_response();
    res.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
        ),
    );
    res
}
