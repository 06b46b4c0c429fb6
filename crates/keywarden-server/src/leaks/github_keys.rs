//! GitHub's secret scanning public keys, and the check of a report's signature (SPEC §8).
//!
//! GitHub signs the raw body of each report with ECDSA P-256 over SHA-256 and names the key in
//! `Github-Public-Key-Identifier`; the signature is the base64 of its DER encoding, in
//! `Github-Public-Key-Signature`. The keys come from the operator's configuration:
//! - a file in the shape GitHub publishes them (`{"public_keys": [{"key_identifier", "key"
//!   (PEM), "is_current"}]}`), read once at start-up: a file that cannot be read or holds no
//!   usable key stops the server, like any configuration error;
//! - or a URL serving that document, fetched on the first report, again once the set is a day
//!   old, and when a report names a key the set lacks (GitHub rotates its keys), but never more
//!   than once every [`RETRY_AFTER`], so reports naming made-up keys cannot make Keywarden
//!   hammer the URL. A fetch that fails, or brings no usable key, keeps the last good set.
//!
//! Every listed key verifies, current or not: GitHub names the key it signed with, and a key it
//! has just replaced may still sign reports already on their way.

use crate::config::LeaksConfig;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use keywarden_core::Clock;
use ring::signature::{ECDSA_P256_SHA256_ASN1, UnparsedPublicKey};
use rustls::pki_types::SubjectPublicKeyInfoDer;
use rustls::pki_types::pem::PemObject;
use serde::Deserialize;
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use time::{Duration, OffsetDateTime};
use tokio::sync::Mutex;

/// A fetched set older than this is fetched again on the next report.
pub const REFRESH_AFTER: Duration = Duration::days(1);
/// The least time between two fetches (after a failure, or for an unknown key identifier).
pub const RETRY_AFTER: Duration = Duration::minutes(10);
/// How long a fetch may take.
const FETCH_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);
/// Largest key document read (GitHub's is about 1 KiB).
const MAX_DOCUMENT_BYTES: usize = 256 * 1024;
/// Longest key identifier or signature header accepted (GitHub's are about 64 and 100 bytes).
const MAX_HEADER_LEN: usize = 1024;

/// The document GitHub publishes.
#[derive(Debug, Deserialize)]
struct Document {
    public_keys: Vec<DocumentKey>,
}

#[derive(Debug, Deserialize)]
struct DocumentKey {
    key_identifier: String,
    /// A PEM `PUBLIC KEY` (SubjectPublicKeyInfo).
    key: String,
}

/// The DER of a P-256 `SubjectPublicKeyInfo` up to its point: a SEQUENCE of the algorithm
/// (id-ecPublicKey, prime256v1) and a BIT STRING of 66 bytes. DER has one encoding for each
/// value, so every P-256 public key with an uncompressed point (GitHub's form) starts so.
const P256_SPKI_PREFIX: [u8; 26] = [
    0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a,
    0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
];

/// A P-256 public key: its uncompressed point (`04 || x || y`), which `ring` checks is on the
/// curve when it verifies.
#[derive(Clone, Debug)]
struct P256Key(Vec<u8>);

impl P256Key {
    /// The key of a PEM `PUBLIC KEY`.
    fn from_pem(pem: &str) -> Result<Self, String> {
        let der = SubjectPublicKeyInfoDer::from_pem_slice(pem.as_bytes())
            .map_err(|e| format!("not a PEM public key: {e}"))?;
        match der.as_ref().strip_prefix(&P256_SPKI_PREFIX[..]) {
            Some(point) if point.len() == 65 && point.first() == Some(&0x04) => {
                Ok(Self(point.to_vec()))
            }
            _ => Err("not a P-256 public key with an uncompressed point".into()),
        }
    }

    /// Whether `signature` (DER) is this key's ECDSA/SHA-256 signature of `message`.
    fn verifies(&self, message: &[u8], signature: &[u8]) -> bool {
        UnparsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, &self.0)
            .verify(message, signature)
            .is_ok()
    }
}

