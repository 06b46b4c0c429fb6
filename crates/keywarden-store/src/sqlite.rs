//! The SQLite backend: one database file (plus its `-wal` and `-shm` companions), embedded
//! in the server process.
//!
//! Durability and concurrency settings, checked at start-up rather than assumed:
//! - `journal_mode = WAL`: readers never block the writer and the writer never blocks readers.
//! - `synchronous = FULL`: a committed transaction survives a power cut, not just a crash of
//!   the process (SPEC §5: a key a client was given is never lost).
//! - `foreign_keys = ON`, and a 5 s busy timeout.
//!
//! Every write is one transaction opened with `BEGIN IMMEDIATE`: it takes the database's
//! write lock up front, so concurrent writers queue on the busy timeout instead of failing
//! when a read lock cannot be upgraded, and `change_seq` values are handed out in commit
//! order. The audit events describing a change are inserted in the same transaction.
//!
//! This file holds what every concern shares: [`SqliteStore`], connecting and its settings,
//! the write transaction (`begin_write`, `commit`), `next_change_seq`, the row inserts more
//! than one concern writes (users, keys, audit events with their webhook outbox rows) and the
//! page size limit. Each store trait is implemented, with the queries it runs, in a module of
//! its own:
//! - `sqlite/accounts.rs`: [`AccountStore`], accounts and their policy.
//! - `sqlite/users.rs`: [`UserStore`], the people of an account and the last-admin rule.
//! - `sqlite/second_factor.rs`: [`SecondFactorStore`], TOTP enrolments, used steps and
//!   recovery codes.
//! - `sqlite/keys.rs`: [`KeyStore`], issuing, rotating, revoking and changing keys, and the
//!   key page.
//! - `sqlite/key_feed.rs`: [`KeyFeed`], the change feed; `sqlite/feed_reader.rs` reads its
//!   narrow form from a database file with rusqlite.
//! - `sqlite/audit.rs`: [`AuditStore`], the audit trail and the audit page.
//! - `sqlite/installation.rs`: [`InstallationStore`], the secret's fingerprint and `ping`.
//! - `sqlite/leaks.rs`: [`LeakStore`], reported keys by digest and leaks recorded on them.
//! - `sqlite/webhooks.rs`: [`WebhookStore`], endpoints, dispatching the outbox into
//!   deliveries, claiming and finishing them, and the reminders sent. The outbox itself is
//!   written by `insert_events`, in the transaction of every change.
//!
//! Beside them, `sqlite/codec.rs` maps domain values to columns and back, `sqlite/errors.rs`
//! maps sqlx errors to [`StoreError`], and `sqlite/migration_tests.rs` upgrades databases
//! written under earlier schemas.
//!
//! [`AccountStore`]: keywarden_core::store::AccountStore
//! [`UserStore`]: keywarden_core::store::UserStore
//! [`SecondFactorStore`]: keywarden_core::store::SecondFactorStore
//! [`KeyStore`]: keywarden_core::store::KeyStore
//! [`KeyFeed`]: keywarden_core::store::KeyFeed
//! [`AuditStore`]: keywarden_core::store::AuditStore
//! [`InstallationStore`]: keywarden_core::store::InstallationStore
//! [`LeakStore`]: keywarden_core::store::LeakStore
//! [`WebhookStore`]: keywarden_core::store::WebhookStore

mod accounts;
mod audit;
mod codec;
mod errors;
mod feed_reader;
mod installation;
mod key_feed;
mod key_usage;
mod keys;
mod leaks;
#[cfg(test)]
mod migration_tests;
mod second_factor;
mod usage_limits;
mod users;
mod webhooks;

use crate::narrow_feed::policy_json;
use codec::{id_text, key_columns, micros, opt_micros, scopes_json};
use errors::{map_migrate, map_sqlx};
use keywarden_core::account::User;
use keywarden_core::audit::AuditEvent;
use keywarden_core::ids::EndpointId;
use keywarden_core::key_record::KeyRecord;
use keywarden_core::store::StoreError;
use keywarden_core::webhook::EventType;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePool, SqlitePoolOptions,
    SqliteSynchronous,
};
use sqlx::{Sqlite, Transaction};
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

/// The schema, embedded in the binary and brought up to date at every connect.
static MIGRATOR: std::sync::LazyLock<sqlx::migrate::Migrator> =
    std::sync::LazyLock::new(|| crate::migrations::migrator(crate::migrations::SQLITE));

