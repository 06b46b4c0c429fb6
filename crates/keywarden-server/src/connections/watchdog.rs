//! Closing connections that send no request: half-sent headers (slowloris) and idle keep-alive.
//!
//! hyper's own header-read timeout allocates and registers a timer for every request (about
//! 0.3 µs of CPU per request, docs/BENCHMARKS.md). Here each connection has one timer, armed
//! once per period, and a request costs three uncontended atomic updates: the service counts
//! requests in flight and completed ([`Tracked`]); the connection's reader ([`WatchedIo`])
//! checks, whenever it is about to wait for bytes, whether a whole period has passed with no
//! request in flight and none completed — then the read fails and hyper closes the connection.
//! A connection that sends nothing useful is closed between one and two periods after its last
//! answer (or its opening).

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

/// What one connection's requests have done, shared by its service and its reader.
#[derive(Debug, Default)]
pub struct Activity {
    in_flight: AtomicU64,
    completed: AtomicU64,
}

/// A connection's stream, failing a read once the connection has been useless for a period.
#[derive(Debug)]
pub struct WatchedIo<T> {
    io: T,
    activity: Arc<Activity>,
    period: Duration,
    timer: Pin<Box<Sleep>>,
    /// Requests completed when the timer was last armed.
    completed_at_arming: u64,
}

impl<T> WatchedIo<T> {
    /// Watches `io` with a timer of `period`.
    pub fn new(io: T, activity: Arc<Activity>, period: Duration) -> Self {
        Self {
            io,
            activity,
            period,
            // Armed on the first wait for bytes.
            timer: Box::pin(tokio::time::sleep_until(Instant::now())),
            completed_at_arming: u64::MAX,
        }
    }

    /// Whether the connection is past its time; re-arms the timer when a period has passed
    /// usefully. Called only when a read would wait, so a busy connection does not pay for it.
    fn overdue(&mut self, cx: &mut Context<'_>) -> bool {
        if self.completed_at_arming != u64::MAX && !self.timer.is_elapsed() {
            // Armed and running: its waker is this connection's task (set when armed).
            return false;
        }
        let completed = self.activity.completed.load(Ordering::Relaxed);
        let idle = self.activity.in_flight.load(Ordering::Relaxed) == 0;
        if idle && completed == self.completed_at_arming {
            return true;
        }
        self.completed_at_arming = completed;
        self.timer.as_mut().reset(Instant::now() + self.period);
        // Registers this task's waker, so the timer wakes a connection waiting for bytes.
        let _ = self.timer.as_mut().poll(cx);
        false
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for WatchedIo<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        match Pin::new(&mut this.io).poll_read(cx, buf) {
            Poll::Pending if this.overdue(cx) => Poll::Ready(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "no request within the header-read timeout",
            ))),
            other => other,
        }
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for WatchedIo<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }
}

/// A service that counts its requests in a connection's [`Activity`].
#[derive(Clone, Debug)]
pub struct Tracked<S> {
    inner: S,
    activity: Arc<Activity>,
}

impl<S> Tracked<S> {
    /// `inner`, counted in `activity`.
    pub fn new(inner: S, activity: Arc<Activity>) -> Self {
        Self { inner, activity }
    }
}

impl<S, R> tower::Service<R> for Tracked<S>
where
    S: tower::Service<R>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = TrackedFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: R) -> Self::Future {
        self.activity.in_flight.fetch_add(1, Ordering::Relaxed);
        TrackedFuture {
            inner: self.inner.call(request),
            activity: Some(self.activity.clone()),
        }
    }
}

pin_project_lite::pin_project! {
    /// The inner future; when it completes, the request counts as completed.
    #[derive(Debug)]
    pub struct TrackedFuture<F> {
        #[pin]
        inner: F,
        activity: Option<Arc<Activity>>,
    }
}

impl<F: Future> Future for TrackedFuture<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        let output = std::task::ready!(this.inner.poll(cx));
        if let Some(activity) = this.activity.take() {
            activity.completed.fetch_add(1, Ordering::Relaxed);
            activity.in_flight.fetch_sub(1, Ordering::Relaxed);
        }
        Poll::Ready(output)
    }
}
