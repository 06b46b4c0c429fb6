//! `GET /v1/forward-auth/`: for a reverse proxy (nginx `auth_request`, Traefik ForwardAuth,
//! Envoy ext_authz over HTTP). Reads the client's `Authorization` header and the original
//! method and URI, decides the scope the request needs from the route table, and answers 200
//! with the key's account, id and mode in headers, or the 401/403/429 of SPEC §3.
//!
//! This is the hot path: no database, no allocation for the key itself.

use crate::config::{ConfigError, RouteRule};
use crate::error::ApiError;
use crate::extract::ClientMeta;
use crate::presented_key::{BasicBuffer, presented_key};
use crate::routes::verify::check_verifier_secret;
use crate::state::AppState;
use axum::extract::State;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use keywarden_core::scope::{Access, Catalog, Scope, ScopeSet};
use std::borrow::Cow;

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

fn original<'a>(headers: &'a HeaderMap, names: [&str; 2]) -> Option<&'a str> {
    names
        .iter()
        .find_map(|n| headers.get(*n))
        .and_then(|v| v.to_str().ok())
}

/// `GET /v1/forward-auth/`
pub async fn forward_auth(State(state): State<AppState>, parts: Parts) -> Response {
    match check(&state, &parts) {
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
    let method = original(headers, ["x-original-method", "x-forwarded-method"])
        .and_then(|m| Method::from_bytes(m.as_bytes()).ok())
        .unwrap_or_else(|| parts.method.clone());
    let uri = original(headers, ["x-original-uri", "x-forwarded-uri"]).unwrap_or("/");
    let access = if matches!(method, Method::GET | Method::HEAD | Method::OPTIONS) {
        Access::Read
    } else {
        Access::Write
    };
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
            let mut buf = uuid::Uuid::encode_buffer();
            for (name, value) in [
                (
                    "x-keywarden-account",
                    account.0.hyphenated().encode_lower(&mut buf) as &str,
                ),
                (
                    "x-keywarden-key-id",
                    key_id.0.hyphenated().encode_lower(&mut [0u8; 45]),
                ),
                ("x-keywarden-mode", mode.as_str()),
            ] {
                if let Ok(value) = HeaderValue::from_str(value) {
                    out.insert(HeaderName::from_static(name), value);
                }
            }
            Ok(response)
        }
        Err(error) => Err(limit_failure(state, parts, error)),
    }
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
    let client = ClientMeta::from_parts(parts, state);
    let now = state.service.clock().unix_millis();
    match state.limiters.keys_per_client.fail(&client.ip, now) {
        Some(retry_after) => ApiError::RateLimited { retry_after },
        None => error,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
