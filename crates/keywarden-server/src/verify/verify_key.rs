//! `POST /v1/verify/`: the platform's services ask whether a key may be used.
//! Always 200 with `valid` true or false; 400 only when the request itself is wrong.

use super::caller::{check_verifier_secret, client};
use super::canary_trips::Presented;
use crate::error::{ApiError, RefusalBody};
use crate::extract::ApiJson;
use crate::state::AppState;
use axum::Json;
use axum::extract::{FromRequest, Request, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use keywarden_api_types::verify::{VerifyRequest, VerifyResponse};
use keywarden_core::check::Limits;
use keywarden_core::ids::{AccountId, KeyId};
use keywarden_core::key_format;
use keywarden_core::key_limits::LimitState;
use keywarden_core::key_policy::RateLimit;
use keywarden_core::key_table::{TableEntry, from_millis};
use keywarden_core::key_usage::Use;
use keywarden_core::scope::{Catalog, ScopeSet};
use keywarden_core::verdict::{Needs, Outcome, Refusal};
use serde::ser::{Serialize, SerializeSeq, Serializer};
use serde_json::value::RawValue;
use std::net::IpAddr;
use std::sync::Arc;
use time::OffsetDateTime;

/// `POST /v1/verify/` `{"key": "...", "scope"?: "payroll:write"}`
#[utoipa::path(
    post,
    path = "/v1/verify/",
    operation_id = "verify_key",
    tag = "Key checks",
    summary = "Check a key",
    description = "For the platform's services: is this key valid, and does it have `scope`? \
                   Always 200 when the request itself is right: `valid` says whether the key may \
                   be used, and a refused key's `code` is one of the codes of the key checks \
                   (`invalid_key_format`, `key_not_found`, `key_revoked`, `key_rotated`, \
                   `key_expired`, `insufficient_scope`).",
    security((), ("verifier_secret" = [])),
    request_body = VerifyRequest,
    responses(
        (status = 200, description = "The verdict.", body = VerifyResponse,
            examples(
                ("valid" = (summary = "A valid key", value = json!({
                    "valid": true,
                    "key_id": "01936f6e-8a4b-7c1d-9e2f-3a4b5c6d7e8f",
                    "account_id": "01936f6e-1111-7c1d-9e2f-3a4b5c6d7e8f",
                    "type": "live",
                    "kind": "standard",
                    "scopes": ["payroll:read", "payroll:write"],
                    "expires_at": null
                }))),
                ("refused" = (summary = "A revoked key", value = json!({
                    "valid": false,
                    "code": "key_revoked",
                    "detail": "This API key has been revoked. Use another key, or create a new one in the console.",
                    "stopped_at": "2026-11-02T09:30:00Z"
                }))),
                ("insufficient_scope" = (summary = "A key without the scope asked for", value = json!({
                    "valid": false,
                    "code": "insufficient_scope",
                    "detail": "This API key does not have the 'payroll:write' permission.",
                    "required_scope": "payroll:write"
                })))
            )
        ),
        (status = 400, description = "The request is wrong: an unknown `scope`, a missing `key`, a \
                                      body that is not JSON. `field` names the field.",
            body = keywarden_api_types::ErrorBody,
            examples(
                ("scope" = (summary = "Unknown scope", value = json!({
                    "detail": "scope: 'payrol:write' names no product of this platform; GET /v1/products/ lists them",
                    "code": "invalid",
                    "field": "scope"
                }))),
                ("missing key" = (summary = "No key in the body", value = json!({
                    "detail": "key: this field is required",
                    "code": "invalid",
                    "field": "key"
                })))
            )
        ),
        (status = 401, description = "A verifier secret is configured and this request did not \
                                      present it in `X-Keywarden-Verifier-Secret`.",
            body = keywarden_api_types::ErrorBody,
            headers((
                "WWW-Authenticate" = String,
                description = "`Basic realm=\"keywarden\", Api-Key realm=\"keywarden\", Bearer realm=\"keywarden\"`"
            )),
            example = json!({
                "detail": "This endpoint needs the verifier secret: send it in the X-Keywarden-Verifier-Secret header.",
                "code": "verifier_secret_required"
            })
        ),
        (status = 413, response = crate::error::responses::PayloadTooLarge),
        (status = 503, response = crate::error::responses::Unavailable),
    ),
)]
pub async fn verify(State(state): State<AppState>, http: Request) -> Result<Response, ApiError> {
    // The request whole rather than a `HeaderMap` extractor, which would clone every header.
    // The order of the answers is kept: a malformed body is a 400 before a missing verifier
    // secret is a 401.
    let verifier = check_verifier_secret(&state, http.headers());
    // The address of this request's client, for a key with an allowlist when the body names
    // no `client_ip` (the body's reader takes the request whole).
    let (parts, body) = http.into_parts();
    let caller = client(&state, &parts);
    let http = Request::from_parts(parts, body);
    let ApiJson(request) = ApiJson::<VerifyRequest>::from_request(http, &state).await?;
    verifier?;
    let client_ip = match request.client_ip.as_deref() {
        None => caller,
        Some(text) => text.trim().parse::<IpAddr>().map_err(|_| ApiError::Invalid {
            field: "client_ip".into(),
            message: "give the address of the client that presented the key, e.g. 203.0.113.7 or 2001:db8::1".into(),
        })?,
    };
    let client_ip = move || client_ip;
    let catalog = state.keys.catalog();
    let needs = match request.scope.as_deref() {
        None => Needs::Nothing,
        Some(name) => Needs::Scope(catalog.parse_scope(name).map_err(|e| ApiError::Invalid {
            field: "scope".into(),
            message: e.to_string(),
        })?),
    };
    let accept = |entry: &TableEntry, limits: Limits, used: Use| {
        (ValidAnswer::of(entry, limits, catalog), used)
    };
    let verdict = match key_format::parse(&request.key) {
        Err(error) => Err(Refusal::from(error)),
        Ok(key) => match state.keys.check(key, needs, &client_ip, accept) {
            // Perhaps created on another instance or by the CLI a moment ago (SPEC §5).
            // A canary too: the same answer after the same wait.
            Err(Refusal::NotFound | Refusal::Canary { .. }) => {
                let seen = state.keys.reads_started();
                state
                    .keys
                    .check_after_catching_up(seen, key, needs, &client_ip, accept)
                    .await
            }
            verdict => verdict,
        },
    };
    let verdict = match verdict {
        Ok((mut valid, used)) => {
            match super::shared_rate::decide(&state, used, valid.rate_policy, valid.rate_state)
                .await
            {
                Ok(rate) => {
                    valid.rate_state = rate;
                    valid.rate_limit = rate.map(LimitAnswer::of);
                    Ok(valid)
                }
                Err(refusal) => Err(refusal),
            }
        }
        Err(refusal) => Err(refusal),
    };
    match verdict {
        Ok(valid) => {
            state.metrics.key_check(Outcome::Valid);
            Ok(valid.into_response())
        }
        Err(refusal) => {
            // The verify endpoint's caller is a service: its user agent is not the presenter's,
            // and it names no original request.
            let refusal = super::canary_trips::answered_as_unknown(
                &state,
                refusal,
                client_ip,
                Presented::default,
            );
            state.metrics.key_check(refusal.outcome());
            if refusal == Refusal::Unavailable {
                return Err(ApiError::Unavailable);
            }
            let required_scope = request.scope.unwrap_or_default();
            let mut response = Json(RefusedAnswer {
                valid: false,
                body: RefusalBody::of(&refusal, &required_scope),
            })
            .into_response();
            if let Refusal::KeyRateLimited { state, .. } = &refusal {
                crate::limit_headers::insert(response.headers_mut(), state);
            }
            Ok(response)
        }
    }
}

