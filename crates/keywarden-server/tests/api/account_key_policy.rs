//! The account key policy (SPEC §9): `max_key_lifetime_days`, `require_expiry_for_live`,
//! `require_ip_allowlist_for_live` and `leak_action` on `GET`/`PATCH /v1/account/`; every key
//! created, changed or rotated against it refused with 400 `policy_violation` naming the key
//! field, with nothing stored; existing keys left alone and listed by
//! `GET /v1/account/policy-violations/`.

use crate::support::{
    Reply, api_key, assert_invalid_field, forbidden, forward_auth, get, patch, patch_standard_keys,
    post, rfc3339, standard_key, stored_key,
};
use keywarden_core::account::Role;
use keywarden_core::account_key_policy::{AccountKeyPolicy, LeakAction};
use keywarden_core::ids::{AccountId, KeyId};
use keywarden_core::key_format::Mode;
use keywarden_core::key_record::KeyRecord;
use keywarden_core::store::KeyFilter;
use keywarden_testkit::TestServer;
use serde_json::{Value, json};
use time::{Duration, OffsetDateTime};

/// Every key of the account, as stored, in id order.
async fn all_keys(server: &TestServer, account: AccountId) -> Vec<KeyRecord> {
    let mut keys = server
        .service()
        .store()
        .keys_of_account(account, &KeyFilter::default())
        .await
        .unwrap();
    keys.sort_by_key(|k| k.id);
    keys
}

fn now(server: &TestServer) -> OffsetDateTime {
    server.service().clock().now()
}

/// `now + days` as the API writes it.
fn in_days(server: &TestServer, days: i64) -> String {
    rfc3339(now(server) + Duration::days(days))
}

/// Sets the account's policy; asserts it was taken.
async fn set_policy(server: &TestServer, token: &str, body: Value) -> Reply {
    let reply = patch(server, token, "/v1/account/", &body).await;
    assert_eq!(reply.status, 200, "{body}: {}", reply.text);
    reply
}

/// Creates a restricted key with `extra` fields; the answer as it came.
async fn create(server: &TestServer, token: &str, mode: &str, extra: Value) -> Reply {
    let mut body =
        json!({"label": format!("{mode} key"), "type": mode, "scopes": ["payroll:read"]});
    for (name, value) in extra.as_object().unwrap() {
        body[name] = value.clone();
    }
    post(server, token, "/v1/api-keys/", &body).await
}

/// Creates a restricted key that must be accepted; its id.
async fn created(server: &TestServer, token: &str, mode: &str, extra: Value) -> KeyId {
    let reply = create(server, token, mode, extra).await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    reply.str_field("id").parse().unwrap()
}

async fn rotate(server: &TestServer, token: &str, id: KeyId) -> Reply {
    post(
        server,
        token,
        &format!("/v1/api-keys/{id}/rotate/"),
        &json!({}),
    )
    .await
}

async fn update(server: &TestServer, token: &str, id: KeyId, body: Value) -> Reply {
    patch(server, token, &format!("/v1/api-keys/{id}/"), &body).await
}

/// Asserts the 400 `policy_violation` naming `field`, whose detail contains `words`.
fn assert_violation(reply: &Reply, field: &str, words: &str) {
    reply.assert_error(400);
    assert_eq!(reply.body["code"], "policy_violation", "{}", reply.text);
    assert_eq!(reply.body["field"], field, "{}", reply.text);
    let detail = reply.str_field("detail");
    assert!(
        detail.starts_with(&format!("{field}: the account's key policy")),
        "{detail}"
    );
    assert!(detail.contains(words), "{detail} lacks {words:?}");
    let mut fields: Vec<&str> = reply
        .body
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    fields.sort_unstable();
    assert_eq!(fields, ["code", "detail", "field"], "{}", reply.text);
}

/// Runs a request that the policy must refuse, and checks that no key changed.
macro_rules! refused {
    ($server:expr, $account:expr, $request:expr, $field:expr, $words:expr) => {{
        let before = all_keys($server, $account).await;
        let reply = $request.await;
        assert_violation(&reply, $field, $words);
        assert_eq!(
            all_keys($server, $account).await,
            before,
            "a refused change changed the stored keys"
        );
    }};
}

