//! Audit events: who did what to which key, when, from where. Written in the same transaction
//! as the change they describe; never contain a secret.

use crate::ids::{AccountId, EventId, KeyId, UserId};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// What happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Action {
    /// An account and its first admin were created.
    #[serde(rename = "account.created")]
    AccountCreated,
    /// A user was added.
    #[serde(rename = "user.created")]
    UserCreated,
    /// A key was issued.
    #[serde(rename = "key.created")]
    KeyCreated,
    /// A key was rotated.
    #[serde(rename = "key.rotated")]
    KeyRotated,
    /// A key was revoked.
    #[serde(rename = "key.revoked")]
    KeyRevoked,
    /// A key's label, scopes or expiry changed.
    #[serde(rename = "key.updated")]
    KeyUpdated,
    /// A key was reported leaked (SPEC §8): by a secret-scanning report or a pasted text.
    #[serde(rename = "key.leaked")]
    KeyLeaked,
    /// A canary key was presented (SPEC §8); the actor is the system, with the presenter's
    /// address and user agent.
    #[serde(rename = "key.canary_used")]
    KeyCanaryUsed,
    /// A user signed in.
    #[serde(rename = "auth.sign_in")]
    SignIn,
    /// A sign-in failed.
    #[serde(rename = "auth.sign_in_failed")]
    SignInFailed,
    /// A user's role changed.
    #[serde(rename = "user.role_changed")]
    UserRoleChanged,
    /// A user was removed (their sessions end at once).
    #[serde(rename = "user.removed")]
    UserRemoved,
    /// A user started setting up two-factor authentication.
    #[serde(rename = "2fa.setup_started")]
    TwoFactorSetupStarted,
    /// A user turned two-factor authentication on.
    #[serde(rename = "2fa.enabled")]
    TwoFactorEnabled,
    /// A one-time recovery code was used to sign in.
    #[serde(rename = "2fa.recovery_code_used")]
    RecoveryCodeUsed,
    /// A user turned two-factor authentication off (their console sessions end).
    #[serde(rename = "2fa.disabled")]
    TwoFactorDisabled,
    /// A user replaced their recovery codes with a new set (the old ones stop working).
    #[serde(rename = "2fa.recovery_codes_regenerated")]
    RecoveryCodesRegenerated,
    /// The account's policy changed.
    #[serde(rename = "account.updated")]
    AccountUpdated,
    /// A key will expire in 7 days or in 1 day (a scheduled event; the actor is the system).
    #[serde(rename = "key.expiring")]
    KeyExpiring,
    /// A key expired (a scheduled event).
    #[serde(rename = "key.expired")]
    KeyExpired,
    /// A key became older than the account's rotation period (a scheduled event).
    #[serde(rename = "key.rotation_due")]
    KeyRotationDue,
    /// A webhook endpoint was added.
    #[serde(rename = "webhook.endpoint_added")]
    WebhookEndpointAdded,
    /// A webhook endpoint's URL, events, description or state changed.
    #[serde(rename = "webhook.endpoint_updated")]
    WebhookEndpointUpdated,
    /// A webhook endpoint was removed.
    #[serde(rename = "webhook.endpoint_removed")]
    WebhookEndpointRemoved,
    /// A webhook endpoint's signing secret was rotated.
    #[serde(rename = "webhook.secret_rotated")]
    WebhookSecretRotated,
    /// A test event was sent to a webhook endpoint.
    #[serde(rename = "webhook.test_sent")]
    WebhookTestSent,
    /// An admin asked for a failed or pending webhook delivery to be tried again now.
    #[serde(rename = "webhook.delivery_retried")]
    WebhookDeliveryRetried,
}

