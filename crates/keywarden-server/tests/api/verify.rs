//! `POST /v1/verify/` (SPEC §4) and the verifier secret that guards both verification
//! endpoints.

use crate::support::{
    Reply, api_key, patch_standard_keys, restricted_key, send, standard_key, unknown_key,
};
use keywarden_core::audit::Actor;
use keywarden_core::key_format::{KeyKind, Mode};
use keywarden_server::config::SecretText;
use keywarden_testkit::TestServer;
use serde_json::{Value, json};
use time::Duration;
use time::macros::datetime;

async fn verify(server: &TestServer, body: &Value) -> Reply {
    send(server.http.post(server.url("/v1/verify/")).json(body)).await
}

const EVERY_SCOPE: [&str; 14] = [
    "asset:read",
    "asset:write",
    "perks:read",
    "perks:write",
    "payroll:read",
    "payroll:write",
    "talent:read",
    "talent:write",
    "health:read",
    "health:write",
    "payments:read",
    "payments:write",
    "ai-agents:read",
    "ai-agents:write",
];

#[tokio::test]
async fn a_valid_standard_key_is_described() {
    let server = TestServer::start().await;
    let account = server.account("Acme").await;
    for (mode, key) in [
        (Mode::Test, &account.test_key),
        (Mode::Live, &account.live_key),
    ] {
        let record = standard_key(&server, account.id, mode).await;
        for request in [
            json!({ "key": key }),
            json!({ "key": key, "scope": "payments:write" }),
        ] {
            let reply = verify(&server, &request).await;
            assert_eq!(reply.status, 200, "{}", reply.text);
            reply.assert_json().assert_body(&json!({
                "valid": true,
                "key_id": record.id.to_string(),
                "account_id": account.id.to_string(),
                "type": mode.as_str(),
                "kind": "standard",
                "scopes": EVERY_SCOPE,
                "expires_at": null,
            }));
        }
    }
}

#[tokio::test]
async fn a_valid_restricted_key_is_described_with_its_scopes_and_expiry() {
    let server = TestServer::start().await;
    let account = server.account("Acme").await;
    let expiry = datetime!(2026-06-02 12:00 UTC);
    let (key, record) = restricted_key(
        &server,
        account.id,
        Mode::Live,
        &["payroll:read", "talent:write"],
        Some(expiry),
    )
    .await;
    let expected = json!({
        "valid": true,
        "key_id": record.id.to_string(),
        "account_id": account.id.to_string(),
        "type": "live",
        "kind": "restricted",
        "scopes": ["payroll:read", "talent:read", "talent:write"],
        "expires_at": "2026-06-02T12:00:00Z",
    });
    for scope in [
        None,
        Some("payroll:read"),
        Some("talent:read"),
        Some("talent:write"),
    ] {
        let mut request = json!({ "key": key });
        if let Some(scope) = scope {
            request["scope"] = json!(scope);
        }
        let reply = verify(&server, &request).await;
        assert_eq!(reply.status, 200, "{scope:?}: {}", reply.text);
        reply.assert_body(&expected);
    }

    let reply = verify(&server, &json!({ "key": key, "scope": "payroll:write" })).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.body["valid"], false, "{}", reply.text);
    assert_eq!(reply.body["code"], "insufficient_scope");
    assert_eq!(reply.body["required_scope"], "payroll:write");
    assert!(
        reply.body.get("key_id").is_none(),
        "a refused key is not described: {}",
        reply.text
    );
}

#[tokio::test]
async fn invalid_keys_are_200_valid_false_with_the_code_of_section_3() {
    let server = TestServer::start().await;
    let account = server.account("Acme").await;
    let (token, _) = server.sign_in(&account.admin_email).await;

    let reply = verify(
        &server,
        &json!({ "key": unknown_key(KeyKind::Restricted, Mode::Test) }),
    )
    .await;
    assert_eq!(reply.status, 200);
    reply.assert_json().assert_body(&json!({
        "valid": false,
        "code": "key_not_found",
        "detail": "Invalid API Key",
    }));

    for (key, hint) in [
        ("", "empty"),
        ("sk_test_short", "46 characters"),
        ("Api-Key sk_test_x", "whitespace"),
        (
            "xx_test_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            "starts with `sk_`",
        ),
    ] {
        let reply = verify(&server, &json!({ "key": key })).await;
        assert_eq!(reply.status, 200, "{key:?}: {}", reply.text);
        assert_eq!(reply.body["valid"], false);
        assert_eq!(reply.body["code"], "invalid_key_format", "{key:?}");
        assert_eq!(reply.body["detail"], "Invalid API Key format");
        assert!(
            reply.str_field("hint").contains(hint),
            "{key:?}: {}",
            reply.text
        );
    }

    // Rotated at once, at 12:00.
    let rotated = patch_standard_keys(&server, &token, &json!({ "type": "test" })).await;
    assert_eq!(rotated.status, 200, "{}", rotated.text);
    let reply = verify(&server, &json!({ "key": account.test_key })).await;
    assert_eq!(reply.body["valid"], false);
    assert_eq!(reply.body["code"], "key_rotated");
    assert_eq!(reply.body["stopped_at"], "2026-06-01T12:00:00Z");

    // Revoked at 12:30.
    server.advance(Duration::minutes(30)).await;
    let live = standard_key(&server, account.id, Mode::Live).await;
    let revoked = server
        .service()
        .revoke_key(account.id, live.id, &Actor::cli())
        .await
        .unwrap();
    server.state.keys.apply(&[revoked]);
    let reply = verify(
        &server,
        &json!({ "key": account.live_key, "scope": "payroll:read" }),
    )
    .await;
    assert_eq!(reply.body["valid"], false);
    assert_eq!(reply.body["code"], "key_revoked");
    assert_eq!(reply.body["stopped_at"], "2026-06-01T12:30:00Z");

    // Expired at 13:00.
    let expiry = datetime!(2026-06-01 13:00 UTC);
    let (key, _) = restricted_key(
        &server,
        account.id,
        Mode::Test,
        &["asset:read"],
        Some(expiry),
    )
    .await;
    assert_eq!(
        verify(&server, &json!({ "key": key })).await.body["valid"],
        true
    );
    server.advance(Duration::minutes(30)).await;
    let reply = verify(&server, &json!({ "key": key })).await;
    assert_eq!(reply.body["valid"], false);
    assert_eq!(reply.body["code"], "key_expired");
    assert_eq!(reply.body["stopped_at"], "2026-06-01T13:00:00Z");
}

