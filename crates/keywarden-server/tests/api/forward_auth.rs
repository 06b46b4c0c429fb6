//! `GET /v1/forward-auth/` (SPEC §3 and §4): every row of the failure table, scopes and the
//! default route table, the three header forms, and the failure limit.

use crate::support::{
    api_key, assert_key_stopped, assert_key_works, b64, basic, bearer, forward_auth,
    forward_auth_from, forward_auth_raw, patch_standard_keys, restricted_key, rfc3339, send,
    standard_key, unknown_key,
};
use keywarden_core::audit::Actor;
use keywarden_core::key_format::{KeyKind, Mode};
use keywarden_testkit::TestServer;
use reqwest::header::HeaderValue;
use serde_json::json;
use time::Duration;
use time::macros::datetime;

const NOT_PROVIDED: &str = "Authentication credentials were not provided.";

#[tokio::test]
async fn no_authorization_header_is_401_not_provided() {
    let server = TestServer::start().await;
    for (method_header, uri_header) in [
        ("X-Original-Method", "X-Original-URI"),
        ("X-Forwarded-Method", "X-Forwarded-Uri"),
    ] {
        let reply = send(
            server
                .http
                .get(server.url("/v1/forward-auth/"))
                .header(method_header, "GET")
                .header(uri_header, "/v1/customers/"),
        )
        .await;
        reply
            .assert_error(401)
            .assert_body(&json!({ "detail": NOT_PROVIDED }));
        let challenge = reply.header("www-authenticate").unwrap();
        for scheme in ["Basic", "Api-Key", "Bearer"] {
            assert!(
                challenge.contains(scheme),
                "challenge {challenge:?} lacks {scheme}"
            );
        }
    }
}

/// One malformed `Authorization` value and the words its hint must contain.
struct Malformed {
    case: &'static str,
    value: HeaderValue,
    hint: String,
}

fn malformed(case: &'static str, value: impl AsRef<[u8]>, hint: impl Into<String>) -> Malformed {
    Malformed {
        case,
        value: HeaderValue::from_bytes(value.as_ref()).unwrap(),
        hint: hint.into(),
    }
}

