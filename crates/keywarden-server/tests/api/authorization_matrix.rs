//! The authorization matrix (SPEC §4): every console endpoint × every kind of caller → the
//! exact answer. One row per cell; every failing cell is printed, not just the first.
//!
//! Callers: an admin, a developer and a member of Acme; an admin and a developer of Globex
//! (another account) acting on Acme's ids; no token; a garbage token; an access token 16
//! minutes old (the default lifetime is 15); a refresh token used as an access token; and an
//! API key sent as a Bearer token. Each cell gets fresh fixtures (a key, a user) where the
//! endpoint names one, and every refused cell must leave the stored state exactly as it was.

use crate::support::{
    Reply, call, forbidden, not_provided, restricted_key, test_delivery, token_not_valid,
    webhook_endpoint,
};
use keywarden_core::Clock;
use keywarden_core::account::{Account, User};
use keywarden_core::ids::AccountId;
use keywarden_core::key_format::Mode;
use keywarden_core::key_record::KeyRecord;
use keywarden_core::store::{AttemptResult, KeyFilter};
use keywarden_core::webhook::Endpoint as WebhookEndpoint;
use keywarden_testkit::{PASSWORD, TestServer, role};
use reqwest::Method;
use serde_json::{Value, json};
use time::Duration;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Who {
    Admin,
    Developer,
    Member,
    OtherAdmin,
    OtherDeveloper,
    NoToken,
    GarbageToken,
    ExpiredAccess,
    RefreshAsAccess,
    ApiKeyAsBearer,
}

const EVERYONE: [Who; 10] = [
    Who::Admin,
    Who::Developer,
    Who::Member,
    Who::OtherAdmin,
    Who::OtherDeveloper,
    Who::NoToken,
    Who::GarbageToken,
    Who::ExpiredAccess,
    Who::RefreshAsAccess,
    Who::ApiKeyAsBearer,
];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Endpoint {
    Me,
    StandardKeysGet,
    StandardKeysRotate,
    /// Listed before setup: with no setup pending, confirming is a 409 for every signed-in user.
    TwoFactorConfirm,
    TwoFactorSetup,
    /// Nobody in the matrix has 2FA on: turning it off is a 409 for every signed-in user.
    TwoFactorDisable,
    /// Likewise for new recovery codes.
    TwoFactorRecoveryCodes,
    KeysList,
    KeyCreate,
    KeyGet,
    KeyUpdate,
    KeyRotate,
    KeyRevoke,
    UsersList,
    UserCreate,
    UserUpdate,
    UserRemove,
    AccountGet,
    AccountUpdate,
    AccountPolicyViolations,
    Products,
    AuditEvents,
    WebhooksList,
    WebhookCreate,
    WebhookGet,
    WebhookUpdate,
    WebhookRotateSecret,
    WebhookTest,
    WebhookDeliveries,
    WebhookRemove,
    WebhookRetry,
    KeyUsage,
    KeyImpact,
    KeySuggestedScopes,
    AccountUsage,
    Explain,
    /// A text without keys: allowed cells change nothing either.
    LeakPaste,
}

const ENDPOINTS: [Endpoint; 37] = [
    Endpoint::Me,
    Endpoint::StandardKeysGet,
    Endpoint::StandardKeysRotate,
    Endpoint::TwoFactorConfirm,
    Endpoint::TwoFactorSetup,
    Endpoint::TwoFactorDisable,
    Endpoint::TwoFactorRecoveryCodes,
    Endpoint::KeysList,
    Endpoint::KeyCreate,
    Endpoint::KeyGet,
    Endpoint::KeyUpdate,
    Endpoint::KeyRotate,
    Endpoint::KeyRevoke,
    Endpoint::UsersList,
    Endpoint::UserCreate,
    Endpoint::UserUpdate,
    Endpoint::UserRemove,
    Endpoint::AccountGet,
    Endpoint::AccountUpdate,
    Endpoint::AccountPolicyViolations,
    Endpoint::Products,
    Endpoint::AuditEvents,
    Endpoint::WebhooksList,
    Endpoint::WebhookCreate,
    Endpoint::WebhookGet,
    Endpoint::WebhookUpdate,
    Endpoint::WebhookRotateSecret,
    Endpoint::WebhookTest,
    Endpoint::WebhookDeliveries,
    Endpoint::WebhookRemove,
    Endpoint::WebhookRetry,
    Endpoint::KeyUsage,
    Endpoint::KeyImpact,
    Endpoint::KeySuggestedScopes,
    Endpoint::AccountUsage,
    Endpoint::Explain,
    Endpoint::LeakPaste,
];

