//! The people of an account: their records, roles and removal.

use super::StoreError;
use crate::account::{Role, User};
use crate::audit::AuditEvent;
use crate::ids::{AccountId, UserId};
use async_trait::async_trait;

/// Users. Rules that span rows (one identity per email, the last admin) hold under
/// concurrent requests.
#[async_trait]
pub trait UserStore: Send + Sync {
    /// Adds a user. An email already in use is a `Conflict`.
    async fn insert_user(&self, user: &User, event: &AuditEvent) -> Result<(), StoreError>;

    /// A user by id.
    async fn user(&self, id: UserId) -> Result<Option<User>, StoreError>;

    /// A user by normalised email.
    async fn user_by_email(&self, email: &str) -> Result<Option<User>, StoreError>;

    /// The users of an account, oldest first.
    async fn users_of_account(&self, account_id: AccountId) -> Result<Vec<User>, StoreError>;

    /// Changes a user's role. `Conflict("last_admin")` if it would leave the account without
    /// an admin (checked in the same transaction, so two admins demoting each other at once
    /// cannot both succeed). Bumps the user's `session_version`, so tokens carrying the old role
    /// end.
    async fn update_user_role(
        &self,
        account_id: AccountId,
        user_id: UserId,
        role: Role,
        event: &AuditEvent,
    ) -> Result<User, StoreError>;

    /// Removes a user; their sessions end at once. Keys they created stay with the account.
    /// `Conflict("last_admin")` if they are the account's last admin.
    async fn delete_user(
        &self,
        account_id: AccountId,
        user_id: UserId,
        event: &AuditEvent,
    ) -> Result<(), StoreError>;
}
