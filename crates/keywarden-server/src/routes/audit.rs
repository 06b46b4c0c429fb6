//! `GET /v1/audit-events/` (admins): who did what to which key, when, from where.

use crate::error::ApiError;
use crate::extract::{ApiQuery, Console};
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use keywarden_api_types::users::{ActorBody, AuditEventBody, AuditPage};
use keywarden_core::audit::Action;
use keywarden_core::store::AuditQuery;
use serde::Deserialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// Filters.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AuditParams {
    /// User id of the actor.
    actor: Option<String>,
    /// e.g. `key.revoked`.
    action: Option<String>,
    /// Key id.
    key: Option<String>,
    /// RFC 3339 lower bound.
    since: Option<String>,
    /// RFC 3339 upper bound (exclusive).
    until: Option<String>,
    /// Page size, 1–200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    limit: Option<u32>,
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
}

fn invalid(field: &'static str, message: &str) -> ApiError {
    ApiError::Invalid {
        field: field.into(),
        message: message.into(),
    }
}

fn parsed<T: std::str::FromStr>(
    value: Option<&str>,
    field: &'static str,
    message: &str,
) -> Result<Option<T>, ApiError> {
    value
        .map(|v| v.parse().map_err(|_| invalid(field, message)))
        .transpose()
}

fn time_param(
    value: Option<&str>,
    field: &'static str,
) -> Result<Option<OffsetDateTime>, ApiError> {
    value
        .map(|v| {
            OffsetDateTime::parse(v, &Rfc3339)
                .map_err(|_| invalid(field, "give an RFC 3339 time such as 2026-11-01T00:00:00Z"))
        })
        .transpose()
}

/// `GET /v1/audit-events/`
#[utoipa::path(
    get,
    path = "/v1/audit-events/",
    operation_id = "list_audit_events",
    tag = "Audit",
    summary = "Audit events",
    description = "Who did what to which key, when and from where: keys created, rotated, \
                   revoked and updated, sign-ins, 2FA and user changes. Newest first, a page at a \
                   time. Never contains a secret.",
    security(("console" = [])),
    params(AuditParams),
    responses(
        (status = 200, description = "A page of events.", body = AuditPage),
        (status = 400, response = crate::error::responses::BadRequest),
        (status = 401, response = crate::error::responses::ConsoleUnauthorized),
        (status = 403, response = crate::error::responses::Forbidden),
        (status = 503, response = crate::error::responses::Unavailable),
    ),
)]
pub async fn list(
    State(state): State<AppState>,
    console: Console,
    ApiQuery(params): ApiQuery<AuditParams>,
) -> Result<Json<AuditPage>, ApiError> {
    console.require_admin()?;
    let limit = params.limit.unwrap_or(50);
    if !(1..=200).contains(&limit) {
        return Err(invalid("limit", "give a page size from 1 to 200"));
    }
    let action = params
        .action
        .as_deref()
        .map(|a| Action::from_name(a).ok_or_else(|| invalid("action", "use an action such as key.created, key.rotated, key.revoked, key.updated, auth.sign_in")))
        .transpose()?;
    let query = AuditQuery {
        actor: parsed(params.actor.as_deref(), "actor", "give a user id")?,
        action,
        key_id: parsed(params.key.as_deref(), "key", "give a key id")?,
        since: time_param(params.since.as_deref(), "since")?,
        until: time_param(params.until.as_deref(), "until")?,
        before: parsed(
            params.cursor.as_deref(),
            "cursor",
            "pass the next_cursor of the previous page",
        )?,
        // One more than the page: its presence says whether a next page exists.
        limit: limit + 1,
    };
    let mut events = state
        .service
        .store()
        .query_audit_events(console.account.id, &query)
        .await?;
    let more = events.len() > limit as usize;
    events.truncate(limit as usize);
    let next_cursor = more
        .then(|| events.last().map(|e| e.id.to_string()))
        .flatten();
    let results = events
        .into_iter()
        .map(|e| AuditEventBody {
            id: e.id.to_string(),
            action: e.action.as_str().into(),
            actor: ActorBody {
                user_id: e.actor.user_id.map(|u| u.to_string()),
                label: e.actor.label,
                ip: e.actor.ip,
                user_agent: e.actor.user_agent,
            },
            key_id: e.key_id.map(|k| k.to_string()),
            detail: e.detail,
            at: e.at,
        })
        .collect();
    Ok(Json(AuditPage {
        results,
        next_cursor,
    }))
}
