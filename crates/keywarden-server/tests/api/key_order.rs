//! The listing's `order` (`GET /v1/api-keys/?order=`): every order walked a small page at a
//! time is exactly the promised sort of every key, once, with ties (equal labels, equal
//! expiries, no expiry, never used) broken by id and keys without a value last both ways; the
//! filters apply within it; a wrong order, a cursor of another order and a cursor that is not
//! one are 400s that say what to send.

use crate::support::{api_key, create_key, forward_auth, get, post};
use keywarden_testkit::TestServer;
use serde_json::{Value, json};
use std::cmp::Ordering;
use std::collections::HashSet;
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};

const ORDERS: [&str; 8] = [
    "created_at",
    "-created_at",
    "label",
    "-label",
    "expires_at",
    "-expires_at",
    "last_used_at",
    "-last_used_at",
];

fn time_of(key: &Value, field: &str) -> Option<OffsetDateTime> {
    key[field]
        .as_str()
        .map(|t| OffsetDateTime::parse(t, &Rfc3339).expect("an RFC 3339 time"))
}

fn id_of(key: &Value) -> String {
    key["id"].as_str().expect("id").to_owned()
}

/// `a` before `b` in `order`, as the documentation words it, computed from what the API shows.
fn compare(order: &str, a: &Value, b: &Value) -> Ordering {
    let (descending, field) = match order.strip_prefix('-') {
        Some(field) => (true, field),
        None => (false, order),
    };
    let way = |o: Ordering| if descending { o.reverse() } else { o };
    let by_value = match field {
        // Ids are time-ordered (UUIDv7): creation order is id order.
        "created_at" => Ordering::Equal,
        "label" => {
            let fold = |k: &Value| k["label"].as_str().unwrap().to_ascii_lowercase();
            way(fold(a).cmp(&fold(b)))
        }
        _ => match (time_of(a, field), time_of(b, field)) {
            (Some(x), Some(y)) => way(x.cmp(&y)),
            // Keys without the value come last, both ways.
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (None, None) => Ordering::Equal,
        },
    };
    // Ids are lower-case hyphenated UUIDs: as text they sort as the UUIDs do.
    by_value.then_with(|| way(id_of(a).cmp(&id_of(b))))
}

/// Every key of `query` (without `limit` and `cursor`), `limit` at a time: the ids in the
/// order the pages gave them.
async fn walk(server: &TestServer, token: &str, query: &str, limit: u32) -> Vec<String> {
    let mut seen = Vec::new();
    let mut path = format!("/v1/api-keys/?{query}&limit={limit}");
    for _ in 0..50 {
        let reply = get(server, token, &path).await;
        assert_eq!(reply.status, 200, "{path}: {}", reply.text);
        let page = reply.body["results"].as_array().expect("results");
        assert!(page.len() <= limit as usize, "{path}");
        seen.extend(page.iter().map(id_of));
        match reply.body["next_cursor"].as_str() {
            Some(cursor) => {
                assert!(!page.is_empty(), "{path}: a cursor after an empty page");
                path = format!("/v1/api-keys/?{query}&limit={limit}&cursor={cursor}");
            }
            None => return seen,
        }
    }
    panic!("{query}: the pages never end");
}

/// Every key of the account, as the API shows them.
async fn all_keys(server: &TestServer, token: &str) -> Vec<Value> {
    let reply = get(server, token, "/v1/api-keys/?kind=&limit=100").await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.body["next_cursor"], Value::Null);
    reply.body["results"].as_array().unwrap().clone()
}

fn expected(keys: &[Value], order: &str, keep: &dyn Fn(&Value) -> bool) -> Vec<String> {
    let mut matching: Vec<&Value> = keys.iter().filter(|k| keep(k)).collect();
    matching.sort_by(|a, b| compare(order, a, b));
    matching.into_iter().map(id_of).collect()
}

fn unique(ids: &[String]) -> bool {
    ids.iter().collect::<HashSet<_>>().len() == ids.len()
}

