//! SPEC §4: "No input — however long, malformed or hostile — causes a 5xx or a panic", and
//! every error is JSON. Hundreds of generated bodies and headers (random bytes, huge strings,
//! deep nesting, wrong types, unicode) against every endpoint, from a fixed seed so a failure
//! can be replayed.

use crate::support::{b64, send_raw};
use keywarden_testkit::TestServer;
use reqwest::Method;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use serde_json::{Value, json};

/// xorshift64*: small, deterministic, good enough to vary inputs.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.next() as u8).collect()
    }

    /// Bytes a header value may carry (visible ASCII, space, tab, obs-text).
    fn header_bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len)
            .map(|_| {
                loop {
                    let b = self.next() as u8;
                    if b == b'\t' || (0x20..0x7f).contains(&b) || b >= 0x80 {
                        break b;
                    }
                }
            })
            .collect()
    }

    fn text(&mut self, len: usize) -> String {
        const PIECES: &[&str] = &[
            "a",
            "Z",
            "0",
            "_",
            ":",
            "/",
            "\\",
            "%",
            "%2e",
            "..",
            "\"",
            "'",
            "\u{0}",
            "\u{7f}",
            "é",
            "ß",
            "ǅ",
            "İ",
            "\u{202e}",
            "\u{200b}",
            "\u{feff}",
            "🦀",
            "👩‍👩‍👧",
            "𝔘",
            "\u{10ffff}",
            "sk_test_",
            "rk_live_",
            "{",
            "}",
            "[",
            "]",
            ",",
            " ",
            "\t",
            "\n",
            "<script>",
            "' OR 1=1 --",
        ];
        (0..len).map(|_| *self.pick(PIECES)).collect()
    }

    fn json_value(&mut self, depth: usize) -> Value {
        match self.below(if depth > 3 { 9 } else { 11 }) {
            0 => Value::Null,
            1 => json!(self.below(2) == 0),
            2 => json!(self.next() as i64),
            3 => json!(-(self.below(1_000_000) as i64)),
            4 => json!(f64::from_bits(self.next() & 0x7fef_ffff_ffff_ffff)),
            5 => json!(u64::MAX),
            6 => {
                let len = self.below(40);
                json!(self.text(len))
            }
            7 => json!(*self.pick(&["test", "live", "sk_test_", "payroll:read", "", "a@b.c"])),
            8 => json!("x".repeat(self.below(5000))),
            9 => Value::Array(
                (0..self.below(5))
                    .map(|_| self.json_value(depth + 1))
                    .collect(),
            ),
            _ => {
                let mut map = serde_json::Map::new();
                for _ in 0..self.below(5) {
                    map.insert(self.text(5), self.json_value(depth + 1));
                }
                Value::Object(map)
            }
        }
    }
}

const FIELDS: &[&str] = &[
    "email",
    "password",
    "otp",
    "refresh",
    "key",
    "scope",
    "type",
    "expire_previous_in",
];

