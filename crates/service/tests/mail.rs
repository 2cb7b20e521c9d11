//! Email against a real SMTP server on loopback (aiosmtpd, which the test command installs),
//! on SQLite and PostgreSQL: recipients, subjects and both bodies of each kind of mail, the
//! idempotency headers, and a muted member getting only essential mail.

mod support;

use hiatus_domain::{BreakRequest, ClosureReason, NotificationMode};
use hiatus_service::erasure::DeleteRequest;
use hiatus_service::lifecycle::CloseRequest;
use hiatus_service::mail::MailTransport;
use hiatus_service::worker::Worker;
use hiatus_service::{Actor, Hiatus};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// The Python with aiosmtpd: `HIATUS_TEST_PYTHON`, else the test command's virtualenv.
fn python() -> PathBuf {
    if let Ok(p) = std::env::var("HIATUS_TEST_PYTHON") {
        return p.into();
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/venv/bin/python")
}

/// aiosmtpd on a free loopback port, storing what it receives in a maildir.
struct Smtp {
    child: Child,
    port: u16,
    maildir: PathBuf,
    _dir: tempfile::TempDir,
}

impl Smtp {
    async fn start() -> Smtp {
        let py = python();
        let ok = Command::new(&py)
            .args(["-c", "import aiosmtpd"])
            .status()
            .is_ok_and(|s| s.success());
        assert!(
            ok,
            "these tests need Python with aiosmtpd at {} (scripts/test installs it; or set HIATUS_TEST_PYTHON)",
            py.display()
        );
        let dir = tempfile::tempdir().unwrap();
        let maildir = dir.path().join("maildir");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut child = Command::new(&py)
            .args(["-m", "aiosmtpd", "-n", "-c", "aiosmtpd.handlers.Mailbox"])
            .arg(&maildir)
            .args(["-l", &format!("127.0.0.1:{port}")])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                return Smtp {
                    child,
                    port,
                    maildir,
                    _dir: dir,
                };
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let _ = child.kill();
        let _ = child.wait();
        panic!("aiosmtpd did not start on port {port}");
    }

    /// Every message received so far, as raw text.
    fn messages(&self) -> Vec<String> {
        let Ok(entries) = std::fs::read_dir(self.maildir.join("new")) else {
            return Vec::new();
        };
        let mut out: Vec<String> = entries
            .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
            .collect();
        out.sort();
        out
    }
}

impl Drop for Smtp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A header's value (unfolded).
fn header(msg: &str, name: &str) -> Option<String> {
    let head = msg.split("\n\n").next().unwrap_or_default();
    let mut value: Option<String> = None;
    for line in head.lines() {
        if let Some(v) = value.as_mut() {
            if line.starts_with(' ') || line.starts_with('\t') {
                v.push_str(line.trim_start());
                continue;
            }
            break;
        }
        if let Some((k, v)) = line.split_once(':')
            && k.eq_ignore_ascii_case(name)
        {
            value = Some(v.trim().to_string());
        }
    }
    value
}

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

#[tokio::test]
async fn sqlite_each_kind_reaches_the_member() {
    each_kind_reaches_the_member(false).await;
}

#[tokio::test]
async fn postgres_each_kind_reaches_the_member() {
    each_kind_reaches_the_member(true).await;
}

#[tokio::test]
async fn sqlite_an_unreachable_server_is_retried() {
    an_unreachable_server_is_retried(false).await;
}

#[tokio::test]
async fn postgres_an_unreachable_server_is_retried() {
    an_unreachable_server_is_retried(true).await;
}
