//! Usage counting (SPEC §10) against the real binary: counted in memory, written every
//! `cache.usage_flush_ms`, so the written part survives a restart, `kill -9` loses at most what
//! was counted since the last batch (docs/RELIABILITY.md), and instances on one PostgreSQL add
//! up.

use super::usage_limits::{FLUSH, borrowed, environment, kill};
use super::{PASSWORD, Server, create_acme, serve, verdict};
use keywarden_testkit::{PostgresDatabase, announce};
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

async fn token(http: &reqwest::Client, server: &Server) -> String {
    let token: Value = http
        .post(format!("{}/v1/auth/token/", server.base))
        .json(&json!({ "email": "ada@example.com", "password": PASSWORD }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    token["access"].as_str().unwrap().to_owned()
}

/// A new key: its secret and id.
async fn new_key(http: &reqwest::Client, server: &Server) -> (String, String) {
    let created: Value = http
        .post(format!("{}/v1/api-keys/", server.base))
        .bearer_auth(token(http, server).await)
        .json(&json!({"label": "counted", "type": "live", "scopes": ["payroll:read"]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    (
        created["key"].as_str().expect("created").to_owned(),
        created["id"].as_str().unwrap().to_owned(),
    )
}

/// The key's allowed requests in the last 24 hours, as stored.
async fn counted(http: &reqwest::Client, server: &Server, id: &str) -> u64 {
    let report: Value = http
        .get(format!("{}/v1/api-keys/{id}/usage/", server.base))
        .bearer_auth(token(http, server).await)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    report["totals"]["allowed"]
        .as_u64()
        .expect("a usage report")
}

#[tokio::test]
async fn usage_survives_a_restart_and_kill_9_loses_at_most_one_flush() {
    let dir = tempfile::tempdir().unwrap();
    let database = format!("sqlite://{}", dir.path().join("keywarden.db").display());
    let env = environment(dir.path(), &database);
    create_acme(dir.path(), &borrowed(&env), &[]);
    let http = keywarden_testkit::http_client();

    // Counted, written, then kill -9 and a restart: every count is still there.
    let server = serve(dir.path(), &borrowed(&env)).await;
    let (key, id) = new_key(&http, &server).await;
    for _ in 0..40 {
        assert_eq!(verdict(&http, &server.base, &key).await["valid"], true);
    }
    tokio::time::sleep(FLUSH * 3).await;
    kill(server).await;
    let server = serve(dir.path(), &borrowed(&env)).await;
    assert_eq!(counted(&http, &server, &id).await, 40);

    // Killed mid-run: what was answered but not yet written is lost, no more than one flush
    // interval's worth (plus the flush's own time) at the rate the clients reached.
    let (key, id) = new_key(&http, &server).await;
    let acked = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut clients = Vec::new();
    const CLIENTS: u64 = 4;
    for _ in 0..CLIENTS {
        let (http, base, key, acked) = (
            http.clone(),
            server.base.clone(),
            key.clone(),
            acked.clone(),
        );
        clients.push(tokio::spawn(async move {
            loop {
                match http
                    .post(format!("{base}/v1/verify/"))
                    .json(&json!({ "key": key }))
                    .send()
                    .await
                {
                    Ok(response) => match response.json::<Value>().await {
                        Ok(answer) if answer["valid"] == true => {
                            acked.fetch_add(1, Ordering::Relaxed);
                        }
                        _ => return,
                    },
                    Err(_) => return,
                }
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    kill(server).await;
    let ran = started.elapsed();
    for client in clients {
        client.await.unwrap();
    }
    let acked = acked.load(Ordering::Relaxed);
    let rate = acked as f64 / ran.as_secs_f64();
    let server = serve(dir.path(), &borrowed(&env)).await;
    let stored = counted(&http, &server, &id).await;
    let lost = acked.saturating_sub(stored);
    let bound = (rate * 2.0 * FLUSH.as_secs_f64()).ceil() as u64 + 1;
    announce(&format!(
        "usage counting under kill -9: {acked} requests acknowledged in {:.1} s ({rate:.0}/s), \
         {stored} counted, {lost} lost, bound {bound} (2 flush intervals of {} ms at that rate)",
        ran.as_secs_f64(),
        FLUSH.as_millis()
    ));
    assert!(acked > 100, "the clients barely ran: {acked}");
    assert!(lost <= bound, "{lost} counts lost, more than {bound}");
    // Counted but never answered: at most the requests in flight when the server died.
    assert!(
        stored <= acked + CLIENTS,
        "{stored} counted, {acked} answered"
    );
    assert!(stored > 0, "the batches written before the kill were kept");
    kill(server).await;
}

#[tokio::test]
async fn two_instances_counts_add_up_through_postgres() {
    let Some(server_url) = PostgresDatabase::server_url() else {
        announce(
            "SKIPPED: KEYWARDEN_TEST_POSTGRES_URL is not set (usage counted by two instances)",
        );
        return;
    };
    let db = PostgresDatabase::create(&server_url).await;
    let dir = tempfile::tempdir().unwrap();
    let env = environment(dir.path(), &db.url);
    create_acme(dir.path(), &borrowed(&env), &[]);
    let a = serve(dir.path(), &borrowed(&env)).await;
    let b = serve(dir.path(), &borrowed(&env)).await;
    let http = keywarden_testkit::http_client();
    let (key, id) = new_key(&http, &a).await;
    // Interleaved, so both instances write batches for the same hour at about the same time.
    for n in 0..30 {
        let server = if n % 3 == 0 { &a } else { &b };
        assert_eq!(verdict(&http, &server.base, &key).await["valid"], true);
    }
    tokio::time::sleep(FLUSH * 4).await;
    assert_eq!(counted(&http, &a, &id).await, 30);
    assert_eq!(counted(&http, &b, &id).await, 30);
    kill(a).await;
    kill(b).await;
}
