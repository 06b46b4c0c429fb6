//! The narrow change feed ([`KeyFeed::key_table_since`]) of a database file, read with rusqlite.
//!
//! Start-up reads every stored key through this feed. sqlx's SQLite driver hands each row
//! from its worker thread to the runtime and copies every value (`sqlite3_value_dup`): about
//! 1 µs per row and 0.3 µs per value, 3.5 s for 1e6 keys. rusqlite steps the statement on the
//! calling thread and lends the values in place: 0.7 s for the same rows (docs/BENCHMARKS.md,
//! docs/decisions/0004-key-table-load-with-rusqlite.md). It links the same libsqlite3-sys as
//! sqlx, so there is one SQLite in the binary.
//!
//! The reader has its own read-only connection, opened on first use (after sqlx has created
//! and migrated the file) and used from a blocking thread. Under WAL a reader never waits for
//! the writers, and each statement reads one committed snapshot, so the feed's promise (no
//! change skipped) holds as it does for the sqlx query. An in-memory database has no file to
//! open a second connection to; it is read through sqlx instead.
//!
//! [`KeyFeed::key_table_since`]: keywarden_core::store::KeyFeed::key_table_since

use super::codec::{FeedColumns, table_row_from};
use crate::narrow_feed::table_columns;
use keywarden_core::store::{KeyTableRow, StoreError};
use rusqlite::types::ValueRef;
use rusqlite::{Connection, OpenFlags, Row};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

const FEED_QUERY: &str = concat!(
    "SELECT ",
    table_columns!(),
    " FROM api_keys WHERE change_seq > ?1 AND change_seq <= ?2 ORDER BY change_seq ASC LIMIT ?3"
);

/// Reads the narrow feed of one database file.
#[derive(Clone, Debug)]
pub(crate) struct FeedReader {
    path: PathBuf,
    /// Idle connections, one per read that ran at once (start-up reads two halves of the
    /// feed together). std Mutex: only ever locked on a blocking thread, to take or return one.
    idle: Arc<Mutex<Vec<Connection>>>,
}

impl FeedReader {
    pub(crate) fn new(path: PathBuf) -> Self {
        Self {
            path,
            idle: Arc::default(),
        }
    }

    /// The keys changed after `after` and at most at `until`, at most `limit`, in feed order.
    pub(crate) async fn read(
        &self,
        after: i64,
        until: i64,
        limit: u32,
    ) -> Result<Vec<KeyTableRow>, StoreError> {
        let reader = self.clone();
        tokio::task::spawn_blocking(move || reader.read_blocking(after, until, limit))
            .await
            .map_err(|e| StoreError::Other(format!("the key feed reader stopped: {e}")))?
    }

    fn read_blocking(
        &self,
        after: i64,
        until: i64,
        limit: u32,
    ) -> Result<Vec<KeyTableRow>, StoreError> {
        let idle = || self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        let taken = idle().pop();
        let connection = match taken {
            Some(connection) => connection,
            None => open(&self.path)?,
        };
        let rows = query(&connection, after, until, limit);
        // Kept for the next read unless it failed: a broken connection is opened afresh.
        if rows.is_ok() {
            idle().push(connection);
        }
        rows
    }
}

fn open(path: &Path) -> Result<Connection, StoreError> {
    let connection = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| unavailable(path, &e))?;
    connection
        .busy_timeout(Duration::from_secs(5))
        .map_err(|e| unavailable(path, &e))?;
    Ok(connection)
}

fn unavailable(path: &Path, e: &rusqlite::Error) -> StoreError {
    StoreError::Unavailable(format!(
        "cannot read the key feed of {}: {e}",
        path.display()
    ))
}

fn query(
    connection: &Connection,
    after: i64,
    until: i64,
    limit: u32,
) -> Result<Vec<KeyTableRow>, StoreError> {
    let failed = |e: rusqlite::Error| StoreError::Unavailable(format!("reading the key feed: {e}"));
    let mut statement = connection.prepare(FEED_QUERY).map_err(failed)?;
    let mut rows = statement
        .query((after, until, i64::from(limit)))
        .map_err(failed)?;
    let mut out = Vec::with_capacity(usize::try_from(limit).unwrap_or(0).min(4_096));
    while let Some(row) = rows.next().map_err(failed)? {
        out.push(table_row_from(row)?);
    }
    Ok(out)
}

impl FeedColumns for Row<'_> {
    fn integer(&self, at: usize) -> Result<Option<i64>, String> {
        match self.get_ref(at).map_err(|e| e.to_string())? {
            ValueRef::Null => Ok(None),
            ValueRef::Integer(value) => Ok(Some(value)),
            other => Err(format!("{} is not an integer", other.data_type())),
        }
    }

    fn text(&self, at: usize) -> Result<&str, String> {
        let value = self.get_ref(at).map_err(|e| e.to_string())?;
        value.as_str().map_err(|e| e.to_string())
    }

    fn blob(&self, at: usize) -> Result<&[u8], String> {
        let value = self.get_ref(at).map_err(|e| e.to_string())?;
        value.as_blob().map_err(|e| e.to_string())
    }

    fn opt_text(&self, at: usize) -> Result<Option<&str>, String> {
        let value = self.get_ref(at).map_err(|e| e.to_string())?;
        value.as_str_or_null().map_err(|e| e.to_string())
    }
}
