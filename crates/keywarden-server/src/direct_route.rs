//! `GET /v1/forward-auth/`, answered before the router.
//!
//! Every request a platform's proxy sends is a forward-auth request, and its answer is
//! computed synchronously from the in-memory table. Through the router it would also pay a
//! route match, a clone of the boxed route service and a boxed handler future (two
//! allocations), and two clones of the shared state: increments and decrements of one
//! reference count that every core writes, so its cache line moves between cores on every
//! request (docs/BENCHMARKS.md measures the difference). Here the request is matched on its
//! method and path alone and answered with the state borrowed.
//!
//! Only the exact request is taken: `GET` on either spelling of the path. `HEAD`, other
//! methods (405) and every other path go to the router, which declares the same route.

use crate::routes::forward_auth;
use crate::state::AppState;
use axum::extract::Request;
use axum::http::Method;
use axum::response::{IntoResponse, Response};
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

/// The two spellings of the forward-auth path (SPEC §4: with and without the slash).
const PATHS: [&str; 2] = ["/v1/forward-auth/", "/v1/forward-auth"];

/// Answers forward-auth requests itself and passes every other request to `inner`.
#[derive(Clone, Debug)]
pub struct ForwardAuthFirst<S> {
    state: AppState,
    inner: S,
}

impl<S> ForwardAuthFirst<S> {
    /// `inner` (the router) behind the forward-auth answer.
    pub fn new(state: AppState, inner: S) -> Self {
        Self { state, inner }
    }
}

impl<S> tower::Service<Request> for ForwardAuthFirst<S>
where
    S: tower::Service<Request, Response = Response, Error = Infallible>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Answer<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        if request.method() == Method::GET && PATHS.contains(&request.uri().path()) {
            let response = forward_auth::answer(&self.state, request);
            Answer::Ready {
                response: Some(response),
            }
        } else {
            Answer::Routed {
                inner: self.inner.call(request),
            }
        }
    }
}

pin_project_lite::pin_project! {
    /// The answer made here, or the router's future.
    #[project = AnswerProjection]
    #[derive(Debug)]
    pub enum Answer<F> {
        /// Made before routing (taken on the first poll).
        Ready { response: Option<Response> },
        /// The router's.
        Routed { #[pin] inner: F },
    }
}

impl<F> Future for Answer<F>
where
    F: Future<Output = Result<Response, Infallible>>,
{
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project() {
            AnswerProjection::Ready { response } => match response.take() {
                Some(response) => Poll::Ready(Ok(response)),
                // Polled again after completion: a caller bug, answered rather than panicking.
                None => Poll::Ready(Ok(crate::error::ApiError::NoRoute.into_response())),
            },
            AnswerProjection::Routed { inner } => inner.poll(cx),
        }
    }
}
