//! Heap allocations of one `POST /v1/verify/` with a valid key, through the whole router,
//! compared with a bare axum route behind the same layers that answers 200 to the same request.
//! The difference is what reading the request's JSON, the check and writing the answer cost;
//! this test pins it.
//!
//! Its own test binary with a single test: a counting global allocator counts every thread,
//! so nothing else may run while it measures.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

mod alloc_support;

use alloc_support::allocations_per_request;
use axum::Router;
use axum::body::Body;
use axum::extract::Request;
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use axum::routing::post;
use stats_alloc::{INSTRUMENTED_SYSTEM, StatsAlloc};
use std::alloc::System;
use tower::ServiceExt;

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

fn request(body: &str) -> Request {
    Request::builder()
        .method("POST")
        .uri("/v1/verify/")
        .header(CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_owned()))
        .unwrap()
}

#[tokio::test]
async fn verify_allocates_no_string_per_scope_or_id() {
    let server = alloc_support::quiet_server().await;
    let account = server.account("Alloc").await;
    let body = format!(r#"{{"key":"{}"}}"#, account.live_key);

    let app = keywarden_server::api(server.state.clone());
    let response = app.clone().oneshot(request(&body)).await.unwrap();
    let answer = axum::body::to_bytes(response.into_body(), 4096)
        .await
        .unwrap();
    assert!(answer.starts_with(br#"{"valid":true,"#), "{answer:?}");

    let bare: Router = Router::new().route("/v1/verify/", post(|| async { StatusCode::OK }));
    let (ours, status) = allocations_per_request(GLOBAL, app, || request(&body)).await;
    assert_eq!(status, StatusCode::OK);
    let (layered, _) =
        allocations_per_request(GLOBAL, keywarden_server::app(bare, 64 * 1024), || {
            request(&body)
        })
        .await;
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
