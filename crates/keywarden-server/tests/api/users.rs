//! Users and roles (SPEC §4): admins add users, change roles and remove users; nobody changes
//! their own role; the last admin can be neither demoted nor removed; removing a user or
//! changing their role ends their console sessions at once; keys belong to the account and
//! outlive the user who created them.

use crate::support::{
    Reply, assert_invalid_field, assert_key_works, create_key, delete, forbidden, get, key_id_of,
    patch, post, send, sign_in_as, stored_key, stored_user, token_not_valid,
};
use keywarden_core::account::Role;
use keywarden_core::audit::Action;
use keywarden_testkit::{PASSWORD, TestServer, role};
use serde_json::{Value, json};
use time::Duration;

const NEW_PASSWORD: &str = "another long password";

async fn add_user(
    server: &TestServer,
    token: &str,
    email: &str,
    role: &str,
    password: &str,
) -> Reply {
    post(
        server,
        token,
        "/v1/users/",
        &json!({ "email": email, "role": role, "password": password }),
    )
    .await
}

async fn user_count(server: &TestServer, account: keywarden_core::ids::AccountId) -> usize {
    server
        .service()
        .store()
        .users_of_account(account)
        .await
        .unwrap()
        .len()
}

/// Asserts a 401 `token_not_valid` for `token` on a couple of console endpoints.
async fn assert_token_ended(server: &TestServer, token: &str) {
    for path in ["/v1/auth/me/", "/v1/api-keys/"] {
        get(server, token, path)
            .await
            .assert_error(401)
            .assert_body(&token_not_valid());
    }
}

async fn refresh(server: &TestServer, refresh: &str) -> Reply {
    send(
        server
            .http
            .post(server.url("/v1/auth/token/refresh/"))
            .json(&json!({ "refresh": refresh })),
    )
    .await
}

