//! Key metadata and the standard-key rotation bodies.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// Everything shown about a key; never the secret.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct KeyMetadata {
    /// Record id.
    #[cfg_attr(
        feature = "openapi",
        schema(example = "01936f6e-8a4b-7c1d-9e2f-3a4b5c6d7e8f")
    )]
    pub id: String,
    /// `standard` or `restricted`.
    #[cfg_attr(feature = "openapi", schema(example = "restricted"))]
    pub kind: String,
    /// Mode: `test` or `live`.
    #[serde(rename = "type")]
    #[cfg_attr(feature = "openapi", schema(example = "live"))]
    pub mode: String,
    /// Label.
    #[cfg_attr(feature = "openapi", schema(example = "payroll sync"))]
    pub label: String,
    /// First 12 and last 4 characters.
    #[cfg_attr(feature = "openapi", schema(example = "rk_live_Docs…T2zK"))]
    pub hint: String,
    /// Granted scopes.
    #[cfg_attr(feature = "openapi", schema(example = json!(["payroll:read", "payroll:write"])))]
    pub scopes: Vec<String>,
    /// `active`, `expired`, `revoked` or `rotated`.
    #[cfg_attr(feature = "openapi", schema(example = "active"))]
    pub status: String,
    /// Creation time.
    #[serde(with = "time::serde::rfc3339")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime, example = "2026-11-02T09:30:00Z"))]
    pub created_at: OffsetDateTime,
    /// Creator's user id, or null for the operator CLI.
    #[cfg_attr(feature = "openapi", schema(required))]
    pub created_by: Option<String>,
    /// Creator's email while they are a member of the account; null for the operator CLI or a
    /// member since removed.
    #[cfg_attr(feature = "openapi", schema(required, example = "ada@example.com"))]
    pub created_by_email: Option<String>,
    /// Expiry, or null for never.
    #[serde(with = "time::serde::rfc3339::option")]
    #[cfg_attr(feature = "openapi", schema(required, value_type = Option<String>, format = DateTime, example = "2026-11-02T09:30:00Z"))]
    pub expires_at: Option<OffsetDateTime>,
    /// Last successful verification (recorded in batches, seconds behind).
    #[serde(with = "time::serde::rfc3339::option")]
    #[cfg_attr(feature = "openapi", schema(required, value_type = Option<String>, format = DateTime, example = "2026-11-02T09:30:00Z"))]
    pub last_used_at: Option<OffsetDateTime>,
    /// When this key was superseded by rotation.
    #[serde(with = "time::serde::rfc3339::option")]
    #[cfg_attr(feature = "openapi", schema(required, value_type = Option<String>, format = DateTime, example = "2026-11-02T09:30:00Z"))]
    pub rotated_at: Option<OffsetDateTime>,
    /// When it was revoked.
    #[serde(with = "time::serde::rfc3339::option")]
    #[cfg_attr(feature = "openapi", schema(required, value_type = Option<String>, format = DateTime, example = "2026-11-02T09:30:00Z"))]
    pub revoked_at: Option<OffsetDateTime>,
    /// For a rotated key: when it stops (or stopped) working.
    #[serde(with = "time::serde::rfc3339::option")]
    #[cfg_attr(feature = "openapi", schema(required, value_type = Option<String>, format = DateTime, example = "2026-11-02T09:30:00Z"))]
    pub grace_until: Option<OffsetDateTime>,
    /// Older than the account's rotation period.
    pub rotation_due: bool,
    /// Addresses and CIDR ranges the key may be used from; null for anywhere.
    #[cfg_attr(feature = "openapi", schema(required, example = json!(["203.0.113.7", "10.0.0.0/8"])))]
    pub allowed_ips: Option<Vec<String>>,
    /// The key's rate limit, or null.
    #[cfg_attr(feature = "openapi", schema(required))]
    pub rate_limit: Option<crate::policy::RateLimitBody>,
    /// The key's usage limit, or null.
    #[cfg_attr(feature = "openapi", schema(required))]
    pub usage_limit: Option<crate::policy::UsageLimitBody>,
    /// For a key with a usage limit, where it stands in the current period (key listings and
    /// single-key answers; null elsewhere, such as webhook bodies).
    #[cfg_attr(feature = "openapi", schema(required))]
    pub usage: Option<crate::policy::UsageStatus>,
    /// The client address of the last successful verification (recorded in batches, seconds
    /// behind; key listings and single-key answers, null elsewhere).
    #[cfg_attr(feature = "openapi", schema(required, example = "203.0.113.7"))]
    pub last_used_ip: Option<String>,
    /// The customer's own JSON object (at most 4 KiB), returned by verification; or null.
    #[cfg_attr(feature = "openapi", schema(required, value_type = Option<Object>, example = json!({"customer": "acme-42"})))]
    pub metadata: Option<serde_json::Map<String, serde_json::Value>>,
    /// When the key was first reported leaked (a secret-scanning report or a pasted text), or
    /// null if it never was.
    #[serde(with = "time::serde::rfc3339::option")]
    #[cfg_attr(feature = "openapi", schema(required, value_type = Option<String>, format = DateTime, example = "2026-11-24T07:12:45Z"))]
    pub leaked_at: Option<OffsetDateTime>,
    /// Where it was found (the report's `http(s)` URL), or null: never leaked, found in a
    /// pasted text, or reported without a URL.
    #[cfg_attr(
        feature = "openapi",
        schema(required, example = "https://github.com/acme/app/blob/3f2a1c9/.env")
    )]
    pub leak_url: Option<String>,
    /// Whether this is a canary key (SPEC §8): it authorizes nothing, is answered as an
    /// unknown key, and every presentation is recorded as `key.canary_used`.
    pub canary: bool,
    /// For a canary, the presentations recorded (at most one per client address a minute);
    /// 0 for other keys. Key listings and single-key answers; 0 elsewhere.
    #[cfg_attr(feature = "openapi", schema(example = 3))]
    pub tripped_count: u64,
    /// For a canary, when it was last presented; null if never, and for other keys.
    #[serde(with = "time::serde::rfc3339::option")]
    #[cfg_attr(feature = "openapi", schema(required, value_type = Option<String>, format = DateTime, example = "2026-11-25T03:04:05Z"))]
    pub last_tripped_at: Option<OffsetDateTime>,
}

