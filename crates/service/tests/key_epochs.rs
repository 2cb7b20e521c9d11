//! Key epochs: what a copy of the database taken before an erasure reveals once the epoch
//! keys of that time are destroyed (nothing: neither sealed fields nor whether an address had
//! an account), rotation under load, email lookups that move with the epoch, retirement's
//! refusal to destroy keys that live members still need, the upgrade of keys wrapped under
//! the master key, and long-running processes adopting retirements made elsewhere.

mod support;

use hiatus_domain::{AccountId, AccountKind, ClosureReason, DAY_MICROS, FileKind, Role};
use hiatus_service::erasure::{DeleteRequest, EraseOptions, EraseOutcome};
use hiatus_service::market::Upload;
use hiatus_service::{Actor, Hiatus, PasswordParams, ServiceError, SignUp, password};
use hiatus_store::accounts::{self, ProfileText};
use hiatus_store::bulk::{self, NoProgress, Plan, Shape};
use hiatus_store::crypto::wrapped_epoch;
use hiatus_store::epochs::{self, Ratchet};
use hiatus_store::{Db, DbOptions, Keyring, SecretKey, StoreError};
use hiatus_testkit::{Backend, ScratchDb, testing};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use support::{Env, env, env_with};

fn actor(h: &Hiatus, id: AccountId, kind: AccountKind) -> Actor {
    hiatus_testkit::member_actor(h, id, kind)
}

/// Canary values, one per sealed field, unique to this run.
struct Canaries {
    tag: String,
}

impl Canaries {
    fn new() -> Self {
        Self {
            tag: uuid::Uuid::new_v4().simple().to_string()[..12].to_string(),
        }
    }
    fn email(&self) -> String {
        format!("canary{}@example.com", self.tag)
    }
    fn get(&self, field: &str) -> String {
        format!("Canary{field}{}", self.tag)
    }
    fn phone(&self) -> String {
        // Digits only, derived from the tag so it is unique too.
        let digits: String = self
            .tag
            .bytes()
            .map(|b| char::from(b'0' + b % 10))
            .collect();
        format!("+44 {digits}")
    }
    /// Every value, as the bytes an attacker would search for.
    fn all(&self) -> Vec<String> {
        let mut v = vec![self.email(), self.phone()];
        for f in ["Legal", "Display", "Headline", "Bio", "Away", "File"] {
            v.push(self.get(f));
        }
        v
    }
}

/// A member with a canary in every sealed field: email, legal name, phone, display name,
/// headline, bio, away message and a private file's name.
async fn canary_member(h: &Hiatus, c: &Canaries) -> AccountId {
    let id = h
        .sign_up(
            SignUp {
                email: c.email(),
                password: "a long enough password".into(),
                legal_name: c.get("Legal"),
                display_name: c.get("Display"),
                kind: AccountKind::Freelancer,
                headline: c.get("Headline"),
                bio: c.get("Bio"),
            },
            Role::Member,
        )
        .await
        .unwrap();
    let a = actor(h, id, AccountKind::Freelancer);
    h.update_profile(
        &a,
        ProfileText {
            display_name: None,
            headline: None,
            bio: None,
            away_message: Some(Some(c.get("Away"))),
        },
    )
    .await
    .unwrap();
    h.set_phone(&a, Some(c.phone())).await.unwrap();
    h.upload_private_file(
        &a,
        FileKind::Private,
        Upload {
            name: format!("{}.txt", c.get("File")),
            content_type: "text/plain".into(),
            bytes: b"private notes".to_vec(),
        },
    )
    .await
    .unwrap();
    let me = h.me(&a).await.unwrap();
    assert_eq!(me.away_message.as_deref(), Some(c.get("Away").as_str()));
    assert_eq!(me.phone.as_deref(), Some(c.phone().as_str()));
    id
}

