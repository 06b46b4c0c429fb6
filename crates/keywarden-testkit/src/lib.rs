//! Test support for Keywarden: [`TestServer::start`] runs the real router on `127.0.0.1:0`
//! over a temporary SQLite file, with a [`ManualClock`] the test moves instead of sleeping,
//! and seeds accounts through the same domain services the API uses.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic, clippy::indexing_slicing)] // test support: fail loudly

use keywarden_core::account::Role;
use keywarden_core::audit::Actor;
use keywarden_core::ids::AccountId;
use keywarden_core::service::{Keywarden, NewAccount};
use keywarden_core::{ManualClock, OsRandom, password};
use keywarden_server::config::Config;
use keywarden_server::state::AppState;
use serde_json::Value;
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use time::macros::datetime;

/// The password every seeded user has.
pub const PASSWORD: &str = "correct horse battery staple";

/// One argon2 hash of [`PASSWORD`], computed once per test binary (hashing is slow on purpose).
fn password_hash() -> String {
    static HASH: OnceLock<String> = OnceLock::new();
    HASH.get_or_init(|| password::hash(PASSWORD).expect("hash"))
        .clone()
}

/// A running server.
#[allow(missing_debug_implementations)] // holds a JoinHandle and a client; nothing to print
pub struct TestServer {
    /// `http://127.0.0.1:PORT`
    pub base: String,
    /// The clock the server reads; move it to test expiry and grace.
    pub clock: Arc<ManualClock>,
    /// The server's state (services, key table, configuration).
    pub state: AppState,
    /// An HTTP client.
    pub http: reqwest::Client,
    /// The temporary data directory (kept alive as long as the server).
    pub dir: tempfile::TempDir,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

/// An account seeded for a test.
#[derive(Debug, Clone)]
pub struct SeededAccount {
    /// Its id.
    pub id: AccountId,
    /// Its admin's email.
    pub admin_email: String,
    /// The standard test key (empty when seeded without keys).
    pub test_key: String,
    /// The standard live key.
    pub live_key: String,
}

impl TestServer {
    /// Starts a server with the default configuration.
    pub async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    /// Starts a server after `adjust` has changed the configuration.
    pub async fn start_with(adjust: impl FnOnce(&mut Config)) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut config = Config {
            data_dir: dir.path().to_path_buf(),
            ..Config::default()
        };
        config.listen = SocketAddr::from(([127, 0, 0, 1], 0));
        adjust(&mut config);
        let clock = Arc::new(ManualClock::new(datetime!(2026-06-01 12:00 UTC)));
        let (service, secret) =
            keywarden_server::startup::open_service(&config, clock.clone(), Arc::new(OsRandom))
                .await
                .expect("open service");
        let state = keywarden_server::startup::build_state(config, service, &secret)
            .await
            .expect("build state");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(keywarden_server::serve(
            listener,
            state.clone(),
            async move {
                let _ = rx.await;
            },
        ));
        Self {
            base,
            clock,
            state,
            http: reqwest::Client::new(),
            dir,
            shutdown: Some(tx),
            task: Some(task),
        }
    }

    /// Moves the clock and brings the key table up to the new time (the refresh task would
    /// within half a second; tests should not wait for it).
    pub async fn advance(&self, by: time::Duration) {
        self.clock.advance(by);
        self.state.cache.catch_up().await.expect("catch up");
    }

    /// The domain services.
    pub fn service(&self) -> &Keywarden {
        &self.state.service
    }

    /// A full URL for `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Creates an account with an admin `admin@<name>.test` and its standard keys.
    pub async fn account(&self, name: &str) -> SeededAccount {
        self.account_with(name, true).await
    }

    /// Creates an account, with or without standard keys.
    pub async fn account_with(&self, name: &str, with_keys: bool) -> SeededAccount {
        let admin_email = format!("admin@{}.test", name.to_lowercase());
        let created = self
            .service()
            .create_account(
                NewAccount {
                    name: name.into(),
                    admin_email: admin_email.clone(),
                    admin_password_hash: password_hash(),
                    with_keys,
                },
                &Actor::cli(),
            )
            .await
            .expect("create account");
        let records: Vec<_> = created.keys.iter().map(|k| k.record.clone()).collect();
        self.state.cache.apply(&records);
        let key = |mode: &str| {
            created
                .keys
                .iter()
                .find(|k| k.record.mode.as_str() == mode)
                .map(|k| k.secret.expose().to_owned())
                .unwrap_or_default()
        };
        SeededAccount {
            id: created.account.id,
            admin_email,
            test_key: key("test"),
            live_key: key("live"),
        }
    }

    /// Adds a user with `role` to an account; returns the email.
    pub async fn user(&self, account: AccountId, email: &str, role: Role) -> String {
        self.service()
            .add_user(account, email, role, password_hash(), &Actor::cli())
            .await
            .expect("add user");
        email.to_owned()
    }

    /// Signs in and returns the access and refresh tokens.
    pub async fn sign_in(&self, email: &str) -> (String, String) {
        let response = self
            .http
            .post(self.url("/v1/auth/token/"))
            .json(&serde_json::json!({ "email": email, "password": PASSWORD }))
            .send()
            .await
            .expect("sign in");
        assert_eq!(response.status(), 200, "sign-in of {email} failed");
        let body: Value = response.json().await.expect("json");
        (
            body["access"].as_str().unwrap().into(),
            body["refresh"].as_str().unwrap().into(),
        )
    }

    /// Forward-auth with an `Authorization` value and an original URI and method.
    pub async fn forward_auth(
        &self,
        authorization: Option<&str>,
        method: &str,
        uri: &str,
    ) -> (u16, reqwest::header::HeaderMap, Value) {
        let mut request = self
            .http
            .get(self.url("/v1/forward-auth/"))
            .header("X-Original-Method", method)
            .header("X-Original-URI", uri);
        if let Some(value) = authorization {
            request = request.header("Authorization", value);
        }
        let response = request.send().await.expect("forward-auth");
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response.text().await.expect("body");
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).expect("json body")
        };
        (status, headers, body)
    }

    /// Stops the server gracefully and waits for it.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.expect("join").expect("serve");
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// Seeds a user by role name, for table-driven tests.
pub fn role(name: &str) -> Role {
    Role::from_name(name).expect("role")
}
