//! The change feed: what keeps every instance's in-memory key table current.

use super::StoreError;
use crate::digest::KeyDigest;
use crate::ids::{AccountId, KeyId};
use crate::key_format::{KeyKind, Mode};
use crate::key_policy::KeyPolicy;
use crate::key_record::{KeyRecord, Lifecycle};
use async_trait::async_trait;
use time::OffsetDateTime;

/// What the in-memory key table needs of a stored key, and nothing more: the change feed as
/// start-up reads it, 1e6 rows at a time on a large install, so no label, hint, links or
/// times the check never reads.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyTableRow {
    /// Position in the change feed.
    pub change_seq: i64,
    /// HMAC of the key.
    pub digest: KeyDigest,
    /// Record id.
    pub id: KeyId,
    /// Owning account.
    pub account_id: AccountId,
    /// Standard or restricted.
    pub kind: KeyKind,
    /// Test or live.
    pub mode: Mode,
    /// Canonical scope names (empty for standard keys).
    pub scopes: Vec<String>,
    /// What the last action made of the key.
    pub lifecycle: Lifecycle,
    /// Expiry, if any.
    pub expires_at: Option<OffsetDateTime>,
    /// When a revoked key was revoked, or when a rotated key's grace ends; `None` when active.
    pub stopped_at: Option<OffsetDateTime>,
    /// Allowlist, limits and metadata.
    pub policy: KeyPolicy,
}

impl KeyTableRow {
    /// The row of a full record (what the store's narrow query reads of it).
    pub fn of(record: &KeyRecord) -> Self {
        Self {
            change_seq: record.change_seq,
            digest: record.digest,
            id: record.id,
            account_id: record.account_id,
            kind: record.kind,
            mode: record.mode,
            scopes: record.scopes.clone(),
            lifecycle: record.lifecycle,
            expires_at: record.expires_at,
            stopped_at: record.stopped_at(),
            policy: record.policy.clone(),
        }
    }
}

/// The keys in the order they changed. Start-up reads it whole, the refresh loop reads its
/// tail, and an unknown key makes the table catch up with it.
#[async_trait]
pub trait KeyFeed: Send + Sync {
    /// Keys whose `change_seq` is above `after`, in ascending `change_seq` order, at most
    /// `limit`: the change feed that keeps every instance's key table current. Sequence
    /// numbers are assigned in commit order, so a reader never skips a change.
    async fn keys_changed_since(
        &self,
        after: i64,
        limit: u32,
    ) -> Result<Vec<KeyRecord>, StoreError>;

    /// The same feed as [`KeyFeed::keys_changed_since`], narrowed to what the key table needs
    /// ([`KeyTableRow::of`] of each record) and to `change_seq` at most `until` (`i64::MAX`:
    /// no bound): what start-up and the refresh loop read. Start-up reads two halves of the
    /// feed at once, each bounded by `until`.
    async fn key_table_since(
        &self,
        after: i64,
        until: i64,
        limit: u32,
    ) -> Result<Vec<KeyTableRow>, StoreError>;

    /// Where the feed ends now: the highest `change_seq` committed (0 if there is none).
    /// Everything up to it can be read, as numbers are assigned in commit order.
    async fn feed_end(&self) -> Result<i64, StoreError>;
}
