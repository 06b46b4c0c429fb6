//! Console sign-in and profile (SPEC §4): `POST /v1/auth/token/`, `POST /v1/auth/token/refresh/`,
//! `GET /v1/auth/me/`, the seed's token error bodies, and the sign-in failure limits.

use crate::support::{Reply, api_key, send};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use keywarden_core::audit::Action;
use keywarden_testkit::{PASSWORD, TestServer, role};
use serde_json::{Value, json};
use time::Duration;

const NOT_PROVIDED: &str = "Authentication credentials were not provided.";

fn token_not_valid() -> Value {
    json!({
        "detail": "Given token not valid for any token type",
        "code": "token_not_valid",
        "messages": [{
            "token_class": "AccessToken",
            "token_type": "access",
            "message": "Token is invalid or expired",
        }],
    })
}

async fn sign_in(server: &TestServer, email: &str, password: &str) -> Reply {
    sign_in_from(server, "127.0.0.1", email, password).await
}

async fn sign_in_from(server: &TestServer, client: &str, email: &str, password: &str) -> Reply {
    send(
        server
            .http
            .post(server.url("/v1/auth/token/"))
            .header("X-Forwarded-For", client)
            .json(&json!({ "email": email, "password": password })),
    )
    .await
}

async fn me(server: &TestServer, authorization: Option<&str>) -> Reply {
    let mut request = server.http.get(server.url("/v1/auth/me/"));
    if let Some(value) = authorization {
        request = request.header("Authorization", value);
    }
    send(request).await
}

async fn refresh(server: &TestServer, token: &str) -> Reply {
    send(
        server
            .http
            .post(server.url("/v1/auth/token/refresh/"))
            .json(&json!({ "refresh": token })),
    )
    .await
}

fn jwt_parts(token: &str) -> (Value, Value, String) {
    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(parts.len(), 3, "a JWT has three parts: {token}");
    let decode = |part: &str| -> Value {
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
    };
    (decode(parts[0]), decode(parts[1]), parts[2].to_owned())
}

fn jwt_encode(value: &Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(value).unwrap())
}

#[tokio::test]
async fn signing_in_returns_an_access_and_a_refresh_token() {
    let server = TestServer::start().await;
    let account = server.account("Acme").await;
    let reply = sign_in(&server, &account.admin_email, PASSWORD).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    reply.assert_json();
    let mut fields: Vec<&String> = reply.body.as_object().unwrap().keys().collect();
    fields.sort();
    assert_eq!(fields, ["access", "refresh"]);
    let access = reply.str_field("access");
    let refresh_token = reply.str_field("refresh");
    assert_ne!(access, refresh_token);
    let (header, claims, _) = jwt_parts(access);
    assert_eq!(header["alg"], "HS256");
    assert!(claims.get("password_hash").is_none());
    assert_eq!(
        me(&server, Some(&format!("Bearer {access}"))).await.status,
        200
    );

    // The email is matched however it is typed.
    let reply = sign_in(&server, "  ADMIN@Acme.TEST ", PASSWORD).await;
    assert_eq!(reply.status, 200, "{}", reply.text);

    // The sign-in is in the audit trail, without the password.
    let events = server
        .service()
        .store()
        .audit_events(account.id, 50)
        .await
        .unwrap();
    let sign_ins: Vec<_> = events
        .iter()
        .filter(|e| e.action == Action::SignIn)
        .collect();
    assert_eq!(sign_ins.len(), 2, "{events:?}");
    assert_eq!(sign_ins[0].actor.label, account.admin_email);
    assert!(events.iter().all(|e| !e.detail.contains(PASSWORD)));
}

#[tokio::test]
async fn a_wrong_password_and_an_unknown_email_are_answered_identically() {
    let server = TestServer::start().await;
    let account = server.account("Acme").await;
    let wrong_password = sign_in(&server, &account.admin_email, "not the password at all").await;
    let unknown_email = sign_in(&server, "nobody@acme.test", "not the password at all").await;
    let not_an_email = sign_in(&server, "nobody", PASSWORD).await;
    for reply in [&wrong_password, &unknown_email, &not_an_email] {
        reply.assert_error(401).assert_body(&json!({
            "detail": "No active account found with the given credentials",
            "code": "invalid_credentials",
        }));
    }
    assert_eq!(wrong_password.text, unknown_email.text);
    assert_eq!(
        wrong_password.header("www-authenticate"),
        unknown_email.header("www-authenticate")
    );
}