/// Restricted keys with ties of every kind: labels equal and equal without case, several
/// expiries equal and several absent, uses at the same minute and keys never used. Some are
/// made at the same instant, some a second apart. Returns the secrets by label index.
async fn keys_with_ties(server: &TestServer, token: &str) -> Vec<String> {
    let rows: [(&str, &str, Option<&str>); 10] = [
        ("beta", "live", None),
        ("Alpha", "test", Some("2026-07-01T00:00:00Z")),
        ("alpha", "live", Some("2026-06-15T00:00:00Z")),
        ("beta", "test", Some("2026-07-01T00:00:00Z")),
        ("Beta", "live", None),
        ("zeta", "live", Some("2026-07-01T00:00:00Z")),
        ("beta", "live", Some("2026-06-15T00:00:00Z")),
        ("Alpha", "live", None),
        ("gamma", "test", None),
        ("_setup", "live", Some("2026-06-20T00:00:00Z")),
    ];
    let mut secrets = Vec::new();
    for (i, (label, mode, expires_at)) in rows.iter().enumerate() {
        // Pairs made at the same instant, pairs a second apart.
        if i % 2 == 0 {
            server.advance(Duration::seconds(1)).await;
        }
        let mut body = json!({ "label": label, "type": mode, "scopes": ["payroll:read"] });
        if let Some(at) = expires_at {
            body["expires_at"] = Value::from(*at);
        }
        let reply = post(server, token, "/v1/api-keys/", &body).await;
        assert_eq!(reply.status, 201, "{}", reply.text);
        secrets.push(reply.str_field("key").to_owned());
    }
    // Uses: keys 1 and 3 at the same minute, 5 a minute later, 0 later still; the rest never.
    for (minute, used) in [(1, vec![1, 3]), (2, vec![5]), (3, vec![0])] {
        server.advance(Duration::minutes(minute)).await;
        for i in used {
            let reply = forward_auth(
                server,
                Some(&api_key(&secrets[i])),
                "GET",
                "/v1/payroll/runs",
            )
            .await;
            assert_eq!(reply.status, 200, "{}", reply.text);
        }
    }
    // Last uses reach the listing once the batch is written (every few seconds in service).
    server.state.keys.flush_last_used().await.unwrap();
    secrets
}

#[tokio::test]
async fn every_order_pages_through_every_key_once_in_its_order() {
    let server = TestServer::start().await;
    let account = server.account("Acme").await;
    let (token, _) = server.sign_in(&account.admin_email).await;
    keys_with_ties(&server, &token).await;
    let (token, _) = server.sign_in(&account.admin_email).await;
    let keys = all_keys(&server, &token).await;
    // Ten restricted keys and the two standard ones.
    assert_eq!(keys.len(), 12);

    for order in ORDERS {
        let want = expected(&keys, order, &|_| true);
        for limit in [2, 3] {
            let got = walk(&server, &token, &format!("kind=&order={order}"), limit).await;
            assert!(unique(&got), "{order}, pages of {limit}: a key twice");
            assert_eq!(got, want, "{order}, pages of {limit}");
        }
    }

    // The same orders in words, so the comparison above is not the only judge.
    let labels = |ids: Vec<String>| -> Vec<String> {
        ids.iter()
            .map(|id| {
                let key = keys.iter().find(|k| id_of(k) == *id).unwrap();
                key["label"].as_str().unwrap().to_owned()
            })
            .collect()
    };
    let by_label = labels(walk(&server, &token, "kind=restricted&order=label", 3).await);
    assert_eq!(
        by_label,
        [
            "_setup", "Alpha", "alpha", "Alpha", "beta", "beta", "Beta", "beta", "gamma", "zeta"
        ]
    );
    let by_label_down = labels(walk(&server, &token, "kind=restricted&order=-label", 3).await);
    assert_eq!(
        by_label_down,
        [
            "zeta", "gamma", "beta", "Beta", "beta", "beta", "Alpha", "alpha", "Alpha", "_setup"
        ]
    );
    let expiries = |ids: Vec<String>| -> Vec<Option<String>> {
        ids.iter()
            .map(|id| {
                let key = keys.iter().find(|k| id_of(k) == *id).unwrap();
                key["expires_at"].as_str().map(str::to_owned)
            })
            .collect()
    };
    let soonest = expiries(walk(&server, &token, "kind=restricted&order=expires_at", 2).await);
    let latest = expiries(walk(&server, &token, "kind=restricted&order=-expires_at", 2).await);
    for (name, got, first) in [
        ("soonest", &soonest, "2026-06-15T00:00:00Z"),
        ("latest", &latest, "2026-07-01T00:00:00Z"),
    ] {
        assert_eq!(got[0].as_deref(), Some(first), "{name}: {got:?}");
        // Four of the ten never expire: last, both ways.
        assert_eq!(got.len(), 10, "{name}: {got:?}");
        assert!(got[..6].iter().all(Option::is_some), "{name}: {got:?}");
        assert!(got[6..].iter().all(Option::is_none), "{name}: {got:?}");
    }
    let recent = walk(&server, &token, "kind=&order=-last_used_at", 2).await;
    let used: Vec<Option<OffsetDateTime>> = recent
        .iter()
        .map(|id| {
            time_of(
                keys.iter().find(|k| id_of(k) == *id).unwrap(),
                "last_used_at",
            )
        })
        .collect();
    assert!(used[..4].iter().all(Option::is_some), "{used:?}");
    assert!(used[4..].iter().all(Option::is_none), "{used:?}");
    assert!(
        used[0] > used[1] && used[1] > used[2] && used[2] == used[3],
        "{used:?}"
    );
}

