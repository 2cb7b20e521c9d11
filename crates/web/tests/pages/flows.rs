//! The member's journeys through the pages: logging in, deactivating (blocked and not),
//! coming back, scheduling and cancelling deletion, an erased account, changing the password.

use crate::browser::{Browser, forms};
use crate::support::{DAY, PASSWORD, SECOND, TestApp, on_both_backends};

on_both_backends!(
    login_through_the_form_lands_on_the_account_home,
    a_blocked_member_sees_the_blockers_and_cannot_continue,
    deactivation_through_the_pages_and_back,
    deletion_through_the_pages_and_cancelled_after_logging_in,
    an_erased_account_gets_the_deleted_page,
    password_change_needs_the_current_password_and_ends_other_sessions,
    settings_are_saved_through_their_forms,
    the_export_page_shows_history_download_and_how_to_verify,
    skipping_the_backup_is_recorded_and_still_warned,
    every_thread_opens_for_its_participants_only,
    an_offer_is_answered_on_its_page,
);

async fn login_through_the_form_lands_on_the_account_home(t: &TestApp) {
    let m = t.member("freelancer").await;
    let b = Browser::new(t);
    // Not logged in: every member page sends to the login form.
    assert_eq!(b.get("/account").await.location(), "/login");
    assert_eq!(b.get("/settings/close").await.location(), "/login");

    let login = b.get("/login").await;
    login.expect(200).says("<label for=\"email\">");
    let csp = login.header("content-security-policy").expect("a policy");
    assert!(csp.contains("default-src 'none'"), "{csp}");
    assert!(csp.contains("script-src 'self'"), "{csp}");
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert!(!csp.contains("unsafe-inline"), "{csp}");
    assert_eq!(login.header("x-frame-options").as_deref(), Some("DENY"));
    assert_eq!(
        login.header("x-content-type-options").as_deref(),
        Some("nosniff")
    );
    assert!(login.header("referrer-policy").is_some());

    let wrong = b.login(&m.email, "not the password").await;
    wrong
        .expect(401)
        .says("Wrong email or password. If you just signed up, open the link we mailed you first.");
    assert!(!wrong.body.contains("not the password"));

    // The login post sets the session cookie: HttpOnly, SameSite, no script can read it.
    let page = b.get("/login").await;
    let post = b
        .post(
            "/login",
            &[
                ("csrf", &page.csrf()),
                ("email", &m.email),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(post.location(), "/account");
    let cookie = post
        .headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("hiatus_session="))
        .expect("a session cookie")
        .to_string();
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=Strict"), "{cookie}");

    let home = b.follow(post).await;
    home.expect(200)
        .says("Your account is <strong>Active</strong>")
        .says("href=\"/settings/close\"")
        .says("href=\"/assets/hiatus.css\"");
    // The style sheet is ours, served with the app.
    let css = b.get("/assets/hiatus.css").await;
    css.expect(200).says(":focus-visible");

    // Logging out ends the session.
    let out = b.submit("/account", "/logout", &[]).await;
    out.expect(200).says("You are logged out.");
    assert_eq!(b.get("/account").await.location(), "/login");
}

async fn a_blocked_member_sees_the_blockers_and_cannot_continue(t: &TestApp) {
    let f = t.member("freelancer").await;
    t.set_balance(&f, 12_50, 0).await;
    let b = Browser::new(t);
    b.login(&f.email, PASSWORD).await.expect(200);

    let contact = b.get("/settings/contact").await;
    contact.expect(200).says("Close my account");
    let choose = b.get("/settings/close").await;
    choose
        .expect(200)
        .says("Take a break")
        .says("Deactivate")
        .says("Delete for good");
    let pre = b.get("/settings/close/preflight?intent=deactivate").await;
    pre.expect(200)
        .says("Resolve these first")
        .says("href=\"/balance/withdraw\"")
        .never_says("action=\"/settings/close/backup\"");

    // Skipping ahead does not get past the blocker.
    let ahead = b
        .get("/settings/close/backup?intent=deactivate&ack=1")
        .await;
    assert_eq!(
        ahead.location(),
        "/settings/close/preflight?intent=deactivate"
    );
    // Neither does posting the confirmation directly: the service refuses, and says why.
    let csrf = pre.csrf();
    let refused = b
        .post(
            "/settings/close/confirm",
            &[
                ("csrf", &csrf),
                ("intent", "deactivate"),
                ("reason", "not_enough_work"),
                ("password", PASSWORD),
            ],
        )
        .await;
    refused
        .expect(409)
        .says("Something must be resolved first")
        .says("href=\"/balance/withdraw\"");
    assert_eq!(t.state(&f).await, "active");
}

async fn deactivation_through_the_pages_and_back(t: &TestApp) {
    let f = t.member("freelancer").await;
    let c = t.member("client").await;
    let k = t.contract(&c, &f, "Logo design").await;
    t.contract_action(&c, &k, "end").await.expect(200);
    let b = Browser::new(t);
    b.login(&f.email, PASSWORD).await.expect(200);

    // Preflight: nothing blocks; the warnings must be acknowledged.
    let pre = b.get("/settings/close/preflight?intent=deactivate").await;
    pre.expect(200)
        .says("Good to know")
        .says("name=\"ack\"")
        .never_says("Resolve these first");
    let unacknowledged = b.get("/settings/close/backup?intent=deactivate").await;
    assert_eq!(
        unacknowledged.location(),
        "/settings/close/preflight?intent=deactivate"
    );

    // Back up: request, watch, download through a freshly minted link.
    let backup = b
        .get("/settings/close/backup?intent=deactivate&ack=1")
        .await;
    backup.expect(200).says("Continue without a copy");
    let requested = b
        .submit(
            "/settings/close/backup?intent=deactivate&ack=1",
            "/settings/export",
            &[],
        )
        .await;
    requested
        .expect(200)
        .says("Your export is being prepared")
        .says("/assets/export-progress.js");
    t.drain_jobs().await;
    let ready = b
        .get("/settings/close/backup?intent=deactivate&ack=1")
        .await;
    let form = forms(&ready.body)
        .into_iter()
        .find(|x| x.action.ends_with("/download"))
        .unwrap_or_else(|| panic!("a download button\n{}", ready.body));
    let minted = b.post(&form.action, &[("csrf", &ready.csrf())]).await;
    let link = minted.location();
    assert!(link.starts_with("/api/v1/export-downloads/"), "{link}");
    let zip = b
        .http
        .get(format!("{}{link}", b.base))
        .send()
        .await
        .unwrap();
    assert_eq!(zip.status().as_u16(), 200);
    let bytes = zip.bytes().await.unwrap();
    assert!(bytes.starts_with(b"PK"), "a ZIP archive");
    let backed_up = b
        .get("/settings/close/backup?intent=deactivate&ack=1")
        .await;
    backed_up
        .expect(200)
        .says("up to date")
        .says("href=\"/settings/close/clients?intent=deactivate\"");

    // Tell your clients: the regular client is listed, with why, and preselected.
    let clients = b.get("/settings/close/clients?intent=deactivate").await;
    clients
        .expect(200)
        .says(&format!("value=\"{}\" checked", c.id))
        .says("1 contract in all");
    let told = b
        .submit(
            "/settings/close/clients?intent=deactivate",
            "/settings/close/clients",
            &[
                ("message", "Thanks for the work. I am away for a while."),
                ("forwarding", "me@elsewhere.example"),
            ],
        )
        .await;
    told.expect(200)
        .says("Why are you leaving?")
        .says("Your message is on its way");

    // Reason is required.
    let no_reason = b.get("/settings/close/confirm?intent=deactivate").await;
    no_reason.expect(422).says("Choose a reason from the list.");

    // Confirm: a wrong password changes nothing; the right one deactivates.
    let confirm =
        "/settings/close/confirm?intent=deactivate&reason=not_enough_work&detail=quiet+season";
    b.get(confirm)
        .await
        .expect(200)
        .says("Deactivate my account");
    let wrong = b
        .submit(
            confirm,
            "/settings/close/confirm",
            &[("password", "not the password")],
        )
        .await;
    wrong.expect(403).says("The password is not correct.");
    assert_eq!(t.state(&f).await, "active");
    let receipt = b
        .submit(
            confirm,
            "/settings/close/confirm",
            &[("password", PASSWORD)],
        )
        .await;
    receipt
        .expect(200)
        .says("Your account is deactivated")
        .says("Reactivate");
    assert_eq!(t.state(&f).await, "deactivated");

    // The profile is gone, for anyone.
    t.get(None, &format!("/api/v1/profiles/{}", f.id))
        .await
        .expect(404);
    t.get(Some(&c), &format!("/api/v1/profiles/{}", f.id))
        .await
        .expect(404);

    // Logging in again lands on "Reactivate"; reactivating brings the account back.
    b.submit("/account", "/logout", &[]).await.expect(200);
    let landing = b.login(&f.email, PASSWORD).await;
    landing
        .expect(200)
        .says("Your account is deactivated. Reactivate it?");
    let back = b
        .submit("/account/reactivate", "/account/reactivate", &[])
        .await;
    back.expect(200)
        .says("Welcome back")
        .says("<strong>Active</strong>");
    assert_eq!(t.state(&f).await, "active");
    t.get(None, &format!("/api/v1/profiles/{}", f.id))
        .await
        .expect(200);
}

async fn deletion_through_the_pages_and_cancelled_after_logging_in(t: &TestApp) {
    let f = t.member("freelancer").await;
    let b = Browser::new(t);
    b.login(&f.email, PASSWORD).await.expect(200);
    let confirm = "/settings/close/confirm?intent=delete&reason=privacy_concerns";
    let page = b.get(confirm).await;
    page.expect(200)
        .says("What happens to your data")
        .says("Type <strong>delete my account</strong> to confirm")
        .says("Former freelancer");

    let mistyped = b
        .submit(
            confirm,
            "/settings/close/confirm",
            &[("password", PASSWORD), ("confirmation", "delete my acount")],
        )
        .await;
    mistyped.expect(422).says("exactly to confirm the deletion");
    assert_eq!(t.state(&f).await, "active");

    let receipt = b
        .submit(
            confirm,
            "/settings/close/confirm",
            &[
                ("password", PASSWORD),
                ("confirmation", "delete my account"),
            ],
        )
        .await;
    receipt
        .expect(200)
        .says("Your account is scheduled for deletion")
        .says("2026-01-31")
        .says("Cancel deletion");
    assert_eq!(t.state(&f).await, "deletion_scheduled");

    b.submit("/account", "/logout", &[]).await.expect(200);
    let landing = b.login(&f.email, PASSWORD).await;
    landing
        .expect(200)
        .says("Your account is scheduled for deletion. Cancel the deletion?")
        .says("2026-01-31");
    let kept = b
        .submit("/account/cancel-deletion", "/account/cancel-deletion", &[])
        .await;
    kept.expect(200).says("The deletion is cancelled");
    assert_eq!(t.state(&f).await, "active");
}

async fn an_erased_account_gets_the_deleted_page(t: &TestApp) {
    let f = t.member("freelancer").await;
    t.post(
        Some(&f),
        "/api/v1/me/deletion",
        serde_json::json!({"password": PASSWORD, "reason": "privacy_concerns", "confirmation": "delete my account"}),
    )
    .await
    .expect(200);
    t.advance(30 * DAY + SECOND);
    t.drain_jobs().await;
    let b = Browser::new(t);
    // The erased address answers like one that never had an account.
    let page = b.login(&f.email, PASSWORD).await;
    page.expect(401)
        .says("Wrong email or password. If you just signed up, open the link we mailed you first.");
    assert_eq!(b.get("/account").await.location(), "/login");
    b.get("/account/deleted")
        .await
        .expect(200)
        .says("cannot be restored");
}

async fn password_change_needs_the_current_password_and_ends_other_sessions(t: &TestApp) {
    let f = t.member("freelancer").await;
    let b = Browser::new(t);
    b.login(&f.email, PASSWORD).await.expect(200);
    let security = b.get("/settings/security").await;
    security
        .expect(200)
        .says("Sign out everywhere else (1)")
        .says("This browser");

    let wrong = b
        .submit(
            "/settings/security",
            "/settings/security/password",
            &[
                ("current_password", "not the password"),
                ("new_password", "a much longer new secret"),
                ("repeat_password", "a much longer new secret"),
            ],
        )
        .await;
    wrong
        .expect(403)
        .says("The current password is not correct.");
    let short = b
        .submit(
            "/settings/security",
            "/settings/security/password",
            &[
                ("current_password", PASSWORD),
                ("new_password", "short"),
                ("repeat_password", "short"),
            ],
        )
        .await;
    short.expect(422).says("at least 10 characters");
    // The API session of the test harness still works: nothing changed yet.
    t.get(Some(&f), "/api/v1/me").await.expect(200);

    let done = b
        .submit(
            "/settings/security",
            "/settings/security/password",
            &[
                ("current_password", PASSWORD),
                ("new_password", "a much longer new secret"),
                ("repeat_password", "a much longer new secret"),
            ],
        )
        .await;
    done.expect(200)
        .says("Your password is changed")
        .says("You are not logged in anywhere else.");
    t.get(Some(&f), "/api/v1/me").await.expect(401);
    Browser::new(t).login(&f.email, PASSWORD).await.expect(401);
    let again = Browser::new(t);
    again
        .login(&f.email, "a much longer new secret")
        .await
        .expect(200)
        .says("<strong>Active</strong>");
    let me = t
        .post(
            None,
            "/api/v1/sessions",
            serde_json::json!({"email": f.email, "password": "a much longer new secret"}),
        )
        .await
        .expect(200);
    let token = me["token"].as_str().unwrap().to_string();
    let audit = t
        .http
        .get(format!("{}/api/v1/me/audit", t.base))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(audit.contains("password.changed"), "{audit}");
}

async fn settings_are_saved_through_their_forms(t: &TestApp) {
    let f = t.member("freelancer").await;
    let b = Browser::new(t);
    b.login(&f.email, PASSWORD).await.expect(200);

    b.submit(
        "/settings/profile",
        "/settings/profile",
        &[("visibility", "private"), ("availability", "paused")],
    )
    .await
    .expect(200)
    .says("Your changes are saved.")
    .says("value=\"private\" checked");
    b.submit(
        "/settings/notifications",
        "/settings/notifications",
        &[("notifications", "digest")],
    )
    .await
    .expect(200)
    .says("value=\"digest\" checked");
    let s = t.settings(&f).await;
    assert_eq!(s["visibility"], "private");
    assert_eq!(s["availability"], "paused");
    assert_eq!(s["notifications"], "digest");

    b.submit(
        "/settings/contact",
        "/settings/contact",
        &[("phone", "+44 20 7946 0000")],
    )
    .await
    .expect(200)
    .says("+44 20 7946 0000")
    .says("href=\"/settings/close\"");
    let me = t.get(Some(&f), "/api/v1/me").await.expect(200);
    assert_eq!(me["phone"], "+44 20 7946 0000");

    // A break with an end date; ending it makes the member available again.
    b.submit(
        "/settings/profile",
        "/settings/profile",
        &[("visibility", "public"), ("availability", "available")],
    )
    .await
    .expect(200);
    let on_break = b
        .submit(
            "/settings/break",
            "/settings/break",
            &[("until", "2026-02-15"), ("mute", "1")],
        )
        .await;
    on_break
        .expect(200)
        .says("Your break has started.")
        .says("2026-02-15");
    let s = t.settings(&f).await;
    assert_eq!(s["availability"], "paused");
    assert_eq!(s["notifications"], "muted");
    b.get("/account")
        .await
        .expect(200)
        .says("You are on a break");
    b.submit("/settings/break", "/settings/break/end", &[])
        .await
        .expect(200)
        .says("Your break has ended");
    assert_eq!(t.settings(&f).await["availability"], "available");

    // Re-authentication from the Security page, and signing out the other session.
    b.submit(
        "/settings/security",
        "/settings/security/reauth",
        &[("password", "not the password")],
    )
    .await
    .expect(403)
    .says("The password is not correct.");
    b.submit(
        "/settings/security",
        "/settings/security/reauth",
        &[("password", PASSWORD)],
    )
    .await
    .expect(200)
    .says("Password confirmed.");
    b.submit(
        "/settings/security",
        "/settings/security/sign-out-others",
        &[],
    )
    .await
    .expect(200)
    .says("Every other session is signed out.");
    t.get(Some(&f), "/api/v1/me").await.expect(401);
}

async fn the_export_page_shows_history_download_and_how_to_verify(t: &TestApp) {
    let f = t.member("freelancer").await;
    let other = t.member("freelancer").await;
    let b = Browser::new(t);
    b.login(&f.email, PASSWORD).await.expect(200);
    b.get("/settings/export")
        .await
        .expect(200)
        .says("You have not asked for an export yet.")
        .says("hiatus verify")
        .says("--public-key ");
    let pending = b.submit("/settings/export", "/settings/export", &[]).await;
    pending
        .expect(200)
        .says("Your export is being prepared.")
        .says("<progress")
        .says("aria-busy=\"true\"")
        .says("src=\"/assets/export-progress.js\"");
    let js = b.get("/assets/export-progress.js").await;
    js.expect(200).says("export-region");
    assert!(
        js.header("content-type")
            .unwrap_or_default()
            .starts_with("text/javascript")
    );
    t.drain_jobs().await;
    let ready = b.get("/settings/export").await;
    ready
        .expect(200)
        .says("ready")
        .says("not yet")
        .never_says("export-progress.js");
    let form = forms(&ready.body)
        .into_iter()
        .find(|x| x.action.ends_with("/download"))
        .expect("a download button");

    // Someone else cannot mint a link for it, even with a valid form of their own.
    let b2 = Browser::new(t);
    b2.login(&other.email, PASSWORD).await.expect(200);
    let theirs = b2.get("/settings/export").await.csrf();
    b2.post(&form.action, &[("csrf", &theirs)])
        .await
        .expect(404)
        .never_says("export-downloads");

    // Each click mints a new link.
    let first = b
        .post(&form.action, &[("csrf", &ready.csrf())])
        .await
        .location();
    let second = b
        .post(&form.action, &[("csrf", &ready.csrf())])
        .await
        .location();
    assert_ne!(first, second);
    let zip = b
        .http
        .get(format!("{}{second}", b.base))
        .send()
        .await
        .unwrap();
    assert_eq!(zip.status().as_u16(), 200);
    zip.bytes().await.unwrap();
    b.get("/settings/export")
        .await
        .expect(200)
        .never_says("not yet");
}

async fn skipping_the_backup_is_recorded_and_still_warned(t: &TestApp) {
    let f = t.member("freelancer").await;
    let b = Browser::new(t);
    b.login(&f.email, PASSWORD).await.expect(200);
    let clients = b
        .submit(
            "/settings/close/backup?intent=delete&ack=1",
            "/settings/close/backup/skip",
            &[],
        )
        .await;
    clients
        .expect(200)
        .says("Tell your clients")
        .says("You have no regular clients");
    b.get("/settings/close/confirm?intent=delete&reason=other")
        .await
        .expect(200)
        .says("You have not downloaded your data");
    let audit = t.get(Some(&f), "/api/v1/me/audit").await.expect(200);
    assert!(
        audit.to_string().contains("closing.backup_skipped"),
        "{audit}"
    );
}

/// A busy member has more threads than one page lists: the oldest still opens, and nobody
/// outside a thread can open it.
async fn every_thread_opens_for_its_participants_only(t: &TestApp) {
    let f = t.member("freelancer").await;
    let c = t.member("client").await;
    let other = t.member("freelancer").await;
    let mut first = None;
    for i in 0..501 {
        let r = t
            .post(
                Some(&c),
                "/api/v1/threads",
                serde_json::json!({"with": f.id, "subject": format!("Thread number {i}"), "body": "hello"}),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
        if i == 0 {
            first = Some(r.body["thread"]["id"].as_str().unwrap().to_string());
        }
        t.advance(SECOND);
    }
    let first = first.unwrap();
    let b = Browser::new(t);
    b.login(&f.email, PASSWORD).await;
    b.get(&format!("/messages/{first}"))
        .await
        .expect(200)
        .says("Thread number 0");
    let outsider = Browser::new(t);
    outsider.login(&other.email, PASSWORD).await;
    outsider
        .get(&format!("/messages/{first}"))
        .await
        .expect(404)
        .never_says("Thread number 0");
}

async fn an_offer_is_answered_on_its_page(t: &TestApp) {
    let c = t.member("client").await;
    let f = t.member("freelancer").await;
    let status = async |k: &str| {
        t.get(Some(&c), &format!("/api/v1/contracts/{k}"))
            .await
            .expect(200)["status"]
            .clone()
    };
    let fb = Browser::new(t);
    fb.login(&f.email, PASSWORD).await.expect(200);
    let cb = Browser::new(t);
    cb.login(&c.email, PASSWORD).await.expect(200);

    // The freelancer sees the offer with Accept and Decline; the client sees Withdraw.
    let k = t.offer(&c, &f, "Brand book").await;
    let page = format!("/contracts/{k}");
    let (accept, decline, withdraw) = (
        format!("/contracts/{k}/accept"),
        format!("/contracts/{k}/decline"),
        format!("/contracts/{k}/withdraw"),
    );
    let action = |a: &str| format!("action=\"{a}\"");
    fb.get(&page)
        .await
        .expect(200)
        .says("offers you this contract")
        .says(&action(&accept))
        .says(&action(&decline))
        .never_says(&action(&withdraw));
    cb.get(&page)
        .await
        .expect(200)
        .says("Your offer waits for")
        .says(&action(&withdraw))
        .never_says(&action(&accept))
        .never_says(&action(&decline));
    // The client posting the freelancer's answer is refused; so is a post without the token.
    let token = cb.get(&page).await.csrf();
    cb.post(&accept, &[("csrf", &token)]).await.expect(403);
    fb.post(&accept, &[]).await.expect(403);
    assert_eq!(status(&k).await, "offered");

    // Accepted through the page: the contract is open and the answers are gone.
    fb.submit(&page, &accept, &[])
        .await
        .expect(200)
        .says("You accepted the offer")
        .says("<dd>open</dd>")
        .never_says(&action(&decline));
    assert_eq!(status(&k).await, "open");

    // Declined through the page; the client reads that it was.
    let k = t.offer(&c, &f, "Catalogue").await;
    let page = format!("/contracts/{k}");
    fb.submit(&page, &format!("/contracts/{k}/decline"), &[])
        .await
        .expect(200)
        .says("You declined the offer.");
    assert_eq!(status(&k).await, "declined");
    cb.get(&page)
        .await
        .expect(200)
        .says("declined this offer")
        .never_says(&format!("/contracts/{k}/withdraw"));

    // Withdrawn through the page; the freelancer can no longer accept it.
    let k = t.offer(&c, &f, "Poster").await;
    let page = format!("/contracts/{k}");
    cb.submit(&page, &format!("/contracts/{k}/withdraw"), &[])
        .await
        .expect(200)
        .says("Your offer is withdrawn");
    assert_eq!(status(&k).await, "withdrawn");
    fb.get(&page)
        .await
        .expect(200)
        .says("withdrew this offer")
        .never_says(&format!("/contracts/{k}/accept"));
}
