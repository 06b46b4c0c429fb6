//! Webhook endpoints (SPEC §7), the admin side: an endpoint is added with its signing secret
//! shown once and never again; URLs must be public `http(s)` targets unless the operator allows
//! private ones; event types are checked; endpoints change, rotate their secret (the previous
//! one still signs for 24 hours), get a test event whose delivery shows in their log, and are
//! removed; a delivery can be retried. Admins only, each in their own account: another
//! account's ids answer exactly like missing ones.

use crate::support::{
    Reply, assert_invalid_field, assert_no_secret_in, call, delete, first_test_attempt, forbidden,
    get, not_provided, patch, post, test_delivery, webhook_endpoint,
};
use keywarden_core::Clock;
use keywarden_core::audit::Action;
use keywarden_core::ids::{AccountId, DeliveryId, EndpointId};
use keywarden_core::store::AttemptResult;
use keywarden_core::webhook::EndpointSecret;
use keywarden_testkit::{TestServer, role};
use reqwest::Method;
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A public address written as an IP, so no name is looked up; nothing is ever sent to it
/// (no event reaches these endpoints in the tests that use it).
const PUBLIC_URL: &str = "https://1.1.1.1/keywarden/hook?token=t0ps3cret";

const ENDPOINTS: &str = "/v1/webhook-endpoints/";

fn endpoint_path(id: &str) -> String {
    format!("/v1/webhook-endpoints/{id}/")
}

async fn create(server: &TestServer, token: &str, body: &Value) -> Reply {
    post(server, token, ENDPOINTS, body).await
}

/// A server whose webhooks may go to loopback and private addresses.
async fn private_targets_allowed() -> TestServer {
    TestServer::start_with(|config| config.webhooks.allow_private_targets = true).await
}

/// The account's audit events, oldest first, as `(action, detail)`.
async fn audit_trail(server: &TestServer, account: AccountId) -> Vec<(Action, String)> {
    let mut events = server
        .service()
        .store()
        .audit_events(account, 1000)
        .await
        .expect("audit events");
    events.sort_by_key(|e| (e.at, e.id));
    events.into_iter().map(|e| (e.action, e.detail)).collect()
}

fn assert_secret_shape(secret: &str) {
    assert!(secret.starts_with("whsec_"), "{secret}");
    assert_eq!(secret.len(), 6 + 44, "{secret}");
    let decoded = EndpointSecret::from_text(secret).expect("a whsec_ secret");
    assert_eq!(decoded.reveal(), secret);
}

