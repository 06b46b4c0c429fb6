//! Every key of the account (seed 000): `GET`/`POST /v1/api-keys/`,
//! `GET`/`PATCH`/`DELETE /v1/api-keys/{id}/`, `POST /v1/api-keys/{id}/rotate/`.
//!
//! A secret appears only in the create and rotate answers. Another account's key answers 404,
//! exactly like a key that does not exist.

use crate::error::ApiError;
use crate::extract::{ApiJson, ApiPath, ApiQuery, Console, bytes_rejection, optional_json};
use crate::routes::key_cursor;
use crate::routes::metadata::{Creators, fill_usage, issued, metadata, policy_changes};
use crate::routes::standard_keys::grace_seconds;
use crate::state::AppState;
use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::StatusCode;
use keywarden_api_types::keys::{
    CreateKeyRequest, IssuedKeyBody, KeyMetadata, KeyPage, PreviousKey, RotateKeyRequest,
    RotatedKeyBody, UpdateKeyRequest,
};
use keywarden_core::ids::KeyId;
use keywarden_core::key_format::{KeyKind, Mode};
use keywarden_core::key_record::{KeyRecord, KeyStatus};
use keywarden_core::service::{KeyChanges, NewKey};
use keywarden_core::store::KeyQuery;
use serde::Deserialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// Query parameters of the listing.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListParams {
    /// `active`, `expired`, `revoked` or `rotated`.
    #[param(value_type = Option<keywarden_api_types::names::StatusName>)]
    status: Option<String>,
    /// `test` or `live`.
    #[serde(rename = "type")]
    #[param(value_type = Option<keywarden_api_types::names::ModeName>)]
    mode: Option<String>,
    /// `standard` or `restricted`.
    #[param(value_type = Option<keywarden_api_types::names::KindName>)]
    kind: Option<String>,
    /// Substring of the label or hint.
    search: Option<String>,
    /// `true`: only canary keys; `false`: only keys that are not canaries.
    #[param(value_type = Option<bool>)]
    canary: Option<String>,
    /// Page size, 1–100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    limit: Option<u32>,
    /// `next_cursor` of the previous page, with the same `order`.
    cursor: Option<String>,
    /// The order: a field, or `-` and a field for descending (default `-created_at`, newest
    /// first). `label` compares ASCII letters without case; keys without an expiry, and keys
    /// never used, come last both ways; ties go by the key's id, in the same direction.
    #[param(value_type = Option<keywarden_api_types::names::KeyOrderName>)]
    order: Option<String>,
}

fn invalid(field: &'static str, message: &str) -> ApiError {
    ApiError::Invalid {
        field: field.into(),
        message: message.into(),
    }
}

/// A key id from the path; anything unparsable is simply not found.
pub fn key_id(text: &str) -> Result<KeyId, ApiError> {
    text.parse().map_err(|_| ApiError::NotFound("key"))
}

fn view(
    state: &AppState,
    console: &Console,
    record: &KeyRecord,
    creators: &Creators,
) -> KeyMetadata {
    let now = state.service.clock().now();
    metadata(
        record,
        state.service.catalog(),
        now,
        console.account.rotation_period_days,
        creators.email(record.created_by),
    )
}

/// One key as the API shows it, with its creator named.
async fn shown(
    state: &AppState,
    console: &Console,
    record: &KeyRecord,
) -> Result<Json<KeyMetadata>, ApiError> {
    let creators = Creators::of_account(state, console.account.id).await?;
    let mut shown = [view(state, console, record, &creators)];
    fill_usage(state, &mut shown, std::slice::from_ref(record)).await?;
    let [shown] = shown;
    Ok(Json(shown))
}