#[tokio::test]
async fn the_policy_is_shown_changed_and_audited() {
    let server = TestServer::start().await;
    let account = server.account("Acme").await;
    let (token, _) = server.sign_in(&account.admin_email).await;

    let shown = get(&server, &token, "/v1/account/").await;
    assert_eq!(shown.status, 200, "{}", shown.text);
    for (field, default) in [
        ("max_key_lifetime_days", json!(null)),
        ("require_expiry_for_live", json!(false)),
        ("require_ip_allowlist_for_live", json!(false)),
        ("leak_action", json!("revoke")),
    ] {
        assert_eq!(shown.body[field], default, "{field}: {}", shown.text);
    }

    let changed = set_policy(
        &server,
        &token,
        json!({
            "max_key_lifetime_days": 90,
            "require_expiry_for_live": true,
            "require_ip_allowlist_for_live": true,
            "leak_action": "notify",
        }),
    )
    .await;
    let expected = json!({
        "max_key_lifetime_days": 90,
        "require_expiry_for_live": true,
        "require_ip_allowlist_for_live": true,
        "leak_action": "notify",
        "require_2fa_for_keys": false,
        "rotation_period_days": 90,
    });
    for (field, value) in expected.as_object().unwrap() {
        assert_eq!(&changed.body[field], value, "{field}: {}", changed.text);
    }
    let reread = get(&server, &token, "/v1/account/").await;
    assert_eq!(reread.body, changed.body);
    let stored = server
        .service()
        .store()
        .account(account.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        stored.key_policy,
        AccountKeyPolicy {
            max_key_lifetime_days: Some(90),
            require_expiry_for_live: true,
            require_ip_allowlist_for_live: true,
            leak_action: LeakAction::Notify,
        }
    );

    // One setting leaves the others alone; null removes the maximum.
    server.advance(Duration::seconds(1)).await;
    let one = set_policy(&server, &token, json!({"max_key_lifetime_days": null})).await;
    assert_eq!(one.body["max_key_lifetime_days"], Value::Null);
    assert_eq!(one.body["require_ip_allowlist_for_live"], true);
    assert_eq!(one.body["leak_action"], "notify");

    // The audit trail names each setting that changed, before and after.
    let audit = get(&server, &token, "/v1/audit-events/").await;
    let events = audit.body["results"].as_array().unwrap();
    assert_eq!(events[0]["action"], "account.updated", "{}", audit.text);
    assert_eq!(events[0]["detail"], "max_key_lifetime_days: 90 → none");
    assert_eq!(events[1]["action"], "account.updated", "{}", audit.text);
    assert_eq!(
        events[1]["detail"],
        "max_key_lifetime_days: none → 90; require_expiry_for_live: false → true; \
         require_ip_allowlist_for_live: false → true; leak_action: revoke → notify"
    );
}

#[tokio::test]
async fn wrong_policy_values_are_400_naming_the_field_and_change_nothing() {
    let server = TestServer::start().await;
    let account = server.account("Acme").await;
    let (token, _) = server.sign_in(&account.admin_email).await;
    set_policy(&server, &token, json!({"max_key_lifetime_days": 30})).await;
    let store = server.service().store();
    let before = store.account(account.id).await.unwrap();
    let events_before = store.audit_events(account.id, 1000).await.unwrap().len();
    for (body, field) in [
        (json!({"max_key_lifetime_days": 0}), "max_key_lifetime_days"),
        (
            json!({"max_key_lifetime_days": 3651}),
            "max_key_lifetime_days",
        ),
        (
            json!({"max_key_lifetime_days": -5}),
            "max_key_lifetime_days",
        ),
        (
            json!({"max_key_lifetime_days": 1.5}),
            "max_key_lifetime_days",
        ),
        (
            json!({"max_key_lifetime_days": "30"}),
            "max_key_lifetime_days",
        ),
        (
            json!({"max_key_lifetime_days": 1e300}),
            "max_key_lifetime_days",
        ),
        (
            json!({"require_expiry_for_live": "yes"}),
            "require_expiry_for_live",
        ),
        (
            json!({"require_ip_allowlist_for_live": 1}),
            "require_ip_allowlist_for_live",
        ),
        (json!({"leak_action": "delete"}), "leak_action"),
        (json!({"leak_action": "Revoke"}), "leak_action"),
        (json!({"leak_action": 1}), "leak_action"),
        (json!({"max_lifetime_days": 30}), "max_lifetime_days"),
        (
            json!({"require_expiry_for_live": true, "key_policy": {}}),
            "key_policy",
        ),
        // A bad value refuses the whole body, the good settings beside it included.
        (
            json!({"require_ip_allowlist_for_live": true, "leak_action": "ignore"}),
            "leak_action",
        ),
    ] {
        let reply = patch(&server, &token, "/v1/account/", &body).await;
        assert_invalid_field(&reply, field);
    }
    let reply = patch(
        &server,
        &token,
        "/v1/account/",
        &json!({"leak_action": "x"}),
    )
    .await;
    assert!(
        reply.str_field("detail").contains("revoke")
            && reply.str_field("detail").contains("notify"),
        "{}",
        reply.text
    );
    assert_eq!(store.account(account.id).await.unwrap(), before);
    assert_eq!(
        store.audit_events(account.id, 1000).await.unwrap().len(),
        events_before
    );
    // The bounds themselves are taken.
    for days in [1, 3650] {
        let reply = set_policy(&server, &token, json!({"max_key_lifetime_days": days})).await;
        assert_eq!(reply.body["max_key_lifetime_days"], days);
    }
}

