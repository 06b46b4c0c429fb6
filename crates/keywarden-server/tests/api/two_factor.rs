//! TOTP second factor (SPEC §4): `POST /v1/auth/2fa/setup/` (secret, `otpauth://` URI, QR
//! SVG), `POST /v1/auth/2fa/confirm/` (turns it on, recovery codes once), sign-in with `otp`
//! (each code once, even under concurrent sign-ins), recovery codes, and the account policy
//! `require_2fa_for_keys`. Codes are computed here from the base32 secret (RFC 6238), not by
//! the server's own code.

use crate::support::{
    Reply, api_key, create_key, delete, enable_two_factor, forward_auth, get, key_id_of, patch,
    post, sign_in_as, stored_key, stored_user, totp_code,
};
use keywarden_core::Clock;
use keywarden_core::audit::Action;
use keywarden_core::key_record::Lifecycle;
use keywarden_testkit::{PASSWORD, TestServer, role};
use serde_json::{Value, json};
use std::collections::HashSet;
use time::Duration;

const OTP_REQUIRED: &str = "This account uses two-factor authentication: send the 6-digit code from your authenticator app as `otp`.";
const OTP_INVALID: &str =
    "The two-factor code is wrong, expired or already used. Wait for the next code and try again.";
const TWO_FACTOR_REQUIRED: &str = "This account requires two-factor authentication to create, rotate or revoke keys. Enable it under Security (POST /v1/auth/2fa/setup/), then try again.";

fn otp_required() -> Value {
    json!({ "detail": OTP_REQUIRED, "code": "otp_required" })
}

fn otp_invalid() -> Value {
    json!({ "detail": OTP_INVALID, "code": "otp_invalid" })
}

fn two_factor_required() -> Value {
    json!({ "detail": TWO_FACTOR_REQUIRED, "code": "two_factor_required" })
}

async fn sign_in(server: &TestServer, email: &str, otp: Option<&str>) -> Reply {
    sign_in_as(server, "127.0.0.1", email, PASSWORD, otp).await
}

/// A code that is not the current one (nor the previous step's).
fn wrong_code(secret: &str, server: &TestServer) -> String {
    let now = server.clock.now();
    let valid = [
        totp_code(secret, now),
        totp_code(secret, now - Duration::seconds(30)),
    ];
    (0..)
        .map(|n: u32| format!("{:06}", (n * 7919) % 1_000_000))
        .find(|c| !valid.contains(c))
        .unwrap()
}

fn base32_decode(text: &str) -> Vec<u8> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut bits = 0u64;
    let mut count = 0;
    let mut out = Vec::new();
    for c in text.trim_end_matches('=').bytes() {
        let value = ALPHABET.iter().position(|a| *a == c).expect("base32") as u64;
        bits = (bits << 5) | value;
        count += 5;
        if count >= 8 {
            count -= 8;
            out.push((bits >> count) as u8);
        }
    }
    out
}

#[tokio::test]
async fn setup_returns_a_secret_its_uri_and_a_qr_code_and_changes_nothing_yet() {
    let server = TestServer::start().await;
    let account = server.account("Acme").await;
    let (token, _) = server.sign_in(&account.admin_email).await;
    let reply = post(&server, &token, "/v1/auth/2fa/setup/", &json!({})).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    reply.assert_json();
    let secret = reply.str_field("secret");
    assert_eq!(base32_decode(secret).len(), 20, "a 160-bit seed: {secret}");
    assert_eq!(
        reply.str_field("otpauth_uri"),
        format!(
            "otpauth://totp/Keywarden:admin@acme.test?secret={secret}&issuer=Keywarden&algorithm=SHA1&digits=6&period=30"
        )
    );
    let svg = reply.str_field("qr_svg");
    assert!(
        svg.starts_with("<?xml") || svg.starts_with("<svg"),
        "{svg:.80}"
    );
    assert!(svg.trim_end().ends_with("</svg>"), "a whole SVG document");

    // Not on until confirmed; the seed is stored sealed, never in the clear.
    let me = get(&server, &token, "/v1/auth/me/").await;
    assert_eq!(me.body["user"]["two_factor_enabled"], false, "{}", me.text);
    let user = stored_user(&server, &account.admin_email).await;
    assert!(!user.two_factor_enabled);
    let enrolment = server
        .service()
        .store()
        .totp(user.id)
        .await
        .unwrap()
        .unwrap();
    assert!(!enrolment.confirmed);
    let seed = base32_decode(secret);
    assert!(
        !enrolment
            .encrypted_seed
            .windows(seed.len())
            .any(|w| w == seed.as_slice())
    );
    assert!(
        !enrolment
            .encrypted_seed
            .windows(secret.len())
            .any(|w| w == secret.as_bytes())
    );
    // Sign-in still needs no code.
    assert_eq!(
        sign_in(&server, &account.admin_email, None).await.status,
        200
    );
}

