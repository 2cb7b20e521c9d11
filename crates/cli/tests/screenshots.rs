//! The screenshots of the key pages in `docs/screenshots/`, and a check that they are current.
//!
//! `scripts/screenshots` runs this test with `HIATUS_SCREENSHOTS=write`: it walks the demo
//! through the pages in headless Chromium (a phone-sized and a desktop-sized window), saves a
//! PNG of each page and writes `docs/screenshots/structure.json`, an outline of each page
//! (landmarks, headings, labels, buttons, links) with digits masked. Without the variable (in
//! the test suite) it walks the same pages and compares their outline with the file: a page
//! whose structure changed fails the test until the screenshots are regenerated. Pixels are
//! never compared.
//!
//! Needs Chromium and chromedriver: run `scripts/ensure-chromium` first.

#[path = "support/browser.rs"]
mod browser;
#[path = "support/app.rs"]
mod demo_app;

use browser::Browser;
use hiatus_service::Hiatus;
use hiatus_service::demo::{DEMO_LOGINS, DEMO_PASSWORD};
use hiatus_service::worker::Worker;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;
use thirtyfour::prelude::*;

fn out_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/screenshots")
}

/// The outline of the page in the browser: what a screen reader would announce as its
/// structure, with digits masked so dates and counts do not matter.
const OUTLINE: &str = r#"
const mask = s => (s || '').replace(/\s+/g, ' ').trim().replace(/[0-9]/g, '#');
const out = [];
for (const e of document.querySelectorAll('header, nav, main, footer, h1, h2, h3, label, button, a, input, select, textarea, form, table, svg')) {
  const tag = e.tagName.toLowerCase();
  if (tag === 'input' && (e.type === 'hidden')) { out.push('input:hidden:' + (e.name || '')); continue; }
  if (tag === 'input' || tag === 'select' || tag === 'textarea') { out.push(tag + ':' + (e.type || '') + ':' + (e.name || '')); continue; }
  if (tag === 'form') { out.push('form:' + (e.getAttribute('method') || 'get') + ':' + mask((e.getAttribute('action') || '').replace(/[0-9a-f]{32,}/g, 'ID').replace(/[0-9a-f-]{36}/g, 'ID'))); continue; }
  if (tag === 'a') { out.push('a:' + mask(e.innerText)); continue; }
  if (['header', 'nav', 'main', 'footer', 'table', 'svg'].includes(tag)) { out.push(tag); continue; }
  out.push(tag + ':' + mask(e.innerText));
}
return out;
"#;

struct Walk {
    base: String,
    h: Hiatus,
    write: bool,
    outlines: BTreeMap<String, Value>,
    _app: demo_app::App,
}

impl Walk {
    async fn shoot(&mut self, b: &Browser, name: &str) {
        let outline = b.js(OUTLINE).await;
        if self.write {
            for (size, (w, h)) in [("desktop", (1280, 900)), ("phone", (390, 844))] {
                b.driver().set_window_rect(0, 0, w, h).await.unwrap();
                // The whole page, not only the first screen.
                let height = b
                    .js("return Math.ceil(document.documentElement.scrollHeight)")
                    .await
                    .as_u64()
                    .unwrap_or(h as u64)
                    .clamp(h as u64, 4000) as u32;
                b.driver().set_window_rect(0, 0, w, height).await.unwrap();
                let png = b.driver().screenshot_as_png().await.unwrap();
                std::fs::write(out_dir().join(format!("{name}-{size}.png")), png).unwrap();
            }
            b.driver().set_window_rect(0, 0, 1280, 900).await.unwrap();
        }
        self.outlines.insert(name.to_string(), outline);
    }

    async fn go(&self, b: &Browser, path: &str) {
        b.driver()
            .goto(format!("{}{path}", self.base))
            .await
            .unwrap();
    }
}

/// The confirmation link in the mail to `to` in the mail folder.
fn confirmation_link(dir: &std::path::Path, to: &str) -> String {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let raw = std::fs::read_to_string(e.path()).unwrap_or_default();
        let text = raw.replace("=\r\n", "").replace("=\n", "");
        if (text.contains(&format!("<{to}>")) || text.contains(&format!("To: {to}")))
            && let Some(at) = text.find("/signup/confirm/")
        {
            let start = text[..at].rfind("http").expect("the link's address");
            return text[start..at + "/signup/confirm/".len() + 64].to_string();
        }
    }
    panic!("no confirmation mail to {to}");
}