#[tokio::test]
async fn every_malformation_is_401_invalid_key_format_with_a_hint() {
    let server = TestServer::start().await;
    let account = server.account("Acme").await;
    // A key that works: each malformation must be refused although the key inside is valid.
    let key = account.test_key.clone();
    assert_key_works(&server, &key).await;
    let (console_token, _) = server.sign_in(&account.admin_email).await;

    let mut bad_char = key.clone().into_bytes();
    bad_char[20] = b'-';
    let mut bad_checksum = key.clone().into_bytes();
    bad_checksum[45] = if bad_checksum[45] == b'A' { b'B' } else { b'A' };
    let mut case_flipped = key.clone().into_bytes();
    let flip = case_flipped
        .iter()
        .rposition(u8::is_ascii_alphabetic)
        .unwrap();
    case_flipped[flip] ^= 0x20;
    let mut non_text = format!("Api-Key {key}").into_bytes();
    non_text[20] = 0xff;

    let cases = vec![
        malformed(
            "unknown scheme",
            format!("Token {key}"),
            "Unknown authorization scheme",
        ),
        malformed(
            "Digest scheme",
            format!("Digest {key}"),
            "Unknown authorization scheme",
        ),
        malformed("no scheme", key.as_str(), "needs a scheme"),
        malformed("empty value", "", "empty"),
        malformed("bad base64", "Basic %%%not*base64%%%", "not valid base64"),
        malformed(
            "no colon in Basic",
            format!("Basic {}", b64(&key)),
            "no colon",
        ),
        malformed(
            "password after the colon",
            format!("Basic {}", b64(&format!("{key}:hunter2"))),
            "carry a password",
        ),
        malformed(
            "key as the Basic password",
            format!("Basic {}", b64(&format!(":{key}"))),
            "carry a password",
        ),
        malformed(
            "nothing before the Basic colon",
            format!("Basic {}", b64(":")),
            "empty",
        ),
        malformed(
            "space before the key in Basic",
            format!("Basic {}", b64(&format!(" {key}:"))),
            "whitespace",
        ),
        malformed(
            "space after the key in Basic",
            format!("Basic {}", b64(&format!("{key} :"))),
            "whitespace",
        ),
        malformed(
            "space inside the base64",
            format!("Basic {} {}", &b64(&key)[..8], &b64(&key)[8..]),
            "whitespace",
        ),
        malformed(
            "two spaces before the key",
            format!("Api-Key  {key}"),
            "whitespace",
        ),
        malformed(
            "two spaces before a Bearer key",
            format!("Bearer  {key}"),
            "whitespace",
        ),
        malformed(
            "space inside the key",
            format!("Api-Key {} {}", &key[..20], &key[20..]),
            "whitespace",
        ),
        malformed(
            "tab inside the key",
            format!("Api-Key {}\t{}", &key[..20], &key[20..]),
            "whitespace",
        ),
        malformed(
            "truncated",
            format!("Api-Key {}", &key[..30]),
            "46 characters long; this one has 30",
        ),
        malformed(
            "one extra character",
            format!("Api-Key {key}A"),
            "this one has 47",
        ),
        malformed(
            "pasted twice",
            format!("Api-Key {key}{key}"),
            "this one has 92",
        ),
        malformed("prefix only", "Api-Key sk_te", "this one has 5"),
        malformed(
            "wrong kind",
            format!("Api-Key pk_{}", &key[3..]),
            "starts with `sk_`",
        ),
        malformed(
            "wrong mode",
            format!("Api-Key sk_prod{}", &key[7..]),
            "`test_` or `live_`",
        ),
        malformed(
            "wrong character",
            [b"Api-Key ".as_slice(), &bad_char].concat(),
            "Character 21 of the API key is not allowed",
        ),
        malformed(
            "bad checksum",
            [b"Api-Key ".as_slice(), &bad_checksum].concat(),
            "checksum",
        ),
        malformed(
            "one letter's case changed",
            [b"Api-Key ".as_slice(), &case_flipped].concat(),
            "checksum",
        ),
        malformed(
            "JWT-looking Bearer value",
            "Bearer eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0In0.c2lnbmF0dXJl",
            "not an API key",
        ),
        malformed(
            "a console access token",
            bearer(&console_token),
            "not an API key",
        ),
        malformed("bytes that are not text", non_text, "not text"),
        malformed(
            "oversized 64 KB value",
            format!("Api-Key {}", "A".repeat(64 * 1024)),
            format!("{} bytes long", 64 * 1024 + 8),
        ),
        malformed(
            "oversized Basic value",
            format!("Basic {}", b64(&"k".repeat(300))),
            "far longer",
        ),
    ];

    for (row, Malformed { case, value, hint }) in cases.into_iter().enumerate() {
        for (method_header, uri_header) in [
            ("X-Original-Method", "X-Original-URI"),
            ("X-Forwarded-Method", "X-Forwarded-Uri"),
        ] {
            let reply = send(
                server
                    .http
                    .get(server.url("/v1/forward-auth/"))
                    .header(method_header, "GET")
                    .header(uri_header, "/v1/customers/")
                    .header("Authorization", value.clone())
                    // a fresh client per row, so the failure limit never interferes
                    .header("X-Forwarded-For", format!("198.51.100.{row}")),
            )
            .await;
            reply.assert_error(401);
            assert_eq!(
                reply.body["detail"], "Invalid API Key format",
                "{case}: {}",
                reply.text
            );
            assert_eq!(
                reply.body["code"], "invalid_key_format",
                "{case}: {}",
                reply.text
            );
            let got = reply.str_field("hint");
            assert!(
                got.contains(&hint),
                "{case}: hint {got:?} should contain {hint:?}"
            );
            assert_eq!(
                reply.body.as_object().unwrap().len(),
                3,
                "{case}: {}",
                reply.text
            );
            assert!(
                !reply.text.contains(&key),
                "{case}: the answer echoes the key"
            );
        }
    }
}

