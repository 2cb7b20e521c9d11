//! Encryption at rest. Every member has a random data key; personal fields are sealed with it
//! (XChaCha20-Poly1305, a fresh random nonce per value, the table, column and row bound as
//! associated data so values cannot be swapped between rows). The data key is stored wrapped
//! by the key of the current epoch (see [`crate::epochs`]). Destroying the live wrapped key
//! makes the member's data unreadable in the live system at once; copies of the wrapped key
//! left in dead rows, WAL, replicas and backups become unreadable when the epochs they were
//! wrapped under are retired, after the backup window.

use crate::epochs::{self, Ratchet, RatchetError};
use crate::error::{StoreError, StoreResult};
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};
use zeroize::{Zeroize, ZeroizeOnDrop};

const VERSION: u8 = 1;
const NONCE_LEN: usize = 24;

/// Fills a buffer from the operating system's random source.
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut b = [0u8; N];
    getrandom::fill(&mut b).expect("the operating system random source failed");
    b
}

/// A 32-byte secret key, wiped from memory on drop and never printed.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct SecretKey([u8; 32]);

impl SecretKey {
    /// A fresh random key.
    pub fn generate() -> Self {
        Self(random_bytes())
    }
    /// From raw bytes.
    pub fn from_bytes(b: [u8; 32]) -> Self {
        Self(b)
    }
    /// Parses 64 hex digits.
    pub fn from_hex(s: &str) -> StoreResult<Self> {
        let v = hex::decode(s.trim())
            .map_err(|_| StoreError::Config("master key must be 64 hex digits".into()))?;
        let b: [u8; 32] = v.try_into().map_err(|_| {
            StoreError::Config("master key must be 64 hex digits (32 bytes)".into())
        })?;
        Ok(Self(b))
    }
    pub(crate) fn bytes(&self) -> &[u8; 32] {
        &self.0
    }
    /// 64 hex digits, for writing a generated key to a key file.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
    fn cipher(&self) -> XChaCha20Poly1305 {
        XChaCha20Poly1305::new_from_slice(&self.0).expect("32-byte key")
    }

    /// Seals `plain` with a fresh nonce; `aad` names where the value lives.
    pub fn seal(&self, aad: &str, plain: &[u8]) -> Vec<u8> {
        let nonce_bytes: [u8; NONCE_LEN] = random_bytes();
        let nonce = XNonce::from(nonce_bytes);
        let ct = self
            .cipher()
            .encrypt(
                &nonce,
                Payload {
                    msg: plain,
                    aad: aad.as_bytes(),
                },
            )
            .expect("XChaCha20-Poly1305 encryption cannot fail for in-memory sizes");
        let mut out = Vec::with_capacity(1 + NONCE_LEN + ct.len());
        out.push(VERSION);
        out.extend_from_slice(&nonce_bytes);
        out.extend_from_slice(&ct);
        out
    }

    /// Opens a value sealed by [`SecretKey::seal`] with the same `aad`.
    pub fn open(&self, aad: &str, sealed: &[u8]) -> StoreResult<Vec<u8>> {
        if sealed.len() < 1 + NONCE_LEN + 16 || sealed[0] != VERSION {
            return Err(StoreError::Decrypt(aad.to_string()));
        }
        let nonce_bytes: [u8; NONCE_LEN] =
            sealed[1..1 + NONCE_LEN].try_into().expect("length checked");
        self.cipher()
            .decrypt(
                &XNonce::from(nonce_bytes),
                Payload {
                    msg: &sealed[1 + NONCE_LEN..],
                    aad: aad.as_bytes(),
                },
            )
            .map_err(|_| StoreError::Decrypt(aad.to_string()))
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretKey(<redacted>)")
    }
}

/// Where the current time comes from; the service wires in its injected clock.
pub type NowFn = Arc<dyn Fn() -> i64 + Send + Sync>;

/// The server's keys: the master key, which seals the keyring file and derives a few
/// long-lived secrets; and the epoch ratchet, whose keys wrap data keys and key the hashes
/// under which accounts are found by email (see [`Keyring::lookup_key`]).
#[derive(Clone)]
pub struct Keyring {
    master: SecretKey,
    /// The email lookup key of rows written before lookups were keyed per epoch (derived
    /// from the master key); such rows have no recorded epoch until a rotation rehashes them.
    legacy_lookup: SecretKey,
    /// The epochs under which live accounts' email lookups are hashed, as last read from the
    /// database (see [`Keyring::lookup_epochs`]).
    lookup_epochs: Arc<Mutex<Option<LookupEpochs>>>,
    /// `None` until first used, for a keyring with no file (tests): it then starts at the
    /// epoch its clock says.
    epochs: Arc<RwLock<Option<Ratchet>>>,
    /// The keyring file, when the epoch state is kept in one.
    file: Option<Arc<PathBuf>>,
    now: NowFn,
    epoch_days: u64,
}

