//! [`KeyUsageStore`] on SQLite: `key_usage`, `key_usage_addresses` and `key_last_use`
//! (migration 0007), added to by upserts in one write transaction per batch, and read grouped
//! by bucket in SQL so a range of 90 days is one indexed scan.

use super::codec::id_text;
use super::errors::map_sqlx;
use super::{SqliteStore, commit};
use async_trait::async_trait;
use keywarden_core::ids::{AccountId, KeyId};
use keywarden_core::store::{
    AddressRow, KeyTraffic, KeyUsageStore, StoreError, UsageBatch, UsageQuery, UsageRow,
};
use sqlx::Row;
use uuid::Uuid;

/// The rows a query reads: one key's (its primary key's prefix) or the account's (an index).
fn range_filter(query: &UsageQuery) -> &'static str {
    if query.key_id.is_some() {
        "key_id = ?1 AND account_id = ?2 AND hour >= ?3 AND hour < ?4"
    } else {
        "account_id = ?2 AND hour >= ?3 AND hour < ?4 AND ?1 IS NULL"
    }
}

fn count(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}

#[async_trait]
impl KeyUsageStore for SqliteStore {
    async fn add_key_usage(&self, batch: &UsageBatch) -> Result<(), StoreError> {
        if batch.is_empty() {
            return Ok(());
        }
        let mut tx = self.begin_write().await?;
        for c in &batch.counts {
            sqlx::query(
                "INSERT INTO key_usage (key_id, account_id, hour, outcome, product, access, count) \
                 VALUES (?, ?, ?, ?, ?, ?, ?) \
                 ON CONFLICT (key_id, hour, outcome, product, access) \
                 DO UPDATE SET count = count + excluded.count",
            )
            .bind(id_text(c.key_id.0))
            .bind(id_text(c.account_id.0))
            .bind(c.hour)
            .bind(c.outcome)
            .bind(&c.product)
            .bind(c.access)
            .bind(c.count)
            .execute(&mut *tx)
            .await
            .map_err(map_sqlx)?;
        }
        for a in &batch.addresses {
            sqlx::query(
                "INSERT INTO key_usage_addresses \
                 (key_id, account_id, hour, address, allowed, refused, last_seen_ms) \
                 VALUES (?, ?, ?, ?, ?, ?, ?) \
                 ON CONFLICT (key_id, hour, address) DO UPDATE SET \
                 allowed = allowed + excluded.allowed, refused = refused + excluded.refused, \
                 last_seen_ms = max(last_seen_ms, excluded.last_seen_ms)",
            )
            .bind(id_text(a.key_id.0))
            .bind(id_text(a.account_id.0))
            .bind(a.hour)
            .bind(a.address.map(|ip| ip.to_string()).unwrap_or_default())
            .bind(a.allowed)
            .bind(a.refused)
            .bind(a.last_seen_ms)
            .execute(&mut *tx)
            .await
            .map_err(map_sqlx)?;
        }
        for (key, address, at) in &batch.last_ips {
            sqlx::query(
                "INSERT INTO key_last_use (key_id, account_id, address, used_at_ms) \
                 SELECT id, account_id, ?2, ?3 FROM api_keys WHERE id = ?1 \
                 ON CONFLICT (key_id) DO UPDATE SET \
                 address = excluded.address, used_at_ms = excluded.used_at_ms \
                 WHERE excluded.used_at_ms > key_last_use.used_at_ms",
            )
            .bind(id_text(key.0))
            .bind(address.to_string())
            .bind(*at)
            .execute(&mut *tx)
            .await
            .map_err(map_sqlx)?;
        }
        commit(tx).await
    }

    async fn usage_rows(&self, query: &UsageQuery) -> Result<Vec<UsageRow>, StoreError> {
        let sql = format!(
            "SELECT (hour - ?3) / ?5 * ?5 + ?3 AS bucket, outcome, product, access, \
             SUM(count) AS n FROM key_usage WHERE {} \
             GROUP BY bucket, outcome, product, access ORDER BY bucket",
            range_filter(query)
        );
        // Made only of this module's constant fragments: nothing of the caller's is in it.
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(query.key_id.map(|k| id_text(k.0)))
            .bind(id_text(query.account_id.0))
            .bind(query.from_hour)
            .bind(query.to_hour)
            .bind(query.bucket_hours.max(1))
            .fetch_all(&self.pool)
            .await
            .map_err(map_sqlx)?;
        rows.iter()
            .map(|row| {
                Ok(UsageRow {
                    bucket: row.try_get("bucket").map_err(map_sqlx)?,
                    outcome: row.try_get("outcome").map_err(map_sqlx)?,
                    product: row.try_get("product").map_err(map_sqlx)?,
                    access: row.try_get("access").map_err(map_sqlx)?,
                    count: count(row.try_get("n").map_err(map_sqlx)?),
                })
            })
            .collect()
    }

