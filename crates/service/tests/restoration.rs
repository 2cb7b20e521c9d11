//! Restoration through support, end to end against a real SMTP server on loopback, on SQLite
//! and PostgreSQL: the one-time code goes to the address on file (and only there), an agent
//! approves or denies, the reset link works once, every step is on the audit trail and in the
//! outbox; an unknown or erased address is answered alike and gets nothing; and the last mail
//! to an erased member, sent to the address kept sealed until then, which is then forgotten.

mod support;

use hiatus_domain::{AccountKind, AccountState, ClosureReason, Role};
use hiatus_service::erasure::{DeleteRequest, EraseOptions, EraseOutcome};
use hiatus_service::lifecycle::CloseRequest;
use hiatus_service::mail::MailTransport;
use hiatus_service::worker::Worker;
use hiatus_service::{Actor, Hiatus, SignUp};
use hiatus_testkit::testing;
use std::time::Duration;
use support::smtp::{Smtp, flat, header};

const PASSWORD: &str = "a long enough password";

async fn account(e: &support::Env, email: &str, name: &str, role: Role) -> Actor {
    let id =
        e.h.sign_up(
            SignUp {
                email: email.into(),
                password: PASSWORD.into(),
                legal_name: format!("{name} Legal"),
                display_name: name.into(),
                kind: AccountKind::Freelancer,
                headline: String::new(),
                bio: String::new(),
            },
            role,
        )
        .await
        .unwrap();
    let mut a = e.freelancer().await;
    a.account = id;
    a.role = role;
    a
}

async fn deliver(h: &Hiatus) {
    Worker::new(h.clone(), Duration::from_millis(10))
        .drain()
        .await
        .unwrap();
}

async fn env(smtp: &Smtp, postgres: bool) -> support::Env {
    let port = smtp.port;
    support::env_with(postgres, move |c| {
        c.mail.transport = MailTransport::parse(&format!("smtp://127.0.0.1:{port}")).unwrap();
        c.mail.from = "hiatus <no-reply@hiatus.test>".into();
        c.mail.public_url = "https://hiatus.test".into();
    })
    .await
}

/// The messages to `to`, oldest first.
fn mail_to(smtp: &Smtp, to: &str) -> Vec<String> {
    smtp.messages()
        .into_iter()
        .filter(|m| header(m, "X-RcptTo").as_deref() == Some(to))
        .collect()
}

fn subject(m: &str) -> String {
    header(m, "Subject").unwrap_or_default()
}

/// The eight-digit code in a code mail.
fn code_in(m: &str) -> String {
    let flat = flat(m);
    let at = flat
        .find("on the page of your request: ")
        .expect("the code sentence");
    flat[at + "on the page of your request: ".len()..]
        .chars()
        .take(8)
        .collect()
}

