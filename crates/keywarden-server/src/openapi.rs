//! The OpenAPI document of the HTTP API (`GET /openapi.json`) and the API reference page that
//! renders it (`GET /docs`).
//!
//! The document is generated from the code:
//! - every handler of [`crate::routes`] carries a `#[utoipa::path]` attribute next to its
//!   signature: method, path as SPEC §4 spells it (with the trailing slash), request body, and
//!   every answer with its body;
//! - the wire types of `keywarden-api-types` derive their schemas (its `openapi` feature);
//! - the error answers shared by many endpoints are the reusable responses below.
//!
//! `tests/api/openapi.rs` fails when a route of the router is missing from the document, or
//! when the snapshot `docs/openapi.json` is stale; the unit tests here check that every error
//! example in the document is a body the server really sends.
//!
//! The reference page is Swagger UI. Its files are compiled into the binary by
//! `utoipa-swagger-ui` with the `vendored` feature: they come from a crates.io crate, nothing is
//! downloaded at build time, and the page loads nothing from another origin (its own
//! Content-Security-Policy says so). The trailing slash is trimmed before routing, so `/docs`
//! and `/docs/` are the same page; its asset URLs are absolute (`/docs/swagger-ui.css`) so they
//! resolve under either spelling.

use crate::error::ApiError;
use crate::extract::ApiPath;
use axum::Router;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use keywarden_api_types::ErrorBody;
use serde::Serialize;
use std::borrow::Cow;
use std::hash::{DefaultHasher, Hasher};
use std::sync::{Arc, OnceLock};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi, ToResponse, ToSchema};
use utoipa_swagger_ui::Config;

/// Where the reference page lives.
pub const DOCS_PATH: &str = "/docs";

/// What the document says about the API as a whole.
const DESCRIPTION: &str = "\
Keywarden issues, scopes, rotates and revokes API keys, and checks them on every request of \
the platform's services.

**Console endpoints** authenticate a person with `Authorization: Bearer <access token>` (a JWT \
from `POST /v1/auth/token/`): the `console` security scheme.

**Key checks** take the key itself. `GET /v1/forward-auth/` reads it from the `Authorization` \
header in any of three forms, one key per request: `Basic base64(<key>:)` (the key as user \
name, empty password), `Api-Key <key>`, or `Bearer <key>`. `POST /v1/verify/` takes it in the \
JSON body. When the operator configures a verifier secret, both also need it in \
`X-Keywarden-Verifier-Secret`.

Paths end in `/`; the same path without the trailing slash works too. Every error is JSON and \
says what to do about it; most carry a stable `code` to branch on. Times are RFC 3339 in UTC.";

/// The document.
#[derive(Debug, OpenApi)]
#[openapi(
    info(title = "Keywarden", version = env!("CARGO_PKG_VERSION"), description = DESCRIPTION),
    paths(
        crate::routes::auth::token,
        crate::routes::auth::refresh,
        crate::routes::auth::me,
        crate::routes::two_factor::setup,
        crate::routes::two_factor::confirm,
        crate::routes::standard_keys::list,
        crate::routes::standard_keys::rotate,
        crate::routes::api_keys::list,
        crate::routes::api_keys::create,
        crate::routes::api_keys::get,
        crate::routes::api_keys::update,
        crate::routes::api_keys::revoke,
        crate::routes::api_keys::rotate,
        crate::routes::users::list,
        crate::routes::users::create,
        crate::routes::users::update,
        crate::routes::users::remove,
        crate::routes::account::get,
        crate::routes::account::update,
        crate::routes::account::products,
        crate::routes::audit::list,
        crate::routes::verify::verify,
        crate::routes::forward_auth::forward_auth,
        crate::routes::ops::healthz,
        crate::routes::ops::readyz,
        crate::metrics::metrics,
        openapi_json,
    ),
    components(
        schemas(
            keywarden_api_types::ErrorBody,
            keywarden_api_types::ErrorCode,
            keywarden_api_types::error::TokenMessage,
            keywarden_api_types::error::NoticeBody,
            keywarden_api_types::error::NoticeMessage,
        ),
        responses(
            BadRequest,
            ConsoleUnauthorized,
            Forbidden,
            KeyChangeForbidden,
            PayloadTooLarge,
            RateLimited,
            Unavailable,
            KeyUnauthorized,
            KeyForbidden,
        ),
    ),
    modifiers(&SecuritySchemes),
    tags(
        (name = "Sign-in", description = "Console sign-in, tokens, the signed-in user and two-factor authentication."),
        (name = "Standard keys", description = "The account's two standard keys (test and live), which reach every product (seed 001)."),
        (name = "API keys", description = "Every key of the account: restricted keys with scopes and expiry, rotation and revocation (seed 000). A secret appears only in the create and rotate answers."),
        (name = "Users", description = "The people of the account and their roles (admins only)."),
        (name = "Account", description = "Account policy and the product catalog."),
        (name = "Audit", description = "Who did what to which key, when and from where (admins only)."),
        (name = "Key checks", description = "For the platform's services and reverse proxies: is this key valid, and may it do this?"),
        (name = "Operations", description = "Liveness, readiness, metrics and this document."),
    ),
)]
pub struct ApiDoc;

