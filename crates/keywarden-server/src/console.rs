//! The web console: a static single-page app (plain ES modules, no build step) that talks to
//! the JSON API with `Authorization: Bearer <access token>`.
//!
//! The files under `web/` are compiled into the binary with `include_bytes!`, so a moved or
//! copied binary serves the same console and nothing is read from disk at run time. Every
//! answer carries a strict Content-Security-Policy (only this origin's scripts, styles and
//! API; images from this origin or `data:` for the 2FA QR code; no framing) and the usual
//! hardening headers. `index.html` is `no-store`; the other files are revalidated with an
//! `ETag`, so an upgraded binary never runs with a stale script.
//!
//! The console uses no cookies: the access token lives in a JavaScript variable and the refresh
//! token in the tab's `sessionStorage`. Browsers never attach a Bearer header on their own, so
//! the API cannot be driven by another site (no CSRF).

use axum::Router;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use std::hash::{DefaultHasher, Hasher};
use std::sync::OnceLock;

/// The policy every console answer carries.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; \
base-uri 'none'; form-action 'self'";

const HTML: &str = "text/html; charset=utf-8";
const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";
const SVG: &str = "image/svg+xml";

/// One embedded file.
#[derive(Debug)]
struct Asset {
    /// Where it is served.
    path: &'static str,
    /// Its media type.
    content_type: &'static str,
    /// Its bytes, from `web/` at compile time.
    body: &'static [u8],
    /// Its entity tag, computed on first use.
    etag: OnceLock<String>,
}

impl Asset {
    const fn new(path: &'static str, content_type: &'static str, body: &'static [u8]) -> Self {
        Self {
            path,
            content_type,
            body,
            etag: OnceLock::new(),
        }
    }

    fn is_document(&self) -> bool {
        self.content_type == HTML
    }

    fn etag(&self) -> &str {
        self.etag.get_or_init(|| {
            let mut hasher = DefaultHasher::new();
            hasher.write(self.body);
            format!("\"{:016x}-{:x}\"", hasher.finish(), self.body.len())
        })
    }
}

static ASSETS: [Asset; 24] = [
    Asset::new("/", HTML, include_bytes!("../../../web/index.html")),
    Asset::new(
        "/index.html",
        HTML,
        include_bytes!("../../../web/index.html"),
    ),
    Asset::new(
        "/console.css",
        CSS,
        include_bytes!("../../../web/console.css"),
    ),
    Asset::new("/console.js", JS, include_bytes!("../../../web/console.js")),
    Asset::new("/api.js", JS, include_bytes!("../../../web/api.js")),
    Asset::new("/ui.js", JS, include_bytes!("../../../web/ui.js")),
    Asset::new("/theme.js", JS, include_bytes!("../../../web/theme.js")),
    Asset::new(
        "/views/signin.js",
        JS,
        include_bytes!("../../../web/views/signin.js"),
    ),
    Asset::new(
        "/views/keys.js",
        JS,
        include_bytes!("../../../web/views/keys.js"),
    ),
    Asset::new(
        "/views/security.js",
        JS,
        include_bytes!("../../../web/views/security.js"),
    ),
    Asset::new(
        "/views/members.js",
        JS,
        include_bytes!("../../../web/views/members.js"),
    ),
    Asset::new(
        "/views/audit.js",
        JS,
        include_bytes!("../../../web/views/audit.js"),
    ),
    Asset::new(
        "/views/webhooks.js",
        JS,
        include_bytes!("../../../web/views/webhooks.js"),
    ),
    Asset::new(
        "/views/key-detail.js",
        JS,
        include_bytes!("../../../web/views/key-detail.js"),
    ),
    Asset::new(
        "/views/key-policy.js",
        JS,
        include_bytes!("../../../web/views/key-policy.js"),
    ),
    Asset::new(
        "/views/addresses.js",
        JS,
        include_bytes!("../../../web/views/addresses.js"),
    ),
    Asset::new(
        "/views/key-page.js",
        JS,
        include_bytes!("../../../web/views/key-page.js"),
    ),
    Asset::new(
        "/views/key-revoke.js",
        JS,
        include_bytes!("../../../web/views/key-revoke.js"),
    ),
    Asset::new(
        "/views/explain.js",
        JS,
        include_bytes!("../../../web/views/explain.js"),
    ),
    Asset::new(
        "/views/usage-chart.js",
        JS,
        include_bytes!("../../../web/views/usage-chart.js"),
    ),
    Asset::new(
        "/views/usage.js",
        JS,
        include_bytes!("../../../web/views/usage.js"),
    ),
    Asset::new(
        "/views/leaks.js",
        JS,
        include_bytes!("../../../web/views/leaks.js"),
    ),
    Asset::new(
        "/views/canaries.js",
        JS,
        include_bytes!("../../../web/views/canaries.js"),
    ),
    Asset::new(
        "/favicon.svg",
        SVG,
        include_bytes!("../../../web/favicon.svg"),
    ),
];