#[tokio::test]
async fn an_endpoint_is_added_with_its_secret_shown_once_and_never_again() {
    let server = TestServer::start().await;
    let acme = server.account("Acme").await;
    let (token, _) = server.sign_in(&acme.admin_email).await;
    server.advance(Duration::minutes(1)).await;

    let reply = create(
        &server,
        &token,
        &json!({
            "url": PUBLIC_URL,
            "events": ["key.revoked", "key.created", "key.revoked"],
            "description": "  Security team's SIEM ",
        }),
    )
    .await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    reply.assert_json();
    let secret = reply.str_field("secret").to_owned();
    assert_secret_shape(&secret);
    let id = reply.str_field("id").to_owned();
    let expected = json!({
        "id": id,
        "url": PUBLIC_URL,
        "description": "Security team's SIEM",
        "events": ["key.created", "key.revoked"],
        "state": "active",
        "created_at": "2026-06-01T12:01:00Z",
        "updated_at": "2026-06-01T12:01:00Z",
    });
    let mut with_secret = expected.clone();
    with_secret["secret"] = Value::from(secret.clone());
    reply.assert_body(&with_secret);

    // Stored sealed: it opens, under the server secret, to the secret shown.
    let stored = server
        .service()
        .store()
        .endpoint(acme.id, id.parse().expect("an endpoint id"))
        .await
        .expect("read")
        .expect("stored");
    assert_eq!(stored.account_id, acme.id);
    assert!(stored.previous_secret.is_none());
    let opened = server
        .service()
        .webhook_seal()
        .open(&stored.sealed_secret)
        .expect("opens");
    assert_eq!(opened.reveal(), secret);
    let raw = EndpointSecret::from_text(&secret).expect("secret");
    assert_ne!(
        stored.sealed_secret,
        raw.reveal().into_bytes(),
        "stored in the clear"
    );

    // Never again: not in the endpoint, the list, or the audit trail.
    let one = get(&server, &token, &endpoint_path(&id)).await;
    assert_eq!(one.status, 200, "{}", one.text);
    one.assert_body(&expected);
    let list = get(&server, &token, ENDPOINTS).await;
    assert_eq!(list.status, 200, "{}", list.text);
    list.assert_body(&json!({ "results": [expected] }));
    for text in [&one.text, &list.text] {
        assert_no_secret_in(text, &[&secret, &secret[6..]]);
    }
    let trail = audit_trail(&server, acme.id).await;
    let (action, detail) = trail.last().expect("an audit event");
    assert_eq!(*action, Action::WebhookEndpointAdded);
    assert_eq!(
        detail,
        &format!("added webhook endpoint {id} (1.1.1.1) for key.created, key.revoked")
    );
    // The URL's path and query may carry a receiver's token: the trail names the host only.
    let all: String = trail.iter().map(|(_, d)| d.as_str()).collect();
    assert_no_secret_in(&all, &[&secret, &secret[6..], "t0ps3cret"]);

    // Every type at once, and no description.
    let all_types = create(
        &server,
        &token,
        &json!({ "url": PUBLIC_URL, "events": ["*"] }),
    )
    .await;
    assert_eq!(all_types.status, 201, "{}", all_types.text);
    assert_eq!(all_types.body["events"], json!(["*"]));
    assert_eq!(all_types.body["description"], "");
    // A list that holds "*" means every type too.
    let mixed = create(
        &server,
        &token,
        &json!({ "url": PUBLIC_URL, "events": ["*", "key.created", "*"] }),
    )
    .await;
    assert_eq!(mixed.status, 201, "{}", mixed.text);
    assert_eq!(mixed.body["events"], json!(["*"]));
    assert_ne!(
        all_types.str_field("secret"),
        secret,
        "each endpoint its own secret"
    );
}

#[tokio::test]
async fn private_and_malformed_urls_are_refused_naming_url() {
    let server = TestServer::start().await;
    let acme = server.account("Acme").await;
    let (token, _) = server.sign_in(&acme.admin_email).await;
    for url in [
        "http://127.0.0.1:9/hook",
        "http://10.0.0.1/hook",
        "http://[::1]/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://localhost:8080/hook",
    ] {
        let reply = create(&server, &token, &json!({ "url": url, "events": ["*"] })).await;
        assert_invalid_field(&reply, "url");
        let detail = reply.str_field("detail");
        assert!(
            detail.contains("loopback, private or link-local")
                && detail.contains("allow_private_targets"),
            "{url}: {detail}"
        );
    }
    for url in [
        "",
        "hooks.example.com/keywarden",
        "ftp://1.1.1.1/hook",
        "https://user:password@1.1.1.1/hook",
        "javascript:alert(1)",
    ] {
        let reply = create(&server, &token, &json!({ "url": url, "events": ["*"] })).await;
        assert_invalid_field(&reply, "url");
    }
    let reply = create(&server, &token, &json!({ "events": ["*"] })).await;
    assert_invalid_field(&reply, "url");
    assert!(
        server
            .service()
            .endpoints(acme.id)
            .await
            .expect("list")
            .is_empty(),
        "a refused endpoint was stored"
    );

    // A change to a private URL is refused the same way, and changes nothing.
    let id = webhook_endpoint(&server, acme.id, PUBLIC_URL).await;
    let before = get(&server, &token, &endpoint_path(&id.to_string())).await;
    let reply = patch(
        &server,
        &token,
        &endpoint_path(&id.to_string()),
        &json!({ "url": "http://10.0.0.1/hook" }),
    )
    .await;
    assert_invalid_field(&reply, "url");
    let after = get(&server, &token, &endpoint_path(&id.to_string())).await;
    assert_eq!(before.body, after.body);
}

