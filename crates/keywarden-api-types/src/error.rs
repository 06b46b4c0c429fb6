//! The error body. Every failure of the API is JSON with at least a `detail` that says what is
//! wrong and what to do; most also carry a stable `code` clients can branch on.

use serde::{Deserialize, Serialize};

/// Stable machine-readable error codes (SPEC §3 plus the console's own).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// No credentials in the request (the seeds' body for this case carries no code; the
    /// verdict of `POST /v1/verify/` and the metrics name it).
    NotProvided,
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
    /// The key may not be used from the client's address (its allowlist).
    IpNotAllowed,
    /// The key's own rate limit is reached.
    KeyRateLimited,
    /// The key's usage limit for its period is reached.
    UsageLimitExceeded,
    /// A key change breaks the account's key policy; `field` names the field.
    PolicyViolation,
    /// The console access token is missing, invalid or expired.
    TokenNotValid,
    /// Email or password wrong.
    InvalidCredentials,
    /// The user has 2FA and sent no code.
    OtpRequired,
    /// The 2FA code is wrong or was used already.
    OtpInvalid,
    /// The password that confirms a change to two-factor authentication is wrong (the
    /// session stands).
    PasswordInvalid,
    /// The account requires 2FA for key changes and the user has none.
    TwoFactorRequired,
    /// The user has no two-factor authentication to turn off or change.
    TwoFactorNotEnabled,
    /// The role may not do this.
    PermissionDenied,
    /// A field of the body breaks a rule.
    Invalid,
    /// The body is not the JSON the endpoint expects.
    MalformedBody,
    /// The body is larger than allowed.
    PayloadTooLarge,
    /// Too many header fields, or too many bytes of them.
    HeadersTooLarge,
    /// The path and query are longer than allowed.
    UriTooLong,
    /// No such resource (in the caller's account).
    NotFound,
    /// The method is not allowed on this path.
    MethodNotAllowed,
    /// A concurrent change got there first, or the state forbids the change.
    Conflict,
    /// The verification endpoints need the configured verifier secret.
    VerifierSecretRequired,
    /// A signed report (GitHub's secret scanning) is unsigned, its signature does not verify,
    /// or it names a public key that is not known.
    SignatureInvalid,
    /// Storage is unreachable; retry after the given time.
    Unavailable,
    /// Every password check is taken (many sign-ins at once); retry after the given time.
    Busy,
    /// An unexpected failure; details are in the server log, not here.
    Internal,
}

/// The common error body. Optional fields are left out when empty.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(example = json!({
    "detail": "Invalid API Key format",
    "code": "invalid_key_format",
    "hint": "An API key is 46 characters long; this one has 45. It was probably truncated or pasted twice: copy the whole key again."
})))]
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
    #[serde(
        skip_serializing_if = "Option::is_none",
        with = "time::serde::rfc3339::option",
        default
    )]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime, example = "2026-11-02T09:30:00Z"))]
    pub stopped_at: Option<time::OffsetDateTime>,
    /// For `insufficient_scope`: the scope the request needs.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(example = "payroll:write"))]
    pub required_scope: Option<String>,
    /// For `usage_limit_exceeded`: when the usage limit resets, or null if it never does.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "crate::policy::resets_at"
    )]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime, example = "2026-12-01T00:00:00Z"))]
    pub resets_at: Option<Option<time::OffsetDateTime>>,
    /// For `invalid`: the field that breaks a rule; for `password_invalid` and `otp_invalid`
    /// when a change is confirmed: the field that is wrong.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(example = "label"))]
    pub field: Option<String>,
    /// For `token_not_valid`: the seed's `messages` list.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub messages: Option<Vec<TokenMessage>>,
}

impl ErrorBody {
    /// A body with a detail and a code.
    pub fn new(detail: impl Into<String>, code: ErrorCode) -> Self {
        Self {
            code: Some(code),
            ..Self::detail_only(detail)
        }
    }

    /// A body with only a detail (the DRF shapes the seeds use).
    pub fn detail_only(detail: impl Into<String>) -> Self {
        Self {
            detail: detail.into(),
            code: None,
            hint: None,
            stopped_at: None,
            required_scope: None,
            resets_at: None,
            field: None,
            messages: None,
        }
    }
}

/// One entry of `messages` in a `token_not_valid` body (djangorestframework-simplejwt's shape).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TokenMessage {
    /// `AccessToken`
    #[cfg_attr(feature = "openapi", schema(example = "AccessToken"))]
    pub token_class: String,
    /// `access`
    #[cfg_attr(feature = "openapi", schema(example = "access"))]
    pub token_type: String,
    /// `Token is invalid or expired`
    #[cfg_attr(feature = "openapi", schema(example = "Token is invalid or expired"))]
    pub message: String,
}

/// The seeds' 400 and 404 shape for the standard-keys endpoints.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NoticeBody {
    /// HTTP status repeated.
    #[cfg_attr(feature = "openapi", schema(example = 404))]
    pub code: u16,
    /// Short title.
    #[cfg_attr(feature = "openapi", schema(example = "API Keys not found"))]
    pub title: String,
    /// What to do.
    #[cfg_attr(
        feature = "openapi",
        schema(example = "No API keys found for this user. Please contact support.")
    )]
    pub content: String,
    /// `warning` or `danger`.
    #[serde(rename = "type")]
    #[cfg_attr(feature = "openapi", schema(example = "warning"))]
    pub kind: String,
}

/// The seeds' 400 for `PATCH /v1/auth/api-keys/` without a valid `type`: a [`NoticeBody`]
/// under `message`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(example = json!({"message": {
    "code": 400,
    "title": "Invalid request",
    "content": "Please provide a valid 'type' field: 'test' or 'live'.",
    "type": "danger"
}})))]
pub struct NoticeMessage {
    /// The notice.
    pub message: NoticeBody,
}
