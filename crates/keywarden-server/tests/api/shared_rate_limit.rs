//! Rate limits shared through Redis (SPEC §9, `redis_url`): the count lives in Redis, a Redis
//! outage never fails a request (each instance counts alone, and `/metrics` says so), and the
//! shared count resumes once Redis answers again. Redis is reached through a small TCP relay
//! the test can cut and restore. Needs `KEYWARDEN_TEST_REDIS_URL` (skipped loudly without it).

use crate::support::{api_key, forward_auth, metric, post};
use keywarden_core::clock::Clock;
use keywarden_server::config::SecretText;
use keywarden_testkit::{TestServer, announce};
use serde_json::json;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use time::Duration as Span;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

fn redis_url() -> Option<String> {
    std::env::var("KEYWARDEN_TEST_REDIS_URL").ok()
}

/// A TCP relay to Redis on a fixed local port that can be cut (every connection dropped,
/// new ones refused) and restored.
struct Relay {
    port: u16,
    upstream: SocketAddr,
    tasks: std::sync::Arc<std::sync::Mutex<Vec<JoinHandle<()>>>>,
}

impl Relay {
    async fn start(upstream: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let relay = Self {
            port: listener.local_addr().unwrap().port(),
            upstream,
            tasks: Default::default(),
        };
        relay.serve(listener);
        relay
    }

    fn serve(&self, listener: TcpListener) {
        let (upstream, tasks) = (self.upstream, self.tasks.clone());
        let accept = tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                let pipe = tokio::spawn(async move {
                    if let Ok(mut server) = TcpStream::connect(upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
                tasks.lock().unwrap().push(pipe);
            }
        });
        self.tasks.lock().unwrap().push(accept);
    }

    fn cut(&self) {
        for task in self.tasks.lock().unwrap().drain(..) {
            task.abort();
        }
    }

    async fn restore(&self) {
        let listener = TcpListener::bind(("127.0.0.1", self.port)).await.unwrap();
        self.serve(listener);
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }
}

/// Redis's own count of `key_id`'s window holding the test clock's now.
async fn shared_count(url: &str, key_id: &str, period_ms: i64, now_ms: i64) -> i64 {
    let client = redis::Client::open(url).unwrap();
    let mut connection = client.get_multiplexed_async_connection().await.unwrap();
    let name = format!("keywarden:rate:{key_id}:{}", now_ms / period_ms);
    redis::cmd("GET")
        .arg(name)
        .query_async::<Option<i64>>(&mut connection)
        .await
        .unwrap()
        .unwrap_or(0)
}

/// A key with `limit` requests a minute; its secret and id.
async fn limited(server: &TestServer, token: &str, limit: u32) -> (String, String) {
    let reply = post(
        server,
        token,
        "/v1/api-keys/",
        &json!({"label": "shared", "type": "live", "scopes": ["payroll:read"],
                "rate_limit": {"limit": limit, "period_seconds": 60}}),
    )
    .await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    (
        reply.str_field("key").to_owned(),
        reply.str_field("id").to_owned(),
    )
}

/// The server's (test) clock in Unix milliseconds.
fn now_ms(server: &TestServer) -> i64 {
    i64::try_from(server.clock.now().unix_timestamp_nanos() / 1_000_000).unwrap()
}

/// Forward-auth with `key` until refused; how many were allowed, and the slowest answer.
async fn allowed(server: &TestServer, key: &str) -> (u32, Duration) {
    let mut allowed = 0;
    let mut slowest = Duration::ZERO;
    loop {
        let started = Instant::now();
        let reply = forward_auth(server, Some(&api_key(key)), "GET", "/v1/payroll/x").await;
        slowest = slowest.max(started.elapsed());
        match reply.status {
            200 => allowed += 1,
            429 => {
                assert_eq!(reply.body["code"], "key_rate_limited", "{}", reply.text);
                return (allowed, slowest);
            }
            other => panic!("{other}: {}", reply.text),
        }
        assert!(allowed < 1000, "never refused");
    }
}

#[tokio::test]
async fn the_count_lives_in_redis_survives_an_outage_and_resumes() {
    let Some(url) = redis_url() else {
        announce("SKIPPED: KEYWARDEN_TEST_REDIS_URL is not set (rate limits shared through Redis)");
        return;
    };
    let upstream: SocketAddr = {
        let rest = url.trim_start_matches("redis://");
        let host_port = rest.split('/').next().unwrap();
        let host_port = host_port.rsplit('@').next().unwrap();
        tokio::net::lookup_host(host_port)
            .await
            .unwrap()
            .next()
            .unwrap()
    };
    let relay = Relay::start(upstream).await;
    let relay_url = relay.url();
    let server = TestServer::start_with(move |c| {
        c.redis_url = Some(SecretText(relay_url.clone()));
    })
    .await;
    let account = server.account("Acme").await;
    let (token, _) = server.sign_in(&account.admin_email).await;
    // Let the background connection come up.
    tokio::time::sleep(Duration::from_millis(200)).await;

    // Shared: Redis holds the count, and decides. An answer slower than the 5 ms budget (a
    // loaded machine) rightly leaves the decision to the local window for a second; such a
    // trial is run again after the pause, a few times at most.
    let local = "keywarden_rate_limit_decisions_total{by=\"local\"}";
    let shared = "keywarden_rate_limit_decisions_total{by=\"shared\"}";
    let mut trials = 0;
    loop {
        trials += 1;
        let (local_before, shared_before) =
            (metric(&server, local).await, metric(&server, shared).await);
        let (key, id) = limited(&server, &token, 5).await;
        assert_eq!(allowed(&server, &key).await.0, 5);
        if metric(&server, local).await > local_before && trials < 5 {
            server.advance(Span::seconds(2)).await;
            continue;
        }
        assert_eq!(shared_count(&url, &id, 60_000, now_ms(&server)).await, 5);
        assert_eq!(
            metric(&server, shared).await - shared_before,
            5,
            "the sixth was refused by the local window before any round trip"
        );
        break;
    }
    assert_eq!(
        metric(&server, "keywarden_rate_limit_redis_degraded").await,
        0
    );

    // Redis away: requests keep their answers from the local window, within the budget.
    relay.cut();
    let local_before = metric(&server, local).await;
    let (key, id) = limited(&server, &token, 3).await;
    let (count, slowest) = allowed(&server, &key).await;
    assert_eq!(count, 3, "the local window still holds the limit");
    assert!(
        slowest < Duration::from_millis(500),
        "an answer waited {slowest:?}"
    );
    assert_eq!(
        metric(&server, "keywarden_rate_limit_redis_degraded").await,
        1
    );
    assert_eq!(metric(&server, local).await - local_before, 3);
    assert_eq!(shared_count(&url, &id, 60_000, now_ms(&server)).await, 0);

    // Redis back: after the pause, the next requests reconnect and share the count again.
    relay.restore().await;
    let (key, id) = limited(&server, &token, 100).await;
    let started = Instant::now();
    loop {
        server.advance(Span::seconds(1)).await;
        let reply = forward_auth(&server, Some(&api_key(&key)), "GET", "/v1/payroll/x").await;
        assert_eq!(reply.status, 200, "{}", reply.text);
        if metric(&server, "keywarden_rate_limit_redis_degraded").await == 0 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "Redis never came back"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        shared_count(&url, &id, 60_000, now_ms(&server)).await,
        1,
        "the request that found Redis back was counted there"
    );
}
