//! `GET /v1/forward-auth/`: for a reverse proxy (nginx `auth_request`, Traefik ForwardAuth,
//! Envoy ext_authz over HTTP). Reads the client's `Authorization` header and the original
//! method and URI, decides the scope the request needs from the route table, and answers 200
//! with the key's account, id and mode in headers, or the 401/403/429 of SPEC §3.
//!
//! This is the hot path: no database, no allocation for the key itself.

use super::caller::{check_verifier_secret, client, count_failure, is_over_the_limit};
use super::canary_trips::Presented;
use super::presented_key::{BasicBuffer, presented_key};
use super::route_table::{access_of, method_access};
use crate::answer_first::Taken;
use crate::error::ApiError;
use crate::state::AppState;
use axum::extract::{Request, State};
use axum::http::header::USER_AGENT;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::{Bytes, BytesMut};
use keywarden_core::check::Limits;
use keywarden_core::ids::{AccountId, KeyId};
use keywarden_core::key_format::{Mode, ParsedKey};
use keywarden_core::key_limits::LimitState;
use keywarden_core::key_policy::RateLimit;
use keywarden_core::key_table::TableEntry;
use keywarden_core::key_usage::Use;
use keywarden_core::verdict::{Needs, Outcome, Refusal};
use std::cell::RefCell;
use uuid::Uuid;

fn original<'a>(headers: &'a HeaderMap, names: [&HeaderName; 2]) -> Option<&'a str> {
    names
        .iter()
        .find_map(|n| headers.get(*n))
        .and_then(|v| v.to_str().ok())
}

// Looked up as `HeaderName`s: a `&str` name is parsed and checked on every lookup.
const X_ORIGINAL_METHOD: HeaderName = HeaderName::from_static("x-original-method");
const X_FORWARDED_METHOD: HeaderName = HeaderName::from_static("x-forwarded-method");
const X_ORIGINAL_URI: HeaderName = HeaderName::from_static("x-original-uri");
const X_FORWARDED_URI: HeaderName = HeaderName::from_static("x-forwarded-uri");

/// `GET /v1/forward-auth/`
#[utoipa::path(
    get,
    path = "/v1/forward-auth/",
    operation_id = "forward_auth",
    tag = "Key checks",
    summary = "Forward-auth for a reverse proxy",
    description = "For nginx `auth_request`, Traefik ForwardAuth or Envoy ext_authz over HTTP. \
                   Reads the client's `Authorization` header (one key, in any of the three forms) \
                   and the original method and URI, finds the scope the request needs (GET and \
                   HEAD need read, other methods write; `/v1/<product>/…` maps to that product \
                   unless a route table is configured; any other path needs a key with access \
                   to every product), and answers 200 with the key's account, id and mode in \
                   headers, or the error of the key checks. Failed presentations count against \
                   the client's address.",
    security(("api_key" = []), ("key_basic" = []), ("key_bearer" = [])),
    params(
        ("X-Original-Method" = Option<String>, Header, description = "The client's method (nginx); \
         `X-Forwarded-Method` (Traefik) also works. Default: this request's method."),
        ("X-Original-URI" = Option<String>, Header, description = "The client's path and query \
         (nginx); `X-Forwarded-Uri` (Traefik) also works. Default: `/`."),
        ("X-Forwarded-For" = Option<String>, Header, description = "The client's address, \
         believed only from a configured trusted proxy (loopback by default)."),
        ("X-Keywarden-Verifier-Secret" = Option<String>, Header, description = "The verifier \
         secret, when the operator configured one."),
    ),
    responses(
        (status = 200, description = "The key may make this request. No body.",
            headers(
                ("X-Keywarden-Account" = String, description = "The key's account id."),
                ("X-Keywarden-Key-Id" = String, description = "The key's id."),
                ("X-Keywarden-Mode" = String, description = "`test` or `live`."),
                ("X-Keywarden-Metadata" = String, description = "The key's metadata object as \
                 base64 (standard alphabet) of its JSON; only for a key with metadata."),
                ("RateLimit-Limit" = u64, description = "For a key with a rate limit: the limit."),
                ("RateLimit-Remaining" = u64, description = "For a key with a rate limit: \
                 requests left in the window."),
                ("RateLimit-Reset" = u64, description = "For a key with a rate limit: seconds \
                 until the window resets."),
            )
        ),
        (status = 401, response = crate::error::responses::KeyUnauthorized),
        (status = 403, response = crate::error::responses::KeyForbidden),
        (status = 429, response = crate::error::responses::RateLimited),
        (status = 503, response = crate::error::responses::Unavailable),
    ),
)]
pub async fn forward_auth(State(state): State<AppState>, request: Request) -> Response {
    match answer(&state, request) {
        Taken::Answered(response) => response,
        Taken::Later(response) => response.await,
        // `answer` never hands a request back.
        Taken::Declined(_) => ApiError::NoRoute.into_response(),
    }
}

