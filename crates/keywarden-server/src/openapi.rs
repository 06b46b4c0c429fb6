//! The OpenAPI document of the HTTP API (`GET /openapi.json`): its frame and its finishing.
//!
//! The document is generated from the code and assembled in one place, the route registration
//! of [`crate::routes`]:
//! - every handler carries a `#[utoipa::path]` attribute next to its signature: method, path as
//!   SPEC §4 spells it (with the trailing slash), request body, and every answer with its body;
//!   registering the handler adds its operation to the document, so a route cannot be served
//!   and left undocumented;
//! - the wire types of `keywarden-api-types` derive their schemas (its `openapi` feature);
//! - the error answers shared by many endpoints are the reusable responses beside
//!   [`ApiError`] (`crate::error::responses`).
//!
//! This module holds what the routes do not: the title and description, the tags, the
//! security schemes and shared components ([`ApiDoc`]), and [`with_catalog`], which lists this
//! server's scope names where a scope is asked for.

use crate::error::ApiError;
use utoipa::Modify;
use utoipa::OpenApi;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};

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
    components(
        schemas(
            keywarden_api_types::ErrorBody,
            keywarden_api_types::ErrorCode,
            keywarden_api_types::error::TokenMessage,
            keywarden_api_types::error::NoticeBody,
            keywarden_api_types::error::NoticeMessage,
            // Referenced from query parameters, which utoipa does not collect by itself.
            keywarden_api_types::names::StatusName,
            keywarden_api_types::names::KindName,
            keywarden_api_types::names::KeyOrderName,
        ),
        responses(
            crate::error::responses::BadRequest,
            crate::error::responses::KeyBadRequest,
            crate::error::responses::ConsoleUnauthorized,
            crate::error::responses::Forbidden,
            crate::error::responses::KeyChangeForbidden,
            crate::error::responses::ConfirmationRefused,
            crate::error::responses::TwoFactorNotEnabled,
            crate::error::responses::PayloadTooLarge,
            crate::error::responses::RateLimited,
            crate::error::responses::Unavailable,
            crate::error::responses::KeyUnauthorized,
            crate::error::responses::KeyForbidden,
            crate::error::responses::EndpointNotFound,
            crate::error::responses::KeyNotFoundInAccount,
            crate::error::responses::LeakReportUnauthorized,
            crate::error::responses::LeakTooLarge,
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
        (name = "Webhooks", description = "Key and user events sent to the account's endpoints, signed per Standard Webhooks (admins only): endpoints, their signing secrets, test events and the delivery log. docs/WEBHOOKS.md shows how to verify a delivery."),
        (name = "Usage", description = "How keys are used (admins and developers): verifications per key, hour, outcome and product, the client addresses, what revoking a key would break, an explanation of any request's verdict, and the narrowest scopes a key's use needed. Kept 90 days."),
        (name = "Leaks", description = "Leaked keys (SPEC §8): GitHub's secret scanning reports, signed by GitHub, and texts an admin or developer pastes. A leaked key is revoked at once, or only reported, as the account's `leak_action` says. docs/LEAKS.md explains how to register as a GitHub secret scanning partner."),
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

/// The document as served: `doc` (the frame with every route's operation) with the scope names of this server's catalog listed
/// where a scope is asked for (`ScopeName`), so a client generated from it sends only scopes
/// the server takes. Built once at start-up.
pub fn with_catalog(
    doc: &utoipa::openapi::OpenApi,
    catalog: &keywarden_core::scope::Catalog,
) -> Result<String, ApiError> {
    let failed = |e: serde_json::Error| ApiError::Internal(format!("the OpenAPI document: {e}"));
    let mut doc = serde_json::to_value(doc).map_err(failed)?;
    let names: Vec<String> = catalog.names(catalog.all());
    let scope_ref = serde_json::json!({ "$ref": "#/components/schemas/ScopeName" });
    if let Some(schemas) = doc
        .pointer_mut("/components/schemas")
        .and_then(serde_json::Value::as_object_mut)
    {
        schemas.insert(
            "ScopeName".into(),
            serde_json::json!({
                "type": "string",
                "description": "A scope of this platform's product catalog (GET /v1/products/).",
                "enum": names,
            }),
        );
    }
    for at in [
        "/components/schemas/CreateKeyRequest/properties/scopes/items",
        "/components/schemas/UpdateKeyRequest/properties/scopes/items",
    ] {
        if let Some(items) = doc.pointer_mut(at) {
            *items = scope_ref.clone();
        }
    }
    if let Some(scope) = doc.pointer_mut("/components/schemas/VerifyRequest/properties/scope") {
        *scope = serde_json::json!({
            "oneOf": [{ "type": "null" }, scope_ref],
            "description": "The scope the caller needs, e.g. `payroll:write`; absent or null: any valid key.",
        });
    }
    serde_json::to_string_pretty(&doc).map_err(failed)
}

#[cfg(test)]
mod tests {
    /// The word sets the document lists (`enum`) are what the validators take, no more, no less.
    #[test]
    fn the_documented_word_sets_are_what_the_validators_take() {
        use keywarden_api_types::names::{KindName, ModeName, RoleName, StatusName};
        use keywarden_core::account::Role;
        use keywarden_core::key_format::{KeyKind, Mode};
        use keywarden_core::key_record::KeyStatus;
        fn words<T: serde::Serialize>(all: &[T]) -> Vec<String> {
            all.iter()
                .map(|w| {
                    serde_json::to_value(w)
                        .unwrap()
                        .as_str()
                        .unwrap()
                        .to_owned()
                })
                .collect()
        }
        let modes = words(&[ModeName::Test, ModeName::Live]);
        assert!(modes.iter().all(|w| Mode::from_name(w).is_some()));
        assert_eq!(modes.len(), 2, "Mode has two values");
        let roles = words(&[RoleName::Admin, RoleName::Developer, RoleName::Member]);
        assert!(roles.iter().all(|w| Role::from_name(w).is_some()));
        let kinds = words(&[KindName::Standard, KindName::Restricted]);
        assert!(kinds.iter().all(|w| KeyKind::from_name(w).is_some()));
        let statuses = words(&[
            StatusName::Active,
            StatusName::Expired,
            StatusName::Revoked,
            StatusName::Rotated,
        ]);
        let stored: Vec<&str> = [
            KeyStatus::Active,
            KeyStatus::Expired,
            KeyStatus::Revoked,
            KeyStatus::Rotated,
        ]
        .iter()
        .map(|s| s.as_str())
        .collect();
        assert_eq!(statuses, stored);
        use keywarden_api_types::names::{
            DeliveryStateName, EndpointStateName, EndpointSwitchName, EventSelectorName,
            EventTypeName,
        };
        use keywarden_core::store::DeliveryState;
        use keywarden_core::webhook::{EndpointState, EventType, Subscription};
        let types = words(&[
            EventTypeName::KeyCreated,
            EventTypeName::KeyUpdated,
            EventTypeName::KeyRotated,
            EventTypeName::KeyRevoked,
            EventTypeName::KeyExpiring,
            EventTypeName::KeyExpired,
            EventTypeName::KeyRotationDue,
            EventTypeName::KeyLeaked,
            EventTypeName::KeyCanaryUsed,
            EventTypeName::UserAdded,
            EventTypeName::UserRemoved,
            EventTypeName::UserRoleChanged,
            EventTypeName::AccountUpdated,
            EventTypeName::WebhookTest,
        ]);
        let all_types: Vec<&str> = EventType::ALL.iter().map(|t| t.as_str()).collect();
        assert_eq!(types, all_types);
        let selectors = words(&[
            EventSelectorName::All,
            EventSelectorName::KeyCreated,
            EventSelectorName::KeyUpdated,
            EventSelectorName::KeyRotated,
            EventSelectorName::KeyRevoked,
            EventSelectorName::KeyExpiring,
            EventSelectorName::KeyExpired,
            EventSelectorName::KeyRotationDue,
            EventSelectorName::KeyLeaked,
            EventSelectorName::KeyCanaryUsed,
            EventSelectorName::UserAdded,
            EventSelectorName::UserRemoved,
            EventSelectorName::UserRoleChanged,
            EventSelectorName::AccountUpdated,
            EventSelectorName::WebhookTest,
        ]);
        assert_eq!(selectors[0], "*");
        assert_eq!(selectors[1..], types[..]);
        for word in &selectors {
            assert!(Subscription::parse(&[word]).is_ok(), "{word}");
        }
        let states = words(&[
            EndpointStateName::Active,
            EndpointStateName::Failing,
            EndpointStateName::Disabled,
        ]);
        let stored: Vec<&str> = [
            EndpointState::Active,
            EndpointState::Failing,
            EndpointState::Disabled,
        ]
        .iter()
        .map(|s| s.as_str())
        .collect();
        assert_eq!(states, stored);
        let switches = words(&[EndpointSwitchName::Active, EndpointSwitchName::Disabled]);
        assert_eq!(switches, ["active", "disabled"]);
        let deliveries = words(&[
            DeliveryStateName::Pending,
            DeliveryStateName::Delivered,
            DeliveryStateName::Failed,
        ]);
        assert!(
            deliveries
                .iter()
                .all(|w| DeliveryState::from_name(w).is_some_and(|s| s.as_str() == w))
        );
        use keywarden_api_types::names::KeyOrderName;
        use keywarden_core::store::KeyOrder;
        let orders = words(&[
            KeyOrderName::CreatedAt,
            KeyOrderName::CreatedAtDesc,
            KeyOrderName::Label,
            KeyOrderName::LabelDesc,
            KeyOrderName::ExpiresAt,
            KeyOrderName::ExpiresAtDesc,
            KeyOrderName::LastUsedAt,
            KeyOrderName::LastUsedAtDesc,
        ]);
        let all_orders: Vec<&str> = KeyOrder::all().map(KeyOrder::name).collect();
        assert_eq!(orders, all_orders);
        for near in ["", "Test", "LIVE", "owner", "x"] {
            assert!(Mode::from_name(near).is_none() && Role::from_name(near).is_none());
            assert!(KeyKind::from_name(near).is_none());
        }
    }
}