impl fmt::Debug for Keyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Keyring")
            .field("master", &self.master)
            .field("legacy_lookup", &self.legacy_lookup)
            .field("file", &self.file)
            .field("epoch_days", &self.epoch_days)
            .finish_non_exhaustive()
    }
}

/// One member's data key, unwrapped.
#[derive(Clone, Debug)]
pub struct DataKey {
    key: SecretKey,
    owner: String,
}

/// The key of the keyed hash under which accounts are found by email, for one epoch.
#[derive(Clone, Debug)]
pub struct LookupKey(SecretKey);

impl LookupKey {
    /// The keyed hash of a normalized email.
    pub fn hash(&self, normalized_email: &str) -> Vec<u8> {
        keyed_hash(&self.0.0, normalized_email.as_bytes()).to_vec()
    }
}

/// How long the epochs of live accounts' email lookups are remembered before they are read
/// from the database again.
pub const LOOKUP_EPOCHS_FOR: Duration = Duration::from_secs(30);

/// The remembered epochs of live accounts' email lookups.
#[derive(Debug)]
struct LookupEpochs {
    epochs: Vec<Option<u64>>,
    /// The current epoch when they were read.
    current: u64,
    read_at: Instant,
}

fn keyed_hash(key: &[u8; 32], msg: &[u8]) -> [u8; 32] {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key).expect("any key length");
    mac.update(msg);
    mac.finalize().into_bytes().into()
}

/// The first byte of a data key wrapped under an epoch key; a data key wrapped directly under
/// the master key (before key epochs) starts with [`VERSION`] instead.
const EPOCH_WRAP: u8 = 2;

/// The epoch a stored wrapped data key was wrapped under; `None` for a key wrapped directly
/// under the master key before key epochs existed (the "legacy" epoch).
pub fn wrapped_epoch(wrapped: &[u8]) -> Option<u64> {
    match wrapped {
        [EPOCH_WRAP, rest @ ..] if rest.len() >= 8 => {
            Some(u64::from_be_bytes(rest[..8].try_into().expect("8 bytes")))
        }
        _ => None,
    }
}

fn system_now() -> i64 {
    jiff::Timestamp::now().as_microsecond()
}

impl Keyring {
    /// From the master key alone, with the epoch state in memory only (a fresh random seed):
    /// for tests and tools whose data lives no longer than the process.
    pub fn new(master: SecretKey) -> Self {
        let legacy_lookup = SecretKey(keyed_hash(&master.0, b"hiatus email lookup key v1"));
        Self {
            master,
            legacy_lookup,
            lookup_epochs: Arc::new(Mutex::new(None)),
            epochs: Arc::new(RwLock::new(None)),
            file: None,
            now: Arc::new(system_now),
            epoch_days: 1,
        }
    }

    /// Opens the keyring file at `path` (sealed under `master`), creating it with a fresh seed
    /// that starts at the current epoch when it does not exist yet.
    pub fn open_file(master: SecretKey, path: &Path) -> StoreResult<Self> {
        let mut ring = Self::new(master);
        let ratchet = if path.exists() {
            epochs::read_file(path, &ring.master)?
        } else {
            let r = Ratchet::new(epochs::day_of(system_now()), SecretKey::generate());
            epochs::write_file(path, &ring.master, &r)?;
            r
        };
        *ring.epochs.write().expect("keyring lock") = Some(ratchet);
        ring.file = Some(Arc::new(path.to_path_buf()));
        Ok(ring)
    }

    /// Takes the current time from `now` (the service's injected clock).
    pub fn with_clock(mut self, now: NowFn) -> Self {
        self.now = now;
        self
    }

    /// Starts a new epoch every `days` days (at least 1).
    pub fn with_epoch_days(mut self, days: u64) -> Self {
        self.epoch_days = days.max(1);
        self
    }

    /// How many days an epoch lasts.
    pub fn epoch_days(&self) -> u64 {
        self.epoch_days
    }

    /// The keyring file, if the epoch state is kept in one.
    pub fn file(&self) -> Option<&Path> {
        self.file.as_deref().map(|p| p.as_path())
    }

    /// The current time as this keyring sees it.
    pub fn now(&self) -> i64 {
        (self.now)()
    }