#[tokio::test]
async fn two_authorization_headers_are_refused() {
    let server = TestServer::start().await;
    let account = server.account("Acme").await;
    let reply = send(
        server
            .http
            .get(server.url("/v1/forward-auth/"))
            .header("X-Original-Method", "GET")
            .header("X-Original-URI", "/v1/customers/")
            .header("Authorization", api_key(&account.test_key))
            .header("Authorization", api_key(&account.live_key)),
    )
    .await;
    reply.assert_error(401);
    assert_eq!(reply.body["code"], "invalid_key_format");
    assert!(
        reply
            .str_field("hint")
            .contains("more than one Authorization header")
    );
}

#[tokio::test]
async fn a_well_formed_unknown_key_is_key_not_found() {
    let server = TestServer::start().await;
    server.account("Acme").await;
    for kind in [KeyKind::Standard, KeyKind::Restricted] {
        for mode in Mode::ALL {
            let key = unknown_key(kind, mode);
            for authorization in [api_key(&key), bearer(&key), basic(&key)] {
                let reply =
                    forward_auth(&server, Some(&authorization), "GET", "/v1/customers/").await;
                reply
                    .assert_error(401)
                    .assert_body(&json!({ "detail": "Invalid API Key", "code": "key_not_found" }));
            }
        }
    }
}

#[tokio::test]
async fn a_revoked_key_is_key_revoked_from_the_moment_of_revocation() {
    let server = TestServer::start().await;
    let account = server.account("Acme").await;
    let test = standard_key(&server, account.id, Mode::Test).await;
    server.advance(Duration::minutes(5)).await;

    // Revoked through the domain service, as the operator CLI or another instance would: the
    // server learns of it from the store's change feed.
    let revoked = server
        .service()
        .revoke_key(account.id, test.id, &Actor::cli())
        .await
        .expect("revoke");
    server.state.keys.catch_up().await.unwrap();

    let at = rfc3339(datetime!(2026-06-01 12:05 UTC));
    assert_eq!(revoked.revoked_at.map(rfc3339), Some(at.clone()));
    for authorization in [
        api_key(&account.test_key),
        bearer(&account.test_key),
        basic(&account.test_key),
    ] {
        let reply = forward_auth(&server, Some(&authorization), "GET", "/v1/customers/").await;
        reply.assert_error(401);
        assert_eq!(reply.body["code"], "key_revoked", "{}", reply.text);
        assert_eq!(reply.body["stopped_at"], at.as_str());
    }
    assert_key_stopped(&server, &account.test_key, "key_revoked", &at).await;
    // Still revoked a year later, with the same time.
    server.advance(Duration::days(365)).await;
    assert_key_stopped(&server, &account.test_key, "key_revoked", &at).await;
    // The other key of the account is untouched.
    assert_key_works(&server, &account.live_key).await;
}

#[tokio::test]
async fn a_key_revoked_through_the_api_is_refused_by_the_very_next_request() {
    let server = TestServer::start().await;
    let account = server.account("Acme").await;
    let (token, _) = server.sign_in(&account.admin_email).await;
    let (restricted, record) =
        restricted_key(&server, account.id, Mode::Live, &["payroll:read"], None).await;
    let live = standard_key(&server, account.id, Mode::Live).await;
    server.advance(Duration::minutes(7)).await;
    for (key, id) in [
        (restricted.as_str(), record.id),
        (account.live_key.as_str(), live.id),
    ] {
        let path = format!("/v1/api-keys/{id}/");
        let reply = send(server.http.delete(server.url(&path)).bearer_auth(&token)).await;
        assert_eq!(reply.status, 200, "{}", reply.text);
        assert_eq!(reply.body["status"], "revoked", "{}", reply.text);
        assert_key_stopped(&server, key, "key_revoked", "2026-06-01T12:07:00Z").await;
        let stored = crate::support::stored_key(&server, account.id, id).await;
        assert_eq!(
            stored.lifecycle,
            keywarden_core::key_record::Lifecycle::Revoked
        );
    }
    assert_key_works(&server, &account.test_key).await;
}

