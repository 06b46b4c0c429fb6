//! [`KeyStore`] on PostgreSQL: inserting keys, their lifecycle (rotation, revocation), the
//! console's key updates and paginated, filtered key listing (SPEC §4), and recording when
//! keys were last used.
//!
//! Every change of a key gives it a fresh `change_seq`, taken as the transaction's first
//! statement (see `take_change_seqs` in `postgres.rs`), so the change feed never skips it. A
//! change that depends on the key's current state is one guarded statement
//! (`UPDATE … WHERE lifecycle = 'active'`) whose row count says whether it happened; when it
//! did not, the transaction rolls back, its numbers included, and [`explain_unchanged_key`]
//! says why. Recording use changes no `change_seq`: usage is not a change of the key.
//!
//! Listings page newest first by id by default ("id < cursor ORDER BY id DESC LIMIT n"): ids
//! are UUIDv7 and `uuid` compares bytewise, so that is creation order, and the `*_newest`
//! indexes make a page one range scan. The other orders (`key_pages.rs`) page from the
//! cursor's `(value, id)` the same way, by label and by expiry on their own indexes (migration
//! 0009); by last use the account's keys are sorted (no index on a column every last-use batch
//! writes). Optional filters are appended to the statement only when present.

use super::codec::{self, key_columns, opt_pg_time, pg_time};
use super::errors::{Failure, map_sqlx};
use super::{PostgresStore, insert_events, insert_key, page_limit, take_change_seqs};
use crate::key_pages::{
    After, Part, Segment, after_op, direction, extend_page, nullable_column, segments,
};
use crate::narrow_feed::policy_json;
use async_trait::async_trait;
use keywarden_core::audit::AuditEvent;
use keywarden_core::ids::{AccountId, KeyId};
use keywarden_core::key_record::{KeyRecord, KeyStatus};
use keywarden_core::store::{
    KeyFilter, KeyQuery, KeySort, KeyStore, KeyUpdate, Rotation, StoreError,
};
use sqlx::postgres::PgConnection;
use sqlx::{Postgres, QueryBuilder};
use std::collections::BTreeMap;
use std::slice;
use time::OffsetDateTime;
use uuid::Uuid;

/// Inserts keys with consecutive change sequence numbers (taking them first).
async fn insert_keys_with_seqs(conn: &mut PgConnection, keys: &[KeyRecord]) -> Result<(), Failure> {
    let mut seq = take_change_seqs(&mut *conn, keys.len()).await?;
    for key in keys {
        insert_key(&mut *conn, key, seq).await?;
        seq += 1;
    }
    Ok(())
}

/// Why a guarded UPDATE of a key changed no row: it is not in the account (`NotFound`), or
/// its lifecycle no longer allows the change (`Conflict`).
async fn explain_unchanged_key(
    conn: &mut PgConnection,
    account_id: AccountId,
    key_id: KeyId,
    rule: &str,
) -> Failure {
    let found: Result<Option<String>, _> =
        sqlx::query_scalar("SELECT lifecycle FROM api_keys WHERE id = $1 AND account_id = $2")
            .bind(key_id.0)
            .bind(account_id.0)
            .fetch_optional(conn)
            .await;
    match found {
        Ok(None) => StoreError::NotFound.into(),
        Ok(Some(lifecycle)) => {
            StoreError::Conflict(format!("{rule} (the key is {lifecycle})")).into()
        }
        Err(e) => e.into(),
    }
}

