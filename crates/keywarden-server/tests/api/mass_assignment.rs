//! Mass assignment: a body may set only what its endpoint documents. Fields such as
//! `account_id`, `id`, `status`, `kind`, `created_by`, `role` (on keys) or
//! `two_factor_enabled` (on users) are refused with a 400 that names them, and nothing stored
//! changes — not even the fields the body was allowed to set.

use crate::support::{
    assert_invalid_field, assert_key_works, call, create_key, key_id_of, patch, post, standard_key,
    stored_key, stored_user,
};
use keywarden_core::key_format::{KeyKind, Mode};
use keywarden_core::key_record::KeyRecord;
use keywarden_core::store::KeyFilter;
use keywarden_testkit::{TestServer, role};
use reqwest::Method;
use serde_json::{Value, json};

async fn all_keys(server: &TestServer, account: keywarden_core::ids::AccountId) -> Vec<KeyRecord> {
    server
        .service()
        .store()
        .keys_of_account(account, &KeyFilter::default())
        .await
        .unwrap()
}

fn with(base: &Value, field: &str, value: Value) -> Value {
    let mut body = base.clone();
    body[field] = value;
    body
}

#[tokio::test]
async fn key_bodies_refuse_fields_the_caller_may_not_set() {
    let server = TestServer::start().await;
    let acme = server.account("Acme").await;
    let globex = server.account("Globex").await;
    let (token, _) = server.sign_in(&acme.admin_email).await;
    let globex_admin = stored_user(&server, &globex.admin_email).await;
    let (secret, created) = create_key(&server, &token, "Payroll", "live", &["payroll:read"]).await;
    let id = key_id_of(&created);
    let other_id = standard_key(&server, globex.id, Mode::Live)
        .await
        .id
        .to_string();
    let extras = [
        ("account_id", json!(globex.id.to_string())),
        ("id", json!(other_id)),
        ("status", json!("revoked")),
        ("kind", json!("standard")),
        ("created_by", json!(globex_admin.id.to_string())),
        ("role", json!("admin")),
        ("key", json!(acme.live_key)),
        ("hint", json!("rk_live_AAAA…AAAA")),
        ("lifecycle", json!("active")),
        ("created_at", json!("2020-01-01T00:00:00Z")),
        ("last_used_at", json!("2020-01-01T00:00:00Z")),
        ("revoked_at", json!(null)),
        ("replaces", json!(other_id)),
    ];
    let acme_before = all_keys(&server, acme.id).await;
    let globex_before = all_keys(&server, globex.id).await;

    let create = json!({ "label": "Sneaky", "type": "live", "scopes": ["payroll:read"] });
    let update = json!({ "label": "Sneaky" });
    let rotate = json!({ "expire_previous_in": 60 });
    for (field, value) in &extras {
        let reply = post(
            &server,
            &token,
            "/v1/api-keys/",
            &with(&create, field, value.clone()),
        )
        .await;
        assert_eq!(reply.status, 400, "create + {field}: {}", reply.text);
        assert_invalid_field(&reply, field);

        let reply = patch(
            &server,
            &token,
            &format!("/v1/api-keys/{id}/"),
            &with(&update, field, value.clone()),
        )
        .await;
        assert_eq!(reply.status, 400, "update + {field}: {}", reply.text);
        assert_invalid_field(&reply, field);

        let reply = post(
            &server,
            &token,
            &format!("/v1/api-keys/{id}/rotate/"),
            &with(&rotate, field, value.clone()),
        )
        .await;
        assert_eq!(reply.status, 400, "rotate + {field}: {}", reply.text);
        assert_invalid_field(&reply, field);
    }
    // Rotation keeps the settings: a body cannot change them on the way.
    for (field, value) in [
        ("scopes", json!(["payroll:write"])),
        ("label", json!("new")),
        ("type", json!("test")),
        ("expires_at", json!("2030-01-01T00:00:00Z")),
    ] {
        let reply = post(
            &server,
            &token,
            &format!("/v1/api-keys/{id}/rotate/"),
            &json!({ field: value }),
        )
        .await;
        assert_invalid_field(&reply, field);
    }
    // Nor can an update change the mode.
    let reply = patch(
        &server,
        &token,
        &format!("/v1/api-keys/{id}/"),
        &json!({ "type": "test" }),
    )
    .await;
    assert_invalid_field(&reply, "type");

    assert_eq!(
        all_keys(&server, acme.id).await,
        acme_before,
        "Acme's keys changed"
    );
    assert_eq!(
        all_keys(&server, globex.id).await,
        globex_before,
        "Globex's keys changed"
    );
    let reply = crate::support::forward_auth(
        &server,
        Some(&crate::support::api_key(&secret)),
        "GET",
        "/v1/payroll/runs",
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_key_works(&server, &globex.live_key).await;
}

#[tokio::test]
async fn user_bodies_refuse_fields_the_caller_may_not_set() {
    let server = TestServer::start().await;
    let acme = server.account("Acme").await;
    let globex = server.account("Globex").await;
    let developer = server
        .user(acme.id, "dev@acme.test", role("developer"))
        .await;
    let dev = stored_user(&server, &developer).await;
    let (token, _) = server.sign_in(&acme.admin_email).await;
    let users_before = server
        .service()
        .store()
        .users_of_account(acme.id)
        .await
        .unwrap();
    let globex_before = server
        .service()
        .store()
        .users_of_account(globex.id)
        .await
        .unwrap();

    let create =
        json!({ "email": "eve@acme.test", "role": "member", "password": "a long enough password" });
    for (field, value) in [
        ("two_factor_enabled", json!(true)),
        ("account_id", json!(globex.id.to_string())),
        ("id", json!(dev.id.to_string())),
        ("session_version", json!(-1)),
        (
            "password_hash",
            json!("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA"),
        ),
        ("created_at", json!("2020-01-01T00:00:00Z")),
        ("is_admin", json!(true)),
    ] {
        let reply = post(&server, &token, "/v1/users/", &with(&create, field, value)).await;
        assert_eq!(reply.status, 400, "create + {field}: {}", reply.text);
        assert_invalid_field(&reply, field);
    }
    assert!(
        server
            .service()
            .store()
            .user_by_email("eve@acme.test")
            .await
            .unwrap()
            .is_none()
    );

    // PATCH /v1/users/{id}/ changes the role and nothing else.
    let path = format!("/v1/users/{}/", dev.id);
    for (field, value) in [
        ("email", json!("mallory@acme.test")),
        ("account_id", json!(globex.id.to_string())),
        ("two_factor_enabled", json!(true)),
        ("password", json!("a brand new password")),
        ("id", json!(globex.id.to_string())),
        ("session_version", json!(0)),
    ] {
        // With and without a valid role alongside.
        for body in [
            json!({ field: value.clone() }),
            json!({ "role": "member", field: value.clone() }),
        ] {
            let reply = patch(&server, &token, &path, &body).await;
            assert_eq!(reply.status, 400, "{body}: {}", reply.text);
            assert_invalid_field(&reply, field);
        }
    }
    assert_eq!(
        server
            .service()
            .store()
            .users_of_account(acme.id)
            .await
            .unwrap(),
        users_before
    );
    assert_eq!(
        server
            .service()
            .store()
            .users_of_account(globex.id)
            .await
            .unwrap(),
        globex_before
    );
    // The developer's session survived: nothing about them changed.
    let (dev_token, _) = server.sign_in(&developer).await;
    let me = crate::support::get(&server, &dev_token, "/v1/auth/me/").await;
    assert_eq!(me.body["user"]["role"], "developer");
    assert_eq!(me.body["user"]["two_factor_enabled"], false);
}

#[tokio::test]
async fn account_and_2fa_bodies_refuse_fields_the_caller_may_not_set() {
    let server = TestServer::start().await;
    let acme = server.account("Acme").await;
    let globex = server.account("Globex").await;
    let (token, _) = server.sign_in(&acme.admin_email).await;
    let before = server.service().store().account(acme.id).await.unwrap();
    for (field, value) in [
        ("id", json!(globex.id.to_string())),
        ("name", json!("Renamed")),
        ("created_at", json!("2020-01-01T00:00:00Z")),
        ("account_id", json!(globex.id.to_string())),
    ] {
        for body in [
            json!({ field: value.clone() }),
            json!({ "rotation_period_days": 7, field: value.clone() }),
        ] {
            let reply = patch(&server, &token, "/v1/account/", &body).await;
            assert_eq!(reply.status, 400, "{body}: {}", reply.text);
            assert_invalid_field(&reply, field);
        }
    }
    assert_eq!(
        server.service().store().account(acme.id).await.unwrap(),
        before
    );

    // Confirming 2FA takes the code only.
    let setup = post(&server, &token, "/v1/auth/2fa/setup/", &json!({})).await;
    assert_eq!(setup.status, 200, "{}", setup.text);
    for (field, value) in [
        ("two_factor_enabled", json!(true)),
        ("secret", json!("JBSWY3DPEHPK3PXP")),
    ] {
        let reply = post(
            &server,
            &token,
            "/v1/auth/2fa/confirm/",
            &json!({ "otp": "123456", field: value }),
        )
        .await;
        assert_invalid_field(&reply, field);
    }
    assert!(
        !stored_user(&server, &acme.admin_email)
            .await
            .two_factor_enabled
    );

    // Signing in takes email, password and otp only.
    let reply = call(
        &server,
        Method::POST,
        "/v1/auth/token/",
        None,
        Some(&json!({ "email": acme.admin_email, "password": keywarden_testkit::PASSWORD, "role": "admin" })),
    )
    .await;
    assert_invalid_field(&reply, "role");
}

#[tokio::test]
async fn the_standard_key_rotation_body_cannot_reach_another_account() {
    // The seeds' PATCH /v1/auth/api-keys/ reads `type` and `expire_previous_in` and ignores
    // anything else; the account always comes from the session, never from the body.
    let server = TestServer::start().await;
    let acme = server.account("Acme").await;
    let globex = server.account("Globex").await;
    let (token, _) = server.sign_in(&acme.admin_email).await;
    let globex_before = all_keys(&server, globex.id).await;
    let acme_live = standard_key(&server, acme.id, Mode::Live).await;
    let reply = patch(
        &server,
        &token,
        "/v1/auth/api-keys/",
        &json!({
            "type": "live",
            "account_id": globex.id.to_string(),
            "id": standard_key(&server, globex.id, Mode::Live).await.id.to_string(),
        }),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.body["previous"]["id"], acme_live.id.to_string());
    assert_eq!(all_keys(&server, globex.id).await, globex_before);
    assert_key_works(&server, &globex.live_key).await;
    let rotated = stored_key(&server, acme.id, acme_live.id).await;
    assert_eq!(rotated.kind, KeyKind::Standard);
    assert_ne!(
        rotated.lifecycle,
        keywarden_core::key_record::Lifecycle::Active
    );
}
