//! The counts behind keys' usage limits (SPEC §9): how many requests each key has been allowed
//! in its current period, summed over every instance. Instances count in memory and add their
//! counts here in batches, never a write per request.

use super::StoreError;
use crate::ids::KeyId;
use async_trait::async_trait;
use time::OffsetDateTime;

/// Requests a key was allowed in one period since the last batch (0: only read the total).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PeriodCount {
    /// The key.
    pub key_id: KeyId,
    /// The start of its usage limit's period (the Unix epoch for `total`).
    pub period_start: OffsetDateTime,
    /// Requests to add.
    pub count: u64,
}

/// Usage-limit counts.
#[async_trait]
pub trait UsageLimitStore: Send + Sync {
    /// Adds each count to its key's period (in one transaction) and returns every period's
    /// total afterwards, in the order given; a count of 0 only reads.
    async fn add_usage(&self, counts: &[PeriodCount]) -> Result<Vec<u64>, StoreError>;

    /// Deletes the counts of periods that started before `before` (finished days and months).
    async fn prune_usage(&self, before: OffsetDateTime) -> Result<u64, StoreError>;
}
