//! The operator dashboard: why members leave (closure reasons week by week), accounts by
//! state, and the health of the job queue and deliveries. The charts are SVG drawn here, in
//! the page (the policy forbids inline script, not inline images); each has a title, a
//! description and a table with the same figures for screen readers and for copying.

use super::guard::Member;
use super::view::{self, Layout, render};
use crate::AppState;
use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use hiatus_domain::{AccountState, ClosureReason, Micros};
use hiatus_service::dashboard::ClosureTrend;
use std::fmt::Write;

/// Colours that stay apart for most kinds of colour blindness (Okabe and Ito), one per
/// reason in the closing flow's order, so a reason keeps its colour from week to week.
const PALETTE: [&str; 9] = [
    "#0072b2", "#e69f00", "#009e73", "#cc79a7", "#56b4e9", "#d55e00", "#8c6d00", "#000000",
    "#999999",
];

fn colour(reason: &str) -> &'static str {
    let i = ClosureReason::parse(reason)
        .and_then(|r| ClosureReason::ALL.iter().position(|x| *x == r))
        .unwrap_or(PALETTE.len() - 1);
    PALETTE[i.min(PALETTE.len() - 1)]
}

/// Text for SVG and HTML alike.
fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// A round upper bound for an axis.
fn nice_max(max: i64) -> i64 {
    let mut step = 1;
    loop {
        for m in [1, 2, 5] {
            if m * step >= max.max(1) {
                return m * step;
            }
        }
        step *= 10;
    }
}

fn day(t: Micros) -> String {
    view::date(t)
}

/// Stacked bars: one bar per week, one colour per reason.
fn closure_chart(t: &ClosureTrend) -> String {
    let (w, plot_h, left, top) = (640.0_f64, 200.0_f64, 44.0_f64, 12.0_f64);
    let legend_h = 22.0 * t.series.len().max(1) as f64;
    let h = top + plot_h + 40.0 + legend_h;
    let n = t.starts.len().max(1);
    let totals: Vec<i64> = (0..n)
        .map(|i| {
            t.series
                .iter()
                .map(|s| s.counts.get(i).copied().unwrap_or(0))
                .sum()
        })
        .collect();
    let max = nice_max(totals.iter().copied().max().unwrap_or(0));
    let slot = (w - left - 8.0) / n as f64;
    let bar = slot * 0.7;
    let y = |v: i64| top + plot_h - plot_h * v as f64 / max as f64;
    let mut out = String::new();
    let desc = if t.series.is_empty() {
        "No member closed an account in these weeks.".to_string()
    } else {
        t.series
            .iter()
            .map(|s| format!("{}: {}", s.label, s.total))
            .collect::<Vec<_>>()
            .join("; ")
    };
    let _ = write!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}" class="chart" role="img" aria-labelledby="closures-title closures-desc"><title id="closures-title">Closures by reason, week by week, from {} to {}</title><desc id="closures-desc">{}</desc>"#,
        day(t.starts[0]),
        day(t.starts[n - 1] + t.period - 1),
        esc(&desc)
    );
    for v in [0, max / 2, max] {
        let yy = y(v);
        let _ = write!(
            out,
            r##"<line x1="{left}" y1="{yy}" x2="{}" y2="{yy}" stroke="#dddddd"/><text x="{}" y="{}" text-anchor="end" font-size="12" fill="#444444">{v}</text>"##,
            w - 8.0,
            left - 6.0,
            yy + 4.0
        );
    }
    for (i, start) in t.starts.iter().enumerate() {
        let x = left + slot * i as f64 + (slot - bar) / 2.0;
        let mut base = 0;
        for s in &t.series {
            let c = s.counts.get(i).copied().unwrap_or(0);
            if c == 0 {
                continue;
            }
            let (y1, y0) = (y(base + c), y(base));
            let _ = write!(
                out,
                r#"<rect x="{x:.1}" y="{y1:.1}" width="{bar:.1}" height="{:.1}" fill="{}"><title>Week of {}: {}, {c}</title></rect>"#,
                y0 - y1,
                colour(&s.reason),
                day(*start),
                esc(&s.label)
            );
            base += c;
        }
        if i % 2 == 0 || n <= 6 {
            let _ = write!(
                out,
                r##"<text x="{:.1}" y="{}" text-anchor="middle" font-size="11" fill="#444444">{}</text>"##,
                x + bar / 2.0,
                top + plot_h + 16.0,
                &day(*start)[5..]
            );
        }
    }
    let _ = write!(
        out,
        r##"<line x1="{left}" y1="{0}" x2="{1}" y2="{0}" stroke="#444444"/>"##,
        top + plot_h,
        w - 8.0
    );
    for (k, s) in t.series.iter().enumerate() {
        let ly = top + plot_h + 34.0 + 22.0 * k as f64;
        let _ = write!(
            out,
            r##"<rect x="{left}" y="{ly}" width="14" height="14" fill="{}"/><text x="{}" y="{}" font-size="13" fill="#1a1a1a">{} ({})</text>"##,
            colour(&s.reason),
            left + 20.0,
            ly + 12.0,
            esc(&s.label),
            s.total
        );
    }
    out.push_str("</svg>");
    out
}