/// Appends a statement of [`KeyStore::list_keys`] to `sql`: the segment of the page it reads,
/// at most `limit` keys (a step of its own so that a test can put `EXPLAIN` in front of it).
fn key_page(
    sql: &mut QueryBuilder<Postgres>,
    account_id: AccountId,
    query: &KeyQuery,
    now: OffsetDateTime,
    segment: Segment<'_>,
    limit: i64,
) {
    sql.push(concat!(
        "SELECT ",
        key_columns!(),
        " FROM api_keys WHERE account_id = "
    ));
    sql.push_bind(account_id.0);
    let order = query.order;
    let column = nullable_column(order);
    match segment.part {
        Part::Every => {}
        Part::Valued => {
            sql.push(format_args!(" AND {column} IS NOT NULL"));
        }
        Part::Unvalued => {
            sql.push(format_args!(" AND {column} IS NULL"));
        }
    }
    // Strictly after the cursor in the order: (value, id) compared as a row, which a btree
    // index on those columns reads as a range. The label is folded and compared under "C",
    // as the index api_keys_by_account_label is.
    let op = after_op(order);
    match segment.after {
        After::Start => {}
        After::Id(id) => {
            sql.push(" AND id").push(op).push_bind(id.0);
        }
        After::Label(label, id) => {
            sql.push(" AND (lower(label COLLATE \"C\"), id)")
                .push(op)
                .push("(lower(CAST(")
                .push_bind(label.to_owned())
                .push(" AS text) COLLATE \"C\"), ")
                .push_bind(id.0)
                .push(")");
        }
        After::Time(at, id) => {
            sql.push(format_args!(" AND ({column}, id)"))
                .push(op)
                .push("(")
                .push_bind(pg_time(at))
                .push(", ")
                .push_bind(id.0)
                .push(")");
        }
    }
    if let Some(kind) = query.kind {
        sql.push(" AND kind = ").push_bind(kind.as_str());
    }
    if let Some(mode) = query.mode {
        sql.push(" AND mode = ").push_bind(mode.as_str());
    }
    // A policy stored before canaries existed (or none at all) is no canary.
    if let Some(canary) = query.canary {
        sql.push(" AND coalesce((policy::jsonb ->> 'canary')::boolean, false) = ")
            .push_bind(canary);
    }
    // The same rule as KeyRecord::status_at: the lifecycle decides, except that an active key
    // whose expiry is not after `now` is expired. Stored times are whole microseconds, so
    // `expires_at <= now` holds exactly when it holds against `now` rounded down.
    let now = pg_time(now);
    match query.status {
        None => {}
        Some(KeyStatus::Active) => {
            sql.push(" AND lifecycle = 'active' AND (expires_at IS NULL OR expires_at > ")
                .push_bind(now)
                .push(")");
        }
        Some(KeyStatus::Expired) => {
            sql.push(" AND lifecycle = 'active' AND expires_at <= ")
                .push_bind(now);
        }
        Some(KeyStatus::Revoked) => {
            sql.push(" AND lifecycle = 'revoked'");
        }
        Some(KeyStatus::Rotated) => {
            sql.push(" AND lifecycle = 'rotated'");
        }
    }
    if let Some(search) = query.search.as_deref() {
        // strpos, not LIKE/ILIKE: the user's text is a plain substring, so `%`, `_` and `\`
        // in it match themselves with no escaping to get wrong. lower() folds case by the
        // database's locale (for a UTF-8 database, beyond ASCII too).
        sql.push(" AND (strpos(lower(label), lower(")
            .push_bind(search.to_owned())
            .push(")) > 0 OR strpos(lower(hint), lower(")
            .push_bind(search.to_owned())
            .push(")) > 0)");
    }
    let dir = direction(order);
    match (segment.part, order.sort) {
        (Part::Every, KeySort::Label) => {
            sql.push(format_args!(
                " ORDER BY lower(label COLLATE \"C\"){dir}, id{dir}"
            ));
        }
        (Part::Valued, _) => {
            sql.push(format_args!(" ORDER BY {column}{dir}, id{dir}"));
        }
        _ => {
            sql.push(format_args!(" ORDER BY id{dir}"));
        }
    }
    sql.push(" LIMIT ").push_bind(limit);
}

#[async_trait]
impl KeyStore for PostgresStore {
    async fn insert_keys(
        &self,
        keys: &[KeyRecord],
        events: &[AuditEvent],
    ) -> Result<(), StoreError> {
        in_transaction!(self, |tx| {
            if !keys.is_empty() {
                insert_keys_with_seqs(tx, keys).await?;
            }
            insert_events(tx, events).await
        })
    }

