//! The one place where failures become HTTP answers.
//!
//! Handlers and extractors return [`ApiError`]; domain errors convert into it with `?`. Every
//! answer is JSON and says what to do. A 500's cause goes to the log (with a request-free
//! message), never into the body.

pub mod responses;

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use keywarden_api_types::error::{NoticeBody, TokenMessage};
use keywarden_api_types::{ErrorBody, ErrorCode};
use keywarden_core::DomainError;
use keywarden_core::key_table::from_millis;
use keywarden_core::scope::Catalog;
use keywarden_core::store::StoreError;
use keywarden_core::verdict::{FormatProblem, Refusal};
use std::borrow::Cow;

/// `WWW-Authenticate` on 401s of the key-checking endpoints: the three accepted schemes.
const KEY_CHALLENGE: &str =
    r#"Basic realm="keywarden", Api-Key realm="keywarden", Bearer realm="keywarden""#;
/// `WWW-Authenticate` on 401s of the console endpoints.
const TOKEN_CHALLENGE: &str = r#"Bearer realm="keywarden-console""#;
/// `WWW-Authenticate` on 401s of GitHub's leak reports: what authenticates them is the
/// signature headers of GitHub's secret scanning partner program.
pub const SIGNATURE_CHALLENGE: &str = r#"Github-Public-Key-Signature realm="keywarden-leaks""#;

/// Every failure the API answers.
#[derive(Debug)]
pub enum ApiError {
    /// No `Authorization` header on a console endpoint.
    NotProvided,
    /// A key check said no (SPEC §3); built by [`ApiError::refused`].
    Refused {
        /// Why.
        refusal: Refusal,
        /// The name of the scope an `insufficient_scope` refusal lacked (empty otherwise).
        required_scope: String,
    },
    /// Too many failed sign-ins from this client or for this user.
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
    /// The password that confirms a change to 2FA is wrong: a 403, as the session stands.
    PasswordInvalid,
    /// The code that confirms a change to 2FA is wrong or was used already: a 403, as the
    /// session stands.
    ConfirmationOtpInvalid,
    /// The user has no 2FA to turn off or change.
    TwoFactorNotEnabled,
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
    /// A key change breaks the account's key policy (SPEC §9).
    PolicyViolation {
        /// The key field to fix.
        field: &'static str,
        /// What the policy asks and how to meet it.
        message: String,
    },
    /// The body is not the expected JSON.
    MalformedBody(String),
    /// Body over the limit.
    PayloadTooLarge,
    /// Too many bytes of headers.
    HeadersTooLarge {
        /// The limit, in bytes.
        limit: usize,
    },
    /// A request target (path and query) too long.
    UriTooLong {
        /// The limit, in bytes.
        limit: usize,
    },
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
    /// A signed leak report that is unsigned, badly signed, or signed with an unknown key; the
    /// text says which.
    SignatureInvalid(String),
    /// A body within the byte limit that holds more than an endpoint takes; the text says what.
    TooMuch(String),
    /// Storage unreachable, or the key table too old to trust.
    Unavailable,
    /// Every password worker is busy and the queue is full.
    Busy {
        /// Seconds after which a retry is likely to be served.
        retry_after: u64,
    },
    /// Anything unexpected; the cause is logged here, never sent.
    Internal(String),
}

impl ApiError {
    /// The answer to a refused key; `catalog` names the scope an `insufficient_scope` lacked.
    pub fn refused(refusal: Refusal, catalog: &Catalog) -> Self {
        let required_scope = match refusal {
            Refusal::InsufficientScope(needs) => needs.name(catalog),
            _ => String::new(),
        };
        Self::Refused {
            refusal,
            required_scope,
        }
    }

