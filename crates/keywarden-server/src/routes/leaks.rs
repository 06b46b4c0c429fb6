//! Leak reports (SPEC §8): `POST /v1/leaks/github/` (GitHub's secret scanning partner program,
//! authenticated by its signature) and `POST /v1/leaks/` (a text pasted by an admin or
//! developer). What a leaked key becomes is core's (`service::leaks`).
//!
//! A GitHub report is checked in this order, and each refusal changes nothing: its size (413;
//! 1 MiB, announced or read), its signature over the raw bytes (401), its shape (400: a
//! non-empty JSON array of matches), the number of matches (413 past
//! [`MAX_REPORTED_TOKENS`]). A pasted text may not reveal anything of another account: its keys
//! are counted, never named or changed.

use crate::body_limit::{LEAK_PASTE_MAX_BYTES, LEAK_REPORT_MAX_BYTES};
use crate::error::ApiError;
use crate::extract::{ApiJson, ClientMeta, Console, bytes_rejection};
use crate::leaks::{MAX_PASTED_TEXT, MAX_REPORTED_TOKENS, token_hash};
use crate::state::AppState;
use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::HeaderMap;
use keywarden_api_types::leaks::{
    GitHubLeakLabel, GitHubLeakMatch, PasteLeakRequest, PastedKey, PastedLeaksBody,
};
use keywarden_core::audit::Actor;
use keywarden_core::key_record::Lifecycle;
use keywarden_core::service::ReportedToken;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// The two operations, each with the body limit of its own (larger than the configured one).
pub fn operations() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .merge(
            OpenApiRouter::new()
                .routes(routes!(github))
                .layer(DefaultBodyLimit::max(LEAK_REPORT_MAX_BYTES)),
        )
        .merge(
            OpenApiRouter::new()
                .routes(routes!(paste))
                .layer(DefaultBodyLimit::max(LEAK_PASTE_MAX_BYTES)),
        )
}

