//! The page-level guarantees, checked over every page a member can reach: each form that
//! changes something posts with the form token; a post without it, or with another session's,
//! is refused with a page and changes nothing; and reading any page changes nothing.

use crate::browser::{Browser, forms, links};
use crate::support::{PASSWORD, TestApp, on_both_backends};
use hiatus_domain::Role;
use hiatus_testkit::testing;
use std::collections::{BTreeMap, BTreeSet, VecDeque};

on_both_backends!(
    every_page_form_carries_the_token_and_reading_pages_changes_nothing,
    pages_show_bad_input_as_a_page,
    pages_of_every_state_only_read,
    staff_pages_carry_the_token_and_only_record_their_looks,
);

/// The staff pages registered for GET (`{id}` stands for a member's id).
const STAFF_PAGES: [&str; 4] = [
    "/support",
    "/support?show=all",
    "/support/accounts/{id}/audit",
    "/operator",
];

/// Every page route the account center registers for GET, but the staff pages.
const GET_PAGES: [&str; 37] = [
    "/login",
    "/account",
    "/account/reactivate",
    "/account/cancel-deletion",
    "/account/deleted",
    "/settings",
    "/settings/contact",
    "/settings/profile",
    "/settings/notifications",
    "/settings/security",
    "/settings/break",
    "/settings/close",
    "/settings/close/preflight?intent=delete",
    "/settings/close/backup?intent=delete&ack=1",
    "/settings/close/clients?intent=delete",
    "/settings/close/reason?intent=delete",
    "/settings/close/confirm?intent=delete&reason=other",
    "/settings/export",
    "/contracts",
    "/contracts/{id}",
    "/messages",
    "/messages/{id}",
    "/disputes",
    "/payments?status=unsettled",
    "/invoices?status=unpaid",
    "/balance/withdraw",
    "/balance/pay",
    "/payouts",
    "/proposals?status=open",
    "/jobs?status=open",
    "/assets/hiatus.css",
    "/assets/export-progress.js",
    "/restore",
    "/restore/status",
    "/signup",
    "/signup/check-your-mail",
    "/signup/confirm/{token}",
];

/// Row counts of every table, filled-in values of every column, the timestamps a state
/// change moves, and the member's own view: what any write would change.
async fn snapshot(t: &TestApp, who: &crate::support::Member) -> BTreeMap<String, String> {
    let schema = hiatus_testkit::store::policy::live_schema(&t.h.db)
        .await
        .expect("schema");
    let mut out = BTreeMap::new();
    let mut tx = t.h.db.read().await.expect("read");
    for (table, cols) in &schema {
        if table.starts_with("_sqlx") {
            continue;
        }
        let n = testing::count_all(&mut tx, table).await.expect("count");
        out.insert(format!("{table} rows"), n.to_string());
        for c in cols {
            let n = testing::count_filled(&mut tx, table, c)
                .await
                .expect("count column");
            out.insert(format!("{table}.{c} filled"), n.to_string());
        }
    }
    for (table, col) in [
        ("accounts", "data_changed_at"),
        ("accounts", "state_changed_at"),
        ("sessions", "reauth_at"),
        ("sessions", "expires_at"),
    ] {
        let n = testing::sum_of(&mut tx, table, col).await.expect("sum");
        out.insert(format!("{table}.{col} sum"), n.to_string());
    }
    tx.commit().await.expect("commit");
    let me = t.get(Some(who), "/api/v1/me").await.expect(200);
    out.insert("me".into(), me.to_string());
    out
}

fn differences(a: &BTreeMap<String, String>, b: &BTreeMap<String, String>) -> Vec<String> {
    a.iter()
        .filter(|(k, v)| b.get(*k) != Some(*v))
        .map(|(k, v)| format!("{k}: {v} -> {:?}", b.get(k)))
        .collect()
}

