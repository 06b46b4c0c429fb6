//! Requests too large in their head are answered in the contract's JSON (SPEC §4: every error
//! is JSON that says what to do) rather than by the HTTP layer's empty 431 and 414. These
//! limits are lower than the ones hyper enforces itself (a 400 KiB head, a 64 KiB target), so
//! every request between the two gets its JSON answer here. What hyper refuses before a
//! request exists at all — more than 100 header fields (raising that limit costs every request
//! two allocations), a head over its limits, a request line or header that does not parse —
//! still gets its own bodiless 400, 414 or 431: there is no request yet to route or answer
//! (docs/RELIABILITY.md).

use crate::answer_first::{AnswerFirst, Shortcut, Taken};
use crate::error::ApiError;
use axum::extract::Request;
use axum::response::IntoResponse;

/// Most bytes of header names and values in a request.
pub const MAX_HEADER_BYTES: usize = 128 * 1024;
/// Longest path and query.
pub const MAX_URI_BYTES: usize = 8 * 1024;

/// Puts [`HeadLimits`] in front of a service.
#[derive(Clone, Copy, Debug)]
pub struct HeadLimitsLayer;

impl<S> tower::Layer<S> for HeadLimitsLayer {
    type Service = AnswerFirst<HeadLimits, S>;

    fn layer(&self, inner: S) -> Self::Service {
        AnswerFirst::new(HeadLimits, inner)
    }
}

/// Answers 431 or 414 (JSON) to a request whose head is over the limits above.
#[derive(Clone, Copy, Debug)]
pub struct HeadLimits;

impl Shortcut for HeadLimits {
    #[inline]
    fn answer(&self, request: Request) -> Taken {
        let target = request
            .uri()
            .path_and_query()
            .map_or(0, |p| p.as_str().len());
        if target > MAX_URI_BYTES {
            let error = ApiError::UriTooLong {
                limit: MAX_URI_BYTES,
            };
            return Taken::Answered(error.into_response());
        }
        let bytes: usize = request
            .headers()
            .iter()
            .map(|(name, value)| name.as_str().len() + value.len())
            .sum();
        if bytes > MAX_HEADER_BYTES {
            let error = ApiError::HeadersTooLarge {
                limit: MAX_HEADER_BYTES,
            };
            return Taken::Answered(error.into_response());
        }
        Taken::Declined(request)
    }
}
