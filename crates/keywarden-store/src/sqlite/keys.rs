//! [`KeyStore`] on SQLite: issuing, rotating, revoking and changing keys, recording their use,
//! and the console's views of them (one key, an account's keys, the filtered key page).
//!
//! Like every write of this backend, each change is a single `BEGIN IMMEDIATE` transaction
//! that also inserts its audit event, and gives the key a fresh `change_seq` so that the
//! change feed carries it. A change the key's lifecycle must allow is one guarded UPDATE,
//! decided inside that transaction; when it changes no row, [`explain_unchanged_key`] says why,
//! and dropping the transaction gives the `change_seq` back.
//!
//! The key page lists newest first by id by default ("id < cursor ORDER BY id DESC LIMIT n"):
//! ids are UUIDv7, so that is creation order, and `api_keys_by_account_newest` (migration 0002)
//! makes a page one range scan. The other orders (`key_pages.rs`) page from the cursor's
//! `(value, id)` the same way, by label and by expiry on their own indexes (migration 0010);
//! by last use the account's keys are sorted, since an index on a column the batched last-use
//! writes change would cost every batch more than it saves the rare page in that order.
//! Optional filters are appended to the statement only when present, so each condition the
//! planner sees is one it can use.

use super::codec::{self, id_text, key_columns, micros, opt_micros, scopes_json};
use super::errors::map_sqlx;
use super::{SqliteStore, commit, insert_events, insert_key, next_change_seq, page_limit};
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
use sqlx::sqlite::SqliteConnection;
use sqlx::{QueryBuilder, Sqlite};
use std::slice;
use time::OffsetDateTime;

#[async_trait]
impl KeyStore for SqliteStore {
    async fn insert_keys(
        &self,
        keys: &[KeyRecord],
        events: &[AuditEvent],
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        for key in keys {
            insert_key(&mut tx, key).await?;
        }
        insert_events(&mut tx, events).await?;
        commit(tx).await
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
        let mut tx = self.begin_write().await?;
        let seq = next_change_seq(&mut tx).await?;
        let changed = sqlx::query(
            "UPDATE api_keys SET lifecycle = 'rotated', rotated_at = ?, grace_until = ?, \
             replaced_by = ?, change_seq = ? \
             WHERE id = ? AND account_id = ? AND lifecycle = 'active'",
        )
        .bind(micros(rotation.at)?)
        .bind(micros(rotation.old_grace_until)?)
        .bind(id_text(rotation.new_key.id.0))
        .bind(seq)
        .bind(id_text(rotation.old_key.0))
        .bind(id_text(rotation.account_id.0))
        .execute(&mut *tx)
        .await
        .map_err(map_sqlx)?
        .rows_affected();
        if changed == 0 {
            let why = explain_unchanged_key(
                &mut tx,
                rotation.account_id,
                rotation.old_key,
                "only an active key can be rotated",
            )
            .await;
            // Dropping the transaction rolls it back, change_seq included.
            return Err(why);
        }
        insert_key(&mut tx, rotation.new_key).await?;
        insert_events(&mut tx, slice::from_ref(event)).await?;
        commit(tx).await
    }

    async fn revoke_key(
        &self,
        account_id: AccountId,
        key_id: KeyId,
        at: OffsetDateTime,
        event: &AuditEvent,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        let seq = next_change_seq(&mut tx).await?;
        let changed = sqlx::query(
            "UPDATE api_keys SET lifecycle = 'revoked', revoked_at = ?, change_seq = ? \
             WHERE id = ? AND account_id = ? AND lifecycle <> 'revoked'",
        )
        .bind(micros(at)?)
        .bind(seq)
        .bind(id_text(key_id.0))
        .bind(id_text(account_id.0))
        .execute(&mut *tx)
        .await
        .map_err(map_sqlx)?
        .rows_affected();
        if changed == 0 {
            return Err(explain_unchanged_key(
                &mut tx,
                account_id,
                key_id,
                "the key is already revoked",
            )
            .await);
        }
        insert_events(&mut tx, slice::from_ref(event)).await?;
        commit(tx).await
    }

