//! Helpers shared by the test modules: one request → one [`Reply`], the three ways of presenting
//! a key, and keys inserted straight into the store for cases the API cannot create yet.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use keywarden_core::ids::{AccountId, KeyId};
use keywarden_core::key_format::{self, KeyKind, Mode};
use keywarden_core::key_record::{KeyRecord, Lifecycle};
use keywarden_core::store::KeyFilter;
use keywarden_core::{Clock, OsRandom};
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

/// A restricted key inserted straight into the store (as the operator CLI or another instance
/// would), then picked up from the change feed like any stored change.
pub async fn restricted_key(
    server: &TestServer,
    account: AccountId,
    mode: Mode,
    scopes: &[&str],
    expires_at: Option<OffsetDateTime>,
) -> (String, KeyRecord) {
    let (secret, record) = restricted_record(server, account, mode, scopes, expires_at);
    server
        .service()
        .store()
        .insert_keys(std::slice::from_ref(&record), &[])
        .await
        .expect("insert");
    server.state.keys.catch_up().await.expect("catch up");
    (secret, record)
}

/// A new restricted key and the record the store would hold of it (not stored yet).
pub fn restricted_record(
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
        policy: Default::default(),
        leak: None,
    };
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

// --- Console API helpers (restricted keys, users, 2FA, policy, audit) ---

/// `{"detail": "Authentication credentials were not provided."}`
pub fn not_provided() -> Value {
    serde_json::json!({ "detail": "Authentication credentials were not provided." })
}

/// The seed's body for an invalid or expired access token.
pub fn token_not_valid() -> Value {
    serde_json::json!({
        "detail": "Given token not valid for any token type",
        "code": "token_not_valid",
        "messages": [{
            "token_class": "AccessToken",
            "token_type": "access",
            "message": "Token is invalid or expired",
        }],
    })
}

/// The seed's 403 for a role that may not act.
pub fn forbidden() -> Value {
    serde_json::json!({ "detail": "You do not have permission to perform this action." })
}

/// A console request with an optional access token and an optional JSON body.
pub async fn call(
    server: &TestServer,
    method: reqwest::Method,
    path: &str,
    token: Option<&str>,
    body: Option<&Value>,
) -> Reply {
    let mut request = server.http.request(method, server.url(path));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(body) = body {
        request = request.json(body);
    }
    send(request).await
}

/// `GET path` as `token`.
pub async fn get(server: &TestServer, token: &str, path: &str) -> Reply {
    call(server, reqwest::Method::GET, path, Some(token), None).await
}

/// `POST path` with a JSON body as `token`.
pub async fn post(server: &TestServer, token: &str, path: &str, body: &Value) -> Reply {
    call(server, reqwest::Method::POST, path, Some(token), Some(body)).await
}

/// `PATCH path` with a JSON body as `token`.
pub async fn patch(server: &TestServer, token: &str, path: &str, body: &Value) -> Reply {
    call(
        server,
        reqwest::Method::PATCH,
        path,
        Some(token),
        Some(body),
    )
    .await
}

/// `DELETE path` as `token`.
pub async fn delete(server: &TestServer, token: &str, path: &str) -> Reply {
    call(server, reqwest::Method::DELETE, path, Some(token), None).await
}

/// Asserts a 400 `invalid` body that names `field`.
pub fn assert_invalid_field(reply: &Reply, field: &str) {
    reply.assert_error(400);
    assert_eq!(reply.body["code"], "invalid", "{}", reply.text);
    assert_eq!(reply.body["field"], field, "{}", reply.text);
    let detail = reply.str_field("detail");
    assert!(
        detail.starts_with(&format!("{field}: ")),
        "the detail should name `{field}`: {detail}"
    );
}

/// Asserts that `text` shows none of `secrets`, and for API keys not even their random part.
pub fn assert_no_secret_in(text: &str, secrets: &[&str]) {
    for secret in secrets {
        assert!(!secret.is_empty(), "an empty secret proves nothing");
        assert!(!text.contains(secret), "a secret shows: {secret} in {text}");
        if key_format::parse(secret).is_ok() {
            let body = &secret[8..40];
            assert!(
                !text.contains(body),
                "part of a key shows: {body} in {text}"
            );
        }
    }
}

/// `POST /v1/api-keys/` → 201; returns the secret and the answer.
pub async fn create_key(
    server: &TestServer,
    token: &str,
    label: &str,
    mode: &str,
    scopes: &[&str],
) -> (String, Reply) {
    let reply = post(
        server,
        token,
        "/v1/api-keys/",
        &serde_json::json!({ "label": label, "type": mode, "scopes": scopes }),
    )
    .await;
    assert_eq!(reply.status, 201, "create {label}: {}", reply.text);
    (reply.str_field("key").to_owned(), reply)
}

/// The key id in a key's metadata.
pub fn key_id_of(reply: &Reply) -> KeyId {
    reply.str_field("id").parse().expect("a key id")
}

/// A stored user by email.
pub async fn stored_user(server: &TestServer, email: &str) -> keywarden_core::account::User {
    server
        .service()
        .store()
        .user_by_email(email)
        .await
        .expect("read")
        .expect("the user is stored")
}

/// The TOTP code of the base32 `secret` for the 30-second step that contains `at` (RFC 6238:
/// HMAC-SHA-1, 6 digits), computed independently of the server's own code.
pub fn totp_code(secret: &str, at: OffsetDateTime) -> String {
    let seed = totp_rs::Secret::try_from_base32(secret).expect("base32 secret");
    let totp = totp_rs::Builder::new()
        .with_secret(seed)
        .with_skew(0)
        .build()
        .expect("a TOTP");
    let secs = u64::try_from(at.unix_timestamp()).expect("after 1970");
    totp.generate(secs).to_string()
}

