//! Restoration through support as people live it in the pages: a member who lost their
//! password asks on `/restore`, types back the code from the mail, a support agent decides in
//! the console after confirming their password, and the member sets a new password with the
//! mailed link. Then the staff pages' doors: support for staff, the dashboard for operators.

use crate::browser::{Browser, Page, forms};
use crate::support::{
    DAY, Member, PASSWORD, SECOND, TestApp, on_both_backends, on_both_backends_with_mail,
};
use hiatus_domain::{AccountKind, Role};
use hiatus_service::SignUp;
use hiatus_testkit::testing;
use serde_json::json;
use std::sync::atomic::{AtomicU64, Ordering};

on_both_backends_with_mail!(
    a_member_who_lost_their_password_is_restored_through_the_pages,
    a_denied_request_shows_the_note_on_its_status_page,
);

on_both_backends!(
    staff_pages_are_for_staff_only,
    the_dashboard_shows_the_closure_reasons_of_deactivations,
    the_audit_trail_follows_the_pseudonym_after_erasure,
);

static NEXT_STAFF: AtomicU64 = AtomicU64::new(1);

/// A support agent or operator; returns their address (the password is [`PASSWORD`]).
pub async fn staff(t: &TestApp, role: Role) -> String {
    staff_member(t, role).await.email
}

/// A support agent or operator, logged in to the API too (for reading `/api/v1/me`).
pub async fn staff_member(t: &TestApp, role: Role) -> Member {
    let n = NEXT_STAFF.fetch_add(1, Ordering::SeqCst);
    let email = format!("staff{n}-{}@hiatus.test", role.as_str());
    let id =
        t.h.sign_up(
            SignUp {
                email: email.clone(),
                password: PASSWORD.into(),
                legal_name: format!("Staff {n}"),
                display_name: format!("Staff {n}"),
                kind: AccountKind::Client,
                headline: String::new(),
                bio: String::new(),
            },
            role,
        )
        .await
        .expect("staff account");
    let mut m = Member {
        id: id.to_string(),
        email,
        token: String::new(),
    };
    m.token = t.login(&m).await["token"]
        .as_str()
        .expect("token")
        .to_string();
    m
}

/// The eight-digit code in the latest code mail to `email`.
fn code_for(t: &TestApp, email: &str) -> String {
    let mails: Vec<String> = t
        .mail_to(email)
        .into_iter()
        .filter(|m| m.contains("Subject: Your code to restore your hiatus account"))
        .collect();
    assert_eq!(mails.len(), 1, "one code mail to {email}");
    let marker = "on the page of your request: ";
    let at = mails[0].find(marker).expect("the code sentence") + marker.len();
    let code: String = mails[0][at..].chars().take(8).collect();
    assert!(
        code.len() == 8 && code.chars().all(|c| c.is_ascii_digit()),
        "{code}"
    );
    code
}

/// The password-reset link (its path) in the approval mail to `email`.
fn reset_link_for(t: &TestApp, email: &str) -> String {
    let mails = t.mail_to(email);
    let marker = "/reset-password/";
    let m = mails
        .iter()
        .find(|m| m.contains(marker))
        .unwrap_or_else(|| panic!("no reset link mailed to {email}"));
    let at = m.find(marker).expect("a link") + marker.len();
    let token: String = m[at..]
        .chars()
        .take_while(|c| c.is_ascii_hexdigit())
        .collect();
    assert_eq!(token.len(), 64, "{token}");
    format!("{marker}{token}")
}

/// A page without its form tokens (which differ per browser), for comparing two pages.
fn without_tokens(p: &Page) -> String {
    let mut body = p.body.clone();
    for f in forms(&p.body) {
        if let Some(v) = f.hidden("csrf") {
            body = body.replace(&v, "");
        }
    }
    body
}

/// Sends the restoration request form in browser `b`; returns the redirect.
async fn ask(b: &Browser, email: &str, explanation: &str) -> Page {
    let form = b.get("/restore").await;
    form.expect(200);
    b.post(
        "/restore",
        &[
            ("csrf", &form.csrf()),
            ("email", email),
            ("explanation", explanation),
        ],
    )
    .await
}