/// Our own page addresses (not the API, not other sites).
fn is_page(href: &str) -> bool {
    href.starts_with('/')
        && !href.starts_with("//")
        && !href.starts_with("/api/")
        && [
            "/account",
            "/settings",
            "/login",
            "/assets/",
            "/restore",
            "/signup",
            "/support",
            "/operator",
            "/contracts",
            "/messages",
            "/disputes",
            "/payments",
            "/invoices",
            "/balance/",
            "/payouts",
            "/proposals",
            "/jobs",
        ]
        .iter()
        .any(|p| href.starts_with(p))
}

async fn every_page_form_carries_the_token_and_reading_pages_changes_nothing(t: &TestApp) {
    // A member with something on every page: a regular client, an export, a break option.
    let f = t.member("freelancer").await;
    let c = t.member("client").await;
    let k = t.contract(&c, &f, "Website").await;
    t.contract_action(&c, &k, "end").await.expect(200);
    let b = Browser::new(t);
    b.login(&f.email, PASSWORD).await.expect(200);
    b.submit("/settings/export", "/settings/export", &[])
        .await
        .expect(200);
    t.drain_jobs().await;

    let token = b.get("/account").await.csrf();
    let before = snapshot(t, &f).await;

    // Crawl: every link and every GET form from the home page, once.
    let mut seen: BTreeSet<String> = BTreeSet::new();
    let mut queue: VecDeque<String> = VecDeque::from([
        "/account".to_string(),
        "/settings/close/clients?intent=delete".to_string(),
        "/settings/close/reason?intent=deactivate".to_string(),
        "/settings/close/confirm?intent=delete&reason=other".to_string(),
        "/settings/close/confirm?intent=deactivate&reason=other".to_string(),
        "/account/reactivate".to_string(),
        "/account/cancel-deletion".to_string(),
        "/account/deleted".to_string(),
        "/login".to_string(),
        "/settings".to_string(),
        "/settings/close/backup?intent=deactivate&ack=1".to_string(),
    ]);
    let mut posts: BTreeSet<String> = BTreeSet::new();
    while let Some(path) = queue.pop_front() {
        if !seen.insert(path.clone()) {
            continue;
        }
        let page = b.get(&path).await;
        if page.status == 303 {
            queue.push_back(page.location());
            continue;
        }
        assert_eq!(page.status, 200, "GET {path}\n{}", page.body);
        let kind = page.header("content-type").unwrap_or_default();
        if !kind.starts_with("text/html") {
            continue;
        }
        let csp = page.header("content-security-policy").unwrap_or_default();
        assert!(
            csp.contains("frame-ancestors 'none'") && !csp.contains("unsafe-inline"),
            "{path}: {csp}"
        );
        assert!(
            !page.body.contains("<script>") && !page.body.contains(" style="),
            "{path}: inline script or style"
        );
        for href in links(&page.body) {
            if is_page(&href) {
                queue.push_back(href);
            }
        }
        for form in forms(&page.body) {
            match form.method.as_str() {
                "post" => {
                    assert_eq!(
                        form.hidden("csrf").as_deref(),
                        Some(token.as_str()),
                        "{path}: the form to {} has no form token of this session",
                        form.action
                    );
                    posts.insert(form.action.clone());
                }
                "get" => {
                    let q: Vec<String> = form
                        .filled()
                        .into_iter()
                        .map(|(k, v)| format!("{k}={v}"))
                        .collect();
                    queue.push_back(format!("{}?{}", form.action, q.join("&")));
                }
                other => panic!("{path}: a form with method {other}"),
            }
        }
    }
    for must in [
        "/settings/contact",
        "/settings/profile",
        "/settings/notifications",
        "/settings/security",
        "/settings/break",
        "/settings/close",
        "/settings/close/preflight?intent=deactivate",
        "/settings/close/preflight?intent=delete",
        "/settings/close/backup?intent=deactivate&ack=1",
        "/settings/export",
        "/contracts",
        "/contracts?status=live",
        "/messages",
        "/disputes",
        "/payments",
        "/payments?status=unsettled",
        "/invoices",
        "/invoices?status=unpaid",
        "/balance/withdraw",
        "/payouts",
        "/proposals",
        "/jobs",
    ] {
        assert!(
            seen.contains(must),
            "the crawl did not reach {must}: {seen:?}"
        );
    }
    for must in [
        "/logout",
        "/settings/contact",
        "/settings/profile",
        "/settings/notifications",
        "/settings/security/reauth",
        "/settings/security/password",
        "/settings/break",
        "/settings/export",
        "/settings/close/backup/skip",
        "/settings/close/clients",
        "/settings/close/confirm",
        "/settings/security/sign-out-others",
    ] {
        assert!(posts.contains(must), "no form posts to {must}: {posts:?}");
    }
    // Forms of other states (on a break, deactivated, deletion scheduled) are checked too.
    for action in [
        "/settings/break/end",
        "/account/reactivate",
        "/account/cancel-deletion",
    ] {
        posts.insert(action.to_string());
    }
    assert!(
        posts.iter().any(|p| p.ends_with("/download")),
        "no download form: {posts:?}"
    );
    let after = snapshot(t, &f).await;
    assert_eq!(
        differences(&before, &after),
        Vec::<String>::new(),
        "reading {} pages changed the database",
        seen.len()
    );

    // Every state change refuses a post without the token, or with a wrong one, and changes
    // nothing; a GET to it changes nothing either.
    let other = Browser::new(t);
    other.login(&c.email, PASSWORD).await.expect(200);
    let others_token = other.get("/account").await.csrf();
    let before = snapshot(t, &f).await;
    for action in &posts {
        let fields = [
            ("password", PASSWORD),
            ("intent", "deactivate"),
            ("reason", "other"),
            ("visibility", "private"),
            ("availability", "paused"),
            ("notifications", "muted"),
            ("phone", "+1 555 0100"),
            ("new_password", "another long password"),
            ("repeat_password", "another long password"),
            ("current_password", PASSWORD),
            ("message", "bye"),
            ("client", c.id.as_str()),
        ];
        let missing = b.post(action, &fields).await;
        missing.expect(403).says("This form cannot be accepted");
        let mut with_wrong: Vec<(&str, &str)> = fields.to_vec();
        with_wrong.push(("csrf", others_token.as_str()));
        b.post(action, &with_wrong).await.expect(403);
        let mut with_junk: Vec<(&str, &str)> = fields.to_vec();
        with_junk.push(("csrf", "0000"));
        b.post(action, &with_junk).await.expect(403);
        let got = b.get(action).await;
        assert!(
            [200, 303, 405].contains(&got.status),
            "GET {action}: {}",
            got.status
        );
    }
    let after = snapshot(t, &f).await;
    assert_eq!(
        differences(&before, &after),
        Vec::<String>::new(),
        "refused posts changed the database"
    );
    // The login form is guarded too: without its token nobody is logged in.
    let fresh = Browser::new(t);
    fresh
        .post("/login", &[("email", &f.email), ("password", PASSWORD)])
        .await
        .expect(403);
    assert_eq!(fresh.get("/account").await.location(), "/login");
    // And the pages' own session is still the same member's, unharmed.
    b.get("/account")
        .await
        .expect(200)
        .says("<strong>Active</strong>");
}

