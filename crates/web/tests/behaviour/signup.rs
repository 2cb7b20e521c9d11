//! Sign-up over HTTP: a new account confirms its address with the mailed link and the password
//! chosen at sign-up before it can log in; the link works once, for 48 hours, and only the
//! newest sign-up's; the worker removes accounts never confirmed.

use crate::support::{DAY, PASSWORD, SECOND, TestApp, on_both_backends_with_mail};
use hiatus_service::worker::Worker;
use serde_json::{Value, json};
use std::time::Duration;

on_both_backends_with_mail!(
    a_new_account_confirms_its_address_with_the_link_and_its_password,
    a_confirmation_link_works_once_and_expires,
    signing_up_again_replaces_an_unconfirmed_sign_up_and_its_link,
    the_worker_removes_accounts_never_confirmed,
);

fn sign_up_body(email: &str, password: &str, name: &str) -> Value {
    json!({"email": email, "password": password, "legal_name": format!("Legal {name}"),
           "display_name": name, "kind": "freelancer", "headline": "Available"})
}

async fn sign_up(t: &TestApp, email: &str, password: &str, name: &str) {
    let body = t
        .post(
            None,
            "/api/v1/accounts",
            sign_up_body(email, password, name),
        )
        .await
        .expect(202);
    assert_eq!(body["status"], "check_your_mail");
}

/// The tokens of the confirmation links mailed to `email` so far, in no particular order.
fn links_in_mail(t: &TestApp, email: &str) -> Vec<String> {
    let mut out = Vec::new();
    for m in t.mail_to(email) {
        if !m.contains("Confirm your address") {
            continue;
        }
        let at = m
            .find("/signup/confirm/")
            .expect("the confirmation mail has a link")
            + "/signup/confirm/".len();
        let token = m[at..at + 64].to_string();
        if !out.contains(&token) {
            out.push(token);
        }
    }
    out
}

async fn confirm(t: &TestApp, token: &str, password: &str) -> crate::support::Res {
    t.post(
        None,
        "/api/v1/accounts/confirm",
        json!({"token": token, "password": password}),
    )
    .await
}

async fn login(t: &TestApp, email: &str, password: &str) -> crate::support::Res {
    t.post(
        None,
        "/api/v1/sessions",
        json!({"email": email, "password": password}),
    )
    .await
}

async fn listed_names(t: &TestApp) -> Vec<String> {
    let list = t.get(None, "/api/v1/profiles?limit=500").await.expect(200);
    list.as_array()
        .expect("a list")
        .iter()
        .filter_map(|p| p["display_name"].as_str().map(str::to_string))
        .collect()
}

