//! Forward-secure key epochs. Data keys are wrapped under the key of an *epoch* (a UTC day),
//! and epoch keys come from a one-way hash ratchet: the seed of day n+1 is a keyed hash of the
//! seed of day n, and day n's key is another keyed hash of its seed. Whoever holds the seed of
//! day M derives every key from M on, and none before it. Retiring epochs before M' replaces
//! the kept seed by seed M' and wipes the old one: from then on no process, file or backup of
//! hiatus can derive those keys, so every data key wrapped under them — including the copies
//! in dead rows, WAL and database dumps — is unreadable.
//!
//! The state (oldest kept epoch and its seed) lives in a keyring file in the data folder,
//! sealed under the master key, and never in the database: a wrapped copy there would leave
//! dead copies of the very seed retirement destroys. Every process derives the same keys from
//! the same file with no coordination; the current epoch comes from the clock.

use crate::crypto::SecretKey;
use crate::error::{StoreError, StoreResult};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::path::{Path, PathBuf};
use zeroize::Zeroizing;

/// One UTC day in microseconds: the unit epochs are numbered in.
pub const EPOCH_UNIT_MICROS: i64 = 86_400 * 1_000_000;

/// The epoch (UTC day number) a time falls in.
pub fn day_of(t: i64) -> u64 {
    t.div_euclid(EPOCH_UNIT_MICROS).max(0) as u64
}

/// The time an epoch begins.
pub fn epoch_start(epoch: u64) -> i64 {
    (epoch as i64).saturating_mul(EPOCH_UNIT_MICROS)
}

fn keyed_hash(key: &[u8; 32], label: &[u8]) -> [u8; 32] {
    let mut mac =
        <Hmac<Sha256> as hmac::digest::KeyInit>::new_from_slice(key).expect("any key length");
    mac.update(label);
    mac.finalize().into_bytes().into()
}

/// The seed that follows `seed`; there is no way back.
fn next_seed(seed: &SecretKey) -> SecretKey {
    SecretKey::from_bytes(keyed_hash(seed.bytes(), b"hiatus epoch ratchet v1"))
}

/// The key of the epoch whose seed is `seed`.
fn epoch_key(seed: &SecretKey) -> SecretKey {
    SecretKey::from_bytes(keyed_hash(seed.bytes(), b"hiatus epoch key v1"))
}

/// Asked for an epoch the ratchet no longer (or cannot yet) derive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RatchetError {
    /// Before the oldest kept epoch: its seed was destroyed.
    Retired(u64),
    /// Too far past the current epoch to be real (a damaged or forged wrapped key).
    Future(u64),
}

/// The kept state of the ratchet and the epoch keys derived from it so far.
pub struct Ratchet {
    oldest: u64,
    seed: SecretKey,
    /// Keys of epochs `oldest ..= oldest + keys.len() - 1`.
    keys: Vec<SecretKey>,
    /// Seed of epoch `oldest + keys.len()`.
    next: SecretKey,
}

impl std::fmt::Debug for Ratchet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ratchet")
            .field("oldest", &self.oldest)
            .finish_non_exhaustive()
    }
}

impl Ratchet {
    /// The ratchet whose oldest kept epoch is `oldest`, with that epoch's seed.
    pub fn new(oldest: u64, seed: SecretKey) -> Self {
        Self {
            oldest,
            next: seed.clone(),
            seed,
            keys: Vec::new(),
        }
    }

    /// The oldest epoch whose key can still be derived.
    pub fn oldest(&self) -> u64 {
        self.oldest
    }

    pub(crate) fn seed(&self) -> &SecretKey {
        &self.seed
    }

    /// The key of `epoch` if already derived.
    pub fn peek(&self, epoch: u64) -> Option<&SecretKey> {
        let i = epoch.checked_sub(self.oldest)?;
        self.keys.get(usize::try_from(i).ok()?)
    }