/// Where the matrix's webhook endpoints point: a closed loopback port (the matrix server
/// allows private targets), so a delivery fails at once and reaches nobody.
const HOOK_URL: &str = "http://127.0.0.1:9/matrix";

/// What a cell must answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Expect {
    /// This success status.
    Ok(u16),
    /// 401 `{"detail": "Authentication credentials were not provided."}`
    NotProvided,
    /// 401, the seed's `token_not_valid` body.
    TokenNotValid,
    /// 403 `{"detail": "You do not have permission to perform this action."}`
    Forbidden,
    /// 404 `not_found`, as if the id did not exist.
    NotFound,
    /// 409 `conflict`.
    Conflict,
    /// 409 `two_factor_not_enabled`.
    TwoFactorNotEnabled,
}

/// Which ids the endpoint names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Target {
    None,
    Key,
    User,
    WebhookEndpoint,
    WebhookDelivery,
}

impl Endpoint {
    fn target(self) -> Target {
        match self {
            Self::KeyGet
            | Self::KeyUpdate
            | Self::KeyRotate
            | Self::KeyRevoke
            | Self::KeyUsage
            | Self::KeyImpact
            | Self::KeySuggestedScopes
            | Self::Explain => Target::Key,
            Self::UserUpdate | Self::UserRemove => Target::User,
            Self::WebhookGet
            | Self::WebhookUpdate
            | Self::WebhookRotateSecret
            | Self::WebhookTest
            | Self::WebhookDeliveries
            | Self::WebhookRemove => Target::WebhookEndpoint,
            Self::WebhookRetry => Target::WebhookDelivery,
            _ => Target::None,
        }
    }