/// A refused key's answer: `valid: false` and the body of the key checks' 401/403 (the JSON
/// of [`keywarden_api_types::verify::InvalidKey`]).
#[derive(serde::Serialize)]
struct RefusedAnswer<'a> {
    valid: bool,
    #[serde(flatten)]
    body: RefusalBody<'a>,
}

/// A valid key's answer: the JSON of [`keywarden_api_types::verify::ValidKey`], written
/// straight from the table entry's fields. The owned type would cost a `String` per id and per
/// scope (sixteen for a standard key) and a growing buffer, on the path every service calls.
#[derive(serde::Serialize)]
struct ValidAnswer<'a> {
    valid: bool,
    key_id: KeyId,
    account_id: AccountId,
    #[serde(rename = "type")]
    mode: &'static str,
    kind: &'static str,
    scopes: ScopeNames<'a>,
    #[serde(with = "time::serde::rfc3339::option")]
    expires_at: Option<OffsetDateTime>,
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "raw_json")]
    metadata: Option<Arc<RawValue>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    rate_limit: Option<LimitAnswer>,
    #[serde(skip_serializing_if = "Option::is_none")]
    usage_limit: Option<LimitAnswer>,
    /// The rate limit's state, for the `RateLimit-*` headers.
    #[serde(skip)]
    rate_state: Option<LimitState>,
    /// The rate limit itself, for the count shared through Redis.
    #[serde(skip)]
    rate_policy: Option<RateLimit>,
}