#[tokio::test]
async fn admins_add_users_who_can_then_sign_in() {
    let server = TestServer::start().await;
    let account = server.account("Acme").await;
    let (token, _) = server.sign_in(&account.admin_email).await;
    server.advance(Duration::minutes(1)).await;

    let reply = add_user(
        &server,
        &token,
        "  Ada@Acme.TEST ",
        "developer",
        NEW_PASSWORD,
    )
    .await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    let ada = stored_user(&server, "ada@acme.test").await;
    reply.assert_json().assert_body(&json!({
        "id": ada.id.to_string(),
        "email": "ada@acme.test",
        "role": "developer",
        "two_factor_enabled": false,
        "created_at": "2026-06-01T12:01:00Z",
    }));
    assert_eq!(ada.account_id, account.id);
    assert_eq!(ada.role, Role::Developer);
    assert!(
        ada.password_hash.starts_with("$argon2id$"),
        "stored as argon2id"
    );
    assert!(!ada.password_hash.contains(NEW_PASSWORD));

    // The list: oldest first, no password or hash in sight.
    let list = get(&server, &token, "/v1/users/").await;
    assert_eq!(list.status, 200, "{}", list.text);
    let emails: Vec<&str> = list.body["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["email"].as_str().unwrap())
        .collect();
    assert_eq!(emails, ["admin@acme.test", "ada@acme.test"]);
    for user in list.body["results"].as_array().unwrap() {
        let mut fields: Vec<&str> = user
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        fields.sort_unstable();
        assert_eq!(
            fields,
            ["created_at", "email", "id", "role", "two_factor_enabled"]
        );
    }
    assert!(!list.text.contains("argon2"), "{}", list.text);

    // Ada signs in with her password and manages keys.
    let signed_in = sign_in_as(&server, "127.0.0.1", "ada@acme.test", NEW_PASSWORD, None).await;
    assert_eq!(signed_in.status, 200, "{}", signed_in.text);
    let ada_token = signed_in.str_field("access");
    let me = get(&server, ada_token, "/v1/auth/me/").await;
    assert_eq!(me.body["user"]["role"], "developer", "{}", me.text);
    assert_eq!(me.body["account"]["id"], account.id.to_string());
    assert_eq!(get(&server, ada_token, "/v1/api-keys/").await.status, 200);

    let events = server
        .service()
        .store()
        .audit_events(account.id, 50)
        .await
        .unwrap();
    let created = events
        .iter()
        .find(|e| e.action == Action::UserCreated && e.detail.contains("ada@acme.test"))
        .expect("a user.created event");
    assert_eq!(created.actor.label, "admin@acme.test");
}

#[tokio::test]
async fn adding_a_user_checks_every_field() {
    let server = TestServer::start().await;
    let account = server.account("Acme").await;
    let globex = server.account("Globex").await;
    server
        .user(account.id, "ada@acme.test", role("developer"))
        .await;
    let (token, _) = server.sign_in(&account.admin_email).await;
    let before = user_count(&server, account.id).await;

    // Emails are unique everywhere (they are the sign-in name), whatever their case.
    for email in ["ada@acme.test", "ADA@acme.test", &globex.admin_email] {
        let reply = add_user(&server, &token, email, "member", NEW_PASSWORD).await;
        reply.assert_error(409);
        assert_eq!(reply.body["code"], "conflict", "{}", reply.text);
    }
    let rows: Vec<(Value, &str)> = vec![
        (
            json!({ "email": "bob@acme.test", "role": "member", "password": "elevenchars" }),
            "password",
        ),
        (
            json!({ "email": "bob@acme.test", "role": "member", "password": "" }),
            "password",
        ),
        (
            json!({ "email": "bob@acme.test", "role": "member" }),
            "password",
        ),
        (
            json!({ "email": "bob@acme.test", "role": "member", "password": 123_456_789_012_u64 }),
            "password",
        ),
        (
            json!({ "email": "bob@acme.test", "role": "owner", "password": NEW_PASSWORD }),
            "role",
        ),
        (
            json!({ "email": "bob@acme.test", "role": "Admin", "password": NEW_PASSWORD }),
            "role",
        ),
        (
            json!({ "email": "bob@acme.test", "role": "", "password": NEW_PASSWORD }),
            "role",
        ),
        (
            json!({ "email": "bob@acme.test", "password": NEW_PASSWORD }),
            "role",
        ),
        (
            json!({ "email": "not-an-email", "role": "member", "password": NEW_PASSWORD }),
            "email",
        ),
        (
            json!({ "email": "bob@localhost", "role": "member", "password": NEW_PASSWORD }),
            "email",
        ),
        (
            json!({ "email": "", "role": "member", "password": NEW_PASSWORD }),
            "email",
        ),
        (
            json!({ "role": "member", "password": NEW_PASSWORD }),
            "email",
        ),
        (
            json!({ "email": ["bob@acme.test"], "role": "member", "password": NEW_PASSWORD }),
            "email",
        ),
    ];
    for (body, field) in rows {
        let reply = post(&server, &token, "/v1/users/", &body).await;
        assert_eq!(reply.status, 400, "{body}: {}", reply.text);
        assert_invalid_field(&reply, field);
    }
    assert_eq!(user_count(&server, account.id).await, before);
    assert!(
        server
            .service()
            .store()
            .user_by_email("bob@acme.test")
            .await
            .unwrap()
            .is_none()
    );
    // Twelve characters is enough.
    let reply = add_user(&server, &token, "bob@acme.test", "member", "twelve chars").await;
    assert_eq!(reply.status, 201, "{}", reply.text);
}

#[tokio::test]
async fn changing_a_role_applies_at_once_and_ends_that_users_sessions() {
    let server = TestServer::start().await;
    let account = server.account("Acme").await;
    let developer = server
        .user(account.id, "dev@acme.test", role("developer"))
        .await;
    let (admin_token, _) = server.sign_in(&account.admin_email).await;
    let (dev_token, dev_refresh) = server.sign_in(&developer).await;
    let before = stored_user(&server, &developer).await;
    assert_eq!(get(&server, &dev_token, "/v1/api-keys/").await.status, 200);

    let path = format!("/v1/users/{}/", before.id);
    let reply = patch(&server, &admin_token, &path, &json!({ "role": "member" })).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.body["role"], "member");
    assert_eq!(reply.body["email"], "dev@acme.test");
    assert_eq!(reply.body["id"], before.id.to_string());
    let after = stored_user(&server, &developer).await;
    assert_eq!(after.role, Role::Member);
    assert!(
        after.session_version > before.session_version,
        "the session version moves on, so tokens that carry the old role end"
    );

    // The tokens issued under the old role end at once: access and refresh.
    assert_token_ended(&server, &dev_token).await;
    refresh(&server, &dev_refresh).await.assert_error(401);
    // Signed in again, the new role applies.
    let (dev_token, _) = server.sign_in(&developer).await;
    get(&server, &dev_token, "/v1/api-keys/")
        .await
        .assert_error(403)
        .assert_body(&forbidden());
    let me = get(&server, &dev_token, "/v1/auth/me/").await;
    assert_eq!(me.body["user"]["role"], "member", "{}", me.text);

    // Promoted to admin, they manage users. (A second later: the trail orders events by time,
    // and two events of the same millisecond have no defined order.)
    server.advance(Duration::seconds(1)).await;
    let reply = patch(&server, &admin_token, &path, &json!({ "role": "admin" })).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let (dev_token, _) = server.sign_in(&developer).await;
    assert_eq!(get(&server, &dev_token, "/v1/users/").await.status, 200);

    // The admin's own session is untouched, and the trail names both changes.
    assert_eq!(get(&server, &admin_token, "/v1/users/").await.status, 200);
    let events = server
        .service()
        .store()
        .audit_events(account.id, 50)
        .await
        .unwrap();
    let changes: Vec<&str> = events
        .iter()
        .filter(|e| e.action == Action::UserRoleChanged)
        .map(|e| e.detail.as_str())
        .collect();
    assert_eq!(
        changes,
        [
            "dev@acme.test: member → admin",
            "dev@acme.test: developer → member"
        ]
    );

    // Invalid roles are 400 naming the field; nothing changes.
    let current = stored_user(&server, &developer).await;
    for body in [json!({ "role": "owner" }), json!({ "role": 1 }), json!({})] {
        let reply = patch(&server, &admin_token, &path, &body).await;
        assert_invalid_field(&reply, "role");
    }
    assert_eq!(stored_user(&server, &developer).await, current);
}

