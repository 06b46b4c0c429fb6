//! The router: every path of the API, one module per resource.
//!
//! Paths are declared without their trailing slash; [`crate::serve`] trims a trailing slash
//! before routing, so `/v1/verify/` (the seeds' spelling) and `/v1/verify` both work.

pub mod account;
pub mod api_keys;
pub mod audit;
pub mod auth;
pub mod forward_auth;
pub mod metadata;
pub mod ops;
pub mod standard_keys;
pub mod two_factor;
pub mod users;
pub mod verify;

use crate::error::ApiError;
use crate::state::AppState;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, patch, post};

/// All routes with their state.
pub fn router(state: AppState) -> Router {
    let body_limit = state.config.limits.max_body_bytes;
    Router::new()
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        .route("/metrics", get(crate::metrics::metrics))
        .route("/v1/auth/token", post(auth::token))
        .route("/v1/auth/token/refresh", post(auth::refresh))
        .route("/v1/auth/me", get(auth::me))
        .route(
            "/v1/auth/api-keys",
            get(standard_keys::list).patch(standard_keys::rotate),
        )
        .route("/v1/auth/2fa/setup", post(two_factor::setup))
        .route("/v1/auth/2fa/confirm", post(two_factor::confirm))
        .route("/v1/api-keys", get(api_keys::list).post(api_keys::create))
        .route(
            "/v1/api-keys/{id}",
            get(api_keys::get)
                .patch(api_keys::update)
                .delete(api_keys::revoke),
        )
        .route("/v1/api-keys/{id}/rotate", post(api_keys::rotate))
        .route("/v1/users", get(users::list).post(users::create))
        .route("/v1/users/{id}", patch(users::update).delete(users::remove))
        .route("/v1/account", get(account::get).patch(account::update))
        .route("/v1/products", get(account::products))
        .route("/v1/audit-events", get(audit::list))
        .route("/v1/verify", post(verify::verify))
        .route("/v1/forward-auth", get(forward_auth::forward_auth))
        .merge(crate::console::router())
        .merge(crate::openapi::router())
        .fallback(|| async { ApiError::NoRoute })
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(axum::middleware::from_fn(crate::access_log::access_log))
        .with_state(state)
}
