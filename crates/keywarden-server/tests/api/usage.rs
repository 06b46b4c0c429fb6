//! Usage and explanation (SPEC §10): every check of a found key counted per hour, outcome,
//! product and address, written in batches and read back exactly; what revoking a key would
//! break; explain agreeing with forward-auth and consuming nothing; suggested scopes.

use crate::support::{api_key, create_key, forward_auth, forward_auth_from, get, patch, post};
use keywarden_testkit::{TestServer, role};
use serde_json::{Value, json};
use time::Duration;

/// Writes what the verify path counted (the background flush would within a second).
async fn flush(server: &TestServer) {
    server
        .state
        .keys
        .flush_key_usage()
        .await
        .expect("flush key usage");
}

/// A key's usage report over the test's first two hours (the clock starts at 12:00 UTC).
async fn usage(server: &TestServer, token: &str, id: &str) -> Value {
    let reply = get(
        server,
        token,
        &format!("/v1/api-keys/{id}/usage/?from=2026-06-01T12:00:00Z&to=2026-06-01T14:00:00Z"),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    reply.body
}

#[tokio::test]
async fn usage_is_counted_per_hour_outcome_product_and_address_and_read_back_exactly() {
    let server = TestServer::start().await;
    let account = server.account("Acme").await;
    let (token, _) = server.sign_in(&account.admin_email).await;
    let (key, created) = create_key(&server, &token, "sync", "live", &["payroll:read"]).await;
    let id = created.str_field("id").to_owned();
    let auth = api_key(&key);

    // 12:00–12:59: 3 reads from .7, 2 from 198.51.100.2, a write from .7 (insufficient scope),
    // and an unknown key, which is nobody's usage.
    for _ in 0..3 {
        let reply = forward_auth_from(
            &server,
            "203.0.113.7",
            Some(&auth),
            "GET",
            "/v1/payroll/runs",
        )
        .await;
        assert_eq!(reply.status, 200);
    }
    for _ in 0..2 {
        let reply =
            forward_auth_from(&server, "198.51.100.2", Some(&auth), "GET", "/v1/payroll/x").await;
        assert_eq!(reply.status, 200);
    }
    let refused = forward_auth_from(
        &server,
        "203.0.113.7",
        Some(&auth),
        "POST",
        "/v1/payroll/runs",
    )
    .await;
    assert_eq!(refused.status, 403);
    let unknown = crate::support::unknown_key(
        keywarden_core::key_format::KeyKind::Restricted,
        keywarden_core::key_format::Mode::Live,
    );
    let reply = forward_auth(&server, Some(&api_key(&unknown)), "GET", "/v1/payroll/x").await;
    assert_eq!(reply.status, 401);
    flush(&server).await;
    // 13:xx: one verification through POST /v1/verify/ naming the scope, from .7.
    server.advance(Duration::minutes(70)).await;
    let (token, _) = server.sign_in(&account.admin_email).await;
    let verified = crate::support::send(
        server
            .http
            .post(server.url("/v1/verify/"))
            .json(&json!({"key": key, "scope": "payroll:read", "client_ip": "203.0.113.7"})),
    )
    .await;
    assert_eq!(verified.status, 200, "{}", verified.text);
    flush(&server).await;

    let report = usage(&server, &token, &id).await;
    assert_eq!(
        report["series"],
        json!([
            {"start": "2026-06-01T12:00:00Z", "allowed": 5, "denied": {"insufficient_scope": 1}},
            {"start": "2026-06-01T13:00:00Z", "allowed": 1, "denied": {}},
        ])
    );
    assert_eq!(
        report["totals"],
        json!({"requests": 7, "allowed": 6, "denied": {"insufficient_scope": 1}})
    );
    assert_eq!(
        report["products"],
        json!({"payroll": {"read": 6, "write": 1}})
    );
    assert_eq!(report["granularity"], "hour");
    let addresses: Vec<(String, u64, u64)> = report["addresses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["address"].as_str().unwrap().to_owned(),
                a["requests"].as_u64().unwrap(),
                a["refused"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        addresses,
        [("203.0.113.7".into(), 5, 1), ("198.51.100.2".into(), 2, 0)]
    );

    // Daily: one bucket for the day.
    let daily = get(&server, &token, &format!("/v1/api-keys/{id}/usage/?granularity=day&from=2026-06-01T00:00:00Z&to=2026-06-02T00:00:00Z")).await;
    assert_eq!(daily.status, 200, "{}", daily.text);
    assert_eq!(
        daily.body["series"],
        json!([{"start": "2026-06-01T00:00:00Z", "allowed": 6, "denied": {"insufficient_scope": 1}}])
    );

    // The key's metadata names the address of its last successful use.
    let shown = get(&server, &token, &format!("/v1/api-keys/{id}/")).await;
    assert_eq!(shown.body["last_used_ip"], "203.0.113.7");
    let listed = get(&server, &token, "/v1/api-keys/").await;
    let mine = listed.body["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["id"] == id.as_str())
        .unwrap()
        .clone();
    assert_eq!(mine["last_used_ip"], "203.0.113.7");

    // What revoking it would break: successful requests only.
    let impact = get(&server, &token, &format!("/v1/api-keys/{id}/impact/")).await;
    assert_eq!(impact.status, 200, "{}", impact.text);
    assert_eq!(impact.body["requests_last_24_hours"], 6);
    assert_eq!(impact.body["requests_last_7_days"], 6);
    assert_eq!(impact.body["addresses_last_24_hours"], 2);
    assert_eq!(impact.body["products"], json!(["payroll"]));
    assert_eq!(impact.body["last_used_ip"], "203.0.113.7");
    assert_eq!(impact.body["addresses"][0]["address"], "203.0.113.7");
    assert_eq!(impact.body["addresses"][0]["requests"], 4);
    assert_eq!(impact.body["addresses"][1]["requests"], 2);

    // The account's usage ranks its keys.
    let account_usage = get(
        &server,
        &token,
        "/v1/usage/?from=2026-06-01T12:00:00Z&to=2026-06-01T14:00:00Z",
    )
    .await;
    assert_eq!(account_usage.status, 200, "{}", account_usage.text);
    assert_eq!(account_usage.body["totals"]["requests"], 7);
    assert_eq!(account_usage.body["keys"].as_array().unwrap().len(), 1);
    assert_eq!(account_usage.body["keys"][0]["id"], id.as_str());
    assert_eq!(account_usage.body["keys"][0]["requests"], 7);
    assert_eq!(account_usage.body["keys"][0]["refused"], 1);
    assert_eq!(account_usage.body["keys"][0]["label"], "sync");
}

#[tokio::test]
async fn another_accounts_usage_is_not_found_and_bad_ranges_are_refused() {
    let server = TestServer::start().await;
    let acme = server.account("Acme").await;
    let globex = server.account("Globex").await;
    let (acme_token, _) = server.sign_in(&acme.admin_email).await;
    let (globex_token, _) = server.sign_in(&globex.admin_email).await;
    let (key, created) = create_key(&server, &acme_token, "sync", "live", &["payroll:read"]).await;
    let id = created.str_field("id").to_owned();
    forward_auth(&server, Some(&api_key(&key)), "GET", "/v1/payroll/x").await;
    flush(&server).await;
    for path in ["usage/", "impact/", "suggested-scopes/"] {
        let reply = get(&server, &globex_token, &format!("/v1/api-keys/{id}/{path}")).await;
        reply.assert_error(404);
        assert_eq!(reply.body["code"], "not_found", "{path}");
    }
    // Globex's own account usage shows none of Acme's traffic.
    let theirs = get(&server, &globex_token, "/v1/usage/").await;
    assert_eq!(theirs.body["totals"]["requests"], 0);
    assert_eq!(theirs.body["keys"], json!([]));
    // Explaining Acme's key by id from Globex: 404; by its text: an unknown key.
    let by_id = post(
        &server,
        &globex_token,
        "/v1/explain/",
        &json!({"key_id": id, "method": "GET", "uri": "/v1/payroll/x"}),
    )
    .await;
    by_id.assert_error(404);
    let by_text = post(
        &server,
        &globex_token,
        "/v1/explain/",
        &json!({"key": key, "method": "GET", "uri": "/v1/payroll/x"}),
    )
    .await;
    assert_eq!(by_text.status, 200, "{}", by_text.text);
    assert_eq!(
        (
            &by_text.body["decision"],
            &by_text.body["status"],
            &by_text.body["code"],
            &by_text.body["key_id"]
        ),
        (
            &json!("deny"),
            &json!(401),
            &json!("key_not_found"),
            &Value::Null
        )
    );
    // A member may not read usage.
    let member = server
        .user(acme.id, "member@acme.test", role("member"))
        .await;
    let (member_token, _) = server.sign_in(&member).await;
    get(&server, &member_token, "/v1/usage/")
        .await
        .assert_error(403);

    for (query, field) in [
        ("granularity=week", "granularity"),
        ("from=yesterday", "from"),
        ("from=2026-06-01T12:00:00Z&to=2026-06-01T12:00:00Z", "from"),
        ("from=2026-01-01T00:00:00Z&to=2026-06-01T00:00:00Z", "from"),
        ("to=soon", "to"),
        ("colour=red", ""),
    ] {
        let reply = get(
            &server,
            &acme_token,
            &format!("/v1/api-keys/{id}/usage/?{query}"),
        )
        .await;
        reply.assert_error(400);
        if !field.is_empty() {
            assert_eq!(reply.body["field"], field, "{query}: {}", reply.text);
        }
    }
}

/// `POST /v1/explain/` for a key's text.
async fn explain(
    server: &TestServer,
    token: &str,
    key: &str,
    method: &str,
    uri: &str,
    client: &str,
) -> Value {
    let reply = post(
        server,
        token,
        "/v1/explain/",
        &json!({"key": key, "method": method, "uri": uri, "client_ip": client}),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    reply.body
}

fn results(answer: &Value) -> Vec<(String, String)> {
    answer["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["check"].as_str().unwrap().to_owned(),
                s["result"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn steps(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(c, r)| ((*c).to_owned(), (*r).to_owned()))
        .collect()
}

#[tokio::test]
async fn explain_walks_every_check_and_consumes_nothing() {
    let server = TestServer::start().await;
    let account = server.account("Acme").await;
    let (token, _) = server.sign_in(&account.admin_email).await;
    let reply = post(
        &server,
        &token,
        "/v1/api-keys/",
        &json!({"label": "limited", "type": "live", "scopes": ["payroll:read"],
                "allowed_ips": ["203.0.113.0/24"], "rate_limit": {"limit": 1, "period_seconds": 3600}}),
    )
    .await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    let key = reply.str_field("key").to_owned();

    let allowed = explain(
        &server,
        &token,
        &key,
        "GET",
        "/v1/payroll/runs",
        "203.0.113.9",
    )
    .await;
    assert_eq!(allowed["decision"], "allow");
    assert_eq!(allowed["status"], 200);
    assert_eq!(allowed["code"], Value::Null);
    assert_eq!(allowed["required_scope"], "payroll:read");
    assert_eq!(
        results(&allowed),
        steps(&[
            ("format", "pass"),
            ("key", "pass"),
            ("status", "pass"),
            ("route", "pass"),
            ("scope", "pass"),
            ("ip", "pass"),
            ("rate_limit", "pass"),
            ("usage_limit", "pass")
        ])
    );
    assert_eq!(
        allowed["steps"][6]["detail"],
        "Within the limit of 1: 0 left in the current window after this request."
    );

    let write = explain(
        &server,
        &token,
        &key,
        "DELETE",
        "/v1/payroll/runs",
        "203.0.113.9",
    )
    .await;
    assert_eq!(
        (&write["decision"], &write["status"], &write["code"]),
        (&json!("deny"), &json!(403), &json!("insufficient_scope"))
    );
    assert_eq!(
        results(&write),
        steps(&[
            ("format", "pass"),
            ("key", "pass"),
            ("status", "pass"),
            ("route", "pass"),
            ("scope", "fail"),
            ("ip", "skip"),
            ("rate_limit", "skip"),
            ("usage_limit", "skip")
        ])
    );
    let elsewhere = explain(
        &server,
        &token,
        &key,
        "GET",
        "/v1/payroll/runs",
        "198.51.100.1",
    )
    .await;
    assert_eq!(elsewhere["code"], "ip_not_allowed");
    assert_eq!(
        elsewhere["steps"][5]["detail"],
        "This API key may not be used from 198.51.100.1."
    );
    let malformed = explain(
        &server,
        &token,
        "sk_live_short",
        "GET",
        "/v1/payroll/runs",
        "203.0.113.9",
    )
    .await;
    assert_eq!(
        (&malformed["status"], &malformed["code"]),
        (&json!(401), &json!("invalid_key_format"))
    );
    assert_eq!(results(&malformed)[0], ("format".into(), "fail".into()));
    assert!(results(&malformed)[1..].iter().all(|(_, r)| r == "skip"));

    // Ten explanations took nothing from the limit of one an hour, and counted nowhere.
    for _ in 0..10 {
        explain(
            &server,
            &token,
            &key,
            "GET",
            "/v1/payroll/runs",
            "203.0.113.9",
        )
        .await;
    }
    flush(&server).await;
    let id = allowed["key_id"].as_str().unwrap().to_owned();
    assert_eq!(usage(&server, &token, &id).await["totals"]["requests"], 0);
    let first = forward_auth_from(
        &server,
        "203.0.113.9",
        Some(&api_key(&key)),
        "GET",
        "/v1/payroll/runs",
    )
    .await;
    assert_eq!(first.status, 200, "{}", first.text);
    let second = forward_auth_from(
        &server,
        "203.0.113.9",
        Some(&api_key(&key)),
        "GET",
        "/v1/payroll/runs",
    )
    .await;
    assert_eq!(second.status, 429);
    let limited = explain(
        &server,
        &token,
        &key,
        "GET",
        "/v1/payroll/runs",
        "203.0.113.9",
    )
    .await;
    assert_eq!(
        (&limited["status"], &limited["code"]),
        (&json!(429), &json!("key_rate_limited"))
    );

    // By id: the format step is skipped; a bad body is a 400 naming the field.
    let by_id = post(&server, &token, "/v1/explain/", &json!({"key_id": id, "method": "GET", "uri": "/v1/payroll/runs", "client_ip": "203.0.113.9"})).await;
    assert_eq!(results(&by_id.body)[0], ("format".into(), "skip".into()));
    assert_eq!(by_id.body["code"], "key_rate_limited");
    for (body, field) in [
        (
            json!({"key_id": id, "key": key, "method": "GET", "uri": "/"}),
            "key_id",
        ),
        (json!({"method": "GET", "uri": "/"}), "key_id"),
        (json!({"key": key, "method": "G E T", "uri": "/"}), "method"),
        (
            json!({"key": key, "method": "GET", "uri": "payroll"}),
            "uri",
        ),
        (
            json!({"key": key, "method": "GET", "uri": "/", "client_ip": "nowhere"}),
            "client_ip",
        ),
    ] {
        let reply = post(&server, &token, "/v1/explain/", &body).await;
        reply.assert_error(400);
        assert_eq!(reply.body["field"], field, "{body}");
    }
}

/// A small deterministic generator, so a failing case can be replayed.
struct Cases(u64);

impl Cases {
    fn pick(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }
}

#[tokio::test]
async fn explain_agrees_with_forward_auth_for_random_keys_routes_and_addresses() {
    let server = TestServer::start().await;
    let account = server.account("Acme").await;
    let (token, _) = server.sign_in(&account.admin_email).await;
    let mut keys = vec![account.live_key.clone(), account.test_key.clone()];
    for (scopes, extra) in [
        (json!(["payroll:read"]), json!({})),
        (json!(["payroll:write", "asset:read"]), json!({})),
        (
            json!(["asset:read"]),
            json!({"allowed_ips": ["10.0.0.0/8", "2001:db8::/32"]}),
        ),
        (
            json!(["payroll:read"]),
            json!({"rate_limit": {"limit": 1, "period_seconds": 86400}}),
        ),
        (
            json!(["payroll:read"]),
            json!({"usage_limit": {"limit": 1, "period": "total"}}),
        ),
        (
            json!(["payroll:read"]),
            json!({"expires_at": "2026-06-01T12:30:00Z"}),
        ),
        (json!(["asset:write"]), json!({})),
    ] {
        let mut body = json!({"label": "case", "type": "live", "scopes": scopes});
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        let reply = post(&server, &token, "/v1/api-keys/", &body).await;
        assert_eq!(reply.status, 201, "{}", reply.text);
        keys.push(reply.str_field("key").to_owned());
    }
    // The limited keys have used their one request; the expiring key expires; one key is
    // revoked and one rotated past its hand-over.
    for at in [5, 6] {
        let used = forward_auth(&server, Some(&api_key(&keys[at])), "GET", "/v1/payroll/x").await;
        assert_eq!(used.status, 200);
    }
    let (revoked, reply) = create_key(&server, &token, "revoked", "live", &["payroll:read"]).await;
    let revoked_id = reply.str_field("id").to_owned();
    crate::support::delete(&server, &token, &format!("/v1/api-keys/{revoked_id}/")).await;
    keys.push(revoked);
    let (rotated, reply) = create_key(&server, &token, "rotated", "live", &["payroll:read"]).await;
    let rotated_id = reply.str_field("id").to_owned();
    let rotation = post(
        &server,
        &token,
        &format!("/v1/api-keys/{rotated_id}/rotate/"),
        &json!({"expire_previous_in": 3600}),
    )
    .await;
    assert!(rotation.status < 300, "{}", rotation.text);
    keys.push(rotated);
    keys.push(crate::support::unknown_key(
        keywarden_core::key_format::KeyKind::Restricted,
        keywarden_core::key_format::Mode::Live,
    ));
    keys.push("rk_live_not_a_real_key".into());
    server.advance(Duration::hours(2)).await;
    let (token, _) = server.sign_in(&account.admin_email).await;

    let methods = ["GET", "HEAD", "POST", "DELETE", "PATCH"];
    let paths = [
        "/v1/payroll/runs",
        "/v1/asset/list?x=1",
        "/v1/unknown/y",
        "/healthz",
    ];
    let mut cases = Cases(0x9e37_79b9_7f4a_7c15);
    for n in 0..240 {
        let key = &keys[cases.pick(keys.len())];
        let method = methods[cases.pick(methods.len())];
        let path = paths[cases.pick(paths.len())];
        // A fresh address per case (so no client reaches its failure limit), inside or outside
        // the allowlisted ranges.
        let client = match cases.pick(3) {
            0 => format!("10.{}.{}.{}", n / 250, n % 250, cases.pick(250)),
            1 => format!("2001:db8::{:x}", n + 1),
            _ => format!("198.51.{}.{}", n / 250, n % 250),
        };
        let said = explain(&server, &token, key, method, path, &client).await;
        let answer = forward_auth_from(&server, &client, Some(&api_key(key)), method, path).await;
        let code = answer.body.get("code").cloned().unwrap_or(Value::Null);
        assert_eq!(
            (said["status"].as_u64().unwrap(), &said["code"]),
            (u64::from(answer.status), &code),
            "case {n}: {method} {path} from {client} with {key}: explain said {said}"
        );
        assert_eq!(
            said["decision"] == "allow",
            answer.status == 200,
            "case {n}"
        );
    }
}

#[tokio::test]
async fn a_key_that_only_read_payroll_for_30_days_is_offered_payroll_read() {
    let server = TestServer::start().await;
    let account = server.account("Acme").await;
    let (token, _) = server.sign_in(&account.admin_email).await;
    let (key, created) = create_key(
        &server,
        &token,
        "broad",
        "live",
        &["payroll:write", "asset:read"],
    )
    .await;
    let id = created.str_field("id").to_owned();
    for _ in 0..30 {
        let reply = forward_auth(&server, Some(&api_key(&key)), "GET", "/v1/payroll/runs").await;
        assert_eq!(reply.status, 200);
        flush(&server).await;
        server.advance(Duration::days(1)).await;
    }
    let (token, _) = server.sign_in(&account.admin_email).await;
    let suggestion = get(
        &server,
        &token,
        &format!("/v1/api-keys/{id}/suggested-scopes/"),
    )
    .await;
    assert_eq!(suggestion.status, 200, "{}", suggestion.text);
    // Held as the key's metadata shows them: write's implied read included.
    assert_eq!(
        suggestion.body["held"],
        json!(["asset:read", "payroll:read", "payroll:write"])
    );
    assert_eq!(suggestion.body["used"], json!(["payroll:read"]));
    assert_eq!(suggestion.body["suggested"], json!(["payroll:read"]));
    assert_eq!(suggestion.body["can_narrow"], true);
    // 29 of the 30 days' requests fall inside the last 30 days (the first is 30 days old).
    assert_eq!(suggestion.body["requests"], 29);

    // One step narrows it; then there is nothing left to narrow.
    let narrowed = patch(
        &server,
        &token,
        &format!("/v1/api-keys/{id}/"),
        &json!({"scopes": suggestion.body["suggested"]}),
    )
    .await;
    assert_eq!(narrowed.status, 200, "{}", narrowed.text);
    let again = get(
        &server,
        &token,
        &format!("/v1/api-keys/{id}/suggested-scopes/"),
    )
    .await;
    assert_eq!(again.body["can_narrow"], false);
    assert_eq!(again.body["held"], json!(["payroll:read"]));
    let write = forward_auth(&server, Some(&api_key(&key)), "POST", "/v1/payroll/runs").await;
    assert_eq!(write.status, 403);
}

#[tokio::test]
async fn with_usage_counting_off_nothing_is_counted_and_no_address_is_kept() {
    let server = TestServer::start_with(|config| config.usage_counting = false).await;
    let account = server.account("Acme").await;
    let (token, _) = server.sign_in(&account.admin_email).await;
    let (key, created) = create_key(&server, &token, "quiet", "live", &["payroll:read"]).await;
    let id = created.str_field("id").to_owned();
    for method in ["GET", "POST"] {
        forward_auth_from(
            &server,
            "203.0.113.7",
            Some(&api_key(&key)),
            method,
            "/v1/payroll/x",
        )
        .await;
    }
    flush(&server).await;
    assert_eq!(usage(&server, &token, &id).await["totals"]["requests"], 0);
    let shown = get(&server, &token, &format!("/v1/api-keys/{id}/")).await;
    assert_eq!(shown.body["last_used_ip"], Value::Null);
}
