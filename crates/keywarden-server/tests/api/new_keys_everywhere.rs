//! SPEC §5: a new key works everywhere on the very next request. A key this instance did not
//! create (another instance's, the CLI's: here written straight into the store) is not in its
//! table yet; an unknown well-formed key makes the table catch up with the change feed before
//! the answer is `key_not_found`. Such reads are coalesced: a flood of random keys costs at
//! most one feed read per 25 ms, counted in `/metrics`. The refresh loop and the notices are
//! held off here, so only that catch-up can find the key.

use crate::support::{api_key, forward_auth, forward_auth_from, metric, restricted_record};
use keywarden_core::key_format::{self, KeyKind, Mode};
use keywarden_core::random::OsRandom;
use keywarden_testkit::{TestServer, announce};
use serde_json::{Value, json};
use std::time::Instant;

async fn quiet_server() -> TestServer {
    TestServer::start_with(|c| {
        c.cache.max_age_secs = 60;
        c.cache.refresh_interval_ms = 30_000;
        c.cache.listen = false;
    })
    .await
}

async fn unknown_key_reads(server: &TestServer) -> u64 {
    metric(server, "keywarden_unknown_key_feed_reads_total").await
}

#[tokio::test]
async fn a_key_written_elsewhere_works_on_the_very_next_request() {
    let server = quiet_server().await;
    let account = server.account("Acme").await;
    let (forwarded, record) =
        restricted_record(&server, account.id, Mode::Live, &["payroll:read"], None);
    let (verified, other) =
        restricted_record(&server, account.id, Mode::Test, &["asset:read"], None);
    server
        .service()
        .store()
        .insert_keys(&[record.clone(), other.clone()], &[])
        .await
        .unwrap();
    let reads_before = unknown_key_reads(&server).await;

    let reply = forward_auth(
        &server,
        Some(&api_key(&forwarded)),
        "GET",
        "/v1/payroll/runs",
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(
        reply.header("x-keywarden-key-id"),
        Some(record.id.to_string().as_str())
    );
    let verdict: Value = keywarden_testkit::http_client()
        .post(server.url("/v1/verify/"))
        .json(&json!({ "key": verified, "scope": "asset:read" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(verdict["valid"], true, "{verdict}");
    assert_eq!(verdict["key_id"], other.id.to_string(), "{verdict}");
    let reads = unknown_key_reads(&server).await - reads_before;
    assert!(
        (1..=2).contains(&reads),
        "{reads} feed reads for the two new keys"
    );

    // A key that exists nowhere is still refused, after its read.
    let nowhere = key_format::generate(KeyKind::Restricted, Mode::Live, &OsRandom).unwrap();
    let reply = forward_auth(&server, Some(&api_key(nowhere.expose())), "GET", "/v1/x/").await;
    assert_eq!(reply.status, 401, "{}", reply.text);
    assert_eq!(reply.body["code"], "key_not_found", "{}", reply.text);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_random_keys_costs_at_most_one_feed_read_per_interval() {
    const FLOOD: usize = 600;
    let server = quiet_server().await;
    let reads_before = unknown_key_reads(&server).await;
    let started = Instant::now();
    let attempts: Vec<_> = (0..FLOOD)
        .map(|i| {
            let key = key_format::generate(KeyKind::Standard, Mode::Live, &OsRandom).unwrap();
            let server_url = server.url("/v1/forward-auth/");
            // A header value: no traffic leaves the machine.
            let client = format!("2001:db8::{i:x}");
            tokio::spawn(async move {
                keywarden_testkit::http_client()
                    .get(server_url)
                    .header("Authorization", api_key(key.expose()))
                    .header("X-Forwarded-For", client)
                    .send()
                    .await
                    .unwrap()
                    .status()
                    .as_u16()
            })
        })
        .collect();
    for attempt in attempts {
        assert_eq!(attempt.await.unwrap(), 401);
    }
    let elapsed = started.elapsed();
    let reads = unknown_key_reads(&server).await - reads_before;
    let bound = elapsed.as_millis() as u64 / 25 + 2;
    announce(&format!(
        "unknown-key flood: {FLOOD} random keys in {} ms, {reads} feed reads (bound {bound})",
        elapsed.as_millis()
    ));
    assert!(reads >= 1, "unknown keys do catch up");
    assert!(reads <= bound, "{reads} feed reads in {elapsed:?}");
    // The server still answers a known key at once.
    let account = server.account("Acme").await;
    let reply = forward_auth_from(
        &server,
        "192.0.2.1",
        Some(&api_key(&account.live_key)),
        "GET",
        "/v1/x/",
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
}

/// A client over its failure limit gets 429 at once for an unknown key: it neither waits for
/// the change feed nor makes the server read it.
#[tokio::test]
async fn a_client_over_its_limit_is_refused_without_a_feed_read() {
    let server = quiet_server().await;
    let client = "198.51.100.77";
    let unknown = || {
        key_format::generate(KeyKind::Standard, Mode::Live, &OsRandom)
            .unwrap()
            .expose()
            .to_owned()
    };
    for _ in 0..60 {
        let reply =
            forward_auth_from(&server, client, Some(&api_key(&unknown())), "GET", "/x").await;
        assert_eq!(reply.status, 401, "{}", reply.text);
    }
    let reads = unknown_key_reads(&server).await;
    for _ in 0..10 {
        let reply =
            forward_auth_from(&server, client, Some(&api_key(&unknown())), "GET", "/x").await;
        assert_eq!(reply.status, 429, "{}", reply.text);
    }
    assert_eq!(
        unknown_key_reads(&server).await,
        reads,
        "no feed read for a blocked client"
    );
}
