//! Email against a real SMTP server on loopback (aiosmtpd, which the test command installs),
//! on SQLite and PostgreSQL: recipients, subjects and both bodies of each kind of mail, the
//! idempotency headers, and a muted member getting only essential mail.

mod support;

use support::smtp::{Smtp, header};

use hiatus_domain::{BreakRequest, ClosureReason, NotificationMode};
use hiatus_service::erasure::DeleteRequest;
use hiatus_service::lifecycle::CloseRequest;
use hiatus_service::mail::MailTransport;
use hiatus_service::worker::Worker;
use hiatus_service::{Actor, Hiatus};
use hiatus_testkit::testing;
use std::time::Duration;

async fn member(e: &support::Env, email: &str, name: &str) -> Actor {
    let id =
        e.h.sign_up(
            hiatus_service::SignUp {
                email: email.into(),
                password: "a long enough password".into(),
                legal_name: format!("{name} Legal"),
                display_name: name.into(),
                kind: hiatus_domain::AccountKind::Freelancer,
                headline: String::new(),
                bio: String::new(),
            },
            hiatus_domain::Role::Member,
        )
        .await
        .unwrap();
    let mut a = e.freelancer().await;
    a.account = id;
    a.reauth_at = e.h.now();
    a
}

async fn client(e: &support::Env, email: &str, name: &str) -> Actor {
    let id =
        e.h.sign_up(
            hiatus_service::SignUp {
                email: email.into(),
                password: "a long enough password".into(),
                legal_name: format!("{name} Legal"),
                display_name: name.into(),
                kind: hiatus_domain::AccountKind::Client,
                headline: String::new(),
                bio: String::new(),
            },
            hiatus_domain::Role::Member,
        )
        .await
        .unwrap();
    let mut a = e.freelancer().await;
    a.account = id;
    a.kind = hiatus_domain::AccountKind::Client;
    a
}

async fn deliver(h: &Hiatus) {
    Worker::new(h.clone(), Duration::from_millis(10))
        .drain()
        .await
        .unwrap();
}