/// `GET /v1/api-keys/`
#[utoipa::path(
    get,
    path = "/v1/api-keys/",
    operation_id = "list_keys",
    tag = "API keys",
    summary = "List keys",
    description = "Every key of the account, standard and restricted, a page at a time: pass \
                   `next_cursor` as `cursor` for the next page, with the same `order` and \
                   filters. Newest first unless `order` says otherwise; every order is kept \
                   across pages, which never repeat or skip a key. `last_used_at` is the last \
                   use as stored: uses are written in batches every few seconds, so the latest \
                   may not count yet.",
    security(("console" = [])),
    params(ListParams),
    responses(
        (status = 200, description = "A page of keys.", body = KeyPage),
        (status = 400, response = crate::error::responses::BadRequest),
        (status = 401, response = crate::error::responses::ConsoleUnauthorized),
        (status = 403, response = crate::error::responses::Forbidden),
        (status = 503, response = crate::error::responses::Unavailable),
    ),
)]
pub async fn list(
    State(state): State<AppState>,
    console: Console,
    ApiQuery(params): ApiQuery<ListParams>,
) -> Result<Json<KeyPage>, ApiError> {
    console.require_key_manager()?;
    let status = params
        .status
        .as_deref()
        .map(|s| match s {
            "active" => Ok(KeyStatus::Active),
            "expired" => Ok(KeyStatus::Expired),
            "revoked" => Ok(KeyStatus::Revoked),
            "rotated" => Ok(KeyStatus::Rotated),
            _ => Err(invalid("status", "use active, expired, revoked or rotated")),
        })
        .transpose()?;
    let mode = params
        .mode
        .as_deref()
        .map(|m| Mode::from_name(m).ok_or_else(|| invalid("type", "use test or live")))
        .transpose()?;
    let kind = params
        .kind
        .as_deref()
        .map(|k| KeyKind::from_name(k).ok_or_else(|| invalid("kind", "use standard or restricted")))
        .transpose()?;
    let canary = params
        .canary
        .as_deref()
        .map(|c| match c {
            "true" => Ok(true),
            "false" => Ok(false),
            _ => Err(invalid(
                "canary",
                "use true (only canary keys) or false (only the others)",
            )),
        })
        .transpose()?;
    let order = key_cursor::order(params.order.as_deref())?;
    let after = params
        .cursor
        .as_deref()
        .map(|c| key_cursor::decode(order, c))
        .transpose()?;
    let limit = params.limit.unwrap_or(20);
    if !(1..=100).contains(&limit) {
        return Err(invalid("limit", "give a page size from 1 to 100"));
    }
    let search = params
        .search
        .filter(|s| !s.trim().is_empty())
        .map(|s| s.chars().take(100).collect());
    let query = KeyQuery {
        kind,
        mode,
        status,
        search,
        canary,
        order,
        after,
        limit,
    };
    let (keys, next) = state.service.list_keys(console.account.id, query).await?;
    let next_cursor = next.map(|position| key_cursor::encode(order, &position));
    let creators = Creators::of_account(&state, console.account.id).await?;
    let mut results: Vec<KeyMetadata> = keys
        .iter()
        .map(|k| view(&state, &console, k, &creators))
        .collect();
    fill_usage(&state, &mut results, &keys).await?;
    Ok(Json(KeyPage {
        results,
        next_cursor,
    }))
}

/// `POST /v1/api-keys/` → 201 with the secret, once.
#[utoipa::path(
    post,
    path = "/v1/api-keys/",
    operation_id = "create_key",
    tag = "API keys",
    summary = "Create a restricted key",
    description = "A key limited to the scopes given (see `GET /v1/products/`), optionally \
                   expiring. Answers the secret, once: store it now.",
    security(("console" = [])),
    request_body = CreateKeyRequest,
    responses(
        (status = 201, description = "The new key, with its secret shown this once.", body = IssuedKeyBody),
        (status = 400, response = crate::error::responses::KeyBadRequest),
        (status = 401, response = crate::error::responses::ConsoleUnauthorized),
        (status = 403, response = crate::error::responses::KeyChangeForbidden),
        (status = 413, response = crate::error::responses::PayloadTooLarge),
        (status = 503, response = crate::error::responses::Unavailable),
    ),
)]
pub async fn create(
    State(state): State<AppState>,
    console: Console,
    ApiJson(request): ApiJson<CreateKeyRequest>,
) -> Result<(StatusCode, Json<IssuedKeyBody>), ApiError> {
    console.require_key_manager()?;
    let mode = Mode::from_name(&request.mode).ok_or_else(|| invalid("type", "use test or live"))?;
    let new = NewKey {
        label: request.label,
        mode,
        scopes: request.scopes,
        expires_at: request.expires_at,
        // Absent and null alike mean none on a new key.
        policy: policy_changes(
            request.allowed_ips.map(Some),
            request.rate_limit.map(Some),
            request.usage_limit.map(Some),
            request.metadata.map(Some),
        ),
        canary: request.canary,
    };
    let key = state
        .service
        .create_restricted_key(console.account.id, new, &console.actor())
        .await?;
    let now = state.service.clock().now();
    Ok((
        StatusCode::CREATED,
        Json(issued(
            &key,
            state.service.catalog(),
            now,
            console.account.rotation_period_days,
            &Creators::only(&console.user),
        )),
    ))
}

