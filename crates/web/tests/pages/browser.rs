//! A small form-submitting client for the pages: a cookie jar, no automatic redirects (so a
//! test sees each 303), and just enough HTML reading to find links, forms and form tokens.

use crate::support::TestApp;
use reqwest::header::HeaderMap;

/// One browser: its own cookies, so its own session.
pub struct Browser {
    pub http: reqwest::Client,
    pub base: String,
}

/// A response, read whole.
#[derive(Debug)]
pub struct Page {
    pub what: String,
    pub status: u16,
    pub headers: HeaderMap,
    pub body: String,
}

impl Page {
    /// Asserts the status and returns the page.
    pub fn expect(&self, status: u16) -> &Page {
        assert_eq!(
            self.status, status,
            "{}: expected {status}, got {}\n{}",
            self.what, self.status, self.body
        );
        self
    }

    /// The address a redirect points to (303 See Other).
    pub fn location(&self) -> String {
        assert_eq!(
            self.status, 303,
            "{}: not a redirect\n{}",
            self.what, self.body
        );
        self.headers
            .get("location")
            .and_then(|v| v.to_str().ok())
            .expect("a Location header")
            .to_string()
    }

    /// Asserts the page says `text`.
    pub fn says(&self, text: &str) -> &Page {
        assert!(
            self.body.contains(text),
            "{}: the page does not say {text:?}\n{}",
            self.what,
            self.body
        );
        self
    }

    /// Asserts the page does not say `text`.
    pub fn never_says(&self, text: &str) -> &Page {
        assert!(
            !self.body.contains(text),
            "{}: the page says {text:?}\n{}",
            self.what,
            self.body
        );
        self
    }

    /// The form token of the page's forms.
    pub fn csrf(&self) -> String {
        hidden(&self.body, "csrf")
            .unwrap_or_else(|| panic!("{}: no form token\n{}", self.what, self.body))
    }

    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    }
}

/// A form of a page.
#[derive(Clone, Debug)]
pub struct Form {
    pub method: String,
    pub action: String,
    /// The form's markup between its tags.
    pub inner: String,
}

impl Form {
    /// The value of a hidden field.
    pub fn hidden(&self, name: &str) -> Option<String> {
        hidden(&self.inner, name)
    }

    /// The names and values a browser would send without the person touching anything:
    /// hidden fields, checked boxes and radios, prefilled text.
    pub fn defaults(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for tag in tags(&self.inner, "input") {
            let Some(name) = attr(&tag, "name") else {
                continue;
            };
            let kind = attr(&tag, "type").unwrap_or_else(|| "text".into());
            let value = attr(&tag, "value").unwrap_or_default();
            let checked = tag.contains(" checked");
            match kind.as_str() {
                "checkbox" | "radio" if checked => out.push((name, value)),
                "checkbox" | "radio" => {}
                _ => out.push((name, value)),
            }
        }
        out
    }

    /// What a person who ticks every box and picks the first of every choice sends.
    pub fn filled(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        let mut chosen: Vec<String> = Vec::new();
        for tag in tags(&self.inner, "input") {
            let Some(name) = attr(&tag, "name") else {
                continue;
            };
            let kind = attr(&tag, "type").unwrap_or_else(|| "text".into());
            let value = attr(&tag, "value").unwrap_or_default();
            match kind.as_str() {
                "radio" if chosen.contains(&name) => {}
                "radio" => {
                    chosen.push(name.clone());
                    out.push((name, value));
                }
                _ => out.push((name, value)),
            }
        }
        out
    }
}

fn unescape(s: &str) -> String {
    s.replace("&amp;", "&")
        .replace("&quot;", "\"")
        .replace("&#x27;", "'")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
}

/// The opening tags named `name` in `html`.
fn tags(html: &str, name: &str) -> Vec<String> {
    let open = format!("<{name}");
    let mut out = Vec::new();
    let mut rest = html;
    while let Some(i) = rest.find(&open) {
        let after = &rest[i + open.len()..];
        if !after.starts_with([' ', '>', '\n']) {
            rest = after;
            continue;
        }
        let end = after.find('>').unwrap_or(after.len());
        out.push(format!("<{name}{}>", &after[..end]));
        rest = &after[end..];
    }
    out
}

