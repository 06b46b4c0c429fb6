//! Canary keys (SPEC §8), end to end over HTTP: a canary authorizes nothing and is answered
//! exactly as an unknown key — the same status, body and headers, through forward-auth and
//! `POST /v1/verify/`, and in the same time (compared over thousands of presentations) — while
//! each presentation leaves a `key.canary_used` audit event and webhook with the presenter's
//! address, user agent, method and URI, at most one per canary and address a minute.

use crate::support::{
    Reply, api_key, delete, get, key_id_of, patch, post, rfc3339, send, unknown_key,
    webhook_receiver,
};
use keywarden_core::audit::{Action, AuditEvent};
use keywarden_core::ids::AccountId;
use keywarden_core::key_format::{KeyKind, Mode};
use keywarden_core::{OsRandom, RandomSource};
use keywarden_testkit::TestServer;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

/// A server whose webhooks may reach a loopback receiver.
async fn server() -> TestServer {
    TestServer::start_with(|config| config.webhooks.allow_private_targets = true).await
}

/// `POST /v1/api-keys/` of a canary → 201; its secret and the answer.
async fn create_canary(server: &TestServer, token: &str, label: &str) -> (String, Reply) {
    let reply = post(
        server,
        token,
        "/v1/api-keys/",
        &json!({ "label": label, "type": "live", "canary": true }),
    )
    .await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    (reply.str_field("key").to_owned(), reply)
}

/// Forward-auth of `key` as nginx passes it for `client`, whose user agent is `agent`.
async fn present(server: &TestServer, client: &str, agent: &str, key: &str, uri: &str) -> Reply {
    send(
        server
            .http
            .get(server.url("/v1/forward-auth/"))
            .header("Authorization", api_key(key))
            .header("X-Original-Method", "GET")
            .header("X-Original-URI", uri)
            .header("X-Forwarded-For", client)
            .header("User-Agent", agent),
    )
    .await
}

/// Presents `key` to forward-auth for `client` (curl, `/v1/customers/`) and checks the answer is
/// an unknown key's.
async fn assert_answered_as_unknown(server: &TestServer, client: &str, key: &str) {
    let reply = present(server, client, "curl/8.5.0", key, "/v1/customers/").await;
    reply.assert_error(401);
    reply.assert_body(&json!({ "detail": "Invalid API Key", "code": "key_not_found" }));
}

/// Every header of an answer except its date, as (name, value) pairs in order.
fn headers_of(reply: &Reply) -> Vec<(String, String)> {
    let mut headers: Vec<(String, String)> = reply
        .headers
        .iter()
        .filter(|(name, _)| *name != "date")
        .map(|(name, value)| {
            (
                name.to_string(),
                String::from_utf8_lossy(value.as_bytes()).into_owned(),
            )
        })
        .collect();
    headers.sort();
    headers
}

/// The account's `key.canary_used` events, oldest first.
async fn trips(server: &TestServer, account: AccountId) -> Vec<AuditEvent> {
    let mut events: Vec<AuditEvent> = server
        .service()
        .store()
        .audit_events(account, 1000)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.action == Action::KeyCanaryUsed)
        .collect();
    events.sort_by_key(|e| (e.at, e.id));
    events
}

