//! The API reference page (`GET /docs`): Swagger UI rendering `/openapi.json`.
//!
//! Its files are compiled into the binary by `utoipa-swagger-ui` with the `vendored` feature:
//! they come from a crates.io crate, nothing is downloaded at build time, and the page loads
//! nothing from another origin (its own Content-Security-Policy says so). `/docs` and `/docs/`
//! are the same page; its asset URLs are absolute (`/docs/swagger-ui.css`) so they resolve
//! under either spelling.

use crate::error::ApiError;
use crate::extract::ApiPath;
use axum::Router;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use std::borrow::Cow;
use std::hash::{DefaultHasher, Hasher};
use std::sync::{Arc, OnceLock};
use utoipa_swagger_ui::Config;

/// Where the reference page lives.
pub const DOCS_PATH: &str = "/docs";

/// The reference page at `/docs`, with its files under `/docs/…`.
pub fn router() -> Router<crate::state::AppState> {
    Router::new()
        .route(
            DOCS_PATH,
            get(|headers: HeaderMap| async move { page(&headers) }),
        )
        .route(
            "/docs/{*file}",
            get(
                |ApiPath(file): ApiPath<String>, headers: HeaderMap| async move {
                    docs_file(&file, &headers)
                },
            ),
        )
}

/// The policy of the reference page: this origin's scripts, styles, images and API only.
/// Swagger UI sets element styles from script (allowed by `style-src 'self'`: CSSOM is not
/// inline style) and draws some icons as `data:` images.
pub const DOCS_CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
style-src 'self'; img-src 'self' data:; font-src 'self'; connect-src 'self'; \
frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

/// Swagger UI's settings: this server's document, no online validator, nothing kept in the
/// browser's storage.
fn swagger_config() -> Arc<Config<'static>> {
    static CONFIG: OnceLock<Arc<Config<'static>>> = OnceLock::new();
    CONFIG
        .get_or_init(|| {
            Arc::new(
                Config::new(["/openapi.json"])
                    .use_base_layout()
                    .validator_url("none")
                    .persist_authorization(false)
                    .display_request_duration(true)
                    .filter(true),
            )
        })
        .clone()
}

/// The page: Swagger UI's `index.html` with absolute asset URLs and our title.
fn page(request: &HeaderMap) -> Response {
    static HTML: OnceLock<Option<String>> = OnceLock::new();
    let html = HTML.get_or_init(|| {
        let file = utoipa_swagger_ui::serve("index.html", swagger_config()).ok()??;
        let html = String::from_utf8(file.bytes.into_owned()).ok()?;
        Some(absolute_asset_urls(&html))
    });
    match html {
        Some(html) => asset(
            Cow::Borrowed(html.as_bytes()),
            "text/html; charset=utf-8",
            request,
        ),
        None => {
            ApiError::Internal("the API reference page is not in this build".into()).into_response()
        }
    }
}

/// Rewrites the page's relative asset URLs (`./swagger-ui.css`, `index.css`) to `/docs/…`.
fn absolute_asset_urls(html: &str) -> String {
    html.replace("href=\"./", "href=\"/docs/")
        .replace("src=\"./", "src=\"/docs/")
        .replace("href=\"index.css\"", "href=\"/docs/index.css\"")
        .replace(
            "<title>Swagger UI</title>",
            "<title>Keywarden API reference</title>",
        )
}

/// One of Swagger UI's files.
fn docs_file(file: &str, request: &HeaderMap) -> Response {
    if file.is_empty() || file == "index.html" {
        return page(request);
    }
    match utoipa_swagger_ui::serve(file, swagger_config()) {
        Ok(Some(found)) => asset(found.bytes, &found.content_type, request),
        Ok(None) => ApiError::NotFound("file of the API reference page").into_response(),
        Err(e) => {
            ApiError::Internal(format!("API reference page file {file}: {e}")).into_response()
        }
    }
}

/// An answer with the page's policy, revalidated by `ETag`.
fn asset(body: Cow<'static, [u8]>, content_type: &str, request: &HeaderMap) -> Response {
    let mut headers = HeaderMap::new();
    for (name, value) in [
        (
            header::CONTENT_SECURITY_POLICY,
            DOCS_CONTENT_SECURITY_POLICY,
        ),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::CACHE_CONTROL, "no-cache"),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    headers.insert(
        HeaderName::from_static("cross-origin-opener-policy"),
        HeaderValue::from_static("same-origin"),
    );
    if let Ok(value) = HeaderValue::from_str(content_type) {
        headers.insert(header::CONTENT_TYPE, value);
    }
    let mut hasher = DefaultHasher::new();
    hasher.write(&body);
    let etag = format!("\"{:016x}-{:x}\"", hasher.finish(), body.len());
    if let Ok(value) = HeaderValue::from_str(&etag) {
        headers.insert(header::ETAG, value);
    }
    let fresh = request
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|tags| tags.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    if fresh {
        return (StatusCode::NOT_MODIFIED, headers).into_response();
    }
    (StatusCode::OK, headers, body).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_loads_its_files_from_docs() {
        let html = absolute_asset_urls(
            "<title>Swagger UI</title><link href=\"./swagger-ui.css\" /><link href=\"index.css\" />\
             <script src=\"./swagger-ui-bundle.js\"></script>",
        );
        assert_eq!(
            html,
            "<title>Keywarden API reference</title><link href=\"/docs/swagger-ui.css\" />\
             <link href=\"/docs/index.css\" /><script src=\"/docs/swagger-ui-bundle.js\"></script>"
        );
    }
}
