//! `POST /v1/verify/`

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// The request.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct VerifyRequest {
    /// The presented key.
    #[cfg_attr(
        feature = "openapi",
        schema(example = "sk_live_DocsExample00000000000000000000045CMiz")
    )]
    pub key: String,
    /// The scope the caller needs, e.g. `payroll:write`.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(example = "payroll:write"))]
    pub scope: Option<String>,
}

/// The answer: always 200; `valid` says whether the key may be used.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(untagged)]
pub enum VerifyResponse {
    /// The key is valid (and has the scope asked for).
    Valid(ValidKey),
    /// It is not.
    Invalid(InvalidKey),
}

/// A valid key.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ValidKey {
    /// Always true.
    #[cfg_attr(feature = "openapi", schema(example = true))]
    pub valid: bool,
    /// Key record id.
    pub key_id: String,
    /// Owning account.
    pub account_id: String,
    /// `test` or `live`.
    #[serde(rename = "type")]
    #[cfg_attr(feature = "openapi", schema(example = "live"))]
    pub mode: String,
    /// `standard` or `restricted`.
    #[cfg_attr(feature = "openapi", schema(example = "standard"))]
    pub kind: String,
    /// Granted scopes.
    pub scopes: Vec<String>,
    /// Expiry, or null.
    #[serde(with = "time::serde::rfc3339::option")]
    #[cfg_attr(feature = "openapi", schema(required, value_type = Option<String>, format = DateTime, example = "2026-11-02T09:30:00Z"))]
    pub expires_at: Option<OffsetDateTime>,
}

/// A refused key.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct InvalidKey {
    /// Always false.
    #[cfg_attr(feature = "openapi", schema(example = false))]
    pub valid: bool,
    /// One of the codes of SPEC §3.
    pub code: crate::ErrorCode,
    /// What is wrong.
    pub detail: String,
    /// For malformed keys: what exactly.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
    /// For stopped keys: when.
    #[serde(
        skip_serializing_if = "Option::is_none",
        with = "time::serde::rfc3339::option",
        default
    )]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime, example = "2026-11-02T09:30:00Z"))]
    pub stopped_at: Option<OffsetDateTime>,
    /// For `insufficient_scope`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(example = "payroll:write"))]
    pub required_scope: Option<String>,
}
