//! The error body. Every failure of the API is JSON with at least a `detail` that says what is
//! wrong and what to do; most also carry a stable `code` clients can branch on.

use serde::{Deserialize, Serialize};

/// Stable machine-readable error codes (SPEC §3 plus the console's own).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The key text is not a key (shape, length, characters, checksum, header syntax).
    InvalidKeyFormat,
    /// Well-formed, but no such key.
    KeyNotFound,
    /// Revoked.
    KeyRevoked,
    /// Superseded by rotation and past its grace deadline.
    KeyRotated,
    /// Past its expiry.
    KeyExpired,
    /// Valid, but lacks the scope the request needs.
    InsufficientScope,
    /// Too many failed attempts from this client.
    RateLimited,
    /// The console access token is missing, invalid or expired.
    TokenNotValid,
    /// Email or password wrong.
    InvalidCredentials,
    /// The user has 2FA and sent no code.
    OtpRequired,
    /// The 2FA code is wrong or was used already.
    OtpInvalid,
    /// The account requires 2FA for key changes and the user has none.
    TwoFactorRequired,
    /// The role may not do this.
    PermissionDenied,
    /// A field of the body breaks a rule.
    Invalid,
    /// The body is not the JSON the endpoint expects.
    MalformedBody,
    /// The body is larger than allowed.
    PayloadTooLarge,
    /// No such resource (in the caller's account).
    NotFound,
    /// The method is not allowed on this path.
    MethodNotAllowed,
    /// A concurrent change got there first, or the state forbids the change.
    Conflict,
    /// The verification endpoints need the configured verifier secret.
    VerifierSecretRequired,
    /// Storage is unreachable; retry after the given time.
    Unavailable,
    /// An unexpected failure; details are in the server log, not here.
    Internal,
}

/// The common error body. Optional fields are left out when empty.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// What is wrong, for people.
    pub detail: String,
    /// Stable code.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<ErrorCode>,
    /// For malformed keys: exactly what is wrong with the key and how to fix it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
    /// For revoked, rotated and expired keys: when the key stopped working.
    #[serde(skip_serializing_if = "Option::is_none", with = "time::serde::rfc3339::option", default)]
    pub stopped_at: Option<time::OffsetDateTime>,
    /// For `insufficient_scope`: the scope the request needs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub required_scope: Option<String>,
    /// For `invalid`: the field that breaks a rule.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// For `token_not_valid`: the seed's `messages` list.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub messages: Option<Vec<TokenMessage>>,
}

impl ErrorBody {
    /// A body with a detail and a code.
    pub fn new(detail: impl Into<String>, code: ErrorCode) -> Self {
        Self { code: Some(code), ..Self::detail_only(detail) }
    }

    /// A body with only a detail (the DRF shapes the seeds use).
    pub fn detail_only(detail: impl Into<String>) -> Self {
        Self {
            detail: detail.into(),
            code: None,
            hint: None,
            stopped_at: None,
            required_scope: None,
            field: None,
            messages: None,
        }
    }
}

/// One entry of `messages` in a `token_not_valid` body (djangorestframework-simplejwt's shape).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenMessage {
    /// `AccessToken`
    pub token_class: String,
    /// `access`
    pub token_type: String,
    /// `Token is invalid or expired`
    pub message: String,
}

/// The seeds' 400 and 404 shape for the standard-keys endpoints.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NoticeBody {
    /// HTTP status repeated.
    pub code: u16,
    /// Short title.
    pub title: String,
    /// What to do.
    pub content: String,
    /// `warning` or `danger`.
    #[serde(rename = "type")]
    pub kind: String,
}
