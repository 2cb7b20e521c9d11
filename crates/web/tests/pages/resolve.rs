//! Every link with which preflight says how to resolve a finding leads to a page that shows
//! the finding's records, and where the product allows it, resolves them: a blocked member
//! walks from the preflight page to each one and back until only what they cannot settle
//! themselves is left (a debt to the platform, and warnings). Nobody acts on someone else's records through these forms, and no form
//! is accepted without its token.

use crate::browser::{Browser, forms};
use crate::support::{DAY, Member, PASSWORD, TestApp, on_both_backends};
use serde_json::{Value, json};

on_both_backends!(
    a_blocked_member_resolves_each_finding_through_its_page,
    nobody_acts_on_records_of_others_through_the_pages,
);

const PREFLIGHT: &str = "/settings/close/preflight?intent=deactivate";

/// The records of a blocked member, as another marketplace would leave them.
struct Busy {
    m: Member,
    freelancer: Member,
    client: Member,
    /// Contracts: the member hires, and works.
    hiring: String,
    working: String,
    /// Escrow payments: the member pays (twice), and is paid.
    pays: String,
    pays_too: String,
    paid: String,
    invoice: String,
    invoice_number: String,
    disputed: String,
    proposal: String,
    invitation: String,
}

fn id(v: &Value, path: &[&str]) -> String {
    let mut v = v;
    for p in path {
        v = &v[*p];
    }
    v.as_str()
        .unwrap_or_else(|| panic!("no {path:?}"))
        .to_string()
}

/// A member who hires and freelances: payments in escrow both ways, an unpaid invoice, a
/// dispute, a balance and a debt, an open proposal, an invitation and a job post.
async fn busy_member(t: &TestApp) -> Busy {
    let m = t.member("both").await;
    let freelancer = t.member("freelancer").await;
    let client = t.member("client").await;
    let hiring = t.contract(&m, &freelancer, "Logo design").await;
    let pays = t.fund(&m, &hiring, 30_000).await;
    let pays_too = t.fund(&m, &hiring, 5_000).await;
    let working = t.contract(&client, &m, "Website rebuild").await;
    let paid = t.fund(&client, &working, 20_000).await;
    let invoice = t
        .post(
            Some(&freelancer),
            &format!("/api/v1/contracts/{hiring}/invoices"),
            json!({"description": "Logo drafts", "amount": {"minor": 15_000, "currency": "USD"}}),
        )
        .await
        .expect(201);
    let disputed = t.contract(&client, &m, "Copywriting").await;
    t.contract_action(&client, &disputed, "open_dispute")
        .await
        .expect(200);
    t.set_balance(&m, 12_500, 4_000).await;
    let proposal = t
        .post(
            Some(&m),
            "/api/v1/proposals",
            json!({"kind": "proposal", "to": client.id, "cover_letter": "I can build your shop."}),
        )
        .await
        .expect(201);
    let invitation = t
        .post(
            Some(&client),
            "/api/v1/proposals",
            json!({"kind": "invitation", "to": m.id, "cover_letter": "Would you design our menu?"}),
        )
        .await
        .expect(201);
    t.post(
        Some(&m),
        "/api/v1/job-posts",
        json!({"title": "Illustrator for a picture book"}),
    )
    .await
    .expect(201);
    Busy {
        invoice: id(&invoice, &["id"]),
        invoice_number: id(&invoice, &["number"]),
        proposal: id(&proposal, &["id"]),
        invitation: id(&invitation, &["id"]),
        m,
        freelancer,
        client,
        hiring,
        working,
        pays,
        pays_too,
        paid,
        disputed,
    }
}

/// The findings of a deactivation preflight, as (code, link, labels of the records).
async fn findings(t: &TestApp, m: &Member) -> Vec<(String, String, Vec<(String, String)>)> {
    let p = t.preflight(m).await.0;
    ["blockers", "warnings"]
        .iter()
        .flat_map(|l| p[*l].as_array().cloned().unwrap_or_default())
        .map(|f| {
            let records = f["records"]
                .as_array()
                .expect("records")
                .iter()
                .map(|r| (id(r, &["kind"]), id(r, &["label"])))
                .collect();
            (id(&f, &["code"]), id(&f, &["resolve", "href"]), records)
        })
        .collect()
}