    /// Method, path and body; `id` is the fixture the endpoint names, `n` the cell number.
    fn request(self, id: &str, n: usize) -> (Method, String, Option<Value>) {
        let key = format!("/v1/api-keys/{id}/");
        let user = format!("/v1/users/{id}/");
        let hook = format!("/v1/webhook-endpoints/{id}/");
        match self {
            Self::Me => (Method::GET, "/v1/auth/me/".into(), None),
            Self::StandardKeysGet => (Method::GET, "/v1/auth/api-keys/".into(), None),
            Self::StandardKeysRotate => (
                Method::PATCH,
                "/v1/auth/api-keys/".into(),
                Some(json!({ "type": "test" })),
            ),
            Self::TwoFactorConfirm => (
                Method::POST,
                "/v1/auth/2fa/confirm/".into(),
                Some(json!({ "otp": "123456" })),
            ),
            Self::TwoFactorSetup => (Method::POST, "/v1/auth/2fa/setup/".into(), None),
            Self::TwoFactorDisable => (
                Method::POST,
                "/v1/auth/2fa/disable/".into(),
                Some(json!({ "password": PASSWORD, "otp": "123456" })),
            ),
            Self::TwoFactorRecoveryCodes => (
                Method::POST,
                "/v1/auth/2fa/recovery-codes/".into(),
                Some(json!({ "password": PASSWORD, "otp": "123456" })),
            ),
            Self::KeysList => (Method::GET, "/v1/api-keys/".into(), None),
            Self::KeyCreate => (
                Method::POST,
                "/v1/api-keys/".into(),
                Some(
                    json!({ "label": format!("matrix {n}"), "type": "test", "scopes": ["asset:read"] }),
                ),
            ),
            Self::KeyGet => (Method::GET, key, None),
            Self::KeyUpdate => (
                Method::PATCH,
                key,
                Some(json!({ "label": format!("renamed {n}") })),
            ),
            Self::KeyRotate => (
                Method::POST,
                format!("/v1/api-keys/{id}/rotate/"),
                Some(json!({})),
            ),
            Self::KeyRevoke => (Method::DELETE, key, None),
            Self::UsersList => (Method::GET, "/v1/users/".into(), None),
            Self::UserCreate => (
                Method::POST,
                "/v1/users/".into(),
                Some(json!({
                    "email": format!("new-{n}@matrix.test"),
                    "role": "member",
                    "password": "a long enough password",
                })),
            ),
            Self::UserUpdate => (Method::PATCH, user, Some(json!({ "role": "member" }))),
            Self::UserRemove => (Method::DELETE, user, None),
            Self::AccountGet => (Method::GET, "/v1/account/".into(), None),
            Self::AccountUpdate => (
                Method::PATCH,
                "/v1/account/".into(),
                Some(json!({ "rotation_period_days": 100 + n })),
            ),
            Self::AccountPolicyViolations => {
                (Method::GET, "/v1/account/policy-violations/".into(), None)
            }
            Self::Products => (Method::GET, "/v1/products/".into(), None),
            Self::AuditEvents => (Method::GET, "/v1/audit-events/".into(), None),
            Self::WebhooksList => (Method::GET, "/v1/webhook-endpoints/".into(), None),
            Self::WebhookCreate => (
                Method::POST,
                "/v1/webhook-endpoints/".into(),
                Some(json!({ "url": format!("{HOOK_URL}/{n}"), "events": ["*"] })),
            ),
            Self::WebhookGet => (Method::GET, hook, None),
            Self::WebhookUpdate => (
                Method::PATCH,
                hook,
                Some(json!({ "description": format!("renamed {n}") })),
            ),
            Self::WebhookRotateSecret => (Method::POST, format!("{hook}rotate-secret/"), None),
            Self::WebhookTest => (Method::POST, format!("{hook}test/"), None),
            Self::WebhookDeliveries => (Method::GET, format!("{hook}deliveries/"), None),
            Self::WebhookRemove => (Method::DELETE, hook, None),
            Self::WebhookRetry => (
                Method::POST,
                format!("/v1/webhook-deliveries/{id}/retry/"),
                None,
            ),
            Self::KeyUsage => (Method::GET, format!("{key}usage/"), None),
            Self::KeyImpact => (Method::GET, format!("{key}impact/"), None),
            Self::KeySuggestedScopes => (Method::GET, format!("{key}suggested-scopes/"), None),
            Self::AccountUsage => (Method::GET, "/v1/usage/".into(), None),
            Self::Explain => (
                Method::POST,
                "/v1/explain/".into(),
                Some(json!({ "key_id": id, "method": "GET", "uri": "/v1/asset/x" })),
            ),
            Self::LeakPaste => (
                Method::POST,
                "/v1/leaks/".into(),
                Some(json!({ "text": format!("nothing leaked here ({n})") })),
            ),
        }
    }
}

