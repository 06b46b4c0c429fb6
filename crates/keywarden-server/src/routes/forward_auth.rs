//! `GET /v1/forward-auth/`: for a reverse proxy (nginx `auth_request`, Traefik ForwardAuth,
//! Envoy ext_authz over HTTP). Reads the client's `Authorization` header and the original
//! method and URI, decides the scope the request needs from the route table, and answers 200
//! with the key's account, id and mode in headers, or the 401/403/429 of SPEC §3.
//!
//! This is the hot path: no database, no allocation for the key itself.

use crate::client_addr::client_ip;
use crate::config::{ConfigError, RouteRule};
use crate::error::ApiError;
use crate::presented_key::{BasicBuffer, presented_key};
use crate::routes::verify::check_verifier_secret;
use crate::state::AppState;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::{Bytes, BytesMut};
use keywarden_core::scope::{Access, Catalog, Scope, ScopeSet};
use std::borrow::Cow;
use std::cell::RefCell;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use uuid::Uuid;

/// Maps request paths to products.
#[derive(Debug)]
pub struct RouteTable {
    /// Configured prefixes, longest first.
    rules: Vec<(String, u8)>,
}

/// What a request path needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    /// A product's scope.
    Product(u8),
    /// A path of no product: only a key with access to every product.
    Everything,
}

impl RouteTable {
    /// The configured table (empty: the default `/v1/<product>/…` mapping).
    pub fn new(rules: &[RouteRule], catalog: &Catalog) -> Result<Self, ConfigError> {
        let mut resolved = rules
            .iter()
            .map(|r| {
                catalog
                    .product_index(&r.product)
                    .map(|p| (r.prefix.clone(), p))
                    .ok_or_else(|| {
                        ConfigError(format!("route names unknown product '{}'", r.product))
                    })
            })
            .collect::<Result<Vec<_>, _>>()?;
        resolved.sort_by_key(|(prefix, _)| std::cmp::Reverse(prefix.len()));
        Ok(Self { rules: resolved })
    }

    /// The product a path belongs to. Paths that could be read differently by the upstream
    /// (dot segments, encoded slashes, backslashes) belong to no product, so they need a key
    /// with access to everything: a restricted key can never reach past its scopes by spelling.
    pub fn target(&self, uri: &str, catalog: &Catalog) -> Target {
        let path = uri.split(['?', '#']).next().unwrap_or("");
        let Some(path) = normalized(path) else {
            return Target::Everything;
        };
        if !self.rules.is_empty() {
            return self
                .rules
                .iter()
                .find(|(prefix, _)| path.starts_with(prefix.as_str()))
                .map_or(Target::Everything, |(_, p)| Target::Product(*p));
        }
        let product = path
            .strip_prefix("/v1/")
            .and_then(|rest| rest.split('/').next());
        product
            .and_then(|id| catalog.product_index(id))
            .map_or(Target::Everything, Target::Product)
    }
}

/// The decoded path, or `None` if it is ambiguous.
fn normalized(path: &str) -> Option<Cow<'_, str>> {
    let decoded = if path.contains('%') {
        let lower = path.to_ascii_lowercase();
        if lower.contains("%2f") || lower.contains("%5c") || lower.contains("%25") {
            return None;
        }
        Cow::Owned(percent_decode(path)?)
    } else {
        Cow::Borrowed(path)
    };
    let ambiguous = !decoded.starts_with('/')
        || decoded.contains('\\')
        || decoded.contains("//")
        || decoded.split('/').any(|seg| seg == "." || seg == "..");
    (!ambiguous).then_some(decoded)
}

fn percent_decode(path: &str) -> Option<String> {
    let bytes = path.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

fn original<'a>(headers: &'a HeaderMap, names: [&HeaderName; 2]) -> Option<&'a str> {
    names
        .iter()
        .find_map(|n| headers.get(*n))
        .and_then(|v| v.to_str().ok())
}

// Looked up as `HeaderName`s: a `&str` name is parsed and checked on every lookup.
const X_ORIGINAL_METHOD: HeaderName = HeaderName::from_static("x-original-method");
const X_FORWARDED_METHOD: HeaderName = HeaderName::from_static("x-forwarded-method");
const X_ORIGINAL_URI: HeaderName = HeaderName::from_static("x-original-uri");
const X_FORWARDED_URI: HeaderName = HeaderName::from_static("x-forwarded-uri");

