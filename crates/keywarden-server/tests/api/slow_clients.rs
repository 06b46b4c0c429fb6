//! Slow and idle clients: a connection that does not finish its headers, or stays idle between
//! requests, is closed after `limits.header_read_timeout_secs`; 2,000 such connections leave
//! ordinary requests answered as fast as before; past `limits.max_connections` a new
//! connection is closed at once; and a request whose body never comes does not hold the
//! shutdown past `limits.shutdown_grace_secs`.

use crate::support::api_key;
use keywarden_testkit::{TestServer, announce};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

fn address(server: &TestServer) -> String {
    server.url("").trim_start_matches("http://").to_owned()
}

/// Latencies of `n` forward-auth requests made one after the other, sorted.
async fn latencies(server: &TestServer, key: &str, n: usize) -> Vec<Duration> {
    let http = keywarden_testkit::http_client();
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let started = Instant::now();
        let status = http
            .get(server.url("/v1/forward-auth/"))
            .header("Authorization", api_key(key))
            .send()
            .await
            .unwrap()
            .status();
        out.push(started.elapsed());
        assert_eq!(status, 200);
    }
    out.sort();
    out
}

fn p99(sorted: &[Duration]) -> Duration {
    sorted[sorted.len() * 99 / 100]
}

/// Whether the server closed `stream` (read gives EOF or an error) within `within`.
async fn closed_within(stream: &mut TcpStream, within: Duration) -> bool {
    let mut byte = [0u8; 512];
    loop {
        match tokio::time::timeout(within, stream.read(&mut byte)).await {
            Err(_) => return false,
            Ok(Ok(0) | Err(_)) => return true,
            // A response (a timeout answer): keep reading to the close.
            Ok(Ok(_)) => {}
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_thousand_slow_connections_leave_ordinary_requests_fast_and_are_closed() {
    const SLOW: usize = 2_000;
    let server = TestServer::start_with(|c| c.limits.header_read_timeout_secs = 2).await;
    let account = server.account("Acme").await;
    let before = latencies(&server, &account.live_key, 200).await;

    let addr = address(&server);
    let mut slow = Vec::with_capacity(SLOW);
    for i in 0..SLOW {
        let mut stream = TcpStream::connect(&addr).await.unwrap();
        if i % 2 == 0 {
            // Half-sent headers (slowloris); the other half idle, nothing sent.
            stream
                .write_all(b"GET /v1/forward-auth/ HTTP/1.1\r\nHost: x\r\nX-Slow: ")
                .await
                .unwrap();
        }
        slow.push(stream);
    }
    let opened = Instant::now();
    let during = latencies(&server, &account.live_key, 200).await;
    announce(&format!(
        "slow clients: p50/p99 of forward-auth {:?}/{:?} alone, {:?}/{:?} beside {SLOW} slow connections",
        before[100],
        p99(&before),
        during[100],
        p99(&during)
    ));
    assert!(
        p99(&during) <= p99(&before) * 5 + Duration::from_millis(20),
        "ordinary requests slowed down: {:?} → {:?}",
        p99(&before),
        p99(&during)
    );
    // Every slow connection is closed by the server once its headers are overdue.
    let mut still_open = 0;
    for stream in &mut slow {
        let left = Duration::from_secs(6).saturating_sub(opened.elapsed());
        if !closed_within(stream, left.max(Duration::from_millis(10))).await {
            still_open += 1;
        }
    }
    assert_eq!(
        still_open, 0,
        "slow connections outlived the header timeout"
    );
}

#[tokio::test]
async fn past_the_connection_cap_a_new_connection_is_closed_at_once() {
    let server = TestServer::start_with(|c| {
        c.limits.max_connections = 20;
        c.limits.header_read_timeout_secs = 1;
    })
    .await;
    let addr = address(&server);
    let mut held = Vec::new();
    for _ in 0..20 {
        held.push(TcpStream::connect(&addr).await.unwrap());
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut extra = TcpStream::connect(&addr).await.unwrap();
    assert!(
        closed_within(&mut extra, Duration::from_millis(500)).await,
        "the 21st connection was kept"
    );
    // Once the idle ones time out, requests get through again.
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let refused = crate::support::metric(&server, "keywarden_connections_refused_total").await;
    assert!(refused >= 1, "{refused} connections refused");
}

#[tokio::test]
async fn a_request_whose_body_never_comes_does_not_hold_the_shutdown() {
    let server = TestServer::start_with(|c| c.limits.shutdown_grace_secs = 1).await;
    let mut stream = TcpStream::connect(address(&server)).await.unwrap();
    stream
        .write_all(
            b"POST /v1/verify/ HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
              Content-Length: 100\r\n\r\n{\"key\": ",
        )
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let started = Instant::now();
    tokio::time::timeout(Duration::from_secs(5), server.stop())
        .await
        .expect("the server stopped within 5 s");
    let took = started.elapsed();
    announce(&format!(
        "shutdown with a request stuck in its body: {} ms (grace 1 s)",
        took.as_millis()
    ));
    assert!(
        took >= Duration::from_millis(900),
        "the grace was not given: {took:?}"
    );
    assert!(took < Duration::from_secs(3), "{took:?}");
}