/// A limit's state: the JSON of [`keywarden_api_types::policy::LimitStatus`].
#[derive(serde::Serialize)]
struct LimitAnswer {
    limit: u64,
    remaining: u64,
    #[serde(with = "time::serde::rfc3339::option")]
    reset: Option<OffsetDateTime>,
}

impl LimitAnswer {
    fn of(state: LimitState) -> Self {
        Self {
            limit: state.limit,
            remaining: state.remaining,
            reset: state.reset_ms.map(from_millis),
        }
    }
}

/// Writes the metadata's JSON as it was stored when the key table was filled.
fn raw_json<S: Serializer>(json: &Option<Arc<RawValue>>, serializer: S) -> Result<S::Ok, S::Error> {
    match json {
        Some(json) => json.as_ref().serialize(serializer),
        None => serializer.serialize_none(),
    }
}

impl<'a> ValidAnswer<'a> {
    fn of(entry: &TableEntry, limits: Limits, catalog: &'a Catalog) -> Self {
        Self {
            valid: true,
            key_id: entry.key_id,
            account_id: entry.account_id,
            mode: entry.mode.as_str(),
            kind: entry.kind.as_str(),
            scopes: ScopeNames {
                catalog,
                set: entry.scopes,
            },
            expires_at: (entry.expires_at != i64::MAX).then(|| from_millis(entry.expires_at)),
            metadata: entry.policy.as_ref().and_then(|p| p.metadata_json.clone()),
            rate_limit: limits.rate.map(LimitAnswer::of),
            usage_limit: limits.usage.map(LimitAnswer::of),
            rate_state: limits.rate,
            rate_policy: entry
                .policy
                .as_ref()
                .and_then(|p| p.rate.as_ref())
                .map(|w| w.limit),
        }
    }
}

impl IntoResponse for ValidAnswer<'_> {
    fn into_response(self) -> Response {
        // Room for a standard key on a catalog of a dozen products, so the buffer rarely grows.
        let mut body = Vec::with_capacity(512);
        match serde_json::to_writer(&mut body, &self) {
            Ok(()) => {
                let mut response = (
                    [(
                        header::CONTENT_TYPE,
                        HeaderValue::from_static("application/json"),
                    )],
                    body,
                )
                    .into_response();
                if let Some(rate) = &self.rate_state {
                    crate::limit_headers::insert(response.headers_mut(), rate);
                }
                response
            }
            Err(error) => {
                ApiError::Internal(format!("writing a verify answer: {error}")).into_response()
            }
        }
    }
}

/// A scope set as the JSON list of its names, each written as it is serialized.
struct ScopeNames<'a> {
    catalog: &'a Catalog,
    set: ScopeSet,
}

