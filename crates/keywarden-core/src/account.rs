//! Accounts (tenants) and the people who sign into their console.

use crate::account_key_policy::AccountKeyPolicy;
use crate::ids::{AccountId, UserId};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// Default rotation period: the seeds' "every 90 days".
pub const DEFAULT_ROTATION_PERIOD_DAYS: u32 = 90;

/// A customer organisation. Nothing of one account is visible to another.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Account {
    /// Id.
    pub id: AccountId,
    /// Display name.
    pub name: String,
    /// Creation time.
    pub created_at: OffsetDateTime,
    /// Users without 2FA may not create, rotate or revoke keys.
    pub require_2fa_for_keys: bool,
    /// Keys older than this many days are flagged `rotation_due`.
    pub rotation_period_days: u32,
    /// The rules its keys must meet (SPEC §9).
    pub key_policy: AccountKeyPolicy,
}

/// What a user may do in their account.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Manages keys, users and account policy.
    Admin,
    /// Manages keys.
    Developer,
    /// Signs in; may not see keys.
    Member,
}

impl Role {
    /// Wire and storage spelling.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Admin => "admin",
            Self::Developer => "developer",
            Self::Member => "member",
        }
    }

    /// Parses the wire and storage spelling.
    pub fn from_name(s: &str) -> Option<Self> {
        match s {
            "admin" => Some(Self::Admin),
            "developer" => Some(Self::Developer),
            "member" => Some(Self::Member),
            _ => None,
        }
    }

    /// Whether this role may see and manage API keys.
    pub const fn manages_keys(self) -> bool {
        matches!(self, Self::Admin | Self::Developer)
    }
}

/// A console user.
#[derive(Clone, PartialEq, Eq)]
pub struct User {
    /// Id.
    pub id: UserId,
    /// Owning account.
    pub account_id: AccountId,
    /// Sign-in name, stored lower-case; unique across all accounts.
    pub email: String,
    /// argon2id PHC string.
    pub password_hash: String,
    /// Role in the account.
    pub role: Role,
    /// Whether TOTP is on.
    pub two_factor_enabled: bool,
    /// Bumped to end every console session of the user at once.
    pub session_version: i64,
    /// Creation time.
    pub created_at: OffsetDateTime,
}

impl std::fmt::Debug for User {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("User")
            .field("id", &self.id)
            .field("account_id", &self.account_id)
            .field("email", &self.email)
            .field("role", &self.role)
            .field("two_factor_enabled", &self.two_factor_enabled)
            .finish_non_exhaustive()
    }
}

/// Normalises an email for storage and lookup; `None` if it is not plausibly an address.
pub fn normalize_email(email: &str) -> Option<String> {
    let email = email.trim().to_lowercase();
    let (local, domain) = email.split_once('@')?;
    let plausible = !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && email.len() <= 254
        && !email.chars().any(|c| c.is_whitespace() || c.is_control());
    plausible.then_some(email)
}