    fn status(&self) -> StatusCode {
        match self {
            Self::Refused { refusal, .. } => StatusCode::from_u16(refusal.outcome().http_status())
                .unwrap_or(StatusCode::UNAUTHORIZED),
            Self::NotProvided
            | Self::TokenNotValid
            | Self::RefreshNotValid
            | Self::InvalidCredentials
            | Self::OtpRequired
            | Self::OtpInvalid
            | Self::VerifierSecretRequired
            | Self::SignatureInvalid(_) => StatusCode::UNAUTHORIZED,
            Self::Forbidden
            | Self::ForbiddenBecause(_)
            | Self::TwoFactorRequired
            | Self::PasswordInvalid
            | Self::ConfirmationOtpInvalid => StatusCode::FORBIDDEN,
            Self::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::Invalid { .. }
            | Self::PolicyViolation { .. }
            | Self::MalformedBody(_)
            | Self::StandardKeyType => StatusCode::BAD_REQUEST,
            Self::PayloadTooLarge | Self::TooMuch(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::HeadersTooLarge { .. } => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            Self::UriTooLong { .. } => StatusCode::URI_TOO_LONG,
            Self::NoStandardKeys | Self::NotFound(_) | Self::NoRoute => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::Conflict(_) | Self::TwoFactorNotEnabled => StatusCode::CONFLICT,
            Self::Unavailable | Self::Busy { .. } => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn body(&self) -> Response {
        let body = match self {
            Self::Refused {
                refusal,
                required_scope,
            } => return Json(RefusalBody::of(refusal, required_scope)).into_response(),
            Self::RateLimited { retry_after } => rate_limited(*retry_after),
            Self::NotProvided => not_provided(),
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
            Self::PasswordInvalid => ErrorBody {
                field: Some("password".into()),
                ..ErrorBody::new(
                    "The password is wrong. Enter the password you sign in with.",
                    ErrorCode::PasswordInvalid,
                )
            },
            Self::ConfirmationOtpInvalid => ErrorBody {
                field: Some("otp".into()),
                ..ErrorBody::new(
                    "The two-factor code is wrong, expired or already used. Enter the current code from your authenticator app, or an unused recovery code.",
                    ErrorCode::OtpInvalid,
                )
            },
            Self::TwoFactorNotEnabled => ErrorBody::new(
                "Two-factor authentication is not on for your user, so there is nothing to turn off or replace. Turn it on with POST /v1/auth/2fa/setup/.",
                ErrorCode::TwoFactorNotEnabled,
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
            Self::PolicyViolation { field, message } => ErrorBody {
                field: Some((*field).to_owned()),
                ..ErrorBody::new(format!("{field}: {message}"), ErrorCode::PolicyViolation)
            },
            Self::MalformedBody(why) => ErrorBody::new(
                format!("The request body is not valid JSON for this endpoint: {why}"),
                ErrorCode::MalformedBody,
            ),
            Self::HeadersTooLarge { limit } => ErrorBody::new(
                format!(
                    "The request's headers are too large: send at most {} KiB of them.",
                    limit / 1024
                ),
                ErrorCode::HeadersTooLarge,
            ),
            Self::UriTooLong { limit } => ErrorBody::new(
                format!(
                    "The request's path and query are too long: send at most {} KiB.",
                    limit / 1024
                ),
                ErrorCode::UriTooLong,
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
            Self::SignatureInvalid(why) => ErrorBody::new(why.clone(), ErrorCode::SignatureInvalid),
            Self::TooMuch(why) => ErrorBody::new(why.clone(), ErrorCode::PayloadTooLarge),
            Self::Unavailable => unavailable(),
            Self::Busy { .. } => ErrorBody::new(
                "Keywarden is checking too many passwords at once. Retry after the time in Retry-After.",
                ErrorCode::Busy,
            ),
            Self::Internal(_) => ErrorBody::new(
                "An unexpected error occurred. It has been logged; retry, and report it if it persists.",
                ErrorCode::Internal,
            ),
        };
        Json(body).into_response()
    }
}

fn not_provided() -> ErrorBody {
    ErrorBody::detail_only(Refusal::NotProvided.detail(""))
}

fn rate_limited(retry_after: u64) -> ErrorBody {
    ErrorBody::new(
        Refusal::RateLimited { retry_after }.detail(""),
        ErrorCode::RateLimited,
    )
}

/// The JSON body of a refused key, written straight from the [`Refusal`]: its detail, its
/// outcome's wire code (none for a missing header, as the seeds have it), and the hint,
/// `stopped_at` or `required_scope` it carries. The same fields as [`ErrorBody`], which
/// clients parse it as (a test checks every refusal).
#[derive(Debug, serde::Serialize)]
pub struct RefusalBody<'a> {
    detail: Cow<'static, str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    code: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "as_display")]
    hint: Option<&'a FormatProblem>,
    #[serde(
        skip_serializing_if = "Option::is_none",
        with = "time::serde::rfc3339::option"
    )]
    stopped_at: Option<time::OffsetDateTime>,
    #[serde(skip_serializing_if = "Option::is_none")]
    required_scope: Option<&'a str>,
    #[serde(
        skip_serializing_if = "Option::is_none",
        with = "keywarden_api_types::policy::resets_at"
    )]
    resets_at: Option<Option<time::OffsetDateTime>>,
}

