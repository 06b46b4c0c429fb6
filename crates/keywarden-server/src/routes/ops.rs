//! Liveness and readiness.

use crate::error::ApiError;
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};

/// `GET /healthz`: the process answers.
pub async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// `GET /readyz`: the database answers and the key table is current.
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
