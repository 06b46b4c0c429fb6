//! Restricted keys (seed 000, SPEC §4): `GET`/`POST /v1/api-keys/`,
//! `GET`/`PATCH`/`DELETE /v1/api-keys/{id}/`, `POST /v1/api-keys/{id}/rotate/`: the secret
//! shown once, validation that names the field, the listing (every key once, newest first,
//! filters, search), updates that take effect at forward-auth at once, rotation with and
//! without grace, revocation that keeps the record, `rotation_due`, `last_used_at` and expiry.

use crate::support::{
    Reply, api_key, assert_invalid_field, assert_key_works, assert_no_secret_in, create_key,
    delete, forward_auth, get, key_id_of, patch, post, send, standard_key, stored_key, stored_user,
};
use keywarden_core::ids::KeyId;
use keywarden_core::key_format::{KeyKind, Mode, hint_of};
use keywarden_core::key_record::Lifecycle;
use keywarden_core::store::KeyFilter;
use keywarden_testkit::{TestServer, role};
use serde_json::{Value, json};
use std::collections::HashSet;
use time::Duration;
use time::macros::datetime;

fn insufficient(scope: &str) -> Value {
    json!({
        "detail": format!("This API key does not have the '{scope}' permission."),
        "code": "insufficient_scope",
        "required_scope": scope,
    })
}

/// Forward-auth of `key` for `method path`.
async fn use_key(server: &TestServer, key: &str, method: &str, path: &str) -> Reply {
    forward_auth(server, Some(&api_key(key)), method, path).await
}

/// `POST /v1/verify/`
async fn verify(server: &TestServer, key: &str, scope: Option<&str>) -> Reply {
    let mut body = json!({ "key": key });
    if let Some(scope) = scope {
        body["scope"] = Value::from(scope);
    }
    send(server.http.post(server.url("/v1/verify/")).json(&body)).await
}

/// The metadata of a key answer, without the secret.
fn metadata(reply: &Reply) -> Value {
    let mut body = reply.body.clone();
    let map = body.as_object_mut().expect("an object");
    map.remove("key");
    map.remove("previous");
    body
}

