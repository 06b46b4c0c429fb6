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
    /// The address of the client that presented the key, checked against the key's
    /// allowlist; absent: the address of this request's client (SPEC §3).
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(example = "203.0.113.7"))]
    pub client_ip: Option<String>,
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
    /// The key's metadata, for a key with some.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>, example = json!({"customer": "acme-42"})))]
    pub metadata: Option<serde_json::Map<String, serde_json::Value>>,
    /// The rate limit after this check, for a key with one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_limit: Option<crate::policy::LimitStatus>,
    /// The usage limit after this check, for a key with one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage_limit: Option<crate::policy::LimitStatus>,
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
    /// For `usage_limit_exceeded`: when the limit resets, or null if it never does.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "crate::policy::resets_at"
    )]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime, example = "2026-12-01T00:00:00Z"))]
    pub resets_at: Option<Option<OffsetDateTime>>,
}
