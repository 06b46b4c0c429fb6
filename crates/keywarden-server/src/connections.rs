//! Accepting connections, with the limits a server facing slow or hostile clients needs and
//! `axum::serve` does not set:
//!
//! - **Header-read and idle timeout** ([`watchdog`]): a connection with no request in flight
//!   that completes none for `limits.header_read_timeout_secs` — half-sent headers, or idle
//!   between requests — is closed within one more period. Before, half-sent and idle
//!   connections stayed open for good.
//! - **A connection cap** below the open-file limit (raised to its hard value at start): past
//!   it, a new connection is closed at once, so descriptors are left for the database and the
//!   data files and ordinary requests on open connections go on being answered.
//! - **Bounded graceful shutdown.** On the shutdown signal no connection is accepted, every
//!   connection finishes the request it is in and closes; after `limits.shutdown_grace_secs`
//!   the server returns anyway.
//!
//! Each connection carries its peer address as `ConnectInfo`, as `axum::serve` would.

use crate::HttpService;
use axum::body::Body;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};
use tower::ServiceExt;
use watchdog::{Activity, Tracked, WatchedIo};

pub mod watchdog;

/// Descriptors kept free of connections: the database pool, the data files, the log.
const RESERVED_FILES: u64 = 128;

/// The limits of [`serve_connections`].
#[derive(Clone, Copy, Debug)]
pub struct ConnectionLimits {
    /// Most connections open at once.
    pub max_connections: usize,
    /// Header-read and idle timeout.
    pub header_read_timeout: Duration,
    /// Longest wait for open connections after the shutdown signal.
    pub shutdown_grace: Duration,
}

/// Counters of the connection loop, for `/metrics`.
#[derive(Debug, Default)]
pub struct ConnectionStats {
    /// Connections closed at once because the cap was reached.
    pub refused: AtomicU64,
    /// Connections open now.
    pub open: AtomicU64,
}

/// Raises the soft open-file limit to the hard one and returns the connection cap that fits
/// under it: `wanted`, or fewer if the limit is low.
pub fn fit_to_file_limit(wanted: usize) -> usize {
    let limit = match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => limit,
        Err(e) => {
            tracing::warn!(error = %e, "cannot read or raise the open-file limit");
            return wanted;
        }
    };
    let room = usize::try_from(limit.saturating_sub(RESERVED_FILES)).unwrap_or(usize::MAX);
    if room < wanted {
        tracing::warn!(
            open_file_limit = limit,
            max_connections = room,
            "the open-file limit allows fewer connections than configured; raise LimitNOFILE"
        );
    }
    wanted.min(room).max(1)
}

/// Serves `service` on `listener` until `shutdown` completes, then drains as described above.
pub async fn serve_connections(
    listener: TcpListener,
    service: impl HttpService,
    limits: ConnectionLimits,
    stats: Arc<ConnectionStats>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    let permits = Arc::new(Semaphore::new(limits.max_connections));
    // Closed when the signal comes: every connection task is told to finish.
    let (stop_tx, stop_rx) = watch::channel(());
    // Each task holds a receiver; all dropped means all connections closed.
    let (closed_tx, closed_rx) = watch::channel(());
    let mut shutdown = std::pin::pin!(shutdown);
    // No timer: the watchdog does hyper's header-read timeout without a timer per request.
    // hyper's default of 100 header fields stays: a higher one puts every request's header
    // index on the heap (two allocations a request).
    let http = hyper::server::conn::http1::Builder::new();

    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of descriptors or a connection reset before accept: wait a moment
                    // rather than spin.
                    tracing::warn!(error = %e, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            stats.refused.fetch_add(1, Ordering::Relaxed);
            drop(stream);
            continue;
        };
        let _ = stream.set_nodelay(true);
        let activity = Arc::new(Activity::default());
        let service = service
            .clone()
            .map_request(move |request: hyper::Request<Incoming>| {
                let mut request = request.map(Body::new);
                request.extensions_mut().insert(ConnectInfo(peer));
                request
            });
        let stream = WatchedIo::new(stream, activity.clone(), limits.header_read_timeout);
        let connection = http.serve_connection(
            TokioIo::new(stream),
            TowerToHyperService::new(Tracked::new(service, activity)),
        );
        let (mut stop, closed, stats) = (stop_rx.clone(), closed_rx.clone(), stats.clone());
        stats.open.fetch_add(1, Ordering::Relaxed);
        tokio::spawn(async move {
            let mut connection = std::pin::pin!(connection);
            tokio::select! {
                _ = connection.as_mut() => {}
                _ = stop.changed() => {
                    connection.as_mut().graceful_shutdown();
                    let _ = connection.await;
                }
            }
            stats.open.fetch_sub(1, Ordering::Relaxed);
            drop((permit, closed));
        });
    }
    drop(listener);
    drop((stop_rx, closed_rx));
    // Tell every connection to finish its request and close, then wait for them, bounded.
    drop(stop_tx);
    let open = stats.open.load(Ordering::Relaxed);
    if tokio::time::timeout(limits.shutdown_grace, closed_tx.closed())
        .await
        .is_err()
    {
        tracing::warn!(
            open = stats.open.load(Ordering::Relaxed),
            at_signal = open,
            grace_secs = limits.shutdown_grace.as_secs(),
            "connections still open after the shutdown grace period; closing them"
        );
    }
}
