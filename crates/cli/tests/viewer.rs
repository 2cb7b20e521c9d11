//! The archive's offline viewer in headless Chromium, opened from a `file://` URL with no
//! server: a folder in the archive layout (the real viewer assets, synthetic data of the size
//! of the largest test account, hostile text in it) lists its threads, opens one part by part,
//! and shows every section, without errors, dialogs or injected markup.
//!
//! Needs Chromium and chromedriver: run `scripts/ensure-chromium` first.

#[path = "support/browser.rs"]
mod browser;

use browser::{Browser, SECTIONS};
use serde_json::{Value, json};
use std::fmt::Write;
use std::path::Path;
use std::time::Instant;
use thirtyfour::prelude::*;

const THREADS: usize = 2_000;
const MESSAGES: usize = 200_000;
const PART_SIZE: usize = 500;
const PEOPLE: usize = 30;
const CONTRACTS: usize = 5;
const HOSTILE: &str = "<img src=x onerror=alert(1)>";

/// 2025-06-01T00:00:00Z, the newest message of the fixture.
const NEWEST: i64 = 1_748_736_000;

const SELF_ID: &str = "0000000a-0000-4000-8000-000000000000";

fn uuid(kind: u16, n: usize) -> String {
    format!("{kind:08x}-0000-4000-8000-{n:012x}")
}
fn person_id(n: usize) -> String {
    uuid(0xb, n)
}
fn contract_id(n: usize) -> String {
    uuid(0xc, n)
}
fn thread_id(n: usize) -> String {
    uuid(0xd, n)
}
fn message_id(t: usize, m: usize) -> String {
    uuid(0xe, t * 10_000 + m)
}

/// An RFC 3339 UTC time from seconds since the epoch.
fn rfc3339(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Civil date from days since 1970-01-01 (H. Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3_600,
        rem % 3_600 / 60,
        rem % 60
    )
}

/// One thread of the fixture.
#[derive(Debug, Clone)]
pub struct FixtureThread {
    pub id: String,
    pub subject: String,
    pub message_count: usize,
    pub message_parts: usize,
}

/// What [`write_viewer_fixture`] wrote, to compare the viewer against.
#[derive(Debug)]
pub struct ViewerFixture {
    /// In the order the viewer lists them (most recent first).
    pub threads: Vec<FixtureThread>,
    /// Categories deliberately left out, as an incremental export would.
    pub missing: Vec<&'static str>,
}

impl ViewerFixture {
    /// The bodies of part `part` of thread number `t`, oldest first.
    pub fn bodies(&self, t: usize, part: usize) -> Vec<String> {
        let count = self.threads[t].message_count;
        (part * PART_SIZE..count.min((part + 1) * PART_SIZE))
            .map(|m| message_body(t, m))
            .collect()
    }
}

fn subject(t: usize) -> String {
    if t.is_multiple_of(7) {
        format!("Thread {t:04} {HOSTILE}")
    } else {
        format!("Thread {t:04} about the logo & colours")
    }
}

/// The text of message `m` (0 = oldest) of thread `t`.
fn message_body(t: usize, m: usize) -> String {
    match m % 5 {
        0 => format!("{HOSTILE} message {m} of thread {t}"),
        1 => format!("</script><script>alert(2)</script> message {m} of thread {t}"),
        2 => {
            format!("Line one of message {m}\nline two: Zoë paid 12 € &amp; \"quotes\"\u{2028}end")
        }
        3 => format!("<b onmouseover=alert(3)>bold?</b> message {m} of thread {t}"),
        _ => format!("Plain message {m} of thread {t}"),
    }
}

/// How many messages thread `t` holds: 200,000 over 2,000 threads, with one thread of three
/// parts, one of two and one empty.
fn message_count(t: usize) -> usize {
    match t {
        0 => 1_250,
        1 => 501,
        2 => 0,
        _ => {
            let rest = MESSAGES - 1_250 - 501;
            let others = THREADS - 3;
            rest / others + usize::from(t - 3 < rest % others)
        }
    }
}

fn write_js(path: &Path, text: String) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

fn write_category(dir: &Path, category: &str, value: &Value) {
    write_js(
        &dir.join(format!("viewer/data/{category}.js")),
        format!("HIATUS.load({}, {value});\n", json!(category)),
    );
}

