//! Usage limits (SPEC §9) against the real binary: counted in memory, added to the store every
//! `cache.usage_flush_ms`, so a limit holds across a restart, loses at most one flush interval
//! of counts to `kill -9` (the bound docs/ARCHITECTURE.md states), and is shared by instances on
//! one PostgreSQL.

use super::{PASSWORD, Server, create_acme, serve, verdict};
use keywarden_testkit::{PostgresDatabase, announce};
use serde_json::{Value, json};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const SECRET: &str = "usage-limit-test-secret-0123456789abcdef";
/// The flush interval these tests configure.
pub(super) const FLUSH: Duration = Duration::from_millis(100);

/// The environment of every instance: a config file with a short flush interval.
pub(super) fn environment(dir: &Path, database: &str) -> Vec<(String, String)> {
    let config = dir.join("keywarden.toml");
    std::fs::write(
        &config,
        format!("[cache]\nusage_flush_ms = {}\n", FLUSH.as_millis()),
    )
    .unwrap();
    vec![
        ("KEYWARDEN_CONFIG".into(), config.display().to_string()),
        ("KEYWARDEN_DATABASE_URL".into(), database.into()),
        ("KEYWARDEN_SECRET".into(), SECRET.into()),
    ]
}

pub(super) fn borrowed(env: &[(String, String)]) -> Vec<(&str, &str)> {
    env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
}

