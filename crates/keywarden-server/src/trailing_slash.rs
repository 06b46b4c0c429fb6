//! SPEC §4: every path works with and without its trailing slash.
//!
//! Routes are declared without the slash and [`trim`] takes it off before routing. The two
//! verification paths are the exception: every request a platform sends carries the seeds'
//! spelling (`/v1/forward-auth/`), and rewriting the URI costs three allocations per request,
//! so the router declares them in both spellings and [`trim`] leaves them alone.

use axum::extract::Request;
use axum::http::Uri;
use axum::http::uri::PathAndQuery;
use tower::util::MapRequest;

/// Paths the router declares with their trailing slash as well (see `routes.rs`).
pub const ROUTED_WITH_SLASH: [&str; 2] = ["/v1/forward-auth/", "/v1/verify/"];

/// A service behind [`trim`].
pub type Trimmed<S> = MapRequest<S, fn(Request) -> Request>;

/// Puts [`trim`] in front of `inner`.
pub fn trimmed<S>(inner: S) -> Trimmed<S> {
    MapRequest::new(inner, trim as fn(Request) -> Request)
}

/// Removes the trailing slashes of the request's path (`/v1/users/` → `/v1/users`), keeping
/// the query; `/` and [`ROUTED_WITH_SLASH`] stay as they are.
pub fn trim(mut request: Request) -> Request {
    let path = request.uri().path();
    if path.len() <= 1 || !path.ends_with('/') || ROUTED_WITH_SLASH.contains(&path) {
        return request;
    }
    let trimmed = match path.trim_end_matches('/') {
        "" => "/",
        p => p,
    };
    let path_and_query = match request.uri().query() {
        Some(query) => format!("{trimmed}?{query}"),
        None => trimmed.to_owned(),
    };
    let mut parts = request.uri().clone().into_parts();
    // Both steps only fail on text that was already a valid URI minus some slashes.
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

    fn path_after_trim(uri: &str) -> String {
        let request = Request::builder().uri(uri).body(axum::body::Body::empty());
        trim(request.unwrap()).uri().to_string()
    }

    #[test]
    fn trailing_slashes_go_and_the_query_stays() {
        assert_eq!(path_after_trim("/v1/users/"), "/v1/users");
        assert_eq!(path_after_trim("/v1/users///"), "/v1/users");
        assert_eq!(
            path_after_trim("/v1/api-keys/?limit=5"),
            "/v1/api-keys?limit=5"
        );
        assert_eq!(path_after_trim("/v1/users"), "/v1/users");
        assert_eq!(path_after_trim("/"), "/");
        assert_eq!(path_after_trim("//"), "/");
        assert_eq!(
            path_after_trim("http://example.com/v1/users/"),
            "http://example.com/v1/users"
        );
    }

    #[test]
    fn the_verification_paths_keep_their_slash() {
        assert_eq!(path_after_trim("/v1/forward-auth/"), "/v1/forward-auth/");
        assert_eq!(path_after_trim("/v1/verify/"), "/v1/verify/");
        assert_eq!(path_after_trim("/v1/verify//"), "/v1/verify");
    }
}
