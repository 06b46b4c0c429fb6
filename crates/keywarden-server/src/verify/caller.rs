//! Who is asking: the verifier secret that may guard both verification endpoints, and the
//! failure limit per client address (SPEC §3: failed presentations, 60 a minute by default).

use crate::client_addr::client_ip;
use crate::error::ApiError;
use crate::state::AppState;
use axum::extract::ConnectInfo;
use axum::http::HeaderMap;
use axum::http::request::Parts;
use keywarden_core::verdict::Refusal;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use subtle::ConstantTimeEq;

/// Header that carries the verifier secret, when one is configured.
pub const VERIFIER_SECRET_HEADER: &str = "x-keywarden-verifier-secret";

/// When a verifier secret is configured, callers must present it.
pub fn check_verifier_secret(state: &AppState, headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(expected) = &state.config.verifier_secret else {
        return Ok(());
    };
    let presented = headers
        .get(VERIFIER_SECRET_HEADER)
        .map(|v| v.as_bytes())
        .unwrap_or(b"");
    if bool::from(presented.ct_eq(expected.0.as_bytes())) {
        Ok(())
    } else {
        Err(ApiError::VerifierSecretRequired)
    }
}

/// The client's address (the peer, or what a trusted proxy says). Only the address is
/// needed, not `ClientMeta`, whose user agent is a copied string.
pub fn client(state: &AppState, parts: &Parts) -> IpAddr {
    let peer = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |c| c.0.ip());
    client_ip(peer, &parts.headers, &state.config.trusted_proxies)
}

/// Whether the client is over its failure limit already: its unknown keys are refused at
/// once, without waiting for the change feed.
pub fn is_over_the_limit(state: &AppState, parts: &Parts) -> bool {
    let now = state.service.clock().unix_millis();
    state
        .limiters
        .keys_per_client
        .blocked(&client(state, parts), now)
        .is_some()
}

/// Counts a failed presentation against the client; past the limit the refusal becomes
/// `rate_limited`.
pub fn count_failure(state: &AppState, parts: &Parts, refusal: Refusal) -> Refusal {
    if !refusal.counts_against_the_client() {
        return refusal;
    }
    let now = state.service.clock().unix_millis();
    match state
        .limiters
        .keys_per_client
        .fail(&client(state, parts), now)
    {
        Some(retry_after) => Refusal::RateLimited { retry_after },
        None => refusal,
    }
}