async fn erase_now(e: &Env, id: AccountId) {
    let a = actor(&e.h, id, AccountKind::Freelancer);
    let due =
        e.h.schedule_deletion(
            &a,
            DeleteRequest {
                password: None,
                reason: ClosureReason::Other,
                detail: None,
                confirmation: "delete my account".into(),
            },
        )
        .await
        .unwrap()
        .due_at;
    e.clock.set(due + 1);
    let out =
        e.h.erase_account(id, "test", &EraseOptions::default())
            .await
            .unwrap();
    assert_eq!(out, EraseOutcome::Done);
}

fn run(cmd: &mut Command) {
    let out = cmd
        .output()
        .expect("the PostgreSQL client tools must be installed");
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The acceptance test of issue 14: a `pg_dump` taken before an erasure, restored after the
/// epoch keys of that time were retired, reveals none of the erased member's sealed fields
/// with every key hiatus still holds, while live members keep working.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dump_taken_before_erasure_is_unreadable_once_its_epochs_are_retired() {
    if hiatus_testkit::skip_postgres() {
        return;
    }
    let e = env(true).await;
    let url = e.db_url().unwrap();
    let c = Canaries::new();
    let victim = canary_member(&e.h, &c).await;
    let live_c = Canaries::new();
    let live = canary_member(&e.h, &live_c).await;

    // The copy an attacker will have: a pg_dump of the database before the erasure.
    let dump_dir = tempfile::tempdir().unwrap();
    let dump = dump_dir.path().join("before.sql");
    run(Command::new("pg_dump")
        .args(["--no-owner", "--no-privileges", "-f"])
        .arg(&dump)
        .arg(&url));
    let text = std::fs::read_to_string(&dump).unwrap();
    for v in c.all() {
        assert!(!text.contains(&v), "{v} is stored in plain text");
    }

    erase_now(&e, victim).await;
    let erased_at = e.h.now();
    // Right after the erasure the dump is still an open book: its wrapped key opens with the
    // keys hiatus holds (what issue 14 found), and its email lookup confirms the member's
    // address. Retirement is what closes both.
    let dumped =
        column_in_dump(&text, victim, "data_key_wrapped").expect("the dump holds the wrapped key");
    assert!(
        e.h.keys
            .unwrap_data_key(&victim.to_text(), Some(&dumped))
            .is_ok()
    );
    let dumped_lookup =
        column_in_dump(&text, victim, "email_lookup").expect("the dump holds the email lookup");
    assert!(
        every_lookup_hiatus_can_compute(&e.h, &c.email()).contains(&dumped_lookup),
        "the dumped lookup should confirm the address before retirement"
    );
    let receipt = e.h.erasure_receipt(victim).await.unwrap();
    let gone_at = receipt.unreadable_everywhere_at.unwrap();

    // Days go by; the worker's key maintenance runs every day.
    let mut day = 0;
    while e.h.now() < gone_at {
        day += 1;
        e.clock.set(erased_at + day * DAY_MICROS);
        e.h.maintain_keys().await.unwrap();
    }
    let status = e.h.key_status().await.unwrap();
    assert!(
        status.oldest_epoch > wrapped_epoch(&dumped).unwrap(),
        "{status:?}"
    );
    // The retention window was honoured: not before the promised day.
    assert!(day >= 30, "retired after {day} days");

    // The live member still opens, logs in, and their key is under a kept epoch.
    let me =
        e.h.me(&actor(&e.h, live, AccountKind::Freelancer))
            .await
            .unwrap();
    assert_eq!(me.bio, live_c.get("Bio"));
    assert_eq!(
        me.away_message.as_deref(),
        Some(live_c.get("Away").as_str())
    );
    e.h.login(&live_c.email(), "a long enough password")
        .await
        .unwrap();

    // The dump's lookup no longer confirms the erased member's address with any key hiatus
    // still holds (master key and keyring included).
    assert!(
        !every_lookup_hiatus_can_compute(&e.h, &c.email()).contains(&dumped_lookup),
        "the dump still confirms the erased member's address"
    );

    // Restore the dump into a new database and open it with every key hiatus still holds.
    let restored_copy = ScratchDb::new(Backend::Postgres).await;
    let restored_url = restored_copy.url();
    run(Command::new("psql")
        .arg(restored_url)
        .args(["-q", "-v", "ON_ERROR_STOP=1", "-f"])
        .arg(&dump));
    let db = Db::connect(restored_url, &DbOptions { max_connections: 2 })
        .await
        .unwrap();
    let keys = &e.h.keys;
    let mut attempts = 0;
    let mut opened = 0;
    {
        let mut tx = db.read().await.unwrap();
        let wrapped: Option<Vec<u8>> = testing::stored_data_key(&mut tx, &victim.to_text())
            .await
            .unwrap();
        let wrapped = wrapped.expect("the dump holds the member's wrapped key");
        // The wrapped key as stored, and relabelled with every epoch hiatus can still derive.
        attempts += 1;
        let first = keys.unwrap_data_key(&victim.to_text(), Some(&wrapped));
        assert!(
            matches!(first, Err(StoreError::KeyRetired(_))),
            "the erased member's key opened or failed oddly: {first:?}"
        );
        for epoch in status.oldest_epoch..=status.current_epoch {
            let mut w = wrapped.clone();
            w[1..9].copy_from_slice(&epoch.to_be_bytes());
            attempts += 1;
            if keys.unwrap_data_key(&victim.to_text(), Some(&w)).is_ok() {
                opened += 1;
            }
        }
        // Every way hiatus reads sealed fields fails for the member.
        attempts += 3;
        opened += i32::from(accounts::contact(&mut tx, keys, victim).await.is_ok());
        opened += i32::from(accounts::phone(&mut tx, keys, victim).await.is_ok());
        opened += i32::from(accounts::profile(&mut tx, keys, victim).await.is_ok());
        tx.commit().await.unwrap();
    }
    // And the whole service on the restored copy.
    let restored = Hiatus::new(
        db.clone(),
        hiatus_store::Blobs::local(dump_dir.path().join("files")).unwrap(),
        (**keys).clone(),
        std::sync::Arc::new(e.clock.clone()),
        hiatus_service::ServiceConfig {
            password: PasswordParams::FAST,
            ..Default::default()
        },
    );
    attempts += 1;
    opened += i32::from(
        restored
            .me(&actor(&restored, victim, AccountKind::Freelancer))
            .await
            .is_ok(),
    );
    // Nor does the restored copy find the member by address: login answers as for an
    // unknown address.
    attempts += 2;
    opened += i32::from(
        restored
            .login(&c.email(), "a long enough password")
            .await
            .is_ok(),
    );
    opened += i32::from(restored.find_account(&c.email()).await.is_ok());
    assert_eq!(
        opened, 0,
        "{opened} of {attempts} attempts read the erased member"
    );
    db.close().await;
    drop(restored_copy);
    e.finish().await;
}

