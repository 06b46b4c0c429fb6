//! Helpers shared by the test modules: one request → one [`Reply`], the three ways of presenting
//! a key, and keys inserted straight into the store for cases the API cannot create yet.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use keywarden_core::OsRandom;
use keywarden_core::ids::{AccountId, KeyId};
use keywarden_core::key_format::{self, KeyKind, Mode};
use keywarden_core::key_record::{KeyRecord, Lifecycle};
use keywarden_core::store::KeyFilter;
use keywarden_testkit::TestServer;
use reqwest::header::{HeaderMap, HeaderValue};
use serde_json::Value;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// What came back from one request.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: HeaderMap,
    /// The body parsed as JSON (`Null` when empty).
    pub body: Value,
    /// The raw body.
    pub text: String,
}

impl Reply {
    /// A header as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The body's field `name` as text.
    pub fn str_field(&self, name: &str) -> &str {
        self.body[name]
            .as_str()
            .unwrap_or_else(|| panic!("no string `{name}` in {}", self.text))
    }

    /// Asserts a JSON body with `Content-Type: application/json`.
    pub fn assert_json(&self) -> &Self {
        let content_type = self.header("content-type").unwrap_or("");
        assert!(
            content_type.starts_with("application/json"),
            "status {}: Content-Type is {content_type:?}, body {}",
            self.status,
            self.text
        );
        assert!(
            self.body.is_object(),
            "status {}: body is not a JSON object: {}",
            self.status,
            self.text
        );
        self
    }

    /// Asserts `status`, a JSON body, and on a 401 a `WWW-Authenticate` challenge.
    pub fn assert_error(&self, status: u16) -> &Self {
        assert_eq!(self.status, status, "body: {}", self.text);
        self.assert_json();
        if status == 401 {
            assert!(
                self.header("www-authenticate")
                    .is_some_and(|v| !v.is_empty()),
                "a 401 without WWW-Authenticate: {}",
                self.text
            );
        }
        self
    }

    /// Asserts the whole body.
    pub fn assert_body(&self, expected: &Value) -> &Self {
        assert_eq!(&self.body, expected, "status {}", self.status);
        self
    }
}

/// Sends a request; the body may be anything.
pub async fn send_raw(request: reqwest::RequestBuilder) -> (u16, HeaderMap, String) {
    let response = request.send().await.expect("the server answers");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let text = response.text().await.expect("a body");
    (status, headers, text)
}

/// Sends a request whose answer must be empty or JSON.
pub async fn send(request: reqwest::RequestBuilder) -> Reply {
    let (status, headers, text) = send_raw(request).await;
    let body = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("a {status} whose body is not JSON ({e}): {text}"))
    };
    Reply {
        status,
        headers,
        body,
        text,
    }
}

/// `Authorization: Api-Key <key>`
pub fn api_key(key: &str) -> String {
    format!("Api-Key {key}")
}

/// `Authorization: Bearer <key>`
pub fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

/// `Authorization: Basic base64(key + ":")`
pub fn basic(key: &str) -> String {
    format!("Basic {}", b64(&format!("{key}:")))
}

/// Standard base64.
pub fn b64(text: &str) -> String {
    STANDARD.encode(text)
}

/// A well-formed key with a valid checksum that no account has.
pub fn unknown_key(kind: KeyKind, mode: Mode) -> String {
    key_format::generate(kind, mode, &OsRandom)
        .expect("random")
        .expose()
        .to_owned()
}

/// RFC 3339, as the API writes times.
pub fn rfc3339(at: OffsetDateTime) -> String {
    at.format(&Rfc3339).expect("format")
}

/// Forward-auth with an `Authorization` value (raw bytes allowed) and the nginx headers.
pub async fn forward_auth_raw(
    server: &TestServer,
    client: Option<&str>,
    authorization: Option<HeaderValue>,
    method: &str,
    uri: &str,
) -> Reply {
    let mut request = server
        .http
        .get(server.url("/v1/forward-auth/"))
        .header("X-Original-Method", method)
        .header("X-Original-URI", uri);
    if let Some(value) = authorization {
        request = request.header("Authorization", value);
    }
    if let Some(ip) = client {
        request = request.header("X-Forwarded-For", ip);
    }
    send(request).await
}

/// Forward-auth from the default client (the loopback peer).
pub async fn forward_auth(
    server: &TestServer,
    authorization: Option<&str>,
    method: &str,
    uri: &str,
) -> Reply {
    let value = authorization.map(|a| HeaderValue::from_str(a).expect("header value"));
    forward_auth_raw(server, None, value, method, uri).await
}

