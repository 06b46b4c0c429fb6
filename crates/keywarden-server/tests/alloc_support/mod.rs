//! What the allocation tests share: a server whose background ticks stay quiet, and the
//! measurement itself. Each test binary declares its own counting global allocator and passes
//! it in; a binary holds a single test, because the allocator counts every thread.

use axum::extract::Request;
use axum::http::StatusCode;
use keywarden_testkit::TestServer;
use stats_alloc::{Region, StatsAlloc};
use std::alloc::System;
use tower::ServiceExt;

/// Requests measured per batch.
pub const ROUNDS: usize = 200;

/// Batches measured per figure. The allocator counts every thread, so a batch may catch a
/// runtime or library thread allocating at the same moment; such noise only ever adds, so the
/// figure is the quietest batch.
pub const BATCHES: usize = 5;

/// A test server on which no refresh, flush or webhook tick fires while counting.
pub async fn quiet_server() -> TestServer {
    TestServer::start_with(|c| {
        c.cache.max_age_secs = 60;
        c.cache.refresh_interval_ms = 30_000;
        c.cache.last_used_flush_secs = 3_600;
        c.cache.usage_flush_ms = 3_600_000;
        // The webhook task's poll would count as the verify path's allocations.
        c.webhooks.poll_interval_ms = 3_600_000;
        c.webhooks.reminder_interval_secs = 3_600;
    })
    .await
}

/// Allocations per request through `service`: the fewest over `BATCHES` batches of `ROUNDS`
/// requests built beforehand by `request`, and the last answer's status. Each answer's body is
/// read, as a client would read it (a body never polled would cost nothing).
pub async fn allocations_per_request<S>(
    global: &'static StatsAlloc<System>,
    service: S,
    request: impl Fn() -> Request,
) -> (f64, StatusCode)
where
    S: tower::Service<Request, Response = axum::response::Response> + Clone,
    S::Error: std::fmt::Debug,
{
    let mut status = StatusCode::OK;
    let fewest = quietest_batch(global, request, async |request| {
        let response = service.clone().oneshot(request).await.unwrap();
        status = response.status();
        let _ = axum::body::to_bytes(response.into_body(), 4096)
            .await
            .unwrap();
    })
    .await;
    (fewest, status)
}

/// Allocations per call of `call`: one call first (lazily initialised statics are not
/// per-request costs), then the fewest per call over `BATCHES` batches of `ROUNDS` calls, each
/// with a request built before its batch's count starts.
pub async fn quietest_batch(
    global: &'static StatsAlloc<System>,
    request: impl Fn() -> Request,
    mut call: impl AsyncFnMut(Request),
) -> f64 {
    call(request()).await;
    let mut fewest = f64::INFINITY;
    for _ in 0..BATCHES {
        let requests: Vec<Request> = (0..ROUNDS).map(|_| request()).collect();
        let region = Region::new(global);
        for request in requests {
            call(request).await;
        }
        fewest = fewest.min(region.change().allocations as f64 / ROUNDS as f64);
    }
    fewest
}
