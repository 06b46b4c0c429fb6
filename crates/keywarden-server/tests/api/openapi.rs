//! `GET /openapi.json` and the API reference page (SPEC §4, Operations): the document is valid
//! OpenAPI 3, names every route of the router with its methods, documents the key checks'
//! errors with the common error body, matches the snapshot `docs/openapi.json`, and the page
//! at `/docs` loads every file it needs from this server and nothing from anywhere else.

use crate::support::{Reply, send, send_raw};
use keywarden_testkit::TestServer;
use reqwest::Method;
use serde_json::Value;
use std::collections::BTreeSet;

/// Every operation SPEC §4, §7 and §10 name, spelt as the document spells it (`/v1/…` paths with their
/// trailing slash). The router and the document come from one registration
/// (`routes::operations`), so this list is the contract both are held to.
const SPEC_OPERATIONS: &[(&str, &str)] = &[
    ("GET", "/healthz"),
    ("GET", "/readyz"),
    ("GET", "/metrics"),
    ("POST", "/v1/auth/token/"),
    ("POST", "/v1/auth/token/refresh/"),
    ("GET", "/v1/auth/me/"),
    ("GET", "/v1/auth/api-keys/"),
    ("PATCH", "/v1/auth/api-keys/"),
    ("POST", "/v1/auth/2fa/setup/"),
    ("POST", "/v1/auth/2fa/confirm/"),
    ("POST", "/v1/auth/2fa/disable/"),
    ("POST", "/v1/auth/2fa/recovery-codes/"),
    ("GET", "/v1/api-keys/"),
    ("POST", "/v1/api-keys/"),
    ("GET", "/v1/api-keys/{id}/"),
    ("PATCH", "/v1/api-keys/{id}/"),
    ("DELETE", "/v1/api-keys/{id}/"),
    ("POST", "/v1/api-keys/{id}/rotate/"),
    ("GET", "/v1/users/"),
    ("POST", "/v1/users/"),
    ("PATCH", "/v1/users/{id}/"),
    ("DELETE", "/v1/users/{id}/"),
    ("GET", "/v1/account/"),
    ("PATCH", "/v1/account/"),
    // SPEC §9: the keys that break the account key policy (decision 0010).
    ("GET", "/v1/account/policy-violations/"),
    ("GET", "/v1/products/"),
    ("GET", "/v1/audit-events/"),
    ("GET", "/v1/webhook-endpoints/"),
    ("POST", "/v1/webhook-endpoints/"),
    ("GET", "/v1/webhook-endpoints/{id}/"),
    ("PATCH", "/v1/webhook-endpoints/{id}/"),
    ("DELETE", "/v1/webhook-endpoints/{id}/"),
    ("POST", "/v1/webhook-endpoints/{id}/rotate-secret/"),
    ("POST", "/v1/webhook-endpoints/{id}/test/"),
    ("GET", "/v1/webhook-endpoints/{id}/deliveries/"),
    ("POST", "/v1/webhook-deliveries/{id}/retry/"),
    // SPEC §8: leak reports.
    ("POST", "/v1/leaks/github/"),
    ("POST", "/v1/leaks/"),
    ("POST", "/v1/verify/"),
    ("GET", "/v1/forward-auth/"),
    // SPEC §10: usage and explanation.
    ("GET", "/v1/api-keys/{id}/usage/"),
    ("GET", "/v1/usage/"),
    ("GET", "/v1/api-keys/{id}/impact/"),
    ("POST", "/v1/explain/"),
    ("GET", "/v1/api-keys/{id}/suggested-scopes/"),
    ("GET", "/openapi.json"),
];

/// Paths documented without a trailing slash, as SPEC §4 names them (the operations
/// endpoints); every other path is documented with it.
const UNSLASHED: &[&str] = &["/healthz", "/readyz", "/metrics", "/openapi.json"];

/// The snapshot of the document, committed for readers and reviews.
const SNAPSHOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/openapi.json");

const HTTP_METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

async fn document(server: &TestServer) -> Value {
    let reply = send(server.http.get(server.url("/openapi.json"))).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    reply.assert_json();
    reply.body
}

/// `(METHOD, path)` of every operation in the document.
fn operations(doc: &Value) -> BTreeSet<(String, String)> {
    let paths = doc["paths"].as_object().expect("paths");
    paths
        .iter()
        .flat_map(|(path, item)| {
            HTTP_METHODS
                .iter()
                .filter(|m| item.get(**m).is_some())
                .map(|m| (m.to_uppercase(), path.clone()))
        })
        .collect()
}

/// The other spelling of a documented path (SPEC §4: both work).
fn other_spelling(path: &str) -> String {
    match path.strip_suffix('/') {
        Some(bare) => bare.to_owned(),
        None => format!("{path}/"),
    }
}

