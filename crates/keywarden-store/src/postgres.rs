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
//!   for the last-admin rule (see `postgres/users.rs`), unique indexes for the rest.
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
//!
//! Layout. This file holds what the concerns share: [`PostgresStore`] and connecting to the
//! database, `in_transaction!` with its retry, the change counter (`take_change_seqs`), the
//! audit insert every write ends with (`insert_events`, which also writes the webhook outbox),
//! the user and key row inserts that several concerns use, and the page size bound of the
//! console's listings. Each store trait is implemented in a file of its own, which also holds
//! the rule it keeps:
//! - `postgres/accounts.rs`: `AccountStore` (an account with its first admin, its policy).
//! - `postgres/users.rs`: `UserStore`, with the last-admin rule and the account-row lock.
//! - `postgres/second_factor.rs`: `SecondFactorStore` (TOTP, recovery codes used once).
//! - `postgres/keys.rs`: `KeyStore` (key lifecycle, updates, the key pages, last use).
//! - `postgres/key_feed.rs`: `KeyFeed`, the gap-free change feed.
//! - `postgres/audit.rs`: `AuditStore`, with the audit pages.
//! - `postgres/installation.rs`: `InstallationStore` (the secret's fingerprint, readiness).
//! - `postgres/leaks.rs`: `LeakStore` (reported keys by digest, leaks recorded on them).
//! - `postgres/webhooks.rs`: `WebhookStore` (endpoints; dispatching the outbox and claiming
//!   deliveries with `FOR UPDATE SKIP LOCKED`, so instances never take the same row; the
//!   reminders sent). The outbox itself is written by `insert_events`.
//! - `postgres/codec.rs`: how domain values map to columns and back, strictly.
//! - `postgres/errors.rs`: the one mapping from sqlx/PostgreSQL errors to `StoreError`.
//! - `postgres/listener.rs`: [`KeyChangeListener`], the commit-time wake-ups.

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

mod accounts;
mod audit;
mod codec;
mod errors;
mod installation;
mod key_feed;
mod key_usage;
mod keys;
mod leaks;
mod listener;
mod second_factor;
mod usage_limits;
mod users;
mod webhooks;

pub use listener::{KEY_CHANGES_CHANNEL, KeyChangeListener, KeyChangeNotice};

use crate::narrow_feed::policy_json;
use codec::{key_columns, opt_pg_time, pg_time};
use errors::{Failure, map_migrate, map_sqlx};
use keywarden_core::account::User;
use keywarden_core::audit::AuditEvent;
use keywarden_core::ids::EndpointId;
use keywarden_core::key_record::KeyRecord;
use keywarden_core::store::StoreError;
use keywarden_core::webhook::EventType;
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPool, PgPoolOptions};
use std::str::FromStr;
use std::time::Duration;

/// The schema, embedded in the binary and brought up to date at every connect. sqlx holds a
/// PostgreSQL advisory lock while migrating, so instances starting together take turns.
static MIGRATOR: std::sync::LazyLock<sqlx::migrate::Migrator> =
    std::sync::LazyLock::new(|| crate::migrations::migrator(crate::migrations::POSTGRES));

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
/// What the server reports for this pool's connections, for `pg_stat_activity`.
const APPLICATION_NAME: &str = "keywarden";
/// The most rows one page of a console listing (keys, audit events) holds, whatever the
/// caller asks for. Callers cap their own limits; this only bounds the damage of one that
/// forgets.
const MAX_PAGE: u32 = 1000;

/// `LIMIT` of a page: the caller's limit, at most [`MAX_PAGE`]. 0 stays 0 (an empty page).
fn page_limit(limit: u32) -> i64 {
    i64::from(limit.min(MAX_PAGE))
}

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

/// Inserts a user (an account's first admin, or one added later).
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
         $18, $19, $20, $21, $22)"
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
    .bind(policy_json(&k.policy)?)
    .bind(opt_pg_time(k.leak.as_ref().map(|l| l.at)))
    .bind(k.leak.as_ref().and_then(|l| l.url.as_deref()))
    .execute(conn)
    .await?;
    Ok(())
}

/// Inserts a write's audit events, inside the write's own transaction, and the outbox row of
/// each one that leaves the system as a webhook ([`EventType::of_action`]): no event (or no
/// outbox row), no change.
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
        if let Some(event_type) = EventType::of_action(e.action) {
            insert_outbox_row(&mut *conn, e, event_type, None).await?;
        }
    }
    Ok(())
}

/// Queues an audit event (already inserted) for the webhook dispatcher, in the transaction of
/// its change. `endpoint` is set for a test event only, which goes to that endpoint alone.
async fn insert_outbox_row(
    conn: &mut PgConnection,
    event: &AuditEvent,
    event_type: EventType,
    endpoint: Option<EndpointId>,
) -> Result<(), Failure> {
    sqlx::query(
        "INSERT INTO webhook_outbox (event_id, account_id, type, endpoint_id, created_at) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(event.id.0)
    .bind(event.account_id.0)
    .bind(event_type.as_str())
    .bind(endpoint.map(|id| id.0))
    .bind(pg_time(event.at))
    .execute(conn)
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{APPLICATION_NAME, connect_options, page_limit};
    use keywarden_core::store::StoreError;

    #[test]
    fn pages_hold_at_most_a_thousand() {
        assert_eq!(page_limit(0), 0);
        assert_eq!(page_limit(25), 25);
        assert_eq!(page_limit(1000), 1000);
        assert_eq!(page_limit(u32::MAX), 1000);
    }

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
