//! The ceiling of this HTTP stack: axum on tokio (the same versions, runtime and release
//! profile as `keywarden serve`), answering `GET /v1/forward-auth/` and `POST /v1/verify/`
//! with an empty 200 and doing nothing else. `benches/load.sh` loads it beside Keywarden and
//! reports Keywarden's figures as a share of it.
//!
//! ```text
//! cargo run --release -p keywarden-server --example bare_ceiling -- 127.0.0.1:8091 [--layers] [--answer]
//! ```
//!
//! `--layers` puts the same layers in front as `keywarden serve` has (trailing-slash
//! normalisation, client address, body limit, access-log middleware), to tell the cost of the
//! HTTP plumbing from the cost of the key check.
//!
//! `--answer` answers what Keywarden answers for a valid key, as constants: forward-auth's 200
//! carries the three identity headers the SPEC requires, verify's the JSON body of a standard
//! key. Same bytes on the wire, no work: it tells the cost of a bigger answer (for the server's
//! kernel and for a load generator on the same cores) from the cost of the check.

use axum::Router;
use axum::ServiceExt;
use axum::extract::Request;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use std::net::SocketAddr;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let addr: SocketAddr = args
        .next()
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 8091)));
    let flags: Vec<String> = args.collect();
    let layers = flags.iter().any(|a| a == "--layers");
    let answer = flags.iter().any(|a| a == "--answer");
    let listener = tokio::net::TcpListener::bind(addr).await?;
    eprintln!(
        "bare_ceiling listening on {addr}{}{}",
        if layers {
            ", with the API's layers"
        } else {
            ""
        },
        if answer {
            ", answering as Keywarden does"
        } else {
            ""
        },
    );
    let forward_auth = get(move || async move {
        if answer {
            IDENTITY_HEADERS.into_response()
        } else {
            StatusCode::OK.into_response()
        }
    });
    let verify = post(move || async move {
        if answer {
            ([(header::CONTENT_TYPE, "application/json")], VALID_ANSWER).into_response()
        } else {
            StatusCode::OK.into_response()
        }
    });
    let router = Router::new()
        .route("/v1/forward-auth/", forward_auth.clone())
        .route("/v1/verify/", verify.clone())
        .route("/healthz", get(|| async { StatusCode::OK }));
    if layers {
        // Declared as routes.rs declares them: both spellings of the verification paths.
        let router = router
            .route("/v1/forward-auth", forward_auth)
            .route("/v1/verify", verify);
        let app = keywarden_server::app(router, 64 * 1024);
        let make_service =
            ServiceExt::<Request>::into_make_service_with_connect_info::<SocketAddr>(app);
        axum::serve(listener, make_service).await
    } else {
        axum::serve(listener, router).await
    }
}

/// A valid key's identity headers, as `GET /v1/forward-auth/` sends them (ids of the same
/// length as real ones).
const IDENTITY_HEADERS: [(&str, &str); 3] = [
    (
        "x-keywarden-account",
        "01a237b5-eca7-7415-8108-607b42ae6a4a",
    ),
    ("x-keywarden-key-id", "01a237b5-eca7-7415-8108-60805704d366"),
    ("x-keywarden-mode", "live"),
];

/// `POST /v1/verify/`'s answer for a standard key on the default catalog.
const VALID_ANSWER: &str = concat!(
    r#"{"valid":true,"key_id":"01a237b5-eca7-7415-8108-60805704d366","#,
    r#""account_id":"01a237b5-eca7-7415-8108-607b42ae6a4a","type":"live","kind":"standard","#,
    r#""scopes":["asset:read","asset:write","perks:read","perks:write","payroll:read","#,
    r#""payroll:write","talent:read","talent:write","health:read","health:write","#,
    r#""payments:read","payments:write","ai-agents:read","ai-agents:write"],"expires_at":null}"#
);
