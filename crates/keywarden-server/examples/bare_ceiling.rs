//! The ceiling of this HTTP stack: axum on tokio (the same versions, runtime and release
//! profile as `keywarden serve`), answering `GET /v1/forward-auth/` and `POST /v1/verify/`
//! with an empty 200 and doing nothing else. `benches/load.sh` loads it beside Keywarden and
//! reports Keywarden's figures as a share of it.
//!
//! ```text
//! cargo run --release -p keywarden-server --example bare_ceiling -- 127.0.0.1:8091 [--layers]
//! ```
//!
//! `--layers` puts the same layers in front as `keywarden serve` has (trailing-slash
//! normalisation, client address, body limit, access-log middleware), to tell the cost of the
//! HTTP plumbing from the cost of the key check.

use axum::Router;
use axum::ServiceExt;
use axum::extract::Request;
use axum::http::StatusCode;
use axum::routing::{get, post};
use std::net::SocketAddr;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let addr: SocketAddr = args
        .next()
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 8091)));
    let layers = args.any(|a| a == "--layers");
    let listener = tokio::net::TcpListener::bind(addr).await?;
    eprintln!(
        "bare_ceiling listening on {addr}{}",
        if layers {
            " (with the API's layers)"
        } else {
            ""
        }
    );
    let router = Router::new()
        .route("/v1/forward-auth/", get(|| async { StatusCode::OK }))
        .route("/v1/verify/", post(|| async { StatusCode::OK }))
        .route("/healthz", get(|| async { StatusCode::OK }));
    if layers {
        // Declared as routes.rs declares them: both spellings of the verification paths.
        let router = Router::new()
            .route("/v1/forward-auth", get(|| async { StatusCode::OK }))
            .route("/v1/forward-auth/", get(|| async { StatusCode::OK }))
            .route("/v1/verify", post(|| async { StatusCode::OK }))
            .route("/v1/verify/", post(|| async { StatusCode::OK }))
            .route("/healthz", get(|| async { StatusCode::OK }));
        let app = keywarden_server::app(router, 64 * 1024);
        let make_service =
            ServiceExt::<Request>::into_make_service_with_connect_info::<SocketAddr>(app);
        axum::serve(listener, make_service).await
    } else {
        axum::serve(listener, router).await
    }
}
