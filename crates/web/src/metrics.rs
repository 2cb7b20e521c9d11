//! `/metrics` in the Prometheus text format: this process's request counts and latencies by
//! route template (never a concrete path), and the deployment's shared state read from the
//! database (job queue depth and age by kind, outbox lag, failed deliveries, exports and
//! erasures of the last day, accounts by state). Labels are route templates, methods, status
//! classes, job kinds and account states: nothing about a person.
//!
//! The registry belongs to the router (no global recorder), so several servers in one process
//! (tests) keep their own figures.

use crate::AppState;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;

/// Upper bounds of the latency histogram's buckets, in seconds.
const BUCKETS: [f64; 11] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

#[derive(Default)]
struct Series {
    count: u64,
    sum: f64,
    buckets: [u64; BUCKETS.len()],
}

/// Request figures of this process, by (method, route template, status class).
#[derive(Default)]
pub struct Registry {
    requests: Mutex<BTreeMap<(String, String, &'static str), Series>>,
}

impl Registry {
    /// Records one request. Route parameters are written `:id` (`/api/v1/profiles/:id`):
    /// braces inside label values trip some scrapers' parsers.
    pub fn observe(&self, method: &str, route: &str, status: u16, seconds: f64) {
        let route = route.replace('{', ":").replace('}', "");
        let class = match status {
            100..=199 => "1xx",
            200..=299 => "2xx",
            300..=399 => "3xx",
            400..=499 => "4xx",
            _ => "5xx",
        };
        let mut m = self.requests.lock().unwrap_or_else(|e| e.into_inner());
        let s = m.entry((method.to_string(), route, class)).or_default();
        s.count += 1;
        s.sum += seconds;
        for (i, le) in BUCKETS.iter().enumerate() {
            if seconds <= *le {
                s.buckets[i] += 1;
            }
        }
    }

    fn render(&self, out: &mut String) {
        let m = self.requests.lock().unwrap_or_else(|e| e.into_inner());
        out.push_str("# HELP hiatus_http_requests_total Requests answered by this process, by route template and status class.\n");
        out.push_str("# TYPE hiatus_http_requests_total counter\n");
        for ((method, route, class), s) in m.iter() {
            let _ = writeln!(
                out,
                "hiatus_http_requests_total{{method=\"{}\",route=\"{}\",status=\"{class}\"}} {}",
                label(method),
                label(route),
                s.count
            );
        }
        out.push_str("# HELP hiatus_http_request_duration_seconds Time to answer a request, by route template.\n");
        out.push_str("# TYPE hiatus_http_request_duration_seconds histogram\n");
        // One histogram per (method, route): the status classes summed.
        let mut by_route: BTreeMap<(&str, &str), Series> = BTreeMap::new();
        for ((method, route, _), s) in m.iter() {
            let t = by_route.entry((method, route)).or_default();
            t.count += s.count;
            t.sum += s.sum;
            for i in 0..BUCKETS.len() {
                t.buckets[i] += s.buckets[i];
            }
        }
        for ((method, route), s) in by_route {
            let l = format!("method=\"{}\",route=\"{}\"", label(method), label(route));
            for (i, le) in BUCKETS.iter().enumerate() {
                let _ = writeln!(
                    out,
                    "hiatus_http_request_duration_seconds_bucket{{{l},le=\"{le}\"}} {}",
                    s.buckets[i]
                );
            }
            let _ = writeln!(
                out,
                "hiatus_http_request_duration_seconds_bucket{{{l},le=\"+Inf\"}} {}",
                s.count
            );
            let _ = writeln!(
                out,
                "hiatus_http_request_duration_seconds_sum{{{l}}} {}",
                s.sum
            );
            let _ = writeln!(
                out,
                "hiatus_http_request_duration_seconds_count{{{l}}} {}",
                s.count
            );
        }
    }
}

/// A label value with `\`, `"` and newlines escaped.
fn label(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn gauge(out: &mut String, name: &str, help: &str, rows: &[(String, f64)]) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} gauge");
    for (labels, v) in rows {
        if labels.is_empty() {
            let _ = writeln!(out, "{name} {v}");
        } else {
            let _ = writeln!(out, "{name}{{{labels}}} {v}");
        }
    }
}