impl Action {
    /// Storage and wire spelling.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::AccountCreated => "account.created",
            Self::UserCreated => "user.created",
            Self::KeyCreated => "key.created",
            Self::KeyRotated => "key.rotated",
            Self::KeyRevoked => "key.revoked",
            Self::KeyUpdated => "key.updated",
            Self::KeyLeaked => "key.leaked",
            Self::KeyCanaryUsed => "key.canary_used",
            Self::SignIn => "auth.sign_in",
            Self::SignInFailed => "auth.sign_in_failed",
            Self::UserRoleChanged => "user.role_changed",
            Self::UserRemoved => "user.removed",
            Self::TwoFactorSetupStarted => "2fa.setup_started",
            Self::TwoFactorEnabled => "2fa.enabled",
            Self::RecoveryCodeUsed => "2fa.recovery_code_used",
            Self::TwoFactorDisabled => "2fa.disabled",
            Self::RecoveryCodesRegenerated => "2fa.recovery_codes_regenerated",
            Self::AccountUpdated => "account.updated",
            Self::KeyExpiring => "key.expiring",
            Self::KeyExpired => "key.expired",
            Self::KeyRotationDue => "key.rotation_due",
            Self::WebhookEndpointAdded => "webhook.endpoint_added",
            Self::WebhookEndpointUpdated => "webhook.endpoint_updated",
            Self::WebhookEndpointRemoved => "webhook.endpoint_removed",
            Self::WebhookSecretRotated => "webhook.secret_rotated",
            Self::WebhookTestSent => "webhook.test_sent",
            Self::WebhookDeliveryRetried => "webhook.delivery_retried",
        }
    }

    /// Every action, for parsing and documentation.
    pub const ALL: [Action; 27] = [
        Self::AccountCreated,
        Self::UserCreated,
        Self::KeyCreated,
        Self::KeyRotated,
        Self::KeyRevoked,
        Self::KeyUpdated,
        Self::KeyLeaked,
        Self::KeyCanaryUsed,
        Self::SignIn,
        Self::SignInFailed,
        Self::UserRoleChanged,
        Self::UserRemoved,
        Self::TwoFactorSetupStarted,
        Self::TwoFactorEnabled,
        Self::RecoveryCodeUsed,
        Self::TwoFactorDisabled,
        Self::RecoveryCodesRegenerated,
        Self::AccountUpdated,
        Self::KeyExpiring,
        Self::KeyExpired,
        Self::KeyRotationDue,
        Self::WebhookEndpointAdded,
        Self::WebhookEndpointUpdated,
        Self::WebhookEndpointRemoved,
        Self::WebhookSecretRotated,
        Self::WebhookTestSent,
        Self::WebhookDeliveryRetried,
    ];

    /// Parses the storage and wire spelling.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.as_str() == name)
    }
}

/// Who acted, and from where.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Actor {
    /// The signed-in user, if any.
    pub user_id: Option<UserId>,
    /// Email of the user, or `operator (cli)`.
    pub label: String,
    /// Client address.
    pub ip: Option<String>,
    /// Client user agent.
    pub user_agent: Option<String>,
}

impl Actor {
    /// The operator at the command line.
    pub fn cli() -> Self {
        Self {
            label: "operator (cli)".into(),
            ..Self::default()
        }
    }

    /// Keywarden itself (scheduled events).
    pub fn system() -> Self {
        Self {
            label: SYSTEM_LABEL.into(),
            ..Self::default()
        }
    }

    /// Who this is, as a webhook's `data.actor.type` says it: `user`, `cli` or `system`.
    pub fn kind(&self) -> &'static str {
        match (self.user_id, self.label.as_str()) {
            (Some(_), _) => "user",
            (None, SYSTEM_LABEL) => "system",
            _ => "cli",
        }
    }
}

/// The label of [`Actor::system`].
const SYSTEM_LABEL: &str = "keywarden (system)";

/// One audit row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditEvent {
    /// Id.
    pub id: EventId,
    /// The account it concerns.
    pub account_id: AccountId,
    /// What happened.
    pub action: Action,
    /// Who did it.
    pub actor: Actor,
    /// The key concerned, if any.
    pub key_id: Option<KeyId>,
    /// A short description without secrets.
    pub detail: String,
    /// When.
    pub at: OffsetDateTime,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_action_round_trips_its_name_and_serde_agrees() {
        for action in Action::ALL {
            assert_eq!(Action::from_name(action.as_str()), Some(action));
            let json = serde_json::to_string(&action).unwrap();
            assert_eq!(json, format!("\"{}\"", action.as_str()));
        }
        assert_eq!(Action::from_name("key.exploded"), None);
    }
}