/// Clicks and waits until the next document has loaded.
async fn click_and_wait(b: &Browser, css: &str) {
    b.js("window.__before_click = true; return true").await;
    b.click(css).await;
    for _ in 0..400 {
        let v = b
            .js("return window.__before_click === undefined && document.readyState === 'complete'")
            .await;
        if v.as_bool() == Some(true) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("clicking {css} loaded no page");
}

async fn fill(b: &Browser, css: &str, text: &str) {
    let e = b.driver().find(By::Css(css)).await.unwrap();
    e.clear().await.unwrap();
    e.send_keys(text).await.unwrap();
}

async fn walk(write: bool) -> BTreeMap<String, Value> {
    let app = demo_app::app().await;
    let mut w = Walk {
        base: app.base.clone(),
        h: app.h.clone(),
        write,
        outlines: BTreeMap::new(),
        _app: app,
    };
    let b = Browser::start().await;

    // Ana is blocked; Ben walks the deactivation flow; Dev previews deletion.
    w.go(&b, "/login").await;
    w.shoot(&b, "01-login").await;
    let base = w.base.clone();
    let log_in = |email: &'static str| {
        let base = base.clone();
        let b = &b;
        async move {
            b.driver().delete_all_cookies().await.unwrap();
            b.driver().goto(format!("{base}/login")).await.unwrap();
            fill(b, "#email", email).await;
            fill(b, "#password", DEMO_PASSWORD).await;
            click_and_wait(b, "form[action='/login'] button[type=submit]").await;
        }
    };
    log_in(DEMO_LOGINS[0].email).await;
    w.go(&b, "/settings/close/preflight?intent=deactivate")
        .await;
    w.shoot(&b, "02-preflight-blocked").await;

    log_in(DEMO_LOGINS[1].email).await;
    w.shoot(&b, "03-account").await;
    w.go(&b, "/settings/contact").await;
    w.shoot(&b, "04-contact-info").await;
    w.go(&b, "/settings/close").await;
    w.shoot(&b, "05-choose").await;
    w.go(&b, "/settings/close/preflight?intent=deactivate")
        .await;
    w.shoot(&b, "06-preflight").await;
    w.go(&b, "/settings/close/backup?intent=deactivate&ack=1")
        .await;
    click_and_wait(&b, "form[action='/settings/export'] button[type=submit]").await;
    Worker::new(w.h.clone(), Duration::from_millis(10))
        .drain()
        .await
        .unwrap();
    w.go(&b, "/settings/close/backup?intent=deactivate&ack=1")
        .await;
    w.shoot(&b, "07-backup").await;
    w.go(&b, "/settings/close/clients?intent=deactivate").await;
    w.shoot(&b, "08-tell-clients").await;
    w.go(&b, "/settings/close/reason?intent=deactivate").await;
    w.shoot(&b, "09-reason").await;
    w.go(
        &b,
        "/settings/close/confirm?intent=deactivate&reason=taking_a_break",
    )
    .await;
    w.shoot(&b, "10-confirm").await;
    fill(&b, "#password", DEMO_PASSWORD).await;
    click_and_wait(
        &b,
        "form[action='/settings/close/confirm'] button[type=submit]",
    )
    .await;
    w.shoot(&b, "11-receipt").await;
    w.go(&b, "/settings/export").await;
    w.shoot(&b, "12-export").await;

    log_in(DEMO_LOGINS[3].email).await;
    w.go(
        &b,
        "/settings/close/confirm?intent=delete&reason=privacy_concerns",
    )
    .await;
    w.shoot(&b, "13-confirm-deletion").await;

    // Carla's contracts; restoration through support; the operator's view.
    log_in(DEMO_LOGINS[2].email).await;
    w.go(&b, "/contracts").await;
    w.shoot(&b, "14-contracts").await;
    b.driver().delete_all_cookies().await.unwrap();
    w.go(&b, "/restore").await;
    w.shoot(&b, "15-restore").await;
    w.h.request_restoration(
        DEMO_LOGINS[0].email,
        "I lost my phone with the password manager",
    )
    .await
    .unwrap();
    log_in(DEMO_LOGINS[4].email).await;
    w.go(&b, "/support").await;
    w.shoot(&b, "16-support").await;
    log_in(DEMO_LOGINS[5].email).await;
    w.go(&b, "/operator").await;
    w.shoot(&b, "17-operator").await;

    // Someone new signs up, then opens the link from the mail.
    b.driver().delete_all_cookies().await.unwrap();
    w.go(&b, "/signup").await;
    w.shoot(&b, "18-sign-up").await;
    let email = "new.member@example.com";
    fill(&b, "#email", email).await;
    fill(&b, "#password", DEMO_PASSWORD).await;
    fill(&b, "#confirm", DEMO_PASSWORD).await;
    fill(&b, "#legal_name", "Noor Example").await;
    fill(&b, "#display_name", "Noor").await;
    click_and_wait(&b, "form[action='/signup'] button[type=submit]").await;
    Worker::new(w.h.clone(), Duration::from_millis(10))
        .drain()
        .await
        .unwrap();
    let link = confirmation_link(&w._app.mail, email);
    b.driver().goto(&link).await.unwrap();
    w.shoot(&b, "19-confirm-address").await;
    b.quit().await;
    w.outlines
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn screenshots_are_current() {
    let write = std::env::var("HIATUS_SCREENSHOTS").is_ok_and(|v| v == "write");
    let file = out_dir().join("structure.json");
    if write {
        std::fs::create_dir_all(out_dir()).unwrap();
    }
    let outlines = walk(write).await;
    let doc = json!(outlines);
    if write {
        std::fs::write(&file, serde_json::to_string_pretty(&doc).unwrap() + "\n").unwrap();
        return;
    }
    let saved: Value = serde_json::from_str(
        &std::fs::read_to_string(&file)
            .unwrap_or_else(|e| panic!("{}: {e}; run scripts/screenshots", file.display())),
    )
    .unwrap();
    let mut stale = Vec::new();
    for (name, now) in &outlines {
        if saved.get(name) != Some(now) {
            eprintln!(
                "{name}: now {}\nsaved {}",
                serde_json::to_string(now).unwrap(),
                saved.get(name).map(|v| v.to_string()).unwrap_or_default()
            );
            stale.push(name.clone());
        }
    }
    for name in saved.as_object().unwrap().keys() {
        if !outlines.contains_key(name) {
            stale.push(name.clone());
        }
    }
    assert!(
        stale.is_empty(),
        "the screenshots of {stale:?} are out of date (their pages changed structure): run scripts/screenshots and commit docs/screenshots"
    );
}
