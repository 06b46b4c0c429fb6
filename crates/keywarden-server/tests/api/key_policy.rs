//! A key's own policy (SPEC §9): allowed addresses, rate and usage limits, metadata. Stored and
//! shown by the console API, checked by both verification endpoints with the exact refusals,
//! kept by rotation, and refused with a JSON 400 naming the field when a value is wrong.

use crate::support::{
    api_key, assert_invalid_field, create_key, forward_auth, forward_auth_from, get, key_id_of,
    patch, post, send,
};
use base64::Engine;
use keywarden_testkit::TestServer;
use serde_json::{Value, json};
use time::Duration;

/// Creates a restricted key with `extra` fields; returns its secret and the answer's body.
async fn create_with(server: &TestServer, token: &str, extra: Value) -> (String, Value) {
    let mut body = json!({"label": "policy", "type": "live", "scopes": ["payroll:read"]});
    for (name, value) in extra.as_object().unwrap() {
        body[name] = value.clone();
    }
    let reply = post(server, token, "/v1/api-keys/", &body).await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    (reply.str_field("key").to_owned(), reply.body.clone())
}

/// `POST /v1/verify/` for `key` with `extra` fields.
async fn verify(server: &TestServer, key: &str, extra: Value) -> crate::support::Reply {
    let mut body = json!({ "key": key });
    for (name, value) in extra.as_object().unwrap() {
        body[name] = value.clone();
    }
    send(server.http.post(server.url("/v1/verify/")).json(&body)).await
}