impl Serialize for ScopeNames<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut list = serializer.serialize_seq(None)?;
        for name in self.catalog.names_of(self.set) {
            list.serialize_element(name)?;
        }
        list.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use keywarden_api_types::verify::ValidKey;
    use keywarden_core::key_format::{KeyKind, Mode};
    use keywarden_core::scope::{Access, Scope};

    /// The owned answer the API types describe (and clients parse), for the same entry.
    fn owned(answer: &ValidAnswer<'_>) -> VerifyResponse {
        VerifyResponse::Valid(ValidKey {
            valid: true,
            key_id: answer.key_id.to_string(),
            account_id: answer.account_id.to_string(),
            mode: answer.mode.into(),
            kind: answer.kind.into(),
            scopes: answer.scopes.catalog.names(answer.scopes.set),
            expires_at: answer.expires_at,
            metadata: answer
                .metadata
                .as_ref()
                .map(|raw| serde_json::from_str(raw.get()).unwrap()),
            rate_limit: answer.rate_limit.as_ref().map(limit_status),
            usage_limit: answer.usage_limit.as_ref().map(limit_status),
        })
    }

    fn limit_status(answer: &LimitAnswer) -> keywarden_api_types::policy::LimitStatus {
        keywarden_api_types::policy::LimitStatus {
            limit: answer.limit,
            remaining: answer.remaining,
            reset: answer.reset,
        }
    }

    #[test]
    fn a_refused_answer_is_the_json_of_the_owned_one() {
        use keywarden_api_types::verify::InvalidKey;
        use keywarden_core::key_record::Stopped;
        let at = from_millis(1_795_000_000_000);
        let refusal = Refusal::Stopped(Stopped::Revoked { at });
        let written = serde_json::to_string(&RefusedAnswer {
            valid: false,
            body: RefusalBody::of(&refusal, ""),
        })
        .unwrap();
        let parsed: VerifyResponse = serde_json::from_str(&written).unwrap();
        assert_eq!(
            parsed,
            VerifyResponse::Invalid(InvalidKey {
                valid: false,
                code: keywarden_api_types::ErrorCode::KeyRevoked,
                detail: refusal.detail("").into_owned(),
                hint: None,
                stopped_at: Some(at),
                required_scope: None,
                resets_at: None,
            })
        );
        // A usage limit that never resets says so with `"resets_at": null`.
        let refusal = Refusal::UsageLimitExceeded(LimitState {
            limit: 5,
            ..LimitState::default()
        });
        let written = serde_json::to_string(&RefusedAnswer {
            valid: false,
            body: RefusalBody::of(&refusal, ""),
        })
        .unwrap();
        assert!(written.contains(r#""resets_at":null"#), "{written}");
        let parsed: VerifyResponse = serde_json::from_str(&written).unwrap();
        let VerifyResponse::Invalid(invalid) = parsed else {
            panic!("{written}")
        };
        assert_eq!(invalid.resets_at, Some(None));
    }

    #[test]
    fn the_written_answer_is_the_json_of_the_owned_one() {
        let catalog = Catalog::default();
        let one = ScopeSet::only(Scope {
            product: 2,
            access: Access::Write,
        });
        let cases = [
            (Mode::Live, KeyKind::Standard, catalog.all(), None),
            (
                Mode::Test,
                KeyKind::Restricted,
                one,
                Some(1_795_000_000_123),
            ),
            (
                Mode::Live,
                KeyKind::Restricted,
                ScopeSet::default(),
                Some(0),
            ),
        ];
        let metadata = serde_json::value::to_raw_value(&serde_json::json!({
            "customer": "acme-42", "tier": {"name": "gold", "seats": 12}, "z": [1, "é"]
        }))
        .unwrap();
        let limit = |reset_ms: Option<i64>| LimitAnswer {
            limit: 100,
            remaining: 41,
            reset: reset_ms.map(from_millis),
        };
        for (n, (mode, kind, set, expires)) in cases.into_iter().enumerate() {
            let answer = ValidAnswer {
                valid: true,
                key_id: KeyId(uuid::Uuid::from_u128(
                    0x01a2_37b5_eca7_7415_8108_6080_5704_d366,
                )),
                account_id: AccountId(uuid::Uuid::from_u128(u128::MAX / 3)),
                mode: mode.as_str(),
                kind: kind.as_str(),
                scopes: ScopeNames {
                    catalog: &catalog,
                    set,
                },
                expires_at: expires.map(from_millis),
                metadata: (n > 0).then(|| Arc::from(metadata.clone())),
                rate_limit: (n > 0).then(|| limit(Some(1_795_000_060_000))),
                usage_limit: (n == 2).then(|| limit(None)),
                rate_state: None,
                rate_policy: None,
            };
            let written = serde_json::to_string(&answer).unwrap();
            assert_eq!(written, serde_json::to_string(&owned(&answer)).unwrap());
            let parsed: VerifyResponse = serde_json::from_str(&written).unwrap();
            assert_eq!(parsed, owned(&answer));
        }
    }
}
