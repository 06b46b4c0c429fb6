//! Keywarden's storage backends: implementations of [`keywarden_core::store::Store`].
//!
//! Layout:
//! - [`open`]: picks the backend from the database URL's scheme and returns it as a
//!   `Arc<dyn Store>`, which is all the server and the CLI need to know.
//! - [`sqlite`]: the SQLite backend ([`SqliteStore`]), the default for a single instance. Its
//!   schema lives in `migrations/sqlite/`, is embedded in the binary and is applied at connect.
//!   - `sqlite/codec.rs`: how domain values map to columns (ids as TEXT, times as INTEGER
//!     microseconds, digests as BLOB) and back, strictly.
//!   - `sqlite/errors.rs`: the one mapping from sqlx/SQLite errors to [`StoreError`].
//!   - `sqlite/accounts.rs`, `sqlite/users.rs`, `sqlite/second_factor.rs`, `sqlite/keys.rs`,
//!     `sqlite/key_feed.rs`, `sqlite/audit.rs`, `sqlite/installation.rs`,
//!     `sqlite/webhooks.rs`: one module per store trait, each implementing it with the queries
//!     it runs. `sqlite.rs` keeps what they share: the store and its connection, the write
//!     transaction, `change_seq`, and the row inserts several of them write (among them the
//!     audit events, with their webhook outbox rows).
//!   - `sqlite/feed_reader.rs`: the narrow change feed of a database file, read with rusqlite.
//! - [`postgres`]: the PostgreSQL backend ([`PostgresStore`]), for several instances sharing
//!   one database. Schema in `migrations/postgres/`, embedded and applied at connect like
//!   SQLite's.
//!   - `postgres/codec.rs`, `postgres/errors.rs`: as for SQLite.
//!   - One file per store trait, each with the rule it keeps: `postgres/accounts.rs`,
//!     `postgres/users.rs` (and the last-admin rule), `postgres/second_factor.rs`,
//!     `postgres/keys.rs` (and the key pages), `postgres/key_feed.rs`, `postgres/audit.rs`,
//!     `postgres/installation.rs`, `postgres/webhooks.rs` (and the queues several instances
//!     share). `postgres.rs` keeps what they share: connecting, the transaction and retry, the
//!     change counter, the audit insert (with its webhook outbox rows).
//!   - `postgres/listener.rs`: [`KeyChangeListener`], `LISTEN` on the channel every
//!     key-changing transaction notifies on commit, so other instances can read the change
//!     feed early instead of at their next poll.
//!
//! The storage promises every backend keeps (and `tests/store.rs` checks, written against
//! `&dyn Store` so every backend can run the same checks):
//! - Every write is one transaction together with its audit events: no event, no change.
//!   The events that leave the system as webhooks are queued in the same transaction (the
//!   outbox), and each is dispatched to its endpoints once, however many instances dispatch.
//! - Each insert, lifecycle change or settings update of a key gives it a fresh `change_seq`,
//!   assigned in commit order, so [`KeyFeed::keys_changed_since`] is a change feed that never
//!   skips a change.
//! - Rules that span rows (one active standard key per mode, the last admin, a one-time code
//!   used once) hold under concurrent requests, not just one after the other.
//! - Only digests of keys are stored, never a secret.
//!
//! [`KeyFeed::keys_changed_since`]: keywarden_core::store::KeyFeed::keys_changed_since

mod key_pages;
mod migrations;
mod narrow_feed;
pub mod postgres;
mod shared_sql;
pub mod sqlite;

pub use keywarden_core::store::StoreError;
pub use postgres::{
    KEY_CHANGES_CHANNEL, KeyChangeListener, KeyChangeNotice, PostgresSettings, PostgresStore,
};
pub use sqlite::{SqliteSettings, SqliteStore};

use keywarden_core::store::Store;
use std::sync::Arc;

/// The URL forms [`open`] accepts, for error messages.
const ACCEPTED: &str = "sqlite://PATH (e.g. sqlite://keywarden-data/keywarden.db), \
                        sqlite::memory: or postgres://… / postgresql://…";

/// Opens the store named by `url`:
/// - `sqlite://PATH` or `sqlite:PATH`: a SQLite database file, created with its directory if
///   missing (`sqlite:///abs/path.db` for an absolute path);
/// - `sqlite::memory:`: a private in-memory SQLite database, for quick tests;
/// - `postgres://…` or `postgresql://…`: a PostgreSQL database, which must exist (see
///   [`PostgresStore::connect`]).
///
/// The schema is brought up to date before this returns. Error messages never repeat the
/// URL, which for a server database may carry a password.
pub async fn open(url: &str) -> Result<Arc<dyn Store>, StoreError> {
    let scheme = url
        .split_once(':')
        .map(|(scheme, _)| scheme.to_ascii_lowercase());
    match scheme.as_deref() {
        Some("sqlite") => Ok(Arc::new(SqliteStore::connect(url).await?)),
        Some("postgres" | "postgresql") => Ok(Arc::new(PostgresStore::connect(url).await?)),
        _ => Err(StoreError::Other(format!(
            "unsupported database URL; use one of: {ACCEPTED}"
        ))),
    }
}
