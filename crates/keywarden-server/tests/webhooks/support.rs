//! A real HTTP receiver on 127.0.0.1 that records every request and answers as scripted,
//! endpoints inserted straight into the store, an independent signature check, and small
//! console API calls.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, KeyInit, Mac};
use keywarden_core::audit::{Action, Actor, AuditEvent};
use keywarden_core::ids::{AccountId, EndpointId, EventId};
use keywarden_core::store::LoggedAttempt;
use keywarden_core::webhook::{Endpoint, EndpointSecret, EndpointState, Subscription};
use keywarden_core::{Clock, OsRandom};
use keywarden_testkit::TestServer;
use serde_json::Value;
use sha2::Sha256;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long a delivery may take to arrive on a healthy receiver.
pub const ARRIVAL: Duration = Duration::from_secs(2);

/// A test server that may deliver to 127.0.0.1 and polls often.
pub async fn server() -> TestServer {
    TestServer::start_with(|c| {
        c.webhooks.allow_private_targets = true;
        c.webhooks.poll_interval_ms = 20;
    })
    .await
}

/// One request the receiver got.
#[derive(Debug, Clone)]
pub struct Received {
    pub headers: HeaderMap,
    pub body: Bytes,
    pub json: Value,
    pub at: Instant,
    /// What the receiver answered.
    pub answered: u16,
}

impl Received {
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    }

    pub fn event_type(&self) -> &str {
        self.json["type"].as_str().unwrap_or_default()
    }

    pub fn key_id(&self) -> &str {
        self.json["data"]["key"]["id"].as_str().unwrap_or_default()
    }
}

#[derive(Debug, Default)]
struct Log {
    received: Mutex<Vec<Received>>,
    /// Statuses to answer, in order; 204 once it is empty.
    script: Mutex<VecDeque<u16>>,
}

/// A receiver on `127.0.0.1:PORT`.
#[derive(Debug, Clone)]
pub struct Receiver {
    pub url: String,
    log: Arc<Log>,
}

async fn record(State(log): State<Arc<Log>>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let answered = log.script.lock().unwrap().pop_front().unwrap_or(204);
    let json = serde_json::from_slice(&body).unwrap_or(Value::Null);
    log.received.lock().unwrap().push(Received {
        headers,
        body,
        json,
        at: Instant::now(),
        answered,
    });
    StatusCode::from_u16(answered).unwrap()
}