/// `GET /v1/forward-auth/`
#[utoipa::path(
    get,
    path = "/v1/forward-auth/",
    operation_id = "forward_auth",
    tag = "Key checks",
    summary = "Forward-auth for a reverse proxy",
    description = "For nginx `auth_request`, Traefik ForwardAuth or Envoy ext_authz over HTTP. \
                   Reads the client's `Authorization` header (one key, in any of the three forms) \
                   and the original method and URI, finds the scope the request needs (GET and \
                   HEAD need read, other methods write; `/v1/<product>/…` maps to that product \
                   unless a route table is configured; any other path needs a key with access \
                   to every product), and answers 200 with the key's account, id and mode in \
                   headers, or the error of the key checks. Failed presentations count against \
                   the client's address.",
    security(("api_key" = []), ("key_basic" = []), ("key_bearer" = [])),
    params(
        ("X-Original-Method" = Option<String>, Header, description = "The client's method (nginx); \
         `X-Forwarded-Method` (Traefik) also works. Default: this request's method."),
        ("X-Original-URI" = Option<String>, Header, description = "The client's path and query \
         (nginx); `X-Forwarded-Uri` (Traefik) also works. Default: `/`."),
        ("X-Forwarded-For" = Option<String>, Header, description = "The client's address, \
         believed only from a configured trusted proxy (loopback by default)."),
        ("X-Keywarden-Verifier-Secret" = Option<String>, Header, description = "The verifier \
         secret, when the operator configured one."),
    ),
    responses(
        (status = 200, description = "The key may make this request. No body.",
            headers(
                ("X-Keywarden-Account" = String, description = "The key's account id."),
                ("X-Keywarden-Key-Id" = String, description = "The key's id."),
                ("X-Keywarden-Mode" = String, description = "`test` or `live`."),
            )
        ),
        (status = 401, response = crate::openapi::KeyUnauthorized),
        (status = 403, response = crate::openapi::KeyForbidden),
        (status = 429, response = crate::openapi::RateLimited),
        (status = 503, response = crate::openapi::Unavailable),
    ),
)]
pub async fn forward_auth(State(state): State<AppState>, request: Request) -> Response {
    answer(&state, request)
}

/// The answer to a forward-auth request. Synchronous (nothing on this path waits), so
/// [`crate::direct_route`] can answer it before routing, with the state borrowed.
pub fn answer(state: &AppState, request: Request) -> Response {
    // The whole request, taken apart: the `Parts` extractor would clone the header map, the
    // URI and the extensions (about twenty allocations per request).
    let (parts, _body) = request.into_parts();
    match check(state, &parts) {
        Ok(response) => {
            state.metrics.key_check("valid");
            response
        }
        Err(error) => {
            if let Some(outcome) = error.key_outcome() {
                state.metrics.key_check(outcome);
            }
            error.into_response()
        }
    }
}

fn check(state: &AppState, parts: &Parts) -> Result<Response, ApiError> {
    let headers = &parts.headers;
    check_verifier_secret(state, headers)?;
    let access = original(headers, [&X_ORIGINAL_METHOD, &X_FORWARDED_METHOD])
        .and_then(|m| method_access(m.as_bytes()))
        .unwrap_or_else(|| access_of(&parts.method));
    let uri = original(headers, [&X_ORIGINAL_URI, &X_FORWARDED_URI]).unwrap_or("/");
    let catalog = state.cache.catalog();
    let target = state.routes.target(uri, catalog);
    let required = match target {
        Target::Product(product) => ScopeSet::only(Scope { product, access }),
        Target::Everything => catalog.every(access),
    };

    let mut buffer: BasicBuffer = [0; 192];
    let verdict = presented_key(headers, &mut buffer).and_then(|key| {
        state
            .cache
            .verify(key, required, |entry| {
                (entry.account_id, entry.key_id, entry.mode)
            })
            .map_err(|failure| {
                failure.into_api_error(|| match target {
                    Target::Product(product) => catalog.scope_name(Scope { product, access }),
                    Target::Everything => format!("*:{}", access.as_str()),
                })
            })
    });
    match verdict {
        Ok((account, key_id, mode)) => {
            let mut response = StatusCode::OK.into_response();
            let out = response.headers_mut();
            if let Some((account, key_id)) = id_header_values(&account.0, &key_id.0) {
                out.insert(ACCOUNT_HEADER, account);
                out.insert(KEY_ID_HEADER, key_id);
            }
            out.insert(MODE_HEADER, HeaderValue::from_static(mode.as_str()));
            Ok(response)
        }
        Err(error) => Err(limit_failure(state, parts, error)),
    }
}