/// `POST /v1/auth/token/` with an optional `otp`, from `client` (via `X-Forwarded-For`).
pub async fn sign_in_as(
    server: &TestServer,
    client: &str,
    email: &str,
    password: &str,
    otp: Option<&str>,
) -> Reply {
    let mut body = serde_json::json!({ "email": email, "password": password });
    if let Some(otp) = otp {
        body["otp"] = Value::from(otp);
    }
    send(
        server
            .http
            .post(server.url("/v1/auth/token/"))
            .header("X-Forwarded-For", client)
            .json(&body),
    )
    .await
}

/// Sets up and confirms TOTP for the user of `token`; returns the base32 secret and the
/// recovery codes. The confirming code's step is used up: the next sign-in needs a later one.
pub async fn enable_two_factor(server: &TestServer, token: &str) -> (String, Vec<String>) {
    let setup = post(server, token, "/v1/auth/2fa/setup/", &serde_json::json!({})).await;
    assert_eq!(setup.status, 200, "setup: {}", setup.text);
    let secret = setup.str_field("secret").to_owned();
    let code = totp_code(&secret, server.clock.now());
    let confirm = post(
        server,
        token,
        "/v1/auth/2fa/confirm/",
        &serde_json::json!({ "otp": code }),
    )
    .await;
    assert_eq!(confirm.status, 200, "confirm: {}", confirm.text);
    let codes = confirm.body["recovery_codes"]
        .as_array()
        .expect("recovery codes")
        .iter()
        .map(|c| c.as_str().expect("a code").to_owned())
        .collect();
    (secret, codes)
}

/// The value of a `/metrics` series without labels.
pub async fn metric(server: &TestServer, name: &str) -> u64 {
    let text = keywarden_testkit::http_client()
        .get(server.url("/metrics"))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    text.lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' '))
        .and_then(|value| value.parse().ok())
        .unwrap_or_else(|| panic!("{name} is not exported:\n{text}"))
}

// --- Webhooks ---

/// A webhook endpoint of `account` added through the service (no events sent), with its id.
pub async fn webhook_endpoint(
    server: &TestServer,
    account: AccountId,
    url: &str,
) -> keywarden_core::ids::EndpointId {
    let added = server
        .service()
        .add_endpoint(
            account,
            keywarden_core::service::NewEndpoint {
                url: url.into(),
                description: "fixture".into(),
                events: vec!["key.revoked".into()],
            },
            &keywarden_core::audit::Actor::cli(),
        )
        .await
        .expect("add endpoint");
    added.endpoint.id
}

/// Queues a `webhook.test` event for `endpoint` and returns its delivery's first attempt.
pub async fn test_delivery(
    server: &TestServer,
    account: AccountId,
    endpoint: keywarden_core::ids::EndpointId,
    result: keywarden_core::store::AttemptResult,
    status: Option<u16>,
) -> keywarden_core::store::LoggedAttempt {
    server
        .service()
        .send_test_event(account, endpoint, &keywarden_core::audit::Actor::cli())
        .await
        .expect("queue a test event");
    first_test_attempt(server, account, endpoint, result, status).await
}

/// The first attempt of the `webhook.test` event queued for `endpoint`, once it exists. It is
/// made by the server's delivery worker if that gets there first, else here, through the store
/// as the worker would, with `status` and `result`: the test does not depend on which.
pub async fn first_test_attempt(
    server: &TestServer,
    account: AccountId,
    endpoint: keywarden_core::ids::EndpointId,
    result: keywarden_core::store::AttemptResult,
    status: Option<u16>,
) -> keywarden_core::store::LoggedAttempt {
    use keywarden_core::store::Attempt;
    use keywarden_core::webhook::EventType;
    let store = server.service().store();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let logged = store
            .attempts_of_endpoint(account, endpoint, None, 100)
            .await
            .expect("attempts");
        if let Some(found) = logged
            .into_iter()
            .find(|l| l.delivery.event_type == EventType::WebhookTest)
        {
            return found;
        }
        let now = server.clock.now();
        store.dispatch_events(now, 100).await.expect("dispatch");
        let claimed = store
            .claim_deliveries(now, now + time::Duration::minutes(5), 100)
            .await
            .expect("claim");
        for claim in claimed {
            let ours = claim.delivery.endpoint_id == endpoint;
            let attempt = Attempt {
                delivery_id: claim.delivery.id,
                number: claim.delivery.attempts + 1,
                at: now,
                status: if ours { status } else { None },
                error: (!ours || status.is_none()).then(|| "connection refused".to_owned()),
                duration_ms: 7,
            };
            let outcome = if ours {
                result
            } else {
                keywarden_core::store::AttemptResult::RetryAt(now + time::Duration::hours(1))
            };
            store
                .finish_attempt(&attempt, outcome)
                .await
                .expect("finish the attempt");
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no attempt of the test event to {endpoint} within 20 s"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// A loopback receiver that keeps every webhook body it is sent.
pub async fn webhook_receiver() -> (String, std::sync::Arc<std::sync::Mutex<Vec<Value>>>) {
    let received = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let kept = received.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |body: String| {
            let kept = kept.clone();
            async move {
                kept.lock()
                    .unwrap()
                    .push(serde_json::from_str(&body).unwrap());
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, received)
}