/// A key just issued: metadata plus the secret, shown this once.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct IssuedKeyBody {
    /// The secret. Store it now: it is never shown again.
    #[cfg_attr(
        feature = "openapi",
        schema(example = "rk_live_DocsExample00000000000000000000023T2zK")
    )]
    pub key: String,
    /// Its metadata.
    #[serde(flatten)]
    pub metadata: KeyMetadata,
}

/// `GET /v1/auth/api-keys/`
#[derive(Clone, Debug, Deserialize, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StandardKeys {
    /// The test key; `null` while the last one is revoked and not yet replaced.
    #[cfg_attr(feature = "openapi", schema(required))]
    pub test: Option<KeyMetadata>,
    /// The live key; `null` while the last one is revoked and not yet replaced.
    #[cfg_attr(feature = "openapi", schema(required))]
    pub live: Option<KeyMetadata>,
}

/// `PATCH /v1/auth/api-keys/` response.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RotatedKeyBody {
    /// The new key, shown once.
    #[serde(flatten)]
    pub issued: IssuedKeyBody,
    /// What happens to the key it replaces.
    pub previous: PreviousKey,
}

/// `PATCH /v1/auth/api-keys/`
#[derive(Clone, Debug, Deserialize, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RotateStandardKeyRequest {
    /// Which standard key: `test` or `live`.
    #[serde(rename = "type")]
    #[cfg_attr(feature = "openapi", schema(value_type = crate::names::ModeName, example = "live"))]
    pub mode: String,
    /// Seconds the previous key keeps working (0 to 7 days); absent or null: it stops at once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(
        feature = "openapi",
        schema(minimum = 0, maximum = 604800, example = 3600)
    )]
    pub expire_previous_in: Option<i64>,
}

/// The key a rotation replaced (or, for a revoked standard key, the key its replacement
/// stands in for).
#[derive(Clone, Debug, Deserialize, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PreviousKey {
    /// Its id.
    pub id: String,
    /// Its hint.
    pub hint: String,
    /// When it stops (or stopped) working.
    #[serde(with = "time::serde::rfc3339")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime, example = "2026-11-02T09:30:00Z"))]
    pub stops_at: OffsetDateTime,
}

