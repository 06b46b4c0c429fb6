//! SPEC §4: every path works with and without its trailing slash.
//!
//! Routes are registered as the document spells them (`crate::routes`): API paths under
//! `/v1/` end in one `/`, the operations endpoints and web pages do not. [`respell`] rewrites a
//! request's path to that spelling before routing (`/v1/users` → `/v1/users/`,
//! `/healthz/` → `/healthz`). The two verification paths in their other spelling are the
//! exception: rewriting a URI costs three allocations, so the router also declares
//! [`ROUTED_AS_SENT`] and [`respell`] leaves them alone. Their documented spelling (the seeds',
//! which every platform sends) needs no rewrite either.

use axum::extract::Request;
use axum::http::Uri;
use axum::http::uri::PathAndQuery;
use tower::util::MapRequest;

/// The verification paths without their slash, which the router declares too (in
/// `forward-auth`, `verify` order).
pub const ROUTED_AS_SENT: [&str; 2] = ["/v1/forward-auth", "/v1/verify"];

/// Paths under this prefix are registered with a trailing slash; all others without.
const SLASHED: &str = "/v1/";

/// A service behind [`respell`].
pub type Respelled<S> = MapRequest<S, fn(Request) -> Request>;

/// Puts [`respell`] in front of `inner`.
pub fn respelled<S>(inner: S) -> Respelled<S> {
    MapRequest::new(inner, respell as fn(Request) -> Request)
}

/// The registered spelling of `path`, or `None` when it is already spelt that way (or is one
/// of [`ROUTED_AS_SENT`]).
fn registered_spelling(path: &str) -> Option<String> {
    let bare = path.trim_end_matches('/');
    if path.starts_with(SLASHED) && bare.len() >= SLASHED.len() {
        // One trailing slash, however many were sent.
        let done = path.len() == bare.len() + 1;
        (!done && !ROUTED_AS_SENT.contains(&path)).then(|| format!("{bare}/"))
    } else if path.len() > 1 && path.ends_with('/') {
        Some(if bare.is_empty() {
            "/".into()
        } else {
            bare.into()
        })
    } else {
        None
    }
}

/// Rewrites the request's path to its registered spelling, keeping the query.
pub fn respell(mut request: Request) -> Request {
    let Some(path) = registered_spelling(request.uri().path()) else {
        return request;
    };
    let path_and_query = match request.uri().query() {
        Some(query) => format!("{path}?{query}"),
        None => path,
    };
    let mut parts = request.uri().clone().into_parts();
    // Both steps only fail on text that was already a valid URI with other slashes.
    if let Ok(path_and_query) = PathAndQuery::try_from(path_and_query) {
        parts.path_and_query = Some(path_and_query);
        if let Ok(uri) = Uri::from_parts(parts) {
            *request.uri_mut() = uri;
        }
    }
    request
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn path_after_respell(uri: &str) -> String {
        let request = Request::builder().uri(uri).body(axum::body::Body::empty());
        respell(request.unwrap()).uri().to_string()
    }

    #[test]
    fn api_paths_get_one_trailing_slash_and_the_query_stays() {
        assert_eq!(path_after_respell("/v1/users"), "/v1/users/");
        assert_eq!(path_after_respell("/v1/users/"), "/v1/users/");
        assert_eq!(path_after_respell("/v1/users///"), "/v1/users/");
        assert_eq!(
            path_after_respell("/v1/api-keys?limit=5"),
            "/v1/api-keys/?limit=5"
        );
        assert_eq!(
            path_after_respell("http://example.com/v1/users"),
            "http://example.com/v1/users/"
        );
    }

    #[test]
    fn other_paths_lose_their_trailing_slashes() {
        assert_eq!(path_after_respell("/healthz/"), "/healthz");
        assert_eq!(path_after_respell("/docs//"), "/docs");
        assert_eq!(path_after_respell("/healthz"), "/healthz");
        assert_eq!(path_after_respell("/"), "/");
        assert_eq!(path_after_respell("//"), "/");
        assert_eq!(path_after_respell("/v1"), "/v1");
        assert_eq!(path_after_respell("/v1/"), "/v1");
    }

    #[test]
    fn the_verification_paths_are_routed_as_sent() {
        assert_eq!(path_after_respell("/v1/forward-auth/"), "/v1/forward-auth/");
        assert_eq!(path_after_respell("/v1/forward-auth"), "/v1/forward-auth");
        assert_eq!(path_after_respell("/v1/verify/"), "/v1/verify/");
        assert_eq!(path_after_respell("/v1/verify"), "/v1/verify");
        assert_eq!(path_after_respell("/v1/verify//"), "/v1/verify/");
    }
}
