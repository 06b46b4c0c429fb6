//! The router: every operation of the API registered once, together with its OpenAPI
//! operation, one module per resource.
//!
//! [`operations`] is the single registration: each `routes!` entry routes a handler by the
//! method and path of its `#[utoipa::path]` attribute and adds that operation to the document,
//! so the document served at `/openapi.json` ([`document`]) and the router ([`router`]) cannot
//! disagree. Paths are registered as SPEC §4 spells them: `/v1/…` with its trailing slash, the
//! operations endpoints without. A request in the other spelling is rewritten to the
//! registered one before routing ([`crate::trailing_slash`]), except the two verification
//! paths, whose other spelling is routed as an alias so that no key check pays a rewrite.

pub mod account;
pub mod api_keys;
pub mod audit;
pub mod auth;
mod key_cursor;
pub mod leaks;
pub mod metadata;
pub mod ops;
pub mod standard_keys;
pub mod two_factor;
pub mod usage;
pub mod users;
pub mod webhooks;

use crate::error::ApiError;
use crate::openapi::{self, ApiDoc};
use crate::state::AppState;
use crate::trailing_slash::ROUTED_AS_SENT;
use crate::verify::{explain, forward_auth, verify_key};
use axum::Router;
use axum::routing::{get, post};
use keywarden_core::scope::Catalog;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// Every documented operation, each registered once: the router and the document both come
/// from here.
pub fn operations() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(auth::token))
        .routes(routes!(auth::refresh))
        .routes(routes!(auth::me))
        .routes(routes!(two_factor::setup))
        .routes(routes!(two_factor::confirm))
        .routes(routes!(two_factor::disable))
        .routes(routes!(two_factor::regenerate_recovery_codes))
        .routes(routes!(standard_keys::list, standard_keys::rotate))
        .routes(routes!(api_keys::list, api_keys::create))
        .routes(routes!(api_keys::get, api_keys::update, api_keys::revoke))
        .routes(routes!(api_keys::rotate))
        .routes(routes!(users::list, users::create))
        .routes(routes!(users::update, users::remove))
        .routes(routes!(account::get, account::update))
        .routes(routes!(account::policy_violations))
        .routes(routes!(account::products))
        .routes(routes!(audit::list))
        .routes(routes!(usage::key_usage))
        .routes(routes!(usage::account_usage))
        .routes(routes!(usage::impact))
        .routes(routes!(usage::suggested_scopes))
        .routes(routes!(explain::explain))
        .routes(routes!(webhooks::list, webhooks::create))
        .routes(routes!(webhooks::get, webhooks::update, webhooks::remove))
        .routes(routes!(webhooks::rotate_secret))
        .routes(routes!(webhooks::send_test))
        .routes(routes!(webhooks::deliveries))
        .routes(routes!(webhooks::retry_delivery))
        .merge(leaks::operations())
        .routes(routes!(verify_key::verify))
        .routes(routes!(forward_auth::forward_auth))
        .routes(routes!(ops::healthz))
        .routes(routes!(ops::readyz))
        .routes(routes!(ops::metrics))
        .routes(routes!(ops::openapi_json))
}

/// All routes with their state; [`crate::app`] puts the layers every request passes around it.
/// Besides [`operations`]: the verification paths' other spelling, the console's files and
/// the reference page (a web page each, not the API).
pub fn router(state: AppState) -> Router {
    let (api, _document) = operations().split_for_parts();
    let [forward_auth_path, verify_path] = ROUTED_AS_SENT;
    api.route(forward_auth_path, get(forward_auth::forward_auth))
        .route(verify_path, post(verify_key::verify))
        .merge(crate::console::router())
        .merge(crate::docs_page::router())
        .fallback(|| async { ApiError::NoRoute })
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .with_state(state)
}

/// The document as served, pretty JSON: every operation of [`operations`], with `catalog`'s
/// scope names where a scope is asked for. Built once at start-up.
pub fn document(catalog: &Catalog) -> Result<String, ApiError> {
    openapi::with_catalog(&operations().into_openapi(), catalog)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::response::IntoResponse;
    use keywarden_core::account_key_policy::AccountKeyPolicy;
    use keywarden_core::key_format::{KeyKind, Mode};
    use keywarden_core::key_record::Stopped;
    use keywarden_core::scope::Catalog;
    use keywarden_core::verdict::{FormatProblem, Needs, Refusal};
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
            .unwrap_or(keywarden_core::key_format::KeyFormatError::Empty);
        let catalog = Catalog::default();
        let refused = |refusal| ApiError::refused(refusal, &catalog);
        let payroll_write = catalog.parse_scope("payroll:write").unwrap();
        let scope = Catalog::default()
            .parse_scope("payrol:write")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        let not_json = serde_json::from_slice::<Value>(b"x")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        let grace = standard_keys::grace_seconds(&json!(-1))
            .err()
            .unwrap_or(ApiError::NoRoute);
        let mut errors = vec![
            ApiError::NotProvided,
            refused(Refusal::NotProvided),
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
            ApiError::PasswordInvalid,
            ApiError::ConfirmationOtpInvalid,
            ApiError::TwoFactorNotEnabled,
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
            ApiError::NotFound("webhook endpoint"),
            ApiError::NotFound("webhook delivery"),
            ApiError::VerifierSecretRequired,
            ApiError::Unavailable,
            ApiError::Busy { retry_after: 1 },
            refused(Refusal::Format(FormatProblem::Key(truncated))),
            refused(Refusal::NotFound),
            refused(Refusal::Stopped(Stopped::Revoked { at })),
            refused(Refusal::Stopped(Stopped::Rotated { at })),
            refused(Refusal::Stopped(Stopped::Expired { at })),
            refused(Refusal::InsufficientScope(Needs::Scope(payroll_write))),
            ApiError::RateLimited { retry_after: 42 },
            ApiError::TooMuch(
                "A report holds at most 1000 matches; this one has 1001. Send it in parts.".into(),
            ),
        ];
        // GitHub's leak reports, refused in the leaks module's own words.
        use crate::leaks::github_keys::SignatureProblem;
        for problem in [
            SignatureProblem::Missing("Github-Public-Key-Signature"),
            SignatureProblem::UnknownKey,
            SignatureProblem::Invalid,
        ] {
            errors.push(ApiError::SignatureInvalid(problem.to_string()));
        }
        // The key policy's refusals, in core's own words.
        let strict = AccountKeyPolicy {
            require_expiry_for_live: true,
            require_ip_allowlist_for_live: true,
            ..AccountKeyPolicy::default()
        };
        let breaches = [
            strict.allowlist_breach(Mode::Live, None),
            strict.expiry_breach(KeyKind::Restricted, Mode::Live, None, at),
        ];
        for breach in breaches.into_iter().flatten() {
            errors.push(ApiError::PolicyViolation {
                field: breach.field,
                message: breach.reason.clone(),
            });
            errors.push(ApiError::PolicyViolation {
                field: breach.field,
                message: format!(
                    "{}; change the key first (PATCH /v1/api-keys/018f0e5c-5a4b-7cde-8f01-23456789abcd/), \
                     then rotate it: the new key keeps the old one's expiry and allowlist",
                    breach.reason
                ),
            });
        }
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
        let doc = serde_json::to_value(operations().into_openapi()).unwrap();
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
        let doc = document(&Catalog::default()).unwrap();
        for key in EXAMPLE_KEYS {
            assert!(doc.contains(key), "{key} is no longer an example");
        }
    }
}