/// The value of a bytea `column` of account `id` in a plain `pg_dump` (read from the COPY
/// text).
fn column_in_dump(text: &str, id: AccountId, column: &str) -> Option<Vec<u8>> {
    let id = id.to_text();
    let mut in_accounts = None;
    for line in text.lines() {
        if line.starts_with("COPY public.accounts ") {
            let cols = &line[line.find('(')? + 1..line.find(')')?];
            in_accounts = cols.split(", ").position(|c| c == column);
            continue;
        }
        if let Some(col) = in_accounts {
            if line == "\\." {
                in_accounts = None;
                continue;
            }
            let fields: Vec<&str> = line.split('\t').collect();
            if fields[0] == id {
                let hexed = fields[col].strip_prefix("\\\\x")?;
                return hex::decode(hexed).ok();
            }
        }
    }
    None
}

/// Retirement never destroys an epoch key a live member's data key still needs: it refuses
/// until a rotation moved every key on, and then the member still opens.
#[tokio::test]
async fn retirement_waits_for_rotation_on_both_backends() {
    for postgres in [false, true] {
        if postgres && hiatus_testkit::skip_postgres() {
            continue;
        }
        let e = env_with(postgres, |c| c.key_retention_days = 3).await;
        let c = Canaries::new();
        let id = canary_member(&e.h, &c).await;
        e.clock.advance(10 * DAY_MICROS);
        let err = e.h.retire_keys().await.unwrap_err();
        assert!(
            matches!(
                &err,
                ServiceError::Conflict {
                    code: "keys_still_in_use",
                    ..
                }
            ),
            "{err:?}"
        );
        let r = e.h.rotate_keys().await.unwrap();
        assert_eq!(r.rewrapped, 1);
        let done = e.h.retire_keys().await.unwrap();
        assert!(done.retired > 0, "{done:?}");
        let me =
            e.h.me(&actor(&e.h, id, AccountKind::Freelancer))
                .await
                .unwrap();
        assert_eq!(me.legal_name, c.get("Legal"));
        // A second rotation in the same epoch has nothing to do.
        assert_eq!(e.h.rotate_keys().await.unwrap().rewrapped, 0);
        e.finish().await;
    }
}

