//! `POST /v1/verify/`: the platform's services ask whether a key may be used.
//! Always 200 with `valid` true or false; 400 only when the request itself is wrong.

use crate::error::ApiError;
use crate::extract::ApiJson;
use crate::key_cache::VerifyFailure;
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use keywarden_api_types::verify::{InvalidKey, ValidKey, VerifyRequest, VerifyResponse};
use keywarden_core::key_table::from_millis;
use keywarden_core::scope::ScopeSet;
use subtle::ConstantTimeEq;

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
pub async fn verify(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiJson(request): ApiJson<VerifyRequest>,
) -> Result<Json<VerifyResponse>, ApiError> {
    check_verifier_secret(&state, &headers)?;
    let catalog = state.cache.catalog();
    let required = match request.scope.as_deref() {
        None => ScopeSet::default(),
        Some(name) => ScopeSet::only(catalog.parse_scope(name).map_err(|e| ApiError::Invalid {
            field: "scope".into(),
            message: e.to_string(),
        })?),
    };
    let outcome = state
        .cache
        .verify(&request.key, required, |entry| ValidKey {
            valid: true,
            key_id: entry.key_id.to_string(),
            account_id: entry.account_id.to_string(),
            mode: entry.mode.as_str().into(),
            kind: entry.kind.as_str().into(),
            scopes: catalog.names(entry.scopes),
            expires_at: (entry.expires_at != i64::MAX).then(|| from_millis(entry.expires_at)),
        });
    match outcome {
        Ok(valid) => {
            state.metrics.key_check("valid");
            Ok(Json(VerifyResponse::Valid(valid)))
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
            })))
        }
    }
}