/// Adds the security schemes the operations refer to.
#[derive(Debug)]
struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "console",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some(
                        "A console access token from `POST /v1/auth/token/` (or \
                         `/v1/auth/token/refresh/`): `Authorization: Bearer <access token>`.",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "api_key",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "Authorization",
                "The key after the `Api-Key` scheme: `Authorization: Api-Key <key>` (the seeds' \
                 examples). Enter the whole value, `Api-Key ` included.",
            ))),
        );
        components.add_security_scheme(
            "key_basic",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Basic)
                    .description(Some(
                        "RFC 7617 with the key as the user name and an empty password: \
                         `Authorization: Basic base64(<key>:)`.",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "key_bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("Keywarden API key")
                    .description(Some(
                        "The key as a Bearer value: `Authorization: Bearer <key>`. A Bearer value \
                         with a key's shape is a key; any other is a console access token.",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "verifier_secret",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "X-Keywarden-Verifier-Secret",
                "Only when the operator configured a verifier secret: the key-checking \
                 endpoints then need it in this header.",
            ))),
        );
    }
}

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

/// 401 of the console endpoints.
#[derive(Debug, ToResponse)]
#[response(
    description = "No access token, or one that is invalid, expired, or from a session that has \
                   ended (the user was removed or their role changed). Sign in again with \
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
                   address and 5 per 15 minutes per user. Limits decay; wait the seconds in \
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
                   older than the configured maximum age. Retry after `Retry-After` seconds.",
    headers(("Retry-After" = u64, description = "Seconds to wait before retrying.")),
    example = json!({
        "detail": "Keywarden cannot reach its database right now. Retry after the time in Retry-After.",
        "code": "unavailable"
    })
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

/// `GET /healthz` (documentation only: the handler answers a JSON literal).
#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// Always `ok`.
    pub status: String,
}

/// `GET /readyz` (documentation only: the handler answers a JSON literal).
#[derive(Debug, Serialize, ToSchema)]
pub struct Ready {
    /// Always `ready`.
    pub status: String,
    /// How many keys the in-memory table holds.
    pub keys: u64,
}

/// `GET /openapi.json`
#[utoipa::path(
    get,
    path = "/openapi.json",
    operation_id = "openapi_document",
    tag = "Operations",
    summary = "This document",
    description = "The OpenAPI 3.1 description of every endpoint, generated from the code. \
                   `GET /docs` renders it.",
    responses(
        (status = 200, description = "The OpenAPI document.", body = serde_json::Value,
            content_type = "application/json"),
    ),
)]
pub async fn openapi_json() -> Result<Response, ApiError> {
    let json = document()?;
    let mut headers = HeaderMap::new();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    Ok((StatusCode::OK, headers, json).into_response())
}

/// The document as pretty JSON, built once.
pub fn document() -> Result<&'static str, ApiError> {
    static JSON: OnceLock<Option<String>> = OnceLock::new();
    JSON.get_or_init(|| ApiDoc::openapi().to_pretty_json().ok())
        .as_deref()
        .ok_or_else(|| ApiError::Internal("the OpenAPI document cannot be serialised".into()))
}

/// `GET /openapi.json`, and the reference page at `/docs` with its files under `/docs/…`.
pub fn router<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route("/openapi.json", get(openapi_json))
        .route(
            DOCS_PATH,
            get(|headers: HeaderMap| async move { page(&headers) }),
        )
        .route(
            "/docs/{*file}",
            get(
                |ApiPath(file): ApiPath<String>, headers: HeaderMap| async move {
                    docs_file(&file, &headers)
                },
            ),
        )
}

/// The policy of the reference page: this origin's scripts, styles, images and API only.
/// Swagger UI sets element styles from script (allowed by `style-src 'self'`: CSSOM is not
/// inline style) and draws some icons as `data:` images.
pub const DOCS_CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
style-src 'self'; img-src 'self' data:; font-src 'self'; connect-src 'self'; \
frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

