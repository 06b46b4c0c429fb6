//! `POST /v1/verify/`: the platform's services ask whether a key may be used.
//! Always 200 with `valid` true or false; 400 only when the request itself is wrong.

use crate::error::ApiError;
use crate::extract::ApiJson;
use crate::key_cache::VerifyFailure;
use crate::state::AppState;
use axum::Json;
use axum::extract::{FromRequest, Request, State};
use axum::http::HeaderMap;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use keywarden_api_types::verify::{InvalidKey, VerifyRequest, VerifyResponse};
use keywarden_core::ids::{AccountId, KeyId};
use keywarden_core::key_table::{TableEntry, from_millis};
use keywarden_core::scope::{Catalog, ScopeSet};
use serde::ser::{Serialize, SerializeSeq, Serializer};
use subtle::ConstantTimeEq;
use time::OffsetDateTime;

/// Header that carries the verifier secret, when one is configured.
pub const VERIFIER_SECRET_HEADER: &str = "x-keywarden-verifier-secret";

/// When a verifier secret is configured, callers must present it.
pub fn check_verifier_secret(state: &AppState, headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(expected) = &state.config.verifier_secret else {
        return Ok(());
    };
    let presented = headers
        .get(VERIFIER_SECRET_HEADER)
        .map(|v| v.as_bytes())
        .unwrap_or(b"");
    if bool::from(presented.ct_eq(expected.0.as_bytes())) {
        Ok(())
    } else {
        Err(ApiError::VerifierSecretRequired)
    }
}

/// `POST /v1/verify/` `{"key": "...", "scope"?: "payroll:write"}`
#[utoipa::path(
    post,
    path = "/v1/verify/",
    operation_id = "verify_key",
    tag = "Key checks",
    summary = "Check a key",
    description = "For the platform's services: is this key valid, and does it have `scope`? \
                   Always 200 when the request itself is right: `valid` says whether the key may \
                   be used, and a refused key's `code` is one of the codes of the key checks \
                   (`invalid_key_format`, `key_not_found`, `key_revoked`, `key_rotated`, \
                   `key_expired`, `insufficient_scope`).",
    security((), ("verifier_secret" = [])),
    request_body = VerifyRequest,
    responses(
        (status = 200, description = "The verdict.", body = VerifyResponse,
            examples(
                ("valid" = (summary = "A valid key", value = json!({
                    "valid": true,
                    "key_id": "01936f6e-8a4b-7c1d-9e2f-3a4b5c6d7e8f",
                    "account_id": "01936f6e-1111-7c1d-9e2f-3a4b5c6d7e8f",
                    "type": "live",
                    "kind": "standard",
                    "scopes": ["payroll:read", "payroll:write"],
                    "expires_at": null
                }))),
                ("refused" = (summary = "A revoked key", value = json!({
                    "valid": false,
                    "code": "key_revoked",
                    "detail": "This API key has been revoked. Use another key, or create a new one in the console.",
                    "stopped_at": "2026-11-02T09:30:00Z"
                }))),
                ("insufficient_scope" = (summary = "A key without the scope asked for", value = json!({
                    "valid": false,
                    "code": "insufficient_scope",
                    "detail": "This API key does not have the 'payroll:write' permission.",
                    "required_scope": "payroll:write"
                })))
            )
        ),
        (status = 400, description = "The request is wrong: an unknown `scope`, a missing `key`, a \
                                      body that is not JSON. `field` names the field.",
            body = keywarden_api_types::ErrorBody,
            examples(
                ("scope" = (summary = "Unknown scope", value = json!({
                    "detail": "scope: 'payrol:write' names no product of this platform; GET /v1/products/ lists them",
                    "code": "invalid",
                    "field": "scope"
                }))),
                ("missing key" = (summary = "No key in the body", value = json!({
                    "detail": "key: this field is required",
                    "code": "invalid",
                    "field": "key"
                })))
            )
        ),
        (status = 401, description = "A verifier secret is configured and this request did not \
                                      present it in `X-Keywarden-Verifier-Secret`.",
            body = keywarden_api_types::ErrorBody,
            headers((
                "WWW-Authenticate" = String,
                description = "`Basic realm=\"keywarden\", Api-Key realm=\"keywarden\", Bearer realm=\"keywarden\"`"
            )),
            example = json!({
                "detail": "This endpoint needs the verifier secret: send it in the X-Keywarden-Verifier-Secret header.",
                "code": "verifier_secret_required"
            })
        ),
        (status = 413, response = crate::openapi::PayloadTooLarge),
        (status = 503, response = crate::openapi::Unavailable),
    ),
)]
pub async fn verify(State(state): State<AppState>, http: Request) -> Result<Response, ApiError> {
    // The request whole rather than a `HeaderMap` extractor, which would clone every header.
    // The order of the answers is kept: a malformed body is a 400 before a missing verifier
    // secret is a 401.
    let verifier = check_verifier_secret(&state, http.headers());
    let ApiJson(request) = ApiJson::<VerifyRequest>::from_request(http, &state).await?;
    verifier?;
    let catalog = state.cache.catalog();
    let required = match request.scope.as_deref() {
        None => ScopeSet::default(),
        Some(name) => ScopeSet::only(catalog.parse_scope(name).map_err(|e| ApiError::Invalid {
            field: "scope".into(),
            message: e.to_string(),
        })?),
    };
    let outcome = state.cache.verify(&request.key, required, |entry| {
        ValidAnswer::of(entry, catalog)
    });
    match outcome {
        Ok(valid) => {
            state.metrics.key_check("valid");
            Ok(valid.into_response())
        }
        Err(VerifyFailure::Stale) => {
            state.metrics.key_check("unavailable");
            Err(ApiError::Unavailable)
        }
        Err(failure) => {
            let error = failure.into_api_error(|| request.scope.clone().unwrap_or_default());
            if let Some(outcome) = error.key_outcome() {
                state.metrics.key_check(outcome);
            }
            let body = error.key_body().ok_or(error)?;
            Ok(Json(VerifyResponse::Invalid(InvalidKey {
                valid: false,
                code: body
                    .code
                    .unwrap_or(keywarden_api_types::ErrorCode::KeyNotFound),
                detail: body.detail,
                hint: body.hint,
                stopped_at: body.stopped_at,
                required_scope: body.required_scope,
            }))
            .into_response())
        }
    }
}

