//! `hiatus keys status|rotate|retire` end to end on a SQLite data folder: the keyring file is
//! created private, a key wrapped under the master key (a database from before key epochs) is
//! re-wrapped by `rotate`, `retire` refuses while a live key needs an old epoch and destroys
//! it after `rotate`, and a wrong master key is a clear error.

use hiatus_store::crypto::wrapped_epoch;
use hiatus_store::epochs::{self, Ratchet};
use hiatus_store::{Db, DbOptions, Keyring, SecretKey, StoreError};
use hiatus_testkit::testing;
use std::path::Path;
use std::process::{Command, Output};

fn hiatus(dir: &Path, key: &str, args: &[&str]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_hiatus"));
    for (k, _) in std::env::vars() {
        if k.starts_with("HIATUS_") {
            c.env_remove(k);
        }
    }
    c.env("RUST_BACKTRACE", "0")
        .arg("--data-dir")
        .arg(dir)
        .args([
            "--master-key",
            key,
            "--insecure-fast-passwords",
            "--log",
            "warn",
        ])
        .args(args)
        .output()
        .expect("the hiatus binary runs")
}

fn ok(o: Output) -> Output {
    assert!(
        o.status.success(),
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    o
}

fn json(o: &Output) -> serde_json::Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!("{e}: {}", String::from_utf8_lossy(&o.stdout));
    })
}

fn today() -> u64 {
    let micros = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_micros() as i64;
    epochs::day_of(micros)
}

/// Replaces the wrapped data key of the only account (and its recorded epoch).
async fn set_wrapped(dir: &Path, wrapped: &[u8], epoch: Option<i64>) -> String {
    let db = Db::open_sqlite(&dir.join("hiatus.db"), &DbOptions::default())
        .await
        .unwrap();
    let mut tx = db.begin().await.unwrap();
    let id = testing::only_account_id(&mut tx).await.unwrap();
    testing::tamper_wrapped_key(&mut tx, &id, wrapped.to_vec(), epoch)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    db.close().await;
    id
}

async fn stored(dir: &Path) -> (String, Vec<u8>) {
    let db = Db::open_sqlite(&dir.join("hiatus.db"), &DbOptions::default())
        .await
        .unwrap();
    let mut tx = db.read().await.unwrap();
    let id = testing::only_account_id(&mut tx).await.unwrap();
    let wrapped = testing::stored_data_key(&mut tx, &id).await.unwrap();
    let row: (String, Vec<u8>) = (id, wrapped.expect("a wrapped data key"));
    tx.commit().await.unwrap();
    db.close().await;
    row
}

#[tokio::test]
async fn operators_rotate_and_retire_epoch_keys() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let master = SecretKey::generate();
    let key = master.to_hex();
    let today = today();
    // A keyring that already kept five days of epochs.
    let keyring = d.join("keyring");
    epochs::write_file(
        &keyring,
        &master,
        &Ratchet::new(today - 5, SecretKey::generate()),
    )
    .unwrap();
    ok(hiatus(d, &key, &["migrate"]));
    ok(hiatus(
        d,
        &key,
        &[
            "admin",
            "create-staff",
            "--email",
            "ops@example.com",
            "--name",
            "Ops",
            "--password",
            "a long enough password",
        ],
    ));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&keyring).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
    let s = json(&ok(hiatus(d, &key, &["keys", "status", "--json"])));
    assert_eq!(s["current_epoch"], today);
    assert_eq!(s["oldest_epoch"], today - 5);
    assert_eq!(s["keys"], serde_json::json!([{"epoch": today, "keys": 1}]));

    // As a database from before key epochs: the key wrapped under the master key.
    let ring = Keyring::open_file(master.clone(), &keyring).unwrap();
    let (id, wrapped) = stored(d).await;
    let dk = ring.unwrap_data_key(&id, Some(&wrapped)).unwrap();
    let legacy = ring.legacy_wrap_for_tests(&id, &dk);
    set_wrapped(d, &legacy, None).await;
    let text = ok(hiatus(d, &key, &["keys", "status"]));
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(text.contains("legacy  1"), "{text}");
    let r = json(&ok(hiatus(d, &key, &["keys", "rotate", "--json"])));
    assert_eq!(r["rewrapped"], 1);
    assert_eq!(r["epoch"], today);
    let (_, now_wrapped) = stored(d).await;
    assert_eq!(wrapped_epoch(&now_wrapped), Some(today));

    // A key still under an epoch three days old: retiring it is refused until a rotation.
    let old = ring.rewrap(&id, &legacy, today - 3).unwrap().unwrap();
    set_wrapped(d, &old, Some(today as i64 - 3)).await;
    let refused = hiatus(d, &key, &["--key-retention-days", "1", "keys", "retire"]);
    assert!(!refused.status.success());
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(err.contains("run `hiatus keys rotate` first"), "{err}");
    let s = json(&ok(hiatus(d, &key, &["keys", "status", "--json"])));
    assert_eq!(s["oldest_epoch"], today - 5);

    ok(hiatus(d, &key, &["keys", "rotate"]));
    let r = json(&ok(hiatus(
        d,
        &key,
        &["--key-retention-days", "1", "keys", "retire", "--json"],
    )));
    assert_eq!(r["retired"], 4);
    assert_eq!(r["oldest_epoch"], today - 1);
    let s = json(&ok(hiatus(d, &key, &["keys", "status", "--json"])));
    assert_eq!(s["oldest_epoch"], today - 1);
    assert_eq!(s["keys"], serde_json::json!([{"epoch": today, "keys": 1}]));

    // The copy wrapped under the retired epoch cannot be opened any more, by a fresh process
    // with the master key and the keyring file; the live key can.
    let fresh = Keyring::open_file(master.clone(), &keyring).unwrap();
    assert!(matches!(
        fresh.unwrap_data_key(&id, Some(&old)),
        Err(StoreError::KeyRetired(_))
    ));
    let (_, live) = stored(d).await;
    assert!(fresh.unwrap_data_key(&id, Some(&live)).is_ok());

    // Another master key cannot open the keyring file, and says so.
    let wrong = hiatus(d, &SecretKey::generate().to_hex(), &["keys", "status"]);
    assert!(!wrong.status.success());
    let err = String::from_utf8_lossy(&wrong.stderr);
    assert!(
        err.contains("cannot be opened with this master key"),
        "{err}"
    );
}