#[tokio::test]
async fn orders_keep_to_the_filters() {
    let server = TestServer::start().await;
    let account = server.account("Acme").await;
    let (token, _) = server.sign_in(&account.admin_email).await;
    keys_with_ties(&server, &token).await;
    // One revoked and, a month on, the keys of 15 June have expired.
    let (_, doomed) = create_key(&server, &token, "beta", "live", &["asset:read"]).await;
    let doomed = doomed.str_field("id").to_owned();
    let revoked = crate::support::delete(&server, &token, &format!("/v1/api-keys/{doomed}/")).await;
    assert_eq!(revoked.status, 200, "{}", revoked.text);
    server.advance(Duration::days(16)).await;
    let (token, _) = server.sign_in(&account.admin_email).await;
    let keys = all_keys(&server, &token).await;
    let is = |k: &Value, field: &str, value: &str| k[field].as_str() == Some(value);

    type Keep = Box<dyn Fn(&Value) -> bool>;
    let cases: Vec<(&str, Keep)> = vec![
        (
            "status=active&type=live",
            Box::new(move |k: &Value| is(k, "status", "active") && is(k, "type", "live")),
        ),
        (
            "kind=restricted&search=BETA",
            Box::new(move |k: &Value| {
                is(k, "kind", "restricted")
                    && k["label"].as_str().unwrap().eq_ignore_ascii_case("beta")
            }),
        ),
        (
            "status=expired",
            Box::new(move |k: &Value| is(k, "status", "expired")),
        ),
        (
            "kind=standard",
            Box::new(move |k: &Value| is(k, "kind", "standard")),
        ),
    ];
    for (filters, keep) in &cases {
        let want_some = expected(&keys, "label", keep);
        assert!(!want_some.is_empty(), "{filters} matches nothing");
        for order in ORDERS {
            let want = expected(&keys, order, keep);
            let got = walk(&server, &token, &format!("{filters}&order={order}"), 2).await;
            assert!(unique(&got), "{filters}&order={order}: a key twice");
            assert_eq!(got, want, "{filters}&order={order}");
        }
    }
    // The revoked key shows with its own status only.
    let revoked_only = walk(&server, &token, "status=revoked&order=-label", 2).await;
    assert_eq!(revoked_only, [doomed]);
}