async fn a_member_who_lost_their_password_is_restored_through_the_pages(t: &TestApp) {
    let f = t.member("freelancer").await;
    let agent = staff(t, Role::Support).await;
    let b = Browser::new(t);

    // The way there starts on the login page.
    b.get("/login")
        .await
        .expect(200)
        .says("Lost your password?")
        .says("href=\"/restore\"");
    let asked = ask(&b, &f.email, "Lost my phone and my password").await;
    assert_eq!(
        asked.location(),
        "/restore/status",
        "no secret in the address"
    );
    let cookie = asked
        .headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("hiatus_restore="))
        .expect("the request's cookie")
        .to_string();
    for flag in ["HttpOnly", "SameSite=Strict", "Path=/restore"] {
        assert!(cookie.contains(flag), "{cookie}");
    }
    let status = b.follow(asked).await;
    status
        .expect(200)
        .says("Waiting for the code from the email")
        .says("action=\"/restore/code\"");

    // Someone asking for an address without an account sees the very same page.
    let stranger = Browser::new(t);
    let theirs = stranger
        .follow(
            ask(
                &stranger,
                "nobody-here@example.test",
                "Lost my phone and my password",
            )
            .await,
        )
        .await;
    theirs.expect(200);
    assert_eq!(without_tokens(&theirs), without_tokens(&status));
    // A request without an address, or with a malformed one, is asked again.
    ask(&stranger, "", "x")
        .await
        .expect(422)
        .says("Enter the email address");
    ask(&stranger, "not an address", "x")
        .await
        .expect(422)
        .says("role=\"alert\"");

    // The code from the mail; a wrong one first.
    t.drain_jobs().await;
    let code = code_for(t, &f.email);
    assert!(t.mail_to("nobody-here@example.test").is_empty());
    let wrong = if code == "12345678" {
        "87654321"
    } else {
        "12345678"
    };
    b.submit("/restore/status", "/restore/code", &[("code", wrong)])
        .await
        .expect(422)
        .says("not right")
        .says("4 attempt(s) left");
    let confirmed = b
        .submit("/restore/status", "/restore/code", &[("code", &code)])
        .await;
    confirmed
        .expect(200)
        .says("The code is confirmed")
        .says("Code confirmed — waiting for a support agent")
        .never_says("action=\"/restore/code\"");

    // The agent lands on the console and sees the request, confirmed, without the address.
    let a = Browser::new(t);
    let console = a.login(&agent, PASSWORD).await;
    console
        .expect(200)
        .says("Restoration requests")
        .says("Confirmed by the requester")
        .says("Lost my phone and my password")
        .says("f•••@example.test")
        .says("Active")
        .says(&format!("href=\"/support/accounts/{}/audit\"", f.id))
        .never_says(&f.email);

    // Minutes later the agent's password is needed again to decide.
    t.advance(3600 * SECOND);
    let queue = a.get("/support").await;
    queue
        .expect(200)
        .says("Decisions need your password from the last few minutes.");
    let approve = forms(&queue.body)
        .into_iter()
        .find(|x| x.action.ends_with("/approve"))
        .expect("an approve form")
        .action;
    let csrf = queue.csrf();
    a.post(&approve, &[("csrf", &csrf), ("note", "Explanation fits")])
        .await
        .expect(403)
        .says("Enter your password to confirm this decision.");
    a.post(
        &approve,
        &[
            ("csrf", &csrf),
            ("note", "Explanation fits"),
            ("password", "not the password"),
        ],
    )
    .await
    .expect(403)
    .says("The password is not correct.");
    a.post(&approve, &[("csrf", &csrf), ("password", PASSWORD)])
        .await
        .expect(422)
        .says("Write a note");
    b.get("/restore/status")
        .await
        .says("Code confirmed — waiting for a support agent");
    let approved = a
        .follow(
            a.post(
                &approve,
                &[
                    ("csrf", &csrf),
                    ("note", "Explanation fits the account"),
                    ("password", PASSWORD),
                ],
            )
            .await,
        )
        .await;
    approved
        .expect(200)
        .says("The request is approved")
        .says("There are no open requests.");
    // Deciding twice is refused, and said where the agent looks.
    a.post(
        &approve,
        &[("csrf", &csrf), ("note", "Again"), ("password", PASSWORD)],
    )
    .await
    .expect(409)
    .says("This request is approved and cannot change any more");
    a.get("/support?show=all")
        .await
        .expect(200)
        .says("Approved")
        .says("Explanation fits the account");
    b.get("/restore/status")
        .await
        .expect(200)
        .says("Approved")
        .never_says("action=\"/restore/code\"");

    // Every step is on the member's trail, reached from the queue.
    let trail = a.get(&format!("/support/accounts/{}/audit", f.id)).await;
    trail
        .expect(200)
        .says("restoration.requested")
        .says("restoration.verified")
        .says("restoration.approved");

    // The member sets a new password with the mailed link and logs in with it.
    t.drain_jobs().await;
    let link = reset_link_for(t, &f.email);
    b.get(&link).await.expect(200).says("Choose a new password");
    b.post(
        &link,
        &[
            ("password", "my brand new password"),
            ("confirm", "my brand new password"),
        ],
    )
    .await
    .expect(200)
    .says("Your new password is set");
    let fresh = Browser::new(t);
    fresh
        .login(&f.email, PASSWORD)
        .await
        .expect(401)
        .says("Wrong email or password. If you just signed up, open the link we mailed you first.");
    fresh
        .login(&f.email, "my brand new password")
        .await
        .expect(200)
        .says("Your account is <strong>Active</strong>");
}