    async fn rotate_key(
        &self,
        rotation: &Rotation<'_>,
        event: &AuditEvent,
    ) -> Result<(), StoreError> {
        if rotation.new_key.account_id != rotation.account_id {
            return Err(StoreError::Other(
                "a rotation's new key must belong to the old key's account".into(),
            ));
        }
        in_transaction!(self, |tx| {
            // Two numbers: the old key's change, then the successor's insert.
            let seq = take_change_seqs(tx, 2).await?;
            let changed = sqlx::query(
                "UPDATE api_keys SET lifecycle = 'rotated', rotated_at = $1, grace_until = $2, \
                 replaced_by = $3, change_seq = $4 \
                 WHERE id = $5 AND account_id = $6 AND lifecycle = 'active'",
            )
            .bind(pg_time(rotation.at))
            .bind(pg_time(rotation.old_grace_until))
            .bind(rotation.new_key.id.0)
            .bind(seq)
            .bind(rotation.old_key.0)
            .bind(rotation.account_id.0)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if changed == 0 {
                // Returning an error rolls back, change_seq included.
                return Err(explain_unchanged_key(
                    tx,
                    rotation.account_id,
                    rotation.old_key,
                    "only an active key can be rotated",
                )
                .await);
            }
            insert_key(tx, rotation.new_key, seq + 1).await?;
            insert_events(tx, slice::from_ref(event)).await
        })
    }

    async fn revoke_key(
        &self,
        account_id: AccountId,
        key_id: KeyId,
        at: OffsetDateTime,
        event: &AuditEvent,
    ) -> Result<(), StoreError> {
        in_transaction!(self, |tx| {
            let seq = take_change_seqs(tx, 1).await?;
            let changed = sqlx::query(
                "UPDATE api_keys SET lifecycle = 'revoked', revoked_at = $1, change_seq = $2 \
                 WHERE id = $3 AND account_id = $4 AND lifecycle <> 'revoked'",
            )
            .bind(pg_time(at))
            .bind(seq)
            .bind(key_id.0)
            .bind(account_id.0)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if changed == 0 {
                return Err(explain_unchanged_key(
                    tx,
                    account_id,
                    key_id,
                    "the key is already revoked",
                )
                .await);
            }
            insert_events(tx, slice::from_ref(event)).await
        })
    }

    async fn update_key(
        &self,
        account_id: AccountId,
        key_id: KeyId,
        update: &KeyUpdate,
        event: &AuditEvent,
    ) -> Result<KeyRecord, StoreError> {
        // `Some(None)` removes the expiry, so "change it" and "to what" are two parameters.
        let (set_expiry, expires_at) = match update.expires_at {
            None => (false, None),
            Some(expiry) => (true, opt_pg_time(expiry)),
        };
        let policy = update.policy.as_ref().map(policy_json).transpose()?;
        in_transaction!(self, |tx| {
            // A fresh change_seq, so every instance's key table picks up the new scopes and
            // expiry.
            let seq = take_change_seqs(tx, 1).await?;
            let row = sqlx::query(concat!(
                "UPDATE api_keys SET label = COALESCE($1, label), scopes = COALESCE($2, scopes), \
                     expires_at = CASE WHEN $3 THEN $4 ELSE expires_at END, change_seq = $5, \
                     policy = CASE WHEN $8 THEN $9 ELSE policy END \
                     WHERE id = $6 AND account_id = $7 AND lifecycle <> 'revoked' RETURNING ",
                key_columns!()
            ))
            .bind(update.label.as_deref())
            .bind(update.scopes.as_deref())
            .bind(set_expiry)
            .bind(expires_at)
            .bind(seq)
            .bind(key_id.0)
            .bind(account_id.0)
            .bind(update.policy.is_some())
            .bind(policy.clone().flatten())
            .fetch_optional(&mut *tx)
            .await?;
            let Some(row) = row else {
                // Returning an error rolls back, change_seq included.
                return Err(explain_unchanged_key(
                    tx,
                    account_id,
                    key_id,
                    "a revoked key cannot be changed",
                )
                .await);
            };
            let key = codec::key_from_row(&row)?;
            insert_events(tx, slice::from_ref(event)).await?;
            Ok(key)
        })
    }

