//! Keys are stored only as HMAC-SHA-256 digests under a key derived from the server secret.
//! A leaked database therefore yields nothing that authenticates, and without the secret an
//! attacker cannot even test guesses against it offline.

use crate::secret::ServerSecret;
use sha2::block_api::compress256;
use std::fmt;
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, Zeroizing};

/// The stored form of a key.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct KeyDigest(pub [u8; 32]);

impl KeyDigest {
    /// Compares in constant time: the XOR of the two digests, OR-ed word by word (no branch
    /// on where they differ), then one constant-time test of the result. `subtle`'s
    /// comparison of byte slices puts an optimisation barrier on each of the 32 bytes, which
    /// made it a fifth of a whole check (docs/BENCHMARKS.md, 2026-12-03).
    #[inline]
    pub fn ct_eq(&self, other: &KeyDigest) -> bool {
        let difference = words(&self.0)
            .zip(words(&other.0))
            .fold(0u64, |acc, (a, b)| acc | (a ^ b));
        difference.ct_eq(&0).into()
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

/// The digest as four machine words.
#[inline]
fn words(bytes: &[u8; 32]) -> impl Iterator<Item = u64> + '_ {
    bytes.chunks_exact(8).map(|chunk| {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        u64::from_ne_bytes(word)
    })
}

impl fmt::Debug for KeyDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyDigest({:016x}…)", self.bucket())
    }
}

/// SHA-256's initial state (FIPS 180-4 §5.3.3).
const SHA256_IV: [u32; 8] = [
    0x6a09_e667,
    0xbb67_ae85,
    0x3c6e_f372,
    0xa54f_f53a,
    0x510e_527f,
    0x9b05_688c,
    0x1f83_d9ab,
    0x5be0_cd19,
];
/// SHA-256's block size, which is also HMAC's key block.
const BLOCK: usize = 64;

/// Computes key digests: HMAC-SHA-256 (RFC 2104) under the digest sub-key.
///
/// The two SHA-256 states after absorbing the key block XOR ipad and XOR opad are computed
/// once, here, and copied per call (64 bytes), so a digest of a key of up to 55 bytes (every
/// API key is 46) costs exactly two SHA-256 compressions (with the CPU's SHA extensions where
/// it has them) and no buffering machinery. The output is plain HMAC-SHA-256; a test checks it
/// against the `hmac` crate for every length from 0 to 300 bytes.
#[derive(Clone)]
pub struct KeyHasher {
    inner: [u32; 8],
    outer: [u32; 8],
}

impl KeyHasher {
    /// A hasher under the digest sub-key of `secret`.
    pub fn new(secret: &ServerSecret) -> Self {
        let sub_key = secret.derive("api-key-digest/v1");
        Self::with_key(sub_key.as_slice())
    }

    /// HMAC-SHA-256 under `key` (at most one block; the sub-key is 32 bytes).
    fn with_key(key: &[u8]) -> Self {
        let mut block = Zeroizing::new([0u8; BLOCK]);
        for (slot, byte) in block.iter_mut().zip(key) {
            *slot = *byte;
        }
        let mut pad = Zeroizing::new([[0u8; BLOCK]; 1]);
        let mut keyed = |xor: u8| {
            for (out, byte) in pad.iter_mut().flatten().zip(block.iter()) {
                *out = byte ^ xor;
            }
            let mut state = SHA256_IV;
            compress256(&mut state, pad.as_slice());
            state
        };
        let inner = keyed(0x36);
        let outer = keyed(0x5c);
        Self { inner, outer }
    }

    /// The digest of a presented or generated key.
    #[inline]
    pub fn digest(&self, key: &str) -> KeyDigest {
        let inner = finish(self.inner, key.as_bytes());
        KeyDigest(finish(self.outer, &inner))
    }
}

/// Finishes a SHA-256 whose `state` has absorbed exactly one block (the HMAC key block) with
/// `data`: full blocks straight from `data`, then the tail with its padding (one block, or two
/// when fewer than 9 bytes of room are left), all on the stack.
#[inline]
fn finish(mut state: [u32; 8], data: &[u8]) -> [u8; 32] {
    let (blocks, rest) = data.as_chunks::<BLOCK>();
    if !blocks.is_empty() {
        compress256(&mut state, blocks);
    }
    let mut tail = [[0u8; BLOCK]; 2];
    let flat = tail.as_flattened_mut();
    for (slot, byte) in flat.iter_mut().zip(rest) {
        *slot = *byte;
    }
    if let Some(end) = flat.get_mut(rest.len()) {
        *end = 0x80;
    }
    let tail_blocks = if rest.len() < BLOCK - 8 { 1 } else { 2 };
    let bits = ((BLOCK + data.len()) as u64).wrapping_mul(8);
    if let Some(length) = flat.get_mut(tail_blocks * BLOCK - 8..tail_blocks * BLOCK) {
        length.copy_from_slice(&bits.to_be_bytes());
    }
    compress256(&mut state, tail.get(..tail_blocks).unwrap_or(&[]));
    let mut out = [0u8; 32];
    for (bytes, word) in out.as_chunks_mut::<4>().0.iter_mut().zip(state) {
        *bytes = word.to_be_bytes();
    }
    out
}

impl Drop for KeyHasher {
    fn drop(&mut self) {
        self.inner.zeroize();
        self.outer.zeroize();
    }
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
    fn ct_eq_tells_a_difference_in_any_bit() {
        let d = KeyHasher::new(&secret("a")).digest("k");
        assert!(d.ct_eq(&d));
        for bit in 0..256 {
            let mut other = d;
            other.0[bit / 8] ^= 1 << (bit % 8);
            assert!(!d.ct_eq(&other), "bit {bit}");
            assert!(!other.ct_eq(&d), "bit {bit}");
        }
    }

    #[test]
    fn hex_round_trips() {
        let d = KeyHasher::new(&secret("a")).digest("k");
        assert_eq!(KeyDigest::from_hex(&d.to_hex()), Some(d));
        assert_eq!(KeyDigest::from_hex("zz"), None);
    }

    #[test]
    fn digest_is_hmac_sha256_for_every_length() {
        use hmac::{Hmac, KeyInit, Mac};
        let secret = secret("q");
        let hasher = KeyHasher::new(&secret);
        let sub_key = secret.derive("api-key-digest/v1");
        let text: String = (0..300u32)
            .map(|i| char::from(b'!' + u8::try_from(i * 7 % 90).unwrap()))
            .collect();
        for len in 0..=300 {
            let message = &text[..len];
            let mut mac =
                <Hmac<sha2::Sha256> as KeyInit>::new_from_slice(sub_key.as_slice()).unwrap();
            mac.update(message.as_bytes());
            let expected: [u8; 32] = mac.finalize().into_bytes().into();
            assert_eq!(hasher.digest(message).0, expected, "length {len}");
        }
    }

    #[test]
    fn keys_longer_than_a_block_are_not_needed() {
        // `with_key` takes one block at most; the sub-key is 32 bytes.
        let secret = secret("k");
        assert_eq!(secret.derive("api-key-digest/v1").len(), 32);
    }

    #[test]
    fn short_secrets_are_refused() {
        assert!(ServerSecret::from_text("short").is_err());
    }
}
