//! Console passwords: argon2id with a per-password salt, as PHC strings.
//!
//! Hashing takes tens of milliseconds and 19 MiB on purpose. [`HashingMemory`] owns those
//! 19 MiB and is reused hash after hash, so a server that runs a fixed number of hashing workers
//! holds a fixed amount of memory however many sign-ins arrive at once (allocating per hash on
//! many threads let the allocator keep gigabytes in per-thread arenas). [`hash`] and [`verify`]
//! are the one-off forms for the CLI and tests.

use argon2::password_hash::phc::{Output, ParamsString, PasswordHash, Salt};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use subtle::ConstantTimeEq;

/// Shortest password accepted.
pub const MIN_PASSWORD_LEN: usize = 12;
/// Longest password accepted (argon2 input stays bounded).
pub const MAX_PASSWORD_LEN: usize = 1024;
/// Most memory a stored hash may ask for (KiB); a hash that asks for more is a mismatch.
const MAX_STORED_M_COST: u32 = 64 * 1024;

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

/// OWASP's second argon2id profile: 19 MiB, 2 passes, 1 lane.
fn params() -> Params {
    Params::new(19 * 1024, 2, 1, None).unwrap_or_default()
}

/// Checks a new password's length.
pub fn check_length(password: &str) -> Result<(), PasswordError> {
    let len = password.chars().count();
    if len < MIN_PASSWORD_LEN {
        return Err(PasswordError::TooShort);
    }
    if len > MAX_PASSWORD_LEN {
        return Err(PasswordError::TooLong);
    }
    Ok(())
}

/// argon2's working memory, allocated once and reused by every hash and check made with it.
pub struct HashingMemory {
    blocks: Vec<Block>,
}

impl std::fmt::Debug for HashingMemory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HashingMemory")
            .field("blocks", &self.blocks.len())
            .finish()
    }
}

impl Default for HashingMemory {
    fn default() -> Self {
        Self::new()
    }
}

impl HashingMemory {
    /// Memory for this crate's parameters (19 MiB).
    pub fn new() -> Self {
        Self {
            blocks: vec![Block::new(); params().block_count()],
        }
    }

    /// Bytes held.
    pub fn bytes(&self) -> usize {
        self.blocks.len() * Block::SIZE
    }

    /// The first `count` blocks, grown once if a stored hash asks for more than held.
    fn blocks(&mut self, count: usize) -> &mut [Block] {
        if self.blocks.len() < count {
            self.blocks.resize(count, Block::new());
        }
        let held = self.blocks.as_mut_slice();
        let len = held.len().min(count);
        held.get_mut(..len).unwrap_or_default()
    }

    /// Hashes a new password after checking its length.
    pub fn hash(&mut self, password: &str) -> Result<String, PasswordError> {
        check_length(password)?;
        let params = params();
        let failed = |e: &dyn std::fmt::Display| PasswordError::Hashing(e.to_string());
        let salt = Salt::generate();
        let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
        let blocks = self.blocks(params.block_count());
        Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone())
            .hash_password_into_with_memory(password.as_bytes(), &salt, &mut out, blocks)
            .map_err(|e| failed(&e))?;
        let phc = PasswordHash {
            algorithm: Algorithm::Argon2id.ident(),
            version: Some(Version::V0x13.into()),
            params: ParamsString::try_from(&params).map_err(|e| failed(&e))?,
            salt: Some(salt),
            hash: Some(Output::new(&out).map_err(|e| failed(&e))?),
        };
        Ok(phc.to_string())
    }

    /// Checks a password against a stored PHC string. Anything unreadable is a mismatch.
    pub fn verify(&mut self, password: &str, phc: &str) -> bool {
        if password.len() > MAX_PASSWORD_LEN * 4 {
            return false;
        }
        let Ok(parsed) = PasswordHash::new(phc) else {
            return false;
        };
        let (Ok(algorithm), Some(salt), Some(expected)) = (
            Algorithm::try_from(parsed.algorithm.as_str()),
            parsed.salt.as_ref(),
            parsed.hash.as_ref(),
        ) else {
            return false;
        };
        let version = parsed
            .version
            .map_or(Ok(Version::default()), Version::try_from);
        let (Ok(version), Ok(params)) = (version, Params::try_from(&parsed)) else {
            return false;
        };
        if params.m_cost() > MAX_STORED_M_COST || params.p_cost() != 1 {
            return false;
        }
        let mut out = [0u8; Output::MAX_LENGTH];
        let Some(out) = out.get_mut(..expected.len()) else {
            return false;
        };
        let blocks = self.blocks(params.block_count());
        Argon2::new(algorithm, version, params)
            .hash_password_into_with_memory(password.as_bytes(), salt.as_ref(), out, blocks)
            .is_ok()
            && bool::from(out.ct_eq(expected.as_ref()))
    }
}

/// Hashes a new password after checking its length, with memory of its own.
pub fn hash(password: &str) -> Result<String, PasswordError> {
    HashingMemory::new().hash(password)
}

/// Checks a password against a stored PHC string, with memory of its own.
pub fn verify(password: &str, phc: &str) -> bool {
    HashingMemory::new().verify(password, phc)
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

    #[test]
    fn one_memory_serves_many_hashes_and_checks() {
        let mut memory = HashingMemory::new();
        assert_eq!(memory.bytes(), 19 * 1024 * 1024);
        let first = memory.hash("first long password").unwrap();
        let second = memory.hash("second long password").unwrap();
        assert_ne!(first, second);
        for _ in 0..2 {
            assert!(memory.verify("first long password", &first));
            assert!(memory.verify("second long password", &second));
            assert!(!memory.verify("second long password", &first));
        }
        assert_eq!(memory.bytes(), 19 * 1024 * 1024, "nothing grew");
    }

    #[test]
    fn hashes_made_by_the_argon2_crate_itself_still_verify() {
        use argon2::password_hash::PasswordHasher;
        let stored = Argon2::new(Algorithm::Argon2id, Version::V0x13, params())
            .hash_password(b"an older stored password")
            .unwrap()
            .to_string();
        let mut memory = HashingMemory::new();
        assert!(memory.verify("an older stored password", &stored));
        assert!(!memory.verify("an older stored passworD", &stored));
        let ours = memory.hash("an older stored password").unwrap();
        use argon2::password_hash::PasswordVerifier;
        let parsed = PasswordHash::new(&ours).unwrap();
        assert!(
            Argon2::default()
                .verify_password(b"an older stored password", &parsed)
                .is_ok(),
            "the crate's own verifier accepts what we store"
        );
    }

    #[test]
    fn a_stored_hash_that_asks_for_huge_memory_is_a_mismatch() {
        let greedy = "$argon2id$v=19$m=4194304,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$2a0nVfmQUoYbN0jR1m4x3q9HqmOHkS0rWs4cTr3nYpA";
        let mut memory = HashingMemory::new();
        assert!(!memory.verify("anything at all", greedy));
        assert_eq!(memory.bytes(), 19 * 1024 * 1024);
    }
}