/// Forward-auth on behalf of `client` (as nginx on loopback would say in `X-Forwarded-For`).
pub async fn forward_auth_from(
    server: &TestServer,
    client: &str,
    authorization: Option<&str>,
    method: &str,
    uri: &str,
) -> Reply {
    let value = authorization.map(|a| HeaderValue::from_str(a).expect("header value"));
    forward_auth_raw(server, Some(client), value, method, uri).await
}

/// Asserts that forward-auth lets `key` through to `GET /v1/customers/`.
pub async fn assert_key_works(server: &TestServer, key: &str) {
    let reply = forward_auth(server, Some(&api_key(key)), "GET", "/v1/customers/").await;
    assert_eq!(reply.status, 200, "key {key} refused: {}", reply.text);
}

/// Asserts that forward-auth refuses `key` with `code` and `stopped_at`.
pub async fn assert_key_stopped(server: &TestServer, key: &str, code: &str, stopped_at: &str) {
    let reply = forward_auth(server, Some(&api_key(key)), "GET", "/v1/customers/").await;
    reply.assert_error(401);
    assert_eq!(reply.body["code"], code, "{}", reply.text);
    assert_eq!(reply.body["stopped_at"], stopped_at, "{}", reply.text);
    assert!(!reply.str_field("detail").is_empty());
    let mut fields: Vec<&str> = reply
        .body
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    fields.sort_unstable();
    assert_eq!(fields, ["code", "detail", "stopped_at"], "{}", reply.text);
}

/// A restricted key inserted straight into the store (the restricted-key endpoints are not
/// part of this server yet), then picked up from the change feed like any stored change.
pub async fn restricted_key(
    server: &TestServer,
    account: AccountId,
    mode: Mode,
    scopes: &[&str],
    expires_at: Option<OffsetDateTime>,
) -> (String, KeyRecord) {
    let secret = key_format::generate(KeyKind::Restricted, mode, &OsRandom).expect("random");
    let now = server.service().clock().now();
    let record = KeyRecord {
        id: KeyId::new_at(now),
        account_id: account,
        kind: KeyKind::Restricted,
        mode,
        label: "restricted for tests".into(),
        hint: secret.hint(),
        digest: server.service().hasher().digest(secret.expose()),
        scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
        lifecycle: Lifecycle::Active,
        created_at: now,
        created_by: None,
        expires_at,
        last_used_at: None,
        rotated_at: None,
        revoked_at: None,
        grace_until: None,
        replaced_by: None,
        replaces: None,
        change_seq: 0,
    };
    server
        .service()
        .store()
        .insert_keys(std::slice::from_ref(&record), &[])
        .await
        .expect("insert");
    server.state.cache.catch_up().await.expect("catch up");
    (secret.expose().to_owned(), record)
}

/// The account's active standard keys of `mode`, from the store.
pub async fn active_standard_keys(
    server: &TestServer,
    account: AccountId,
    mode: Mode,
) -> Vec<KeyRecord> {
    let filter = KeyFilter {
        kind: Some(KeyKind::Standard),
        mode: Some(mode),
        only_active: true,
    };
    server
        .service()
        .store()
        .keys_of_account(account, &filter)
        .await
        .expect("keys")
}

/// The account's one active standard key of `mode`.
pub async fn standard_key(server: &TestServer, account: AccountId, mode: Mode) -> KeyRecord {
    let mut keys = active_standard_keys(server, account, mode).await;
    assert_eq!(keys.len(), 1, "active standard {mode} keys: {keys:?}");
    keys.remove(0)
}

/// A stored key by id.
pub async fn stored_key(server: &TestServer, account: AccountId, id: KeyId) -> KeyRecord {
    server
        .service()
        .store()
        .key(account, id)
        .await
        .expect("read")
        .expect("the key is stored")
}

/// `GET /v1/auth/api-keys/` with an access token.
pub async fn get_standard_keys(server: &TestServer, token: &str) -> Reply {
    send(
        server
            .http
            .get(server.url("/v1/auth/api-keys/"))
            .bearer_auth(token),
    )
    .await
}

/// `PATCH /v1/auth/api-keys/` with an access token and a JSON body.
pub async fn patch_standard_keys(server: &TestServer, token: &str, body: &Value) -> Reply {
    send(
        server
            .http
            .patch(server.url("/v1/auth/api-keys/"))
            .bearer_auth(token)
            .json(body),
    )
    .await
}