#[tokio::test]
async fn private_urls_are_accepted_when_the_operator_allows_them() {
    let server = private_targets_allowed().await;
    let acme = server.account("Acme").await;
    let (token, _) = server.sign_in(&acme.admin_email).await;
    for url in ["http://127.0.0.1:9/hook", "http://10.0.0.1/hook"] {
        let reply = create(&server, &token, &json!({ "url": url, "events": ["*"] })).await;
        assert_eq!(reply.status, 201, "{url}: {}", reply.text);
        assert_eq!(reply.body["url"], url);
    }
    // The shape is still checked.
    let reply = create(
        &server,
        &token,
        &json!({ "url": "ftp://127.0.0.1/hook", "events": ["*"] }),
    )
    .await;
    assert_invalid_field(&reply, "url");
}

#[tokio::test]
async fn event_types_description_and_unknown_fields_are_checked() {
    let server = TestServer::start().await;
    let acme = server.account("Acme").await;
    let (token, _) = server.sign_in(&acme.admin_email).await;
    for events in [
        json!([]),
        json!(["key.revokd"]),
        json!(["KEY.CREATED"]),
        json!("key.created"),
        json!([1]),
        Value::Null,
    ] {
        let reply = create(
            &server,
            &token,
            &json!({ "url": PUBLIC_URL, "events": events }),
        )
        .await;
        assert_invalid_field(&reply, "events");
    }
    let reply = create(&server, &token, &json!({ "url": PUBLIC_URL })).await;
    assert_invalid_field(&reply, "events");
    assert_eq!(reply.body["detail"], "events: this field is required");
    let reply = create(
        &server,
        &token,
        &json!({ "url": PUBLIC_URL, "events": ["key.revokd"] }),
    )
    .await;
    assert!(
        reply.str_field("detail").contains("\"key.revokd\""),
        "the detail names the word: {}",
        reply.text
    );
    for description in [json!("x".repeat(201)), json!("two\nlines"), json!(5)] {
        let reply = create(
            &server,
            &token,
            &json!({ "url": PUBLIC_URL, "events": ["*"], "description": description }),
        )
        .await;
        assert_invalid_field(&reply, "description");
    }
    // A client may not choose the secret, the state or the id.
    for (field, value) in [
        ("secret", json!("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")),
        ("state", json!("disabled")),
        ("id", json!("0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b")),
    ] {
        let mut body = json!({ "url": PUBLIC_URL, "events": ["*"] });
        body[field] = value;
        let reply = create(&server, &token, &body).await;
        assert_invalid_field(&reply, field);
    }
    let reply = create(
        &server,
        &token,
        &json!({ "url": PUBLIC_URL, "events": ["*"], "description": "d".repeat(200) }),
    )
    .await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    assert_eq!(
        server
            .service()
            .endpoints(acme.id)
            .await
            .expect("list")
            .len(),
        1
    );
}

