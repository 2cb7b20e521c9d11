//! The secrets in emailed links and request ids (cancel-deletion links, password resets,
//! restoration requests): 32 random bytes as 64 lowercase hex digits, stored only as hashes,
//! compared in constant time.

use crate::error::{ServiceError, ServiceResult};

/// A fresh secret.
pub fn new() -> String {
    hex::encode(hiatus_store::crypto::random_bytes::<32>())
}

/// A secret has our shape (64 hex digits); anything else names nothing of ours: 404 for
/// `what`, without a lookup.
pub fn check(secret: &str, what: &'static str) -> ServiceResult<()> {
    if secret.len() == 64 && secret.chars().all(|c| c.is_ascii_hexdigit()) {
        Ok(())
    } else {
        Err(ServiceError::NotFound(what))
    }
}

/// Compares two hashes without leaking, through timing, how much of them matches.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_have_one_shape() {
        let s = new();
        assert_eq!(s.len(), 64);
        assert_ne!(s, new());
        assert!(check(&s, "link").is_ok());
        assert!(check("../etc", "link").is_err());
        assert!(check(&"g".repeat(64), "link").is_err());
        assert!(check(&s[..63], "link").is_err());
    }

    #[test]
    fn equal_only_when_equal() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }
}
