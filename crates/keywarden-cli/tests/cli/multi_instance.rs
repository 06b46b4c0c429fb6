//! Several `keywarden serve` processes on one PostgreSQL (SPEC §5): a key rotated, revoked or
//! narrowed on instance A is refused by instance B within a second — with and without `NOTIFY` — and both
//! ride out a database restart. Needs `KEYWARDEN_TEST_POSTGRES_URL` (skipped loudly without it).

use super::{PASSWORD, Server, json_of, json_out, keywarden, serve};
use keywarden_testkit::{PostgresDatabase, announce};
use serde_json::{Value, json};
use std::path::Path;
use std::time::{Duration, Instant};

fn postgres_url() -> Option<String> {
    PostgresDatabase::server_url()
}

const SECRET: &str = "multi-instance-test-secret-0123456789abcdef";

/// Two instances on one database, an account, and a signed-in admin on instance A.
struct Pair {
    a: Server,
    b: Server,
    token: String,
    http: reqwest::Client,
}

async fn pair(dir: &Path, url: &str, extra: &[(&str, &str)]) -> Pair {
    let mut env = vec![
        ("KEYWARDEN_DATABASE_URL", url),
        ("KEYWARDEN_SECRET", SECRET),
    ];
    env.extend_from_slice(extra);
    let created = keywarden(
        dir,
        &[
            "admin",
            "create-account",
            "--name",
            "Acme",
            "--email",
            "ada@example.com",
            "--password-stdin",
        ],
        PASSWORD,
        &env,
    );
    json_out(&created);
    let a = serve(dir, &env).await;
    let b = serve(dir, &env).await;
    let http = keywarden_testkit::http_client();
    let token: Value = json_of(
        http.post(format!("{}/v1/auth/token/", a.base))
            .json(&json!({ "email": "ada@example.com", "password": PASSWORD })),
    )
    .await;
    Pair {
        a,
        b,
        token: token["access"].as_str().unwrap().into(),
        http,
    }
}

impl Pair {
    async fn create_key(&self) -> (String, String) {
        let body: Value = json_of(
            self.http
                .post(format!("{}/v1/api-keys/", self.a.base))
                .bearer_auth(&self.token)
                .json(
                    &json!({ "label": "Propagation", "type": "live", "scopes": ["payroll:read"] }),
                ),
        )
        .await;
        (
            body["id"].as_str().unwrap().into(),
            body["key"].as_str().unwrap().into(),
        )
    }

    async fn verify_on(&self, server: &Server, key: &str) -> (u16, Value) {
        self.verify_scope_on(server, key, None).await
    }