/// Whether `der` has the shape of an ECDSA P-256 signature, `SEQUENCE { r INTEGER, s INTEGER }`
/// with each integer at most 33 bytes, so that a garbled header is told apart from a signature
/// that does not verify. (`ring` checks the values themselves.)
fn is_signature_shaped(der: &[u8]) -> bool {
    let [0x30, len, rest @ ..] = der else {
        return false;
    };
    if usize::from(*len) != rest.len() {
        return false;
    }
    let mut rest = rest;
    for _ in 0..2 {
        let [0x02, n, tail @ ..] = rest else {
            return false;
        };
        let n = usize::from(*n);
        if n == 0 || n > 33 || tail.len() < n {
            return false;
        }
        rest = tail.get(n..).unwrap_or_default();
    }
    rest.is_empty()
}

/// Usable public keys by identifier.
#[derive(Clone, Debug, Default)]
pub struct KeySet(HashMap<String, P256Key>);

impl KeySet {
    /// The P-256 keys of a document in GitHub's shape. Entries that are not P-256 public keys are
    /// left out (and logged); a document with none is an error.
    pub fn parse(json: &[u8]) -> Result<Self, String> {
        let document: Document = serde_json::from_slice(json).map_err(|e| {
            format!("not a public key document ({{\"public_keys\": [{{\"key_identifier\", \"key\", \"is_current\"}}]}}): {e}")
        })?;
        let mut keys = HashMap::new();
        for entry in document.public_keys {
            match P256Key::from_pem(entry.key.trim()) {
                Ok(key) => {
                    keys.insert(entry.key_identifier, key);
                }
                Err(e) => tracing::warn!(
                    key_identifier = %entry.key_identifier,
                    error = %e,
                    "a GitHub public key is not a P-256 PEM public key; left out"
                ),
            }
        }
        if keys.is_empty() {
            return Err("the document holds no P-256 public key".into());
        }
        Ok(Self(keys))
    }

    /// How many keys the set holds.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Where the keys come from.
#[derive(Debug)]
enum Source {
    /// Nothing configured: every report is refused.
    None,
    /// A file, read at start-up.
    File,
    /// A URL, fetched as the module says.
    Url {
        url: String,
        client: reqwest::Client,
    },
}

#[derive(Debug, Default)]
struct State {
    keys: Arc<KeySet>,
    /// When the set in use was fetched.
    fetched_at: Option<OffsetDateTime>,
    /// When a fetch was last tried, whatever came of it.
    tried_at: Option<OffsetDateTime>,
}

/// Why a report's signature is refused; `Display` is the answer's `detail`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureProblem {
    /// No keys are configured.
    #[error(
        "This Keywarden takes no GitHub leak reports: its operator has set neither \
         leaks.github_public_keys_file nor leaks.github_public_keys_url."
    )]
    NotConfigured,
    /// A signature header is missing or empty.
    #[error(
        "The report is not signed: send the {0} header of GitHub's secret scanning partner program."
    )]
    Missing(&'static str),
    /// The signature is not base64 of a DER ECDSA signature.
    #[error(
        "Github-Public-Key-Signature is not the base64 of a DER-encoded ECDSA P-256 signature."
    )]
    Malformed,
    /// The key identifier is not in the set.
    #[error(
        "The report is signed with a key this Keywarden does not know (Github-Public-Key-Identifier). \
         Its operator configures GitHub's public keys."
    )]
    UnknownKey,
    /// The signature does not verify over the body.
    #[error(
        "The signature does not match the report: it was not made by this key over these exact bytes."
    )]
    Invalid,
}

/// GitHub's public keys as configured, and the signature check.
#[derive(Debug)]
pub struct GitHubKeys {
    source: Source,
    clock: Arc<dyn Clock>,
    state: Mutex<State>,
}

impl GitHubKeys {
    /// The keys `config` names: a file is read now (an error stops the server), a URL is
    /// fetched when the first report comes.
    pub fn from_config(config: &LeaksConfig, clock: Arc<dyn Clock>) -> Result<Self, String> {
        let (source, keys) = match (
            &config.github_public_keys_file,
            &config.github_public_keys_url,
        ) {
            (Some(path), _) => (Source::File, read_file(path)?),
            (None, Some(url)) => {
                let client = crate::tls::http_client_builder()
                    .map_err(crate::tls::ClientError::from)
                    .and_then(|builder| {
                        Ok(builder
                            .timeout(FETCH_TIMEOUT)
                            .user_agent(concat!("keywarden/", env!("CARGO_PKG_VERSION")))
                            .build()?)
                    })
                    .map_err(|e| format!("cannot build the HTTP client for {url}: {e}"))?;
                let source = Source::Url {
                    url: url.clone(),
                    client,
                };
                (source, KeySet::default())
            }
            (None, None) => (Source::None, KeySet::default()),
        };
        Ok(Self {
            source,
            clock,
            state: Mutex::new(State {
                keys: Arc::new(keys),
                ..State::default()
            }),
        })
    }

