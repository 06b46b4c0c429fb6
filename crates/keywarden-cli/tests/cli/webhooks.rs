//! Webhook delivery against the real binary (SPEC §7): an event committed with its change
//! reaches the receiver even when the server is killed before sending it, and two instances
//! on one PostgreSQL database send each event once. The receiver runs in the test, on
//! loopback (so private targets are allowed), and records every POST it answers.

use super::{PASSWORD, create_acme, json_of, metric, serve};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use keywarden_testkit::{PostgresDatabase, announce};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const SECRET: &str = "webhook-delivery-test-secret-0123456789abcdef";

/// One POST the receiver answered.
#[derive(Clone, Debug)]
struct Arrival {
    webhook_id: String,
    event_type: String,
    key_id: String,
}

#[derive(Default)]
struct Inbox {
    /// POSTs answered 204, in order of arrival.
    delivered: Vec<Arrival>,
    /// POSTs answered 503, or held unanswered, before the receiver was accepting.
    refused: Vec<Arrival>,
}

/// Refusing: 503 at once.
const REFUSE: u8 = 0;
/// Holding: no answer until the mode changes (then 503), as a receiver that hangs.
const HOLD: u8 = 1;
/// Accepting: 204.
const ACCEPT: u8 = 2;

struct ReceiverState {
    mode: AtomicU8,
    inbox: Mutex<Inbox>,
}

/// A webhook receiver on 127.0.0.1 that answers as its mode says.
struct Receiver {
    url: String,
    state: Arc<ReceiverState>,
}