impl Receiver {
    /// Starts a receiver that answers `script` in order, then 204.
    pub async fn start(script: &[u16]) -> Self {
        let log = Arc::new(Log::default());
        log.script.lock().unwrap().extend(script.iter().copied());
        let app = axum::Router::new()
            .fallback(axum::routing::post(record))
            .with_state(log.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hooks/keywarden", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self { url, log }
    }

    /// Everything received so far.
    pub fn received(&self) -> Vec<Received> {
        self.log.received.lock().unwrap().clone()
    }

    /// Waits (up to [`ARRIVAL`]) until `count` requests satisfy `matches`; returns them.
    pub async fn wait_for(
        &self,
        count: usize,
        matches: impl Fn(&Received) -> bool,
    ) -> Vec<Received> {
        let deadline = Instant::now() + ARRIVAL;
        loop {
            let found: Vec<Received> = self.received().into_iter().filter(&matches).collect();
            if found.len() >= count || Instant::now() > deadline {
                assert!(
                    found.len() >= count,
                    "{} of {count} expected deliveries arrived within {ARRIVAL:?}; received: {:#?}",
                    found.len(),
                    self.received()
                        .iter()
                        .map(|r| r.json.clone())
                        .collect::<Vec<_>>()
                );
                return found;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

/// Adds an endpoint receiving every event type, with a new secret, straight into the store.
pub async fn endpoint(
    server: &TestServer,
    account: AccountId,
    url: &str,
) -> (EndpointId, EndpointSecret) {
    let secret = EndpointSecret::generate(&OsRandom).unwrap();
    (endpoint_with(server, account, url, &secret).await, secret)
}

/// Adds an endpoint receiving every event type, signing with `secret`.
pub async fn endpoint_with(
    server: &TestServer,
    account: AccountId,
    url: &str,
    secret: &EndpointSecret,
) -> EndpointId {
    let sealed = server
        .state
        .webhooks
        .seal()
        .seal(secret, &OsRandom)
        .unwrap();
    let now = server.clock.now();
    let endpoint = Endpoint {
        id: EndpointId::new_at(now),
        account_id: account,
        url: url.into(),
        description: "test receiver".into(),
        events: Subscription::All,
        state: EndpointState::Active,
        sealed_secret: sealed,
        previous_secret: None,
        created_at: now,
        updated_at: now,
    };
    server
        .service()
        .store()
        .insert_endpoint(
            &endpoint,
            &event(account, Action::WebhookEndpointAdded, now),
        )
        .await
        .unwrap();
    endpoint.id
}

/// An audit event by the operator.
pub fn event(account: AccountId, action: Action, at: time::OffsetDateTime) -> AuditEvent {
    AuditEvent {
        id: EventId::new_at(at),
        account_id: account,
        action,
        actor: Actor::cli(),
        key_id: None,
        detail: action.as_str().into(),
        at,
    }
}

/// Replaces an endpoint's secret; the old one signs for 24 more hours.
pub async fn rotate_secret(
    server: &TestServer,
    account: AccountId,
    id: EndpointId,
) -> EndpointSecret {
    let secret = EndpointSecret::generate(&OsRandom).unwrap();
    rotate_secret_to(server, account, id, &secret).await;
    secret
}

/// Replaces an endpoint's secret with `secret`; the old one signs for 24 more hours.
pub async fn rotate_secret_to(
    server: &TestServer,
    account: AccountId,
    id: EndpointId,
    secret: &EndpointSecret,
) {
    let sealed = server
        .state
        .webhooks
        .seal()
        .seal(secret, &OsRandom)
        .unwrap();
    let now = server.clock.now();
    server
        .service()
        .store()
        .rotate_endpoint_secret(
            account,
            id,
            &sealed,
            now + time::Duration::hours(24),
            &event(account, Action::WebhookSecretRotated, now),
        )
        .await
        .unwrap();
}

/// The endpoint's attempts, oldest first.
pub async fn attempts(
    server: &TestServer,
    account: AccountId,
    id: EndpointId,
) -> Vec<LoggedAttempt> {
    let mut attempts = server
        .service()
        .store()
        .attempts_of_endpoint(account, id, None, 100)
        .await
        .unwrap();
    attempts.reverse();
    attempts
}

/// Waits (up to [`ARRIVAL`]) until the store holds `count` attempts to the endpoint.
pub async fn wait_for_attempts(
    server: &TestServer,
    account: AccountId,
    id: EndpointId,
    count: usize,
) -> Vec<LoggedAttempt> {
    let deadline = Instant::now() + ARRIVAL;
    loop {
        let found = attempts(server, account, id).await;
        if found.len() >= count || Instant::now() > deadline {
            assert!(
                found.len() >= count,
                "{} of {count} attempts recorded: {found:#?}",
                found.len()
            );
            return found;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Waits (up to [`ARRIVAL`]) until nothing is waiting to be sent or in flight: a request can
/// arrive before its attempt is recorded, and a clock moved by days in between would end the
/// sender's claim under it and have the delivery sent again.
pub async fn settle(server: &TestServer) {
    let deadline = Instant::now() + ARRIVAL;
    loop {
        let backlog = server.service().store().webhook_backlog().await.unwrap();
        if backlog.queued == 0 {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{} events or deliveries still waiting",
            backlog.queued
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// The signatures of the `webhook-signature` header that `secret` made, checked independently
/// of the server's code: base64 of HMAC-SHA256 over `id.timestamp.body`, keyed with the bytes
/// the `whsec_` text encodes. Returns, for each signature in the header, whether it verifies.
pub fn signatures_verified_by(received: &Received, secret: &EndpointSecret) -> Vec<bool> {
    let key = STANDARD
        .decode(secret.reveal().strip_prefix("whsec_").unwrap())
        .unwrap();
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&key).unwrap();
    mac.update(received.header("webhook-id").as_bytes());
    mac.update(b".");
    mac.update(received.header("webhook-timestamp").as_bytes());
    mac.update(b".");
    mac.update(&received.body);
    let expected = STANDARD.encode(mac.finalize().into_bytes());
    received
        .header("webhook-signature")
        .split(' ')
        .map(|part| {
            let (version, signature) = part.split_once(',').unwrap();
            assert_eq!(version, "v1");
            signature == expected
        })
        .collect()
}

/// A console token of the account's admin.
pub async fn admin_token(server: &TestServer, email: &str) -> String {
    server.sign_in(email).await.0
}

/// A console API call; the answer's status and JSON body.
pub async fn call(
    server: &TestServer,
    token: &str,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut request = server
        .http
        .request(method, server.url(path))
        .bearer_auth(token);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    let body = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap()
    };
    (status, body)
}

/// Creates a restricted key; its id and the whole answer (with the secret).
pub async fn create_key(server: &TestServer, token: &str, label: &str) -> (String, Value) {
    let (status, body) = call(
        server,
        token,
        reqwest::Method::POST,
        "/v1/api-keys/",
        Some(serde_json::json!({ "label": label, "type": "live", "scopes": ["payroll:read"] })),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    (body["id"].as_str().unwrap().to_owned(), body)
}

/// Percentile `p` (0–100) of sorted values.
pub fn percentile(sorted: &[Duration], p: usize) -> Duration {
    let index = (sorted.len() * p).div_ceil(100).saturating_sub(1);
    sorted[index.min(sorted.len() - 1)]
}