    /// Checks that `signature` (base64 DER, as the header carries it) is the signature of
    /// `body` by the key named `key_id`.
    pub async fn verify(
        &self,
        key_id: Option<&str>,
        signature: Option<&str>,
        body: &[u8],
    ) -> Result<(), SignatureProblem> {
        if matches!(self.source, Source::None) {
            return Err(SignatureProblem::NotConfigured);
        }
        let key_id = present(key_id, "Github-Public-Key-Identifier")?;
        let signature = present(signature, "Github-Public-Key-Signature")?;
        if key_id.len() > MAX_HEADER_LEN {
            return Err(SignatureProblem::UnknownKey);
        }
        if signature.len() > MAX_HEADER_LEN {
            return Err(SignatureProblem::Malformed);
        }
        let der = STANDARD
            .decode(signature)
            .map_err(|_| SignatureProblem::Malformed)?;
        if !is_signature_shaped(&der) {
            return Err(SignatureProblem::Malformed);
        }
        let keys = self.keys_for(key_id).await;
        let key = keys.0.get(key_id).ok_or(SignatureProblem::UnknownKey)?;
        if key.verifies(body, &der) {
            Ok(())
        } else {
            Err(SignatureProblem::Invalid)
        }
    }

    /// The set to check `key_id` against, fetched again first if the module's rules say so.
    async fn keys_for(&self, key_id: &str) -> Arc<KeySet> {
        let mut state = self.state.lock().await;
        if let Source::Url { url, client } = &self.source {
            let now = self.clock.now();
            let stale = state.fetched_at.is_none_or(|at| now - at >= REFRESH_AFTER);
            let unknown = !state.keys.0.contains_key(key_id);
            let may_try = state.tried_at.is_none_or(|at| now - at >= RETRY_AFTER);
            if (stale || unknown) && may_try {
                state.tried_at = Some(now);
                match fetch(client, url).await {
                    Ok(keys) => {
                        tracing::info!(%url, keys = keys.len(), "fetched GitHub's secret scanning public keys");
                        state.keys = Arc::new(keys);
                        state.fetched_at = Some(now);
                    }
                    Err(error) => tracing::warn!(
                        %url,
                        %error,
                        kept = state.keys.len(),
                        "cannot fetch GitHub's secret scanning public keys; keeping the last good set"
                    ),
                }
            }
        }
        state.keys.clone()
    }
}

/// A header's value without surrounding blanks, if it has one.
fn present<'v>(value: Option<&'v str>, name: &'static str) -> Result<&'v str, SignatureProblem> {
    value
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .ok_or(SignatureProblem::Missing(name))
}

fn read_file(path: &Path) -> Result<KeySet, String> {
    let text = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    KeySet::parse(&text).map_err(|e| format!("{}: {e}", path.display()))
}

