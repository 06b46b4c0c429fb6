//! [`UsageLimitStore`] on PostgreSQL: `usage_counts`, added to by an upsert, so instances
//! flushing at the same moment add to one another's counts rather than overwrite them.

use super::PostgresStore;
use super::codec::pg_time;
use async_trait::async_trait;
use keywarden_core::store::{PeriodCount, StoreError, UsageLimitStore};
use time::OffsetDateTime;

#[async_trait]
impl UsageLimitStore for PostgresStore {
    async fn add_usage(&self, counts: &[PeriodCount]) -> Result<Vec<u64>, StoreError> {
        if counts.is_empty() {
            return Ok(Vec::new());
        }
        in_transaction!(self, |tx| {
            let mut totals = Vec::with_capacity(counts.len());
            for c in counts {
                let total: Option<i64> = if c.count == 0 {
                    sqlx::query_scalar(
                        "SELECT count FROM usage_counts WHERE key_id = $1 AND period_start = $2",
                    )
                    .bind(c.key_id.0)
                    .bind(pg_time(c.period_start))
                    .fetch_optional(&mut *tx)
                    .await?
                } else {
                    sqlx::query_scalar(
                        "INSERT INTO usage_counts (key_id, period_start, count) VALUES ($1, $2, $3) \
                         ON CONFLICT (key_id, period_start) \
                         DO UPDATE SET count = usage_counts.count + excluded.count \
                         RETURNING count",
                    )
                    .bind(c.key_id.0)
                    .bind(pg_time(c.period_start))
                    .bind(i64::try_from(c.count).unwrap_or(i64::MAX))
                    .fetch_optional(&mut *tx)
                    .await?
                };
                totals.push(total.map_or(0, |t| u64::try_from(t).unwrap_or(0)));
            }
            Ok(totals)
        })
    }

    async fn prune_usage(&self, before: OffsetDateTime) -> Result<u64, StoreError> {
        in_transaction!(self, |tx| {
            // The epoch is the period of limits over a key's whole life: never pruned.
            let done = sqlx::query(
                "DELETE FROM usage_counts WHERE period_start > 'epoch' AND period_start < $1",
            )
            .bind(pg_time(before))
            .execute(&mut *tx)
            .await?;
            Ok(done.rows_affected())
        })
    }
}