/// Whether a request for `/metrics` without a token is allowed: only straight from this
/// machine (a loopback peer) and not relayed by a proxy (no forwarding headers), so a reverse
/// proxy on the same host does not open the figures to the internet.
fn local_and_direct(req: &axum::extract::Request) -> bool {
    let h = req.headers();
    let relayed = h.contains_key("x-forwarded-for")
        || h.contains_key(header::FORWARDED)
        || h.contains_key("x-real-ip");
    let local = req
        .extensions()
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .is_some_and(|c| match c.0.ip() {
            std::net::IpAddr::V6(v6) => {
                v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
            }
            ip => ip.is_loopback(),
        });
    local && !relayed
}

/// GET /metrics. With `--metrics-token`, only for `Authorization: Bearer <token>`; without
/// one, only for requests straight from this machine (see [`local_and_direct`]).
pub async fn serve(State(s): State<AppState>, req: axum::extract::Request) -> Response {
    let headers: &HeaderMap = req.headers();
    match s.options.metrics_token.as_deref() {
        Some(want) => {
            let given = headers
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("Bearer "));
            // Compared without stopping at the first difference.
            let same = given.is_some_and(|g| {
                g.len() == want.len()
                    && g.bytes()
                        .zip(want.bytes())
                        .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                        == 0
            });
            if !same {
                return (StatusCode::UNAUTHORIZED, "metrics need the metrics token\n")
                    .into_response();
            }
        }
        None if !local_and_direct(&req) => {
            return (
                StatusCode::FORBIDDEN,
                "metrics are served only to this machine; set --metrics-token to scrape them from elsewhere\n",
            )
                .into_response();
        }
        None => {}
    }
    let ops = match s.hiatus.operations().await {
        Ok(o) => o,
        Err(e) => {
            tracing::error!(error = %e, "cannot read the figures for /metrics");
            return (
                StatusCode::SERVICE_UNAVAILABLE,
                "the database is not reachable\n",
            )
                .into_response();
        }
    };
    let mut out = String::with_capacity(8192);
    s.metrics.render(&mut out);
    let secs = |micros: i64| micros as f64 / 1e6;
    let kinds = |f: &dyn Fn(&hiatus_service::views::QueueDepth) -> f64| -> Vec<(String, f64)> {
        ops.queue
            .iter()
            .map(|q| (format!("kind=\"{}\"", label(&q.kind)), f(q)))
            .collect()
    };
    gauge(
        &mut out,
        "hiatus_jobs_due",
        "Jobs due now and not yet taken, by kind.",
        &kinds(&|q| q.due as f64),
    );
    gauge(
        &mut out,
        "hiatus_jobs_scheduled",
        "Jobs scheduled for later, by kind.",
        &kinds(&|q| q.scheduled as f64),
    );
    gauge(
        &mut out,
        "hiatus_jobs_running",
        "Jobs a worker holds, by kind.",
        &kinds(&|q| q.running as f64),
    );
    gauge(
        &mut out,
        "hiatus_jobs_failed",
        "Jobs that gave up after their last attempt, by kind.",
        &kinds(&|q| q.failed as f64),
    );
    gauge(
        &mut out,
        "hiatus_jobs_oldest_due_age_seconds",
        "How long the oldest due job has waited, by kind (0 when none waits).",
        &kinds(&|q| q.oldest_due_at.map_or(0.0, |t| secs(ops.at - t).max(0.0))),
    );
    let d = &ops.delivery;
    gauge(
        &mut out,
        "hiatus_outbox_pending",
        "Lifecycle events not yet handed to webhooks and mail.",
        &[(String::new(), d.outbox_pending as f64)],
    );
    gauge(
        &mut out,
        "hiatus_outbox_lag_seconds",
        "Age of the oldest event not yet handed on (0 when none).",
        &[(
            String::new(),
            d.outbox_oldest_at
                .map_or(0.0, |t| secs(ops.at - t).max(0.0)),
        )],
    );
    gauge(
        &mut out,
        "hiatus_deliveries",
        "Webhook and mail deliveries waiting or given up (dead), by channel and status.",
        &[
            (
                "channel=\"webhook\",status=\"pending\"".into(),
                d.webhooks_pending as f64,
            ),
            (
                "channel=\"webhook\",status=\"dead\"".into(),
                d.webhooks_dead as f64,
            ),
            (
                "channel=\"mail\",status=\"pending\"".into(),
                d.mail_pending as f64,
            ),
            (
                "channel=\"mail\",status=\"dead\"".into(),
                d.mail_dead as f64,
            ),
        ],
    );
    gauge(
        &mut out,
        "hiatus_exports_last_day",
        "Export archives finished in the last 24 hours, by outcome.",
        &[
            ("outcome=\"built\"".into(), ops.exports_day.count as f64),
            ("outcome=\"failed\"".into(), ops.exports_failed_day as f64),
        ],
    );
    gauge(
        &mut out,
        "hiatus_export_seconds_last_day",
        "Time spent building the export archives of the last 24 hours, in all.",
        &[(String::new(), secs(ops.exports_day.micros))],
    );
    gauge(
        &mut out,
        "hiatus_export_bytes_last_day",
        "Bytes of the export archives built in the last 24 hours.",
        &[(String::new(), ops.exports_day.bytes as f64)],
    );
    gauge(
        &mut out,
        "hiatus_erasures",
        "Erasures scheduled, running now, and finished in the last 24 hours.",
        &[
            ("status=\"scheduled\"".into(), ops.erasures_scheduled as f64),
            ("status=\"running\"".into(), ops.erasures_running as f64),
            (
                "status=\"done_last_day\"".into(),
                ops.erasures_day.count as f64,
            ),
        ],
    );
    gauge(
        &mut out,
        "hiatus_erasure_seconds_last_day",
        "Time the erasures finished in the last 24 hours took, in all.",
        &[(String::new(), secs(ops.erasures_day.micros))],
    );
    gauge(
        &mut out,
        "hiatus_accounts",
        "Accounts by state.",
        &ops.accounts
            .iter()
            .map(|(st, n)| (format!("state=\"{}\"", label(st)), *n as f64))
            .collect::<Vec<_>>(),
    );
    let mut res = out.into_response();
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histograms_are_cumulative_and_labels_escaped() {
        let r = Registry::default();
        r.observe("GET", "/api/v1/me", 200, 0.003);
        r.observe("GET", "/api/v1/me", 401, 0.2);
        r.observe("GET", "/a\"b", 500, 20.0);
        let mut out = String::new();
        r.render(&mut out);
        assert!(out.contains(
            "hiatus_http_requests_total{method=\"GET\",route=\"/api/v1/me\",status=\"2xx\"} 1"
        ));
        assert!(out.contains(
            "hiatus_http_request_duration_seconds_bucket{method=\"GET\",route=\"/api/v1/me\",le=\"0.005\"} 1"
        ));
        assert!(out.contains(
            "hiatus_http_request_duration_seconds_bucket{method=\"GET\",route=\"/api/v1/me\",le=\"0.25\"} 2"
        ));
        assert!(out.contains(
            "hiatus_http_request_duration_seconds_bucket{method=\"GET\",route=\"/a\\\"b\",le=\"10\"} 0"
        ));
        assert!(out.contains(
            "hiatus_http_request_duration_seconds_count{method=\"GET\",route=\"/a\\\"b\"} 1"
        ));
    }
}