const ACCOUNT_HEADER: HeaderName = HeaderName::from_static("x-keywarden-account");
const KEY_ID_HEADER: HeaderName = HeaderName::from_static("x-keywarden-key-id");
const MODE_HEADER: HeaderName = HeaderName::from_static("x-keywarden-mode");

/// Read for GET, HEAD and OPTIONS; write for every other method.
fn access_of(method: &Method) -> Access {
    if matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS) {
        Access::Read
    } else {
        Access::Write
    }
}

/// The access an original method needs, or `None` if it is not a method (an empty or
/// non-token value: then this request's own method decides, as `Method::from_bytes` failing
/// did). Case-sensitive like HTTP methods: `get` is an unknown method, so it needs write. No
/// `Method` is built, so a long extension method costs no allocation.
fn method_access(method: &[u8]) -> Option<Access> {
    match method {
        b"GET" | b"HEAD" | b"OPTIONS" => Some(Access::Read),
        [] => None,
        other if other.iter().all(|&b| is_token_char(b)) => Some(Access::Write),
        _ => None,
    }
}

/// RFC 9110 `tchar`: what a method may be made of.
fn is_token_char(b: u8) -> bool {
    b.is_ascii_alphanumeric()
        || matches!(
            b,
            b'!' | b'#'
                | b'$'
                | b'%'
                | b'&'
                | b'\''
                | b'*'
                | b'+'
                | b'-'
                | b'.'
                | b'^'
                | b'_'
                | b'`'
                | b'|'
                | b'~'
        )
}

/// Length of a hyphenated UUID.
const UUID_LEN: usize = 36;
/// Size of each thread's buffer for the id headers: one allocation per ~900 answers.
const HEADER_CHUNK: usize = 64 * 1024;

thread_local! {
    /// Where the `X-Keywarden-Account` and `-Key-Id` values are written. Each answer takes
    /// its 72 bytes off the front of this buffer (shared, reference-counted storage), so a
    /// header value costs no allocation of its own; a fresh buffer is allocated when one is
    /// used up, and the old one is freed when its last answer has been sent.
    static HEADER_BUFFER: RefCell<BytesMut> = RefCell::new(BytesMut::new());
}

/// The two id header values, formatted straight into the thread's header buffer.
fn id_header_values(account: &Uuid, key_id: &Uuid) -> Option<(HeaderValue, HeaderValue)> {
    let mut text = [0u8; 2 * UUID_LEN];
    let (account_text, key_text) = text.split_at_mut(UUID_LEN);
    account.hyphenated().encode_lower(account_text);
    key_id.hyphenated().encode_lower(key_text);
    let (account, key_id) = HEADER_BUFFER
        .try_with(|cell| {
            let mut buffer = cell.try_borrow_mut().ok()?;
            if buffer.capacity() < text.len() {
                *buffer = BytesMut::with_capacity(HEADER_CHUNK);
            }
            buffer.extend_from_slice(&text);
            // Each split takes one reference on the shared buffer; nothing is copied.
            let account = buffer.split_to(UUID_LEN).freeze();
            let key_id = buffer.split_to(UUID_LEN).freeze();
            Some((account, key_id))
        })
        .ok()
        .flatten()
        // No buffer (a thread being torn down): copy, as `HeaderValue::from_str` would.
        .unwrap_or_else(|| {
            let (account, key_id) = text.split_at(UUID_LEN);
            (
                Bytes::copy_from_slice(account),
                Bytes::copy_from_slice(key_id),
            )
        });
    let account = HeaderValue::from_maybe_shared(account).ok()?;
    let key_id = HeaderValue::from_maybe_shared(key_id).ok()?;
    Some((account, key_id))
}