    /// The key of `epoch`, derived forward from the kept seed; `limit` is the newest epoch that
    /// may be asked for (so a damaged number cannot make the ratchet hash for years).
    pub fn key(&mut self, epoch: u64, limit: u64) -> Result<&SecretKey, RatchetError> {
        if epoch < self.oldest {
            return Err(RatchetError::Retired(epoch));
        }
        if epoch > limit.max(self.oldest) {
            return Err(RatchetError::Future(epoch));
        }
        let i = (epoch - self.oldest) as usize;
        while self.keys.len() <= i {
            self.keys.push(epoch_key(&self.next));
            self.next = next_seed(&self.next);
        }
        Ok(&self.keys[i])
    }

    /// Destroys every epoch before `epoch`: the kept seed becomes that epoch's, older seeds and
    /// keys are wiped from memory. Moving backwards is impossible and a no-op.
    pub fn retire_before(&mut self, epoch: u64) {
        if epoch <= self.oldest {
            return;
        }
        let mut seed = self.seed.clone();
        for _ in self.oldest..epoch {
            seed = next_seed(&seed);
        }
        let drop_n = ((epoch - self.oldest) as usize).min(self.keys.len());
        // `SecretKey` wipes itself on drop.
        self.keys.drain(..drop_n);
        if self.keys.is_empty() {
            self.next = seed.clone();
        }
        self.seed = seed;
        self.oldest = epoch;
    }
}

/// The contents of a keyring file, opened.
#[derive(serde::Serialize, serde::Deserialize)]
struct FileBody {
    format: String,
    oldest_epoch: u64,
    /// Hex seed of the oldest epoch.
    seed: String,
}

const FILE_MAGIC: &[u8] = b"hiatus keyring v1\n";
const FILE_FORMAT: &str = "hiatus keyring: epochs are UTC days, keys from a hash ratchet";
const FILE_AAD: &str = "hiatus keyring file v1";

/// The key that seals the keyring file: the master key's one remaining job besides a few
/// long-lived derived secrets.
fn file_key(master: &SecretKey) -> SecretKey {
    SecretKey::from_bytes(keyed_hash(master.bytes(), b"hiatus keyring file key v1"))
}

/// Reads and opens a keyring file.
pub fn read_file(path: &Path, master: &SecretKey) -> StoreResult<Ratchet> {
    let bytes = std::fs::read(path)?;
    let sealed = bytes.strip_prefix(FILE_MAGIC).ok_or_else(|| {
        StoreError::Config(format!("{} is not a hiatus keyring file", path.display()))
    })?;
    let plain = Zeroizing::new(file_key(master).open(FILE_AAD, sealed).map_err(|_| {
        StoreError::Config(format!(
            "the keyring file {} cannot be opened with this master key: use the master key it was made with (or restore the keyring file that belongs to this master key)",
            path.display()
        ))
    })?);
    let body: FileBody = serde_json::from_slice(&plain)
        .map_err(|e| StoreError::Corrupt(format!("keyring file {}: {e}", path.display())))?;
    let seed_hex = Zeroizing::new(body.seed);
    let seed = SecretKey::from_hex(&seed_hex)
        .map_err(|_| StoreError::Corrupt(format!("keyring file {}: bad seed", path.display())))?;
    Ok(Ratchet::new(body.oldest_epoch, seed))
}

