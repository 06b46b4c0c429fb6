//! Test support for Keywarden: [`TestServer::start`] runs the real router on `127.0.0.1:0`
//! over a temporary SQLite file, with a [`ManualClock`] the test moves instead of sleeping,
//! and seeds accounts through the same domain services the API uses.
#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing
)] // test support: fail loudly

use keywarden_core::account::Role;
use keywarden_core::audit::Actor;
use keywarden_core::ids::AccountId;
use keywarden_core::service::{AccountService, NewAccount};
use keywarden_core::{ManualClock, OsRandom, password};
use keywarden_server::config::Config;
use keywarden_server::state::AppState;
use serde_json::Value;
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use time::macros::datetime;

/// An HTTP client for tests (plain HTTP to the server under test).
pub fn http_client() -> reqwest::Client {
    http_client_builder().build().expect("an HTTP client")
}

/// A builder for a test's own HTTP client. reqwest is built without a TLS provider of its own,
/// and asks rustls for the process default when it builds a client: this installs `ring` as
/// the server binary does at start.
pub fn http_client_builder() -> reqwest::ClientBuilder {
    keywarden_server::tls::install_default_provider();
    reqwest::Client::builder()
}

/// The password every seeded user has.
pub const PASSWORD: &str = "correct horse battery staple";

/// One argon2 hash of [`PASSWORD`], computed once per test binary (hashing is slow on purpose).
fn password_hash() -> String {
    static HASH: OnceLock<String> = OnceLock::new();
    HASH.get_or_init(|| password::hash(PASSWORD).expect("hash"))
        .clone()
}

/// A database of its own on the PostgreSQL server named by `KEYWARDEN_TEST_POSTGRES_URL`,
/// created empty and dropped (with its connections) when this value is dropped.
#[derive(Debug)]
pub struct PostgresDatabase {
    admin_url: String,
    name: String,
    /// The URL of the new database.
    pub url: String,
}

impl PostgresDatabase {
    /// A fresh database on the server of `admin_url` (any database URL of that server).
    pub async fn create(admin_url: &str) -> Self {
        use sqlx::Connection;
        let mut bytes = [0u8; 8];
        getrandom::fill(&mut bytes).expect("random");
        let name = format!(
            "kw_test_{}",
            bytes.iter().map(|b| format!("{b:02x}")).collect::<String>()
        );
        let mut conn = sqlx::PgConnection::connect(admin_url)
            .await
            .expect("connect to PostgreSQL");
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut conn)
            .await
            .expect("create database");
        let base = admin_url.split('?').next().unwrap_or(admin_url);
        let (server, _) = base.rsplit_once('/').expect("a database URL ends in /NAME");
        Self {
            admin_url: admin_url.into(),
            url: format!("{server}/{name}"),
            name,
        }
    }

    /// The test server's URL, or `None` after printing loudly that PostgreSQL tests are skipped.
    pub fn server_url() -> Option<String> {
        let url = std::env::var("KEYWARDEN_TEST_POSTGRES_URL")
            .ok()
            .filter(|u| !u.is_empty());
        if url.is_none() {
            announce(
                "SKIPPED: KEYWARDEN_TEST_POSTGRES_URL is not set; this PostgreSQL test did not run",
            );
        }
        url
    }
}

impl Drop for PostgresDatabase {
    fn drop(&mut self) {
        let admin_url = self.admin_url.clone();
        let name = self.name.clone();
        // Drop may run inside a runtime: do the async work on a thread of its own.
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build();
            if let Ok(runtime) = runtime {
                runtime.block_on(async {
                    use sqlx::Connection;
                    if let Ok(mut conn) = sqlx::PgConnection::connect(&admin_url).await {
                        let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
                        let _ = sqlx::query(sqlx::AssertSqlSafe(sql))
                            .execute(&mut conn)
                            .await;
                    }
                });
            }
        })
        .join();
    }
}

/// Whether the API suites run on PostgreSQL (`KEYWARDEN_TEST_BACKEND=postgres`) rather than on
/// a temporary SQLite file (the default): the same tests, either backend.
fn postgres_backend() -> Option<String> {
    match std::env::var("KEYWARDEN_TEST_BACKEND").as_deref() {
        Ok("postgres") => Some(
            std::env::var("KEYWARDEN_TEST_POSTGRES_URL")
                .expect("KEYWARDEN_TEST_BACKEND=postgres needs KEYWARDEN_TEST_POSTGRES_URL"),
        ),
        _ => None,
    }
}

/// Writes a line straight to standard error, past the test harness, which captures what
/// `eprintln!` prints in a passing test: for skips and measured figures, which must be seen.
pub fn announce(line: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "{line}");
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
    /// The PostgreSQL database, when the suites run on PostgreSQL.
    pub database: Option<PostgresDatabase>,
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
        let database = match postgres_backend() {
            Some(server) => Some(PostgresDatabase::create(&server).await),
            None => None,
        };
        if let Some(db) = &database {
            config.database_url = Some(db.url.clone());
        }
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
            http: http_client(),
            dir,
            database,
            shutdown: Some(tx),
            task: Some(task),
        }
    }

    /// Moves the clock and brings the key table up to the new time (the refresh task would
    /// within half a second; tests should not wait for it).
    pub async fn advance(&self, by: time::Duration) {
        self.clock.advance(by);
        self.state.keys.catch_up().await.expect("catch up");
    }

    /// Moves the clock only: the key table keeps the age it had, as when the database cannot
    /// be read (start the server with a long `cache.refresh_interval_ms` so the refresh task
    /// does not catch up by itself).
    pub fn advance_without_sync(&self, by: time::Duration) {
        self.clock.advance(by);
    }

    /// The domain services.
    pub fn service(&self) -> &AccountService {
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
        self.state.keys.apply(&records);
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
