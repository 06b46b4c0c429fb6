//! The PostgreSQL backend: how several Keywarden instances share one store.
//!
//! Transactions. Every write is one `READ COMMITTED` transaction (set explicitly, whatever the
//! database's default) that also inserts its audit events, exactly like the SQLite backend:
//! - A change that depends on a key's current state is one guarded statement
//!   (`UPDATE … WHERE lifecycle = 'active'`) whose row count says whether it happened. A
//!   concurrent writer of the same row waits for the row lock, then PostgreSQL re-checks the
//!   `WHERE` against the committed row, so of two overlapping rotations exactly one matches.
//! - Rules that span rows are decided inside the transaction under a lock that every
//!   competing transaction also takes: the change counter for keys (below), the account's row
//!   for the last-admin rule (see `postgres/console.rs`), unique indexes for the rest.
//! - A transaction that PostgreSQL aborts only to resolve a clash with a concurrent one
//!   (deadlock `40P01`, serialization failure `40001`) is run again, a few times, before the
//!   caller gets `Unavailable`.
//!
//! The change feed. `api_keys.change_seq` comes from the single-row `change_counter` table,
//! not from a SEQUENCE: a sequence hands out numbers in the order transactions ask, not the
//! order they commit, so a reader could see 6 committed, move its cursor past it, and never
//! see 5 commit afterwards. A key-changing transaction instead takes its numbers as its FIRST
//! statement with `UPDATE change_counter SET last_seq = last_seq + n … RETURNING last_seq`.
//! That row lock is held until the transaction ends, and PostgreSQL releases a transaction's
//! locks only after its commit is visible to new snapshots. So the next writer's UPDATE waits,
//! then reads the committed value and gets larger numbers: numbers are assigned in commit
//! order, a rollback gives them back, and any snapshot that sees number N committed also sees
//! every smaller one. Key-changing transactions therefore run one at a time; they are short
//! console or CLI actions, and the verification path never writes here.
//!
//! Wake-ups. The same statement that takes the numbers is followed by `pg_notify` on
//! [`KEY_CHANGES_CHANNEL`], which PostgreSQL delivers on commit only;
//! [`PostgresStore::listen_for_changes`] subscribes to it (see [`KeyChangeListener`]).
//!
//! Durability. PostgreSQL flushes a commit before answering unless `synchronous_commit` is
//! `off`; [`PostgresStore::connect`] refuses to run with it off (SPEC §5: a key a client was
//! given is never lost), like the SQLite backend refuses anything below `synchronous = FULL`.

/// Runs `$body` in one READ COMMITTED transaction on `$store`'s pool and commits it; the
/// value of the block is `$body`'s (a `Result<T, Failure>`). Inside, `$tx` is the
/// transaction's `&mut PgConnection`, and `?` or `return Err(…)` ends the attempt: the
/// transaction is dropped, which rolls it back. If PostgreSQL aborted it only to resolve a
/// deadlock or a serialization failure, the whole body runs again in a new transaction (up to
/// `MAX_ATTEMPTS` times); any other failure is returned as it is, as a `StoreError`.
///
/// A macro rather than a method taking an async closure: the futures of `async_trait` methods
/// must be `Send`, and the compiler cannot yet prove that of an async closure that borrows
/// the connection for a caller-chosen lifetime ("implementation of `Send` is not general
/// enough").
macro_rules! in_transaction {
    ($store:expr, |$tx:ident| $body:expr) => {{
        let store: &$crate::postgres::PostgresStore = $store;
        let mut attempt: u32 = 1;
        loop {
            let result: Result<_, $crate::postgres::errors::Failure> = async {
                let mut transaction = store.pool.begin_with($crate::postgres::BEGIN).await?;
                let outcome: Result<_, $crate::postgres::errors::Failure> = {
                    let $tx: &mut sqlx::postgres::PgConnection = &mut *transaction;
                    $body
                };
                let value = outcome?;
                transaction.commit().await?;
                Ok(value)
            }
            .await;
            match result {
                Ok(value) => break Ok(value),
                Err(failure) if failure.transient && attempt < $crate::postgres::MAX_ATTEMPTS => {
                    tracing::debug!(attempt, error = %failure.error, "transaction aborted; again");
                    tokio::time::sleep($crate::postgres::RETRY_PAUSE * attempt).await;
                    attempt += 1;
                }
                Err(failure) => break Err(keywarden_core::store::StoreError::from(failure)),
            }
        }
    }};
}