/// A hostile request body.
fn body(rng: &mut Rng) -> Vec<u8> {
    match rng.below(12) {
        0 => {
            let len = rng.below(600);
            rng.bytes(len)
        }
        1 => {
            let len = rng.below(300);
            rng.text(len).into_bytes()
        }
        2 => {
            // Over and under the 64 KB body limit.
            let field = *rng.pick(FIELDS);
            let len = *rng.pick(&[60_000, 65_000, 70_000, 100_000]);
            serde_json::to_vec(&json!({ field: "A".repeat(len) })).unwrap()
        }
        3 => {
            let depth = *rng.pick(&[64, 127, 128, 129, 1000, 20_000]);
            format!("{}{}", "[".repeat(depth), "]".repeat(depth)).into_bytes()
        }
        4 => {
            let depth = *rng.pick(&[100, 500, 5000]);
            format!("{}1{}", "{\"key\":".repeat(depth), "}".repeat(depth)).into_bytes()
        }
        5 | 6 => {
            // The endpoint's own fields, with values of any type.
            let mut map = serde_json::Map::new();
            for field in FIELDS {
                if rng.below(2) == 0 {
                    map.insert((*field).to_owned(), rng.json_value(0));
                }
            }
            serde_json::to_vec(&Value::Object(map)).unwrap()
        }
        7 => {
            // Escapes serde must refuse or carry: lone surrogates, NUL, BOM.
            let raw = *rng.pick(&[
                r#"{"key": "\ud800"}"#,
                r#"{"email": "\udc00@x.io", "password": "\u0000\u0000\u0000\u0000\u0000\u0000"}"#,
                "\u{feff}{\"type\": \"test\"}",
                r#"{"type": "test", "type": "live"}"#,
                r#"{"expire_previous_in": 1e999, "type": "test"}"#,
                r#"{"expire_previous_in": -0, "type": "test"}"#,
                r#"{"expire_previous_in": 123456789012345678901234567890, "type": "live"}"#,
                r#"{"refresh": "a.b.c"}"#,
                r#"{"refresh": "eyJhbGciOiJub25lIn0.eyJ0eXAiOiJyZWZyZXNoIn0."}"#,
                r#"{"key": "sk_test_ééééééééééééééééééé"}"#,
                r#"{"key": "sk_test_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAé"}"#,
                r#"{"key": "sk_test_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "scope": "🦀:read"}"#,
                r#"{"email": "a@b.c", "password": "x", "otp": 123456}"#,
            ]);
            raw.as_bytes().to_vec()
        }
        8 => {
            // Valid JSON cut short.
            let mut full = serde_json::to_vec(&rng.json_value(0)).unwrap();
            let cut = rng.below(full.len().max(1));
            full.truncate(cut);
            full
        }
        9 => b"\xc0\x80\xff\xfe{\"key\": \"\xed\xa0\x80\"}".to_vec(),
        10 => serde_json::to_vec(&rng.json_value(0)).unwrap(),
        _ => Vec::new(),
    }
}

/// A hostile `Authorization` value.
fn authorization(rng: &mut Rng, token: &str) -> Vec<u8> {
    match rng.below(10) {
        0 => {
            let len = rng.below(300);
            rng.header_bytes(len)
        }
        1 => [b"Bearer ".as_slice(), &rng.header_bytes(80)].concat(),
        2 => {
            let len = rng.below(250);
            let raw = rng.bytes(len);
            format!(
                "Basic {}",
                base64::Engine::encode(&base64::engine::general_purpose::STANDARD, raw)
            )
            .into_bytes()
        }
        3 => format!(
            "Basic {}",
            b64(&format!("{}:{}", rng.text(46), rng.text(3)))
        )
        .into_bytes(),
        4 => {
            let prefix = *rng.pick(&["sk_test_", "rk_live_", "sk_live_", "xx_test_", ""]);
            let len = 30 + rng.below(20);
            let body: String = (0..len)
                .map(|_| *rng.pick(&['A', 'z', '0', '9', '_', '-', 'é']))
                .collect();
            format!(
                "{} {prefix}{body}",
                rng.pick(&["Api-Key", "Bearer", "api-key", "Token"])
            )
            .into_bytes()
        }
        5 => format!(
            "Api-Key {}",
            "A".repeat(*rng.pick(&[1023, 1024, 1025, 100_000]))
        )
        .into_bytes(),
        6 => format!("Bearer {token}{}", rng.text(3)).into_bytes(),
        7 => format!("Bearer {token}").into_bytes(),
        8 => b"Basic ====".to_vec(),
        _ => Vec::new(),
    }
}