/// Writes, under `dir`, a folder in the export archive's layout for the viewer: `index.html`,
/// `viewer/viewer.js`, `viewer/viewer.css` (the real assets), `viewer/data/<category>.js` and
/// `viewer/messages/<thread>-<n>.js` with synthetic data: 2,000 threads, 200,000 messages in
/// parts of 500, a few contracts, invoices, payments, reviews and audit events, and markup in
/// user-written text. `disputes` and `client_notices` are left out.
pub fn write_viewer_fixture(dir: &Path) -> ViewerFixture {
    let assets = Path::new(env!("CARGO_MANIFEST_DIR")).join("../archive/assets/viewer");
    std::fs::create_dir_all(dir.join("viewer")).unwrap();
    for (from, to) in [
        ("index.html", "index.html"),
        ("viewer.js", "viewer/viewer.js"),
        ("viewer.css", "viewer/viewer.css"),
    ] {
        std::fs::copy(assets.join(from), dir.join(to))
            .unwrap_or_else(|e| panic!("copying the viewer's {from}: {e}"));
    }

    let t0 = NEWEST - 400 * 86_400;
    write_category(
        dir,
        "account",
        &json!({
            "id": SELF_ID, "kind": "individual", "role": "freelancer", "state": "paused",
            "email": "ana@example.test", "legal_name": "Ana Lima <script>alert(4)</script>",
            "created_at": rfc3339(t0), "state_changed_at": rfc3339(NEWEST),
            "deletion_due_at": null,
        }),
    );
    write_category(
        dir,
        "profile",
        &json!({
            "display_name": "Ana", "headline": format!("Logos {HOSTILE}"),
            "bio": "Designer.\nSecond line.", "visibility": "public", "availability": "paused",
            "paused_until": rfc3339(NEWEST + 30 * 86_400),
            "notifications": {"email": true, "sms": false},
            "away_message": "Back in July.", "hourly_rate_minor": 4_550, "currency": "EUR",
            "photo_file_id": null,
        }),
    );
    let mut people = vec![json!({"id": SELF_ID, "display_name": "Ana", "relation": "self"})];
    for p in 0..PEOPLE {
        let name = if p == 3 {
            format!("Eve {HOSTILE}")
        } else {
            format!("Client {p}")
        };
        people.push(json!({"id": person_id(p), "display_name": name, "relation": "counterparty"}));
    }
    write_category(dir, "people", &Value::Array(people));

    let job_posts: Vec<Value> = (0..4)
        .map(|j| {
            json!({
                "id": uuid(0x10, j), "client_id": person_id(j), "status": "closed",
                "title": format!("Job {j} {HOSTILE}"),
                "created_at": rfc3339(t0 + j as i64 * 86_400),
            })
        })
        .collect();
    write_category(dir, "job_posts", &Value::Array(job_posts));
    let proposals: Vec<Value> = (0..6)
        .map(|p| {
            let client = person_id(p % 4);
            json!({
                "id": uuid(0x11, p), "kind": if p % 2 == 0 { "proposal" } else { "invitation" },
                "job_post_id": uuid(0x10, p % 4), "freelancer_id": SELF_ID, "client_id": client,
                "sender_id": if p % 2 == 0 { SELF_ID } else { client.as_str() },
                "cover_letter": format!("Hello,\n{HOSTILE}\nregards"), "status": "accepted",
                "created_at": rfc3339(t0 + p as i64 * 86_400 + 3_600),
            })
        })
        .collect();
    write_category(dir, "proposals", &Value::Array(proposals));

    let mut contracts = vec![];
    let mut milestones = vec![];
    let mut payments = vec![];
    let mut invoices = vec![];
    let mut submissions = vec![];
    let mut files = vec![];
    let mut reviews = vec![];
    for c in 0..CONTRACTS {
        let id = contract_id(c);
        let client = person_id(c);
        let at = t0 + (c as i64 + 10) * 86_400;
        let day = |n: i64| rfc3339(at + n * 86_400);
        let title = if c == 1 {
            format!("Contract {c} {HOSTILE}")
        } else {
            format!("Logo design {c}")
        };
        contracts.push(json!({
            "id": id, "client_id": client, "freelancer_id": SELF_ID, "title": title,
            "status": if c == 0 { "active" } else { "ended" }, "currency": "EUR",
            "created_at": day(0), "ended_at": if c == 0 { None } else { Some(day(20)) },
        }));
        for m in 0..2 {
            let milestone = uuid(0x12, c * 10 + m);
            let amount = 50_000 + m * 1_234;
            milestones.push(json!({
                "id": milestone, "contract_id": id, "title": format!("Milestone {m}"),
                "amount_minor": amount, "currency": "EUR", "status": "paid",
                "created_at": rfc3339(at + m as i64 * 3_600),
            }));
            payments.push(json!({
                "id": uuid(0x13, c * 10 + m), "contract_id": id, "milestone_id": milestone,
                "payer_id": client, "payee_id": SELF_ID, "amount_minor": amount, "currency": "EUR",
                "status": "released", "created_at": day(1), "updated_at": day(2),
            }));
        }
        let number = format!("INV-2025-{:04}", c + 1);
        invoices.push(json!({
            "id": uuid(0x14, c), "number": number, "contract_id": id, "issuer_id": SELF_ID,
            "recipient_id": client, "description": format!("Design work {HOSTILE}"),
            "amount_minor": 101_234, "currency": "EUR", "status": "paid", "issued_at": day(1),
            "due_at": day(15), "paid_at": day(3), "pdf": format!("invoices/{number}.pdf"),
        }));
        let submission = uuid(0x15, c);
        let file = uuid(0x16, c);
        files.push(json!({
            "id": file, "owner_id": SELF_ID, "kind": "submission", "message_id": null,
            "submission_id": submission, "name": format!("logo <v{c}>.png"),
            "path": format!("files/submission/logo _v{c}_ #1.png"), "content_type": "image/png",
            "size_bytes": 123_456, "sha256": "ab".repeat(32), "created_at": day(1),
        }));
        submissions.push(json!({
            "id": submission, "contract_id": id, "freelancer_id": SELF_ID,
            "note": format!("Final files {HOSTILE}"), "created_at": day(1), "files": [file],
        }));
        reviews.push(json!({
            "id": uuid(0x17, c), "contract_id": id, "author_id": client, "subject_id": SELF_ID,
            "rating": 5 - c % 3, "body": format!("Great work {HOSTILE}"), "created_at": day(21),
        }));
    }
    write_category(dir, "contracts", &Value::Array(contracts));
    write_category(dir, "milestones", &Value::Array(milestones));
    write_category(dir, "payments", &Value::Array(payments));
    write_category(dir, "invoices", &Value::Array(invoices));
    write_category(dir, "submissions", &Value::Array(submissions));
    write_category(dir, "files", &Value::Array(files));
    write_category(dir, "reviews", &Value::Array(reviews));
    write_category(
        dir,
        "payouts",
        &json!([{
            "id": uuid(0x18, 0), "amount_minor": 200_000, "currency": "EUR", "status": "settled",
            "created_at": rfc3339(t0 + 40 * 86_400), "settles_at": rfc3339(t0 + 42 * 86_400),
        }]),
    );
    write_category(
        dir,
        "balances",
        &json!([
            {"currency": "EUR", "available_minor": 12_345, "debt_minor": 0},
            {"currency": "USD", "available_minor": 0, "debt_minor": 990},
        ]),
    );
    let audit: Vec<Value> = (0..50)
        .map(|e| {
            json!({
                "id": uuid(0x19, e), "actor_id": if e % 4 == 0 { None } else { Some(SELF_ID) },
                "action": "profile_updated", "reason": format!("because {HOSTILE}"),
                "detail": {"field": "headline", "note": HOSTILE},
                "created_at": rfc3339(t0 + e as i64 * 3_600),
            })
        })
        .collect();
    write_category(dir, "audit", &Value::Array(audit));
    write_category(
        dir,
        "restorations",
        &json!([{
            "id": uuid(0x1a, 0), "status": "approved",
            "explanation": format!("lost my phone {HOSTILE}"),
            "created_at": rfc3339(t0), "expires_at": rfc3339(t0 + 86_400),
            "verified_at": rfc3339(t0 + 600), "decided_at": rfc3339(t0 + 3_600),
            "decision_note": "identity confirmed",
        }]),
    );

    let mut threads = vec![];
    let mut fixture_threads = vec![];
    let mut total = 0;
    for t in 0..THREADS {
        let count = message_count(t);
        total += count;
        let parts = count.div_ceil(PART_SIZE);
        let id = thread_id(t);
        let other = person_id(t % PEOPLE);
        let last = NEWEST - t as i64 * 3_600;
        let first = last - count.saturating_sub(1) as i64 * 60;
        threads.push(json!({
            "id": id, "contract_id": (t < CONTRACTS).then(|| contract_id(t)),
            "subject": subject(t), "participants": [SELF_ID, other],
            "created_at": rfc3339(first - 60),
            "last_message_at": (count > 0).then(|| rfc3339(last)),
            "message_count": count, "message_parts": parts,
        }));
        for part in 0..parts {
            // Written by hand rather than through `json!`: 200,000 messages are many values.
            let mut js = format!("HIATUS.messages({}, {part}, [", json!(id));
            for m in part * PART_SIZE..count.min((part + 1) * PART_SIZE) {
                if m > part * PART_SIZE {
                    js.push(',');
                }
                let author = if m % 2 == 0 { SELF_ID } else { other.as_str() };
                write!(
                    js,
                    r#"{{"id":"{}","thread_id":"{id}","author_id":"{author}","body":{},"#,
                    message_id(t, m),
                    Value::String(message_body(t, m)),
                )
                .unwrap();
                let at = rfc3339(first + m as i64 * 60);
                write!(js, r#""created_at":"{at}","attachments":[]}}"#).unwrap();
            }
            js.push_str("]);\n");
            write_js(&dir.join(format!("viewer/messages/{id}-{part}.js")), js);
        }
        fixture_threads.push(FixtureThread {
            id,
            subject: subject(t),
            message_count: count,
            message_parts: parts,
        });
    }
    assert_eq!(total, MESSAGES);
    write_category(dir, "threads", &Value::Array(threads));

    ViewerFixture {
        threads: fixture_threads,
        missing: vec!["disputes", "client_notices"],
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn viewer_lists_threads_and_opens_one_offline() {
    let started = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let fixture = write_viewer_fixture(dir.path());
    eprintln!("fixture written in {:?}", started.elapsed());

    let browser = Browser::start().await;
    let opened = Instant::now();
    browser::open_viewer(&browser, dir.path()).await;
    eprintln!("viewer ready in {:?}", opened.elapsed());

    // Categories left out are named, not reported as errors.
    let notice = browser
        .text_of("#missing-categories")
        .await
        .expect("a notice naming the missing categories");
    for category in &fixture.missing {
        assert!(
            notice.contains(&category.replace('_', " ")),
            "{category} not named in {notice:?}"
        );
    }

    // The thread list: a page of 100, most recent first, subjects as text.
    browser::show_section(&browser, "messages").await;
    let links = browser::thread_links(&browser).await;
    assert_eq!(links.len(), 100, "threads on the first page");
    for (i, (id, text)) in links.iter().enumerate() {
        assert_eq!(id, &fixture.threads[i].id, "thread {i} of the list");
        assert_eq!(text, &fixture.threads[i].subject, "subject of thread {i}");
    }
    browser.click(".pager-next").await;
    browser
        .wait_for(
            "the second page of threads",
            &format!(
                "var a = document.querySelector('#thread-list a.thread-link');
                 return !!a && a.getAttribute('data-thread-id') === '{}';",
                fixture.threads[100].id
            ),
            browser::STEP_TIMEOUT,
        )
        .await;
    browser.click(".pager-prev").await;

    // A thread of three parts: the first shows at once, the others one click or route away.
    let first = &fixture.threads[0].id;
    browser
        .click(&format!(r#"a.thread-link[data-thread-id="{first}"]"#))
        .await;
    browser::wait_for_part(&browser, first, 0).await;
    browser::check_thread(&browser, first, 0, &fixture.bodies(0, 0)).await;
    let shown = browser::shown_messages(&browser).await;
    assert_eq!(shown[0].body, format!("{HOSTILE} message 0 of thread 0"));
    assert_eq!(shown[0].author, "Ana (you)");
    assert_eq!(shown[1].author, "Client 0");
    browser.click("#thread-newer").await;
    browser::wait_for_part(&browser, first, 1).await;
    browser::check_thread(&browser, first, 1, &fixture.bodies(0, 1)).await;
    browser::check_thread(&browser, first, 2, &fixture.bodies(0, 2)).await;
    assert_eq!(fixture.bodies(0, 2).len(), 250);
    // An empty thread.
    browser::check_thread(&browser, &fixture.threads[2].id, 0, &[]).await;

    // Back to the list; the filter box finds a thread on the last page.
    browser.click("#thread-back").await;
    browser
        .wait_for(
            "the thread list",
            "return document.querySelectorAll('#thread-list a.thread-link').length === 100;",
            browser::STEP_TIMEOUT,
        )
        .await;
    let last = &fixture.threads[THREADS - 1];
    browser
        .driver()
        .find(By::Id("thread-filter"))
        .await
        .unwrap()
        .send_keys(format!("Thread {:04}", THREADS - 1))
        .await
        .unwrap();
    browser
        .wait_for(
            "the filtered thread list",
            &format!(
                "var a = document.querySelectorAll('#thread-list a.thread-link');
                 return a.length === 1 && a[0].getAttribute('data-thread-id') === '{}';",
                last.id
            ),
            browser::STEP_TIMEOUT,
        )
        .await;
    browser::open_thread(&browser, &last.id).await;
    browser::check_thread(&browser, &last.id, 0, &fixture.bodies(THREADS - 1, 0)).await;

    // Every section draws without errors, dialogs or injected elements.
    for section in SECTIONS {
        browser::show_section(&browser, section).await;
        let injected = browser
            .count("img, iframe, [onerror], [onmouseover], [onload], body script")
            .await;
        assert_eq!(injected, 0, "elements injected in section {section}");
    }
    browser::show_section(&browser, "contracts").await;
    assert_eq!(browser.count("article.contract").await, CONTRACTS);
    assert_eq!(
        browser
            .count(".contract-part[data-part=disputes] .missing")
            .await,
        CONTRACTS,
        "disputes shown as not in this archive"
    );
    let title = browser
        .text_of(&format!("#contract-{} h3", contract_id(1)))
        .await;
    assert_eq!(
        title,
        Some(format!("Contract 1 {HOSTILE}")),
        "a title as text"
    );
    browser::show_section(&browser, "invoices").await;
    let pdf = browser
        .text_of(r#"a[href="invoices/INV-2025-0001.pdf"]"#)
        .await;
    assert_eq!(pdf.as_deref(), Some("PDF"), "link to the invoice's PDF");
    browser::show_section(&browser, "submissions").await;
    let file = browser
        .text_of(r#"a.file-link[href="files/submission/logo%20_v0_%20%231.png"]"#)
        .await;
    assert_eq!(file.as_deref(), Some("logo <v0>.png"), "link to a file");
    browser::show_section(&browser, "audit").await;
    let shown = browser.text_of("#view").await.unwrap_or_default();
    assert!(
        shown.contains(&format!("lost my phone {HOSTILE}")) && shown.contains("identity confirmed"),
        "the restoration request shown with the audit history"
    );
    browser::show_section(&browser, "profile").await;
    let shown = browser.text_of("#view").await.unwrap_or_default();
    assert!(
        shown.contains(&format!("Logos {HOSTILE}")),
        "the headline shown as text"
    );

    // On a phone-sized screen nothing is wider than the screen (wide tables scroll inside).
    browser
        .driver()
        .set_window_rect(0, 0, 390, 844)
        .await
        .unwrap();
    for section in ["profile", "contracts", "messages", "audit"] {
        browser::show_section(&browser, section).await;
        let overflow = browser
            .js("return document.documentElement.scrollWidth - document.documentElement.clientWidth;")
            .await;
        assert!(
            overflow.as_i64().unwrap_or(1) <= 0,
            "section {section} is wider than a phone screen by {overflow} px"
        );
    }
    browser::open_thread(&browser, first).await;

    browser.assert_no_errors("at the end").await;
    browser.assert_no_alert("at the end").await;
    browser.quit().await;
    eprintln!("viewer test took {:?}", started.elapsed());
}