#[tokio::test]
async fn patch_changes_what_it_names_and_turns_deliveries_off_and_on() {
    let server = TestServer::start().await;
    let acme = server.account("Acme").await;
    let (token, _) = server.sign_in(&acme.admin_email).await;
    let reply = create(
        &server,
        &token,
        &json!({ "url": PUBLIC_URL, "events": ["key.revoked"], "description": "SIEM" }),
    )
    .await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    let id = reply.str_field("id").to_owned();
    let path = endpoint_path(&id);
    server.advance(Duration::minutes(5)).await;

    let reply = patch(
        &server,
        &token,
        &path,
        &json!({ "events": ["key.leaked", "key.revoked"], "state": "disabled" }),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    reply.assert_body(&json!({
        "id": id,
        "url": PUBLIC_URL,
        "description": "SIEM",
        "events": ["key.revoked", "key.leaked"],
        "state": "disabled",
        "created_at": "2026-06-01T12:00:00Z",
        "updated_at": "2026-06-01T12:05:00Z",
    }));
    assert!(reply.body.get("secret").is_none());

    // A field is left out or given a value: null changes nothing and is refused, naming it.
    for field in ["state", "url", "description", "events"] {
        let mut body = json!({ "description": "changed" });
        body[field] = Value::Null;
        let refused = patch(&server, &token, &path, &body).await;
        assert_invalid_field(&refused, field);
    }

    server.advance(Duration::minutes(5)).await;
    let reply = patch(
        &server,
        &token,
        &path,
        &json!({ "url": "https://8.8.8.8/hooks", "description": "", "events": ["*"], "state": "active" }),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    reply.assert_body(&json!({
        "id": id,
        "url": "https://8.8.8.8/hooks",
        "description": "",
        "events": ["*"],
        "state": "active",
        "created_at": "2026-06-01T12:00:00Z",
        "updated_at": "2026-06-01T12:10:00Z",
    }));
    assert_eq!(get(&server, &token, &path).await.body, reply.body);

    for (body, field) in [
        (json!({ "state": "failing" }), "state"),
        (json!({ "state": "paused" }), "state"),
        (json!({ "events": [] }), "events"),
        (json!({ "events": ["user.deleted"] }), "events"),
        (json!({ "description": "d".repeat(201) }), "description"),
        (json!({ "url": "ftp://8.8.8.8/" }), "url"),
        (
            json!({ "secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw" }),
            "secret",
        ),
        (
            json!({ "created_at": "2020-01-01T00:00:00Z" }),
            "created_at",
        ),
        (json!({}), "url"),
    ] {
        let refused = patch(&server, &token, &path, &body).await;
        assert_invalid_field(&refused, field);
    }
    assert_eq!(get(&server, &token, &path).await.body, reply.body);

    let trail = audit_trail(&server, acme.id).await;
    let updates: Vec<&str> = trail
        .iter()
        .filter(|(a, _)| *a == Action::WebhookEndpointUpdated)
        .map(|(_, d)| d.as_str())
        .collect();
    assert_eq!(
        updates,
        [
            format!(
                "updated webhook endpoint {id} (1.1.1.1): events [key.revoked] → [key.revoked, key.leaked]; state active → disabled"
            ),
            format!(
                "updated webhook endpoint {id} (1.1.1.1): url host 1.1.1.1 → 8.8.8.8; description changed; events [key.revoked, key.leaked] → [*]; state disabled → active"
            ),
        ]
    );
}

#[tokio::test]
async fn rotating_the_secret_returns_a_new_one_and_keeps_the_previous_for_24_hours() {
    let server = TestServer::start().await;
    let acme = server.account("Acme").await;
    let (token, _) = server.sign_in(&acme.admin_email).await;
    let reply = create(
        &server,
        &token,
        &json!({ "url": PUBLIC_URL, "events": ["*"] }),
    )
    .await;
    let first = reply.str_field("secret").to_owned();
    let id = reply.str_field("id").to_owned();
    server.advance(Duration::hours(1)).await;
    let (token, _) = server.sign_in(&acme.admin_email).await;

    let rotate = format!("/v1/webhook-endpoints/{id}/rotate-secret/");
    let reply = call(&server, Method::POST, &rotate, Some(&token), None).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let second = reply.str_field("secret").to_owned();
    assert_secret_shape(&second);
    assert_ne!(second, first);
    reply.assert_body(&json!({
        "secret": second,
        "previous_valid_until": "2026-06-02T13:00:00Z",
    }));

    let stored = server
        .service()
        .store()
        .endpoint(acme.id, id.parse().expect("id"))
        .await
        .expect("read")
        .expect("stored");
    let seal = server.service().webhook_seal();
    assert_eq!(
        seal.open(&stored.sealed_secret).expect("opens").reveal(),
        second
    );
    let (previous, until) = stored.previous_secret.expect("the previous secret is kept");
    assert_eq!(seal.open(&previous).expect("opens").reveal(), first);
    assert_eq!(until, server.clock.now() + Duration::hours(24));

    // Shown once: not in the endpoint, and a second rotation gives yet another secret.
    let one = get(&server, &token, &endpoint_path(&id)).await;
    assert_eq!(one.status, 200, "{}", one.text);
    assert_no_secret_in(&one.text, &[&first, &second]);
    let again = post(&server, &token, &rotate, &json!({})).await;
    assert_eq!(again.status, 200, "{}", again.text);
    assert_ne!(again.str_field("secret"), second);

    let trail = audit_trail(&server, acme.id).await;
    let rotations: Vec<&String> = trail
        .iter()
        .filter(|(a, _)| *a == Action::WebhookSecretRotated)
        .map(|(_, d)| d)
        .collect();
    assert_eq!(rotations.len(), 2);
    assert_eq!(
        rotations[0],
        &format!(
            "rotated the signing secret of webhook endpoint {id} (1.1.1.1); the previous secret also signs until 2026-06-02T13:00:00Z"
        )
    );
    let all: String = trail.iter().map(|(_, d)| d.as_str()).collect();
    assert_no_secret_in(&all, &[&first, &second, &first[6..], &second[6..]]);
}

#[tokio::test]
async fn a_removed_endpoint_is_gone() {
    let server = TestServer::start().await;
    let acme = server.account("Acme").await;
    let (token, _) = server.sign_in(&acme.admin_email).await;
    let reply = create(
        &server,
        &token,
        &json!({ "url": PUBLIC_URL, "events": ["*"] }),
    )
    .await;
    let id = reply.str_field("id").to_owned();
    let path = endpoint_path(&id);

    let removed = delete(&server, &token, &path).await;
    assert_eq!(removed.status, 204, "{}", removed.text);
    assert!(removed.text.is_empty());
    let missing = json!({
        "detail": "No such webhook endpoint in your account. Check the id, or list them first.",
        "code": "not_found",
    });
    for reply in [
        get(&server, &token, &path).await,
        delete(&server, &token, &path).await,
        patch(&server, &token, &path, &json!({ "description": "back?" })).await,
        post(&server, &token, &format!("{path}test/"), &json!({})).await,
        post(
            &server,
            &token,
            &format!("{path}rotate-secret/"),
            &json!({}),
        )
        .await,
        get(&server, &token, &format!("{path}deliveries/")).await,
    ] {
        reply.assert_error(404).assert_body(&missing);
    }
    get(&server, &token, ENDPOINTS)
        .await
        .assert_body(&json!({ "results": [] }));
    let trail = audit_trail(&server, acme.id).await;
    assert_eq!(
        trail.last().map(|(a, d)| (*a, d.clone())),
        Some((
            Action::WebhookEndpointRemoved,
            format!("removed webhook endpoint {id} (1.1.1.1)")
        ))
    );
    // Ids that are not ids are simply not found.
    get(&server, &token, &endpoint_path("not-an-id"))
        .await
        .assert_error(404)
        .assert_body(&missing);
}

/// What a receiver got: each request's head (lower-cased) and body.
type Received = Arc<Mutex<Vec<(String, Vec<u8>)>>>;

/// A receiver on a loopback port that answers every request 204 and keeps what it got.
struct Receiver {
    url: String,
    requests: Received,
}

async fn receiver() -> Receiver {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}/keywarden", listener.local_addr().expect("addr"));
    let requests: Received = Arc::default();
    let kept = requests.clone();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let kept = kept.clone();
            tokio::spawn(async move {
                let mut data = Vec::new();
                let mut buf = [0u8; 4096];
                loop {
                    let Ok(n) = stream.read(&mut buf).await else {
                        return;
                    };
                    if n == 0 {
                        return;
                    }
                    data.extend_from_slice(&buf[..n]);
                    let text = String::from_utf8_lossy(&data).to_string();
                    if let Some(end) = text.find("\r\n\r\n") {
                        let head = text[..end].to_ascii_lowercase();
                        let length: usize = head
                            .lines()
                            .find_map(|l| l.strip_prefix("content-length:"))
                            .and_then(|v| v.trim().parse().ok())
                            .unwrap_or(0);
                        if data.len() >= end + 4 + length {
                            let body = data[end + 4..end + 4 + length].to_vec();
                            kept.lock().expect("lock").push((head, body));
                            let _ = stream
                                .write_all(b"HTTP/1.1 204 No Content\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
                                .await;
                            return;
                        }
                    }
                }
            });
        }
    });
    Receiver { url, requests }
}

