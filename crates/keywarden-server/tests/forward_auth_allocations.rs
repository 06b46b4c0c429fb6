//! Heap allocations of one `GET /v1/forward-auth/` with a valid key, through the service
//! `keywarden serve` runs (path normalisation, the access-log middleware, the route answered
//! before routing, the response),
//! compared with a bare axum route that only answers 200 to the same request. The difference
//! is what the verify path adds on top of the HTTP stack; this test pins it.
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
use axum::http::header::AUTHORIZATION;
use axum::routing::get;
use stats_alloc::{INSTRUMENTED_SYSTEM, StatsAlloc};
use std::alloc::System;

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// The request nginx's `auth_request` sends for a client's `GET /v1/payroll/employees`.
fn request(authorization: &str) -> Request {
    Request::builder()
        .uri("/v1/forward-auth/")
        .header(AUTHORIZATION, authorization)
        .header("x-original-uri", "/v1/payroll/employees")
        .header("x-original-method", "GET")
        .body(Body::empty())
        .unwrap()
}

#[tokio::test]
async fn forward_auth_allocates_less_than_a_bare_axum_route() {
    let server = alloc_support::quiet_server().await;
    let account = server.account("Alloc").await;
    let authorization = format!("Api-Key {}", account.live_key);

    let bare: Router = Router::new().route("/v1/forward-auth/", get(|| async { StatusCode::OK }));

    // The handler alone, called with the request's parts: the verify path's own allocations.
    let handler = alloc_support::quietest_batch(
        GLOBAL,
        || request(&authorization),
        async |parts| {
            let state = axum::extract::State(server.state.clone());
            let response = keywarden_server::verify::forward_auth::forward_auth(state, parts).await;
            assert_eq!(response.status(), StatusCode::OK);
        },
    )
    .await;
    println!("allocations per request: forward-auth handler alone {handler:.2}");

    // The service `keywarden_server::serve` runs (the forward-auth route answered before
    // routing, behind the layers: trailing slashes, request log, body limit), and the bare
    // route with and without the same layers.
    let api = keywarden_server::api(server.state.clone());
    let (ours, status) = allocations_per_request(GLOBAL, api, || request(&authorization)).await;
    assert_eq!(status, StatusCode::OK);
    let (ceiling, _) =
        allocations_per_request(GLOBAL, bare.clone(), || request(&authorization)).await;
    // The same bare route behind the same layers.
    let (layered, _) =
        allocations_per_request(GLOBAL, keywarden_server::app(bare, 64 * 1024), || {
            request(&authorization)
        })
        .await;
    println!(
        "allocations per request: forward-auth {ours:.2}, bare axum route {ceiling:.2}, \
         bare route behind the API's layers {layered:.2}"
    );
    // The response's header map (its index and its entries: two allocations) is all the
    // verify path adds; the three header values come from a per-thread buffer.
    assert!(
        handler <= 2.0,
        "the forward-auth handler allocates {handler:.2} per request"
    );
    // The layers add one allocation: the body limit's entry in the request's extensions.
    assert!(
        layered <= ceiling + 1.1,
        "the API's layers allocate {:.2} per request",
        layered - ceiling
    );
    // Answered before routing, forward-auth skips what the router does per request (the
    // match's entries in the extensions, a clone of the boxed route, the boxed handler
    // future): 5 in all against 9 for the bare route behind the same layers, and fewer than
    // the bare route without them (8). Through the router it was 9.
    assert!(
        ours <= layered - 3.9,
        "forward-auth allocates {ours:.2} per request, the bare route behind the same layers {layered:.2}"
    );
    assert!(
        ours < ceiling,
        "forward-auth allocates {ours:.2} per request, the bare axum route {ceiling:.2}"
    );
}