    /// The epoch new data keys are wrapped under now: the UTC day the current epoch began,
    /// never before the oldest kept epoch.
    pub fn current_epoch(&self) -> u64 {
        let day = epochs::day_of(self.now());
        let epoch = day - day % self.epoch_days;
        if let Some(r) = self.epochs.read().expect("keyring lock").as_ref() {
            return epoch.max(r.oldest());
        }
        let mut guard = self.epochs.write().expect("keyring lock");
        let r = guard.get_or_insert_with(|| Ratchet::new(epoch, SecretKey::generate()));
        epoch.max(r.oldest())
    }

    /// The oldest epoch whose key can still be derived.
    pub fn oldest_epoch(&self) -> u64 {
        let current = self.current_epoch();
        self.epochs
            .read()
            .expect("keyring lock")
            .as_ref()
            .map_or(current, |r| r.oldest())
    }

    /// The key of `epoch`.
    fn epoch_key(&self, epoch: u64) -> StoreResult<SecretKey> {
        if let Some(k) = self
            .epochs
            .read()
            .expect("keyring lock")
            .as_ref()
            .and_then(|r| r.peek(epoch))
        {
            return Ok(k.clone());
        }
        // Clocks of several machines differ a little; nothing real is a whole epoch ahead.
        let limit = self.current_epoch() + self.epoch_days + 1;
        let mut guard = self.epochs.write().expect("keyring lock");
        let r = guard.as_mut().expect("current_epoch started the ratchet");
        match r.key(epoch, limit) {
            Ok(k) => Ok(k.clone()),
            Err(RatchetError::Retired(e)) => Err(StoreError::KeyRetired(e)),
            Err(RatchetError::Future(e)) => Err(StoreError::Decrypt(format!(
                "data key wrapped under epoch {e}, which has not begun"
            ))),
        }
    }

    /// A secret derived from the master key for one purpose (`label`), e.g. the seed of the
    /// key that signs export archives: one secret to keep, and none derivable from another.
    pub fn derive_secret(&self, label: &str) -> zeroize::Zeroizing<[u8; 32]> {
        let mut mac =
            <Hmac<Sha256> as KeyInit>::new_from_slice(&self.master.0).expect("any key length");
        mac.update(b"hiatus derived key v1:");
        mac.update(label.as_bytes());
        zeroize::Zeroizing::new(mac.finalize().into_bytes().into())
    }

    /// The key of the hash under which accounts whose data key is wrapped under `epoch` are
    /// found by email; `None` for rows from before lookups were keyed per epoch (no recorded
    /// epoch), whose key is derived from the master key. An epoch's lookup key is derived from
    /// its epoch key, so once the epoch is retired no key hiatus holds can tell whether an
    /// address matches a lookup a copy of the database kept from that epoch.
    pub fn lookup_key(&self, epoch: Option<u64>) -> StoreResult<LookupKey> {
        Ok(LookupKey(match epoch {
            Some(e) => SecretKey(keyed_hash(
                self.epoch_key(e)?.bytes(),
                b"hiatus email lookup v1",
            )),
            None => self.legacy_lookup.clone(),
        }))
    }

    /// The keyed hash of a normalized email under `epoch` (see [`Keyring::lookup_key`]).
    pub fn email_lookup(&self, epoch: Option<u64>, normalized_email: &str) -> StoreResult<Vec<u8>> {
        Ok(self.lookup_key(epoch)?.hash(normalized_email))
    }

    /// The lookups to search for `normalized_email`: one per epoch of `live` (the epochs
    /// live accounts are recorded under) plus the current and the next epoch, which new
    /// accounts and rotations write under (the next one for a process whose clock runs a
    /// little ahead). Epochs whose key is gone are skipped: nothing live is under them. The
    /// work depends on `live` only, never on the address, so it takes as long for an address
    /// with an account as for one without.
    pub fn email_lookups(&self, live: &[Option<u64>], normalized_email: &str) -> Vec<Vec<u8>> {
        let current = self.current_epoch();
        let mut epochs: Vec<Option<u64>> = live.to_vec();
        epochs.extend([Some(current), Some(current + self.epoch_days)]);
        epochs.sort_unstable();
        epochs.dedup();
        epochs
            .into_iter()
            .filter_map(|e| self.lookup_key(e).ok())
            .map(|k| k.hash(normalized_email))
            .collect()
    }

    /// A keyed hash of a normalized email that stays the same across epochs: what wrong
    /// passwords are counted against per address tried. Never stored with an account, so it
    /// finds none.
    pub fn stable_email_hash(&self, normalized_email: &str) -> Vec<u8> {
        let key = self.derive_secret("login throttle subject");
        LookupKey(SecretKey(*key)).hash(normalized_email)
    }