async fn approved_restoration_resets_the_password(postgres: bool) {
    let smtp = Smtp::start().await;
    let e = env(&smtp, postgres).await;
    let ana = account(&e, "ana.restore@example.test", "Ana Restore", Role::Member).await;
    let agent = account(&e, "agent@hiatus.test", "Agent", Role::Support).await;
    // Ana deactivated, then lost her password.
    e.h.deactivate(
        &ana,
        CloseRequest {
            password: None,
            reason: ClosureReason::TakingABreak,
            detail: None,
        },
    )
    .await
    .unwrap();
    deliver(&e.h).await;
    let before = smtp.messages().len();

    // A request for an address without an account looks exactly like a real one.
    let nobody =
        e.h.request_restoration("nobody@example.test", "")
            .await
            .unwrap();
    let ticket =
        e.h.request_restoration(
            "Ana.Restore@example.test",
            "I lost my phone and my password",
        )
        .await
        .unwrap();
    assert_eq!(nobody.status, ticket.status);
    assert_eq!(nobody.token.len(), ticket.token.len());
    assert_eq!(
        e.h.request_restoration("not an address", "")
            .await
            .unwrap_err()
            .code(),
        "invalid_email"
    );
    deliver(&e.h).await;
    let codes: Vec<String> = smtp.messages()[before..].to_vec();
    assert_eq!(codes.len(), 1, "one code, to the address on file only");
    assert_eq!(
        header(&codes[0], "X-RcptTo").as_deref(),
        Some("ana.restore@example.test")
    );
    assert_eq!(
        subject(&codes[0]),
        "Your code to restore your hiatus account"
    );
    assert!(codes[0].contains("Hello Ana Restore,"));
    let code = code_in(&codes[0]);
    assert!(
        code.chars().all(|c| c.is_ascii_digit()) && code.len() == 8,
        "{code}"
    );

    // Support sees Ana's request, not yet verified, and cannot approve it yet.
    let queue = e.h.restoration_queue(&agent, true, 50, 0).await.unwrap();
    assert_eq!(queue.len(), 1, "the unknown address is not in the queue");
    assert_eq!(queue[0].account_id, ana.account.to_text());
    assert!(!queue[0].verified);
    assert_eq!(queue[0].explanation, "I lost my phone and my password");
    assert_eq!(queue[0].email_hint, "a•••@example.test");
    assert_eq!(queue[0].account_state, "deactivated");
    assert_eq!(
        e.h.approve_restoration(&agent, &ticket.id, "checked")
            .await
            .unwrap_err()
            .code(),
        "not_verified"
    );
    // Members cannot see the queue or decide.
    assert_eq!(
        e.h.restoration_queue(&ana, true, 50, 0)
            .await
            .unwrap_err()
            .code(),
        "staff_only"
    );
    assert_eq!(
        e.h.approve_restoration(&ana, &ticket.id, "me")
            .await
            .unwrap_err()
            .code(),
        "staff_only"
    );

    // The token is needed; a wrong code counts; the unknown address can never verify.
    assert_eq!(
        e.h.restoration_status(&ticket.id, &nobody.token)
            .await
            .unwrap_err()
            .code(),
        "not_found"
    );
    let wrong = if code == "00000000" {
        "11111111"
    } else {
        "00000000"
    };
    assert_eq!(
        e.h.verify_restoration_code(&ticket.id, &ticket.token, wrong)
            .await
            .unwrap_err()
            .code(),
        "wrong_code"
    );
    assert_eq!(
        e.h.verify_restoration_code(&nobody.id, &nobody.token, &code)
            .await
            .unwrap_err()
            .code(),
        "wrong_code"
    );
    let spaced = format!("{} {}", &code[..4], &code[4..]);
    let st =
        e.h.verify_restoration_code(&ticket.id, &ticket.token, &spaced)
            .await
            .unwrap();
    assert_eq!(st.status, "verified");
    assert_eq!(st.attempts_left, 4);
    let queue = e.h.restoration_queue(&agent, true, 50, 0).await.unwrap();
    assert!(queue[0].verified);

    // Approved: a reset link by mail.
    let item =
        e.h.approve_restoration(
            &agent,
            &ticket.id,
            "code confirmed, account history matches",
        )
        .await
        .unwrap();
    assert_eq!(item.status, "approved");
    assert_eq!(
        item.decided_by.as_deref(),
        Some(agent.account.to_text().as_str())
    );
    assert_eq!(
        e.h.deny_restoration(&agent, &ticket.id, "changed my mind")
            .await
            .unwrap_err()
            .code(),
        "request_closed"
    );
    let st =
        e.h.restoration_status(&ticket.id, &ticket.token)
            .await
            .unwrap();
    assert_eq!(st.status, "approved");
    deliver(&e.h).await;
    let reset = mail_to(&smtp, "ana.restore@example.test")
        .into_iter()
        .find(|m| subject(m) == "Choose a new password for hiatus")
        .expect("the reset mail");
    let reset = flat(&reset);
    let at = reset
        .find("https://hiatus.test/reset-password/")
        .expect("a reset link");
    let token: String = reset[at + "https://hiatus.test/reset-password/".len()..]
        .chars()
        .take_while(|c| c.is_ascii_hexdigit())
        .collect();
    assert_eq!(token.len(), 64);

    // A session from before the reset ends with it.
    let old =
        e.h.login("ana.restore@example.test", PASSWORD)
            .await
            .unwrap();
    e.h.password_reset_info(&token).await.unwrap();
    assert_eq!(
        e.h.reset_password(&token, "short")
            .await
            .unwrap_err()
            .code(),
        "weak_password"
    );
    let state =
        e.h.reset_password(&token, "a brand new password")
            .await
            .unwrap();
    assert_eq!(state, AccountState::Deactivated);
    assert_eq!(
        e.h.reset_password(&token, "yet another password")
            .await
            .unwrap_err()
            .code(),
        "link_invalid"
    );
    assert!(
        e.h.authenticate(&old.token).await.is_err(),
        "old session ended"
    );
    assert!(
        e.h.login("ana.restore@example.test", PASSWORD)
            .await
            .is_err(),
        "the old password no longer works"
    );
    let login =
        e.h.login("ana.restore@example.test", "a brand new password")
            .await
            .unwrap();
    assert_eq!(
        login.state,
        AccountState::Deactivated,
        "lands on reactivate"
    );
    deliver(&e.h).await;
    let subjects: Vec<String> = mail_to(&smtp, "ana.restore@example.test")
        .iter()
        .map(|m| subject(m))
        .collect();
    assert_eq!(
        subjects
            .iter()
            .filter(|s| *s == "Your hiatus password was changed")
            .count(),
        1,
        "{subjects:?}"
    );
    assert_eq!(
        subjects
            .iter()
            .filter(|s| *s == "Your code to restore your hiatus account")
            .count(),
        1,
        "no mail twice: {subjects:?}"
    );

    // Every step is on Ana's trail, the agent's decision under the agent's id; support's look
    // at the trail is recorded too.
    let trail = e.h.audit_trail(&agent, ana.account, 100, 0).await.unwrap();
    let actions: Vec<&str> = trail.iter().map(|r| r.action.as_str()).collect();
    for a in [
        "restoration.requested",
        "restoration.verified",
        "restoration.approved",
        "password.reset",
    ] {
        assert!(actions.contains(&a), "{a} in {actions:?}");
    }
    let approved = trail
        .iter()
        .find(|r| r.action == "restoration.approved")
        .unwrap();
    assert_eq!(approved.actor_id, Some(agent.account.to_text()));
    let again = e.h.audit_trail(&agent, ana.account, 100, 0).await.unwrap();
    assert_eq!(again[0].action, "audit.viewed");
    assert_eq!(
        e.h.audit_trail(&ana, agent.account, 10, 0)
            .await
            .unwrap_err()
            .code(),
        "staff_only"
    );
    // The outbox tells integrations, without codes or links.
    assert_eq!(
        e.count_rows("outbox", "event", "restoration.requested")
            .await
            + e.count_rows("outbox", "event", "restoration.approved")
                .await
            + e.count_rows("outbox", "event", "account.password_changed")
                .await,
        3
    );
    assert_eq!(
        e.inspect(async |tx| {
            testing::count_outbox_payloads_containing_any(tx, &["code", "reset"]).await
        })
        .await,
        0
    );
    e.finish().await;
}