/// Every `$ref` in `value`, with where it was found.
fn refs<'a>(value: &'a Value, at: String, out: &mut Vec<(String, &'a str)>) {
    match value {
        Value::Object(map) => {
            for (key, item) in map {
                if key == "$ref" {
                    if let Some(target) = item.as_str() {
                        out.push((at.clone(), target));
                    }
                } else {
                    refs(item, format!("{at}/{key}"), out);
                }
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                refs(item, format!("{at}/{i}"), out);
            }
        }
        _ => {}
    }
}

/// A response object, following a `$ref` to `#/components/responses/…`.
fn resolve<'a>(doc: &'a Value, response: &'a Value) -> &'a Value {
    match response["$ref"].as_str() {
        Some(target) => doc
            .pointer(target.trim_start_matches('#'))
            .unwrap_or_else(|| panic!("{target} does not resolve")),
        None => response,
    }
}

#[tokio::test]
async fn the_document_is_valid_openapi_3_and_every_ref_resolves() {
    let server = TestServer::start().await;
    let doc = document(&server).await;

    let version = doc["openapi"].as_str().expect("an `openapi` version");
    assert!(version.starts_with("3."), "openapi is {version}");
    assert_eq!(doc["info"]["title"], "Keywarden");
    assert_eq!(doc["info"]["version"], env!("CARGO_PKG_VERSION"));
    assert!(
        doc["info"]["description"]
            .as_str()
            .is_some_and(|d| !d.is_empty())
    );

    let mut found = Vec::new();
    refs(&doc, String::new(), &mut found);
    assert!(!found.is_empty(), "a document without a single $ref");
    for (at, target) in found {
        assert!(
            target.starts_with("#/components/"),
            "{at}: {target} is not a local component"
        );
        assert!(
            doc.pointer(&target[1..]).is_some(),
            "{at}: {target} does not resolve"
        );
    }

    let tags: BTreeSet<&str> = doc["tags"]
        .as_array()
        .expect("tags")
        .iter()
        .filter_map(|t| t["name"].as_str())
        .collect();
    let schemes = doc["components"]["securitySchemes"]
        .as_object()
        .expect("security schemes");
    let mut operation_ids = BTreeSet::new();
    for (method, path) in operations(&doc) {
        let operation = &doc["paths"][&path][method.to_lowercase()];
        let name = format!("{method} {path}");
        let id = operation["operationId"].as_str().expect("an operationId");
        assert!(
            operation_ids.insert(id.to_owned()),
            "{name}: duplicate operationId {id}"
        );
        assert!(
            operation["summary"].as_str().is_some_and(|s| !s.is_empty()),
            "{name}: no summary"
        );
        let op_tags = operation["tags"].as_array().expect("tags");
        assert!(!op_tags.is_empty(), "{name}: no tag");
        for tag in op_tags {
            assert!(
                tags.contains(tag.as_str().unwrap_or("")),
                "{name}: tag {tag} is not declared"
            );
        }
        for requirement in operation["security"].as_array().into_iter().flatten() {
            for scheme in requirement.as_object().expect("requirement").keys() {
                assert!(schemes.contains_key(scheme), "{name}: no scheme {scheme}");
            }
        }
        let responses = operation["responses"].as_object().expect("responses");
        assert!(!responses.is_empty(), "{name}: no responses");
        for (status, response) in responses {
            let response = resolve(&doc, response);
            assert!(
                response["description"]
                    .as_str()
                    .is_some_and(|d| !d.is_empty()),
                "{name} {status}: no description"
            );
        }
        // A path parameter in the template is declared, and a declared one is in the template.
        let declared: BTreeSet<&str> = operation["parameters"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|p| p["in"] == "path")
            .filter_map(|p| p["name"].as_str())
            .collect();
        let in_template: BTreeSet<&str> = path
            .split('/')
            .filter_map(|s| s.strip_prefix('{')?.strip_suffix('}'))
            .collect();
        assert_eq!(declared, in_template, "{name}: path parameters");
    }
}

#[tokio::test]
async fn the_document_names_every_operation_of_the_spec_and_no_other() {
    let server = TestServer::start().await;
    let doc = document(&server).await;
    let documented = operations(&doc);
    let expected: BTreeSet<(String, String)> = SPEC_OPERATIONS
        .iter()
        .map(|(m, p)| ((*m).to_owned(), (*p).to_owned()))
        .collect();
    assert_eq!(
        documented, expected,
        "the document and SPEC §4's list of operations differ"
    );
    for (_, path) in &documented {
        assert_eq!(
            path.ends_with('/'),
            !UNSLASHED.contains(&path.as_str()),
            "{path}: API paths end in /, the operations endpoints do not"
        );
    }
}

