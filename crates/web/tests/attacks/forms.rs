//! Cross-site forms: a page on another site posts the cancel-deletion or password-reset form
//! with the victim's browser. Older browsers send no `Sec-Fetch-Site`, so `Origin` (or, without
//! it, `Referer`) must be enough to refuse.

use crate::support::{Backend, PASSWORD, TestApp};
use crate::tally::report;
use serde_json::json;

crate::attack_on_both!(foreign_origins_cannot_post_the_link_forms);

async fn foreign_origins_cannot_post_the_link_forms(backend: Backend) {
    let t = TestApp::start(backend).await;
    let f = t.member("freelancer").await;
    let receipt = t
        .post(
            Some(&f),
            "/api/v1/me/deletion",
            json!({"password": PASSWORD, "reason": "not_enough_work", "confirmation": "delete my account"}),
        )
        .await
        .expect(200);
    let cancel =
        t.h.mint_cancel_link(f.id.parse().unwrap(), receipt["due_at"].as_i64().unwrap())
            .await
            .unwrap();
    let (reset, _) =
        t.h.mint_password_reset(f.id.parse().unwrap(), "request")
            .await
            .unwrap();
    let forged_headers: [&[(&str, &str)]; 3] = [
        &[("origin", "https://evil.example")],
        &[("origin", "null")],
        &[("referer", "https://evil.example/cute-cats")],
    ];
    let mut attempts = 0;
    let mut successes = 0;
    for headers in forged_headers {
        for (path, form) in [
            (format!("/cancel-deletion/{cancel}"), vec![]),
            (
                format!("/reset-password/{reset}"),
                vec![
                    ("password", "attacker chosen pw"),
                    ("confirm", "attacker chosen pw"),
                ],
            ),
        ] {
            let mut rb = t.http.post(format!("{}{path}", t.base)).form(&form);
            for (k, v) in headers {
                rb = rb.header(*k, *v);
            }
            let r = rb.send().await.unwrap();
            attempts += 1;
            if r.status() != 403 {
                eprintln!("{path} with {headers:?}: {}", r.status());
                successes += 1;
            }
        }
    }
    // Nothing changed: still scheduled, and the password is the owner's.
    assert_eq!(t.login(&f).await["landing"], "cancel_deletion");
    // The link still works from its own page.
    let own = t
        .http
        .post(format!("{}/cancel-deletion/{cancel}", t.base))
        .header("origin", t.base.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(own.status(), 200);
    report(
        "foreign-origin posts of the cancel and reset forms",
        backend.name(),
        attempts,
        successes,
    );
    t.finish().await;
}
