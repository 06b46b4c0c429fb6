//! The `keywarden` binary as an operator and a client see it: admin commands, the server
//! secret's life cycle, and a whole session against `keywarden serve` at debug level whose log
//! and database must not contain any secret that passed through.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)] // a test: failing loudly is the point
#[path = "cli/backend_termination.rs"]
mod backend_termination;
#[path = "cli/crash_consistency.rs"]
mod crash_consistency;
#[path = "cli/key_usage.rs"]
mod key_usage;
#[path = "cli/multi_instance.rs"]
mod multi_instance;
#[path = "cli/shared_rate_limits.rs"]
mod shared_rate_limits;
#[path = "cli/sign_in_flood.rs"]
mod sign_in_flood;
#[path = "cli/usage_limits.rs"]
mod usage_limits;
#[path = "cli/webhooks.rs"]
mod webhooks;

use base64::Engine;
use serde_json::Value;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncBufReadExt, BufReader};

const BIN: &str = env!("CARGO_BIN_EXE_keywarden");
const PASSWORD: &str = "correct horse battery staple";

/// Runs `keywarden` in `dir` with a clean KEYWARDEN_* environment.
fn keywarden(dir: &Path, args: &[&str], stdin: &str, env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(BIN);
    cmd.args(args)
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (name, _) in std::env::vars() {
        if name.starts_with("KEYWARDEN_") {
            cmd.env_remove(name);
        }
    }
    cmd.envs(env.iter().copied());
    let mut child = cmd.spawn().expect("spawn keywarden");
    // The process may exit before reading (a refused argument): a broken pipe is not a failure.
    let _ = child.stdin.take().unwrap().write_all(stdin.as_bytes());
    child.wait_with_output().expect("wait")
}

fn json_out(output: &Output) -> Value {
    assert!(
        output.status.success(),
        "keywarden failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("stdout is JSON")
}

/// `admin create-account` for Acme with `email` and the password on standard input, in `dir`
/// with `env`.
fn run_create_account(dir: &Path, email: &str, extra: &[&str], env: &[(&str, &str)]) -> Output {
    let mut args = vec![
        "admin",
        "create-account",
        "--name",
        "Acme",
        "--email",
        email,
        "--password-stdin",
    ];
    args.extend_from_slice(extra);
    keywarden(dir, &args, &format!("{PASSWORD}\n"), env)
}

fn create_account(dir: &Path, email: &str, extra: &[&str]) -> Value {
    json_out(&run_create_account(dir, email, extra, &[]))
}

/// `admin create-account` for Acme with ada@example.com, in `dir` with `env`; its JSON.
fn create_acme(dir: &Path, env: &[(&str, &str)], extra: &[&str]) -> Value {
    json_out(&run_create_account(dir, "ada@example.com", extra, env))
}

/// `POST /v1/verify/` of `key` on the server at `base`; the verdict.
async fn verdict(http: &reqwest::Client, base: &str, key: &str) -> Value {
    json_of(
        http.post(format!("{base}/v1/verify/"))
            .json(&serde_json::json!({ "key": key })),
    )
    .await
}

/// Sends `request` and reads its answer as JSON.
async fn json_of(request: reqwest::RequestBuilder) -> Value {
    request.send().await.unwrap().json().await.unwrap()
}

fn is_key(value: &Value, prefix: &str) -> bool {
    value
        .as_str()
        .is_some_and(|k| k.len() == 46 && k.starts_with(prefix))
}

#[test]
fn create_account_prints_ids_and_both_standard_keys_once() {
    let dir = tempfile::tempdir().unwrap();
    let out = create_account(dir.path(), "Ada@Example.com", &[]);
    assert!(out["account_id"].as_str().unwrap().len() == 36);
    assert!(out["admin_user_id"].as_str().unwrap().len() == 36);
    assert_eq!(out["admin_email"], "ada@example.com");
    assert!(is_key(&out["keys"]["test"], "sk_test_"), "{out}");
    assert!(is_key(&out["keys"]["live"], "sk_live_"), "{out}");
}

#[test]
fn init_keys_issues_keys_once_for_an_account_created_without_them() {
    let dir = tempfile::tempdir().unwrap();
    let out = create_account(dir.path(), "ada@example.com", &["--without-keys"]);
    assert!(out.get("keys").is_none(), "{out}");
    let account = out["account_id"].as_str().unwrap();
    let keys = json_out(&keywarden(
        dir.path(),
        &["admin", "init-keys", "--account", account],
        "",
        &[],
    ));
    assert!(is_key(&keys["keys"]["test"], "sk_test_"));
    assert!(is_key(&keys["keys"]["live"], "sk_live_"));
    let again = keywarden(
        dir.path(),
        &["admin", "init-keys", "--account", account],
        "",
        &[],
    );
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("already initialised"));
    let unknown = keywarden(
        dir.path(),
        &[
            "admin",
            "init-keys",
            "--account",
            "01900000-0000-7000-8000-000000000000",
        ],
        "",
        &[],
    );
    assert!(!unknown.status.success());
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("account not found"));
}

