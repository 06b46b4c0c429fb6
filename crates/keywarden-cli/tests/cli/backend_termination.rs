//! PostgreSQL backends terminated under load (`pg_terminate_backend`, as a failover or an
//! operator would): two instances on one database keep creating and revoking keys on A while
//! every connection of the database is killed again and again. Nothing acknowledged is lost,
//! no answer is a 500, both instances are ready again afterwards, and a revocation made on A
//! after the storm still reaches B within a second. Needs `KEYWARDEN_TEST_POSTGRES_URL`.

use super::{PASSWORD, create_acme, serve, verdict};
use keywarden_testkit::{PostgresDatabase, announce};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const SECRET: &str = "backend-termination-test-secret-0123456789abcdef";

/// Kills every backend of `database` but the caller's; how many it killed.
fn terminate_backends(admin_url: &str, database: &str) -> u64 {
    let sql = format!(
        "SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE datname = '{database}' AND pid <> pg_backend_pid()) killed"
    );
    let output = std::process::Command::new("psql")
        .args([admin_url, "-tAc", &sql])
        .output()
        .expect("psql runs");
    String::from_utf8_lossy(&output.stdout)
        .trim()
        .parse()
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn terminated_backends_under_load_lose_nothing_and_both_instances_recover() {
    let Some(admin_url) = PostgresDatabase::server_url() else {
        return;
    };
    let database = PostgresDatabase::create(&admin_url).await;
    let name = database.url.rsplit('/').next().unwrap().to_owned();
    let dir = tempfile::tempdir().unwrap();
    let env = [
        ("KEYWARDEN_DATABASE_URL", database.url.as_str()),
        ("KEYWARDEN_SECRET", SECRET),
    ];
    create_acme(dir.path(), &env, &[]);
    let a = serve(dir.path(), &env).await;
    let b = serve(dir.path(), &env).await;
    let http = keywarden_testkit::http_client();
    let signed_in: Value = http
        .post(format!("{}/v1/auth/token/", a.base))
        .json(&json!({ "email": "ada@example.com", "password": PASSWORD }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = signed_in["access"].as_str().unwrap().to_owned();

    let stop = Arc::new(AtomicBool::new(false));
    let acknowledged: Arc<Mutex<BTreeMap<String, String>>> = Arc::default();
    let answers: Arc<Mutex<BTreeMap<u16, u64>>> = Arc::default();
    let clients: Vec<_> = (0..4)
        .map(|_| {
            let (stop, acknowledged, answers) =
                (stop.clone(), acknowledged.clone(), answers.clone());
            let (base, token, http) = (a.base.clone(), token.clone(), http.clone());
            tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    let reply = http
                        .post(format!("{base}/v1/api-keys/"))
                        .bearer_auth(&token)
                        .json(&json!({ "label": "storm", "type": "live", "scopes": ["payroll:read"] }))
                        .send()
                        .await
                        .unwrap();
                    let status = reply.status().as_u16();
                    *answers.lock().unwrap().entry(status).or_insert(0) += 1;
                    if status == 201 {
                        let body: Value = reply.json().await.unwrap();
                        acknowledged.lock().unwrap().insert(
                            body["id"].as_str().unwrap().into(),
                            body["key"].as_str().unwrap().into(),
                        );
                    } else {
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                }
            })
        })
        .collect();
    let killed = Arc::new(AtomicU64::new(0));
    let storm = Instant::now();
    while storm.elapsed() < Duration::from_secs(4) {
        killed.fetch_add(terminate_backends(&admin_url, &name), Ordering::Relaxed);
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    stop.store(true, Ordering::Relaxed);
    for client in clients {
        client.await.unwrap();
    }
    let answers = answers.lock().unwrap().clone();
    assert!(
        answers
            .keys()
            .all(|status| *status == 201 || *status == 503),
        "only created or unavailable (JSON 503) during the storm: {answers:?}"
    );

    // Both instances are ready again by themselves.
    let recovered = Instant::now();
    for server in [&a, &b] {
        loop {
            let ready = http
                .get(format!("{}/readyz", server.base))
                .send()
                .await
                .map(|r| r.status().as_u16());
            if matches!(ready, Ok(200)) {
                break;
            }
            assert!(
                recovered.elapsed() < Duration::from_secs(15),
                "not ready again"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    let recovered = recovered.elapsed();

    // Every acknowledged key works on both instances.
    let keys = acknowledged.lock().unwrap().clone();
    for (id, secret) in &keys {
        for server in [&a, &b] {
            let reply = verdict(&http, &server.base, secret).await;
            assert_eq!(reply["valid"], true, "acknowledged key {id} lost: {reply}");
        }
    }
    // And a revocation made on A now reaches B within a second.
    let (id, secret) = keys.iter().next().expect("keys were created");
    let revoked = http
        .delete(format!("{}/v1/api-keys/{id}/", a.base))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), 200);
    let started = Instant::now();
    loop {
        if verdict(&http, &b.base, secret).await["valid"] == false {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "B still accepts it"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    announce(&format!(
        "backends terminated under load: {} backends killed in 4 s, answers {answers:?}, {} keys \
         acknowledged and all kept, ready again {} ms later, a revocation reached B in {} ms",
        killed.load(Ordering::Relaxed),
        keys.len(),
        recovered.as_millis(),
        started.elapsed().as_millis()
    ));
    assert!(killed.load(Ordering::Relaxed) > 0, "backends were killed");
    for server in [a, b] {
        let (status, _) = server.terminate().await;
        assert!(status.success());
    }
    drop(database);
}
