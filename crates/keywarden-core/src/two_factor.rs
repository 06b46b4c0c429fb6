//! TOTP second factor (RFC 6238: HMAC-SHA-1, 6 digits, 30-second steps), the sealing of TOTP
//! seeds at rest, and one-time recovery codes.
//!
//! - A code is accepted for the current and the previous step (a code typed just before the
//!   step turned), never a future one; the caller then claims the step in storage, so each code
//!   works once even under concurrent sign-ins.
//! - Seeds are stored sealed with ChaCha20-Poly1305 under a key derived from the server secret:
//!   a copy of the database alone does not yield anyone's second factor.
//! - Recovery codes are stored as HMACs (under another derived key), found by equality.

use crate::random::{RandomError, RandomSource};
use crate::secret::ServerSecret;
use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{ChaCha20Poly1305, Nonce};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::fmt;
use time::OffsetDateTime;
use totp_rs::{Builder, Totp};
use zeroize::Zeroizing;

/// Seed length (160 bits, RFC 4226's recommendation).
pub const SEED_LEN: usize = 20;
/// Seconds per step.
pub const STEP_SECS: u64 = 30;
/// Recovery codes issued when 2FA is turned on.
pub const RECOVERY_CODES: usize = 10;
const NONCE_LEN: usize = 12;

/// A TOTP seed in the clear; wiped on drop, never printed.
pub struct Seed(Zeroizing<Vec<u8>>);

impl fmt::Debug for Seed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Seed(<redacted>)")
    }
}

impl Seed {
    /// A new random seed.
    pub fn generate(random: &dyn RandomSource) -> Result<Self, RandomError> {
        let mut bytes = Zeroizing::new(vec![0u8; SEED_LEN]);
        random.fill(&mut bytes)?;
        Ok(Self(bytes))
    }

    /// The seed in base32, as authenticator apps take it.
    pub fn base32(&self) -> String {
        totp_rs::Secret::from(self.0.to_vec()).to_base32()
    }

    fn totp(&self) -> Option<Totp> {
        Builder::new()
            .with_secret(self.0.to_vec())
            .with_skew(0)
            .build()
            .ok()
    }

    /// The code for the step that contains `at` (for tests and the console's self-check).
    pub fn code_at(&self, at: OffsetDateTime) -> Option<String> {
        let secs = u64::try_from(at.unix_timestamp()).ok()?;
        Some(self.totp()?.generate(secs).to_string())
    }

    /// The step number of `code` if it is the code of the current or the previous step at `now`.
    pub fn verify(&self, code: &str, now: OffsetDateTime) -> Option<i64> {
        let code = code.trim();
        if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let totp = self.totp()?;
        let secs = u64::try_from(now.unix_timestamp()).ok()?;
        [secs, secs.saturating_sub(STEP_SECS)]
            .into_iter()
            .find_map(|t| totp.check(code, t))
            .and_then(|step| i64::try_from(step).ok())
    }

    /// The `otpauth://` URI authenticator apps scan.
    pub fn otpauth_uri(&self, issuer: &str, account: &str) -> String {
        format!(
            "otpauth://totp/{}:{}?secret={}&issuer={}&algorithm=SHA1&digits=6&period={STEP_SECS}",
            percent_encode(issuer),
            percent_encode(account),
            self.base32(),
            percent_encode(issuer)
        )
    }
}

fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~' | b'@') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// Seals and opens TOTP seeds, and hashes recovery codes, under keys derived from the server
/// secret.
#[derive(Clone)]
pub struct SecondFactor {
    seal_key: Zeroizing<[u8; 32]>,
    recovery_key: Zeroizing<[u8; 32]>,
}

impl fmt::Debug for SecondFactor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecondFactor(<keyed>)")
    }
}

/// A sealed seed could not be opened (another server secret, or a damaged row).
#[derive(Debug, thiserror::Error)]
#[error("the stored two-factor seed cannot be opened with this server secret")]
pub struct SealError;

impl SecondFactor {
    /// Keys derived from `secret`.
    pub fn new(secret: &ServerSecret) -> Self {
        Self {
            seal_key: secret.derive("totp-seed-seal/v1"),
            recovery_key: secret.derive("recovery-code/v1"),
        }
    }

    fn cipher(&self) -> Option<ChaCha20Poly1305> {
        ChaCha20Poly1305::new_from_slice(self.seal_key.as_slice()).ok()
    }

