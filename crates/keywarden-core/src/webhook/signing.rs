//! Endpoint secrets and Standard Webhooks signatures (standardwebhooks.com, "Signature
//! scheme"): `v1,` + base64 of HMAC-SHA256 over `{webhook-id}.{webhook-timestamp}.{body}`,
//! keyed with the bytes the `whsec_` secret encodes, so any Standard Webhooks library verifies
//! them.
//!
//! A secret must sign on every delivery, so it cannot be stored as a hash like an API key: it
//! is sealed (ChaCha20-Poly1305) under a key derived from the server secret, and only the
//! create and rotate answers ever show it.

use crate::random::{RandomError, RandomSource};
use crate::secret::ServerSecret;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chacha20poly1305::aead::Aead;
use chacha20poly1305::{ChaCha20Poly1305, Nonce};
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use zeroize::Zeroizing;

/// The prefix of a secret's text form.
pub const SECRET_PREFIX: &str = "whsec_";
/// Random bytes in a secret.
const SECRET_LEN: usize = 32;
/// Nonce bytes in front of a sealed secret.
const NONCE_LEN: usize = 12;

/// An endpoint's signing secret. `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct EndpointSecret(Zeroizing<Vec<u8>>);

impl std::fmt::Debug for EndpointSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EndpointSecret(<redacted>)")
    }
}

/// A sealed secret that does not open (another server secret, or a damaged row).
#[derive(Debug, thiserror::Error)]
#[error("a webhook secret cannot be opened with this server secret")]
pub struct SignatureError;

impl EndpointSecret {
    /// A new secret from the OS random source.
    pub fn generate(random: &dyn RandomSource) -> Result<Self, RandomError> {
        let mut bytes = Zeroizing::new(vec![0u8; SECRET_LEN]);
        random.fill(&mut bytes)?;
        Ok(Self(bytes))
    }

    /// The text form shown once: `whsec_` + base64 of the bytes.
    pub fn reveal(&self) -> String {
        format!("{SECRET_PREFIX}{}", STANDARD.encode(self.0.as_slice()))
    }

    /// The secret of a text form (for tests and clients).
    pub fn from_text(text: &str) -> Option<Self> {
        let bytes = STANDARD.decode(text.strip_prefix(SECRET_PREFIX)?).ok()?;
        (!bytes.is_empty()).then(|| Self(Zeroizing::new(bytes)))
    }

    /// The signature of one delivery: `v1,<base64>`.
    pub fn sign(&self, webhook_id: &str, timestamp: i64, body: &[u8]) -> String {
        let Ok(mut mac) = <Hmac<Sha256> as KeyInit>::new_from_slice(&self.0) else {
            // HMAC takes a key of any length; this branch cannot run.
            return String::new();
        };
        mac.update(webhook_id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
    }
}

/// Seals and opens endpoint secrets under a key derived from the server secret.
#[derive(Clone)]
pub struct SecretSeal(Zeroizing<[u8; 32]>);

impl std::fmt::Debug for SecretSeal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretSeal(<keyed>)")
    }
}

impl SecretSeal {
    /// The seal of `secret`'s installation.
    pub fn new(secret: &ServerSecret) -> Self {
        Self(secret.derive("webhook-secret-seal/v1"))
    }

    fn cipher(&self) -> Option<ChaCha20Poly1305> {
        ChaCha20Poly1305::new_from_slice(self.0.as_slice()).ok()
    }

    /// `nonce || ciphertext+tag`.
    pub fn seal(
        &self,
        secret: &EndpointSecret,
        random: &dyn RandomSource,
    ) -> Result<Vec<u8>, RandomError> {
        let mut nonce = [0u8; NONCE_LEN];
        random.fill(&mut nonce)?;
        let sealed = self
            .cipher()
            .and_then(|c| c.encrypt(&Nonce::from(nonce), secret.0.as_slice()).ok())
            .ok_or_else(|| RandomError("sealing a webhook secret failed".into()))?;
        let mut out = Vec::with_capacity(NONCE_LEN + sealed.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        Ok(out)
    }

    /// Opens a sealed secret.
    pub fn open(&self, sealed: &[u8]) -> Result<EndpointSecret, SignatureError> {
        let (nonce, body) = sealed.split_at_checked(NONCE_LEN).ok_or(SignatureError)?;
        let nonce: [u8; NONCE_LEN] = nonce.try_into().map_err(|_| SignatureError)?;
        let plain = self
            .cipher()
            .and_then(|c| c.decrypt(&Nonce::from(nonce), body).ok())
            .ok_or(SignatureError)?;
        Ok(EndpointSecret(Zeroizing::new(plain)))
    }
}

/// The `webhook-signature` header: the current secret's signature, then (during the 24 hours
/// after a rotation) the previous secret's, space-separated, so receivers holding either verify.
pub fn signature_header(
    current: &EndpointSecret,
    previous: Option<&EndpointSecret>,
    webhook_id: &str,
    timestamp: i64,
    body: &[u8],
) -> String {
    let mut header = current.sign(webhook_id, timestamp, body);
    if let Some(previous) = previous {
        header.push(' ');
        header.push_str(&previous.sign(webhook_id, timestamp, body));
    }
    header
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::random::OsRandom;

    /// The example of the Standard Webhooks specification's test vectors: secret
    /// `whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw`, id `msg_p5jXN8AQM9LWM0D4loKWxJek`, timestamp
    /// 1614265330, body `{"test": 2432232314}`.
    #[test]
    fn signs_like_the_specification() {
        let secret = EndpointSecret::from_text("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let signature = secret.sign(
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1_614_265_330,
            br#"{"test": 2432232314}"#,
        );
        assert_eq!(signature, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }

    #[test]
    fn a_secret_reads_back_from_its_text_and_hides_in_debug() {
        let secret = EndpointSecret::generate(&OsRandom).unwrap();
        let text = secret.reveal();
        assert!(text.starts_with("whsec_") && text.len() == 6 + 44);
        assert_eq!(EndpointSecret::from_text(&text), Some(secret.clone()));
        assert!(!format!("{secret:?}").contains(&text[6..]));
        assert_eq!(EndpointSecret::from_text("whsec_"), None);
        assert_eq!(EndpointSecret::from_text("sk_test_x"), None);
    }

    #[test]
    fn sealed_secrets_open_only_under_the_same_server_secret() {
        let server = ServerSecret::from_text(&"s".repeat(40)).unwrap();
        let secret = EndpointSecret::generate(&OsRandom).unwrap();
        let sealed = SecretSeal::new(&server).seal(&secret, &OsRandom).unwrap();
        assert!(!sealed.windows(SECRET_LEN).any(|w| w == secret.0.as_slice()));
        assert_eq!(SecretSeal::new(&server).open(&sealed).unwrap(), secret);
        let other = ServerSecret::from_text(&"o".repeat(40)).unwrap();
        assert!(SecretSeal::new(&other).open(&sealed).is_err());
    }

    #[test]
    fn both_signatures_are_sent_during_the_overlap() {
        let (a, b) = (
            EndpointSecret::generate(&OsRandom).unwrap(),
            EndpointSecret::generate(&OsRandom).unwrap(),
        );
        let header = signature_header(&a, Some(&b), "msg_1", 1, b"{}");
        let parts: Vec<&str> = header.split(' ').collect();
        assert_eq!(
            parts,
            vec![a.sign("msg_1", 1, b"{}"), b.sign("msg_1", 1, b"{}")]
        );
        assert_eq!(
            signature_header(&a, None, "msg_1", 1, b"{}"),
            a.sign("msg_1", 1, b"{}")
        );
    }
}
