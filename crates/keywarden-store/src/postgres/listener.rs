//! Early wake-ups for other instances: every transaction that changes keys also calls
//! `pg_notify('keywarden_key_changes', <its highest change_seq>)`, which PostgreSQL delivers
//! to every listening session when (and only if) the transaction commits.
//!
//! A notification is a hint, never the data: the change feed
//! ([`KeyFeed::keys_changed_since`](keywarden_core::store::KeyFeed::keys_changed_since)) stays the
//! one source of truth. Notifications are not queued for a session that is not connected, so a
//! listener that loses its connection reports [`KeyChangeNotice::Reconnected`] and the caller
//! must read the feed, exactly as after a missed poll.

use super::errors::map_sqlx;
use keywarden_core::store::StoreError;
use sqlx::postgres::{PgConnectOptions, PgListener, PgPoolOptions};

/// The channel key-changing transactions notify on commit. The payload is the highest
/// `change_seq` the transaction assigned, in decimal.
pub const KEY_CHANGES_CHANNEL: &str = "keywarden_key_changes";

/// What a [`KeyChangeListener`] heard.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyChangeNotice {
    /// A transaction that changed keys committed. Carries its highest `change_seq` when the
    /// payload is one (a foreign `NOTIFY` on the channel may carry anything). Read the feed
    /// from your cursor; several notices may be answered by one read.
    Changed(Option<i64>),
    /// The connection was lost and has been opened again (listening again): notifications
    /// sent in between are gone, so read the feed.
    Reconnected,
}

/// A subscription to [`KEY_CHANGES_CHANNEL`] on a connection of its own (not one of the
/// store's pooled connections, which it would otherwise hold for ever).
///
/// Use it to cut the delay between a change on one instance and its arrival in the key table
/// of another, never instead of polling:
///
/// 1. subscribe ([`PostgresStore::listen_for_changes`](super::PostgresStore::listen_for_changes)
///    or [`KeyChangeListener::connect`]);
/// 2. read the change feed from your cursor (changes committed before the subscription
///    started produced no notice for you);
/// 3. loop: wait for [`recv`](Self::recv) *or* the poll interval, whichever comes first, then
///    read the feed again.
///
/// An error from `recv` (the database is unreachable) is not final: calling `recv` again tries
/// to reconnect. Dropping the listener closes its connection.
#[derive(Debug)]
pub struct KeyChangeListener {
    listener: PgListener,
}

impl KeyChangeListener {
    /// Subscribes on a new connection to the database named by `url` (a `postgres://` or
    /// `postgresql://` URL, as for [`PostgresStore::connect`](super::PostgresStore::connect)).
    /// Errors never repeat the URL.
    pub async fn connect(url: &str) -> Result<KeyChangeListener, StoreError> {
        Self::connect_with(super::connect_options(url)?).await
    }

    /// Subscribes on a new connection opened with `options`.
    pub(super) async fn connect_with(
        options: PgConnectOptions,
    ) -> Result<KeyChangeListener, StoreError> {
        // A pool of one, used by PgListener only to reconnect after a lost connection (and
        // to LISTEN again); no idle or lifetime limit, since the connection is meant to stay.
        let pool = PgPoolOptions::new()
            .max_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
            .acquire_timeout(super::ACQUIRE_TIMEOUT)
            .connect_lazy_with(options);
        let mut listener = PgListener::connect_with(&pool).await.map_err(map_sqlx)?;
        listener
            .listen(KEY_CHANGES_CHANNEL)
            .await
            .map_err(map_sqlx)?;
        Ok(KeyChangeListener { listener })
    }

    /// Waits for the next notice. Meant to be raced against the poll timer (`select!`):
    /// notices that arrive while nobody waits stay buffered on the connection for the next
    /// call, and should a cancelled wait ever lose one, the poll that follows reads the feed
    /// anyway.
    pub async fn recv(&mut self) -> Result<KeyChangeNotice, StoreError> {
        match self.listener.try_recv().await.map_err(map_sqlx)? {
            Some(notification) => Ok(KeyChangeNotice::Changed(
                notification.payload().parse().ok(),
            )),
            None => Ok(KeyChangeNotice::Reconnected),
        }
    }

    /// A notice that has already arrived, without waiting.
    pub fn try_next(&mut self) -> Option<KeyChangeNotice> {
        self.listener
            .next_buffered()
            .map(|n| KeyChangeNotice::Changed(n.payload().parse().ok()))
    }
}