#[tokio::test]
async fn a_wrong_order_or_cursor_is_a_400_that_says_what_to_send() {
    let server = TestServer::start().await;
    let account = server.account("Acme").await;
    let (token, _) = server.sign_in(&account.admin_email).await;
    keys_with_ties(&server, &token).await;

    let order_help = json!({
        "detail": "order: use created_at, -created_at, label, -label, expires_at, -expires_at, \
                   last_used_at or -last_used_at (a leading - sorts descending)",
        "code": "invalid",
        "field": "order",
    });
    for order in [
        "name",
        "Label",
        "--label",
        "%2Blabel",
        "label%20",
        "-",
        "id",
        "label,created_at",
        "created",
    ] {
        get(&server, &token, &format!("/v1/api-keys/?order={order}"))
            .await
            .assert_error(400)
            .assert_body(&order_help);
    }
    // Empty, like every other parameter, means absent: newest first.
    let newest = get(&server, &token, "/v1/api-keys/?order=").await;
    assert_eq!(newest.status, 200, "{}", newest.text);

    let not_a_cursor = json!({
        "detail": "cursor: pass the next_cursor of the previous page",
        "code": "invalid",
        "field": "cursor",
    });
    let label_page = get(&server, &token, "/v1/api-keys/?order=label&limit=2").await;
    let label_cursor = label_page.str_field("next_cursor").to_owned();
    let newest_page = get(&server, &token, "/v1/api-keys/?limit=2").await;
    let newest_cursor = newest_page.str_field("next_cursor").to_owned();
    let expiry_page = get(&server, &token, "/v1/api-keys/?order=-expires_at&limit=2").await;
    let expiry_cursor = expiry_page.str_field("next_cursor").to_owned();
    let of_order = |name: &str| {
        json!({
            "detail": format!(
                "cursor: this cursor continues a listing in order {name}: pass that order \
                 with it, or leave the cursor out to start from the first page"
            ),
            "code": "invalid",
            "field": "cursor",
        })
    };
    for (query, body) in [
        (
            format!("order=-label&cursor={label_cursor}"),
            of_order("label"),
        ),
        (format!("cursor={label_cursor}"), of_order("label")),
        (
            format!("order=created_at&cursor={newest_cursor}"),
            of_order("-created_at"),
        ),
        (
            format!("order=expires_at&cursor={expiry_cursor}"),
            of_order("-expires_at"),
        ),
        ("order=label&cursor=garbage".into(), not_a_cursor.clone()),
        ("cursor=not-an-id".into(), not_a_cursor.clone()),
        // Valid base64url of JSON that is not a cursor, and a cursor cut short.
        ("order=label&cursor=e30".into(), not_a_cursor.clone()),
        (
            format!(
                "order=label&cursor={}",
                &label_cursor[..label_cursor.len() - 4]
            ),
            not_a_cursor.clone(),
        ),
        (
            format!("order=label&cursor={}", "A".repeat(2000)),
            not_a_cursor.clone(),
        ),
    ] {
        get(&server, &token, &format!("/v1/api-keys/?{query}"))
            .await
            .assert_error(400)
            .assert_body(&body);
    }
    // A cursor continues its own order, also when the default is spelled out.
    for query in [
        format!("order=label&cursor={label_cursor}"),
        format!("order=-created_at&cursor={newest_cursor}"),
        format!("cursor={newest_cursor}"),
    ] {
        let reply = get(&server, &token, &format!("/v1/api-keys/?{query}&limit=2")).await;
        assert_eq!(reply.status, 200, "{query}: {}", reply.text);
    }
    // Before there were orders a cursor was the last key's id; one still continues the
    // default order (a client mid-listing across an upgrade), and no other.
    let first = newest_page.body["results"][1]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let legacy = get(
        &server,
        &token,
        &format!("/v1/api-keys/?limit=2&cursor={first}"),
    )
    .await;
    assert_eq!(legacy.status, 200, "{}", legacy.text);
    let second = get(
        &server,
        &token,
        &format!("/v1/api-keys/?limit=2&cursor={newest_cursor}"),
    )
    .await;
    assert_eq!(legacy.body["results"], second.body["results"]);
    get(
        &server,
        &token,
        &format!("/v1/api-keys/?order=label&cursor={first}"),
    )
    .await
    .assert_error(400)
    .assert_body(&not_a_cursor);
}