mod codec;
mod console;
mod errors;
mod listener;

pub use listener::{KEY_CHANGES_CHANNEL, KeyChangeListener, KeyChangeNotice};

use crate::narrow_feed::table_columns;
use async_trait::async_trait;
use codec::{event_columns, key_columns, opt_pg_time, pg_time, user_columns};
use errors::{Failure, map_migrate, map_sqlx};
use keywarden_core::account::{Account, Role, User};
use keywarden_core::audit::AuditEvent;
use keywarden_core::ids::{AccountId, KeyId, UserId};
use keywarden_core::key_record::KeyRecord;
use keywarden_core::store::{
    AuditQuery, KeyFilter, KeyQuery, KeyTableRow, KeyUpdate, Rotation, Store, StoreError,
    TotpEnrolment,
};
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPool, PgPoolOptions};
use std::collections::BTreeMap;
use std::str::FromStr;
use std::time::Duration;
use time::OffsetDateTime;
use uuid::Uuid;

/// The schema, embedded in the binary and brought up to date at every connect. sqlx holds a
/// PostgreSQL advisory lock while migrating, so instances starting together take turns.
static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("migrations/postgres");

/// Connections per instance. Reads run in parallel; key-changing writes queue on the change
/// counter anyway, so more connections would mostly wait.
const POOL_SIZE: u32 = 10;
/// How long a caller waits for a free pooled connection (or for a new one to open).
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);
/// How often a transaction is tried when PostgreSQL aborts it as a deadlock victim or a
/// serialization failure.
const MAX_ATTEMPTS: u32 = 4;
/// The pause before the next attempt, times the attempt number.
const RETRY_PAUSE: Duration = Duration::from_millis(15);
/// Every write transaction starts so, whatever `default_transaction_isolation` says.
const BEGIN: &str = "BEGIN ISOLATION LEVEL READ COMMITTED";
/// The `meta` row holding the server secret's fingerprint.
const SECRET_FINGERPRINT: &str = "secret_fingerprint";
/// What the server reports for this pool's connections, for `pg_stat_activity`.
const APPLICATION_NAME: &str = "keywarden";

/// The PostgreSQL store. Cheap to clone (it is a connection pool). Its `Debug` shows the
/// pool's sizes, never the connection options (which hold the password).
#[derive(Clone, Debug)]
pub struct PostgresStore {
    pool: PgPool,
}

/// The server settings the store depends on, as PostgreSQL reports them for its connections.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PostgresSettings {
    /// `server_version_num`, e.g. 150020 for 15.20.
    pub server_version_num: i64,
    /// `synchronous_commit`: anything but `off` flushes a commit before it is acknowledged.
    pub synchronous_commit: String,
    /// `fsync`: `off` means the server itself does not make commits durable.
    pub fsync: String,
    /// `default_transaction_isolation` (writes set READ COMMITTED themselves).
    pub default_transaction_isolation: String,
}

/// Parses a `postgres://` / `postgresql://` URL into connection options. Errors name what is
/// wrong, never the URL (it may carry a password).
fn connect_options(url: &str) -> Result<PgConnectOptions, StoreError> {
    let scheme = url
        .split_once("://")
        .map(|(scheme, _)| scheme.to_ascii_lowercase());
    if !matches!(scheme.as_deref(), Some("postgres" | "postgresql")) {
        return Err(StoreError::Other(
            "a PostgreSQL database URL starts with postgres:// or postgresql://, e.g. \
             postgres://keywarden@db.example.com/keywarden"
                .into(),
        ));
    }
    let options = PgConnectOptions::from_str(url)
        .map_err(|e| StoreError::Other(format!("invalid PostgreSQL database URL: {e}")))?;
    Ok(if options.get_application_name().is_none() {
        options.application_name(APPLICATION_NAME)
    } else {
        options
    })
}