#[tokio::test]
async fn only_admins_see_and_change_the_policy() {
    let server = TestServer::start().await;
    let account = server.account("Acme").await;
    let developer = server
        .user(account.id, "dev@acme.test", Role::Developer)
        .await;
    let member = server.user(account.id, "mem@acme.test", Role::Member).await;
    let before = server.service().store().account(account.id).await.unwrap();
    for email in [developer, member] {
        let (token, _) = server.sign_in(&email).await;
        for path in ["/v1/account/", "/v1/account/policy-violations/"] {
            let reply = get(&server, &token, path).await;
            reply.assert_error(403).assert_body(&forbidden());
        }
        let reply = patch(
            &server,
            &token,
            "/v1/account/",
            &json!({"require_ip_allowlist_for_live": true}),
        )
        .await;
        reply.assert_error(403).assert_body(&forbidden());
    }
    assert_eq!(
        server.service().store().account(account.id).await.unwrap(),
        before
    );
}

#[tokio::test]
async fn a_maximum_lifetime_binds_restricted_keys_of_both_modes_and_spares_standard_keys() {
    let server = TestServer::start().await;
    let account = server.account("Acme").await;
    let (token, _) = server.sign_in(&account.admin_email).await;
    // Made before the policy: no expiry, and an expiry beyond the coming maximum.
    let open = created(&server, &token, "test", json!({})).await;
    let far = created(
        &server,
        &token,
        "live",
        json!({"expires_at": in_days(&server, 200)}),
    )
    .await;
    set_policy(&server, &token, json!({"max_key_lifetime_days": 30})).await;
    let limit = rfc3339(now(&server) + Duration::days(30));
    let a = account.id;

    for mode in ["test", "live"] {
        // Create: no expiry, or one past the maximum, is refused; the maximum itself is fine.
        refused!(
            &server,
            a,
            create(&server, &token, mode, json!({})),
            "expires_at",
            "30 days"
        );
        refused!(
            &server,
            a,
            create(
                &server,
                &token,
                mode,
                json!({"expires_at": in_days(&server, 31)})
            ),
            "expires_at",
            "restricted keys"
        );
        let ok = created(&server, &token, mode, json!({"expires_at": limit})).await;

        // Update: removing the expiry or moving it past the maximum is refused.
        refused!(
            &server,
            a,
            update(&server, &token, ok, json!({"expires_at": null})),
            "expires_at",
            "standard keys are exempt"
        );
        refused!(
            &server,
            a,
            update(
                &server,
                &token,
                ok,
                json!({"expires_at": in_days(&server, 45)})
            ),
            "expires_at",
            "30 days"
        );
        let earlier = update(
            &server,
            &token,
            ok,
            json!({"expires_at": in_days(&server, 7)}),
        )
        .await;
        assert_eq!(earlier.status, 200, "{}", earlier.text);

        // Rotate: the successor keeps the expiry, within the maximum.
        let rotated = rotate(&server, &token, ok).await;
        assert_eq!(rotated.status, 200, "{}", rotated.text);
        assert_eq!(rotated.body["expires_at"], in_days(&server, 7));
    }

    // Keys made before the policy: other changes are free, a rotation is refused until the
    // expiry meets the policy.
    let relabel = update(&server, &token, open, json!({"label": "renamed"})).await;
    assert_eq!(relabel.status, 200, "{}", relabel.text);
    refused!(
        &server,
        a,
        rotate(&server, &token, open),
        "expires_at",
        &format!("PATCH /v1/api-keys/{open}/")
    );
    refused!(
        &server,
        a,
        rotate(&server, &token, far),
        "expires_at",
        "choose an earlier expiry"
    );
    let fixed = update(
        &server,
        &token,
        far,
        json!({"expires_at": in_days(&server, 20)}),
    )
    .await;
    assert_eq!(fixed.status, 200, "{}", fixed.text);
    assert_eq!(rotate(&server, &token, far).await.status, 200);

    // Standard keys never expire: exempt (and their expiry is not theirs to set anyway).
    for mode in ["test", "live"] {
        let reply = patch_standard_keys(&server, &token, &json!({"type": mode})).await;
        assert_eq!(reply.status, 200, "{mode}: {}", reply.text);
    }
    let live = standard_key(&server, a, Mode::Live).await;
    let reply = update(
        &server,
        &token,
        live.id,
        json!({"expires_at": in_days(&server, 5)}),
    )
    .await;
    assert_invalid_field(&reply, "expires_at");
}

