//! Request log: method, path, status and duration at debug level. Never headers (they carry
//! keys and tokens), never the query string (people paste keys into URLs), never bodies, and
//! nothing of a path that looks like a key (`loggable_path`).
//!
//! A tower layer rather than `axum::middleware::from_fn`: `from_fn` boxes the inner service
//! and the response future on every request, two allocations the verify path would pay even
//! with debug logging off. Here the request passes straight through when debug is off.

use axum::extract::Request;
use axum::http::Method;
use axum::response::Response;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

/// Adds the request log to a service.
#[derive(Clone, Copy, Debug, Default)]
pub struct AccessLogLayer;

impl<S> tower::Layer<S> for AccessLogLayer {
    type Service = AccessLog<S>;

    fn layer(&self, inner: S) -> Self::Service {
        AccessLog { inner }
    }
}

/// The service [`AccessLogLayer`] makes.
#[derive(Clone, Debug)]
pub struct AccessLog<S> {
    inner: S,
}

/// What a logged request remembers until its answer.
#[derive(Debug)]
struct Pending {
    method: Method,
    path: String,
    started: Instant,
}

impl<S> tower::Service<Request> for AccessLog<S>
where
    S: tower::Service<Request, Response = Response>,
{
    type Response = Response;
    type Error = S::Error;
    type Future = AccessLogFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let pending = tracing::enabled!(tracing::Level::DEBUG).then(|| Pending {
            method: request.method().clone(),
            path: loggable_path(request.uri().path()),
            started: Instant::now(),
        });
        AccessLogFuture {
            inner: self.inner.call(request),
            pending,
        }
    }
}

/// The longest path logged, in characters: a hostile path must not make a hostile log line.
const MAX_LOGGED_PATH: usize = 200;

/// `path` as the log may show it: every word that starts like a key (`sk_…`, `rk_…`) cut to
/// its first three characters, then at most [`MAX_LOGGED_PATH`] characters. People paste keys into
/// URLs (`GET /v1/customers/sk_live_…`), and a log line must never hold one.
fn loggable_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len().min(MAX_LOGGED_PATH));
    let mut rest = path;
    while let Some(at) = key_start(rest) {
        let (before, from) = rest.split_at(at + 3);
        out.push_str(before);
        out.push_str("[redacted]");
        let end = from
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(from.len());
        rest = from.split_at(end).1;
    }
    out.push_str(rest);
    out.chars().take(MAX_LOGGED_PATH).collect()
}

/// Where the first word starting `sk_` or `rk_` begins (`task_list` is not one).
fn key_start(text: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    (0..bytes.len()).find(|&at| {
        matches!(bytes.get(at..at + 3), Some([b's' | b'r', b'k', b'_']))
            && at
                .checked_sub(1)
                .and_then(|before| bytes.get(before))
                .is_none_or(|b| !b.is_ascii_alphanumeric())
    })
}

pin_project_lite::pin_project! {
    /// The inner service's future, logging its answer when it completes.
    #[derive(Debug)]
    pub struct AccessLogFuture<F> {
        #[pin]
        inner: F,
        pending: Option<Pending>,
    }
}

impl<F, E> Future for AccessLogFuture<F>
where
    F: Future<Output = Result<Response, E>>,
{
    type Output = Result<Response, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let output = std::task::ready!(this.inner.poll(cx));
        if let (Some(pending), Ok(response)) = (this.pending.take(), &output) {
            tracing::debug!(
                method = %pending.method,
                path = %pending.path,
                status = response.status().as_u16(),
                micros = u64::try_from(pending.started.elapsed().as_micros()).unwrap_or(u64::MAX),
                "request"
            );
        }
        Poll::Ready(output)
    }
}

#[cfg(test)]
mod tests {
    use super::loggable_path;

    #[test]
    fn key_shaped_path_segments_are_redacted() {
        let key = "sk_live_0123456789abcdefghijABCDEFGHIJ0123456789";
        assert_eq!(
            loggable_path(&format!("/v1/customers/{key}/orders")),
            "/v1/customers/sk_[redacted]/orders"
        );
        assert_eq!(
            loggable_path("/rk_test_abc/x/sk_live_def"),
            "/rk_[redacted]/x/sk_[redacted]"
        );
        assert_eq!(
            loggable_path("/v1/api-keys/0193a1b2"),
            "/v1/api-keys/0193a1b2"
        );
        assert_eq!(loggable_path("/v1/forward-auth/"), "/v1/forward-auth/");
        assert_eq!(
            loggable_path("/v1/task_list/desk_3"),
            "/v1/task_list/desk_3"
        );
        assert_eq!(loggable_path(&"/é".repeat(300)).chars().count(), 200);
    }
}