/// `GET /v1/api-keys/{id}/`
#[utoipa::path(
    get,
    path = "/v1/api-keys/{id}/",
    operation_id = "get_key",
    tag = "API keys",
    summary = "One key",
    security(("console" = [])),
    params(("id" = String, Path, description = "The key's id, from the listing or the create answer.")),
    responses(
        (status = 200, description = "The key's metadata.", body = KeyMetadata),
        (status = 401, response = crate::error::responses::ConsoleUnauthorized),
        (status = 403, response = crate::error::responses::Forbidden),
        (status = 404, description = "No such key in your account (another account's key answers \
                                      the same).", body = keywarden_api_types::ErrorBody,
            example = json!({
                "detail": "No such key in your account. Check the id, or list them first.",
                "code": "not_found"
            })
        ),
        (status = 503, response = crate::error::responses::Unavailable),
    ),
)]
pub async fn get(
    State(state): State<AppState>,
    console: Console,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<KeyMetadata>, ApiError> {
    console.require_key_manager()?;
    let record = state.service.key(console.account.id, key_id(&id)?).await?;
    shown(&state, &console, &record).await
}

/// `PATCH /v1/api-keys/{id}/` (label, scopes, expiry)
#[utoipa::path(
    patch,
    path = "/v1/api-keys/{id}/",
    operation_id = "update_key",
    tag = "API keys",
    summary = "Change a key's label, scopes or expiry",
    description = "Absent fields stay as they are; `\"expires_at\": null` removes the expiry. A \
                   standard key's scopes and expiry cannot change, only its label.",
    security(("console" = [])),
    params(("id" = String, Path, description = "The key's id, from the listing or the create answer.")),
    request_body = UpdateKeyRequest,
    responses(
        (status = 200, description = "The key as changed.", body = KeyMetadata),
        (status = 400, response = crate::error::responses::KeyBadRequest),
        (status = 401, response = crate::error::responses::ConsoleUnauthorized),
        (status = 403, response = crate::error::responses::Forbidden),
        (status = 404, description = "No such key in your account (another account's key answers \
                                      the same).", body = keywarden_api_types::ErrorBody,
            example = json!({
                "detail": "No such key in your account. Check the id, or list them first.",
                "code": "not_found"
            })
        ),
        (status = 409, description = "The key is revoked and can no longer change.", body = keywarden_api_types::ErrorBody,
            example = json!({
                "detail": "this key is revoked and can no longer be changed",
                "code": "conflict"
            })
        ),
        (status = 413, response = crate::error::responses::PayloadTooLarge),
        (status = 503, response = crate::error::responses::Unavailable),
    ),
)]
pub async fn update(
    State(state): State<AppState>,
    console: Console,
    ApiPath(id): ApiPath<String>,
    ApiJson(request): ApiJson<UpdateKeyRequest>,
) -> Result<Json<KeyMetadata>, ApiError> {
    console.require_key_manager()?;
    let id = key_id(&id)?;
    let expires_at = match request.expires_at {
        None => None,
        Some(None) => Some(None),
        Some(Some(text)) => Some(Some(OffsetDateTime::parse(&text, &Rfc3339).map_err(
            |_| {
                invalid(
                    "expires_at",
                    "give an RFC 3339 time such as 2027-01-31T00:00:00Z, or null for never",
                )
            },
        )?)),
    };
    let changes = KeyChanges {
        label: request.label,
        scopes: request.scopes,
        expires_at,
        policy: policy_changes(
            request.allowed_ips,
            request.rate_limit,
            request.usage_limit,
            request.metadata,
        ),
    };
    let record = state
        .service
        .update_key(console.account.id, id, changes, &console.actor())
        .await?;
    shown(&state, &console, &record).await
}

