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

mod codec;
mod console;
mod errors;
mod feed_reader;
#[cfg(test)]
mod migration_tests;

use crate::narrow_feed::table_columns;
use async_trait::async_trait;
use codec::{event_columns, id_text, key_columns, micros, opt_micros, scopes_json, user_columns};
use errors::{map_migrate, map_sqlx};
use keywarden_core::account::{Account, Role, User};
use keywarden_core::audit::AuditEvent;
use keywarden_core::ids::{AccountId, KeyId, UserId};
use keywarden_core::key_record::KeyRecord;
use keywarden_core::store::{
    AuditQuery, KeyFilter, KeyQuery, KeyTableRow, KeyUpdate, Rotation, Store, StoreError,
    TotpEnrolment,
};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePool, SqlitePoolOptions,
    SqliteSynchronous,
};
use sqlx::{Sqlite, Transaction};
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;
use time::OffsetDateTime;

/// The schema, embedded in the binary and brought up to date at every connect.
static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("migrations/sqlite");

/// How long a writer waits for another writer's lock before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a caller waits for a free pooled connection.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);
/// Connections to a database file (readers run in parallel under WAL; writers queue).
const FILE_POOL_SIZE: u32 = 8;
/// `PRAGMA synchronous` reads back as a number; 2 is FULL.
const SYNCHRONOUS_FULL: i64 = 2;
/// The `meta` row holding the server secret's fingerprint.
const SECRET_FINGERPRINT: &str = "secret_fingerprint";

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

async fn insert_account(conn: &mut SqliteConnection, a: &Account) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO accounts (id, name, created_at, require_2fa_for_keys, rotation_period_days) \
         VALUES (?, ?, ?, ?, ?)",
    )
    .bind(id_text(a.id.0))
    .bind(&a.name)
    .bind(micros(a.created_at)?)
    .bind(i64::from(a.require_2fa_for_keys))
    .bind(i64::from(a.rotation_period_days))
    .execute(conn)
    .await
    .map_err(map_sqlx)?;
    Ok(())
}

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
        ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
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
    .execute(conn)
    .await
    .map_err(map_sqlx)?;
    Ok(seq)
}

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
    }
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

async fn commit(tx: Transaction<'static, Sqlite>) -> Result<(), StoreError> {
    tx.commit().await.map_err(map_sqlx)
}

#[async_trait]
impl Store for SqliteStore {
    async fn create_account(
        &self,
        account: &Account,
        admin: &User,
        keys: &[KeyRecord],
        events: &[AuditEvent],
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        insert_account(&mut tx, account).await?;
        insert_user_row(&mut tx, admin).await?;
        for key in keys {
            insert_key(&mut tx, key).await?;
        }
        insert_events(&mut tx, events).await?;
        commit(tx).await
    }

