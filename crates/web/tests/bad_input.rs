//! Whatever a client sends, the answer is a 4xx `application/problem+json` with a stable
//! `code` — never a 5xx, never an HTML or plain-text error (except the page a browser gets
//! for an unknown page address outside the API).

mod support;

use reqwest::Method;
use serde_json::json;
use support::{Member, TestApp, on_both_backends};

on_both_backends!(
    malformed_bodies_are_problems,
    oversized_bodies_are_problems,
    unknown_and_malformed_ids_are_not_found,
    other_members_ids_are_not_found,
    unknown_routes_and_wrong_methods_are_problems,
    missing_or_bad_credentials_are_problems,
    invalid_values_are_problems,
    unknown_pages_are_pages_for_browsers,
);

const JSON: Option<&str> = Some("application/json");

async fn raw(
    t: &TestApp,
    who: Option<&Member>,
    method: Method,
    path: &str,
    ct: Option<&str>,
    body: &[u8],
) -> support::Res {
    t.raw(method, who, path, ct, body.to_vec())
        .await
        .expect("the server answers")
}

async fn malformed_bodies_are_problems(t: &TestApp) {
    let m = t.member("both").await;
    let who = Some(&m);
    let cases: [(&str, &[u8], u16, &str); 8] = [
        ("/api/v1/accounts", b"{\"email\": ", 400, "malformed_json"),
        (
            "/api/v1/accounts",
            b"not json at all",
            400,
            "malformed_json",
        ),
        ("/api/v1/accounts", b"", 400, "malformed_json"),
        ("/api/v1/sessions", b"[1, 2, 3]", 422, "invalid_body"),
        (
            "/api/v1/sessions",
            b"{\"email\": 5, \"password\": true}",
            422,
            "invalid_body",
        ),
        (
            "/api/v1/sessions",
            b"{\"email\": \"a@b.test\"}",
            422,
            "invalid_body",
        ),
        (
            "/api/v1/sessions",
            b"{\"email\": \"a@b.test\", \"password\": \"xxxxxxxxxx\", \"admin\": true}",
            422,
            "invalid_body",
        ),
        (
            "/api/v1/job-posts",
            b"{\"title\": \"\xff\xfe\"}",
            400,
            "malformed_json",
        ),
    ];
    for (path, body, status, code) in cases {
        raw(t, who, Method::POST, path, JSON, body)
            .await
            .problem(status, code);
    }
    // Wrong types and unknown fields in the bodies of authenticated routes.
    let typed: [(Method, &str, serde_json::Value); 8] = [
        (Method::PATCH, "/api/v1/me/profile", json!({"headline": 5})),
        (
            Method::PATCH,
            "/api/v1/me/settings",
            json!({"visibility": "everyone"}),
        ),
        (
            Method::PATCH,
            "/api/v1/me/profile",
            json!({"nickname": "x"}),
        ),
        (
            Method::POST,
            "/api/v1/me/break",
            json!({"until": "tomorrow"}),
        ),
        (
            Method::POST,
            "/api/v1/me/deactivate",
            json!({"password": "x", "reason": "bored"}),
        ),
        (
            Method::POST,
            "/api/v1/contracts",
            json!({"freelancer_id": "nope", "title": "x"}),
        ),
        (
            Method::POST,
            "/api/v1/me/withdrawals",
            json!({"amount": {"minor": 1.5, "currency": "USD"}}),
        ),
        (
            Method::POST,
            "/api/v1/me/withdrawals",
            json!({"amount": {"minor": 100, "currency": "usd"}}),
        ),
    ];
    for (method, path, body) in typed {
        let r = raw(t, who, method, path, JSON, body.to_string().as_bytes()).await;
        r.problem(422, "invalid_body");
    }
    // serde_json reports a number where an enum's name goes as a syntax error, so this valid
    // JSON is answered as malformed: still a problem, if not the most precise one.
    for body in [r#"{"visibility": 3}"#, r#"{"notifications": ["all"]}"#] {
        raw(
            t,
            who,
            Method::PATCH,
            "/api/v1/me/settings",
            JSON,
            body.as_bytes(),
        )
        .await
        .is_problem();
    }
    assert_eq!(t.settings(&m).await["visibility"], "public");
    // No content type, or the wrong one.
    let body = br#"{"email": "a@b.test", "password": "xxxxxxxxxx"}"#;
    raw(t, None, Method::POST, "/api/v1/sessions", None, body)
        .await
        .problem(415, "unsupported_media_type");
    raw(
        t,
        None,
        Method::POST,
        "/api/v1/sessions",
        Some("text/plain"),
        body,
    )
    .await
    .problem(415, "unsupported_media_type");
    raw(
        t,
        who,
        Method::POST,
        "/api/v1/job-posts",
        Some("application/x-www-form-urlencoded"),
        b"title=x",
    )
    .await
    .problem(415, "unsupported_media_type");
    // Invalid base64 in a file upload.
    t.post(
        who,
        "/api/v1/files",
        json!({"kind": "private", "name": "a", "content_type": "text/plain", "data_base64": "***"}),
    )
    .await
    .problem(422, "invalid_base64");
    // Nothing was created by any of it.
    let posts = t.get(who, "/api/v1/job-posts").await.expect(200);
    assert!(posts.as_array().unwrap().is_empty(), "{posts}");
}