    async fn update_key(
        &self,
        account_id: AccountId,
        key_id: KeyId,
        update: &KeyUpdate,
        event: &AuditEvent,
    ) -> Result<KeyRecord, StoreError> {
        let scopes = update.scopes.as_deref().map(scopes_json).transpose()?;
        // `Some(None)` removes the expiry, so "change it" and "to what" are two parameters.
        let (set_expiry, expires_at) = match update.expires_at {
            None => (false, None),
            Some(expiry) => (true, opt_micros(expiry)?),
        };
        let policy = update.policy.as_ref().map(policy_json).transpose()?;
        let mut tx = self.begin_write().await?;
        // A fresh change_seq, so every instance's key table picks up the new scopes and expiry.
        let seq = next_change_seq(&mut tx).await?;
        let row = sqlx::query(concat!(
            "UPDATE api_keys SET label = COALESCE(?1, label), scopes = COALESCE(?2, scopes), \
             expires_at = CASE WHEN ?3 THEN ?4 ELSE expires_at END, change_seq = ?5, \
             policy = CASE WHEN ?8 THEN ?9 ELSE policy END \
             WHERE id = ?6 AND account_id = ?7 AND lifecycle <> 'revoked' RETURNING ",
            key_columns!()
        ))
        .bind(update.label.as_deref())
        .bind(scopes)
        .bind(set_expiry)
        .bind(expires_at)
        .bind(seq)
        .bind(id_text(key_id.0))
        .bind(id_text(account_id.0))
        .bind(update.policy.is_some())
        .bind(policy.flatten())
        .fetch_optional(&mut *tx)
        .await
        .map_err(map_sqlx)?;
        let Some(row) = row else {
            // Dropping the transaction rolls it back, change_seq included.
            return Err(explain_unchanged_key(
                &mut tx,
                account_id,
                key_id,
                "a revoked key cannot be changed",
            )
            .await);
        };
        let key = codec::key_from_row(&row)?;
        insert_events(&mut tx, slice::from_ref(event)).await?;
        commit(tx).await?;
        Ok(key)
    }

    async fn key(
        &self,
        account_id: AccountId,
        key_id: KeyId,
    ) -> Result<Option<KeyRecord>, StoreError> {
        let row = sqlx::query(concat!(
            "SELECT ",
            key_columns!(),
            " FROM api_keys WHERE id = ? AND account_id = ?"
        ))
        .bind(id_text(key_id.0))
        .bind(id_text(account_id.0))
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
            " FROM api_keys WHERE account_id = ?1 \
              AND (?2 IS NULL OR kind = ?2) \
              AND (?3 IS NULL OR mode = ?3) \
              AND (?4 = 0 OR lifecycle = 'active') \
             ORDER BY created_at DESC, id DESC"
        ))
        .bind(id_text(account_id.0))
        .bind(filter.kind.map(|k| k.as_str()))
        .bind(filter.mode.map(|m| m.as_str()))
        .bind(i64::from(filter.only_active))
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
            key_page(&mut sql, account_id, query, now, segment, room)?;
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
        if uses.is_empty() {
            return Ok(());
        }
        let mut tx = self.begin_write().await?;
        for (key_id, at) in uses {
            // Only forwards, and change_seq untouched: usage is not a change of the key.
            sqlx::query(
                "UPDATE api_keys SET last_used_at = ?1 \
                 WHERE id = ?2 AND (last_used_at IS NULL OR last_used_at < ?1)",
            )
            .bind(micros(*at)?)
            .bind(id_text(key_id.0))
            .execute(&mut *tx)
            .await
            .map_err(map_sqlx)?;
        }
        commit(tx).await
    }

    async fn key_count(&self) -> Result<i64, StoreError> {
        sqlx::query_scalar(crate::shared_sql::KEY_COUNT)
            .fetch_one(&self.pool)
            .await
            .map_err(map_sqlx)
    }
}

