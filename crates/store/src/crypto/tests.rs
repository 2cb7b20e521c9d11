use super::keyring::legacy_wrap_aad;
use super::*;
use crate::epochs;
use std::sync::Arc;

#[test]
fn fields_round_trip_and_are_bound_to_their_place() {
    let ring = Keyring::new(SecretKey::generate());
    let (dk, wrapped) = ring.new_data_key("a1");
    let sealed = dk.seal_field("profiles", "bio", "a1", "hello");
    assert_eq!(
        dk.open_field("profiles", "bio", "a1", &sealed).unwrap(),
        "hello"
    );
    // Another row, column or owner cannot open it.
    assert!(dk.open_field("profiles", "bio", "a2", &sealed).is_err());
    assert!(
        dk.open_field("profiles", "headline", "a1", &sealed)
            .is_err()
    );
    let again = ring.unwrap_data_key("a1", Some(&wrapped)).unwrap();
    assert_eq!(
        again.open_field("profiles", "bio", "a1", &sealed).unwrap(),
        "hello"
    );
    assert!(ring.unwrap_data_key("a2", Some(&wrapped)).is_err());
    assert!(matches!(
        ring.unwrap_data_key("a1", None),
        Err(StoreError::KeyDestroyed)
    ));
}

#[test]
fn nonces_are_fresh_and_other_master_keys_fail() {
    let ring = Keyring::new(SecretKey::generate());
    let (dk, wrapped) = ring.new_data_key("a1");
    assert_ne!(
        dk.seal_field("t", "c", "r", "x"),
        dk.seal_field("t", "c", "r", "x")
    );
    let other = Keyring::new(SecretKey::generate());
    assert!(other.unwrap_data_key("a1", Some(&wrapped)).is_err());
}

/// A keyring whose clock the test moves.
fn ring_at(day: i64) -> (Keyring, Arc<std::sync::atomic::AtomicI64>) {
    use std::sync::atomic::{AtomicI64, Ordering};
    let t = Arc::new(AtomicI64::new(day * epochs::EPOCH_UNIT_MICROS));
    let c = t.clone();
    let ring =
        Keyring::new(SecretKey::generate()).with_clock(Arc::new(move || c.load(Ordering::SeqCst)));
    (ring, t)
}

#[test]
fn email_lookups_are_keyed_per_epoch_and_go_with_the_epoch() {
    use std::sync::atomic::Ordering;
    let (ring, t) = ring_at(20_000);
    let email = "x@example.com";
    let at = |e: Option<u64>| ring.email_lookup(e, email).unwrap();
    // Stable within an epoch and across handles; different between epochs, from the
    // master-derived key of rows without an epoch, and from the throttle's hash.
    assert_eq!(
        at(Some(20_000)),
        ring.clone().email_lookup(Some(20_000), email).unwrap()
    );
    assert_ne!(at(Some(20_000)), at(Some(20_001)));
    assert_ne!(at(Some(20_000)), at(None));
    assert_ne!(
        at(Some(20_000)),
        ring.email_lookup(Some(20_000), "y@example.com").unwrap()
    );
    let subject = ring.stable_email_hash(email);
    assert!(![at(None), at(Some(20_000)), at(Some(20_001))].contains(&subject));
    // Another master key: other lookups everywhere.
    let other = Keyring::new(SecretKey::generate());
    assert_ne!(other.email_lookup(None, email).unwrap(), at(None));
    assert_ne!(other.stable_email_hash(email), subject);

    // The lookups searched: each live epoch, the current and the next one, once each.
    t.store(20_001 * epochs::EPOCH_UNIT_MICROS, Ordering::SeqCst);
    let live = [None, Some(20_000), Some(20_001)];
    let searched = ring.email_lookups(&live, email);
    assert_eq!(
        searched,
        vec![
            at(None),
            at(Some(20_000)),
            at(Some(20_001)),
            at(Some(20_002))
        ]
    );
    // After retirement the old epoch's lookup cannot be computed, and is not searched;
    // the throttle's hash does not change with the epoch.
    ring.retire_before(20_001).unwrap();
    assert!(matches!(
        ring.email_lookup(Some(20_000), email),
        Err(StoreError::KeyRetired(20_000))
    ));
    let searched = ring.email_lookups(&live, email);
    assert_eq!(searched, vec![at(None), at(Some(20_001)), at(Some(20_002))]);
    assert_eq!(ring.stable_email_hash(email), subject);
    assert!(format!("{ring:?}").contains("redacted"));
}

#[test]
fn remembered_lookup_epochs_expire_with_the_epoch() {
    use std::sync::atomic::Ordering;
    let (ring, t) = ring_at(20_000);
    assert_eq!(ring.lookup_epochs(), None);
    ring.remember_lookup_epochs(vec![None, Some(20_000)]);
    assert_eq!(ring.clone().lookup_epochs(), Some(vec![None, Some(20_000)]));
    // A new epoch: read them again.
    t.store(20_001 * epochs::EPOCH_UNIT_MICROS, Ordering::SeqCst);
    assert_eq!(ring.lookup_epochs(), None);
    ring.remember_lookup_epochs(vec![Some(20_001)]);
    assert!(ring.lookup_epochs().is_some());
    ring.forget_lookup_epochs();
    assert_eq!(ring.lookup_epochs(), None);
}

