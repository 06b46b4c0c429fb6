//! Compact JWS signed with HMAC-SHA-256 (RFC 7515, `alg` HS256), the only form console tokens
//! take (docs/decisions/0012-ring-and-hand-written-hs256.md).
//!
//! One algorithm, so none is negotiated: every token is issued with the same header, and a
//! token is accepted only if it carries exactly that header (`alg` HS256: `none`, HS512 or any
//! other header is refused before its tag is looked at) and its tag, compared in constant time,
//! is the HMAC of its first two segments under the key. Segments are base64url without padding
//! (RFC 7515 §2). The header and the encoding are those a JWT library wrote when it issued
//! these tokens, so tokens it issued still verify.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use serde::Serialize;
use serde::de::DeserializeOwned;
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// The first segment of every token issued and accepted: `{"typ":"JWT","alg":"HS256"}` in
/// base64url, byte for byte what the JWT library wrote (its member order), so a token is the
/// same whichever code issued it.
pub(super) const HEADER_SEGMENT: &str = "eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9";

/// Why a token was refused (callers see only "not valid"; tests see which check refused it).
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Rejected {
    /// Not three segments, or a tag or payload that is not base64url.
    Malformed,
    /// Not the HS256 header: another algorithm (`none` included), or any other header.
    Header,
    /// The tag is not the HMAC of the token under the key.
    Signature,
    /// Authentic, but the payload is not the claims expected.
    Claims,
}

/// A token could not be signed.
#[derive(Debug, thiserror::Error)]
pub(super) enum SignError {
    /// The claims did not serialise.
    #[error("the claims do not serialise: {0}")]
    Claims(#[from] serde_json::Error),
    /// HMAC refused the key (it takes keys of any length, so this does not happen).
    #[error("HMAC-SHA-256 refused the key")]
    Key,
}

/// `claims` as a signed token.
pub(super) fn sign<T: Serialize>(key: &[u8], claims: &T) -> Result<String, SignError> {
    let payload = serde_json::to_vec(claims)?;
    let mut token = HEADER_SEGMENT.to_owned();
    token.push('.');
    URL_SAFE_NO_PAD.encode_string(payload, &mut token);
    let tag = tag(key, token.as_bytes()).ok_or(SignError::Key)?;
    token.push('.');
    URL_SAFE_NO_PAD.encode_string(tag, &mut token);
    Ok(token)
}

/// The claims of `token` if it is an HS256 token signed under `key`. Callers bound the length.
pub(super) fn verify<T: DeserializeOwned>(key: &[u8], token: &str) -> Result<T, Rejected> {
    let mut segments = token.split('.');
    let (Some(header), Some(payload), Some(signature), None) = (
        segments.next(),
        segments.next(),
        segments.next(),
        segments.next(),
    ) else {
        return Err(Rejected::Malformed);
    };
    // The signing input: the first two segments and the dot between them.
    let signed = token
        .get(..header.len() + 1 + payload.len())
        .ok_or(Rejected::Malformed)?;
    // The header is public: an ordinary comparison.
    if header != HEADER_SEGMENT {
        return Err(Rejected::Header);
    }
    let signature = decode(signature)?;
    let expected = tag(key, signed.as_bytes()).ok_or(Rejected::Signature)?;
    // `ct_eq` on slices of unequal length is false at once: the length is no secret.
    if !bool::from(expected.as_slice().ct_eq(&signature)) {
        return Err(Rejected::Signature);
    }
    serde_json::from_slice(&decode(payload)?).map_err(|_| Rejected::Claims)
}

fn decode(segment: &str) -> Result<Vec<u8>, Rejected> {
    URL_SAFE_NO_PAD
        .decode(segment)
        .map_err(|_| Rejected::Malformed)
}

/// HMAC-SHA-256 of `message`; `None` only if HMAC refused the key, which it never does.
fn tag(key: &[u8], message: &[u8]) -> Option<[u8; 32]> {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key).ok()?;
    mac.update(message);
    Some(mac.finalize().into_bytes().into())
}
