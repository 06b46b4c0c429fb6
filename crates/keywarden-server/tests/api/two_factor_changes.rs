//! Changing a second factor that is on: `POST /v1/auth/2fa/disable/` (204; the TOTP secret and
//! the recovery codes deleted, every session of the user ended) and
//! `POST /v1/auth/2fa/recovery-codes/` (ten new codes, the old ones stop working), each
//! confirmed with `{password, otp}`. A wrong password or code is a 403 that changes nothing
//! and keeps the session; failures count against sign-in's limits.

use crate::support::{
    Reply, assert_invalid_field, assert_no_secret_in, enable_two_factor, get, send, sign_in_as,
    stored_user, token_not_valid, totp_code,
};
use keywarden_core::Clock;
use keywarden_core::audit::{Action, AuditEvent};
use keywarden_core::ids::AccountId;
use keywarden_testkit::{PASSWORD, TestServer, role};
use serde_json::{Value, json};
use std::collections::HashSet;
use time::Duration;

const DISABLE: &str = "/v1/auth/2fa/disable/";
const RECOVERY_CODES: &str = "/v1/auth/2fa/recovery-codes/";
const OTP_INVALID: &str =
    "The two-factor code is wrong, expired or already used. Wait for the next code and try again.";

fn password_invalid() -> Value {
    json!({
        "detail": "The password is wrong. Enter the password you sign in with.",
        "code": "password_invalid",
        "field": "password"
    })
}

fn otp_invalid() -> Value {
    json!({
        "detail": "The two-factor code is wrong, expired or already used. Enter the current code from your authenticator app, or an unused recovery code.",
        "code": "otp_invalid",
        "field": "otp"
    })
}

fn not_enabled() -> Value {
    json!({
        "detail": "Two-factor authentication is not on for your user, so there is nothing to turn off or replace. Turn it on with POST /v1/auth/2fa/setup/.",
        "code": "two_factor_not_enabled"
    })
}

/// `POST path` with `body` as `token`, from `client` (via `X-Forwarded-For`, like
/// [`sign_in_as`], so both count against the same address).
async fn post_from(
    server: &TestServer,
    client: &str,
    token: &str,
    path: &str,
    body: &Value,
) -> Reply {
    send(
        server
            .http
            .post(server.url(path))
            .bearer_auth(token)
            .header("X-Forwarded-For", client)
            .json(body),
    )
    .await
}

/// `POST path` `{password, otp}` as `token`.
async fn confirm(server: &TestServer, token: &str, path: &str, password: &str, otp: &str) -> Reply {
    let body = json!({ "password": password, "otp": otp });
    post_from(server, "127.0.0.1", token, path, &body).await
}

async fn sign_in(server: &TestServer, email: &str, otp: Option<&str>) -> Reply {
    sign_in_as(server, "127.0.0.1", email, PASSWORD, otp).await
}

/// A code that is not valid now (nor for the previous step).
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

