//! Liveness and readiness.

use crate::error::ApiError;
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};

/// `GET /healthz`: the process answers.
#[utoipa::path(
    get,
    path = "/healthz",
    operation_id = "healthz",
    tag = "Operations",
    summary = "Liveness",
    responses(
        (status = 200, description = "The process answers.", body = crate::openapi::Health,
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
            body = crate::openapi::Ready, example = json!({"status": "ready", "keys": 42})),
        (status = 503, response = crate::openapi::Unavailable),
    ),
)]
pub async fn readyz(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    state.service.store().ping().await?;
    let now = state.service.clock().unix_millis();
    if !state.cache.is_fresh(now) {
        return Err(ApiError::Unavailable);
    }
    Ok(Json(
        json!({ "status": "ready", "keys": state.cache.len() }),
    ))
}
