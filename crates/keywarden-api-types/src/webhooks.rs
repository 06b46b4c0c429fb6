//! Webhook endpoints and their delivery log (SPEC §7).

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// A webhook endpoint of the account; never its signing secret.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WebhookEndpointBody {
    /// Id.
    #[cfg_attr(
        feature = "openapi",
        schema(example = "0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b")
    )]
    pub id: String,
    /// Where deliveries are POSTed.
    #[cfg_attr(
        feature = "openapi",
        schema(example = "https://hooks.example.com/keywarden")
    )]
    pub url: String,
    /// What it is for (may be empty).
    #[cfg_attr(feature = "openapi", schema(example = "Security team's SIEM"))]
    pub description: String,
    /// The event types it receives, or `["*"]` for every type.
    #[cfg_attr(
        feature = "openapi",
        schema(value_type = Vec<crate::names::EventSelectorName>, example = json!(["key.revoked", "key.leaked"]))
    )]
    pub events: Vec<String>,
    /// `active`, `failing` (a delivery ran out of retries) or `disabled`.
    #[cfg_attr(feature = "openapi", schema(value_type = crate::names::EndpointStateName, example = "active"))]
    pub state: String,
    /// When it was added.
    #[serde(with = "time::serde::rfc3339")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime, example = "2026-11-02T09:30:00Z"))]
    pub created_at: OffsetDateTime,
    /// When it last changed.
    #[serde(with = "time::serde::rfc3339")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime, example = "2026-11-02T09:30:00Z"))]
    pub updated_at: OffsetDateTime,
}

/// An endpoint just added: its metadata and its signing secret, shown this once.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CreatedWebhookEndpointBody {
    /// The signing secret: `whsec_` + base64 of 32 random bytes. Store it now: it is never
    /// shown again (rotate it to get a new one).
    #[cfg_attr(
        feature = "openapi",
        schema(example = "whsec_RG9jc0V4YW1wbGVOb3RBUmVhbFNlY3JldDAwMDAwMDA=")
    )]
    pub secret: String,
    /// The endpoint.
    #[serde(flatten)]
    pub endpoint: WebhookEndpointBody,
}

/// `GET /v1/webhook-endpoints/`
#[derive(Clone, Debug, Deserialize, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WebhookEndpointList {
    /// The endpoints, oldest first.
    pub results: Vec<WebhookEndpointBody>,
}

/// `POST /v1/webhook-endpoints/`
#[derive(Clone, Debug, Deserialize, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CreateWebhookEndpointRequest {
    /// An absolute `https://` (or `http://`) URL without user name or password. Its host must
    /// resolve to public addresses only, unless the operator allows private targets.
    #[cfg_attr(
        feature = "openapi",
        schema(
            max_length = 2048,
            pattern = "^https?://([A-Za-z0-9-]+\\.)*[A-Za-z][A-Za-z0-9-]*(:[1-9][0-9]{0,3})?(/[A-Za-z0-9._~/-]*)?$",
            example = "https://hooks.example.com/keywarden"
        )
    )]
    pub url: String,
    /// Event types to receive, or `["*"]` for every type, including types added later (a list holding `"*"` means every type).
    #[cfg_attr(
        feature = "openapi",
        schema(value_type = Vec<crate::names::EventSelectorName>, min_items = 1, example = json!(["key.revoked", "key.leaked"]))
    )]
    pub events: Vec<String>,
    /// What it is for, at most 200 characters.
    #[serde(default)]
    #[cfg_attr(
        feature = "openapi",
        schema(max_length = 200, example = "Security team's SIEM")
    )]
    pub description: Option<String>,
}

/// `PATCH /v1/webhook-endpoints/{id}/`: absent fields stay as they are.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(min_properties = 1))]
#[serde(deny_unknown_fields)]
pub struct UpdateWebhookEndpointRequest {
    // Absent and null mean the same to serde here, so the document allows no null: a field is
    // either sent with a value or left out.
    /// New URL (checked as on creation).
    #[serde(
        default,
        deserialize_with = "not_null",
        skip_serializing_if = "Option::is_none"
    )]
    #[cfg_attr(
        feature = "openapi",
        schema(
            nullable = false,
            max_length = 2048,
            pattern = "^https?://([A-Za-z0-9-]+\\.)*[A-Za-z][A-Za-z0-9-]*(:[1-9][0-9]{0,3})?(/[A-Za-z0-9._~/-]*)?$"
        )
    )]
    pub url: Option<String>,
    /// New description, at most 200 characters.
    #[serde(
        default,
        deserialize_with = "not_null",
        skip_serializing_if = "Option::is_none"
    )]
    #[cfg_attr(feature = "openapi", schema(nullable = false, max_length = 200))]
    pub description: Option<String>,
    /// New event types, or `["*"]`.
    #[serde(
        default,
        deserialize_with = "not_null",
        skip_serializing_if = "Option::is_none"
    )]
    #[cfg_attr(
        feature = "openapi",
        schema(value_type = Vec<crate::names::EventSelectorName>, nullable = false, min_items = 1)
    )]
    pub events: Option<Vec<String>>,
    /// `disabled` turns deliveries off; `active` turns them on again (also after `failing`).
    #[serde(
        default,
        deserialize_with = "not_null",
        skip_serializing_if = "Option::is_none"
    )]
    #[cfg_attr(feature = "openapi", schema(value_type = crate::names::EndpointSwitchName, nullable = false, example = "disabled"))]
    pub state: Option<String>,
}

