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

use super::forward_auth;
use crate::answer_first::{AnswerFirst, Shortcut, Taken};
use crate::state::AppState;
use axum::extract::Request;
use axum::http::Method;

/// The two spellings of the forward-auth path (SPEC §4: with and without the slash).
const PATHS: [&str; 2] = ["/v1/forward-auth/", "/v1/forward-auth"];

/// Forward-auth answered in front of the router.
pub type ForwardAuthFirst<S> = AnswerFirst<ForwardAuth, S>;

/// Answers forward-auth requests; hands every other request back.
#[derive(Clone, Debug)]
pub struct ForwardAuth {
    state: AppState,
}

impl ForwardAuth {
    /// Forward-auth over `state`, in front of `router`.
    pub fn in_front_of<S>(state: AppState, router: S) -> ForwardAuthFirst<S> {
        AnswerFirst::new(Self { state }, router)
    }
}

impl Shortcut for ForwardAuth {
    #[inline]
    fn answer(&self, request: Request) -> Taken {
        if request.method() == Method::GET && PATHS.contains(&request.uri().path()) {
            forward_auth::answer(&self.state, request)
        } else {
            Taken::Declined(request)
        }
    }
}
