//! On PostgreSQL, other instances announce key changes with `NOTIFY`; this task listens and
//! reads the change feed as soon as one arrives, so a revocation on instance A reaches
//! instance B in milliseconds rather than at B's next poll. The poll in
//! [`crate::verify::synced_table::run_refresh`] stays: it holds the bound when a notification is lost,
//! and after a reconnect this task reads the feed at once to catch up on what it missed.

use crate::verify::synced_table::SyncedKeyTable;
use keywarden_store::{KeyChangeListener, KeyChangeNotice};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// Longest wait between attempts to reach the database again.
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// Listens for key-change notices until `shutdown` fires.
pub async fn run(
    table: Arc<SyncedKeyTable>,
    database_url: String,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut backoff = Duration::from_millis(100);
    loop {
        let listener = tokio::select! {
            listener = KeyChangeListener::connect(&database_url) => listener,
            _ = shutdown.changed() => return,
        };
        let mut listener = match listener {
            Ok(listener) => {
                backoff = Duration::from_millis(100);
                listener
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for key changes; polling only until the database answers");
                tokio::select! {
                    () = tokio::time::sleep(backoff) => {}
                    _ = shutdown.changed() => return,
                }
                backoff = (backoff * 2).min(MAX_BACKOFF);
                continue;
            }
        };
        // Changes committed before the subscription sent us nothing: read the feed now.
        catch_up(&table).await;
        loop {
            let notice = tokio::select! {
                notice = listener.recv() => notice,
                _ = shutdown.changed() => return,
            };
            match notice {
                Ok(KeyChangeNotice::Changed(_) | KeyChangeNotice::Reconnected) => {
                    // Several notices may be answered by one read of the feed.
                    while listener.try_next().is_some() {}
                    catch_up(&table).await;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "lost the key-change listener; reconnecting");
                    break;
                }
            }
        }
        tokio::select! {
            () = tokio::time::sleep(backoff) => {}
            _ = shutdown.changed() => return,
        }
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

async fn catch_up(table: &SyncedKeyTable) {
    if let Err(e) = table.catch_up().await {
        tracing::warn!(error = %e, "cannot read the key change feed after a notice");
    }
}
