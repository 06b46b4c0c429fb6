//! Keys: issuing, rotating, revoking and changing them, and the console's views of them.

use super::StoreError;
use super::key_order::{KeyOrder, KeyPosition};
use crate::audit::AuditEvent;
use crate::ids::{AccountId, KeyId};
use crate::key_format::{KeyKind, Mode};
use crate::key_policy::KeyPolicy;
use crate::key_record::{KeyRecord, KeyStatus};
use async_trait::async_trait;
use time::OffsetDateTime;

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

/// A page of an account's keys, in `order` (SPEC §4 `GET /v1/api-keys/`).
#[derive(Clone, Debug, Default)]
pub struct KeyQuery {
    /// Only this kind.
    pub kind: Option<KeyKind>,
    /// Only this mode.
    pub mode: Option<Mode>,
    /// Only keys with this status at the `now` passed alongside (expired = lifecycle active
    /// and `expires_at <= now`; active = lifecycle active and not expired).
    pub status: Option<KeyStatus>,
    /// Case-insensitive substring of the label or the hint.
    pub search: Option<String>,
    /// Only canaries (`Some(true)`) or only keys that are not (`Some(false)`).
    pub canary: Option<bool>,
    /// The order; newest first unless asked otherwise.
    pub order: KeyOrder,
    /// Cursor: only keys after this position in `order` (the last key of the previous page).
    /// Its value must be of the order's kind ([`KeyOrder::fits`]), or the store refuses.
    pub after: Option<KeyPosition>,
    /// At most this many (the caller caps it).
    pub limit: u32,
}

/// Changes to a key's settings; `None` leaves a field as it is.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KeyUpdate {
    /// New label.
    pub label: Option<String>,
    /// New canonical scope names.
    pub scopes: Option<Vec<String>>,
    /// New expiry (`Some(None)` removes it).
    pub expires_at: Option<Option<OffsetDateTime>>,
    /// The key's whole new policy.
    pub policy: Option<KeyPolicy>,
}

/// An account's keys. Every change bumps the key's `change_seq`, so it reaches the change feed
/// ([`super::KeyFeed`]) and every instance's key table.
#[async_trait]
pub trait KeyStore: Send + Sync {
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

    /// Changes a key's label, scopes, expiry or policy and bumps its `change_seq`; returns the key as
    /// stored. A revoked key is a `Conflict`; another account's key is `NotFound`.
    async fn update_key(
        &self,
        account_id: AccountId,
        key_id: KeyId,
        update: &KeyUpdate,
        event: &AuditEvent,
    ) -> Result<KeyRecord, StoreError>;

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

    /// A page of an account's keys in the query's order, filtered as it says.
    async fn list_keys(
        &self,
        account_id: AccountId,
        query: &KeyQuery,
        now: OffsetDateTime,
    ) -> Result<Vec<KeyRecord>, StoreError>;

    /// Records last use times in one batch; never moves a time backwards. Does not bump
    /// `change_seq` (usage is not a change the key table needs).
    async fn record_last_used(&self, uses: &[(KeyId, OffsetDateTime)]) -> Result<(), StoreError>;

    /// How many keys are stored.
    async fn key_count(&self) -> Result<i64, StoreError>;
}