#[test]
fn add_user_adds_once_and_checks_its_input() {
    let dir = tempfile::tempdir().unwrap();
    let account = create_account(dir.path(), "ada@example.com", &[])["account_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let add = |email: &str, role: &str, password: &str| {
        keywarden(
            dir.path(),
            &[
                "admin",
                "add-user",
                "--account",
                &account,
                "--email",
                email,
                "--role",
                role,
                "--password-stdin",
            ],
            password,
            &[],
        )
    };
    let user = json_out(&add("bob@example.com", "developer", PASSWORD));
    assert_eq!(user["role"], "developer");
    assert_eq!(user["email"], "bob@example.com");
    let duplicate = add("BOB@example.com", "member", PASSWORD);
    assert!(!duplicate.status.success());
    assert!(String::from_utf8_lossy(&duplicate.stderr).contains("already in use"));
    let short = add("carol@example.com", "member", "short");
    assert!(!short.status.success());
    assert!(String::from_utf8_lossy(&short.stderr).contains("at least 12"));
    let bad_role = add("dan@example.com", "owner", PASSWORD);
    assert!(!bad_role.status.success());
}

#[cfg(unix)]
#[test]
fn the_generated_secret_is_private_and_never_silently_replaced() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    create_account(dir.path(), "ada@example.com", &[]);
    let secret = dir.path().join("keywarden-data/secret");
    let mode = std::fs::metadata(&secret).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);

    // A different secret would make every stored key stop working: refuse.
    let other = "x".repeat(64);
    let refused = keywarden(
        dir.path(),
        &[
            "admin",
            "init-keys",
            "--account",
            "01900000-0000-7000-8000-000000000000",
        ],
        "",
        &[("KEYWARDEN_SECRET", &other)],
    );
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr)
            .contains("not the secret the stored keys were hashed under")
    );

    // A missing secret file with keys stored: refuse rather than generate a new one.
    let saved = std::fs::read(&secret).unwrap();
    std::fs::remove_file(&secret).unwrap();
    let missing = keywarden(dir.path(), &["serve", "--listen", "127.0.0.1:0"], "", &[]);
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("is missing"));
    assert!(!secret.exists(), "no new secret may be generated");

    // A secret readable by others is refused with the fix.
    std::fs::write(&secret, saved).unwrap();
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o644)).unwrap();
    let open = keywarden(dir.path(), &["serve", "--listen", "127.0.0.1:0"], "", &[]);
    assert!(!open.status.success());
    assert!(String::from_utf8_lossy(&open.stderr).contains("chmod 600"));
}

#[test]
fn unknown_config_keys_stop_the_binary() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("k.toml"), "lisen = \"127.0.0.1:1\"\n").unwrap();
    let out = keywarden(dir.path(), &["--config", "k.toml", "serve"], "", &[]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("lisen"));
}

