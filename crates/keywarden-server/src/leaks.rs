//! Leak reports (SPEC §8) on the HTTP side: the public keys that sign GitHub's secret scanning
//! reports and the check of a report's signature ([`github_keys`]), and the limits every
//! report is held to. What a leak does to a key is core's (`service::leaks`); the handlers are
//! in `routes::leaks`.

pub mod github_keys;

use sha2::{Digest, Sha256};
use std::fmt::Write;

/// Most matches one GitHub report may carry; more is a 413 (GitHub splits large findings into
/// several reports, and each match costs a database transaction when it is a key).
pub const MAX_REPORTED_TOKENS: usize = 1_000;
/// Largest pasted text, in bytes (after JSON decoding).
pub const MAX_PASTED_TEXT: usize = 1024 * 1024;

/// `token_hash` of GitHub's feedback: lower-case hex SHA-256 of the token.
pub fn token_hash(token: &str) -> String {
    let digest = Sha256::digest(token.as_bytes());
    let mut hex = String::with_capacity(64);
    for byte in digest {
        // Writing to a String cannot fail.
        let _ = write!(hex, "{byte:02x}");
    }
    hex
}

#[cfg(test)]
mod tests {
    use super::token_hash;

    #[test]
    fn token_hashes_are_hex_sha256() {
        assert_eq!(
            token_hash(""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(
            token_hash("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
