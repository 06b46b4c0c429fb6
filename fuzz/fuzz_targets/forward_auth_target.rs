//! What a forwarded request needs: the original method and URI, through the default route
//! table and a configured one. Never a panic; a path that could be read two ways (dot
//! segments, encoded slashes) never maps to a single product.
#![no_main]

use keywarden_core::scope::{Access, Catalog};
use keywarden_core::verdict::Needs;
use keywarden_server::config::RouteRule;
use keywarden_server::verify::route_table::{RouteTable, method_access};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (method, uri) = data.split_at(
        data.len()
            .min(data.first().map_or(0, |b| usize::from(*b % 16))),
    );
    let access = method_access(method).unwrap_or(Access::Write);
    let Ok(uri) = std::str::from_utf8(uri) else {
        return;
    };
    let catalog = Catalog::default();
    let rules = [RouteRule {
        prefix: "/hr/pay/".into(),
        product: "payroll".into(),
    }];
    for table in [
        RouteTable::new(&[], &catalog),
        RouteTable::new(&rules, &catalog),
    ] {
        let Ok(table) = table else {
            return;
        };
        let needs = table.needs(access, uri, &catalog);
        let path = uri.split(['?', '#']).next().unwrap_or("");
        if path.contains("/../")
            || path.ends_with("/..")
            || path.to_ascii_lowercase().contains("%2f")
        {
            assert!(matches!(needs, Needs::Every(_)), "{uri:?} → {needs:?}");
        }
    }
});