/// A `keywarden serve` child whose stderr is collected.
struct Server {
    child: tokio::process::Child,
    base: String,
    log: Arc<Mutex<String>>,
    /// Copies stderr into `log`; ends when the child closes it (at exit).
    log_reader: tokio::task::JoinHandle<()>,
}

async fn serve(dir: &Path, env: &[(&str, &str)]) -> Server {
    let mut cmd = tokio::process::Command::new(BIN);
    cmd.args(["serve", "--listen", "127.0.0.1:0"])
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    for (name, _) in std::env::vars() {
        if name.starts_with("KEYWARDEN_") {
            cmd.env_remove(name);
        }
    }
    cmd.envs(env.iter().copied());
    let mut child = cmd.spawn().expect("spawn serve");
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let log = Arc::new(Mutex::new(String::new()));
    let mut base = None;
    while let Some(line) = lines.next_line().await.unwrap() {
        log.lock().unwrap().push_str(&line);
        log.lock().unwrap().push('\n');
        if let Some(addr) = line.split("address=").nth(1) {
            base = Some(format!(
                "http://{}",
                addr.split_whitespace().next().unwrap()
            ));
            break;
        }
    }
    let sink = log.clone();
    let log_reader = tokio::spawn(async move {
        while let Ok(Some(line)) = lines.next_line().await {
            let mut log = sink.lock().unwrap();
            log.push_str(&line);
            log.push('\n');
        }
    });
    Server {
        child,
        base: base.expect("server printed its address"),
        log,
        log_reader,
    }
}

impl Server {
    /// SIGTERM, then the exit status.
    async fn terminate(self) -> (std::process::ExitStatus, String) {
        let pid = self.child.id().unwrap();
        let killed = Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .unwrap();
        assert!(killed.success());
        self.terminate_after_signal().await
    }

    /// The exit status and log of a server already sent SIGTERM.
    async fn terminate_after_signal(mut self) -> (std::process::ExitStatus, String) {
        let status = tokio::time::timeout(std::time::Duration::from_secs(20), self.child.wait())
            .await
            .expect("server stops within 20 s of SIGTERM")
            .unwrap();
        // The whole log: the reader ends at the end of the child's stderr.
        tokio::time::timeout(std::time::Duration::from_secs(20), self.log_reader)
            .await
            .expect("the server's stderr closes when it exits")
            .unwrap();
        let log = self.log.lock().unwrap().clone();
        (status, log)
    }
}

/// The value of the sample `name` (with its labels, e.g. `x_total{by="local"}`) in the
/// `/metrics` of the server at `base`.
async fn metric(base: &str, name: &str) -> u64 {
    let text = keywarden_testkit::http_client()
        .get(format!("{base}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' '))
        .and_then(|value| value.trim().parse().ok())
        .unwrap_or_else(|| panic!("{name} is not in /metrics:\n{text}"))
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(files_under(&path));
        } else {
            out.push(path);
        }
    }
    out
}

