//! Keys are stored only as HMAC-SHA-256 digests under a key derived from the server secret.
//! A leaked database therefore yields nothing that authenticates, and without the secret an
//! attacker cannot even test guesses against it offline.

use crate::secret::ServerSecret;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use std::fmt;
use subtle::ConstantTimeEq;

/// The stored form of a key.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct KeyDigest(pub [u8; 32]);

impl KeyDigest {
    /// Compares in constant time.
    #[inline]
    pub fn ct_eq(&self, other: &KeyDigest) -> bool {
        self.0.ct_eq(&other.0).into()
    }

    /// The first 8 bytes: uniformly distributed and unknown to an attacker (HMAC under the
    /// server secret), so a ready-made hash for the in-memory table.
    #[inline]
    pub fn bucket(&self) -> u64 {
        let [a, b, c, d, e, f, g, h, ..] = self.0;
        u64::from_le_bytes([a, b, c, d, e, f, g, h])
    }

    /// Lower-case hex, for storage.
    pub fn to_hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Reads the storage form back.
    pub fn from_hex(text: &str) -> Option<Self> {
        let bytes = text.as_bytes();
        if bytes.len() != 64 {
            return None;
        }
        let mut out = [0u8; 32];
        for (slot, pair) in out.iter_mut().zip(bytes.chunks_exact(2)) {
            let hi = (*pair.first()? as char).to_digit(16)?;
            let lo = (*pair.get(1)? as char).to_digit(16)?;
            *slot = u8::try_from(hi * 16 + lo).ok()?;
        }
        Some(Self(out))
    }
}

impl fmt::Debug for KeyDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyDigest({:016x}…)", self.bucket())
    }
}

/// Computes key digests. The keyed HMAC state is built once; each digest clones it, which
/// saves the two key-block compressions of a fresh HMAC.
#[derive(Clone)]
pub struct KeyHasher {
    keyed: Hmac<Sha256>,
}

impl KeyHasher {
    /// A hasher under the digest sub-key of `secret`.
    pub fn new(secret: &ServerSecret) -> Self {
        let sub_key = secret.derive("api-key-digest/v1");
        let keyed = <Hmac<Sha256> as KeyInit>::new_from_slice(sub_key.as_slice())
            .unwrap_or_else(|_| unreachable_hmac());
        Self { keyed }
    }

    /// The digest of a presented or generated key.
    #[inline]
    pub fn digest(&self, key: &str) -> KeyDigest {
        let mut mac = self.keyed.clone();
        mac.update(key.as_bytes());
        KeyDigest(mac.finalize().into_bytes().into())
    }
}

#[allow(clippy::panic)]
fn unreachable_hmac() -> Hmac<Sha256> {
    panic!("HMAC-SHA-256 accepts keys of every length")
}

impl fmt::Debug for KeyHasher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("KeyHasher(<keyed>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret(s: &str) -> ServerSecret {
        ServerSecret::from_text(&s.repeat(32)).unwrap()
    }

    #[test]
    fn digest_depends_on_the_secret_and_the_key() {
        let a = KeyHasher::new(&secret("a"));
        let b = KeyHasher::new(&secret("b"));
        assert_eq!(a.digest("sk_test_x"), a.digest("sk_test_x"));
        assert_ne!(a.digest("sk_test_x"), a.digest("sk_test_y"));
        assert_ne!(a.digest("sk_test_x"), b.digest("sk_test_x"));
    }

    #[test]
    fn hex_round_trips() {
        let d = KeyHasher::new(&secret("a")).digest("k");
        assert_eq!(KeyDigest::from_hex(&d.to_hex()), Some(d));
        assert_eq!(KeyDigest::from_hex("zz"), None);
    }

    #[test]
    fn short_secrets_are_refused() {
        assert!(ServerSecret::from_text("short").is_err());
    }
}