/// The answer to a forward-auth request, made synchronously from the table with the state
/// borrowed (so [`super::direct_route`] can answer before routing) — except for a well-formed
/// key the table does not hold, which is checked again once the table has caught up with the
/// change feed (SPEC §5: a key created elsewhere works on the very next request).
pub fn answer(state: &AppState, request: Request) -> Taken {
    // The whole request, taken apart: the `Parts` extractor would clone the header map, the
    // URI and the extensions (about twenty allocations per request).
    let (parts, _body) = request.into_parts();
    if let Err(error) = check_verifier_secret(state, &parts.headers) {
        return Taken::Answered(error.into_response());
    }
    match check(state, &parts) {
        // A canary takes the unknown key's way too, wait included: its answer is the same,
        // and so is its time.
        Err(Refusal::NotFound | Refusal::Canary { .. }) if !is_over_the_limit(state, &parts) => {
            // Reads counted from here on began after this request arrived (read only on this
            // rare path: any later count is as good as one taken before the check).
            let seen = state.keys.reads_started();
            let state = state.clone();
            Taken::Later(Box::pin(async move {
                let mut buffer: BasicBuffer = [0; 192];
                let client = || client(&state, &parts);
                let verdict = match presented(&state, &parts, &mut buffer) {
                    Ok((key, needs)) => {
                        state
                            .keys
                            .check_after_catching_up(seen, key, needs, &client, accepted)
                            .await
                    }
                    Err(refusal) => Err(refusal),
                };
                let verdict = shared_limit(&state, verdict).await;
                finish(&state, &parts, verdict)
            }))
        }
        // A rate-limited key when the instances share their counts: Redis decides.
        Ok(accepted) if accepted.rate_limit.is_some() && state.shared_rates.is_some() => {
            let state = state.clone();
            Taken::Later(Box::pin(async move {
                let verdict = shared_limit(&state, Ok(accepted)).await;
                finish(&state, &parts, verdict)
            }))
        }
        verdict => Taken::Answered(finish(state, &parts, verdict)),
    }
}

/// The key presented and what the original request needs.
fn presented<'a>(
    state: &AppState,
    parts: &'a Parts,
    buffer: &'a mut BasicBuffer,
) -> Result<(ParsedKey<'a>, Needs), Refusal> {
    let headers = &parts.headers;
    let access = original(headers, [&X_ORIGINAL_METHOD, &X_FORWARDED_METHOD])
        .and_then(|m| method_access(m.as_bytes()))
        .unwrap_or_else(|| access_of(&parts.method));
    let uri = original(headers, [&X_ORIGINAL_URI, &X_FORWARDED_URI]).unwrap_or("/");
    let needs = state.routes.needs(access, uri, state.keys.catalog());
    Ok((presented_key(headers, buffer)?, needs))
}

