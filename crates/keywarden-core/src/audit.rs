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
    /// The account's policy changed.
    #[serde(rename = "account.updated")]
    AccountUpdated,
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
            Self::SignIn => "auth.sign_in",
            Self::SignInFailed => "auth.sign_in_failed",
            Self::UserRoleChanged => "user.role_changed",
            Self::UserRemoved => "user.removed",
            Self::TwoFactorSetupStarted => "2fa.setup_started",
            Self::TwoFactorEnabled => "2fa.enabled",
            Self::RecoveryCodeUsed => "2fa.recovery_code_used",
            Self::AccountUpdated => "account.updated",
        }
    }

    /// Every action, for parsing and documentation.
    pub const ALL: [Action; 14] = [
        Self::AccountCreated,
        Self::UserCreated,
        Self::KeyCreated,
        Self::KeyRotated,
        Self::KeyRevoked,
        Self::KeyUpdated,
        Self::SignIn,
        Self::SignInFailed,
        Self::UserRoleChanged,
        Self::UserRemoved,
        Self::TwoFactorSetupStarted,
        Self::TwoFactorEnabled,
        Self::RecoveryCodeUsed,
        Self::AccountUpdated,
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
}

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
