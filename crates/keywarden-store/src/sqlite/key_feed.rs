//! [`KeyFeed`] on SQLite: the keys in the order they changed, which keeps every instance's
//! key table current.
//!
//! `change_seq` values are taken inside write transactions that hold the database's write
//! lock, so they are handed out in commit order and a page read after a number never skips a
//! change. The narrow feed of a database file is read with rusqlite (`feed_reader.rs`, see
//! there why); an in-memory database has no file for it to open and is read through the pool.

use super::SqliteStore;
use super::codec::{self, key_columns};
use super::errors::map_sqlx;
use crate::narrow_feed::table_columns;
use async_trait::async_trait;
use keywarden_core::key_record::KeyRecord;
use keywarden_core::store::{KeyFeed, KeyTableRow, StoreError};
use sqlx::sqlite::SqlitePool;

#[async_trait]
impl KeyFeed for SqliteStore {
    async fn keys_changed_since(
        &self,
        after: i64,
        limit: u32,
    ) -> Result<Vec<KeyRecord>, StoreError> {
        const FEED: &str = concat!(
            "SELECT ",
            key_columns!(),
            " FROM api_keys WHERE change_seq > ? AND change_seq <= ? ORDER BY change_seq ASC LIMIT ?"
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
        if let Some(feed) = &self.feed {
            return feed.read(after, until, limit).await;
        }
        const FEED: &str = concat!(
            "SELECT ",
            table_columns!(),
            " FROM api_keys WHERE change_seq > ? AND change_seq <= ? ORDER BY change_seq ASC LIMIT ?"
        );
        feed_page(
            &self.pool,
            FEED,
            (after, until),
            limit,
            codec::table_row_from,
        )
        .await
    }

    async fn feed_end(&self) -> Result<i64, StoreError> {
        sqlx::query_scalar(crate::shared_sql::FEED_END)
            .fetch_one(&self.pool)
            .await
            .map_err(map_sqlx)
    }
}

/// One page of a change feed: the rows of `query` (which binds `after`, `until` and `limit`,
/// in that order) decoded by `decode`.
async fn feed_page<T>(
    pool: &SqlitePool,
    query: &'static str,
    (after, until): (i64, i64),
    limit: u32,
    decode: fn(&sqlx::sqlite::SqliteRow) -> Result<T, StoreError>,
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
