//! Completeness of the export: for generated members (profile M, and the records of profile L,
//! files included) and for every demo member, on SQLite and on PostgreSQL, every record the
//! member can see through the use cases the API serves appears in the archive — checked by id,
//! category by category — and the archive verifies against the server's key.

mod support;

use hiatus_domain::{AccountId, ContractId};
use hiatus_service::export::{BuildOutcome, archive_key};
use hiatus_service::{Actor, Hiatus};
use hiatus_store::bulk::{self, NoProgress, Plan, Shape};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;

/// The actor of a member (as a logged-in session would give).
async fn actor(h: &Hiatus, id: AccountId) -> Actor {
    Actor {
        reauth_at: 0,
        ..hiatus_testkit::actor(h, id, "export-completeness").await
    }
}

/// An archive opened from disk, with its records by category.
struct Archive {
    zip: zip::ZipArchive<std::fs::File>,
}

impl Archive {
    fn open(path: &std::path::Path) -> Archive {
        Archive {
            zip: zip::ZipArchive::new(std::fs::File::open(path).unwrap()).unwrap(),
        }
    }
    fn json(&mut self, name: &str) -> Value {
        let mut s = String::new();
        self.zip
            .by_name(name)
            .unwrap_or_else(|_| panic!("{name} is in the archive"))
            .read_to_string(&mut s)
            .unwrap();
        serde_json::from_str(&s).unwrap()
    }
    fn ids(&mut self, category: &str, field: &str) -> BTreeSet<String> {
        self.json(&format!("data/{category}.json"))
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r[field].as_str().unwrap().to_string())
            .collect()
    }
}

/// Pages through a listing until it runs dry.
async fn all<T, F>(mut page: F) -> Vec<T>
where
    F: AsyncFnMut(i64, i64) -> Vec<T>,
{
    let mut out = Vec::new();
    loop {
        let p = page(500, out.len() as i64).await;
        let n = p.len();
        out.extend(p);
        if n < 500 {
            return out;
        }
    }
}

fn set<I: IntoIterator<Item = String>>(i: I) -> BTreeSet<String> {
    i.into_iter().collect()
}

#[track_caller]
fn covered(category: &str, seen: &BTreeSet<String>, archived: &BTreeSet<String>) {
    let missing: Vec<_> = seen.difference(archived).take(5).collect();
    assert!(
        missing.is_empty(),
        "{category}: {} record(s) the member sees are missing from the archive, e.g. {missing:?}",
        seen.difference(archived).count()
    );
}