#[tokio::test]
async fn a_policy_is_stored_shown_changed_and_removed() {
    let server = TestServer::start().await;
    let account = server.account("Acme").await;
    let (token, _) = server.sign_in(&account.admin_email).await;
    let (_, created) = create_with(
        &server,
        &token,
        json!({
            "allowed_ips": ["203.0.113.7", "10.0.0.0/8", " 2001:db8::/32 ", "203.0.113.7"],
            "rate_limit": {"limit": 100, "period_seconds": 60},
            "usage_limit": {"limit": 10000, "period": "month"},
            "metadata": {"customer": "acme-42", "plan": {"tier": "gold"}}
        }),
    )
    .await;
    assert_eq!(
        created["allowed_ips"],
        json!(["203.0.113.7", "10.0.0.0/8", "2001:db8::/32"]),
        "trimmed, the duplicate dropped, a single address without /32"
    );
    assert_eq!(
        created["rate_limit"],
        json!({"limit": 100, "period_seconds": 60})
    );
    assert_eq!(
        created["usage_limit"],
        json!({"limit": 10000, "period": "month"})
    );
    assert_eq!(
        created["metadata"],
        json!({"customer": "acme-42", "plan": {"tier": "gold"}})
    );
    let path = format!("/v1/api-keys/{}/", created["id"].as_str().unwrap());
    let shown = get(&server, &token, &path).await;
    for field in ["allowed_ips", "rate_limit", "usage_limit", "metadata"] {
        assert_eq!(shown.body[field], created[field], "{field}");
    }

    // A label change keeps the policy; null removes one part; a value replaces another.
    let relabelled = patch(&server, &token, &path, &json!({"label": "renamed"})).await;
    assert_eq!(relabelled.status, 200, "{}", relabelled.text);
    assert_eq!(relabelled.body["rate_limit"], created["rate_limit"]);
    let changed = patch(
        &server,
        &token,
        &path,
        &json!({"rate_limit": null, "allowed_ips": ["::1"], "metadata": {"b": 2, "a": 1}}),
    )
    .await;
    assert_eq!(changed.status, 200, "{}", changed.text);
    assert_eq!(changed.body["rate_limit"], Value::Null);
    assert_eq!(changed.body["allowed_ips"], json!(["::1"]));
    assert_eq!(
        serde_json::to_string(&changed.body["metadata"]).unwrap(),
        r#"{"b":2,"a":1}"#,
        "the customer's fields keep their order"
    );
    assert_eq!(changed.body["usage_limit"], created["usage_limit"]);

    // The audit trail names what changed, never the metadata's values.
    let audit = get(&server, &token, "/v1/audit-events/").await;
    let details: Vec<&str> = audit.body["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["detail"].as_str())
        .collect();
    assert!(
        details.iter().any(|d| d.contains("rate limit removed")
            && d.contains("allowed addresses → ::1")
            && d.contains("metadata → 2 fields")),
        "{details:?}"
    );
    assert!(!audit.text.contains("acme-42"), "{}", audit.text);
}

#[tokio::test]
async fn wrong_policy_values_are_400_naming_the_field_and_change_nothing() {
    let server = TestServer::start().await;
    let account = server.account("Acme").await;
    let (token, _) = server.sign_in(&account.admin_email).await;
    let (_, created) = create_key(&server, &token, "plain", "test", &["payroll:read"]).await;
    let path = format!("/v1/api-keys/{}/", key_id_of(&created));
    let many: Vec<String> = (0..101).map(|i| format!("10.0.{i}.0/24")).collect();
    let big = "x".repeat(5000);
    for (body, field, words) in [
        (json!({"allowed_ips": []}), "allowed_ips", "send null"),
        (
            json!({"allowed_ips": ["10.1.2.3/8"]}),
            "allowed_ips",
            "10.0.0.0/8",
        ),
        (
            json!({"allowed_ips": ["localhost"]}),
            "allowed_ips",
            "'localhost'",
        ),
        (json!({"allowed_ips": many}), "allowed_ips", "101 entries"),
        (
            json!({"rate_limit": {"limit": 0, "period_seconds": 60}}),
            "rate_limit",
            "from 1",
        ),
        (
            json!({"rate_limit": {"limit": 5, "period_seconds": 90000}}),
            "rate_limit",
            "usage_limit",
        ),
        (
            json!({"usage_limit": {"limit": 5, "period": "week"}}),
            "usage_limit",
            "day, month, total",
        ),
        (json!({"metadata": {"blob": big}}), "metadata", "4096"),
    ] {
        for (method, target) in [("PATCH", path.as_str()), ("POST", "/v1/api-keys/")] {
            let reply = if method == "PATCH" {
                patch(&server, &token, target, &body).await
            } else {
                let mut full = json!({"label": "x", "type": "test", "scopes": ["payroll:read"]});
                for (name, value) in body.as_object().unwrap() {
                    full[name] = value.clone();
                }
                post(&server, &token, target, &full).await
            };
            assert_invalid_field(&reply, field);
            assert!(
                reply.str_field("detail").contains(words),
                "{method} {body}: {}",
                reply.text
            );
        }
    }
    // Not an object, not a number: the body's reader names the field.
    for body in [
        json!({"metadata": [1, 2]}),
        json!({"rate_limit": {"limit": "many", "period_seconds": 1}}),
        json!({"rate_limit": {"limit": 1, "period_seconds": 1, "burst": 3}}),
    ] {
        let reply = patch(&server, &token, &path, &body).await;
        assert_eq!(reply.status, 400, "{body}: {}", reply.text);
    }
    let shown = get(&server, &token, &path).await;
    for field in ["allowed_ips", "rate_limit", "usage_limit", "metadata"] {
        assert_eq!(shown.body[field], Value::Null, "{field} changed");
    }
    let keys = get(&server, &token, "/v1/api-keys/?type=test").await;
    assert_eq!(
        keys.body["results"].as_array().unwrap().len(),
        2,
        "no key was created: {}",
        keys.text
    );
}

#[tokio::test]
async fn an_allowlist_admits_its_addresses_and_refuses_others_on_both_endpoints() {
    let server = TestServer::start().await;
    let account = server.account("Acme").await;
    let (token, _) = server.sign_in(&account.admin_email).await;
    let (key, _) = create_with(
        &server,
        &token,
        json!({"allowed_ips": ["198.51.100.0/24", "2001:db8:1::/48"]}),
    )
    .await;
    let auth = api_key(&key);
    for client in [
        "198.51.100.9",
        "2001:db8:1:ffff::1",
        "::ffff:198.51.100.200",
    ] {
        let reply = forward_auth_from(&server, client, Some(&auth), "GET", "/v1/payroll/x").await;
        assert_eq!(reply.status, 200, "{client}: {}", reply.text);
    }
    for client in ["198.51.101.9", "2001:db8:2::1", "127.0.0.1"] {
        let reply = forward_auth_from(&server, client, Some(&auth), "GET", "/v1/payroll/x").await;
        reply.assert_error(403).assert_body(&json!({
            "detail": format!("This API key may not be used from {client}."),
            "code": "ip_not_allowed"
        }));
    }
    // From the loopback peer itself (no forwarded address): refused as 127.0.0.1.
    let reply = forward_auth(&server, Some(&auth), "GET", "/v1/payroll/x").await;
    assert_eq!(reply.body["code"], "ip_not_allowed");
    // A refused address is not a failed presentation: it never locks the client out.
    for _ in 0..70 {
        forward_auth_from(&server, "203.0.113.1", Some(&auth), "GET", "/v1/payroll/x").await;
    }
    let reply =
        forward_auth_from(&server, "203.0.113.1", Some(&auth), "GET", "/v1/payroll/x").await;
    assert_eq!(reply.body["code"], "ip_not_allowed", "{}", reply.text);

    // `POST /v1/verify/`: the body's `client_ip`, else this request's client.
    let reply = verify(&server, &key, json!({"client_ip": "198.51.100.1"})).await;
    assert_eq!(reply.body["valid"], true, "{}", reply.text);
    let reply = verify(&server, &key, json!({"client_ip": "192.0.2.1"})).await;
    assert_eq!(
        reply.body,
        json!({
            "valid": false,
            "code": "ip_not_allowed",
            "detail": "This API key may not be used from 192.0.2.1."
        })
    );
    let reply = verify(&server, &key, json!({})).await;
    assert_eq!(reply.body["code"], "ip_not_allowed", "{}", reply.text);
    let reply = verify(&server, &key, json!({"client_ip": "nine"})).await;
    assert_invalid_field(&reply, "client_ip");
    assert_eq!(
        crate::support::metric(
            &server,
            "keywarden_key_checks_total{outcome=\"ip_not_allowed\"}"
        )
        .await,
        77
    );
}

#[tokio::test]
async fn metadata_reaches_both_endpoints() {
    let server = TestServer::start().await;
    let account = server.account("Acme").await;
    let (token, _) = server.sign_in(&account.admin_email).await;
    let metadata = json!({"customer": "acme-42", "seats": 12, "note": "ünïcödé"});
    let (key, _) = create_with(&server, &token, json!({ "metadata": metadata })).await;
    let reply = forward_auth(&server, Some(&api_key(&key)), "GET", "/v1/payroll/x").await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let header = reply.header("x-keywarden-metadata").unwrap();
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(header)
        .unwrap();
    assert_eq!(serde_json::from_slice::<Value>(&decoded).unwrap(), metadata);
    let reply = verify(&server, &key, json!({})).await;
    assert_eq!(reply.body["metadata"], metadata, "{}", reply.text);
    // A key without metadata sends no header and no field.
    let reply = forward_auth(&server, Some(&api_key(&account.live_key)), "GET", "/v1/x").await;
    assert!(reply.header("x-keywarden-metadata").is_none());
    let reply = verify(&server, &account.live_key, json!({})).await;
    assert!(reply.body.get("metadata").is_none(), "{}", reply.text);
}

#[tokio::test]
async fn a_rate_limit_allows_exactly_its_limit_then_429_until_the_window_slides() {
    let server = TestServer::start().await;
    let account = server.account("Acme").await;
    let (token, _) = server.sign_in(&account.admin_email).await;
    let (key, _) = create_with(
        &server,
        &token,
        json!({"rate_limit": {"limit": 3, "period_seconds": 60}}),
    )
    .await;
    let auth = api_key(&key);
    // The test clock stands at 12:00:00, the start of a window.
    for remaining in ["2", "1"] {
        let reply = forward_auth(&server, Some(&auth), "GET", "/v1/payroll/x").await;
        assert_eq!(reply.status, 200, "{}", reply.text);
        assert_eq!(reply.header("ratelimit-limit"), Some("3"));
        assert_eq!(reply.header("ratelimit-remaining"), Some(remaining));
        assert_eq!(reply.header("ratelimit-reset"), Some("60"));
    }
    let reply = verify(&server, &key, json!({})).await;
    assert_eq!(reply.body["valid"], true);
    assert_eq!(
        reply.body["rate_limit"],
        json!({"limit": 3, "remaining": 0, "reset": "2026-06-01T12:01:00Z"})
    );
    assert_eq!(reply.header("ratelimit-remaining"), Some("0"));

    let reply = forward_auth(&server, Some(&auth), "GET", "/v1/payroll/x").await;
    reply.assert_error(429).assert_body(&json!({
        "detail": "This API key has reached its rate limit. Retry in 80 seconds, or ask an admin for a higher limit.",
        "code": "key_rate_limited"
    }));
    // 3 in the last window weigh 3 × (60 − e)/60: one more fits 20 s into the next window.
    assert_eq!(reply.header("retry-after"), Some("80"));
    assert_eq!(reply.header("ratelimit-remaining"), Some("0"));
    let reply = verify(&server, &key, json!({})).await;
    assert_eq!(reply.body["code"], "key_rate_limited", "{}", reply.text);

    server.advance(Duration::seconds(79)).await;
    let reply = forward_auth(&server, Some(&auth), "GET", "/v1/payroll/x").await;
    assert_eq!(reply.status, 429, "{}", reply.text);
    server.advance(Duration::seconds(1)).await;
    let reply = forward_auth(&server, Some(&auth), "GET", "/v1/payroll/x").await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    // Other keys are not limited.
    let reply = forward_auth(&server, Some(&api_key(&account.live_key)), "GET", "/v1/x").await;
    assert_eq!(reply.status, 200);
    assert!(reply.header("ratelimit-limit").is_none());
}

#[tokio::test]
async fn a_usage_limit_refuses_until_its_period_resets() {
    let server = TestServer::start().await;
    let account = server.account("Acme").await;
    let (token, _) = server.sign_in(&account.admin_email).await;
    let (daily, _) = create_with(
        &server,
        &token,
        json!({"usage_limit": {"limit": 2, "period": "day"}}),
    )
    .await;
    let (forever, _) = create_with(
        &server,
        &token,
        json!({"usage_limit": {"limit": 1, "period": "total"}}),
    )
    .await;
    let reply = verify(&server, &daily, json!({})).await;
    assert_eq!(
        reply.body["usage_limit"],
        json!({"limit": 2, "remaining": 1, "reset": "2026-06-02T00:00:00Z"})
    );
    let reply = forward_auth(&server, Some(&api_key(&daily)), "GET", "/v1/payroll/x").await;
    assert_eq!(reply.status, 200);
    let reply = forward_auth(&server, Some(&api_key(&daily)), "GET", "/v1/payroll/x").await;
    reply.assert_error(429).assert_body(&json!({
        "detail": "This API key has used all 2 requests of its usage limit; it resets at 2026-06-02T00:00:00Z.",
        "code": "usage_limit_exceeded",
        "resets_at": "2026-06-02T00:00:00Z"
    }));
    assert_eq!(reply.header("retry-after"), Some("43200"));
    // The key's metadata says where it stands once the counts are flushed (a refused request
    // is not counted).
    server.state.keys.flush_usage().await.unwrap();
    let keys = get(&server, &token, "/v1/api-keys/?kind=restricted").await;
    let usage: Vec<&Value> = keys.body["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| &k["usage"])
        .collect();
    assert_eq!(
        usage,
        [
            &json!({"used": 0, "remaining": 1, "resets_at": null}),
            &json!({"used": 2, "remaining": 0, "resets_at": "2026-06-02T00:00:00Z"}),
        ],
        "{}",
        keys.text
    );

    assert_eq!(
        verify(&server, &forever, json!({})).await.body["valid"],
        true
    );
    let reply = verify(&server, &forever, json!({})).await;
    assert_eq!(reply.body["code"], "usage_limit_exceeded");
    assert_eq!(reply.body["resets_at"], Value::Null, "{}", reply.text);
    assert!(reply.body.as_object().unwrap().contains_key("resets_at"));

    server.advance(Duration::hours(12)).await;
    let reply = forward_auth(&server, Some(&api_key(&daily)), "GET", "/v1/payroll/x").await;
    assert_eq!(reply.status, 200, "a new day: {}", reply.text);
    let reply = verify(&server, &forever, json!({})).await;
    assert_eq!(
        reply.body["code"], "usage_limit_exceeded",
        "total never resets"
    );
}

#[tokio::test]
async fn rotation_keeps_the_policy_and_a_standard_key_may_carry_one() {
    let server = TestServer::start().await;
    let account = server.account("Acme").await;
    let (token, _) = server.sign_in(&account.admin_email).await;
    let (_, created) = create_with(
        &server,
        &token,
        json!({"allowed_ips": ["10.0.0.0/8"], "metadata": {"team": "billing"}}),
    )
    .await;
    let id = created["id"].as_str().unwrap();
    let rotated = post(
        &server,
        &token,
        &format!("/v1/api-keys/{id}/rotate/"),
        &json!({}),
    )
    .await;
    assert_eq!(rotated.status, 200, "{}", rotated.text);
    let successor = rotated.body["key"].as_str().unwrap().to_owned();
    assert_eq!(rotated.body["allowed_ips"], json!(["10.0.0.0/8"]));
    assert_eq!(rotated.body["metadata"], json!({"team": "billing"}));
    let reply = forward_auth_from(
        &server,
        "192.0.2.1",
        Some(&api_key(&successor)),
        "GET",
        "/v1/payroll/x",
    )
    .await;
    assert_eq!(reply.body["code"], "ip_not_allowed");

    // A standard key: its scopes and expiry are fixed, its policy is not.
    let standard = get(&server, &token, "/v1/api-keys/?kind=standard&type=live").await;
    let standard_id = standard.body["results"][0]["id"].as_str().unwrap();
    let reply = patch(
        &server,
        &token,
        &format!("/v1/api-keys/{standard_id}/"),
        &json!({"allowed_ips": ["192.0.2.0/24"]}),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let reply = forward_auth_from(
        &server,
        "198.51.100.1",
        Some(&api_key(&account.live_key)),
        "GET",
        "/v1/x",
    )
    .await;
    assert_eq!(reply.body["code"], "ip_not_allowed", "applied at once");
}