impl<'a> RefusalBody<'a> {
    /// The body of `refusal`; `required_scope` names the scope an `insufficient_scope` lacked.
    pub fn of(refusal: &'a Refusal, required_scope: &'a str) -> Self {
        Self {
            detail: refusal.detail(required_scope),
            code: (*refusal != Refusal::NotProvided).then(|| refusal.outcome().code()),
            hint: refusal.hint(),
            stopped_at: refusal.stopped_at(),
            required_scope: matches!(refusal, Refusal::InsufficientScope(_))
                .then_some(required_scope),
            resets_at: match refusal {
                Refusal::UsageLimitExceeded(state) => Some(state.reset_ms.map(from_millis)),
                _ => None,
            },
        }
    }
}

/// Writes a hint with its `Display`, without an intermediate `String`.
fn as_display<S: serde::Serializer>(
    hint: &Option<&FormatProblem>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match hint {
        Some(problem) => serializer.collect_str(problem),
        None => serializer.serialize_none(),
    }
}

fn unavailable() -> ErrorBody {
    ErrorBody::new(Refusal::Unavailable.detail(""), ErrorCode::Unavailable)
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
            Self::NotProvided
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
            Self::SignatureInvalid(_) => {
                headers.insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static(SIGNATURE_CHALLENGE),
                );
            }
            Self::RateLimited { retry_after } | Self::Busy { retry_after } => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from(*retry_after));
            }
            Self::Refused {
                refusal: Refusal::RateLimited { retry_after },
                ..
            } => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from(*retry_after));
            }
            Self::Refused {
                refusal: Refusal::KeyRateLimited { state, retry_after },
                ..
            } => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from(*retry_after));
                crate::limit_headers::insert(headers, state);
            }
            Self::Refused {
                refusal: Refusal::UsageLimitExceeded(state),
                ..
            } if state.reset_ms.is_some() => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from(state.reset_secs));
            }
            Self::Unavailable
            | Self::Refused {
                refusal: Refusal::Unavailable,
                ..
            } => {
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
            DomainError::PolicyViolation { field, message } => {
                Self::PolicyViolation { field, message }
            }
            DomainError::NotFound(what) => Self::NotFound(what),
            DomainError::NoStandardKeys => Self::NoStandardKeys,
            DomainError::Conflict(message) => Self::Conflict(message),
            DomainError::Forbidden(message) => Self::ForbiddenBecause(message),
            DomainError::TwoFactorRequired => Self::TwoFactorRequired,
            DomainError::OtpInvalid => Self::OtpInvalid,
            DomainError::PasswordInvalid => Self::PasswordInvalid,
            DomainError::ConfirmationOtpInvalid => Self::ConfirmationOtpInvalid,
            DomainError::TwoFactorNotEnabled => Self::TwoFactorNotEnabled,
            DomainError::OtpRequired => Self::OtpRequired,
            DomainError::InvalidCredentials => Self::InvalidCredentials,
            DomainError::RateLimited { retry_after } => Self::RateLimited { retry_after },
            DomainError::Busy { retry_after } => Self::Busy { retry_after },
            DomainError::Store(e) => e.into(),
            DomainError::Password(e) => Self::Invalid {
                field: "password".into(),
                message: e.to_string(),
            },
            DomainError::Random(e) => Self::Internal(e.to_string()),
        }
    }
}