async fn fetch(client: &reqwest::Client, url: &str) -> Result<KeySet, String> {
    let mut response = client
        .get(url)
        .header(reqwest::header::ACCEPT, "application/json")
        .send()
        .await
        .map_err(|e| e.to_string())?;
    if !response.status().is_success() {
        return Err(format!("the answer is HTTP {}", response.status()));
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| e.to_string())? {
        if body.len() + chunk.len() > MAX_DOCUMENT_BYTES {
            return Err(format!(
                "the document is larger than {} KiB",
                MAX_DOCUMENT_BYTES / 1024
            ));
        }
        body.extend_from_slice(&chunk);
    }
    KeySet::parse(&body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use keywarden_core::ManualClock;
    use p256::ecdsa::signature::Signer;
    use p256::ecdsa::{Signature, SigningKey};
    use p256::elliptic_curve::Generate;
    use p256::pkcs8::{EncodePublicKey, LineEnding};
    use time::macros::datetime;

    fn document(keys: &[(&str, &SigningKey)]) -> String {
        let entries: Vec<_> = keys
            .iter()
            .map(|(id, key)| {
                serde_json::json!({
                    "key_identifier": id,
                    "key": key.verifying_key().to_public_key_pem(LineEnding::LF).unwrap(),
                    "is_current": true,
                })
            })
            .collect();
        serde_json::json!({ "public_keys": entries }).to_string()
    }

    fn signed(key: &SigningKey, body: &[u8]) -> String {
        let signature: Signature = key.sign(body);
        STANDARD.encode(signature.to_der().as_bytes())
    }

    fn from_file(json: &str) -> GitHubKeys {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys.json");
        std::fs::write(&path, json).unwrap();
        let config = LeaksConfig {
            github_public_keys_file: Some(path),
            github_public_keys_url: None,
        };
        let clock = Arc::new(ManualClock::new(datetime!(2026-06-01 12:00 UTC)));
        GitHubKeys::from_config(&config, clock).unwrap()
    }

    #[tokio::test]
    async fn a_report_verifies_only_as_signed() {
        let key = SigningKey::generate();
        let keys = from_file(&document(&[("k1", &key)]));
        let body = br#"[{"token":"x","type":"t","url":"","source":"content"}]"#;
        let signature = signed(&key, body);
        assert_eq!(
            keys.verify(Some("k1"), Some(&signature), body).await,
            Ok(())
        );
        let mut changed = body.to_vec();
        changed[11] ^= 1;
        assert_eq!(
            keys.verify(Some("k1"), Some(&signature), &changed).await,
            Err(SignatureProblem::Invalid)
        );
        assert_eq!(
            keys.verify(Some("k2"), Some(&signature), body).await,
            Err(SignatureProblem::UnknownKey)
        );
        assert_eq!(
            keys.verify(None, Some(&signature), body).await,
            Err(SignatureProblem::Missing("Github-Public-Key-Identifier"))
        );
        assert_eq!(
            keys.verify(Some("k1"), Some("  "), body).await,
            Err(SignatureProblem::Missing("Github-Public-Key-Signature"))
        );
        for bad in ["not base64!", "AAAA", &STANDARD.encode([0x30, 0x02, 0x01])] {
            assert_eq!(
                keys.verify(Some("k1"), Some(bad), body).await,
                Err(SignatureProblem::Malformed),
                "{bad}"
            );
        }
        // Another key's signature.
        let other = signed(&SigningKey::generate(), body);
        assert_eq!(
            keys.verify(Some("k1"), Some(&other), body).await,
            Err(SignatureProblem::Invalid)
        );
    }

    #[test]
    fn a_signature_is_told_from_garbage_by_its_shape() {
        let key = SigningKey::generate();
        for n in 0..20u8 {
            let signature: Signature = key.sign(&[n]);
            let der = signature.to_der();
            assert!(is_signature_shaped(der.as_bytes()));
        }
        let signature: Signature = key.sign(b"x");
        let good = signature.to_der().as_bytes().to_vec();
        let mut long_r = vec![0x30, 0x27, 0x02, 0x22];
        long_r.extend([1; 34]);
        long_r.extend([0x02, 0x01, 0x01]);
        for bad in [
            &[][..],
            &[0x30, 0x00],
            &[0x30, 0x03, 0x02, 0x01, 0x01],
            &[0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x00, 0x00],
            &[0x31, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01],
            &long_r,
            &good[..good.len() - 1],
            &[&good[..], &[0]].concat(),
        ] {
            assert!(!is_signature_shaped(bad), "{bad:02x?}");
        }
    }

    #[test]
    fn documents_without_a_usable_key_are_refused() {
        assert!(KeySet::parse(b"{}").is_err());
        assert!(KeySet::parse(br#"{"public_keys": []}"#).is_err());
        assert!(
            KeySet::parse(br#"{"public_keys": [{"key_identifier": "x", "key": "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n", "is_current": true}]}"#)
                .is_err()
        );
        let good = SigningKey::generate();
        let mixed = document(&[("good", &good)]).replace(
            "\"public_keys\":[",
            "\"public_keys\":[{\"key_identifier\":\"bad\",\"key\":\"nope\",\"is_current\":false},",
        );
        let set = KeySet::parse(mixed.as_bytes()).unwrap();
        assert_eq!(set.len(), 1);
    }

    #[tokio::test]
    async fn nothing_configured_refuses_every_report() {
        let clock = Arc::new(ManualClock::new(datetime!(2026-06-01 12:00 UTC)));
        let keys = GitHubKeys::from_config(&LeaksConfig::default(), clock).unwrap();
        assert_eq!(
            keys.verify(Some("k"), Some("AAAA"), b"[]").await,
            Err(SignatureProblem::NotConfigured)
        );
    }
}
