//! The account pages in headless Chromium, as members, agents and clients use them, with the
//! keyboard alone (Tab, arrow keys, Space, Enter, typing):
//!
//! - a blocked freelancer sees the open contract and the escrow payment and cannot continue;
//!   once they are resolved, she goes Settings → Contact info → Close my account, through the
//!   checks, the backup (the archive arrives in the downloads folder and `hiatus verify`
//!   accepts it), telling her regular clients, the reason and the confirmation; her public
//!   profile is gone; logging in again lands on Reactivate, which works;
//! - another member schedules deletion (the erasure plan in words, a mistyped confirmation
//!   refused), logs in again and cancels it;
//! - a member erased after the grace period appears to a former client, on the contract and in
//!   the messages, under the pseudonym the plan showed;
//! - a member who lost their password asks support from the login page, types the code mailed
//!   to the address on file, an agent approves in the console, and the mailed link sets a new
//!   password.
//!
//! Needs Chromium and chromedriver: run `scripts/ensure-chromium` first.

#[path = "support/browser.rs"]
mod browser;
#[path = "support/app.rs"]
mod demo_app;

use demo_app::{App, app};

use browser::Browser;
use hiatus_service::Hiatus;
use hiatus_service::demo::{DEMO_LOGINS, DEMO_PASSWORD};
use hiatus_service::worker::Worker;
use std::time::Duration;
use thirtyfour::prelude::*;

async fn drain(h: &Hiatus) {
    Worker::new(h.clone(), Duration::from_millis(10))
        .drain()
        .await
        .unwrap();
}

/// What has the keyboard focus: its id, name, and visible text or value.
async fn focused(b: &Browser) -> (String, String, String) {
    let v = b
        .js(
            "const e = document.activeElement; \
             return [e.id || '', e.getAttribute('name') || '', ((e.innerText || e.value || '') + '').trim()];",
        )
        .await;
    let s = |i: usize| v[i].as_str().unwrap_or_default().to_string();
    (s(0), s(1), s(2))
}

async fn press(b: &Browser, key: impl Into<TypingData>) {
    b.driver()
        .active_element()
        .await
        .unwrap()
        .send_keys(key)
        .await
        .unwrap();
}

/// Presses Tab until the focused element matches `want` (its id, name or text), failing after
/// a page's worth of stops.
async fn tab_to(b: &Browser, want: &str) {
    for _ in 0..80 {
        press(b, Key::Tab).await;
        let (id, name, text) = focused(b).await;
        if id == want || name == want || text == want {
            return;
        }
    }
    let url = b.driver().current_url().await.unwrap();
    panic!("Tab never reached {want:?} on {url}");
}