#[tokio::test]
async fn me_describes_the_user_and_the_account() {
    let server = TestServer::start().await;
    let account = server.account("Acme").await;
    let member = server
        .user(account.id, "mia@acme.test", role("member"))
        .await;
    for (email, role_name) in [
        (account.admin_email.as_str(), "admin"),
        (member.as_str(), "member"),
    ] {
        let user = server
            .service()
            .store()
            .user_by_email(email)
            .await
            .unwrap()
            .unwrap();
        let (access, _) = server.sign_in(email).await;
        let reply = me(&server, Some(&format!("Bearer {access}"))).await;
        assert_eq!(reply.status, 200, "{}", reply.text);
        reply.assert_json().assert_body(&json!({
            "user": {
                "id": user.id.to_string(),
                "email": email,
                "role": role_name,
                "two_factor_enabled": false,
            },
            "account": {
                "id": account.id.to_string(),
                "name": "Acme",
                "require_2fa_for_keys": false,
                "rotation_period_days": 90,
            },
        }));
    }
}

#[tokio::test]
async fn a_missing_token_is_401_not_provided() {
    let server = TestServer::start().await;
    let reply = me(&server, None).await;
    reply
        .assert_error(401)
        .assert_body(&json!({ "detail": NOT_PROVIDED }));
    assert!(
        reply
            .header("www-authenticate")
            .unwrap()
            .starts_with("Bearer")
    );
}

#[tokio::test]
async fn refresh_issues_a_new_access_token_after_the_old_one_expired() {
    let server = TestServer::start().await;
    let account = server.account("Acme").await;
    let (access, refresh_token) = server.sign_in(&account.admin_email).await;

    server
        .advance(Duration::minutes(14) + Duration::seconds(59))
        .await;
    assert_eq!(
        me(&server, Some(&format!("Bearer {access}"))).await.status,
        200
    );

    server
        .advance(Duration::minutes(1) + Duration::seconds(1))
        .await;
    me(&server, Some(&format!("Bearer {access}")))
        .await
        .assert_error(401)
        .assert_body(&token_not_valid());

    let reply = refresh(&server, &refresh_token).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.body.as_object().unwrap().len(), 1, "{}", reply.text);
    let new_access = reply.str_field("access");
    assert_ne!(new_access, access);
    assert_eq!(
        me(&server, Some(&format!("Bearer {new_access}")))
            .await
            .status,
        200
    );

    // A refresh token lasts 7 days.
    server.advance(Duration::days(7)).await;
    let reply = refresh(&server, &refresh_token).await;
    reply.assert_error(401);
    assert_eq!(reply.body["code"], "token_not_valid", "{}", reply.text);
}

#[tokio::test]
async fn an_access_token_is_refused_sixteen_minutes_later() {
    let server = TestServer::start().await;
    let account = server.account("Acme").await;
    let (access, _) = server.sign_in(&account.admin_email).await;
    server.advance(Duration::minutes(16)).await;
    for path in ["/v1/auth/me/", "/v1/auth/api-keys/"] {
        let reply = send(server.http.get(server.url(path)).bearer_auth(&access)).await;
        reply.assert_error(401).assert_body(&token_not_valid());
    }
}

#[tokio::test]
async fn a_refresh_token_is_not_an_access_token_and_vice_versa() {
    let server = TestServer::start().await;
    let account = server.account("Acme").await;
    let (access, refresh_token) = server.sign_in(&account.admin_email).await;
    me(&server, Some(&format!("Bearer {refresh_token}")))
        .await
        .assert_error(401)
        .assert_body(&token_not_valid());
    let reply = refresh(&server, &access).await;
    reply.assert_error(401);
    assert_eq!(reply.body["code"], "token_not_valid", "{}", reply.text);
}