async fn oversized_bodies_are_problems(t: &TestApp) {
    let m = t.member("client").await;
    // Just over the 12 MiB limit of the body, in valid JSON.
    let mut big = Vec::with_capacity(13 * 1024 * 1024);
    big.extend_from_slice(b"{\"title\": \"");
    big.resize(12 * 1024 * 1024 + 100, b'a');
    big.extend_from_slice(b"\"}");
    // Only a few bytes over, so the client has sent nearly everything when the server
    // answers and reads the answer rather than a broken pipe.
    t.raw(Method::POST, Some(&m), "/api/v1/job-posts", JSON, big)
        .await
        .expect("the server answers an oversized body")
        .problem(413, "body_too_large");
    // Under the body limit but over the file limit (8 MiB): refused by the use case.
    let file = vec![b'x'; 8 * 1024 * 1024 + 1];
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD.encode(&file);
    t.post(
        Some(&m),
        "/api/v1/files",
        json!({"kind": "private", "name": "big.bin", "content_type": "application/octet-stream", "data_base64": b64}),
    )
    .await
    .problem(422, "file_too_large");
    // Long text fields are refused by length, not by crashing.
    t.post(
        Some(&m),
        "/api/v1/job-posts",
        json!({"title": "t".repeat(10_000)}),
    )
    .await
    .problem(422, "field_too_long");
    let posts = t.get(Some(&m), "/api/v1/job-posts").await.expect(200);
    assert!(posts.as_array().unwrap().is_empty(), "{posts}");
}

async fn unknown_and_malformed_ids_are_not_found(t: &TestApp) {
    let m = t.member("both").await;
    let who = Some(&m);
    let unknown = uuid::Uuid::now_v7().to_string();
    let long = "9".repeat(5000);
    for id in [
        unknown.as_str(),
        "not-a-uuid",
        "1",
        "00000000-0000-0000-0000-00000000000g",
        "%00",
        "..%2F..%2Fetc",
        long.as_str(),
    ] {
        for path in [
            format!("/api/v1/profiles/{id}"),
            format!("/api/v1/profiles/{id}/reviews"),
            format!("/api/v1/contracts/{id}"),
            format!("/api/v1/contracts/{id}/submissions"),
            format!("/api/v1/invoices/{id}"),
            format!("/api/v1/threads/{id}/messages"),
            format!("/api/v1/files/{id}"),
        ] {
            t.get(who, &path).await.problem(404, "not_found");
        }
        for (path, body) in [
            (
                format!("/api/v1/contracts/{id}/actions"),
                json!({"action": "end"}),
            ),
            (
                format!("/api/v1/payments/{id}/actions"),
                json!({"action": "release"}),
            ),
            (
                format!("/api/v1/proposals/{id}/respond"),
                json!({"action": "accept"}),
            ),
            (
                format!("/api/v1/threads/{id}/messages"),
                json!({"body": "hi"}),
            ),
            (
                format!("/api/v1/contracts/{id}/milestones"),
                json!({"title": "x", "amount": {"minor": 1, "currency": "USD"}}),
            ),
        ] {
            t.post(who, &path, body).await.problem(404, "not_found");
        }
        t.post_empty(who, &format!("/api/v1/invoices/{id}/pay"))
            .await
            .problem(404, "not_found");
    }
    // Unknown ids inside bodies.
    t.post(
        who,
        "/api/v1/contracts",
        json!({"freelancer_id": unknown, "title": "x"}),
    )
    .await
    .problem(404, "not_found");
    t.post(
        who,
        "/api/v1/proposals",
        json!({"kind": "invitation", "to": unknown, "cover_letter": "x"}),
    )
    .await
    .problem(404, "not_found");
    t.post(
        who,
        "/api/v1/threads",
        json!({"with": unknown, "subject": "x", "body": "x"}),
    )
    .await
    .problem(404, "not_found");
}