fn header(rng: &mut Rng) -> (HeaderName, Vec<u8>) {
    let name = *rng.pick(&[
        "x-original-uri",
        "x-original-method",
        "x-forwarded-uri",
        "x-forwarded-method",
        "x-forwarded-for",
        "content-type",
        "user-agent",
        "x-keywarden-verifier-secret",
        "content-encoding",
        "accept",
    ]);
    let value = match rng.below(6) {
        0 => {
            let len = rng.below(200);
            rng.header_bytes(len)
        }
        1 => rng
            .pick(&["/v1/payroll/../x", "%", "%zz", "%2e%2e/%2f", "//", "*", ""])
            .as_bytes()
            .to_vec(),
        2 => rng
            .pick(&["GET", "get", "CONNECT", "TRACE", "PROPFIND"])
            .as_bytes()
            .to_vec(),
        3 => rng
            .pick(&[
                "1.2.3.4",
                "::1",
                "1.2.3.4, garbage",
                ",,,,",
                "999.1.1.1",
                "fe80::1%eth0",
            ])
            .as_bytes()
            .to_vec(),
        4 => rng
            .pick(&[
                "application/json",
                "application/json; charset=utf-16",
                "text/plain",
                "gzip",
                "*/*",
            ])
            .as_bytes()
            .to_vec(),
        _ => "x".repeat(20_000).into_bytes(),
    };
    (HeaderName::from_static(name), value)
}

/// A client that opens a new connection for every request. A server may close a connection
/// after answering early (e.g. 413) without reading the whole body; a pooled client could then
/// send the next request into that closing connection and see a transport error that says
/// nothing about the answer under test.
fn fresh_connections() -> reqwest::Client {
    keywarden_testkit::http_client_builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap()
}