    async fn key(
        &self,
        account_id: AccountId,
        key_id: KeyId,
    ) -> Result<Option<KeyRecord>, StoreError> {
        let row = sqlx::query(concat!(
            "SELECT ",
            key_columns!(),
            " FROM api_keys WHERE id = $1 AND account_id = $2"
        ))
        .bind(key_id.0)
        .bind(account_id.0)
        .fetch_optional(&self.pool)
        .await
        .map_err(map_sqlx)?;
        row.as_ref().map(codec::key_from_row).transpose()
    }

    async fn keys_of_account(
        &self,
        account_id: AccountId,
        filter: &KeyFilter,
    ) -> Result<Vec<KeyRecord>, StoreError> {
        // One fixed statement: a NULL filter parameter matches everything.
        let rows = sqlx::query(concat!(
            "SELECT ",
            key_columns!(),
            " FROM api_keys WHERE account_id = $1 \
              AND ($2::text IS NULL OR kind = $2) \
              AND ($3::text IS NULL OR mode = $3) \
              AND (NOT $4 OR lifecycle = 'active') \
             ORDER BY created_at DESC, id DESC"
        ))
        .bind(account_id.0)
        .bind(filter.kind.map(|k| k.as_str()))
        .bind(filter.mode.map(|m| m.as_str()))
        .bind(filter.only_active)
        .fetch_all(&self.pool)
        .await
        .map_err(map_sqlx)?;
        rows.iter().map(codec::key_from_row).collect()
    }

    async fn list_keys(
        &self,
        account_id: AccountId,
        query: &KeyQuery,
        now: OffsetDateTime,
    ) -> Result<Vec<KeyRecord>, StoreError> {
        let limit = page_limit(query.limit);
        let mut page = Vec::new();
        for segment in segments(query)? {
            let room = limit - page.len() as i64;
            if room <= 0 {
                break;
            }
            let mut sql = QueryBuilder::new("");
            key_page(&mut sql, account_id, query, now, segment, room);
            let rows = sql.build().fetch_all(&self.pool).await.map_err(map_sqlx)?;
            let keys = rows
                .iter()
                .map(codec::key_from_row)
                .collect::<Result<Vec<_>, _>>()?;
            extend_page(&mut page, keys);
        }
        Ok(page)
    }

    async fn record_last_used(&self, uses: &[(KeyId, OffsetDateTime)]) -> Result<(), StoreError> {
        // The latest time per key, in id order: two instances flushing overlapping batches
        // lock the rows in the same order, so they queue instead of deadlocking.
        let mut latest: BTreeMap<Uuid, OffsetDateTime> = BTreeMap::new();
        for (key_id, at) in uses {
            let at = pg_time(*at);
            latest
                .entry(key_id.0)
                .and_modify(|t| *t = (*t).max(at))
                .or_insert(at);
        }
        if latest.is_empty() {
            return Ok(());
        }
        let (ids, times): (Vec<Uuid>, Vec<OffsetDateTime>) = latest.into_iter().unzip();
        in_transaction!(self, |tx| {
            sqlx::query("SELECT id FROM api_keys WHERE id = ANY($1) ORDER BY id FOR NO KEY UPDATE")
                .bind(&ids)
                .execute(&mut *tx)
                .await?;
            // Only forwards, and change_seq untouched: usage is not a change of the key.
            sqlx::query(
                "UPDATE api_keys AS k SET last_used_at = u.at \
                 FROM unnest($1::uuid[], $2::timestamptz[]) AS u (id, at) \
                 WHERE k.id = u.id AND (k.last_used_at IS NULL OR k.last_used_at < u.at)",
            )
            .bind(&ids)
            .bind(&times)
            .execute(&mut *tx)
            .await?;
            Ok(())
        })
    }

    async fn key_count(&self) -> Result<i64, StoreError> {
        sqlx::query_scalar(crate::shared_sql::KEY_COUNT)
            .fetch_one(&self.pool)
            .await
            .map_err(map_sqlx)
    }
}