fn header<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// `POST /v1/leaks/github/`
#[utoipa::path(
    post,
    path = "/v1/leaks/github/",
    operation_id = "report_github_leaks",
    tag = "Leaks",
    summary = "Take a GitHub secret scanning report",
    description = "The endpoint of GitHub's secret scanning partner program. The body is a JSON \
                   array of matches (at most 1,000; 1 MiB), signed with ECDSA P-256 / SHA-256 \
                   over its exact bytes by the key named in `Github-Public-Key-Identifier`, one \
                   of the public keys the operator configured (`leaks.github_public_keys_file` \
                   or `_url`). Every match that is a key of this Keywarden, whatever its account \
                   and status, is handled as leaked: revoked at once, or only reported, as its \
                   account's `leak_action` says; it gets `leaked_at` and `leak_url`, an audit \
                   event and a `key.leaked` webhook. A key already revoked is not changed, but \
                   the report is recorded. The answer labels each match, in order.",
    params(
        ("Github-Public-Key-Identifier" = String, Header,
            description = "The identifier of the public key that signed the body."),
        ("Github-Public-Key-Signature" = String, Header,
            description = "The base64 of the DER-encoded ECDSA P-256 / SHA-256 signature of the body."),
    ),
    request_body(content = Vec<GitHubLeakMatch>, content_type = "application/json"),
    responses(
        (status = 200, description = "Each match's label, in the order of the report.",
            body = Vec<GitHubLeakLabel>),
        (status = 400, response = crate::error::responses::BadRequest),
        (status = 401, response = crate::error::responses::LeakReportUnauthorized),
        (status = 413, response = crate::error::responses::LeakTooLarge),
        (status = 503, response = crate::error::responses::Unavailable),
    ),
)]
pub async fn github(
    State(state): State<AppState>,
    client: ClientMeta,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Vec<GitHubLeakLabel>>, ApiError> {
    let body = body.map_err(bytes_rejection)?;
    state
        .github_keys
        .verify(
            header(&headers, "Github-Public-Key-Identifier"),
            header(&headers, "Github-Public-Key-Signature"),
            &body,
        )
        .await
        .map_err(|problem| ApiError::SignatureInvalid(problem.to_string()))?;
    let matches: Vec<GitHubLeakMatch> = serde_json::from_slice(&body).map_err(|e| {
        ApiError::MalformedBody(format!(
            "send a JSON array of matches, each {{\"token\", \"type\", \"url\", \"source\"}}: {e}"
        ))
    })?;
    if matches.is_empty() {
        return Err(ApiError::MalformedBody(
            "the report holds no match: send a non-empty JSON array of {\"token\", \"type\", \"url\", \"source\"}".into(),
        ));
    }
    if matches.len() > MAX_REPORTED_TOKENS {
        return Err(ApiError::TooMuch(format!(
            "A report holds at most {MAX_REPORTED_TOKENS} matches; this one has {}. Send it in parts.",
            matches.len()
        )));
    }
    let tokens: Vec<ReportedToken<'_>> = matches
        .iter()
        .map(|m| ReportedToken {
            token: &m.token,
            url: Some(m.url.as_str()),
            source: &m.source,
        })
        .collect();
    // Keywarden itself acts on GitHub's word; the audit trail keeps where the report came from.
    let actor = Actor {
        ip: Some(client.ip.to_string()),
        user_agent: client.user_agent.clone(),
        ..Actor::system()
    };
    let true_positives = state.service.report_scanned_leaks(&tokens, &actor).await?;
    let labels = matches
        .iter()
        .zip(true_positives)
        .map(|(found, true_positive)| GitHubLeakLabel {
            token_hash: token_hash(&found.token),
            token_type: found.token_type.clone(),
            label: if true_positive {
                "true_positive"
            } else {
                "false_positive"
            }
            .into(),
        })
        .collect();
    Ok(Json(labels))
}

/// `POST /v1/leaks/`
#[utoipa::path(
    post,
    path = "/v1/leaks/",
    operation_id = "report_pasted_leak",
    tag = "Leaks",
    summary = "Report keys found in a text",
    description = "Paste a text that may hold keys (a log, a chat message, a file; at most \
                   1 MiB). Every key of your account in it is handled as leaked: revoked at once, \
                   or only reported if the account's `leak_action` is `notify`; it gets \
                   `leaked_at`, an audit event and a `key.leaked` webhook. Keys of other \
                   accounts are only counted, never named or changed. Admins and developers.",
    security(("console" = [])),
    request_body = PasteLeakRequest,
    responses(
        (status = 200, description = "Your keys found in the text, and how many others.",
            body = PastedLeaksBody),
        (status = 400, response = crate::error::responses::BadRequest),
        (status = 401, response = crate::error::responses::ConsoleUnauthorized),
        (status = 403, response = crate::error::responses::Forbidden),
        (status = 413, response = crate::error::responses::LeakTooLarge),
        (status = 503, response = crate::error::responses::Unavailable),
    ),
)]
pub async fn paste(
    State(state): State<AppState>,
    console: Console,
    ApiJson(request): ApiJson<PasteLeakRequest>,
) -> Result<Json<PastedLeaksBody>, ApiError> {
    console.require_key_manager()?;
    if request.text.len() > MAX_PASTED_TEXT {
        return Err(ApiError::TooMuch(format!(
            "A pasted text may be at most 1 MiB; this one is {} bytes. Paste it in parts.",
            request.text.len()
        )));
    }
    if request.text.trim().is_empty() {
        return Err(ApiError::Invalid {
            field: "text".into(),
            message: "paste the text that may hold keys (a log, a message, a file)".into(),
        });
    }
    let found = state
        .service
        .report_pasted_leaks(console.account.id, &request.text, &console.actor())
        .await?;
    let now = state.service.clock().now();
    Ok(Json(PastedLeaksBody {
        leaked: found
            .leaked
            .iter()
            .map(|handled| PastedKey {
                id: handled.key.id.to_string(),
                hint: handled.key.hint.clone(),
                label: handled.key.label.clone(),
                status: handled.key.status_at(now).as_str().into(),
                revoked: handled.key.lifecycle == Lifecycle::Revoked,
            })
            .collect(),
        other_accounts: found.other_accounts as u64,
        not_found: found.not_found as u64,
    }))
}