#[tokio::test]
async fn a_rotated_key_past_its_grace_is_key_rotated() {
    let server = TestServer::start().await;
    let account = server.account("Acme").await;
    let (token, _) = server.sign_in(&account.admin_email).await;
    let reply = patch_standard_keys(
        &server,
        &token,
        &json!({ "type": "live", "expire_previous_in": 60 }),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text);

    server.advance(Duration::seconds(59)).await;
    assert_key_works(&server, &account.live_key).await;
    server.advance(Duration::seconds(1)).await;
    assert_key_stopped(
        &server,
        &account.live_key,
        "key_rotated",
        "2026-06-01T12:01:00Z",
    )
    .await;
    assert_key_works(&server, reply.str_field("key")).await;
}

#[tokio::test]
async fn an_expired_key_works_until_its_expiry_and_not_at_it() {
    let server = TestServer::start().await;
    let account = server.account("Acme").await;
    let expiry = datetime!(2026-06-01 13:00 UTC);
    let (key, _) = restricted_key(
        &server,
        account.id,
        Mode::Test,
        &["payroll:read"],
        Some(expiry),
    )
    .await;
    let auth = api_key(&key);
    let check = || forward_auth(&server, Some(&auth), "GET", "/v1/payroll/runs");

    assert_eq!(check().await.status, 200);
    server
        .advance(Duration::minutes(59) + Duration::seconds(59))
        .await;
    assert_eq!(
        check().await.status,
        200,
        "one second before the expiry the key works"
    );
    server.advance(Duration::seconds(1)).await;
    let reply = check().await;
    reply.assert_error(401);
    assert_eq!(reply.body["code"], "key_expired", "{}", reply.text);
    assert_eq!(reply.body["stopped_at"], "2026-06-01T13:00:00Z");

    server.advance(Duration::days(30)).await;
    let reply = check().await;
    assert_eq!(reply.body["code"], "key_expired");
    assert_eq!(
        reply.body["stopped_at"], "2026-06-01T13:00:00Z",
        "the expiry, not the time of asking"
    );
}

fn insufficient(scope: &str) -> serde_json::Value {
    json!({
        "detail": format!("This API key does not have the '{scope}' permission."),
        "code": "insufficient_scope",
        "required_scope": scope,
    })
}

#[tokio::test]
async fn a_restricted_key_reaches_only_what_its_scopes_name() {
    let server = TestServer::start().await;
    let account = server.account("Acme").await;
    let (key, record) =
        restricted_key(&server, account.id, Mode::Live, &["payroll:read"], None).await;
    let auth = api_key(&key);

    for (method, uri) in [
        ("GET", "/v1/payroll/x"),
        ("GET", "/v1/payroll"),
        ("GET", "/v1/payroll/"),
        ("HEAD", "/v1/payroll/employees/7"),
        ("GET", "/v1/payroll/x?next=/v1/health/x"),
        ("GET", "/v1/payroll/John%20Doe"),
    ] {
        let reply = forward_auth(&server, Some(&auth), method, uri).await;
        assert_eq!(reply.status, 200, "{method} {uri}: {}", reply.text);
        assert_eq!(
            reply.header("x-keywarden-account"),
            Some(account.id.to_string().as_str())
        );
        assert_eq!(
            reply.header("x-keywarden-key-id"),
            Some(record.id.to_string().as_str())
        );
        assert_eq!(reply.header("x-keywarden-mode"), Some("live"));
    }

    for method in ["POST", "PUT", "PATCH", "DELETE"] {
        let reply = forward_auth(&server, Some(&auth), method, "/v1/payroll/x").await;
        reply
            .assert_error(403)
            .assert_body(&insufficient("payroll:write"));
        assert!(reply.header("x-keywarden-key-id").is_none());
    }
    for uri in ["/v1/health/x", "/v1/health", "/v1/payments/"] {
        let reply = forward_auth(&server, Some(&auth), "GET", uri).await;
        let product = uri.split('/').nth(2).unwrap();
        reply
            .assert_error(403)
            .assert_body(&insufficient(&format!("{product}:read")));
    }

    // Paths of no product need a key with access to every product.
    let tricks = [
        "/v1/customers/",
        "/",
        "/v1/payroll/../health/x",
        "/v1/payroll/%2e%2e/health/x",
        "/v1/payroll/%2E%2E/health/x",
        "/v1/payroll/./../health/x",
        "/v1/payroll%2fhealth/x",
        "/v1/payroll%2Fhealth/x",
        "/v1/payroll/..%2fhealth/x",
        "/v1/payroll/..%5chealth/x",
        "/v1/payroll/..\\health/x",
        "/v1/payroll/%252e%252e/health/x",
        "//v1/payroll/x",
        "/v1//payroll/x",
        "v1/payroll/x",
        "/V1/PAYROLL/x",
        "/v1/payrollx/",
        "/v1/payroll-admin/",
        "https://evil.example/v1/payroll/x",
    ];
    for uri in tricks {
        let reply = forward_auth(&server, Some(&auth), "GET", uri).await;
        reply.assert_error(403);
        assert_eq!(
            reply.body["code"], "insufficient_scope",
            "{uri}: {}",
            reply.text
        );
        assert!(reply.header("x-keywarden-account").is_none(), "{uri}");
        // The same paths are open to the standard key, which reaches everything.
        let standard = forward_auth(&server, Some(&api_key(&account.live_key)), "GET", uri).await;
        assert_eq!(
            standard.status, 200,
            "standard key on {uri}: {}",
            standard.text
        );
    }
}

