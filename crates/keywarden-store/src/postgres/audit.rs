//! [`AuditStore`] on PostgreSQL: recording an event on its own, the latest events of an
//! account, and the console's paginated, filtered audit query (SPEC §4).
//!
//! Events that describe a change are not written here but by the change's own transaction
//! (`insert_events` in `postgres.rs`): no event, no change. Pages run newest first by id
//! ("id < cursor ORDER BY id DESC LIMIT n"; ids are UUIDv7, so that is creation order), and
//! optional filters are appended to the statement only when present.

use super::codec::{self, event_columns, pg_time_up};
use super::errors::map_sqlx;
use super::{PostgresStore, insert_events, page_limit};
use async_trait::async_trait;
use keywarden_core::audit::AuditEvent;
use keywarden_core::ids::AccountId;
use keywarden_core::store::{AuditQuery, AuditStore, StoreError};
use sqlx::{Postgres, QueryBuilder};
use std::slice;

/// Appends the statement of [`AuditStore::query_audit_events`] to `sql`.
fn audit_page(
    sql: &mut QueryBuilder<Postgres>,
    account_id: AccountId,
    query: &AuditQuery,
) -> Result<(), StoreError> {
    sql.push(concat!(
        "SELECT ",
        event_columns!(),
        " FROM audit_events WHERE account_id = "
    ));
    sql.push_bind(account_id.0);
    if let Some(before) = query.before {
        sql.push(" AND id < ").push_bind(before.0);
    }
    if let Some(actor) = query.actor {
        sql.push(" AND actor_user_id = ").push_bind(actor.0);
    }
    if let Some(action) = query.action {
        sql.push(" AND action = ").push_bind(action.as_str());
    }
    if let Some(key_id) = query.key_id {
        sql.push(" AND key_id = ").push_bind(key_id.0);
    }
    // Stored times are whole microseconds: `at >= since` and `at < until` hold exactly when
    // they hold against the bounds rounded up.
    if let Some(since) = query.since {
        sql.push(" AND at >= ").push_bind(pg_time_up(since)?);
    }
    if let Some(until) = query.until {
        sql.push(" AND at < ").push_bind(pg_time_up(until)?);
    }
    sql.push(" ORDER BY id DESC LIMIT ")
        .push_bind(page_limit(query.limit));
    Ok(())
}

#[async_trait]
impl AuditStore for PostgresStore {
    async fn insert_event(&self, event: &AuditEvent) -> Result<(), StoreError> {
        in_transaction!(self, |tx| insert_events(tx, slice::from_ref(event)).await)
    }

    async fn audit_events(
        &self,
        account_id: AccountId,
        limit: u32,
    ) -> Result<Vec<AuditEvent>, StoreError> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            event_columns!(),
            " FROM audit_events WHERE account_id = $1 ORDER BY at DESC, id DESC LIMIT $2"
        ))
        .bind(account_id.0)
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
