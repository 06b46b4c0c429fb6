//! Accounts and their policy.

use super::StoreError;
use crate::account::{Account, User};
use crate::audit::AuditEvent;
use crate::ids::AccountId;
use crate::key_record::KeyRecord;
use async_trait::async_trait;

/// Accounts: created with their first admin, read, and given a new policy.
#[async_trait]
pub trait AccountStore: Send + Sync {
    /// Creates an account, its first admin and (optionally) keys, with their audit events.
    async fn create_account(
        &self,
        account: &Account,
        admin: &User,
        keys: &[KeyRecord],
        events: &[AuditEvent],
    ) -> Result<(), StoreError>;

    /// An account by id.
    async fn account(&self, id: AccountId) -> Result<Option<Account>, StoreError>;

    /// Stores an account's new policy (`require_2fa_for_keys`, `rotation_period_days`).
    async fn update_account(&self, account: &Account, event: &AuditEvent)
    -> Result<(), StoreError>;

    /// How many accounts exist (0 on a fresh install).
    async fn account_count(&self) -> Result<i64, StoreError>;
}