#[tokio::test]
async fn nobody_changes_their_own_role() {
    let server = TestServer::start().await;
    let account = server.account("Acme").await;
    server
        .user(account.id, "second@acme.test", role("admin"))
        .await;
    let (token, _) = server.sign_in(&account.admin_email).await;
    let me = stored_user(&server, &account.admin_email).await;
    for target in ["developer", "member", "admin"] {
        let reply = patch(
            &server,
            &token,
            &format!("/v1/users/{}/", me.id),
            &json!({ "role": target }),
        )
        .await;
        reply.assert_error(403).assert_body(&json!({
            "detail": "You cannot change your own role. Ask another admin.",
            "code": "permission_denied",
        }));
    }
    assert_eq!(stored_user(&server, &account.admin_email).await, me);
    // The token still works: nothing happened to the session either.
    assert_eq!(get(&server, &token, "/v1/users/").await.status, 200);
}

#[tokio::test]
async fn the_last_admin_can_be_neither_removed_nor_demoted() {
    let server = TestServer::start().await;
    let account = server.account("Acme").await;
    let (token, _) = server.sign_in(&account.admin_email).await;
    let me = stored_user(&server, &account.admin_email).await;

    // The only admin cannot leave.
    let reply = delete(&server, &token, &format!("/v1/users/{}/", me.id)).await;
    reply.assert_error(409);
    assert_eq!(reply.body["code"], "conflict", "{}", reply.text);
    assert!(
        reply.str_field("detail").contains("admin"),
        "{}",
        reply.text
    );
    assert_eq!(stored_user(&server, &account.admin_email).await, me);

    // With a second admin, either may go — but not both.
    let second = server
        .user(account.id, "second@acme.test", role("admin"))
        .await;
    let second = stored_user(&server, &second).await;
    let reply = patch(
        &server,
        &token,
        &format!("/v1/users/{}/", second.id),
        &json!({ "role": "developer" }),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let reply = delete(&server, &token, &format!("/v1/users/{}/", me.id)).await;
    reply.assert_error(409);
    assert_eq!(
        stored_user(&server, &account.admin_email).await.role,
        Role::Admin
    );

    // Two admins demoting each other at the same moment: one wins, the account keeps an admin.
    // (One after the other, the second request is refused before it reaches the rule: its
    // token ended with the first change. So the 409 is only reachable in a race.)
    let mut conflicts = 0;
    for round in 0..5 {
        let a = format!("a{round}@acme.test");
        let b = format!("b{round}@acme.test");
        server.user(account.id, &a, role("admin")).await;
        server.user(account.id, &b, role("admin")).await;
        // Only these two are admins now.
        for user in server
            .service()
            .store()
            .users_of_account(account.id)
            .await
            .unwrap()
        {
            if user.role == Role::Admin && user.email != a && user.email != b {
                let reply = patch(
                    &server,
                    &server.sign_in(&a).await.0,
                    &format!("/v1/users/{}/", user.id),
                    &json!({ "role": "developer" }),
                )
                .await;
                assert_eq!(reply.status, 200, "{}", reply.text);
            }
        }
        let (a_token, _) = server.sign_in(&a).await;
        let (b_token, _) = server.sign_in(&b).await;
        let a_id = stored_user(&server, &a).await.id;
        let b_id = stored_user(&server, &b).await.id;
        let body = json!({ "role": "developer" });
        let a_path = format!("/v1/users/{b_id}/");
        let b_path = format!("/v1/users/{a_id}/");
        let (ra, rb) = tokio::join!(
            patch(&server, &a_token, &a_path, &body),
            patch(&server, &b_token, &b_path, &body),
        );
        let statuses = [ra.status, rb.status];
        assert!(
            statuses.contains(&200) && statuses.iter().all(|s| [200, 401, 409].contains(s)),
            "round {round}: {} / {}",
            ra.text,
            rb.text
        );
        assert!(
            !(ra.status == 200 && rb.status == 200),
            "round {round}: both won"
        );
        for reply in [&ra, &rb] {
            if reply.status == 409 {
                conflicts += 1;
                assert_eq!(reply.body["code"], "conflict", "{}", reply.text);
                assert!(
                    reply.str_field("detail").contains("admin"),
                    "{}",
                    reply.text
                );
            }
        }
        let admins = server
            .service()
            .store()
            .users_of_account(account.id)
            .await
            .unwrap()
            .into_iter()
            .filter(|u| u.role == Role::Admin)
            .count();
        assert_eq!(admins, 1, "round {round}");
    }
    // Both requests read their caller before either commits, so the loser meets the rule.
    assert!(conflicts > 0, "no round reached the last-admin rule");
}

#[tokio::test]
async fn removing_a_user_ends_their_sessions_and_keeps_their_keys() {
    let server = TestServer::start().await;
    let account = server.account("Acme").await;
    let developer = server
        .user(account.id, "dev@acme.test", role("developer"))
        .await;
    let dev = stored_user(&server, &developer).await;
    let (admin_token, _) = server.sign_in(&account.admin_email).await;
    let (dev_token, dev_refresh) = server.sign_in(&developer).await;
    let (secret, created) = create_key(
        &server,
        &dev_token,
        "Dev's integration",
        "live",
        &["payroll:read"],
    )
    .await;
    let key_id = key_id_of(&created);
    assert_eq!(created.body["created_by"], dev.id.to_string());

    server.advance(Duration::minutes(1)).await;
    let reply = delete(&server, &admin_token, &format!("/v1/users/{}/", dev.id)).await;
    assert_eq!(reply.status, 204, "{}", reply.text);
    assert!(reply.text.is_empty(), "{}", reply.text);

    // Their session ends on the very next request, refresh included; they cannot sign in.
    assert_token_ended(&server, &dev_token).await;
    refresh(&server, &dev_refresh).await.assert_error(401);
    let signed_in = sign_in_as(&server, "127.0.0.1", &developer, PASSWORD, None).await;
    signed_in.assert_error(401);
    assert_eq!(
        signed_in.body["code"], "invalid_credentials",
        "{}",
        signed_in.text
    );
    assert!(
        server
            .service()
            .store()
            .user_by_email(&developer)
            .await
            .unwrap()
            .is_none()
    );
    let list = get(&server, &admin_token, "/v1/users/").await;
    assert!(!list.text.contains("dev@acme.test"), "{}", list.text);

    // The key they created belongs to the account: listed, creator intact, still working.
    let key = get(&server, &admin_token, &format!("/v1/api-keys/{key_id}/")).await;
    assert_eq!(key.status, 200, "{}", key.text);
    assert_eq!(key.body["created_by"], dev.id.to_string());
    assert_eq!(key.body["status"], "active");
    assert_eq!(
        stored_key(&server, account.id, key_id).await.created_by,
        Some(dev.id)
    );
    let reply = crate::support::forward_auth(
        &server,
        Some(&crate::support::api_key(&secret)),
        "GET",
        "/v1/payroll/runs",
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_key_works(&server, &account.test_key).await;

    // Gone is gone: a second removal is 404; the audit trail names it.
    let again = delete(&server, &admin_token, &format!("/v1/users/{}/", dev.id)).await;
    again.assert_error(404);
    let events = server
        .service()
        .store()
        .audit_events(account.id, 50)
        .await
        .unwrap();
    let removed = events
        .iter()
        .find(|e| e.action == Action::UserRemoved)
        .expect("a user.removed event");
    assert_eq!(removed.detail, "removed dev@acme.test (developer)");
    assert_eq!(removed.actor.label, "admin@acme.test");
    // The address is free again.
    let reply = post(
        &server,
        &admin_token,
        "/v1/users/",
        &json!({ "email": developer, "role": "member", "password": NEW_PASSWORD }),
    )
    .await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    assert_ne!(reply.body["id"], dev.id.to_string());
}

#[tokio::test]
async fn an_admin_may_leave_when_another_admin_remains() {
    let server = TestServer::start().await;
    let account = server.account("Acme").await;
    server
        .user(account.id, "second@acme.test", role("admin"))
        .await;
    let (token, _) = server.sign_in(&account.admin_email).await;
    let me = stored_user(&server, &account.admin_email).await;
    let reply = delete(&server, &token, &format!("/v1/users/{}/", me.id)).await;
    assert_eq!(reply.status, 204, "{}", reply.text);
    assert_token_ended(&server, &token).await;
    let (second, _) = server.sign_in("second@acme.test").await;
    assert_eq!(get(&server, &second, "/v1/users/").await.status, 200);
}

#[tokio::test]
async fn another_accounts_users_are_invisible_and_untouchable() {
    let server = TestServer::start().await;
    let acme = server.account("Acme").await;
    let globex = server.account("Globex").await;
    let developer = server
        .user(acme.id, "dev@acme.test", role("developer"))
        .await;
    let dev = stored_user(&server, &developer).await;
    let (dev_token, _) = server.sign_in(&developer).await;
    let (globex_token, _) = server.sign_in(&globex.admin_email).await;

    let list = get(&server, &globex_token, "/v1/users/").await;
    assert_eq!(list.status, 200, "{}", list.text);
    assert_eq!(list.body["results"].as_array().unwrap().len(), 1);
    assert!(!list.text.contains("acme"), "{}", list.text);
    for reply in [
        patch(
            &server,
            &globex_token,
            &format!("/v1/users/{}/", dev.id),
            &json!({ "role": "admin" }),
        )
        .await,
        delete(&server, &globex_token, &format!("/v1/users/{}/", dev.id)).await,
    ] {
        reply.assert_error(404);
        assert_eq!(reply.body["code"], "not_found", "{}", reply.text);
    }
    assert_eq!(stored_user(&server, &developer).await, dev);
    // Their session was not touched either.
    assert_eq!(get(&server, &dev_token, "/v1/api-keys/").await.status, 200);
    // Malformed ids are simply not found.
    let reply = delete(&server, &globex_token, "/v1/users/not-a-uuid/").await;
    reply.assert_error(404);
}

/// An email is one identity on the whole service (decision 0006), so adding a user whose
/// address is in use in another account answers 409 — which says the address is in use
/// somewhere, never where. An admin cannot probe many addresses that way: past 10 such
/// refusals an hour the account gets 429, and nothing about the other account leaks in any
/// answer.
#[tokio::test]
async fn probing_addresses_through_conflicts_is_limited() {
    let server = TestServer::start().await;
    let acme = server.account("Acme").await;
    let mut others = Vec::new();
    for n in 0..12 {
        let other = server.account(&format!("Other{n}")).await;
        others.push(other.admin_email);
    }
    let (token, _) = server.sign_in(&acme.admin_email).await;
    for email in others.iter().take(10) {
        let reply = add_user(&server, &token, email, "member", NEW_PASSWORD).await;
        reply.assert_error(409);
        assert_eq!(
            reply.body,
            json!({ "detail": "that email address is already in use", "code": "conflict" }),
            "the answer names no account"
        );
    }
    let reply = add_user(&server, &token, &others[10], "member", NEW_PASSWORD).await;
    reply.assert_error(429);
    assert_eq!(reply.body["code"], "rate_limited", "{}", reply.text);
    // The limit decays: a fresh address can be added a few minutes later.
    server.advance(time::Duration::minutes(7)).await;
    let reply = add_user(
        &server,
        &token,
        "new.person@acme.test",
        "member",
        NEW_PASSWORD,
    )
    .await;
    assert_eq!(reply.status, 201, "{}", reply.text);
}