#[tokio::test]
async fn sqlite_approved_restoration_resets_the_password() {
    approved_restoration_resets_the_password(false).await;
}

#[tokio::test]
async fn postgres_approved_restoration_resets_the_password() {
    if hiatus_testkit::skip_postgres() {
        return;
    }
    approved_restoration_resets_the_password(true).await;
}

async fn denied_limited_and_never_after_erasure(postgres: bool) {
    let smtp = Smtp::start().await;
    let e = env(&smtp, postgres).await;
    account(&e, "ben.restore@example.test", "Ben Restore", Role::Member).await;
    let carl = account(
        &e,
        "carl.restore@example.test",
        "Carl Restore",
        Role::Member,
    )
    .await;
    let agent = account(&e, "agent2@hiatus.test", "Agent Two", Role::Support).await;

    // Denied, with a note Ben reads in the mail and on the status.
    let t =
        e.h.request_restoration("ben.restore@example.test", "")
            .await
            .unwrap();
    e.h.deny_restoration(
        &agent,
        &t.id,
        "We could not match this request to the account's history.",
    )
    .await
    .unwrap();
    let st = e.h.restoration_status(&t.id, &t.token).await.unwrap();
    assert_eq!(st.status, "denied");
    assert_eq!(
        st.note.as_deref(),
        Some("We could not match this request to the account's history.")
    );
    assert_eq!(
        e.h.approve_restoration(&agent, &t.id, "after all")
            .await
            .unwrap_err()
            .code(),
        "request_closed"
    );
    deliver(&e.h).await;
    let ben_mail = mail_to(&smtp, "ben.restore@example.test");
    // The code mail was not sent: the request was decided before the worker ran.
    assert_eq!(
        ben_mail.iter().map(|m| subject(m)).collect::<Vec<_>>(),
        vec!["Your request to restore your account".to_string()]
    );
    assert!(flat(&ben_mail[0]).contains("We could not match this request"));

    // Five wrong codes close a request.
    let t =
        e.h.request_restoration("ben.restore@example.test", "")
            .await
            .unwrap();
    for _ in 0..5 {
        assert_eq!(
            e.h.verify_restoration_code(&t.id, &t.token, "12345678x")
                .await
                .unwrap_err()
                .code(),
            "wrong_code"
        );
    }
    assert_eq!(
        e.h.verify_restoration_code(&t.id, &t.token, "12345678")
            .await
            .unwrap_err()
            .code(),
        "too_many_attempts"
    );
    // A request expires after a week.
    e.clock
        .advance(hiatus_service::restoration::REQUEST_TTL + 1);
    assert_eq!(
        e.h.restoration_status(&t.id, &t.token)
            .await
            .unwrap()
            .status,
        "expired"
    );
    assert!(
        e.h.restoration_queue(&agent, true, 50, 0)
            .await
            .unwrap()
            .is_empty()
    );

    // Carl is erased: the last mail goes to his old address, then the address is forgotten.
    let mut carl = carl;
    carl.reauth_at = e.h.now();
    e.h.schedule_deletion(
        &carl,
        DeleteRequest {
            password: None,
            reason: ClosureReason::PrivacyConcerns,
            detail: None,
            confirmation: "delete my account".into(),
        },
    )
    .await
    .unwrap();
    let outcome =
        e.h.erase_account(
            carl.account,
            "test",
            &EraseOptions {
                ignore_grace: true,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert!(matches!(outcome, EraseOutcome::Done), "{outcome:?}");
    assert_eq!(
        e.inspect(async |tx| testing::count_filled(tx, "erasures", "notify_enc").await)
            .await,
        1
    );
    deliver(&e.h).await;
    let carl_mail = mail_to(&smtp, "carl.restore@example.test");
    let erased: Vec<&String> = carl_mail
        .iter()
        .filter(|m| subject(m) == "Your hiatus account was erased")
        .collect();
    assert_eq!(
        erased.len(),
        1,
        "{:?}",
        carl_mail.iter().map(|m| subject(m)).collect::<Vec<_>>()
    );
    let body = flat(erased[0]);
    assert!(body.contains("Hello,"), "no name any more");
    assert!(!body.contains("Carl Restore"), "the name is gone");
    assert!(body.contains("It cannot be restored"));
    assert_eq!(
        e.inspect(async |tx| testing::count_filled(tx, "erasures", "notify_enc").await)
            .await,
        0,
        "the address is forgotten once the mail is sent"
    );
    // Restoration is never possible after erasure: no code, and the answer looks the same.
    let before = smtp.messages().len();
    let t =
        e.h.request_restoration("carl.restore@example.test", "please")
            .await
            .unwrap();
    assert_eq!(t.status, "awaiting_code");
    deliver(&e.h).await;
    assert_eq!(
        smtp.messages().len(),
        before,
        "nothing goes to an erased member"
    );
    assert!(
        e.h.restoration_queue(&agent, false, 50, 0)
            .await
            .unwrap()
            .iter()
            .all(|q| q.account_id != carl.account.to_text())
    );
    let problems = e.h.verify_erasure(carl.account).await.unwrap();
    assert!(problems.is_empty(), "{problems:?}");
    e.finish().await;
}

#[tokio::test]
async fn sqlite_denied_limited_and_never_after_erasure() {
    denied_limited_and_never_after_erasure(false).await;
}

#[tokio::test]
async fn postgres_denied_limited_and_never_after_erasure() {
    if hiatus_testkit::skip_postgres() {
        return;
    }
    denied_limited_and_never_after_erasure(true).await;
}

/// Requests nobody confirmed expire without anyone touching them; however many there are,
/// they never hide an open request from the console, and the console pages through the rest.
async fn expired_requests_never_hide_open_ones(postgres: bool) {
    let smtp = Smtp::start().await;
    let e = env(&smtp, postgres).await;
    let agent = account(&e, "agent@hiatus.test", "Agent", Role::Support).await;
    let members = [
        account(&e, "one@example.test", "One", Role::Member).await,
        account(&e, "two@example.test", "Two", Role::Member).await,
        account(&e, "three@example.test", "Three", Role::Member).await,
    ];
    let page = hiatus_service::dashboard::QUEUE_PAGE as usize;
    // More expired requests than a page holds: three at a time, each left to expire (a
    // request is open for a week).
    for _ in 0..(page / 3 + 2) {
        for email in ["one@example.test", "two@example.test", "three@example.test"] {
            e.h.request_restoration(email, "").await.unwrap();
        }
        e.clock.advance(8 * hiatus_domain::DAY_MICROS);
    }
    let open =
        e.h.request_restoration("two@example.test", "still locked out")
            .await
            .unwrap();
    let q = e.h.support_queue(&agent, true, 0).await.unwrap();
    assert_eq!(q.items.len(), 1, "{:?}", q.items);
    assert_eq!(q.items[0].id, open.id);
    assert_eq!(q.items[0].account_id, members[1].account.to_text());
    assert_eq!(q.items[0].explanation, "still locked out");
    assert!(!q.more);
    // Every request, newest first, a page at a time.
    let all = e.h.support_queue(&agent, false, 0).await.unwrap();
    assert_eq!(all.items.len(), page);
    assert!(all.more);
    assert_eq!(all.items[0].status, "awaiting_code");
    assert_eq!(all.items[1].status, "expired");
    let next = e.h.support_queue(&agent, false, 1).await.unwrap();
    let total = 3 * (page / 3 + 2) + 1;
    assert_eq!(next.items.len(), total - page);
    assert!(!next.more);
    assert!(
        next.items
            .iter()
            .all(|i| !all.items.iter().any(|j| j.id == i.id)),
        "pages do not overlap"
    );
    e.finish().await;
}

#[tokio::test]
async fn sqlite_expired_requests_never_hide_open_ones() {
    expired_requests_never_hide_open_ones(false).await;
}

#[tokio::test]
async fn postgres_expired_requests_never_hide_open_ones() {
    if hiatus_testkit::skip_postgres() {
        return;
    }
    expired_requests_never_hide_open_ones(true).await;
}