/// The link of the finding `code`, and whether preflight lists it.
async fn link_of(t: &TestApp, m: &Member, code: &str) -> Option<String> {
    findings(t, m)
        .await
        .into_iter()
        .find(|(c, _, _)| c == code)
        .map(|(_, href, _)| href)
}

async fn a_blocked_member_resolves_each_finding_through_its_page(t: &TestApp) {
    let busy = busy_member(t).await;
    let m = &busy.m;
    let b = Browser::new(t);
    b.login(&m.email, PASSWORD).await.expect(200);

    // Every finding's link is on the preflight page, answers, and shows the finding's records.
    let all = findings(t, m).await;
    let codes: Vec<&str> = all.iter().map(|(c, _, _)| c.as_str()).collect();
    assert_eq!(
        codes,
        [
            "open_contracts",
            "payments_in_escrow",
            "balance_not_withdrawn",
            "debt_to_platform",
            "unpaid_invoices",
            "open_disputes",
            "no_current_export",
            "regular_clients_not_told",
            "open_proposals_withdrawn",
            "open_job_posts_closed",
        ]
    );
    let pre = b.get(PREFLIGHT).await;
    pre.expect(200);
    for (code, href, records) in &all {
        pre.says(&format!("href=\"{href}\""));
        let page = b.get(href).await;
        page.expect(200);
        for (kind, label) in records {
            // Regular clients are named on their page, and the label says why they count.
            if kind != "account" {
                page.says(label);
            }
        }
        assert!(
            !page.body.contains("Page not found"),
            "{code}: {href} leads nowhere"
        );
    }
    let live = "/contracts?status=live";
    let page = b.get(live).await;
    page.says("Logo design")
        .says("Website rebuild")
        .says("Copywriting")
        .says(&format!("action=\"/contracts/{}/end\"", busy.hiring))
        .never_says(&format!("action=\"/contracts/{}/end\"", busy.disputed));
    // A contract with money in escrow cannot be ended yet: the page says why.
    let csrf = page.csrf();
    b.post(
        &format!("/contracts/{}/end", busy.hiring),
        &[("csrf", &csrf), ("status", "live")],
    )
    .await
    .expect(409)
    .says("Release or refund the payments in escrow");
    b.get(&format!("/contracts/{}", busy.disputed))
        .await
        .expect(200)
        .says("in dispute");

    // Payments: the member approves and releases what they pay, and refunds what they are
    // paid; each side only gets its own buttons.
    let unsettled = "/payments?status=unsettled";
    let page = b.get(unsettled).await;
    let actions: Vec<String> = forms(&page.body).into_iter().map(|f| f.action).collect();
    for a in [
        format!("/payments/{}/approve", busy.pays),
        format!("/payments/{}/release", busy.pays),
        format!("/payments/{}/refund", busy.paid),
    ] {
        assert!(actions.contains(&a), "no form to {a}: {actions:?}");
    }
    for a in [
        format!("/payments/{}/refund", busy.pays),
        format!("/payments/{}/release", busy.paid),
        format!("/payments/{}/approve", busy.paid),
    ] {
        assert!(!actions.contains(&a), "a form to {a}");
    }
    b.submit(
        unsettled,
        &format!("/payments/{}/approve", busy.pays_too),
        &[],
    )
    .await
    .expect(200)
    .says("The work is approved")
    .says("pending release")
    .says("aria-current=\"page\">Unsettled<");
    for (payment, action, said) in [
        (&busy.pays_too, "release", "released to the freelancer"),
        (&busy.pays, "release", "released to the freelancer"),
        (&busy.paid, "refund", "refunded to the client"),
    ] {
        let done = b
            .submit(unsettled, &format!("/payments/{payment}/{action}"), &[])
            .await;
        done.expect(200)
            .says(said)
            .never_says(&format!("/payments/{payment}/"));
    }
    b.get(unsettled)
        .await
        .says("You have no payments in escrow or pending release.");
    b.get("/payments")
        .await
        .says("released")
        .says("refunded")
        .says("USD 300.00");
    assert_eq!(link_of(t, m, "payments_in_escrow").await, None);

    // The unpaid invoice is paid from its page.
    let paid = b
        .submit(
            "/invoices?status=unpaid",
            &format!("/invoices/{}/pay", busy.invoice),
            &[],
        )
        .await;
    paid.expect(200)
        .says("The invoice is paid.")
        .says("You have no unpaid invoices.");
    b.get("/invoices")
        .await
        .says(&busy.invoice_number)
        .says("paid");
    assert_eq!(link_of(t, m, "unpaid_invoices").await, None);

    // The dispute is marked resolved; its contract is open again.
    b.submit(
        "/disputes",
        &format!("/disputes/{}/resolve", busy.disputed),
        &[],
    )
    .await
    .expect(200)
    .says("The dispute is marked resolved")
    .says("None of your contracts is in dispute.");
    assert_eq!(link_of(t, m, "open_disputes").await, None);

    // With the money settled and the dispute resolved, every contract can be ended.
    for k in [&busy.hiring, &busy.working, &busy.disputed] {
        b.submit(live, &format!("/contracts/{k}/end"), &[])
            .await
            .expect(200)
            .says("The contract is ended.")
            .never_says(&format!("/contracts/{k}/end"));
    }
    b.get(live)
        .await
        .says("You have no open, paused or disputed contracts.");
    assert_eq!(link_of(t, m, "open_contracts").await, None);

    // The proposal the member sent is withdrawn; the invitation they received declined.
    let open = "/proposals?status=open";
    b.submit(open, &format!("/proposals/{}/withdraw", busy.proposal), &[])
        .await
        .expect(200)
        .says("It is withdrawn");
    b.submit(
        open,
        &format!("/proposals/{}/decline", busy.invitation),
        &[],
    )
    .await
    .expect(200)
    .says("It is declined.")
    .says("You have no open proposals or invitations.");
    b.get("/proposals")
        .await
        .says("withdrawn")
        .says("declined")
        .says("I can build your shop.");
    assert_eq!(link_of(t, m, "open_proposals_withdrawn").await, None);

    // The balance is withdrawn: the payout then blocks until it settles by itself.
    let withdrawn = b
        .submit("/balance/withdraw", "/balance/withdraw", &[])
        .await;
    withdrawn
        .expect(200)
        .says("Your withdrawal is scheduled")
        .says("USD 0.00")
        .never_says("action=\"/balance/withdraw\"");
    assert_eq!(link_of(t, m, "balance_not_withdrawn").await, None);
    let payouts = link_of(t, m, "payouts_not_settled")
        .await
        .expect("the payout is not settled yet");
    b.get(&payouts)
        .await
        .expect(200)
        .says("USD 125.00")
        .says("on its way");
    t.advance(4 * DAY);
    t.drain_jobs().await;
    b.get("/payouts?status=scheduled")
        .await
        .expect(200)
        .says("No payout is on its way.");
    assert_eq!(link_of(t, m, "payouts_not_settled").await, None);

    // What the member cannot settle on these pages is shown, with what to do.
    b.get("/balance/pay")
        .await
        .expect(200)
        .says("USD 40.00")
        .says("cannot be paid from these pages");
    b.get("/jobs?status=open")
        .await
        .says("Illustrator for a picture book")
        .says("cannot be closed from these pages");
    let left: Vec<String> = findings(t, m)
        .await
        .into_iter()
        .map(|(c, _, _)| c)
        .collect();
    assert_eq!(
        left,
        [
            "debt_to_platform",
            "no_current_export",
            "regular_clients_not_told",
            "open_job_posts_closed",
        ]
    );
    let pre = b.get(PREFLIGHT).await;
    pre.expect(200).says("href=\"/balance/pay\"");
    for gone in [
        "/contracts?status=live",
        "/payments?status=unsettled",
        "/invoices?status=unpaid",
        "/disputes",
        "/proposals?status=open",
        "/balance/withdraw",
        "/payouts",
    ] {
        pre.never_says(&format!("href=\"{gone}\""));
    }
    // The other side sees the outcome.
    let f = t
        .get(Some(&busy.freelancer), "/api/v1/me/balances")
        .await
        .expect(200);
    assert_eq!(f[0]["available"]["minor"], 50_000, "{f}");
}

