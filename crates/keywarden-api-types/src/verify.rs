//! `POST /v1/verify/`

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// The request.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct VerifyRequest {
    /// The presented key.
    pub key: String,
    /// The scope the caller needs, e.g. `payroll:write`.
    #[serde(default)]
    pub scope: Option<String>,
}

/// The answer: always 200; `valid` says whether the key may be used.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(untagged)]
pub enum VerifyResponse {
    /// The key is valid (and has the scope asked for).
    Valid(ValidKey),
    /// It is not.
    Invalid(InvalidKey),
}

/// A valid key.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
pub struct ValidKey {
    /// Always true.
    pub valid: bool,
    /// Key record id.
    pub key_id: String,
    /// Owning account.
    pub account_id: String,
    /// `test` or `live`.
    #[serde(rename = "type")]
    pub mode: String,
    /// `standard` or `restricted`.
    pub kind: String,
    /// Granted scopes.
    pub scopes: Vec<String>,
    /// Expiry, or null.
    #[serde(with = "time::serde::rfc3339::option")]
    pub expires_at: Option<OffsetDateTime>,
}

/// A refused key.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
pub struct InvalidKey {
    /// Always false.
    pub valid: bool,
    /// One of the codes of SPEC §3.
    pub code: crate::ErrorCode,
    /// What is wrong.
    pub detail: String,
    /// For malformed keys: what exactly.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
    /// For stopped keys: when.
    #[serde(skip_serializing_if = "Option::is_none", with = "time::serde::rfc3339::option", default)]
    pub stopped_at: Option<OffsetDateTime>,
    /// For `insufficient_scope`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub required_scope: Option<String>,
}