/// A documented operation is routed in both spellings of its path, and every method the
/// document does not name on that path is 405: the router serves nothing undocumented there.
#[tokio::test]
async fn every_documented_operation_is_routed_and_nothing_else_on_its_path() {
    let server = TestServer::start().await;
    let doc = document(&server).await;
    let documented = operations(&doc);
    for (method, path) in &documented {
        let concrete = path.replace("{id}", "0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b");
        let method = Method::from_bytes(method.as_bytes()).expect("method");
        for spelt in [concrete.clone(), other_spelling(&concrete)] {
            let (status, _, text) =
                send_raw(server.http.request(method.clone(), server.url(&spelt))).await;
            assert_ne!(status, 405, "{method} {spelt}: {text}");
            assert!(
                !(status == 404 && text.contains("No endpoint at this path")),
                "{method} {spelt} is documented but not routed: {text}"
            );
        }
        for other in ["GET", "POST", "PUT", "PATCH", "DELETE"] {
            if documented.contains(&(other.to_owned(), path.clone())) {
                continue;
            }
            let other = Method::from_bytes(other.as_bytes()).expect("method");
            let (status, _, text) =
                send_raw(server.http.request(other.clone(), server.url(&concrete))).await;
            assert_eq!(status, 405, "{other} {path} is not documented: {text}");
        }
    }
}

#[tokio::test]
async fn every_error_response_has_a_json_body_and_the_key_checks_use_the_error_body() {
    let server = TestServer::start().await;
    let doc = document(&server).await;
    for (method, path) in operations(&doc) {
        let operation = &doc["paths"][&path][method.to_lowercase()];
        for (status, response) in operation["responses"].as_object().expect("responses") {
            if !status.starts_with('4') && !status.starts_with('5') {
                continue;
            }
            let response = resolve(&doc, response);
            let schema = &response["content"]["application/json"]["schema"];
            assert!(
                schema["$ref"].is_string(),
                "{method} {path} {status}: no JSON body schema: {response}"
            );
            let key_check = path == "/v1/forward-auth/" || path == "/v1/verify/";
            if key_check {
                assert_eq!(
                    schema["$ref"], "#/components/schemas/ErrorBody",
                    "{method} {path} {status}"
                );
            }
            let header = |name: &str| response["headers"][name].is_object();
            if status == "429" || status == "503" {
                assert!(
                    header("Retry-After"),
                    "{method} {path} {status}: no Retry-After"
                );
            }
            if status == "401" {
                assert!(
                    header("WWW-Authenticate"),
                    "{method} {path} 401: no WWW-Authenticate"
                );
            }
        }
    }
    let forward_auth = &doc["paths"]["/v1/forward-auth/"]["get"];
    let statuses: BTreeSet<&str> = forward_auth["responses"]
        .as_object()
        .expect("responses")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        statuses,
        BTreeSet::from(["200", "401", "403", "429", "503"])
    );
    let schemes: BTreeSet<&str> = forward_auth["security"]
        .as_array()
        .expect("security")
        .iter()
        .flat_map(|r| r.as_object().expect("requirement").keys())
        .map(String::as_str)
        .collect();
    assert_eq!(
        schemes,
        BTreeSet::from(["api_key", "key_basic", "key_bearer"]),
        "the three Authorization forms of SPEC §3"
    );
    let unauthorized = resolve(&doc, &forward_auth["responses"]["401"]);
    let examples = unauthorized["content"]["application/json"]["examples"]
        .as_object()
        .expect("401 examples");
    let codes: BTreeSet<&str> = examples
        .values()
        .filter_map(|e| e["value"]["code"].as_str())
        .collect();
    for code in [
        "invalid_key_format",
        "key_not_found",
        "key_revoked",
        "key_rotated",
        "key_expired",
    ] {
        assert!(codes.contains(code), "no 401 example with code {code}");
    }
    let error_body = &doc["components"]["schemas"]["ErrorBody"]["properties"];
    for field in [
        "detail",
        "code",
        "hint",
        "stopped_at",
        "required_scope",
        "field",
    ] {
        assert!(error_body[field].is_object(), "ErrorBody has no {field}");
    }
}

#[tokio::test]
async fn the_snapshot_in_docs_is_current() {
    let server = TestServer::start().await;
    let reply = send(server.http.get(server.url("/openapi.json"))).await;
    assert_eq!(reply.status, 200);
    if std::env::var_os("KEYWARDEN_TEST_UPDATE_OPENAPI").is_some_and(|v| v == "1") {
        std::fs::write(SNAPSHOT, format!("{}\n", reply.text.trim_end()))
            .expect("write docs/openapi.json");
        return;
    }
    let snapshot = std::fs::read_to_string(SNAPSHOT).unwrap_or_default();
    let first_difference = snapshot
        .lines()
        .zip(reply.text.lines())
        .position(|(a, b)| a != b)
        .map_or_else(
            || "the lengths differ".to_owned(),
            |i| format!("line {} differs", i + 1),
        );
    assert!(
        snapshot.trim_end() == reply.text.trim_end(),
        "docs/openapi.json is not the document the server serves ({first_difference}). \
         Update it with `KEYWARDEN_TEST_UPDATE_OPENAPI=1 cargo test -p keywarden-server --test api \
         openapi`, then review the difference"
    );
}