/// The recovery codes of a 200 answer, checked for shape: ten, unique, each like those that
/// confirming gives (12 letters and digits in groups).
fn recovery_codes(reply: &Reply) -> Vec<String> {
    assert_eq!(reply.status, 200, "{}", reply.text);
    reply.assert_json();
    let fields: Vec<&String> = reply.body.as_object().unwrap().keys().collect();
    assert_eq!(fields, ["recovery_codes"], "{}", reply.text);
    let codes: Vec<String> = reply.body["recovery_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(codes.len(), 10, "{}", reply.text);
    assert_eq!(codes.iter().collect::<HashSet<_>>().len(), 10, "unique");
    for code in &codes {
        let groups: Vec<&str> = code.split('-').collect();
        assert_eq!(groups.len(), 3, "{code}");
        assert!(
            groups
                .iter()
                .all(|g| g.len() == 4 && g.chars().all(|c| c.is_ascii_alphanumeric())),
            "{code}"
        );
    }
    codes
}

async fn events(server: &TestServer, account: AccountId, action: Action) -> Vec<AuditEvent> {
    let all = server
        .service()
        .store()
        .audit_events(account, 10_000)
        .await
        .unwrap();
    all.into_iter().filter(|e| e.action == action).collect()
}

/// Asserts that no audit row of `account` shows any of `secrets`.
async fn assert_trail_shows_none_of(server: &TestServer, account: AccountId, secrets: &[&str]) {
    let all = server
        .service()
        .store()
        .audit_events(account, 10_000)
        .await
        .unwrap();
    for event in &all {
        assert_no_secret_in(&format!("{event:?}"), secrets);
    }
}

#[tokio::test]
async fn new_recovery_codes_replace_the_old_ones_and_keep_the_session() {
    let server = TestServer::start().await;
    let account = server.account("Acme").await;
    let email = server
        .user(account.id, "dev@acme.test", role("developer"))
        .await;
    let (token, _) = server.sign_in(&email).await;
    let (secret, old) = enable_two_factor(&server, &token).await;

    // With a recovery code: ten new codes; the one spent and every other old one are gone.
    let reply = confirm(&server, &token, RECOVERY_CODES, PASSWORD, &old[0]).await;
    let new = recovery_codes(&reply);
    assert!(new.iter().all(|c| !old.contains(c)), "all new");
    for code in [&old[0], &old[1], &old[9]] {
        sign_in(&server, &email, Some(code))
            .await
            .assert_error(401)
            .assert_body(&json!({ "detail": OTP_INVALID, "code": "otp_invalid" }));
    }
    let reply = sign_in(&server, &email, Some(&new[0])).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    sign_in(&server, &email, Some(&new[0]))
        .await
        .assert_error(401);

    // The session stands, and 2FA is still on.
    let me = get(&server, &token, "/v1/auth/me/").await;
    assert_eq!(me.status, 200, "{}", me.text);
    assert_eq!(me.body["user"]["two_factor_enabled"], true);

    // With a TOTP code, whose step is then used up (here and at sign-in).
    server.advance(Duration::seconds(30)).await;
    let code = totp_code(&secret, server.clock.now());
    let newer = recovery_codes(&confirm(&server, &token, RECOVERY_CODES, PASSWORD, &code).await);
    sign_in(&server, &email, Some(&new[1]))
        .await
        .assert_error(401);
    sign_in(&server, &email, Some(&code))
        .await
        .assert_error(401);
    confirm(&server, &token, RECOVERY_CODES, PASSWORD, &code)
        .await
        .assert_error(403)
        .assert_body(&otp_invalid());
    assert_eq!(sign_in(&server, &email, Some(&newer[5])).await.status, 200);

    // Two audit rows, by the user, naming how it was confirmed and no secret.
    let rows = events(&server, account.id, Action::RecoveryCodesRegenerated).await;
    assert_eq!(rows.len(), 2, "{rows:?}");
    let user = stored_user(&server, &email).await;
    assert!(rows.iter().all(|e| e.actor.user_id == Some(user.id)));
    assert!(
        rows[0].detail.contains("authenticator code"),
        "{}",
        rows[0].detail
    );
    assert!(
        rows[1].detail.contains("recovery code"),
        "{}",
        rows[1].detail
    );
    let mut secrets: Vec<&str> = vec![PASSWORD, &secret, &code];
    secrets.extend(old.iter().chain(&new).chain(&newer).map(String::as_str));
    assert_trail_shows_none_of(&server, account.id, &secrets).await;
    assert_no_secret_in(
        &reply_text_of_audit(&server, &account.admin_email).await,
        &secrets,
    );
}

/// The audit trail as an admin reads it.
async fn reply_text_of_audit(server: &TestServer, admin: &str) -> String {
    let (token, _) = server.sign_in(admin).await;
    let reply = get(server, &token, "/v1/audit-events/").await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    reply.text
}

#[tokio::test]
async fn turning_it_off_with_a_recovery_code_ends_every_session_and_leaves_others_alone() {
    let server = TestServer::start().await;
    let account = server.account("Acme").await;
    let admin = account.admin_email.clone();
    let email = server
        .user(account.id, "dev@acme.test", role("developer"))
        .await;
    let (admin_token, _) = server.sign_in(&admin).await;
    let (admin_secret, admin_codes) = enable_two_factor(&server, &admin_token).await;
    let (token, refresh) = server.sign_in(&email).await;
    let (secret, codes) = enable_two_factor(&server, &token).await;
    // A second session of the user, elsewhere.
    server.advance(Duration::seconds(30)).await;
    let code = totp_code(&secret, server.clock.now());
    let other_session = sign_in(&server, &email, Some(&code)).await;
    assert_eq!(other_session.status, 200, "{}", other_session.text);
    let other_token = other_session.str_field("access").to_owned();
    let before = stored_user(&server, &email).await;

    let reply = confirm(&server, &token, DISABLE, PASSWORD, &codes[3]).await;
    assert_eq!(reply.status, 204, "{}", reply.text);
    assert!(reply.text.is_empty(), "{}", reply.text);

    // Off: sign-in asks for the password only; the seed and the codes are gone.
    let after = stored_user(&server, &email).await;
    assert!(!after.two_factor_enabled);
    assert_eq!(after.session_version, before.session_version + 1);
    assert_eq!(server.service().store().totp(after.id).await.unwrap(), None);
    let reply = sign_in(&server, &email, None).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let fresh_token = reply.str_field("access").to_owned();
    let me = get(&server, &fresh_token, "/v1/auth/me/").await;
    assert_eq!(me.body["user"]["two_factor_enabled"], false, "{}", me.text);

    // Every session of the user ended, this one too (the console signs in again).
    for ended in [&token, &other_token] {
        get(&server, ended, "/v1/auth/me/")
            .await
            .assert_error(401)
            .assert_body(&token_not_valid());
    }
    let reply = send(
        server
            .http
            .post(server.url("/v1/auth/token/refresh/"))
            .json(&json!({ "refresh": refresh })),
    )
    .await;
    reply.assert_error(401);

    // Turned on again, the old recovery codes are not back.
    let (_, again) = enable_two_factor(&server, &fresh_token).await;
    assert!(again.iter().all(|c| !codes.contains(c)));
    sign_in(&server, &email, Some(&codes[4]))
        .await
        .assert_error(401);

    // The admin's second factor and session are untouched.
    let admin_row = stored_user(&server, &admin).await;
    assert!(admin_row.two_factor_enabled);
    assert_eq!(get(&server, &admin_token, "/v1/auth/me/").await.status, 200);
    sign_in(&server, &admin, None).await.assert_error(401);
    assert_eq!(
        sign_in(&server, &admin, Some(&admin_codes[3])).await.status,
        200,
        "the same-numbered code of another user still works"
    );

    // One audit row, shown as a 2FA change, without a secret.
    let rows = events(&server, account.id, Action::TwoFactorDisabled).await;
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0].actor.user_id, Some(after.id));
    assert!(
        rows[0].detail.contains("recovery code"),
        "{}",
        rows[0].detail
    );
    let trail = get(
        &server,
        &admin_token,
        "/v1/audit-events/?action=2fa.disabled",
    )
    .await;
    assert_eq!(trail.status, 200, "{}", trail.text);
    assert_eq!(
        trail.body["results"][0]["action"], "2fa.disabled",
        "{}",
        trail.text
    );
    let mut secrets: Vec<&str> = vec![PASSWORD, &secret, &admin_secret, &code];
    secrets.extend(codes.iter().chain(&again).map(String::as_str));
    assert_trail_shows_none_of(&server, account.id, &secrets).await;
    assert_no_secret_in(&trail.text, &secrets);
}