/// How long a writer waits for another writer's lock before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a caller waits for a free pooled connection.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);
/// Connections to a database file (readers run in parallel under WAL; writers queue).
const FILE_POOL_SIZE: u32 = 8;
/// `PRAGMA synchronous` reads back as a number; 2 is FULL.
const SYNCHRONOUS_FULL: i64 = 2;

/// The most rows one page holds, whatever the caller asks for. Callers cap their own limits;
/// this only bounds the damage of one that forgets.
const MAX_PAGE: u32 = 1000;

/// `LIMIT` of a page: the caller's limit, at most [`MAX_PAGE`]. 0 stays 0 (an empty page).
fn page_limit(limit: u32) -> i64 {
    i64::from(limit.min(MAX_PAGE))
}

/// The SQLite store. Cheap to clone (it is a connection pool).
#[derive(Clone, Debug)]
pub struct SqliteStore {
    pool: SqlitePool,
    in_memory: bool,
    /// The narrow feed's reader; `None` in memory (read through the pool instead).
    feed: Option<feed_reader::FeedReader>,
}

/// The durability-relevant settings of a connection, as SQLite reports them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SqliteSettings {
    /// `PRAGMA journal_mode`, lower-case: `wal` for a file database, `memory` in memory.
    pub journal_mode: String,
    /// `PRAGMA synchronous`: 0 OFF, 1 NORMAL, 2 FULL, 3 EXTRA.
    pub synchronous: i64,
    /// `PRAGMA foreign_keys`.
    pub foreign_keys: bool,
}

impl SqliteStore {
    /// Opens (creating the file and its directory if missing) and migrates the database at
    /// `url`: `sqlite://relative/path.db`, `sqlite:///absolute/path.db`, or `sqlite::memory:`
    /// for a private in-memory database that lives as long as this store.
    pub async fn connect(url: &str) -> Result<SqliteStore, StoreError> {
        if !url.starts_with("sqlite:") {
            return Err(StoreError::Other(
                "a SQLite database URL starts with `sqlite:`, e.g. \
                 sqlite://keywarden-data/keywarden.db or sqlite::memory:"
                    .into(),
            ));
        }
        let in_memory = is_in_memory(url);
        let options = SqliteConnectOptions::from_str(url)
            .map_err(|e| StoreError::Other(format!("invalid SQLite database URL: {e}")))?
            .foreign_keys(true)
            .busy_timeout(BUSY_TIMEOUT);

        let pool = if in_memory {
            // One connection that is never closed: an in-memory database exists only while a
            // connection to it is open, and every query must see the same one. WAL does not
            // apply to memory.
            SqlitePoolOptions::new()
                .max_connections(1)
                .min_connections(1)
                .idle_timeout(None)
                .max_lifetime(None)
                .acquire_timeout(ACQUIRE_TIMEOUT)
                .connect_with(options)
                .await
                .map_err(map_sqlx)?
        } else {
            if options.get_filename().as_os_str().is_empty() {
                return Err(StoreError::Other(
                    "the sqlite: database URL names no file, e.g. \
                     sqlite://keywarden-data/keywarden.db"
                        .into(),
                ));
            }
            prepare_file(options.get_filename())?;
            let options = options
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Full);
            SqlitePoolOptions::new()
                .max_connections(FILE_POOL_SIZE)
                .min_connections(1)
                .acquire_timeout(ACQUIRE_TIMEOUT)
                .connect_with(options)
                .await
                .map_err(map_sqlx)?
        };
        let feed = (!in_memory).then(|| {
            feed_reader::FeedReader::new(pool.connect_options().get_filename().to_path_buf())
        });
        let store = SqliteStore {
            pool,
            in_memory,
            feed,
        };
        store.check_settings().await?;
        MIGRATOR.run(&store.pool).await.map_err(map_migrate)?;
        tracing::info!(
            in_memory,
            file = %store.pool.connect_options().get_filename().display(),
            "SQLite store ready"
        );
        Ok(store)
    }

    /// The durability settings of a pooled connection (every connection is opened with the
    /// same options).
    pub async fn settings(&self) -> Result<SqliteSettings, StoreError> {
        let mut conn = self.pool.acquire().await.map_err(map_sqlx)?;
        let journal_mode: String = sqlx::query_scalar("PRAGMA journal_mode")
            .fetch_one(&mut *conn)
            .await
            .map_err(map_sqlx)?;
        let synchronous: i64 = sqlx::query_scalar("PRAGMA synchronous")
            .fetch_one(&mut *conn)
            .await
            .map_err(map_sqlx)?;
        let foreign_keys: i64 = sqlx::query_scalar("PRAGMA foreign_keys")
            .fetch_one(&mut *conn)
            .await
            .map_err(map_sqlx)?;
        Ok(SqliteSettings {
            journal_mode: journal_mode.to_ascii_lowercase(),
            synchronous,
            foreign_keys: foreign_keys == 1,
        })
    }

    /// Refuses to run with settings that would break the durability promises.
    async fn check_settings(&self) -> Result<(), StoreError> {
        let s = self.settings().await?;
        if !s.foreign_keys {
            return Err(StoreError::Other(
                "SQLite refused to enable foreign keys (PRAGMA foreign_keys reads 0)".into(),
            ));
        }
        if self.in_memory {
            return Ok(());
        }
        if s.journal_mode != "wal" {
            return Err(StoreError::Other(format!(
                "SQLite did not switch the database to WAL (PRAGMA journal_mode reads '{}'); \
                 WAL needs a local file system that supports shared memory, not a network share",
                s.journal_mode
            )));
        }
        if s.synchronous != SYNCHRONOUS_FULL {
            return Err(StoreError::Other(format!(
                "SQLite did not accept synchronous=FULL (PRAGMA synchronous reads {}); \
                 without it a power cut could lose committed keys",
                s.synchronous
            )));
        }
        Ok(())
    }

    /// Closes every connection (the file stays consistent either way; this only flushes the
    /// WAL into the main file sooner).
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// Opens a write transaction holding the database's write lock.
    async fn begin_write(&self) -> Result<Transaction<'static, Sqlite>, StoreError> {
        self.pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(map_sqlx)
    }
}

