//! The error answers many endpoints share, as reusable OpenAPI responses: the document's side
//! of [`super::ApiError`], kept beside it so a new error and its documentation change together.
//! Every example here is a body the server really sends (checked by the test of the whole
//! document in `routes.rs`).

use keywarden_api_types::ErrorBody;
use serde::Serialize;
use utoipa::{ToResponse, ToSchema};

/// 400: a field or query parameter breaks a rule, or the body is not the JSON expected.
#[derive(Debug, ToResponse)]
#[response(
    description = "The request breaks a rule. `code` is `invalid` with `field` naming the field \
                   or query parameter, or `malformed_body` when the body is not the JSON this \
                   endpoint takes. `detail` says what to send instead.",
    examples(
        ("invalid" = (summary = "A field breaks a rule", value = json!({
            "detail": "label: give a label of 1 to 100 characters without line breaks, naming the key's purpose (e.g. Zapier-Integration-Payroll)",
            "code": "invalid",
            "field": "label"
        }))),
        ("missing field" = (summary = "A required field is missing", value = json!({
            "detail": "email: this field is required",
            "code": "invalid",
            "field": "email"
        }))),
        ("malformed_body" = (summary = "The body is not JSON", value = json!({
            "detail": "The request body is not valid JSON for this endpoint: send the header `Content-Type: application/json`",
            "code": "malformed_body"
        })))
    )
)]
pub struct BadRequest(pub ErrorBody);

/// 400 of the operations that create, change or rotate a key: a field breaks a rule, or the
/// key would break the account's key policy.
#[derive(Debug, ToResponse)]
#[response(
    description = "The request breaks a rule (`invalid`, with `field` naming the field), the body \
                   is not the JSON this endpoint takes (`malformed_body`), or the key would break \
                   the account's key policy (`policy_violation`, with `field` naming the key \
                   field to fix: `expires_at` or `allowed_ips`; see `PATCH /v1/account/`). \
                   `detail` says what to send instead. Nothing changed. A rotated key's successor \
                   keeps its expiry and allowlist, so a key that breaks the policy must be \
                   changed before it can be rotated.",
    examples(
        ("invalid" = (summary = "A field breaks a rule", value = json!({
            "detail": "label: give a label of 1 to 100 characters without line breaks, naming the key's purpose (e.g. Zapier-Integration-Payroll)",
            "code": "invalid",
            "field": "label"
        }))),
        ("policy_violation: allowed_ips" = (summary = "A live key without an allowlist", value = json!({
            "detail": "allowed_ips: the account's key policy requires live keys to have an IP allowlist: set allowed_ips to the addresses or ranges the key is used from (test keys may do without)",
            "code": "policy_violation",
            "field": "allowed_ips"
        }))),
        ("policy_violation: expires_at" = (summary = "A restricted live key without an expiry", value = json!({
            "detail": "expires_at: the account's key policy requires restricted live keys to expire: set expires_at (test keys may do without)",
            "code": "policy_violation",
            "field": "expires_at"
        }))),
        ("malformed_body" = (summary = "The body is not JSON", value = json!({
            "detail": "The request body is not valid JSON for this endpoint: send the header `Content-Type: application/json`",
            "code": "malformed_body"
        })))
    )
)]
pub struct KeyBadRequest(pub ErrorBody);

/// 401 of the console endpoints.
#[derive(Debug, ToResponse)]
#[response(
    description = "No access token, or one that is invalid, expired, or from a session that has \
                   ended (the user was removed, their role changed, or they turned off \
                   two-factor authentication). Sign in again with \
                   `POST /v1/auth/token/`, or get a new access token with \
                   `POST /v1/auth/token/refresh/`.",
    headers(("WWW-Authenticate" = String, description = "`Bearer realm=\"keywarden-console\"`")),
    examples(
        ("not provided" = (summary = "No Authorization header", value = json!({
            "detail": "Authentication credentials were not provided."
        }))),
        ("token_not_valid" = (summary = "Invalid or expired access token", value = json!({
            "detail": "Given token not valid for any token type",
            "code": "token_not_valid",
            "messages": [{
                "token_class": "AccessToken",
                "token_type": "access",
                "message": "Token is invalid or expired"
            }]
        })))
    )
)]
pub struct ConsoleUnauthorized(pub ErrorBody);

/// 403 for a role that may not act.
#[derive(Debug, ToResponse)]
#[response(
    description = "The user's role may not do this: keys need `admin` or `developer`; users, \
                   account policy and the audit trail need `admin`.",
    example = json!({"detail": "You do not have permission to perform this action."})
)]
pub struct Forbidden(pub ErrorBody);

