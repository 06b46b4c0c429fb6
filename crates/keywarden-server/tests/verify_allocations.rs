//! Heap allocations of one `POST /v1/verify/` with a valid key, through the whole router,
//! compared with a bare axum route behind the same layers that answers 200 to the same request.
//! The difference is what reading the request's JSON, the check and writing the answer cost;
//! this test pins it.
//!
//! Its own test binary with a single test: a counting global allocator counts every thread,
//! so nothing else may run while it measures.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use axum::Router;
use axum::body::Body;
use axum::extract::Request;
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use axum::routing::post;
use keywarden_testkit::TestServer;
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};
use std::alloc::System;
use tower::ServiceExt;

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

const ROUNDS: usize = 200;

fn request(body: &str) -> Request {
    Request::builder()
        .method("POST")
        .uri("/v1/verify/")
        .header(CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_owned()))
        .unwrap()
}

/// Allocations per request through `service`, averaged over `ROUNDS` requests built
/// beforehand, and the last answer's status.
async fn allocations_per_request<S>(service: S, body: &str) -> (f64, StatusCode)
where
    S: tower::Service<Request, Response = axum::response::Response> + Clone,
    S::Error: std::fmt::Debug,
{
    let requests: Vec<Request> = (0..ROUNDS).map(|_| request(body)).collect();
    // One request first: lazily initialised statics are not per-request costs.
    drop(service.clone().oneshot(request(body)).await.unwrap());
    let mut status = StatusCode::OK;
    let region = Region::new(GLOBAL);
    for request in requests {
        let response = service.clone().oneshot(request).await.unwrap();
        status = response.status();
        // The answer is read as a client would: a body that is never polled costs nothing.
        let _ = axum::body::to_bytes(response.into_body(), 4096)
            .await
            .unwrap();
    }
    let change = region.change();
    (change.allocations as f64 / ROUNDS as f64, status)
}

#[tokio::test]
async fn verify_allocates_no_string_per_scope_or_id() {
    // No refresh or flush tick may fire while counting.
    let server = TestServer::start_with(|c| {
        c.cache.max_age_secs = 60;
        c.cache.refresh_interval_ms = 30_000;
        c.cache.last_used_flush_secs = 3_600;
    })
    .await;
    let account = server.account("Alloc").await;
    let body = format!(r#"{{"key":"{}"}}"#, account.live_key);

    let app = keywarden_server::app(
        keywarden_server::routes::router(server.state.clone()),
        64 * 1024,
    );
    let response = app.clone().oneshot(request(&body)).await.unwrap();
    let answer = axum::body::to_bytes(response.into_body(), 4096)
        .await
        .unwrap();
    assert!(answer.starts_with(br#"{"valid":true,"#), "{answer:?}");

    let bare: Router = Router::new().route("/v1/verify/", post(|| async { StatusCode::OK }));
    let (ours, status) = allocations_per_request(app, &body).await;
    assert_eq!(status, StatusCode::OK);
    let (layered, _) = allocations_per_request(keywarden_server::app(bare, 64 * 1024), &body).await;
    println!(
        "allocations per request: verify {ours:.2}, bare route behind the API's layers {layered:.2}"
    );
    // What verify adds (11 today): reading the body (its collection and the content-type
    // check), the key's `String`, the answer's buffer, its body and its header map. Before the
    // answer was written from the entry, a `String` per id and per scope made it 30 (39 in all
    // for a standard key on the default catalog).
    assert!(
        ours <= layered + 11.1,
        "verify allocates {ours:.2} per request, the bare route behind the same layers {layered:.2}"
    );
}