#[tokio::test]
async fn a_test_event_is_queued_and_its_delivery_shows_in_the_log_and_can_be_retried() {
    let server = private_targets_allowed().await;
    let acme = server.account("Acme").await;
    let globex = server.account("Globex").await;
    let (token, _) = server.sign_in(&acme.admin_email).await;
    let (globex_token, _) = server.sign_in(&globex.admin_email).await;
    let receiver = receiver().await;
    // Subscribed to one type only: a test event goes to the endpoint whatever it wants.
    let reply = create(
        &server,
        &token,
        &json!({ "url": receiver.url, "events": ["key.revoked"] }),
    )
    .await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    let secret = reply.str_field("secret").to_owned();
    let id = reply.str_field("id").to_owned();
    let endpoint: EndpointId = id.parse().expect("id");
    let deliveries = format!("/v1/webhook-endpoints/{id}/deliveries/");
    let empty = get(&server, &token, &deliveries).await;
    assert_eq!(empty.status, 200, "{}", empty.text);
    empty.assert_body(&json!({ "results": [], "next_cursor": null }));

    let reply = post(
        &server,
        &token,
        &format!("/v1/webhook-endpoints/{id}/test/"),
        &json!({}),
    )
    .await;
    assert_eq!(reply.status, 202, "{}", reply.text);
    reply.assert_body(&json!({ "endpoint_id": id, "event_type": "webhook.test" }));
    let trail = audit_trail(&server, acme.id).await;
    assert_eq!(
        trail.last().map(|(a, d)| (*a, d.clone())),
        Some((
            Action::WebhookTestSent,
            format!(
                "sent a webhook.test event to webhook endpoint {id} ({})",
                receiver.url["http://".len()..]
                    .split('/')
                    .next()
                    .unwrap_or_default()
            )
        ))
    );

    // The worker delivers it to the receiver (or the test does, through the store).
    let logged = first_test_attempt(
        &server,
        acme.id,
        endpoint,
        AttemptResult::Delivered,
        Some(204),
    )
    .await;
    let log = get(&server, &token, &deliveries).await;
    assert_eq!(log.status, 200, "{}", log.text);
    let item = &log.body["results"][0];
    assert!(item["duration_ms"].is_u64(), "{}", log.text);
    log.assert_body(&json!({
        "results": [{
            "id": logged.delivery.id.to_string(),
            "event_id": logged.delivery.event_id.to_string(),
            "event_type": "webhook.test",
            "attempt": 1,
            "at": item["at"],
            "status": 204,
            "error": null,
            "duration_ms": item["duration_ms"],
            "state": "delivered",
        }],
        "next_cursor": null,
    }));
    // When the worker sent it, it is signed with the endpoint's secret (Standard Webhooks).
    let sent = receiver.requests.lock().expect("lock").clone();
    for (head, body) in &sent {
        let header = |name: &str| {
            head.lines()
                .find_map(|l| l.strip_prefix(&format!("{name}:")))
                .map(|v| v.trim().to_owned())
                .unwrap_or_default()
        };
        let webhook_id = header("webhook-id");
        let timestamp: i64 = header("webhook-timestamp").parse().expect("a timestamp");
        let signature =
            EndpointSecret::from_text(&secret)
                .expect("secret")
                .sign(&webhook_id, timestamp, body);
        assert!(
            header("webhook-signature")
                .split(' ')
                .any(|s| s == signature),
            "{head}"
        );
        assert!(!String::from_utf8_lossy(body).contains(&secret[6..]));
    }

    // Paging: limit and cursor are checked.
    for (query, field) in [
        ("?limit=0", "limit"),
        ("?limit=101", "limit"),
        ("?cursor=yesterday", "cursor"),
        ("?page=2", "page"),
    ] {
        let reply = get(&server, &token, &format!("{deliveries}{query}")).await;
        assert_invalid_field(&reply, field);
    }
    let page = get(&server, &token, &format!("{deliveries}?limit=1")).await;
    assert_eq!(page.body["results"].as_array().map(Vec::len), Some(1));
    assert_eq!(page.body["next_cursor"], Value::Null);

    // Retry: pending again, due now; another account's admin cannot see or retry it.
    let retry = format!("/v1/webhook-deliveries/{}/retry/", logged.delivery.id);
    let missing_delivery = json!({
        "detail": "No such webhook delivery in your account. Check the id, or list them first.",
        "code": "not_found",
    });
    post(&server, &globex_token, &retry, &json!({}))
        .await
        .assert_error(404)
        .assert_body(&missing_delivery);
    let unknown = DeliveryId::new_at(server.clock.now());
    post(
        &server,
        &token,
        &format!("/v1/webhook-deliveries/{unknown}/retry/"),
        &json!({}),
    )
    .await
    .assert_error(404)
    .assert_body(&missing_delivery);
    get(&server, &globex_token, &deliveries)
        .await
        .assert_error(404);
    server.advance(Duration::minutes(1)).await;
    let reply = call(&server, Method::POST, &retry, Some(&token), None).await;
    assert_eq!(reply.status, 202, "{}", reply.text);
    reply.assert_body(&json!({
        "id": logged.delivery.id.to_string(),
        "endpoint_id": id,
        "event_id": logged.delivery.event_id.to_string(),
        "event_type": "webhook.test",
        "attempts": 1,
        "state": "pending",
        "next_attempt_at": "2026-06-01T12:01:00Z",
        "created_at": reply.body["created_at"],
    }));
    let trail = audit_trail(&server, acme.id).await;
    assert_eq!(
        trail.last().map(|(a, d)| (*a, d.clone())),
        Some((
            Action::WebhookDeliveryRetried,
            format!("asked to retry webhook delivery {} now", logged.delivery.id)
        ))
    );
}