/// `POST /v1/api-keys/`
#[derive(Clone, Debug, Deserialize, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CreateKeyRequest {
    /// Label, 1–100 characters.
    #[cfg_attr(
        feature = "openapi",
        schema(min_length = 1, max_length = 100, example = "payroll sync")
    )]
    pub label: String,
    /// Mode: `test` or `live`.
    #[serde(rename = "type")]
    #[cfg_attr(feature = "openapi", schema(value_type = crate::names::ModeName, example = "live"))]
    pub mode: String,
    /// Scopes, e.g. `["payroll:read"]`: at least one; none (absent or empty) for a canary.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(example = json!(["payroll:read"])))]
    pub scopes: Vec<String>,
    /// Optional expiry (RFC 3339, in the future); null or absent for never.
    #[serde(default, with = "time::serde::rfc3339::option")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime, example = "2030-01-31T00:00:00Z"))]
    pub expires_at: Option<OffsetDateTime>,
    /// Addresses and CIDR ranges (IPv4 or IPv6, at most 100) the key may be used from;
    /// absent or null for anywhere.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(max_items = 100, example = json!(["203.0.113.7", "10.0.0.0/8"])))]
    pub allowed_ips: Option<Vec<String>>,
    /// A rate limit; absent or null for none.
    #[serde(default)]
    pub rate_limit: Option<crate::policy::RateLimitBody>,
    /// A usage limit; absent or null for none.
    #[serde(default)]
    pub usage_limit: Option<crate::policy::UsageLimitBody>,
    /// The customer's own JSON object (at most 4 KiB as compact JSON), returned by
    /// verification.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>, example = json!({"customer": "acme-42"})))]
    pub metadata: Option<serde_json::Map<String, serde_json::Value>>,
    /// A canary key (SPEC §8): it takes no scopes, allowlist or limits, authorizes nothing,
    /// is answered exactly as an unknown key, and records who presents it. Plant it where
    /// only an intruder would look. Default false.
    #[serde(default)]
    pub canary: bool,
}

/// `PATCH /v1/api-keys/{id}/`: absent fields stay as they are; `"expires_at": null` removes the
/// expiry.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(min_properties = 1))]
#[serde(deny_unknown_fields)]
pub struct UpdateKeyRequest {
    /// New label.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 100))]
    pub label: Option<String>,
    /// New scopes: at least one.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(min_items = 1))]
    pub scopes: Option<Vec<String>>,
    /// New expiry, or null for never.
    #[serde(
        default,
        deserialize_with = "crate::policy::double_option",
        skip_serializing_if = "Option::is_none"
    )]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime, example = "2027-01-31T00:00:00Z"))]
    pub expires_at: Option<Option<String>>,
    /// New allowlist, or null for anywhere.
    #[serde(
        default,
        deserialize_with = "crate::policy::double_option",
        skip_serializing_if = "Option::is_none"
    )]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Vec<String>>, max_items = 100))]
    pub allowed_ips: Option<Option<Vec<String>>>,
    /// New rate limit, or null for none.
    #[serde(
        default,
        deserialize_with = "crate::policy::double_option",
        skip_serializing_if = "Option::is_none"
    )]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<crate::policy::RateLimitBody>))]
    pub rate_limit: Option<Option<crate::policy::RateLimitBody>>,
    /// New usage limit, or null for none.
    #[serde(
        default,
        deserialize_with = "crate::policy::double_option",
        skip_serializing_if = "Option::is_none"
    )]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<crate::policy::UsageLimitBody>))]
    pub usage_limit: Option<Option<crate::policy::UsageLimitBody>>,
    /// New metadata object, or null for none.
    #[serde(
        default,
        deserialize_with = "crate::policy::double_option",
        skip_serializing_if = "Option::is_none"
    )]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub metadata: Option<Option<serde_json::Map<String, serde_json::Value>>>,
}

/// `POST /v1/api-keys/{id}/rotate/`
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct RotateKeyRequest {
    /// Seconds the previous key keeps working (0 to 7 days); absent: it stops at once.
    #[serde(default)]
    #[cfg_attr(
        feature = "openapi",
        schema(minimum = 0, maximum = 604800, example = 3600)
    )]
    pub expire_previous_in: Option<i64>,
}

/// A page of keys, in the order asked (newest first unless `order` says otherwise).
#[derive(Clone, Debug, Deserialize, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct KeyPage {
    /// The keys.
    pub results: Vec<KeyMetadata>,
    /// Pass as `cursor` for the next page, with the same `order`; null on the last page. Opaque:
    /// it names its order, so a cursor of another order is refused.
    #[cfg_attr(feature = "openapi", schema(required))]
    pub next_cursor: Option<String>,
}
