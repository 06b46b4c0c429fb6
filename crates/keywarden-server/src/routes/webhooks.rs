//! Webhook endpoints of the account (SPEC §7, admins only): `GET`/`POST /v1/webhook-endpoints/`,
//! `GET`/`PATCH`/`DELETE /v1/webhook-endpoints/{id}/`, `POST …/{id}/rotate-secret/`,
//! `POST …/{id}/test/`, `GET …/{id}/deliveries/` and `POST /v1/webhook-deliveries/{id}/retry/`.
//!
//! A signing secret appears only in the create and rotate-secret answers. Another account's
//! endpoint or delivery answers 404, exactly like one that does not exist. A URL is checked
//! here ([`check_url`]): its shape, and that its host resolves to public addresses only unless
//! the operator allows private targets.

use crate::error::ApiError;
use crate::extract::{ApiJson, ApiPath, ApiQuery, Console};
use crate::state::AppState;
use crate::webhooks::targets::check_url;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use keywarden_api_types::webhooks::{
    CreateWebhookEndpointRequest, CreatedWebhookEndpointBody, DeliveryAttemptBody,
    DeliveryAttemptPage, DeliveryBody, RotatedWebhookSecretBody, UpdateWebhookEndpointRequest,
    WebhookEndpointBody, WebhookEndpointList, WebhookTestQueuedBody,
};
use keywarden_core::ids::{DeliveryId, EndpointId};
use keywarden_core::service::{EndpointChanges, NewEndpoint};
use keywarden_core::store::{Delivery, LoggedAttempt};
use keywarden_core::webhook::{Endpoint, EndpointState, EventType};
use serde::Deserialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// Query parameters of the delivery log.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct DeliveryParams {
    /// Page size, 1–100 (default 50).
    #[param(minimum = 1, maximum = 100)]
    limit: Option<u32>,
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
}

fn invalid(field: &'static str, message: impl Into<String>) -> ApiError {
    ApiError::Invalid {
        field: field.into(),
        message: message.into(),
    }
}

/// An endpoint id from the path; anything unparsable is simply not found.
fn endpoint_id(text: &str) -> Result<EndpointId, ApiError> {
    text.parse()
        .map_err(|_| ApiError::NotFound("webhook endpoint"))
}

fn delivery_id(text: &str) -> Result<DeliveryId, ApiError> {
    text.parse()
        .map_err(|_| ApiError::NotFound("webhook delivery"))
}

/// The URL as given (without surrounding blanks), if it may be a target.
async fn checked_url(state: &AppState, url: &str) -> Result<String, ApiError> {
    let url = url.trim();
    check_url(url, state.config.webhooks.allow_private_targets)
        .await
        .map_err(|refused| invalid("url", refused.0))?;
    Ok(url.to_owned())
}

fn body(endpoint: &Endpoint) -> WebhookEndpointBody {
    WebhookEndpointBody {
        id: endpoint.id.to_string(),
        url: endpoint.url.clone(),
        description: endpoint.description.clone(),
        events: endpoint
            .events
            .names()
            .into_iter()
            .map(str::to_owned)
            .collect(),
        state: endpoint.state.as_str().into(),
        created_at: endpoint.created_at,
        updated_at: endpoint.updated_at,
    }
}

fn attempt_body(logged: &LoggedAttempt) -> DeliveryAttemptBody {
    DeliveryAttemptBody {
        id: logged.delivery.id.to_string(),
        event_id: logged.delivery.event_id.to_string(),
        event_type: logged.delivery.event_type.as_str().into(),
        attempt: logged.attempt.number,
        at: logged.attempt.at,
        status: logged.attempt.status,
        error: logged.attempt.error.clone(),
        duration_ms: logged.attempt.duration_ms,
        state: logged.delivery.state.as_str().into(),
    }
}

fn delivery_body(delivery: &Delivery) -> DeliveryBody {
    DeliveryBody {
        id: delivery.id.to_string(),
        endpoint_id: delivery.endpoint_id.to_string(),
        event_id: delivery.event_id.to_string(),
        event_type: delivery.event_type.as_str().into(),
        attempts: delivery.attempts,
        state: delivery.state.as_str().into(),
        next_attempt_at: delivery.next_attempt_at,
        created_at: delivery.created_at,
    }
}

