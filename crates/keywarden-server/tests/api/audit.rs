//! The audit trail (SPEC §4): `GET /v1/audit-events/` for admins — every key action, sign-ins
//! (successful and failed), 2FA and role changes, policy changes — with actor, address, user
//! agent and time, newest first, filterable by actor, action, key and time, paginated, and never
//! a secret.

use crate::support::{
    Reply, assert_invalid_field, assert_no_secret_in, forbidden, get, send, sign_in_as,
    stored_user, totp_code,
};
use keywarden_core::Clock;
use keywarden_core::audit::Action;
use keywarden_core::ids::AccountId;
use keywarden_testkit::{PASSWORD, TestServer, role};
use reqwest::Method;
use serde_json::{Value, json};
use time::Duration;

const CLIENT_IP: &str = "203.0.113.7";
const USER_AGENT: &str = "audit-test/1.0";

/// A console request from `CLIENT_IP` (behind the loopback proxy) with `USER_AGENT`.
async fn call_from(
    server: &TestServer,
    method: Method,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> Reply {
    let mut request = server
        .http
        .request(method, server.url(path))
        .bearer_auth(token)
        .header("X-Forwarded-For", CLIENT_IP)
        .header("User-Agent", USER_AGENT);
    if let Some(body) = body {
        request = request.json(&body);
    }
    send(request).await
}

async fn sign_in_from_client(server: &TestServer, email: &str, password: &str) -> Reply {
    send(
        server
            .http
            .post(server.url("/v1/auth/token/"))
            .header("X-Forwarded-For", CLIENT_IP)
            .header("User-Agent", USER_AGENT)
            .json(&json!({ "email": email, "password": password })),
    )
    .await
}

/// Waits until `count` events of `action` are stored: failed sign-ins are recorded off the
/// response path (their time is taken when they happen, so a late write changes no order).
/// Polls the store — each poll is real I/O — for at most 30 seconds of real time; no sleeping.
async fn wait_for(server: &TestServer, account: AccountId, action: Action, count: usize) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while std::time::Instant::now() < deadline {
        let events = server
            .service()
            .store()
            .audit_events(account, 1000)
            .await
            .unwrap();
        if events.iter().filter(|e| e.action == action).count() >= count {
            return;
        }
        tokio::task::yield_now().await;
    }
    panic!("no {count} {action:?} events were recorded");
}