/// A valid key's answer: the JSON of [`keywarden_api_types::verify::ValidKey`], written
/// straight from the table entry's fields. The owned type would cost a `String` per id and per
/// scope (sixteen for a standard key) and a growing buffer, on the path every service calls.
#[derive(serde::Serialize)]
struct ValidAnswer<'a> {
    valid: bool,
    key_id: KeyId,
    account_id: AccountId,
    #[serde(rename = "type")]
    mode: &'static str,
    kind: &'static str,
    scopes: ScopeNames<'a>,
    #[serde(with = "time::serde::rfc3339::option")]
    expires_at: Option<OffsetDateTime>,
}

impl<'a> ValidAnswer<'a> {
    fn of(entry: &TableEntry, catalog: &'a Catalog) -> Self {
        Self {
            valid: true,
            key_id: entry.key_id,
            account_id: entry.account_id,
            mode: entry.mode.as_str(),
            kind: entry.kind.as_str(),
            scopes: ScopeNames {
                catalog,
                set: entry.scopes,
            },
            expires_at: (entry.expires_at != i64::MAX).then(|| from_millis(entry.expires_at)),
        }
    }
}

impl IntoResponse for ValidAnswer<'_> {
    fn into_response(self) -> Response {
        // Room for a standard key on a catalog of a dozen products, so the buffer rarely grows.
        let mut body = Vec::with_capacity(512);
        match serde_json::to_writer(&mut body, &self) {
            Ok(()) => (
                [(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                )],
                body,
            )
                .into_response(),
            Err(error) => {
                ApiError::Internal(format!("writing a verify answer: {error}")).into_response()
            }
        }
    }
}

/// A scope set as the JSON list of its names, each written as it is serialized.
struct ScopeNames<'a> {
    catalog: &'a Catalog,
    set: ScopeSet,
}

impl Serialize for ScopeNames<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut list = serializer.serialize_seq(None)?;
        for name in self.catalog.names_of(self.set) {
            list.serialize_element(name)?;
        }
        list.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use keywarden_api_types::verify::ValidKey;
    use keywarden_core::key_format::{KeyKind, Mode};
    use keywarden_core::scope::{Access, Scope};

    /// The owned answer the API types describe (and clients parse), for the same entry.
    fn owned(answer: &ValidAnswer<'_>) -> VerifyResponse {
        VerifyResponse::Valid(ValidKey {
            valid: true,
            key_id: answer.key_id.to_string(),
            account_id: answer.account_id.to_string(),
            mode: answer.mode.into(),
            kind: answer.kind.into(),
            scopes: answer.scopes.catalog.names(answer.scopes.set),
            expires_at: answer.expires_at,
        })
    }

    #[test]
    fn the_written_answer_is_the_json_of_the_owned_one() {
        let catalog = Catalog::default();
        let one = ScopeSet::only(Scope {
            product: 2,
            access: Access::Write,
        });
        let cases = [
            (Mode::Live, KeyKind::Standard, catalog.all(), None),
            (
                Mode::Test,
                KeyKind::Restricted,
                one,
                Some(1_795_000_000_123),
            ),
            (
                Mode::Live,
                KeyKind::Restricted,
                ScopeSet::default(),
                Some(0),
            ),
        ];
        for (mode, kind, set, expires) in cases {
            let answer = ValidAnswer {
                valid: true,
                key_id: KeyId(uuid::Uuid::from_u128(
                    0x01a2_37b5_eca7_7415_8108_6080_5704_d366,
                )),
                account_id: AccountId(uuid::Uuid::from_u128(u128::MAX / 3)),
                mode: mode.as_str(),
                kind: kind.as_str(),
                scopes: ScopeNames {
                    catalog: &catalog,
                    set,
                },
                expires_at: expires.map(from_millis),
            };
            let written = serde_json::to_string(&answer).unwrap();
            assert_eq!(written, serde_json::to_string(&owned(&answer)).unwrap());
            let parsed: VerifyResponse = serde_json::from_str(&written).unwrap();
            assert_eq!(parsed, owned(&answer));
        }
    }
}