/// `POST /v1/webhook-endpoints/{id}/rotate-secret/`
#[derive(Clone, Debug, Deserialize, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RotatedWebhookSecretBody {
    /// The new signing secret, shown this once.
    #[cfg_attr(
        feature = "openapi",
        schema(example = "whsec_RG9jc0V4YW1wbGVOb3RBUmVhbFNlY3JldDAwMDAwMDA=")
    )]
    pub secret: String,
    /// Until then every delivery also carries a signature with the previous secret, so
    /// receivers can switch without missing an event.
    #[serde(with = "time::serde::rfc3339")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime, example = "2026-11-03T09:30:00Z"))]
    pub previous_valid_until: OffsetDateTime,
}

/// `POST /v1/webhook-endpoints/{id}/test/` → 202
#[derive(Clone, Debug, Deserialize, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WebhookTestQueuedBody {
    /// The endpoint the test event goes to.
    pub endpoint_id: String,
    /// Always `webhook.test`.
    #[cfg_attr(feature = "openapi", schema(example = "webhook.test"))]
    pub event_type: String,
}

/// One attempt of the delivery log.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeliveryAttemptBody {
    /// The delivery (one event to this endpoint); retry it with
    /// `POST /v1/webhook-deliveries/{id}/retry/`.
    pub id: String,
    /// The event: its `webhook-id` header, the same on every attempt.
    pub event_id: String,
    /// The event's type.
    #[cfg_attr(feature = "openapi", schema(value_type = crate::names::EventTypeName, example = "key.revoked"))]
    pub event_type: String,
    /// 1 for the first attempt of the delivery.
    #[cfg_attr(feature = "openapi", schema(minimum = 1, example = 1))]
    pub attempt: u32,
    /// When the attempt started.
    #[serde(with = "time::serde::rfc3339")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime, example = "2026-11-02T09:30:00Z"))]
    pub at: OffsetDateTime,
    /// The HTTP status the endpoint answered, or null when no answer came.
    #[cfg_attr(feature = "openapi", schema(required, example = 200))]
    pub status: Option<u16>,
    /// What went wrong without an answer (timeout, refused connection, refused address), or
    /// null.
    #[cfg_attr(feature = "openapi", schema(required))]
    pub error: Option<String>,
    /// How long the attempt took, in milliseconds.
    #[cfg_attr(feature = "openapi", schema(example = 84))]
    pub duration_ms: u32,
    /// Where the delivery stands now: `pending`, `delivered` or `failed`.
    #[cfg_attr(feature = "openapi", schema(value_type = crate::names::DeliveryStateName, example = "delivered"))]
    pub state: String,
}

/// `GET /v1/webhook-endpoints/{id}/deliveries/`
#[derive(Clone, Debug, Deserialize, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeliveryAttemptPage {
    /// Attempts, newest first.
    pub results: Vec<DeliveryAttemptBody>,
    /// Pass as `cursor` for the next page; null on the last page.
    #[cfg_attr(feature = "openapi", schema(required))]
    pub next_cursor: Option<String>,
}

/// A delivery: one event to one endpoint.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeliveryBody {
    /// Id.
    pub id: String,
    /// The endpoint.
    pub endpoint_id: String,
    /// The event (its `webhook-id`).
    pub event_id: String,
    /// The event's type.
    #[cfg_attr(feature = "openapi", schema(value_type = crate::names::EventTypeName, example = "key.revoked"))]
    pub event_type: String,
    /// Attempts made so far.
    pub attempts: u32,
    /// `pending`, `delivered` or `failed`.
    #[cfg_attr(feature = "openapi", schema(value_type = crate::names::DeliveryStateName, example = "pending"))]
    pub state: String,
    /// When the next attempt is due (pending deliveries), or null.
    #[serde(with = "time::serde::rfc3339::option")]
    #[cfg_attr(feature = "openapi", schema(required, value_type = Option<String>, format = DateTime, example = "2026-11-02T09:30:00Z"))]
    pub next_attempt_at: Option<OffsetDateTime>,
    /// When the event was dispatched to the endpoint.
    #[serde(with = "time::serde::rfc3339")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime, example = "2026-11-02T09:30:00Z"))]
    pub created_at: OffsetDateTime,
}

/// A field that may be left out but not sent as `null`: present means a value.
fn not_null<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    T::deserialize(deserializer).map(Some)
}
