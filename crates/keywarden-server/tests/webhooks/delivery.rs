//! Key changes made through the API arrive at a real receiver once each, signed, with the
//! right type and key, within 2 s; failed attempts are retried with the same `webhook-id`;
//! both signatures are sent during a secret's 24-hour overlap; private targets are refused
//! unless allowed; `/metrics` counts it all.

use crate::support::{
    Receiver, admin_token, attempts, call, create_key, endpoint, percentile, rotate_secret, server,
    settle, signatures_verified_by, wait_for_attempts,
};
use keywarden_core::Clock;
use keywarden_core::store::DeliveryState;
use keywarden_testkit::{TestServer, announce};
use reqwest::Method;
use serde_json::json;
use std::collections::HashSet;
use std::time::{Duration, Instant};

async fn metrics(server: &TestServer) -> String {
    server
        .http
        .get(server.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

fn metric(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .unwrap_or_else(|| panic!("no {series} in {text}"))
        .parse()
        .unwrap()
}

#[tokio::test]
async fn create_update_rotate_revoke_each_arrive_once_signed_within_two_seconds() {
    let server = server().await;
    let account = server.account_with("Acme", false).await;
    let token = admin_token(&server, &account.admin_email).await;
    // Events from before the endpoint existed are fanned out (to no one) first.
    server.state.webhooks.run_once().await.unwrap();
    let receiver = Receiver::start(&[]).await;
    let (endpoint_id, secret) = endpoint(&server, account.id, &receiver.url).await;

    let started = Instant::now();
    let (key_id, created) = create_key(&server, &token, "payroll sync").await;
    let secret_text = created["key"].as_str().unwrap().to_owned();
    let arrived = receiver
        .wait_for(1, |r| r.event_type() == "key.created")
        .await;
    assert_eq!(arrived[0].key_id(), key_id);
    let first_latency = arrived[0].at - started;

    let path = format!("/v1/api-keys/{key_id}/");
    let (status, _) = call(
        &server,
        &token,
        Method::PATCH,
        &path,
        Some(json!({ "label": "payroll sync v2" })),
    )
    .await;
    assert_eq!(status, 200);
    let updated = receiver
        .wait_for(1, |r| r.event_type() == "key.updated")
        .await;
    assert_eq!(updated[0].key_id(), key_id);
    assert_eq!(updated[0].json["data"]["key"]["label"], "payroll sync v2");

    let (status, rotated) = call(
        &server,
        &token,
        Method::POST,
        &format!("/v1/api-keys/{key_id}/rotate/"),
        Some(json!({})),
    )
    .await;
    assert_eq!(status, 200, "{rotated}");
    let successor = rotated["id"].as_str().unwrap().to_owned();
    let successor_secret = rotated["key"].as_str().unwrap().to_owned();
    let rotation = receiver
        .wait_for(1, |r| r.event_type() == "key.rotated")
        .await;
    assert!(
        [key_id.as_str(), successor.as_str()].contains(&rotation[0].key_id()),
        "{}",
        rotation[0].json
    );

    let (status, _) = call(
        &server,
        &token,
        Method::DELETE,
        &format!("/v1/api-keys/{successor}/"),
        None,
    )
    .await;
    assert_eq!(status, 200);
    let revoked = receiver
        .wait_for(1, |r| r.event_type() == "key.revoked")
        .await;
    assert_eq!(revoked[0].key_id(), successor);
    assert_eq!(revoked[0].json["data"]["key"]["status"], "revoked");

    // Nothing more comes: each event once.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let all = receiver.received();
    let types: Vec<&str> = all.iter().map(|r| r.event_type()).collect();
    assert_eq!(
        types,
        vec!["key.created", "key.updated", "key.rotated", "key.revoked"]
    );
    let ids: HashSet<&str> = all.iter().map(|r| r.header("webhook-id")).collect();
    assert_eq!(ids.len(), 4, "one webhook-id per event");
    for r in &all {
        assert_eq!(
            signatures_verified_by(r, &secret),
            vec![true],
            "{:?}",
            r.headers
        );
        assert_eq!(r.header("content-type"), "application/json");
        assert_eq!(
            r.header("webhook-timestamp"),
            server.clock.now().unix_timestamp().to_string()
        );
        let data = &r.json["data"];
        assert_eq!(data["account_id"], account.id.to_string());
        assert_eq!(data["actor"]["type"], "user");
        assert_eq!(data["actor"]["email"], account.admin_email);
        assert!(data["actor"]["id"].is_string());
        assert!(data["detail"].is_string());
        assert!(r.json["timestamp"].as_str().unwrap().ends_with('Z'));
        let body = String::from_utf8_lossy(&r.body);
        for secret in [&secret_text, &successor_secret] {
            assert!(!body.contains(&secret[8..40]), "a key secret in {body}");
        }
        assert!(
            !body.contains(&secret.reveal()[6..]),
            "the endpoint secret in {body}"
        );
    }
    let logged = attempts(&server, account.id, endpoint_id).await;
    assert_eq!(logged.len(), 4);
    assert!(logged.iter().all(|a| a.attempt.status == Some(204)
        && a.attempt.number == 1
        && a.delivery.state == DeliveryState::Delivered));

    let text = metrics(&server).await;
    assert_eq!(
        metric(
            &text,
            "keywarden_webhook_deliveries_total{outcome=\"delivered\"}"
        ),
        4.0
    );
    assert_eq!(
        metric(
            &text,
            "keywarden_webhook_deliveries_total{outcome=\"retried\"}"
        ),
        0.0
    );
    assert!(text.contains("keywarden_webhook_queue_depth "));
    assert!(text.contains("keywarden_webhook_oldest_undelivered_seconds "));
    announce(&format!(
        "webhooks: 4 key events delivered once each, signatures verified; first arrived {first_latency:?} after the request was sent"
    ));
    server.stop().await;
}

#[tokio::test]
async fn a_failing_receiver_gets_the_same_event_again_until_it_answers_2xx() {
    let server = server().await;
    let account = server.account_with("Acme", false).await;
    let token = admin_token(&server, &account.admin_email).await;
    server.state.webhooks.run_once().await.unwrap();
    let receiver = Receiver::start(&[500, 500]).await;
    let (endpoint_id, secret) = endpoint(&server, account.id, &receiver.url).await;

    let (key_id, _) = create_key(&server, &token, "flaky").await;
    receiver.wait_for(1, |_| true).await;
    let first = wait_for_attempts(&server, account.id, endpoint_id, 1).await;
    let due = first[0].delivery.next_attempt_at.unwrap();
    let wait = due - first[0].attempt.at;
    assert!(
        wait >= time::Duration::seconds(4) && wait < time::Duration::seconds(10),
        "first retry after {wait}"
    );
    // Not before it is due.
    server.clock.advance(time::Duration::seconds(3));
    server.state.webhooks.run_once().await.unwrap();
    assert_eq!(receiver.received().len(), 1);

    server.clock.advance(time::Duration::seconds(7));
    receiver.wait_for(2, |_| true).await;
    wait_for_attempts(&server, account.id, endpoint_id, 2).await;
    server.clock.advance(time::Duration::minutes(2));
    let all = receiver.wait_for(3, |_| true).await;
    let logged = wait_for_attempts(&server, account.id, endpoint_id, 3).await;

    assert_eq!(
        all.iter().map(|r| r.answered).collect::<Vec<_>>(),
        vec![500, 500, 204]
    );
    let ids: HashSet<&str> = all.iter().map(|r| r.header("webhook-id")).collect();
    assert_eq!(ids.len(), 1, "the same webhook-id on every attempt");
    assert!(all.iter().all(|r| r.key_id() == key_id));
    let stamps: Vec<i64> = all
        .iter()
        .map(|r| r.header("webhook-timestamp").parse().unwrap())
        .collect();
    assert!(stamps.windows(2).all(|w| w[0] < w[1]), "{stamps:?}");
    for r in &all {
        assert_eq!(signatures_verified_by(r, &secret), vec![true]);
    }
    assert_eq!(
        logged
            .iter()
            .map(|a| (a.attempt.number, a.attempt.status))
            .collect::<Vec<_>>(),
        vec![(1, Some(500)), (2, Some(500)), (3, Some(204))]
    );
    let last = &logged[2].delivery;
    assert_eq!((last.attempts, last.state), (3, DeliveryState::Delivered));

    let text = metrics(&server).await;
    assert_eq!(
        metric(
            &text,
            "keywarden_webhook_deliveries_total{outcome=\"retried\"}"
        ),
        2.0
    );
    assert_eq!(
        metric(
            &text,
            "keywarden_webhook_deliveries_total{outcome=\"delivered\"}"
        ),
        1.0
    );
    announce("webhooks: 500, 500, then 204: delivered on the third attempt, one webhook-id");
    server.stop().await;
}

#[tokio::test]
async fn both_signatures_are_sent_for_a_day_after_a_secret_rotation_then_only_the_new() {
    let server = server().await;
    let account = server.account_with("Acme", false).await;
    let token = admin_token(&server, &account.admin_email).await;
    server.state.webhooks.run_once().await.unwrap();
    let receiver = Receiver::start(&[]).await;
    let (endpoint_id, old) = endpoint(&server, account.id, &receiver.url).await;

    create_key(&server, &token, "before").await;
    let before = receiver.wait_for(1, |_| true).await;
    assert_eq!(signatures_verified_by(&before[0], &old), vec![true]);

    let new = rotate_secret(&server, account.id, endpoint_id).await;
    create_key(&server, &token, "during").await;
    let during = receiver.wait_for(2, |_| true).await;
    assert_eq!(signatures_verified_by(&during[1], &new), vec![true, false]);
    assert_eq!(signatures_verified_by(&during[1], &old), vec![false, true]);

    settle(&server).await;
    server.advance(time::Duration::hours(24)).await;
    let token = admin_token(&server, &account.admin_email).await;
    create_key(&server, &token, "after").await;
    let after = receiver.wait_for(3, |_| true).await;
    assert_eq!(signatures_verified_by(&after[2], &new), vec![true]);
    assert_eq!(signatures_verified_by(&after[2], &old), vec![false]);
    server.stop().await;
}

#[tokio::test]
async fn a_private_target_is_refused_without_allow_private_targets() {
    let server = TestServer::start_with(|c| c.webhooks.poll_interval_ms = 20).await;
    let account = server.account_with("Acme", false).await;
    let token = admin_token(&server, &account.admin_email).await;
    server.state.webhooks.run_once().await.unwrap();
    let receiver = Receiver::start(&[]).await;
    // Inserted past the API's URL check, as if the address had changed since.
    let (literal, _) = endpoint(&server, account.id, &receiver.url).await;
    let by_name = receiver.url.replace("127.0.0.1", "localhost");
    let (named, _) = endpoint(&server, account.id, &by_name).await;

    create_key(&server, &token, "x").await;
    for endpoint_id in [literal, named] {
        let logged = wait_for_attempts(&server, account.id, endpoint_id, 1).await;
        let attempt = &logged[0].attempt;
        assert_eq!(attempt.status, None);
        let error = attempt.error.as_deref().unwrap_or_default();
        assert!(
            error.contains("private") && !error.contains("/hooks/keywarden"),
            "{error}"
        );
        announce(&format!("webhooks: private target refused: {error}"));
        assert_eq!(logged[0].delivery.state, DeliveryState::Pending);
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        receiver.received().is_empty(),
        "a private target was called"
    );
    server.stop().await;
}

#[tokio::test]
async fn commit_to_delivery_latency_on_a_healthy_receiver() {
    // The default poll interval, as deployed.
    let server = TestServer::start_with(|c| c.webhooks.allow_private_targets = true).await;
    let account = server.account_with("Acme", false).await;
    let token = admin_token(&server, &account.admin_email).await;
    server.state.webhooks.run_once().await.unwrap();
    let receiver = Receiver::start(&[]).await;
    endpoint(&server, account.id, &receiver.url).await;
    let (key_id, _) = create_key(&server, &token, "latency").await;
    receiver.wait_for(1, |_| true).await;

    const EVENTS: usize = 40;
    let path = format!("/v1/api-keys/{key_id}/");
    let mut latencies = Vec::with_capacity(EVENTS);
    for i in 0..EVENTS {
        // Changes at varied moments of the poll cycle, not right after each round.
        tokio::time::sleep(Duration::from_millis((i as u64 * 37) % 250)).await;
        // From the request (the change commits before its answer, and the delivery may
        // arrive before the answer does).
        let sent = Instant::now();
        let (status, _) = call(
            &server,
            &token,
            Method::PATCH,
            &path,
            Some(json!({ "label": format!("latency {i}") })),
        )
        .await;
        assert_eq!(status, 200);
        let label = format!("latency {i}");
        let arrived = receiver
            .wait_for(1, |r| r.json["data"]["key"]["label"] == label.as_str())
            .await;
        latencies.push(arrived[0].at.saturating_duration_since(sent));
    }
    latencies.sort();
    let (p50, p99) = (percentile(&latencies, 50), percentile(&latencies, 99));
    announce(&format!(
        "webhooks: change-to-delivery latency (request sent to body received) over {EVENTS} events, poll interval 250 ms: p50 {p50:?}, p99 {p99:?}, max {:?}",
        latencies[EVENTS - 1]
    ));
    assert!(p99 < Duration::from_secs(2), "p99 {p99:?}");
    server.stop().await;
}
