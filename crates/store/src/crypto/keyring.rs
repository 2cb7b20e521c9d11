//! The server's keyring: the master key, the epoch ratchet whose keys wrap members' data keys,
//! and the keyed hashes under which accounts are found by email.

use super::{DataKey, NONCE_LEN, SecretKey};
use crate::epochs::{self, Ratchet, RatchetError};
use crate::error::{StoreError, StoreResult};
use chacha20poly1305::aead::KeyInit;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

/// Where the current time comes from; the service wires in its injected clock.
pub type NowFn = Arc<dyn Fn() -> i64 + Send + Sync>;

/// The server's keys: the master key, which seals the keyring file and derives a few
/// long-lived secrets; and the epoch ratchet, whose keys wrap data keys and key the hashes
/// under which accounts are found by email (see [`Keyring::lookup_key`]).
#[derive(Clone)]
pub struct Keyring {
    pub(super) master: SecretKey,
    /// The email lookup key of rows written before lookups were keyed per epoch (derived
    /// from the master key); such rows have no recorded epoch until a rotation rehashes them.
    pub(super) legacy_lookup: SecretKey,
    /// The epochs under which live accounts' email lookups are hashed, as last read from the
    /// database (see [`Keyring::lookup_epochs`]).
    pub(super) lookup_epochs: Arc<Mutex<Option<LookupEpochs>>>,
    /// `None` until first used, for a keyring with no file (tests): it then starts at the
    /// epoch its clock says.
    pub(super) epochs: Arc<RwLock<Option<Ratchet>>>,
    /// The keyring file, when the epoch state is kept in one.
    pub(super) file: Option<Arc<PathBuf>>,
    pub(super) now: NowFn,
    pub(super) epoch_days: u64,
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
pub(super) struct LookupEpochs {
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

pub(super) fn legacy_wrap_aad(account_id: &str) -> String {
    format!("accounts.data_key:{account_id}")
}

/// Binds a wrapped key to its account and its epoch, so neither can be swapped.
fn epoch_wrap_aad(account_id: &str, epoch: u64) -> String {
    format!("accounts.data_key:{account_id}@epoch:{epoch}")
}