async fn each_kind_reaches_the_member(postgres: bool) {
    let smtp = Smtp::start().await;
    let e = support::env_with(postgres, |c| {
        c.mail.transport =
            MailTransport::parse(&format!("smtp://127.0.0.1:{}", smtp.port)).unwrap();
        c.mail.from = "hiatus <no-reply@hiatus.test>".into();
        c.mail.public_url = "https://hiatus.test".into();
    })
    .await;
    let ana = member(&e, "ana.mail@example.test", "Ana Mail").await;
    let ben = member(&e, "ben.mail@example.test", "Ben Mail").await;
    e.h.update_settings(&ben, None, None, Some(NotificationMode::Muted))
        .await
        .unwrap();
    for who in [&ana, &ben] {
        let mut a = who.clone();
        e.h.start_break(
            &a,
            BreakRequest {
                private: false,
                mute: false,
                until: None,
            },
        )
        .await
        .unwrap();
        e.h.end_break(&a).await.unwrap();
        e.h.deactivate(
            &a,
            CloseRequest {
                password: None,
                reason: ClosureReason::NotEnoughWork,
                detail: None,
            },
        )
        .await
        .unwrap();
        a.state = hiatus_domain::AccountState::Deactivated;
        e.h.reactivate(&a).await.unwrap();
        a.state = hiatus_domain::AccountState::Active;
        e.h.schedule_deletion(
            &a,
            DeleteRequest {
                password: None,
                reason: ClosureReason::PrivacyConcerns,
                detail: None,
                confirmation: "delete my account".into(),
            },
        )
        .await
        .unwrap();
        e.h.cancel_deletion(&a).await.unwrap();
    }
    deliver(&e.h).await;
    let msgs = smtp.messages();
    let to = |m: &String| header(m, "X-RcptTo").unwrap_or_default();
    let ana_mail: Vec<&String> = msgs
        .iter()
        .filter(|m| to(m) == "ana.mail@example.test")
        .collect();
    let ben_mail: Vec<&String> = msgs
        .iter()
        .filter(|m| to(m) == "ben.mail@example.test")
        .collect();
    assert_eq!(
        msgs.len(),
        ana_mail.len() + ben_mail.len(),
        "nobody else gets mail"
    );
    let subjects = |ms: &[&String]| {
        let mut s: Vec<String> = ms.iter().map(|m| header(m, "Subject").unwrap()).collect();
        s.sort();
        s
    };
    let due = hiatus_service::clock::format_date(e.h.now() + e.h.config.deletion_grace);
    let mut all = vec![
        "Your account is active again".to_string(),
        "Your account is deactivated".to_string(),
        "Your account will not be deleted".to_string(),
        format!("Your account will be deleted on {due}"),
        "Your break has ended".to_string(),
        "Your break has started".to_string(),
    ];
    all.sort();
    assert_eq!(subjects(&ana_mail), all);
    // Ben muted notifications: only essential mail (no break mail).
    let essential: Vec<String> = all
        .iter()
        .filter(|s| !s.contains("break"))
        .cloned()
        .collect();
    assert_eq!(subjects(&ben_mail), essential);
    for m in &msgs {
        assert_eq!(header(m, "From").unwrap(), "hiatus <no-reply@hiatus.test>");
        let key = header(m, "X-Hiatus-Idempotency-Key").expect("idempotency key");
        let id = header(m, "Message-ID").expect("message id");
        assert!(
            id.starts_with(&format!("<{key}.")),
            "{id} is derived from {key}"
        );
        assert!(m.contains("Content-Type: text/plain") && m.contains("Content-Type: text/html"));
    }
    let deletion = ana_mail
        .iter()
        .find(|m| {
            header(m, "Subject")
                .unwrap()
                .starts_with("Your account will be deleted")
        })
        .unwrap();
    assert!(deletion.contains("Hello Ana Mail,"));
    assert!(deletion.contains("https://hiatus.test"), "{deletion}");
    assert!(deletion.contains("Cancel deletion"));
    // Nothing is sent twice, however often the worker runs.
    deliver(&e.h).await;
    e.clock.advance(7 * 3600 * 1_000_000);
    deliver(&e.h).await;
    assert_eq!(smtp.messages().len(), msgs.len());
    let log = hiatus_service::mail::mail_of(&e.h, ben.account, 50)
        .await
        .unwrap();
    assert_eq!(
        log.iter().filter(|m| m.status == "skipped").count(),
        2,
        "two break mails skipped"
    );
    assert!(
        log.iter()
            .filter(|m| m.status == "skipped")
            .all(|m| m.last_error.as_deref() == Some("notifications are muted"))
    );
    e.finish().await;
}

async fn an_unreachable_server_is_retried(postgres: bool) {
    // A port with nothing listening: the mail stays pending and is retried after a pause.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let e = support::env_with(postgres, |c| {
        c.mail.transport = MailTransport::parse(&format!("smtp://127.0.0.1:{port}")).unwrap();
    })
    .await;
    let ana = member(&e, "ana.retry@example.test", "Ana Retry").await;
    e.h.start_break(
        &ana,
        BreakRequest {
            private: false,
            mute: false,
            until: None,
        },
    )
    .await
    .unwrap();
    deliver(&e.h).await;
    let log = hiatus_service::mail::mail_of(&e.h, ana.account, 10)
        .await
        .unwrap();
    assert_eq!(log.len(), 1);
    assert_eq!((log[0].status.as_str(), log[0].attempts), ("pending", 1));
    assert!(
        log[0].next_attempt_at > e.h.now(),
        "retried later, not at once"
    );
    e.finish().await;
}

