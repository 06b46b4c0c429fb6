//! The `RateLimit-Limit`, `RateLimit-Remaining` and `RateLimit-Reset` headers (SPEC §9) that
//! every answer for a rate-limited key carries, allowed or refused.

use axum::http::{HeaderMap, HeaderName, HeaderValue};
use keywarden_core::key_limits::LimitState;

const LIMIT: HeaderName = HeaderName::from_static("ratelimit-limit");
const REMAINING: HeaderName = HeaderName::from_static("ratelimit-remaining");
const RESET: HeaderName = HeaderName::from_static("ratelimit-reset");

/// Adds the three headers of a rate limit's state.
pub fn insert(headers: &mut HeaderMap, state: &LimitState) {
    headers.insert(LIMIT, HeaderValue::from(state.limit));
    headers.insert(REMAINING, HeaderValue::from(state.remaining));
    headers.insert(RESET, HeaderValue::from(state.reset_secs));
}