    /// The epochs live accounts' email lookups are hashed under, as remembered from the
    /// database by [`Keyring::remember_lookup_epochs`]: `None` once [`LOOKUP_EPOCHS_FOR`]
    /// has passed or a new epoch has begun, so the caller reads them again. Between two reads
    /// the set can only shrink (rotation moves rows to the current epoch, which
    /// [`Keyring::email_lookups`] always adds), except for a process whose clock runs an
    /// epoch behind; the short lifetime bounds that.
    pub fn lookup_epochs(&self) -> Option<Vec<Option<u64>>> {
        let current = self.current_epoch();
        let guard = self.lookup_epochs.lock().expect("lookup epochs lock");
        guard
            .as_ref()
            .filter(|c| c.current == current && c.read_at.elapsed() < LOOKUP_EPOCHS_FOR)
            .map(|c| c.epochs.clone())
    }

    /// Remembers the epochs live accounts' email lookups are hashed under (read from the
    /// database), for [`Keyring::lookup_epochs`].
    pub fn remember_lookup_epochs(&self, epochs: Vec<Option<u64>>) {
        let current = self.current_epoch();
        *self.lookup_epochs.lock().expect("lookup epochs lock") = Some(LookupEpochs {
            epochs,
            current,
            read_at: Instant::now(),
        });
    }

    /// Forgets the remembered lookup epochs, so the next lookup reads them from the
    /// database (after something other than hiatus changed them, as tests do).
    pub fn forget_lookup_epochs(&self) {
        *self.lookup_epochs.lock().expect("lookup epochs lock") = None;
    }

    /// A new data key for `account_id`, with its wrapped form for storage (under the current
    /// epoch's key).
    pub fn new_data_key(&self, account_id: &str) -> (DataKey, Vec<u8>) {
        let key = SecretKey::generate();
        let wrapped = self
            .wrap(account_id, &key, self.current_epoch())
            .expect("the current epoch is never retired");
        (
            DataKey {
                key,
                owner: account_id.to_string(),
            },
            wrapped,
        )
    }

    fn wrap(&self, account_id: &str, key: &SecretKey, epoch: u64) -> StoreResult<Vec<u8>> {
        let ek = self.epoch_key(epoch)?;
        let mut out = Vec::with_capacity(1 + 8 + 1 + NONCE_LEN + 32 + 16);
        out.push(EPOCH_WRAP);
        out.extend_from_slice(&epoch.to_be_bytes());
        out.extend_from_slice(&ek.seal(&epoch_wrap_aad(account_id, epoch), &key.0));
        Ok(out)
    }

    /// Unwraps a stored data key; `None` stored means erasure destroyed it, and a key wrapped
    /// under a retired epoch is [`StoreError::KeyRetired`]: equally gone.
    pub fn unwrap_data_key(
        &self,
        account_id: &str,
        wrapped: Option<&[u8]>,
    ) -> StoreResult<DataKey> {
        let wrapped = wrapped.ok_or(StoreError::KeyDestroyed)?;
        let raw = match wrapped_epoch(wrapped) {
            Some(epoch) => self
                .epoch_key(epoch)?
                .open(&epoch_wrap_aad(account_id, epoch), &wrapped[9..])?,
            // Wrapped directly under the master key before key epochs; the first rotation
            // re-wraps it under an epoch key.
            None => self.master.open(&legacy_wrap_aad(account_id), wrapped)?,
        };
        let b: [u8; 32] = raw
            .try_into()
            .map_err(|_| StoreError::Decrypt("data key".into()))?;
        Ok(DataKey {
            key: SecretKey(b),
            owner: account_id.to_string(),
        })
    }

    /// Wraps an unwrapped data key under `epoch` for storage.
    pub fn wrap_data_key(&self, key: &DataKey, epoch: u64) -> StoreResult<Vec<u8>> {
        self.wrap(&key.owner, &key.key, epoch)
    }

    /// The stored key re-wrapped under epoch `to`, or `None` when it already is under `to` or
    /// a later epoch. Fails like [`Keyring::unwrap_data_key`] when it cannot be opened.
    pub fn rewrap(
        &self,
        account_id: &str,
        wrapped: &[u8],
        to: u64,
    ) -> StoreResult<Option<Vec<u8>>> {
        if wrapped_epoch(wrapped).is_some_and(|e| e >= to) {
            return Ok(None);
        }
        let dk = self.unwrap_data_key(account_id, Some(wrapped))?;
        Ok(Some(self.wrap(account_id, &dk.key, to)?))
    }