/// A deactivation with "tell my clients": exactly the regular clients hear it, once each in
/// the app, and by email with one idempotency key each, even when the worker dies between
/// handing a mail to the server and recording it, and when the job runs again.
async fn telling_clients_reaches_exactly_the_regular_ones(postgres: bool) {
    let smtp = Smtp::start().await;
    let e = support::env_with(postgres, |c| {
        c.mail.transport =
            MailTransport::parse(&format!("smtp://127.0.0.1:{}", smtp.port)).unwrap();
        c.mail.public_url = "https://hiatus.test".into();
    })
    .await;
    let usd = hiatus_domain::Currency::parse("USD").unwrap();
    let f = member(&e, "fay.notice@example.test", "Fay Notice").await;
    // An old client, from more than a year ago: not regular.
    let old = client(&e, "old.client@example.test", "Old Client").await;
    let k =
        e.h.create_contract(&old, f.account, "Long ago", usd)
            .await
            .unwrap();
    e.h.contract_action(&f, k.id, hiatus_service::market::ContractAction::Accept)
        .await
        .unwrap();
    e.h.contract_action(&old, k.id, hiatus_service::market::ContractAction::End)
        .await
        .unwrap();
    e.clock.advance(400 * hiatus_domain::DAY_MICROS);
    let mut regular = Vec::new();
    for (i, name) in ["Cleo", "Dora", "Emil"].iter().enumerate() {
        let c = client(&e, &format!("client{i}.notice@example.test"), name).await;
        let k =
            e.h.create_contract(&c, f.account, "Recent work", usd)
                .await
                .unwrap();
        e.h.contract_action(&f, k.id, hiatus_service::market::ContractAction::Accept)
            .await
            .unwrap();
        e.h.contract_action(&c, k.id, hiatus_service::market::ContractAction::End)
            .await
            .unwrap();
        regular.push(c);
    }
    // Cleo and Fay already talk in a thread: the notice goes there.
    let (existing, _) =
        e.h.start_thread(&regular[0], f.account, "Next project", "Shall we?", None)
            .await
            .unwrap();
    let f = Actor {
        reauth_at: e.h.now(),
        ..f
    };
    let listed = e.h.regular_clients(&f).await.unwrap();
    let mut ids: Vec<_> = listed.iter().map(|r| r.id).collect();
    ids.sort_by_key(|a| a.to_string());
    let mut want: Vec<_> = regular.iter().map(|c| c.account).collect();
    want.sort_by_key(|a| a.to_string());
    assert_eq!(ids, want, "the old client is not regular");
    assert!(listed.iter().all(|r| r.because.recent_contract && !r.told));
    let told =
        e.h.tell_clients(
            &f,
            hiatus_service::notices::TellClients {
                clients: None,
                message: "I am taking a long break from freelancing. Thank you!".into(),
                forwarding: Some("fay@elsewhere.example".into()),
            },
        )
        .await
        .unwrap();
    assert_eq!(told.len(), 3);
    e.h.deactivate(
        &f,
        CloseRequest {
            password: None,
            reason: ClosureReason::TakingABreak,
            detail: None,
        },
    )
    .await
    .unwrap();
    deliver(&e.h).await;
    // The worker dies after the server took the notices but before recording it: on restart
    // they are sent again, with the same idempotency keys.
    {
        let mut tx = e.h.db.begin().await.unwrap();
        testing::tamper_mail_deliveries_back_to_pending(&mut tx, "client.notice")
            .await
            .unwrap();
        tx.commit().await.unwrap();
    }
    deliver(&e.h).await;
    // And the job itself runs again: nothing new in the app.
    assert_eq!(e.h.deliver_client_notices(f.account).await.unwrap(), 0);
    deliver(&e.h).await;

    // In the app: exactly one notice per regular client, Cleo's in the thread they shared.
    for c in &regular {
        let threads = e.h.my_threads(c, 50, 0).await.unwrap();
        let mut notices = 0;
        for t in &threads {
            for m in e.h.thread_messages(c, t.id, 100, 0).await.unwrap() {
                if m.body.contains("taking a long break") {
                    notices += 1;
                    assert_eq!(m.author_id, f.account);
                    assert!(m.body.contains("fay@elsewhere.example"));
                    if c.account == regular[0].account {
                        assert_eq!(t.id, existing.id, "Cleo's notice is in their thread");
                    }
                }
            }
        }
        assert_eq!(notices, 1, "one notice in the app for each regular client");
    }
    assert!(
        e.h.my_threads(&old, 50, 0).await.unwrap().is_empty(),
        "the old client hears nothing"
    );
    // By email: only the regular clients, one idempotency key each (sent twice after the crash).
    let notices: Vec<String> = smtp
        .messages()
        .into_iter()
        .filter(|m| header(m, "Subject").is_some_and(|s| s == "A message from Fay Notice"))
        .collect();
    let mut by_key: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    for m in &notices {
        by_key
            .entry(header(m, "X-Hiatus-Idempotency-Key").unwrap())
            .or_default()
            .push(header(m, "X-RcptTo").unwrap());
        assert!(m.contains("taking a long break") && m.contains("fay@elsewhere.example"));
    }
    assert_eq!(by_key.len(), 3, "one key per client: {by_key:?}");
    assert!(
        by_key.values().all(|v| v.len() == 2),
        "each notice was sent again after the crash, with its key: {by_key:?}"
    );
    let mut to: Vec<String> = by_key
        .values()
        .map(|v| {
            assert!(
                v.iter().all(|r| r == &v[0]),
                "a key belongs to one recipient"
            );
            v[0].clone()
        })
        .collect();
    to.sort();
    assert_eq!(
        to,
        [
            "client0.notice@example.test",
            "client1.notice@example.test",
            "client2.notice@example.test"
        ]
    );
    assert!(
        e.h.regular_clients(&f)
            .await
            .unwrap()
            .iter()
            .all(|r| r.told)
    );
    e.finish().await;
}

