//! Restoration through support over HTTP: the requester's endpoints need no login but the
//! request's token, answer alike for unknown addresses and refuse bad input clearly; the
//! support console's endpoints are for staff only; the reset page changes nothing on GET and
//! sets the password once on POST.

use crate::support::{Member, PASSWORD, TestApp, on_both_backends};
use hiatus_domain::Role;
use reqwest::Method;
use serde_json::json;

on_both_backends!(
    requesters_need_the_token_and_learn_nothing,
    the_support_console_is_for_staff,
    the_reset_page_sets_the_password_once,
);

async fn staff(t: &TestApp) -> Member {
    let s = t.staff(Role::Support).await;
    // Deciding requests needs an explicit re-authentication; the login does not count.
    t.post(
        Some(&s),
        "/api/v1/sessions/reauth",
        json!({"password": PASSWORD}),
    )
    .await
    .expect(204);
    s
}

async fn requesters_need_the_token_and_learn_nothing(t: &TestApp) {
    let f = t.member("freelancer").await;
    let known = t
        .post(
            None,
            "/api/v1/restorations",
            json!({"email": f.email, "explanation": "lost it"}),
        )
        .await
        .expect(202);
    let unknown = t
        .post(
            None,
            "/api/v1/restorations",
            json!({"email": "nobody-here@example.test"}),
        )
        .await
        .expect(202);
    let keys = |v: &serde_json::Value| {
        let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
        k.sort();
        k
    };
    assert_eq!(keys(&known), keys(&unknown));
    assert_eq!(known["status"], unknown["status"]);
    t.post(
        None,
        "/api/v1/restorations",
        json!({"email": "not an address"}),
    )
    .await
    .problem(422, "invalid_email");
    t.post(
        None,
        "/api/v1/restorations",
        json!({"email": f.email, "extra": 1}),
    )
    .await
    .problem(422, "invalid_body");

    let id = known["id"].as_str().unwrap();
    let path = format!("/api/v1/restorations/{id}");
    t.get(None, &path).await.problem(401, "token_required");
    let with_token = |token: &str| {
        t.http
            .request(Method::GET, format!("{}{path}", t.base))
            .header("X-Restoration-Token", token.to_string())
    };
    let res = with_token(unknown["token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404, "another request's token");
    let res = with_token(known["token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let st: serde_json::Value = res.json().await.unwrap();
    assert_eq!(st["status"], "awaiting_code");
    assert_eq!(st["attempts_left"], 5);
    for bogus in ["..%2F..%2Fetc", &"ab".repeat(32)] {
        let res = t
            .http
            .get(format!("{}/api/v1/restorations/{bogus}", t.base))
            .header("X-Restoration-Token", known["token"].as_str().unwrap())
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 404, "{bogus}");
    }

    let code_path = format!("/api/v1/restorations/{id}/code");
    t.post(
        None,
        &code_path,
        json!({"token": known["token"], "code": "00000000"}),
    )
    .await
    .problem(422, "wrong_code");
    t.post(
        None,
        &code_path,
        json!({"token": known["token"], "code": "1".repeat(40)}),
    )
    .await
    .problem(400, "invalid_code");
    t.post(
        None,
        &code_path,
        json!({"token": "nope", "code": "00000000"}),
    )
    .await
    .problem(404, "not_found");
}

async fn the_support_console_is_for_staff(t: &TestApp) {
    let f = t.member("freelancer").await;
    let agent = staff(t).await;
    let ticket = t
        .post(
            None,
            "/api/v1/restorations",
            json!({"email": f.email, "explanation": "new phone"}),
        )
        .await
        .expect(202);
    let id = ticket["id"].as_str().unwrap();
    t.get(Some(&f), "/api/v1/support/restorations")
        .await
        .problem(403, "staff_only");
    t.get(None, "/api/v1/support/restorations")
        .await
        .problem(401, "unauthorized");
    t.get(Some(&agent), "/api/v1/support/restorations?show=some")
        .await
        .problem(400, "invalid_query");
    let queue = t
        .get(Some(&agent), "/api/v1/support/restorations")
        .await
        .expect(200);
    let item = queue
        .as_array()
        .unwrap()
        .iter()
        .find(|q| q["id"] == id)
        .expect("the request is in the queue")
        .clone();
    assert_eq!(item["verified"], false);
    assert_eq!(item["explanation"], "new phone");
    assert!(
        !item.to_string().contains(&f.email),
        "the address is hidden"
    );

    let approve = format!("/api/v1/support/restorations/{id}/approve");
    let deny = format!("/api/v1/support/restorations/{id}/deny");
    t.post(Some(&f), &approve, json!({"note": "me"}))
        .await
        .problem(403, "staff_only");
    t.post(Some(&agent), &approve, json!({"note": "ok"}))
        .await
        .problem(409, "not_verified");
    t.post(Some(&agent), &deny, json!({"note": ""}))
        .await
        .problem(422, "field_required");
    let denied = t
        .post(Some(&agent), &deny, json!({"note": "could not confirm"}))
        .await
        .expect(200);
    assert_eq!(denied["status"], "denied");
    t.post(Some(&agent), &deny, json!({"note": "again"}))
        .await
        .problem(409, "request_closed");
    // An hour later, deciding needs the agent's password again.
    let second = t
        .post(None, "/api/v1/restorations", json!({"email": f.email}))
        .await
        .expect(202);
    let deny_second = format!(
        "/api/v1/support/restorations/{}/deny",
        second["id"].as_str().unwrap()
    );
    t.advance(3600 * crate::support::SECOND);
    t.post(Some(&agent), &deny_second, json!({"note": "not confirmed"}))
        .await
        .problem(403, "reauthentication_required");
    t.post(
        Some(&agent),
        "/api/v1/sessions/reauth",
        json!({"password": PASSWORD}),
    )
    .await
    .expect(204);
    t.post(Some(&agent), &deny_second, json!({"note": "not confirmed"}))
        .await
        .expect(200);
    t.post(
        Some(&agent),
        &format!("/api/v1/support/restorations/{}/deny", "ab".repeat(32)),
        json!({"note": "x"}),
    )
    .await
    .problem(404, "not_found");

    // The member's audit trail, for staff only; the look is recorded.
    let trail_path = format!("/api/v1/support/accounts/{}/audit", f.id);
    t.get(Some(&f), &trail_path)
        .await
        .problem(403, "staff_only");
    let other = t.member("client").await;
    t.get(Some(&other), &trail_path)
        .await
        .problem(403, "staff_only");
    let trail = t.get(Some(&agent), &trail_path).await.expect(200);
    let actions: Vec<&str> = trail
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert!(actions.contains(&"restoration.requested"), "{actions:?}");
    assert!(actions.contains(&"restoration.denied"), "{actions:?}");
    let mine = t.get(Some(&f), "/api/v1/me/audit").await.expect(200);
    assert_eq!(mine[0]["action"], "audit.viewed");
    assert_eq!(mine[0]["actor_id"], agent.id.as_str());
    t.get(
        Some(&agent),
        &format!("/api/v1/support/accounts/{}/audit", uuid::Uuid::new_v4()),
    )
    .await
    .problem(404, "not_found");
}

async fn the_reset_page_sets_the_password_once(t: &TestApp) {
    let f = t.member("freelancer").await;
    let (token, _) =
        t.h.mint_password_reset(f.id.parse().unwrap(), "request")
            .await
            .unwrap();
    let link = format!("/reset-password/{token}");
    for _ in 0..2 {
        let page = t.get(None, &link).await;
        assert_eq!(page.status, 200);
        assert!(
            page.text.contains("Choose a new password") && page.text.contains("method=\"post\"")
        );
    }
    assert_eq!(
        t.login(&f).await["landing"],
        "home",
        "a GET changes nothing"
    );
    let form = |pw: &str, confirm: &str| {
        t.http
            .post(format!("{}{link}", t.base))
            .form(&[("password", pw), ("confirm", confirm)])
    };
    let res = form("a brand new password", "another password!")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 422);
    assert!(res.text().await.unwrap().contains("not the same"));
    let res = form("short", "short").send().await.unwrap();
    assert_eq!(res.status(), 422);
    let res = t
        .http
        .post(format!("{}{link}", t.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("password=only")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    // Still the old password.
    t.login(&f).await;
    let res = form("a brand new password", "a brand new password")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("Your new password is set")
    );
    let res = form("third password here", "third password here")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 410, "single use");
    t.post(
        None,
        "/api/v1/sessions",
        json!({"email": f.email, "password": PASSWORD}),
    )
    .await
    .problem(401, "bad_credentials");
    t.post(
        None,
        "/api/v1/sessions",
        json!({"email": f.email, "password": "a brand new password"}),
    )
    .await
    .expect(200);
    assert_eq!(
        t.get(None, &format!("/reset-password/{}", "cd".repeat(32)))
            .await
            .status,
        404
    );
    t.post(
        None,
        "/api/v1/password-resets",
        json!({"token": "cd".repeat(32), "password": "whatever password"}),
    )
    .await
    .problem(404, "not_found");
}