/// A database from before key epochs: data keys wrapped directly under the master key, email
/// lookups hashed under the master-derived key, no epoch recorded. The first rotation
/// re-wraps the keys and rehashes the lookups; the member's data opens and the member logs in
/// throughout.
#[tokio::test]
async fn legacy_keys_are_rewrapped_by_the_first_rotation_on_both_backends() {
    for postgres in [false, true] {
        if postgres && hiatus_testkit::skip_postgres() {
            continue;
        }
        let e = env(postgres).await;
        let c = Canaries::new();
        let id = canary_member(&e.h, &c).await;
        {
            let mut tx = e.h.db.begin().await.unwrap();
            let wrapped: Option<Vec<u8>> = testing::stored_data_key(&mut tx, &id.to_text())
                .await
                .unwrap();
            let dk =
                e.h.keys
                    .unwrap_data_key(&id.to_text(), wrapped.as_deref())
                    .unwrap();
            let legacy = e.h.keys.legacy_wrap_for_tests(&id.to_text(), &dk);
            // And the email lookup hashed under the master-derived key, as every lookup was
            // before lookups were keyed per epoch.
            let lookup = e.h.keys.email_lookup(None, &c.email()).unwrap();
            testing::tamper_into_legacy_keys(&mut tx, &id.to_text(), legacy, lookup)
                .await
                .unwrap();
            tx.commit().await.unwrap();
        }
        // Changed behind the service's back: it would otherwise read the epochs in use again
        // within seconds.
        e.h.keys.forget_lookup_epochs();
        let a = actor(&e.h, id, AccountKind::Freelancer);
        assert_eq!(e.h.me(&a).await.unwrap().bio, c.get("Bio"));
        // Found under the old lookup: login, and sign-up sees the address taken.
        let pw = "a long enough password";
        assert_eq!(e.h.login(&c.email(), pw).await.unwrap().account, id);
        let taken = e.h.sign_up(
            SignUp {
                email: c.email(),
                password: pw.into(),
                legal_name: "Someone Else".into(),
                display_name: "Someone".into(),
                kind: AccountKind::Client,
                headline: String::new(),
                bio: String::new(),
            },
            Role::Member,
        );
        assert!(
            matches!(
                taken.await,
                Err(ServiceError::Conflict {
                    code: "email_taken",
                    ..
                })
            ),
            "a second account got the address"
        );
        let before = e.h.key_status().await.unwrap();
        assert!(
            before.keys.iter().any(|k| k.epoch.is_none() && k.keys == 1),
            "{before:?}"
        );
        let r = e.h.rotate_keys().await.unwrap();
        assert_eq!(r.rewrapped, 1);
        let after = e.h.key_status().await.unwrap();
        assert!(after.keys.iter().all(|k| k.epoch.is_some()), "{after:?}");
        let stored: Option<Vec<u8>> = {
            let mut tx = e.h.db.read().await.unwrap();
            let w = testing::stored_data_key(&mut tx, &id.to_text())
                .await
                .unwrap();
            tx.commit().await.unwrap();
            w
        };
        assert_eq!(
            wrapped_epoch(stored.as_deref().unwrap()),
            Some(after.current_epoch)
        );
        assert_eq!(e.h.me(&a).await.unwrap().phone, Some(c.phone()));
        // The lookup moved to the epoch, and the account is still found by its address.
        assert_eq!(
            stored_lookup(&e.h, id).await,
            e.h.keys
                .email_lookup(Some(after.current_epoch), &c.email())
                .unwrap()
        );
        assert_eq!(e.h.login(&c.email(), pw).await.unwrap().account, id);
        e.finish().await;
    }
}