#[tokio::test]
async fn a_whole_session_leaves_no_secret_in_the_log_or_the_database() {
    let dir = tempfile::tempdir().unwrap();
    let account = create_account(dir.path(), "ada@example.com", &[]);
    let test_key = account["keys"]["test"].as_str().unwrap().to_owned();
    let live_key = account["keys"]["live"].as_str().unwrap().to_owned();
    let server = serve(dir.path(), &[("KEYWARDEN_LOG_LEVEL", "debug")]).await;
    let http = keywarden_testkit::http_client();
    let url = |path: &str| format!("{}{path}", server.base);

    let tokens: Value = json_of(
        http.post(url("/v1/auth/token/"))
            .json(&serde_json::json!({ "email": "ada@example.com", "password": PASSWORD })),
    )
    .await;
    let access = tokens["access"].as_str().unwrap().to_owned();
    let refresh = tokens["refresh"].as_str().unwrap().to_owned();
    let wrong = http
        .post(url("/v1/auth/token/"))
        .json(&serde_json::json!({ "email": "ada@example.com", "password": "wrong password!!" }))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);

    let listed = http
        .get(url("/v1/auth/api-keys/"))
        .bearer_auth(&access)
        .send()
        .await
        .unwrap();
    assert_eq!(listed.status(), 200);
    let rotated: Value = json_of(
        http.patch(url("/v1/auth/api-keys/"))
            .bearer_auth(&access)
            .json(&serde_json::json!({ "type": "test" })),
    )
    .await;
    let new_test_key = rotated["key"].as_str().unwrap().to_owned();

    let basic = base64::engine::general_purpose::STANDARD.encode(format!("{live_key}:"));
    for (authorization, expected) in [
        (format!("Api-Key {new_test_key}"), 200),
        (format!("Bearer {live_key}"), 200),
        (format!("Basic {basic}"), 200),
        (format!("Api-Key {test_key}"), 401),
    ] {
        let response = http
            .get(url("/v1/forward-auth/"))
            .header("Authorization", &authorization)
            .header("X-Original-URI", "/v1/customers/")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), expected, "{}", &authorization[..12]);
    }
    let verified: Value = json_of(
        http.post(url("/v1/verify/"))
            .json(&serde_json::json!({ "key": live_key, "scope": "payroll:write" })),
    )
    .await;
    assert_eq!(verified["valid"], true);
    let refreshed: Value = json_of(
        http.post(url("/v1/auth/token/refresh/"))
            .json(&serde_json::json!({ "refresh": refresh })),
    )
    .await;
    let refreshed_access = refreshed["access"].as_str().unwrap().to_owned();

    // A restricted key, a user added through the API, and a 2FA enrolment begun: each hands
    // out a secret of its own.
    let restricted: Value = json_of(
        http.post(url("/v1/api-keys/"))
            .bearer_auth(&refreshed_access)
            .json(&serde_json::json!({
                "label": "Zapier-Integration-Payroll", "type": "live", "scopes": ["payroll:read"]
            })),
    )
    .await;
    let restricted_key = restricted["key"].as_str().unwrap().to_owned();
    let member_password = "a member's own long passphrase".to_owned();
    let added = http
        .post(url("/v1/users/"))
        .bearer_auth(&access)
        .json(&serde_json::json!({
            "email": "grace@example.com", "role": "member", "password": member_password
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(added.status(), 201);
    let setup: Value = json_of(http.post(url("/v1/auth/2fa/setup/")).bearer_auth(&access)).await;
    let totp_secret = setup["secret"].as_str().unwrap().to_owned();
    assert!(totp_secret.len() >= 16, "{setup}");
    let used = http
        .get(url("/v1/forward-auth/"))
        .header("Authorization", format!("Api-Key {restricted_key}"))
        .header("X-Original-URI", "/v1/payroll/runs/")
        .send()
        .await
        .unwrap();
    assert_eq!(used.status(), 200);

    // A key pasted into a URL reaches the request log only as `sk_[redacted]`.
    for key in [&live_key, &restricted_key] {
        let pasted = http
            .get(url(&format!("/v1/customers/{key}")))
            .send()
            .await
            .unwrap();
        assert_eq!(pasted.status(), 404);
    }

    let (status, log) = server.terminate().await;
    assert!(
        status.success(),
        "graceful shutdown exits 0: {status:?}\n{log}"
    );
    assert!(log.contains("request"), "debug logging was on:\n{log}");
    assert!(log.contains("/v1/customers/sk_[redacted]"), "{log}");
    assert!(log.contains("shutting down"), "{log}");

    let password = PASSWORD.to_owned();
    let wrong_password = "wrong password!!".to_owned();
    let secrets = [
        &test_key,
        &live_key,
        &new_test_key,
        &restricted_key,
        &access,
        &refresh,
        &refreshed_access,
        &basic,
        &password,
        &wrong_password,
        &member_password,
        &totp_secret,
    ];
    for secret in &secrets {
        assert!(!log.contains(secret.as_str()), "a secret reached the log");
        // The random part alone must not appear either.
        if secret.starts_with("sk_") || secret.starts_with("rk_") {
            assert!(
                !log.contains(&secret[8..]),
                "a key's random part reached the log"
            );
        }
    }
    for file in files_under(&dir.path().join("keywarden-data")) {
        let bytes = std::fs::read(&file).unwrap();
        let text = String::from_utf8_lossy(&bytes);
        for secret in &secrets {
            assert!(
                !text.contains(secret.as_str()),
                "a secret is stored in {}",
                file.display()
            );
        }
    }
}

/// SIGTERM while a request is being handled: the request still gets its whole answer, then
/// the process exits 0. `Expect: 100-continue` makes the server say when its handler starts
/// reading the body, so the signal provably arrives mid-request; the body follows the signal.
#[tokio::test]
async fn sigterm_lets_the_request_in_flight_finish() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let dir = tempfile::tempdir().unwrap();
    let account = create_account(dir.path(), "grace@example.com", &[]);
    let live_key = account["keys"]["live"].as_str().unwrap().to_owned();
    let server = serve(dir.path(), &[]).await;
    let address = server.base.trim_start_matches("http://").to_owned();
    let body = serde_json::json!({ "key": live_key }).to_string();

    let mut stream = tokio::net::TcpStream::connect(&address).await.unwrap();
    let head = format!(
        "POST /v1/verify/ HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut interim = vec![0u8; 25];
    stream.read_exact(&mut interim).await.unwrap();
    assert_eq!(interim, b"HTTP/1.1 100 Continue\r\n\r\n");

    // The handler is waiting for the body: stop the server now.
    let pid = server.child.id().unwrap();
    let killed = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    stream.write_all(body.as_bytes()).await.unwrap();
    let mut answer = String::new();
    tokio::time::timeout(
        std::time::Duration::from_secs(20),
        stream.read_to_string(&mut answer),
    )
    .await
    .expect("the answer comes before the server stops")
    .unwrap();
    assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
    assert!(answer.contains(r#""valid":true"#), "{answer}");

    let (status, log) = server.terminate_after_signal().await;
    assert!(
        status.success(),
        "graceful shutdown exits 0: {status:?}\n{log}"
    );
    assert!(log.contains("shutting down"), "{log}");
}

#[test]
fn a_misspelt_variable_or_a_broken_env_file_stops_the_binary() {
    let dir = tempfile::tempdir().unwrap();
    let out = keywarden(
        dir.path(),
        &["serve"],
        "",
        &[("KEYWARDEN_LISTN", "127.0.0.1:1")],
    );
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("unknown environment variable KEYWARDEN_LISTN"),
        "{stderr}"
    );

    std::fs::write(dir.path().join(".env"), "KEYWARDEN_LISTEN='unterminated\n").unwrap();
    let out = keywarden(dir.path(), &["serve"], "", &[]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(".env"), "{stderr}");
}

/// A `.env` file in the working directory configures the binary; a variable set in the
/// environment wins over it.
#[test]
fn a_env_file_configures_and_the_environment_wins() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join(".env"),
        "KEYWARDEN_DATA_DIR=from-dotenv\nKEYWARDEN_LOG_LEVEL=warn\n",
    )
    .unwrap();
    create_account(dir.path(), "env@example.com", &[]);
    assert!(dir.path().join("from-dotenv").join("keywarden.db").exists());
    assert!(!dir.path().join("keywarden-data").exists());

    let out = keywarden(
        dir.path(),
        &[
            "admin",
            "create-account",
            "--name",
            "Other",
            "--email",
            "other@example.com",
            "--password-stdin",
        ],
        &format!("{PASSWORD}\n"),
        &[("KEYWARDEN_DATA_DIR", "from-environment")],
    );
    json_out(&out);
    assert!(
        dir.path()
            .join("from-environment")
            .join("keywarden.db")
            .exists()
    );
}

/// SPEC §5: a key the CLI creates while a server runs works there on the very next request,
/// though that server reads the change feed only every 30 s here: an unknown well-formed key
/// makes it catch up first.
#[tokio::test]
async fn a_key_the_cli_creates_works_on_the_running_server_at_once() {
    let dir = tempfile::tempdir().unwrap();
    create_account(dir.path(), "ada@example.com", &[]);
    let env = [
        ("KEYWARDEN_CACHE_REFRESH_INTERVAL_MS", "30000"),
        ("KEYWARDEN_CACHE_MAX_AGE_SECS", "60"),
    ];
    let server = serve(dir.path(), &env).await;
    let created = json_out(&keywarden(
        dir.path(),
        &[
            "admin",
            "create-account",
            "--name",
            "Globex",
            "--email",
            "grace@example.com",
            "--password-stdin",
        ],
        &format!("{PASSWORD}\n"),
        &env,
    ));
    let http = keywarden_testkit::http_client();
    for mode in ["live", "test"] {
        let key = created["keys"][mode].as_str().unwrap();
        let reply = http
            .get(format!("{}/v1/forward-auth/", server.base))
            .header("Authorization", format!("Api-Key {key}"))
            .header("X-Original-URI", "/v1/customers/")
            .send()
            .await
            .unwrap();
        assert_eq!(
            reply.status(),
            200,
            "{mode}: {}",
            reply.text().await.unwrap()
        );
    }
    let (status, _) = server.terminate().await;
    assert!(status.success());
}

/// `log_level` is a level and `target=level` pairs; a value that is no such filter is said,
/// once, and logging goes on at info.
#[test]
fn a_log_level_that_is_not_a_filter_is_said() {
    let dir = tempfile::tempdir().unwrap();
    let create = |email: &str, level: &str| {
        let output = run_create_account(dir.path(), email, &[], &[("KEYWARDEN_LOG_LEVEL", level)]);
        assert!(output.status.success());
        String::from_utf8_lossy(&output.stderr).into_owned()
    };
    let wrong = create("ada@example.com", "keywarden=loud");
    assert!(
        wrong.contains("log_level is not a filter") && wrong.contains(" WARN "),
        "{wrong}"
    );
    let off = create("bob@example.com", "off");
    assert!(!off.contains(" WARN ") && !off.contains(" INFO "), "{off}");
    assert!(off.contains("shown once"), "{off}");
}

/// What a newcomer meets at the command line: admin output without log lines, the same
/// `--database-url` for admin as for serve, and a wrong listen address answered with an example.
#[test]
fn admin_commands_take_the_database_url_and_print_no_log_lines() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}/elsewhere/kw.db", dir.path().display());
    let output = keywarden(
        dir.path(),
        &[
            "admin",
            "--database-url",
            &db,
            "create-account",
            "--name",
            "Acme",
            "--email",
            "ada@example.com",
            "--password-stdin",
        ],
        &format!("{PASSWORD}\n"),
        &[],
    );
    let created = json_out(&output);
    assert!(created["account_id"].is_string());
    assert!(dir.path().join("elsewhere/kw.db").exists());
    assert!(
        !dir.path().join("keywarden-data/keywarden.db").exists(),
        "the default database was used instead of --database-url"
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !stderr.contains(" INFO "),
        "admin output carries log lines: {stderr}"
    );
    assert!(stderr.contains("shown once"), "{stderr}");

    let help = keywarden(dir.path(), &["admin", "add-user", "--help"], "", &[]);
    let help = String::from_utf8_lossy(&help.stdout);
    assert!(help.contains("at least 12 characters"), "{help}");
    assert!(!help.contains('`'), "Markdown in help: {help}");

    let wrong = keywarden(
        dir.path(),
        &["serve", "--listen", "localhost:8080"],
        "",
        &[],
    );
    assert!(!wrong.status.success());
    let text = String::from_utf8_lossy(&wrong.stderr);
    assert!(text.contains("e.g. 127.0.0.1:8080"), "{text}");
}