    async fn insert_user(&self, user: &User, event: &AuditEvent) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        insert_user_row(&mut tx, user).await?;
        insert_events(&mut tx, std::slice::from_ref(event)).await?;
        commit(tx).await
    }

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
        insert_events(&mut tx, std::slice::from_ref(event)).await?;
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
        insert_events(&mut tx, std::slice::from_ref(event)).await?;
        commit(tx).await
    }

    async fn account(&self, id: AccountId) -> Result<Option<Account>, StoreError> {
        let row = sqlx::query(
            "SELECT id, name, created_at, require_2fa_for_keys, rotation_period_days \
             FROM accounts WHERE id = ?",
        )
        .bind(id_text(id.0))
        .fetch_optional(&self.pool)
        .await
        .map_err(map_sqlx)?;
        row.as_ref().map(codec::account_from_row).transpose()
    }

    async fn user(&self, id: UserId) -> Result<Option<User>, StoreError> {
        let row = sqlx::query(concat!(
            "SELECT ",
            user_columns!(),
            " FROM users WHERE id = ?"
        ))
        .bind(id_text(id.0))
        .fetch_optional(&self.pool)
        .await
        .map_err(map_sqlx)?;
        row.as_ref().map(codec::user_from_row).transpose()
    }

    async fn user_by_email(&self, email: &str) -> Result<Option<User>, StoreError> {
        let row = sqlx::query(concat!(
            "SELECT ",
            user_columns!(),
            " FROM users WHERE email = ?"
        ))
        .bind(email)
        .fetch_optional(&self.pool)
        .await
        .map_err(map_sqlx)?;
        row.as_ref().map(codec::user_from_row).transpose()
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
        sqlx::query_scalar("SELECT coalesce(max(change_seq), 0) FROM api_keys")
            .fetch_one(&self.pool)
            .await
            .map_err(map_sqlx)
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

    async fn insert_event(&self, event: &AuditEvent) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        insert_events(&mut tx, std::slice::from_ref(event)).await?;
        commit(tx).await
    }

    async fn key_count(&self) -> Result<i64, StoreError> {
        sqlx::query_scalar("SELECT COUNT(*) FROM api_keys")
            .fetch_one(&self.pool)
            .await
            .map_err(map_sqlx)
    }

    async fn secret_fingerprint(&self) -> Result<Option<String>, StoreError> {
        sqlx::query_scalar("SELECT value FROM meta WHERE key = ?")
            .bind(SECRET_FINGERPRINT)
            .fetch_optional(&self.pool)
            .await
            .map_err(map_sqlx)
    }

    async fn set_secret_fingerprint(&self, fingerprint: &str) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO meta (key, value) VALUES (?, ?) \
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        )
        .bind(SECRET_FINGERPRINT)
        .bind(fingerprint)
        .execute(&mut *tx)
        .await
        .map_err(map_sqlx)?;
        commit(tx).await
    }

    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map_err(map_sqlx)?;
        Ok(())
    }

    // --- Console API: see sqlite/console.rs.

    async fn list_keys(
        &self,
        account_id: AccountId,
        query: &KeyQuery,
        now: OffsetDateTime,
    ) -> Result<Vec<KeyRecord>, StoreError> {
        console::list_keys(self, account_id, query, now).await
    }

    async fn update_key(
        &self,
        account_id: AccountId,
        key_id: KeyId,
        update: &KeyUpdate,
        event: &AuditEvent,
    ) -> Result<KeyRecord, StoreError> {
        console::update_key(self, account_id, key_id, update, event).await
    }

    async fn users_of_account(&self, account_id: AccountId) -> Result<Vec<User>, StoreError> {
        console::users_of_account(self, account_id).await
    }

    async fn update_user_role(
        &self,
        account_id: AccountId,
        user_id: UserId,
        role: Role,
        event: &AuditEvent,
    ) -> Result<User, StoreError> {
        console::update_user_role(self, account_id, user_id, role, event).await
    }

    async fn delete_user(
        &self,
        account_id: AccountId,
        user_id: UserId,
        event: &AuditEvent,
    ) -> Result<(), StoreError> {
        console::delete_user(self, account_id, user_id, event).await
    }

    async fn update_account(
        &self,
        account: &Account,
        event: &AuditEvent,
    ) -> Result<(), StoreError> {
        console::update_account(self, account, event).await
    }

    async fn totp(&self, user_id: UserId) -> Result<Option<TotpEnrolment>, StoreError> {
        console::totp(self, user_id).await
    }

    async fn begin_totp(
        &self,
        user_id: UserId,
        encrypted_seed: &[u8],
        event: &AuditEvent,
    ) -> Result<(), StoreError> {
        console::begin_totp(self, user_id, encrypted_seed, event).await
    }

    async fn confirm_totp(
        &self,
        user_id: UserId,
        step: i64,
        recovery_code_hashes: &[String],
        event: &AuditEvent,
    ) -> Result<(), StoreError> {
        console::confirm_totp(self, user_id, step, recovery_code_hashes, event).await
    }

    async fn claim_totp_step(&self, user_id: UserId, step: i64) -> Result<bool, StoreError> {
        console::claim_totp_step(self, user_id, step).await
    }

    async fn consume_recovery_code(
        &self,
        user_id: UserId,
        code_hash: &str,
        event: &AuditEvent,
    ) -> Result<bool, StoreError> {
        console::consume_recovery_code(self, user_id, code_hash, event).await
    }

    async fn query_audit_events(
        &self,
        account_id: AccountId,
        query: &AuditQuery,
    ) -> Result<Vec<AuditEvent>, StoreError> {
        console::query_audit_events(self, account_id, query).await
    }
}

/// One page of a change feed: the rows of `query` (which binds `after` and `limit`, in that
/// order) decoded by `decode`.
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_urls_are_recognised() {
        assert!(is_in_memory("sqlite::memory:"));
        assert!(is_in_memory("sqlite://:memory:"));
        assert!(is_in_memory("sqlite://?mode=memory"));
        assert!(is_in_memory("sqlite://x.db?mode=memory&cache=private"));
        assert!(!is_in_memory("sqlite://keywarden-data/keywarden.db"));
        assert!(!is_in_memory("sqlite:memory.db"));
    }
}