/// The expected answer of one cell.
fn expected(endpoint: Endpoint, who: Who) -> Expect {
    use Endpoint as E;
    use Who as W;
    match who {
        W::NoToken => return Expect::NotProvided,
        W::GarbageToken | W::ExpiredAccess | W::RefreshAsAccess | W::ApiKeyAsBearer => {
            return Expect::TokenNotValid;
        }
        _ => {}
    }
    let other = matches!(who, W::OtherAdmin | W::OtherDeveloper);
    let admin = matches!(who, W::Admin | W::OtherAdmin);
    let manages_keys = who != W::Member;
    match endpoint {
        // Any signed-in user, about themselves.
        E::Me | E::Products | E::TwoFactorSetup => Expect::Ok(200),
        E::TwoFactorConfirm => Expect::Conflict,
        E::TwoFactorDisable | E::TwoFactorRecoveryCodes => Expect::TwoFactorNotEnabled,
        // Key managers, each in their own account.
        E::StandardKeysGet | E::StandardKeysRotate | E::KeysList | E::KeyCreate | E::LeakPaste
            if !manages_keys =>
        {
            Expect::Forbidden
        }
        E::KeyCreate => Expect::Ok(201),
        E::StandardKeysGet | E::StandardKeysRotate | E::KeysList | E::LeakPaste => Expect::Ok(200),
        // Key managers, on Acme's key.
        E::AccountUsage if !manages_keys => Expect::Forbidden,
        E::AccountUsage => Expect::Ok(200),
        E::KeyGet
        | E::KeyUpdate
        | E::KeyRotate
        | E::KeyRevoke
        | E::KeyUsage
        | E::KeyImpact
        | E::KeySuggestedScopes
        | E::Explain => match (manages_keys, other) {
            (false, _) => Expect::Forbidden,
            (true, true) => Expect::NotFound,
            (true, false) => Expect::Ok(200),
        },
        // Admins, each in their own account.
        E::UsersList
        | E::UserCreate
        | E::AccountGet
        | E::AccountUpdate
        | E::AccountPolicyViolations
        | E::AuditEvents
            if !admin =>
        {
            Expect::Forbidden
        }
        E::UserCreate => Expect::Ok(201),
        E::UsersList
        | E::AccountGet
        | E::AccountUpdate
        | E::AccountPolicyViolations
        | E::AuditEvents => Expect::Ok(200),
        // Admins, on Acme's user: the role is checked before anything is looked up.
        E::UserUpdate | E::UserRemove if !admin => Expect::Forbidden,
        E::UserUpdate | E::UserRemove if other => Expect::NotFound,
        E::UserUpdate => Expect::Ok(200),
        E::UserRemove => Expect::Ok(204),
        // Admins, each in their own account.
        E::WebhooksList | E::WebhookCreate if !admin => Expect::Forbidden,
        E::WebhooksList => Expect::Ok(200),
        E::WebhookCreate => Expect::Ok(201),
        // Admins, on Acme's endpoint or delivery: the role is checked first.
        E::WebhookGet
        | E::WebhookUpdate
        | E::WebhookRotateSecret
        | E::WebhookTest
        | E::WebhookDeliveries
        | E::WebhookRemove
        | E::WebhookRetry
            if !admin =>
        {
            Expect::Forbidden
        }
        E::WebhookGet
        | E::WebhookUpdate
        | E::WebhookRotateSecret
        | E::WebhookTest
        | E::WebhookDeliveries
        | E::WebhookRemove
        | E::WebhookRetry
            if other =>
        {
            Expect::NotFound
        }
        E::WebhookGet | E::WebhookUpdate | E::WebhookRotateSecret | E::WebhookDeliveries => {
            Expect::Ok(200)
        }
        E::WebhookTest | E::WebhookRetry => Expect::Ok(202),
        E::WebhookRemove => Expect::Ok(204),
    }
}

/// Everything a refused request could have changed.
#[derive(Debug, PartialEq)]
struct Snapshot {
    keys: Vec<Vec<KeyRecord>>,
    users: Vec<Vec<User>>,
    accounts: Vec<Option<Account>>,
    totp: Vec<Vec<Option<bool>>>,
    events: Vec<usize>,
    webhooks: Vec<Vec<WebhookEndpoint>>,
}

async fn snapshot(server: &TestServer, accounts: &[AccountId]) -> Snapshot {
    let store = server.service().store();
    let mut snap = Snapshot {
        keys: vec![],
        users: vec![],
        accounts: vec![],
        totp: vec![],
        events: vec![],
        webhooks: vec![],
    };
    for &account in accounts {
        snap.keys.push(
            store
                .keys_of_account(account, &KeyFilter::default())
                .await
                .unwrap(),
        );
        let users = store.users_of_account(account).await.unwrap();
        let mut totp = vec![];
        for user in &users {
            totp.push(store.totp(user.id).await.unwrap().map(|t| t.confirmed));
        }
        snap.users.push(users);
        snap.totp.push(totp);
        snap.accounts.push(store.account(account).await.unwrap());
        snap.events
            .push(store.audit_events(account, 100_000).await.unwrap().len());
        snap.webhooks
            .push(store.endpoints_of_account(account).await.unwrap());
    }
    snap
}