async fn other_members_ids_are_not_found(t: &TestApp) {
    let c = t.member("client").await;
    let f = t.member("freelancer").await;
    let outsider = t.member("both").await;
    let k = t.contract(&c, &f, "Theirs").await;
    let p = t.fund(&c, &k, 500).await;
    let file = t
        .post(
            Some(&f),
            "/api/v1/files",
            json!({"kind": "photo", "name": "me.png", "content_type": "image/png", "data_base64": "iVBORw0K"}),
        )
        .await
        .expect(201)["id"]
        .as_str()
        .unwrap()
        .to_string();
    for who in [&outsider, &c] {
        t.get(Some(who), &format!("/api/v1/files/{file}"))
            .await
            .problem(404, "not_found");
    }
    let o = Some(&outsider);
    t.get(o, &format!("/api/v1/contracts/{k}"))
        .await
        .problem(404, "not_found");
    t.post(
        o,
        &format!("/api/v1/payments/{p}/actions"),
        json!({"action": "approve"}),
    )
    .await
    .problem(404, "not_found");
    // An account id where a contract id goes names no contract.
    t.get(o, &format!("/api/v1/contracts/{}", c.id))
        .await
        .problem(404, "not_found");
    // Nothing changed for the parties.
    let pay = t.get(Some(&c), "/api/v1/payments").await.expect(200);
    assert_eq!(pay[0]["status"], "in_escrow");
}

async fn unknown_routes_and_wrong_methods_are_problems(t: &TestApp) {
    let m = t.member("client").await;
    for who in [None, Some(&m)] {
        for path in [
            "/nope",
            "/api",
            "/api/v1",
            "/api/v1/",
            "/api/v1/nope",
            "/api/v2/me",
            "/api/v1/me/nope",
            "/api/v1/contracts/a/b/c",
            "/index.html",
        ] {
            t.get(who, path).await.problem(404, "not_found");
        }
        for (method, path) in [
            (Method::PUT, "/api/v1/me"),
            (Method::DELETE, "/api/v1/me"),
            (Method::POST, "/api/v1/me"),
            (Method::GET, "/api/v1/sessions"),
            (Method::GET, "/api/v1/accounts"),
            (Method::DELETE, "/api/v1/accounts"),
            (Method::GET, "/api/v1/me/deactivate"),
            (Method::PATCH, "/api/v1/me/reactivate"),
            (Method::PUT, "/api/v1/profiles"),
            (Method::DELETE, "/api/v1/contracts"),
            (Method::GET, "/api/v1/sessions/reauth"),
            (Method::POST, "/healthz"),
            (Method::POST, "/"),
            (Method::DELETE, "/"),
        ] {
            raw(t, who, method.clone(), path, JSON, b"{}")
                .await
                .problem(405, "method_not_allowed");
        }
    }
}

async fn missing_or_bad_credentials_are_problems(t: &TestApp) {
    let m = t.member("client").await;
    for path in [
        "/api/v1/me",
        "/api/v1/me/preflight?intent=deactivate",
        "/api/v1/contracts",
        "/api/v1/me/audit",
        "/api/v1/threads",
    ] {
        t.get(None, path).await.problem(401, "unauthorized");
        let forged = support::Member {
            token: "forged-token".into(),
            ..m.clone()
        };
        t.get(Some(&forged), path)
            .await
            .problem(401, "unauthorized");
        let huge = support::Member {
            token: "x".repeat(4000),
            ..m.clone()
        };
        t.get(Some(&huge), path).await.problem(401, "unauthorized");
    }
    t.post(
        None,
        "/api/v1/me/deactivate",
        json!({"password": "x", "reason": "other"}),
    )
    .await
    .problem(401, "unauthorized");
    t.post(
        None,
        "/api/v1/sessions",
        json!({"email": "nobody@example.test", "password": "whatever-it-is"}),
    )
    .await
    .problem(401, "bad_credentials");
    t.post(
        None,
        "/api/v1/sessions",
        json!({"email": "not an email", "password": "whatever-it-is"}),
    )
    .await
    .problem(401, "bad_credentials");
    // After logging out the token is dead.
    t.delete(Some(&m), "/api/v1/sessions/current")
        .await
        .expect(204);
    t.get(Some(&m), "/api/v1/me")
        .await
        .problem(401, "unauthorized");
}