    /// `POST /v1/verify/`, asking for `scope` if given.
    async fn verify_scope_on(
        &self,
        server: &Server,
        key: &str,
        scope: Option<&str>,
    ) -> (u16, Value) {
        let body = match scope {
            Some(scope) => json!({ "key": key, "scope": scope }),
            None => json!({ "key": key }),
        };
        let response = self
            .http
            .post(format!("{}/v1/verify/", server.base))
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// Polls instance B until `key` is valid (or not), returning how long that took.
    async fn until_b_says(&self, key: &str, valid: bool, limit: Duration) -> Duration {
        self.until_b_says_for(key, None, valid, limit).await
    }

    /// Polls instance B until `key` is valid (or not) for `scope`, returning how long that took.
    async fn until_b_says_for(
        &self,
        key: &str,
        scope: Option<&str>,
        valid: bool,
        limit: Duration,
    ) -> Duration {
        let started = Instant::now();
        loop {
            let (status, body) = self.verify_scope_on(&self.b, key, scope).await;
            if status == 200 && body["valid"] == valid {
                return started.elapsed();
            }
            assert!(
                started.elapsed() < limit,
                "instance B still says {body} after {limit:?}"
            );
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

/// Revokes, rotates and narrows keys on A (in turn) and measures how long B keeps accepting
/// each old key, or each withdrawn scope.
async fn measure(pair: &Pair, trials: usize) -> Vec<Duration> {
    const SCOPE: &str = "payroll:read";
    let mut stale = Vec::with_capacity(trials);
    for trial in 0..trials {
        let (id, key) = pair.create_key().await;
        pair.until_b_says_for(&key, Some(SCOPE), true, Duration::from_secs(5))
            .await;
        let key_url = format!("{}/v1/api-keys/{id}/", pair.a.base);
        let request = match trial % 3 {
            0 => pair.http.delete(key_url),
            1 => pair.http.post(format!("{key_url}rotate/")),
            // A scope change: the key stays valid, but no longer for payroll.
            _ => pair
                .http
                .patch(key_url)
                .json(&json!({ "scopes": ["asset:read"] })),
        };
        let response = request.bearer_auth(&pair.token).send().await.unwrap();
        assert_eq!(response.status(), 200);
        // A refuses at once; B within the bound.
        let (_, on_a) = pair.verify_scope_on(&pair.a, &key, Some(SCOPE)).await;
        assert_eq!(on_a["valid"], false, "{on_a}");
        stale.push(
            pair.until_b_says_for(&key, Some(SCOPE), false, Duration::from_secs(5))
                .await,
        );
    }
    stale.sort();
    stale
}

fn report(label: &str, stale: &[Duration]) {
    announce(&format!(
        "propagation ({label}, {} trials): p50 {:?}, p99 {:?}, max {:?}",
        stale.len(),
        percentile(stale, 0.50),
        percentile(stale, 0.99),
        stale.last().unwrap()
    ));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_change_on_one_instance_is_refused_by_the_other_within_a_second() {
    let Some(admin_url) = postgres_url() else {
        return;
    };
    let db = PostgresDatabase::create(&admin_url).await;
    let dir = tempfile::tempdir().unwrap();
    let pair = pair(dir.path(), &db.url, &[]).await;
    let stale = measure(&pair, 40).await;
    report("LISTEN/NOTIFY + 500 ms poll", &stale);
    assert!(*stale.last().unwrap() < Duration::from_secs(1));
    let (status_a, _) = pair.a.terminate().await;
    let (status_b, _) = pair.b.terminate().await;
    assert!(status_a.success() && status_b.success());
}

/// SPEC §9 propagates like a revocation: a key's allowlist, rate limit and metadata changed on
/// instance A are enforced by instance B within a second.
#[tokio::test(flavor = "multi_thread")]
async fn a_policy_change_on_one_instance_holds_on_the_other_within_a_second() {
    let Some(admin_url) = postgres_url() else {
        return;
    };
    let db = PostgresDatabase::create(&admin_url).await;
    let dir = tempfile::tempdir().unwrap();
    let pair = pair(dir.path(), &db.url, &[]).await;
    let (id, key) = pair.create_key().await;
    pair.until_b_says(&key, true, Duration::from_secs(5)).await;
    let change = |body: Value| {
        pair.http
            .patch(format!("{}/v1/api-keys/{id}/", pair.a.base))
            .bearer_auth(&pair.token)
            .json(&body)
            .send()
    };
    // An allowlist that does not hold the verifier's address: B refuses.
    let reply = change(json!({"allowed_ips": ["192.0.2.0/24"], "metadata": {"tier": "gold"}}))
        .await
        .unwrap();
    assert_eq!(reply.status(), 200);
    let took = pair.until_b_says(&key, false, Duration::from_secs(1)).await;
    let (_, refused) = pair.verify_on(&pair.b, &key).await;
    assert_eq!(refused["code"], "ip_not_allowed", "{refused}");
    // Lifted, with a rate limit of 1 a minute: B allows one, refuses the next.
    let reply =
        change(json!({"allowed_ips": null, "rate_limit": {"limit": 1, "period_seconds": 60}}))
            .await
            .unwrap();
    assert_eq!(reply.status(), 200);
    let lifted = pair.until_b_says(&key, true, Duration::from_secs(1)).await;
    let (_, answer) = pair.verify_on(&pair.b, &key).await;
    assert_eq!(answer["code"], "key_rate_limited", "{answer}");
    announce(&format!(
        "policy propagation to instance B: allowlist in {took:?}, lifted with a rate limit in {lifted:?}"
    ));
    let (status_a, _) = pair.a.terminate().await;
    let (status_b, _) = pair.b.terminate().await;
    assert!(status_a.success() && status_b.success());
}

/// SPEC §5 across instances: A and B rotate the same key at the same moment. Whatever the
/// order, exactly one rotation wins (200) and the other is told it lost (409), and the account
/// is left with exactly one active successor.
#[tokio::test(flavor = "multi_thread")]
async fn two_instances_rotating_one_key_at_once_leave_one_successor() {
    let Some(admin_url) = postgres_url() else {
        return;
    };
    let db = PostgresDatabase::create(&admin_url).await;
    let dir = tempfile::tempdir().unwrap();
    let pair = pair(dir.path(), &db.url, &[]).await;
    for round in 0..10 {
        let (id, _) = pair.create_key().await;
        let rotate = |server: &Server| {
            pair.http
                .post(format!("{}/v1/api-keys/{id}/rotate/", server.base))
                .bearer_auth(&pair.token)
                .send()
        };
        let (on_a, on_b) = tokio::join!(rotate(&pair.a), rotate(&pair.b));
        let mut statuses = [
            on_a.unwrap().status().as_u16(),
            on_b.unwrap().status().as_u16(),
        ];
        statuses.sort_unstable();
        assert_eq!(statuses, [200, 409], "round {round}");
        let page: Value = json_of(
            pair.http
                .get(format!(
                    "{}/v1/api-keys/?kind=restricted&status=active&limit=100",
                    pair.b.base
                ))
                .bearer_auth(&pair.token),
        )
        .await;
        let successors = page["results"]
            .as_array()
            .unwrap_or_else(|| panic!("{page}"))
            .iter()
            .filter(|k| k["label"] == "Propagation" && k["id"] != id.as_str())
            .count();
        assert_eq!(successors, round + 1, "one successor per round: {page}");
    }
    pair.a.terminate().await;
    pair.b.terminate().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_poll_alone_holds_the_bound_when_notifications_are_lost() {
    let Some(admin_url) = postgres_url() else {
        return;
    };
    let db = PostgresDatabase::create(&admin_url).await;
    let dir = tempfile::tempdir().unwrap();
    let pair = pair(dir.path(), &db.url, &[("KEYWARDEN_CACHE_LISTEN", "false")]).await;
    let stale = measure(&pair, 20).await;
    report("poll only, every 500 ms", &stale);
    assert!(*stale.last().unwrap() < Duration::from_secs(1));
    pair.a.terminate().await;
    pair.b.terminate().await;
}

/// A throwaway PostgreSQL cluster of this test's own, so restarting it disturbs no other test.
struct Cluster {
    bin: std::path::PathBuf,
    dir: tempfile::TempDir,
    port: u16,
}

impl Cluster {
    fn pg(&self, tool: &str, args: &[&str]) -> std::process::Output {
        // initdb and postgres refuse to run as root: run them as the postgres user.
        let program = self.bin.join(tool);
        let mut cmd = if nix_is_root() {
            let mut c = std::process::Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&program);
            c
        } else {
            std::process::Command::new(&program)
        };
        cmd.args(args).output().unwrap()
    }

    fn data(&self) -> String {
        self.dir.path().join("data").display().to_string()
    }

    fn init() -> Option<Self> {
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .ok()?
            .filter_map(Result::ok)
            .map(|e| e.path().join("bin"))
            .find(|p| p.join("initdb").exists())?;
        let dir = tempfile::tempdir().unwrap();
        if nix_is_root() {
            let status = std::process::Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(dir.path())
                .status()
                .unwrap();
            assert!(status.success());
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let cluster = Self { bin, dir, port };
        let out = cluster.pg(
            "initdb",
            &[
                "-D",
                &cluster.data(),
                "-A",
                "trust",
                "-U",
                "postgres",
                "--no-sync",
            ],
        );
        assert!(
            out.status.success(),
            "initdb: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Some(cluster)
    }

    fn start(&self) {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=on",
            self.port,
            self.dir.path().display()
        );
        let log = self.dir.path().join("log").display().to_string();
        let out = self.pg(
            "pg_ctl",
            &[
                "-D",
                &self.data(),
                "-o",
                &options,
                "-l",
                &log,
                "-w",
                "start",
            ],
        );
        assert!(
            out.status.success(),
            "pg_ctl start: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn stop(&self) {
        let out = self.pg("pg_ctl", &["-D", &self.data(), "-m", "fast", "-w", "stop"]);
        assert!(
            out.status.success(),
            "pg_ctl stop: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn url(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = self.pg("pg_ctl", &["-D", &self.data(), "-m", "immediate", "stop"]);
    }
}

fn nix_is_root() -> bool {
    std::process::Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

#[tokio::test(flavor = "multi_thread")]
async fn both_instances_ride_out_a_database_restart_and_lose_nothing() {
    if postgres_url().is_none() {
        return;
    }
    let Some(cluster) = Cluster::init() else {
        announce("SKIPPED: no PostgreSQL server binaries under /usr/lib/postgresql");
        return;
    };
    cluster.start();
    let db = PostgresDatabase::create(&cluster.url("postgres")).await;
    let url = db.url.clone();
    let dir = tempfile::tempdir().unwrap();
    let max_age = 3;
    let pair = pair(
        dir.path(),
        &url,
        &[
            ("KEYWARDEN_CACHE_MAX_AGE_SECS", "3"),
            ("KEYWARDEN_CACHE_REFRESH_INTERVAL_MS", "200"),
        ],
    )
    .await;

    // A key acknowledged just before the outage, and one revoked just before it.
    let (_, kept) = pair.create_key().await;
    let (revoked_id, revoked) = pair.create_key().await;
    let response = pair
        .http
        .delete(format!("{}/v1/api-keys/{revoked_id}/", pair.a.base))
        .bearer_auth(&pair.token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    pair.until_b_says(&kept, true, Duration::from_secs(5)).await;
    pair.until_b_says(&revoked, false, Duration::from_secs(5))
        .await;

    cluster.stop();
    let outage = Instant::now();

    // Cached verifications keep answering within the maximum age…
    let (status, body) = pair.verify_on(&pair.b, &kept).await;
    assert_eq!((status, &body["valid"]), (200, &json!(true)), "{body}");
    // …while requests that need the database get a JSON 503 with Retry-After.
    let listing = pair
        .http
        .get(format!("{}/v1/api-keys/", pair.a.base))
        .bearer_auth(&pair.token)
        .send()
        .await
        .unwrap();
    assert_eq!(listing.status(), 503);
    assert!(listing.headers().contains_key("retry-after"));
    let body: Value = listing.json().await.unwrap();
    assert_eq!(body["code"], "unavailable", "{body}");

    // Past the maximum age the table is no longer trusted: 503, never a stale verdict.
    loop {
        let response = pair
            .http
            .post(format!("{}/v1/verify/", pair.b.base))
            .json(&json!({ "key": kept }))
            .send()
            .await
            .unwrap();
        if response.status() == 503 {
            assert!(response.headers().contains_key("retry-after"));
            let body: Value = response.json().await.unwrap();
            assert_eq!(body["code"], "unavailable");
            break;
        }
        assert!(
            outage.elapsed() < Duration::from_secs(max_age + 3),
            "still answering from a table older than its maximum age"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(outage.elapsed() >= Duration::from_secs(max_age) - Duration::from_millis(500));

    // The database comes back; both instances recover without a restart.
    cluster.start();
    for server in [&pair.a, &pair.b] {
        let started = Instant::now();
        loop {
            let ready = pair
                .http
                .get(format!("{}/readyz", server.base))
                .send()
                .await
                .unwrap();
            if ready.status() == 200 {
                break;
            }
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "instance did not recover"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    // Nothing acknowledged was lost.
    for server in [&pair.a, &pair.b] {
        assert_eq!(pair.verify_on(server, &kept).await.1["valid"], true);
        assert_eq!(
            pair.verify_on(server, &revoked).await.1["code"],
            "key_revoked"
        );
    }
    // And changes flow again, from A to B.
    let (_, fresh) = pair.create_key().await;
    pair.until_b_says(&fresh, true, Duration::from_secs(2))
        .await;
    // The listener reconnected as well, not just the poll: a revocation reaches B on its
    // notification again, in far less than the 200 ms the poll needs (a poll-only B, whose
    // check of the new key lines it up just after a poll, takes ~200 ms every time).
    let started = Instant::now();
    let mut quick_in_a_row = 0;
    while quick_in_a_row < 3 {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "notifications did not resume after the restart"
        );
        let (id, key) = pair.create_key().await;
        pair.until_b_says(&key, true, Duration::from_secs(2)).await;
        let response = pair
            .http
            .delete(format!("{}/v1/api-keys/{id}/", pair.a.base))
            .bearer_auth(&pair.token)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let stale = pair.until_b_says(&key, false, Duration::from_secs(2)).await;
        quick_in_a_row = if stale < Duration::from_millis(50) {
            quick_in_a_row + 1
        } else {
            0
        };
    }
    pair.a.terminate().await;
    pair.b.terminate().await;
}
