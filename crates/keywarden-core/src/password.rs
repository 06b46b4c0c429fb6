//! Console passwords: argon2id with a per-password salt, as PHC strings.
//! Hashing takes tens of milliseconds on purpose: callers on an async runtime run these on a
//! blocking thread.

use argon2::password_hash::{PasswordHasher, PasswordVerifier, phc::PasswordHash};
use argon2::{Algorithm, Argon2, Params, Version};

/// Shortest password accepted.
pub const MIN_PASSWORD_LEN: usize = 12;
/// Longest password accepted (argon2 input stays bounded).
pub const MAX_PASSWORD_LEN: usize = 1024;

/// Why a password was refused or could not be hashed.
#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    /// Shorter than [`MIN_PASSWORD_LEN`].
    #[error("the password must be at least {MIN_PASSWORD_LEN} characters long")]
    TooShort,
    /// Longer than [`MAX_PASSWORD_LEN`].
    #[error("the password must be at most {MAX_PASSWORD_LEN} characters long")]
    TooLong,
    /// argon2 failed.
    #[error("password hashing failed: {0}")]
    Hashing(String),
}

fn argon2() -> Argon2<'static> {
    // OWASP's second argon2id profile: 19 MiB, 2 passes, 1 lane.
    let params = Params::new(19 * 1024, 2, 1, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Hashes a new password after checking its length.
pub fn hash(password: &str) -> Result<String, PasswordError> {
    let len = password.chars().count();
    if len < MIN_PASSWORD_LEN {
        return Err(PasswordError::TooShort);
    }
    if len > MAX_PASSWORD_LEN {
        return Err(PasswordError::TooLong);
    }
    argon2()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| PasswordError::Hashing(e.to_string()))
}

/// Checks a password against a stored PHC string. Anything unreadable is a mismatch.
pub fn verify(password: &str, phc: &str) -> bool {
    if password.len() > MAX_PASSWORD_LEN * 4 {
        return false;
    }
    match PasswordHash::new(phc) {
        Ok(parsed) => argon2()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

/// A hash of a random password, verified against when the email is unknown so that an unknown
/// email costs the same time as a wrong password.
pub fn decoy_hash() -> &'static str {
    "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$2a0nVfmQUoYbN0jR1m4x3q9HqmOHkS0rWs4cTr3nYpA"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_verify_and_mismatch() {
        let h = hash("correct horse battery").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify("correct horse battery", &h));
        assert!(!verify("wrong horse battery", &h));
        assert!(!verify("anything", "not a phc string"));
    }

    #[test]
    fn short_passwords_are_refused() {
        assert!(matches!(hash("short"), Err(PasswordError::TooShort)));
    }

    #[test]
    fn the_decoy_is_a_real_argon2id_hash_with_the_same_cost() {
        let parsed = PasswordHash::new(decoy_hash()).unwrap();
        let real = hash("some long password").unwrap();
        let real = PasswordHash::new(&real).unwrap();
        assert_eq!(parsed.algorithm, real.algorithm);
        assert_eq!(parsed.params.to_string(), real.params.to_string());
        assert!(!verify("some long password", decoy_hash()));
    }
}