/// The console's routes: every embedded file at its path, `GET` (and so `HEAD`) only.
pub fn router<S: Clone + Send + Sync + 'static>() -> Router<S> {
    ASSETS.iter().fold(Router::new(), |router, asset| {
        router.route(
            asset.path,
            get(move |headers: HeaderMap| async move { serve(asset, &headers) }),
        )
    })
}

/// The hardening headers of every console answer.
pub fn security_headers() -> [(HeaderName, HeaderValue); 6] {
    [
        (
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CONTENT_SECURITY_POLICY),
        ),
        (
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ),
        (
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ),
        (header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")),
        (
            HeaderName::from_static("cross-origin-opener-policy"),
            HeaderValue::from_static("same-origin"),
        ),
        (
            HeaderName::from_static("permissions-policy"),
            HeaderValue::from_static("camera=(), microphone=(), geolocation=(), payment=()"),
        ),
    ]
}

fn serve(asset: &'static Asset, request: &HeaderMap) -> Response {
    let mut headers = HeaderMap::new();
    for (name, value) in security_headers() {
        headers.insert(name, value);
    }
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(asset.content_type),
    );
    if asset.is_document() {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        return (StatusCode::OK, headers, asset.body).into_response();
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    let etag = asset.etag();
    if let Ok(value) = HeaderValue::from_str(etag) {
        headers.insert(header::ETAG, value);
    }
    let fresh = request
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|tags| tags.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    if fresh {
        return (StatusCode::NOT_MODIFIED, headers).into_response();
    }
    (StatusCode::OK, headers, asset.body).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_asset_is_embedded_and_typed() {
        for asset in &ASSETS {
            assert!(!asset.body.is_empty(), "{} is empty", asset.path);
            assert!(asset.path.starts_with('/'));
        }
    }

    #[test]
    fn index_and_assets_carry_the_policy_and_cache_rules() {
        let index = serve(&ASSETS[0], &HeaderMap::new());
        assert_eq!(index.status(), StatusCode::OK);
        let h = index.headers();
        assert_eq!(h[header::CONTENT_SECURITY_POLICY], CONTENT_SECURITY_POLICY);
        assert_eq!(h[header::CACHE_CONTROL], "no-store");
        assert_eq!(h[header::X_FRAME_OPTIONS], "DENY");
        assert_eq!(h[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
        assert_eq!(h[header::REFERRER_POLICY], "no-referrer");

        let script = serve(&ASSETS[3], &HeaderMap::new());
        assert_eq!(script.headers()[header::CONTENT_TYPE], JS);
        let etag = script.headers()[header::ETAG].clone();
        let mut conditional = HeaderMap::new();
        conditional.insert(header::IF_NONE_MATCH, etag);
        let again = serve(&ASSETS[3], &conditional);
        assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
        assert_eq!(
            again.headers()[header::CONTENT_SECURITY_POLICY],
            CONTENT_SECURITY_POLICY
        );
    }

    #[test]
    fn the_document_has_no_inline_script_or_style() {
        let html = std::str::from_utf8(ASSETS[0].body).unwrap();
        assert!(
            !html.contains("<script>"),
            "inline script would be blocked by the CSP"
        );
        assert!(
            !html.contains("style="),
            "inline style would be blocked by the CSP"
        );
        assert!(
            !html.contains("<style"),
            "inline style would be blocked by the CSP"
        );
        for asset in ASSETS.iter().filter(|a| a.content_type == JS) {
            let js = std::str::from_utf8(asset.body).unwrap();
            assert!(
                !js.contains("innerHTML"),
                "{}: build DOM nodes, never HTML strings",
                asset.path
            );
            // Tokens never go to localStorage; only the colour theme a person picked is kept
            // there (theme.js), a display preference shared by the tabs.
            assert!(
                !js.contains("localStorage") || asset.path == "/theme.js",
                "{}: tokens never go to localStorage",
                asset.path
            );
        }
    }
}