/// Checks one answer against its expectation; `Err` describes the mismatch.
fn check(reply: &Reply, expect: Expect) -> Result<(), String> {
    let (status, body, code) = match expect {
        Expect::Ok(status) => (status, None, None),
        Expect::NotProvided => (401, Some(not_provided()), None),
        Expect::TokenNotValid => (401, Some(token_not_valid()), None),
        Expect::Forbidden => (403, Some(forbidden()), None),
        Expect::NotFound => (404, None, Some("not_found")),
        Expect::Conflict => (409, None, Some("conflict")),
        Expect::TwoFactorNotEnabled => (409, None, Some("two_factor_not_enabled")),
    };
    if reply.status != status {
        return Err(format!(
            "expected {status}, got {}: {}",
            reply.status, reply.text
        ));
    }
    let content_type = reply.header("content-type").unwrap_or("");
    if status != 204 && !content_type.starts_with("application/json") {
        return Err(format!("Content-Type {content_type:?}"));
    }
    if status == 401 && reply.header("www-authenticate").is_none() {
        return Err("a 401 without WWW-Authenticate".into());
    }
    if let Some(body) = body
        && reply.body != body
    {
        return Err(format!("body {} instead of {body}", reply.text));
    }
    if let Some(code) = code
        && reply.body["code"] != code
    {
        return Err(format!("code is not {code}: {}", reply.text));
    }
    Ok(())
}

