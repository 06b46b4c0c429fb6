//! A crash at any moment loses no acknowledged change (SPEC §5): cycles of concurrent key
//! creation and revocation against the real binary, each ended by SIGKILL at a random moment;
//! after every restart each key a client was given still works (or is revoked, if that was
//! acknowledged), and no acknowledged revocation is undone. On SQLite always, on PostgreSQL
//! when `KEYWARDEN_TEST_POSTGRES_URL` is set. `KEYWARDEN_TEST_CRASH_CYCLES` sets the number of
//! cycles (30 by default; docs/RELIABILITY.md records a longer run).

use super::{PASSWORD, create_acme, serve};
use keywarden_testkit::{PostgresDatabase, announce};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::hash::{BuildHasher, RandomState};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const SECRET: &str = "crash-consistency-test-secret-0123456789abcdef";

fn cycles() -> usize {
    std::env::var("KEYWARDEN_TEST_CRASH_CYCLES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(30)
}

fn random_below(n: u64) -> u64 {
    RandomState::new().hash_one(0u8) % n.max(1)
}

/// What clients were told: keys created (secret by id) and revocations acknowledged; and the
/// revocations asked for, which may or may not have happened if no answer came.
#[derive(Clone, Default)]
struct Acknowledged {
    keys: BTreeMap<String, String>,
    revoked: Vec<String>,
    revoking: Vec<String>,
}

async fn token(http: &reqwest::Client, base: &str) -> String {
    let reply: Value = http
        .post(format!("{base}/v1/auth/token/"))
        .json(&json!({ "email": "ada@example.com", "password": PASSWORD }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    reply["access"].as_str().expect("signed in").to_owned()
}

/// Creates keys and revokes some, until the process is killed under it.
async fn work(base: String, token: String, seen: Arc<Mutex<Acknowledged>>) {
    let http = keywarden_testkit::http_client();
    for n in 0u64.. {
        if n % 3 == 2 {
            let victim = {
                let seen = seen.lock().unwrap();
                let active: Vec<&String> = seen
                    .keys
                    .keys()
                    .filter(|id| !seen.revoking.contains(id))
                    .collect();
                active
                    .get(random_below(active.len() as u64) as usize)
                    .map(|id| (*id).clone())
            };
            if let Some(id) = victim {
                seen.lock().unwrap().revoking.push(id.clone());
                let Ok(reply) = http
                    .delete(format!("{base}/v1/api-keys/{id}/"))
                    .bearer_auth(&token)
                    .send()
                    .await
                else {
                    return;
                };
                if reply.status() == 200 {
                    seen.lock().unwrap().revoked.push(id);
                }
                continue;
            }
        }
        let Ok(reply) = http
            .post(format!("{base}/v1/api-keys/"))
            .bearer_auth(&token)
            .json(&json!({ "label": format!("crash {n}"), "type": "test", "scopes": ["payroll:read"] }))
            .send()
            .await
        else {
            return;
        };
        if reply.status() != 201 {
            return;
        }
        let Ok(body) = reply.json::<Value>().await else {
            return;
        };
        let id = body["id"].as_str().unwrap().to_owned();
        let secret = body["key"].as_str().unwrap().to_owned();
        seen.lock().unwrap().keys.insert(id, secret);
    }
}

/// Every acknowledged key (of `only`, or all) is there, and answers as acknowledged.
async fn check(base: &str, seen: &Acknowledged, only: Option<&[String]>) {
    let http = keywarden_testkit::http_client();
    for (n, (id, secret)) in seen.keys.iter().enumerate() {
        if only.is_some_and(|ids| !ids.contains(id)) {
            continue;
        }
        let revoked = seen.revoked.contains(id);
        // From an address of its own each (a header value only): revoked keys are failed
        // presentations, which the per-address limit would otherwise answer with 429.
        let reply = http
            .get(format!("{base}/v1/forward-auth/"))
            .header("Authorization", format!("Api-Key {secret}"))
            .header("X-Original-URI", "/v1/payroll/runs")
            .header("X-Forwarded-For", format!("2001:db8::{n:x}"))
            .send()
            .await
            .unwrap();
        let status = reply.status().as_u16();
        let body: Value = reply.json().await.unwrap_or(Value::Null);
        if revoked {
            assert_eq!(
                status, 401,
                "acknowledged revocation of {id} undone: {body}"
            );
            assert_eq!(body["code"], "key_revoked", "{id}: {body}");
        } else if seen.revoking.contains(id) {
            // Asked for, never answered: either outcome is allowed, nothing else.
            assert!(
                status == 200 || body["code"] == "key_revoked",
                "acknowledged key {id} lost: {body}"
            );
        } else {
            assert_eq!(status, 200, "acknowledged key {id} lost: {body}");
        }
    }
}

async fn run(dir: &Path, env: &[(&str, &str)]) -> (usize, Acknowledged, Duration) {
    create_acme(dir, env, &["--without-keys"]);
    let seen = Arc::new(Mutex::new(Acknowledged::default()));
    let started = Instant::now();
    let cycles = cycles();
    let mut last_cycle: Vec<String> = Vec::new();
    for _ in 0..cycles {
        let mut server = serve(dir, env).await;
        let http = keywarden_testkit::http_client();
        // What the last cycle acknowledged survived its kill.
        let snapshot = seen.lock().unwrap().clone();
        check(&server.base, &snapshot, Some(&last_cycle)).await;
        let before: Vec<String> = snapshot.keys.keys().cloned().collect();
        let token = token(&http, &server.base).await;
        let workers: Vec<_> = (0..4)
            .map(|_| tokio::spawn(work(server.base.clone(), token.clone(), seen.clone())))
            .collect();
        tokio::time::sleep(Duration::from_millis(20 + random_below(300))).await;
        server.child.start_kill().unwrap();
        server.child.wait().await.unwrap();
        for worker in workers {
            worker.await.unwrap();
        }
        let seen = seen.lock().unwrap();
        last_cycle = seen
            .keys
            .keys()
            .filter(|id| !before.contains(id))
            .chain(seen.revoked.iter())
            .cloned()
            .collect();
    }
    let server = serve(dir, env).await;
    let all = seen.lock().unwrap().clone();
    check(&server.base, &all, None).await;
    let (status, _) = server.terminate().await;
    assert!(status.success());
    let seen = Arc::try_unwrap(seen).ok().unwrap().into_inner().unwrap();
    (cycles, seen, started.elapsed())
}

fn report(backend: &str, (cycles, seen, took): &(usize, Acknowledged, Duration)) {
    announce(&format!(
        "crash consistency on {backend}: {cycles} kill -9 cycles in {} s, {} acknowledged keys and \
         {} acknowledged revocations, 0 lost, 0 undone",
        took.as_secs(),
        seen.keys.len(),
        seen.revoked.len()
    ));
    assert!(seen.keys.len() >= *cycles, "the cycles did create keys");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_at_any_moment_loses_nothing_acknowledged_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let outcome = run(dir.path(), &[]).await;
    report("SQLite", &outcome);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_at_any_moment_loses_nothing_acknowledged_on_postgres() {
    let Some(admin_url) = PostgresDatabase::server_url() else {
        return;
    };
    let database = PostgresDatabase::create(&admin_url).await;
    let dir = tempfile::tempdir().unwrap();
    let env = [
        ("KEYWARDEN_DATABASE_URL", database.url.as_str()),
        ("KEYWARDEN_SECRET", SECRET),
    ];
    let outcome = run(dir.path(), &env).await;
    report("PostgreSQL", &outcome);
}
