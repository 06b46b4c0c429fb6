//! `POST /v1/explain/`: what verification would answer for a request, check by check (SPEC
//! §10). It walks core's very steps (`check::STEPS`) on the very table entry forward-auth would
//! find, with `consume: false`: nothing is counted and no limit is taken.

use super::route_table::method_access;
use crate::error::ApiError;
use crate::extract::{ApiJson, ClientMeta, Console};
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use keywarden_api_types::usage::{ExplainAnswer, ExplainRequest, ExplainStep};
use keywarden_core::check::{Context, Limits, STEPS};
use keywarden_core::key_format;
use keywarden_core::key_limits::LimitState;
use keywarden_core::key_table::{TableEntry, rfc3339};
use keywarden_core::verdict::{Needs, Outcome, Refusal};
use std::net::IpAddr;

/// The checks an explanation lists, in order.
const CHECKS: [&str; 8] = [
    "format",
    "key",
    "status",
    "route",
    "scope",
    "ip",
    "rate_limit",
    "usage_limit",
];

/// An explanation being written: each check's result, until one fails.
struct Steps {
    steps: Vec<ExplainStep>,
    refusal: Option<Refusal>,
}

impl Steps {
    fn new() -> Self {
        Self {
            steps: Vec::with_capacity(CHECKS.len()),
            refusal: None,
        }
    }

    fn pass(&mut self, check: &str, detail: impl Into<String>) {
        self.push(check, "pass", detail.into());
    }

    fn skip(&mut self, check: &str, detail: impl Into<String>) {
        self.push(check, "skip", detail.into());
    }

    fn fail(&mut self, check: &str, refusal: Refusal, detail: impl Into<String>) {
        self.push(check, "fail", detail.into());
        self.refusal = Some(refusal);
    }

    fn push(&mut self, check: &str, result: &str, detail: String) {
        self.steps.push(ExplainStep {
            check: check.into(),
            result: result.into(),
            detail,
        });
    }

    /// Marks every check not reached as skipped.
    fn finish(mut self) -> (Vec<ExplainStep>, Option<Refusal>) {
        for check in CHECKS.iter().skip(self.steps.len()) {
            let why = "Not checked: an earlier check decided.";
            self.steps.push(ExplainStep {
                check: (*check).into(),
                result: "skip".into(),
                detail: why.into(),
            });
        }
        (self.steps, self.refusal)
    }
}

/// `POST /v1/explain/`
#[utoipa::path(
    post,
    path = "/v1/explain/",
    operation_id = "explain",
    tag = "Usage",
    summary = "Why a request would be allowed or refused",
    description = "Runs the key checks of verification for a request — the key (by id, or the \
                   key itself), the method, the path and the client's address — and answers \
                   each check's result: format, key, status, route, scope, ip, rate_limit, \
                   usage_limit. The decision, status and code are what forward-auth would \
                   answer. Nothing is counted and no rate or usage limit is consumed. A key of \
                   another account is explained as an unknown key.",
    security(("console" = [])),
    request_body = ExplainRequest,
    responses(
        (status = 200, description = "The explanation.", body = ExplainAnswer),
        (status = 400, response = crate::error::responses::BadRequest),
        (status = 401, response = crate::error::responses::ConsoleUnauthorized),
        (status = 403, response = crate::error::responses::Forbidden),
        (status = 404, response = crate::error::responses::KeyNotFoundInAccount),
        (status = 503, response = crate::error::responses::Unavailable),
    ),
)]
pub async fn explain(
    State(state): State<AppState>,
    console: Console,
    meta: ClientMeta,
    ApiJson(request): ApiJson<ExplainRequest>,
) -> Result<Json<ExplainAnswer>, ApiError> {
    console.require_key_manager()?;
    let invalid = |field: &'static str, message: &str| ApiError::Invalid {
        field: field.into(),
        message: message.into(),
    };
    let access = method_access(request.method.trim().as_bytes())
        .ok_or_else(|| invalid("method", "give an HTTP method such as GET or POST"))?;
    let uri = request.uri.trim();
    if !uri.starts_with('/') {
        return Err(invalid(
            "uri",
            "give the request's path, such as /v1/payroll/runs",
        ));
    }
    let client: IpAddr = match request.client_ip.as_deref() {
        Some(text) => text.trim().parse().map_err(|_| {
            invalid(
                "client_ip",
                "give the client's address, e.g. 203.0.113.7 or 2001:db8::1",
            )
        })?,
        None => meta.ip,
    };
    let catalog = state.keys.catalog();
    let needs = state.routes.needs(access, uri, catalog);
    let required_scope = match needs {
        Needs::Nothing => None,
        other => Some(other.name(catalog)),
    };
    let mut steps = Steps::new();
    // The digest to look up: from the key's text, or the stored key of this account.
    let digest = match (&request.key_id, &request.key) {
        (Some(id), None) => {
            let record = state
                .service
                .key(console.account.id, crate::routes::api_keys::key_id(id)?)
                .await?;
            steps.skip(
                "format",
                "A key id was given: there is no key text to check.",
            );
            Some(record.digest)
        }
        (None, Some(text)) => match key_format::parse(text.trim()) {
            Ok(key) => {
                steps.pass("format", "The key has a key's shape and a valid checksum.");
                Some(state.keys.hasher().digest(key.text))
            }
            Err(error) => {
                let refusal = Refusal::from(error);
                let detail = refusal.detail("").into_owned();
                steps.fail("format", refusal, detail);
                None
            }
        },
        _ => return Err(invalid("key_id", "give either key_id or key, not both")),
    };
    let mut key_id = None;
    if let Some(digest) = digest {
        let account = console.account.id;
        let found = state.keys.explain(
            |table| table.get(&digest).filter(|e| e.account_id == account),
            needs,
            client,
            |entry, context| {
                key_id = Some(entry.key_id.to_string());
                walk(&mut steps, entry, context, uri, &required_scope)
            },
        );
        match found {
            Ok(Some(())) => {}
            Ok(None) => steps.fail(
                "key",
                Refusal::NotFound,
                "No key of your account matches: verification would answer as for an unknown key.",
            ),
            Err(refusal) => steps.fail(
                "key",
                refusal,
                "The key table is not current: verification answers 503 until it catches up.",
            ),
        }
    }
    let (steps, refusal) = steps.finish();
    let outcome = refusal.as_ref().map_or(Outcome::Valid, Refusal::outcome);
    Ok(Json(ExplainAnswer {
        decision: if refusal.is_none() { "allow" } else { "deny" }.into(),
        status: outcome.http_status(),
        code: refusal.map(|r| r.outcome().code().to_owned()),
        key_id,
        required_scope,
        steps,
    }))
}

