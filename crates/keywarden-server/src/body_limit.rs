//! A body announced as larger than the limit is refused from its `Content-Length` at once,
//! before a byte of it is read: otherwise the answer waits for the body to arrive (a client
//! that announces 10 GB and sends 10 bytes would hold the request open). Bodies without an
//! announced length are cut off by axum's `DefaultBodyLimit` as they are read.

use crate::answer_first::{AnswerFirst, Shortcut, Taken};
use crate::error::ApiError;
use axum::extract::Request;
use axum::http::Method;
use axum::http::header::CONTENT_LENGTH;
use axum::response::IntoResponse;

/// Puts [`AnnouncedLength`] in front of a service.
#[derive(Clone, Copy, Debug)]
pub struct AnnouncedLengthLayer {
    /// Largest body accepted, in bytes.
    pub max: usize,
}

impl<S> tower::Layer<S> for AnnouncedLengthLayer {
    type Service = AnswerFirst<AnnouncedLength, S>;

    fn layer(&self, inner: S) -> Self::Service {
        AnswerFirst::new(
            AnnouncedLength {
                max: self.max as u64,
            },
            inner,
        )
    }
}

/// Answers 413 to a request whose `Content-Length` is over `max`.
#[derive(Clone, Copy, Debug)]
pub struct AnnouncedLength {
    max: u64,
}

impl Shortcut for AnnouncedLength {
    fn answer(&self, request: Request) -> Taken {
        // GET and HEAD bodies are never read (and forward-auth, a GET, skips the lookup).
        let reads_body = !matches!(*request.method(), Method::GET | Method::HEAD);
        let announced = reads_body
            .then(|| request.headers().get(CONTENT_LENGTH))
            .flatten()
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        if announced.is_some_and(|length| length > self.max) {
            Taken::Answered(ApiError::PayloadTooLarge.into_response())
        } else {
            Taken::Declined(request)
        }
    }
}
