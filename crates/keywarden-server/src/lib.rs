//! Keywarden's HTTP server.
//!
//! Layout:
//! - [`config`]: the TOML file and `KEYWARDEN_*` environment.
//! - [`startup`]: store, server secret (generated once, never replaced), services, key table.
//! - [`state`]: what handlers reach. [`routes`]: every operation registered once, routed and
//!   documented from that one registration; one module per resource.
//! - [`openapi`]: the document's frame; [`docs_page`]: the reference page at `/docs`.
//! - [`extract`]: extractors that say what a route accepts (console user, JSON body, client).
//! - [`verify`]: the verify wing, from the `Authorization` header to the verdict: forward-auth,
//!   `POST /v1/verify/`, the route table and the in-memory key table.
//! - [`tokens`]: console JWTs. [`client_addr`]: trusted proxies. [`background`]: work core
//!   hands off the response path. [`tls`]: the TLS settings of outgoing HTTPS.
//! - [`password_pool`]: argon2 on a fixed set of workers with a short queue (bounded memory).
//! - [`error`]: the one mapping from failures to HTTP answers, and their documented responses.
//!
//! - [`webhooks`]: signed webhooks: the delivery task, bodies, reminders, target checks.
//! - [`leaks`]: leak reports: GitHub's public keys and the signature check, the limits.
//!
//! [`serve`] runs the server until a shutdown future completes, then finishes in-flight
//! requests, stops the refresh task and writes the last batch of last-use times, and gives
//! webhook sends in flight their timeout to finish.

pub mod access_log;
pub mod answer_first;
pub mod background;
pub mod body_limit;
pub mod client_addr;
pub mod config;
pub mod connections;
pub mod console;
pub mod docs_page;
pub mod error;
pub mod extract;
pub mod leaks;
pub mod limit_headers;
pub mod metrics;
pub mod openapi;
pub mod password_pool;
pub mod request_shape;
pub mod routes;
pub mod startup;
pub mod state;
pub mod tls;
pub mod tokens;
pub mod trailing_slash;
pub mod verify;
pub mod webhooks;

use axum::extract::{DefaultBodyLimit, Request};
use axum::response::Response;
use state::AppState;
use std::future::Future;
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
/// request log, the body limit (an announced length over it refused at once). Outside the router rather than `Router::layer`, which boxes a
/// layered service per route and clones the box on every request; here the layers are plain
/// types and cost nothing on a request that does not need them.
pub fn app(router: impl HttpService, body_limit: usize) -> impl HttpService {
    let layers = tower::ServiceBuilder::new()
        .layer(access_log::AccessLogLayer)
        .layer(request_shape::HeadLimitsLayer)
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(body_limit::AnnouncedLengthLayer { max: body_limit });
    trailing_slash::respelled(layers.service(router))
}

/// The whole API as one service: forward-auth answered before routing
/// ([`verify::direct_route`]), every other request routed, all of them behind [`app`]'s layers.
pub fn api(state: AppState) -> impl HttpService {
    let body_limit = state.config.limits.max_body_bytes;
    let routed =
        verify::direct_route::ForwardAuth::in_front_of(state.clone(), routes::router(state));
    app(routed, body_limit)
}

/// Serves `state` on `listener` until `shutdown` completes.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let refresh = tokio::spawn(verify::synced_table::run_refresh(
        state.keys.clone(),
        Duration::from_millis(state.config.cache.refresh_interval_ms),
        Duration::from_secs(state.config.cache.last_used_flush_secs.max(1)),
        Duration::from_millis(state.config.cache.usage_flush_ms.max(10)),
        stop_rx,
    ));
    let database_url = state.config.database_url();
    let on_postgres =
        database_url.starts_with("postgres:") || database_url.starts_with("postgresql:");
    let change_listener = (state.config.cache.listen && on_postgres).then(|| {
        tokio::spawn(verify::change_listener::run(
            state.keys.clone(),
            database_url,
            stop_tx.subscribe(),
        ))
    });
    let limits = &state.config.limits;
    let limits = connections::ConnectionLimits {
        max_connections: connections::fit_to_file_limit(limits.max_connections),
        header_read_timeout: Duration::from_secs(limits.header_read_timeout_secs.max(1)),
        shutdown_grace: Duration::from_secs(limits.shutdown_grace_secs),
    };
    // Webhook sends in flight wind down while connections drain, within the same grace, so
    // the two together never outlast it.
    let (stop_deliveries, deliveries_stop) = tokio::sync::watch::channel(false);
    let deliveries = tokio::spawn(webhooks::delivery::run(
        state.webhooks.clone(),
        deliveries_stop,
        limits.shutdown_grace,
    ));
    let shutdown = async move {
        shutdown.await;
        let _ = stop_deliveries.send(true);
    };
    let stats = state.connections.clone();
    connections::serve_connections(listener, api(state), limits, stats, shutdown).await;
    let _ = stop_tx.send(true);
    if let Err(e) = refresh.await {
        tracing::warn!(error = %e, "the key refresh task ended abnormally");
    }
    if let Some(task) = change_listener
        && let Err(e) = task.await
    {
        tracing::warn!(error = %e, "the key-change listener ended abnormally");
    }
    if let Err(e) = deliveries.await {
        tracing::warn!(error = %e, "the webhook delivery task ended abnormally");
    }
    Ok(())
}