#[tokio::test]
async fn turning_it_off_with_a_totp_code() {
    let server = TestServer::start().await;
    let account = server.account("Acme").await;
    let email = account.admin_email.clone();
    let (token, _) = server.sign_in(&email).await;
    let (secret, _) = enable_two_factor(&server, &token).await;
    server.advance(Duration::seconds(30)).await;
    let code = totp_code(&secret, server.clock.now());
    let reply = confirm(&server, &token, DISABLE, PASSWORD, &format!(" {code} ")).await;
    assert_eq!(reply.status, 204, "{}", reply.text);
    let reply = sign_in(&server, &email, None).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let token = reply.str_field("access").to_owned();
    // Nothing left to turn off.
    confirm(&server, &token, DISABLE, PASSWORD, &code)
        .await
        .assert_error(409)
        .assert_body(&not_enabled());
    let rows = events(&server, account.id, Action::TwoFactorDisabled).await;
    assert_eq!(rows.len(), 1);
    assert!(
        rows[0].detail.contains("authenticator code"),
        "{}",
        rows[0].detail
    );
}

#[tokio::test]
async fn a_wrong_password_or_code_is_a_403_that_changes_nothing() {
    let server = TestServer::start().await;
    let account = server.account("Acme").await;
    let email = account.admin_email.clone();
    let (token, _) = server.sign_in(&email).await;
    let (secret, codes) = enable_two_factor(&server, &token).await;
    let user = stored_user(&server, &email).await;
    let enrolment = server.service().store().totp(user.id).await.unwrap();
    let trail = server
        .service()
        .store()
        .audit_events(account.id, 10_000)
        .await
        .unwrap();
    // The confirming code's step is used up.
    let used = totp_code(&secret, server.clock.now());
    server.advance(Duration::seconds(30)).await;
    let current = totp_code(&secret, server.clock.now());

    // A wrong password, with a good code of either kind (which is then not spent). Four
    // failures: below the limit of five.
    for (path, otp) in [
        (DISABLE, &current),
        (DISABLE, &codes[0]),
        (RECOVERY_CODES, &current),
        (RECOVERY_CODES, &codes[0]),
    ] {
        confirm(&server, &token, path, "not the password", otp)
            .await
            .assert_error(403)
            .assert_body(&password_invalid());
    }
    // The right password with a wrong, a reused or a made-up code: three failures.
    for (path, otp) in [
        (DISABLE, wrong_code(&secret, &server)),
        (RECOVERY_CODES, used.clone()),
        (DISABLE, "aaaa-bbbb-cccc".into()),
    ] {
        confirm(&server, &token, path, PASSWORD, &otp)
            .await
            .assert_error(403)
            .assert_body(&otp_invalid());
    }
    // Nothing changed, nothing was recorded, and the session stands.
    let me = get(&server, &token, "/v1/auth/me/").await;
    assert_eq!(me.status, 200, "the session stands: {}", me.text);
    assert_eq!(me.body["user"]["two_factor_enabled"], true);
    assert_eq!(stored_user(&server, &email).await, user);
    assert_eq!(
        server.service().store().totp(user.id).await.unwrap(),
        enrolment
    );
    let now = server
        .service()
        .store()
        .audit_events(account.id, 10_000)
        .await
        .unwrap();
    assert_eq!(now.len(), trail.len(), "no audit row: {now:?}");

    // Neither code sent with the wrong password was spent.
    let reply = confirm(&server, &token, RECOVERY_CODES, PASSWORD, &codes[0]).await;
    recovery_codes(&reply);
    let reply = confirm(&server, &token, DISABLE, PASSWORD, &current).await;
    assert_eq!(reply.status, 204, "{}", reply.text);
}

