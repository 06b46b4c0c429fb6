//! Keywarden's HTTP server.
//!
//! Layout:
//! - [`config`]: the TOML file and `KEYWARDEN_*` environment.
//! - [`startup`]: store, server secret (generated once, never replaced), services, key table.
//! - [`state`]: what handlers reach. [`routes`]: the router, one module per resource.
//! - [`extract`]: extractors that say what a route accepts (console user, JSON body, client).
//! - [`presented_key`]: the three `Authorization` forms of SPEC §3, without allocating.
//! - [`key_cache`]: the in-memory key table and its refresh from the change feed.
//! - [`tokens`]: console JWTs. [`rate_limit`]: failure limits. [`client_addr`]: trusted proxies.
//! - [`error`]: the one mapping from failures to HTTP answers.
//!
//! [`serve`] runs the server until a shutdown future completes, then finishes in-flight
//! requests, stops the refresh task and writes the last batch of last-use times.

pub mod access_log;
pub mod change_listener;
pub mod client_addr;
pub mod config;
pub mod console;
pub mod direct_route;
pub mod error;
pub mod extract;
pub mod key_cache;
pub mod metrics;
pub mod openapi;
pub mod presented_key;
pub mod rate_limit;
pub mod routes;
pub mod startup;
pub mod state;
pub mod tokens;
pub mod trailing_slash;

use axum::ServiceExt;
use axum::extract::{DefaultBodyLimit, Request};
use axum::response::Response;
use state::AppState;
use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::net::TcpListener;

/// What `axum::serve` takes as the whole application, and what the layers below wrap: a
/// cloneable, thread-safe service that answers every request (errors are answers too).
pub trait HttpService:
    tower::Service<
        Request,
        Response = Response,
        Error = std::convert::Infallible,
        Future: Send + 'static,
    > + Clone
    + Send
    + Sync
    + 'static
{
}

impl<S> HttpService for S where
    S: tower::Service<
            Request,
            Response = Response,
            Error = std::convert::Infallible,
            Future: Send + 'static,
        > + Clone
        + Send
        + Sync
        + 'static
{
}

/// `router` behind the layers every request passes: trailing slashes trimmed (SPEC §4), the
/// request log, the body limit. Outside the router rather than `Router::layer`, which boxes a
/// layered service per route and clones the box on every request; here the layers are plain
/// types and cost nothing on a request that does not need them.
pub fn app(router: impl HttpService, body_limit: usize) -> impl HttpService {
    let layers = tower::ServiceBuilder::new()
        .layer(access_log::AccessLogLayer)
        .layer(DefaultBodyLimit::max(body_limit));
    trailing_slash::trimmed(layers.service(router))
}

/// The whole API as one service: forward-auth answered before routing
/// ([`direct_route`]), every other request routed, all of them behind [`app`]'s layers.
pub fn api(state: AppState) -> impl HttpService {
    let body_limit = state.config.limits.max_body_bytes;
    let routed = direct_route::ForwardAuthFirst::new(state.clone(), routes::router(state));
    app(routed, body_limit)
}

/// Serves `state` on `listener` until `shutdown` completes.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let refresh = tokio::spawn(key_cache::run_refresh(
        state.cache.clone(),
        Duration::from_millis(state.config.cache.refresh_interval_ms),
        Duration::from_secs(state.config.cache.last_used_flush_secs.max(1)),
        stop_rx,
    ));
    let database_url = state.config.database_url();
    let on_postgres =
        database_url.starts_with("postgres:") || database_url.starts_with("postgresql:");
    let change_listener = (state.config.cache.listen && on_postgres).then(|| {
        tokio::spawn(change_listener::run(
            state.cache.clone(),
            database_url,
            stop_tx.subscribe(),
        ))
    });
    let make_service =
        ServiceExt::<Request>::into_make_service_with_connect_info::<SocketAddr>(api(state));
    let served = axum::serve(listener, make_service)
        .with_graceful_shutdown(shutdown)
        .await;
    let _ = stop_tx.send(true);
    if let Err(e) = refresh.await {
        tracing::warn!(error = %e, "the key refresh task ended abnormally");
    }
    if let Some(task) = change_listener
        && let Err(e) = task.await
    {
        tracing::warn!(error = %e, "the key-change listener ended abnormally");
    }
    served
}
