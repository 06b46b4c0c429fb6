//! Scheduled events with a moved clock: `key.expiring` 7 days and 1 day ahead, `key.expired`
//! and `key.rotation_due` are recorded once per key, however many scans (or instances) ask,
//! and each arrives once — on SQLite and, when `KEYWARDEN_TEST_POSTGRES_URL` is set, on
//! PostgreSQL.

use crate::support::{Receiver, admin_token, call, create_key, endpoint};
use keywarden_testkit::{PostgresDatabase, TestServer, announce};
use reqwest::Method;
use serde_json::json;
use std::time::Duration;
use time::Duration as Span;

const REMINDERS: [&str; 3] = ["key.expiring", "key.expired", "key.rotation_due"];

fn adjust(config: &mut keywarden_server::config::Config) {
    config.webhooks.allow_private_targets = true;
    // The test scans and delivers itself after moving the clock: a background round that
    // began before a move of several days would claim at the old time, its lease over at
    // once at the new one, and the next round would send the delivery again.
    config.webhooks.poll_interval_ms = 60_000;
    config.webhooks.reminder_interval_secs = 3600;
}

async fn reminders_fire_once_each(server: TestServer, backend: &str) {
    let account = server.account_with("Acme", false).await;
    let token = admin_token(&server, &account.admin_email).await;
    server.state.webhooks.run_once().await.unwrap();
    let receiver = Receiver::start(&[]).await;
    endpoint(&server, account.id, &receiver.url).await;

    // Now is 2026-06-01 12:00: one key expires in 10 days, one never.
    let (status, expiring) = call(
        &server,
        &token,
        Method::POST,
        "/v1/api-keys/",
        Some(json!({
            "label": "expiring", "type": "live", "scopes": ["payroll:read"],
            "expires_at": "2026-06-11T12:00:00Z",
        })),
    )
    .await;
    assert_eq!(status, 201, "{expiring}");
    let expiring = expiring["id"].as_str().unwrap().to_owned();
    let (lasting, _) = create_key(&server, &token, "lasting").await;
    let worker = &server.state.webhooks;
    worker.run_once().await.unwrap();
    assert_eq!(worker.scan_reminders().await.unwrap(), 0);

    let reminders = |r: &crate::support::Received| REMINDERS.contains(&r.event_type());
    // (clock moved to, reminders then due, what arrives)
    let steps = [
        (
            Span::days(3) + Span::hours(1),
            "key expiring in 7 days",
            &expiring,
        ),
        (Span::days(6), "key expiring in 1 day", &expiring),
        (Span::days(1), "key expired", &expiring),
        (Span::days(80), "key due for rotation", &lasting),
    ];
    for (i, (advance, what, key)) in steps.into_iter().enumerate() {
        server.advance(advance).await;
        // Two scans at once, as two instances would: one records it.
        let (a, b) = tokio::join!(worker.scan_reminders(), worker.scan_reminders());
        assert_eq!(a.unwrap() + b.unwrap(), 1, "{what}");
        assert_eq!(worker.scan_reminders().await.unwrap(), 0, "{what} again");
        worker.run_once().await.unwrap();
        let arrived = receiver.wait_for(i + 1, reminders).await;
        let last = &arrived[i];
        assert_eq!(last.key_id(), key.as_str(), "{what}: {}", last.json);
        assert_eq!(last.json["data"]["actor"], json!({"type": "system"}));
    }
    // Nothing more, however often it scans.
    server.advance(Span::days(30)).await;
    assert_eq!(worker.scan_reminders().await.unwrap(), 0);
    worker.run_once().await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let all: Vec<_> = receiver.received().into_iter().filter(reminders).collect();
    let seen: Vec<(&str, &str)> = all
        .iter()
        .map(|r| (r.event_type(), r.json["data"]["detail"].as_str().unwrap()))
        .collect();
    let ids: Vec<(&str, &str)> = all
        .iter()
        .map(|r| (r.header("webhook-id"), r.header("webhook-timestamp")))
        .collect();
    assert_eq!(seen.len(), 4, "{seen:#?} {ids:#?}");
    assert_eq!(
        seen.iter().map(|(t, _)| *t).collect::<Vec<_>>(),
        vec![
            "key.expiring",
            "key.expiring",
            "key.expired",
            "key.rotation_due"
        ]
    );
    assert!(
        seen[0].1.contains("7 days") && seen[1].1.contains("1 day"),
        "{seen:?}"
    );
    assert_eq!(all[2].json["data"]["key"]["status"], "expired");
    assert_eq!(all[3].json["data"]["key"]["rotation_due"], true);
    announce(&format!(
        "webhooks ({backend}): reminders 7d, 1d, expired, rotation_due recorded and delivered once each over 120 days of clock"
    ));
    server.stop().await;
}

#[tokio::test]
async fn reminders_fire_exactly_once_on_sqlite() {
    let server = TestServer::start_with(|c| {
        adjust(c);
        c.database_url = None;
    })
    .await;
    reminders_fire_once_each(server, "SQLite").await;
}

#[tokio::test]
async fn reminders_fire_exactly_once_on_postgres() {
    let Some(url) = PostgresDatabase::server_url() else {
        return;
    };
    let database = PostgresDatabase::create(&url).await;
    let server = TestServer::start_with(|c| {
        adjust(c);
        c.database_url = Some(database.url.clone());
    })
    .await;
    reminders_fire_once_each(server, "PostgreSQL").await;
    drop(database);
}
