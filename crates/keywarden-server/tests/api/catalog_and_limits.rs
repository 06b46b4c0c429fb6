//! The product catalog (`GET /v1/products/`) and the abuse limits of the console API: bodies
//! over the limit are a JSON 413, page sizes are capped.

use crate::support::{assert_invalid_field, get, send_raw};
use keywarden_core::key_format::KeyKind;
use keywarden_core::store::KeyFilter;
use keywarden_testkit::{TestServer, role};
use serde_json::{Value, json};

#[tokio::test]
async fn the_catalog_is_the_seven_default_products_with_two_scopes_each() {
    let server = TestServer::start().await;
    let account = server.account("Acme").await;
    let member = server
        .user(account.id, "mia@acme.test", role("member"))
        .await;
    let product = |id: &str, name: &str| json!({ "id": id, "name": name, "scopes": [format!("{id}:read"), format!("{id}:write")] });
    let expected = json!({
        "products": [
            product("asset", "Asset"),
            product("perks", "Perks"),
            product("payroll", "Payroll"),
            product("talent", "Talent"),
            product("health", "Health"),
            product("payments", "Payments"),
            product("ai-agents", "AI Agents"),
        ]
    });
    // Everyone signed in may read it: it is what the key form offers.
    for email in [account.admin_email.as_str(), member.as_str()] {
        let (token, _) = server.sign_in(email).await;
        let reply = get(&server, &token, "/v1/products/").await;
        assert_eq!(reply.status, 200, "{email}: {}", reply.text);
        reply.assert_json().assert_body(&expected);
    }
    // And every scope it lists is one a key can be given.
    let (token, _) = server.sign_in(&account.admin_email).await;
    let scopes: Vec<Value> = expected["products"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|p| p["scopes"].as_array().unwrap().clone())
        .collect();
    let reply = crate::support::post(
        &server,
        &token,
        "/v1/api-keys/",
        &json!({ "label": "everything", "type": "test", "scopes": scopes }),
    )
    .await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    assert_eq!(reply.body["scopes"], json!(scopes));
}

#[tokio::test]
async fn a_100_kb_body_is_a_json_413_and_creates_nothing() {
    let server = TestServer::start().await;
    let account = server.account("Acme").await;
    let (token, _) = server.sign_in(&account.admin_email).await;
    // A new connection per request: the server may close one after answering early.
    let http = keywarden_testkit::http_client_builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    let body = serde_json::to_vec(&json!({
        "label": "x".repeat(100 * 1024),
        "type": "test",
        "scopes": ["asset:read"],
    }))
    .unwrap();
    assert!(body.len() > 100 * 1024);
    let (status, headers, text) = send_raw(
        http.post(server.url("/v1/api-keys/"))
            .bearer_auth(&token)
            .header("Content-Type", "application/json")
            .body(body),
    )
    .await;
    assert_eq!(status, 413, "{text}");
    assert!(
        headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/json")),
        "{headers:?}"
    );
    let body: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        body,
        json!({
            "detail": "The request body is too large. Send a smaller body.",
            "code": "payload_too_large",
        })
    );
    let filter = KeyFilter {
        kind: Some(KeyKind::Restricted),
        ..KeyFilter::default()
    };
    let keys = server
        .service()
        .store()
        .keys_of_account(account.id, &filter)
        .await
        .unwrap();
    assert!(keys.is_empty(), "{keys:?}");
    // Just under the limit is an ordinary 400 about the label, not a 413.
    let reply = crate::support::post(
        &server,
        &token,
        "/v1/api-keys/",
        &json!({ "label": "x".repeat(60 * 1024), "type": "test", "scopes": ["asset:read"] }),
    )
    .await;
    assert_invalid_field(&reply, "label");
}

#[tokio::test]
async fn page_sizes_are_capped() {
    let server = TestServer::start().await;
    let account = server.account("Acme").await;
    let (token, _) = server.sign_in(&account.admin_email).await;
    for query in [
        "limit=1000",
        "limit=101",
        "limit=0",
        "limit=-1",
        "limit=99999999999",
        "limit=ten",
    ] {
        let reply = get(&server, &token, &format!("/v1/api-keys/?{query}")).await;
        assert_eq!(reply.status, 400, "{query}: {}", reply.text);
        reply.assert_json();
        assert_eq!(reply.body["code"], "invalid", "{query}: {}", reply.text);
        assert_invalid_field(&reply, "limit");
    }
    let reply = get(&server, &token, "/v1/api-keys/?limit=100").await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    for query in ["limit=1000", "limit=201", "limit=0"] {
        let reply = get(&server, &token, &format!("/v1/audit-events/?{query}")).await;
        assert_invalid_field(&reply, "limit");
    }
    let reply = get(&server, &token, "/v1/audit-events/?limit=200").await;
    assert_eq!(reply.status, 200, "{}", reply.text);
}