/// The ids of a listing page, in order.
fn ids(reply: &Reply) -> Vec<String> {
    assert_eq!(reply.status, 200, "{}", reply.text);
    reply.body["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|k| k["id"].as_str().expect("id").to_owned())
        .collect()
}

async fn restricted_count(server: &TestServer, account: keywarden_core::ids::AccountId) -> usize {
    let filter = KeyFilter {
        kind: Some(KeyKind::Restricted),
        ..KeyFilter::default()
    };
    server
        .service()
        .store()
        .keys_of_account(account, &filter)
        .await
        .unwrap()
        .len()
}

#[tokio::test]
async fn creating_a_key_shows_its_secret_once_and_then_only_its_metadata() {
    let server = TestServer::start().await;
    let account = server.account("Acme").await;
    let (token, _) = server.sign_in(&account.admin_email).await;
    let admin = stored_user(&server, &account.admin_email).await;
    server.advance(Duration::minutes(5)).await;

    let reply = post(
        &server,
        &token,
        "/v1/api-keys/",
        &json!({
            "label": "Zapier-Integration-Payroll",
            "type": "live",
            "scopes": ["payroll:write", "asset:read"],
            "expires_at": "2026-12-31T00:00:00Z",
        }),
    )
    .await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    reply.assert_json();
    let secret = reply.str_field("key").to_owned();
    assert!(secret.starts_with("rk_live_"), "{secret}");
    assert_eq!(secret.len(), "rk_live_".len() + 38);
    keywarden_core::key_format::parse(&secret).expect("a well-formed key");
    let id = key_id_of(&reply);
    let expected = json!({
        "id": id.to_string(),
        "kind": "restricted",
        "type": "live",
        "label": "Zapier-Integration-Payroll",
        "hint": hint_of(&secret),
        // Canonical: catalog order, write implies read.
        "scopes": ["asset:read", "payroll:read", "payroll:write"],
        "status": "active",
        "created_at": "2026-06-01T12:05:00Z",
        "created_by": admin.id.to_string(),
        "created_by_email": admin.email,
        "expires_at": "2026-12-31T00:00:00Z",
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
    });
    let mut with_secret = expected.clone();
    with_secret["key"] = Value::from(secret.clone());
    reply.assert_body(&with_secret);

    // What is stored: the settings and a keyed hash, never the secret.
    let stored = stored_key(&server, account.id, id).await;
    assert_eq!(stored.kind, KeyKind::Restricted);
    assert_eq!(stored.mode, Mode::Live);
    assert_eq!(stored.label, "Zapier-Integration-Payroll");
    assert_eq!(
        stored.scopes,
        ["asset:read", "payroll:read", "payroll:write"]
    );
    assert_eq!(stored.created_by, Some(admin.id));
    assert_eq!(stored.expires_at, Some(datetime!(2026-12-31 00:00 UTC)));
    assert_eq!(stored.lifecycle, Lifecycle::Active);
    assert_eq!(stored.digest, server.service().hasher().digest(&secret));
    assert_eq!(stored.hint, hint_of(&secret));

    // Never again: not in the key's own answer, not in the listing, not in the audit trail.
    let one = get(&server, &token, &format!("/v1/api-keys/{id}/")).await;
    assert_eq!(one.status, 200, "{}", one.text);
    one.assert_body(&expected);
    let list = get(&server, &token, "/v1/api-keys/").await;
    assert_eq!(list.status, 200, "{}", list.text);
    let listed: Vec<&Value> = list.body["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|k| k["id"] == id.to_string())
        .collect();
    assert_eq!(listed, [&expected]);
    let audit = get(&server, &token, "/v1/audit-events/").await;
    assert_eq!(audit.status, 200, "{}", audit.text);
    for text in [&one.text, &list.text, &audit.text] {
        assert!(!text.contains("\"key\":"), "{text}");
        assert_no_secret_in(text, &[&secret]);
    }

    // It works for exactly what its scopes name.
    let reply = use_key(&server, &secret, "POST", "/v1/payroll/runs").await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(
        reply.header("x-keywarden-key-id"),
        Some(id.to_string().as_str())
    );
    assert_eq!(reply.header("x-keywarden-mode"), Some("live"));
    assert_eq!(
        use_key(&server, &secret, "GET", "/v1/asset/items")
            .await
            .status,
        200
    );
    use_key(&server, &secret, "POST", "/v1/asset/items")
        .await
        .assert_error(403)
        .assert_body(&insufficient("asset:write"));
    use_key(&server, &secret, "GET", "/v1/talent/people")
        .await
        .assert_error(403)
        .assert_body(&insufficient("talent:read"));
    let everything = use_key(&server, &secret, "GET", "/v1/customers/").await;
    everything.assert_error(403);
    assert_eq!(everything.body["code"], "insufficient_scope");
    let verified = verify(&server, &secret, Some("payroll:write")).await;
    assert_eq!(verified.status, 200, "{}", verified.text);
    assert_eq!(verified.body["valid"], true, "{}", verified.text);
    assert_eq!(verified.body["key_id"], id.to_string());
    assert_eq!(verified.body["expires_at"], "2026-12-31T00:00:00Z");
}

#[tokio::test]
async fn a_developer_creates_keys_too_and_is_their_creator() {
    let server = TestServer::start().await;
    let account = server.account("Acme").await;
    let developer = server
        .user(account.id, "dev@acme.test", role("developer"))
        .await;
    let (token, _) = server.sign_in(&developer).await;
    let (secret, reply) = create_key(&server, &token, "CI", "test", &["health:read"]).await;
    let dev = stored_user(&server, &developer).await;
    assert_eq!(reply.body["created_by"], dev.id.to_string());
    assert!(secret.starts_with("rk_test_"), "{secret}");
    assert_eq!(
        reply.body["expires_at"],
        Value::Null,
        "never expires by default"
    );
    assert_eq!(
        use_key(&server, &secret, "GET", "/v1/health/records")
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn invalid_create_bodies_are_400_naming_the_field_and_store_nothing() {
    let server = TestServer::start().await;
    let account = server.account("Acme").await;
    let (token, _) = server.sign_in(&account.admin_email).await;
    let ok = || json!({ "label": "Payroll sync", "type": "live", "scopes": ["payroll:read"] });
    let with = |field: &str, value: Value| {
        let mut body = ok();
        body[field] = value;
        body
    };
    let without = |field: &str| {
        let mut body = ok();
        body.as_object_mut().unwrap().remove(field);
        body
    };
    let rows: Vec<(&str, Value, &str)> = vec![
        ("missing label", without("label"), "label"),
        ("empty label", with("label", json!("")), "label"),
        ("blank label", with("label", json!("   ")), "label"),
        (
            "101-char label",
            with("label", json!("x".repeat(101))),
            "label",
        ),
        (
            "label with a line break",
            with("label", json!("a\nb")),
            "label",
        ),
        ("label as a number", with("label", json!(5)), "label"),
        ("label as null", with("label", Value::Null), "label"),
        (
            "unknown product",
            with("scopes", json!(["crm:read"])),
            "scopes",
        ),
        (
            "scope without access",
            with("scopes", json!(["payroll"])),
            "scopes",
        ),
        (
            "unknown access",
            with("scopes", json!(["payroll:admin"])),
            "scopes",
        ),
        (
            "upper-case scope",
            with("scopes", json!(["PAYROLL:READ"])),
            "scopes",
        ),
        (
            "one bad among good",
            with("scopes", json!(["payroll:read", "x:y"])),
            "scopes",
        ),
        ("empty scopes", with("scopes", json!([])), "scopes"),
        (
            "scopes as a string",
            with("scopes", json!("payroll:read")),
            "scopes",
        ),
        ("scopes of numbers", with("scopes", json!([1])), "scopes"),
        ("missing scopes", without("scopes"), "scopes"),
        (
            "expiry in the past",
            with("expires_at", json!("2026-05-31T00:00:00Z")),
            "expires_at",
        ),
        (
            "expiry now",
            with("expires_at", json!("2026-06-01T12:00:00Z")),
            "expires_at",
        ),
        (
            "expiry not a time",
            with("expires_at", json!("tomorrow")),
            "expires_at",
        ),
        (
            "expiry as a number",
            with("expires_at", json!(1_800_000_000)),
            "expires_at",
        ),
        ("unknown type", with("type", json!("prod")), "type"),
        ("upper-case type", with("type", json!("LIVE")), "type"),
        ("type as a number", with("type", json!(1)), "type"),
        ("missing type", without("type"), "type"),
    ];
    for (what, body, field) in rows {
        let reply = post(&server, &token, "/v1/api-keys/", &body).await;
        assert_eq!(reply.status, 400, "{what}: {}", reply.text);
        assert_invalid_field(&reply, field);
    }
    assert_eq!(restricted_count(&server, account.id).await, 0);

    // The bounds themselves are fine: 1 and 100 characters (not bytes), a second from now.
    for label in ["x".to_owned(), "é".repeat(100)] {
        let reply = post(
            &server,
            &token,
            "/v1/api-keys/",
            &with("label", json!(label)),
        )
        .await;
        assert_eq!(reply.status, 201, "{}", reply.text);
        assert_eq!(reply.body["label"], label.as_str());
    }
    let reply = post(
        &server,
        &token,
        "/v1/api-keys/",
        &with("expires_at", json!("2026-06-01T12:00:01Z")),
    )
    .await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    assert_eq!(restricted_count(&server, account.id).await, 3);
}

#[tokio::test]
async fn the_listing_pages_through_every_key_once_newest_first() {
    let server = TestServer::start().await;
    let account = server.account("Acme").await;
    let (token, _) = server.sign_in(&account.admin_email).await;
    let mut created = Vec::new();
    for i in 0..25 {
        server.advance(Duration::seconds(1)).await;
        let (_, reply) = create_key(
            &server,
            &token,
            &format!("key {i:02}"),
            "test",
            &["asset:read"],
        )
        .await;
        created.push(reply.str_field("id").to_owned());
    }
    let test = standard_key(&server, account.id, Mode::Test)
        .await
        .id
        .to_string();
    let live = standard_key(&server, account.id, Mode::Live)
        .await
        .id
        .to_string();

    let mut seen = Vec::new();
    let mut pages = Vec::new();
    let mut path = "/v1/api-keys/?limit=10".to_owned();
    loop {
        let reply = get(&server, &token, &path).await;
        let page = ids(&reply);
        for key in reply.body["results"].as_array().unwrap() {
            assert!(key.get("key").is_none(), "a listing shows a secret: {key}");
        }
        pages.push(page.len());
        seen.extend(page);
        match reply.body["next_cursor"].as_str() {
            Some(cursor) => path = format!("/v1/api-keys/?limit=10&cursor={cursor}"),
            None => break,
        }
        assert!(pages.len() < 10, "the pages never end");
    }
    assert_eq!(pages, [10, 10, 7]);
    // A last page that is exactly full says so: no cursor to an empty page.
    let mut exact = Vec::new();
    let mut path9 = "/v1/api-keys/?limit=9".to_owned();
    loop {
        let reply = get(&server, &token, &path9).await;
        exact.push(ids(&reply).len());
        match reply.body["next_cursor"].as_str() {
            Some(cursor) => path9 = format!("/v1/api-keys/?limit=9&cursor={cursor}"),
            None => break,
        }
        assert!(exact.len() < 10, "the pages never end");
    }
    assert_eq!(exact, [9, 9, 9]);
    // Newest first: the 25 restricted keys in reverse order of creation, then the two
    // standard keys (created together, before them).
    let newest_first: Vec<String> = created.iter().rev().cloned().collect();
    assert_eq!(seen[..25], newest_first[..]);
    let tail: HashSet<&String> = seen[25..].iter().collect();
    assert_eq!(tail, HashSet::from([&test, &live]));
    let unique: HashSet<&String> = seen.iter().collect();
    assert_eq!(unique.len(), 27, "every key exactly once");

    // The default page is 20.
    let first = get(&server, &token, "/v1/api-keys/").await;
    assert_eq!(ids(&first).len(), 20);
    assert_eq!(ids(&first)[..], newest_first[..20]);
}

#[tokio::test]
async fn the_listing_filters_by_status_type_kind_and_search() {
    let server = TestServer::start().await;
    let account = server.account("Acme").await;
    let (token, _) = server.sign_in(&account.admin_email).await;
    let test = standard_key(&server, account.id, Mode::Test)
        .await
        .id
        .to_string();
    let live = standard_key(&server, account.id, Mode::Live)
        .await
        .id
        .to_string();
    server.advance(Duration::seconds(1)).await;
    let (payroll_secret, payroll) =
        create_key(&server, &token, "Payroll sync", "live", &["payroll:read"]).await;
    let payroll = payroll.str_field("id").to_owned();
    server.advance(Duration::seconds(1)).await;
    let zapier = post(
        &server,
        &token,
        "/v1/api-keys/",
        &json!({
            "label": "Zapier test",
            "type": "test",
            "scopes": ["asset:read"],
            "expires_at": "2026-06-01T13:00:00Z",
        }),
    )
    .await;
    assert_eq!(zapier.status, 201, "{}", zapier.text);
    let zapier = zapier.str_field("id").to_owned();
    server.advance(Duration::seconds(1)).await;
    let (_, old) = create_key(&server, &token, "Old integration", "live", &["perks:read"]).await;
    let old = old.str_field("id").to_owned();
    assert_eq!(
        delete(&server, &token, &format!("/v1/api-keys/{old}/"))
            .await
            .status,
        200
    );
    server.advance(Duration::seconds(1)).await;
    let (_, rotating) = create_key(&server, &token, "Rotating", "live", &["talent:read"]).await;
    let rotating = rotating.str_field("id").to_owned();
    server.advance(Duration::seconds(1)).await;
    let successor = post(
        &server,
        &token,
        &format!("/v1/api-keys/{rotating}/rotate/"),
        &json!({}),
    )
    .await;
    assert_eq!(successor.status, 200, "{}", successor.text);
    let successor = successor.str_field("id").to_owned();

    // Two hours on, the Zapier key has expired.
    server.advance(Duration::hours(2)).await;
    let (token, _) = server.sign_in(&account.admin_email).await;
    let list = |query: &str| {
        let path = format!("/v1/api-keys/?{query}");
        let token = token.clone();
        let server = &server;
        async move { get(server, &token, &path).await }
    };
    let sorted = |mut v: Vec<String>| {
        v.sort();
        v
    };
    for (query, expected, status) in [
        (
            "status=active",
            vec![
                successor.clone(),
                payroll.clone(),
                live.clone(),
                test.clone(),
            ],
            Some("active"),
        ),
        ("status=expired", vec![zapier.clone()], Some("expired")),
        ("status=revoked", vec![old.clone()], Some("revoked")),
        ("status=rotated", vec![rotating.clone()], Some("rotated")),
        ("type=test", vec![zapier.clone(), test.clone()], None),
        (
            "type=live&status=active",
            vec![successor.clone(), payroll.clone(), live.clone()],
            Some("active"),
        ),
        (
            "kind=restricted",
            vec![
                successor.clone(),
                rotating.clone(),
                old.clone(),
                zapier.clone(),
                payroll.clone(),
            ],
            None,
        ),
        ("kind=standard", vec![live.clone(), test.clone()], None),
        ("search=zapier", vec![zapier.clone()], None),
        (
            "search=ROTATING",
            vec![successor.clone(), rotating.clone()],
            None,
        ),
        ("search=sync&type=test", vec![], None),
        ("search=nothing%20like%20this", vec![], None),
        (
            &format!("search={}", &payroll_secret[..12]),
            vec![payroll.clone()],
            None,
        ),
    ] {
        let reply = list(query).await;
        let got = ids(&reply);
        // The two standard keys were created at the same instant: compare those as a set.
        let restricted_order = |ids: &[String]| -> Vec<String> {
            ids.iter()
                .filter(|id| **id != test && **id != live)
                .cloned()
                .collect()
        };
        assert_eq!(
            sorted(got.clone()),
            sorted(expected.clone()),
            "{query}: {}",
            reply.text
        );
        assert_eq!(
            restricted_order(&got),
            restricted_order(&expected),
            "{query}"
        );
        if let Some(status) = status {
            for key in reply.body["results"].as_array().unwrap() {
                assert_eq!(key["status"], status, "{query}: {key}");
            }
        }
    }

    for (query, field) in [
        ("status=bogus", "status"),
        ("type=prod", "type"),
        ("kind=secret", "kind"),
        ("cursor=not-an-id", "cursor"),
        ("colour=red", "colour"),
        ("limit=0", "limit"),
    ] {
        let reply = list(query).await;
        assert_invalid_field(&reply, field);
    }
    // A page size that is not a number is a JSON 400 too. (It names `query`, not `limit`: the
    // query extractor only learns the field from serde_urlencoded for unknown or missing
    // fields, not for a value of the wrong type.)
    let reply = list("limit=ten").await;
    reply.assert_error(400);
    assert_eq!(reply.body["code"], "invalid", "{}", reply.text);
}

#[tokio::test]
async fn updates_change_label_scopes_and_expiry_and_take_effect_at_once() {
    let server = TestServer::start().await;
    let account = server.account("Acme").await;
    let (token, _) = server.sign_in(&account.admin_email).await;
    let (secret, created) = create_key(
        &server,
        &token,
        "Payroll",
        "live",
        &["payroll:write", "asset:read"],
    )
    .await;
    let id = key_id_of(&created);
    let path = format!("/v1/api-keys/{id}/");
    assert_eq!(
        use_key(&server, &secret, "POST", "/v1/payroll/runs")
            .await
            .status,
        200
    );

    // Losing payroll:write: the very next write is refused, reads still pass.
    server.advance(Duration::minutes(1)).await;
    let reply = patch(
        &server,
        &token,
        &path,
        &json!({ "scopes": ["payroll:read", "asset:read"] }),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.body["scopes"], json!(["asset:read", "payroll:read"]));
    assert_eq!(reply.body["label"], "Payroll");
    assert!(reply.body.get("key").is_none(), "{}", reply.text);
    use_key(&server, &secret, "POST", "/v1/payroll/runs")
        .await
        .assert_error(403)
        .assert_body(&insufficient("payroll:write"));
    assert_eq!(
        use_key(&server, &secret, "GET", "/v1/payroll/runs")
            .await
            .status,
        200
    );
    assert_eq!(
        stored_key(&server, account.id, id).await.scopes,
        ["asset:read", "payroll:read"]
    );
    // And gaining it back works at once too.
    let reply = patch(
        &server,
        &token,
        &path,
        &json!({ "scopes": ["payroll:write"] }),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(
        use_key(&server, &secret, "POST", "/v1/payroll/runs")
            .await
            .status,
        200
    );
    use_key(&server, &secret, "GET", "/v1/asset/items")
        .await
        .assert_error(403)
        .assert_body(&insufficient("asset:read"));

    // The label, trimmed; the other fields stay.
    let reply = patch(
        &server,
        &token,
        &path,
        &json!({ "label": "  Payroll v2  " }),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.body["label"], "Payroll v2");
    assert_eq!(
        reply.body["scopes"],
        json!(["payroll:read", "payroll:write"])
    );
    assert_eq!(
        stored_key(&server, account.id, id).await.label,
        "Payroll v2"
    );

    // An expiry, then none again.
    let reply = patch(
        &server,
        &token,
        &path,
        &json!({ "expires_at": "2026-07-01T00:00:00Z" }),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.body["expires_at"], "2026-07-01T00:00:00Z");
    assert_eq!(
        stored_key(&server, account.id, id).await.expires_at,
        Some(datetime!(2026-07-01 00:00 UTC))
    );
    let reply = patch(&server, &token, &path, &json!({ "expires_at": null })).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.body["expires_at"], Value::Null);
    assert_eq!(stored_key(&server, account.id, id).await.expires_at, None);

    // An expiry that comes: refused from that moment with key_expired.
    let reply = patch(
        &server,
        &token,
        &path,
        &json!({ "expires_at": "2026-06-01T12:30:00Z" }),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    server.advance(Duration::minutes(28)).await;
    assert_eq!(
        use_key(&server, &secret, "GET", "/v1/payroll/runs")
            .await
            .status,
        200
    );
    server.advance(Duration::minutes(1)).await;
    let reply = use_key(&server, &secret, "GET", "/v1/payroll/runs").await;
    reply.assert_error(401);
    assert_eq!(reply.body["code"], "key_expired", "{}", reply.text);
    assert_eq!(reply.body["stopped_at"], "2026-06-01T12:30:00Z");

    // Each change is in the audit trail.
    let events = server
        .service()
        .store()
        .audit_events(account.id, 100)
        .await
        .unwrap();
    let updates = events
        .iter()
        .filter(|e| e.action == keywarden_core::audit::Action::KeyUpdated && e.key_id == Some(id))
        .count();
    assert_eq!(updates, 6);
}

#[tokio::test]
async fn invalid_updates_are_400_naming_the_field_and_change_nothing() {
    let server = TestServer::start().await;
    let account = server.account("Acme").await;
    let (token, _) = server.sign_in(&account.admin_email).await;
    let (secret, created) =
        create_key(&server, &token, "Payroll", "live", &["payroll:write"]).await;
    let id = key_id_of(&created);
    let path = format!("/v1/api-keys/{id}/");
    let before = stored_key(&server, account.id, id).await;
    for (body, field) in [
        (json!({ "label": "" }), "label"),
        (json!({ "label": "x".repeat(101) }), "label"),
        (json!({ "label": 7 }), "label"),
        (json!({ "scopes": [] }), "scopes"),
        (json!({ "scopes": ["nope:read"] }), "scopes"),
        (json!({ "scopes": "payroll:read" }), "scopes"),
        (
            json!({ "expires_at": "2020-01-01T00:00:00Z" }),
            "expires_at",
        ),
        (json!({ "expires_at": "soon" }), "expires_at"),
        (json!({ "expires_at": 5 }), "expires_at"),
        // A valid change with an invalid one changes nothing.
        (
            json!({ "label": "Fine", "scopes": ["nope:read"] }),
            "scopes",
        ),
    ] {
        let reply = patch(&server, &token, &path, &body).await;
        assert_eq!(reply.status, 400, "{body}: {}", reply.text);
        assert_invalid_field(&reply, field);
    }
    // An empty change says what to send.
    let reply = patch(&server, &token, &path, &json!({})).await;
    reply.assert_error(400);
    assert_eq!(stored_key(&server, account.id, id).await, before);
    assert_eq!(
        use_key(&server, &secret, "POST", "/v1/payroll/runs")
            .await
            .status,
        200
    );

    // Unknown and malformed ids are 404.
    for missing in [
        KeyId::new_at(datetime!(2026-06-01 12:00 UTC)).to_string(),
        "abc".into(),
    ] {
        let reply = patch(
            &server,
            &token,
            &format!("/v1/api-keys/{missing}/"),
            &json!({ "label": "x" }),
        )
        .await;
        reply.assert_error(404);
        assert_eq!(reply.body["code"], "not_found", "{}", reply.text);
    }
}

#[tokio::test]
async fn standard_keys_accept_only_a_new_label() {
    let server = TestServer::start().await;
    let account = server.account("Acme").await;
    let (token, _) = server.sign_in(&account.admin_email).await;
    let standard = standard_key(&server, account.id, Mode::Test).await;
    let path = format!("/v1/api-keys/{}/", standard.id);
    for (body, field) in [
        (json!({ "scopes": ["asset:read"] }), "scopes"),
        (
            json!({ "expires_at": "2027-01-01T00:00:00Z" }),
            "expires_at",
        ),
        (json!({ "expires_at": null }), "expires_at"),
        (
            json!({ "label": "Main", "scopes": ["asset:read"] }),
            "scopes",
        ),
    ] {
        let reply = patch(&server, &token, &path, &body).await;
        assert_invalid_field(&reply, field);
    }
    assert_eq!(
        standard_key(&server, account.id, Mode::Test).await,
        standard
    );

    let reply = patch(&server, &token, &path, &json!({ "label": "Main test key" })).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.body["label"], "Main test key");
    assert_eq!(reply.body["kind"], "standard");
    assert_eq!(reply.body["scopes"].as_array().unwrap().len(), 14);
    assert_eq!(reply.body["expires_at"], Value::Null);
    assert_eq!(
        standard_key(&server, account.id, Mode::Test).await.label,
        "Main test key"
    );
    // Still reaches everything.
    assert_key_works(&server, &account.test_key).await;
    assert_eq!(
        use_key(&server, &account.test_key, "POST", "/v1/payments/charges")
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn rotation_without_grace_stops_the_old_key_at_once_and_keeps_the_settings() {
    let server = TestServer::start().await;
    let account = server.account("Acme").await;
    let (token, _) = server.sign_in(&account.admin_email).await;
    let admin = stored_user(&server, &account.admin_email).await;
    let created = post(
        &server,
        &token,
        "/v1/api-keys/",
        &json!({
            "label": "Payroll",
            "type": "live",
            "scopes": ["payroll:write"],
            "expires_at": "2026-09-01T00:00:00Z",
        }),
    )
    .await;
    assert_eq!(created.status, 201, "{}", created.text);
    let old_secret = created.str_field("key").to_owned();
    let old_id = key_id_of(&created);
    server.advance(Duration::minutes(1)).await;

    // No body at all: the previous key stops at once.
    let rotated = send(
        server
            .http
            .post(server.url(&format!("/v1/api-keys/{old_id}/rotate/")))
            .bearer_auth(&token),
    )
    .await;
    assert_eq!(rotated.status, 200, "{}", rotated.text);
    let new_secret = rotated.str_field("key").to_owned();
    let new_id = key_id_of(&rotated);
    assert_ne!(new_secret, old_secret);
    assert_ne!(new_id, old_id);
    rotated.assert_body(&json!({
        "key": new_secret,
        "id": new_id.to_string(),
        "kind": "restricted",
        "type": "live",
        "label": "Payroll",
        "hint": hint_of(&new_secret),
        "scopes": ["payroll:read", "payroll:write"],
        "status": "active",
        "created_at": "2026-06-01T12:01:00Z",
        "created_by": admin.id.to_string(),
        "created_by_email": admin.email,
        "expires_at": "2026-09-01T00:00:00Z",
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
        "previous": {
            "id": old_id.to_string(),
            "hint": hint_of(&old_secret),
            "stops_at": "2026-06-01T12:01:00Z",
        },
    }));

    assert_key_stopped_at(&server, &old_secret, "key_rotated", "2026-06-01T12:01:00Z").await;
    assert_eq!(
        use_key(&server, &new_secret, "POST", "/v1/payroll/runs")
            .await
            .status,
        200
    );
    use_key(&server, &new_secret, "GET", "/v1/talent/people")
        .await
        .assert_error(403)
        .assert_body(&insufficient("talent:read"));

    let old = get(&server, &token, &format!("/v1/api-keys/{old_id}/")).await;
    assert_eq!(old.body["status"], "rotated", "{}", old.text);
    assert_eq!(old.body["rotated_at"], "2026-06-01T12:01:00Z");
    assert_eq!(old.body["grace_until"], "2026-06-01T12:01:00Z");
    let stored_old = stored_key(&server, account.id, old_id).await;
    let stored_new = stored_key(&server, account.id, new_id).await;
    assert_eq!(stored_old.lifecycle, Lifecycle::Rotated);
    assert_eq!(stored_old.replaced_by, Some(new_id));
    assert_eq!(stored_new.replaces, Some(old_id));
    assert_eq!(
        stored_new.digest,
        server.service().hasher().digest(&new_secret)
    );

    // The old key cannot be rotated again; its successor can.
    let again = post(
        &server,
        &token,
        &format!("/v1/api-keys/{old_id}/rotate/"),
        &json!({}),
    )
    .await;
    again.assert_error(409);
    assert_eq!(again.body["code"], "conflict", "{}", again.text);
    let next = post(
        &server,
        &token,
        &format!("/v1/api-keys/{new_id}/rotate/"),
        &json!({}),
    )
    .await;
    assert_eq!(next.status, 200, "{}", next.text);
}

/// Like `assert_key_stopped`, but for a key used on a path its scopes reach.
async fn assert_key_stopped_at(server: &TestServer, key: &str, code: &str, at: &str) {
    let reply = use_key(server, key, "GET", "/v1/payroll/runs").await;
    reply.assert_error(401);
    assert_eq!(reply.body["code"], code, "{}", reply.text);
    assert_eq!(reply.body["stopped_at"], at, "{}", reply.text);
}

#[tokio::test]
async fn rotation_with_grace_keeps_the_old_key_working_until_the_deadline() {
    let server = TestServer::start().await;
    let account = server.account("Acme").await;
    let (token, _) = server.sign_in(&account.admin_email).await;
    let (old_secret, created) =
        create_key(&server, &token, "Payroll", "live", &["payroll:read"]).await;
    let old_id = key_id_of(&created);
    let rotate = format!("/v1/api-keys/{old_id}/rotate/");

    // Out of range or of the wrong type: 400 naming the field, nothing rotated.
    for value in [
        json!(604_801),
        json!(-1),
        json!("3600"),
        json!(1.5),
        json!(true),
    ] {
        let reply = post(
            &server,
            &token,
            &rotate,
            &json!({ "expire_previous_in": value }),
        )
        .await;
        assert_eq!(reply.status, 400, "{value}: {}", reply.text);
        assert_invalid_field(&reply, "expire_previous_in");
    }
    assert_eq!(
        stored_key(&server, account.id, old_id).await.lifecycle,
        Lifecycle::Active
    );

    let rotated = post(
        &server,
        &token,
        &rotate,
        &json!({ "expire_previous_in": 3600 }),
    )
    .await;
    assert_eq!(rotated.status, 200, "{}", rotated.text);
    assert_eq!(rotated.body["previous"]["stops_at"], "2026-06-01T13:00:00Z");
    let new_secret = rotated.str_field("key").to_owned();
    let old = get(&server, &token, &format!("/v1/api-keys/{old_id}/")).await;
    assert_eq!(old.body["status"], "rotated");
    assert_eq!(old.body["grace_until"], "2026-06-01T13:00:00Z");

    server.advance(Duration::seconds(3599)).await;
    assert_eq!(
        use_key(&server, &old_secret, "GET", "/v1/payroll/runs")
            .await
            .status,
        200
    );
    assert_eq!(
        use_key(&server, &new_secret, "GET", "/v1/payroll/runs")
            .await
            .status,
        200
    );
    server.advance(Duration::seconds(1)).await;
    assert_key_stopped_at(&server, &old_secret, "key_rotated", "2026-06-01T13:00:00Z").await;
    assert_eq!(
        use_key(&server, &new_secret, "GET", "/v1/payroll/runs")
            .await
            .status,
        200
    );

    // Seven days exactly is the longest hand-over.
    let (token, _) = server.sign_in(&account.admin_email).await;
    let new_id = key_id_of(&rotated);
    let week = post(
        &server,
        &token,
        &format!("/v1/api-keys/{new_id}/rotate/"),
        &json!({ "expire_previous_in": 604_800 }),
    )
    .await;
    assert_eq!(week.status, 200, "{}", week.text);
    assert_eq!(week.body["previous"]["stops_at"], "2026-06-08T13:00:00Z");
}

#[tokio::test]
async fn revoking_keeps_the_record_as_revoked_and_stops_the_key_at_once() {
    let server = TestServer::start().await;
    let account = server.account("Acme").await;
    let (token, _) = server.sign_in(&account.admin_email).await;
    let (secret, created) = create_key(&server, &token, "Payroll", "live", &["payroll:read"]).await;
    let id = key_id_of(&created);
    let path = format!("/v1/api-keys/{id}/");
    server.advance(Duration::minutes(3)).await;

    let reply = delete(&server, &token, &path).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let mut expected = metadata(&created);
    expected["status"] = json!("revoked");
    expected["revoked_at"] = json!("2026-06-01T12:03:00Z");
    reply.assert_body(&expected);
    assert_no_secret_in(&reply.text, &[&secret]);

    assert_key_stopped_at(&server, &secret, "key_revoked", "2026-06-01T12:03:00Z").await;
    let verified = verify(&server, &secret, None).await;
    assert_eq!(verified.body["valid"], false, "{}", verified.text);
    assert_eq!(verified.body["code"], "key_revoked", "{}", verified.text);

    // The record stays, for the audit trail.
    get(&server, &token, &path).await.assert_body(&expected);
    let list = get(&server, &token, "/v1/api-keys/?status=revoked").await;
    assert_eq!(ids(&list), [id.to_string()]);
    let stored = stored_key(&server, account.id, id).await;
    assert_eq!(stored.lifecycle, Lifecycle::Revoked);
    assert_eq!(stored.revoked_at, Some(datetime!(2026-06-01 12:03 UTC)));

    // A revoked key cannot be revoked, rotated or changed again.
    for reply in [
        delete(&server, &token, &path).await,
        post(&server, &token, &format!("{path}rotate/"), &json!({})).await,
        patch(&server, &token, &path, &json!({ "label": "back" })).await,
    ] {
        reply.assert_error(409);
        assert_eq!(reply.body["code"], "conflict", "{}", reply.text);
    }
    assert_eq!(stored_key(&server, account.id, id).await, stored);
}

#[tokio::test]
async fn revoking_a_key_in_its_grace_period_stops_it_at_once() {
    let server = TestServer::start().await;
    let account = server.account("Acme").await;
    let (token, _) = server.sign_in(&account.admin_email).await;
    let (old_secret, created) =
        create_key(&server, &token, "Payroll", "live", &["payroll:read"]).await;
    let old_id = key_id_of(&created);
    let rotated = post(
        &server,
        &token,
        &format!("/v1/api-keys/{old_id}/rotate/"),
        &json!({ "expire_previous_in": 86_400 }),
    )
    .await;
    assert_eq!(rotated.status, 200, "{}", rotated.text);
    server.advance(Duration::minutes(1)).await;
    assert_eq!(
        use_key(&server, &old_secret, "GET", "/v1/payroll/runs")
            .await
            .status,
        200
    );
    let reply = delete(&server, &token, &format!("/v1/api-keys/{old_id}/")).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.body["status"], "revoked");
    assert_key_stopped_at(&server, &old_secret, "key_revoked", "2026-06-01T12:01:00Z").await;
    assert_eq!(
        use_key(&server, rotated.str_field("key"), "GET", "/v1/payroll/runs")
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn rotation_due_follows_the_accounts_rotation_period() {
    let server = TestServer::start().await;
    let account = server.account("Acme").await;
    let (token, _) = server.sign_in(&account.admin_email).await;
    let (_, created) = create_key(&server, &token, "Payroll", "live", &["payroll:read"]).await;
    let path = format!("/v1/api-keys/{}/", key_id_of(&created));
    assert_eq!(created.body["rotation_due"], false);

    server
        .advance(Duration::days(90) - Duration::seconds(1))
        .await;
    let (token, _) = server.sign_in(&account.admin_email).await;
    assert_eq!(
        get(&server, &token, &path).await.body["rotation_due"],
        false
    );
    server.advance(Duration::seconds(1)).await;
    let reply = get(&server, &token, &path).await;
    assert_eq!(
        reply.body["rotation_due"], true,
        "90 days old: {}",
        reply.text
    );
    let list = get(&server, &token, "/v1/api-keys/").await;
    for key in list.body["results"].as_array().unwrap() {
        assert_eq!(key["rotation_due"], true, "{key}");
    }

    // A longer period: no longer due. A shorter one: due again.
    let policy = patch(
        &server,
        &token,
        "/v1/account/",
        &json!({ "rotation_period_days": 120 }),
    )
    .await;
    assert_eq!(policy.status, 200, "{}", policy.text);
    assert_eq!(policy.body["rotation_period_days"], 120);
    assert_eq!(
        get(&server, &token, &path).await.body["rotation_due"],
        false
    );
    assert_eq!(
        get(&server, &token, "/v1/auth/api-keys/").await.body["test"]["rotation_due"],
        false
    );
    let policy = patch(
        &server,
        &token,
        "/v1/account/",
        &json!({ "rotation_period_days": 30 }),
    )
    .await;
    assert_eq!(policy.status, 200, "{}", policy.text);
    assert_eq!(get(&server, &token, &path).await.body["rotation_due"], true);
    let stored = server
        .service()
        .store()
        .account(account.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.rotation_period_days, 30);

    // Rotation makes a fresh key; the rotated one is no longer "due".
    let rotated = post(&server, &token, &format!("{path}rotate/"), &json!({})).await;
    assert_eq!(rotated.status, 200, "{}", rotated.text);
    assert_eq!(rotated.body["rotation_due"], false);
    assert_eq!(
        get(&server, &token, &path).await.body["rotation_due"],
        false
    );

    for bad in [json!(0), json!(3651), json!(-5), json!("90"), json!(1.5)] {
        let reply = patch(
            &server,
            &token,
            "/v1/account/",
            &json!({ "rotation_period_days": bad }),
        )
        .await;
        assert_invalid_field(&reply, "rotation_period_days");
    }
    assert_eq!(
        server
            .service()
            .store()
            .account(account.id)
            .await
            .unwrap()
            .unwrap()
            .rotation_period_days,
        30
    );
}

#[tokio::test]
async fn last_used_at_is_filled_once_the_batch_of_uses_is_written() {
    let server = TestServer::start().await;
    let account = server.account("Acme").await;
    let (token, _) = server.sign_in(&account.admin_email).await;
    let (secret, created) = create_key(&server, &token, "Payroll", "live", &["payroll:read"]).await;
    let id = key_id_of(&created);
    let path = format!("/v1/api-keys/{id}/");
    assert_eq!(created.body["last_used_at"], Value::Null);

    server.advance(Duration::minutes(2)).await;
    assert_eq!(
        use_key(&server, &secret, "GET", "/v1/payroll/runs")
            .await
            .status,
        200
    );
    server.state.keys.flush_last_used().await.unwrap();
    let reply = get(&server, &token, &path).await;
    assert_eq!(
        reply.body["last_used_at"], "2026-06-01T12:02:00Z",
        "{}",
        reply.text
    );
    assert_eq!(
        stored_key(&server, account.id, id).await.last_used_at,
        Some(datetime!(2026-06-01 12:02 UTC))
    );

    // A use through POST /v1/verify/ counts too; a refused use does not.
    server.advance(Duration::minutes(3)).await;
    let verified = verify(&server, &secret, Some("payroll:read")).await;
    assert_eq!(verified.body["valid"], true, "{}", verified.text);
    server.advance(Duration::minutes(1)).await;
    let refused = use_key(&server, &secret, "POST", "/v1/payroll/runs").await;
    assert_eq!(refused.status, 403);
    server.state.keys.flush_last_used().await.unwrap();
    let reply = get(&server, &token, &path).await;
    assert_eq!(
        reply.body["last_used_at"], "2026-06-01T12:05:00Z",
        "{}",
        reply.text
    );
}

#[tokio::test]
async fn an_expiring_key_shows_expired_and_is_refused_from_its_expiry() {
    let server = TestServer::start().await;
    let account = server.account("Acme").await;
    let (token, _) = server.sign_in(&account.admin_email).await;
    let created = post(
        &server,
        &token,
        "/v1/api-keys/",
        &json!({
            "label": "Temp",
            "type": "test",
            "scopes": ["perks:read"],
            "expires_at": "2026-06-01T12:10:00Z",
        }),
    )
    .await;
    assert_eq!(created.status, 201, "{}", created.text);
    let secret = created.str_field("key").to_owned();
    let path = format!("/v1/api-keys/{}/", key_id_of(&created));

    server
        .advance(Duration::minutes(10) - Duration::milliseconds(1))
        .await;
    assert_eq!(
        use_key(&server, &secret, "GET", "/v1/perks/offers")
            .await
            .status,
        200
    );
    assert_eq!(get(&server, &token, &path).await.body["status"], "active");
    server.advance(Duration::milliseconds(1)).await;
    let reply = use_key(&server, &secret, "GET", "/v1/perks/offers").await;
    reply.assert_error(401);
    assert_eq!(reply.body["code"], "key_expired", "{}", reply.text);
    assert_eq!(reply.body["stopped_at"], "2026-06-01T12:10:00Z");
    let verified = verify(&server, &secret, None).await;
    assert_eq!(verified.body["code"], "key_expired", "{}", verified.text);
    assert_eq!(get(&server, &token, &path).await.body["status"], "expired");
    let expired = get(&server, &token, "/v1/api-keys/?status=expired").await;
    assert_eq!(ids(&expired).len(), 1);
    // Rotation keeps every setting, the expiry included, so rotating an expired key would only
    // mint an expired successor: it is refused (extend the expiry with PATCH instead).
    let rotated = post(&server, &token, &format!("{path}rotate/"), &json!({})).await;
    assert_eq!(rotated.status, 409, "{}", rotated.text);
    assert_eq!(rotated.body["code"], "conflict", "{}", rotated.text);
    assert!(rotated.text.contains("expired"), "{}", rotated.text);
    assert_eq!(get(&server, &token, &path).await.body["status"], "expired");
}

#[tokio::test]
async fn each_account_lists_only_its_own_keys() {
    let server = TestServer::start().await;
    let acme = server.account("Acme").await;
    let globex = server.account("Globex").await;
    let (acme_token, _) = server.sign_in(&acme.admin_email).await;
    let (globex_token, _) = server.sign_in(&globex.admin_email).await;
    let (_, mine) = create_key(&server, &acme_token, "Acme only", "live", &["asset:read"]).await;
    let list = get(&server, &globex_token, "/v1/api-keys/?limit=100").await;
    let ids = ids(&list);
    assert_eq!(
        ids.len(),
        2,
        "Globex sees its two standard keys only: {}",
        list.text
    );
    assert!(!ids.contains(&mine.str_field("id").to_owned()));
    let search = get(&server, &globex_token, "/v1/api-keys/?search=Acme").await;
    assert_eq!(search.body["results"], json!([]), "{}", search.text);
}

/// Developers may not list the members, but every key names its creator by email while they
/// are a member: null for the operator CLI and once that member is removed.
#[tokio::test]
async fn a_key_names_its_creator_by_email_while_they_are_a_member() {
    let server = TestServer::start().await;
    let account = server.account("Acme").await;
    let dev_email = server
        .user(account.id, "dev@acme.test", role("developer"))
        .await;
    let (dev_token, _) = server.sign_in(&dev_email).await;
    let (admin_token, _) = server.sign_in(&account.admin_email).await;
    assert_eq!(get(&server, &dev_token, "/v1/users/").await.status, 403);

    let (_, by_admin) =
        create_key(&server, &admin_token, "By-Admin", "test", &["asset:read"]).await;
    let (_, by_dev) = create_key(&server, &dev_token, "By-Dev", "test", &["asset:read"]).await;
    assert_eq!(by_dev.body["created_by_email"], "dev@acme.test");
    let id = key_id_of(&by_admin);

    let one = get(&server, &dev_token, &format!("/v1/api-keys/{id}/")).await;
    assert_eq!(one.body["created_by_email"], account.admin_email.as_str());
    let list = get(&server, &dev_token, "/v1/api-keys/").await;
    let emails: Vec<(&str, &Value)> = list.body["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| (k["label"].as_str().unwrap(), &k["created_by_email"]))
        .collect();
    assert!(emails.contains(&("By-Admin", &Value::from(account.admin_email.as_str()))));
    assert!(emails.contains(&("By-Dev", &Value::from("dev@acme.test"))));
    // The standard keys came from the operator CLI.
    let standard = get(&server, &dev_token, "/v1/auth/api-keys/").await;
    assert_eq!(standard.body["test"]["created_by_email"], Value::Null);

    // The developer leaves: their keys stay, no longer naming them.
    let dev = stored_user(&server, &dev_email).await;
    let removed = delete(&server, &admin_token, &format!("/v1/users/{}/", dev.id)).await;
    assert_eq!(removed.status, 204, "{}", removed.text);
    let theirs = get(
        &server,
        &admin_token,
        &format!("/v1/api-keys/{}/", key_id_of(&by_dev)),
    )
    .await;
    assert_eq!(theirs.body["created_by"], dev.id.to_string());
    assert_eq!(theirs.body["created_by_email"], Value::Null);
}