async fn a_denied_request_shows_the_note_on_its_status_page(t: &TestApp) {
    let f = t.member("client").await;
    let agent = staff(t, Role::Support).await;
    let b = Browser::new(t);
    b.follow(ask(&b, &f.email, "").await)
        .await
        .expect(200)
        .says("Waiting for the code from the email");
    t.drain_jobs().await;
    let code = code_for(t, &f.email);

    let a = Browser::new(t);
    let queue = a.login(&agent, PASSWORD).await;
    queue
        .expect(200)
        .says("Not confirmed yet")
        .says("(none given)")
        // Unconfirmed requests can only be denied.
        .never_says("/approve\"");
    let note =
        "We could not match this request to the account; write to us from the address on file.";
    let deny = forms(&queue.body)
        .into_iter()
        .find(|x| x.action.ends_with("/deny"))
        .expect("a deny form")
        .action;
    // Just logged in does not count as a recent password: it goes with the decision.
    a.follow(
        a.post(
            &deny,
            &[
                ("csrf", &queue.csrf()),
                ("note", note),
                ("password", PASSWORD),
            ],
        )
        .await,
    )
    .await
    .expect(200)
    .says("The request is denied");

    let status = b.get("/restore/status").await;
    status
        .expect(200)
        .says("Denied")
        .says("The support agent's note")
        .says(note)
        .never_says("action=\"/restore/code\"");
    // The code no longer opens anything.
    let csrf = b.get("/restore").await.csrf();
    b.post("/restore/code", &[("csrf", &csrf), ("code", &code)])
        .await
        .expect(422)
        .says("denied");
}

async fn staff_pages_are_for_staff_only(t: &TestApp) {
    let f = t.member("freelancer").await;
    let agent = staff(t, Role::Support).await;
    let operator = staff(t, Role::Operator).await;
    let audit = format!("/support/accounts/{}/audit", f.id);

    // Not logged in: to the login form.
    let anonymous = Browser::new(t);
    for path in ["/support", "/operator", audit.as_str()] {
        assert_eq!(anonymous.get(path).await.location(), "/login", "{path}");
    }

    // A member: not allowed, said in a page; no staff links in the navigation.
    let m = Browser::new(t);
    m.login(&f.email, PASSWORD)
        .await
        .expect(200)
        .never_says("href=\"/support\"")
        .never_says("href=\"/operator\"");
    for path in ["/support", "/operator", audit.as_str()] {
        m.get(path)
            .await
            .expect(403)
            .says("Not allowed")
            .says("<html lang=\"en\">");
    }
    let csrf = m.get("/account").await.csrf();
    let ticket = t
        .post(
            None,
            "/api/v1/restorations",
            json!({"email": f.email, "explanation": ""}),
        )
        .await
        .expect(202);
    let id = ticket["id"].as_str().expect("id");
    m.post(
        &format!("/support/requests/{id}/deny"),
        &[("csrf", &csrf), ("note", "mine"), ("password", PASSWORD)],
    )
    .await
    .expect(403);

    // A support agent: the console, not the dashboard.
    let a = Browser::new(t);
    a.login(&agent, PASSWORD)
        .await
        .expect(200)
        .says("href=\"/support\"")
        .never_says("href=\"/operator\"");
    a.get("/operator").await.expect(403).says("Not allowed");
    a.get(&audit)
        .await
        .expect(200)
        .says("restoration.requested");
    // Their own trail is not read here; an unknown id is not found.
    let agent_id = testing::account_with_role(&mut t.h.db.read().await.expect("read"), "support")
        .await
        .expect("agent id");
    a.get(&format!("/support/accounts/{agent_id}/audit"))
        .await
        .expect(404);
    a.get("/support/accounts/not-an-id/audit").await.expect(404);
    a.get(&format!("/support/accounts/{}/audit", uuid::Uuid::new_v4()))
        .await
        .expect(404);

    // An operator: both.
    let o = Browser::new(t);
    let home = o.login(&operator, PASSWORD).await;
    home.expect(200)
        .says("<h1>Operations</h1>")
        .says("href=\"/support\"")
        .says("href=\"/operator\"");
    o.get("/support")
        .await
        .expect(200)
        .says("Restoration requests");
    // The request is still open: nobody without the right decided it.
    assert!(
        t.get(None, &format!("/api/v1/restorations/{id}"))
            .await
            .status
            == 401
    );
}

