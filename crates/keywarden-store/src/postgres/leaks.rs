//! [`LeakStore`] on PostgreSQL: reported keys found by digest (one `= ANY` over the unique
//! index `api_keys_digest_unique`), and a leak recorded, with the revocation the account asks
//! for, as one guarded statement in a transaction that takes its `change_seq` first and inserts
//! the audit events (see `postgres.rs`); a canary's trip, with its audit event, in another.

use super::codec::{self, key_columns, pg_time};
use super::errors::map_sqlx;
use super::{PostgresStore, insert_events, take_change_seqs};
use async_trait::async_trait;
use keywarden_core::audit::AuditEvent;
use keywarden_core::digest::KeyDigest;
use keywarden_core::ids::{AccountId, KeyId};
use keywarden_core::key_record::KeyRecord;
use keywarden_core::store::{CanaryTrips, LeakChange, LeakStore, StoreError};
use time::OffsetDateTime;
use uuid::Uuid;

#[async_trait]
impl LeakStore for PostgresStore {
    async fn keys_by_digest(&self, digests: &[KeyDigest]) -> Result<Vec<KeyRecord>, StoreError> {
        if digests.is_empty() {
            return Ok(Vec::new());
        }
        let digests: Vec<Vec<u8>> = digests.iter().map(|d| d.0.to_vec()).collect();
        let rows = sqlx::query(concat!(
            "SELECT ",
            key_columns!(),
            " FROM api_keys WHERE digest = ANY($1)"
        ))
        .bind(digests)
        .fetch_all(&self.pool)
        .await
        .map_err(map_sqlx)?;
        rows.iter().map(codec::key_from_row).collect()
    }

    async fn record_leak(
        &self,
        change: &LeakChange<'_>,
        events: &[AuditEvent],
    ) -> Result<KeyRecord, StoreError> {
        in_transaction!(self, |tx| {
            let seq = take_change_seqs(tx, 1).await?;
            let row = sqlx::query(concat!(
                "UPDATE api_keys SET \
                 lifecycle = CASE WHEN $1 THEN 'revoked' ELSE lifecycle END, \
                 revoked_at = CASE WHEN $1 THEN $2 ELSE revoked_at END, \
                 leaked_at = COALESCE(leaked_at, $2), leak_url = COALESCE(leak_url, $3), \
                 change_seq = $4 \
                 WHERE id = $5 AND account_id = $6 AND lifecycle <> 'revoked' RETURNING ",
                key_columns!()
            ))
            .bind(change.revoke)
            .bind(pg_time(change.leak.at))
            .bind(change.leak.url.as_deref())
            .bind(seq)
            .bind(change.key_id.0)
            .bind(change.account_id.0)
            .fetch_optional(&mut *tx)
            .await?;
            let Some(row) = row else {
                // Returning an error rolls back, change_seq included.
                let found: Option<String> = sqlx::query_scalar(
                    "SELECT lifecycle FROM api_keys WHERE id = $1 AND account_id = $2",
                )
                .bind(change.key_id.0)
                .bind(change.account_id.0)
                .fetch_optional(&mut *tx)
                .await?;
                return Err(match found {
                    None => StoreError::NotFound.into(),
                    Some(_) => StoreError::Conflict("the key is already revoked".into()).into(),
                });
            };
            let key = codec::key_from_row(&row)?;
            insert_events(tx, events).await?;
            Ok(key)
        })
    }

    async fn record_canary_trip(&self, event: &AuditEvent) -> Result<(), StoreError> {
        let key_id = event.key_id.ok_or(StoreError::NotFound)?;
        in_transaction!(self, |tx| {
            insert_events(tx, std::slice::from_ref(event)).await?;
            sqlx::query(
                "INSERT INTO canary_trips (key_id, account_id, tripped_count, last_tripped_at) \
                 VALUES ($1, $2, 1, $3) ON CONFLICT (key_id) DO UPDATE SET \
                 tripped_count = canary_trips.tripped_count + 1, \
                 last_tripped_at = GREATEST(canary_trips.last_tripped_at, excluded.last_tripped_at)",
            )
            .bind(key_id.0)
            .bind(event.account_id.0)
            .bind(pg_time(event.at))
            .execute(&mut *tx)
            .await?;
            Ok(())
        })
    }

    async fn canary_trips(
        &self,
        account_id: AccountId,
        keys: &[KeyId],
    ) -> Result<Vec<CanaryTrips>, StoreError> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<Uuid> = keys.iter().map(|k| k.0).collect();
        let rows: Vec<(Uuid, i64, OffsetDateTime)> = sqlx::query_as(
            "SELECT key_id, tripped_count, last_tripped_at FROM canary_trips \
             WHERE account_id = $1 AND key_id = ANY($2)",
        )
        .bind(account_id.0)
        .bind(&ids)
        .fetch_all(&self.pool)
        .await
        .map_err(map_sqlx)?;
        Ok(rows
            .into_iter()
            .map(|(id, count, at)| CanaryTrips {
                key_id: KeyId(id),
                tripped_count: u64::try_from(count).unwrap_or(0),
                last_tripped_at: at,
            })
            .collect())
    }
}