#[tokio::test]
async fn sqlite_telling_clients_reaches_exactly_the_regular_ones() {
    telling_clients_reaches_exactly_the_regular_ones(false).await;
}

#[tokio::test]
async fn postgres_telling_clients_reaches_exactly_the_regular_ones() {
    if hiatus_testkit::skip_postgres() {
        return;
    }
    telling_clients_reaches_exactly_the_regular_ones(true).await;
}

/// Deletion mail: scheduled (with a one-click cancel link), then reminders 7 days and 1 day
/// before; none after the member cancels.
async fn deletion_reminders_carry_a_cancel_link(postgres: bool) {
    let smtp = Smtp::start().await;
    let e = support::env_with(postgres, |c| {
        c.mail.transport =
            MailTransport::parse(&format!("smtp://127.0.0.1:{}", smtp.port)).unwrap();
        c.mail.public_url = "https://hiatus.test".into();
    })
    .await;
    let day = hiatus_domain::DAY_MICROS;
    let ana = member(&e, "ana.remind@example.test", "Ana Remind").await;
    let ben = member(&e, "ben.remind@example.test", "Ben Remind").await;
    for who in [&ana, &ben] {
        e.h.schedule_deletion(
            who,
            DeleteRequest {
                password: None,
                reason: ClosureReason::PrivacyConcerns,
                detail: None,
                confirmation: "delete my account".into(),
            },
        )
        .await
        .unwrap();
    }
    deliver(&e.h).await;
    e.clock.advance(23 * day + 1);
    deliver(&e.h).await;
    // Ben cancels before the last reminder.
    let mut b = ben.clone();
    b.state = hiatus_domain::AccountState::DeletionScheduled;
    e.h.cancel_deletion(&b).await.unwrap();
    e.clock.advance(6 * day);
    deliver(&e.h).await;
    let subjects = |to: &str| -> Vec<String> {
        smtp.messages()
            .iter()
            .filter(|m| header(m, "X-RcptTo").as_deref() == Some(to))
            .map(|m| header(m, "Subject").unwrap())
            .collect()
    };
    let ana_subjects = subjects("ana.remind@example.test");
    assert_eq!(ana_subjects.len(), 3, "{ana_subjects:?}");
    assert!(
        ana_subjects
            .iter()
            .any(|s| s == "Your account will be erased in 7 days")
    );
    assert!(
        ana_subjects
            .iter()
            .any(|s| s == "Your account will be erased tomorrow")
    );
    let ben_subjects = subjects("ben.remind@example.test");
    assert!(
        ben_subjects
            .iter()
            .any(|s| s == "Your account will be erased in 7 days")
    );
    assert!(
        !ben_subjects.iter().any(|s| s.contains("tomorrow")),
        "{ben_subjects:?}"
    );
    // Every deletion mail carries a working, single-use cancel link.
    let reminder = smtp
        .messages()
        .into_iter()
        .find(|m| header(m, "Subject").as_deref() == Some("Your account will be erased tomorrow"))
        .unwrap();
    let flat = reminder.replace("=\r\n", "").replace("=\n", "");
    let start = flat
        .find("https://hiatus.test/cancel-deletion/")
        .expect("a cancel link");
    let token: String = flat[start + "https://hiatus.test/cancel-deletion/".len()..]
        .chars()
        .take_while(|c| c.is_ascii_hexdigit())
        .collect();
    assert_eq!(token.len(), 64);
    e.h.cancel_link_info(&token).await.unwrap();
    e.h.cancel_by_link(&token, None).await.unwrap();
    assert_eq!(
        e.h.cancel_by_link(&token, None).await.unwrap_err().code(),
        "link_invalid"
    );
    e.finish().await;
}

