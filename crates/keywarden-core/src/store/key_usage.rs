//! How keys are used (SPEC §10): verifications per key, per hour, per outcome and per product,
//! and the client addresses they came from. Instances count in memory
//! ([`crate::key_usage::UsageTally`]) and add their counts here in batches; several instances
//! add up, never overwrite. Kept 90 days.

use super::StoreError;
use crate::ids::{AccountId, KeyId};
use async_trait::async_trait;
use std::net::IpAddr;

/// Requests of one key in one hour with one outcome on one product and access.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UsageCount {
    /// The key.
    pub key_id: KeyId,
    /// Its account (usage is read per account too).
    pub account_id: AccountId,
    /// Hours since the Unix epoch.
    pub hour: i64,
    /// `allowed` or the refusal's code.
    pub outcome: &'static str,
    /// The product's id, `*` for every product, empty for none (a verification that asked
    /// for no scope).
    pub product: String,
    /// `read`, `write`, or empty with no product.
    pub access: &'static str,
    /// Requests to add (negative: a correction, see [`crate::key_usage::UsageTally::overrule`]).
    pub count: i64,
}

/// Requests of one key from one client address in one hour.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AddressCount {
    /// The key.
    pub key_id: KeyId,
    /// Its account.
    pub account_id: AccountId,
    /// Hours since the Unix epoch.
    pub hour: i64,
    /// The client's address; `None` for addresses not told apart under a flood of them.
    pub address: Option<IpAddr>,
    /// Allowed requests to add (may be negative, as a correction).
    pub allowed: i64,
    /// Refused requests to add.
    pub refused: i64,
    /// The latest of them, in Unix milliseconds.
    pub last_seen_ms: i64,
}

/// One batch from an instance: the counts, and each key's last successful client address.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UsageBatch {
    /// Counts per key, hour, outcome and product.
    pub counts: Vec<UsageCount>,
    /// Counts per key, hour and address.
    pub addresses: Vec<AddressCount>,
    /// Each key's latest allowed use in the batch: (key, address, Unix milliseconds).
    pub last_ips: Vec<(KeyId, IpAddr, i64)>,
}

impl UsageBatch {
    /// Whether there is nothing to write.
    pub fn is_empty(&self) -> bool {
        self.counts.is_empty() && self.addresses.is_empty()
    }
}

/// Which usage to read: one account's, or one of its keys', over `[from_hour, to_hour)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UsageQuery {
    /// The account.
    pub account_id: AccountId,
    /// One key of it, or all of them.
    pub key_id: Option<KeyId>,
    /// First hour (hours since the Unix epoch).
    pub from_hour: i64,
    /// The hour after the last.
    pub to_hour: i64,
    /// Hours per bucket of the series (1 or 24).
    pub bucket_hours: i64,
}

/// Requests in one bucket with one outcome on one product and access.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UsageRow {
    /// The bucket's first hour.
    pub bucket: i64,
    /// `allowed` or a refusal's code.
    pub outcome: String,
    /// The product's id, `*`, or empty.
    pub product: String,
    /// `read`, `write` or empty.
    pub access: String,
    /// Requests.
    pub count: u64,
}

/// Requests from one client address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AddressRow {
    /// The address, as stored.
    pub address: String,
    /// Allowed requests.
    pub allowed: u64,
    /// Refused requests.
    pub refused: u64,
    /// The latest, in Unix milliseconds.
    pub last_seen_ms: i64,
}

/// One key's requests over a range.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyTraffic {
    /// The key.
    pub key_id: KeyId,
    /// Every request.
    pub requests: u64,
    /// Allowed requests.
    pub allowed: u64,
}

/// Usage counts.
#[async_trait]
pub trait KeyUsageStore: Send + Sync {
    /// Adds a batch (in one transaction) and records each key's last successful address.
    async fn add_key_usage(&self, batch: &UsageBatch) -> Result<(), StoreError>;

    /// Requests per bucket, outcome, product and access.
    async fn usage_rows(&self, query: &UsageQuery) -> Result<Vec<UsageRow>, StoreError>;

    /// Client addresses over the range, most requests first (only those with allowed requests
    /// when `allowed_only`), at most `limit`; and how many distinct addresses there were.
    async fn usage_addresses(
        &self,
        query: &UsageQuery,
        allowed_only: bool,
        limit: u32,
    ) -> Result<(Vec<AddressRow>, u64), StoreError>;

    /// The account's keys with requests in the range, most requests first, at most `limit`.
    async fn usage_by_key(
        &self,
        query: &UsageQuery,
        limit: u32,
    ) -> Result<Vec<KeyTraffic>, StoreError>;

    /// The address of each given key's last successful use (keys never used are left out).
    async fn last_used_ips(
        &self,
        account_id: AccountId,
        keys: &[KeyId],
    ) -> Result<Vec<(KeyId, String)>, StoreError>;

    /// Deletes counts of hours before `before_hour`.
    async fn prune_key_usage(&self, before_hour: i64) -> Result<u64, StoreError>;
}
