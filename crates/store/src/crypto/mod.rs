//! Encryption at rest. Every member has a random data key; personal fields are sealed with it
//! (XChaCha20-Poly1305, a fresh random nonce per value, the table, column and row bound as
//! associated data so values cannot be swapped between rows). The data key is stored wrapped
//! by the key of the current epoch (see [`crate::epochs`]). Destroying the live wrapped key
//! makes the member's data unreadable in the live system at once; copies of the wrapped key
//! left in dead rows, WAL, replicas and backups become unreadable when the epochs they were
//! wrapped under are retired, after the backup window.

mod keyring;
#[cfg(test)]
mod tests;

pub use keyring::{Keyring, LOOKUP_EPOCHS_FOR, LookupKey, NowFn, wrapped_epoch};

use crate::error::{StoreError, StoreResult};
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
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

/// One member's data key, unwrapped.
#[derive(Clone, Debug)]
pub struct DataKey {
    key: SecretKey,
    owner: String,
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
