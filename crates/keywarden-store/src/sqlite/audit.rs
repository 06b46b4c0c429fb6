//! [`AuditStore`] on SQLite: the audit trail, appended to and read back newest first.
//!
//! A change writes its events in its own transaction (`insert_events` in `sqlite.rs`); this
//! appends the events that go with no change, each in a `BEGIN IMMEDIATE` transaction like
//! every write of this backend.
//!
//! The audit page lists newest first by id ("id < cursor ORDER BY id DESC LIMIT n"): ids are
//! UUIDv7, so that is creation order, and the indexes of migration 0002
//! (`audit_events_by_account_newest`, `audit_events_by_key`, `audit_events_by_actor`) make a
//! page one range scan. Optional filters are appended to the statement only when present, so
//! each condition the planner sees is one it can use.

use super::codec::{self, event_columns, id_text, micros};
use super::errors::map_sqlx;
use super::{SqliteStore, commit, insert_events, page_limit};
use async_trait::async_trait;
use keywarden_core::audit::AuditEvent;
use keywarden_core::ids::AccountId;
use keywarden_core::store::{AuditQuery, AuditStore, StoreError};
use sqlx::{QueryBuilder, Sqlite};
use std::slice;
use time::OffsetDateTime;

#[async_trait]
impl AuditStore for SqliteStore {
    async fn insert_event(&self, event: &AuditEvent) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        insert_events(&mut tx, slice::from_ref(event)).await?;
        commit(tx).await
    }

    async fn audit_events(
        &self,
        account_id: AccountId,
        limit: u32,
    ) -> Result<Vec<AuditEvent>, StoreError> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            event_columns!(),
            " FROM audit_events WHERE account_id = ? ORDER BY at DESC, id DESC LIMIT ?"
        ))
        .bind(id_text(account_id.0))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(map_sqlx)?;
        rows.iter().map(codec::event_from_row).collect()
    }

    async fn query_audit_events(
        &self,
        account_id: AccountId,
        query: &AuditQuery,
    ) -> Result<Vec<AuditEvent>, StoreError> {
        let mut sql = QueryBuilder::new("");
        audit_page(&mut sql, account_id, query)?;
        let rows = sql.build().fetch_all(&self.pool).await.map_err(map_sqlx)?;
        rows.iter().map(codec::event_from_row).collect()
    }
}

/// Appends the statement of [`AuditStore::query_audit_events`] to `sql`.
fn audit_page(
    sql: &mut QueryBuilder<Sqlite>,
    account_id: AccountId,
    query: &AuditQuery,
) -> Result<(), StoreError> {
    sql.push(concat!(
        "SELECT ",
        event_columns!(),
        " FROM audit_events WHERE account_id = "
    ));
    sql.push_bind(id_text(account_id.0));
    if let Some(before) = query.before {
        sql.push(" AND id < ").push_bind(id_text(before.0));
    }
    if let Some(actor) = query.actor {
        sql.push(" AND actor_user_id = ")
            .push_bind(id_text(actor.0));
    }
    if let Some(action) = query.action {
        sql.push(" AND action = ").push_bind(action.as_str());
    }
    if let Some(key_id) = query.key_id {
        sql.push(" AND key_id = ").push_bind(id_text(key_id.0));
    }
    // Stored times are whole microseconds: `at >= since` and `at < until` hold exactly when
    // they hold against the bounds rounded up.
    if let Some(since) = query.since {
        sql.push(" AND at >= ").push_bind(micros_up(since)?);
    }
    if let Some(until) = query.until {
        sql.push(" AND at < ").push_bind(micros_up(until)?);
    }
    sql.push(" ORDER BY id DESC LIMIT ")
        .push_bind(page_limit(query.limit));
    Ok(())
}

/// A time as the microseconds a stored time must reach to be at or after it: stored times are
/// whole microseconds, so a bound with a finer part rounds up ([`micros`] rounds down).
pub(super) fn micros_up(at: OffsetDateTime) -> Result<i64, StoreError> {
    let us = micros(at)?;
    if at.unix_timestamp_nanos().rem_euclid(1_000) == 0 {
        return Ok(us);
    }
    us.checked_add(1)
        .ok_or_else(|| StoreError::Other(format!("time {at} is out of the storable range")))
}

#[cfg(test)]
mod tests {
    use super::{audit_page, micros_up};
    use crate::sqlite::codec::micros;
    use crate::sqlite::{SqliteStore, query_plan};
    use keywarden_core::audit::Action;
    use keywarden_core::ids::{AccountId, EventId, KeyId, UserId};
    use keywarden_core::store::AuditQuery;
    use sqlx::QueryBuilder;
    use time::OffsetDateTime;
    use time::macros::datetime;

    const NOW: OffsetDateTime = datetime!(2026-03-01 12:00 UTC);

    #[tokio::test]
    async fn audit_pages_are_index_range_scans_without_sorting() {
        let store = SqliteStore::connect("sqlite::memory:").await.unwrap();
        let account = AccountId::new_at(NOW);
        let audit_queries = [
            (AuditQuery::default(), "audit_events_by_account_newest"),
            (
                AuditQuery {
                    before: Some(EventId::new_at(NOW)),
                    action: Some(Action::SignIn),
                    since: Some(NOW),
                    until: Some(NOW),
                    ..AuditQuery::default()
                },
                "audit_events_by_account_newest",
            ),
            (
                AuditQuery {
                    key_id: Some(KeyId::new_at(NOW)),
                    ..AuditQuery::default()
                },
                "audit_events_by_key",
            ),
            (
                AuditQuery {
                    actor: Some(UserId::new_at(NOW)),
                    ..AuditQuery::default()
                },
                "audit_events_by_actor",
            ),
        ];
        for (query, index) in audit_queries {
            let query = AuditQuery { limit: 50, ..query };
            let mut sql = QueryBuilder::new("EXPLAIN QUERY PLAN ");
            audit_page(&mut sql, account, &query).unwrap();
            let plan = query_plan(&store, sql).await;
            assert!(plan.contains(index), "{query:?}: {plan}");
            assert!(!plan.contains("TEMP B-TREE"), "{query:?}: {plan}");
        }
    }

    #[test]
    fn bounds_round_up_to_whole_microseconds() {
        let whole = datetime!(2026-03-01 12:00:00.000001 UTC);
        assert_eq!(micros_up(whole).unwrap(), micros(whole).unwrap());
        let finer = whole + time::Duration::nanoseconds(1);
        assert_eq!(micros_up(finer).unwrap(), micros(whole).unwrap() + 1);
        let before_epoch = datetime!(1969-12-31 23:59:59.9999995 UTC);
        assert_eq!(micros_up(before_epoch).unwrap(), 0);
    }
}