/// Logins (which open the member's data key) keep working while a rotation re-wraps
/// thousands of keys on PostgreSQL.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logins_keep_working_while_a_rotation_runs() {
    if hiatus_testkit::skip_postgres() {
        return;
    }
    let e = env(true).await;
    let hash = password::hash(bulk::GENERATED_PASSWORD, PasswordParams::FAST);
    let summary = bulk::load(
        &e.h.db,
        &e.h.keys,
        None,
        &Plan {
            seed: 7,
            shape: Shape {
                years: 1,
                contracts: 1,
                clients: 1,
                payments: 1,
                invoices: 1,
                threads: 1,
                messages: 1,
                submissions: 0,
                files: 0,
                file_bytes: 0,
                reviews: 0,
                payouts: 0,
                disputes: 0,
                proposals: 0,
            },
            members: 1,
            background: 6_000,
            files: false,
            now: e.h.now(),
            password_hash: hash,
        },
        &NoProgress,
    )
    .await
    .unwrap();
    let email = summary.members[0].email.clone();
    e.clock.advance(DAY_MICROS);
    let h = e.h.clone();
    let rotation = tokio::spawn(async move { h.rotate_keys().await });
    let mut logins = 0;
    let mut during = 0;
    while !rotation.is_finished() || logins < 3 {
        let running = !rotation.is_finished();
        let l =
            e.h.login(&email, bulk::GENERATED_PASSWORD)
                .await
                .expect("login during rotation");
        let a = e.h.authenticate(&l.token).await.unwrap();
        assert_eq!(e.h.me(&a).await.unwrap().email, email);
        logins += 1;
        if running && !rotation.is_finished() {
            during += 1;
        }
    }
    let r = rotation.await.unwrap().unwrap();
    assert!(r.rewrapped > 6_000, "{r:?}");
    assert!(during > 0, "no login overlapped the rotation");
    assert_eq!(e.h.rotate_keys().await.unwrap().rewrapped, 0);
    e.finish().await;
}

/// The email lookup stored for an account, as a copy of the database holds it.
async fn stored_lookup(h: &Hiatus, id: AccountId) -> Vec<u8> {
    let mut tx = h.db.read().await.unwrap();
    let l: Vec<u8> = testing::stored_email_lookup(&mut tx, &id.to_text())
        .await
        .unwrap();
    tx.commit().await.unwrap();
    l
}

/// Every email lookup the keys hiatus holds can compute for an address: under each epoch
/// still derivable, up to the next one, and under the master-derived key of rows from before
/// per-epoch lookups.
fn every_lookup_hiatus_can_compute(h: &Hiatus, email: &str) -> Vec<Vec<u8>> {
    let k = &h.keys;
    let mut all = vec![k.email_lookup(None, email).unwrap()];
    for epoch in k.oldest_epoch()..=k.current_epoch() + k.epoch_days() {
        all.push(k.email_lookup(Some(epoch), email).unwrap());
    }
    all
}