#[tokio::test]
async fn without_two_factor_there_is_nothing_to_change() {
    let server = TestServer::start().await;
    let account = server.account("Acme").await;
    let email = account.admin_email.clone();
    let (token, _) = server.sign_in(&email).await;
    let trail = server
        .service()
        .store()
        .audit_events(account.id, 10_000)
        .await
        .unwrap();
    for path in [DISABLE, RECOVERY_CODES] {
        confirm(&server, &token, path, PASSWORD, "123456")
            .await
            .assert_error(409)
            .assert_body(&not_enabled());
        // Not a password check: a wrong one gets the same answer.
        confirm(&server, &token, path, "not the password", "123456")
            .await
            .assert_error(409)
            .assert_body(&not_enabled());
    }
    // A setup started but not confirmed is not on either.
    let setup = crate::support::post(&server, &token, "/v1/auth/2fa/setup/", &json!({})).await;
    let code = totp_code(setup.str_field("secret"), server.clock.now());
    for path in [DISABLE, RECOVERY_CODES] {
        confirm(&server, &token, path, PASSWORD, &code)
            .await
            .assert_error(409)
            .assert_body(&not_enabled());
    }
    let now = server
        .service()
        .store()
        .audit_events(account.id, 10_000)
        .await
        .unwrap();
    assert_eq!(now.len(), trail.len() + 1, "only the setup's row: {now:?}");
    assert_eq!(get(&server, &token, "/v1/auth/me/").await.status, 200);
}

