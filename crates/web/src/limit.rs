//! Per-address limits in the process: on password-guessing routes (login, re-authentication,
//! deactivation) and on sign-up. The database also counts wrong passwords per (address tried,
//! client), which holds across processes. The client address is the one [`crate::client`]
//! resolves (behind trusted proxies, the forwarded one).

use crate::AppState;
use crate::problem::ApiError;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A fixed-window counter per client address.
#[derive(Debug)]
pub struct Limiter {
    per_window: u32,
    window: Duration,
    windows: Mutex<HashMap<IpAddr, (Instant, u32)>>,
}

impl Limiter {
    /// Allows `per_minute` attempts per address per minute.
    pub fn new(per_minute: u32) -> Self {
        Self::per(per_minute, Duration::from_secs(60))
    }

    /// Allows `per_window` attempts per address per `window`.
    pub fn per(per_window: u32, window: Duration) -> Self {
        Self {
            per_window,
            window,
            windows: Mutex::new(HashMap::new()),
        }
    }

    /// Counts an attempt; `Err(seconds to wait)` when over the limit.
    pub fn hit(&self, ip: IpAddr) -> Result<(), u64> {
        let now = Instant::now();
        let mut w = self.windows.lock().unwrap_or_else(|e| e.into_inner());
        if w.len() > 100_000 {
            w.retain(|_, (start, _)| now.duration_since(*start) < self.window);
        }
        let e = w.entry(ip).or_insert((now, 0));
        if now.duration_since(e.0) >= self.window {
            *e = (now, 0);
        }
        e.1 = e.1.saturating_add(1);
        if e.1 > self.per_window {
            Err(self
                .window
                .as_secs()
                .saturating_sub(now.duration_since(e.0).as_secs())
                .max(1))
        } else {
            Ok(())
        }
    }
}

/// Middleware for the guarded routes.
pub async fn guard(State(s): State<AppState>, req: Request, next: Next) -> Response {
    let ip = crate::client::of_request(&req, &s.options.trusted_proxies);
    if let Some(ip) = ip
        && let Err(wait) = s.limiter.hit(ip)
    {
        return limited(wait);
    }
    next.run(req).await
}

/// The answer to a client over its limit.
pub fn limited(wait: u64) -> Response {
    let mut e = ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "rate_limited",
        format!("too many attempts; try again in {wait} seconds"),
    );
    e.retry_after = Some(wait);
    e.into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_per_address() {
        let l = Limiter::new(2);
        let a: IpAddr = "127.0.0.1".parse().unwrap();
        let b: IpAddr = "127.0.0.2".parse().unwrap();
        assert!(l.hit(a).is_ok());
        assert!(l.hit(a).is_ok());
        assert!(l.hit(a).is_err());
        assert!(l.hit(b).is_ok());
    }
}