/// The email lookup is keyed per epoch: rotation rehashes it under the new epoch, login and
/// sign-up find the account under every live epoch throughout, and once the old epoch is
/// retired a lookup copied before the rotation matches nothing hiatus can compute for the
/// address. An erased address answers like an unknown one.
#[tokio::test]
async fn email_lookups_move_with_the_epoch_and_go_with_it_on_both_backends() {
    for postgres in [false, true] {
        if postgres && hiatus_testkit::skip_postgres() {
            continue;
        }
        let e = env_with(postgres, |c| c.key_retention_days = 3).await;
        let c = Canaries::new();
        let id = canary_member(&e.h, &c).await;
        let gone = Canaries::new();
        let gone_id = canary_member(&e.h, &gone).await;
        let first = e.h.keys.current_epoch();
        // What a copy of the database taken now holds: lookups hashed under this epoch.
        let copied = stored_lookup(&e.h, id).await;
        let copied_gone = stored_lookup(&e.h, gone_id).await;
        assert_eq!(
            copied,
            e.h.keys.email_lookup(Some(first), &c.email()).unwrap()
        );
        assert_ne!(copied, e.h.keys.email_lookup(None, &c.email()).unwrap());
        assert_ne!(copied, e.h.keys.stable_email_hash(&c.email()));
        // The erasure's grace period moves the clock a month on: a new epoch.
        erase_now(&e, gone_id).await;

        // Rotation rehashes the lookup under the new epoch; the account is found throughout.
        let pw = "a long enough password";
        e.h.login(&c.email(), pw).await.unwrap();
        let r = e.h.rotate_keys().await.unwrap();
        assert!(r.rewrapped >= 1, "{r:?}");
        let second = e.h.keys.current_epoch();
        assert!(second > first);
        let now_stored = stored_lookup(&e.h, id).await;
        assert_eq!(
            now_stored,
            e.h.keys.email_lookup(Some(second), &c.email()).unwrap()
        );
        assert_ne!(now_stored, copied);
        let l = e.h.login(&c.email(), pw).await.unwrap();
        assert_eq!(l.account, id);
        // The address is still taken, whatever epoch its lookup is under.
        let again = e.h.sign_up(
            SignUp {
                email: c.email(),
                password: pw.into(),
                legal_name: "Someone Else".into(),
                display_name: "Someone".into(),
                kind: AccountKind::Client,
                headline: String::new(),
                bio: String::new(),
            },
            Role::Member,
        );
        assert!(
            matches!(
                again.await,
                Err(ServiceError::Conflict {
                    code: "email_taken",
                    ..
                })
            ),
            "a second account got the address"
        );
        // Until the first epoch is retired, its key still confirms the copied lookup.
        assert!(every_lookup_hiatus_can_compute(&e.h, &c.email()).contains(&copied));

        // Past the retention window: maintenance rotates and retires.
        e.clock.advance(5 * DAY_MICROS);
        let (_, retired) = e.h.maintain_keys().await.unwrap();
        assert!(retired.oldest_epoch > first, "{retired:?}");
        let l = e.h.login(&c.email(), pw).await.unwrap();
        assert_eq!(l.account, id);
        // The lookups copied before the rotation match nothing hiatus can compute any more.
        let computable = every_lookup_hiatus_can_compute(&e.h, &c.email());
        assert!(
            !computable.contains(&copied),
            "the copied lookup still matches"
        );
        let computable = every_lookup_hiatus_can_compute(&e.h, &gone.email());
        assert!(
            !computable.contains(&copied_gone),
            "the erased member's copied lookup still matches"
        );

        // The erased address answers like one that never had an account.
        let unknown = format!("never{}@example.com", c.get(""));
        for email in [gone.email(), unknown] {
            let err = e.h.login(&email, pw).await.unwrap_err();
            assert!(matches!(err, ServiceError::BadCredentials), "{err:?}");
            let fresh = e.h.sign_up(
                SignUp {
                    email: email.clone(),
                    password: pw.into(),
                    legal_name: "Someone New".into(),
                    display_name: "Someone".into(),
                    kind: AccountKind::Client,
                    headline: String::new(),
                    bio: String::new(),
                },
                Role::Member,
            );
            assert!(fresh.await.is_ok(), "{email} is free again");
        }
        e.finish().await;
    }
}