#[tokio::test]
async fn sqlite_deletion_reminders_carry_a_cancel_link() {
    deletion_reminders_carry_a_cancel_link(false).await;
}

#[tokio::test]
async fn postgres_deletion_reminders_carry_a_cancel_link() {
    if hiatus_testkit::skip_postgres() {
        return;
    }
    deletion_reminders_carry_a_cancel_link(true).await;
}

/// Reminders of things the member set going: a break that ends tomorrow, an export ready, an
/// export not downloaded that goes tomorrow, and its removal.
async fn break_and_export_reminders(postgres: bool) {
    let smtp = Smtp::start().await;
    let e = support::env_with(postgres, |c| {
        c.mail.transport =
            MailTransport::parse(&format!("smtp://127.0.0.1:{}", smtp.port)).unwrap();
    })
    .await;
    let day = hiatus_domain::DAY_MICROS;
    let ana = member(&e, "ana.later@example.test", "Ana Later").await;
    let until = e.h.now() + 3 * day;
    e.h.start_break(
        &ana,
        BreakRequest {
            private: false,
            mute: false,
            until: Some(until),
        },
    )
    .await
    .unwrap();
    e.h.request_export(&ana, None).await.unwrap();
    deliver(&e.h).await;
    e.clock.advance(2 * day + 1);
    deliver(&e.h).await;
    let retention = e.h.config.exports.retention;
    e.clock.advance(retention - 3 * day);
    deliver(&e.h).await;
    e.clock.advance(2 * day);
    deliver(&e.h).await;
    let subjects: Vec<String> = smtp
        .messages()
        .iter()
        .map(|m| header(m, "Subject").unwrap())
        .collect();
    for want in [
        "Your break has started",
        "Your data export is ready",
        "Your break ends tomorrow",
        "Your break has ended",
        "Your data export will be removed tomorrow",
        "Your data export was removed",
    ] {
        assert_eq!(
            subjects.iter().filter(|s| *s == want).count(),
            1,
            "{want:?} once in {subjects:?}"
        );
    }
    assert_eq!(subjects.len(), 6, "{subjects:?}");
    e.finish().await;
}

#[tokio::test]
async fn sqlite_break_and_export_reminders() {
    break_and_export_reminders(false).await;
}

#[tokio::test]
async fn postgres_break_and_export_reminders() {
    if hiatus_testkit::skip_postgres() {
        return;
    }
    break_and_export_reminders(true).await;
}

/// An export whose every build attempt fails ends `failed`, and the member is told once.
async fn a_failed_export_is_mailed_once(postgres: bool) {
    let smtp = Smtp::start().await;
    let e = support::env_with(postgres, |c| {
        c.mail.transport =
            MailTransport::parse(&format!("smtp://127.0.0.1:{}", smtp.port)).unwrap();
        c.mail.public_url = "https://hiatus.test".into();
    })
    .await;
    let dora = member(&e, "dora.fails@example.test", "Dora Fails").await;
    e.h.upload_private_file(
        &dora,
        hiatus_domain::FileKind::Private,
        hiatus_service::market::Upload {
            name: "notes.txt".into(),
            content_type: "text/plain".into(),
            bytes: b"notes".to_vec(),
        },
    )
    .await
    .unwrap();
    // The stored bytes vanish (a disk fault): every build attempt fails.
    std::fs::remove_dir_all(e.files_dir()).unwrap();
    e.h.request_export(&dora, None).await.unwrap();
    for _ in 0..8 {
        deliver(&e.h).await;
        e.clock.advance(10 * 60 * 1_000_000);
    }
    deliver(&e.h).await;
    let msgs: Vec<String> = smtp
        .messages()
        .into_iter()
        .filter(|m| header(m, "Subject").as_deref() == Some("Your data export could not be built"))
        .collect();
    assert_eq!(msgs.len(), 1, "told once");
    assert_eq!(
        header(&msgs[0], "X-RcptTo").as_deref(),
        Some("dora.fails@example.test")
    );
    assert!(msgs[0].contains("Hello Dora Fails,"));
    assert!(support::smtp::flat(&msgs[0]).contains("request a new one at https://hiatus.test"));
    e.finish().await;
}

