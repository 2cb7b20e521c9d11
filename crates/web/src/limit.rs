//! A per-address limit on password-guessing routes (login, re-authentication, deactivation).
//! It is per process; the database also counts failed logins per account, which holds across
//! processes.

use crate::AppState;
use crate::problem::ApiError;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A fixed-window counter per client address.
#[derive(Debug)]
pub struct Limiter {
    per_minute: u32,
    windows: Mutex<HashMap<IpAddr, (Instant, u32)>>,
}

impl Limiter {
    /// Allows `per_minute` attempts per address per minute.
    pub fn new(per_minute: u32) -> Self {
        Self {
            per_minute,
            windows: Mutex::new(HashMap::new()),
        }
    }

    /// Counts an attempt; `Err(seconds to wait)` when over the limit.
    pub fn hit(&self, ip: IpAddr) -> Result<(), u64> {
        let now = Instant::now();
        let mut w = self.windows.lock().unwrap_or_else(|e| e.into_inner());
        if w.len() > 100_000 {
            w.retain(|_, (start, _)| now.duration_since(*start) < Duration::from_secs(60));
        }
        let e = w.entry(ip).or_insert((now, 0));
        if now.duration_since(e.0) >= Duration::from_secs(60) {
            *e = (now, 0);
        }
        e.1 += 1;
        if e.1 > self.per_minute {
            Err(60u64
                .saturating_sub(now.duration_since(e.0).as_secs())
                .max(1))
        } else {
            Ok(())
        }
    }
}

/// Middleware for the guarded routes.
pub async fn guard(State(s): State<AppState>, req: Request, next: Next) -> Response {
    let ip = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    if let Some(ip) = ip
        && let Err(wait) = s.limiter.hit(ip)
    {
        let mut e = ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            format!("too many attempts; try again in {wait} seconds"),
        );
        e.retry_after = Some(wait);
        return e.into_response();
    }
    next.run(req).await
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