/// `GET /v1/webhook-endpoints/`
#[utoipa::path(
    get,
    path = "/v1/webhook-endpoints/",
    operation_id = "list_webhook_endpoints",
    tag = "Webhooks",
    summary = "List webhook endpoints",
    security(("console" = [])),
    responses(
        (status = 200, description = "The account's endpoints, oldest first (never their secrets).",
            body = WebhookEndpointList),
        (status = 401, response = crate::error::responses::ConsoleUnauthorized),
        (status = 403, response = crate::error::responses::Forbidden),
        (status = 503, response = crate::error::responses::Unavailable),
    ),
)]
pub async fn list(
    State(state): State<AppState>,
    console: Console,
) -> Result<Json<WebhookEndpointList>, ApiError> {
    console.require_admin()?;
    let endpoints = state.service.endpoints(console.account.id).await?;
    Ok(Json(WebhookEndpointList {
        results: endpoints.iter().map(body).collect(),
    }))
}

/// `POST /v1/webhook-endpoints/` `{url, events, description?}` → 201 with the secret, once.
#[utoipa::path(
    post,
    path = "/v1/webhook-endpoints/",
    operation_id = "create_webhook_endpoint",
    tag = "Webhooks",
    summary = "Add a webhook endpoint",
    description = "Events of the types given (or every type, `[\"*\"]`) are POSTed to the URL, \
                   signed per Standard Webhooks with the endpoint's secret. The answer shows the \
                   secret, once: store it now. A URL whose host resolves to a loopback, private \
                   or link-local address is refused unless the operator allows private targets.",
    security(("console" = [])),
    request_body = CreateWebhookEndpointRequest,
    responses(
        (status = 201, description = "The new endpoint, with its signing secret shown this once.",
            body = CreatedWebhookEndpointBody),
        (status = 400, response = crate::error::responses::BadRequest),
        (status = 401, response = crate::error::responses::ConsoleUnauthorized),
        (status = 403, response = crate::error::responses::Forbidden),
        (status = 413, response = crate::error::responses::PayloadTooLarge),
        (status = 503, response = crate::error::responses::Unavailable),
    ),
)]
pub async fn create(
    State(state): State<AppState>,
    console: Console,
    ApiJson(request): ApiJson<CreateWebhookEndpointRequest>,
) -> Result<(StatusCode, Json<CreatedWebhookEndpointBody>), ApiError> {
    console.require_admin()?;
    let url = checked_url(&state, &request.url).await?;
    let new = NewEndpoint {
        url,
        description: request.description.unwrap_or_default(),
        events: request.events,
    };
    let added = state
        .service
        .add_endpoint(console.account.id, new, &console.actor())
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedWebhookEndpointBody {
            secret: added.secret.reveal(),
            endpoint: body(&added.endpoint),
        }),
    ))
}

/// `GET /v1/webhook-endpoints/{id}/`
#[utoipa::path(
    get,
    path = "/v1/webhook-endpoints/{id}/",
    operation_id = "get_webhook_endpoint",
    tag = "Webhooks",
    summary = "One webhook endpoint",
    security(("console" = [])),
    params(("id" = String, Path, description = "The endpoint's id, from the listing or the create answer.")),
    responses(
        (status = 200, description = "The endpoint (never its secret).", body = WebhookEndpointBody),
        (status = 401, response = crate::error::responses::ConsoleUnauthorized),
        (status = 403, response = crate::error::responses::Forbidden),
        (status = 404, response = crate::error::responses::EndpointNotFound),
        (status = 503, response = crate::error::responses::Unavailable),
    ),
)]
pub async fn get(
    State(state): State<AppState>,
    console: Console,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<WebhookEndpointBody>, ApiError> {
    console.require_admin()?;
    let endpoint = state
        .service
        .endpoint(console.account.id, endpoint_id(&id)?)
        .await?;
    Ok(Json(body(&endpoint)))
}

/// `PATCH /v1/webhook-endpoints/{id}/` (url, description, events, state)
#[utoipa::path(
    patch,
    path = "/v1/webhook-endpoints/{id}/",
    operation_id = "update_webhook_endpoint",
    tag = "Webhooks",
    summary = "Change a webhook endpoint",
    description = "Absent fields stay as they are. `\"state\": \"disabled\"` stops deliveries \
                   (new events are not queued for it); `\"active\"` turns them on again, also \
                   for an endpoint that was `failing`. A new URL is checked as on creation.",
    security(("console" = [])),
    params(("id" = String, Path, description = "The endpoint's id, from the listing or the create answer.")),
    request_body = UpdateWebhookEndpointRequest,
    responses(
        (status = 200, description = "The endpoint as changed.", body = WebhookEndpointBody),
        (status = 400, response = crate::error::responses::BadRequest),
        (status = 401, response = crate::error::responses::ConsoleUnauthorized),
        (status = 403, response = crate::error::responses::Forbidden),
        (status = 404, response = crate::error::responses::EndpointNotFound),
        (status = 413, response = crate::error::responses::PayloadTooLarge),
        (status = 503, response = crate::error::responses::Unavailable),
    ),
)]
pub async fn update(
    State(state): State<AppState>,
    console: Console,
    ApiPath(id): ApiPath<String>,
    ApiJson(request): ApiJson<UpdateWebhookEndpointRequest>,
) -> Result<Json<WebhookEndpointBody>, ApiError> {
    console.require_admin()?;
    let id = endpoint_id(&id)?;
    // Another account's endpoint is not found, whatever the body says.
    state.service.endpoint(console.account.id, id).await?;
    let state_change = request
        .state
        .as_deref()
        .map(|name| match EndpointState::from_name(name) {
            Some(s @ (EndpointState::Active | EndpointState::Disabled)) => Ok(s),
            _ => Err(invalid(
                "state",
                "use active or disabled; an endpoint becomes failing by itself when a \
                 delivery runs out of retries",
            )),
        })
        .transpose()?;
    let url = match request.url.as_deref() {
        Some(url) => Some(checked_url(&state, url).await?),
        None => None,
    };
    let changes = EndpointChanges {
        url,
        description: request.description,
        events: request.events,
        state: state_change,
    };
    let endpoint = state
        .service
        .update_endpoint(console.account.id, id, changes, &console.actor())
        .await?;
    Ok(Json(body(&endpoint)))
}

