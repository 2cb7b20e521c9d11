//! Upgrading a database whose values an older hiatus stored in plaintext: `migrate` without
//! the master key refuses it, `migrate_sealing` with the key seals every value under its
//! member's data key and drops the plaintext columns, on both backends.

use hiatus_domain::*;
use hiatus_store::accounts::{self, NewAccount};
use hiatus_store::policy::{Policy, live_schema};
use hiatus_store::testing::raw::RawSql;
use hiatus_store::{Db, Keyring, SecretKey, args, market, notices};
use hiatus_testkit::{Backend, ScratchDb};

async fn account(db: &Db, keys: &Keyring, n: u32) -> AccountId {
    let id = AccountId::new();
    let mut tx = db.begin().await.unwrap();
    accounts::insert(
        &mut tx,
        keys,
        &NewAccount {
            id,
            kind: AccountKind::Both,
            role: Role::Member,
            email: Email::parse(&format!("member{n}@example.test")).unwrap(),
            legal_name: format!("Legal {n}"),
            display_name: format!("Member {n}"),
            headline: String::new(),
            bio: String::new(),
            password_hash: "x".into(),
            settings: ProfileSettings::default(),
            hourly_rate_minor: None,
            now: 1,
        },
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    id
}

async fn upgrade(db: &Db) {
    let keys = Keyring::new(SecretKey::generate());
    // The last version before the sealed columns: the plaintext ones still exist.
    db.migrate_until(20).await.unwrap();
    let (f, c) = (account(db, &keys, 1).await, account(db, &keys, 2).await);
    let (ft, ct) = (f.to_text(), c.to_text());
    let proposal = ProposalId::new();
    let mut tx = db.begin().await.unwrap();
    tx.raw_exec(
"INSERT INTO client_notices (account_id, client_id, sent_at, id, message, forwarding, status, requested_at) \
         VALUES ($1, $2, 1, 'n1', 'plain notice', 'plain forwarding', 'pending', 1)",
        args![ft.clone(), ct.clone()],
    )
    .await
    .unwrap();
    tx.raw_exec(
"INSERT INTO proposals (id, kind, freelancer_id, client_id, sender_id, cover_letter, status, created_at) \
         VALUES ($1, 'proposal', $2, $3, $2, 'plain cover letter', 'open', 1)",
        args![proposal.to_text(), ft.clone(), ct.clone()],
    )
    .await
    .unwrap();
    tx.raw_exec(
        "INSERT INTO audit_events (id, account_id, actor_id, action, reason, detail, created_at) \
         VALUES ('e1', $1, $1, 'account.deactivated', 'other', $2, 1)",
        args![
            ft.clone(),
            r#"{"detail":"plain reason","warnings":[]}"#.to_string()
        ],
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();

    // Without the key, nothing is dropped: the upgrade is refused with what to do.
    let e = db.migrate().await.unwrap_err().to_string();
    assert!(
        e.contains("3 value(s)") && e.contains("hiatus migrate"),
        "{e}"
    );
    assert!(live_schema(db).await.unwrap()["proposals"].contains("cover_letter"));

    db.migrate_sealing(Some(&keys)).await.unwrap();
    let schema = live_schema(db).await.unwrap();
    assert!(!schema["proposals"].contains("cover_letter"));
    assert!(!schema["client_notices"].contains("message"));
    let policy = Policy::shipped();
    policy.check_db(db).await.unwrap();
    policy.check_sealed_db(db).await.unwrap();

    let mut tx = db.begin().await.unwrap();
    let pending = notices::pending(&mut tx, &keys, f).await.unwrap();
    assert_eq!(pending[0].message, "plain notice");
    assert_eq!(pending[0].forwarding.as_deref(), Some("plain forwarding"));
    let p = market::proposal(&mut tx, &keys, proposal).await.unwrap();
    assert_eq!(p.cover_letter, "plain cover letter");
    let (detail, note): (String, Option<Vec<u8>>) = tx
        .raw_one(
            "SELECT detail, note_enc FROM audit_events WHERE id = 'e1'",
            vec![],
        )
        .await
        .unwrap();
    assert!(!detail.contains("plain reason"), "{detail}");
    let dk = accounts::get(&mut tx, f)
        .await
        .unwrap()
        .data_key(&keys)
        .unwrap();
    assert_eq!(
        dk.open_field("audit_events", "note", "e1", &note.unwrap())
            .unwrap(),
        "plain reason"
    );
    tx.commit().await.unwrap();
    // A second start finds nothing left to seal.
    db.migrate_sealing(None).await.unwrap();
}

async fn plaintext_is_sealed_on_upgrade(backend: Backend) {
    let scratch = ScratchDb::new(backend).await;
    let db = scratch.connect(2).await;
    upgrade(&db).await;
    db.close().await;
}

hiatus_testkit::on_both!(plaintext_is_sealed_on_upgrade);