async fn invalid_values_are_problems(t: &TestApp) {
    let c = t.member("client").await;
    let f = t.member("freelancer").await;
    let who = Some(&c);
    for q in [
        "",
        "?intent=",
        "?intent=leave",
        "?intent=deactivate&reason=bored",
        "?intent=deactivate&intent=delete&intent=x",
    ] {
        t.get(who, &format!("/api/v1/me/preflight{q}"))
            .await
            .problem(400, "invalid_query");
    }
    for q in [
        "?limit=0",
        "?limit=501",
        "?limit=abc",
        "?offset=-1",
        "?limit=99999999999999999999",
    ] {
        t.get(who, &format!("/api/v1/contracts{q}"))
            .await
            .problem(400, "invalid_query");
    }
    let k = t.contract(&c, &f, "Values").await;
    let cases: [(&str, serde_json::Value, u16, &str); 8] = [
        (
            "/api/v1/accounts",
            json!({"email": "no-at-sign", "password": "long enough pw", "legal_name": "A", "display_name": "A", "kind": "client"}),
            422,
            "invalid_email",
        ),
        (
            "/api/v1/accounts",
            json!({"email": "short@example.test", "password": "short", "legal_name": "A", "display_name": "A", "kind": "client"}),
            422,
            "weak_password",
        ),
        (
            "/api/v1/accounts",
            json!({"email": "ctl@example.test", "password": "long enough pw", "legal_name": "A\u{0000}B", "display_name": "A", "kind": "client"}),
            422,
            "field_invalid",
        ),
        (
            "/api/v1/job-posts",
            json!({"title": "   "}),
            422,
            "field_required",
        ),
        (
            &format!("/api/v1/contracts/{k}/milestones"),
            json!({"title": "x", "amount": {"minor": -5, "currency": "USD"}}),
            422,
            "amount_invalid",
        ),
        (
            &format!("/api/v1/contracts/{k}/milestones"),
            json!({"title": "x", "amount": {"minor": 5, "currency": "EUR"}}),
            422,
            "currency_mismatch",
        ),
        (
            "/api/v1/me/withdrawals",
            json!({"amount": {"minor": 100, "currency": "USD"}}),
            409,
            "insufficient_balance",
        ),
        (
            "/api/v1/proposals",
            json!({"kind": "invitation", "to": c.id, "cover_letter": "me?"}),
            422,
            "self_proposal",
        ),
    ];
    for (path, body, status, code) in cases {
        t.post(who, path, body).await.problem(status, code);
    }
    // A taken address is not an error: the answer must not tell that it has an account.
    t.post(
        None,
        "/api/v1/accounts",
        json!({"email": c.email, "password": "long enough pw", "legal_name": "A", "display_name": "A", "kind": "client"}),
    )
    .await
    .expect(202);
    t.post(
        Some(&f),
        &format!("/api/v1/contracts/{k}/reviews"),
        json!({"rating": 9}),
    )
    .await
    .problem(422, "rating_invalid");
    t.post(
        Some(&f),
        &format!("/api/v1/contracts/{k}/invoices"),
        json!({"description": "x", "amount": {"minor": 5, "currency": "USD"}, "due_in_days": 9999}),
    )
    .await
    .problem(422, "due_invalid");
    t.post(
        Some(&f),
        &format!("/api/v1/contracts/{k}/milestones"),
        json!({"title": "x", "amount": {"minor": 5, "currency": "USD"}}),
    )
    .await
    .problem(403, "client_only");
    t.post(
        Some(&f),
        "/api/v1/me/deactivate",
        json!({"password": support::PASSWORD, "reason": "other", "detail": "d".repeat(2001)}),
    )
    .await
    .problem(422, "field_too_long");
    assert_eq!(t.state(&f).await, "active");
}

/// A browser asking for an unknown page outside the API gets a page; the API and programs
/// keep getting problems.
async fn unknown_pages_are_pages_for_browsers(t: &TestApp) {
    let get = |path: &'static str, accept: &'static str| {
        t.http
            .get(format!("{}{path}", t.base))
            .header("accept", accept)
            .send()
    };
    let res = get("/settings/nope", "text/html,application/xhtml+xml")
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    assert!(res.text().await.unwrap().contains("Page not found"));
    let res = get("/api/v1/nope", "text/html").await.unwrap();
    assert_eq!(res.status(), 404);
    assert_eq!(res.headers()["content-type"], "application/problem+json");
    let res = get("/settings/nope", "application/json").await.unwrap();
    assert_eq!(res.headers()["content-type"], "application/problem+json");
}
