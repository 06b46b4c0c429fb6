//! What the allocation tests share: a server whose background ticks stay quiet, and the
//! measurement itself. Each test binary declares its own counting global allocator and passes
//! it in; a binary holds a single test, because the allocator counts every thread.

use axum::extract::Request;
use axum::http::StatusCode;
use keywarden_testkit::TestServer;
use stats_alloc::{Region, StatsAlloc};
use std::alloc::System;
use tower::ServiceExt;

/// Requests measured per figure.
pub const ROUNDS: usize = 200;

/// A test server on which no refresh or flush tick fires while counting.
pub async fn quiet_server() -> TestServer {
    TestServer::start_with(|c| {
        c.cache.max_age_secs = 60;
        c.cache.refresh_interval_ms = 30_000;
        c.cache.last_used_flush_secs = 3_600;
    })
    .await
}

/// Allocations per request through `service`, averaged over `ROUNDS` requests built
/// beforehand by `request`, and the last answer's status. Each answer's body is read, as a
/// client would read it (a body never polled would cost nothing).
pub async fn allocations_per_request<S>(
    global: &'static StatsAlloc<System>,
    service: S,
    request: impl Fn() -> Request,
) -> (f64, StatusCode)
where
    S: tower::Service<Request, Response = axum::response::Response> + Clone,
    S::Error: std::fmt::Debug,
{
    let requests: Vec<Request> = (0..ROUNDS).map(|_| request()).collect();
    // One request first: lazily initialised statics are not per-request costs.
    drop(service.clone().oneshot(request()).await.unwrap());
    let mut status = StatusCode::OK;
    let region = Region::new(global);
    for request in requests {
        let response = service.clone().oneshot(request).await.unwrap();
        status = response.status();
        let _ = axum::body::to_bytes(response.into_body(), 4096)
            .await
            .unwrap();
    }
    (region.change().allocations as f64 / ROUNDS as f64, status)
}