#[test]
fn data_keys_are_wrapped_under_the_current_epoch_and_bound_to_it() {
    use std::sync::atomic::Ordering;
    let (ring, t) = ring_at(20_000);
    let (dk, wrapped) = ring.new_data_key("a1");
    assert_eq!(wrapped_epoch(&wrapped), Some(20_000));
    let sealed = dk.seal_field("accounts", "email", "a1", "x@example.com");
    // Relabelling the epoch is caught by the associated data.
    let mut moved = wrapped.clone();
    moved[1..9].copy_from_slice(&20_001u64.to_be_bytes());
    t.store(20_001 * epochs::EPOCH_UNIT_MICROS, Ordering::SeqCst);
    assert!(ring.unwrap_data_key("a1", Some(&moved)).is_err());
    // A rotation re-wraps it under the new epoch; the old wrapped form still opens until
    // its epoch is retired, and then fails with a clear error.
    let rewrapped = ring.rewrap("a1", &wrapped, 20_001).unwrap().unwrap();
    assert_eq!(wrapped_epoch(&rewrapped), Some(20_001));
    assert_eq!(ring.rewrap("a1", &rewrapped, 20_001).unwrap(), None);
    let dk2 = ring.unwrap_data_key("a1", Some(&rewrapped)).unwrap();
    assert_eq!(
        dk2.open_field("accounts", "email", "a1", &sealed).unwrap(),
        "x@example.com"
    );
    ring.retire_before(20_001).unwrap();
    let err = ring.unwrap_data_key("a1", Some(&wrapped)).unwrap_err();
    assert!(matches!(err, StoreError::KeyRetired(20_000)));
    assert!(
        err.to_string()
            .contains("data key wrapped under retired epoch")
    );
    assert!(ring.unwrap_data_key("a1", Some(&rewrapped)).is_ok());
    // A clone (another handle of the same process) sees the retirement.
    assert!(ring.clone().unwrap_data_key("a1", Some(&wrapped)).is_err());
}

#[test]
fn legacy_keys_wrapped_under_the_master_key_open_and_move_to_an_epoch() {
    let master = SecretKey::generate();
    let (ring, _t) = ring_at(20_000);
    let ring = Keyring {
        master: master.clone(),
        ..ring
    };
    let (dk, _) = ring.new_data_key("a1");
    let sealed = dk.seal_field("profiles", "bio", "a1", "hello");
    let legacy = ring.legacy_wrap_for_tests("a1", &dk);
    assert_eq!(wrapped_epoch(&legacy), None);
    let opened = ring.unwrap_data_key("a1", Some(&legacy)).unwrap();
    assert_eq!(
        opened.open_field("profiles", "bio", "a1", &sealed).unwrap(),
        "hello"
    );
    let upgraded = ring.rewrap("a1", &legacy, 20_000).unwrap().unwrap();
    assert_eq!(wrapped_epoch(&upgraded), Some(20_000));
    let opened = ring.unwrap_data_key("a1", Some(&upgraded)).unwrap();
    assert_eq!(
        opened.open_field("profiles", "bio", "a1", &sealed).unwrap(),
        "hello"
    );
    // The upgraded form is not under the master key any more.
    assert!(master.open(&legacy_wrap_aad("a1"), &upgraded).is_err());
}

#[test]
fn a_keyring_file_is_shared_by_processes_and_retirement_reaches_them() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keyring");
    let master = SecretKey::generate();
    let a = Keyring::open_file(master.clone(), &path).unwrap();
    let b = Keyring::open_file(master.clone(), &path).unwrap();
    let (_, wrapped) = a.new_data_key("a1");
    assert!(b.unwrap_data_key("a1", Some(&wrapped)).is_ok());
    // Retiring in one process; the other adopts it on reload.
    let epoch = wrapped_epoch(&wrapped).unwrap();
    a.retire_before(epoch + 1).unwrap();
    assert!(a.unwrap_data_key("a1", Some(&wrapped)).is_err());
    assert_eq!(b.reload().unwrap(), epoch + 1);
    assert!(matches!(
        b.unwrap_data_key("a1", Some(&wrapped)),
        Err(StoreError::KeyRetired(_))
    ));
    // A fresh process, too.
    let c = Keyring::open_file(master, &path).unwrap();
    assert!(c.unwrap_data_key("a1", Some(&wrapped)).is_err());
    let err = Keyring::open_file(SecretKey::generate(), &path).unwrap_err();
    assert!(err.to_string().contains("master key"), "{err}");
}

#[test]
fn hex_keys_parse() {
    let k = SecretKey::generate();
    let h = k.to_hex();
    assert_eq!(SecretKey::from_hex(&h).unwrap().0, k.0);
    assert!(SecretKey::from_hex("abc").is_err());
}
