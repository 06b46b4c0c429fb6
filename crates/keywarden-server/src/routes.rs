//! The router: every path of the API, one module per resource.
//!
//! Paths are declared without their trailing slash; [`crate::serve`] trims a trailing slash
//! before routing ([`crate::trailing_slash`]), so `/v1/users/` (the seeds' spelling) and
//! `/v1/users` both work. The two verification paths are declared in both spellings, so their
//! requests skip that rewrite.

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
use axum::routing::{get, patch, post};

/// All routes with their state; [`crate::app`] puts the layers every request passes around it.
pub fn router(state: AppState) -> Router {
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
        .route("/v1/verify/", post(verify::verify))
        .route("/v1/forward-auth", get(forward_auth::forward_auth))
        .route("/v1/forward-auth/", get(forward_auth::forward_auth))
        .merge(crate::console::router())
        .merge(crate::openapi::router())
        .fallback(|| async { ApiError::NoRoute })
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .with_state(state)
}
