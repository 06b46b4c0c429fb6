//! The operations endpoints: liveness, readiness, metrics and the OpenAPI document.

use crate::error::ApiError;
use crate::metrics::Readings;
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::{Value, json};
use std::sync::atomic::Ordering;
use utoipa::ToSchema;

/// `GET /healthz`: the process answers.
#[utoipa::path(
    get,
    path = "/healthz",
    operation_id = "healthz",
    tag = "Operations",
    summary = "Liveness",
    responses(
        (status = 200, description = "The process answers.", body = Health,
            example = json!({"status": "ok"})),
    ),
)]
pub async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// `GET /readyz`: the database answers and the key table is current.
#[utoipa::path(
    get,
    path = "/readyz",
    operation_id = "readyz",
    tag = "Operations",
    summary = "Readiness",
    description = "Ready when the database answers and the in-memory key table is current.",
    responses(
        (status = 200, description = "Ready; `keys` is the size of the key table.",
            body = Ready, example = json!({"status": "ready", "keys": 42})),
        (status = 503, response = crate::error::responses::Unavailable),
    ),
)]
pub async fn readyz(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    state.service.store().ping().await?;
    let now = state.service.clock().unix_millis();
    if !state.keys.is_fresh(now) {
        return Err(ApiError::Unavailable);
    }
    Ok(Json(json!({ "status": "ready", "keys": state.keys.len() })))
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

/// `GET /metrics`
#[utoipa::path(
    get,
    path = "/metrics",
    operation_id = "metrics",
    tag = "Operations",
    summary = "Prometheus metrics",
    description = "Key checks by outcome, sign-ins, the key table's size and age, in the \
                   Prometheus text format.",
    responses(
        (status = 200, description = "The metrics.", body = String,
            content_type = "text/plain; version=0.0.4; charset=utf-8"),
    ),
)]
pub async fn metrics(State(state): State<AppState>) -> Result<impl IntoResponse, ApiError> {
    let now = state.service.clock().unix_millis();
    let webhooks = state.webhooks.stats();
    let text = state.metrics.render(Readings {
        table_keys: state.keys.len(),
        table_age_secs: state.keys.age_millis(now) as f64 / 1000.0,
        unknown_key_reads: state.keys.unknown_key_reads(),
        passwords_busy: state.passwords.refused(),
        connections_open: state.connections.open.load(Ordering::Relaxed),
        connections_refused: state.connections.refused.load(Ordering::Relaxed),
        webhooks_delivered: webhooks.delivered(),
        webhooks_retried: webhooks.retried(),
        webhooks_failed: webhooks.failed(),
        webhook_queue_depth: webhooks.queue_depth(),
        webhook_oldest_secs: webhooks.oldest_undelivered_secs(),
        shared_rates: state
            .shared_rates
            .as_ref()
            .map(|shared| shared.readings())
            .unwrap_or_default(),
    });
    Ok((
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    ))
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
pub async fn openapi_json(
    axum::extract::State(state): axum::extract::State<crate::state::AppState>,
) -> Result<Response, ApiError> {
    let json = state.openapi.clone();
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