/// What the client of a forward-auth request said about its request, for a canary's record.
fn presented_by(parts: &Parts) -> Presented {
    let text = |value: Option<&HeaderValue>| {
        value.map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
    };
    let headers = &parts.headers;
    Presented {
        user_agent: text(headers.get(USER_AGENT)),
        method: Some(
            original(headers, [&X_ORIGINAL_METHOD, &X_FORWARDED_METHOD])
                .unwrap_or(parts.method.as_str())
                .to_owned(),
        ),
        uri: Some(
            original(headers, [&X_ORIGINAL_URI, &X_FORWARDED_URI])
                .unwrap_or("/")
                .to_owned(),
        ),
    }
}

/// What an accepted key's answer carries.
struct Accepted {
    account: AccountId,
    key_id: KeyId,
    mode: Mode,
    /// `X-Keywarden-Metadata`, written when the key table was filled (a reference count here).
    metadata: Option<Bytes>,
    /// The rate limit's state, for the `RateLimit-*` headers.
    rate: Option<LimitState>,
    /// The rate limit itself, for the count shared through Redis.
    rate_limit: Option<RateLimit>,
    /// The use as counted, for a shared rate limit's refusal to correct.
    used: Use,
}

/// [`super::shared_rate::decide`] for an accepted key.
async fn shared_limit(
    state: &AppState,
    verdict: Result<Accepted, Refusal>,
) -> Result<Accepted, Refusal> {
    let mut accepted = verdict?;
    accepted.rate =
        super::shared_rate::decide(state, accepted.used, accepted.rate_limit, accepted.rate)
            .await?;
    Ok(accepted)
}

fn accepted(entry: &TableEntry, limits: Limits, used: Use) -> Accepted {
    Accepted {
        account: entry.account_id,
        key_id: entry.key_id,
        mode: entry.mode,
        metadata: entry
            .policy
            .as_ref()
            .and_then(|p| p.metadata_base64.clone()),
        rate: limits.rate,
        rate_limit: entry
            .policy
            .as_ref()
            .and_then(|p| p.rate.as_ref())
            .map(|w| w.limit),
        used,
    }
}

fn check(state: &AppState, parts: &Parts) -> Result<Accepted, Refusal> {
    let mut buffer: BasicBuffer = [0; 192];
    let (key, needs) = presented(state, parts, &mut buffer)?;
    // nginx fetches a refusal's JSON body with a second forward-auth request (its
    // `error_page` location), which says so: that refusal was counted the first time.
    let count_refusal = !parts.headers.contains_key(BODY_ONLY_HEADER);
    state.keys.check_counting(
        key,
        needs,
        &|| client(state, parts),
        count_refusal,
        accepted,
    )
}

/// The answer to a verdict: 200 with the identity headers, or the refusal (counted against
/// the client first).
fn finish(state: &AppState, parts: &Parts, verdict: Result<Accepted, Refusal>) -> Response {
    match verdict {
        Ok(accepted) => {
            state.metrics.key_check(Outcome::Valid);
            let mut response = StatusCode::OK.into_response();
            let out = response.headers_mut();
            if let Some((account, key_id)) =
                id_header_values(&accepted.account.0, &accepted.key_id.0)
            {
                out.insert(ACCOUNT_HEADER, account);
                out.insert(KEY_ID_HEADER, key_id);
            }
            out.insert(
                MODE_HEADER,
                HeaderValue::from_static(accepted.mode.as_str()),
            );
            if let Some(metadata) = accepted
                .metadata
                .and_then(|m| HeaderValue::from_maybe_shared(m).ok())
            {
                out.insert(METADATA_HEADER, metadata);
            }
            if let Some(rate) = &accepted.rate {
                crate::limit_headers::insert(out, rate);
            }
            response
        }
        Err(refusal) => {
            let refusal = super::canary_trips::answered_as_unknown(
                state,
                refusal,
                || client(state, parts),
                || presented_by(parts),
            );
            let refusal = count_failure(state, parts, refusal);
            state.metrics.key_check(refusal.outcome());
            ApiError::refused(refusal, state.keys.catalog()).into_response()
        }
    }
}

