//! Every cookie hiatus sets or reads goes through here, as axum-extra's [`Cookie`]: one way
//! to read a cookie from a request, one kind of cookie (HttpOnly, `SameSite=Strict`, a path,
//! a lifetime), one way to put it on a response.
//!
//! Over HTTPS (`secure_cookies`), [`host_prefix`] wraps the whole application: the session and
//! device cookies travel as `__Host-hiatus_session` and `__Host-hiatus_device`, and every
//! cookie gets `Secure`. Handlers never see the difference.

use crate::extract::{DEVICE_COOKIE, DEVICE_MAX_AGE, SESSION_COOKIE};
use axum::http::header::{COOKIE, SET_COOKIE};
use axum::http::{HeaderMap, HeaderValue};
use axum::response::Response;
pub use axum_extra::extract::cookie::Cookie;
use axum_extra::extract::cookie::SameSite;

/// The cookie name prefix that binds a cookie to this exact origin over HTTPS.
pub const HOST_PREFIX: &str = "__Host-";

/// A cookie that only this site's own pages and calls receive and that no script can read:
/// HttpOnly, `SameSite=Strict`, sent under `path`, kept for `max_age` seconds (0 forgets it).
pub fn strict(
    name: &'static str,
    value: impl Into<String>,
    path: &'static str,
    max_age: i64,
) -> Cookie<'static> {
    Cookie::build((name, value.into()))
        .path(path)
        .http_only(true)
        .same_site(SameSite::Strict)
        .max_age(cookie::time::Duration::seconds(max_age))
        .build()
}

/// The cookie that makes the browser forget the cookie `name` set under `path`.
pub fn forget(name: &'static str, path: &'static str) -> Cookie<'static> {
    strict(name, "", path, 0)
}

/// The cookies of a new session, for `max_age` seconds: the session itself, and the device
/// token (see [`crate::extract::device_token`]) for a year.
pub fn login(token: String, max_age: i64, device: String) -> [Cookie<'static>; 2] {
    [
        strict(SESSION_COOKIE, token, "/", max_age),
        strict(DEVICE_COOKIE, device, "/", DEVICE_MAX_AGE),
    ]
}

/// Adds a cookie to a response (next to any it already sets).
pub fn set(res: &mut Response, cookie: Cookie<'_>) {
    if let Ok(v) = HeaderValue::from_str(&cookie.encoded().to_string()) {
        res.headers_mut().append(SET_COOKIE, v);
    }
}

/// The cookies a request carries, in the order the browser sent them.
fn sent(headers: &HeaderMap) -> impl Iterator<Item = Cookie<'static>> + '_ {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| Cookie::split_parse_encoded(v.to_owned()))
        .filter_map(Result::ok)
}

/// The value of the first cookie called `name` that the request carries (empty when the
/// browser sent it empty).
pub fn read(headers: &HeaderMap, name: &str) -> Option<String> {
    sent(headers)
        .find(|c| c.name() == name)
        .map(|c| c.value().to_string())
}

/// The cookies bound to this origin over HTTPS.
const PREFIXED: [&str; 2] = [SESSION_COOKIE, DEVICE_COOKIE];

/// Over HTTPS, the session and device cookies travel with the `__Host-` prefix: the browser
/// then accepts them only with `Secure`, `Path=/` and no `Domain`, so neither a sibling
/// subdomain nor a plain-HTTP response can plant a session in them. Requests: the prefixed
/// cookie is handed on under its plain name, and a plain one (which anyone could have set) is
/// dropped. Responses: the prefix is added, and every cookie gets `Secure`, the ones that
/// forget a cookie included.
pub async fn host_prefix(
    mut req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let cookies = unprefixed(req.headers());
    req.headers_mut().remove(COOKIE);
    if let Some(v) = cookies {
        req.headers_mut().insert(COOKIE, v);
    }
    let mut res = next.run(req).await;
    let set: Vec<HeaderValue> = res.headers().get_all(SET_COOKIE).iter().cloned().collect();
    if !set.is_empty() {
        res.headers_mut().remove(SET_COOKIE);
        for v in set {
            if let Some(v) = secured(&v) {
                res.headers_mut().append(SET_COOKIE, v);
            }
        }
    }
    res
}

