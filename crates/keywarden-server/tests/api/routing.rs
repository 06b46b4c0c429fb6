//! Paths (SPEC §4): every endpoint answers the same with and without its trailing slash;
//! unknown paths and wrong methods are answered in JSON.

use crate::support::{Reply, api_key, restricted_key, send};
use keywarden_core::ids::KeyId;
use keywarden_core::key_format::Mode;
use keywarden_testkit::{PASSWORD, TestServer};
use reqwest::Method;
use serde_json::{Value, json};
use time::macros::datetime;

/// One request to an endpoint, sendable with either spelling of its path.
struct Call {
    method: Method,
    path: String,
    headers: Vec<(&'static str, String)>,
    body: Option<Value>,
}

impl Call {
    fn new(method: Method, path: impl Into<String>) -> Self {
        Self {
            method,
            path: path.into(),
            headers: Vec::new(),
            body: None,
        }
    }

    fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    fn json(mut self, body: Value) -> Self {
        self.body = Some(body);
        self
    }

    async fn send(&self, server: &TestServer, path: &str) -> Reply {
        let mut request = server.http.request(self.method.clone(), server.url(path));
        for (name, value) in &self.headers {
            request = request.header(*name, value);
        }
        if let Some(body) = &self.body {
            request = request.json(body);
        }
        send(request).await
    }
}

/// The body with values that differ between two identical calls (fresh tokens, fresh keys)
/// replaced by their kind.
fn shape(body: &Value) -> Value {
    match body {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| {
                    let volatile = [
                        "access",
                        "refresh",
                        "key",
                        "id",
                        "hint",
                        "secret",
                        "otpauth_uri",
                        "qr_svg",
                    ]
                    .contains(&k.as_str());
                    let v = if volatile && v.is_string() {
                        json!("<string>")
                    } else {
                        shape(v)
                    };
                    (k.clone(), v)
                })
                .collect(),
        ),
        other => other.clone(),
    }
}