/// Swagger UI's settings: this server's document, no online validator, nothing kept in the
/// browser's storage.
fn swagger_config() -> Arc<Config<'static>> {
    static CONFIG: OnceLock<Arc<Config<'static>>> = OnceLock::new();
    CONFIG
        .get_or_init(|| {
            Arc::new(
                Config::new(["/openapi.json"])
                    .use_base_layout()
                    .validator_url("none")
                    .persist_authorization(false)
                    .display_request_duration(true)
                    .filter(true),
            )
        })
        .clone()
}

/// The page: Swagger UI's `index.html` with absolute asset URLs and our title.
fn page(request: &HeaderMap) -> Response {
    static HTML: OnceLock<Option<String>> = OnceLock::new();
    let html = HTML.get_or_init(|| {
        let file = utoipa_swagger_ui::serve("index.html", swagger_config()).ok()??;
        let html = String::from_utf8(file.bytes.into_owned()).ok()?;
        Some(absolute_asset_urls(&html))
    });
    match html {
        Some(html) => asset(
            Cow::Borrowed(html.as_bytes()),
            "text/html; charset=utf-8",
            request,
        ),
        None => {
            ApiError::Internal("the API reference page is not in this build".into()).into_response()
        }
    }
}

/// Rewrites the page's relative asset URLs (`./swagger-ui.css`, `index.css`) to `/docs/…`.
fn absolute_asset_urls(html: &str) -> String {
    html.replace("href=\"./", "href=\"/docs/")
        .replace("src=\"./", "src=\"/docs/")
        .replace("href=\"index.css\"", "href=\"/docs/index.css\"")
        .replace(
            "<title>Swagger UI</title>",
            "<title>Keywarden API reference</title>",
        )
}

/// One of Swagger UI's files.
fn docs_file(file: &str, request: &HeaderMap) -> Response {
    if file.is_empty() || file == "index.html" {
        return page(request);
    }
    match utoipa_swagger_ui::serve(file, swagger_config()) {
        Ok(Some(found)) => asset(found.bytes, &found.content_type, request),
        Ok(None) => ApiError::NotFound("file of the API reference page").into_response(),
        Err(e) => {
            ApiError::Internal(format!("API reference page file {file}: {e}")).into_response()
        }
    }
}