/// Horizontal bars: accounts in each state.
fn accounts_chart(rows: &[(String, i64)]) -> String {
    let (w, row_h, label_w) = (640.0_f64, 28.0_f64, 190.0_f64);
    let h = row_h * rows.len().max(1) as f64 + 8.0;
    let max = nice_max(rows.iter().map(|(_, n)| *n).max().unwrap_or(0));
    let desc = rows
        .iter()
        .map(|(s, n)| format!("{}: {n}", state_label(s)))
        .collect::<Vec<_>>()
        .join("; ");
    let mut out = String::new();
    let _ = write!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}" class="chart" role="img" aria-labelledby="accounts-title accounts-desc"><title id="accounts-title">Accounts by state</title><desc id="accounts-desc">{}</desc>"#,
        esc(&desc)
    );
    for (i, (state, n)) in rows.iter().enumerate() {
        let yy = 4.0 + row_h * i as f64;
        let len = (w - label_w - 60.0) * *n as f64 / max as f64;
        let _ = write!(
            out,
            r##"<text x="{}" y="{}" text-anchor="end" font-size="13" fill="#1a1a1a">{}</text><rect x="{label_w}" y="{yy}" width="{len:.1}" height="{}" fill="#0072b2"/><text x="{:.1}" y="{}" font-size="13" fill="#1a1a1a">{n}</text>"##,
            label_w - 8.0,
            yy + 15.0,
            esc(state_label(state)),
            row_h - 8.0,
            label_w + len + 6.0,
            yy + 15.0
        );
    }
    out.push_str("</svg>");
    out
}

fn state_label(code: &str) -> &'static str {
    AccountState::parse(code)
        .map(super::account::state_words)
        .unwrap_or("Other")
}

/// How long ago, in a few characters.
fn age(micros: Micros) -> String {
    let s = (micros / 1_000_000).max(0);
    match s {
        0..60 => format!("{s} s"),
        60..3600 => format!("{} min", s / 60),
        3600..86_400 => format!("{} h", s / 3600),
        _ => format!("{} d", s / 86_400),
    }
}

struct JobLine {
    kind: String,
    due: i64,
    scheduled: i64,
    running: i64,
    failed: i64,
    oldest: String,
}

struct WeekLine {
    week: String,
    counts: Vec<i64>,
    total: i64,
}