/// Exports `member` and checks every record they can see is in the archive. Returns the
/// number of records checked per category.
async fn check_member(h: &Hiatus, member: AccountId) -> BTreeMap<&'static str, usize> {
    let a = actor(h, member).await;
    let view = h.request_export_for(member, None, None).await.unwrap();
    // The audit trail as it stands when the export starts (its own "ready" event comes later).
    let audit = all(async |l, o| h.audit_trail(&a, member, l, o).await.unwrap()).await;
    let outcome = h.build_export(&view.id, None).await.unwrap();
    assert!(matches!(outcome, BuildOutcome::Ready { .. }), "{outcome:?}");
    let path = h.blobs.local_path(&archive_key(&view.id)).unwrap();
    let report = hiatus_archive::verify(
        std::io::BufReader::new(std::fs::File::open(&path).unwrap()),
        Some(&h.export_public_key()),
    );
    assert!(report.ok(), "{:?}", report.problems);
    let mut z = Archive::open(&path);
    let mut checked = BTreeMap::new();

    let contracts = all(async |l, o| h.my_contracts(&a, l, o).await.unwrap()).await;
    let seen = set(contracts.iter().map(|c| c.id.to_text()));
    covered("contracts", &seen, &z.ids("contracts", "id"));
    checked.insert("contracts", seen.len());

    let payments = all(async |l, o| h.my_payments(&a, l, o).await.unwrap()).await;
    let seen = set(payments.iter().map(|p| p.id.to_text()));
    covered("payments", &seen, &z.ids("payments", "id"));
    checked.insert("payments", seen.len());

    let invoices = all(async |l, o| h.my_invoices(&a, l, o).await.unwrap()).await;
    let seen = set(invoices.iter().map(|i| i.id.to_text()));
    covered("invoices", &seen, &z.ids("invoices", "id"));
    checked.insert("invoices", seen.len());
    // Every invoice has its PDF.
    let pdfs = z.ids("invoices", "pdf");
    assert_eq!(pdfs.len(), z.ids("invoices", "id").len());
    for p in pdfs.iter().take(20) {
        assert!(z.zip.by_name(p).is_ok(), "{p} is in the archive");
    }

    let threads = all(async |l, o| h.my_threads(&a, l, o).await.unwrap()).await;
    let seen = set(threads.iter().map(|t| t.id.to_text()));
    covered("threads", &seen, &z.ids("threads", "id"));
    checked.insert("threads", seen.len());
    let mut messages = BTreeSet::new();
    for t in &threads {
        let ms = all(async |l, o| h.thread_messages(&a, t.id, l, o).await.unwrap()).await;
        messages.extend(ms.iter().map(|m| m.id.to_text()));
    }
    covered("messages", &messages, &z.ids("messages", "id"));
    checked.insert("messages", messages.len());

    let mut submissions = BTreeSet::new();
    let mut files = BTreeSet::new();
    for c in &contracts {
        let id: ContractId = c.id;
        for (s, fs) in h.contract_submissions(&a, id).await.unwrap() {
            submissions.insert(s.id.to_text());
            files.extend(fs.iter().map(|f| f.id.to_text()));
        }
    }
    covered("submissions", &submissions, &z.ids("submissions", "id"));
    covered("files", &files, &z.ids("files", "id"));
    checked.insert("submissions", submissions.len());
    checked.insert("files", files.len());
    // Each file record points at bytes in the archive with the listed hash.
    let file_records = z.json("data/files.json");
    let manifest = z.json("manifest.json");
    let listed: BTreeMap<String, String> = manifest["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["path"].as_str().unwrap().to_string(),
                f["sha256"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    for f in file_records.as_array().unwrap() {
        let path = f["path"].as_str().unwrap();
        assert_eq!(
            listed.get(path).map(String::as_str),
            f["sha256"].as_str(),
            "{path}: the archived bytes are the stored file's"
        );
    }

    let seen = set(h
        .my_payouts(&a)
        .await
        .unwrap()
        .iter()
        .map(|p| p.id.to_text()));
    covered("payouts", &seen, &z.ids("payouts", "id"));
    checked.insert("payouts", seen.len());
    let seen = set(h
        .my_proposals(&a)
        .await
        .unwrap()
        .iter()
        .map(|p| p.id.to_text()));
    covered("proposals", &seen, &z.ids("proposals", "id"));
    checked.insert("proposals", seen.len());
    let seen = set(h
        .my_job_posts(&a)
        .await
        .unwrap()
        .iter()
        .map(|p| p.id.to_text()));
    covered("job_posts", &seen, &z.ids("job_posts", "id"));
    checked.insert("job_posts", seen.len());
    // A profile that is not listed (a staff account, say) shows no reviews through the API.
    let reviews = match h.reviews_of(Some(&a), member).await {
        Ok(r) => r,
        Err(hiatus_service::ServiceError::NotFound(_)) => Vec::new(),
        Err(e) => panic!("{e}"),
    };
    let seen = set(reviews.iter().map(|r| r.id.to_text()));
    covered("reviews", &seen, &z.ids("reviews", "id"));
    checked.insert("reviews", seen.len());
    let seen = set(h
        .my_balances(&a)
        .await
        .unwrap()
        .iter()
        .map(|b| b.available.currency.as_str().to_string()));
    covered("balances", &seen, &z.ids("balances", "currency"));
    let seen = set(audit.iter().map(|e| e.id.clone()));
    covered("audit", &seen, &z.ids("audit", "id"));
    checked.insert("audit", seen.len());

    // The manifest's counts agree with the data files.
    for (cat, n) in manifest["exported"].as_object().unwrap() {
        if matches!(cat.as_str(), "account") {
            continue;
        }
        let len = z
            .json(&format!("data/{cat}.json"))
            .as_array()
            .unwrap()
            .len();
        assert_eq!(n.as_u64().unwrap() as usize, len, "{cat}");
        assert_eq!(manifest["held"][cat], *n, "{cat}: exported = held");
    }
    let me = z.json("data/account.json");
    assert_eq!(me["id"], member.to_text());
    checked
}

fn plan(shape: Shape, seed: u64, now: i64) -> Plan {
    Plan {
        seed,
        shape,
        members: 1,
        background: 50,
        files: true,
        now,
        password_hash: "$argon2id$v=19$m=64,t=1,p=1$c2FsdA$aGFzaA".into(),
    }
}

async fn generated(postgres: bool, shape: Shape, seed: u64) {
    let env = support::env(postgres).await;
    let h = &env.h;
    let summary = bulk::load(
        &h.db,
        &h.keys,
        Some(&h.blobs),
        &plan(shape, seed, support::START),
        &NoProgress,
    )
    .await
    .unwrap();
    let member: AccountId = summary.members[0].id.parse().unwrap();
    let checked = check_member(h, member).await;
    assert_eq!(
        checked["contracts"], shape.contracts as usize,
        "{checked:?}"
    );
    assert!(
        checked["messages"] >= shape.messages as usize,
        "{checked:?}"
    );
    assert!(checked["files"] > 0, "{checked:?}");
    env.finish().await;
}

async fn demo(postgres: bool) {
    let env = support::env(postgres).await;
    let h = &env.h;
    assert!(h.load_demo().await.unwrap());
    let mut total = 0;
    for login in hiatus_service::demo::DEMO_LOGINS {
        let id = h.find_account(login.email).await.unwrap();
        let checked = check_member(h, id).await;
        total += checked.values().sum::<usize>();
    }
    assert!(total > 20, "the demo members see records: {total}");
    env.finish().await;
}

#[tokio::test]
async fn sqlite_demo_members() {
    demo(false).await;
}
#[tokio::test]
async fn postgres_demo_members() {
    if hiatus_testkit::skip_postgres() {
        return;
    }
    demo(true).await;
}
#[tokio::test]
async fn sqlite_generated_m() {
    generated(false, Shape::M, 11).await;
}
#[tokio::test]
async fn postgres_generated_m() {
    if hiatus_testkit::skip_postgres() {
        return;
    }
    generated(true, Shape::M, 12).await;
}
/// Every record of the L member (2,000 contracts, 200,000 messages, 6,000 invoices, 5,000
/// files), with its 5,000 files holding 32 MiB instead of 1 GiB: completeness is checked by
/// id, each file's bytes by the archive's hashes, and writing and reading a gigabyte would
/// only make the suite slower. The full L export is timed by `scripts/bench export`.
const L_RECORDS: Shape = Shape {
    file_bytes: 32 << 20,
    ..Shape::L
};

#[tokio::test]
async fn sqlite_generated_l() {
    generated(false, L_RECORDS, 13).await;
}
#[tokio::test]
async fn postgres_generated_l() {
    if hiatus_testkit::skip_postgres() {
        return;
    }
    generated(true, L_RECORDS, 14).await;
}

/// The member's kept invoice PDFs, by invoice id: (content hash, when rendered, bytes).
async fn kept_pdfs(h: &Hiatus, member: AccountId) -> BTreeMap<String, (String, i64, Vec<u8>)> {
    let mut tx = h.db.read().await.unwrap();
    let kept = hiatus_store::invoice_pdfs::hashes_of(&mut tx, member)
        .await
        .unwrap();
    let ids: Vec<String> = kept.iter().map(|k| k.invoice_id.clone()).collect();
    let mut bytes: BTreeMap<String, Vec<u8>> =
        hiatus_store::invoice_pdfs::get_many(&mut tx, &h.keys, &ids)
            .await
            .unwrap()
            .into_iter()
            .map(|p| (p.invoice_id, p.pdf))
            .collect();
    tx.commit().await.unwrap();
    kept.into_iter()
        .map(|k| {
            let pdf = bytes.remove(&k.invoice_id).unwrap();
            (k.invoice_id, (k.content_hash, k.rendered_at, pdf))
        })
        .collect()
}

/// Exports `member` and returns each invoice's PDF in the archive, by invoice id.
async fn exported_pdfs(h: &Hiatus, member: AccountId) -> BTreeMap<String, Vec<u8>> {
    let view = h.request_export_for(member, None, None).await.unwrap();
    let outcome = h.build_export(&view.id, None).await.unwrap();
    assert!(matches!(outcome, BuildOutcome::Ready { .. }), "{outcome:?}");
    let path = h.blobs.local_path(&archive_key(&view.id)).unwrap();
    let report = hiatus_archive::verify(
        std::io::BufReader::new(std::fs::File::open(&path).unwrap()),
        Some(&h.export_public_key()),
    );
    assert!(report.ok(), "{:?}", report.problems);
    let mut z = Archive::open(&path);
    let invoices = z.json("data/invoices.json");
    let mut out = BTreeMap::new();
    for i in invoices.as_array().unwrap() {
        let mut pdf = Vec::new();
        z.zip
            .by_name(i["pdf"].as_str().unwrap())
            .unwrap()
            .read_to_end(&mut pdf)
            .unwrap();
        assert!(pdf.starts_with(b"%PDF-"));
        out.insert(i["id"].as_str().unwrap().to_string(), pdf);
    }
    out
}

/// An invoice's PDF renders once: the first export keeps it, later exports (by either party)
/// copy it, and an invoice that changed (paid) renders again.
async fn invoice_pdfs_render_once(postgres: bool) {
    use hiatus_domain::{AccountKind, Currency, DAY_MICROS, Money, Role};
    let env = support::env(postgres).await;
    let h = &env.h;
    let f = env.freelancer().await;
    let client = h
        .sign_up(
            hiatus_service::SignUp {
                email: format!("c{}@example.com", uuid::Uuid::new_v4().simple()),
                password: "a long enough password".into(),
                legal_name: "C Legal".into(),
                display_name: "C".into(),
                kind: AccountKind::Client,
                headline: String::new(),
                bio: String::new(),
            },
            Role::Member,
        )
        .await
        .unwrap();
    let c = actor(h, client).await;
    let usd = Currency::parse("USD").unwrap();
    let k = h
        .create_contract(&c, f.account, "Invoices", usd)
        .await
        .unwrap();
    h.contract_action(&f, k.id, hiatus_service::market::ContractAction::Accept)
        .await
        .unwrap();
    let mut invoices = Vec::new();
    for n in 1..=3 {
        let i = h
            .issue_invoice(
                &f,
                k.id,
                &format!("Week {n}"),
                Money::new(n * 10_000, usd).unwrap(),
                14,
            )
            .await
            .unwrap();
        invoices.push(i.id.to_string());
    }
    assert!(kept_pdfs(h, f.account).await.is_empty());

    // The first export renders all three and keeps them, as written into the archive.
    let first = exported_pdfs(h, f.account).await;
    let kept = kept_pdfs(h, f.account).await;
    assert_eq!(kept.len(), 3);
    assert_eq!(kept_pdfs(h, client).await.len(), 3, "the client's too");
    for id in &invoices {
        assert_eq!(first[id], kept[id].2, "{id}: the archive has the kept PDF");
    }

    // One is paid; the client exports a day later: only that one renders again.
    env.clock.advance(DAY_MICROS);
    let paid: hiatus_domain::InvoiceId = invoices[0].parse().unwrap();
    h.pay_invoice(&c, paid).await.unwrap();
    let second = exported_pdfs(h, client).await;
    let again = kept_pdfs(h, client).await;
    assert_eq!(again.len(), 3);
    let changed = &invoices[0];
    assert_ne!(
        again[changed].0, kept[changed].0,
        "a paid invoice shows other content"
    );
    assert!(again[changed].1 > kept[changed].1, "and was rendered again");
    assert_ne!(second[changed], first[changed]);
    for id in &invoices[1..] {
        assert_eq!(again[id].0, kept[id].0, "{id}");
        assert_eq!(again[id].1, kept[id].1, "{id} was not rendered again");
        assert_eq!(second[id], first[id], "{id}");
    }
    for id in &invoices {
        assert_eq!(
            second[id], again[id].2,
            "{id}: the archive has the kept PDF"
        );
    }
    // The freelancer's next export copies all three.
    let third = exported_pdfs(h, f.account).await;
    assert_eq!(third, second);
    env.finish().await;
}

#[tokio::test]
async fn sqlite_invoice_pdfs_render_once() {
    invoice_pdfs_render_once(false).await;
}
#[tokio::test]
async fn postgres_invoice_pdfs_render_once() {
    if hiatus_testkit::skip_postgres() {
        return;
    }
    invoice_pdfs_render_once(true).await;
}
