//! The standard keys (seed 001, SPEC §4): `GET /v1/auth/api-keys/` and
//! `PATCH /v1/auth/api-keys/`, roles, the seeds' 400/404 bodies, rotation with and without a
//! grace period, overlapping rotations, the replacement of a revoked one, and account isolation.

use crate::support::{
    Reply, active_standard_keys, api_key, assert_key_stopped, assert_key_works, forward_auth,
    forward_auth_from, get_standard_keys, patch_standard_keys, send, standard_key, stored_key,
};
use keywarden_core::audit::Action;
use keywarden_core::clock::Clock;
use keywarden_core::key_format::{Mode, hint_of};
use keywarden_core::key_record::{KeyRecord, Lifecycle};
use keywarden_testkit::{TestServer, role};
use serde_json::{Value, json};
use time::Duration;

const FORBIDDEN: &str = "You do not have permission to perform this action.";

fn no_keys() -> Value {
    json!({
        "code": 404,
        "title": "API Keys not found",
        "content": "No API keys found for this user. Please contact support.",
        "type": "warning",
    })
}

fn bad_type() -> Value {
    json!({
        "message": {
            "code": 400,
            "title": "Invalid request",
            "content": "Please provide a valid 'type' field: 'test' or 'live'.",
            "type": "danger",
        }
    })
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

/// The metadata of a standard key that was issued by the operator at 12:00 and never used.
fn fresh_metadata(record: &KeyRecord, key: &str) -> Value {
    json!({
        "id": record.id.to_string(),
        "kind": "standard",
        "type": record.mode.as_str(),
        "label": format!("Standard {} key", record.mode),
        "hint": hint_of(key),
        "scopes": EVERY_SCOPE,
        "status": "active",
        "created_at": "2026-06-01T12:00:00Z",
        "created_by": null,
        "created_by_email": null,
        "expires_at": null,
        "last_used_at": null,
        "rotated_at": null,
        "revoked_at": null,
        "grace_until": null,
        "rotation_due": false,
        "allowed_ips": null,
        "rate_limit": null,
        "usage_limit": null,
        "usage": null,
        "last_used_ip": null,
        "metadata": null,
        "leaked_at": null,
        "leak_url": null,
        "canary": false,
        "tripped_count": 0,
        "last_tripped_at": null,
    })
}

fn assert_no_secret(reply: &Reply, secrets: &[&str]) {
    for secret in secrets {
        assert!(
            !reply.text.contains(secret),
            "the body shows a secret: {}",
            reply.text
        );
        // Not even the random part of it.
        assert!(
            !reply.text.contains(&secret[8..40]),
            "the body shows part of a secret"
        );
    }
}

#[tokio::test]
async fn admins_and_developers_see_both_keys_but_never_a_secret() {
    let server = TestServer::start().await;
    let account = server.account("Acme").await;
    let developer = server
        .user(account.id, "dev@acme.test", role("developer"))
        .await;
    let test = standard_key(&server, account.id, Mode::Test).await;
    let live = standard_key(&server, account.id, Mode::Live).await;
    for email in [account.admin_email.as_str(), developer.as_str()] {
        let (token, _) = server.sign_in(email).await;
        let reply = get_standard_keys(&server, &token).await;
        assert_eq!(reply.status, 200, "{email}: {}", reply.text);
        reply.assert_json().assert_body(&json!({
            "test": fresh_metadata(&test, &account.test_key),
            "live": fresh_metadata(&live, &account.live_key),
        }));
        assert_no_secret(&reply, &[&account.test_key, &account.live_key]);
    }
}

#[tokio::test]
async fn a_member_may_neither_see_nor_rotate_keys() {
    let server = TestServer::start().await;
    let account = server.account("Acme").await;
    let member = server
        .user(account.id, "mia@acme.test", role("member"))
        .await;
    let (token, _) = server.sign_in(&member).await;
    let before = standard_key(&server, account.id, Mode::Test).await;

    let reply = get_standard_keys(&server, &token).await;
    reply
        .assert_error(403)
        .assert_body(&json!({ "detail": FORBIDDEN }));
    assert_no_secret(&reply, &[&account.test_key, &account.live_key]);
    let reply = patch_standard_keys(&server, &token, &json!({ "type": "test" })).await;
    reply
        .assert_error(403)
        .assert_body(&json!({ "detail": FORBIDDEN }));

    assert_eq!(standard_key(&server, account.id, Mode::Test).await, before);
    assert_key_works(&server, &account.test_key).await;
}

#[tokio::test]
async fn the_endpoints_need_a_signed_in_user() {
    let server = TestServer::start().await;
    let account = server.account("Acme").await;
    let not_provided = json!({ "detail": "Authentication credentials were not provided." });
    let reply = send(server.http.get(server.url("/v1/auth/api-keys/"))).await;
    reply.assert_error(401).assert_body(&not_provided);
    let reply = send(
        server
            .http
            .patch(server.url("/v1/auth/api-keys/"))
            .json(&json!({ "type": "test" })),
    )
    .await;
    reply.assert_error(401).assert_body(&not_provided);
    // An API key is not a console credential.
    let reply = send(
        server
            .http
            .patch(server.url("/v1/auth/api-keys/"))
            .header("Authorization", format!("Bearer {}", account.test_key))
            .json(&json!({ "type": "test" })),
    )
    .await;
    reply.assert_error(401);
    assert_eq!(reply.body["code"], "token_not_valid");
    assert_key_works(&server, &account.test_key).await;
}

#[tokio::test]
async fn an_account_without_keys_gets_the_seeds_404() {
    let server = TestServer::start().await;
    let account = server.account_with("Bare", false).await;
    let (token, _) = server.sign_in(&account.admin_email).await;
    get_standard_keys(&server, &token)
        .await
        .assert_error(404)
        .assert_body(&no_keys());
    patch_standard_keys(&server, &token, &json!({ "type": "live" }))
        .await
        .assert_error(404)
        .assert_body(&no_keys());
    assert!(
        active_standard_keys(&server, account.id, Mode::Live)
            .await
            .is_empty()
    );
}

#[tokio::test]
async fn a_missing_or_wrong_type_gets_the_seeds_400_and_rotates_nothing() {
    let server = TestServer::start().await;
    let account = server.account("Acme").await;
    let (token, _) = server.sign_in(&account.admin_email).await;
    for body in [
        json!({}),
        json!({ "type": "prod" }),
        json!({ "type": 1 }),
        json!({ "type": null }),
        json!({ "type": "TEST" }),
        json!({ "type": " test" }),
        json!({ "type": ["test"] }),
        json!({ "type": { "mode": "test" } }),
        json!({ "expire_previous_in": 60 }),
        json!({ "type": "prod", "expire_previous_in": 60 }),
        json!({ "type": "prod", "expire_previous_in": "abc" }),
        json!([]),
        json!("test"),
    ] {
        let reply = patch_standard_keys(&server, &token, &body).await;
        reply.assert_error(400).assert_body(&bad_type());
    }
    let empty = send(
        server
            .http
            .patch(server.url("/v1/auth/api-keys/"))
            .bearer_auth(&token),
    )
    .await;
    empty.assert_error(400).assert_body(&bad_type());

    // Nothing was rotated.
    assert_key_works(&server, &account.test_key).await;
    assert_key_works(&server, &account.live_key).await;
    let events = server
        .service()
        .store()
        .audit_events(account.id, 50)
        .await
        .unwrap();
    assert!(
        events.iter().all(|e| e.action != Action::KeyRotated),
        "{events:?}"
    );
}

#[tokio::test]
async fn rotation_shows_the_new_secret_once_and_stops_the_old_key_at_once() {
    let server = TestServer::start().await;
    let account = server.account("Acme").await;
    let admin = server
        .service()
        .store()
        .user_by_email(&account.admin_email)
        .await
        .unwrap()
        .unwrap();
    let (token, _) = server.sign_in(&account.admin_email).await;
    let old = standard_key(&server, account.id, Mode::Test).await;
    let live = standard_key(&server, account.id, Mode::Live).await;
    server.advance(Duration::minutes(2)).await;

    let reply = patch_standard_keys(&server, &token, &json!({ "type": "test" })).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    reply.assert_json();
    let new_key = reply.str_field("key").to_owned();
    assert!(
        new_key.starts_with("sk_test_") && new_key.len() == 46,
        "{new_key}"
    );
    assert_ne!(new_key, account.test_key);
    assert!(keywarden_core::key_format::parse(&new_key).is_ok());
    let new = standard_key(&server, account.id, Mode::Test).await;
    assert_ne!(new.id, old.id);
    assert_eq!(reply.body["id"], new.id.to_string());
    assert_eq!(reply.body["type"], "test");
    assert_eq!(reply.body["kind"], "standard");
    assert_eq!(reply.body["status"], "active");
    assert_eq!(reply.body["hint"], hint_of(&new_key));
    assert_eq!(reply.body["created_at"], "2026-06-01T12:02:00Z");
    assert_eq!(reply.body["created_by"], admin.id.to_string());
    assert_eq!(
        reply.body["previous"],
        json!({
            "id": old.id.to_string(),
            "hint": hint_of(&account.test_key),
            "stops_at": "2026-06-01T12:02:00Z",
        })
    );
    assert!(
        !reply.text.contains(&account.test_key),
        "the old secret is not shown again"
    );

    // The very next request: the old key is refused, the new one and the live key pass.
    assert_key_stopped(
        &server,
        &account.test_key,
        "key_rotated",
        "2026-06-01T12:02:00Z",
    )
    .await;
    let passed = forward_auth(&server, Some(&api_key(&new_key)), "GET", "/v1/customers/").await;
    assert_eq!(passed.status, 200, "{}", passed.text);
    assert_eq!(
        passed.header("x-keywarden-key-id"),
        Some(new.id.to_string().as_str())
    );
    assert_eq!(passed.header("x-keywarden-mode"), Some("test"));
    assert_key_works(&server, &account.live_key).await;

    // What is stored.
    let old_now = stored_key(&server, account.id, old.id).await;
    assert_eq!(old_now.lifecycle, Lifecycle::Rotated);
    assert_eq!(old_now.replaced_by, Some(new.id));
    assert_eq!(old_now.grace_until, old_now.rotated_at);
    assert_eq!(new.replaces, Some(old.id));
    assert_eq!(new.digest, server.service().hasher().digest(&new_key));
    assert_eq!(standard_key(&server, account.id, Mode::Live).await, live);
    let events = server
        .service()
        .store()
        .audit_events(account.id, 50)
        .await
        .unwrap();
    let rotated: Vec<_> = events
        .iter()
        .filter(|e| e.action == Action::KeyRotated)
        .collect();
    assert_eq!(rotated.len(), 1, "{events:?}");
    assert_eq!(rotated[0].key_id, Some(old.id));
    assert_eq!(rotated[0].actor.user_id, Some(admin.id));
    for event in &events {
        assert!(!event.detail.contains(&new_key) && !event.detail.contains(&account.test_key));
    }

    // The list shows the successor, never its secret.
    let listed = get_standard_keys(&server, &token).await;
    assert_eq!(listed.status, 200);
    assert_eq!(listed.body["test"]["id"], new.id.to_string());
    assert_eq!(listed.body["test"]["hint"], hint_of(&new_key));
    assert_eq!(listed.body["live"]["id"], live.id.to_string());
    assert_no_secret(&listed, &[&new_key, &account.test_key, &account.live_key]);

    // Requests one after the other each rotate the key that is current then.
    let again = patch_standard_keys(&server, &token, &json!({ "type": "test" })).await;
    assert_eq!(again.status, 200, "{}", again.text);
    assert_eq!(again.body["previous"]["id"], new.id.to_string());
    assert_key_stopped(&server, &new_key, "key_rotated", "2026-06-01T12:02:00Z").await;
    assert_key_works(&server, again.str_field("key")).await;
}

#[tokio::test]
async fn expire_previous_in_keeps_the_old_key_working_that_long() {
    let server = TestServer::start().await;
    let account = server.account("Acme").await;
    let (token, _) = server.sign_in(&account.admin_email).await;
    let old = standard_key(&server, account.id, Mode::Live).await;

    let reply = patch_standard_keys(
        &server,
        &token,
        &json!({ "type": "live", "expire_previous_in": 3600 }),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.body["previous"]["stops_at"], "2026-06-01T13:00:00Z");
    let new_key = reply.str_field("key").to_owned();
    assert!(new_key.starts_with("sk_live_"));
    let stored = stored_key(&server, account.id, old.id).await;
    assert_eq!(stored.lifecycle, Lifecycle::Rotated);
    assert_eq!(
        stored.grace_until.map(crate::support::rfc3339).as_deref(),
        Some("2026-06-01T13:00:00Z")
    );

    assert_key_works(&server, &account.live_key).await;
    assert_key_works(&server, &new_key).await;
    server.advance(Duration::seconds(3599)).await;
    assert_key_works(&server, &account.live_key).await;
    server.advance(Duration::seconds(1)).await;
    assert_key_stopped(
        &server,
        &account.live_key,
        "key_rotated",
        "2026-06-01T13:00:00Z",
    )
    .await;
    assert_key_works(&server, &new_key).await;
}

#[tokio::test]
async fn the_longest_grace_is_seven_days() {
    let server = TestServer::start().await;
    let account = server.account("Acme").await;
    let (token, _) = server.sign_in(&account.admin_email).await;
    let reply = patch_standard_keys(
        &server,
        &token,
        &json!({ "type": "test", "expire_previous_in": 604_800 }),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.body["previous"]["stops_at"], "2026-06-08T12:00:00Z");
    let reply = patch_standard_keys(
        &server,
        &token,
        &json!({ "type": "live", "expire_previous_in": 0 }),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_key_stopped(
        &server,
        &account.live_key,
        "key_rotated",
        "2026-06-01T12:00:00Z",
    )
    .await;
}

#[tokio::test]
async fn an_out_of_range_expire_previous_in_is_400_naming_the_field() {
    let server = TestServer::start().await;
    let account = server.account("Acme").await;
    let (token, _) = server.sign_in(&account.admin_email).await;
    let before = standard_key(&server, account.id, Mode::Test).await;
    for value in [
        json!(604_801),
        json!(-1),
        json!("abc"),
        json!("3600"),
        json!(1.5),
        json!(true),
        json!({}),
        json!([60]),
        json!(1e20),
        json!(i64::MIN),
        json!(u64::MAX),
    ] {
        let reply = patch_standard_keys(
            &server,
            &token,
            &json!({ "type": "test", "expire_previous_in": value }),
        )
        .await;
        reply.assert_error(400);
        assert_eq!(
            reply.body["field"], "expire_previous_in",
            "{value}: {}",
            reply.text
        );
        assert!(
            reply.str_field("detail").contains("expire_previous_in"),
            "{}",
            reply.text
        );
    }
    assert_eq!(standard_key(&server, account.id, Mode::Test).await, before);
    assert_key_works(&server, &account.test_key).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn overlapping_rotations_leave_exactly_one_active_successor() {
    let server = TestServer::start().await;
    let account = server.account("Acme").await;
    let (token, _) = server.sign_in(&account.admin_email).await;
    let mut previous_secrets = vec![account.test_key.clone()];
    for round in 0..10 {
        let (current, others) =
            patch_twice_at_once(&server, &account, &token, Mode::Test, round).await;
        // Only the active successor works.
        previous_secrets.extend(others);
        assert_superseded(&server, &previous_secrets, "key_rotated", round).await;
        previous_secrets.push(current);
    }
    assert_key_works(&server, &account.live_key).await;
}

#[tokio::test]
async fn a_late_update_from_a_slower_request_cannot_revive_a_rotated_key() {
    // Two rotations one after the other: k0 → k1 → k2. If the first request applies its view of
    // k1 (active) to the key table after the second request applied k1 as rotated, k1 must stay
    // refused.
    let server = TestServer::start().await;
    let account = server.account("Acme").await;
    let (token, _) = server.sign_in(&account.admin_email).await;
    let first = patch_standard_keys(&server, &token, &json!({ "type": "test" })).await;
    let k1 = first.str_field("key").to_owned();
    let k1_id = standard_key(&server, account.id, Mode::Test).await.id;
    let k1_as_issued = stored_key(&server, account.id, k1_id).await;
    let second = patch_standard_keys(&server, &token, &json!({ "type": "test" })).await;
    assert_eq!(second.status, 200, "{}", second.text);

    server.state.keys.apply(&[k1_as_issued]);
    assert_key_stopped(&server, &k1, "key_rotated", "2026-06-01T12:00:00Z").await;
    assert_key_works(&server, second.str_field("key")).await;
}

#[tokio::test]
async fn accounts_see_and_change_only_their_own_keys() {
    let server = TestServer::start().await;
    let acme = server.account("Acme").await;
    let globex = server.account("Globex").await;
    let (acme_token, _) = server.sign_in(&acme.admin_email).await;
    let (globex_token, _) = server.sign_in(&globex.admin_email).await;
    let acme_test = standard_key(&server, acme.id, Mode::Test).await;

    let acme_view = get_standard_keys(&server, &acme_token).await;
    assert_eq!(acme_view.body["test"]["id"], acme_test.id.to_string());
    let globex_view = get_standard_keys(&server, &globex_token).await;
    for other_key in [&globex.test_key, &globex.live_key] {
        assert!(
            !acme_view.text.contains(&hint_of(other_key)),
            "Acme sees Globex's key"
        );
    }
    for record in [
        standard_key(&server, acme.id, Mode::Test).await,
        standard_key(&server, acme.id, Mode::Live).await,
    ] {
        assert!(
            !globex_view.text.contains(&record.id.to_string()),
            "Globex sees Acme's key"
        );
        assert!(
            !globex_view.text.contains(&record.hint),
            "Globex sees Acme's key"
        );
    }

    // Globex rotates its test key; Acme's keys are untouched.
    let reply = patch_standard_keys(&server, &globex_token, &json!({ "type": "test" })).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.body["previous"]["hint"], hint_of(&globex.test_key));
    assert_key_works(&server, &acme.test_key).await;
    assert_eq!(standard_key(&server, acme.id, Mode::Test).await, acme_test);
    assert_eq!(
        get_standard_keys(&server, &acme_token).await.body,
        acme_view.body
    );

    // Forward-auth names the right account for each key.
    let acme_pass = forward_auth(&server, Some(&api_key(&acme.live_key)), "GET", "/v1/x/").await;
    assert_eq!(
        acme_pass.header("x-keywarden-account"),
        Some(acme.id.to_string().as_str())
    );
    let globex_pass =
        forward_auth(&server, Some(&api_key(&globex.live_key)), "GET", "/v1/x/").await;
    assert_eq!(
        globex_pass.header("x-keywarden-account"),
        Some(globex.id.to_string().as_str())
    );
}

#[tokio::test]
async fn keys_older_than_the_rotation_period_are_flagged() {
    let server = TestServer::start().await;
    let account = server.account("Acme").await;
    server.advance(Duration::days(89)).await;
    let (token, _) = server.sign_in(&account.admin_email).await;
    let reply = get_standard_keys(&server, &token).await;
    assert_eq!(reply.body["test"]["rotation_due"], false, "{}", reply.text);

    server.advance(Duration::days(1)).await;
    let (token, _) = server.sign_in(&account.admin_email).await;
    let reply = get_standard_keys(&server, &token).await;
    assert_eq!(reply.body["test"]["rotation_due"], true, "{}", reply.text);
    assert_eq!(reply.body["live"]["rotation_due"], true, "{}", reply.text);

    let rotated = patch_standard_keys(&server, &token, &json!({ "type": "test" })).await;
    assert_eq!(rotated.body["rotation_due"], false, "{}", rotated.text);
    let reply = get_standard_keys(&server, &token).await;
    assert_eq!(reply.body["test"]["rotation_due"], false, "{}", reply.text);
    assert_eq!(reply.body["live"]["rotation_due"], true, "{}", reply.text);
}

#[tokio::test]
async fn a_revoked_standard_key_is_replaced_by_init_keys_and_only_that_one() {
    let Acme {
        server,
        account,
        token,
        live_id,
        test_id,
        ..
    } = Acme::start().await;
    revoke(&server, &token, &live_id).await;
    // The live one is gone from the standard keys.
    let listed = get_standard_keys(&server, &token).await;
    assert_eq!(listed.status, 200, "{}", listed.text);
    assert_eq!(listed.body["live"], Value::Null, "{}", listed.text);

    // The operator's init-keys issues the missing live key, and leaves the test key alone.
    let issued = server
        .service()
        .init_standard_keys(account.id, &keywarden_core::audit::Actor::system())
        .await
        .expect("the missing key is issued");
    assert_eq!(issued.len(), 1);
    assert_eq!(issued[0].record.mode, Mode::Live);
    let after = get_standard_keys(&server, &token).await;
    assert_eq!(after.body["test"]["id"], test_id.as_str());
    assert_eq!(
        after.body["live"]["id"],
        issued[0].record.id.to_string().as_str()
    );
    assert_key_works(&server, issued[0].secret.expose()).await;
    // Both active again: nothing more to issue.
    let again = server
        .service()
        .init_standard_keys(account.id, &keywarden_core::audit::Actor::system())
        .await;
    assert!(
        matches!(again, Err(keywarden_core::DomainError::Conflict(_))),
        "{again:?}"
    );
}

/// A revoked standard key comes back through `PATCH`: a new key of that mode with the revoked
/// one's label and allowlist, its secret shown once; the revoked key stays revoked, the other
/// standard key is left alone, and the next `PATCH` rotates the replacement as usual.
#[tokio::test]
async fn a_revoked_standard_key_is_replaced_by_rotating_it() {
    let Acme {
        server,
        account,
        token,
        before,
        live_id,
        test_id,
    } = Acme::start().await;
    let allowlisted = crate::support::patch(
        &server,
        &token,
        &format!("/v1/api-keys/{live_id}/"),
        &json!({ "allowed_ips": ["127.0.0.0/8"] }),
    )
    .await;
    assert_eq!(allowlisted.status, 200, "{}", allowlisted.text);
    server.advance(Duration::minutes(5)).await;
    let revoked_at = crate::support::rfc3339(server.clock.now());
    revoke(&server, &token, &live_id).await;
    server.advance(Duration::minutes(5)).await;

    // A hand-over is asked for out of habit: there is nothing left to hand over.
    let replaced = patch_standard_keys(
        &server,
        &token,
        &json!({ "type": "live", "expire_previous_in": 3600 }),
    )
    .await;
    assert_eq!(replaced.status, 200, "{}", replaced.text);
    let secret = replaced.str_field("key").to_owned();
    assert!(secret.starts_with("sk_live_"), "{secret}");
    assert_ne!(replaced.str_field("id"), live_id);
    assert_eq!(replaced.body["kind"], "standard");
    assert_eq!(replaced.body["label"], "Standard live key");
    assert_eq!(replaced.body["allowed_ips"], json!(["127.0.0.0/8"]));
    assert_eq!(
        replaced.body["previous"],
        json!({
            "id": live_id,
            "hint": before.body["live"]["hint"],
            "stops_at": revoked_at,
        })
    );
    assert_key_works(&server, &secret).await;
    assert_key_stopped(&server, &account.live_key, "key_revoked", &revoked_at).await;
    assert_key_works(&server, &account.test_key).await;

    let old = crate::support::get(&server, &token, &format!("/v1/api-keys/{live_id}/")).await;
    assert_eq!(old.body["status"], "revoked", "{}", old.text);
    let after = get_standard_keys(&server, &token).await;
    assert_eq!(after.body["live"]["id"], replaced.body["id"]);
    assert_eq!(after.body["test"]["id"], test_id.as_str());
    let events = crate::support::get(&server, &token, "/v1/audit-events/").await;
    let newest = &events.body["results"][0];
    assert_eq!(newest["action"], "key.created", "{}", events.text);
    assert_eq!(newest["key_id"], replaced.body["id"], "{}", events.text);

    // The replacement is an ordinary standard key: the next PATCH rotates it.
    let rotated = patch_standard_keys(&server, &token, &json!({ "type": "live" })).await;
    assert_eq!(rotated.status, 200, "{}", rotated.text);
    assert_eq!(rotated.body["previous"]["id"], replaced.body["id"]);
    assert_key_stopped(&server, &secret, "key_rotated", &rfc_now(&server)).await;
}

/// Both standard keys revoked is not an account without keys: `GET` answers both as `null`
/// (not the seeds' 404), and each comes back through `PATCH`.
#[tokio::test]
async fn both_standard_keys_revoked_are_listed_as_null_and_come_back() {
    let Acme {
        server,
        token,
        live_id,
        test_id,
        ..
    } = Acme::start().await;
    for id in [&test_id, &live_id] {
        revoke(&server, &token, id).await;
    }
    let listed = get_standard_keys(&server, &token).await;
    assert_eq!(listed.status, 200, "{}", listed.text);
    assert_eq!(listed.body, json!({ "test": null, "live": null }));
    let test = patch_standard_keys(&server, &token, &json!({ "type": "test" })).await;
    assert_eq!(test.status, 200, "{}", test.text);
    assert_key_works(&server, test.str_field("key")).await;
    let listed = get_standard_keys(&server, &token).await;
    assert_eq!(listed.body["test"]["id"], test.body["id"]);
    assert_eq!(listed.body["live"], Value::Null);
}

/// Instances whose clocks disagree: a successor made on an instance a few minutes behind is
/// older, by its creation time, than the key it replaced. Rotation still finds the active key
/// (not the newest), and a revocation at the end of such a chain is still replaced.
#[tokio::test]
async fn a_standard_key_made_by_an_instance_with_a_slower_clock_is_still_the_one_rotated() {
    let Acme { server, token, .. } = Acme::start().await;
    let body = json!({ "type": "live" });
    let first = patch_standard_keys(&server, &token, &body).await;
    assert_eq!(first.status, 200, "{}", first.text);
    server.clock.set(server.clock.now() - Duration::minutes(5));
    let behind = patch_standard_keys(&server, &token, &body).await;
    assert_eq!(behind.status, 200, "{}", behind.text);
    assert_eq!(behind.body["previous"]["id"], first.body["id"]);
    let again = patch_standard_keys(&server, &token, &body).await;
    assert_eq!(again.status, 200, "{}", again.text);
    assert_eq!(again.body["previous"]["id"], behind.body["id"]);
    assert_key_works(&server, again.str_field("key")).await;

    revoke(&server, &token, again.str_field("id")).await;
    let replaced = patch_standard_keys(&server, &token, &body).await;
    assert_eq!(replaced.status, 200, "{}", replaced.text);
    assert_eq!(replaced.body["previous"]["id"], again.body["id"]);
    assert_key_works(&server, replaced.str_field("key")).await;
}

/// Two replacements of one revoked key at once: one wins (the other is told of the conflict,
/// or rotates the winner's key), and exactly one standard key of that mode is active.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn overlapping_replacements_leave_exactly_one_active_key() {
    let server = TestServer::start().await;
    let account = server.account("Acme").await;
    let (token, _) = server.sign_in(&account.admin_email).await;
    for round in 0..5 {
        let live = standard_key(&server, account.id, Mode::Live).await;
        revoke(&server, &token, &live.id.to_string()).await;
        // The loser is told of the conflict, or rotated the winner's key.
        let (_, others) = patch_twice_at_once(&server, &account, &token, Mode::Live, round).await;
        assert_superseded(&server, &others, "key_rotated", round).await;
    }
}

/// Two `PATCH /v1/auth/api-keys/` with `body` at once (round `round`): each is 200 or a 409
/// conflict, one at least succeeds, exactly one standard key of `mode` is active and was
/// answered, and it works. Returns its secret and the other secrets answered.
async fn patch_twice_at_once(
    server: &TestServer,
    account: &keywarden_testkit::SeededAccount,
    token: &str,
    mode: Mode,
    round: usize,
) -> (String, Vec<String>) {
    let body = json!({ "type": mode.as_str() });
    let (a, b) = tokio::join!(
        patch_standard_keys(server, token, &body),
        patch_standard_keys(server, token, &body),
    );
    let mut statuses = [a.status, b.status];
    statuses.sort_unstable();
    assert!(
        statuses == [200, 409] || statuses == [200, 200],
        "round {round}: {statuses:?}: {} / {}",
        a.text,
        b.text
    );
    for reply in [&a, &b] {
        if reply.status == 409 {
            reply.assert_error(409);
            assert_eq!(reply.body["code"], "conflict", "{}", reply.text);
        }
    }
    let active = active_standard_keys(server, account.id, mode).await;
    assert_eq!(active.len(), 1, "round {round}: {active:?}");
    let (current, others): (Vec<String>, Vec<String>) = [&a, &b]
        .into_iter()
        .filter(|r| r.status == 200)
        .map(|r| r.str_field("key").to_owned())
        .partition(|k| hint_of(k) == active[0].hint);
    assert_eq!(
        current.len(),
        1,
        "round {round}: the active key is one of those returned"
    );
    assert_key_works(server, &current[0]).await;
    (current[0].clone(), others)
}

/// Each of `secrets` is refused as `code`, from a client of its own for round `round` (so
/// these expected failures never reach the failure limit).
async fn assert_superseded(server: &TestServer, secrets: &[String], code: &str, round: usize) {
    let client = format!("192.0.2.{round}");
    for secret in secrets {
        let reply = forward_auth_from(
            server,
            &client,
            Some(&api_key(secret)),
            "GET",
            "/v1/customers/",
        )
        .await;
        assert_eq!(
            reply.status, 401,
            "round {round}: a superseded key still works"
        );
        assert_eq!(reply.body["code"], code, "{}", reply.text);
    }
}

/// A server with the account Acme, its admin's token, and its standard keys as listed.
struct Acme {
    server: TestServer,
    account: keywarden_testkit::SeededAccount,
    token: String,
    before: Reply,
    live_id: String,
    test_id: String,
}

impl Acme {
    async fn start() -> Self {
        let server = TestServer::start().await;
        let account = server.account("Acme").await;
        let (token, _) = server.sign_in(&account.admin_email).await;
        let before = get_standard_keys(&server, &token).await;
        let live_id = before.body["live"]["id"].as_str().unwrap().to_owned();
        let test_id = before.body["test"]["id"].as_str().unwrap().to_owned();
        Self {
            server,
            account,
            token,
            before,
            live_id,
            test_id,
        }
    }
}

/// Revokes the key `id` through the API.
async fn revoke(server: &TestServer, token: &str, id: &str) {
    let revoked = crate::support::delete(server, token, &format!("/v1/api-keys/{id}/")).await;
    assert_eq!(revoked.status, 200, "{}", revoked.text);
}

fn rfc_now(server: &TestServer) -> String {
    crate::support::rfc3339(server.clock.now())
}