async fn pages_show_bad_input_as_a_page(t: &TestApp) {
    let f = t.member("freelancer").await;
    let b = Browser::new(t);
    b.login(&f.email, PASSWORD).await.expect(200);
    let csrf = b.get("/account").await.csrf();
    // (form action, fields, status, what the page says)
    type Case<'a> = (&'a str, Vec<(&'a str, &'a str)>, u16, &'a str);
    let nobody = "01900000-0000-7000-8000-000000000000";
    let no_payment = format!("/payments/{nobody}/release");
    let no_action = format!("/payments/{nobody}/explode");
    let no_proposal = format!("/proposals/{nobody}/withdraw");
    let cases: [Case; 14] = [
        (
            "/settings/contact",
            vec![("phone", "call me maybe")],
            422,
            "at least 5 digits",
        ),
        (
            "/settings/profile",
            vec![("visibility", "everyone"), ("availability", "available")],
            422,
            "Choose who can see your profile.",
        ),
        (
            "/settings/break",
            vec![("until", "31/12/2026")],
            422,
            "must be a date",
        ),
        (
            "/settings/break",
            vec![("until", "2025-01-01")],
            422,
            "in the future",
        ),
        (
            "/settings/close/clients",
            vec![("client", "not-an-id"), ("message", "bye")],
            422,
            "not known",
        ),
        (
            "/settings/close/confirm",
            vec![("intent", "delete"), ("reason", "nonsense")],
            422,
            "Choose a reason",
        ),
        (
            "/settings/export/no-such-export/download",
            vec![],
            404,
            "Not found",
        ),
        (
            "/balance/withdraw",
            vec![("currency", "USD"), ("amount", "lots")],
            422,
            "Enter the amount to withdraw",
        ),
        (
            "/balance/withdraw",
            vec![("currency", "USD"), ("amount", "10")],
            409,
            "more than your available balance",
        ),
        ("/payments/not-an-id/release", vec![], 404, "Not found"),
        (&no_payment, vec![], 404, "Not found"),
        (&no_action, vec![], 404, "Not found"),
        ("/invoices/not-an-id/pay", vec![], 404, "Not found"),
        (&no_proposal, vec![], 404, "Not found"),
    ];
    let before = snapshot(t, &f).await;
    for (action, fields, status, says) in cases {
        let mut all = fields.clone();
        all.push(("csrf", csrf.as_str()));
        let page = b.post(action, &all).await;
        page.expect(status).says(says).says("<html lang=\"en\">");
    }
    // Not form-encoded at all, or far too large: a page, never a crash.
    let odd = b
        .http
        .post(format!("{}/settings/contact", b.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(vec![b'%'; 10])
        .send()
        .await
        .unwrap();
    assert!(odd.status().as_u16() < 500, "{}", odd.status());
    let big = b
        .http
        .post(format!("{}/settings/contact", b.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("csrf={csrf}&phone={}", "1".repeat(200_000)))
        .send()
        .await
        .unwrap();
    assert_eq!(big.status().as_u16(), 413);
    // Unknown intents and missing choices lead back to the start of the flow.
    assert_eq!(
        b.get("/settings/close/preflight?intent=vanish")
            .await
            .location(),
        "/settings/close"
    );
    let after = snapshot(t, &f).await;
    assert_eq!(differences(&before, &after), Vec::<String>::new());
}

/// The paths the pages' router registers for GET, read from its source, so a new page cannot
/// escape the check below by being left out of [`GET_PAGES`].
fn registered_get_routes() -> Vec<String> {
    let source = include_str!("../../src/pages/mod.rs");
    let mut out = Vec::new();
    for chunk in source.split(".route(").skip(1) {
        let Some(start) = chunk.find('"') else {
            continue;
        };
        let rest = &chunk[start + 1..];
        let Some(end) = rest.find('"') else { continue };
        let path = &rest[..end];
        let after = rest[end + 1..].trim_start_matches(|c: char| c == ',' || c.is_whitespace());
        if after.starts_with("get(") {
            out.push(path.to_string());
        }
    }
    out
}

async fn pages_of_every_state_only_read(t: &TestApp) {
    let routes = registered_get_routes();
    assert!(routes.len() >= 15, "the router's GET routes: {routes:?}");
    for r in &routes {
        assert!(
            GET_PAGES
                .iter()
                .chain(STAFF_PAGES.iter())
                .any(|p| p.split('?').next() == Some(r.as_str())),
            "GET {r} is registered but not checked here"
        );
    }
    let f = t.member("freelancer").await;
    let b = Browser::new(t);
    b.login(&f.email, PASSWORD).await.expect(200);
    let anonymous = Browser::new(t);
    for state in ["active", "deactivated", "deletion_scheduled"] {
        match state {
            "deactivated" => {
                t.deactivate(&f).await.expect(200);
            }
            "deletion_scheduled" => {
                t.post(
                    Some(&f),
                    "/api/v1/me/deletion",
                    serde_json::json!({"password": PASSWORD, "reason": "other", "confirmation": "delete my account"}),
                )
                .await
                .expect(200);
            }
            _ => {}
        }
        assert_eq!(t.state(&f).await, state);
        let before = snapshot(t, &f).await;
        // Members are refused the staff pages with a page; anyone else is sent to log in.
        for path in STAFF_PAGES {
            let path = path.replace("{id}", &f.id);
            b.get(&path).await.expect(403).says("Not allowed");
            assert_eq!(anonymous.get(&path).await.location(), "/login", "{path}");
        }
        for route in GET_PAGES {
            // A page of one record is read with an id that names none (the crawler above
            // reads the real ones through the links), a link's page with a token that names
            // none.
            let path = &route
                .replace("{id}", "01900000-0000-7000-8000-000000000000")
                .replace("{token}", &"0".repeat(64));
            for who in [&b, &anonymous] {
                let page = who.get(path).await;
                assert!(
                    page.status == 200
                        || page.status == 303
                        || (route.contains("{id}") && page.status == 404)
                        || (route.contains("{token}") && page.status == 410),
                    "GET {path} ({state}): {}\n{}",
                    page.status,
                    page.body
                );
                for form in forms(&page.body) {
                    if form.method == "post" {
                        assert!(
                            form.hidden("csrf").is_some_and(|v| !v.is_empty()),
                            "GET {path} ({state}): the form to {} has no token",
                            form.action
                        );
                    }
                }
            }
        }
        let after = snapshot(t, &f).await;
        assert_eq!(
            differences(&before, &after),
            Vec::<String>::new(),
            "reading the pages of a {state} account changed the database"
        );
    }
    // Each state's own page is where its member lands.
    b.get("/account/cancel-deletion")
        .await
        .expect(200)
        .says("Cancel the deletion?");
}

/// The staff pages (not their own account's pages, crawled above for members).
fn is_staff_page(href: &str) -> bool {
    href.starts_with("/support") || href.starts_with("/operator")
}

/// Audit events other than staff looks at a trail.
async fn events_but_looks(t: &TestApp) -> i64 {
    let mut tx = t.h.db.read().await.expect("read");
    let n = testing::count_audit_events_but_views(&mut tx)
        .await
        .expect("count");
    tx.commit().await.expect("commit");
    n
}

async fn staff_pages_carry_the_token_and_only_record_their_looks(t: &TestApp) {
    // Requests in each state the console shows: waiting for the code, confirmed, denied.
    let f = t.member("freelancer").await;
    let g = t.member("client").await;
    let h = t.member("both").await;
    t.h.request_restoration(&f.email, "lost it")
        .await
        .expect("request");
    let confirmed =
        t.h.request_restoration(&g.email, "new phone")
            .await
            .expect("request");
    {
        let now = t.now();
        let mut tx = t.h.db.begin().await.expect("begin");
        let purpose = format!("restoration code {}", confirmed.id);
        hiatus_testkit::store::restorations::set_code(
            &mut tx,
            &confirmed.id,
            hiatus_testkit::store::restorations::hash(&purpose, "24681357"),
            now + 600 * 1_000_000,
            now,
        )
        .await
        .expect("a known code");
        tx.commit().await.expect("commit");
    }
    t.h.verify_restoration_code(&confirmed.id, &confirmed.token, "24681357")
        .await
        .expect("confirmed");
    let denied =
        t.h.request_restoration(&h.email, "")
            .await
            .expect("request");
    let decider = crate::staff::staff_member(t, Role::Support).await;
    let mut decider_actor = t.h.authenticate(&decider.token).await.expect("actor");
    t.h.reauthenticate(&mut decider_actor, PASSWORD)
        .await
        .expect("re-authenticated");
    t.h.deny_restoration(&decider_actor, &denied.id, "not confirmed")
        .await
        .expect("denied");

    for role in [Role::Support, Role::Operator] {
        let who = crate::staff::staff_member(t, role).await;
        let b = Browser::new(t);
        b.login(&who.email, PASSWORD).await.expect(200);
        let token = b.get("/support").await.csrf();
        let before = snapshot(t, &who).await;
        let events_before = events_but_looks(t).await;

        let mut seen: BTreeSet<String> = BTreeSet::new();
        let mut queue: VecDeque<String> = VecDeque::from([
            "/support".to_string(),
            "/support?show=all".to_string(),
            "/operator".to_string(),
        ]);
        let mut posts: BTreeSet<String> = BTreeSet::new();
        while let Some(path) = queue.pop_front() {
            if !seen.insert(path.clone()) {
                continue;
            }
            let page = b.get(&path).await;
            if role == Role::Support && path.starts_with("/operator") {
                page.expect(403).says("Not allowed");
                continue;
            }
            assert_eq!(page.status, 200, "GET {path}\n{}", page.body);
            let csp = page.header("content-security-policy").unwrap_or_default();
            assert!(
                csp.contains("frame-ancestors 'none'") && !csp.contains("unsafe-inline"),
                "{path}: {csp}"
            );
            assert!(
                !page.body.contains("<script") && !page.body.contains(" style="),
                "{path}: inline script or style"
            );
            for href in links(&page.body) {
                if is_staff_page(&href) {
                    queue.push_back(href);
                }
            }
            for form in forms(&page.body) {
                match form.method.as_str() {
                    "post" => {
                        assert_eq!(
                            form.hidden("csrf").as_deref(),
                            Some(token.as_str()),
                            "{path}: the form to {} has no form token of this session",
                            form.action
                        );
                        posts.insert(form.action.clone());
                    }
                    other => panic!("{path}: a form with method {other}"),
                }
            }
        }
        for must in [
            format!("/support/accounts/{}/audit", f.id),
            format!("/support/accounts/{}/audit", g.id),
            format!("/support/accounts/{}/audit", h.id),
        ] {
            assert!(
                seen.contains(&must),
                "the crawl did not reach {must}: {seen:?}"
            );
        }
        assert!(posts.iter().any(|p| p.ends_with("/approve")), "{posts:?}");
        assert!(posts.iter().any(|p| p.ends_with("/deny")), "{posts:?}");

        // Reading changed nothing but the record of who looked at which trail.
        let after = snapshot(t, &who).await;
        let changed = differences(&before, &after);
        assert!(
            changed.iter().all(|d| d.starts_with("audit_events")),
            "reading the staff pages changed the database: {changed:?}"
        );
        assert_eq!(events_but_looks(t).await, events_before);

        // Every decision refuses a post without the token, or with a junk one, and changes
        // nothing.
        let before = snapshot(t, &who).await;
        for action in &posts {
            let fields = [("note", "decided"), ("password", PASSWORD)];
            b.post(action, &fields)
                .await
                .expect(403)
                .says("This form cannot be accepted");
            let mut with_junk: Vec<(&str, &str)> = fields.to_vec();
            with_junk.push(("csrf", "0000"));
            b.post(action, &with_junk).await.expect(403);
        }
        let after = snapshot(t, &who).await;
        assert_eq!(
            differences(&before, &after),
            Vec::<String>::new(),
            "refused posts changed the database"
        );
    }
}