#[tokio::test]
async fn a_write_scope_implies_read() {
    let server = TestServer::start().await;
    let account = server.account("Acme").await;
    let (key, _) = restricted_key(&server, account.id, Mode::Test, &["payroll:write"], None).await;
    for method in ["GET", "POST", "DELETE"] {
        let reply = forward_auth(&server, Some(&api_key(&key)), method, "/v1/payroll/x").await;
        assert_eq!(reply.status, 200, "{method}: {}", reply.text);
    }
    let reply = forward_auth(&server, Some(&api_key(&key)), "GET", "/v1/talent/x").await;
    reply
        .assert_error(403)
        .assert_body(&insufficient("talent:read"));
}

#[tokio::test]
async fn the_forwarded_method_and_uri_variant_decides_the_scope_too() {
    let server = TestServer::start().await;
    let account = server.account("Acme").await;
    let (key, _) = restricted_key(&server, account.id, Mode::Test, &["payroll:read"], None).await;
    let traefik = |method: &'static str, uri: &'static str| {
        server
            .http
            .get(server.url("/v1/forward-auth/"))
            .header("X-Forwarded-Method", method)
            .header("X-Forwarded-Uri", uri)
            .header("Authorization", api_key(&key))
    };
    assert_eq!(send(traefik("GET", "/v1/payroll/x")).await.status, 200);
    send(traefik("POST", "/v1/payroll/x"))
        .await
        .assert_error(403)
        .assert_body(&insufficient("payroll:write"));
    send(traefik("GET", "/v1/health/x"))
        .await
        .assert_error(403)
        .assert_body(&insufficient("health:read"));
    assert_eq!(
        send(traefik("GET", "/v1/payroll/../health/x")).await.status,
        403
    );
}

#[tokio::test]
async fn a_standard_key_passes_with_its_account_id_and_mode() {
    let server = TestServer::start().await;
    let account = server.account("Acme").await;
    server.account("Other").await;
    for (mode, key) in [
        (Mode::Test, &account.test_key),
        (Mode::Live, &account.live_key),
    ] {
        let record = standard_key(&server, account.id, mode).await;
        for (method, uri) in [
            ("GET", "/v1/customers/"),
            ("POST", "/v1/customers/"),
            ("DELETE", "/v1/payroll/x"),
        ] {
            let reply = forward_auth(&server, Some(&api_key(key)), method, uri).await;
            assert_eq!(reply.status, 200, "{method} {uri}: {}", reply.text);
            assert_eq!(
                reply.header("x-keywarden-account"),
                Some(account.id.to_string().as_str())
            );
            assert_eq!(
                reply.header("x-keywarden-key-id"),
                Some(record.id.to_string().as_str())
            );
            assert_eq!(reply.header("x-keywarden-mode"), Some(mode.as_str()));
        }
    }
}