/// 403 of the endpoints that create, rotate or revoke keys.
#[derive(Debug, ToResponse)]
#[response(
    description = "The user's role may not manage keys (`member`), or the account requires \
                   two-factor authentication for key changes and the user has not turned it on \
                   (`two_factor_required`: enable it with `POST /v1/auth/2fa/setup/`).",
    examples(
        ("role" = (summary = "The role may not manage keys", value = json!({
            "detail": "You do not have permission to perform this action."
        }))),
        ("two_factor_required" = (summary = "The account requires 2FA for key changes", value = json!({
            "detail": "This account requires two-factor authentication to create, rotate or revoke keys. Enable it under Security (POST /v1/auth/2fa/setup/), then try again.",
            "code": "two_factor_required"
        })))
    )
)]
pub struct KeyChangeForbidden(pub ErrorBody);

/// 403 of the changes a signed-in user confirms with their password and a second factor.
#[derive(Debug, ToResponse)]
#[response(
    description = "The password (`password_invalid`) or the code (`otp_invalid`) is wrong; \
                   `field` names which. A code works once: a TOTP code already used (here or \
                   to sign in) or a used recovery code is refused. Nothing changed, and the \
                   session stands (not a 401). Failures count against the sign-in limits \
                   (429 past them).",
    examples(
        ("password_invalid" = (summary = "Wrong password", value = json!({
            "detail": "The password is wrong. Enter the password you sign in with.",
            "code": "password_invalid",
            "field": "password"
        }))),
        ("otp_invalid" = (summary = "Wrong, expired or used code", value = json!({
            "detail": "The two-factor code is wrong, expired or already used. Enter the current code from your authenticator app, or an unused recovery code.",
            "code": "otp_invalid",
            "field": "otp"
        })))
    )
)]
pub struct ConfirmationRefused(pub ErrorBody);

/// 409 of the changes to a second factor the user does not have.
#[derive(Debug, ToResponse)]
#[response(
    description = "The user has not turned on two-factor authentication: there is nothing to \
                   turn off or replace.",
    example = json!({
        "detail": "Two-factor authentication is not on for your user, so there is nothing to turn off or replace. Turn it on with POST /v1/auth/2fa/setup/.",
        "code": "two_factor_not_enabled"
    })
)]
pub struct TwoFactorNotEnabled(pub ErrorBody);

/// 413.
#[derive(Debug, ToResponse)]
#[response(
    description = "The body is larger than the configured limit (64 KiB by default).",
    example = json!({
        "detail": "The request body is too large. Send a smaller body.",
        "code": "payload_too_large"
    })
)]
pub struct PayloadTooLarge(pub ErrorBody);

/// 429.
#[derive(Debug, ToResponse)]
#[response(
    description = "Too many failed attempts from this client: by default 60 failed key \
                   presentations a minute per address, 20 failed sign-ins per 15 minutes per \
                   address, 5 per 15 minutes per user from one address, and 5 wrong two-factor \
                   codes per 15 minutes per user. Limits decay; wait the seconds in \
                   `Retry-After`.",
    headers(("Retry-After" = u64, description = "Seconds until another attempt is counted.")),
    example = json!({
        "detail": "Too many failed attempts from your address. Wait 42 seconds, then check the credentials you are sending and try again.",
        "code": "rate_limited"
    })
)]
pub struct RateLimited(pub ErrorBody);

/// 503.
#[derive(Debug, ToResponse)]
#[response(
    description = "Keywarden cannot reach its database, or (for key checks) its key table is \
                   older than the configured maximum age (`unavailable`); or, where a password \
                   is checked or hashed, every password worker and its short queue are taken \
                   (`busy`). Retry after `Retry-After` seconds.",
    headers(("Retry-After" = u64, description = "Seconds to wait before retrying.")),
    examples(
        ("unavailable" = (summary = "The database is away", value = json!({
            "detail": "Keywarden cannot reach its database right now. Retry after the time in Retry-After.",
            "code": "unavailable"
        }))),
        ("busy" = (summary = "Too many password checks at once", value = json!({
            "detail": "Keywarden is checking too many passwords at once. Retry after the time in Retry-After.",
            "code": "busy"
        })))
    )
)]
pub struct Unavailable(pub ErrorBody);