#[tokio::test]
async fn confirming_with_a_wrong_code_leaves_it_off_and_the_right_one_turns_it_on() {
    let server = TestServer::start().await;
    let account = server.account("Acme").await;
    let (token, _) = server.sign_in(&account.admin_email).await;

    // Nothing to confirm yet.
    let reply = post(
        &server,
        &token,
        "/v1/auth/2fa/confirm/",
        &json!({ "otp": "123456" }),
    )
    .await;
    reply.assert_error(409);
    assert_eq!(reply.body["code"], "conflict", "{}", reply.text);

    // Setup twice: the second secret replaces the first.
    let first = post(&server, &token, "/v1/auth/2fa/setup/", &json!({})).await;
    let first = first.str_field("secret").to_owned();
    let setup = post(&server, &token, "/v1/auth/2fa/setup/", &json!({})).await;
    let secret = setup.str_field("secret").to_owned();
    assert_ne!(first, secret);

    for otp in [
        wrong_code(&secret, &server),
        totp_code(&first, server.clock.now()),
        "12345".into(),
        "abcdef".into(),
        String::new(),
    ] {
        let reply = post(
            &server,
            &token,
            "/v1/auth/2fa/confirm/",
            &json!({ "otp": otp }),
        )
        .await;
        reply.assert_error(401).assert_body(&otp_invalid());
    }
    let me = get(&server, &token, "/v1/auth/me/").await;
    assert_eq!(me.body["user"]["two_factor_enabled"], false, "{}", me.text);
    assert!(
        !stored_user(&server, &account.admin_email)
            .await
            .two_factor_enabled
    );
    // The token of the user is still good: a wrong code is not a failed session.
    let code = totp_code(&secret, server.clock.now());
    let reply = post(
        &server,
        &token,
        "/v1/auth/2fa/confirm/",
        &json!({ "otp": code }),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.body["two_factor_enabled"], true);
    let codes: Vec<&str> = reply.body["recovery_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    assert_eq!(codes.len(), 10);
    assert_eq!(codes.iter().collect::<HashSet<_>>().len(), 10, "unique");
    for code in &codes {
        let alnum = code.chars().filter(char::is_ascii_alphanumeric).count();
        assert_eq!(alnum, 12, "{code}");
    }

    let me = get(&server, &token, "/v1/auth/me/").await;
    assert_eq!(me.body["user"]["two_factor_enabled"], true, "{}", me.text);
    let user = stored_user(&server, &account.admin_email).await;
    assert!(user.two_factor_enabled);
    let enrolment = server
        .service()
        .store()
        .totp(user.id)
        .await
        .unwrap()
        .unwrap();
    assert!(enrolment.confirmed);
    let users = get(&server, &token, "/v1/users/").await;
    assert_eq!(users.body["results"][0]["two_factor_enabled"], true);

    // On means on: no second setup, no second confirmation.
    let again = post(&server, &token, "/v1/auth/2fa/setup/", &json!({})).await;
    again.assert_error(409);
    assert_eq!(again.body["code"], "conflict", "{}", again.text);
    let again = post(
        &server,
        &token,
        "/v1/auth/2fa/confirm/",
        &json!({ "otp": code }),
    )
    .await;
    again.assert_error(409);
    assert_eq!(
        server
            .service()
            .store()
            .totp(user.id)
            .await
            .unwrap()
            .unwrap(),
        enrolment,
        "the seed did not change"
    );
    let events = server
        .service()
        .store()
        .audit_events(account.id, 50)
        .await
        .unwrap();
    assert!(events.iter().any(|e| e.action == Action::TwoFactorEnabled));
}

#[tokio::test]
async fn sign_in_then_needs_a_fresh_code_each_accepted_once() {
    let server = TestServer::start().await;
    let account = server.account("Acme").await;
    let email = account.admin_email.clone();
    let (token, _) = server.sign_in(&email).await;
    let (secret, _) = enable_two_factor(&server, &token).await;

    // No code, a wrong code, the confirming code again (its step is used up).
    sign_in(&server, &email, None)
        .await
        .assert_error(401)
        .assert_body(&otp_required());
    sign_in(&server, &email, Some(""))
        .await
        .assert_error(401)
        .assert_body(&otp_required());
    let wrong = wrong_code(&secret, &server);
    sign_in(&server, &email, Some(&wrong))
        .await
        .assert_error(401)
        .assert_body(&otp_invalid());
    let confirming = totp_code(&secret, server.clock.now());
    sign_in(&server, &email, Some(&confirming))
        .await
        .assert_error(401)
        .assert_body(&otp_invalid());
    // A wrong password is still just a wrong password, code or not.
    let reply = sign_in_as(
        &server,
        "127.0.0.1",
        &email,
        "wrong password!",
        Some(&confirming),
    )
    .await;
    reply.assert_error(401);
    assert_eq!(reply.body["code"], "invalid_credentials", "{}", reply.text);

    // The next step's code works once.
    server.advance(Duration::seconds(30)).await;
    let code = totp_code(&secret, server.clock.now());
    let reply = sign_in(&server, &email, Some(&code)).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert!(reply.body["access"].is_string());
    sign_in(&server, &email, Some(&code))
        .await
        .assert_error(401)
        .assert_body(&otp_invalid());

    // A code typed just before the step turned still works (once); a future code never does.
    server.advance(Duration::seconds(30)).await;
    let previous_step = totp_code(&secret, server.clock.now());
    server.advance(Duration::seconds(30)).await;
    let future = totp_code(&secret, server.clock.now() + Duration::seconds(30));
    if future != previous_step && future != totp_code(&secret, server.clock.now()) {
        sign_in(&server, &email, Some(&future))
            .await
            .assert_error(401)
            .assert_body(&otp_invalid());
    }
    let reply = sign_in(&server, &email, Some(&previous_step)).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    sign_in(&server, &email, Some(&previous_step))
        .await
        .assert_error(401)
        .assert_body(&otp_invalid());
    // The current step's code, once the previous one was used, still works.
    let current = totp_code(&secret, server.clock.now());
    let reply = sign_in(&server, &email, Some(&current)).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_concurrent_sign_ins_with_one_code_let_exactly_one_in() {
    let server = TestServer::start().await;
    let account = server.account("Acme").await;
    let email = account.admin_email.clone();
    let (token, _) = server.sign_in(&email).await;
    let (secret, _) = enable_two_factor(&server, &token).await;
    for round in 0..5 {
        server.advance(Duration::seconds(30)).await;
        let code = totp_code(&secret, server.clock.now());
        let (a, b) = tokio::join!(
            sign_in_as(&server, "10.0.0.1", &email, PASSWORD, Some(&code)),
            sign_in_as(&server, "10.0.0.2", &email, PASSWORD, Some(&code)),
        );
        let mut statuses = [a.status, b.status];
        statuses.sort_unstable();
        assert_eq!(
            statuses,
            [200, 401],
            "round {round}: {} / {}",
            a.text,
            b.text
        );
        let loser = if a.status == 401 { &a } else { &b };
        loser.assert_body(&otp_invalid());
    }
}

#[tokio::test]
async fn a_recovery_code_signs_in_once() {
    let server = TestServer::start().await;
    let account = server.account("Acme").await;
    let email = account.admin_email.clone();
    let (token, _) = server.sign_in(&email).await;
    let (_, codes) = enable_two_factor(&server, &token).await;

    let reply = sign_in(&server, &email, Some(&codes[0])).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    sign_in(&server, &email, Some(&codes[0]))
        .await
        .assert_error(401)
        .assert_body(&otp_invalid());
    // Case and dashes do not matter; each other code still works once.
    let typed = codes[1].to_uppercase().replace('-', "");
    assert_eq!(sign_in(&server, &email, Some(&typed)).await.status, 200);
    sign_in(&server, &email, Some(&codes[1]))
        .await
        .assert_error(401)
        .assert_body(&otp_invalid());
    // A made-up code of the right shape does not.
    sign_in(&server, &email, Some("aaaa-bbbb-cccc"))
        .await
        .assert_error(401)
        .assert_body(&otp_invalid());

    let events = server
        .service()
        .store()
        .audit_events(account.id, 50)
        .await
        .unwrap();
    let used = events
        .iter()
        .filter(|e| e.action == Action::RecoveryCodeUsed)
        .count();
    assert_eq!(used, 2);
    for event in &events {
        for code in &codes {
            assert!(!event.detail.contains(code.as_str()), "{event:?}");
        }
    }
}

#[tokio::test]
async fn require_2fa_for_keys_refuses_key_changes_by_users_without_it() {
    let server = TestServer::start().await;
    let account = server.account("Acme").await;
    let developer = server
        .user(account.id, "dev@acme.test", role("developer"))
        .await;
    let (admin_token, _) = server.sign_in(&account.admin_email).await;
    let (dev_token, _) = server.sign_in(&developer).await;
    let (secret, created) =
        create_key(&server, &dev_token, "Payroll", "live", &["payroll:read"]).await;
    let key_id = key_id_of(&created);

    let reply = patch(
        &server,
        &admin_token,
        "/v1/account/",
        &json!({ "require_2fa_for_keys": true }),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.body["require_2fa_for_keys"], true);
    let account_row = server
        .service()
        .store()
        .account(account.id)
        .await
        .unwrap()
        .unwrap();
    assert!(account_row.require_2fa_for_keys);
    let me = get(&server, &dev_token, "/v1/auth/me/").await;
    assert_eq!(
        me.body["account"]["require_2fa_for_keys"], true,
        "{}",
        me.text
    );

    let before_keys = server
        .service()
        .store()
        .keys_of_account(account.id, &Default::default())
        .await
        .unwrap();
    let key_path = format!("/v1/api-keys/{key_id}/");
    let attempts = |token: String| {
        let server = &server;
        let key_path = key_path.clone();
        async move {
            vec![
                (
                    "create",
                    post(
                        server,
                        &token,
                        "/v1/api-keys/",
                        &json!({ "label": "x", "type": "test", "scopes": ["asset:read"] }),
                    )
                    .await,
                ),
                (
                    "rotate",
                    post(server, &token, &format!("{key_path}rotate/"), &json!({})).await,
                ),
                ("revoke", delete(server, &token, &key_path).await),
                (
                    "rotate standard",
                    patch(
                        server,
                        &token,
                        "/v1/auth/api-keys/",
                        &json!({ "type": "test" }),
                    )
                    .await,
                ),
            ]
        }
    };
    // Neither the developer nor the admin has 2FA.
    for token in [dev_token.clone(), admin_token.clone()] {
        for (what, reply) in attempts(token).await {
            assert_eq!(reply.status, 403, "{what}: {}", reply.text);
            reply.assert_json().assert_body(&two_factor_required());
        }
    }
    let after_keys = server
        .service()
        .store()
        .keys_of_account(account.id, &Default::default())
        .await
        .unwrap();
    assert_eq!(after_keys, before_keys, "nothing changed");
    crate::support::assert_key_works(&server, &account.test_key).await;
    let reply = forward_auth(&server, Some(&api_key(&secret)), "GET", "/v1/payroll/runs").await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    // Looking and relabelling are not guarded by the policy.
    assert_eq!(get(&server, &dev_token, "/v1/api-keys/").await.status, 200);
    assert_eq!(
        patch(
            &server,
            &dev_token,
            &key_path,
            &json!({ "label": "Payroll v2" })
        )
        .await
        .status,
        200
    );

    // With 2FA on, the same session may (the policy reads the user as they are now).
    enable_two_factor(&server, &dev_token).await;
    let created = post(
        &server,
        &dev_token,
        "/v1/api-keys/",
        &json!({ "label": "x", "type": "test", "scopes": ["asset:read"] }),
    )
    .await;
    assert_eq!(created.status, 201, "{}", created.text);
    let rotated = post(
        &server,
        &dev_token,
        &format!("{key_path}rotate/"),
        &json!({}),
    )
    .await;
    assert_eq!(rotated.status, 200, "{}", rotated.text);
    let new_id = key_id_of(&rotated);
    let revoked = delete(&server, &dev_token, &format!("/v1/api-keys/{new_id}/")).await;
    assert_eq!(revoked.status, 200, "{}", revoked.text);
    assert_eq!(
        stored_key(&server, account.id, new_id).await.lifecycle,
        Lifecycle::Revoked
    );
    let standard = patch(
        &server,
        &dev_token,
        "/v1/auth/api-keys/",
        &json!({ "type": "test" }),
    )
    .await;
    assert_eq!(standard.status, 200, "{}", standard.text);

    // The policy off again: users without 2FA may change keys again.
    let reply = patch(
        &server,
        &admin_token,
        "/v1/account/",
        &json!({ "require_2fa_for_keys": false }),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let created = post(
        &server,
        &admin_token,
        "/v1/api-keys/",
        &json!({ "label": "y", "type": "test", "scopes": ["asset:read"] }),
    )
    .await;
    assert_eq!(created.status, 201, "{}", created.text);
}

#[tokio::test]
async fn guessing_codes_is_limited_like_guessing_passwords() {
    let server = TestServer::start().await;
    let account = server.account("Acme").await;
    let email = account.admin_email.clone();
    let (token, _) = server.sign_in(&email).await;
    let (secret, _) = enable_two_factor(&server, &token).await;
    server.advance(Duration::seconds(30)).await;
    // Five wrong codes, from five addresses: the limit is per user.
    for n in 0..5 {
        let client = format!("198.51.100.{n}");
        let wrong = wrong_code(&secret, &server);
        sign_in_as(&server, &client, &email, PASSWORD, Some(&wrong))
            .await
            .assert_error(401)
            .assert_body(&otp_invalid());
    }
    // Then even the right code waits: six digits must not be guessable.
    let code = totp_code(&secret, server.clock.now());
    let reply = sign_in_as(&server, "198.51.100.9", &email, PASSWORD, Some(&code)).await;
    reply.assert_error(429);
    assert_eq!(reply.body["code"], "rate_limited", "{}", reply.text);
    let retry_after: u64 = reply.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=900).contains(&retry_after), "{retry_after}");
    // The limit decays: after the wait, a fresh code lets the user in.
    server
        .advance(Duration::seconds(i64::try_from(retry_after).unwrap()))
        .await;
    let code = totp_code(&secret, server.clock.now());
    let reply = sign_in(&server, &email, Some(&code)).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
}

/// The rules live in the service, not in the handlers: called directly for a user (not the
/// operator), the key-changing operations apply the account's 2FA policy themselves, and a
/// change they make reaches the key table before they return.
#[tokio::test]
async fn the_service_itself_enforces_the_policy_and_updates_the_key_table() {
    use keywarden_core::DomainError;
    use keywarden_core::audit::Actor;
    use keywarden_core::key_format::Mode;
    use keywarden_core::service::NewKey;
    // No feed read and no notice during the test: only the service itself can update the table.
    let server = TestServer::start_with(|c| {
        c.cache.max_age_secs = 60;
        c.cache.refresh_interval_ms = 30_000;
        c.cache.listen = false;
    })
    .await;
    let account = server.account("Acme").await;
    let email = server
        .user(account.id, "dev@acme.test", role("developer"))
        .await;
    let service = server.service();
    let dev = service
        .store()
        .user_by_email(&email)
        .await
        .unwrap()
        .unwrap();
    let stored = service.store().account(account.id).await.unwrap().unwrap();
    service
        .update_policy(
            &stored,
            keywarden_core::service::AccountPolicyChanges {
                require_2fa_for_keys: Some(true),
                ..Default::default()
            },
            &Actor::cli(),
        )
        .await
        .unwrap();
    let as_dev = Actor {
        user_id: Some(dev.id),
        label: dev.email.clone(),
        ..Actor::default()
    };
    let new = || NewKey {
        label: "Direct".into(),
        mode: Mode::Test,
        scopes: vec!["payroll:read".into()],
        expires_at: None,
        policy: Default::default(),
        canary: false,
    };
    let before = service
        .store()
        .keys_of_account(account.id, &Default::default())
        .await
        .unwrap();
    let created = service
        .create_restricted_key(account.id, new(), &as_dev)
        .await;
    assert!(
        matches!(created, Err(DomainError::TwoFactorRequired)),
        "{created:?}"
    );
    let standard = before[0].id;
    let revoked = service.revoke_key(account.id, standard, &as_dev).await;
    assert!(
        matches!(revoked, Err(DomainError::TwoFactorRequired)),
        "{revoked:?}"
    );
    let rotated = service
        .rotate_standard_key(account.id, Mode::Test, None, &as_dev)
        .await;
    assert!(
        matches!(rotated, Err(DomainError::TwoFactorRequired)),
        "{rotated:?}"
    );
    let after = service
        .store()
        .keys_of_account(account.id, &Default::default())
        .await
        .unwrap();
    assert_eq!(after, before, "nothing changed");

    // The operator is not bound by it, and what the service changes is in the table at once
    // (no feed read, no hand-applied record).
    let key = service
        .create_restricted_key(account.id, new(), &Actor::cli())
        .await
        .unwrap();
    let secret = key.secret.expose().to_owned();
    let reply = forward_auth(&server, Some(&api_key(&secret)), "GET", "/v1/payroll/runs").await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    service
        .revoke_key(account.id, key.record.id, &Actor::cli())
        .await
        .unwrap();
    let reply = forward_auth(&server, Some(&api_key(&secret)), "GET", "/v1/payroll/runs").await;
    assert_eq!(reply.status, 401, "{}", reply.text);
    assert_eq!(reply.body["code"], "key_revoked", "{}", reply.text);
}