impl From<crate::password_pool::PoolError> for ApiError {
    fn from(error: crate::password_pool::PoolError) -> Self {
        match error {
            crate::password_pool::PoolError::Busy { retry_after } => Self::Busy { retry_after },
            crate::password_pool::PoolError::Stopped => Self::Internal(error.to_string()),
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

#[cfg(test)]
mod tests {
    use super::*;
    use keywarden_core::key_format::KeyFormatError;
    use keywarden_core::key_record::Stopped;
    use keywarden_core::scope::Access;
    use keywarden_core::verdict::{Needs, Outcome};
    use serde_json::{Value, json};
    use time::macros::datetime;

    #[test]
    fn every_outcome_but_valid_is_a_documented_error_code() {
        for outcome in Outcome::ALL {
            let parsed = serde_json::from_value::<ErrorCode>(json!(outcome.code()));
            assert_eq!(
                parsed.is_ok(),
                outcome != Outcome::Valid,
                "{outcome:?}: the OpenAPI document's ErrorCode must list it"
            );
        }
    }

    #[test]
    fn a_refusal_body_is_an_error_body_with_exactly_its_fields() {
        let at = datetime!(2026-11-02 09:30 UTC);
        let cases = [
            (
                Refusal::NotProvided,
                json!({"detail": "Authentication credentials were not provided."}),
            ),
            (
                Refusal::from(KeyFormatError::BadChecksum),
                json!({
                    "detail": "Invalid API Key format",
                    "code": "invalid_key_format",
                    "hint": KeyFormatError::BadChecksum.to_string(),
                }),
            ),
            (
                Refusal::NotFound,
                json!({"detail": "Invalid API Key", "code": "key_not_found"}),
            ),
            (
                Refusal::Stopped(Stopped::Rotated { at }),
                json!({
                    "detail": "This API key was replaced by rotation and no longer works. Use the new key from the console.",
                    "code": "key_rotated",
                    "stopped_at": "2026-11-02T09:30:00Z",
                }),
            ),
            (
                Refusal::InsufficientScope(Needs::Every(Access::Write)),
                json!({
                    "detail": "This API key does not have the '*:write' permission.",
                    "code": "insufficient_scope",
                    "required_scope": "*:write",
                }),
            ),
            (
                Refusal::RateLimited { retry_after: 7 },
                json!({
                    "detail": "Too many failed attempts from your address. Wait 7 seconds, then check the credentials you are sending and try again.",
                    "code": "rate_limited",
                }),
            ),
        ];
        let catalog = Catalog::default();
        for (refusal, expected) in cases {
            let error = ApiError::refused(refusal.clone(), &catalog);
            let ApiError::Refused { required_scope, .. } = &error else {
                panic!("not a refusal");
            };
            let written = serde_json::to_value(RefusalBody::of(&refusal, required_scope)).unwrap();
            assert_eq!(written, expected, "{refusal:?}");
            let parsed: ErrorBody = serde_json::from_value(written).unwrap();
            assert_eq!(
                serde_json::to_value(parsed).unwrap(),
                expected,
                "{refusal:?} reads as an ErrorBody"
            );
            let status: Value = json!(error.status().as_u16());
            assert_eq!(status, json!(refusal.outcome().http_status()));
        }
    }
}
