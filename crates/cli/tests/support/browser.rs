//! Headless Chromium for tests, driven through chromedriver with `thirtyfour`, and helpers to
//! read the export archive's offline viewer (`index.html` and `viewer/`) in it.
//!
//! Needs Debian's `chromium` and `chromedriver` (`scripts/ensure-chromium` installs them); set
//! `HIATUS_CHROMIUM` / `HIATUS_CHROMEDRIVER` to use other binaries. A test that starts a
//! [`Browser`] without them fails and says so: it is never skipped silently.
//!
//! The viewer's hooks (documented at the top of `crates/archive/assets/viewer/viewer.js`):
//! `window.HIATUS_READY`, `window.HIATUS_ERRORS`, `#nav-<section>`,
//! `#view[data-section][data-state]`, `a.thread-link[data-thread-id]`,
//! `#thread-view[data-thread-id][data-part][data-parts][data-state]` and its `.message` items.

#![allow(dead_code)]

use serde_json::Value;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use thirtyfour::prelude::*;

/// The environment variable naming the Chromium binary (default `/usr/bin/chromium`).
pub const CHROMIUM_ENV: &str = "HIATUS_CHROMIUM";
/// The environment variable naming the chromedriver binary (default `/usr/bin/chromedriver`).
pub const CHROMEDRIVER_ENV: &str = "HIATUS_CHROMEDRIVER";

/// How long the viewer may take to read its data and draw the first view.
pub const READY_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a single step (a section, a thread part) may take to show.
pub const STEP_TIMEOUT: Duration = Duration::from_secs(15);

/// The sections of the viewer, as in `#nav-<section>`.
pub const SECTIONS: [&str; 9] = [
    "profile",
    "contracts",
    "payments",
    "invoices",
    "messages",
    "submissions",
    "reviews",
    "proposals",
    "audit",
];

/// A headless Chromium behind its own chromedriver, with a fresh profile. Dropping it ends the
/// browser session and kills chromedriver; [`Browser::quit`] does the same without blocking.
pub struct Browser {
    driver: Option<WebDriver>,
    chromedriver: Child,
    home: tempfile::TempDir,
}

fn binary(var: &str, default: &str, what: &str) -> PathBuf {
    let path = std::env::var_os(var)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(default));
    if !path.is_file() {
        panic!(
            "{what} not found at {}: run scripts/ensure-chromium to install Chromium and \
             chromedriver (or set {var} to the binary)",
            path.display()
        );
    }
    path
}

fn free_port() -> u16 {
    TcpListener::bind(("127.0.0.1", 0))
        .and_then(|l| l.local_addr())
        .expect("a free local port for chromedriver")
        .port()
}