/// Whether a `sqlite:` URL names an in-memory database (`sqlite::memory:`,
/// `sqlite://:memory:`, or `mode=memory`).
fn is_in_memory(url: &str) -> bool {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .unwrap_or(url);
    let (database, params) = rest.split_once('?').unwrap_or((rest, ""));
    database == ":memory:" || params.split('&').any(|p| p == "mode=memory")
}

/// Creates the database's directory (owner-only on Unix) and an empty database file
/// (owner-only on Unix) if they are missing. SQLite gives the `-wal` and `-shm` files the
/// permissions of the database file.
fn prepare_file(path: &Path) -> Result<(), StoreError> {
    let unavailable = |what: &str, e: std::io::Error| {
        StoreError::Unavailable(format!("cannot {what} {}: {e}", path.display()))
    };
    if let Some(dir) = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty() && !d.exists())
    {
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        builder
            .create(dir)
            .map_err(|e| unavailable("create the directory of", e))?;
    }
    if !path.exists() {
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        match options.open(path) {
            Ok(_) => {}
            // Another process created it in between: fine, SQLite opens it.
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(unavailable("create", e)),
        }
    }
    Ok(())
}

/// Takes the next change sequence number. Only inside a write transaction: the counter row
/// stays locked (and a rollback returns the number) until it ends.
async fn next_change_seq(conn: &mut SqliteConnection) -> Result<i64, StoreError> {
    sqlx::query_scalar(
        "UPDATE change_counter SET last_seq = last_seq + 1 WHERE id = 1 RETURNING last_seq",
    )
    .fetch_one(conn)
    .await
    .map_err(map_sqlx)
}

/// Inserts a user (an account's first admin, or one added later).
async fn insert_user_row(conn: &mut SqliteConnection, u: &User) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO users (id, account_id, email, password_hash, role, two_factor_enabled, \
         session_version, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(id_text(u.id.0))
    .bind(id_text(u.account_id.0))
    .bind(&u.email)
    .bind(&u.password_hash)
    .bind(u.role.as_str())
    .bind(i64::from(u.two_factor_enabled))
    .bind(u.session_version)
    .bind(micros(u.created_at)?)
    .execute(conn)
    .await
    .map_err(map_sqlx)?;
    Ok(())
}