/// An answer with the page's policy, revalidated by `ETag`.
fn asset(body: Cow<'static, [u8]>, content_type: &str, request: &HeaderMap) -> Response {
    let mut headers = HeaderMap::new();
    for (name, value) in [
        (
            header::CONTENT_SECURITY_POLICY,
            DOCS_CONTENT_SECURITY_POLICY,
        ),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::CACHE_CONTROL, "no-cache"),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    headers.insert(
        HeaderName::from_static("cross-origin-opener-policy"),
        HeaderValue::from_static("same-origin"),
    );
    if let Ok(value) = HeaderValue::from_str(content_type) {
        headers.insert(header::CONTENT_TYPE, value);
    }
    let mut hasher = DefaultHasher::new();
    hasher.write(&body);
    let etag = format!("\"{:016x}-{:x}\"", hasher.finish(), body.len());
    if let Ok(value) = HeaderValue::from_str(&etag) {
        headers.insert(header::ETAG, value);
    }
    let fresh = request
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|tags| tags.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    if fresh {
        return (StatusCode::NOT_MODIFIED, headers).into_response();
    }
    (StatusCode::OK, headers, body).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Realm;
    use keywarden_core::key_record::Refusal;
    use keywarden_core::scope::Catalog;
    use serde_json::{Value, json};
    use time::macros::datetime;

    /// The example keys of the wire types.
    const EXAMPLE_KEYS: [&str; 2] = [
        "rk_live_DocsExample00000000000000000000023T2zK",
        "sk_live_DocsExample00000000000000000000045CMiz",
    ];

    /// Every error the examples show, made the way the server makes it.
    fn errors() -> Vec<ApiError> {
        let at = datetime!(2026-11-02 09:30 UTC);
        let invalid = |field: &'static str, message: &str| ApiError::Invalid {
            field: field.into(),
            message: message.into(),
        };
        let truncated = keywarden_core::key_format::parse(&EXAMPLE_KEYS[0][..45])
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        let scope = Catalog::default()
            .parse_scope("payrol:write")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        let not_json = serde_json::from_slice::<Value>(b"x")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        let grace = crate::routes::standard_keys::grace_seconds(&json!(-1))
            .err()
            .unwrap_or(ApiError::NoRoute);
        let mut errors = vec![
            ApiError::NotProvided(Realm::Console),
            ApiError::NotProvided(Realm::Key),
            ApiError::TokenNotValid,
            ApiError::RefreshNotValid,
            ApiError::InvalidCredentials,
            ApiError::OtpRequired,
            ApiError::OtpInvalid,
            ApiError::Forbidden,
            ApiError::ForbiddenBecause(
                "You cannot change your own role. Ask another admin.".into(),
            ),
            ApiError::TwoFactorRequired,
            invalid(
                "label",
                "give a label of 1 to 100 characters without line breaks, naming the key's \
                 purpose (e.g. Zapier-Integration-Payroll)",
            ),
            invalid("email", "this field is required"),
            invalid("key", "this field is required"),
            invalid("scope", &scope),
            grace,
            ApiError::MalformedBody("send the header `Content-Type: application/json`".into()),
            ApiError::MalformedBody(not_json),
            ApiError::PayloadTooLarge,
            ApiError::StandardKeyType,
            ApiError::NoStandardKeys,
            ApiError::NotFound("key"),
            ApiError::NotFound("user"),
            ApiError::VerifierSecretRequired,
            ApiError::Unavailable,
            ApiError::KeyFormat(truncated.into()),
            ApiError::KeyNotFound,
            ApiError::KeyRefused(Refusal::Revoked { at }),
            ApiError::KeyRefused(Refusal::Rotated { at }),
            ApiError::KeyRefused(Refusal::Expired { at }),
            ApiError::InsufficientScope("payroll:write".into()),
            ApiError::RateLimited { retry_after: 42 },
        ];
        errors.extend(
            [
                "two-factor authentication is already on",
                "there is no two-factor setup to confirm: start with POST /v1/auth/2fa/setup/",
                "this key is revoked and can no longer be changed",
                "this key is already rotated and cannot be rotated; rotate its successor instead",
                "this key is already revoked",
                "that email address is already in use",
                "an account must keep at least one admin: make another user admin first",
            ]
            .map(|m| ApiError::Conflict(m.into())),
        );
        errors
    }

    async fn body(error: ApiError) -> Value {
        let bytes = axum::body::to_bytes(error.into_response().into_body(), usize::MAX)
            .await
            .unwrap();
        serde_json::from_slice(&bytes).unwrap()
    }

    /// `(where, value)` of every example under an error response.
    fn error_examples(value: &Value, at: &[String], out: &mut Vec<(String, Value)>) {
        let in_error_response = at.first().is_some_and(|s| s == "components")
            && at.get(1).is_some_and(|s| s == "responses")
            || at
                .iter()
                .position(|s| s == "responses")
                .and_then(|i| at.get(i + 1))
                .is_some_and(|status| status.starts_with('4') || status.starts_with('5'));
        match value {
            Value::Object(map) => {
                for (key, item) in map {
                    let mut here = at.to_vec();
                    here.push(key.clone());
                    let is_example = key == "example"
                        || key == "value" && at.len() >= 2 && at[at.len() - 2] == "examples";
                    if is_example && in_error_response && at.contains(&"content".to_owned()) {
                        out.push((here.join(" › "), item.clone()));
                    } else {
                        error_examples(item, &here, out);
                    }
                }
            }
            Value::Array(items) => {
                for item in items {
                    error_examples(item, at, out);
                }
            }
            _ => {}
        }
    }

    #[tokio::test]
    async fn every_error_example_is_a_body_the_server_sends() {
        let mut real = Vec::new();
        for error in errors() {
            real.push(body(error).await);
        }
        let doc = serde_json::to_value(ApiDoc::openapi()).unwrap();
        let mut examples = Vec::new();
        error_examples(&doc, &[], &mut examples);
        assert!(
            examples.len() > 30,
            "found only {} examples",
            examples.len()
        );
        for (at, example) in examples {
            assert!(
                real.contains(&example),
                "{at}: {example} is not a body the server sends"
            );
        }
    }

    #[test]
    fn the_example_keys_are_well_formed() {
        for key in EXAMPLE_KEYS {
            assert!(keywarden_core::key_format::parse(key).is_ok(), "{key}");
        }
        let doc = document().unwrap();
        for key in EXAMPLE_KEYS {
            assert!(doc.contains(key), "{key} is no longer an example");
        }
    }

    #[test]
    fn the_page_loads_its_files_from_docs() {
        let html = absolute_asset_urls(
            "<title>Swagger UI</title><link href=\"./swagger-ui.css\" /><link href=\"index.css\" />\
             <script src=\"./swagger-ui-bundle.js\"></script>",
        );
        assert_eq!(
            html,
            "<title>Keywarden API reference</title><link href=\"/docs/swagger-ui.css\" />\
             <link href=\"/docs/index.css\" /><script src=\"/docs/swagger-ui-bundle.js\"></script>"
        );
    }
}