#[tokio::test]
async fn every_endpoint_answers_the_same_with_and_without_the_trailing_slash() {
    let server = TestServer::start().await;
    let account = server.account("Acme").await;
    let (access, refresh) = server.sign_in(&account.admin_email).await;
    let bearer = format!("Bearer {access}");
    let (_, restricted) =
        restricted_key(&server, account.id, Mode::Test, &["payroll:read"], None).await;
    let admin = server
        .service()
        .store()
        .user_by_email(&account.admin_email)
        .await
        .unwrap()
        .unwrap();
    let nobody = KeyId::new_at(datetime!(2026-01-01 00:00 UTC));
    let auth = |call: Call| call.header("Authorization", bearer.clone());
    let calls = [
        // First, while no background write (a failed sign-in's audit row) can land between the
        // two spellings.
        auth(Call::new(Method::GET, "/v1/audit-events/")),
        Call::new(Method::GET, "/healthz/"),
        Call::new(Method::GET, "/readyz/"),
        Call::new(Method::POST, "/v1/auth/token/")
            .json(json!({ "email": account.admin_email, "password": PASSWORD })),
        Call::new(Method::POST, "/v1/auth/token/")
            .json(json!({ "email": account.admin_email, "password": "wrong password" })),
        Call::new(Method::POST, "/v1/auth/token/refresh/").json(json!({ "refresh": refresh })),
        Call::new(Method::GET, "/v1/auth/me/").header("Authorization", bearer.clone()),
        Call::new(Method::GET, "/v1/auth/me/"),
        Call::new(Method::GET, "/v1/auth/api-keys/").header("Authorization", bearer.clone()),
        Call::new(Method::PATCH, "/v1/auth/api-keys/")
            .header("Authorization", bearer.clone())
            .json(json!({ "type": "prod" })),
        Call::new(Method::PATCH, "/v1/auth/api-keys/")
            .header("Authorization", bearer.clone())
            .json(json!({ "type": "test", "expire_previous_in": 600 })),
        Call::new(Method::POST, "/v1/verify/").json(json!({ "key": account.live_key })),
        Call::new(Method::POST, "/v1/verify/").json(json!({ "key": "sk_live_nope" })),
        Call::new(Method::GET, "/v1/forward-auth/")
            .header("Authorization", api_key(&account.live_key))
            .header("X-Original-Method", "GET")
            .header("X-Original-URI", "/v1/customers/"),
        Call::new(Method::GET, "/v1/forward-auth/")
            .header("X-Original-Method", "GET")
            .header("X-Original-URI", "/v1/customers/"),
        auth(Call::new(Method::POST, "/v1/auth/2fa/setup/")),
        auth(Call::new(Method::POST, "/v1/auth/2fa/confirm/")).json(json!({ "otp": "000000" })),
        auth(Call::new(Method::GET, "/v1/api-keys/")),
        auth(Call::new(Method::POST, "/v1/api-keys/"))
            .json(json!({ "label": "CI", "type": "test", "scopes": ["asset:read"] })),
        auth(Call::new(Method::POST, "/v1/api-keys/"))
            .json(json!({ "label": "", "type": "test", "scopes": ["asset:read"] })),
        auth(Call::new(
            Method::GET,
            format!("/v1/api-keys/{}/", restricted.id),
        )),
        auth(Call::new(
            Method::PATCH,
            format!("/v1/api-keys/{}/", restricted.id),
        ))
        .json(json!({ "label": "renamed" })),
        auth(Call::new(
            Method::POST,
            format!("/v1/api-keys/{}/rotate/", restricted.id),
        ))
        .json(json!({ "expire_previous_in": -1 })),
        auth(Call::new(Method::DELETE, format!("/v1/api-keys/{nobody}/"))),
        auth(Call::new(Method::GET, "/v1/users/")),
        auth(Call::new(Method::POST, "/v1/users/"))
            .json(json!({ "email": "x@acme.test", "role": "owner", "password": PASSWORD })),
        auth(Call::new(Method::PATCH, format!("/v1/users/{}/", admin.id)))
            .json(json!({ "role": "member" })),
        auth(Call::new(Method::DELETE, format!("/v1/users/{nobody}/"))),
        auth(Call::new(Method::GET, "/v1/account/")),
        auth(Call::new(Method::PATCH, "/v1/account/")).json(json!({ "rotation_period_days": 90 })),
        auth(Call::new(Method::GET, "/v1/products/")),
        auth(Call::new(Method::POST, "/v1/leaks/")).json(json!({ "text": "no keys in here" })),
        auth(Call::new(Method::POST, "/v1/leaks/")).json(json!({ "text": "" })),
        // Unsigned: refused before anything is read.
        Call::new(Method::POST, "/v1/leaks/github/").json(json!([])),
        Call::new(Method::POST, "/v1/leaks/github/")
            .header("Github-Public-Key-Identifier", "k1")
            .header("Github-Public-Key-Signature", "AAAA")
            .json(json!([])),
    ];
    for call in &calls {
        let with = call.send(&server, &call.path).await;
        let without = call.send(&server, call.path.trim_end_matches('/')).await;
        let what = format!("{} {}", call.method, call.path);
        assert!(with.status < 500, "{what}: {}", with.text);
        assert_eq!(
            with.status, without.status,
            "{what}: {} / {}",
            with.text, without.text
        );
        assert_eq!(shape(&with.body), shape(&without.body), "{what}");
        for header in [
            "x-keywarden-account",
            "x-keywarden-key-id",
            "x-keywarden-mode",
            "www-authenticate",
        ] {
            assert_eq!(
                with.header(header),
                without.header(header),
                "{what}: {header}"
            );
        }
    }
}

#[tokio::test]
async fn an_unknown_path_is_404_json() {
    let server = TestServer::start().await;
    for path in [
        "/nope",
        "/v1/",
        "/v1/nope/",
        "/v1/verify/extra/",
        "/v1/auth/",
        "/V1/VERIFY/",
    ] {
        for method in [Method::GET, Method::POST] {
            let reply = send(server.http.request(method.clone(), server.url(path))).await;
            reply.assert_error(404);
            assert_eq!(
                reply.body["code"], "not_found",
                "{method} {path}: {}",
                reply.text
            );
            assert!(!reply.str_field("detail").is_empty());
        }
    }
}

#[tokio::test]
async fn a_wrong_method_is_405_json() {
    let server = TestServer::start().await;
    for (method, path, allowed) in [
        (Method::GET, "/v1/verify/", "POST"),
        (Method::PUT, "/v1/verify", "POST"),
        (Method::GET, "/v1/auth/token/", "POST"),
        (Method::DELETE, "/v1/auth/api-keys/", "PATCH"),
        (Method::POST, "/v1/auth/api-keys", "GET"),
        (Method::POST, "/v1/forward-auth/", "GET"),
        (Method::PUT, "/v1/auth/me/", "GET"),
        (Method::DELETE, "/healthz", "GET"),
    ] {
        let reply = send(server.http.request(method.clone(), server.url(path))).await;
        reply.assert_error(405);
        assert_eq!(
            reply.body["code"], "method_not_allowed",
            "{method} {path}: {}",
            reply.text
        );
        assert!(!reply.str_field("detail").is_empty());
        let allow = reply.header("allow").unwrap_or("");
        assert!(
            allow.contains(allowed),
            "{method} {path}: Allow is {allow:?}"
        );
    }
}
