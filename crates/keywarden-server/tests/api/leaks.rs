//! Leak reports (SPEC §8), end to end over HTTP: GitHub's secret scanning reports signed with a
//! P-256 key pair made here, exactly as GitHub's partner program sends them (the raw body, its
//! DER signature in base64, the key's identifier), and texts pasted by admins and developers.
//! A leaked key is revoked at once (or only reported under `notify`), refused by the key checks,
//! shows `leaked_at` and `leak_url`, and leaves a `key.leaked` audit event and webhook. Every
//! refused report changes nothing, and no answer reveals another account's key.

use crate::support::{
    Reply, assert_key_works, create_key, delete, forbidden, get, key_id_of, not_provided, patch,
    post, restricted_key, rfc3339, send, unknown_key, webhook_receiver,
};
use axum::Router;
use axum::routing::get as get_route;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use keywarden_core::audit::Action;
use keywarden_core::ids::AccountId;
use keywarden_core::key_format::{KeyKind, Mode};
use keywarden_core::key_record::KeyRecord;
use keywarden_core::store::KeyFilter;
use keywarden_testkit::{TestServer, role};
use p256::ecdsa::signature::Signer;
use p256::ecdsa::{Signature, SigningKey};
use p256::elliptic_curve::Generate;
use p256::pkcs8::{EncodePublicKey, LineEnding};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::sync::{Arc, Mutex};
use time::Duration;

const REPORTS: &str = "/v1/leaks/github/";
const PASTE: &str = "/v1/leaks/";
const LEAK_URL: &str = "https://github.com/acme/app/blob/3f2a1c9/.env";
/// The token type a partner registers with GitHub.
const TOKEN_TYPE: &str = "keywarden_api_key";

/// GitHub's side: key pairs with their identifiers, as GitHub publishes the public halves.
struct GitHub {
    keys: Vec<(String, SigningKey)>,
}

impl GitHub {
    fn new(ids: &[&str]) -> Self {
        Self {
            keys: ids
                .iter()
                .map(|id| ((*id).to_owned(), SigningKey::generate()))
                .collect(),
        }
    }

    /// The public keys document, in the shape of GitHub's `meta/public_keys/secret_scanning`.
    fn document(&self) -> String {
        let keys: Vec<Value> = self
            .keys
            .iter()
            .enumerate()
            .map(|(i, (id, key))| {
                json!({
                    "key_identifier": id,
                    "key": key.verifying_key().to_public_key_pem(LineEnding::LF).unwrap(),
                    "is_current": i == 0,
                })
            })
            .collect();
        json!({ "public_keys": keys }).to_string()
    }

    fn key(&self, id: &str) -> &SigningKey {
        &self.keys.iter().find(|(k, _)| k == id).unwrap().1
    }

    /// `Github-Public-Key-Signature`: the base64 of the DER ECDSA signature of `body`.
    fn sign(&self, id: &str, body: &[u8]) -> String {
        let signature: Signature = self.key(id).sign(body);
        STANDARD.encode(signature.to_der().as_bytes())
    }
}

/// A server whose GitHub public keys are `github`'s, from a file; webhooks may reach loopback.
async fn server_trusting(github: &GitHub) -> TestServer {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("github-keys.json");
    std::fs::write(&path, github.document()).unwrap();
    TestServer::start_with(move |config| {
        config.leaks.github_public_keys_file = Some(path);
        config.webhooks.allow_private_targets = true;
    })
    .await
}

/// POSTs `body` as GitHub does, with the headers given.
async fn report_raw(
    server: &TestServer,
    body: impl Into<reqwest::Body>,
    key_id: Option<&str>,
    signature: Option<&str>,
) -> Reply {
    let mut request = server
        .http
        .post(server.url(REPORTS))
        .header("Content-Type", "application/json")
        .header("User-Agent", "GitHub-Secret-Scanning")
        .body(body);
    if let Some(id) = key_id {
        request = request.header("Github-Public-Key-Identifier", id);
    }
    if let Some(signature) = signature {
        request = request.header("Github-Public-Key-Signature", signature);
    }
    send(request).await
}

/// A report of `body`, signed with GitHub's key `key_id`.
async fn report(server: &TestServer, github: &GitHub, key_id: &str, body: &str) -> Reply {
    let signature = github.sign(key_id, body.as_bytes());
    report_raw(server, body.to_owned(), Some(key_id), Some(&signature)).await
}