/// A long-running process (a `serve --no-worker`, which never rotates or retires itself)
/// reads the keyring file again every few minutes and when told to (SIGHUP): after another
/// process retired an epoch, it can no longer open a key wrapped under it.
#[tokio::test]
async fn a_running_process_reloads_the_keyring_and_forgets_retired_epochs() {
    let e = env(false).await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keyring");
    let master = SecretKey::generate();
    epochs::write_file(&path, &master, &Ratchet::new(101, SecretKey::generate())).unwrap();
    // The process that retires (an operator's `hiatus keys retire`), its clock in epoch 101.
    let day = Arc::new(AtomicI64::new(101));
    let d = day.clone();
    let operator = Keyring::open_file(master.clone(), &path)
        .unwrap()
        .with_clock(Arc::new(move || {
            epochs::epoch_start(d.load(Ordering::SeqCst) as u64)
        }));
    let (_, under_101) = operator.new_data_key("a1");
    day.store(102, Ordering::SeqCst);
    let (_, under_102) = operator.new_data_key("a1");
    assert_eq!(wrapped_epoch(&under_102), Some(102));

    // The long-running process, with the same keyring file.
    let serving = Hiatus::new(
        e.h.db.clone(),
        e.h.blobs.clone(),
        Keyring::open_file(master, &path).unwrap(),
        Arc::new(e.clock.clone()),
        e.h.config.clone(),
    );
    for w in [&under_101, &under_102] {
        assert!(serving.keys.unwrap_data_key("a1", Some(w)).is_ok());
    }
    let opens = |w: &[u8]| serving.keys.unwrap_data_key("a1", Some(w)).is_ok();
    async fn until(what: &str, f: impl Fn() -> bool) {
        let started = std::time::Instant::now();
        while f() {
            assert!(
                started.elapsed() < std::time::Duration::from_secs(10),
                "{what}"
            );
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    }

    // Every few minutes (here: every 50 ms).
    let (stop, shutdown) = tokio::sync::watch::channel(false);
    let now = Arc::new(tokio::sync::Notify::new());
    let periodic = tokio::spawn({
        let (h, now, shutdown) = (serving.clone(), now.clone(), shutdown.clone());
        async move {
            h.reload_keyring_until(std::time::Duration::from_millis(50), now, shutdown)
                .await
        }
    });
    operator.retire_before(102).unwrap();
    until("the periodic reload did not adopt the retirement", || {
        opens(&under_101)
    })
    .await;
    assert!(matches!(
        serving.keys.unwrap_data_key("a1", Some(&under_101)),
        Err(StoreError::KeyRetired(101))
    ));
    assert!(opens(&under_102));
    stop.send(true).unwrap();
    periodic.await.unwrap();

    // At once when told to, long before the next periodic reload.
    let (stop, shutdown) = tokio::sync::watch::channel(false);
    let told = tokio::spawn({
        let (h, now) = (serving.clone(), now.clone());
        async move {
            h.reload_keyring_until(std::time::Duration::from_secs(3600), now, shutdown)
                .await
        }
    });
    operator.retire_before(103).unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    assert!(opens(&under_102), "reloaded before it was told to");
    now.notify_one();
    until("the reload on request did not adopt the retirement", || {
        opens(&under_102)
    })
    .await;
    stop.send(true).unwrap();
    told.await.unwrap();
    e.finish().await;
}
