//! The standard keys (seed 001): `GET /v1/auth/api-keys/` and `PATCH /v1/auth/api-keys/`.

use crate::error::ApiError;
use crate::extract::{Console, bytes_rejection};
use crate::routes::metadata::{Creators, issued, metadata};
use crate::state::AppState;
use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use keywarden_api_types::keys::{PreviousKey, RotatedKeyBody, StandardKeys};
use keywarden_core::key_format::Mode;
use keywarden_core::service::MAX_ROTATION_GRACE;
use serde_json::Value;

/// `GET /v1/auth/api-keys/`: both standard keys' metadata, never the secrets.
#[utoipa::path(
    get,
    path = "/v1/auth/api-keys/",
    operation_id = "list_standard_keys",
    tag = "Standard keys",
    summary = "Both standard keys",
    description = "The metadata of the account's test and live standard keys, never the secrets. \
                   A key that was revoked is `null` until it is replaced (`PATCH`).",
    security(("console" = [])),
    responses(
        (status = 200, description = "The two standard keys.", body = StandardKeys),
        (status = 401, response = crate::error::responses::ConsoleUnauthorized),
        (status = 403, response = crate::error::responses::Forbidden),
        (status = 404, description = "The account's standard keys were never initialised (the \
                                      seeds' notice shape).",
            body = keywarden_api_types::error::NoticeBody,
            example = json!({
                "code": 404,
                "title": "API Keys not found",
                "content": "No API keys found for this user. Please contact support.",
                "type": "warning"
            })
        ),
        (status = 503, response = crate::error::responses::Unavailable),
    ),
)]
pub async fn list(
    State(state): State<AppState>,
    console: Console,
) -> Result<Json<StandardKeys>, ApiError> {
    console.require_key_manager()?;
    let keys = state.service.standard_keys(console.account.id).await?;
    // Both revoked is not "never initialised": each comes back through PATCH.
    if keys.is_empty()
        && !state
            .service
            .standard_keys_were_issued(console.account.id)
            .await?
    {
        return Err(ApiError::NoStandardKeys);
    }
    let now = state.service.clock().now();
    let period = console.account.rotation_period_days;
    let catalog = state.service.catalog();
    let creators = Creators::of_account(&state, console.account.id).await?;
    let find = |mode| {
        keys.iter()
            .find(|k| k.mode == mode)
            .map(|k| metadata(k, catalog, now, period, creators.email(k.created_by)))
    };
    Ok(Json(StandardKeys {
        test: find(Mode::Test),
        live: find(Mode::Live),
    }))
}