/// `src="…"` and `href="…"` values of an HTML document.
fn linked_urls(html: &str) -> Vec<&str> {
    ["src=\"", "href=\""]
        .iter()
        .flat_map(|attr| {
            html.match_indices(attr).filter_map(move |(i, _)| {
                let rest = &html[i + attr.len()..];
                rest.split('"').next()
            })
        })
        .collect()
}

/// Every `http://` or `https://` URL in `text` that does not point at this machine.
fn external_urls(text: &str) -> Vec<&str> {
    ["http://", "https://"]
        .iter()
        .flat_map(|scheme| {
            text.match_indices(scheme).map(|(i, _)| {
                let rest = &text[i..];
                let end = rest
                    .find(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | '<' | '>' | ')'))
                    .unwrap_or(rest.len());
                &rest[..end]
            })
        })
        .filter(|url| {
            let host = url.split("://").nth(1).unwrap_or("");
            !(host.starts_with("localhost") || host.starts_with("127.0.0.1"))
        })
        .collect()
}

async fn get(server: &TestServer, path: &str) -> (u16, reqwest::header::HeaderMap, String) {
    send_raw(server.http.get(server.url(path))).await
}

#[tokio::test]
async fn the_reference_page_is_served_whole_from_this_server() {
    let server = TestServer::start().await;
    let (status, headers, html) = get(&server, "/docs").await;
    assert_eq!(status, 200, "{html}");
    let header = |headers: &reqwest::header::HeaderMap, name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned()
    };
    assert!(header(&headers, "content-type").starts_with("text/html"));
    assert_eq!(header(&headers, "x-content-type-options"), "nosniff");
    let policy = header(&headers, "content-security-policy");
    assert!(policy.contains("script-src 'self'"), "{policy}");
    assert!(!policy.contains("unsafe-inline"), "{policy}");
    assert!(!policy.contains("unsafe-eval"), "{policy}");
    assert!(html.contains("Keywarden API reference"), "{html}");
    assert!(
        !html.contains("<script>"),
        "an inline script would need 'unsafe-inline'"
    );
    assert_eq!(external_urls(&html), Vec::<&str>::new(), "{html}");

    let (status, _, slashed) = get(&server, "/docs/").await;
    assert_eq!(status, 200);
    assert_eq!(slashed, html, "/docs/ and /docs are the same page");

    let urls = linked_urls(&html);
    assert!(urls.len() >= 5, "{urls:?}");
    let mut kinds = BTreeSet::new();
    for url in urls {
        assert!(
            url.starts_with("/docs/") && !url.starts_with("//"),
            "{url}: every file of the page comes from /docs/ on this server"
        );
        let (status, headers, body) = get(&server, url).await;
        assert_eq!(status, 200, "{url}");
        assert!(!body.is_empty(), "{url} is empty");
        assert_eq!(
            header(&headers, "x-content-type-options"),
            "nosniff",
            "{url}"
        );
        let content_type = header(&headers, "content-type");
        if url.ends_with(".js") {
            assert!(content_type.contains("javascript"), "{url}: {content_type}");
            kinds.insert("js");
        } else if url.ends_with(".css") {
            assert!(
                content_type.starts_with("text/css"),
                "{url}: {content_type}"
            );
            kinds.insert("css");
        }
    }
    assert_eq!(kinds, BTreeSet::from(["css", "js"]));

    // The script that starts Swagger UI loads this server's document and nothing else.
    let (status, _, initializer) = get(&server, "/docs/swagger-initializer.js").await;
    assert_eq!(status, 200);
    assert!(initializer.contains("\"/openapi.json\""), "{initializer}");
    assert_eq!(
        external_urls(&initializer),
        Vec::<&str>::new(),
        "{initializer}"
    );
    assert!(
        initializer.contains("\"validatorUrl\": \"none\""),
        "the online validator would load an image from another origin: {initializer}"
    );

    // Revalidation: an unchanged file is not sent again.
    let (_, headers, _) = get(&server, "/docs/swagger-ui-bundle.js").await;
    let etag = header(&headers, "etag");
    assert!(!etag.is_empty());
    let (status, _, body) = send_raw(
        server
            .http
            .get(server.url("/docs/swagger-ui-bundle.js"))
            .header("If-None-Match", &etag),
    )
    .await;
    assert_eq!(status, 304);
    assert!(body.is_empty());

    let missing: Reply = send(server.http.get(server.url("/docs/no-such-file.js"))).await;
    missing.assert_error(404);
}