async fn wait_path(b: &Browser, path: &str) {
    for _ in 0..200 {
        let url = b.driver().current_url().await.unwrap();
        if url.path() == path {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let url = b.driver().current_url().await.unwrap();
    panic!("expected {path}, at {url}");
}

async fn body_text(b: &Browser) -> String {
    b.driver()
        .find(By::Tag("body"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

/// Logs in through the form with the keyboard.
async fn log_in(b: &Browser, base: &str, email: &str) {
    b.driver().goto(format!("{base}/login")).await.unwrap();
    tab_to(b, "email").await;
    press(b, email).await;
    tab_to(b, "password").await;
    press(b, DEMO_PASSWORD).await;
    press(b, Key::Enter).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blocked_freelancer_resolves_then_closes_with_the_keyboard_alone() {
    let app = app().await;
    let b = Browser::start().await;
    let ana = DEMO_LOGINS[0].email;
    log_in(&b, &app.base, ana).await;
    wait_path(&b, "/account").await;
    b.driver()
        .goto(format!(
            "{}/settings/close/preflight?intent=deactivate",
            app.base
        ))
        .await
        .unwrap();
    let text = body_text(&b).await;
    assert!(text.contains("Resolve these first"), "{text}");
    // Resolving: Ana refunds the payment in escrow to the client, who ends the contract.
    let actor_of = |email: &'static str| {
        let h = app.h.clone();
        async move {
            let l = h.login(email, DEMO_PASSWORD).await.unwrap();
            h.authenticate(&l.token).await.unwrap()
        }
    };
    let ana_actor = actor_of(ana).await;
    let carla = actor_of(DEMO_LOGINS[2].email).await;
    for p in app.h.my_payments(&ana_actor, 50, 0).await.unwrap() {
        if matches!(p.status.as_str(), "in_escrow" | "pending_release") {
            app.h
                .payment_action(
                    &ana_actor,
                    p.id,
                    hiatus_service::market::PaymentAction::Refund,
                )
                .await
                .unwrap();
        }
    }
    for c in app.h.my_contracts(&ana_actor, 50, 0).await.unwrap() {
        if c.status.as_str() != "ended" {
            app.h
                .contract_action(&carla, c.id, hiatus_service::market::ContractAction::End)
                .await
                .unwrap();
        }
    }
    b.driver().refresh().await.unwrap();
    let text = body_text(&b).await;
    assert!(!text.contains("Resolve these first"), "{text}");
    b.driver().delete_all_cookies().await.unwrap();
    closing_walk(&app, &b, ana).await;
    b.quit().await;
}

/// The deactivation flow, as a member with the keyboard alone, then coming back.
async fn closing_walk(app: &App, b: &Browser, who: &str) {
    let ben = who;

    log_in(b, &app.base, ben).await;
    wait_path(b, "/account").await;
    // Settings → Contact info → Close my account.
    tab_to(b, "Settings").await;
    press(b, Key::Enter).await;
    wait_path(b, "/settings/contact").await;
    tab_to(b, "Close my account").await;
    press(b, Key::Enter).await;
    wait_path(b, "/settings/close").await;
    // Choose: deactivate, side by side with a break and deletion.
    let choices = body_text(b).await;
    for w in ["Take a break", "Deactivate", "Delete for good"] {
        assert!(choices.contains(w), "{w} in {choices}");
    }
    tab_to(b, "Deactivate my account").await;
    press(b, Key::Enter).await;
    wait_path(b, "/settings/close/preflight").await;
    // Warnings are acknowledged with Space, then Continue.
    tab_to(b, "ack").await;
    press(b, Key::Space).await;
    tab_to(b, "Continue").await;
    press(b, Key::Enter).await;
    wait_path(b, "/settings/close/backup").await;
    // Back up: prepare the export, let the worker build it, download it.
    tab_to(b, "Prepare a new export").await;
    press(b, Key::Enter).await;
    drain(&app.h).await;
    b.driver().refresh().await.unwrap();
    let page = body_text(b).await;
    let download = b
        .driver()
        .find(By::XPath(
            "//button[starts-with(normalize-space(.), 'Download your archive')]",
        ))
        .await
        .unwrap_or_else(|e| panic!("no download button ({e}) on the backup page: {page}"))
        .text()
        .await
        .unwrap();
    tab_to(b, download.trim()).await;
    press(b, Key::Enter).await;
    let zip = wait_download(b).await;
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_hiatus"))
        .arg("verify")
        .arg(&zip)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // The download counts: the page now lets Ben continue.
    b.driver().refresh().await.unwrap();
    tab_to(b, "Continue").await;
    press(b, Key::Enter).await;
    wait_path(b, "/settings/close/clients").await;
    // Tell the regular clients (preselected).
    let clients = b.count("input[name=client]:checked").await;
    assert!(clients >= 1, "Ben's regular clients are preselected");
    tab_to(b, "message").await;
    press(b, "I am taking time off; thank you for the work together.").await;
    tab_to(b, "Send and continue").await;
    press(b, Key::Enter).await;
    wait_path(b, "/settings/close/reason").await;
    // The reason: the first choice, with Space.
    let first = b
        .driver()
        .find(By::Css("input[name=reason]"))
        .await
        .unwrap()
        .id()
        .await
        .unwrap()
        .unwrap();
    tab_to(b, &first).await;
    press(b, Key::Space).await;
    tab_to(b, "Continue").await;
    press(b, Key::Enter).await;
    wait_path(b, "/settings/close/confirm").await;
    // Confirm with the password.
    tab_to(b, "password").await;
    press(b, DEMO_PASSWORD).await;
    tab_to(b, "Deactivate my account").await;
    press(b, Key::Enter).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let receipt = body_text(b).await;
    assert!(receipt.to_lowercase().contains("deactivated"), "{receipt}");

    // The clients hear from Ben; the public profile is gone.
    drain(&app.h).await;
    let ben_id = app.h.find_account(ben).await.unwrap();
    let res = reqwest::get(format!("{}/api/v1/profiles/{ben_id}", app.base))
        .await
        .unwrap();
    assert_eq!(res.status(), 404);

    // Log out; logging in again lands on Reactivate; reactivating works.
    tab_to(b, "Log out").await;
    press(b, Key::Enter).await;
    wait_path(b, "/login").await;
    log_in(b, &app.base, ben).await;
    wait_path(b, "/account/reactivate").await;
    tab_to(b, "Reactivate my account").await;
    press(b, Key::Enter).await;
    wait_path(b, "/account").await;
    let res = reqwest::get(format!("{}/api/v1/profiles/{ben_id}", app.base))
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
}

/// Waits for a finished `.zip` in the browser's downloads folder.
async fn wait_download(b: &Browser) -> std::path::PathBuf {
    for _ in 0..400 {
        if let Ok(entries) = std::fs::read_dir(b.downloads()) {
            for e in entries.flatten() {
                let p = e.path();
                if p.extension().is_some_and(|x| x == "zip") {
                    return p;
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no archive arrived in {}", b.downloads().display());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blocked_member_sees_what_blocks_and_cannot_continue() {
    let app = app().await;
    let b = Browser::start().await;
    log_in(&b, &app.base, DEMO_LOGINS[0].email).await;
    wait_path(&b, "/account").await;
    b.driver()
        .goto(format!(
            "{}/settings/close/preflight?intent=deactivate",
            app.base
        ))
        .await
        .unwrap();
    let text = body_text(&b).await;
    assert!(text.contains("Resolve these first"), "{text}");
    assert!(text.to_lowercase().contains("contract"), "{text}");
    assert!(text.to_lowercase().contains("escrow"), "{text}");
    // No way forward on the page: no Continue, and the later steps refuse.
    assert_eq!(
        b.count("form[action='/settings/close/backup']").await,
        0,
        "no Continue while blocked"
    );
    b.driver()
        .goto(format!(
            "{}/settings/close/confirm?intent=deactivate&reason=other",
            app.base
        ))
        .await
        .unwrap();
    let confirm = body_text(&b).await;
    assert!(confirm.contains("must be resolved"), "{confirm}");
    assert_eq!(
        b.count("form[action='/settings/close/confirm']").await,
        0,
        "no confirmation while blocked"
    );
    b.quit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deletion_scheduled_then_cancelled_after_logging_in() {
    let app = app().await;
    let b = Browser::start().await;
    let dev = DEMO_LOGINS[3].email;
    log_in(&b, &app.base, dev).await;
    wait_path(&b, "/account").await;
    b.driver()
        .goto(format!("{}/settings/close", app.base))
        .await
        .unwrap();
    tab_to(&b, "Delete my account").await;
    press(&b, Key::Enter).await;
    wait_path(&b, "/settings/close/preflight").await;
    tab_to(&b, "ack").await;
    press(&b, Key::Space).await;
    tab_to(&b, "Continue").await;
    press(&b, Key::Enter).await;
    wait_path(&b, "/settings/close/backup").await;
    tab_to(&b, "Continue without a copy").await;
    press(&b, Key::Enter).await;
    // Dev has no regular clients to tell; on to the reason.
    let path = b.driver().current_url().await.unwrap().path().to_string();
    if path == "/settings/close/clients" {
        tab_to(&b, "Continue").await;
        press(&b, Key::Enter).await;
    }
    wait_path(&b, "/settings/close/reason").await;
    // A radio group takes one Tab stop; the arrow keys move (and select) within it.
    let first = b
        .driver()
        .find(By::Css("input[name=reason]"))
        .await
        .unwrap()
        .id()
        .await
        .unwrap()
        .unwrap();
    tab_to(&b, &first).await;
    for _ in 0..12 {
        if focused(&b).await.0 == "reason-privacy_concerns" {
            break;
        }
        press(&b, Key::Down).await;
    }
    assert_eq!(focused(&b).await.0, "reason-privacy_concerns");
    assert_eq!(b.count("#reason-privacy_concerns:checked").await, 1);
    tab_to(&b, "Continue").await;
    press(&b, Key::Enter).await;
    wait_path(&b, "/settings/close/confirm").await;
    // The plan in words names the pseudonym; a wrong confirmation is refused.
    let plan = body_text(&b).await;
    assert!(plan.contains("Former client #"), "{plan}");
    tab_to(&b, "password").await;
    press(&b, DEMO_PASSWORD).await;
    tab_to(&b, "confirmation").await;
    press(&b, "delete my acount").await;
    tab_to(&b, "Delete my account").await;
    press(&b, Key::Enter).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let dev_id = app.h.find_account(dev).await.unwrap();
    let state = |h: Hiatus| async move {
        let mut tx = h.db.read().await.unwrap();
        let a = hiatus_store::accounts::get(&mut tx, dev_id).await.unwrap();
        tx.commit().await.unwrap();
        a.state().unwrap().as_str().to_string()
    };
    assert_eq!(
        state(app.h.clone()).await,
        "active",
        "a mistyped confirmation changes nothing"
    );
    tab_to(&b, "password").await;
    press(&b, DEMO_PASSWORD).await;
    tab_to(&b, "confirmation").await;
    press(&b, "delete my account").await;
    tab_to(&b, "Delete my account").await;
    press(&b, Key::Enter).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(state(app.h.clone()).await, "deletion_scheduled");
    // Log out, log in: the landing offers to cancel, and cancelling restores the account.
    tab_to(&b, "Log out").await;
    press(&b, Key::Enter).await;
    wait_path(&b, "/login").await;
    log_in(&b, &app.base, dev).await;
    wait_path(&b, "/account/cancel-deletion").await;
    tab_to(&b, "Cancel the deletion").await;
    press(&b, Key::Enter).await;
    wait_path(&b, "/account").await;
    assert_eq!(state(app.h.clone()).await, "active");
    b.quit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_former_client_sees_the_pseudonym_after_erasure() {
    let app = app().await;
    let ben = DEMO_LOGINS[1].email;
    let login = app.h.login(ben, DEMO_PASSWORD).await.unwrap();
    let actor = app.h.authenticate(&login.token).await.unwrap();
    let plan = app.h.erasure_plan(&actor).await.unwrap();
    app.h
        .schedule_deletion_as(
            &actor,
            hiatus_service::erasure::DeleteRequest {
                password: Some(DEMO_PASSWORD.into()),
                reason: hiatus_domain::ClosureReason::PrivacyConcerns,
                detail: None,
                confirmation: "delete my account".into(),
            },
            Some(&plan.pseudonym),
        )
        .await
        .unwrap();
    // The grace period passes; the worker erases Ben.
    app.clock
        .advance(app.h.config.deletion_grace + hiatus_domain::DAY_MICROS);
    drain(&app.h).await;
    let b = Browser::start().await;
    log_in(&b, &app.base, ben).await;
    let text = body_text(&b).await;
    // The erased address answers like one that never had an account.
    assert!(text.contains("Wrong email or password"), "{text}");
    b.driver().delete_all_cookies().await.unwrap();

    // Carla hired Ben: her contracts and messages name him by his pseudonym only.
    log_in(&b, &app.base, DEMO_LOGINS[2].email).await;
    wait_path(&b, "/account").await;
    tab_to(&b, "Your contracts").await;
    press(&b, Key::Enter).await;
    wait_path(&b, "/contracts").await;
    let list = body_text(&b).await;
    assert!(
        list.contains(&plan.pseudonym),
        "{} in {list}",
        plan.pseudonym
    );
    assert!(!list.contains("Ben Okafor"), "{list}");
    // Open the first contract with Ben.
    let row = b
        .driver()
        .find(By::XPath(format!(
            "//tr[td[contains(., '{}')]]//a",
            plan.pseudonym
        )))
        .await
        .unwrap();
    let title = row.text().await.unwrap();
    tab_to(&b, title.trim()).await;
    press(&b, Key::Enter).await;
    let page = body_text(&b).await;
    assert!(page.contains(&plan.pseudonym), "{page}");
    assert!(
        !page.contains("Ben Okafor") && !page.contains("Ben"),
        "{page}"
    );
    assert!(
        b.count("li.message").await > 0,
        "the contract's messages are kept"
    );
    let authors = b
        .js("return [...document.querySelectorAll('li.message .meta strong')].map(e => e.innerText)")
        .await;
    let authors: Vec<String> = authors
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    assert!(
        authors.contains(&plan.pseudonym),
        "Ben's messages under the pseudonym: {authors:?}"
    );
    assert!(
        authors.iter().all(|a| a == "you" || *a == plan.pseudonym),
        "{authors:?}"
    );
    b.quit().await;
}

/// The newest mail to `to` in the mail folder whose subject is `subject`, with quoted-printable
/// soft line breaks removed.
fn mail_to(dir: &std::path::Path, to: &str, subject: &str) -> String {
    let mut found: Vec<(std::time::SystemTime, String)> = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let text = std::fs::read_to_string(e.path()).unwrap_or_default();
        let flat = text.replace("=\r\n", "").replace("=\n", "");
        if (flat.contains(&format!("To: {to}")) || flat.contains(&format!("<{to}>")))
            && flat.contains(&format!("Subject: {subject}"))
        {
            found.push((e.metadata().unwrap().modified().unwrap(), flat));
        }
    }
    found.sort_by_key(|(t, _)| *t);
    found
        .pop()
        .unwrap_or_else(|| panic!("no mail {subject:?} to {to}"))
        .1
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_who_lost_their_password_is_restored_through_support() {
    let app = app().await;
    let b = Browser::start().await;
    let ben = DEMO_LOGINS[1].email;
    // Ben cannot log in; from the login page he asks support.
    b.driver()
        .goto(format!("{}/login", app.base))
        .await
        .unwrap();
    tab_to(&b, "Ask support to restore your account").await;
    press(&b, Key::Enter).await;
    wait_path(&b, "/restore").await;
    tab_to(&b, "email").await;
    press(&b, ben).await;
    tab_to(&b, "explanation").await;
    press(&b, "My laptop was stolen with the password manager on it.").await;
    tab_to(&b, "Send the request").await;
    press(&b, Key::Enter).await;
    wait_path(&b, "/restore/status").await;
    // The code goes to the address on file.
    drain(&app.h).await;
    let mail = mail_to(&app.mail, ben, "Your code to restore your hiatus account");
    let at = mail
        .find("on the page of your request: ")
        .expect("the code sentence");
    let code: String = mail[at + "on the page of your request: ".len()..]
        .chars()
        .take(8)
        .collect();
    tab_to(&b, "code").await;
    press(&b, code.as_str()).await;
    tab_to(&b, "Confirm the code").await;
    press(&b, Key::Enter).await;
    wait_path(&b, "/restore/status").await;
    let status = body_text(&b).await;
    assert!(status.to_lowercase().contains("support"), "{status}");

    // An agent sees the verified request in the console and approves it with a note.
    b.driver().delete_all_cookies().await.unwrap();
    log_in(&b, &app.base, DEMO_LOGINS[4].email).await;
    wait_path(&b, "/support").await;
    let queue = body_text(&b).await;
    assert!(queue.contains("Ben Okafor"), "{queue}");
    assert!(!queue.contains(ben), "the address is masked: {queue}");
    let note = b
        .driver()
        .find(By::Css("form[action$='/approve'] textarea[name=note]"))
        .await
        .unwrap();
    let note_id = note.id().await.unwrap().unwrap();
    tab_to(&b, &note_id).await;
    press(
        &b,
        "Code confirmed; the account history matches the explanation.",
    )
    .await;
    // Deciding needs the agent's password on the decision itself: logging in does not count.
    let pw = b
        .driver()
        .find(By::Css("form[action$='/approve'] input[name=password]"))
        .await
        .unwrap();
    let pw_id = pw.id().await.unwrap().unwrap();
    tab_to(&b, &pw_id).await;
    press(&b, DEMO_PASSWORD).await;
    tab_to(&b, "Approve").await;
    press(&b, Key::Enter).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let after = body_text(&b).await;
    assert!(!after.contains("Not allowed"), "{after}");

    // Ben gets the reset link, sets a new password and logs in with it.
    drain(&app.h).await;
    let mail = mail_to(&app.mail, ben, "Choose a new password for hiatus");
    let start = mail
        .find(&format!("{}/reset-password/", app.base))
        .expect("a reset link");
    let link: String = mail[start..]
        .chars()
        .take_while(|c| !c.is_whitespace() && *c != '<' && *c != '"')
        .collect();
    b.driver().delete_all_cookies().await.unwrap();
    b.driver().goto(&link).await.unwrap();
    tab_to(&b, "password").await;
    press(&b, "a fresh password for Ben").await;
    tab_to(&b, "confirm").await;
    press(&b, "a fresh password for Ben").await;
    tab_to(&b, "Set the new password").await;
    press(&b, Key::Enter).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(body_text(&b).await.contains("Your new password is set"));
    b.driver()
        .goto(format!("{}/login", app.base))
        .await
        .unwrap();
    tab_to(&b, "email").await;
    press(&b, ben).await;
    tab_to(&b, "password").await;
    press(&b, "a fresh password for Ben").await;
    press(&b, Key::Enter).await;
    wait_path(&b, "/account").await;
    assert!(
        app.h.login(ben, DEMO_PASSWORD).await.is_err(),
        "the old password is gone"
    );
    b.quit().await;
}
