//! `/metrics` parses as the Prometheus text format and holds the figures operators need:
//! request latency by route template, the job queue by kind, outbox lag, failed deliveries,
//! exports, erasures and accounts by state; after a closing flow, nothing in it names a person.
//! With a metrics token, only its bearer reads them. `/healthz` and `/readyz` answer.

use crate::support::{TestApp, on_both_backends};
use serde_json::json;
use std::collections::BTreeSet;
use tower::ServiceExt;

on_both_backends!(
    metrics_parse_and_name_no_one,
    the_metrics_token_is_required_when_set,
);

fn parse(text: &str) -> prometheus_parse::Scrape {
    prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_string())))
        .expect("the Prometheus text format")
}

async fn metrics_parse_and_name_no_one(t: &TestApp) {
    let f = t.member("freelancer").await;
    let c = t.member("client").await;
    t.post(Some(&f), "/api/v1/me/exports", json!({}))
        .await
        .expect(202);
    t.drain_jobs().await;
    t.deactivate(&f).await.expect(200);
    t.get(Some(&c), &format!("/api/v1/profiles/{}", f.id))
        .await
        .problem(404, "not_found");
    // Health and readiness answer on both backends.
    assert_eq!(t.get(None, "/healthz").await.status, 200);
    assert_eq!(t.get(None, "/readyz").await.status, 200);
    let res = t.get(None, "/metrics").await;
    assert_eq!(res.status, 200);
    assert!(
        res.content_type
            .as_deref()
            .is_some_and(|v| v.starts_with("text/plain; version=0.0.4")),
        "{:?}",
        res.content_type
    );
    let scrape = parse(&res.text);
    let names: BTreeSet<&str> = scrape.samples.iter().map(|s| s.metric.as_str()).collect();
    for want in [
        "hiatus_http_requests_total",
        "hiatus_http_request_duration_seconds",
        "hiatus_jobs_due",
        "hiatus_jobs_running",
        "hiatus_jobs_oldest_due_age_seconds",
        "hiatus_outbox_pending",
        "hiatus_outbox_lag_seconds",
        "hiatus_deliveries",
        "hiatus_exports_last_day",
        "hiatus_export_seconds_last_day",
        "hiatus_export_bytes_last_day",
        "hiatus_erasures",
        "hiatus_accounts",
    ] {
        assert!(names.contains(want), "{want} in {names:?}");
    }
    // Requests are labelled by route template, never by a concrete id.
    let routes: BTreeSet<String> = scrape
        .samples
        .iter()
        .filter(|s| s.metric == "hiatus_http_requests_total")
        .filter_map(|s| s.labels.get("route").map(str::to_string))
        .collect();
    assert!(routes.contains("/api/v1/profiles/:id"), "{routes:?}");
    assert!(routes.contains("/api/v1/me/deactivate"), "{routes:?}");
    assert!(!res.text.contains(&f.id) && !res.text.contains(&c.id));
    let value = |metric: &str, label: (&str, &str)| -> f64 {
        scrape
            .samples
            .iter()
            .find(|s| s.metric == metric && s.labels.get(label.0) == Some(label.1))
            .map(|s| match s.value {
                prometheus_parse::Value::Gauge(v)
                | prometheus_parse::Value::Counter(v)
                | prometheus_parse::Value::Untyped(v) => v,
                _ => f64::NAN,
            })
            .unwrap_or_else(|| panic!("{metric} {label:?}"))
    };
    assert!(value("hiatus_accounts", ("state", "deactivated")) >= 1.0);
    assert!(value("hiatus_exports_last_day", ("outcome", "built")) >= 1.0);
    // Nothing in it names a person.
    for secret in [f.email.as_str(), c.email.as_str(), "Ana", "Test Freelancer"] {
        assert!(!res.text.contains(secret), "{secret} in /metrics");
    }
    for line in res.text.lines() {
        assert!(!line.contains('@'), "an address-like value: {line}");
    }
}

async fn the_metrics_token_is_required_when_set(t: &TestApp) {
    let app = hiatus_web::router(
        t.h.clone(),
        hiatus_web::WebOptions {
            metrics_token: Some("scrape-me".into()),
            ..Default::default()
        },
    );
    let req = |auth: Option<&str>| {
        let mut b = axum::http::Request::get("/metrics");
        if let Some(a) = auth {
            b = b.header("authorization", a);
        }
        b.body(axum::body::Body::empty()).unwrap()
    };
    for (auth, status) in [
        (None, 401),
        (Some("Bearer wrong"), 401),
        (Some("Bearer scrape-me"), 200),
    ] {
        let res = app.clone().oneshot(req(auth)).await.unwrap();
        assert_eq!(res.status().as_u16(), status, "{auth:?}");
    }
}