#[tokio::test]
async fn every_console_endpoint_answers_every_caller_as_the_spec_says() {
    let server =
        TestServer::start_with(|config| config.webhooks.allow_private_targets = true).await;
    let acme = server.account("Acme").await;
    let globex = server.account("Globex").await;
    let developer = server
        .user(acme.id, "dev@acme.test", role("developer"))
        .await;
    let member = server.user(acme.id, "mia@acme.test", role("member")).await;
    let other_developer = server
        .user(globex.id, "dev@globex.test", role("developer"))
        .await;

    // An access token that will be 16 minutes old when the cells run (the lifetime is 15).
    let (expired, _) = server.sign_in(&acme.admin_email).await;
    server.advance(Duration::minutes(16)).await;

    let (admin_token, admin_refresh) = server.sign_in(&acme.admin_email).await;
    let (developer_token, _) = server.sign_in(&developer).await;
    let (member_token, _) = server.sign_in(&member).await;
    let (other_admin_token, _) = server.sign_in(&globex.admin_email).await;
    let (other_developer_token, _) = server.sign_in(&other_developer).await;
    let token = |who: Who| -> Option<String> {
        match who {
            Who::Admin => Some(admin_token.clone()),
            Who::Developer => Some(developer_token.clone()),
            Who::Member => Some(member_token.clone()),
            Who::OtherAdmin => Some(other_admin_token.clone()),
            Who::OtherDeveloper => Some(other_developer_token.clone()),
            Who::NoToken => None,
            Who::GarbageToken => Some("not-a-jwt-at-all".into()),
            Who::ExpiredAccess => Some(expired.clone()),
            Who::RefreshAsAccess => Some(admin_refresh.clone()),
            Who::ApiKeyAsBearer => Some(acme.test_key.clone()),
        }
    };

    let accounts = [acme.id, globex.id];
    let mut failures = Vec::new();
    let mut cells = 0;
    for endpoint in ENDPOINTS {
        for who in EVERYONE {
            cells += 1;
            let n = cells;
            // A fresh fixture in Acme for the endpoints that name one.
            let id = match endpoint.target() {
                Target::None => String::new(),
                Target::Key => {
                    restricted_key(&server, acme.id, Mode::Live, &["payroll:write"], None)
                        .await
                        .1
                        .id
                        .to_string()
                }
                Target::User => {
                    let email = format!("target-{n}@acme.test");
                    server.user(acme.id, &email, role("developer")).await;
                    crate::support::stored_user(&server, &email)
                        .await
                        .id
                        .to_string()
                }
                Target::WebhookEndpoint => webhook_endpoint(&server, acme.id, HOOK_URL)
                    .await
                    .to_string(),
                Target::WebhookDelivery => {
                    let hook = webhook_endpoint(&server, acme.id, HOOK_URL).await;
                    test_delivery(&server, acme.id, hook, AttemptResult::GaveUp, None)
                        .await
                        .delivery
                        .id
                        .to_string()
                }
            };
            let expect = expected(endpoint, who);
            let before = snapshot(&server, &accounts).await;
            let (method, path, body) = endpoint.request(&id, n);
            let token = token(who);
            let reply = call(
                &server,
                method.clone(),
                &path,
                token.as_deref(),
                body.as_ref(),
            )
            .await;
            let cell = format!("{endpoint:?} × {who:?} ({method} {path})");
            if let Err(why) = check(&reply, expect) {
                failures.push(format!("{cell}: {why}"));
                continue;
            }
            if !matches!(expect, Expect::Ok(_)) {
                let after = snapshot(&server, &accounts).await;
                if after != before {
                    failures.push(format!(
                        "{cell}: refused with {}, yet the store changed",
                        reply.status
                    ));
                }
            } else if matches!(who, Who::OtherAdmin | Who::OtherDeveloper) {
                // Another account's caller acts on their own account and sees nothing of Acme.
                let acme_id = acme.id.to_string();
                if reply.text.contains(&acme_id) || (!id.is_empty() && reply.text.contains(&id)) {
                    failures.push(format!("{cell}: shows Acme's data: {}", reply.text));
                }
            }
        }
    }
    assert_eq!(cells, ENDPOINTS.len() * EVERYONE.len());
    assert!(
        failures.is_empty(),
        "{} of {cells} cells failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[tokio::test]
async fn another_accounts_ids_are_answered_exactly_like_missing_ones() {
    let server = TestServer::start().await;
    let acme = server.account("Acme").await;
    let globex = server.account("Globex").await;
    let (secret, acme_key) =
        restricted_key(&server, acme.id, Mode::Live, &["payroll:read"], None).await;
    let acme_user = server
        .user(acme.id, "dev@acme.test", role("developer"))
        .await;
    let acme_user = crate::support::stored_user(&server, &acme_user).await;
    let key_before = crate::support::stored_key(&server, acme.id, acme_key.id).await;
    let (token, _) = server.sign_in(&globex.admin_email).await;
    let missing_key = keywarden_core::ids::KeyId::new_at(server.clock.now()).to_string();
    let missing_user = keywarden_core::ids::UserId::new_at(server.clock.now()).to_string();
    for (method, theirs, missing, body) in [
        (
            Method::GET,
            format!("/v1/api-keys/{}/", acme_key.id),
            format!("/v1/api-keys/{missing_key}/"),
            None,
        ),
        (
            Method::PATCH,
            format!("/v1/api-keys/{}/", acme_key.id),
            format!("/v1/api-keys/{missing_key}/"),
            Some(json!({ "label": "mine now" })),
        ),
        (
            Method::POST,
            format!("/v1/api-keys/{}/rotate/", acme_key.id),
            format!("/v1/api-keys/{missing_key}/rotate/"),
            Some(json!({})),
        ),
        (
            Method::DELETE,
            format!("/v1/api-keys/{}/", acme_key.id),
            format!("/v1/api-keys/{missing_key}/"),
            None,
        ),
        (
            Method::PATCH,
            format!("/v1/users/{}/", acme_user.id),
            format!("/v1/users/{missing_user}/"),
            Some(json!({ "role": "admin" })),
        ),
        (
            Method::DELETE,
            format!("/v1/users/{}/", acme_user.id),
            format!("/v1/users/{missing_user}/"),
            None,
        ),
    ] {
        let a = call(
            &server,
            method.clone(),
            &theirs,
            Some(&token),
            body.as_ref(),
        )
        .await;
        let b = call(
            &server,
            method.clone(),
            &missing,
            Some(&token),
            body.as_ref(),
        )
        .await;
        a.assert_error(404);
        assert_eq!(
            a.body, b.body,
            "{method} {theirs}: {} vs {}",
            a.text, b.text
        );
        assert_eq!(a.body["code"], "not_found", "{}", a.text);
    }
    // Nothing of Acme's changed, and the key still works.
    assert_eq!(
        crate::support::stored_key(&server, acme.id, acme_key.id).await,
        key_before
    );
    assert_eq!(
        crate::support::stored_user(&server, "dev@acme.test").await,
        acme_user
    );
    let reply = crate::support::forward_auth(
        &server,
        Some(&crate::support::api_key(&secret)),
        "GET",
        "/v1/payroll/runs",
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
}