async fn the_dashboard_shows_the_closure_reasons_of_deactivations(t: &TestApp) {
    let operator = staff(t, Role::Operator).await;
    let o = Browser::new(t);
    let empty = o.login(&operator, PASSWORD).await;
    empty
        .expect(200)
        .says("No member closed an account in these weeks.")
        .says("Job queue");

    for (kind, reason) in [
        ("freelancer", "fees_too_high"),
        ("client", "privacy_concerns"),
    ] {
        let m = t.member(kind).await;
        t.post(
            Some(&m),
            "/api/v1/me/deactivate",
            json!({"password": PASSWORD, "reason": reason}),
        )
        .await
        .expect(200);
    }
    // An export waits in the job queue while no worker runs.
    let exporter = t.member("freelancer").await;
    t.post(Some(&exporter), "/api/v1/me/exports", json!({}))
        .await
        .expect(202);
    // A week later, both closures are still in the window.
    t.advance(7 * DAY);
    let page = o.get("/operator").await;
    page.expect(200);
    let svg_at = page.body.find("<svg").expect("a chart");
    let svg_end = page.body[svg_at..].find("</svg>").expect("the chart ends") + svg_at;
    let svg = &page.body[svg_at..svg_end];
    for words in [
        "role=\"img\"",
        "<title id=\"closures-title\">Closures by reason",
        "Fees are too high (1)",
        "Privacy concerns (1)",
    ] {
        assert!(svg.contains(words), "the chart lacks {words:?}: {svg}");
    }
    page.says("2 deactivation(s), 0 deletion(s)")
        .says("<th scope=\"col\">Fees are too high</th>")
        .says("<th scope=\"col\">Privacy concerns</th>")
        .says("<caption>Closures by reason and week (newest first)</caption>")
        .says("Accounts by state")
        .says("<th scope=\"row\">Deactivated</th><td>2</td>")
        .says("oldest waiting: 7 d")
        .never_says("<script");
    // The waiting export shows in the queue's table, due for a week.
    page.says("<th scope=\"row\"><code>export.build</code></th><td>1</td>")
        .says("<td>7 d</td>");
}

async fn the_audit_trail_follows_the_pseudonym_after_erasure(t: &TestApp) {
    let f = t.member("freelancer").await;
    t.post(
        Some(&f),
        "/api/v1/me/deletion",
        json!({"password": PASSWORD, "reason": "other", "confirmation": "delete my account"}),
    )
    .await
    .expect(200);
    let pseudonym: String = {
        let mut tx = t.h.db.read().await.expect("read");
        let id = testing::pseudonym_of(&mut tx, &f.id)
            .await
            .expect("the pseudonym's id");
        tx.commit().await.expect("commit");
        id
    };
    t.advance(30 * DAY + SECOND);
    t.drain_jobs().await;

    let agent = staff(t, Role::Support).await;
    let a = Browser::new(t);
    a.login(&agent, PASSWORD).await.expect(200);
    let trail = a.get(&format!("/support/accounts/{pseudonym}/audit")).await;
    trail
        .expect(200)
        .says("deletion")
        .never_says("There are no events");
    a.get(&format!("/support/accounts/{}/audit", f.id))
        .await
        .expect(404)
        .says("Not found")
        .never_says("<table>");
}