/// Whether chromedriver answers `GET /status` with `"ready": true`.
fn driver_ready(port: u16) -> bool {
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let Ok(mut s) = TcpStream::connect_timeout(&addr, Duration::from_millis(200)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    let request =
        format!("GET /status HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n");
    if s.write_all(request.as_bytes()).is_err() {
        return false;
    }
    // Read until the answer says whether it is ready (chromedriver may keep the connection
    // open), the connection closes, or the read times out.
    let mut answer = Vec::new();
    let mut chunk = [0u8; 1024];
    loop {
        match s.read(&mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => answer.extend_from_slice(&chunk[..n]),
        }
        let text = String::from_utf8_lossy(&answer).replace(' ', "");
        if text.contains("\"ready\":true") {
            return true;
        }
        if text.contains("\"ready\":false") {
            return false;
        }
    }
    false
}

impl Browser {
    /// Starts chromedriver on a free port, waits until it answers and opens a headless
    /// Chromium session with a fresh profile. Panics, saying what to do, when either binary
    /// is missing or does not start.
    pub async fn start() -> Browser {
        let chromium = binary(CHROMIUM_ENV, "/usr/bin/chromium", "Chromium");
        let chromedriver = binary(CHROMEDRIVER_ENV, "/usr/bin/chromedriver", "chromedriver");
        let home = tempfile::tempdir().expect("a temporary directory for the browser profile");
        let profile = home.path().join("profile");
        std::fs::create_dir(&profile).expect("the browser profile directory");
        let log_path = home.path().join("chromedriver.log");
        let log = std::fs::File::create(&log_path).expect("the chromedriver log file");

        let port = free_port();
        let child = Command::new(&chromedriver)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("the chromedriver log file"))
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "starting {}: {e}; run scripts/ensure-chromium",
                    chromedriver.display()
                )
            });
        let mut browser = Browser {
            driver: None,
            chromedriver: child,
            home,
        };

        let deadline = Instant::now() + Duration::from_secs(20);
        while !driver_ready(port) {
            if let Ok(Some(exit)) = browser.chromedriver.try_wait() {
                panic!(
                    "chromedriver exited ({exit}) before answering; its output:\n{}\n\
                     run scripts/ensure-chromium if the installation is broken",
                    browser.driver_log()
                );
            }
            if Instant::now() > deadline {
                panic!(
                    "chromedriver did not answer on port {port} within 20 s; its output:\n{}",
                    browser.driver_log()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }

        let mut caps = DesiredCapabilities::chrome();
        let chromium_path = chromium.to_str().expect("the Chromium path is UTF-8");
        caps.set_binary(chromium_path)
            .expect("Chromium binary capability");
        for arg in [
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-background-networking",
            "--disable-component-update",
            "--no-first-run",
            "--no-default-browser-check",
            "--allow-file-access-from-files",
            "--window-size=1280,900",
        ] {
            caps.add_arg(arg).expect("Chromium argument");
        }
        caps.add_arg(&format!("--user-data-dir={}", profile.display()))
            .expect("Chromium argument");
        // Downloads land in a folder of their own, without asking.
        let downloads = browser.home.path().join("downloads");
        std::fs::create_dir(&downloads).expect("the downloads directory");
        caps.add_experimental_option(
            "prefs",
            serde_json::json!({
                "download.default_directory": downloads.display().to_string(),
                "download.prompt_for_download": false,
                "download.directory_upgrade": true,
                "safebrowsing.enabled": false,
            }),
        )
        .expect("Chromium preferences");

        match WebDriver::new(format!("http://127.0.0.1:{port}"), caps).await {
            Ok(driver) => browser.driver = Some(driver),
            Err(e) => panic!(
                "opening a Chromium session through chromedriver: {e}\nchromedriver output:\n{}\n\
                 run scripts/ensure-chromium if Chromium is missing or broken",
                browser.driver_log()
            ),
        }
        browser
    }

    /// Where the browser saves downloads.
    pub fn downloads(&self) -> PathBuf {
        self.home.path().join("downloads")
    }

    /// The WebDriver session.
    pub fn driver(&self) -> &WebDriver {
        self.driver.as_ref().expect("the browser session is open")
    }

    /// What chromedriver printed so far (for failure messages).
    pub fn driver_log(&self) -> String {
        let text =
            std::fs::read_to_string(self.home.path().join("chromedriver.log")).unwrap_or_default();
        let start = text.len().saturating_sub(4000);
        let start = (start..text.len())
            .find(|&i| text.is_char_boundary(i))
            .unwrap_or(text.len());
        text[start..].to_string()
    }

    /// Ends the session and chromedriver.
    pub async fn quit(mut self) {
        if let Some(driver) = self.driver.take()
            && let Err(e) = driver.quit().await
        {
            eprintln!("closing the browser session: {e}");
        }
        // Drop kills chromedriver.
    }

    /// Runs `script` (a function body; `arguments` holds `args`) and returns its result.
    pub async fn js_with(&self, script: &str, args: Vec<Value>) -> Value {
        match self.driver().execute(script, args).await {
            Ok(ret) => ret.json().clone(),
            Err(e) => panic!("running script in the browser: {e}\nscript: {script}"),
        }
    }

    /// Runs `script` (a function body) and returns its result.
    pub async fn js(&self, script: &str) -> Value {
        self.js_with(script, Vec::new()).await
    }

    /// Waits until `script` (a function body) returns `true`; panics naming `what` after
    /// `timeout`.
    pub async fn wait_for(&self, what: &str, script: &str, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        loop {
            if self.js(script).await == Value::Bool(true) {
                return;
            }
            if Instant::now() > deadline {
                let errors = self.errors().await;
                panic!("timed out after {timeout:?} waiting for {what}; viewer errors: {errors:?}");
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// The errors the viewer recorded (`window.HIATUS_ERRORS`).
    pub async fn errors(&self) -> Vec<String> {
        let v = self
            .js("var e = window.HIATUS_ERRORS;
                 return Array.isArray(e) ? e.map(String) : ['HIATUS_ERRORS is not defined'];")
            .await;
        strings(&v)
    }

    /// Fails when the viewer recorded any error, naming `context`.
    pub async fn assert_no_errors(&self, context: &str) {
        let errors = self.errors().await;
        assert!(
            errors.is_empty(),
            "{context}: the viewer recorded errors: {errors:#?}"
        );
    }

    /// Fails when a JavaScript dialog is open or one was recorded by [`open_viewer`]'s trap.
    pub async fn assert_no_alert(&self, context: &str) {
        if let Ok(text) = self.driver().get_alert_text().await {
            panic!("{context}: a JavaScript dialog is open: {text:?}");
        }
        let trapped = strings(
            &self
                .js("return Array.isArray(window.__dialogs) ? window.__dialogs.map(String) : [];")
                .await,
        );
        assert!(
            trapped.is_empty(),
            "{context}: the page opened dialogs: {trapped:?}"
        );
    }

    /// How many elements `css` finds.
    pub async fn count(&self, css: &str) -> usize {
        let n = self
            .js_with(
                "return document.querySelectorAll(arguments[0]).length;",
                vec![Value::from(css)],
            )
            .await;
        n.as_u64().unwrap_or_default() as usize
    }

    /// The text of the first element `css` finds, if any.
    pub async fn text_of(&self, css: &str) -> Option<String> {
        let v = self
            .js_with(
                "var e = document.querySelector(arguments[0]); return e ? e.textContent : null;",
                vec![Value::from(css)],
            )
            .await;
        v.as_str().map(str::to_string)
    }

    /// Clicks the element `css` finds, failing with `css` in the message.
    pub async fn click(&self, css: &str) {
        let el = self
            .driver()
            .find(By::Css(css))
            .await
            .unwrap_or_else(|e| panic!("finding {css}: {e}"));
        el.click()
            .await
            .unwrap_or_else(|e| panic!("clicking {css}: {e}"));
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // Ends the session first (thirtyfour does it synchronously when not quit), so
        // chromedriver can close Chromium, then stops chromedriver.
        drop(self.driver.take());
        let _ = self.chromedriver.kill();
        let _ = self.chromedriver.wait();
    }
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .map(|x| {
                    x.as_str()
                        .map(str::to_string)
                        .unwrap_or_else(|| x.to_string())
                })
                .collect()
        })
        .unwrap_or_default()
}

/// A `file://` URL for an absolute path, percent-encoding what a URL path cannot hold.
pub fn file_url(path: &Path) -> String {
    let path = std::path::absolute(path).expect("an absolute path");
    let mut url = String::from("file://");
    for b in path.to_string_lossy().bytes() {
        if b.is_ascii_alphanumeric() || b"/-._~".contains(&b) {
            url.push(b as char);
        } else {
            url.push_str(&format!("%{b:02X}"));
        }
    }
    url
}

/// Opens `dir/index.html` (an unpacked archive, or a folder in its layout), waits for
/// `HIATUS_READY`, checks no error was recorded, and traps `alert`, `confirm` and `prompt` from
/// then on so [`Browser::assert_no_alert`] sees any later call.
pub async fn open_viewer(browser: &Browser, dir: &Path) {
    let url = file_url(&dir.join("index.html"));
    browser
        .driver()
        .goto(url.as_str())
        .await
        .unwrap_or_else(|e| panic!("opening {url}: {e}"));
    browser
        .wait_for(
            "the viewer to be ready (window.HIATUS_READY)",
            "return window.HIATUS_READY === true;",
            READY_TIMEOUT,
        )
        .await;
    browser.assert_no_alert("opening the viewer").await;
    browser
        .js("window.__dialogs = [];
             ['alert', 'confirm', 'prompt'].forEach(function (name) {
               window[name] = function (m) { window.__dialogs.push(name + ': ' + m); };
             });
             return true;")
        .await;
    browser.assert_no_errors("opening the viewer").await;
}

/// Shows `section` through its navigation link and waits until it is drawn; fails on errors.
pub async fn show_section(browser: &Browser, section: &str) {
    browser.click(&format!("#nav-{section}")).await;
    browser
        .wait_for(
            &format!("section {section}"),
            &format!(
                "var v = document.getElementById('view');
                 return !!v && v.getAttribute('data-section') === '{section}'
                   && v.getAttribute('data-state') === 'ready'
                   && document.getElementById('nav-{section}')
                        .getAttribute('aria-current') === 'page';"
            ),
            STEP_TIMEOUT,
        )
        .await;
    browser
        .assert_no_errors(&format!("showing {section}"))
        .await;
    browser.assert_no_alert(&format!("showing {section}")).await;
}

/// One thread link of the list shown: (thread id, text).
pub async fn thread_links(browser: &Browser) -> Vec<(String, String)> {
    let v = browser
        .js(
            "return Array.from(document.querySelectorAll('#thread-list a.thread-link'))
               .map(function (a) { return [a.getAttribute('data-thread-id'), a.textContent]; });",
        )
        .await;
    v.as_array()
        .map(|rows| {
            rows.iter()
                .map(|r| {
                    (
                        r[0].as_str().unwrap_or_default().to_string(),
                        r[1].as_str().unwrap_or_default().to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Waits until `#thread-view` shows `part` of thread `thread_id` (state `ready`).
pub async fn wait_for_part(browser: &Browser, thread_id: &str, part: usize) {
    let id = Value::String(thread_id.to_string()).to_string();
    browser
        .wait_for(
            &format!("part {part} of thread {thread_id}"),
            &format!(
                "var t = document.getElementById('thread-view');
                 return !!t && t.getAttribute('data-thread-id') === {id}
                   && t.getAttribute('data-part') === '{part}'
                   && t.getAttribute('data-state') === 'ready';"
            ),
            STEP_TIMEOUT,
        )
        .await;
}

/// Opens thread `thread_id` by clicking its link when the list shows it (else through its
/// route) and waits until its first part is shown.
pub async fn open_thread(browser: &Browser, thread_id: &str) {
    let id = Value::String(thread_id.to_string());
    let css = format!("a.thread-link[data-thread-id={id}]");
    if browser.count(&css).await > 0 {
        browser.click(&css).await;
    } else {
        browser
            .js_with(
                "location.hash = '#thread/' + encodeURIComponent(arguments[0]); return true;",
                vec![id],
            )
            .await;
    }
    wait_for_part(browser, thread_id, 0).await;
}

/// A message as the viewer shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShownMessage {
    pub id: String,
    pub author: String,
    pub body: String,
}

/// The messages `#thread-view` shows, in order.
pub async fn shown_messages(browser: &Browser) -> Vec<ShownMessage> {
    let v = browser
        .js(
            "var shown = document.querySelectorAll('#thread-view .message');
             return Array.from(shown).map(function (m) {
               var a = m.querySelector('.message-author'), b = m.querySelector('.message-body');
               return [m.getAttribute('data-message-id') || '',
                       a ? a.textContent : '', b ? b.textContent : ''];
             });",
        )
        .await;
    v.as_array()
        .map(|rows| {
            rows.iter()
                .map(|r| ShownMessage {
                    id: r[0].as_str().unwrap_or_default().to_string(),
                    author: r[1].as_str().unwrap_or_default().to_string(),
                    body: r[2].as_str().unwrap_or_default().to_string(),
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Checks that `#thread-view` shows `part` of thread `thread_id` with exactly the bodies
/// `expected` (as text: markup in them must show literally), that no element was injected
/// from them, and that nothing went wrong. Goes to the part through the route if another one
/// is shown.
pub async fn check_thread(browser: &Browser, thread_id: &str, part: usize, expected: &[String]) {
    let id = Value::String(thread_id.to_string());
    let showing = browser
        .js_with(
            "var t = document.getElementById('thread-view');
             return !!t && t.getAttribute('data-thread-id') === arguments[0]
               && t.getAttribute('data-part') === String(arguments[1]);",
            vec![id.clone(), Value::from(part)],
        )
        .await;
    if showing != Value::Bool(true) {
        browser
            .js_with(
                "location.hash = '#thread/' + encodeURIComponent(arguments[0]) + '/' + arguments[1];
                 return true;",
                vec![id, Value::from(part)],
            )
            .await;
    }
    wait_for_part(browser, thread_id, part).await;
    let shown = shown_messages(browser).await;
    let bodies: Vec<&str> = shown.iter().map(|m| m.body.as_str()).collect();
    assert_eq!(
        bodies.len(),
        expected.len(),
        "number of messages shown in part {part} of thread {thread_id}"
    );
    for (i, (got, want)) in bodies.iter().zip(expected).enumerate() {
        assert_eq!(
            got, want,
            "body of message {i} in part {part} of thread {thread_id}"
        );
    }
    let injected = browser
        .js(
            "return document.querySelectorAll('#thread-view img, #thread-view script, \
             #thread-view iframe, #thread-view [onerror], #thread-view [onload]').length;",
        )
        .await;
    assert_eq!(
        injected,
        Value::from(0),
        "elements injected from message text in thread {thread_id}"
    );
    browser
        .assert_no_errors(&format!("showing part {part} of thread {thread_id}"))
        .await;
    browser
        .assert_no_alert(&format!("showing part {part} of thread {thread_id}"))
        .await;
}
