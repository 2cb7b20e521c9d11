//! Encryption at rest. Every member has a random data key; personal fields are sealed with it
//! (XChaCha20-Poly1305, a fresh random nonce per value, the table, column and row bound as
//! associated data so values cannot be swapped between rows). The data key is stored wrapped
//! by the master key. Destroying one wrapped key makes every copy of that member's personal
//! data unreadable: WAL frames, dead rows, replicas and backups alike.

use crate::error::{StoreError, StoreResult};
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::fmt;
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

/// The server's keys: the master key that wraps data keys, and a lookup key for the keyed
/// hash of email addresses (derived from the master key, so one secret is enough).
#[derive(Clone, Debug)]
pub struct Keyring {
    master: SecretKey,
    lookup: SecretKey,
}

/// One member's data key, unwrapped.
#[derive(Clone, Debug)]
pub struct DataKey {
    key: SecretKey,
    owner: String,
}

impl Keyring {
    /// From the master key.
    pub fn new(master: SecretKey) -> Self {
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&master.0).expect("any key length");
        mac.update(b"hiatus email lookup key v1");
        let lookup: [u8; 32] = mac.finalize().into_bytes().into();
        Self {
            master,
            lookup: SecretKey(lookup),
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

    /// The keyed hash under which an account is found by its normalized email.
    pub fn email_lookup(&self, normalized_email: &str) -> Vec<u8> {
        let mut mac =
            <Hmac<Sha256> as KeyInit>::new_from_slice(&self.lookup.0).expect("any key length");
        mac.update(normalized_email.as_bytes());
        mac.finalize().into_bytes().to_vec()
    }

    /// A new data key for `account_id`, with its wrapped form for storage.
    pub fn new_data_key(&self, account_id: &str) -> (DataKey, Vec<u8>) {
        let key = SecretKey::generate();
        let wrapped = self.master.seal(&wrap_aad(account_id), &key.0);
        (
            DataKey {
                key,
                owner: account_id.to_string(),
            },
            wrapped,
        )
    }

    /// Unwraps a stored data key; `None` stored means erasure destroyed it.
    pub fn unwrap_data_key(
        &self,
        account_id: &str,
        wrapped: Option<&[u8]>,
    ) -> StoreResult<DataKey> {
        let wrapped = wrapped.ok_or(StoreError::KeyDestroyed)?;
        let raw = self.master.open(&wrap_aad(account_id), wrapped)?;
        let b: [u8; 32] = raw
            .try_into()
            .map_err(|_| StoreError::Decrypt("data key".into()))?;
        Ok(DataKey {
            key: SecretKey(b),
            owner: account_id.to_string(),
        })
    }
}

fn wrap_aad(account_id: &str) -> String {
    format!("accounts.data_key:{account_id}")
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

    #[test]
    fn email_lookup_is_keyed_and_stable() {
        let k = SecretKey::generate();
        let a = Keyring::new(k.clone());
        let b = Keyring::new(k);
        assert_eq!(
            a.email_lookup("x@example.com"),
            b.email_lookup("x@example.com")
        );
        assert_ne!(
            a.email_lookup("x@example.com"),
            Keyring::new(SecretKey::generate()).email_lookup("x@example.com")
        );
        assert!(format!("{a:?}").contains("redacted"));
    }

    #[test]
    fn hex_keys_parse() {
        let k = SecretKey::generate();
        let h = k.to_hex();
        assert_eq!(SecretKey::from_hex(&h).unwrap().0, k.0);
        assert!(SecretKey::from_hex("abc").is_err());
    }
}
