//! The closed sets of words some string fields take, as the OpenAPI document lists them
//! (`enum`). The fields stay strings, so a wrong word gets the server's own 400 that names the
//! field and the words it takes; a test in the server checks each set is exactly what its
//! validator accepts.

use serde::{Deserialize, Serialize};

/// A key's mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum ModeName {
    /// Test traffic.
    Test,
    /// Live traffic.
    Live,
}

/// A user's role in their account.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum RoleName {
    /// Manages keys, users and the account policy.
    Admin,
    /// Manages keys.
    Developer,
    /// Signs in; sees no keys.
    Member,
}

/// A key's status.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum StatusName {
    /// Works.
    Active,
    /// Past its expiry.
    Expired,
    /// Revoked.
    Revoked,
    /// Replaced by rotation.
    Rotated,
}

/// A key's kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum KindName {
    /// `sk_…`
    Standard,
    /// `rk_…`
    Restricted,
}

/// An event type of the webhooks (SPEC §7).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum EventTypeName {
    /// A key was issued.
    #[serde(rename = "key.created")]
    KeyCreated,
    /// A key's label, scopes or expiry changed.
    #[serde(rename = "key.updated")]
    KeyUpdated,
    /// A key was rotated.
    #[serde(rename = "key.rotated")]
    KeyRotated,
    /// A key was revoked.
    #[serde(rename = "key.revoked")]
    KeyRevoked,
    /// A key expires in 7 days, or in 1 day.
    #[serde(rename = "key.expiring")]
    KeyExpiring,
    /// A key expired.
    #[serde(rename = "key.expired")]
    KeyExpired,
    /// A key became older than the account's rotation period.
    #[serde(rename = "key.rotation_due")]
    KeyRotationDue,
    /// A key was found leaked.
    #[serde(rename = "key.leaked")]
    KeyLeaked,
    /// A canary key was used.
    #[serde(rename = "key.canary_used")]
    KeyCanaryUsed,
    /// A user was added.
    #[serde(rename = "user.added")]
    UserAdded,
    /// A user was removed.
    #[serde(rename = "user.removed")]
    UserRemoved,
    /// A user's role changed.
    #[serde(rename = "user.role_changed")]
    UserRoleChanged,
    /// The account's policy changed.
    #[serde(rename = "account.updated")]
    AccountUpdated,
    /// Sent on request, to try an endpoint.
    #[serde(rename = "webhook.test")]
    WebhookTest,
}

/// What an endpoint subscribes to: an event type, or `*` (alone) for every type, including
/// types added later.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum EventSelectorName {
    /// Every type.
    #[serde(rename = "*")]
    All,
    /// `key.created`
    #[serde(rename = "key.created")]
    KeyCreated,
    /// `key.updated`
    #[serde(rename = "key.updated")]
    KeyUpdated,
    /// `key.rotated`
    #[serde(rename = "key.rotated")]
    KeyRotated,
    /// `key.revoked`
    #[serde(rename = "key.revoked")]
    KeyRevoked,
    /// `key.expiring`
    #[serde(rename = "key.expiring")]
    KeyExpiring,
    /// `key.expired`
    #[serde(rename = "key.expired")]
    KeyExpired,
    /// `key.rotation_due`
    #[serde(rename = "key.rotation_due")]
    KeyRotationDue,
    /// `key.leaked`
    #[serde(rename = "key.leaked")]
    KeyLeaked,
    /// `key.canary_used`
    #[serde(rename = "key.canary_used")]
    KeyCanaryUsed,
    /// `user.added`
    #[serde(rename = "user.added")]
    UserAdded,
    /// `user.removed`
    #[serde(rename = "user.removed")]
    UserRemoved,
    /// `user.role_changed`
    #[serde(rename = "user.role_changed")]
    UserRoleChanged,
    /// `account.updated`
    #[serde(rename = "account.updated")]
    AccountUpdated,
    /// `webhook.test`
    #[serde(rename = "webhook.test")]
    WebhookTest,
}

/// Whether a webhook endpoint receives events.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum EndpointStateName {
    /// Deliveries are sent.
    Active,
    /// A delivery ran out of retries; deliveries are still sent, and the next success makes
    /// the endpoint active again.
    Failing,
    /// Turned off by an admin: nothing is sent.
    Disabled,
}

/// The states an admin sets on a webhook endpoint (`failing` is set by delivery).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum EndpointSwitchName {
    /// Turn it on (also after it was `failing`).
    Active,
    /// Turn it off.
    Disabled,
}

/// Where one event's delivery to one endpoint stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum DeliveryStateName {
    /// Waiting for its next attempt.
    Pending,
    /// A 2xx answer arrived.
    Delivered,
    /// Every attempt failed; an admin may retry it.
    Failed,
}

/// The period of a usage limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum UsagePeriodName {
    /// A calendar day, UTC.
    Day,
    /// A calendar month, UTC.
    Month,
    /// The key's whole life: never resets.
    Total,
}

/// What a leak report does to a key (SPEC §8).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum LeakActionName {
    /// Revoke the key at once.
    Revoke,
    /// Record the leak and tell the account; the key keeps working.
    Notify,
}

/// GitHub's feedback label for a reported token (SPEC §8).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum LeakLabelName {
    /// A key of this Keywarden, whatever its status.
    TruePositive,
    /// Not a key of this Keywarden.
    FalsePositive,
}

/// The order of a key listing (`order` of `GET /v1/api-keys/`): a field, ascending, or with a
/// leading `-`, descending. Ties are broken by the key's id, in the same direction.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum KeyOrderName {
    /// Oldest first.
    #[serde(rename = "created_at")]
    CreatedAt,
    /// Newest first (the default).
    #[serde(rename = "-created_at")]
    CreatedAtDesc,
    /// By label, A to Z (ASCII letters compared without case).
    #[serde(rename = "label")]
    Label,
    /// By label, Z to A.
    #[serde(rename = "-label")]
    LabelDesc,
    /// Soonest expiry first; keys that never expire last.
    #[serde(rename = "expires_at")]
    ExpiresAt,
    /// Latest expiry first; keys that never expire last.
    #[serde(rename = "-expires_at")]
    ExpiresAtDesc,
    /// Least recently used first; keys never used last.
    #[serde(rename = "last_used_at")]
    LastUsedAt,
    /// Most recently used first; keys never used last.
    #[serde(rename = "-last_used_at")]
    LastUsedAtDesc,
}
