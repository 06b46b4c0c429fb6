//! A body announced as larger than the limit is refused from its `Content-Length` at once,
//! before a byte of it is read: otherwise the answer waits for the body to arrive (a client
//! that announces 10 GB and sends 10 bytes would hold the request open). Bodies without an
//! announced length are cut off by axum's `DefaultBodyLimit` as they are read.
//!
//! A few paths take larger bodies than the configured limit ([`LARGER_BODIES`]): leak reports
//! (SPEC §8), whose routes set their own `DefaultBodyLimit` to the same figure.

use crate::answer_first::{AnswerFirst, Shortcut, Taken};
use crate::error::ApiError;
use axum::extract::Request;
use axum::http::Method;
use axum::http::header::CONTENT_LENGTH;
use axum::response::IntoResponse;

/// Largest GitHub leak report, in bytes: 1,000 matches with room to spare.
pub const LEAK_REPORT_MAX_BYTES: usize = 1024 * 1024;
/// Largest pasted-leak body, in bytes: a text of up to 1 MiB, with room for JSON's escapes.
pub const LEAK_PASTE_MAX_BYTES: usize = 2 * 1024 * 1024;

/// Paths (as routed, with their trailing slash) whose bodies may be larger than the configured
/// limit, and up to what size.
pub const LARGER_BODIES: [(&str, usize); 2] = [
    ("/v1/leaks/github/", LEAK_REPORT_MAX_BYTES),
    ("/v1/leaks/", LEAK_PASTE_MAX_BYTES),
];

/// The body limit of `path`: the configured `max`, or more for the paths of [`LARGER_BODIES`].
pub fn limit_for(path: &str, max: usize) -> usize {
    LARGER_BODIES
        .iter()
        .find(|(larger, _)| *larger == path)
        .map_or(max, |(_, limit)| max.max(*limit))
}

/// Puts [`AnnouncedLength`] in front of a service.
#[derive(Clone, Copy, Debug)]
pub struct AnnouncedLengthLayer {
    /// Largest body accepted, in bytes.
    pub max: usize,
}

impl<S> tower::Layer<S> for AnnouncedLengthLayer {
    type Service = AnswerFirst<AnnouncedLength, S>;

    fn layer(&self, inner: S) -> Self::Service {
        AnswerFirst::new(AnnouncedLength { max: self.max }, inner)
    }
}

/// Answers 413 to a request whose `Content-Length` is over `max`.
#[derive(Clone, Copy, Debug)]
pub struct AnnouncedLength {
    max: usize,
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
        let too_large = announced
            .is_some_and(|length| length > limit_for(request.uri().path(), self.max) as u64);
        if too_large {
            Taken::Answered(ApiError::PayloadTooLarge.into_response())
        } else {
            Taken::Declined(request)
        }
    }
}
