//! [`KeyUsageStore`] on PostgreSQL: the tables of migration 0006, added to by upserts (so
//! instances flushing at the same moment add to one another's counts) and read grouped by
//! bucket in SQL.

use super::PostgresStore;
use super::errors::map_sqlx;
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
        "key_id = $1 AND account_id = $2 AND hour >= $3 AND hour < $4"
    } else {
        "account_id = $2 AND hour >= $3 AND hour < $4 AND $1::uuid IS NULL"
    }
}

fn count(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}

#[async_trait]
impl KeyUsageStore for PostgresStore {
    async fn add_key_usage(&self, batch: &UsageBatch) -> Result<(), StoreError> {
        if batch.is_empty() {
            return Ok(());
        }
        in_transaction!(self, |tx| {
            for c in &batch.counts {
                sqlx::query(
                    "INSERT INTO key_usage \
                     (key_id, account_id, hour, outcome, product, access, count) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7) \
                     ON CONFLICT (key_id, hour, outcome, product, access) \
                     DO UPDATE SET count = key_usage.count + excluded.count",
                )
                .bind(c.key_id.0)
                .bind(c.account_id.0)
                .bind(c.hour)
                .bind(c.outcome)
                .bind(&c.product)
                .bind(c.access)
                .bind(c.count)
                .execute(&mut *tx)
                .await?;
            }
            for a in &batch.addresses {
                sqlx::query(
                    "INSERT INTO key_usage_addresses \
                     (key_id, account_id, hour, address, allowed, refused, last_seen_ms) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7) \
                     ON CONFLICT (key_id, hour, address) DO UPDATE SET \
                     allowed = key_usage_addresses.allowed + excluded.allowed, \
                     refused = key_usage_addresses.refused + excluded.refused, \
                     last_seen_ms = greatest(key_usage_addresses.last_seen_ms, excluded.last_seen_ms)",
                )
                .bind(a.key_id.0)
                .bind(a.account_id.0)
                .bind(a.hour)
                .bind(a.address.map(|ip| ip.to_string()).unwrap_or_default())
                .bind(a.allowed)
                .bind(a.refused)
                .bind(a.last_seen_ms)
                .execute(&mut *tx)
                .await?;
            }
            for (key, address, at) in &batch.last_ips {
                sqlx::query(
                    "INSERT INTO key_last_use (key_id, account_id, address, used_at_ms) \
                     SELECT id, account_id, $2, $3 FROM api_keys WHERE id = $1 \
                     ON CONFLICT (key_id) DO UPDATE SET \
                     address = excluded.address, used_at_ms = excluded.used_at_ms \
                     WHERE excluded.used_at_ms > key_last_use.used_at_ms",
                )
                .bind(key.0)
                .bind(address.to_string())
                .bind(*at)
                .execute(&mut *tx)
                .await?;
            }
            Ok(())
        })
    }

    async fn usage_rows(&self, query: &UsageQuery) -> Result<Vec<UsageRow>, StoreError> {
        let sql = format!(
            "SELECT (hour - $3) / $5 * $5 + $3 AS bucket, outcome, product, access, \
             SUM(count)::bigint AS n FROM key_usage WHERE {} \
             GROUP BY bucket, outcome, product, access ORDER BY bucket",
            range_filter(query)
        );
        // Made only of this module's constant fragments: nothing of the caller's is in it.
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(query.key_id.map(|k| k.0))
            .bind(query.account_id.0)
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
            "SELECT address, SUM(allowed)::bigint AS allowed, SUM(refused)::bigint AS refused, \
             MAX(last_seen_ms) AS last_seen_ms, COUNT(*) OVER () AS distinct_addresses \
             FROM key_usage_addresses WHERE {} GROUP BY address {having} \
             ORDER BY {order}, address LIMIT $5",
            range_filter(query)
        );
        // Made only of this module's constant fragments: nothing of the caller's is in it.
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(query.key_id.map(|k| k.0))
            .bind(query.account_id.0)
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
        by_refusals: bool,
        limit: u32,
    ) -> Result<Vec<KeyTraffic>, StoreError> {
        // PostgreSQL takes an output column's alias in ORDER BY only on its own, not inside an
        // expression: the refused count is written out.
        let order = if by_refusals {
            "SUM(count) - SUM(CASE WHEN outcome = 'allowed' THEN count ELSE 0 END) DESC, \
             requests DESC"
        } else {
            "requests DESC"
        };
        let sql = format!(
            "SELECT key_id, SUM(count)::bigint AS requests, \
             SUM(CASE WHEN outcome = 'allowed' THEN count ELSE 0 END)::bigint AS allowed \
             FROM key_usage WHERE account_id = $1 AND hour >= $2 AND hour < $3 \
             GROUP BY key_id HAVING SUM(count) > 0 ORDER BY {order}, key_id LIMIT $4",
        );
        // Made only of this module's constant fragments.
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(query.account_id.0)
            .bind(query.from_hour)
            .bind(query.to_hour)
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await
            .map_err(map_sqlx)?;
        rows.iter()
            .map(|row| {
                let id: Uuid = row.try_get("key_id").map_err(map_sqlx)?;
                Ok(KeyTraffic {
                    key_id: KeyId(id),
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
        let ids: Vec<Uuid> = keys.iter().map(|k| k.0).collect();
        let rows: Vec<(Uuid, String)> = sqlx::query_as(
            "SELECT key_id, address FROM key_last_use WHERE account_id = $1 AND key_id = ANY($2)",
        )
        .bind(account_id.0)
        .bind(&ids)
        .fetch_all(&self.pool)
        .await
        .map_err(map_sqlx)?;
        Ok(rows
            .into_iter()
            .map(|(id, address)| (KeyId(id), address))
            .collect())
    }

    async fn prune_key_usage(&self, before_hour: i64) -> Result<u64, StoreError> {
        in_transaction!(self, |tx| {
            let mut done = 0;
            for sql in [
                "DELETE FROM key_usage WHERE hour < $1",
                "DELETE FROM key_usage_addresses WHERE hour < $1",
            ] {
                done += sqlx::query(sql)
                    .bind(before_hour)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
            }
            Ok(done)
        })
    }
}
