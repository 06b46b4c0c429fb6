//! Key metadata and the standard-key rotation bodies.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// Everything shown about a key; never the secret.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
pub struct KeyMetadata {
    /// Record id.
    pub id: String,
    /// `standard` or `restricted`.
    pub kind: String,
    /// Mode: `test` or `live`.
    #[serde(rename = "type")]
    pub mode: String,
    /// Label.
    pub label: String,
    /// First 12 and last 4 characters.
    pub hint: String,
    /// Granted scopes.
    pub scopes: Vec<String>,
    /// `active`, `expired`, `revoked` or `rotated`.
    pub status: String,
    /// Creation time.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// Creator's user id, or null for the operator CLI.
    pub created_by: Option<String>,
    /// Expiry, or null for never.
    #[serde(with = "time::serde::rfc3339::option")]
    pub expires_at: Option<OffsetDateTime>,
    /// Last successful verification (recorded in batches, seconds behind).
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_used_at: Option<OffsetDateTime>,
    /// When this key was superseded by rotation.
    #[serde(with = "time::serde::rfc3339::option")]
    pub rotated_at: Option<OffsetDateTime>,
    /// When it was revoked.
    #[serde(with = "time::serde::rfc3339::option")]
    pub revoked_at: Option<OffsetDateTime>,
    /// For a rotated key: when it stops (or stopped) working.
    #[serde(with = "time::serde::rfc3339::option")]
    pub grace_until: Option<OffsetDateTime>,
    /// Older than the account's rotation period.
    pub rotation_due: bool,
}

/// A key just issued: metadata plus the secret, shown this once.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct IssuedKeyBody {
    /// The secret. Store it now: it is never shown again.
    pub key: String,
    /// Its metadata.
    #[serde(flatten)]
    pub metadata: KeyMetadata,
}

/// `GET /v1/auth/api-keys/`
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct StandardKeys {
    /// The test key.
    pub test: Option<KeyMetadata>,
    /// The live key.
    pub live: Option<KeyMetadata>,
}

/// `PATCH /v1/auth/api-keys/` response.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct RotatedKeyBody {
    /// The new key, shown once.
    #[serde(flatten)]
    pub issued: IssuedKeyBody,
    /// What happens to the key it replaces.
    pub previous: PreviousKey,
}

/// The key a rotation replaced.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct PreviousKey {
    /// Its id.
    pub id: String,
    /// Its hint.
    pub hint: String,
    /// When it stops (or stopped) working.
    #[serde(with = "time::serde::rfc3339")]
    pub stops_at: OffsetDateTime,
}

/// `POST /v1/api-keys/`
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CreateKeyRequest {
    /// Label, 1–100 characters.
    pub label: String,
    /// Mode: `test` or `live`.
    #[serde(rename = "type")]
    pub mode: String,
    /// Scopes, e.g. `["payroll:read"]`.
    pub scopes: Vec<String>,
    /// Optional expiry (RFC 3339); null or absent for never.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub expires_at: Option<OffsetDateTime>,
}

/// `PATCH /v1/api-keys/{id}/`: absent fields stay as they are; `"expires_at": null` removes the
/// expiry.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateKeyRequest {
    /// New label.
    #[serde(default)]
    pub label: Option<String>,
    /// New scopes.
    #[serde(default)]
    pub scopes: Option<Vec<String>>,
    /// New expiry, or null for never.
    #[serde(default, deserialize_with = "double_option_time", skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<Option<String>>,
}

fn double_option_time<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(deserializer).map(Some)
}

/// `POST /v1/api-keys/{id}/rotate/`
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RotateKeyRequest {
    /// Seconds the previous key keeps working (0 to 7 days); absent: it stops at once.
    #[serde(default)]
    pub expire_previous_in: Option<i64>,
}

/// A page of keys, newest first.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct KeyPage {
    /// The keys.
    pub results: Vec<KeyMetadata>,
    /// Pass as `cursor` for the next page; null on the last page.
    pub next_cursor: Option<String>,
}