#[tokio::test]
async fn restricted_live_keys_must_expire_test_keys_need_not() {
    let server = TestServer::start().await;
    let account = server.account("Acme").await;
    let (token, _) = server.sign_in(&account.admin_email).await;
    let old_live = created(&server, &token, "live", json!({})).await;
    let old_test = created(&server, &token, "test", json!({})).await;
    set_policy(&server, &token, json!({"require_expiry_for_live": true})).await;
    let a = account.id;

    refused!(
        &server,
        a,
        create(&server, &token, "live", json!({})),
        "expires_at",
        "restricted live keys to expire"
    );
    refused!(
        &server,
        a,
        create(&server, &token, "live", json!({"expires_at": null})),
        "expires_at",
        "test keys may do without"
    );
    let live = created(
        &server,
        &token,
        "live",
        json!({"expires_at": in_days(&server, 3000)}),
    )
    .await;
    let test = created(&server, &token, "test", json!({})).await;

    refused!(
        &server,
        a,
        update(&server, &token, live, json!({"expires_at": null})),
        "expires_at",
        "set expires_at"
    );
    let reply = update(
        &server,
        &token,
        test,
        json!({"expires_at": in_days(&server, 3)}),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let reply = update(&server, &token, test, json!({"expires_at": null})).await;
    assert_eq!(reply.status, 200, "{}", reply.text);

    refused!(
        &server,
        a,
        rotate(&server, &token, old_live),
        "expires_at",
        "then rotate it"
    );
    for id in [old_test, live, test] {
        let reply = rotate(&server, &token, id).await;
        assert_eq!(reply.status, 200, "{}", reply.text);
    }
    // The standard live key never expires and is exempt.
    let reply = patch_standard_keys(&server, &token, &json!({"type": "live"})).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
}

#[tokio::test]
async fn live_keys_need_an_allowlist_standard_ones_included() {
    let server = TestServer::start().await;
    let account = server.account("Acme").await;
    let (token, _) = server.sign_in(&account.admin_email).await;
    let old_live = created(&server, &token, "live", json!({})).await;
    set_policy(
        &server,
        &token,
        json!({"require_ip_allowlist_for_live": true}),
    )
    .await;
    let a = account.id;
    let ips = json!(["203.0.113.0/24"]);

    // Restricted keys.
    refused!(
        &server,
        a,
        create(&server, &token, "live", json!({})),
        "allowed_ips",
        "IP allowlist"
    );
    refused!(
        &server,
        a,
        create(&server, &token, "live", json!({"allowed_ips": null})),
        "allowed_ips",
        "test keys may do without"
    );
    let live = created(&server, &token, "live", json!({"allowed_ips": ips})).await;
    let test = created(&server, &token, "test", json!({})).await;
    refused!(
        &server,
        a,
        update(&server, &token, live, json!({"allowed_ips": null})),
        "allowed_ips",
        "set allowed_ips"
    );
    let reply = update(&server, &token, live, json!({"allowed_ips": ["::1"]})).await;
    assert_eq!(
        reply.status, 200,
        "another allowlist is fine: {}",
        reply.text
    );
    let reply = update(
        &server,
        &token,
        live,
        json!({"rate_limit": {"limit": 5, "period_seconds": 1}}),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let reply = update(&server, &token, test, json!({"allowed_ips": ips})).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let reply = update(&server, &token, test, json!({"allowed_ips": null})).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    refused!(
        &server,
        a,
        rotate(&server, &token, old_live),
        "allowed_ips",
        "then rotate it"
    );
    for id in [live, test] {
        let reply = rotate(&server, &token, id).await;
        assert_eq!(reply.status, 200, "{}", reply.text);
    }

    // The standard live key has none (issued before the policy): both ways of rotating it are
    // refused and it keeps working; the test key rotates.
    let standard = standard_key(&server, a, Mode::Live).await;
    refused!(
        &server,
        a,
        patch_standard_keys(&server, &token, &json!({"type": "live"})),
        "allowed_ips",
        &format!("PATCH /v1/api-keys/{}/", standard.id)
    );
    refused!(
        &server,
        a,
        rotate(&server, &token, standard.id),
        "allowed_ips",
        "IP allowlist"
    );
    let works = forward_auth(
        &server,
        Some(&api_key(&account.live_key)),
        "GET",
        "/v1/customers/",
    )
    .await;
    assert_eq!(works.status, 200, "{}", works.text);
    let reply = patch_standard_keys(&server, &token, &json!({"type": "test"})).await;
    assert_eq!(reply.status, 200, "{}", reply.text);

    // Given an allowlist, it rotates, and the allowlist may not be taken away again.
    let reply = update(
        &server,
        &token,
        standard.id,
        json!({"allowed_ips": ["127.0.0.1"]}),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    refused!(
        &server,
        a,
        update(&server, &token, standard.id, json!({"allowed_ips": null})),
        "allowed_ips",
        "live keys"
    );
    let reply = patch_standard_keys(&server, &token, &json!({"type": "live"})).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let successor = standard_key(&server, a, Mode::Live).await;
    assert_eq!(
        successor.policy.allowed_ips,
        stored_key(&server, a, standard.id).await.policy.allowed_ips
    );
}

#[tokio::test]
async fn the_operator_cli_is_bound_by_the_key_rules_but_issues_standard_keys() {
    let server = TestServer::start().await;
    let account = server.account_with("Acme", false).await;
    let (token, _) = server.sign_in(&account.admin_email).await;
    set_policy(
        &server,
        &token,
        json!({"require_ip_allowlist_for_live": true, "max_key_lifetime_days": 10}),
    )
    .await;
    let cli = keywarden_core::audit::Actor::cli();
    let service = server.service();
    // Issuing the standard keys is exempt (documented): they show as breaking the policy.
    let keys = service.init_standard_keys(account.id, &cli).await.unwrap();
    assert_eq!(keys.len(), 2);
    let live = keys.iter().find(|k| k.record.mode == Mode::Live).unwrap();
    let error = service
        .rotate_key(account.id, live.record.id, None, &cli)
        .await
        .unwrap_err();
    assert!(
        matches!(
            &error,
            keywarden_core::DomainError::PolicyViolation {
                field: "allowed_ips",
                ..
            }
        ),
        "{error:?}"
    );
    let new = keywarden_core::service::NewKey {
        label: "cli".into(),
        mode: Mode::Test,
        scopes: vec!["payroll:read".into()],
        expires_at: None,
        policy: Default::default(),
        canary: false,
    };
    let error = service
        .create_restricted_key(account.id, new, &cli)
        .await
        .unwrap_err();
    assert!(
        matches!(
            &error,
            keywarden_core::DomainError::PolicyViolation {
                field: "expires_at",
                ..
            }
        ),
        "{error:?}"
    );
    let listed = get(&server, &token, "/v1/account/policy-violations/").await;
    assert_eq!(listed.body.as_array().unwrap().len(), 1, "{}", listed.text);
    assert_eq!(listed.body[0]["key_id"], live.record.id.to_string());
}

#[tokio::test]
async fn tightening_the_policy_changes_no_key_and_lists_those_that_break_it() {
    let server = TestServer::start().await;
    let account = server.account("Acme").await;
    let (token, _) = server.sign_in(&account.admin_email).await;
    let a = account.id;
    // One second apart, so that "newest first" is one order.
    let mut ids = Vec::new();
    for (mode, extra) in [
        ("live", json!({})),
        ("test", json!({})),
        (
            "live",
            json!({"allowed_ips": ["10.0.0.0/8"], "expires_at": in_days(&server, 100)}),
        ),
        (
            "live",
            json!({"allowed_ips": ["10.0.0.0/8"], "expires_at": in_days(&server, 10)}),
        ),
        ("live", json!({})),
        ("test", json!({"expires_at": in_days(&server, 40)})),
    ] {
        server.advance(Duration::seconds(1)).await;
        ids.push(created(&server, &token, mode, extra).await);
    }
    let [open_live, open_test, fenced_far, good, revoked, expiring] = ids[..] else {
        unreachable!()
    };
    let reply = crate::support::delete(&server, &token, &format!("/v1/api-keys/{revoked}/")).await;
    assert_eq!(reply.status, 200, "{}", reply.text);

    let listed = get(&server, &token, "/v1/account/policy-violations/").await;
    assert_eq!(listed.status, 200, "{}", listed.text);
    assert_eq!(
        listed.body,
        json!([]),
        "the default policy restricts nothing"
    );

    let before = all_keys(&server, a).await;
    set_policy(
        &server,
        &token,
        json!({
            "max_key_lifetime_days": 30,
            "require_expiry_for_live": true,
            "require_ip_allowlist_for_live": true,
        }),
    )
    .await;
    assert_eq!(all_keys(&server, a).await, before, "no key changed");
    let works = forward_auth(
        &server,
        Some(&api_key(&account.live_key)),
        "GET",
        "/v1/customers/",
    )
    .await;
    assert_eq!(
        works.status, 200,
        "existing keys keep working: {}",
        works.text
    );

    let standard_live = standard_key(&server, a, Mode::Live).await.id;
    let listing = |reply: &Reply| -> Vec<(String, String)> {
        reply
            .body
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                (
                    r["key_id"].as_str().unwrap().to_owned(),
                    r["field"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    };
    let rows_of = |keys: &[(KeyId, &str)]| -> Vec<(String, String)> {
        keys.iter()
            .map(|(id, field)| (id.to_string(), (*field).to_owned()))
            .collect()
    };
    // Newest first; a key that breaks two rules twice; the revoked key and the one that meets
    // the policy not at all.
    let listed = get(&server, &token, "/v1/account/policy-violations/").await;
    assert_eq!(
        listing(&listed),
        rows_of(&[
            (expiring, "expires_at"),
            (fenced_far, "expires_at"),
            (open_test, "expires_at"),
            (open_live, "expires_at"),
            (open_live, "allowed_ips"),
            (standard_live, "allowed_ips"),
        ]),
        "{}",
        listed.text
    );
    assert!(!listed.text.contains(&good.to_string()));
    assert!(!listed.text.contains(&revoked.to_string()));

    // A key that has expired no longer works, so it is not listed.
    server.advance(Duration::days(41)).await;
    let (token, _) = server.sign_in(&account.admin_email).await;
    let listed = get(&server, &token, "/v1/account/policy-violations/").await;
    assert_eq!(listed.status, 200, "{}", listed.text);
    assert_eq!(
        listing(&listed),
        rows_of(&[
            (fenced_far, "expires_at"),
            (open_test, "expires_at"),
            (open_live, "expires_at"),
            (open_live, "allowed_ips"),
            (standard_live, "allowed_ips"),
        ]),
        "{}",
        listed.text
    );
    let rows = listed.body.as_array().unwrap();
    let first = &rows[0];
    let stored = stored_key(&server, a, fenced_far).await;
    assert_eq!(first["hint"], stored.hint);
    assert_eq!(first["label"], stored.label);
    assert_eq!(first["kind"], "restricted");
    assert_eq!(first["type"], "live");
    let reason = first["reason"].as_str().unwrap();
    assert!(
        reason.contains("30 days") && reason.contains("choose an earlier expiry"),
        "{reason}"
    );
    let standard_row = rows.last().unwrap();
    assert_eq!(standard_row["kind"], "standard");
    assert!(
        standard_row["reason"]
            .as_str()
            .unwrap()
            .contains("set allowed_ips"),
        "{}",
        listed.text
    );

    // Fixing a key takes it off the list.
    let reply = update(
        &server,
        &token,
        standard_live,
        json!({"allowed_ips": ["127.0.0.1"]}),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let listed = get(&server, &token, "/v1/account/policy-violations/").await;
    assert_eq!(listed.body.as_array().unwrap().len(), 4, "{}", listed.text);
    assert!(!listed.text.contains(&standard_live.to_string()));

    // Loosening the policy empties it.
    set_policy(
        &server,
        &token,
        json!({
            "max_key_lifetime_days": null,
            "require_expiry_for_live": false,
            "require_ip_allowlist_for_live": false,
        }),
    )
    .await;
    let listed = get(&server, &token, "/v1/account/policy-violations/").await;
    assert_eq!(listed.body, json!([]));
}