#[derive(Template)]
#[template(path = "operator.html")]
struct DashboardPage {
    l: Layout,
    at: String,
    closures_svg: String,
    accounts_svg: String,
    reasons: Vec<(String, i64)>,
    weeks: Vec<WeekLine>,
    deactivations: i64,
    deletions: i64,
    accounts: Vec<(&'static str, i64)>,
    jobs: Vec<JobLine>,
    outbox_pending: i64,
    outbox_lag: String,
    webhooks_pending: i64,
    webhooks_dead: i64,
    mail_pending: i64,
    mail_dead: i64,
    exports_day: i64,
    exports_failed_day: i64,
    erasures_day: i64,
    erasures_scheduled: i64,
    erasures_running: i64,
}

/// GET /operator
pub async fn page(State(s): State<AppState>, m: Member) -> Response {
    let l = Layout::member(&m, "operator");
    let d = match s.hiatus.operator_dashboard(&m.actor).await {
        Ok(d) => d,
        Err(e) => return view::failure(l, e, "/account"),
    };
    let ops = &d.operations;
    let c = &d.closures;
    let weeks = c
        .starts
        .iter()
        .enumerate()
        .map(|(i, start)| {
            let counts: Vec<i64> = c
                .series
                .iter()
                .map(|s| s.counts.get(i).copied().unwrap_or(0))
                .collect();
            WeekLine {
                week: day(*start),
                total: counts.iter().sum(),
                counts,
            }
        })
        .rev()
        .collect();
    render(
        StatusCode::OK,
        DashboardPage {
            l,
            at: view::time(ops.at),
            closures_svg: closure_chart(c),
            accounts_svg: accounts_chart(&ops.accounts),
            reasons: c
                .series
                .iter()
                .map(|s| (s.label.clone(), s.total))
                .collect(),
            weeks,
            deactivations: c.deactivations,
            deletions: c.deletions,
            accounts: ops
                .accounts
                .iter()
                .map(|(st, n)| (state_label(st), *n))
                .collect(),
            jobs: ops
                .queue
                .iter()
                .map(|q| JobLine {
                    kind: q.kind.clone(),
                    due: q.due,
                    scheduled: q.scheduled,
                    running: q.running,
                    failed: q.failed,
                    oldest: q
                        .oldest_due_at
                        .map(|t| age(ops.at - t))
                        .unwrap_or_else(|| "—".into()),
                })
                .collect(),
            outbox_pending: ops.delivery.outbox_pending,
            outbox_lag: ops
                .delivery
                .outbox_oldest_at
                .map(|t| age(ops.at - t))
                .unwrap_or_else(|| "none".into()),
            webhooks_pending: ops.delivery.webhooks_pending,
            webhooks_dead: ops.delivery.webhooks_dead,
            mail_pending: ops.delivery.mail_pending,
            mail_dead: ops.delivery.mail_dead,
            exports_day: ops.exports_day.count,
            exports_failed_day: ops.exports_failed_day,
            erasures_day: ops.erasures_day.count,
            erasures_scheduled: ops.erasures_scheduled,
            erasures_running: ops.erasures_running,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use hiatus_service::dashboard::{ReasonSeries, WEEK};

    #[test]
    fn axis_bounds_are_round() {
        assert_eq!(nice_max(0), 1);
        assert_eq!(nice_max(3), 5);
        assert_eq!(nice_max(7), 10);
        assert_eq!(nice_max(11), 20);
        assert_eq!(nice_max(120), 200);
    }

    #[test]
    fn the_chart_names_every_reason_and_escapes_text() {
        let t = ClosureTrend {
            starts: vec![0, WEEK],
            period: WEEK,
            series: vec![ReasonSeries {
                reason: "other".into(),
                label: "<b>odd</b>".into(),
                counts: vec![1, 2],
                total: 3,
            }],
            deactivations: 3,
            deletions: 0,
        };
        let svg = closure_chart(&t);
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        assert!(svg.contains("&lt;b&gt;odd&lt;/b&gt; (3)"), "{svg}");
        assert!(!svg.contains("<b>"));
        assert_eq!(
            svg.matches("<rect").count(),
            2 + 1,
            "two bars and a legend key"
        );
    }

    #[test]
    fn ages_read_short() {
        assert_eq!(age(5_000_000), "5 s");
        assert_eq!(age(125 * 1_000_000), "2 min");
        assert_eq!(age(2 * 86_400 * 1_000_000), "2 d");
    }
}