#[tokio::test]
async fn all_three_header_forms_are_accepted() {
    let server = TestServer::start().await;
    let account = server.account("Acme").await;
    let key = &account.test_key;
    let forms = [
        basic(key),
        api_key(key),
        bearer(key),
        format!("basic {}", b64(&format!("{key}:"))),
        format!("api-key {key}"),
        format!("BEARER {key}"),
    ];
    for authorization in forms {
        let reply = forward_auth(&server, Some(&authorization), "GET", "/v1/customers/").await;
        assert_eq!(reply.status, 200, "{authorization}: {}", reply.text);
        assert_eq!(reply.header("x-keywarden-mode"), Some("test"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixty_failures_a_minute_per_client_then_429_but_valid_keys_still_pass() {
    let server = TestServer::start().await;
    let account = server.account("Acme").await;
    let client = "203.0.113.7";
    let wrong = api_key(&unknown_key(KeyKind::Standard, Mode::Test));

    for attempt in 1..=60 {
        let reply = forward_auth_from(&server, client, Some(&wrong), "GET", "/v1/customers/").await;
        assert_eq!(reply.status, 401, "attempt {attempt}: {}", reply.text);
    }
    let reply = forward_auth_from(&server, client, Some(&wrong), "GET", "/v1/customers/").await;
    reply.assert_error(429);
    assert_eq!(reply.body["code"], "rate_limited", "{}", reply.text);
    assert!(!reply.str_field("detail").is_empty());
    let retry_after: i64 = reply
        .header("retry-after")
        .expect("Retry-After")
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry_after), "Retry-After {retry_after}");
    // Malformed presentations are limited too.
    let reply = forward_auth_from(&server, client, Some("Api-Key nope"), "GET", "/x").await;
    assert_eq!(reply.status, 429, "{}", reply.text);

    // The real key of the same client still works, and other clients are not affected.
    let ok = forward_auth_from(
        &server,
        client,
        Some(&api_key(&account.test_key)),
        "GET",
        "/v1/customers/",
    )
    .await;
    assert_eq!(ok.status, 200, "{}", ok.text);
    let other = forward_auth_from(
        &server,
        "203.0.113.8",
        Some(&wrong),
        "GET",
        "/v1/customers/",
    )
    .await;
    assert_eq!(other.status, 401, "{}", other.text);

    // Retry-After tells the truth: after it, one more failure is answered 401 again.
    server.advance(Duration::seconds(retry_after)).await;
    let reply = forward_auth_from(&server, client, Some(&wrong), "GET", "/v1/customers/").await;
    assert_eq!(reply.status, 401, "after Retry-After: {}", reply.text);

    // A minute later the limit has decayed completely.
    server.advance(Duration::minutes(1)).await;
    for attempt in 1..=60 {
        let reply = forward_auth_from(&server, client, Some(&wrong), "GET", "/v1/customers/").await;
        assert_eq!(
            reply.status, 401,
            "attempt {attempt} after a minute: {}",
            reply.text
        );
    }
}

#[tokio::test]
async fn forwarded_for_from_an_untrusted_peer_does_not_escape_the_limit() {
    let server = TestServer::start_with(|c| c.trusted_proxies = Vec::new()).await;
    server.account("Acme").await;
    let wrong = api_key(&unknown_key(KeyKind::Restricted, Mode::Live));
    for attempt in 1..=60 {
        let claimed = format!("192.0.2.{attempt}");
        let reply =
            forward_auth_from(&server, &claimed, Some(&wrong), "GET", "/v1/customers/").await;
        assert_eq!(reply.status, 401, "attempt {attempt}");
    }
    let reply = forward_auth_from(
        &server,
        "192.0.2.200",
        Some(&wrong),
        "GET",
        "/v1/customers/",
    )
    .await;
    assert_eq!(reply.status, 429, "{}", reply.text);
}

#[tokio::test]
async fn missing_credentials_do_not_count_as_failures() {
    let server = TestServer::start().await;
    let account = server.account("Acme").await;
    for _ in 0..80 {
        let reply = forward_auth_raw(&server, None, None, "GET", "/v1/customers/").await;
        reply
            .assert_error(401)
            .assert_body(&json!({ "detail": NOT_PROVIDED }));
    }
    assert_key_works(&server, &account.test_key).await;
}

fn assert_ok(reply: &crate::support::Reply) {
    assert_eq!(reply.status, 200, "{}", reply.text);
}

/// SPEC §5: a cache never serves a key past its maximum age. When the table could not be
/// brought up to date for longer than `cache.max_age_secs` (the database unreachable), both
/// verification endpoints answer a JSON 503 with `Retry-After` instead of a stale verdict, and
/// answer again as soon as the table is current.
#[tokio::test]
async fn a_table_older_than_its_maximum_age_answers_503_not_a_stale_verdict() {
    let server = TestServer::start_with(|c| {
        c.cache.max_age_secs = 30;
        c.cache.refresh_interval_ms = 3_600_000;
    })
    .await;
    let account = server.account("Stale").await;
    let key = api_key(&account.live_key);
    assert_ok(&forward_auth(&server, Some(&key), "GET", "/v1/customers/").await);

    // Exactly at the maximum age the table is still trusted; a millisecond later it is not.
    server.advance_without_sync(Duration::seconds(30));
    assert_ok(&forward_auth(&server, Some(&key), "GET", "/v1/customers/").await);
    server.advance_without_sync(Duration::milliseconds(1));
    for reply in [
        forward_auth(&server, Some(&key), "GET", "/v1/customers/").await,
        send(
            server
                .http
                .post(server.url("/v1/verify/"))
                .json(&json!({ "key": account.live_key })),
        )
        .await,
    ] {
        reply.assert_error(503);
        assert_eq!(reply.body["code"], "unavailable", "{}", reply.text);
        assert!(reply.header("retry-after").is_some(), "{:?}", reply.headers);
    }

    // Caught up again: answers resume.
    server.advance(Duration::ZERO).await;
    assert_ok(&forward_auth(&server, Some(&key), "GET", "/v1/customers/").await);
}

/// Forward-auth's `GET` is answered before the router (`direct_route`), its `HEAD` through
/// the router: every spelling and both ways answer alike.
#[tokio::test]
async fn every_spelling_of_the_path_and_head_answer_alike() {
    let server = TestServer::start().await;
    let account = server.account("Acme").await;
    let account_id = account.id.0.to_string();
    let unknown = api_key(&unknown_key(KeyKind::Standard, Mode::Live));
    for (method, path) in [
        (reqwest::Method::GET, "/v1/forward-auth/"),
        (reqwest::Method::GET, "/v1/forward-auth"),
        (reqwest::Method::GET, "/v1/forward-auth//"),
        (reqwest::Method::GET, "/v1/forward-auth/?from=nginx"),
        (reqwest::Method::HEAD, "/v1/forward-auth/"),
        (reqwest::Method::HEAD, "/v1/forward-auth"),
    ] {
        let request = |authorization: &str| {
            server
                .http
                .request(method.clone(), server.url(path))
                .header("X-Original-Method", "GET")
                .header("X-Original-URI", "/v1/payroll/employees")
                .header("Authorization", authorization)
        };
        let reply = send(request(&api_key(&account.live_key))).await;
        assert_eq!(reply.status, 200, "{method} {path}: {}", reply.text);
        assert_eq!(
            reply.header("x-keywarden-account"),
            Some(account_id.as_str()),
            "{method} {path}"
        );
        assert_eq!(reply.header("x-keywarden-mode"), Some("live"));
        let refused = send(request(&unknown)).await;
        assert_eq!(refused.status, 401, "{method} {path}");
        if method == reqwest::Method::GET {
            assert_eq!(refused.body["code"], "key_not_found", "{path}");
        }
    }
}