async fn nobody_acts_on_records_of_others_through_the_pages(t: &TestApp) {
    let busy = busy_member(t).await;
    let stranger = t.member("both").await;
    let posts = [
        format!("/contracts/{}/end", busy.working),
        format!("/payments/{}/release", busy.pays),
        format!("/payments/{}/refund", busy.paid),
        format!("/invoices/{}/pay", busy.invoice),
        format!("/disputes/{}/resolve", busy.disputed),
        format!("/proposals/{}/withdraw", busy.proposal),
        format!("/proposals/{}/decline", busy.invitation),
    ];
    let before = (
        t.get(Some(&busy.m), "/api/v1/payments").await.expect(200),
        t.get(Some(&busy.m), "/api/v1/invoices").await.expect(200),
        t.get(Some(&busy.m), "/api/v1/proposals").await.expect(200),
        t.get(Some(&busy.m), "/api/v1/contracts").await.expect(200),
        t.preflight(&busy.m).await.0,
    );

    // Someone with no part in them: as if they did not exist.
    let s = Browser::new(t);
    s.login(&stranger.email, PASSWORD).await.expect(200);
    let theirs = s.get("/payments").await.csrf();
    for action in &posts {
        s.post(action, &[("csrf", &theirs)])
            .await
            .expect(404)
            .says("Not found")
            .says("or it is not yours");
    }
    // The other party, on the wrong side: refused with the use case's words.
    let f = Browser::new(t);
    f.login(&busy.freelancer.email, PASSWORD).await.expect(200);
    let fs = f.get("/payments").await.csrf();
    for action in [
        format!("/payments/{}/release", busy.pays),
        format!("/invoices/{}/pay", busy.invoice),
    ] {
        f.post(&action, &[("csrf", &fs)])
            .await
            .expect(403)
            .says("Not allowed");
    }
    let c = Browser::new(t);
    c.login(&busy.client.email, PASSWORD).await.expect(200);
    let cs = c.get("/proposals").await.csrf();
    c.post(
        &format!("/proposals/{}/withdraw", busy.proposal),
        &[("csrf", &cs)],
    )
    .await
    .expect(403)
    .says("only the sender can withdraw");

    // The member's own forms are refused without their token, or with another session's.
    let b = Browser::new(t);
    b.login(&busy.m.email, PASSWORD).await.expect(200);
    let mut all = posts.to_vec();
    all.push("/balance/withdraw".to_string());
    for action in &all {
        let fields = [("currency", "USD"), ("amount", "125.00")];
        b.post(action, &fields)
            .await
            .expect(403)
            .says("This form cannot be accepted");
        let mut wrong = fields.to_vec();
        wrong.push(("csrf", theirs.as_str()));
        b.post(action, &wrong).await.expect(403);
    }
    let after = (
        t.get(Some(&busy.m), "/api/v1/payments").await.expect(200),
        t.get(Some(&busy.m), "/api/v1/invoices").await.expect(200),
        t.get(Some(&busy.m), "/api/v1/proposals").await.expect(200),
        t.get(Some(&busy.m), "/api/v1/contracts").await.expect(200),
        t.preflight(&busy.m).await.0,
    );
    assert_eq!(before, after, "refused forms changed something");
}
