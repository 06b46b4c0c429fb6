//! The server secret and what is derived from it.
//!
//! One secret per deployment (instances sharing a database share it). Each use gets its own
//! derived sub-key — HMAC(secret, `"keywarden/<purpose>"`) — so that, say, the JWT signing key
//! and the key-digest key are never the same bytes.

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use std::fmt;
use zeroize::Zeroizing;

/// Shortest accepted secret, in bytes.
pub const MIN_SECRET_LEN: usize = 32;

/// The server secret. `Debug` never prints it; the memory is wiped on drop.
#[derive(Clone)]
pub struct ServerSecret(Zeroizing<Vec<u8>>);

/// A configured secret that is too weak to use.
#[derive(Debug, thiserror::Error)]
#[error(
    "the server secret must be at least {MIN_SECRET_LEN} bytes long (it is {0}); generate one with `openssl rand -hex 32`"
)]
pub struct WeakSecret(pub usize);

impl ServerSecret {
    /// Wraps configured secret text; rejects secrets shorter than [`MIN_SECRET_LEN`].
    pub fn from_text(text: &str) -> Result<Self, WeakSecret> {
        let text = text.trim();
        if text.len() < MIN_SECRET_LEN {
            return Err(WeakSecret(text.len()));
        }
        Ok(Self(Zeroizing::new(text.as_bytes().to_vec())))
    }

    /// A 32-byte sub-key for one purpose.
    pub fn derive(&self, purpose: &str) -> Zeroizing<[u8; 32]> {
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&self.0)
            .unwrap_or_else(|_| unreachable_hmac());
        mac.update(b"keywarden/");
        mac.update(purpose.as_bytes());
        Zeroizing::new(mac.finalize().into_bytes().into())
    }

    /// A public fingerprint of the secret, stored beside the keys so that a server started with
    /// a different secret notices before it silently refuses every stored key.
    pub fn fingerprint(&self) -> String {
        let bytes = self.derive("fingerprint");
        bytes.iter().take(16).map(|b| format!("{b:02x}")).collect()
    }
}

/// HMAC accepts keys of any length, so `new_from_slice` cannot fail for it.
#[allow(clippy::panic)]
fn unreachable_hmac() -> Hmac<Sha256> {
    panic!("HMAC-SHA-256 accepts keys of every length")
}

impl fmt::Debug for ServerSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ServerSecret(<redacted>)")
    }
}