/// `DELETE /v1/webhook-endpoints/{id}/` → 204
#[utoipa::path(
    delete,
    path = "/v1/webhook-endpoints/{id}/",
    operation_id = "remove_webhook_endpoint",
    tag = "Webhooks",
    summary = "Remove a webhook endpoint",
    description = "Nothing more is sent to it, and its delivery log goes with it.",
    security(("console" = [])),
    params(("id" = String, Path, description = "The endpoint's id, from the listing or the create answer.")),
    responses(
        (status = 204, description = "Removed."),
        (status = 401, response = crate::error::responses::ConsoleUnauthorized),
        (status = 403, response = crate::error::responses::Forbidden),
        (status = 404, response = crate::error::responses::EndpointNotFound),
        (status = 503, response = crate::error::responses::Unavailable),
    ),
)]
pub async fn remove(
    State(state): State<AppState>,
    console: Console,
    ApiPath(id): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    console.require_admin()?;
    state
        .service
        .remove_endpoint(console.account.id, endpoint_id(&id)?, &console.actor())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /v1/webhook-endpoints/{id}/rotate-secret/` → the new secret, once.
#[utoipa::path(
    post,
    path = "/v1/webhook-endpoints/{id}/rotate-secret/",
    operation_id = "rotate_webhook_secret",
    tag = "Webhooks",
    summary = "Rotate a webhook endpoint's signing secret",
    description = "A new secret, shown once. For 24 hours every delivery carries two \
                   signatures, one with each secret (space-separated in `webhook-signature`), \
                   so the receiver can switch to the new secret without missing an event. No \
                   body is needed.",
    security(("console" = [])),
    params(("id" = String, Path, description = "The endpoint's id, from the listing or the create answer.")),
    responses(
        (status = 200, description = "The new secret, shown this once, and until when the \
                                      previous one also signs.", body = RotatedWebhookSecretBody),
        (status = 401, response = crate::error::responses::ConsoleUnauthorized),
        (status = 403, response = crate::error::responses::Forbidden),
        (status = 404, response = crate::error::responses::EndpointNotFound),
        (status = 503, response = crate::error::responses::Unavailable),
    ),
)]
pub async fn rotate_secret(
    State(state): State<AppState>,
    console: Console,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<RotatedWebhookSecretBody>, ApiError> {
    console.require_admin()?;
    let rotated = state
        .service
        .rotate_endpoint_secret(console.account.id, endpoint_id(&id)?, &console.actor())
        .await?;
    Ok(Json(RotatedWebhookSecretBody {
        secret: rotated.secret.reveal(),
        previous_valid_until: rotated.previous_valid_until,
    }))
}

/// `POST /v1/webhook-endpoints/{id}/test/` → 202
#[utoipa::path(
    post,
    path = "/v1/webhook-endpoints/{id}/test/",
    operation_id = "send_webhook_test",
    tag = "Webhooks",
    summary = "Send a test event",
    description = "Queues a `webhook.test` event for this endpoint alone, whatever types it \
                   subscribes to and even when it is disabled. Its attempts show in the \
                   endpoint's delivery log. No body is needed.",
    security(("console" = [])),
    params(("id" = String, Path, description = "The endpoint's id, from the listing or the create answer.")),
    responses(
        (status = 202, description = "The test event is queued.", body = WebhookTestQueuedBody),
        (status = 401, response = crate::error::responses::ConsoleUnauthorized),
        (status = 403, response = crate::error::responses::Forbidden),
        (status = 404, response = crate::error::responses::EndpointNotFound),
        (status = 503, response = crate::error::responses::Unavailable),
    ),
)]
pub async fn send_test(
    State(state): State<AppState>,
    console: Console,
    ApiPath(id): ApiPath<String>,
) -> Result<(StatusCode, Json<WebhookTestQueuedBody>), ApiError> {
    console.require_admin()?;
    let id = endpoint_id(&id)?;
    state
        .service
        .send_test_event(console.account.id, id, &console.actor())
        .await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(WebhookTestQueuedBody {
            endpoint_id: id.to_string(),
            event_type: EventType::WebhookTest.as_str().into(),
        }),
    ))
}

/// `GET /v1/webhook-endpoints/{id}/deliveries/`
#[utoipa::path(
    get,
    path = "/v1/webhook-endpoints/{id}/deliveries/",
    operation_id = "list_webhook_deliveries",
    tag = "Webhooks",
    summary = "An endpoint's delivery log",
    description = "Every attempt to deliver an event to this endpoint, newest first, a page at \
                   a time: the event's id and type, when, the HTTP status answered or what went \
                   wrong without an answer, how long it took, and where the delivery stands now. \
                   An event waiting for its first attempt is not listed yet.",
    security(("console" = [])),
    params(
        ("id" = String, Path, description = "The endpoint's id, from the listing or the create answer."),
        DeliveryParams,
    ),
    responses(
        (status = 200, description = "A page of attempts.", body = DeliveryAttemptPage),
        (status = 400, response = crate::error::responses::BadRequest),
        (status = 401, response = crate::error::responses::ConsoleUnauthorized),
        (status = 403, response = crate::error::responses::Forbidden),
        (status = 404, response = crate::error::responses::EndpointNotFound),
        (status = 503, response = crate::error::responses::Unavailable),
    ),
)]
pub async fn deliveries(
    State(state): State<AppState>,
    console: Console,
    ApiPath(id): ApiPath<String>,
    ApiQuery(params): ApiQuery<DeliveryParams>,
) -> Result<Json<DeliveryAttemptPage>, ApiError> {
    console.require_admin()?;
    let id = endpoint_id(&id)?;
    let limit = params.limit.unwrap_or(50);
    if !(1..=100).contains(&limit) {
        return Err(invalid("limit", "give a page size from 1 to 100"));
    }
    let before = params
        .cursor
        .as_deref()
        .map(|c| {
            OffsetDateTime::parse(c, &Rfc3339)
                .map_err(|_| invalid("cursor", "pass the next_cursor of the previous page"))
        })
        .transpose()?;
    let (attempts, more) = state
        .service
        .endpoint_attempts(console.account.id, id, before, limit)
        .await?;
    let next_cursor = more
        .then(|| {
            attempts
                .last()
                .and_then(|a| a.attempt.at.format(&Rfc3339).ok())
        })
        .flatten();
    Ok(Json(DeliveryAttemptPage {
        results: attempts.iter().map(attempt_body).collect(),
        next_cursor,
    }))
}

/// `POST /v1/webhook-deliveries/{id}/retry/` → 202
#[utoipa::path(
    post,
    path = "/v1/webhook-deliveries/{id}/retry/",
    operation_id = "retry_webhook_delivery",
    tag = "Webhooks",
    summary = "Retry a delivery",
    description = "Makes the delivery pending again, due now: the next attempt is made within \
                   seconds, with the same event id (`webhook-id`). Its earlier attempts stay in \
                   the log. Meant for a delivery that `failed`; no body is needed.",
    security(("console" = [])),
    params(("id" = String, Path, description = "The delivery's id: `id` of an attempt in the delivery log.")),
    responses(
        (status = 202, description = "The delivery, pending again.", body = DeliveryBody),
        (status = 401, response = crate::error::responses::ConsoleUnauthorized),
        (status = 403, response = crate::error::responses::Forbidden),
        (status = 404, description = "No such delivery in your account (another account's \
                                      delivery answers the same).", body = keywarden_api_types::ErrorBody,
            example = json!({
                "detail": "No such webhook delivery in your account. Check the id, or list them first.",
                "code": "not_found"
            })
        ),
        (status = 503, response = crate::error::responses::Unavailable),
    ),
)]
pub async fn retry_delivery(
    State(state): State<AppState>,
    console: Console,
    ApiPath(id): ApiPath<String>,
) -> Result<(StatusCode, Json<DeliveryBody>), ApiError> {
    console.require_admin()?;
    let delivery = state
        .service
        .retry_delivery(console.account.id, delivery_id(&id)?, &console.actor())
        .await?;
    Ok((StatusCode::ACCEPTED, Json(delivery_body(&delivery))))
}