/// Writes the ratchet's kept state to `path` atomically: a private temporary file, synced,
/// renamed over the old one, and the folder synced, so a crash leaves the old file or the new
/// one and never a torn one.
pub fn write_file(path: &Path, master: &SecretKey, r: &Ratchet) -> StoreResult<()> {
    use std::io::Write;
    let body = FileBody {
        format: FILE_FORMAT.into(),
        oldest_epoch: r.oldest,
        seed: r.seed.to_hex(),
    };
    let plain = Zeroizing::new(serde_json::to_vec(&body).expect("plain data serializes"));
    drop(Zeroizing::new(body.seed));
    let mut out = FILE_MAGIC.to_vec();
    out.extend_from_slice(&file_key(master).seal(FILE_AAD, &plain));
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let tmp: PathBuf = dir.join(format!(
        ".{}.{}.tmp",
        path.file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("keyring"),
        hex::encode(crate::crypto::random_bytes::<8>())
    ));
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let written = (|| {
        let mut f = opts.open(&tmp)?;
        f.write_all(&out)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)?;
        #[cfg(unix)]
        std::fs::File::open(dir)?.sync_all()?;
        Ok::<_, std::io::Error>(())
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_processes_derive_the_same_keys_from_the_same_seed() {
        let seed = SecretKey::generate();
        let mut a = Ratchet::new(100, seed.clone());
        let mut b = Ratchet::new(100, seed);
        // Derived in different orders, as two processes would.
        let a105 = a.key(105, 200).unwrap().bytes().to_owned();
        let b101 = b.key(101, 200).unwrap().bytes().to_owned();
        assert_eq!(b.key(105, 200).unwrap().bytes(), &a105);
        assert_eq!(a.key(101, 200).unwrap().bytes(), &b101);
        assert_ne!(a105, b101);
        // A process that starts from a later kept state agrees on the later epochs.
        let mut c = Ratchet::new(100, a.seed().clone());
        c.retire_before(103);
        assert_eq!(c.key(105, 200).unwrap().bytes(), &a105);
    }

    #[test]
    fn a_retired_epoch_cannot_be_derived_from_the_kept_state() {
        let mut r = Ratchet::new(10, SecretKey::generate());
        let old: Vec<[u8; 32]> = (10..20).map(|e| *r.key(e, 30).unwrap().bytes()).collect();
        r.retire_before(15);
        assert_eq!(r.oldest(), 15);
        for e in 10..15 {
            assert_eq!(r.key(e, 30).err(), Some(RatchetError::Retired(e)));
        }
        // The kept seed's whole forward chain never meets a retired key or seed.
        let mut s = r.seed().clone();
        for _ in 0..100 {
            assert!(!old[..5].contains(epoch_key(&s).bytes()));
            s = next_seed(&s);
        }
        // Kept epochs still open; going back is a no-op.
        assert_eq!(r.key(17, 30).unwrap().bytes(), &old[7]);
        r.retire_before(12);
        assert_eq!(r.oldest(), 15);
        assert_eq!(r.key(40, 30).err(), Some(RatchetError::Future(40)));
    }

    #[cfg(unix)]
    #[test]
    fn the_keyring_file_is_private_rewritten_atomically_and_needs_its_master_key() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keyring");
        let master = SecretKey::generate();
        let mut r = Ratchet::new(7, SecretKey::generate());
        let k9 = *r.key(9, 9).unwrap().bytes();
        write_file(&path, &master, &r).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let mut back = read_file(&path, &master).unwrap();
        assert_eq!(back.oldest(), 7);
        assert_eq!(back.key(9, 9).unwrap().bytes(), &k9);

        // A rewrite replaces the file whole and leaves no temporary file behind.
        r.retire_before(8);
        write_file(&path, &master, &r).unwrap();
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("keyring")]);
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let mut back = read_file(&path, &master).unwrap();
        assert_eq!(back.oldest(), 8);
        assert_eq!(back.key(9, 9).unwrap().bytes(), &k9);
        // The file never holds the raw seed.
        let raw = std::fs::read(&path).unwrap();
        let seed_hex = r.seed().to_hex();
        assert!(
            !raw.windows(seed_hex.len())
                .any(|w| w == seed_hex.as_bytes())
        );

        // Another master key gets a clear error, not garbage.
        let err = read_file(&path, &SecretKey::generate()).unwrap_err();
        assert!(
            err.to_string()
                .contains("cannot be opened with this master key"),
            "{err}"
        );
        std::fs::write(&path, b"something else").unwrap();
        let err = read_file(&path, &master).unwrap_err();
        assert!(
            err.to_string().contains("not a hiatus keyring file"),
            "{err}"
        );
    }
}
