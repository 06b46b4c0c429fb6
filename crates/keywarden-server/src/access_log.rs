//! Request log: method, path, status and duration at debug level. Never headers (they carry
//! keys and tokens), never the query string (people paste keys into URLs), never bodies.
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
            // Bounded: a hostile path must not make a hostile log line.
            path: request.uri().path().chars().take(200).collect(),
            started: Instant::now(),
        });
        AccessLogFuture {
            inner: self.inner.call(request),
            pending,
        }
    }
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