#[tokio::test]
async fn an_unknown_or_malformed_scope_is_400_naming_the_field() {
    let server = TestServer::start().await;
    let account = server.account("Acme").await;
    for scope in [
        "crm:read",
        "payroll:admin",
        "payroll",
        ":",
        "",
        "PAYROLL:READ",
    ] {
        let reply = verify(&server, &json!({ "key": account.test_key, "scope": scope })).await;
        reply.assert_error(400);
        assert_eq!(reply.body["field"], "scope", "{scope:?}: {}", reply.text);
        assert!(
            reply.str_field("detail").contains("scope"),
            "{}",
            reply.text
        );
    }
}

#[tokio::test]
async fn a_malformed_request_is_400_json() {
    let server = TestServer::start().await;
    let account = server.account("Acme").await;
    let url = server.url("/v1/verify/");
    let json_post = |body: String| {
        server
            .http
            .post(url.clone())
            .header("Content-Type", "application/json")
            .body(body)
    };
    for body in [
        "{".to_owned(),
        String::new(),
        "null".to_owned(),
        "[]".to_owned(),
        r#"{"scope": "payroll:read"}"#.to_owned(),
        r#"{"key": 5}"#.to_owned(),
        r#"{"key": null}"#.to_owned(),
        format!(r#"{{"key": "{}", "scope": 7}}"#, account.test_key),
        format!(r#"{{"key": "{}", "extra": true}}"#, account.test_key),
        format!(r#"{{"key": "{}"}} trailing"#, account.test_key),
    ] {
        let reply = send(json_post(body.clone())).await;
        reply.assert_error(400);
        assert!(!reply.str_field("detail").is_empty(), "{body}");
    }
    let reply = send(
        server
            .http
            .post(url.clone())
            .body(format!(r#"{{"key": "{}"}}"#, account.test_key)),
    )
    .await;
    reply.assert_error(400);
    assert!(
        reply
            .str_field("detail")
            .contains("Content-Type: application/json"),
        "{}",
        reply.text
    );
}

#[tokio::test]
async fn a_configured_verifier_secret_guards_both_verification_endpoints() {
    let secret = "verifier-secret-for-tests-0123456789";
    let server =
        TestServer::start_with(|c| c.verifier_secret = Some(SecretText(secret.into()))).await;
    let account = server.account("Acme").await;
    let body = json!({ "key": account.test_key });
    let verify_with = |value: Option<&str>| {
        let mut request = server.http.post(server.url("/v1/verify/")).json(&body);
        if let Some(value) = value {
            request = request.header("X-Keywarden-Verifier-Secret", value);
        }
        send(request)
    };
    let forward_with = |value: Option<&str>| {
        let mut request = server
            .http
            .get(server.url("/v1/forward-auth/"))
            .header("X-Original-Method", "GET")
            .header("X-Original-URI", "/v1/customers/")
            .header("Authorization", api_key(&account.test_key));
        if let Some(value) = value {
            request = request.header("X-Keywarden-Verifier-Secret", value);
        }
        send(request)
    };

    let wrong = "verifier-secret-for-tests-012345678X";
    for value in [None, Some(""), Some(wrong), Some(&secret[..10])] {
        for reply in [verify_with(value).await, forward_with(value).await] {
            reply.assert_error(401);
            assert_eq!(
                reply.body["code"], "verifier_secret_required",
                "{}",
                reply.text
            );
            assert!(
                reply
                    .str_field("detail")
                    .contains("X-Keywarden-Verifier-Secret")
            );
            assert!(reply.header("x-keywarden-key-id").is_none());
        }
    }
    let reply = verify_with(Some(secret)).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.body["valid"], true);
    let reply = forward_with(Some(secret)).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(
        reply.header("x-keywarden-account"),
        Some(account.id.to_string().as_str())
    );
}

#[tokio::test]
async fn without_a_verifier_secret_the_endpoints_are_open() {
    let server = TestServer::start().await;
    let account = server.account("Acme").await;
    let reply = send(
        server
            .http
            .post(server.url("/v1/verify/"))
            .header("X-Keywarden-Verifier-Secret", "anything")
            .json(&json!({ "key": account.live_key })),
    )
    .await;
    assert_eq!(reply.body["valid"], true, "{}", reply.text);
}