const ACCOUNT_HEADER: HeaderName = HeaderName::from_static("x-keywarden-account");
const KEY_ID_HEADER: HeaderName = HeaderName::from_static("x-keywarden-key-id");
const MODE_HEADER: HeaderName = HeaderName::from_static("x-keywarden-mode");
const METADATA_HEADER: HeaderName = HeaderName::from_static("x-keywarden-metadata");
/// Sent by a reverse proxy that asks again only for the body of a refusal it has already had
/// (docs/DEPLOYMENT.md): the refusal is not counted twice in the key's usage. It changes no
/// verdict; the proxy clears it on the first request, so a client cannot set it there.
const BODY_ONLY_HEADER: HeaderName = HeaderName::from_static("x-keywarden-body-only");

/// Length of a hyphenated UUID.
const UUID_LEN: usize = 36;
/// Size of each thread's buffer for the id headers: one allocation per ~900 answers.
const HEADER_CHUNK: usize = 64 * 1024;

thread_local! {
    /// Where the `X-Keywarden-Account` and `-Key-Id` values are written. Each answer takes
    /// its 72 bytes off the front of this buffer (shared, reference-counted storage), so a
    /// header value costs no allocation of its own; a fresh buffer is allocated when one is
    /// used up, and the old one is freed when its last answer has been sent.
    static HEADER_BUFFER: RefCell<BytesMut> = RefCell::new(BytesMut::new());
}

/// The two id header values, formatted straight into the thread's header buffer.
fn id_header_values(account: &Uuid, key_id: &Uuid) -> Option<(HeaderValue, HeaderValue)> {
    let mut text = [0u8; 2 * UUID_LEN];
    let (account_text, key_text) = text.split_at_mut(UUID_LEN);
    account.hyphenated().encode_lower(account_text);
    key_id.hyphenated().encode_lower(key_text);
    let (account, key_id) = HEADER_BUFFER
        .try_with(|cell| {
            let mut buffer = cell.try_borrow_mut().ok()?;
            if buffer.capacity() < text.len() {
                *buffer = BytesMut::with_capacity(HEADER_CHUNK);
            }
            buffer.extend_from_slice(&text);
            // Each split takes one reference on the shared buffer; nothing is copied.
            let account = buffer.split_to(UUID_LEN).freeze();
            let key_id = buffer.split_to(UUID_LEN).freeze();
            Some((account, key_id))
        })
        .ok()
        .flatten()
        // No buffer (a thread being torn down): copy, as `HeaderValue::from_str` would.
        .unwrap_or_else(|| {
            let (account, key_id) = text.split_at(UUID_LEN);
            (
                Bytes::copy_from_slice(account),
                Bytes::copy_from_slice(key_id),
            )
        });
    let account = HeaderValue::from_maybe_shared(account).ok()?;
    let key_id = HeaderValue::from_maybe_shared(key_id).ok()?;
    Some((account, key_id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_headers_are_the_hyphenated_ids_and_survive_many_buffers() {
        let a = Uuid::from_u128(0x0193_6f6e_8a4b_7c1d_9e2f_3a4b_5c6d_7e8f);
        let k = Uuid::from_u128(0x0193_6f6e_1111_7c1d_9e2f_3a4b_5c6d_7e8f);
        let mut kept = Vec::new();
        for _ in 0..5_000 {
            let (account, key_id) = id_header_values(&a, &k).unwrap();
            assert_eq!(account, a.hyphenated().to_string().as_str());
            assert_eq!(key_id, k.hyphenated().to_string().as_str());
            kept.push((account, key_id));
        }
        // Values taken from earlier buffers are still intact after the buffer moved on.
        assert!(
            kept.iter()
                .all(|(a2, _)| a2 == a.hyphenated().to_string().as_str())
        );
    }
}
