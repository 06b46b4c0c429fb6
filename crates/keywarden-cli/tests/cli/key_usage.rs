//! Usage counting (SPEC §10) against the real binary: counted in memory, written every
//! `cache.usage_flush_ms`, so the written part survives a restart, `kill -9` loses at most what
//! was counted since the last batch (docs/RELIABILITY.md), and instances on one PostgreSQL add
//! up.

use super::usage_limits::{FLUSH, answer_until_killed, borrowed, environment, kill};
use super::{PASSWORD, Server, create_acme, serve, verdict};
use keywarden_testkit::{PostgresDatabase, announce};
use serde_json::{Value, json};

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

    // Killed mid-run: what was answered but not yet written is lost, and only that.
    let (key, id) = new_key(&http, &server).await;
    let run = answer_until_killed(&http, server, &key).await;
    let server = serve(dir.path(), &borrowed(&env)).await;
    let stored = usize::try_from(counted(&http, &server, &id).await).unwrap();
    run.assert_lost_at_most_one_flush("usage counting", stored);
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
