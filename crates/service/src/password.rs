//! Password hashing with Argon2id, stored in the PHC string format.

use crate::config::PasswordParams;
use argon2::{Algorithm, Argon2, Params, Version};
use base64::Engine;
use base64::engine::general_purpose::STANDARD_NO_PAD as B64;

/// The shortest password accepted.
pub const MIN_LEN: usize = 10;
/// The longest password accepted (hashing cost grows with length).
pub const MAX_LEN: usize = 256;

/// Checks the length of a password a member chooses (sign-up, change, reset).
pub fn check_new(password: &str) -> crate::ServiceResult<()> {
    let len = password.chars().count();
    if len < MIN_LEN {
        return Err(crate::ServiceError::invalid(
            "weak_password",
            format!("a password needs at least {MIN_LEN} characters"),
        ));
    }
    if len > MAX_LEN {
        return Err(crate::ServiceError::invalid(
            "field_too_long",
            format!("a password can be at most {MAX_LEN} characters"),
        ));
    }
    Ok(())
}

fn argon(p: PasswordParams) -> Argon2<'static> {
    let params = Params::new(p.memory_kib, p.iterations, p.parallelism, Some(32))
        .expect("valid Argon2 parameters");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Hashes a password with a fresh salt.
pub fn hash(password: &str, p: PasswordParams) -> String {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).expect("random source");
    let mut out = [0u8; 32];
    argon(p)
        .hash_password_into(password.as_bytes(), &salt, &mut out)
        .expect("Argon2 with valid parameters");
    format!(
        "$argon2id$v=19$m={},t={},p={}${}${}",
        p.memory_kib,
        p.iterations,
        p.parallelism,
        B64.encode(salt),
        B64.encode(out)
    )
}

/// Checks a password against a stored hash (using the parameters stored with it).
pub fn verify(password: &str, stored: &str) -> bool {
    let parts: Vec<&str> = stored.split('$').collect();
    // ["", "argon2id", "v=19", "m=..,t=..,p=..", salt, hash]
    if parts.len() != 6 || parts[1] != "argon2id" || parts[2] != "v=19" {
        return false;
    }
    let mut p = PasswordParams {
        memory_kib: 0,
        iterations: 0,
        parallelism: 0,
    };
    for kv in parts[3].split(',') {
        let (k, v) = kv.split_once('=').unwrap_or(("", ""));
        let v: u32 = v.parse().unwrap_or(0);
        match k {
            "m" => p.memory_kib = v,
            "t" => p.iterations = v,
            "p" => p.parallelism = v,
            _ => return false,
        }
    }
    let (Ok(salt), Ok(expected)) = (B64.decode(parts[4]), B64.decode(parts[5])) else {
        return false;
    };
    let Ok(params) = Params::new(
        p.memory_kib,
        p.iterations,
        p.parallelism,
        Some(expected.len()),
    ) else {
        return false;
    };
    let mut out = vec![0u8; expected.len()];
    if Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
        .hash_password_into(password.as_bytes(), &salt, &mut out)
        .is_err()
    {
        return false;
    }
    // Constant-time comparison.
    out.iter()
        .zip(&expected)
        .fold(0u8, |acc, (a, b)| acc | (a ^ b))
        == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_verify_and_differ() {
        let h1 = hash("correct horse battery", PasswordParams::FAST);
        let h2 = hash("correct horse battery", PasswordParams::FAST);
        assert_ne!(h1, h2);
        assert!(verify("correct horse battery", &h1));
        assert!(!verify("correct horse batterx", &h1));
        assert!(!verify("x", "not a hash"));
        assert!(h1.starts_with("$argon2id$v=19$m=64,t=1,p=1$"));
    }
}