/// 401 of the key checks (SPEC §3).
#[derive(Debug, ToResponse)]
#[response(
    description = "The key is missing, malformed (`hint` says exactly what is wrong), unknown, \
                   or has stopped working (`stopped_at` says when); or the configured verifier \
                   secret was not presented.",
    headers((
        "WWW-Authenticate" = String,
        description = "`Basic realm=\"keywarden\", Api-Key realm=\"keywarden\", Bearer realm=\"keywarden\"`"
    )),
    examples(
        ("not provided" = (summary = "No Authorization header", value = json!({
            "detail": "Authentication credentials were not provided."
        }))),
        ("invalid_key_format" = (summary = "Malformed key or header", value = json!({
            "detail": "Invalid API Key format",
            "code": "invalid_key_format",
            "hint": "An API key is 46 characters long; this one has 45. It was probably truncated or pasted twice: copy the whole key again."
        }))),
        ("key_not_found" = (summary = "Well-formed but unknown", value = json!({
            "detail": "Invalid API Key",
            "code": "key_not_found"
        }))),
        ("key_revoked" = (summary = "Revoked", value = json!({
            "detail": "This API key has been revoked. Use another key, or create a new one in the console.",
            "code": "key_revoked",
            "stopped_at": "2026-11-02T09:30:00Z"
        }))),
        ("key_rotated" = (summary = "Rotated, past its grace period", value = json!({
            "detail": "This API key was replaced by rotation and no longer works. Use the new key from the console.",
            "code": "key_rotated",
            "stopped_at": "2026-11-02T09:30:00Z"
        }))),
        ("key_expired" = (summary = "Expired", value = json!({
            "detail": "This API key has expired. Create a new key in the console.",
            "code": "key_expired",
            "stopped_at": "2026-11-02T09:30:00Z"
        }))),
        ("verifier_secret_required" = (summary = "The verifier secret is configured and missing", value = json!({
            "detail": "This endpoint needs the verifier secret: send it in the X-Keywarden-Verifier-Secret header.",
            "code": "verifier_secret_required"
        })))
    )
)]
pub struct KeyUnauthorized(pub ErrorBody);

/// 403 of the key checks.
#[derive(Debug, ToResponse)]
#[response(
    description = "The key is valid but lacks the scope the request needs; `required_scope` \
                   names it.",
    example = json!({
        "detail": "This API key does not have the 'payroll:write' permission.",
        "code": "insufficient_scope",
        "required_scope": "payroll:write"
    })
)]
pub struct KeyForbidden(pub ErrorBody);

/// The 400 body of `PATCH /v1/auth/api-keys/`: the seeds' notice for a missing or wrong
/// `type`, the common error body for anything else.
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum StandardKeyBadRequest {
    /// A missing or wrong `type`.
    Notice(keywarden_api_types::error::NoticeMessage),
    /// A wrong `expire_previous_in`, or a body that is not JSON.
    Error(ErrorBody),
}

/// 404 of the webhook endpoint operations.
#[derive(Debug, ToResponse)]
#[response(
    description = "No such endpoint in your account (another account's endpoint answers the same).",
    example = json!({
        "detail": "No such webhook endpoint in your account. Check the id, or list them first.",
        "code": "not_found"
    })
)]
pub struct EndpointNotFound(pub ErrorBody);

/// 404 of the operations on one key.
#[derive(Debug, ToResponse)]
#[response(
    description = "No such key in your account (another account's key answers the same).",
    example = json!({
        "detail": "No such key in your account. Check the id, or list them first.",
        "code": "not_found"
    })
)]
pub struct KeyNotFoundInAccount(pub ErrorBody);

/// 401 of GitHub's leak reports.
#[derive(Debug, ToResponse)]
#[response(
    description = "The report is unsigned, its signature is not the base64 of a DER ECDSA \
                   signature, it names a public key this Keywarden does not know, or the \
                   signature does not verify over the exact bytes of the body. Nothing changed.",
    headers((
        "WWW-Authenticate" = String,
        description = "`Github-Public-Key-Signature realm=\"keywarden-leaks\"`"
    )),
    examples(
        ("unsigned" = (summary = "No signature", value = json!({
            "detail": "The report is not signed: send the Github-Public-Key-Signature header of GitHub's secret scanning partner program.",
            "code": "signature_invalid"
        }))),
        ("unknown key" = (summary = "An unknown key identifier", value = json!({
            "detail": "The report is signed with a key this Keywarden does not know (Github-Public-Key-Identifier). Its operator configures GitHub's public keys.",
            "code": "signature_invalid"
        }))),
        ("bad signature" = (summary = "The signature does not match the body", value = json!({
            "detail": "The signature does not match the report: it was not made by this key over these exact bytes.",
            "code": "signature_invalid"
        })))
    )
)]
pub struct LeakReportUnauthorized(pub ErrorBody);

/// 413 of the leak reports.
#[derive(Debug, ToResponse)]
#[response(
    description = "The body is larger than the endpoint takes (1 MiB for a GitHub report, \
                   2 MiB for a paste), a GitHub report holds more than 1,000 matches, or a \
                   pasted text is longer than 1 MiB. Nothing changed: send it in parts.",
    examples(
        ("body" = (summary = "The body is too large", value = json!({
            "detail": "The request body is too large. Send a smaller body.",
            "code": "payload_too_large"
        }))),
        ("matches" = (summary = "Too many matches in one report", value = json!({
            "detail": "A report holds at most 1000 matches; this one has 1001. Send it in parts.",
            "code": "payload_too_large"
        })))
    )
)]
pub struct LeakTooLarge(pub ErrorBody);