fn actions(reply: &Reply) -> Vec<String> {
    assert_eq!(reply.status, 200, "{}", reply.text);
    reply.body["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap().to_owned())
        .collect()
}

fn event_ids(reply: &Reply) -> Vec<String> {
    reply.body["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn the_trail_records_who_did_what_from_where_newest_first_and_filters_it() {
    let server = TestServer::start().await;
    let account = server.account("Acme").await;
    let developer = server
        .user(account.id, "dev@acme.test", role("developer"))
        .await;
    let admin = stored_user(&server, &account.admin_email).await;
    let dev = stored_user(&server, &developer).await;
    let mut secrets: Vec<String> = vec![
        PASSWORD.into(),
        "wrong password!".into(),
        account.test_key.clone(),
        account.live_key.clone(),
    ];

    // 12:01 a failed sign-in; 12:02 a good one.
    server.advance(Duration::minutes(1)).await;
    let failed = sign_in_from_client(&server, &account.admin_email, "wrong password!").await;
    failed.assert_error(401);
    server.advance(Duration::minutes(1)).await;
    let signed_in = sign_in_from_client(&server, &account.admin_email, PASSWORD).await;
    assert_eq!(signed_in.status, 200, "{}", signed_in.text);
    let token = signed_in.str_field("access").to_owned();
    secrets.push(token.clone());
    secrets.push(signed_in.str_field("refresh").to_owned());

    // 12:03 create, 12:04 update, 12:05 rotate, 12:06 revoke the successor.
    server.advance(Duration::minutes(1)).await;
    let created = call_from(
        &server,
        Method::POST,
        "/v1/api-keys/",
        &token,
        Some(json!({ "label": "Payroll", "type": "live", "scopes": ["payroll:read"] })),
    )
    .await;
    assert_eq!(created.status, 201, "{}", created.text);
    secrets.push(created.str_field("key").to_owned());
    let k1 = created.str_field("id").to_owned();
    server.advance(Duration::minutes(1)).await;
    let updated = call_from(
        &server,
        Method::PATCH,
        &format!("/v1/api-keys/{k1}/"),
        &token,
        Some(json!({ "label": "Payroll v2" })),
    )
    .await;
    assert_eq!(updated.status, 200, "{}", updated.text);
    server.advance(Duration::minutes(1)).await;
    let rotated = call_from(
        &server,
        Method::POST,
        &format!("/v1/api-keys/{k1}/rotate/"),
        &token,
        Some(json!({ "expire_previous_in": 60 })),
    )
    .await;
    assert_eq!(rotated.status, 200, "{}", rotated.text);
    secrets.push(rotated.str_field("key").to_owned());
    let k2 = rotated.str_field("id").to_owned();
    server.advance(Duration::minutes(1)).await;
    let revoked = call_from(
        &server,
        Method::DELETE,
        &format!("/v1/api-keys/{k2}/"),
        &token,
        None,
    )
    .await;
    assert_eq!(revoked.status, 200, "{}", revoked.text);

    // 12:07 the developer signs in directly (no proxy, no user agent) and creates a key.
    server.advance(Duration::minutes(1)).await;
    let dev_sign_in = sign_in_as(&server, "127.0.0.1", &developer, PASSWORD, None).await;
    let dev_token = dev_sign_in.str_field("access").to_owned();
    secrets.push(dev_token.clone());
    server.advance(Duration::seconds(30)).await;
    let dev_key = send(
        server
            .http
            .post(server.url("/v1/api-keys/"))
            .bearer_auth(&dev_token)
            .json(&json!({ "label": "CI", "type": "test", "scopes": ["asset:read"] })),
    )
    .await;
    assert_eq!(dev_key.status, 201, "{}", dev_key.text);
    secrets.push(dev_key.str_field("key").to_owned());
    let k3 = dev_key.str_field("id").to_owned();

    // 12:08 a role change; 12:09 2FA setup, 12:09:30 confirmed; 12:10 the policy.
    server.advance(Duration::seconds(30)).await;
    let role_changed = call_from(
        &server,
        Method::PATCH,
        &format!("/v1/users/{}/", dev.id),
        &token,
        Some(json!({ "role": "member" })),
    )
    .await;
    assert_eq!(role_changed.status, 200, "{}", role_changed.text);
    server.advance(Duration::minutes(1)).await;
    let setup = call_from(&server, Method::POST, "/v1/auth/2fa/setup/", &token, None).await;
    assert_eq!(setup.status, 200, "{}", setup.text);
    let totp_secret = setup.str_field("secret").to_owned();
    secrets.push(totp_secret.clone());
    server.advance(Duration::seconds(30)).await;
    let otp = totp_code(&totp_secret, server.clock.now());
    let confirmed = call_from(
        &server,
        Method::POST,
        "/v1/auth/2fa/confirm/",
        &token,
        Some(json!({ "otp": otp })),
    )
    .await;
    assert_eq!(confirmed.status, 200, "{}", confirmed.text);
    for code in confirmed.body["recovery_codes"].as_array().unwrap() {
        secrets.push(code.as_str().unwrap().to_owned());
    }
    server.advance(Duration::seconds(30)).await;
    let policy = call_from(
        &server,
        Method::PATCH,
        "/v1/account/",
        &token,
        Some(json!({ "rotation_period_days": 60, "require_2fa_for_keys": true })),
    )
    .await;
    assert_eq!(policy.status, 200, "{}", policy.text);

    // The whole trail, newest first (once the failed sign-in, written in the background, is in).
    wait_for(&server, account.id, Action::SignInFailed, 1).await;
    let all = get(&server, &token, "/v1/audit-events/").await;
    let got = actions(&all);
    assert_eq!(
        got[..12],
        [
            "account.updated",
            "2fa.enabled",
            "2fa.setup_started",
            "user.role_changed",
            "key.created",
            "auth.sign_in",
            "key.revoked",
            "key.rotated",
            "key.updated",
            "key.created",
            "auth.sign_in",
            "auth.sign_in_failed",
        ],
        "{}",
        all.text
    );
    // Then the operator's seeding, all at 12:00.
    let mut seeded = got[12..].to_vec();
    seeded.sort();
    assert_eq!(
        seeded,
        [
            "account.created",
            "key.created",
            "key.created",
            "user.created"
        ]
    );
    assert_eq!(all.body["next_cursor"], Value::Null);

    let results = all.body["results"].as_array().unwrap();
    let at = |i: usize| results[i]["at"].as_str().unwrap().to_owned();
    assert_eq!(
        (0..12).map(at).collect::<Vec<_>>(),
        [
            "2026-06-01T12:10:00Z",
            "2026-06-01T12:09:30Z",
            "2026-06-01T12:09:00Z",
            "2026-06-01T12:08:00Z",
            "2026-06-01T12:07:30Z",
            "2026-06-01T12:07:00Z",
            "2026-06-01T12:06:00Z",
            "2026-06-01T12:05:00Z",
            "2026-06-01T12:04:00Z",
            "2026-06-01T12:03:00Z",
            "2026-06-01T12:02:00Z",
            "2026-06-01T12:01:00Z",
        ]
    );
    // The admin's events: who, from where (the end client behind the loopback proxy), with what.
    for i in [0, 1, 2, 3, 6, 7, 8, 9, 10, 11] {
        let event = &results[i];
        assert_eq!(
            event["actor"],
            json!({
                "user_id": admin.id.to_string(),
                "label": "admin@acme.test",
                "ip": CLIENT_IP,
                "user_agent": USER_AGENT,
            }),
            "{event}"
        );
    }
    // The developer's, straight from the loopback peer without a user agent.
    for i in [4, 5] {
        assert_eq!(
            results[i]["actor"],
            json!({
                "user_id": dev.id.to_string(),
                "label": "dev@acme.test",
                "ip": "127.0.0.1",
                "user_agent": null,
            }),
            "{}",
            results[i]
        );
    }
    // The key events name their key; the others none.
    let keys: Vec<&Value> = (0..12).map(|i| &results[i]["key_id"]).collect();
    assert_eq!(
        keys,
        [
            &Value::Null,
            &Value::Null,
            &Value::Null,
            &Value::Null,
            &json!(k3),
            &Value::Null,
            &json!(k2),
            &json!(k1),
            &json!(k1),
            &json!(k1),
            &Value::Null,
            &Value::Null,
        ]
    );
    assert_eq!(results[3]["detail"], "dev@acme.test: developer → member");
    let mut fields: Vec<&str> = results[0]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    fields.sort_unstable();
    assert_eq!(fields, ["action", "actor", "at", "detail", "id", "key_id"]);

    // No secret anywhere: no key, password, token, TOTP seed or recovery code.
    let secret_refs: Vec<&str> = secrets.iter().map(String::as_str).collect();
    assert_no_secret_in(&all.text, &secret_refs);
    let stored = server
        .service()
        .store()
        .audit_events(account.id, 1000)
        .await
        .unwrap();
    assert_no_secret_in(&format!("{stored:?}"), &secret_refs);

    // Filters, each narrowing exactly.
    let filter = |query: String| {
        let token = token.clone();
        let server = &server;
        async move { get(server, &token, &format!("/v1/audit-events/?{query}")).await }
    };
    assert_eq!(
        actions(&filter("action=key.rotated".into()).await),
        ["key.rotated"]
    );
    assert_eq!(
        actions(&filter("action=auth.sign_in_failed".into()).await),
        ["auth.sign_in_failed"]
    );
    assert_eq!(
        actions(&filter(format!("key={k1}")).await),
        ["key.rotated", "key.updated", "key.created"]
    );
    assert_eq!(actions(&filter(format!("key={k2}")).await), ["key.revoked"]);
    assert_eq!(
        actions(&filter(format!("actor={}", dev.id)).await),
        ["key.created", "auth.sign_in"]
    );
    assert_eq!(
        actions(&filter(format!("actor={}", admin.id)).await).len(),
        10
    );
    assert_eq!(
        actions(&filter(format!("actor={}&action=key.created", admin.id)).await),
        ["key.created"]
    );
    assert_eq!(
        actions(&filter("since=2026-06-01T12:07:00Z".into()).await),
        [
            "account.updated",
            "2fa.enabled",
            "2fa.setup_started",
            "user.role_changed",
            "key.created",
            "auth.sign_in",
        ]
    );
    let until = actions(&filter("until=2026-06-01T12:02:00Z".into()).await);
    assert_eq!(until[0], "auth.sign_in_failed", "until is exclusive");
    assert_eq!(until.len(), 5);
    assert_eq!(
        actions(&filter("since=2026-06-01T12:03:00Z&until=2026-06-01T12:05:00Z".into()).await),
        ["key.updated", "key.created"]
    );
    assert_eq!(
        actions(&filter("since=2026-06-01T13:00:00Z".into()).await),
        Vec::<String>::new()
    );

    // Pages of 5: every event once, in the same order as the whole list.
    let mut paged = Vec::new();
    let mut query = "limit=5".to_owned();
    let mut sizes = Vec::new();
    loop {
        let page = filter(query.clone()).await;
        assert_eq!(page.status, 200, "{}", page.text);
        let ids = event_ids(&page);
        sizes.push(ids.len());
        paged.extend(ids);
        match page.body["next_cursor"].as_str() {
            Some(cursor) => query = format!("limit=5&cursor={cursor}"),
            None => break,
        }
        assert!(sizes.len() < 10);
    }
    assert_eq!(sizes, [5, 5, 5, 1]);
    assert_eq!(paged, event_ids(&all));

    // Bad filters are 400 naming the parameter.
    for (query, field) in [
        ("action=key.exploded", "action"),
        ("actor=someone", "actor"),
        ("key=abc", "key"),
        ("since=yesterday", "since"),
        ("until=2026-13-01T00:00:00Z", "until"),
        ("cursor=zz", "cursor"),
        ("limit=0", "limit"),
        ("limit=201", "limit"),
        ("limit=1000", "limit"),
        ("secret=1", "secret"),
    ] {
        assert_invalid_field(&filter(query.into()).await, field);
    }
}

#[tokio::test]
async fn user_management_and_recovery_codes_are_in_the_trail_too() {
    let server = TestServer::start().await;
    let account = server.account("Acme").await;
    let (token, _) = server.sign_in(&account.admin_email).await;
    let created = call_from(
        &server,
        Method::POST,
        "/v1/users/",
        &token,
        Some(json!({ "email": "bob@acme.test", "role": "member", "password": "bob's long password" })),
    )
    .await;
    assert_eq!(created.status, 201, "{}", created.text);
    server.advance(Duration::minutes(1)).await;
    let removed = call_from(
        &server,
        Method::DELETE,
        &format!("/v1/users/{}/", created.str_field("id")),
        &token,
        None,
    )
    .await;
    assert_eq!(removed.status, 204, "{}", removed.text);
    server.advance(Duration::minutes(1)).await;
    let setup = call_from(&server, Method::POST, "/v1/auth/2fa/setup/", &token, None).await;
    assert_eq!(setup.status, 200, "{}", setup.text);
    server.advance(Duration::minutes(1)).await;
    let otp = totp_code(setup.str_field("secret"), server.clock.now());
    let confirmed = call_from(
        &server,
        Method::POST,
        "/v1/auth/2fa/confirm/",
        &token,
        Some(json!({ "otp": otp })),
    )
    .await;
    assert_eq!(confirmed.status, 200, "{}", confirmed.text);
    let codes: Vec<String> = confirmed.body["recovery_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect();
    server.advance(Duration::minutes(1)).await;
    let reply = sign_in_as(
        &server,
        CLIENT_IP,
        &account.admin_email,
        PASSWORD,
        Some(&codes[3]),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text);

    let all = get(&server, &token, "/v1/audit-events/?limit=5").await;
    let got = actions(&all);
    // The recovery code and the sign-in it allowed happen at the same instant.
    let mut same_instant = got[..2].to_vec();
    same_instant.sort();
    assert_eq!(
        same_instant,
        ["2fa.recovery_code_used", "auth.sign_in"],
        "{}",
        all.text
    );
    assert_eq!(
        got[2..],
        ["2fa.enabled", "2fa.setup_started", "user.removed"],
        "{}",
        all.text
    );
    let results = all.body["results"].as_array().unwrap();
    for event in &results[..2] {
        assert_eq!(event["actor"]["ip"], CLIENT_IP, "{event}");
        assert_eq!(event["at"], "2026-06-01T12:04:00Z", "{event}");
    }
    assert_eq!(results[4]["detail"], "removed bob@acme.test (member)");
    let created = get(&server, &token, "/v1/audit-events/?action=user.created").await;
    let details: Vec<&str> = created.body["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["detail"].as_str().unwrap())
        .collect();
    assert_eq!(details[0], "added bob@acme.test as member");
    let codes: Vec<&str> = codes.iter().map(String::as_str).collect();
    assert_no_secret_in(&all.text, &codes);
    assert_no_secret_in(&created.text, &["bob's long password"]);
}

#[tokio::test]
async fn only_admins_read_the_trail_and_only_their_own_accounts() {
    let server = TestServer::start().await;
    let acme = server.account("Acme").await;
    let globex = server.account("Globex").await;
    let developer = server
        .user(acme.id, "dev@acme.test", role("developer"))
        .await;
    let member = server.user(acme.id, "mia@acme.test", role("member")).await;
    for email in [&developer, &member] {
        let (token, _) = server.sign_in(email).await;
        get(&server, &token, "/v1/audit-events/")
            .await
            .assert_error(403)
            .assert_body(&forbidden());
    }
    let (acme_token, _) = server.sign_in(&acme.admin_email).await;
    let (globex_token, _) = server.sign_in(&globex.admin_email).await;
    let acme_events = get(&server, &acme_token, "/v1/audit-events/").await;
    assert!(actions(&acme_events).contains(&"user.created".to_owned()));
    let globex_events = get(&server, &globex_token, "/v1/audit-events/").await;
    let got = actions(&globex_events);
    assert!(
        !globex_events.text.contains("acme"),
        "{}",
        globex_events.text
    );
    // Globex: its creation, its two keys and its admin's sign-in.
    assert_eq!(got.len(), 4, "{}", globex_events.text);
    // Acme's key or user as a filter finds nothing in Globex's trail.
    let acme_admin = stored_user(&server, &acme.admin_email).await;
    let reply = get(
        &server,
        &globex_token,
        &format!("/v1/audit-events/?actor={}", acme_admin.id),
    )
    .await;
    assert_eq!(reply.body["results"], json!([]), "{}", reply.text);
}