/// `POST /v1/api-keys/{id}/rotate/` → the successor's secret, once.
#[utoipa::path(
    post,
    path = "/v1/api-keys/{id}/rotate/",
    operation_id = "rotate_key",
    tag = "API keys",
    summary = "Rotate a key",
    description = "A new secret with the same settings, shown once. The previous key stops \
                   working at once, or after `expire_previous_in` seconds (at most 7 days). The \
                   body is optional.",
    security(("console" = [])),
    params(("id" = String, Path, description = "The key's id, from the listing or the create answer.")),
    request_body(content = Option<RotateKeyRequest>, description = "Optional; an empty body \
                 stops the previous key at once."),
    responses(
        (status = 200, description = "The successor (its secret shown this once) and what \
                                      happens to the previous key.", body = RotatedKeyBody),
        (status = 400, response = crate::error::responses::KeyBadRequest),
        (status = 401, response = crate::error::responses::ConsoleUnauthorized),
        (status = 403, response = crate::error::responses::KeyChangeForbidden),
        (status = 404, description = "No such key in your account (another account's key answers \
                                      the same).", body = keywarden_api_types::ErrorBody,
            example = json!({
                "detail": "No such key in your account. Check the id, or list them first.",
                "code": "not_found"
            })
        ),
        (status = 409, description = "The key is no longer active (already rotated or revoked), \
                                      or a concurrent rotation won: rotate its successor.",
            body = keywarden_api_types::ErrorBody,
            example = json!({
                "detail": "this key is already rotated and cannot be rotated; rotate its successor instead",
                "code": "conflict"
            })
        ),
        (status = 413, response = crate::error::responses::PayloadTooLarge),
        (status = 503, response = crate::error::responses::Unavailable),
    ),
)]
pub async fn rotate(
    State(state): State<AppState>,
    console: Console,
    ApiPath(id): ApiPath<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<RotatedKeyBody>, ApiError> {
    console.require_key_manager()?;
    let body = body.map_err(bytes_rejection)?;
    let id = key_id(&id)?;
    let request: RotateKeyRequest = optional_json(&body)?;
    let grace = match request.expire_previous_in {
        None => None,
        Some(seconds) => Some(grace_seconds(&serde_json::Value::from(seconds))?),
    };
    let rotated = state
        .service
        .rotate_key(console.account.id, id, grace, &console.actor())
        .await?;
    let now = state.service.clock().now();
    Ok(Json(RotatedKeyBody {
        // The successor's creator is whoever rotated it: the caller.
        issued: issued(
            &rotated.issued,
            state.service.catalog(),
            now,
            console.account.rotation_period_days,
            &Creators::only(&console.user),
        ),
        previous: PreviousKey {
            id: rotated.previous.id.to_string(),
            hint: rotated.previous.hint.clone(),
            stops_at: rotated.previous.grace_until.unwrap_or(now),
        },
    }))
}

/// `DELETE /v1/api-keys/{id}/`: revokes; the record stays, as `revoked`. Answers with it.
#[utoipa::path(
    delete,
    path = "/v1/api-keys/{id}/",
    operation_id = "revoke_key",
    tag = "API keys",
    summary = "Revoke a key",
    description = "The key stops working at once. The record stays, as `revoked`, for the audit \
                   trail; the answer is the revoked key.",
    security(("console" = [])),
    params(("id" = String, Path, description = "The key's id, from the listing or the create answer.")),
    responses(
        (status = 200, description = "The revoked key.", body = KeyMetadata),
        (status = 401, response = crate::error::responses::ConsoleUnauthorized),
        (status = 403, response = crate::error::responses::KeyChangeForbidden),
        (status = 404, description = "No such key in your account (another account's key answers \
                                      the same).", body = keywarden_api_types::ErrorBody,
            example = json!({
                "detail": "No such key in your account. Check the id, or list them first.",
                "code": "not_found"
            })
        ),
        (status = 409, description = "The key is already revoked.", body = keywarden_api_types::ErrorBody,
            example = json!({"detail": "this key is already revoked", "code": "conflict"})
        ),
        (status = 503, response = crate::error::responses::Unavailable),
    ),
)]
pub async fn revoke(
    State(state): State<AppState>,
    console: Console,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<KeyMetadata>, ApiError> {
    console.require_key_manager()?;
    let record = state
        .service
        .revoke_key(console.account.id, key_id(&id)?, &console.actor())
        .await?;
    shown(&state, &console, &record).await
}