#[tokio::test]
async fn a_disabled_endpoint_still_gets_a_test_event() {
    let server = private_targets_allowed().await;
    let acme = server.account("Acme").await;
    let (token, _) = server.sign_in(&acme.admin_email).await;
    let receiver = receiver().await;
    let endpoint = webhook_endpoint(&server, acme.id, &receiver.url).await;
    let path = endpoint_path(&endpoint.to_string());
    let reply = patch(&server, &token, &path, &json!({ "state": "disabled" })).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let logged = test_delivery(
        &server,
        acme.id,
        endpoint,
        AttemptResult::Delivered,
        Some(204),
    )
    .await;
    assert_eq!(logged.delivery.endpoint_id, endpoint);
    let log = get(&server, &token, &format!("{path}deliveries/")).await;
    assert_eq!(log.body["results"][0]["event_type"], "webhook.test");
}

#[tokio::test]
async fn another_accounts_endpoints_answer_exactly_like_missing_ones() {
    let server = TestServer::start().await;
    let acme = server.account("Acme").await;
    let globex = server.account("Globex").await;
    let theirs = webhook_endpoint(&server, acme.id, PUBLIC_URL).await;
    let before = server.service().endpoints(acme.id).await.expect("list");
    let (token, _) = server.sign_in(&globex.admin_email).await;
    let missing = EndpointId::new_at(server.clock.now());
    for (method, suffix, body) in [
        (Method::GET, "", None),
        (
            Method::PATCH,
            "",
            Some(json!({ "state": "disabled", "url": "https://8.8.8.8/mine" })),
        ),
        (Method::DELETE, "", None),
        (Method::POST, "rotate-secret/", Some(json!({}))),
        (Method::POST, "test/", Some(json!({}))),
        (Method::GET, "deliveries/", None),
    ] {
        let a = call(
            &server,
            method.clone(),
            &format!("/v1/webhook-endpoints/{theirs}/{suffix}"),
            Some(&token),
            body.as_ref(),
        )
        .await;
        let b = call(
            &server,
            method.clone(),
            &format!("/v1/webhook-endpoints/{missing}/{suffix}"),
            Some(&token),
            body.as_ref(),
        )
        .await;
        a.assert_error(404);
        assert_eq!(
            a.body, b.body,
            "{method} {suffix}: {} vs {}",
            a.text, b.text
        );
        assert_eq!(a.body["code"], "not_found");
    }
    // Globex sees none of Acme's endpoints, and Acme's is untouched.
    get(&server, &token, ENDPOINTS)
        .await
        .assert_body(&json!({ "results": [] }));
    assert_eq!(
        server.service().endpoints(acme.id).await.expect("list"),
        before
    );
    assert!(
        audit_trail(&server, acme.id)
            .await
            .iter()
            .all(|(a, _)| *a != Action::WebhookTestSent && *a != Action::WebhookSecretRotated)
    );
}