/// A report body of one match per token, found at `url`.
fn matches(tokens: &[&str], url: &str) -> String {
    let items: Vec<Value> = tokens
        .iter()
        .map(|t| json!({ "token": t, "type": TOKEN_TYPE, "url": url, "source": "content" }))
        .collect();
    Value::Array(items).to_string()
}

fn token_hash(token: &str) -> String {
    Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn label(token: &str, label: &str) -> Value {
    json!({ "token_hash": token_hash(token), "token_type": TOKEN_TYPE, "label": label })
}

/// What `POST /v1/verify/` answers for a key revoked at `at`.
fn revoked_since(at: time::OffsetDateTime) -> Value {
    json!({
        "valid": false,
        "code": "key_revoked",
        "detail": "This API key has been revoked. Use another key, or create a new one in the console.",
        "stopped_at": rfc3339(at),
    })
}

/// `POST /v1/verify/` of `key`.
async fn verify(server: &TestServer, key: &str) -> Value {
    send(
        server
            .http
            .post(server.url("/v1/verify/"))
            .json(&json!({ "key": key })),
    )
    .await
    .body
}

/// Every key of the accounts and how many audit events each has: what a refused report must
/// leave as it was.
async fn state_of(server: &TestServer, accounts: &[AccountId]) -> Vec<(Vec<KeyRecord>, usize)> {
    let store = server.service().store();
    let mut state = Vec::new();
    for &account in accounts {
        let keys = store
            .keys_of_account(account, &KeyFilter::default())
            .await
            .unwrap();
        let events = store.audit_events(account, 100_000).await.unwrap().len();
        state.push((keys, events));
    }
    state
}

/// The account's audit events about leaks and revocations, oldest first, as (action, actor
/// label, detail).
async fn leak_trail(server: &TestServer, account: AccountId) -> Vec<(Action, String, String)> {
    let mut events = server
        .service()
        .store()
        .audit_events(account, 1000)
        .await
        .unwrap();
    events.sort_by_key(|e| (e.at, e.id));
    events
        .into_iter()
        .filter(|e| matches!(e.action, Action::KeyLeaked | Action::KeyRevoked))
        .map(|e| (e.action, e.actor.label, e.detail))
        .collect()
}

#[tokio::test]
async fn a_signed_report_revokes_the_keys_of_any_account_and_labels_every_match() {
    let github = GitHub::new(&["k1"]);
    let server = server_trusting(&github).await;
    let acme = server.account("Acme").await;
    let globex = server.account("Globex").await;
    let (admin, _) = server.sign_in(&acme.admin_email).await;
    let (hook, received) = webhook_receiver().await;
    let added = post(
        &server,
        &admin,
        "/v1/webhook-endpoints/",
        &json!({ "url": hook, "events": ["key.leaked"] }),
    )
    .await;
    assert_eq!(added.status, 201, "{}", added.text);
    let (leaked, created) =
        create_key(&server, &admin, "payroll sync", "live", &["payroll:read"]).await;
    let id = key_id_of(&created);
    assert_eq!(verify(&server, &leaked).await["valid"], true);
    let unknown = unknown_key(KeyKind::Restricted, Mode::Live);
    server.advance(Duration::minutes(5)).await;
    let now = server.service().clock().now();

    let tokens = [
        leaked.as_str(),
        globex.test_key.as_str(),
        unknown.as_str(),
        "rk_live_notakeyatall",
    ];
    let reply = report(&server, &github, "k1", &matches(&tokens, LEAK_URL)).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert!(
        reply
            .header("content-type")
            .is_some_and(|c| c.starts_with("application/json"))
    );
    reply.assert_body(&json!([
        label(&leaked, "true_positive"),
        label(&globex.test_key, "true_positive"),
        label(&unknown, "false_positive"),
        label("rk_live_notakeyatall", "false_positive"),
    ]));

    // Revoked at once: the key checks refuse it on the very next request.
    assert_eq!(verify(&server, &leaked).await, revoked_since(now));
    assert_eq!(
        verify(&server, &globex.test_key).await["code"],
        "key_revoked"
    );
    let reply = get(&server, &admin, &format!("/v1/api-keys/{id}/")).await;
    assert_eq!(reply.body["status"], "revoked", "{}", reply.text);
    assert_eq!(reply.body["revoked_at"], rfc3339(now));
    assert_eq!(reply.body["leaked_at"], rfc3339(now));
    assert_eq!(reply.body["leak_url"], LEAK_URL);
    let hint = reply.str_field("hint").to_owned();

    // The audit trail: GitHub's report, by the system, from GitHub's address and agent.
    assert_eq!(
        leak_trail(&server, acme.id).await,
        [
            (
                Action::KeyLeaked,
                "keywarden (system)".to_owned(),
                format!(
                    "key {hint} was reported leaked by GitHub secret scanning (content) at {LEAK_URL} and revoked"
                )
            ),
            (
                Action::KeyRevoked,
                "keywarden (system)".to_owned(),
                format!("revoked {hint}: reported leaked")
            ),
        ]
    );
    let events = server
        .service()
        .store()
        .audit_events(acme.id, 100)
        .await
        .unwrap();
    let leak_event = events
        .iter()
        .find(|e| e.action == Action::KeyLeaked)
        .unwrap();
    assert_eq!(leak_event.actor.ip.as_deref(), Some("127.0.0.1"));
    assert_eq!(
        leak_event.actor.user_agent.as_deref(),
        Some("GitHub-Secret-Scanning")
    );
    assert_eq!(leak_trail(&server, globex.id).await.len(), 2);

    // The key.leaked webhook reaches the account's endpoint with the key as it now stands.
    let mut delivered = None;
    for _ in 0..100 {
        if let Some(body) = received.lock().unwrap().first().cloned() {
            delivered = Some(body);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let delivered = delivered.expect("a key.leaked delivery within 10 s");
    assert_eq!(delivered["type"], "key.leaked");
    assert_eq!(delivered["data"]["key"]["id"], id.to_string());
    assert_eq!(delivered["data"]["key"]["status"], "revoked");
    assert_eq!(delivered["data"]["key"]["leak_url"], LEAK_URL);
    assert_eq!(delivered["data"]["key"]["leaked_at"], rfc3339(now));
    assert_eq!(delivered["data"]["actor"], json!({ "type": "system" }));
    assert!(!delivered.to_string().contains(&leaked[8..40]), "no secret");
}

#[tokio::test]
async fn every_bad_report_is_refused_and_changes_nothing() {
    let github = GitHub::new(&["k1", "k2"]);
    let server = server_trusting(&github).await;
    let acme = server.account("Acme").await;
    let accounts = [acme.id];
    let body = matches(&[&acme.live_key], LEAK_URL);
    let signature = github.sign("k1", body.as_bytes());
    let before = state_of(&server, &accounts).await;
    let unsigned = |header: &str| {
        json!({
            "detail": format!("The report is not signed: send the {header} header of GitHub's secret scanning partner program."),
            "code": "signature_invalid",
        })
    };
    let bad_signature = json!({
        "detail": "The signature does not match the report: it was not made by this key over these exact bytes.",
        "code": "signature_invalid",
    });
    let unknown_key = json!({
        "detail": "The report is signed with a key this Keywarden does not know (Github-Public-Key-Identifier). Its operator configures GitHub's public keys.",
        "code": "signature_invalid",
    });
    let malformed = json!({
        "detail": "Github-Public-Key-Signature is not the base64 of a DER-encoded ECDSA P-256 signature.",
        "code": "signature_invalid",
    });

    // Unsigned, half signed.
    let reply = report_raw(&server, body.clone(), None, None).await;
    reply
        .assert_error(401)
        .assert_body(&unsigned("Github-Public-Key-Identifier"));
    assert_eq!(
        reply.header("www-authenticate"),
        Some(r#"Github-Public-Key-Signature realm="keywarden-leaks""#)
    );
    report_raw(&server, body.clone(), Some("k1"), None)
        .await
        .assert_error(401)
        .assert_body(&unsigned("Github-Public-Key-Signature"));
    // The body changed after signing: one byte flipped.
    let mut changed = body.clone().into_bytes();
    let at = changed.len() / 2;
    changed[at] ^= 0x01;
    report_raw(&server, changed, Some("k1"), Some(&signature))
        .await
        .assert_error(401)
        .assert_body(&bad_signature);
    // The signature changed: its last byte (still a well-formed DER signature).
    let mut der = STANDARD.decode(&signature).unwrap();
    *der.last_mut().unwrap() ^= 0x01;
    report_raw(
        &server,
        body.clone(),
        Some("k1"),
        Some(&STANDARD.encode(&der)),
    )
    .await
    .assert_error(401)
    .assert_body(&bad_signature);
    // Signed by k1 but said to be by k2 (another key GitHub publishes), or by an unknown key.
    report_raw(&server, body.clone(), Some("k2"), Some(&signature))
        .await
        .assert_error(401)
        .assert_body(&bad_signature);
    report_raw(&server, body.clone(), Some("k3"), Some(&signature))
        .await
        .assert_error(401)
        .assert_body(&unknown_key);
    for garbage in ["not base64 at all", "AAAA", &STANDARD.encode(b"0\x02\x01")] {
        report_raw(&server, body.clone(), Some("k1"), Some(garbage))
            .await
            .assert_error(401)
            .assert_body(&malformed);
    }

    // Signed, but not a report.
    let shape = |why: &str| {
        json!({
            "detail": format!("The request body is not valid JSON for this endpoint: send a JSON array of matches, each {{\"token\", \"type\", \"url\", \"source\"}}: {why}"),
            "code": "malformed_body",
        })
    };
    report(&server, &github, "k1", "[]")
        .await
        .assert_error(400)
        .assert_body(&json!({
            "detail": "The request body is not valid JSON for this endpoint: the report holds no match: send a non-empty JSON array of {\"token\", \"type\", \"url\", \"source\"}",
            "code": "malformed_body",
        }));
    report(&server, &github, "k1", "token=sk_live_x")
        .await
        .assert_error(400)
        .assert_body(&shape("expected ident at line 1 column 2"));
    report(
        &server,
        &github,
        "k1",
        &format!("{{\"token\": \"{}\"}}", acme.live_key),
    )
    .await
    .assert_error(400)
    .assert_body(&shape(
        "invalid type: map, expected a sequence at line 1 column 0",
    ));
    report(&server, &github, "k1", "[{\"token\": 42}]")
        .await
        .assert_error(400)
        .assert_body(&shape(
            "invalid type: integer `42`, expected a string at line 1 column 13",
        ));

    // 10,000 matches, as GitHub would send them: 1.1 MB, over the 1 MiB a report may be.
    let many = |n: usize| matches(&vec![acme.live_key.as_str(); n], LEAK_URL);
    let ten_thousand = many(10_000);
    assert!(ten_thousand.len() > 1024 * 1024, "{}", ten_thousand.len());
    report(&server, &github, "k1", &ten_thousand)
        .await
        .assert_error(413)
        .assert_body(&json!({
            "detail": "The request body is too large. Send a smaller body.",
            "code": "payload_too_large",
        }));
    // Within the bytes, one match more than a report may hold.
    report(&server, &github, "k1", &many(1_001))
        .await
        .assert_error(413)
        .assert_body(&json!({
            "detail": "A report holds at most 1000 matches; this one has 1001. Send it in parts.",
            "code": "payload_too_large",
        }));

    assert_eq!(
        state_of(&server, &accounts).await,
        before,
        "nothing changed"
    );
    assert_key_works(&server, &acme.live_key).await;
    // And the very report, signed as it was, does what it should.
    let reply = report_raw(&server, body, Some("k1"), Some(&signature)).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    reply.assert_body(&json!([label(&acme.live_key, "true_positive")]));
}

#[tokio::test]
async fn a_report_of_a_revoked_key_changes_nothing_but_is_recorded() {
    let github = GitHub::new(&["k1"]);
    let server = server_trusting(&github).await;
    let acme = server.account("Acme").await;
    let (admin, _) = server.sign_in(&acme.admin_email).await;
    let (key, created) = create_key(&server, &admin, "old export", "test", &["asset:read"]).await;
    let id = key_id_of(&created);
    let revoked = delete(&server, &admin, &format!("/v1/api-keys/{id}/")).await;
    assert_eq!(revoked.status, 200, "{}", revoked.text);
    let hint = revoked.str_field("hint").to_owned();
    let before = state_of(&server, &[acme.id]).await.remove(0).0;
    server.advance(Duration::minutes(1)).await;

    // Twice in one report: both matches are true positives, both are recorded.
    let reply = report(&server, &github, "k1", &matches(&[&key, &key], LEAK_URL)).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    reply.assert_body(&json!([
        label(&key, "true_positive"),
        label(&key, "true_positive")
    ]));
    assert_eq!(state_of(&server, &[acme.id]).await.remove(0).0, before);
    let shown = get(&server, &admin, &format!("/v1/api-keys/{id}/")).await;
    assert_eq!(shown.body["leaked_at"], Value::Null);
    assert_eq!(shown.body["leak_url"], Value::Null);
    let already = format!(
        "key {hint} was reported leaked by GitHub secret scanning (content) at {LEAK_URL}; it was already revoked, so nothing changed"
    );
    let trail = leak_trail(&server, acme.id).await;
    assert_eq!(
        trail[1..],
        [
            (
                Action::KeyLeaked,
                "keywarden (system)".to_owned(),
                already.clone()
            ),
            (Action::KeyLeaked, "keywarden (system)".to_owned(), already),
        ]
    );
}

#[tokio::test]
async fn under_notify_a_leaked_key_keeps_working_and_is_marked() {
    let github = GitHub::new(&["k1"]);
    let server = server_trusting(&github).await;
    let acme = server.account("Acme").await;
    let (admin, _) = server.sign_in(&acme.admin_email).await;
    let reply = patch(
        &server,
        &admin,
        "/v1/account/",
        &json!({ "leak_action": "notify" }),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let now = server.service().clock().now();

    let reply = report(&server, &github, "k1", &matches(&[&acme.live_key], "")).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    reply.assert_body(&json!([label(&acme.live_key, "true_positive")]));
    assert_key_works(&server, &acme.live_key).await;
    assert_eq!(verify(&server, &acme.live_key).await["valid"], true);
    let keys = get(&server, &admin, "/v1/auth/api-keys/").await;
    let live = &keys.body["live"];
    assert_eq!(live["status"], "active", "{live}");
    assert_eq!(live["leaked_at"], rfc3339(now));
    assert_eq!(live["leak_url"], Value::Null, "the report had no URL");
    let hint = live["hint"].as_str().unwrap();
    assert_eq!(
        leak_trail(&server, acme.id).await,
        [(
            Action::KeyLeaked,
            "keywarden (system)".to_owned(),
            format!(
                "key {hint} was reported leaked by GitHub secret scanning (content); the account's leak action is notify, so it still works: rotate or revoke it"
            )
        )]
    );

    // A later report with a URL fills it in; the first report's time stays.
    server.advance(Duration::hours(1)).await;
    let reply = report(
        &server,
        &github,
        "k1",
        &matches(&[&acme.live_key], LEAK_URL),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let (admin, _) = server.sign_in(&acme.admin_email).await;
    let keys = get(&server, &admin, "/v1/auth/api-keys/").await;
    assert_eq!(keys.body["live"]["leaked_at"], rfc3339(now));
    assert_eq!(keys.body["live"]["leak_url"], LEAK_URL);
    assert_key_works(&server, &acme.live_key).await;
}

#[tokio::test]
async fn a_pasted_text_revokes_the_callers_keys_and_only_counts_the_others() {
    let server = TestServer::start().await;
    let acme = server.account("Acme").await;
    let globex = server.account("Globex").await;
    let developer = server
        .user(acme.id, "dev@acme.test", role("developer"))
        .await;
    let (token, _) = server.sign_in(&developer).await;
    let (own, created) = create_key(&server, &token, "ci deploy", "test", &["asset:read"]).await;
    let id = key_id_of(&created);
    let hint = created.str_field("hint").to_owned();
    let (other, _) = restricted_key(&server, globex.id, Mode::Live, &["payroll:read"], None).await;
    let globex_before = state_of(&server, &[globex.id]).await;
    let unknown = unknown_key(KeyKind::Standard, Mode::Live);
    let mut damaged = own.clone();
    damaged.replace_range(20..21, if &own[20..21] == "A" { "B" } else { "A" });
    let text = format!(
        "2026-06-01 12:00:01 deploy: KEYWARDEN_KEY={own}\n\
         curl -H 'Authorization: Api-Key {other}' https://api.example.com/\n\
         also {unknown}, a typo {damaged}, and {own} again"
    );

    let reply = post(&server, &token, PASTE, &json!({ "text": text })).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    reply.assert_json().assert_body(&json!({
        "leaked": [{
            "id": id.to_string(),
            "hint": hint,
            "label": "ci deploy",
            "status": "revoked",
            "revoked": true,
        }],
        "other_accounts": 1,
        "not_found": 1,
    }));
    assert!(
        !reply.text.contains(&other[..12]),
        "nothing of Globex's key"
    );

    assert_eq!(
        verify(&server, &own).await,
        revoked_since(server.service().clock().now())
    );
    let shown = get(&server, &token, &format!("/v1/api-keys/{id}/")).await;
    assert_eq!(shown.body["status"], "revoked");
    assert_eq!(
        shown.body["leaked_at"],
        rfc3339(server.service().clock().now())
    );
    assert_eq!(shown.body["leak_url"], Value::Null);
    assert_eq!(
        leak_trail(&server, acme.id).await,
        [
            (
                Action::KeyLeaked,
                "dev@acme.test".to_owned(),
                format!("key {hint} was found in a text pasted by dev@acme.test and revoked")
            ),
            (
                Action::KeyRevoked,
                "dev@acme.test".to_owned(),
                format!("revoked {hint}: reported leaked")
            ),
        ]
    );
    // Globex's key: not revealed, not revoked, not even recorded in its trail.
    assert_eq!(verify(&server, &other).await["valid"], true);
    assert_eq!(state_of(&server, &[globex.id]).await, globex_before);

    // Pasting it again: still listed, revoked before, and recorded.
    let again = post(&server, &token, PASTE, &json!({ "text": own })).await;
    assert_eq!(again.body["leaked"][0]["revoked"], true, "{}", again.text);
    assert_eq!(leak_trail(&server, acme.id).await.len(), 3);
}

#[tokio::test]
async fn pasting_under_notify_reports_without_revoking() {
    let server = TestServer::start().await;
    let acme = server.account("Acme").await;
    let (admin, _) = server.sign_in(&acme.admin_email).await;
    patch(
        &server,
        &admin,
        "/v1/account/",
        &json!({ "leak_action": "notify" }),
    )
    .await;
    let reply = post(
        &server,
        &admin,
        PASTE,
        &json!({ "text": format!("key: {}", acme.test_key) }),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(
        reply.body["leaked"][0]["status"], "active",
        "{}",
        reply.text
    );
    assert_eq!(reply.body["leaked"][0]["revoked"], false);
    assert_key_works(&server, &acme.test_key).await;
}

#[tokio::test]
async fn only_admins_and_developers_may_paste_and_bad_pastes_change_nothing() {
    let server = TestServer::start().await;
    let acme = server.account("Acme").await;
    let member = server.user(acme.id, "mia@acme.test", role("member")).await;
    let (member_token, _) = server.sign_in(&member).await;
    let (admin, _) = server.sign_in(&acme.admin_email).await;
    let before = state_of(&server, &[acme.id]).await;
    let text = json!({ "text": acme.live_key });

    post(&server, &member_token, PASTE, &text)
        .await
        .assert_error(403)
        .assert_body(&forbidden());
    send(server.http.post(server.url(PASTE)).json(&text))
        .await
        .assert_error(401)
        .assert_body(&not_provided());
    let reply = post(&server, &admin, PASTE, &json!({ "text": "  \n" })).await;
    crate::support::assert_invalid_field(&reply, "text");
    let reply = post(&server, &admin, PASTE, &json!({ "txt": acme.live_key })).await;
    assert_eq!(reply.status, 400, "{}", reply.text);
    // 1 MiB of text and a key: too much to take in one paste.
    let long = format!("{}{}", "x".repeat(1024 * 1024), acme.live_key);
    post(&server, &admin, PASTE, &json!({ "text": long }))
        .await
        .assert_error(413)
        .assert_body(&json!({
            "detail": "A pasted text may be at most 1 MiB; this one is 1048622 bytes. Paste it in parts.",
            "code": "payload_too_large",
        }));
    let huge = format!("{}{}", "x".repeat(3 * 1024 * 1024), acme.live_key);
    post(&server, &admin, PASTE, &json!({ "text": huge }))
        .await
        .assert_error(413);
    assert_eq!(state_of(&server, &[acme.id]).await, before);
    assert_key_works(&server, &acme.live_key).await;

    // Text without keys: nothing found, nothing changed.
    let reply = post(&server, &admin, PASTE, &json!({ "text": "all quiet" })).await;
    reply.assert_body(&json!({ "leaked": [], "other_accounts": 0, "not_found": 0 }));
    assert_eq!(state_of(&server, &[acme.id]).await, before);
}

#[tokio::test]
async fn public_keys_from_a_url_are_fetched_daily_and_the_last_good_set_is_kept() {
    // GitHub's key endpoint, played on loopback: what it answers and how often it is asked.
    let first = GitHub::new(&["k1"]);
    let rotated = GitHub::new(&["k2"]);
    let answer = Arc::new(Mutex::new((200u16, first.document())));
    let hits = Arc::new(Mutex::new(0u32));
    let app = {
        let (answer, hits) = (answer.clone(), hits.clone());
        Router::new().route(
            "/meta/public_keys/secret_scanning",
            get_route(move || {
                let (answer, hits) = (answer.clone(), hits.clone());
                async move {
                    *hits.lock().unwrap() += 1;
                    let (status, body) = answer.lock().unwrap().clone();
                    (axum::http::StatusCode::from_u16(status).unwrap(), body)
                }
            }),
        )
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!(
        "http://{}/meta/public_keys/secret_scanning",
        listener.local_addr().unwrap()
    );
    tokio::spawn(async move { axum::serve(listener, app).await });
    let server = TestServer::start_with(|config| {
        config.leaks.github_public_keys_url = Some(url);
    })
    .await;
    let acme = server.account("Acme").await;
    let body = matches(&[&unknown_key(KeyKind::Standard, Mode::Test)], "");
    let fetched = || *hits.lock().unwrap();

    assert_eq!(fetched(), 0, "nothing is fetched before a report comes");
    assert_eq!(report(&server, &first, "k1", &body).await.status, 200);
    assert_eq!(report(&server, &first, "k1", &body).await.status, 200);
    assert_eq!(fetched(), 1, "the set is kept for a day");

    // A day later the URL fails: the last good set still verifies.
    *answer.lock().unwrap() = (500, "down".into());
    server.advance(Duration::days(1)).await;
    assert_eq!(report(&server, &first, "k1", &body).await.status, 200);
    assert_eq!(fetched(), 2);

    // GitHub rotates to k2. Right after a failed fetch no other is tried (10 minutes apart).
    *answer.lock().unwrap() = (200, rotated.document());
    report(&server, &rotated, "k2", &body)
        .await
        .assert_error(401);
    assert_eq!(fetched(), 2);
    server.advance(Duration::minutes(10)).await;
    assert_eq!(report(&server, &rotated, "k2", &body).await.status, 200);
    assert_eq!(fetched(), 3);
    // k1 is gone from the set; made-up key identifiers cannot make Keywarden fetch again.
    for id in ["k1", "nope", "k9"] {
        report_raw(
            &server,
            body.clone(),
            Some(id),
            Some(&rotated.sign("k2", body.as_bytes())),
        )
        .await
        .assert_error(401);
    }
    assert_eq!(fetched(), 3);
    assert_key_works(&server, &acme.live_key).await;
}

#[tokio::test]
async fn reports_are_refused_when_no_public_keys_are_configured() {
    let github = GitHub::new(&["k1"]);
    let server = TestServer::start().await;
    let acme = server.account("Acme").await;
    let reply = report(&server, &github, "k1", &matches(&[&acme.live_key], "")).await;
    reply.assert_error(401).assert_body(&json!({
        "detail": "This Keywarden takes no GitHub leak reports: its operator has set neither leaks.github_public_keys_file nor leaks.github_public_keys_url.",
        "code": "signature_invalid",
    }));
    assert_key_works(&server, &acme.live_key).await;
}

#[tokio::test]
async fn a_public_key_file_without_a_usable_key_stops_the_server() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keys.json");
    std::fs::write(&path, r#"{"public_keys": []}"#).unwrap();
    let config = keywarden_server::config::Config {
        data_dir: dir.path().join("data"),
        leaks: keywarden_server::config::LeaksConfig {
            github_public_keys_file: Some(path.clone()),
            github_public_keys_url: None,
        },
        ..Default::default()
    };
    let clock = Arc::new(keywarden_core::ManualClock::new(
        time::macros::datetime!(2026-06-01 12:00 UTC),
    ));
    let (service, secret) =
        keywarden_server::startup::open_service(&config, clock, Arc::new(keywarden_core::OsRandom))
            .await
            .unwrap();
    let error = keywarden_server::startup::build_state(config, service, &secret)
        .await
        .expect_err("the server does not start")
        .to_string();
    assert!(
        error.contains("keys.json") && error.contains("no P-256 public key"),
        "{error}"
    );
}
