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
        }
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