    async fn usage_addresses(
        &self,
        query: &UsageQuery,
        allowed_only: bool,
        limit: u32,
    ) -> Result<(Vec<AddressRow>, u64), StoreError> {
        let (having, order) = if allowed_only {
            ("HAVING SUM(allowed) > 0", "SUM(allowed) DESC")
        } else {
            (
                "HAVING SUM(allowed) + SUM(refused) > 0",
                "SUM(allowed) + SUM(refused) DESC",
            )
        };
        let sql = format!(
            "SELECT address, SUM(allowed) AS allowed, SUM(refused) AS refused, \
             MAX(last_seen_ms) AS last_seen_ms, COUNT(*) OVER () AS distinct_addresses \
             FROM key_usage_addresses WHERE {} GROUP BY address {having} \
             ORDER BY {order}, address LIMIT ?5",
            range_filter(query)
        );
        // Made only of this module's constant fragments: nothing of the caller's is in it.
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(query.key_id.map(|k| id_text(k.0)))
            .bind(id_text(query.account_id.0))
            .bind(query.from_hour)
            .bind(query.to_hour)
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await
            .map_err(map_sqlx)?;
        let mut distinct = 0;
        let addresses = rows
            .iter()
            .map(|row| {
                distinct = count(row.try_get("distinct_addresses").map_err(map_sqlx)?);
                Ok(AddressRow {
                    address: row.try_get("address").map_err(map_sqlx)?,
                    allowed: count(row.try_get("allowed").map_err(map_sqlx)?),
                    refused: count(row.try_get("refused").map_err(map_sqlx)?),
                    last_seen_ms: row.try_get("last_seen_ms").map_err(map_sqlx)?,
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        Ok((addresses, distinct))
    }

    async fn usage_by_key(
        &self,
        query: &UsageQuery,
        limit: u32,
    ) -> Result<Vec<KeyTraffic>, StoreError> {
        let rows = sqlx::query(
            "SELECT key_id, SUM(count) AS requests, \
             SUM(CASE WHEN outcome = 'allowed' THEN count ELSE 0 END) AS allowed \
             FROM key_usage WHERE account_id = ? AND hour >= ? AND hour < ? \
             GROUP BY key_id HAVING SUM(count) > 0 ORDER BY requests DESC, key_id LIMIT ?",
        )
        .bind(id_text(query.account_id.0))
        .bind(query.from_hour)
        .bind(query.to_hour)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(map_sqlx)?;
        rows.iter()
            .map(|row| {
                let id: String = row.try_get("key_id").map_err(map_sqlx)?;
                Ok(KeyTraffic {
                    key_id: KeyId(
                        Uuid::parse_str(&id).map_err(|e| StoreError::Other(e.to_string()))?,
                    ),
                    requests: count(row.try_get("requests").map_err(map_sqlx)?),
                    allowed: count(row.try_get("allowed").map_err(map_sqlx)?),
                })
            })
            .collect()
    }

    async fn last_used_ips(
        &self,
        account_id: AccountId,
        keys: &[KeyId],
    ) -> Result<Vec<(KeyId, String)>, StoreError> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let rows: Vec<(String, String)> =
            sqlx::query_as("SELECT key_id, address FROM key_last_use WHERE account_id = ?")
                .bind(id_text(account_id.0))
                .fetch_all(&self.pool)
                .await
                .map_err(map_sqlx)?;
        Ok(rows
            .into_iter()
            .filter_map(|(id, address)| {
                let id = KeyId(Uuid::parse_str(&id).ok()?);
                keys.contains(&id).then_some((id, address))
            })
            .collect())
    }

    async fn prune_key_usage(&self, before_hour: i64) -> Result<u64, StoreError> {
        let mut tx = self.begin_write().await?;
        let mut done = 0;
        for sql in [
            "DELETE FROM key_usage WHERE hour < ?",
            "DELETE FROM key_usage_addresses WHERE hour < ?",
        ] {
            done += sqlx::query(sql)
                .bind(before_hour)
                .execute(&mut *tx)
                .await
                .map_err(map_sqlx)?
                .rows_affected();
        }
        commit(tx).await?;
        Ok(done)
    }
}
