//! Leaked keys (SPEC §8): finding a reported key by its digest, whatever its account, and
//! recording a leak on it, revoking it in the same transaction when the account says so.

use super::StoreError;
use crate::audit::AuditEvent;
use crate::digest::KeyDigest;
use crate::ids::{AccountId, KeyId};
use crate::key_record::{KeyRecord, Leak};
use async_trait::async_trait;
use time::OffsetDateTime;

/// A leak to record on a key that is not revoked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeakChange<'a> {
    /// The key's account (a key of another account is `NotFound`).
    pub account_id: AccountId,
    /// The key.
    pub key_id: KeyId,
    /// When and where it was reported. The key keeps its first report: a key already marked
    /// leaked keeps its `leaked_at`, and its `leak_url` unless it had none.
    pub leak: &'a Leak,
    /// Revoke it too, at `leak.at` (the account's `leak_action` is `revoke`).
    pub revoke: bool,
}

/// How often a canary key has been tripped (SPEC §8).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CanaryTrips {
    /// The canary.
    pub key_id: KeyId,
    /// Presentations recorded (at most one per client address a minute and instance).
    pub tripped_count: u64,
    /// The latest one.
    pub last_tripped_at: OffsetDateTime,
}

/// Leak reports. Unlike every other lookup, [`LeakStore::keys_by_digest`] crosses accounts:
/// the caller holds the secret itself (a scanning report, a pasted text), which is what the
/// digest is made from, so it names one key however it was found, as on the verify path.
#[async_trait]
pub trait LeakStore: Send + Sync {
    /// The stored keys with these digests, whatever their account and status (at most one
    /// per digest, in no particular order; digests of no key are left out).
    async fn keys_by_digest(&self, digests: &[KeyDigest]) -> Result<Vec<KeyRecord>, StoreError>;

    /// Marks a key leaked and, if asked, revokes it, with its audit events, in one transaction
    /// that gives it a fresh `change_seq` (the change feed carries a revocation to every
    /// instance); returns the key as stored. A key revoked meanwhile is a `Conflict` and
    /// nothing changes; another account's key is `NotFound`.
    async fn record_leak(
        &self,
        change: &LeakChange<'_>,
        events: &[AuditEvent],
    ) -> Result<KeyRecord, StoreError>;

    /// Records one presentation of a canary: its `key.canary_used` audit event (`event`, whose
    /// `key_id` and `account_id` name the canary) and one more trip at `event.at`, in one
    /// transaction. The key itself is not changed.
    async fn record_canary_trip(&self, event: &AuditEvent) -> Result<(), StoreError>;

    /// The trips of those of `keys` (keys of `account_id`) that have been tripped.
    async fn canary_trips(
        &self,
        account_id: AccountId,
        keys: &[KeyId],
    ) -> Result<Vec<CanaryTrips>, StoreError>;
}