impl PostgresStore {
    /// Connects to the database at `url` (`postgres://user:password@host:port/database?…`,
    /// with the usual libpq parameters such as `sslmode`), checks the server's durability
    /// settings and brings the schema up to date. The database must exist; the user needs
    /// the right to create tables in it on first start.
    ///
    /// Errors never repeat the URL.
    pub async fn connect(url: &str) -> Result<PostgresStore, StoreError> {
        let options = connect_options(url)?;
        let host = options.get_host().to_owned();
        let database = options.get_database().unwrap_or_default().to_owned();
        let pool = PgPoolOptions::new()
            .max_connections(POOL_SIZE)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(options)
            .await
            .map_err(map_sqlx)?;
        let store = PostgresStore { pool };
        store.check_settings().await?;
        MIGRATOR.run(&store.pool).await.map_err(map_migrate)?;
        tracing::info!(%host, %database, pool_size = POOL_SIZE, "PostgreSQL store ready");
        Ok(store)
    }

    /// The settings of a pooled connection (every connection is opened with the same options).
    pub async fn settings(&self) -> Result<PostgresSettings, StoreError> {
        let row: (String, String, String, String) = sqlx::query_as(
            "SELECT current_setting('server_version_num'), current_setting('synchronous_commit'), \
             current_setting('fsync'), current_setting('default_transaction_isolation')",
        )
        .fetch_one(&self.pool)
        .await
        .map_err(map_sqlx)?;
        let (version, synchronous_commit, fsync, default_transaction_isolation) = row;
        Ok(PostgresSettings {
            server_version_num: version
                .parse()
                .map_err(|_| StoreError::Other(format!("server_version_num reads '{version}'")))?,
            synchronous_commit,
            fsync,
            default_transaction_isolation,
        })
    }

    /// Refuses to run with settings that would break the durability promises; warns about
    /// the one it cannot change.
    async fn check_settings(&self) -> Result<(), StoreError> {
        let s = self.settings().await?;
        if s.synchronous_commit == "off" {
            return Err(StoreError::Other(
                "PostgreSQL runs with synchronous_commit = off for this connection: a commit \
                 would be acknowledged before it is durable, and a server crash could lose keys \
                 that clients were given. Set it to on (ALTER ROLE … SET synchronous_commit = on, \
                 or in postgresql.conf)"
                    .into(),
            ));
        }
        if s.fsync == "off" {
            tracing::warn!(
                "PostgreSQL runs with fsync = off: a crash of the database server (not of \
                 Keywarden) can lose committed keys; never run production like this"
            );
        }
        Ok(())
    }

    /// Subscribes to the notifications key-changing transactions send on commit, on a new
    /// connection of its own (opened with this store's options). Other instances use it to
    /// pick up a revocation or rotation sooner than their next poll of the change feed; see
    /// [`KeyChangeListener`] for the pattern (subscribe, read the feed, then wait for a notice
    /// or the poll interval).
    pub async fn listen_for_changes(&self) -> Result<KeyChangeListener, StoreError> {
        KeyChangeListener::connect_with((*self.pool.connect_options()).clone()).await
    }

