//! [`KeyFeed`] on PostgreSQL: the change feed every instance's key table reads, in full
//! records or in the narrow rows of the key table.
//!
//! Its rule: a page is a gap-free run of `change_seq`. Numbers are assigned in commit order
//! (see the change counter in `postgres.rs`), so whatever one statement's snapshot holds above
//! a cursor is complete: nothing with a smaller number can commit later. The feed only reads;
//! it never takes a lock.

use super::PostgresStore;
use super::codec::{self, key_columns};
use super::errors::map_sqlx;
use crate::narrow_feed::table_columns;
use async_trait::async_trait;
use keywarden_core::key_record::KeyRecord;
use keywarden_core::store::{KeyFeed, KeyTableRow, StoreError};
use sqlx::postgres::PgPool;

/// One page of a change feed: the rows of `query` (which binds `after`, `until` and `limit`,
/// in that order) decoded by `decode`.
async fn feed_page<T>(
    pool: &PgPool,
    query: &'static str,
    (after, until): (i64, i64),
    limit: u32,
    decode: fn(&sqlx::postgres::PgRow) -> Result<T, StoreError>,
) -> Result<Vec<T>, StoreError> {
    let rows = sqlx::query(query)
        .bind(after)
        .bind(until)
        .bind(i64::from(limit))
        .fetch_all(pool)
        .await
        .map_err(map_sqlx)?;
    rows.iter().map(decode).collect()
}

#[async_trait]
impl KeyFeed for PostgresStore {
    async fn keys_changed_since(
        &self,
        after: i64,
        limit: u32,
    ) -> Result<Vec<KeyRecord>, StoreError> {
        // Numbers are assigned in commit order (see the module documentation), so whatever
        // this statement's snapshot holds above `after` is a gap-free run: nothing with a
        // smaller number can commit later.
        const FEED: &str = concat!(
            "SELECT ",
            key_columns!(),
            " FROM api_keys WHERE change_seq > $1 AND change_seq <= $2 ORDER BY change_seq ASC LIMIT $3"
        );
        feed_page(
            &self.pool,
            FEED,
            (after, i64::MAX),
            limit,
            codec::key_from_row,
        )
        .await
    }

    async fn key_table_since(
        &self,
        after: i64,
        until: i64,
        limit: u32,
    ) -> Result<Vec<KeyTableRow>, StoreError> {
        // The same gap-free run as `keys_changed_since`.
        const FEED: &str = concat!(
            "SELECT ",
            table_columns!(),
            " FROM api_keys WHERE change_seq > $1 AND change_seq <= $2 ORDER BY change_seq ASC LIMIT $3"
        );
        feed_page(
            &self.pool,
            FEED,
            (after, until),
            limit,
            codec::table_row_from_row,
        )
        .await
    }

    async fn feed_end(&self) -> Result<i64, StoreError> {
        // Numbers commit in order, so everything up to the highest one visible is visible.
        sqlx::query_scalar(crate::shared_sql::FEED_END)
            .fetch_one(&self.pool)
            .await
            .map_err(map_sqlx)
    }
}
