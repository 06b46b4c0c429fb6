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
//!   - `sqlite/console.rs`: the console API's operations (key pages and updates, users and
//!     the last-admin rule, account policy, TOTP and recovery codes, audit queries).
//! - [`postgres`]: the PostgreSQL backend ([`PostgresStore`]), for several instances sharing
//!   one database. Schema in `migrations/postgres/`, embedded and applied at connect like
//!   SQLite's.
//!   - `postgres/codec.rs`, `postgres/errors.rs`, `postgres/console.rs`: as for SQLite.
//!   - `postgres/listener.rs`: [`KeyChangeListener`], `LISTEN` on the channel every
//!     key-changing transaction notifies on commit, so other instances can read the change
//!     feed early instead of at their next poll.
//!
//! The storage promises every backend keeps (and `tests/store.rs` checks, written against
//! `&dyn Store` so every backend can run the same checks):
//! - Every write is one transaction together with its audit events: no event, no change.
//! - Each insert, lifecycle change or settings update of a key gives it a fresh `change_seq`,
//!   assigned in commit order, so [`Store::keys_changed_since`] is a change feed that never
//!   skips a change.
//! - Rules that span rows (one active standard key per mode, the last admin, a one-time code
//!   used once) hold under concurrent requests, not just one after the other.
//! - Only digests of keys are stored, never a secret.
//!
//! [`Store::keys_changed_since`]: keywarden_core::store::Store::keys_changed_since

mod narrow_feed;
pub mod postgres;
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