/// The steps after the key is found: core's, with the route shown before the scope.
fn walk(
    steps: &mut Steps,
    entry: &TableEntry,
    context: &Context<'_>,
    uri: &str,
    required_scope: &Option<String>,
) {
    if entry.is_canary() {
        let refusal = Refusal::Canary {
            key: entry.key_id,
            account: entry.account_id,
        };
        steps.fail(
            "key",
            refusal,
            "A canary key of your account: it authorizes nothing. Verification answers exactly as \
             for an unknown key, and records who presented it (this explanation records nothing).",
        );
        return;
    }
    steps.pass("key", "A key of your account.");
    let mut limits = Limits::default();
    for (name, step) in STEPS {
        if name == "scope" {
            let needs = required_scope.as_deref().unwrap_or("no scope");
            steps.pass("route", format!("{uri} needs {needs}."));
        }
        match step(entry, context, &mut limits) {
            Ok(()) => steps.pass(name, passed(name, entry, context, &limits, required_scope)),
            Err(refusal) => {
                let detail = refusal
                    .detail(required_scope.as_deref().unwrap_or(""))
                    .into_owned();
                steps.fail(name, refusal, detail);
                return;
            }
        }
    }
}

/// What a check that passed found.
fn passed(
    name: &str,
    entry: &TableEntry,
    context: &Context<'_>,
    limits: &Limits,
    required_scope: &Option<String>,
) -> String {
    let policy = entry.policy.as_deref();
    match name {
        "status" => match entry.lifecycle {
            keywarden_core::key_record::Lifecycle::Rotated => format!(
                "Rotated, and still works until {} (the hand-over).",
                rfc3339(entry.stopped_at)
            ),
            _ if entry.expires_at < i64::MAX => {
                format!("Active; expires {}.", rfc3339(entry.expires_at))
            }
            _ => "Active.".into(),
        },
        "scope" => match required_scope {
            Some(scope) => format!("The key holds {scope}."),
            None => "The request needs no scope.".into(),
        },
        "ip" => match policy {
            Some(p) if !p.allowed_ips.is_empty() => {
                format!("{} is in the key's allowlist.", (context.client)())
            }
            _ => "The key may be used from any address.".into(),
        },
        "rate_limit" => limit_text(limits.rate, "in the current window", "No rate limit."),
        "usage_limit" => limit_text(limits.usage, "in the current period", "No usage limit."),
        _ => String::new(),
    }
}

fn limit_text(state: Option<LimitState>, span: &str, none: &str) -> String {
    match state {
        Some(s) => format!(
            "Within the limit of {}: {} left {span} after this request.",
            s.limit, s.remaining
        ),
        None => none.into(),
    }
}