#[tokio::test]
async fn forged_and_tampered_tokens_are_refused() {
    let server = TestServer::start().await;
    let account = server.account("Acme").await;
    let other = server.account("Other").await;
    let (access, _) = server.sign_in(&account.admin_email).await;
    let (header, claims, signature) = jwt_parts(&access);
    let parts: Vec<&str> = access.split('.').collect();

    // One character of the signature changed (in the middle, so every bit of it counts).
    let mut flipped = signature.clone().into_bytes();
    flipped[10] = if flipped[10] == b'A' { b'B' } else { b'A' };
    let flipped = format!(
        "{}.{}.{}",
        parts[0],
        parts[1],
        String::from_utf8(flipped).unwrap()
    );

    // alg: none, no signature.
    let none_header = json!({ "alg": "none", "typ": "JWT" });
    let alg_none = format!("{}.{}.", jwt_encode(&none_header), parts[1]);
    let alg_none_with_sig = format!("{}.{}.{}", jwt_encode(&none_header), parts[1], signature);

    // The claims of another account's admin under the original signature.
    let other_user = server
        .service()
        .store()
        .user_by_email(&other.admin_email)
        .await
        .unwrap()
        .unwrap();
    let mut stolen = claims.clone();
    stolen["sub"] = json!(other_user.id.to_string());
    stolen["acc"] = json!(other.id.to_string());
    let swapped = format!("{}.{}.{}", parts[0], jwt_encode(&stolen), signature);

    // Expiry pushed out under the original signature.
    let mut longer = claims.clone();
    longer["exp"] = json!(claims["exp"].as_i64().unwrap() + 86_400);
    let extended = format!("{}.{}.{}", parts[0], jwt_encode(&longer), signature);

    // Well signed, with a key that is not the server's.
    let foreign = {
        use hmac::{KeyInit, Mac};
        let signed = format!("{}.{}", parts[0], parts[1]);
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(b"not the server secret").unwrap();
        mac.update(signed.as_bytes());
        format!(
            "{signed}.{}",
            URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
        )
    };

    // Another algorithm named in the header.
    let mut hs512_header = header.clone();
    hs512_header["alg"] = json!("HS512");
    let other_alg = format!("{}.{}.{}", jwt_encode(&hs512_header), parts[1], signature);

    let cases = [
        ("flipped signature", format!("Bearer {flipped}")),
        ("alg none", format!("Bearer {alg_none}")),
        (
            "alg none with a signature",
            format!("Bearer {alg_none_with_sig}"),
        ),
        ("claims of another user", format!("Bearer {swapped}")),
        ("expiry extended", format!("Bearer {extended}")),
        ("foreign key", format!("Bearer {foreign}")),
        ("other algorithm", format!("Bearer {other_alg}")),
        ("no signature", format!("Bearer {}.{}", parts[0], parts[1])),
        ("trailing junk", format!("Bearer {access}x")),
        ("garbage", "Bearer not-a-token".to_owned()),
        ("empty bearer", "Bearer ".to_owned()),
        ("an API key", format!("Bearer {}", account.test_key)),
        ("an API key in the Api-Key form", api_key(&account.test_key)),
        ("wrong scheme", format!("Token {access}")),
        ("huge", format!("Bearer {}", "a".repeat(20_000))),
    ];
    for (case, authorization) in cases {
        let reply = me(&server, Some(&authorization)).await;
        assert_eq!(reply.status, 401, "{case}: {}", reply.text);
        reply.assert_error(401).assert_body(&token_not_valid());
    }
    // The untampered token still works.
    assert_eq!(
        me(&server, Some(&format!("Bearer {access}"))).await.status,
        200
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_failed_sign_ins_from_one_client_then_429() {
    let server = TestServer::start().await;
    let account = server.account("Acme").await;
    let client = "203.0.113.20";
    for attempt in 1..=20 {
        let email = format!("guess{attempt}@acme.test");
        let reply = sign_in_from(&server, client, &email, "wrong password guess").await;
        assert_eq!(reply.status, 401, "attempt {attempt}: {}", reply.text);
    }
    let reply = sign_in_from(&server, client, "guess21@acme.test", "wrong password guess").await;
    reply.assert_error(429);
    assert_eq!(reply.body["code"], "rate_limited", "{}", reply.text);
    let retry_after: i64 = reply
        .header("retry-after")
        .expect("Retry-After")
        .parse()
        .unwrap();
    assert!(
        (1..=900).contains(&retry_after),
        "Retry-After {retry_after}"
    );

    // The right password from that client waits too; another client is not affected.
    let reply = sign_in_from(&server, client, &account.admin_email, PASSWORD).await;
    assert_eq!(reply.status, 429, "{}", reply.text);
    let reply = sign_in_from(&server, "203.0.113.21", &account.admin_email, PASSWORD).await;
    assert_eq!(reply.status, 200, "{}", reply.text);

    server.advance(Duration::seconds(retry_after)).await;
    let reply = sign_in_from(&server, client, &account.admin_email, PASSWORD).await;
    assert_eq!(reply.status, 200, "after Retry-After: {}", reply.text);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_failed_sign_ins_for_one_email_from_one_address_then_429_there_but_not_elsewhere() {
    let server = TestServer::start().await;
    let account = server.account("Acme").await;
    let colleague = server
        .user(account.id, "dev@acme.test", role("developer"))
        .await;
    let guesser = "198.51.100.1";
    for attempt in 1..=5 {
        let reply = sign_in_from(&server, guesser, &account.admin_email, "wrong password!").await;
        assert_eq!(reply.status, 401, "attempt {attempt}: {}", reply.text);
    }
    let blocked = sign_in_from(&server, guesser, &account.admin_email, PASSWORD).await;
    blocked.assert_error(429);
    assert_eq!(blocked.body["code"], "rate_limited", "{}", blocked.text);
    let retry_after: i64 = blocked
        .header("retry-after")
        .expect("Retry-After")
        .parse()
        .unwrap();
    assert!(
        (2..=900).contains(&retry_after),
        "Retry-After {retry_after}"
    );
    // The same email typed differently is the same user.
    let reply = sign_in_from(&server, guesser, "ADMIN@acme.test", PASSWORD).await;
    assert_eq!(reply.status, 429, "{}", reply.text);

    // The real user, from their own address, is not locked out by someone guessing elsewhere;
    // other users are not affected either.
    let reply = sign_in_from(&server, "203.0.113.50", &account.admin_email, PASSWORD).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let reply = sign_in_from(&server, guesser, &colleague, PASSWORD).await;
    assert_eq!(reply.status, 200, "{}", reply.text);

    // From the guessing address the right password keeps being refused until Retry-After
    // has passed, then works.
    server.advance(Duration::seconds(retry_after - 1)).await;
    let reply = sign_in_from(&server, guesser, &account.admin_email, PASSWORD).await;
    assert_eq!(reply.status, 429, "one second early: {}", reply.text);
    server.advance(Duration::seconds(1)).await;
    let reply = sign_in_from(&server, guesser, &account.admin_email, PASSWORD).await;
    assert_eq!(reply.status, 200, "after Retry-After: {}", reply.text);
}

/// One wrong attempt every few minutes from elsewhere, the old way to keep a user locked out
/// for good, never reaches the real user.
#[tokio::test]
async fn a_slow_guesser_elsewhere_never_locks_the_real_user_out() {
    let server = TestServer::start().await;
    let account = server.account("Acme").await;
    for round in 0..10 {
        for n in 0..5 {
            let guesser = format!("198.51.100.{}", 10 + n);
            let reply =
                sign_in_from(&server, &guesser, &account.admin_email, "wrong password!").await;
            assert_eq!(reply.status, 401, "round {round}: {}", reply.text);
        }
        let reply = sign_in_from(&server, "203.0.113.50", &account.admin_email, PASSWORD).await;
        assert_eq!(reply.status, 200, "round {round}: {}", reply.text);
        server.advance(Duration::minutes(3)).await;
    }
}

#[tokio::test]
async fn a_successful_sign_in_clears_the_users_failures() {
    let server = TestServer::start().await;
    let account = server.account("Acme").await;
    for round in 0..3 {
        for _ in 0..4 {
            let reply = sign_in(&server, &account.admin_email, "wrong password!").await;
            assert_eq!(reply.status, 401, "round {round}: {}", reply.text);
        }
        let reply = sign_in(&server, &account.admin_email, PASSWORD).await;
        assert_eq!(reply.status, 200, "round {round}: {}", reply.text);
    }
}

#[tokio::test]
async fn a_malformed_sign_in_body_is_400_json() {
    let server = TestServer::start().await;
    let account = server.account("Acme").await;
    for body in [
        "{".to_owned(),
        String::new(),
        "[]".to_owned(),
        r#"{"email": "admin@acme.test"}"#.to_owned(),
        r#"{"password": "x"}"#.to_owned(),
        r#"{"email": 1, "password": 2}"#.to_owned(),
        format!(
            r#"{{"email": "{}", "password": "{PASSWORD}", "role": "admin"}}"#,
            account.admin_email
        ),
    ] {
        let reply = send(
            server
                .http
                .post(server.url("/v1/auth/token/"))
                .header("Content-Type", "application/json")
                .body(body.clone()),
        )
        .await;
        reply.assert_error(400);
        assert!(!reply.str_field("detail").is_empty(), "{body}");
    }
    for body in ["{", r#"{"refresh": 5}"#, "{}"] {
        let reply = send(
            server
                .http
                .post(server.url("/v1/auth/token/refresh/"))
                .header("Content-Type", "application/json")
                .body(body),
        )
        .await;
        reply.assert_error(400);
    }
}