async fn a_new_account_confirms_its_address_with_the_link_and_its_password(t: &TestApp) {
    let email = "new.member@example.test";
    sign_up(t, email, PASSWORD, "Newcomer").await;
    // Not before the address is confirmed: the answer of a wrong password, to the byte.
    let refused = login(t, email, PASSWORD).await;
    let wrong = login(t, "nobody.here@example.test", PASSWORD).await;
    refused.problem(401, "bad_credentials");
    assert_eq!(refused.body, wrong.body);
    assert!(
        refused.body["detail"]
            .as_str()
            .is_some_and(|d| d.contains("open the link we mailed you first")),
        "{}",
        refused.text
    );
    // Nobody can find or reach it meanwhile.
    assert!(!listed_names(t).await.contains(&"Newcomer".to_string()));

    t.drain_jobs().await;
    let links = links_in_mail(t, email);
    assert_eq!(links.len(), 1, "one confirmation mail");
    let mail = t
        .mail_to(email)
        .into_iter()
        .find(|m| m.contains("Confirm your address"))
        .unwrap();
    // What the sign-up typed is not the address owner's to read: no name in the mail.
    assert!(!mail.contains("Newcomer"), "{mail}");
    assert!(mail.contains("enter the password chosen when signing up"));
    let token = &links[0];

    // A wrong password, a token of the wrong shape, a token that names nothing: one answer.
    let bad = confirm(t, token, "not the password at all").await;
    bad.problem(422, "confirmation_failed");
    for (tok, pw) in [
        ("short", PASSWORD),
        (&"0".repeat(64)[..], PASSWORD),
        (&token[..], ""),
    ] {
        let r = confirm(t, tok, pw).await;
        assert_eq!((r.status, &r.body), (bad.status, &bad.body), "{tok}");
    }
    // The right password logs in, like a login.
    let session = confirm(t, token, PASSWORD).await.expect(200);
    let id = session["account_id"].as_str().unwrap().to_string();
    assert_eq!(session["state"], "active");
    assert_eq!(session["landing"], "home");
    let me = t
        .http
        .get(format!("{}/api/v1/me", t.base))
        .bearer_auth(session["token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(me.status().as_u16(), 200);
    let me: Value = me.json().await.unwrap();
    assert_eq!(me["id"].as_str(), Some(id.as_str()), "{me}");
    // From now on it logs in and is listed like any account.
    login(t, email, PASSWORD).await.expect(200);
    assert!(listed_names(t).await.contains(&"Newcomer".to_string()));
    // A confirmed address is not mailed a link again, whatever its old mail does.
    t.drain_jobs().await;
    assert_eq!(links_in_mail(t, email).len(), 1);
}

async fn a_confirmation_link_works_once_and_expires(t: &TestApp) {
    let email = "once@example.test";
    sign_up(t, email, PASSWORD, "Once").await;
    t.drain_jobs().await;
    let token = links_in_mail(t, email).pop().expect("a link");
    confirm(t, &token, PASSWORD).await.expect(200);
    confirm(t, &token, PASSWORD)
        .await
        .problem(422, "confirmation_failed");

    let late = "late@example.test";
    sign_up(t, late, PASSWORD, "Late").await;
    t.drain_jobs().await;
    let token = links_in_mail(t, late).pop().expect("a link");
    t.advance(2 * DAY - SECOND);
    // Its page still offers the form a second before the end, and not at the end.
    let page = format!("/signup/confirm/{token}");
    assert_eq!(t.get(None, &page).await.status, 200);
    t.advance(SECOND);
    assert_eq!(t.get(None, &page).await.status, 410);
    confirm(t, &token, PASSWORD)
        .await
        .problem(422, "confirmation_failed");
    login(t, late, PASSWORD)
        .await
        .problem(401, "bad_credentials");
}

async fn signing_up_again_replaces_an_unconfirmed_sign_up_and_its_link(t: &TestApp) {
    let email = "twice@example.test";
    let (first_pw, second_pw) = ("the first password", "the second password");
    sign_up(t, email, first_pw, "First").await;
    t.drain_jobs().await;
    let first = links_in_mail(t, email);
    assert_eq!(first.len(), 1);
    sign_up(t, email, second_pw, "Second").await;
    t.drain_jobs().await;
    let second: Vec<String> = links_in_mail(t, email)
        .into_iter()
        .filter(|l| !first.contains(l))
        .collect();
    assert_eq!(second.len(), 1, "a fresh link for the new sign-up");
    // The earlier link works with neither password; the new one only with the new password.
    for (token, pw) in [
        (&first[0], first_pw),
        (&first[0], second_pw),
        (&second[0], first_pw),
    ] {
        confirm(t, token, pw)
            .await
            .problem(422, "confirmation_failed");
    }
    let session = confirm(t, &second[0], second_pw).await.expect(200);
    let me = t
        .http
        .get(format!("{}/api/v1/me", t.base))
        .bearer_auth(session["token"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    assert_eq!(me["display_name"], "Second", "{me}");
    login(t, email, first_pw)
        .await
        .problem(401, "bad_credentials");

    // Two sign-ups before any mail goes: only the newer one's mail carries a link.
    let quick = "quick@example.test";
    sign_up(t, quick, first_pw, "Quick one").await;
    sign_up(t, quick, second_pw, "Quick two").await;
    t.drain_jobs().await;
    let links = links_in_mail(t, quick);
    assert_eq!(links.len(), 1, "the earlier sign-up's mail sends no link");
    confirm(t, &links[0], first_pw)
        .await
        .problem(422, "confirmation_failed");
    confirm(t, &links[0], second_pw).await.expect(200);
}

/// Whether an address has an account row at all.
async fn has_account(t: &TestApp, email: &str) -> Option<String> {
    let email = hiatus_domain::Email::parse(email).unwrap();
    let mut tx = t.h.db.read().await.unwrap();
    let a = hiatus_testkit::store::accounts::find_by_email(&mut tx, &t.h.keys, &email)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    a.map(|a| a.id)
}

async fn rows_of(t: &TestApp, id: &str) -> i64 {
    let mut tx = t.h.db.read().await.unwrap();
    let mut n = 0;
    for (table, column) in [
        ("accounts", "id"),
        ("profiles", "account_id"),
        ("audit_events", "account_id"),
        ("mail_deliveries", "account_id"),
        ("outbox", "account_id"),
        ("signup_confirmations", "account_id"),
    ] {
        let c = hiatus_testkit::testing::count_rows(&mut tx, table, column, id)
            .await
            .unwrap();
        n += c;
    }
    tx.commit().await.unwrap();
    n
}

async fn the_worker_removes_accounts_never_confirmed(t: &TestApp) {
    let kept = t.member("freelancer").await;
    let gone = "never.confirmed@example.test";
    sign_up(t, gone, PASSWORD, "Never").await;
    // A failed login leaves a trace in its history too; the removal takes it along.
    login(t, gone, PASSWORD).await.expect(401);
    t.drain_jobs().await;
    let id = has_account(t, gone).await.expect("an unconfirmed account");
    assert!(rows_of(t, &id).await > 0);
    t.advance(2 * DAY + SECOND);
    let fresh = "just.signed.up@example.test";
    sign_up(t, fresh, PASSWORD, "Fresh").await;

    let (stop, stopped) = tokio::sync::watch::channel(false);
    let worker = tokio::spawn(Worker::new(t.h.clone(), Duration::from_millis(20)).run(stopped));
    let mut removed = false;
    for _ in 0..200 {
        if has_account(t, gone).await.is_none() {
            removed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    stop.send(true).unwrap();
    worker.await.unwrap();
    assert!(removed, "the worker did not remove the unconfirmed account");
    assert_eq!(rows_of(t, &id).await, 0, "everything of it went");
    // Others are untouched: a confirmed member, an unconfirmed account whose link still works.
    assert!(has_account(t, &kept.email).await.is_some());
    t.login(&kept).await;
    assert!(has_account(t, fresh).await.is_some());
    // The address is free again, and a new sign-up of it works from the start.
    sign_up(t, gone, "a brand new password", "Back").await;
    t.drain_jobs().await;
    let links = links_in_mail(t, gone);
    let mut confirmed = 0;
    for l in &links {
        if confirm(t, l, "a brand new password").await.status == 200 {
            confirmed += 1;
        }
    }
    assert_eq!(confirmed, 1, "{links:?}");
}