    /// Seals a short-lived value under the current epoch's key, so that copies of it in dead
    /// rows and backups become unreadable with the epoch, like data keys.
    pub fn seal_for_epoch(&self, aad: &str, plain: &[u8]) -> Vec<u8> {
        let epoch = self.current_epoch();
        let ek = self
            .epoch_key(epoch)
            .expect("the current epoch is never retired");
        let mut out = vec![EPOCH_WRAP];
        out.extend_from_slice(&epoch.to_be_bytes());
        out.extend_from_slice(&ek.seal(&format!("{aad}@epoch:{epoch}"), plain));
        out
    }

    /// Opens a value sealed by [`Keyring::seal_for_epoch`] with the same `aad`.
    pub fn open_from_epoch(&self, aad: &str, sealed: &[u8]) -> StoreResult<Vec<u8>> {
        let epoch = wrapped_epoch(sealed).ok_or_else(|| StoreError::Decrypt(aad.to_string()))?;
        self.epoch_key(epoch)?
            .open(&format!("{aad}@epoch:{epoch}"), &sealed[9..])
    }

    /// Destroys every epoch key before `epoch`: the keyring file is rewritten first (so a
    /// crash cannot leave the file behind memory), then the seeds in memory are wiped.
    pub fn retire_before(&self, epoch: u64) -> StoreResult<()> {
        self.current_epoch();
        let mut guard = self.epochs.write().expect("keyring lock");
        let r = guard.as_mut().expect("current_epoch started the ratchet");
        if epoch <= r.oldest() {
            return Ok(());
        }
        if let Some(path) = &self.file {
            let mut next = Ratchet::new(r.oldest(), r.seed().clone());
            next.retire_before(epoch);
            epochs::write_file(path, &self.master, &next)?;
        }
        r.retire_before(epoch);
        Ok(())
    }

    /// Adopts retirements another process wrote to the keyring file (never goes back).
    /// Returns the oldest kept epoch afterwards.
    pub fn reload(&self) -> StoreResult<u64> {
        let Some(path) = &self.file else {
            return Ok(self.oldest_epoch());
        };
        let on_disk = epochs::read_file(path, &self.master)?;
        let mut guard = self.epochs.write().expect("keyring lock");
        let r = guard.as_mut().expect("a keyring with a file has a ratchet");
        if on_disk.oldest() > r.oldest() {
            r.retire_before(on_disk.oldest());
        }
        Ok(r.oldest())
    }
}

impl Keyring {
    /// Wraps a data key directly under the master key, as hiatus did before key epochs: only
    /// for tests of the upgrade.
    #[doc(hidden)]
    pub fn legacy_wrap_for_tests(&self, account_id: &str, key: &DataKey) -> Vec<u8> {
        self.master.seal(&legacy_wrap_aad(account_id), &key.key.0)
    }
}

fn legacy_wrap_aad(account_id: &str) -> String {
    format!("accounts.data_key:{account_id}")
}

/// Binds a wrapped key to its account and its epoch, so neither can be swapped.
fn epoch_wrap_aad(account_id: &str, epoch: u64) -> String {
    format!("accounts.data_key:{account_id}@epoch:{epoch}")
}

impl DataKey {
    /// Seals a personal field stored at `table.column` of row `row_id`.
    pub fn seal_field(&self, table: &str, column: &str, row_id: &str, plain: &str) -> Vec<u8> {
        self.key.seal(
            &field_aad(&self.owner, table, column, row_id),
            plain.as_bytes(),
        )
    }
    /// Opens a personal field.
    pub fn open_field(
        &self,
        table: &str,
        column: &str,
        row_id: &str,
        sealed: &[u8],
    ) -> StoreResult<String> {
        let b = self
            .key
            .open(&field_aad(&self.owner, table, column, row_id), sealed)?;
        String::from_utf8(b)
            .map_err(|_| StoreError::Corrupt(format!("{table}.{column} is not text")))
    }
    /// Seals the bytes of a private file.
    pub fn seal_blob(&self, file_id: &str, plain: &[u8]) -> Vec<u8> {
        self.key
            .seal(&field_aad(&self.owner, "files", "blob", file_id), plain)
    }
    /// Opens the bytes of a private file.
    pub fn open_blob(&self, file_id: &str, sealed: &[u8]) -> StoreResult<Vec<u8>> {
        self.key
            .open(&field_aad(&self.owner, "files", "blob", file_id), sealed)
    }
}

fn field_aad(owner: &str, table: &str, column: &str, row_id: &str) -> String {
    format!("{owner}/{table}.{column}:{row_id}")
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let ring = Keyring::new(SecretKey::generate())
            .with_clock(Arc::new(move || c.load(Ordering::SeqCst)));
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
}
