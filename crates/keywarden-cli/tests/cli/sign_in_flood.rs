//! 1,000 concurrent wrong sign-ins against the real binary, from one address and from 1,000:
//! the failure limit holds (attempts are counted when they start), resident memory stays under
//! 150 MB during and after the flood (argon2 runs on a fixed set of workers with their own
//! memory), a full queue answers a JSON 503 with `Retry-After`, and the real user, retrying as
//! told, signs in.

use super::{PASSWORD, Server, create_account, serve};
use keywarden_testkit::announce;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

const FLOOD: usize = 1_000;
const RSS_LIMIT_KB: u64 = 150 * 1024;

fn rss_kb(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// Samples the server's RSS every 20 ms until stopped; returns the highest.
fn sample_rss(pid: u32, stop: Arc<AtomicBool>) -> tokio::task::JoinHandle<u64> {
    let peak = Arc::new(AtomicU64::new(0));
    tokio::spawn(async move {
        while !stop.load(Ordering::Relaxed) {
            peak.fetch_max(rss_kb(pid), Ordering::Relaxed);
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        peak.load(Ordering::Relaxed)
    })
}

/// Signs the real user in, waiting `Retry-After` whenever the answer is 503; the time it took
/// and the 503s it was given.
async fn real_user_signs_in(http: &reqwest::Client, base: &str) -> (Duration, usize) {
    let started = Instant::now();
    let mut busy = 0;
    loop {
        let reply = http
            .post(format!("{base}/v1/auth/token/"))
            .header("X-Forwarded-For", "192.0.2.200")
            .json(&json!({ "email": "ada@example.com", "password": PASSWORD }))
            .send()
            .await
            .unwrap();
        let status = reply.status().as_u16();
        if status == 200 {
            return (started.elapsed(), busy);
        }
        assert_eq!(status, 503, "the real user got {status}");
        busy += 1;
        let wait: u64 = reply.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the real user was not served within 30 s"
        );
        tokio::time::sleep(Duration::from_secs(wait)).await;
    }
}

/// Fires the flood (attempt `i` for an unknown email, from `address(i)`: a header value, no
/// traffic leaves the machine) with the real user in the middle;
/// returns the answers by status (the real user's 503s included), the peak RSS and how long
/// the real user took.
async fn flood(
    server: &Server,
    address: impl Fn(usize) -> String,
) -> (BTreeMap<u16, usize>, u64, Duration) {
    let pid = server.child.id().unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let sampler = sample_rss(pid, stop.clone());
    let http = keywarden_testkit::http_client_builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    let attempts: Vec<_> = (0..FLOOD)
        .map(|i| {
            let request = http
                .post(format!("{}/v1/auth/token/", server.base))
                .header("X-Forwarded-For", address(i))
                .json(
                    &json!({ "email": format!("guess{i}@example.com"), "password": "wrong guess" }),
                );
            tokio::spawn(async move {
                let reply = request.send().await.unwrap();
                let status = reply.status().as_u16();
                let retry_after = reply.headers().get("retry-after").is_some();
                let body: Value = reply.json().await.unwrap();
                (status, retry_after, body)
            })
        })
        .collect();
    let (real_user, busy) = real_user_signs_in(&http, &server.base).await;
    let mut answers = BTreeMap::new();
    if busy > 0 {
        answers.insert(503, busy);
    }
    for attempt in attempts {
        let (status, retry_after, body) = attempt.await.unwrap();
        *answers.entry(status).or_insert(0) += 1;
        let expected = match status {
            401 => "invalid_credentials",
            429 => "rate_limited",
            503 => "busy",
            other => panic!("a flood attempt got {other}: {body}"),
        };
        assert_eq!(body["code"], expected, "{body}");
        assert!(status == 401 || retry_after, "{status} without Retry-After");
    }
    stop.store(true, Ordering::Relaxed);
    let peak = sampler.await.unwrap();
    (answers, peak, real_user)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_concurrent_wrong_sign_ins_keep_memory_bounded_and_the_limit_exact() {
    let dir = tempfile::tempdir().unwrap();
    create_account(dir.path(), "ada@example.com", &[]);
    let server = serve(dir.path(), &[]).await;
    let pid = server.child.id().unwrap();
    let idle = rss_kb(pid);

    // From one address: exactly the limit (20) is evaluated, whatever the concurrency.
    let (one, peak_one, user_one) = flood(&server, |_| "198.51.100.7".into()).await;
    let after_one = rss_kb(pid);
    // From 1,000 addresses: each may try, so the password workers' queue is what bounds them.
    let (many, peak_many, user_many) = flood(&server, |i| format!("2001:db8::{i:x}")).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let after_many = rss_kb(pid);

    announce(&format!(
        "sign-in flood of {FLOOD}: RSS idle {} MB; from 1 address {one:?}, peak {} MB, after {} MB, \
         real user in {} ms; from {FLOOD} addresses {many:?}, peak {} MB, after {} MB, real user in {} ms",
        idle / 1024,
        peak_one / 1024,
        after_one / 1024,
        user_one.as_millis(),
        peak_many / 1024,
        after_many / 1024,
        user_many.as_millis(),
    ));
    let evaluated = one.get(&401).copied().unwrap_or(0);
    assert!(
        evaluated <= 20,
        "{evaluated} wrong sign-ins from one address were evaluated: the limit is 20"
    );
    assert!(one.get(&429).copied().unwrap_or(0) > FLOOD / 2, "{one:?}");
    assert!(
        many.get(&503).copied().unwrap_or(0) > 0,
        "a full queue answers 503: {many:?}"
    );
    for (what, kb) in [
        ("peak, one address", peak_one),
        ("after, one address", after_one),
        ("peak, many addresses", peak_many),
        ("after, many addresses", after_many),
    ] {
        assert!(kb > 0, "RSS was read");
        assert!(
            kb < RSS_LIMIT_KB,
            "{what}: resident memory {} MB is over 150 MB",
            kb / 1024
        );
    }
    let refused = super::metric(&server.base, "keywarden_password_checks_refused_total").await;
    let busy = one.get(&503).copied().unwrap_or(0) + many.get(&503).copied().unwrap_or(0);
    assert_eq!(refused, busy as u64, "/metrics counts every 503");
    let (status, _) = server.terminate().await;
    assert!(status.success());
}
