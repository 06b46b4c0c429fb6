//! A service that may answer a request itself before the service behind it sees it: forward-auth
//! answered before routing ([`crate::verify::direct_route`]), a body announced over the limit
//! refused before it is read ([`crate::body_limit`]). Plain types, nothing boxed: the future is
//! either the answer made here or the inner service's.

use axum::extract::Request;
use axum::response::{IntoResponse, Response};
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

/// What a [`Shortcut`] did with a request.
pub enum Taken {
    /// It answered.
    Answered(Response),
    /// It handed the request back, untouched, to be passed on.
    Declined(Request),
    /// It will answer, after waiting for something (a rare path: the future is boxed).
    Later(Pin<Box<dyn Future<Output = Response> + Send>>),
}

/// Answers a request, or hands it back to be passed on.
pub trait Shortcut {
    /// The answer, or the request handed back.
    fn answer(&self, request: Request) -> Taken;
}

/// `shortcut` in front of `inner`.
#[derive(Clone, Debug)]
pub struct AnswerFirst<P, S> {
    shortcut: P,
    inner: S,
}

impl<P, S> AnswerFirst<P, S> {
    /// `inner` behind `shortcut`.
    pub fn new(shortcut: P, inner: S) -> Self {
        Self { shortcut, inner }
    }
}

impl<P, S> tower::Service<Request> for AnswerFirst<P, S>
where
    P: Shortcut,
    S: tower::Service<Request, Response = Response, Error = Infallible>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Answer<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        match self.shortcut.answer(request) {
            Taken::Answered(response) => Answer::Ready {
                response: Some(response),
            },
            Taken::Declined(request) => Answer::Passed {
                inner: self.inner.call(request),
            },
            Taken::Later(answer) => Answer::Later { answer },
        }
    }
}

pin_project_lite::pin_project! {
    /// The answer made here, or the inner service's future.
    #[project = AnswerProjection]
    pub enum Answer<F> {
        /// Made here (taken on the first poll).
        Ready { response: Option<Response> },
        /// The inner service's.
        Passed { #[pin] inner: F },
        /// Made here, after a wait.
        Later { answer: Pin<Box<dyn Future<Output = Response> + Send>> },
    }
}

impl std::fmt::Debug for Taken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Answered(_) => "Answered",
            Self::Declined(_) => "Declined",
            Self::Later(_) => "Later",
        })
    }
}

impl<F> std::fmt::Debug for Answer<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Ready { .. } => "Ready",
            Self::Passed { .. } => "Passed",
            Self::Later { .. } => "Later",
        })
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
            AnswerProjection::Passed { inner } => inner.poll(cx),
            AnswerProjection::Later { answer } => answer.as_mut().poll(cx).map(Ok),
        }
    }
}