#[tokio::test]
async fn sqlite_a_failed_export_is_mailed_once() {
    a_failed_export_is_mailed_once(false).await;
}

#[tokio::test]
async fn postgres_a_failed_export_is_mailed_once() {
    if hiatus_testkit::skip_postgres() {
        return;
    }
    a_failed_export_is_mailed_once(true).await;
}

/// A member on the daily digest gets essential mail at once and the rest in one message a
/// day later.
async fn digest_members_get_one_message_a_day(postgres: bool) {
    let smtp = Smtp::start().await;
    let e = support::env_with(postgres, |c| {
        c.mail.transport =
            MailTransport::parse(&format!("smtp://127.0.0.1:{}", smtp.port)).unwrap();
    })
    .await;
    let cara = member(&e, "cara.digest@example.test", "Cara Digest").await;
    e.h.update_settings(&cara, None, None, Some(NotificationMode::Digest))
        .await
        .unwrap();
    e.h.start_break(
        &cara,
        BreakRequest {
            private: false,
            mute: false,
            until: None,
        },
    )
    .await
    .unwrap();
    e.h.end_break(&cara).await.unwrap();
    e.h.deactivate(
        &cara,
        CloseRequest {
            password: None,
            reason: ClosureReason::NotEnoughWork,
            detail: None,
        },
    )
    .await
    .unwrap();
    deliver(&e.h).await;
    let subjects = || -> Vec<String> {
        smtp.messages()
            .iter()
            .map(|m| header(m, "Subject").unwrap())
            .collect()
    };
    assert_eq!(
        subjects(),
        ["Your account is deactivated"],
        "essential mail at once"
    );
    e.clock.advance(hiatus_domain::DAY_MICROS - 1_000_000);
    deliver(&e.h).await;
    assert_eq!(subjects().len(), 1, "not before a day has passed");
    e.clock.advance(2_000_000);
    deliver(&e.h).await;
    deliver(&e.h).await;
    let all = smtp.messages();
    assert_eq!(all.len(), 2, "one digest");
    let digest = all
        .iter()
        .find(|m| {
            header(m, "Subject")
                .unwrap()
                .starts_with("Your hiatus digest")
        })
        .expect("the digest");
    assert_eq!(
        header(digest, "Subject").unwrap(),
        "Your hiatus digest: 2 update(s)"
    );
    assert!(digest.contains("Your break has started") && digest.contains("Your break has ended"));
    assert!(header(digest, "X-Hiatus-Idempotency-Key").is_some());
    e.finish().await;
}

#[tokio::test]
async fn sqlite_digest_members_get_one_message_a_day() {
    digest_members_get_one_message_a_day(false).await;
}

#[tokio::test]
async fn postgres_digest_members_get_one_message_a_day() {
    if hiatus_testkit::skip_postgres() {
        return;
    }
    digest_members_get_one_message_a_day(true).await;
}

#[tokio::test]
async fn sqlite_each_kind_reaches_the_member() {
    each_kind_reaches_the_member(false).await;
}

#[tokio::test]
async fn postgres_each_kind_reaches_the_member() {
    if hiatus_testkit::skip_postgres() {
        return;
    }
    each_kind_reaches_the_member(true).await;
}

#[tokio::test]
async fn sqlite_an_unreachable_server_is_retried() {
    an_unreachable_server_is_retried(false).await;
}

#[tokio::test]
async fn postgres_an_unreachable_server_is_retried() {
    if hiatus_testkit::skip_postgres() {
        return;
    }
    an_unreachable_server_is_retried(true).await;
}
