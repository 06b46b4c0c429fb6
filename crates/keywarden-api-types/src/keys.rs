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