/// Asserts the answer is not a 5xx and, when it has a body or is an error, that it is JSON.
fn assert_sane(what: &str, status: u16, headers: &HeaderMap, text: &str) {
    assert!(status < 500, "{what}: {status} {text}");
    if status >= 400 || !text.is_empty() {
        let content_type = headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        assert!(
            content_type.starts_with("application/json"),
            "{what}: {status} {content_type:?} {text:.300}"
        );
        let body: Value = serde_json::from_str(text)
            .unwrap_or_else(|e| panic!("{what}: {status} body is not JSON ({e}): {text:.300}"));
        assert!(body.is_object(), "{what}: {text:.300}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_generated_input_yields_a_5xx_or_a_non_json_error() {
    let server = TestServer::start().await;
    let victim = server.account("Victim").await;
    let attacker = server.account("Attacker").await;
    let (token, _) = server.sign_in(&attacker.admin_email).await;
    let http = fresh_connections();
    let (_, key) = crate::support::restricted_key(
        &server,
        attacker.id,
        keywarden_core::key_format::Mode::Test,
        &["payroll:read"],
        None,
    )
    .await;
    let attacker_user = server
        .service()
        .store()
        .user_by_email(&attacker.admin_email)
        .await
        .unwrap()
        .unwrap();
    let (key_id, user_id) = (key.id, attacker_user.id);
    let endpoints: Vec<(Method, String)> = vec![
        (Method::POST, "/v1/auth/token/".into()),
        (Method::POST, "/v1/auth/token/refresh/".into()),
        (Method::GET, "/v1/auth/me/".into()),
        (Method::GET, "/v1/auth/api-keys/".into()),
        (Method::PATCH, "/v1/auth/api-keys/".into()),
        (Method::PATCH, "/v1/auth/api-keys".into()),
        (Method::POST, "/v1/auth/2fa/setup/".into()),
        (Method::POST, "/v1/auth/2fa/confirm/".into()),
        (Method::POST, "/v1/auth/2fa/disable/".into()),
        (Method::POST, "/v1/auth/2fa/recovery-codes/".into()),
        (Method::GET, "/v1/api-keys/".into()),
        (
            Method::GET,
            "/v1/api-keys/?limit=0&status=%ff&cursor=zz&search=%00".into(),
        ),
        (
            Method::GET,
            "/v1/api-keys/?limit=99999999999&unknown=1".into(),
        ),
        (Method::POST, "/v1/api-keys/".into()),
        (Method::GET, format!("/v1/api-keys/{key_id}/")),
        (Method::PATCH, format!("/v1/api-keys/{key_id}/")),
        (Method::POST, format!("/v1/api-keys/{key_id}/rotate/")),
        (Method::GET, "/v1/api-keys/%ff/".into()),
        (Method::PATCH, "/v1/api-keys/not-a-uuid/".into()),
        (Method::DELETE, "/v1/api-keys/%ff%fe/".into()),
        (Method::POST, "/v1/api-keys/%ff/rotate/".into()),
        (Method::GET, format!("/v1/api-keys/{}/", "9".repeat(5000))),
        (Method::GET, "/v1/users/".into()),
        (Method::POST, "/v1/users/".into()),
        (Method::PATCH, format!("/v1/users/{user_id}/")),
        (Method::PATCH, "/v1/users/%ff/".into()),
        (Method::DELETE, "/v1/users/%c0%80/".into()),
        (Method::GET, "/v1/account/".into()),
        (Method::PATCH, "/v1/account/".into()),
        (Method::GET, "/v1/products/".into()),
        (Method::GET, "/v1/audit-events/".into()),
        (
            Method::GET,
            "/v1/audit-events/?limit=-1&cursor=%ff&action=%00".into(),
        ),
        (Method::POST, "/v1/verify/".into()),
        (Method::POST, "/v1/verify".into()),
        (Method::GET, "/v1/forward-auth/".into()),
        (Method::GET, "/healthz".into()),
        (Method::GET, "/readyz".into()),
        (Method::DELETE, "/v1/verify/".into()),
        (Method::POST, "/v1/%2e%2e/%ff/\u{1f980}".into()),
    ];

    let mut rng = Rng(0x6b65_7977_6172_6465);
    for case in 0..800 {
        let (method, path) = &endpoints[case % endpoints.len()];
        let mut request = http.request(method.clone(), server.url(path));
        let mut what = format!("case {case}: {method} {path}");
        if rng.below(3) != 0 {
            // Most console calls carry a real token, so the body is what gets parsed.
            let value = if rng.below(4) == 0 {
                authorization(&mut rng, &token)
            } else {
                format!("Bearer {token}").into_bytes()
            };
            if let Ok(value) = HeaderValue::from_bytes(&value) {
                what.push_str(&format!(
                    " auth {:.60?}",
                    String::from_utf8_lossy(&value.as_bytes()[..value.len().min(60)])
                ));
                request = request.header("Authorization", value);
            }
        }
        for _ in 0..rng.below(4) {
            let (name, value) = header(&mut rng);
            if let Ok(value) = HeaderValue::from_bytes(&value) {
                request = request.header(name, value);
            }
        }
        if rng.below(2) == 0 {
            request = request.header("Content-Type", "application/json");
        }
        if *method != Method::GET {
            let body = body(&mut rng);
            what.push_str(&format!(
                " body {:.80?}",
                String::from_utf8_lossy(&body[..body.len().min(80)])
            ));
            request = request.body(body);
        }
        let (status, headers, text) = send_raw(request).await;
        assert_sane(&what, status, &headers, &text);
    }

    // Nothing of the victim's changed, and the service still answers.
    let (status, _, _) = send_raw(server.http.get(server.url("/healthz"))).await;
    assert_eq!(status, 200);
    let reply = crate::support::forward_auth_from(
        &server,
        "192.0.2.250",
        Some(&crate::support::api_key(&victim.test_key)),
        "GET",
        "/v1/customers/",
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
}

#[tokio::test]
async fn oversized_and_deeply_nested_bodies_are_refused_in_json_everywhere() {
    let server = TestServer::start().await;
    let account = server.account("Acme").await;
    let (token, _) = server.sign_in(&account.admin_email).await;
    let http = fresh_connections();
    let huge = serde_json::to_vec(&json!({ "type": "test", "key": "A".repeat(100_000) })).unwrap();
    let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000)).into_bytes();
    let (_, key) = crate::support::restricted_key(
        &server,
        account.id,
        keywarden_core::key_format::Mode::Live,
        &["asset:read"],
        None,
    )
    .await;
    let admin = server
        .service()
        .store()
        .user_by_email(&account.admin_email)
        .await
        .unwrap()
        .unwrap();
    for (method, path) in [
        (Method::POST, "/v1/auth/token/".to_owned()),
        (Method::POST, "/v1/auth/token/refresh/".to_owned()),
        (Method::PATCH, "/v1/auth/api-keys/".to_owned()),
        (Method::POST, "/v1/auth/2fa/confirm/".to_owned()),
        (Method::POST, "/v1/api-keys/".to_owned()),
        (Method::PATCH, format!("/v1/api-keys/{}/", key.id)),
        (Method::POST, format!("/v1/api-keys/{}/rotate/", key.id)),
        (Method::POST, "/v1/users/".to_owned()),
        (Method::PATCH, format!("/v1/users/{}/", admin.id)),
        (Method::PATCH, "/v1/account/".to_owned()),
        (Method::POST, "/v1/verify/".to_owned()),
    ] {
        let path = path.as_str();
        let reply = send_raw(
            http.request(method.clone(), server.url(path))
                .bearer_auth(&token)
                .header("Content-Type", "application/json")
                .body(huge.clone()),
        )
        .await;
        assert_sane(
            &format!("huge {method} {path}"),
            reply.0,
            &reply.1,
            &reply.2,
        );
        assert_eq!(reply.0, 413, "{method} {path}: {}", reply.2);

        let reply = send_raw(
            http.request(method.clone(), server.url(path))
                .bearer_auth(&token)
                .header("Content-Type", "application/json")
                .body(deep.clone()),
        )
        .await;
        assert_sane(
            &format!("deep {method} {path}"),
            reply.0,
            &reply.1,
            &reply.2,
        );
        assert_eq!(reply.0, 400, "{method} {path}: {}", reply.2);
    }
    // Nothing was rotated.
    crate::support::assert_key_works(&server, &account.test_key).await;
    let stored = crate::support::stored_key(&server, account.id, key.id).await;
    assert_eq!(
        stored.lifecycle,
        keywarden_core::key_record::Lifecycle::Active
    );
}

#[tokio::test]
async fn hostile_forward_auth_headers_never_pass_and_never_fail_the_server() {
    let server = TestServer::start().await;
    let account = server.account("Acme").await;
    let mut rng = Rng(0x0123_4567_89ab_cdef);
    for case in 0..300 {
        let mut request = server.http.get(server.url("/v1/forward-auth/"));
        // A different client each time, so the answers are the checks, not the failure limit.
        request = request.header(
            "X-Forwarded-For",
            format!("10.{}.{}.{}", case / 250, case % 250, rng.below(250)),
        );
        let auth = authorization(&mut rng, &account.test_key);
        let sent_real_key = auth == format!("Bearer {}", account.test_key).into_bytes();
        if let Ok(value) = HeaderValue::from_bytes(&auth) {
            request = request.header("Authorization", value);
        }
        let len = rng.below(60);
        let uri = [b"/v1/".as_slice(), &rng.header_bytes(len)].concat();
        if let Ok(value) = HeaderValue::from_bytes(&uri) {
            request = request.header(*rng.pick(&["X-Original-URI", "X-Forwarded-Uri"]), value);
        }
        let len = rng.below(12);
        let method = rng.header_bytes(len);
        if let Ok(value) = HeaderValue::from_bytes(&method) {
            request = request.header(
                *rng.pick(&["X-Original-Method", "X-Forwarded-Method"]),
                value,
            );
        }
        let (status, headers, text) = send_raw(request).await;
        assert_sane(&format!("case {case}"), status, &headers, &text);
        if !sent_real_key {
            assert_ne!(
                status, 200,
                "case {case}: a made-up Authorization value passed"
            );
        }
    }
}

#[tokio::test]
async fn a_body_announced_as_10_gb_is_answered_413_at_once_without_waiting_for_it() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let server = TestServer::start().await;
    let address = server.url("").trim_start_matches("http://").to_owned();
    for path in ["/v1/verify/", "/v1/auth/token/", "/v1/api-keys/"] {
        let mut stream = tokio::net::TcpStream::connect(&address).await.unwrap();
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
             Content-Length: 10000000000\r\n\r\n{{\"key\": \""
        );
        stream.write_all(head.as_bytes()).await.unwrap();
        // The body never comes: the answer must not wait for it.
        let mut answer = Vec::new();
        let read = tokio::time::timeout(std::time::Duration::from_secs(5), async {
            let mut chunk = [0u8; 4096];
            loop {
                let n = stream.read(&mut chunk).await.unwrap_or(0);
                answer.extend_from_slice(chunk.get(..n).unwrap_or_default());
                let text = String::from_utf8_lossy(&answer);
                if n == 0 || text.contains("\r\n\r\n") && text.ends_with('}') {
                    break;
                }
            }
        })
        .await;
        let text = String::from_utf8_lossy(&answer);
        assert!(read.is_ok(), "{path}: no answer within 5 s: {text}");
        assert!(text.starts_with("HTTP/1.1 413"), "{path}: {text}");
        assert!(text.contains("application/json"), "{path}: {text}");
        assert!(
            text.contains("\"code\":\"payload_too_large\""),
            "{path}: {text}"
        );
    }
}

#[tokio::test]
async fn oversized_heads_are_answered_in_json() {
    let server = TestServer::start().await;
    let http = fresh_connections();
    let json_error = |what: &str, reply: &(u16, HeaderMap, String), status: u16, code: &str| {
        assert_eq!(reply.0, status, "{what}: {}", reply.2);
        assert_sane(what, reply.0, &reply.1, &reply.2);
        let body: Value = serde_json::from_str(&reply.2).unwrap();
        assert_eq!(body["code"], code, "{what}: {body}");
    };
    let mut many = reqwest::header::HeaderMap::new();
    for i in 0..150 {
        many.insert(
            HeaderName::from_bytes(format!("x-filler-{i}").as_bytes()).unwrap(),
            HeaderValue::from_static("x"),
        );
    }
    // More than 100 fields: refused by the HTTP layer itself before a request exists, with its
    // own bodiless 431 (docs/RELIABILITY.md says why).
    let reply = send_raw(http.get(server.url("/v1/forward-auth/")).headers(many)).await;
    assert_eq!(reply.0, 431, "150 headers: {}", reply.2);
    let reply = send_raw(
        http.get(server.url("/healthz"))
            .header("x-big", "a".repeat(160 * 1024)),
    )
    .await;
    json_error("a 160 KiB header", &reply, 431, "headers_too_large");
    let reply =
        send_raw(http.get(server.url(&format!("/v1/api-keys/?q={}", "a".repeat(10_000))))).await;
    json_error("a 10 KB target", &reply, 414, "uri_too_long");
    // Within the limits, the same requests are routed as usual.
    let reply = send_raw(
        http.get(server.url("/healthz"))
            .header("x-big", "a".repeat(1024)),
    )
    .await;
    assert_eq!(reply.0, 200, "{}", reply.2);
}

/// What the OpenAPI document promises is what the server takes (found by schemathesis): a body
/// that is not a JSON object is refused, a `null` rotate body asks for nothing, and an empty
/// query parameter is an absent one.
#[tokio::test]
async fn bodies_and_queries_are_taken_as_the_document_says() {
    let server = TestServer::start().await;
    let account = server.account("Acme").await;
    let (token, _) = server.sign_in(&account.admin_email).await;
    let reply = crate::support::patch(&server, &token, "/v1/account/", &json!([null, null])).await;
    reply.assert_error(400);
    assert_eq!(reply.body["code"], "malformed_body", "{}", reply.text);
    let stored = server
        .service()
        .store()
        .account(account.id)
        .await
        .unwrap()
        .unwrap();
    assert!(!stored.require_2fa_for_keys, "nothing changed");

    let keys = crate::support::get(
        &server,
        &token,
        "/v1/api-keys/?status=&type=&kind=&search=&cursor=",
    )
    .await;
    assert_eq!(keys.status, 200, "{}", keys.text);
    assert_eq!(keys.body["results"].as_array().unwrap().len(), 2);
    let events = crate::support::get(
        &server,
        &token,
        "/v1/audit-events/?actor=&action=&since=&cursor=",
    )
    .await;
    assert_eq!(events.status, 200, "{}", events.text);

    let id = keys.body["results"][0]["id"].as_str().unwrap().to_owned();
    let rotated = crate::support::post(
        &server,
        &token,
        &format!("/v1/api-keys/{id}/rotate/"),
        &Value::Null,
    )
    .await;
    assert_eq!(rotated.status, 200, "{}", rotated.text);
}