/// Waits until the account has `n` trips recorded (the recorder writes off the request path).
async fn wait_for_trips(server: &TestServer, account: AccountId, n: usize) -> Vec<AuditEvent> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let found = trips(server, account).await;
        if found.len() >= n || Instant::now() > deadline {
            return found;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_canary_is_answered_as_an_unknown_key_and_records_who_presented_it() {
    let server = server().await;
    let acme = server.account("Acme").await;
    let globex = server.account("Globex").await;
    let (admin, _) = server.sign_in(&acme.admin_email).await;
    let (hook, received) = webhook_receiver().await;
    let added = post(
        &server,
        &admin,
        "/v1/webhook-endpoints/",
        &json!({ "url": hook, "events": ["key.canary_used"] }),
    )
    .await;
    assert_eq!(added.status, 201, "{}", added.text);

    let (canary, created) = create_canary(&server, &admin, "canary: old backups").await;
    let id = key_id_of(&created);
    assert!(canary.starts_with("rk_live_"), "looks like any live key");
    assert_eq!(created.body["canary"], true);
    assert_eq!(created.body["scopes"], json!([]));
    assert_eq!(created.body["tripped_count"], 0);
    assert_eq!(created.body["last_tripped_at"], Value::Null);
    let hint = created.str_field("hint").to_owned();

    // Forward-auth: the canary's answer is the unknown key's, byte for byte.
    let unknown = unknown_key(KeyKind::Restricted, Mode::Live);
    let uri = "/v1/payroll/runs?year=2026";
    let as_unknown = present(&server, "198.51.100.9", "curl/8.5.0", &unknown, uri).await;
    let as_canary = present(&server, "203.0.113.7", "curl/8.5.0", &canary, uri).await;
    as_canary.assert_error(401);
    as_canary.assert_body(&json!({ "detail": "Invalid API Key", "code": "key_not_found" }));
    assert_eq!(as_canary.text, as_unknown.text);
    assert_eq!(headers_of(&as_canary), headers_of(&as_unknown));

    // POST /v1/verify/ too (from the calling service's own address).
    let verify = |key: String| {
        let server = &server;
        async move {
            send(
                server
                    .http
                    .post(server.url("/v1/verify/"))
                    .json(&json!({ "key": key, "scope": "payroll:read" })),
            )
            .await
        }
    };
    let by_verify = verify(canary.clone()).await;
    let unknown_by_verify = verify(unknown.clone()).await;
    assert_eq!(by_verify.status, 200);
    assert_eq!(by_verify.text, unknown_by_verify.text);
    assert_eq!(by_verify.body["code"], "key_not_found");

    // Each presentation is recorded: who, from where, with what.
    let recorded = wait_for_trips(&server, acme.id, 2).await;
    assert_eq!(recorded.len(), 2, "{recorded:?}");
    let by_address = |ip: &str| {
        recorded
            .iter()
            .find(|e| e.actor.ip.as_deref() == Some(ip))
            .unwrap_or_else(|| panic!("no trip from {ip}: {recorded:?}"))
    };
    let nginx = by_address("203.0.113.7");
    assert_eq!(nginx.key_id, Some(id));
    assert_eq!(nginx.actor.label, "keywarden (system)");
    assert_eq!(nginx.actor.user_agent.as_deref(), Some("curl/8.5.0"));
    assert_eq!(
        nginx.detail,
        format!("canary {hint} presented from 203.0.113.7 (curl/8.5.0): GET {uri}")
    );
    assert_eq!(
        by_address("127.0.0.1").detail,
        format!("canary {hint} presented from 127.0.0.1 to the verify endpoint")
    );
    assert!(
        trips(&server, globex.id).await.is_empty(),
        "another account sees nothing"
    );

    // At most one per canary and address a minute: a second presentation from 203.0.113.7
    // within the minute is answered the same and recorded nothing; a minute on, it is.
    present(&server, "203.0.113.7", "curl/8.5.0", &canary, "/v1/other").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(trips(&server, acme.id).await.len(), 2);
    server.advance(time::Duration::seconds(61)).await;
    let later = server.service().clock().now();
    present(
        &server,
        "203.0.113.7",
        "python-requests/2.32",
        &canary,
        "/v1/other",
    )
    .await;
    let recorded = wait_for_trips(&server, acme.id, 3).await;
    assert_eq!(recorded.len(), 3);
    assert_eq!(
        recorded[2].detail,
        format!("canary {hint} presented from 203.0.113.7 (python-requests/2.32): GET /v1/other")
    );

    // The key list and the key show the trips; a canary is never "used".
    let shown = get(&server, &admin, &format!("/v1/api-keys/{id}/")).await;
    assert_eq!(shown.body["canary"], true);
    assert_eq!(shown.body["tripped_count"], 3);
    assert_eq!(shown.body["last_tripped_at"], rfc3339(later));
    assert_eq!(shown.body["last_used_at"], Value::Null);
    assert_eq!(shown.body["status"], "active");
    let listed = get(&server, &admin, "/v1/api-keys/").await;
    let keys = listed.body["results"].as_array().unwrap();
    let in_list = keys.iter().find(|k| k["id"] == id.to_string()).unwrap();
    assert_eq!(in_list["tripped_count"], 3);
    assert!(
        keys.iter()
            .filter(|k| k["id"] != id.to_string())
            .all(|k| k["canary"] == false && k["tripped_count"] == 0),
        "other keys are no canaries"
    );

    // The key.canary_used webhook, with the canary as it stands and the system as actor.
    let mut delivered = Vec::new();
    for _ in 0..100 {
        delivered = received.lock().unwrap().clone();
        if delivered.len() >= 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(delivered.len(), 3, "{delivered:?}");
    let first = delivered
        .iter()
        .find(|d| {
            d["data"]["detail"]
                .as_str()
                .unwrap()
                .contains("203.0.113.7 (curl")
        })
        .expect("the nginx trip's webhook");
    assert_eq!(first["type"], "key.canary_used");
    assert_eq!(first["data"]["key"]["id"], id.to_string());
    assert_eq!(first["data"]["key"]["canary"], true);
    assert_eq!(first["data"]["actor"], json!({ "type": "system" }));
    assert!(!first.to_string().contains(&canary[8..40]), "no secret");
}

#[tokio::test]
async fn a_canary_holds_nothing_can_be_given_nothing_and_stays_silent_when_retired() {
    let server = server().await;
    let acme = server.account("Acme").await;
    let (admin, _) = server.sign_in(&acme.admin_email).await;
    let create = |body: Value| {
        let (server, admin) = (&server, &admin);
        async move { post(server, admin, "/v1/api-keys/", &body).await }
    };
    let keys_and_events = || async {
        let store = server.service().store();
        let keys = store
            .keys_of_account(acme.id, &Default::default())
            .await
            .unwrap();
        (keys, store.audit_events(acme.id, 1000).await.unwrap().len())
    };
    let before = keys_and_events().await;
    for (field, extra) in [
        ("scopes", json!({ "scopes": ["payroll:read"] })),
        ("allowed_ips", json!({ "allowed_ips": ["203.0.113.0/24"] })),
        (
            "rate_limit",
            json!({ "rate_limit": { "limit": 10, "period_seconds": 60 } }),
        ),
        (
            "usage_limit",
            json!({ "usage_limit": { "limit": 10, "period": "day" } }),
        ),
    ] {
        let mut body = json!({ "label": "canary", "type": "live", "canary": true });
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        let reply = create(body).await;
        reply.assert_error(400);
        assert_eq!(reply.body["field"], field, "{}", reply.text);
    }
    // An ordinary key still needs a scope.
    let reply = create(json!({ "label": "no scopes", "type": "live" })).await;
    reply.assert_error(400);
    assert_eq!(reply.body["field"], "scopes");
    assert_eq!(
        keys_and_events().await,
        before,
        "a refused key changes nothing"
    );

    // Metadata may ride along; the label may change; nothing may give it reach.
    let reply = create(json!({
        "label": "canary: ci", "type": "test", "canary": true, "metadata": { "planted": "ci" }
    }))
    .await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    let canary = reply.str_field("key").to_owned();
    let id = key_id_of(&reply);
    let path = format!("/v1/api-keys/{id}/");
    let renamed = patch(
        &server,
        &admin,
        &path,
        &json!({ "label": "canary: CI vars" }),
    )
    .await;
    assert_eq!(renamed.status, 200, "{}", renamed.text);
    assert_eq!(renamed.body["canary"], true);
    for (field, body) in [
        ("scopes", json!({ "scopes": ["payroll:read"] })),
        ("allowed_ips", json!({ "allowed_ips": ["10.0.0.0/8"] })),
    ] {
        let reply = patch(&server, &admin, &path, &body).await;
        reply.assert_error(400);
        assert_eq!(reply.body["field"], field, "{}", reply.text);
    }
    let rotated = post(&server, &admin, &format!("{path}rotate/"), &json!({})).await;
    rotated.assert_error(409);
    assert!(
        rotated.str_field("detail").contains("canary"),
        "{}",
        rotated.text
    );

    // Still a canary after all that: answered as unknown, and recorded.
    assert_answered_as_unknown(&server, "203.0.113.7", &canary).await;
    assert_eq!(wait_for_trips(&server, acme.id, 1).await.len(), 1);

    // Retired (revoked): still answered as unknown — never "revoked", which would tell an
    // intruder it was once a real key — and no longer recorded.
    assert_eq!(delete(&server, &admin, &path).await.status, 200);
    assert_answered_as_unknown(&server, "192.0.2.1", &canary).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(trips(&server, acme.id).await.len(), 1);
}

/// `GET /v1/api-keys/?canary=` lists only the canaries, or only the others, across pages and
/// with the other filters; the rest of the account's keys and another account's canaries stay
/// out; anything but `true` or `false` is a 400 naming the field.
#[tokio::test]
async fn the_key_list_filters_canaries_on_the_server() {
    let server = server().await;
    let acme = server.account("Acme").await;
    let (admin, _) = server.sign_in(&acme.admin_email).await;
    let globex = server.account("Globex").await;
    let (other, _) = server.sign_in(&globex.admin_email).await;
    create_canary(&server, &other, "globex-canary").await;
    let mut canaries = Vec::new();
    for n in 0..3 {
        let (_, reply) = create_canary(&server, &admin, &format!("canary-{n}")).await;
        canaries.push(reply.str_field("id").to_owned());
        let plain = post(
            &server,
            &admin,
            "/v1/api-keys/",
            &json!({ "label": format!("plain-{n}"), "type": "test", "scopes": ["payroll:read"] }),
        )
        .await;
        assert_eq!(plain.status, 201, "{}", plain.text);
    }
    let revoked = delete(&server, &admin, &format!("/v1/api-keys/{}/", canaries[0])).await;
    assert_eq!(revoked.status, 200, "{}", revoked.text);

    // Two to a page: the canaries' pages hold nothing else.
    let mut listed = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/v1/api-keys/?canary=true&limit=2&cursor={c}"),
            None => "/v1/api-keys/?canary=true&limit=2".to_owned(),
        };
        let page = get(&server, &admin, &path).await;
        assert_eq!(page.status, 200, "{}", page.text);
        for key in page.body["results"].as_array().unwrap() {
            assert_eq!(key["canary"], true, "{}", page.text);
            listed.push(key["id"].as_str().unwrap().to_owned());
        }
        match page.body["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    canaries.reverse();
    assert_eq!(listed, canaries, "newest first, the revoked one included");

    let active = get(&server, &admin, "/v1/api-keys/?canary=true&status=active").await;
    assert_eq!(active.body["results"].as_array().unwrap().len(), 2);
    let others = get(&server, &admin, "/v1/api-keys/?canary=false&limit=100").await;
    let others = others.body["results"].as_array().unwrap();
    assert_eq!(
        others.len(),
        5,
        "three plain keys and the two standard keys"
    );
    assert!(others.iter().all(|k| k["canary"] == false));

    for wrong in ["yes", "1", "TRUE"] {
        let reply = get(&server, &admin, &format!("/v1/api-keys/?canary={wrong}")).await;
        reply.assert_error(400);
        assert_eq!(reply.body["field"], "canary", "{}", reply.text);
    }
}

#[tokio::test]
async fn a_canary_reported_leaked_is_recorded_but_left_in_place() {
    let server = server().await;
    let acme = server.account("Acme").await;
    let (admin, _) = server.sign_in(&acme.admin_email).await;
    let (canary, created) = create_canary(&server, &admin, "canary: honeypot repo").await;
    let id = key_id_of(&created);
    let text = format!("found in a public repo: API_KEY={canary}");
    let reply = post(&server, &admin, "/v1/leaks/", &json!({ "text": text })).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let shown = get(&server, &admin, &format!("/v1/api-keys/{id}/")).await;
    assert_eq!(
        shown.body["status"], "active",
        "a canary is meant to be found"
    );
    assert!(shown.body["leaked_at"].is_string(), "{}", shown.text);
    assert_answered_as_unknown(&server, "203.0.113.7", &canary).await;
    assert_eq!(wait_for_trips(&server, acme.id, 1).await.len(), 1);
}

/// Two-sample Kolmogorov–Smirnov statistic: the largest gap between the two empirical
/// distribution functions.
fn ks_statistic(a: &mut [f64], b: &mut [f64]) -> f64 {
    a.sort_by(f64::total_cmp);
    b.sort_by(f64::total_cmp);
    let (mut i, mut j, mut gap) = (0, 0, 0.0f64);
    while i < a.len() && j < b.len() {
        let x = a[i].min(b[j]);
        while i < a.len() && a[i] <= x {
            i += 1;
        }
        while j < b.len() && b[j] <= x {
            j += 1;
        }
        gap = gap.max((i as f64 / a.len() as f64 - j as f64 / b.len() as f64).abs());
    }
    gap
}

/// The 5 % critical value of the statistic for samples of `n` and `m`, at significance 0.001.
fn ks_critical(n: usize, m: usize) -> f64 {
    let c = (-(0.001f64 / 2.0).ln() / 2.0).sqrt();
    c * ((n + m) as f64 / (n * m) as f64).sqrt()
}

/// Presents the keys in `plan` (indexes into `keys`) from 48 concurrent clients, each its own
/// connection; returns each presentation's time in milliseconds by key.
async fn timed_presentations(
    server: &TestServer,
    keys: &[String],
    plan: Vec<usize>,
) -> Vec<Vec<f64>> {
    let plan = std::sync::Arc::new(std::sync::Mutex::new(plan));
    let clients: Vec<_> = (0..48)
        .map(|_| {
            let plan = plan.clone();
            let keys = keys.to_vec();
            let url = server.url("/v1/forward-auth/");
            tokio::spawn(async move {
                let http = reqwest::Client::new();
                let mut times = vec![Vec::new(); keys.len()];
                loop {
                    let Some(which) = plan.lock().unwrap().pop() else {
                        return times;
                    };
                    let started = Instant::now();
                    let reply = http
                        .get(&url)
                        .header("Authorization", api_key(&keys[which]))
                        .header("X-Original-URI", "/v1/customers/")
                        .send()
                        .await
                        .unwrap();
                    let status = reply.status().as_u16();
                    let _ = reply.bytes().await.unwrap();
                    times[which].push(started.elapsed().as_secs_f64() * 1e3);
                    assert_eq!(status, 401);
                }
            })
        })
        .collect();
    let mut all = vec![Vec::new(); keys.len()];
    for client in clients {
        for (k, times) in client.await.unwrap().into_iter().enumerate() {
            all[k].extend(times);
        }
    }
    all
}

/// SPEC §8: a canary is answered "in the same time" as an unknown key. 10,000 presentations
/// of each, interleaved in a random order from concurrent clients, so both meet the same
/// load; their distributions must not differ (two-sample Kolmogorov–Smirnov, significance
/// 0.001). The same test tells a revoked key apart at once: it is answered without the
/// unknown key's wait for the change feed, as an instant canary would be.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_canary_is_answered_in_the_time_of_an_unknown_key() {
    let server = TestServer::start_with(|config| {
        // Every presentation here fails; none may be cut short by the per-client limit.
        config.limits.failed_keys_per_minute = u32::MAX;
    })
    .await;
    let acme = server.account("Acme").await;
    let (admin, _) = server.sign_in(&acme.admin_email).await;
    let (canary, _) = create_canary(&server, &admin, "canary: timing").await;
    // A revoked ordinary key: refused at once, without the wait.
    let ordinary = post(
        &server,
        &admin,
        "/v1/api-keys/",
        &json!({ "label": "ordinary", "type": "live", "scopes": ["payroll:read"] }),
    )
    .await;
    let ordinary_key = ordinary.str_field("key").to_owned();
    assert_eq!(
        delete(
            &server,
            &admin,
            &format!("/v1/api-keys/{}/", key_id_of(&ordinary))
        )
        .await
        .status,
        200
    );
    let unknown = unknown_key(KeyKind::Restricted, Mode::Live);
    let keys = [canary, unknown, ordinary_key];
    const EACH: usize = 10_000;
    const CONTROL: usize = 1_000;
    let mut plan: Vec<usize> = std::iter::repeat_n(0, EACH)
        .chain(std::iter::repeat_n(1, EACH))
        .chain(std::iter::repeat_n(2, CONTROL))
        .collect();
    // A shuffle from the OS's randomness (Fisher–Yates).
    for i in (1..plan.len()).rev() {
        let mut bytes = [0u8; 8];
        OsRandom.fill(&mut bytes).unwrap();
        let j = (u64::from_le_bytes(bytes) % (i as u64 + 1)) as usize;
        plan.swap(i, j);
    }
    let started = Instant::now();
    let mut times = timed_presentations(&server, &keys, plan).await;
    let elapsed = started.elapsed();
    let median = |t: &mut Vec<f64>| {
        t.sort_by(f64::total_cmp);
        t[t.len() / 2]
    };
    let [canary_ms, unknown_ms, revoked_ms] = &mut times[..] else {
        unreachable!()
    };
    assert_eq!((canary_ms.len(), unknown_ms.len()), (EACH, EACH));
    let (canary_median, unknown_median, revoked_median) =
        (median(canary_ms), median(unknown_ms), median(revoked_ms));
    let same = ks_statistic(canary_ms, unknown_ms);
    let control = ks_statistic(revoked_ms, unknown_ms);
    let critical = ks_critical(EACH, EACH);
    eprintln!(
        "canary timing: {EACH} + {EACH} + {CONTROL} presentations in {elapsed:.1?}; medians: canary \
         {canary_median:.2} ms, unknown {unknown_median:.2} ms, revoked {revoked_median:.2} ms; \
         KS canary/unknown {same:.4} (critical {critical:.4}), revoked/unknown {control:.4}"
    );
    assert!(
        same < critical,
        "a canary's answer time differs from an unknown key's: KS {same:.4} ≥ {critical:.4}"
    );
    assert!(
        control > 0.5,
        "the test cannot tell an instant answer apart (revoked/unknown KS {control:.4})"
    );
}