async fn receive(
    State(state): State<Arc<ReceiverState>>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let payload: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let arrival = Arrival {
        webhook_id: headers
            .get("webhook-id")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned(),
        event_type: payload["type"].as_str().unwrap_or_default().to_owned(),
        key_id: payload["data"]["key"]["id"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
    };
    // Decide and record under one lock, so a change of mode cannot split the two.
    let mode = {
        let mut inbox = state.inbox.lock().unwrap();
        let mode = state.mode.load(Ordering::SeqCst);
        if mode == ACCEPT {
            inbox.delivered.push(arrival);
        } else {
            inbox.refused.push(arrival);
        }
        mode
    };
    match mode {
        ACCEPT => StatusCode::NO_CONTENT,
        HOLD => {
            while state.mode.load(Ordering::SeqCst) == HOLD {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            StatusCode::SERVICE_UNAVAILABLE
        }
        _ => StatusCode::SERVICE_UNAVAILABLE,
    }
}

impl Receiver {
    async fn start(mode: u8) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(ReceiverState {
            mode: AtomicU8::new(mode),
            inbox: Mutex::new(Inbox::default()),
        });
        let app = axum::Router::new()
            .route("/hooks", axum::routing::post(receive))
            .with_state(state.clone());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self {
            url: format!("http://{addr}/hooks"),
            state,
        }
    }

    fn set(&self, mode: u8) {
        let _inbox = self.state.inbox.lock().unwrap();
        self.state.mode.store(mode, Ordering::SeqCst);
    }

    fn delivered(&self) -> Vec<Arrival> {
        self.state.inbox.lock().unwrap().delivered.clone()
    }

    fn refused(&self) -> Vec<Arrival> {
        self.state.inbox.lock().unwrap().refused.clone()
    }

    /// Polls until `done` holds for what was delivered; how long that took.
    async fn until(&self, limit: Duration, done: impl Fn(&[Arrival]) -> bool) -> Duration {
        let started = Instant::now();
        loop {
            if done(&self.delivered()) {
                return started.elapsed();
            }
            assert!(
                started.elapsed() < limit,
                "still waiting after {limit:?}: {} delivered, {} refused",
                self.delivered().len(),
                self.refused().len()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

async fn sign_in(http: &reqwest::Client, base: &str) -> String {
    let reply: Value = json_of(
        http.post(format!("{base}/v1/auth/token/"))
            .json(&json!({ "email": "ada@example.com", "password": PASSWORD })),
    )
    .await;
    reply["access"].as_str().expect("signed in").to_owned()
}

/// Adds an endpoint for `events` at `url`; its id.
async fn add_endpoint(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    url: &str,
    events: &[&str],
) -> String {
    let reply = http
        .post(format!("{base}/v1/webhook-endpoints/"))
        .bearer_auth(token)
        .json(&json!({ "url": url, "events": events, "description": "test receiver" }))
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 201);
    let body: Value = reply.json().await.unwrap();
    assert!(
        body["secret"].as_str().unwrap().starts_with("whsec_"),
        "{body}"
    );
    body["id"].as_str().unwrap().to_owned()
}

/// Creates a key (acknowledged with 201); its id.
async fn create_key(http: &reqwest::Client, base: &str, token: &str, label: &str) -> String {
    let reply = http
        .post(format!("{base}/v1/api-keys/"))
        .bearer_auth(token)
        .json(&json!({ "label": label, "type": "test", "scopes": ["payroll:read"] }))
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 201);
    let body: Value = reply.json().await.unwrap();
    body["id"].as_str().unwrap().to_owned()
}

async fn revoke_key(http: &reqwest::Client, base: &str, token: &str, id: &str) {
    let reply = http
        .delete(format!("{base}/v1/api-keys/{id}/"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 200);
}

/// Every attempt in `endpoint`'s delivery log, all pages.
async fn delivery_log(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    endpoint: &str,
) -> Vec<Value> {
    let mut attempts = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut url = format!("{base}/v1/webhook-endpoints/{endpoint}/deliveries/?limit=100");
        if let Some(cursor) = &cursor {
            url.push_str(&format!("&cursor={cursor}"));
        }
        let page: Value = json_of(http.get(url).bearer_auth(token)).await;
        attempts.extend(
            page["results"]
                .as_array()
                .unwrap_or_else(|| panic!("{page}"))
                .iter()
                .cloned(),
        );
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => return attempts,
        }
    }
}

/// The deliveries of `endpoint` recorded as delivered (distinct delivery ids).
async fn recorded_delivered(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    endpoint: &str,
) -> usize {
    let log = delivery_log(http, base, token, endpoint).await;
    let mut ids: Vec<&str> = log
        .iter()
        .filter(|a| a["state"] == "delivered" && a["status"] == 204)
        .map(|a| a["id"].as_str().unwrap())
        .collect();
    ids.sort_unstable();
    ids.dedup();
    ids.len()
}

/// `keywarden_webhook_deliveries_total{outcome="delivered"}` of the server at `base`.
async fn delivered_metric(base: &str) -> u64 {
    metric(
        base,
        "keywarden_webhook_deliveries_total{outcome=\"delivered\"}",
    )
    .await
}

/// A config file with a short lease (the shortest allowed) and a quick poll; its name.
fn write_config(dir: &Path) -> &'static str {
    std::fs::write(
        dir.join("webhooks.toml"),
        "[webhooks]\nlease_secs = 20\npoll_interval_ms = 50\n",
    )
    .unwrap();
    "webhooks.toml"
}

/// When the first instance is killed, relative to the event.
#[derive(Clone, Copy, Debug)]
enum Moment {
    /// As soon as the key's creation is acknowledged.
    AtOnce,
    /// Once the receiver has answered an attempt with 503: the retry is due within 10 s.
    AfterARefusal,
    /// While the receiver holds an attempt unanswered: the claim ends after its 20 s lease.
    MidSend,
}

/// An event committed with its key is delivered after SIGKILL and restart, whenever the kill
/// comes: before the event was sent (the receiver refuses until the instance is dead, so
/// nothing is delivered before the kill), after a refused attempt, or in the middle of one.
/// The restarted instance sends it — the same event, once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delivery_survives_kill_9_between_commit_and_delivery() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path());
    let env = [
        ("KEYWARDEN_CONFIG", config),
        ("KEYWARDEN_WEBHOOKS_ALLOW_PRIVATE_TARGETS", "true"),
    ];
    create_acme(dir.path(), &env, &["--without-keys"]);
    let receiver = Receiver::start(REFUSE).await;
    let http = keywarden_testkit::http_client();
    let mut endpoint = None;
    let mut figures = Vec::new();
    for (round, moment) in [Moment::AtOnce, Moment::AfterARefusal, Moment::MidSend]
        .into_iter()
        .enumerate()
    {
        receiver.set(match moment {
            Moment::MidSend => HOLD,
            Moment::AtOnce | Moment::AfterARefusal => REFUSE,
        });
        let mut server = serve(dir.path(), &env).await;
        let token = sign_in(&http, &server.base).await;
        let endpoint = match &endpoint {
            Some(id) => String::clone(id),
            None => {
                let id = add_endpoint(&http, &server.base, &token, &receiver.url, &["key.created"])
                    .await;
                endpoint.insert(id).clone()
            }
        };
        let key = create_key(&http, &server.base, &token, &format!("crash {round}")).await;
        let attempted = || receiver.refused().iter().any(|r| r.key_id == key);
        if !matches!(moment, Moment::AtOnce) {
            let started = Instant::now();
            while !attempted() {
                assert!(
                    started.elapsed() < Duration::from_secs(30),
                    "no attempt before the kill ({moment:?})"
                );
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
        server.child.start_kill().unwrap();
        server.child.wait().await.unwrap();
        let attempted_before = attempted();

        let server = serve(dir.path(), &env).await;
        let restarted = Instant::now();
        receiver.set(ACCEPT);
        // A lease taken before the kill ends within 20 s; a retry after a 503 is due within
        // 10 s of it.
        receiver
            .until(Duration::from_secs(90), |got| {
                got.iter().any(|a| a.key_id == key)
            })
            .await;
        let took = restarted.elapsed();
        let token = sign_in(&http, &server.base).await;
        // Once recorded as delivered it is never claimed again; let any stray send land.
        let started = Instant::now();
        while recorded_delivered(&http, &server.base, &token, &endpoint).await < round + 1 {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "the delivery was never recorded as delivered"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        tokio::time::sleep(Duration::from_secs(2)).await;

        let delivered = receiver.delivered();
        assert_eq!(
            delivered.len(),
            round + 1,
            "each event delivered exactly once: {delivered:?}"
        );
        let arrival = delivered.iter().find(|a| a.key_id == key).unwrap();
        assert_eq!(arrival.event_type, "key.created");
        // The same event as the attempts refused before the kill, and as the log's.
        let refused: Vec<Arrival> = receiver
            .refused()
            .into_iter()
            .filter(|r| r.key_id == key)
            .collect();
        assert!(
            refused.iter().all(|r| r.webhook_id == arrival.webhook_id),
            "{refused:?} vs {arrival:?}"
        );
        let log = delivery_log(&http, &server.base, &token, &endpoint).await;
        assert_eq!(
            log.iter()
                .filter(|a| a["event_id"] == arrival.webhook_id.as_str() && a["status"] == 204)
                .count(),
            1,
            "{log:?}"
        );
        assert_eq!(delivered_metric(&server.base).await, 1);
        figures.push(format!(
            "{moment:?}: {:.1} s ({} attempt(s) turned away first{})",
            took.as_secs_f64(),
            refused.len(),
            if attempted_before {
                ""
            } else {
                ", none before the kill"
            }
        ));
        let (status, _) = server.terminate().await;
        assert!(status.success());
    }
    announce(&format!(
        "webhooks after kill -9: each key.created delivered once, this long after the restart: {}",
        figures.join("; ")
    ));
}

/// Two instances on one database, 100 keys created and revoked through them in turn: each of
/// the 200 events reaches the receiver once, whichever instance sends it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_deliver_each_event_exactly_once() {
    let Some(admin_url) = PostgresDatabase::server_url() else {
        return;
    };
    let database = PostgresDatabase::create(&admin_url).await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path());
    let env = [
        ("KEYWARDEN_CONFIG", config),
        ("KEYWARDEN_DATABASE_URL", database.url.as_str()),
        ("KEYWARDEN_SECRET", SECRET),
        ("KEYWARDEN_WEBHOOKS_ALLOW_PRIVATE_TARGETS", "true"),
    ];
    create_acme(dir.path(), &env, &["--without-keys"]);
    let receiver = Receiver::start(ACCEPT).await;
    let a = serve(dir.path(), &env).await;
    let b = serve(dir.path(), &env).await;
    let http = keywarden_testkit::http_client();
    let token = sign_in(&http, &a.base).await;
    let endpoint = add_endpoint(
        &http,
        &b.base,
        &token,
        &receiver.url,
        &["key.created", "key.revoked"],
    )
    .await;

    const KEYS: usize = 100;
    const EVENTS: usize = 2 * KEYS;
    let started = Instant::now();
    let mut keys = Vec::with_capacity(KEYS);
    for n in 0..KEYS {
        let (here, there) = if n % 2 == 0 { (&a, &b) } else { (&b, &a) };
        let id = create_key(&http, &here.base, &token, &format!("fan-out {n}")).await;
        revoke_key(&http, &there.base, &token, &id).await;
        keys.push(id);
    }
    let committed = started.elapsed();
    receiver
        .until(Duration::from_secs(180), |got| {
            let mut ids: Vec<&str> = got.iter().map(|a| a.webhook_id.as_str()).collect();
            ids.sort_unstable();
            ids.dedup();
            ids.len() >= EVENTS
        })
        .await;
    let elapsed = started.elapsed();
    // Every delivery recorded as delivered, so none is claimed again; let any stray send land.
    let waited = Instant::now();
    while recorded_delivered(&http, &a.base, &token, &endpoint).await < EVENTS {
        assert!(
            waited.elapsed() < Duration::from_secs(60),
            "not every delivery was recorded as delivered"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;

    let delivered = receiver.delivered();
    let mut times: BTreeMap<&str, usize> = BTreeMap::new();
    for arrival in &delivered {
        *times.entry(arrival.webhook_id.as_str()).or_default() += 1;
    }
    let duplicates: Vec<(&&str, &usize)> = times.iter().filter(|(_, n)| **n > 1).collect();
    assert!(
        duplicates.is_empty(),
        "delivered more than once: {duplicates:?}"
    );
    assert_eq!(times.len(), EVENTS);
    assert_eq!(delivered.len(), EVENTS);
    for key in &keys {
        for kind in ["key.created", "key.revoked"] {
            let n = delivered
                .iter()
                .filter(|d| d.key_id == *key && d.event_type == kind)
                .count();
            assert_eq!(n, 1, "{kind} of {key}");
        }
    }
    let (by_a, by_b) = (
        delivered_metric(&a.base).await,
        delivered_metric(&b.base).await,
    );
    assert_eq!(by_a + by_b, EVENTS as u64, "A sent {by_a}, B sent {by_b}");
    announce(&format!(
        "webhooks on two instances: {}/{EVENTS} events delivered, 0 duplicates, A sent {by_a} \
         and B {by_b}; changes committed in {:.1} s, all delivered {:.1} s after the first change",
        times.len(),
        committed.as_secs_f64(),
        elapsed.as_secs_f64()
    ));
    let (status_a, _) = a.terminate().await;
    let (status_b, _) = b.terminate().await;
    assert!(status_a.success() && status_b.success());
}
