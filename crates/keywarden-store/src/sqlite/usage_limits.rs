//! [`UsageLimitStore`] on SQLite: `usage_counts`, one row per key and period, added to by an
//! upsert in one write transaction per batch.

use super::codec::{id_text, micros};
use super::errors::map_sqlx;
use super::{SqliteStore, commit};
use async_trait::async_trait;
use keywarden_core::store::{PeriodCount, StoreError, UsageLimitStore};
use time::OffsetDateTime;

#[async_trait]
impl UsageLimitStore for SqliteStore {
    async fn add_usage(&self, counts: &[PeriodCount]) -> Result<Vec<u64>, StoreError> {
        let mut totals = Vec::with_capacity(counts.len());
        if counts.is_empty() {
            return Ok(totals);
        }
        let mut tx = self.begin_write().await?;
        for c in counts {
            let key = id_text(c.key_id.0);
            let start = micros(c.period_start)?;
            let total: Option<i64> = if c.count == 0 {
                sqlx::query_scalar(
                    "SELECT count FROM usage_counts WHERE key_id = ? AND period_start = ?",
                )
                .bind(key)
                .bind(start)
                .fetch_optional(&mut *tx)
                .await
                .map_err(map_sqlx)?
            } else {
                let add = i64::try_from(c.count).unwrap_or(i64::MAX);
                sqlx::query_scalar(
                    "INSERT INTO usage_counts (key_id, period_start, count) VALUES (?, ?, ?) \
                     ON CONFLICT (key_id, period_start) DO UPDATE SET count = count + excluded.count \
                     RETURNING count",
                )
                .bind(key)
                .bind(start)
                .bind(add)
                .fetch_optional(&mut *tx)
                .await
                .map_err(map_sqlx)?
            };
            totals.push(total.map_or(0, |t| u64::try_from(t).unwrap_or(0)));
        }
        commit(tx).await?;
        Ok(totals)
    }

    async fn prune_usage(&self, before: OffsetDateTime) -> Result<u64, StoreError> {
        let mut tx = self.begin_write().await?;
        // 0 is the period of limits over a key's whole life: never pruned.
        let done =
            sqlx::query("DELETE FROM usage_counts WHERE period_start > 0 AND period_start < ?")
                .bind(micros(before)?)
                .execute(&mut *tx)
                .await
                .map_err(map_sqlx)?;
        commit(tx).await?;
        Ok(done.rows_affected())
    }
}
