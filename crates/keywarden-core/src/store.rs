//! The storage interface. One implementation per backend lives in `keywarden-store`; the
//! domain services and the HTTP layer see only this trait.
//!
//! Every method that changes something takes the audit events that describe the change and
//! writes both in one transaction: if the events cannot be written, nothing changes.

use crate::account::{Account, User};
use crate::audit::AuditEvent;
use crate::ids::{AccountId, KeyId, UserId};
use crate::key_format::{KeyKind, Mode};
use crate::key_record::KeyRecord;
use async_trait::async_trait;
use time::OffsetDateTime;

/// What can go wrong in storage, in terms the layers above can act on.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The row to change does not exist (or belongs to another account).
    #[error("not found")]
    NotFound,
    /// A uniqueness rule or a concurrent change got there first. The text names the rule.
    #[error("conflict: {0}")]
    Conflict(String),
    /// The database cannot be reached or is overloaded; worth retrying.
    #[error("storage unavailable: {0}")]
    Unavailable(String),
    /// A stored row could not be read back, or any other failure.
    #[error("storage failure: {0}")]
    Other(String),
}

/// A rotation: the old key stops being current and the new key takes its place.
#[derive(Debug)]
pub struct Rotation<'a> {
    /// The key being replaced; must still be `active`, or the rotation conflicts.
    pub old_key: KeyId,
    /// Its account (a key of another account is `NotFound`).
    pub account_id: AccountId,
    /// When the rotation happened.
    pub at: OffsetDateTime,
    /// The old key works until then (equal to `at` when it stops at once).
    pub old_grace_until: OffsetDateTime,
    /// The successor, whose `replaces` names the old key.
    pub new_key: &'a KeyRecord,
}

/// Filters for listing an account's keys.
#[derive(Clone, Debug, Default)]
pub struct KeyFilter {
    /// Only this kind.
    pub kind: Option<KeyKind>,
    /// Only this mode.
    pub mode: Option<Mode>,
    /// Only keys whose lifecycle is `active` (expiry is decided by the caller).
    pub only_active: bool,
}

/// The persistent store.
#[async_trait]
pub trait Store: Send + Sync + std::fmt::Debug {
    /// Creates an account, its first admin and (optionally) keys, with their audit events.
    async fn create_account(
        &self,
        account: &Account,
        admin: &User,
        keys: &[KeyRecord],
        events: &[AuditEvent],
    ) -> Result<(), StoreError>;

    /// Adds a user. An email already in use is a `Conflict`.
    async fn insert_user(&self, user: &User, event: &AuditEvent) -> Result<(), StoreError>;

    /// Issues new keys. A second active standard key for an account and mode is a `Conflict`.
    async fn insert_keys(
        &self,
        keys: &[KeyRecord],
        events: &[AuditEvent],
    ) -> Result<(), StoreError>;

    /// Rotates a key atomically. If the old key is no longer `active` (another rotation or a
    /// revocation won), nothing changes and the answer is `Conflict`.
    async fn rotate_key(
        &self,
        rotation: &Rotation<'_>,
        event: &AuditEvent,
    ) -> Result<(), StoreError>;

    /// Revokes a key of the account. Already revoked is a `Conflict`.
    async fn revoke_key(
        &self,
        account_id: AccountId,
        key_id: KeyId,
        at: OffsetDateTime,
        event: &AuditEvent,
    ) -> Result<(), StoreError>;

    /// An account by id.
    async fn account(&self, id: AccountId) -> Result<Option<Account>, StoreError>;

    /// A user by id.
    async fn user(&self, id: UserId) -> Result<Option<User>, StoreError>;

    /// A user by normalised email.
    async fn user_by_email(&self, email: &str) -> Result<Option<User>, StoreError>;

    /// One key of an account.
    async fn key(
        &self,
        account_id: AccountId,
        key_id: KeyId,
    ) -> Result<Option<KeyRecord>, StoreError>;

    /// An account's keys, newest first.
    async fn keys_of_account(
        &self,
        account_id: AccountId,
        filter: &KeyFilter,
    ) -> Result<Vec<KeyRecord>, StoreError>;

    /// Keys whose `change_seq` is above `after`, in ascending `change_seq` order, at most
    /// `limit`: the change feed that keeps every instance's key table current. Sequence
    /// numbers are assigned in commit order, so a reader never skips a change.
    async fn keys_changed_since(
        &self,
        after: i64,
        limit: u32,
    ) -> Result<Vec<KeyRecord>, StoreError>;

    /// Records last use times in one batch; never moves a time backwards. Does not bump
    /// `change_seq` (usage is not a change the key table needs).
    async fn record_last_used(&self, uses: &[(KeyId, OffsetDateTime)]) -> Result<(), StoreError>;

    /// Audit events of an account, newest first.
    async fn audit_events(
        &self,
        account_id: AccountId,
        limit: u32,
    ) -> Result<Vec<AuditEvent>, StoreError>;

    /// Appends an audit event on its own (sign-ins).
    async fn insert_event(&self, event: &AuditEvent) -> Result<(), StoreError>;

    /// How many keys are stored.
    async fn key_count(&self) -> Result<i64, StoreError>;

    /// The fingerprint of the server secret the stored keys were hashed under, if recorded.
    async fn secret_fingerprint(&self) -> Result<Option<String>, StoreError>;

    /// Records the fingerprint of the server secret.
    async fn set_secret_fingerprint(&self, fingerprint: &str) -> Result<(), StoreError>;

    /// A cheap round trip, for readiness.
    async fn ping(&self) -> Result<(), StoreError>;
}