/// Counts a failed presentation against the client; past the limit the answer is 429.
fn limit_failure(state: &AppState, parts: &Parts, error: ApiError) -> ApiError {
    let counted = matches!(
        error,
        ApiError::KeyFormat(_) | ApiError::KeyNotFound | ApiError::KeyRefused(_)
    );
    if !counted {
        return error;
    }
    // Only the address is needed (not `ClientMeta`, whose user agent is a copied string).
    let peer = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |c| c.0.ip());
    let ip = client_ip(peer, &parts.headers, &state.config.trusted_proxies);
    let now = state.service.clock().unix_millis();
    match state.limiters.keys_per_client.fail(&ip, now) {
        Some(retry_after) => ApiError::RateLimited { retry_after },
        None => error,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn original_methods_map_to_access_like_method_from_bytes() {
        for (text, expected) in [
            ("GET", Some(Access::Read)),
            ("HEAD", Some(Access::Read)),
            ("OPTIONS", Some(Access::Read)),
            ("POST", Some(Access::Write)),
            ("DELETE", Some(Access::Write)),
            ("get", Some(Access::Write)),
            ("A-VERY-LONG-EXTENSION-METHOD-NAME", Some(Access::Write)),
            ("", None),
            ("GE T", None),
            ("G\u{e9}T", None),
        ] {
            assert_eq!(method_access(text.as_bytes()), expected, "{text:?}");
            let reference = Method::from_bytes(text.as_bytes())
                .ok()
                .map(|m| access_of(&m));
            assert_eq!(method_access(text.as_bytes()), reference, "{text:?}");
        }
        for b in 0..=255u8 {
            let one = [b];
            let reference = Method::from_bytes(&one).ok().map(|m| access_of(&m));
            assert_eq!(method_access(&one), reference, "byte {b}");
        }
    }

    #[test]
    fn id_headers_are_the_hyphenated_ids_and_survive_many_buffers() {
        let a = Uuid::from_u128(0x0193_6f6e_8a4b_7c1d_9e2f_3a4b_5c6d_7e8f);
        let k = Uuid::from_u128(0x0193_6f6e_1111_7c1d_9e2f_3a4b_5c6d_7e8f);
        let mut kept = Vec::new();
        for _ in 0..5_000 {
            let (account, key_id) = id_header_values(&a, &k).unwrap();
            assert_eq!(account, a.hyphenated().to_string().as_str());
            assert_eq!(key_id, k.hyphenated().to_string().as_str());
            kept.push((account, key_id));
        }
        // Values taken from earlier buffers are still intact after the buffer moved on.
        assert!(
            kept.iter()
                .all(|(a2, _)| a2 == a.hyphenated().to_string().as_str())
        );
    }

    #[test]
    fn default_table_maps_v1_product_paths() {
        let catalog = Catalog::default();
        let table = RouteTable::new(&[], &catalog).unwrap();
        let payroll = catalog.product_index("payroll").unwrap();
        assert_eq!(
            table.target("/v1/payroll/employees?x=1", &catalog),
            Target::Product(payroll)
        );
        assert_eq!(
            table.target("/v1/payroll", &catalog),
            Target::Product(payroll)
        );
        assert_eq!(table.target("/v1/customers/", &catalog), Target::Everything);
        assert_eq!(table.target("/v1/payrollx/", &catalog), Target::Everything);
    }

    #[test]
    fn ambiguous_paths_need_everything() {
        let catalog = Catalog::default();
        let table = RouteTable::new(&[], &catalog).unwrap();
        for path in [
            "/v1/payroll/../health/x",
            "/v1/payroll/%2e%2e/health",
            "/v1/payroll%2Fx",
            "/v1/payroll/.\\x",
            "//v1/payroll/x",
            "v1/payroll/x",
            "/v1/payroll/%zz",
        ] {
            assert_eq!(table.target(path, &catalog), Target::Everything, "{path}");
        }
        let payroll = catalog.product_index("payroll").unwrap();
        assert_eq!(
            table.target("/v1/payroll/John%20Doe", &catalog),
            Target::Product(payroll)
        );
    }

    #[test]
    fn configured_prefixes_win_longest_first() {
        let catalog = Catalog::default();
        let rules = vec![
            RouteRule {
                prefix: "/hr/".into(),
                product: "talent".into(),
            },
            RouteRule {
                prefix: "/hr/pay/".into(),
                product: "payroll".into(),
            },
        ];
        let table = RouteTable::new(&rules, &catalog).unwrap();
        let talent = catalog.product_index("talent").unwrap();
        let payroll = catalog.product_index("payroll").unwrap();
        assert_eq!(
            table.target("/hr/people", &catalog),
            Target::Product(talent)
        );
        assert_eq!(
            table.target("/hr/pay/run", &catalog),
            Target::Product(payroll)
        );
        assert_eq!(table.target("/v1/payroll/x", &catalog), Target::Everything);
    }
}