#[tokio::test]
async fn missing_empty_or_mistyped_fields_are_a_400_naming_them() {
    let server = TestServer::start().await;
    let account = server.account("Acme").await;
    let (token, _) = server.sign_in(&account.admin_email).await;
    enable_two_factor(&server, &token).await;
    for path in [DISABLE, RECOVERY_CODES] {
        for (body, field) in [
            (json!({}), "password"),
            (json!({ "otp": "123456" }), "password"),
            (json!({ "password": PASSWORD }), "otp"),
            (json!({ "password": 12, "otp": "123456" }), "password"),
            (json!({ "password": PASSWORD, "otp": 123456 }), "otp"),
            (json!({ "password": PASSWORD, "otp": null }), "otp"),
            (json!({ "password": "", "otp": "123456" }), "password"),
            (json!({ "password": PASSWORD, "otp": "  " }), "otp"),
            (
                json!({ "password": PASSWORD, "otp": "123456", "user_id": "x" }),
                "user_id",
            ),
        ] {
            let reply = post_from(&server, "127.0.0.1", &token, path, &body).await;
            assert_invalid_field(&reply, field);
        }
        let reply = send(
            server
                .http
                .post(server.url(path))
                .bearer_auth(&token)
                .header("Content-Type", "application/json")
                .body("{not json"),
        )
        .await;
        reply.assert_error(400);
        assert_eq!(reply.body["code"], "malformed_body", "{}", reply.text);
    }
    // None of these was a failed attempt: the limits are untouched.
    let user = stored_user(&server, &account.admin_email).await;
    assert!(user.two_factor_enabled);
    for _ in 0..5 {
        confirm(&server, &token, DISABLE, "not the password", "123456")
            .await
            .assert_error(403);
    }
}

#[tokio::test]
async fn wrong_passwords_count_against_the_sign_in_limit() {
    let server = TestServer::start().await;
    let account = server.account("Acme").await;
    let email = account.admin_email.clone();
    let (token, _) = server.sign_in(&email).await;
    let (secret, _) = enable_two_factor(&server, &token).await;
    server.advance(Duration::seconds(30)).await;
    // Five wrong passwords (the per-user limit from one address)...
    for n in 0..5 {
        let path = if n % 2 == 0 { DISABLE } else { RECOVERY_CODES };
        confirm(&server, &token, path, &format!("guess {n}"), "123456")
            .await
            .assert_error(403)
            .assert_body(&password_invalid());
    }
    // ... then even the right password waits, here and at sign-in.
    let code = totp_code(&secret, server.clock.now());
    let reply = confirm(&server, &token, DISABLE, PASSWORD, &code).await;
    reply.assert_error(429);
    assert_eq!(reply.body["code"], "rate_limited", "{}", reply.text);
    let retry_after: u64 = reply.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=900).contains(&retry_after), "{retry_after}");
    let signing_in = sign_in(&server, &email, Some(&code)).await;
    signing_in.assert_error(429);
    assert_eq!(signing_in.body, reply.body, "the same answer as sign-in");
    assert!(stored_user(&server, &email).await.two_factor_enabled);

    // The limit decays: after the wait, the right password and a fresh code do it.
    server
        .advance(Duration::seconds(i64::try_from(retry_after).unwrap()))
        .await;
    let code = totp_code(&secret, server.clock.now());
    let reply = confirm(&server, &token, DISABLE, PASSWORD, &code).await;
    assert_eq!(reply.status, 204, "{}", reply.text);
}

#[tokio::test]
async fn wrong_codes_count_against_the_second_factor_limit() {
    let server = TestServer::start().await;
    let account = server.account("Acme").await;
    let email = account.admin_email.clone();
    let (token, _) = server.sign_in(&email).await;
    let (secret, codes) = enable_two_factor(&server, &token).await;
    server.advance(Duration::seconds(30)).await;
    // Five wrong codes, from five addresses: the limit is per user.
    for n in 0..5 {
        let client = format!("198.51.100.{n}");
        let body = json!({ "password": PASSWORD, "otp": wrong_code(&secret, &server) });
        post_from(&server, &client, &token, RECOVERY_CODES, &body)
            .await
            .assert_error(403)
            .assert_body(&otp_invalid());
    }
    // Then a right code waits too, here and at sign-in; nothing was spent or changed.
    let reply = confirm(&server, &token, RECOVERY_CODES, PASSWORD, &codes[0]).await;
    reply.assert_error(429);
    assert_eq!(reply.body["code"], "rate_limited", "{}", reply.text);
    let retry_after: u64 = reply.header("retry-after").unwrap().parse().unwrap();
    let code = totp_code(&secret, server.clock.now());
    sign_in_as(&server, "198.51.100.9", &email, PASSWORD, Some(&code))
        .await
        .assert_error(429);
    server
        .advance(Duration::seconds(i64::try_from(retry_after).unwrap()))
        .await;
    let reply = confirm(&server, &token, RECOVERY_CODES, PASSWORD, &codes[0]).await;
    recovery_codes(&reply);
}
