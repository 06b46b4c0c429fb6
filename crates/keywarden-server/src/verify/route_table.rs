//! What a forwarded request needs: the route table maps the original path to a product (SPEC
//! §4: configured prefixes, or `/v1/<product>/…` by default; any other path needs every
//! product), and the original method decides read or write.

use crate::config::{ConfigError, RouteRule};
use axum::http::Method;
use keywarden_core::scope::{Access, Catalog, Scope};
use keywarden_core::verdict::Needs;
use std::borrow::Cow;

/// Maps request paths to products.
#[derive(Debug)]
pub struct RouteTable {
    /// Configured prefixes, longest first.
    rules: Vec<(String, u8)>,
}

/// What a request path belongs to.
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

/// Read for GET, HEAD and OPTIONS; write for every other method.
pub fn access_of(method: &Method) -> Access {
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
pub fn method_access(method: &[u8]) -> Option<Access> {
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

impl RouteTable {
    /// What a request with this original method's `access` to `uri` needs.
    pub fn needs(&self, access: Access, uri: &str, catalog: &Catalog) -> Needs {
        match self.target(uri, catalog) {
            Target::Product(product) => Needs::Scope(Scope { product, access }),
            Target::Everything => Needs::Every(access),
        }
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