/// Inserts a key with a fresh `change_seq` (the record's own value is ignored).
async fn insert_key(conn: &mut SqliteConnection, k: &KeyRecord) -> Result<i64, StoreError> {
    let seq = next_change_seq(&mut *conn).await?;
    sqlx::query(concat!(
        "INSERT INTO api_keys (",
        key_columns!(),
        ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    ))
    .bind(id_text(k.id.0))
    .bind(id_text(k.account_id.0))
    .bind(k.kind.as_str())
    .bind(k.mode.as_str())
    .bind(&k.label)
    .bind(&k.hint)
    .bind(k.digest.0.as_slice())
    .bind(scopes_json(&k.scopes)?)
    .bind(k.lifecycle.as_str())
    .bind(micros(k.created_at)?)
    .bind(k.created_by.map(|u| id_text(u.0)))
    .bind(opt_micros(k.expires_at)?)
    .bind(opt_micros(k.last_used_at)?)
    .bind(opt_micros(k.rotated_at)?)
    .bind(opt_micros(k.revoked_at)?)
    .bind(opt_micros(k.grace_until)?)
    .bind(k.replaced_by.map(|id| id_text(id.0)))
    .bind(k.replaces.map(|id| id_text(id.0)))
    .bind(seq)
    .bind(policy_json(&k.policy)?)
    .bind(opt_micros(k.leak.as_ref().map(|l| l.at))?)
    .bind(k.leak.as_ref().and_then(|l| l.url.as_deref()))
    .execute(conn)
    .await
    .map_err(map_sqlx)?;
    Ok(seq)
}

/// Inserts the audit events of a change, in the change's transaction, and the outbox row of
/// each one that leaves the system as a webhook ([`EventType::of_action`]): a change whose
/// events or outbox rows cannot be written does not happen.
async fn insert_events(
    conn: &mut SqliteConnection,
    events: &[AuditEvent],
) -> Result<(), StoreError> {
    for e in events {
        sqlx::query(
            "INSERT INTO audit_events (id, account_id, action, actor_user_id, actor_label, ip, \
             user_agent, key_id, detail, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(id_text(e.id.0))
        .bind(id_text(e.account_id.0))
        .bind(e.action.as_str())
        .bind(e.actor.user_id.map(|u| id_text(u.0)))
        .bind(&e.actor.label)
        .bind(e.actor.ip.as_deref())
        .bind(e.actor.user_agent.as_deref())
        .bind(e.key_id.map(|k| id_text(k.0)))
        .bind(&e.detail)
        .bind(micros(e.at)?)
        .execute(&mut *conn)
        .await
        .map_err(map_sqlx)?;
        if let Some(event_type) = EventType::of_action(e.action) {
            insert_outbox_row(&mut *conn, e, event_type, None).await?;
        }
    }
    Ok(())
}

/// Queues an audit event (already inserted) for the webhook dispatcher, in the transaction of
/// its change. `endpoint` is set for a test event only, which goes to that endpoint alone.
async fn insert_outbox_row(
    conn: &mut SqliteConnection,
    event: &AuditEvent,
    event_type: EventType,
    endpoint: Option<EndpointId>,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO webhook_outbox (event_id, account_id, type, endpoint_id, created_at) \
         VALUES (?, ?, ?, ?, ?)",
    )
    .bind(id_text(event.id.0))
    .bind(id_text(event.account_id.0))
    .bind(event_type.as_str())
    .bind(endpoint.map(|id| id_text(id.0)))
    .bind(micros(event.at)?)
    .execute(conn)
    .await
    .map_err(map_sqlx)?;
    Ok(())
}

/// Commits a write transaction.
async fn commit(tx: Transaction<'static, Sqlite>) -> Result<(), StoreError> {
    tx.commit().await.map_err(map_sqlx)
}

/// SQLite's plan for a statement, one line per step (the tests of the key and audit pages put
/// `EXPLAIN QUERY PLAN` in front of the page's statement).
#[cfg(test)]
async fn query_plan(store: &SqliteStore, mut sql: sqlx::QueryBuilder<Sqlite>) -> String {
    use sqlx::Row;
    let rows = sql.build().fetch_all(&store.pool).await.unwrap();
    rows.iter()
        .map(|r| r.get::<String, _>("detail"))
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::{is_in_memory, page_limit};

    #[test]
    fn memory_urls_are_recognised() {
        assert!(is_in_memory("sqlite::memory:"));
        assert!(is_in_memory("sqlite://:memory:"));
        assert!(is_in_memory("sqlite://?mode=memory"));
        assert!(is_in_memory("sqlite://x.db?mode=memory&cache=private"));
        assert!(!is_in_memory("sqlite://keywarden-data/keywarden.db"));
        assert!(!is_in_memory("sqlite:memory.db"));
    }

    #[test]
    fn pages_hold_at_most_a_thousand() {
        assert_eq!(page_limit(0), 0);
        assert_eq!(page_limit(25), 25);
        assert_eq!(page_limit(1000), 1000);
        assert_eq!(page_limit(u32::MAX), 1000);
    }
}