/// `PATCH /v1/auth/api-keys/` `{"type": "test"|"live", "expire_previous_in"?: seconds}`:
/// rotates that key, or replaces it if it was revoked, and returns the new secret once.
#[utoipa::path(
    patch,
    path = "/v1/auth/api-keys/",
    operation_id = "rotate_standard_key",
    tag = "Standard keys",
    summary = "Rotate a standard key",
    description = "Rotates the test or live standard key and answers the new secret, once. The \
                   previous key stops working at once, or after `expire_previous_in` seconds (at \
                   most 7 days) for a planned hand-over. A standard key that was revoked is \
                   replaced instead: a new key of that mode with the revoked key's label and \
                   policy (a `key.created` event); `previous` is the revoked key, `stops_at` \
                   when it was revoked, and `expire_previous_in` has nothing to hand over.",
    security(("console" = [])),
    request_body = keywarden_api_types::keys::RotateStandardKeyRequest,
    responses(
        (status = 200, description = "The new key (its secret shown this once) and what happens \
                                      to the previous one.", body = RotatedKeyBody),
        (status = 400, description = "A missing or wrong `type` (the seeds' notice, under \
                                      `message`), or a wrong `expire_previous_in` or malformed \
                                      body (an error body naming the field), or a live key the \
                                      account's key policy requires an allowlist of and that \
                                      has none (`policy_violation`: the successor would keep \
                                      the missing allowlist; give the key `allowed_ips` first).",
            body = crate::error::responses::StandardKeyBadRequest,
            examples(
                ("type" = (summary = "Missing or wrong `type`", value = json!({"message": {
                    "code": 400,
                    "title": "Invalid request",
                    "content": "Please provide a valid 'type' field: 'test' or 'live'.",
                    "type": "danger"
                }}))),
                ("expire_previous_in" = (summary = "Grace out of range", value = json!({
                    "detail": "expire_previous_in: give a whole number of seconds from 0 to 604800 (7 days) for how long the previous key keeps working",
                    "code": "invalid",
                    "field": "expire_previous_in"
                }))),
                ("policy_violation" = (summary = "A live key without the allowlist the policy requires", value = json!({
                    "detail": "allowed_ips: the account's key policy requires live keys to have an IP allowlist: set allowed_ips to the addresses or ranges the key is used from (test keys may do without); change the key first (PATCH /v1/api-keys/018f0e5c-5a4b-7cde-8f01-23456789abcd/), then rotate it: the new key keeps the old one's expiry and allowlist",
                    "code": "policy_violation",
                    "field": "allowed_ips"
                }))),
                ("malformed_body" = (summary = "The body is not JSON", value = json!({
                    "detail": "The request body is not valid JSON for this endpoint: expected value at line 1 column 1",
                    "code": "malformed_body"
                })))
            )
        ),
        (status = 401, response = crate::error::responses::ConsoleUnauthorized),
        (status = 403, response = crate::error::responses::Forbidden),
        (status = 404, description = "The account's standard keys were never initialised.",
            body = keywarden_api_types::error::NoticeBody),
        (status = 409, description = "A concurrent rotation of the same key won; reload and try \
                                      again.", body = keywarden_api_types::ErrorBody),
        (status = 413, response = crate::error::responses::PayloadTooLarge),
        (status = 503, response = crate::error::responses::Unavailable),
    ),
)]
pub async fn rotate(
    State(state): State<AppState>,
    console: Console,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<RotatedKeyBody>, ApiError> {
    console.require_key_manager()?;
    let body = body.map_err(bytes_rejection)?;
    let body: Value = if body.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&body).map_err(|e| ApiError::MalformedBody(e.to_string()))?
    };
    let mode = body
        .get("type")
        .and_then(Value::as_str)
        .and_then(Mode::from_name)
        .ok_or(ApiError::StandardKeyType)?;
    let grace = match body.get("expire_previous_in") {
        None | Some(Value::Null) => None,
        Some(value) => Some(grace_seconds(value)?),
    };
    let rotated = state
        .service
        .rotate_standard_key(console.account.id, mode, grace, &console.actor())
        .await?;
    let now = state.service.clock().now();
    let period = console.account.rotation_period_days;
    let previous = &rotated.previous;
    Ok(Json(RotatedKeyBody {
        // The successor's creator is whoever rotated it: the caller.
        issued: issued(
            &rotated.issued,
            state.service.catalog(),
            now,
            period,
            &Creators::only(&console.user),
        ),
        previous: PreviousKey {
            id: previous.id.to_string(),
            hint: previous.hint.clone(),
            // A replaced key stopped when it was revoked.
            stops_at: previous.grace_until.or(previous.revoked_at).unwrap_or(now),
        },
    }))
}

/// `expire_previous_in`: whole seconds from 0 to 7 days.
pub fn grace_seconds(value: &Value) -> Result<time::Duration, ApiError> {
    let max = MAX_ROTATION_GRACE.whole_seconds();
    value
        .as_i64()
        .filter(|s| (0..=max).contains(s))
        .map(time::Duration::seconds)
        .ok_or_else(|| ApiError::Invalid {
            field: "expire_previous_in".into(),
            message: format!(
                "give a whole number of seconds from 0 to {max} (7 days) for how long the previous key keeps working"
            ),
        })
}