/// A request's `Cookie` header as the handlers see it over HTTPS; none when nothing is left.
fn unprefixed(headers: &HeaderMap) -> Option<HeaderValue> {
    let pairs: Vec<String> = sent(headers)
        .filter_map(|c| {
            let name = c.name();
            if PREFIXED.contains(&name) {
                None
            } else if let Some(plain) = name.strip_prefix(HOST_PREFIX)
                && let Some(plain) = PREFIXED.iter().find(|n| **n == plain)
            {
                Some(Cookie::new(*plain, c.value().to_owned()))
            } else {
                Some(c)
            }
        })
        .map(|c| c.encoded().to_string())
        .collect();
    if pairs.is_empty() {
        return None;
    }
    HeaderValue::from_str(&pairs.join("; ")).ok()
}

/// A `Set-Cookie` value as it leaves over HTTPS: `__Host-` for the cookies bound to the
/// origin, `Secure` for all. One that is not text is dropped, as before any rewriting.
fn secured(v: &HeaderValue) -> Option<HeaderValue> {
    let text = v.to_str().ok()?;
    let Ok(mut c) = Cookie::parse_encoded(text.to_owned()) else {
        // Every cookie is made by `strict`, so this is not one of ours: left as it is.
        return Some(v.clone());
    };
    if PREFIXED.contains(&c.name()) {
        c.set_name(format!("{HOST_PREFIX}{}", c.name()));
    }
    c.set_secure(true);
    HeaderValue::from_str(&c.encoded().to_string()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(cookie: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(COOKIE, HeaderValue::from_str(cookie).unwrap());
        h
    }

    #[test]
    fn a_strict_cookie_has_every_attribute() {
        let c = strict(SESSION_COOKIE, "tok-en_1", "/", 3600);
        let text = c.encoded().to_string();
        assert!(text.starts_with("hiatus_session=tok-en_1; "), "{text}");
        for attr in ["HttpOnly", "SameSite=Strict", "Path=/", "Max-Age=3600"] {
            assert!(text.split("; ").any(|a| a == attr), "{attr} in {text}");
        }
        assert!(!text.contains("Secure"), "{text}");
        assert!(!text.contains("Expires"), "{text}");
        let gone = forget("hiatus_login", "/login").encoded().to_string();
        assert!(gone.starts_with("hiatus_login=; "), "{gone}");
        assert!(
            gone.contains("Path=/login") && gone.contains("Max-Age=0"),
            "{gone}"
        );
    }

    #[test]
    fn reading_finds_the_first_by_exact_name() {
        let h = headers("other=1; hiatus_session=def; hiatus_session=later; x_hiatus_device=no");
        assert_eq!(read(&h, SESSION_COOKIE).as_deref(), Some("def"));
        assert_eq!(read(&h, DEVICE_COOKIE), None);
        assert_eq!(
            read(&headers("hiatus_login="), "hiatus_login").as_deref(),
            Some("")
        );
        let mut two = headers("a=1");
        two.append(COOKIE, HeaderValue::from_static("b=2"));
        assert_eq!(read(&two, "b").as_deref(), Some("2"));
    }

    #[test]
    fn over_https_only_the_prefixed_session_reaches_handlers() {
        let h = headers("hiatus_session=planted; __Host-hiatus_session=real; hiatus_login=f");
        let v = unprefixed(&h).unwrap();
        assert_eq!(v.to_str().unwrap(), "hiatus_session=real; hiatus_login=f");
        assert!(unprefixed(&headers("hiatus_device=planted")).is_none());
    }

    #[test]
    fn over_https_every_cookie_is_secure_and_the_session_prefixed() {
        let out = |c: Cookie<'_>| {
            let v = HeaderValue::from_str(&c.encoded().to_string()).unwrap();
            secured(&v).unwrap().to_str().unwrap().to_string()
        };
        let session = out(strict(SESSION_COOKIE, "t", "/", 60));
        assert!(
            session.starts_with("__Host-hiatus_session=t; "),
            "{session}"
        );
        assert!(session.split("; ").any(|a| a == "Secure"), "{session}");
        assert!(session.contains("Path=/") && session.contains("Max-Age=60"));
        let device = out(forget(DEVICE_COOKIE, "/"));
        assert!(device.starts_with("__Host-hiatus_device=; "), "{device}");
        let login = out(strict("hiatus_login", "v", "/login", 7200));
        assert!(login.starts_with("hiatus_login=v; "), "{login}");
        assert!(login.split("; ").any(|a| a == "Secure"), "{login}");
        assert!(login.contains("Path=/login") && login.contains("HttpOnly"));
    }
}
