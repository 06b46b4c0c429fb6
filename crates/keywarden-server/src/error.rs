//! The one place where failures become HTTP answers.
//!
//! Handlers and extractors return [`ApiError`]; domain errors convert into it with `?`. Every
//! answer is JSON and says what to do. A 500's cause goes to the log (with a request-free
//! message), never into the body.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use keywarden_api_types::error::{NoticeBody, TokenMessage};
use keywarden_api_types::{ErrorBody, ErrorCode};
use keywarden_core::DomainError;
use keywarden_core::key_record::Refusal;
use keywarden_core::store::StoreError;
use std::borrow::Cow;

/// `WWW-Authenticate` on 401s of the key-checking endpoints: the three accepted schemes.
const KEY_CHALLENGE: &str =
    r#"Basic realm="keywarden", Api-Key realm="keywarden", Bearer realm="keywarden""#;
/// `WWW-Authenticate` on 401s of the console endpoints.
const TOKEN_CHALLENGE: &str = r#"Bearer realm="keywarden-console""#;

/// Which endpoint family a 401 comes from (it decides the challenge).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Realm {
    /// Forward-auth and other key-authenticated requests.
    Key,
    /// Console endpoints (JWT).
    Console,
}

/// Every failure the API answers.
#[derive(Debug)]
pub enum ApiError {
    /// No `Authorization` header.
    NotProvided(Realm),
    /// The header or the key in it is malformed; the hint says exactly how.
    KeyFormat(Cow<'static, str>),
    /// Well-formed, unknown key.
    KeyNotFound,
    /// Revoked, rotated past grace, or expired.
    KeyRefused(Refusal),
    /// Valid key without the needed scope.
    InsufficientScope(String),
    /// Too many failures from this client.
    RateLimited {
        /// Seconds until another attempt is counted.
        retry_after: u64,
    },
    /// Console token missing the right shape, invalid, expired, or of the wrong type.
    TokenNotValid,
    /// Refresh token invalid or expired.
    RefreshNotValid,
    /// Sign-in with wrong email or password.
    InvalidCredentials,
    /// The user has 2FA and sent no code.
    OtpRequired,
    /// The 2FA code is wrong or was used already.
    OtpInvalid,
    /// The role may not do this.
    Forbidden,
    /// A rule forbids this actor the action; the message says which.
    ForbiddenBecause(String),
    /// The account requires 2FA for key changes and the user has none.
    TwoFactorRequired,
    /// A field breaks a rule.
    Invalid {
        /// The field.
        field: Cow<'static, str>,
        /// What is wrong and what to do.
        message: String,
    },
    /// The body is not the expected JSON.
    MalformedBody(String),
    /// Body over the limit.
    PayloadTooLarge,
    /// The seeds' 400 for a missing or wrong `type` on `PATCH /v1/auth/api-keys/`.
    StandardKeyType,
    /// The seeds' 404 when an account has no standard keys.
    NoStandardKeys,
    /// No such thing in the caller's account.
    NotFound(&'static str),
    /// Unknown path.
    NoRoute,
    /// Method not allowed on the path.
    MethodNotAllowed,
    /// A concurrent change won, or the state forbids the change.
    Conflict(String),
    /// The verifier secret is configured and was not presented.
    VerifierSecretRequired,
    /// Storage unreachable, or the key table too old to trust.
    Unavailable,
    /// Anything unexpected; the cause is logged here, never sent.
    Internal(String),
}

impl ApiError {
    fn status(&self) -> StatusCode {
        match self {
            Self::NotProvided(_)
            | Self::KeyFormat(_)
            | Self::KeyNotFound
            | Self::KeyRefused(_)
            | Self::TokenNotValid
            | Self::RefreshNotValid
            | Self::InvalidCredentials
            | Self::OtpRequired
            | Self::OtpInvalid
            | Self::VerifierSecretRequired => StatusCode::UNAUTHORIZED,
            Self::InsufficientScope(_)
            | Self::Forbidden
            | Self::ForbiddenBecause(_)
            | Self::TwoFactorRequired => StatusCode::FORBIDDEN,
            Self::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::Invalid { .. } | Self::MalformedBody(_) | Self::StandardKeyType => {
                StatusCode::BAD_REQUEST
            }
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::NoStandardKeys | Self::NotFound(_) | Self::NoRoute => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The body of a key failure, as used by both the 401/403 answers and `POST /v1/verify/`.
    pub fn key_body(&self) -> Option<ErrorBody> {
        Some(match self {
            Self::KeyFormat(hint) => ErrorBody {
                hint: Some(hint.to_string()),
                ..ErrorBody::new("Invalid API Key format", ErrorCode::InvalidKeyFormat)
            },
            Self::KeyNotFound => ErrorBody::new("Invalid API Key", ErrorCode::KeyNotFound),
            Self::KeyRefused(refusal) => {
                let (detail, code, at) = match *refusal {
                    Refusal::Revoked { at } => (
                        "This API key has been revoked. Use another key, or create a new one in the console.",
                        ErrorCode::KeyRevoked,
                        at,
                    ),
                    Refusal::Rotated { at } => (
                        "This API key was replaced by rotation and no longer works. Use the new key from the console.",
                        ErrorCode::KeyRotated,
                        at,
                    ),
                    Refusal::Expired { at } => (
                        "This API key has expired. Create a new key in the console.",
                        ErrorCode::KeyExpired,
                        at,
                    ),
                };
                ErrorBody {
                    stopped_at: Some(at),
                    ..ErrorBody::new(detail, code)
                }
            }
            Self::InsufficientScope(scope) => ErrorBody {
                required_scope: Some(scope.clone()),
                ..ErrorBody::new(
                    format!("This API key does not have the '{scope}' permission."),
                    ErrorCode::InsufficientScope,
                )
            },
            Self::RateLimited { retry_after } => ErrorBody::new(
                format!(
                    "Too many failed attempts from your address. Wait {retry_after} seconds, then check the credentials you are sending and try again."
                ),
                ErrorCode::RateLimited,
            ),
            _ => return None,
        })
    }

    fn body(&self) -> Response {
        if let Some(body) = self.key_body() {
            return Json(body).into_response();
        }
        let body = match self {
            Self::NotProvided(_) => {
                ErrorBody::detail_only("Authentication credentials were not provided.")
            }
            Self::TokenNotValid => ErrorBody {
                messages: Some(vec![TokenMessage {
                    token_class: "AccessToken".into(),
                    token_type: "access".into(),
                    message: "Token is invalid or expired".into(),
                }]),
                ..ErrorBody::new(
                    "Given token not valid for any token type",
                    ErrorCode::TokenNotValid,
                )
            },
            Self::RefreshNotValid => {
                ErrorBody::new("Token is invalid or expired", ErrorCode::TokenNotValid)
            }
            Self::InvalidCredentials => ErrorBody::new(
                "No active account found with the given credentials",
                ErrorCode::InvalidCredentials,
            ),
            Self::OtpRequired => ErrorBody::new(
                "This account uses two-factor authentication: send the 6-digit code from your authenticator app as `otp`.",
                ErrorCode::OtpRequired,
            ),
            Self::OtpInvalid => ErrorBody::new(
                "The two-factor code is wrong, expired or already used. Wait for the next code and try again.",
                ErrorCode::OtpInvalid,
            ),
            Self::Forbidden => {
                ErrorBody::detail_only("You do not have permission to perform this action.")
            }
            Self::ForbiddenBecause(message) => {
                ErrorBody::new(message.clone(), ErrorCode::PermissionDenied)
            }
            Self::TwoFactorRequired => ErrorBody::new(
                "This account requires two-factor authentication to create, rotate or revoke keys. Enable it under Security (POST /v1/auth/2fa/setup/), then try again.",
                ErrorCode::TwoFactorRequired,
            ),
            Self::Invalid { field, message } => ErrorBody {
                field: Some(field.to_string()),
                ..ErrorBody::new(format!("{field}: {message}"), ErrorCode::Invalid)
            },
            Self::MalformedBody(why) => ErrorBody::new(
                format!("The request body is not valid JSON for this endpoint: {why}"),
                ErrorCode::MalformedBody,
            ),
            Self::PayloadTooLarge => ErrorBody::new(
                "The request body is too large. Send a smaller body.",
                ErrorCode::PayloadTooLarge,
            ),
            Self::StandardKeyType => {
                let notice = NoticeBody {
                    code: 400,
                    title: "Invalid request".into(),
                    content: "Please provide a valid 'type' field: 'test' or 'live'.".into(),
                    kind: "danger".into(),
                };
                return Json(serde_json::json!({ "message": notice })).into_response();
            }
            Self::NoStandardKeys => {
                return Json(NoticeBody {
                    code: 404,
                    title: "API Keys not found".into(),
                    content: "No API keys found for this user. Please contact support.".into(),
                    kind: "warning".into(),
                })
                .into_response();
            }
            Self::NotFound(what) => ErrorBody::new(
                format!("No such {what} in your account. Check the id, or list them first."),
                ErrorCode::NotFound,
            ),
            Self::NoRoute => ErrorBody::new(
                "No endpoint at this path. GET /openapi.json lists the endpoints.",
                ErrorCode::NotFound,
            ),
            Self::MethodNotAllowed => ErrorBody::new(
                "This method is not allowed on this path. GET /openapi.json lists what each path accepts.",
                ErrorCode::MethodNotAllowed,
            ),
            Self::Conflict(message) => ErrorBody::new(message.clone(), ErrorCode::Conflict),
            Self::VerifierSecretRequired => ErrorBody::new(
                "This endpoint needs the verifier secret: send it in the X-Keywarden-Verifier-Secret header.",
                ErrorCode::VerifierSecretRequired,
            ),
            Self::Unavailable => ErrorBody::new(
                "Keywarden cannot reach its database right now. Retry after the time in Retry-After.",
                ErrorCode::Unavailable,
            ),
            Self::Internal(_) => ErrorBody::new(
                "An unexpected error occurred. It has been logged; retry, and report it if it persists.",
                ErrorCode::Internal,
            ),
            Self::KeyFormat(_)
            | Self::KeyNotFound
            | Self::KeyRefused(_)
            | Self::InsufficientScope(_)
            | Self::RateLimited { .. } => ErrorBody::detail_only(""),
        };
        Json(body).into_response()
    }
}

impl ApiError {
    /// The outcome of a key check this error stands for, for `/metrics`.
    pub fn key_outcome(&self) -> Option<&'static str> {
        Some(match self {
            Self::KeyFormat(_) => "invalid_key_format",
            Self::KeyNotFound => "key_not_found",
            Self::KeyRefused(Refusal::Revoked { .. }) => "key_revoked",
            Self::KeyRefused(Refusal::Rotated { .. }) => "key_rotated",
            Self::KeyRefused(Refusal::Expired { .. }) => "key_expired",
            Self::InsufficientScope(_) => "insufficient_scope",
            Self::RateLimited { .. } => "rate_limited",
            Self::Unavailable => "unavailable",
            _ => return None,
        })
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let Self::Internal(cause) = &self {
            tracing::error!(%cause, "internal error");
        }
        let status = self.status();
        let mut response = self.body();
        *response.status_mut() = status;
        let headers = response.headers_mut();
        match &self {
            Self::NotProvided(Realm::Console)
            | Self::TokenNotValid
            | Self::RefreshNotValid
            | Self::InvalidCredentials
            | Self::OtpRequired
            | Self::OtpInvalid => {
                headers.insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static(TOKEN_CHALLENGE),
                );
            }
            Self::RateLimited { retry_after } => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from(*retry_after));
            }
            Self::Unavailable => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            }
            _ if status == StatusCode::UNAUTHORIZED => {
                headers.insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static(KEY_CHALLENGE),
                );
            }
            _ => {}
        }
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        response
    }
}

impl From<DomainError> for ApiError {
    fn from(error: DomainError) -> Self {
        match error {
            DomainError::Invalid { field, message } => Self::Invalid {
                field: field.into(),
                message,
            },
            DomainError::NotFound(what) => Self::NotFound(what),
            DomainError::NoStandardKeys => Self::NoStandardKeys,
            DomainError::Conflict(message) => Self::Conflict(message),
            DomainError::Forbidden(message) => Self::ForbiddenBecause(message),
            DomainError::TwoFactorRequired => Self::TwoFactorRequired,
            DomainError::OtpInvalid => Self::OtpInvalid,
            DomainError::Store(e) => e.into(),
            DomainError::Password(e) => Self::Invalid {
                field: "password".into(),
                message: e.to_string(),
            },
            DomainError::Random(e) => Self::Internal(e.to_string()),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::NotFound => Self::NotFound("record"),
            StoreError::Conflict(what) => Self::Conflict(format!(
                "This change conflicts with the current state ({what}). Reload and try again."
            )),
            StoreError::Unavailable(cause) => {
                tracing::warn!(%cause, "storage unavailable");
                Self::Unavailable
            }
            StoreError::Other(cause) => Self::Internal(cause),
        }
    }
}