/// A key with `usage_limit`, created through the API of `server`.
async fn limited_key(http: &reqwest::Client, server: &Server, limit: u64, period: &str) -> String {
    let token: Value = http
        .post(format!("{}/v1/auth/token/", server.base))
        .json(&json!({ "email": "ada@example.com", "password": PASSWORD }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let created: Value = http
        .post(format!("{}/v1/api-keys/", server.base))
        .bearer_auth(token["access"].as_str().unwrap())
        .json(&json!({
            "label": "metered", "type": "live", "scopes": ["payroll:read"],
            "usage_limit": {"limit": limit, "period": period}
        }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    created["key"].as_str().expect("created").to_owned()
}

/// Verifies `key` on `server` until it is refused; how many were allowed.
async fn allowed_until_refused(http: &reqwest::Client, server: &Server, key: &str) -> u64 {
    let mut allowed = 0;
    loop {
        let answer = verdict(http, &server.base, key).await;
        if answer["valid"] == true {
            allowed += 1;
            assert!(allowed < 100_000, "never refused");
        } else {
            assert_eq!(answer["code"], "usage_limit_exceeded", "{answer}");
            return allowed;
        }
    }
}

pub(super) async fn kill(mut server: Server) {
    server.child.start_kill().unwrap();
    server.child.wait().await.unwrap();
}

#[tokio::test]
async fn a_usage_limit_holds_across_a_restart_and_loses_at_most_one_flush_to_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let database = format!("sqlite://{}", dir.path().join("keywarden.db").display());
    let env = environment(dir.path(), &database);
    create_acme(dir.path(), &borrowed(&env), &[]);
    let http = keywarden_testkit::http_client();

    // Counted, flushed, restarted after kill -9: the limit continues where it stood.
    let server = serve(dir.path(), &borrowed(&env)).await;
    let key = limited_key(&http, &server, 100, "total").await;
    for _ in 0..40 {
        assert_eq!(verdict(&http, &server.base, &key).await["valid"], true);
    }
    tokio::time::sleep(FLUSH * 3).await;
    kill(server).await;
    let server = serve(dir.path(), &borrowed(&env)).await;
    assert_eq!(allowed_until_refused(&http, &server, &key).await, 60);

    // Killed mid-run: what was acknowledged but not yet flushed is lost, and only that: the
    // last answers before the kill, within one flush interval and the flush's own write.
    const LIMIT: u64 = 100_000;
    let key = limited_key(&http, &server, LIMIT, "total").await;
    let run = answer_until_killed(&http, server, &key).await;
    let server = serve(dir.path(), &borrowed(&env)).await;
    // What the restarted instance still allows, read without spending it all: the key metadata.
    let stored_left = remaining(&http, &server).await;
    let written = usize::try_from(LIMIT - stored_left).unwrap();
    run.assert_lost_at_most_one_flush("usage limit", written);
    assert!(
        stored_left < LIMIT,
        "the counts flushed before the kill were kept"
    );
    kill(server).await;
}

/// The `remaining` of the one key with a usage limit whose count moved, via the key list.
async fn remaining(http: &reqwest::Client, server: &Server) -> u64 {
    let token: Value = http
        .post(format!("{}/v1/auth/token/", server.base))
        .json(&json!({ "email": "ada@example.com", "password": PASSWORD }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let page: Value = http
        .get(format!("{}/v1/api-keys/?status=active", server.base))
        .bearer_auth(token["access"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    page["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|k| k["usage_limit"]["limit"] == 100_000)
        .map(|k| k["usage"]["remaining"].as_u64().unwrap())
        .next()
        .expect("the metered key")
}

#[tokio::test]
async fn two_instances_share_one_usage_limit_through_postgres() {
    let Some(server_url) = PostgresDatabase::server_url() else {
        announce("SKIPPED: KEYWARDEN_TEST_POSTGRES_URL is not set (shared usage limits)");
        return;
    };
    let db = PostgresDatabase::create(&server_url).await;
    let dir = tempfile::tempdir().unwrap();
    let env = environment(dir.path(), &db.url);
    create_acme(dir.path(), &borrowed(&env), &[]);
    let a = serve(dir.path(), &borrowed(&env)).await;
    let b = serve(dir.path(), &borrowed(&env)).await;
    let http = keywarden_testkit::http_client();
    let key = limited_key(&http, &a, 30, "day").await;
    for _ in 0..10 {
        assert_eq!(verdict(&http, &a.base, &key).await["valid"], true);
    }
    // After a flush on each side, B knows of A's 10.
    tokio::time::sleep(FLUSH * 4).await;
    assert_eq!(allowed_until_refused(&http, &b, &key).await, 20);
    tokio::time::sleep(FLUSH * 4).await;
    let answer = verdict(&http, &a.base, &key).await;
    assert_eq!(
        answer["code"], "usage_limit_exceeded",
        "A learnt B's: {answer}"
    );
    kill(a).await;
    kill(b).await;
}

/// Four clients verifying `key` at full speed for 1.5 s, then `kill -9` of the server: when
/// each valid answer arrived, in order, and when the server was killed.
pub(super) struct KilledRun {
    answered: Vec<Instant>,
    ran: Duration,
    killed_at: Instant,
}

/// Clients of [`answer_until_killed`].
const CLIENTS: usize = 4;

pub(super) async fn answer_until_killed(
    http: &reqwest::Client,
    server: Server,
    key: &str,
) -> KilledRun {
    let answered = Arc::new(Mutex::new(Vec::<Instant>::with_capacity(16_384)));
    let started = Instant::now();
    let mut clients = Vec::new();
    for _ in 0..CLIENTS {
        let (http, base, key, answered) = (
            http.clone(),
            server.base.clone(),
            key.to_owned(),
            answered.clone(),
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
                            answered.lock().unwrap().push(Instant::now());
                        }
                        _ => return,
                    },
                    Err(_) => return,
                }
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let killed_at = Instant::now();
    kill(server).await;
    let ran = started.elapsed();
    for client in clients {
        client.await.unwrap();
    }
    let mut answered = std::mem::take(&mut *answered.lock().unwrap());
    answered.sort_unstable();
    KilledRun {
        answered,
        ran,
        killed_at,
    }
}

impl KilledRun {
    /// Given how many counts the store kept: the answers it lacks are the last ones before the
    /// kill, within one flush interval and the write's own time (allowed three intervals on a
    /// loaded machine); it kept no more than were answered, give or take the requests in
    /// flight; and it kept the batches written before the kill.
    pub(super) fn assert_lost_at_most_one_flush(&self, what: &str, written: usize) {
        let acked = self.answered.len();
        let lost = acked.saturating_sub(written);
        // The oldest answer the store may lack (counting order and answer order differ by at
        // most the requests in flight), and how long before the kill it came.
        let unwritten = self
            .answered
            .get(written.saturating_sub(CLIENTS))
            .map_or(Duration::ZERO, |first| {
                self.killed_at.saturating_duration_since(*first)
            });
        let bound = FLUSH * 4;
        announce(&format!(
            "{what} under kill -9: {acked} requests acknowledged in {:.1} s ({:.0}/s), \
             {written} counted, {lost} lost, answered in the last {} ms before the kill \
             (bound {} ms: one flush interval of {} ms and the write's own time)",
            self.ran.as_secs_f64(),
            acked as f64 / self.ran.as_secs_f64(),
            unwritten.as_millis(),
            bound.as_millis(),
            FLUSH.as_millis()
        ));
        assert!(acked > 100, "the clients barely ran: {acked}");
        assert!(
            unwritten <= bound,
            "{lost} counts lost, answered over the last {unwritten:?} before the kill: more than {bound:?}"
        );
        assert!(
            written <= acked + CLIENTS,
            "{written} counted, {acked} answered"
        );
        assert!(written > 0, "the batches written before the kill were kept");
    }
}
