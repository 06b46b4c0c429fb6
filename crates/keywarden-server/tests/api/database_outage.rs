//! PostgreSQL goes away under a running server (a TCP proxy between them is cut: every open
//! connection dropped, new ones refused) and comes back. While it is away, everything that
//! needs the database answers a JSON 503 with `Retry-After` — never a 500 — and verification
//! answers from the key table until the table is older than its maximum age, then 503 too.
//! When it is back, everything recovers by itself. Needs `KEYWARDEN_TEST_POSTGRES_URL`
//! (skipped loudly without it).

use crate::support::{api_key, forward_auth};
use keywarden_testkit::{PostgresDatabase, TestServer, announce};
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// A TCP proxy on loopback that can be cut and restored.
struct Proxy {
    address: SocketAddr,
    cut: Arc<AtomicBool>,
    links: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

impl Proxy {
    async fn to(upstream: String) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let cut = Arc::new(AtomicBool::new(false));
        let links: Arc<Mutex<Vec<JoinHandle<()>>>> = Arc::default();
        let (is_cut, all) = (cut.clone(), links.clone());
        tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                if is_cut.load(Ordering::SeqCst) {
                    drop(inbound);
                    continue;
                }
                let upstream = upstream.clone();
                all.lock().unwrap().push(tokio::spawn(async move {
                    if let Ok(mut outbound) = TcpStream::connect(upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                }));
            }
        });
        Self {
            address,
            cut,
            links,
        }
    }

    /// Drops every open connection and refuses new ones.
    fn cut(&self) {
        self.cut.store(true, Ordering::SeqCst);
        for link in self.links.lock().unwrap().drain(..) {
            link.abort();
        }
    }

    fn restore(&self) {
        self.cut.store(false, Ordering::SeqCst);
    }
}

async fn call(
    server: &TestServer,
    method: reqwest::Method,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (u16, Option<String>, Value) {
    let mut request = keywarden_testkit::http_client().request(method, server.url(path));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    let reply = request.send().await.unwrap();
    let status = reply.status().as_u16();
    let retry_after = reply
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_owned());
    let body = reply.json().await.unwrap_or(Value::Null);
    (status, retry_after, body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_database_away_every_answer_is_a_json_503_and_all_recovers() {
    let Some(admin_url) = PostgresDatabase::server_url() else {
        return;
    };
    let database = PostgresDatabase::create(&admin_url).await;
    // postgres://user@HOST:PORT/name → the same through the proxy.
    let (scheme_user, rest) = database.url.split_once('@').unwrap();
    let (upstream, name) = rest.split_once('/').unwrap();
    let proxy = Proxy::to(upstream.to_owned()).await;
    let proxied = format!("{scheme_user}@{}/{name}", proxy.address);
    let server = TestServer::start_with(|c| {
        c.database_url = Some(proxied);
        c.cache.listen = false;
    })
    .await;
    let account = server.account("Acme").await;
    let (token, _) = server.sign_in(&account.admin_email).await;
    let new_key = json!({ "label": "x", "type": "test", "scopes": ["asset:read"] });
    let sign_in = json!({ "email": account.admin_email, "password": keywarden_testkit::PASSWORD });

    proxy.cut();
    let started = Instant::now();
    let get = reqwest::Method::GET;
    let post = reqwest::Method::POST;
    for (what, method, path, token, body) in [
        ("readiness", get.clone(), "/readyz", None, None),
        (
            "sign-in",
            post.clone(),
            "/v1/auth/token/",
            None,
            Some(sign_in.clone()),
        ),
        (
            "list keys",
            get.clone(),
            "/v1/api-keys/",
            Some(token.as_str()),
            None,
        ),
        (
            "create a key",
            post.clone(),
            "/v1/api-keys/",
            Some(token.as_str()),
            Some(new_key.clone()),
        ),
        (
            "standard keys",
            get.clone(),
            "/v1/auth/api-keys/",
            Some(token.as_str()),
            None,
        ),
    ] {
        let (status, retry_after, body) = call(&server, method, path, token, body).await;
        assert_eq!(status, 503, "{what}: {body}");
        assert_eq!(body["code"], "unavailable", "{what}: {body}");
        assert_eq!(retry_after.as_deref(), Some("1"), "{what}");
    }
    let away = started.elapsed();
    // Verification answers from the table, until the table is older than its maximum age.
    let reply = forward_auth(&server, Some(&api_key(&account.live_key)), "GET", "/v1/x/").await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    server.advance_without_sync(time::Duration::seconds(61));
    let reply = forward_auth(&server, Some(&api_key(&account.live_key)), "GET", "/v1/x/").await;
    assert_eq!(reply.status, 503, "{}", reply.text);
    assert_eq!(reply.body["code"], "unavailable", "{}", reply.text);

    proxy.restore();
    let back = Instant::now();
    let mut recovered = None;
    for _ in 0..100 {
        let (status, _, _) = call(&server, get.clone(), "/readyz", None, None).await;
        if status == 200 {
            recovered = Some(back.elapsed());
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let recovered = recovered.expect("ready again within 10 s");
    let (status, _, body) = call(
        &server,
        post.clone(),
        "/v1/auth/token/",
        None,
        Some(sign_in),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (status, _, body) = call(
        &server,
        post,
        "/v1/api-keys/",
        Some(token.as_str()),
        Some(new_key),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let reply = forward_auth(&server, Some(&api_key(&account.live_key)), "GET", "/v1/x/").await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    announce(&format!(
        "database outage: five 503 answers in {} ms; ready again {} ms after it came back",
        away.as_millis(),
        recovered.as_millis()
    ));
    drop(server);
    drop(database);
}