    /// Closes every connection; later calls fail with `Unavailable`.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// Takes `count` (at least 1) consecutive change sequence numbers and returns the first.
/// Must be the FIRST statement of a key-changing transaction: the counter row stays locked
/// until the transaction ends, which is what makes the numbers follow commit order (see the
/// module documentation), and taking it before any key row keeps the lock order the same in
/// every transaction. Also queues the commit-time notification for other instances, with the
/// highest number taken as payload.
async fn take_change_seqs(conn: &mut PgConnection, count: usize) -> Result<i64, Failure> {
    let count = i64::try_from(count.max(1))
        .map_err(|_| StoreError::Other("too many keys in one transaction".into()))?;
    let last: i64 = sqlx::query_scalar(
        "UPDATE change_counter SET last_seq = last_seq + $1 WHERE id = 1 RETURNING last_seq",
    )
    .bind(count)
    .fetch_one(&mut *conn)
    .await?;
    // pg_notify inside the transaction: delivered when it commits, dropped if it rolls back.
    sqlx::query("SELECT pg_notify($1, $2)")
        .bind(KEY_CHANGES_CHANNEL)
        .bind(last.to_string())
        .execute(&mut *conn)
        .await?;
    Ok(last - count + 1)
}

async fn insert_account(conn: &mut PgConnection, a: &Account) -> Result<(), Failure> {
    sqlx::query(
        "INSERT INTO accounts (id, name, created_at, require_2fa_for_keys, rotation_period_days) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(a.id.0)
    .bind(&a.name)
    .bind(pg_time(a.created_at))
    .bind(a.require_2fa_for_keys)
    .bind(codec::days(a.rotation_period_days))
    .execute(conn)
    .await?;
    Ok(())
}

async fn insert_user_row(conn: &mut PgConnection, u: &User) -> Result<(), Failure> {
    sqlx::query(
        "INSERT INTO users (id, account_id, email, password_hash, role, two_factor_enabled, \
         session_version, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(u.id.0)
    .bind(u.account_id.0)
    .bind(&u.email)
    .bind(&u.password_hash)
    .bind(u.role.as_str())
    .bind(u.two_factor_enabled)
    .bind(u.session_version)
    .bind(pg_time(u.created_at))
    .execute(conn)
    .await?;
    Ok(())
}

/// Inserts a key with the `change_seq` taken for it (the record's own value is ignored).
async fn insert_key(conn: &mut PgConnection, k: &KeyRecord, seq: i64) -> Result<(), Failure> {
    sqlx::query(concat!(
        "INSERT INTO api_keys (",
        key_columns!(),
        ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, \
         $18, $19)"
    ))
    .bind(k.id.0)
    .bind(k.account_id.0)
    .bind(k.kind.as_str())
    .bind(k.mode.as_str())
    .bind(&k.label)
    .bind(&k.hint)
    .bind(k.digest.0.as_slice())
    .bind(&k.scopes)
    .bind(k.lifecycle.as_str())
    .bind(pg_time(k.created_at))
    .bind(k.created_by.map(|u| u.0))
    .bind(opt_pg_time(k.expires_at))
    .bind(opt_pg_time(k.last_used_at))
    .bind(opt_pg_time(k.rotated_at))
    .bind(opt_pg_time(k.revoked_at))
    .bind(opt_pg_time(k.grace_until))
    .bind(k.replaced_by.map(|id| id.0))
    .bind(k.replaces.map(|id| id.0))
    .bind(seq)
    .execute(conn)
    .await?;
    Ok(())
}

/// Inserts keys with consecutive change sequence numbers (taking them first).
async fn insert_keys_with_seqs(conn: &mut PgConnection, keys: &[KeyRecord]) -> Result<(), Failure> {
    let mut seq = take_change_seqs(&mut *conn, keys.len()).await?;
    for key in keys {
        insert_key(&mut *conn, key, seq).await?;
        seq += 1;
    }
    Ok(())
}

async fn insert_events(conn: &mut PgConnection, events: &[AuditEvent]) -> Result<(), Failure> {
    for e in events {
        sqlx::query(
            "INSERT INTO audit_events (id, account_id, action, actor_user_id, actor_label, ip, \
             user_agent, key_id, detail, at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(e.id.0)
        .bind(e.account_id.0)
        .bind(e.action.as_str())
        .bind(e.actor.user_id.map(|u| u.0))
        .bind(&e.actor.label)
        .bind(e.actor.ip.as_deref())
        .bind(e.actor.user_agent.as_deref())
        .bind(e.key_id.map(|k| k.0))
        .bind(&e.detail)
        .bind(pg_time(e.at))
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// Why a guarded UPDATE of a key changed no row: it is not in the account (`NotFound`), or
/// its lifecycle no longer allows the change (`Conflict`).
async fn explain_unchanged_key(
    conn: &mut PgConnection,
    account_id: AccountId,
    key_id: KeyId,
    rule: &str,
) -> Failure {
    let found: Result<Option<String>, _> =
        sqlx::query_scalar("SELECT lifecycle FROM api_keys WHERE id = $1 AND account_id = $2")
            .bind(key_id.0)
            .bind(account_id.0)
            .fetch_optional(conn)
            .await;
    match found {
        Ok(None) => StoreError::NotFound.into(),
        Ok(Some(lifecycle)) => {
            StoreError::Conflict(format!("{rule} (the key is {lifecycle})")).into()
        }
        Err(e) => e.into(),
    }
}

#[async_trait]
impl Store for PostgresStore {
    async fn create_account(
        &self,
        account: &Account,
        admin: &User,
        keys: &[KeyRecord],
        events: &[AuditEvent],
    ) -> Result<(), StoreError> {
        in_transaction!(self, |tx| {
            // The counter first (see take_change_seqs), then the account the keys refer to.
            let mut seq = if keys.is_empty() {
                0
            } else {
                take_change_seqs(tx, keys.len()).await?
            };
            insert_account(tx, account).await?;
            insert_user_row(tx, admin).await?;
            for key in keys {
                insert_key(tx, key, seq).await?;
                seq += 1;
            }
            insert_events(tx, events).await
        })
    }

    async fn insert_user(&self, user: &User, event: &AuditEvent) -> Result<(), StoreError> {
        in_transaction!(self, |tx| {
            insert_user_row(tx, user).await?;
            insert_events(tx, std::slice::from_ref(event)).await
        })
    }

    async fn insert_keys(
        &self,
        keys: &[KeyRecord],
        events: &[AuditEvent],
    ) -> Result<(), StoreError> {
        in_transaction!(self, |tx| {
            if !keys.is_empty() {
                insert_keys_with_seqs(tx, keys).await?;
            }
            insert_events(tx, events).await
        })
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
        in_transaction!(self, |tx| {
            // Two numbers: the old key's change, then the successor's insert.
            let seq = take_change_seqs(tx, 2).await?;
            let changed = sqlx::query(
                "UPDATE api_keys SET lifecycle = 'rotated', rotated_at = $1, grace_until = $2, \
                 replaced_by = $3, change_seq = $4 \
                 WHERE id = $5 AND account_id = $6 AND lifecycle = 'active'",
            )
            .bind(pg_time(rotation.at))
            .bind(pg_time(rotation.old_grace_until))
            .bind(rotation.new_key.id.0)
            .bind(seq)
            .bind(rotation.old_key.0)
            .bind(rotation.account_id.0)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if changed == 0 {
                // Returning an error rolls back, change_seq included.
                return Err(explain_unchanged_key(
                    tx,
                    rotation.account_id,
                    rotation.old_key,
                    "only an active key can be rotated",
                )
                .await);
            }
            insert_key(tx, rotation.new_key, seq + 1).await?;
            insert_events(tx, std::slice::from_ref(event)).await
        })
    }

    async fn revoke_key(
        &self,
        account_id: AccountId,
        key_id: KeyId,
        at: OffsetDateTime,
        event: &AuditEvent,
    ) -> Result<(), StoreError> {
        in_transaction!(self, |tx| {
            let seq = take_change_seqs(tx, 1).await?;
            let changed = sqlx::query(
                "UPDATE api_keys SET lifecycle = 'revoked', revoked_at = $1, change_seq = $2 \
                 WHERE id = $3 AND account_id = $4 AND lifecycle <> 'revoked'",
            )
            .bind(pg_time(at))
            .bind(seq)
            .bind(key_id.0)
            .bind(account_id.0)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if changed == 0 {
                return Err(explain_unchanged_key(
                    tx,
                    account_id,
                    key_id,
                    "the key is already revoked",
                )
                .await);
            }
            insert_events(tx, std::slice::from_ref(event)).await
        })
    }

    async fn account(&self, id: AccountId) -> Result<Option<Account>, StoreError> {
        let row = sqlx::query(
            "SELECT id, name, created_at, require_2fa_for_keys, rotation_period_days \
             FROM accounts WHERE id = $1",
        )
        .bind(id.0)
        .fetch_optional(&self.pool)
        .await
        .map_err(map_sqlx)?;
        row.as_ref().map(codec::account_from_row).transpose()
    }

    async fn user(&self, id: UserId) -> Result<Option<User>, StoreError> {
        let row = sqlx::query(concat!(
            "SELECT ",
            user_columns!(),
            " FROM users WHERE id = $1"
        ))
        .bind(id.0)
        .fetch_optional(&self.pool)
        .await
        .map_err(map_sqlx)?;
        row.as_ref().map(codec::user_from_row).transpose()
    }

    async fn user_by_email(&self, email: &str) -> Result<Option<User>, StoreError> {
        let row = sqlx::query(concat!(
            "SELECT ",
            user_columns!(),
            " FROM users WHERE email = $1"
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
            " FROM api_keys WHERE id = $1 AND account_id = $2"
        ))
        .bind(key_id.0)
        .bind(account_id.0)
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
            " FROM api_keys WHERE account_id = $1 \
              AND ($2::text IS NULL OR kind = $2) \
              AND ($3::text IS NULL OR mode = $3) \
              AND (NOT $4 OR lifecycle = 'active') \
             ORDER BY created_at DESC, id DESC"
        ))
        .bind(account_id.0)
        .bind(filter.kind.map(|k| k.as_str()))
        .bind(filter.mode.map(|m| m.as_str()))
        .bind(filter.only_active)
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
        sqlx::query_scalar("SELECT coalesce(max(change_seq), 0) FROM api_keys")
            .fetch_one(&self.pool)
            .await
            .map_err(map_sqlx)
    }

    async fn record_last_used(&self, uses: &[(KeyId, OffsetDateTime)]) -> Result<(), StoreError> {
        // The latest time per key, in id order: two instances flushing overlapping batches
        // lock the rows in the same order, so they queue instead of deadlocking.
        let mut latest: BTreeMap<Uuid, OffsetDateTime> = BTreeMap::new();
        for (key_id, at) in uses {
            let at = pg_time(*at);
            latest
                .entry(key_id.0)
                .and_modify(|t| *t = (*t).max(at))
                .or_insert(at);
        }
        if latest.is_empty() {
            return Ok(());
        }
        let (ids, times): (Vec<Uuid>, Vec<OffsetDateTime>) = latest.into_iter().unzip();
        in_transaction!(self, |tx| {
            sqlx::query("SELECT id FROM api_keys WHERE id = ANY($1) ORDER BY id FOR NO KEY UPDATE")
                .bind(&ids)
                .execute(&mut *tx)
                .await?;
            // Only forwards, and change_seq untouched: usage is not a change of the key.
            sqlx::query(
                "UPDATE api_keys AS k SET last_used_at = u.at \
                 FROM unnest($1::uuid[], $2::timestamptz[]) AS u (id, at) \
                 WHERE k.id = u.id AND (k.last_used_at IS NULL OR k.last_used_at < u.at)",
            )
            .bind(&ids)
            .bind(&times)
            .execute(&mut *tx)
            .await?;
            Ok(())
        })
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

    async fn insert_event(&self, event: &AuditEvent) -> Result<(), StoreError> {
        in_transaction!(self, |tx| insert_events(tx, std::slice::from_ref(event))
            .await)
    }

    async fn key_count(&self) -> Result<i64, StoreError> {
        sqlx::query_scalar("SELECT COUNT(*) FROM api_keys")
            .fetch_one(&self.pool)
            .await
            .map_err(map_sqlx)
    }

    async fn secret_fingerprint(&self) -> Result<Option<String>, StoreError> {
        sqlx::query_scalar("SELECT value FROM meta WHERE key = $1")
            .bind(SECRET_FINGERPRINT)
            .fetch_optional(&self.pool)
            .await
            .map_err(map_sqlx)
    }

    async fn set_secret_fingerprint(&self, fingerprint: &str) -> Result<(), StoreError> {
        in_transaction!(self, |tx| {
            sqlx::query(
                "INSERT INTO meta (key, value) VALUES ($1, $2) \
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            )
            .bind(SECRET_FINGERPRINT)
            .bind(fingerprint)
            .execute(&mut *tx)
            .await?;
            Ok(())
        })
    }

    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map_err(map_sqlx)?;
        Ok(())
    }

    // --- Console API: see postgres/console.rs.

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_checked_without_repeating_them() {
        for url in [
            "postgres://u:hunter2@db:notaport/kw",
            "mysql://u:hunter2@db/kw",
            "hunter2",
        ] {
            let Err(StoreError::Other(text)) = connect_options(url) else {
                panic!("{url} should be refused")
            };
            assert!(!text.contains("hunter2"), "{text}");
        }
        let options = connect_options("postgresql://u:hunter2@db.example.com:6543/kw").unwrap();
        assert_eq!(options.get_host(), "db.example.com");
        assert_eq!(options.get_port(), 6543);
        assert_eq!(options.get_database(), Some("kw"));
        assert_eq!(options.get_application_name(), Some(APPLICATION_NAME));
        let named = connect_options("postgres://db/kw?application_name=mine").unwrap();
        assert_eq!(named.get_application_name(), Some("mine"));
    }
}
