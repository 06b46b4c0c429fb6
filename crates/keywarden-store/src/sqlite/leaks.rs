//! [`LeakStore`] on SQLite: reported keys found by digest (the unique index
//! `api_keys_digest_unique` makes each one a lookup), and a leak recorded, with the revocation
//! the account asks for, in one `BEGIN IMMEDIATE` transaction that also inserts the audit events
//! and gives the key a fresh `change_seq`; a canary's trip, with its audit event, in another.

use super::codec::{self, from_micros, id_text, key_columns, micros};
use super::errors::map_sqlx;
use super::{SqliteStore, commit, insert_events, next_change_seq};
use async_trait::async_trait;
use keywarden_core::audit::AuditEvent;
use keywarden_core::digest::KeyDigest;
use keywarden_core::ids::{AccountId, KeyId};
use keywarden_core::key_record::KeyRecord;
use keywarden_core::store::{CanaryTrips, LeakChange, LeakStore, StoreError};
use sqlx::{QueryBuilder, Sqlite};
use uuid::Uuid;

#[async_trait]
impl LeakStore for SqliteStore {
    async fn keys_by_digest(&self, digests: &[KeyDigest]) -> Result<Vec<KeyRecord>, StoreError> {
        if digests.is_empty() {
            return Ok(Vec::new());
        }
        let mut sql = QueryBuilder::<Sqlite>::new(concat!(
            "SELECT ",
            key_columns!(),
            " FROM api_keys WHERE digest IN ("
        ));
        let mut list = sql.separated(", ");
        for digest in digests {
            list.push_bind(digest.0.to_vec());
        }
        sql.push(")");
        let rows = sql.build().fetch_all(&self.pool).await.map_err(map_sqlx)?;
        rows.iter().map(codec::key_from_row).collect()
    }

    async fn record_leak(
        &self,
        change: &LeakChange<'_>,
        events: &[AuditEvent],
    ) -> Result<KeyRecord, StoreError> {
        let mut tx = self.begin_write().await?;
        let seq = next_change_seq(&mut tx).await?;
        let row = sqlx::query(concat!(
            "UPDATE api_keys SET \
             lifecycle = CASE WHEN ?1 THEN 'revoked' ELSE lifecycle END, \
             revoked_at = CASE WHEN ?1 THEN ?2 ELSE revoked_at END, \
             leaked_at = COALESCE(leaked_at, ?2), leak_url = COALESCE(leak_url, ?3), \
             change_seq = ?4 \
             WHERE id = ?5 AND account_id = ?6 AND lifecycle <> 'revoked' RETURNING ",
            key_columns!()
        ))
        .bind(change.revoke)
        .bind(micros(change.leak.at)?)
        .bind(change.leak.url.as_deref())
        .bind(seq)
        .bind(id_text(change.key_id.0))
        .bind(id_text(change.account_id.0))
        .fetch_optional(&mut *tx)
        .await
        .map_err(map_sqlx)?;
        let Some(row) = row else {
            // Dropping the transaction rolls it back, change_seq included.
            let lifecycle: Option<String> = sqlx::query_scalar(
                "SELECT lifecycle FROM api_keys WHERE id = ? AND account_id = ?",
            )
            .bind(id_text(change.key_id.0))
            .bind(id_text(change.account_id.0))
            .fetch_optional(&mut *tx)
            .await
            .map_err(map_sqlx)?;
            return Err(match lifecycle {
                None => StoreError::NotFound,
                Some(_) => StoreError::Conflict("the key is already revoked".into()),
            });
        };
        let key = codec::key_from_row(&row)?;
        insert_events(&mut tx, events).await?;
        commit(tx).await?;
        Ok(key)
    }

    async fn record_canary_trip(&self, event: &AuditEvent) -> Result<(), StoreError> {
        let key_id = event.key_id.ok_or(StoreError::NotFound)?;
        let mut tx = self.begin_write().await?;
        insert_events(&mut tx, std::slice::from_ref(event)).await?;
        sqlx::query(
            "INSERT INTO canary_trips (key_id, account_id, tripped_count, last_tripped_at) \
             VALUES (?1, ?2, 1, ?3) ON CONFLICT (key_id) DO UPDATE SET \
             tripped_count = tripped_count + 1, \
             last_tripped_at = max(last_tripped_at, excluded.last_tripped_at)",
        )
        .bind(id_text(key_id.0))
        .bind(id_text(event.account_id.0))
        .bind(micros(event.at)?)
        .execute(&mut *tx)
        .await
        .map_err(map_sqlx)?;
        commit(tx).await
    }

    async fn canary_trips(
        &self,
        account_id: AccountId,
        keys: &[KeyId],
    ) -> Result<Vec<CanaryTrips>, StoreError> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let mut sql = QueryBuilder::<Sqlite>::new(
            "SELECT key_id, tripped_count, last_tripped_at FROM canary_trips WHERE account_id = ",
        );
        sql.push_bind(id_text(account_id.0))
            .push(" AND key_id IN (");
        let mut list = sql.separated(", ");
        for key in keys {
            list.push_bind(id_text(key.0));
        }
        sql.push(")");
        let rows: Vec<(String, i64, i64)> = sql
            .build_query_as()
            .fetch_all(&self.pool)
            .await
            .map_err(map_sqlx)?;
        rows.into_iter()
            .map(|(id, count, at)| {
                Ok(CanaryTrips {
                    key_id: KeyId(
                        Uuid::parse_str(&id)
                            .map_err(|e| StoreError::Other(format!("canary_trips.key_id: {e}")))?,
                    ),
                    tripped_count: u64::try_from(count).unwrap_or(0),
                    last_tripped_at: from_micros(at, "last_tripped_at")?,
                })
            })
            .collect()
    }
}