/// An attribute's value in one tag.
fn attr(tag: &str, name: &str) -> Option<String> {
    let key = format!(" {name}=\"");
    let i = tag.find(&key)? + key.len();
    let end = tag[i..].find('"')?;
    Some(unescape(&tag[i..i + end]))
}

/// The value of the hidden input `name` in `html`.
fn hidden(html: &str, name: &str) -> Option<String> {
    tags(html, "input")
        .into_iter()
        .find(|t| attr(t, "name").as_deref() == Some(name))
        .and_then(|t| attr(&t, "value"))
}

/// Every link target of a page.
pub fn links(html: &str) -> Vec<String> {
    tags(html, "a")
        .into_iter()
        .chain(tags(html, "link"))
        .chain(tags(html, "script"))
        .filter_map(|t| attr(&t, "href").or_else(|| attr(&t, "src")))
        .collect()
}

/// Every form of a page.
pub fn forms(html: &str) -> Vec<Form> {
    let mut out = Vec::new();
    let mut rest = html;
    while let Some(i) = rest.find("<form") {
        let after = &rest[i..];
        let tag_end = after.find('>').expect("a form tag ends");
        let tag = &after[..=tag_end];
        let close = after.find("</form>").expect("a form closes");
        out.push(Form {
            method: attr(tag, "method")
                .unwrap_or_else(|| "get".into())
                .to_lowercase(),
            action: attr(tag, "action").unwrap_or_default(),
            inner: after[tag_end + 1..close].to_string(),
        });
        rest = &after[close..];
    }
    out
}

impl Browser {
    /// A fresh browser with no cookies.
    pub fn new(app: &TestApp) -> Browser {
        Browser {
            http: reqwest::Client::builder()
                .cookie_store(true)
                .redirect(reqwest::redirect::Policy::none())
                .timeout(std::time::Duration::from_secs(30))
                .build()
                .expect("HTTP client"),
            base: app.base.clone(),
        }
    }

    async fn read(what: String, r: reqwest::Result<reqwest::Response>) -> Page {
        let r = r.unwrap_or_else(|e| panic!("{what}: {e}"));
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        let body = r.text().await.unwrap_or_default();
        Page {
            what,
            status,
            headers,
            body,
        }
    }

    /// GET, without following redirects.
    pub async fn get(&self, path: &str) -> Page {
        Self::read(
            format!("GET {path}"),
            self.http.get(format!("{}{path}", self.base)).send().await,
        )
        .await
    }

    /// POST a form, without following redirects.
    pub async fn post(&self, path: &str, fields: &[(&str, &str)]) -> Page {
        Self::read(
            format!("POST {path}"),
            self.http
                .post(format!("{}{path}", self.base))
                .form(fields)
                .send()
                .await,
        )
        .await
    }

    /// POST owned fields.
    pub async fn post_owned(&self, path: &str, fields: &[(String, String)]) -> Page {
        Self::read(
            format!("POST {path}"),
            self.http
                .post(format!("{}{path}", self.base))
                .form(fields)
                .send()
                .await,
        )
        .await
    }

    /// Follows redirects from `p` to the page they end on.
    pub async fn follow(&self, mut p: Page) -> Page {
        for _ in 0..5 {
            if p.status != 303 {
                return p;
            }
            p = self.get(&p.location()).await;
        }
        panic!("too many redirects: {}", p.what)
    }

    /// Opens `path` and submits its form whose action is `action`, with the page's form token
    /// and `fields`; follows the redirect.
    pub async fn submit(&self, path: &str, action: &str, fields: &[(&str, &str)]) -> Page {
        let page = self.get(path).await;
        page.expect(200);
        let form = forms(&page.body)
            .into_iter()
            .find(|f| f.action == action)
            .unwrap_or_else(|| panic!("{path} has no form to {action}\n{}", page.body));
        let mut all: Vec<(String, String)> = form
            .defaults()
            .into_iter()
            .filter(|(k, _)| !fields.iter().any(|(n, _)| n == k))
            .collect();
        all.extend(fields.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        let p = self.post_owned(action, &all).await;
        self.follow(p).await
    }

    /// Logs in through the form and returns the page it lands on.
    pub async fn login(&self, email: &str, password: &str) -> Page {
        self.submit(
            "/login",
            "/login",
            &[("email", email), ("password", password)],
        )
        .await
    }
}