    /// `nonce || ciphertext+tag`.
    pub fn seal(&self, seed: &Seed, random: &dyn RandomSource) -> Result<Vec<u8>, RandomError> {
        let mut nonce = [0u8; NONCE_LEN];
        random.fill(&mut nonce)?;
        let sealed = self
            .cipher()
            .and_then(|c| c.encrypt(&Nonce::from(nonce), seed.0.as_slice()).ok())
            .ok_or_else(|| RandomError("sealing the seed failed".into()))?;
        let mut out = Vec::with_capacity(NONCE_LEN + sealed.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        Ok(out)
    }

    /// Opens a sealed seed.
    pub fn open(&self, sealed: &[u8]) -> Result<Seed, SealError> {
        let (nonce, body) = sealed.split_at_checked(NONCE_LEN).ok_or(SealError)?;
        let nonce: [u8; NONCE_LEN] = nonce.try_into().map_err(|_| SealError)?;
        let plain = self
            .cipher()
            .and_then(|c| c.decrypt(&Nonce::from(nonce), body).ok())
            .ok_or(SealError)?;
        Ok(Seed(Zeroizing::new(plain)))
    }

    /// New recovery codes (shown once) and their stored hashes.
    pub fn recovery_codes(
        &self,
        random: &dyn RandomSource,
    ) -> Result<(Vec<String>, Vec<String>), RandomError> {
        const ALPHABET: &[u8; 32] = b"abcdefghjkmnpqrstuvwxyz234567890";
        let mut codes = Vec::with_capacity(RECOVERY_CODES);
        for _ in 0..RECOVERY_CODES {
            let mut bytes = [0u8; 12];
            random.fill(&mut bytes)?;
            let chars: String = bytes
                .iter()
                .map(|b| char::from(ALPHABET.get(usize::from(b & 31)).copied().unwrap_or(b'x')))
                .collect();
            codes.push(format!("{}-{}-{}", &chars[..4], &chars[4..8], &chars[8..]));
        }
        let hashes = codes.iter().map(|c| self.recovery_hash(c)).collect();
        Ok((codes, hashes))
    }

    /// The stored form of a recovery code (case and dashes do not matter).
    pub fn recovery_hash(&self, code: &str) -> String {
        let normalized: String = code
            .chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .map(|c| c.to_ascii_lowercase())
            .collect();
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(self.recovery_key.as_slice())
            .unwrap_or_else(|_| unreachable_hmac());
        mac.update(normalized.as_bytes());
        mac.finalize()
            .into_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }
}

/// Whether a sign-in `otp` value looks like a recovery code rather than a TOTP code.
pub fn is_recovery_code(otp: &str) -> bool {
    let alnum = otp.chars().filter(char::is_ascii_alphanumeric).count();
    alnum == 12 && otp.len() <= 16
}

#[allow(clippy::panic)]
fn unreachable_hmac() -> Hmac<Sha256> {
    panic!("HMAC-SHA-256 accepts keys of every length")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::random::OsRandom;
    use time::macros::datetime;

    fn factor() -> SecondFactor {
        SecondFactor::new(&ServerSecret::from_text(&"k".repeat(40)).unwrap())
    }

    #[test]
    fn rfc_6238_vector() {
        // RFC 6238 appendix B, SHA-1 seed "12345678901234567890" at T = 59 s: 94287082 (8
        // digits), so the 6-digit code is its last six digits.
        let seed = Seed(Zeroizing::new(b"12345678901234567890".to_vec()));
        assert_eq!(
            seed.code_at(datetime!(1970-01-01 00:00:59 UTC)).unwrap(),
            "287082"
        );
    }

    #[test]
    fn current_and_previous_steps_are_accepted_but_not_the_next() {
        let seed = Seed::generate(&OsRandom).unwrap();
        let now = datetime!(2026-06-01 12:00:10 UTC);
        let current = seed.code_at(now).unwrap();
        let previous = seed.code_at(now - time::Duration::seconds(30)).unwrap();
        let next = seed.code_at(now + time::Duration::seconds(30)).unwrap();
        let older = seed.code_at(now - time::Duration::seconds(60)).unwrap();
        let step = now.unix_timestamp() / 30;
        assert_eq!(seed.verify(&current, now), Some(step));
        if previous != current {
            assert_eq!(seed.verify(&previous, now), Some(step - 1));
        }
        if next != current && next != previous {
            assert_eq!(seed.verify(&next, now), None);
        }
        if older != current && older != previous {
            assert_eq!(seed.verify(&older, now), None);
        }
        assert_eq!(seed.verify("12345", now), None);
        assert_eq!(seed.verify("abcdef", now), None);
    }

    #[test]
    fn sealed_seeds_open_only_under_the_same_secret() {
        let seed = Seed::generate(&OsRandom).unwrap();
        let sealed = factor().seal(&seed, &OsRandom).unwrap();
        assert!(!sealed.windows(SEED_LEN).any(|w| w == seed.0.as_slice()));
        assert_eq!(factor().open(&sealed).unwrap().base32(), seed.base32());
        let other = SecondFactor::new(&ServerSecret::from_text(&"z".repeat(40)).unwrap());
        assert!(other.open(&sealed).is_err());
        assert!(factor().open(&sealed[..5]).is_err());
    }

    #[test]
    fn recovery_codes_hash_regardless_of_case_and_dashes() {
        let f = factor();
        let (codes, hashes) = f.recovery_codes(&OsRandom).unwrap();
        assert_eq!(codes.len(), RECOVERY_CODES);
        assert!(is_recovery_code(&codes[0]));
        assert!(!is_recovery_code("123456"));
        assert_eq!(
            f.recovery_hash(&codes[0].to_uppercase().replace('-', "")),
            hashes[0]
        );
        assert_ne!(hashes[0], hashes[1]);
    }

    #[test]
    fn otpauth_uri_names_issuer_and_account() {
        let seed = Seed::generate(&OsRandom).unwrap();
        let uri = seed.otpauth_uri("Keywarden", "ada@example.com");
        assert!(
            uri.starts_with("otpauth://totp/Keywarden:ada@example.com?secret="),
            "{uri}"
        );
        assert!(uri.contains("&issuer=Keywarden&algorithm=SHA1&digits=6&period=30"));
    }
}