/// Appends a statement of [`KeyStore::list_keys`] to `sql`: the segment of the page it reads,
/// at most `limit` keys (a step of its own so that a test can put `EXPLAIN QUERY PLAN` in
/// front of it).
fn key_page(
    sql: &mut QueryBuilder<Sqlite>,
    account_id: AccountId,
    query: &KeyQuery,
    now: OffsetDateTime,
    segment: Segment<'_>,
    limit: i64,
) -> Result<(), StoreError> {
    sql.push(concat!(
        "SELECT ",
        key_columns!(),
        " FROM api_keys WHERE account_id = "
    ));
    sql.push_bind(id_text(account_id.0));
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
    // Strictly after the cursor in the order: (value, id) compared as a row, which SQLite
    // reads as a range of the index whose columns these are.
    let op = after_op(order);
    match segment.after {
        After::Start => {}
        After::Id(id) => {
            sql.push(" AND id").push(op).push_bind(id_text(id.0));
        }
        After::Label(label, id) => {
            sql.push(" AND (lower(label), id)")
                .push(op)
                .push("(lower(")
                .push_bind(label.to_owned())
                .push("), ")
                .push_bind(id_text(id.0))
                .push(")");
        }
        After::Time(at, id) => {
            sql.push(format_args!(" AND ({column}, id)"))
                .push(op)
                .push("(")
                .push_bind(micros(at)?)
                .push(", ")
                .push_bind(id_text(id.0))
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
        sql.push(" AND coalesce(json_extract(policy, '$.canary'), 0) = ")
            .push_bind(i64::from(canary));
    }
    // The same rule as KeyRecord::status_at: the lifecycle decides, except that an active key
    // whose expiry is not after `now` is expired. Stored times are whole microseconds, so
    // `expires_at <= now` holds exactly when it holds against `now` rounded down.
    match query.status {
        None => {}
        Some(KeyStatus::Active) => {
            sql.push(" AND lifecycle = 'active' AND (expires_at IS NULL OR expires_at > ")
                .push_bind(micros(now)?)
                .push(")");
        }
        Some(KeyStatus::Expired) => {
            sql.push(" AND lifecycle = 'active' AND expires_at <= ")
                .push_bind(micros(now)?);
        }
        Some(KeyStatus::Revoked) => {
            sql.push(" AND lifecycle = 'revoked'");
        }
        Some(KeyStatus::Rotated) => {
            sql.push(" AND lifecycle = 'rotated'");
        }
    }
    if let Some(search) = query.search.as_deref() {
        // instr, not LIKE: the user's text is a plain substring, so `%`, `_` and `\` in it
        // match themselves with no escaping to get wrong, and no length makes the pattern
        // "too complex". lower() folds ASCII only (as LIKE would); other letters must match
        // exactly.
        sql.push(" AND (instr(lower(label), lower(")
            .push_bind(search.to_owned())
            .push(")) > 0 OR instr(lower(hint), lower(")
            .push_bind(search.to_owned())
            .push(")) > 0)");
    }
    let dir = direction(order);
    match (segment.part, order.sort) {
        (Part::Every, KeySort::Label) => {
            sql.push(format_args!(" ORDER BY lower(label){dir}, id{dir}"));
        }
        (Part::Valued, _) => {
            sql.push(format_args!(" ORDER BY {column}{dir}, id{dir}"));
        }
        _ => {
            sql.push(format_args!(" ORDER BY id{dir}"));
        }
    }
    sql.push(" LIMIT ").push_bind(limit);
    Ok(())
}

/// Why a guarded UPDATE of a key changed no row: it is not in the account (`NotFound`), or
/// its lifecycle no longer allows the change (`Conflict`).
async fn explain_unchanged_key(
    conn: &mut SqliteConnection,
    account_id: AccountId,
    key_id: KeyId,
    rule: &str,
) -> StoreError {
    let found: Result<Option<String>, _> =
        sqlx::query_scalar("SELECT lifecycle FROM api_keys WHERE id = ? AND account_id = ?")
            .bind(id_text(key_id.0))
            .bind(id_text(account_id.0))
            .fetch_optional(conn)
            .await;
    match found {
        Ok(None) => StoreError::NotFound,
        Ok(Some(lifecycle)) => StoreError::Conflict(format!("{rule} (the key is {lifecycle})")),
        Err(e) => map_sqlx(e),
    }
}

#[cfg(test)]
mod tests {
    use super::key_page;
    use crate::key_pages::segments;
    use crate::sqlite::{SqliteStore, query_plan};
    use keywarden_core::ids::{AccountId, KeyId};
    use keywarden_core::key_format::{KeyKind, Mode};
    use keywarden_core::key_record::KeyStatus;
    use keywarden_core::store::{KeyOrder, KeyPosition, KeyQuery, KeySort, SortValue};
    use sqlx::QueryBuilder;
    use time::OffsetDateTime;
    use time::macros::datetime;

    const NOW: OffsetDateTime = datetime!(2026-03-01 12:00 UTC);

    /// Every statement of every order, from the start and from a cursor (with and without a
    /// value), filtered or not: the index each reads, and whether SQLite sorts rows itself.
    #[tokio::test]
    async fn key_pages_are_index_range_scans_without_sorting() {
        let store = SqliteStore::connect("sqlite::memory:").await.unwrap();
        let account = AccountId::new_at(NOW);
        let id = KeyId::new_at(NOW);
        let filtered = |query: KeyQuery| KeyQuery {
            kind: Some(KeyKind::Restricted),
            mode: Some(Mode::Live),
            status: Some(KeyStatus::Active),
            search: Some("payroll".into()),
            ..query
        };
        let mut checked = 0;
        for order in KeyOrder::all() {
            let values = match order.sort {
                KeySort::CreatedAt => vec![SortValue::Id],
                KeySort::Label => vec![SortValue::Label("Payroll".into())],
                KeySort::ExpiresAt | KeySort::LastUsedAt => {
                    vec![SortValue::Time(Some(NOW)), SortValue::Time(None)]
                }
            };
            let mut queries = vec![KeyQuery {
                order,
                ..KeyQuery::default()
            }];
            for value in values {
                let after = Some(KeyPosition { value, id });
                queries.push(KeyQuery {
                    order,
                    after: after.clone(),
                    ..KeyQuery::default()
                });
                queries.push(filtered(KeyQuery {
                    order,
                    after,
                    ..KeyQuery::default()
                }));
            }
            queries.push(filtered(KeyQuery {
                order,
                ..KeyQuery::default()
            }));
            for query in queries {
                for segment in segments(&query).unwrap() {
                    let mut sql = QueryBuilder::new("EXPLAIN QUERY PLAN ");
                    key_page(&mut sql, account, &query, NOW, segment, 50).unwrap();
                    let plan = query_plan(&store, sql).await;
                    let index = match (order.sort, segment.part) {
                        (KeySort::Label, _) => "api_keys_by_account_label",
                        (KeySort::ExpiresAt, _) => "api_keys_by_account_expiry",
                        // Keys without a last use are paged by id.
                        (_, crate::key_pages::Part::Unvalued) | (KeySort::CreatedAt, _) => {
                            "api_keys_by_account_newest"
                        }
                        // Sorted: see the module's comment.
                        (KeySort::LastUsedAt, _) => {
                            assert!(plan.contains("INDEX api_keys_by_account"), "{plan}");
                            checked += 1;
                            continue;
                        }
                    };
                    assert!(
                        plan.contains(&format!("INDEX {index}")),
                        "{query:?} {segment:?}: {plan}"
                    );
                    assert!(
                        !plan.contains("TEMP B-TREE"),
                        "{query:?} {segment:?}: {plan}"
                    );
                    checked += 1;
                }
            }
        }
        assert!(checked > 40, "{checked}");

        // Only expired keys: SQLite may read just those from the expiry index (a range below
        // now) and sort them, rather than read every key of the account in order.
        for order in KeyOrder::all() {
            let query = KeyQuery {
                order,
                status: Some(KeyStatus::Expired),
                ..KeyQuery::default()
            };
            for segment in segments(&query).unwrap() {
                let mut sql = QueryBuilder::new("EXPLAIN QUERY PLAN ");
                key_page(&mut sql, account, &query, NOW, segment, 50).unwrap();
                let plan = query_plan(&store, sql).await;
                assert!(
                    plan.contains("INDEX api_keys_by_account"),
                    "{query:?}: {plan}"
                );
            }
        }
    }
}