#[tokio::test]
async fn only_admins_manage_webhooks() {
    let server = TestServer::start().await;
    let acme = server.account("Acme").await;
    let developer = server
        .user(acme.id, "dev@acme.test", role("developer"))
        .await;
    let member = server.user(acme.id, "mia@acme.test", role("member")).await;
    let endpoint = webhook_endpoint(&server, acme.id, PUBLIC_URL).await;
    let before = server.service().endpoints(acme.id).await.expect("list");
    let delivery = DeliveryId::new_at(server.clock.now());
    let requests = [
        (Method::GET, ENDPOINTS.to_owned(), None),
        (
            Method::POST,
            ENDPOINTS.to_owned(),
            Some(json!({ "url": PUBLIC_URL, "events": ["*"] })),
        ),
        (Method::GET, endpoint_path(&endpoint.to_string()), None),
        (
            Method::PATCH,
            endpoint_path(&endpoint.to_string()),
            Some(json!({ "state": "disabled" })),
        ),
        (Method::DELETE, endpoint_path(&endpoint.to_string()), None),
        (
            Method::POST,
            format!("/v1/webhook-endpoints/{endpoint}/rotate-secret/"),
            None,
        ),
        (
            Method::POST,
            format!("/v1/webhook-endpoints/{endpoint}/test/"),
            None,
        ),
        (
            Method::GET,
            format!("/v1/webhook-endpoints/{endpoint}/deliveries/"),
            None,
        ),
        (
            Method::POST,
            format!("/v1/webhook-deliveries/{delivery}/retry/"),
            None,
        ),
    ];
    for email in [developer, member] {
        let (token, _) = server.sign_in(&email).await;
        for (method, path, body) in &requests {
            let reply = call(&server, method.clone(), path, Some(&token), body.as_ref()).await;
            reply.assert_error(403).assert_body(&forbidden());
        }
    }
    for (method, path, body) in &requests {
        let reply = call(&server, method.clone(), path, None, body.as_ref()).await;
        reply.assert_error(401).assert_body(&not_provided());
    }
    assert_eq!(
        server.service().endpoints(acme.id).await.expect("list"),
        before
    );
}
