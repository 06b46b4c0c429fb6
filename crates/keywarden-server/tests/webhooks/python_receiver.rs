//! Interoperability: the Standard Webhooks library (PyPI `standardwebhooks`), run as a real
//! receiver (`tests/webhooks/receiver.py`), verifies Keywarden's deliveries — with the one
//! secret, then with either secret during a rotation's overlap — and refuses a tampered body.
//! Runs when `KEYWARDEN_TEST_PYTHON` names a Python that has the package (CI makes one);
//! otherwise says loudly that it did not run.

use crate::support::{admin_token, create_key, endpoint_with, rotate_secret_to, server};
use keywarden_core::webhook::EndpointSecret;
use keywarden_core::{Clock, OsRandom, SystemClock};
use keywarden_testkit::announce;
use serde_json::Value;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader, Lines};
use tokio::process::{ChildStdout, Command};

/// The Python to run, if it has the library.
async fn python() -> Option<String> {
    let skip = |why: &str| {
        announce(&format!(
            "SKIPPED: {why}; the Standard Webhooks (Python) interoperability test did not run. \
             Set KEYWARDEN_TEST_PYTHON to a python with `standardwebhooks` installed \
             (.ci/run makes target/ci-venv)"
        ));
        None
    };
    let Some(python) = std::env::var("KEYWARDEN_TEST_PYTHON")
        .ok()
        .filter(|p| !p.is_empty())
    else {
        return skip("KEYWARDEN_TEST_PYTHON is not set");
    };
    let has_library = Command::new(&python)
        .args(["-c", "import standardwebhooks.webhooks"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .await
        .is_ok_and(|s| s.success());
    if !has_library {
        return skip(&format!("{python} cannot import standardwebhooks"));
    }
    Some(python)
}

async fn next_line(lines: &mut Lines<BufReader<ChildStdout>>) -> String {
    tokio::time::timeout(Duration::from_secs(5), lines.next_line())
        .await
        .expect("the receiver answers within 5 s")
        .unwrap()
        .expect("the receiver is running")
}

#[tokio::test]
async fn the_standard_webhooks_library_verifies_deliveries() {
    let Some(python) = python().await else {
        return;
    };
    let server = server().await;
    // Receivers compare `webhook-timestamp` with their own clock (5 minutes either way).
    server.clock.set(SystemClock.now());
    server.advance(time::Duration::ZERO).await;
    let account = server.account_with("Acme", false).await;
    let token = admin_token(&server, &account.admin_email).await;
    server.state.webhooks.run_once().await.unwrap();

    let old = EndpointSecret::generate(&OsRandom).unwrap();
    let new = EndpointSecret::generate(&OsRandom).unwrap();
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/webhooks/receiver.py");
    let mut receiver = Command::new(&python)
        .arg(&script)
        .args([old.reveal(), new.reveal()])
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("start the Python receiver");
    let mut lines = BufReader::new(receiver.stdout.take().unwrap()).lines();
    let port = next_line(&mut lines).await;
    let port = port.strip_prefix("listening ").expect("listening PORT");
    let url = format!("http://127.0.0.1:{port}/keywarden");
    let endpoint = endpoint_with(&server, account.id, &url, &old).await;

    let (first_key, _) = create_key(&server, &token, "before rotation").await;
    let first: Value = serde_json::from_str(&next_line(&mut lines).await).unwrap();
    assert_eq!(first["type"], "key.created");
    assert_eq!(first["key_id"], first_key.as_str());
    assert_eq!(
        first["verified"],
        serde_json::json!([true, false]),
        "{first}"
    );
    assert_eq!(first["tampered_accepted"], false);

    rotate_secret_to(&server, account.id, endpoint, &new).await;
    let (second_key, _) = create_key(&server, &token, "during the overlap").await;
    let second: Value = serde_json::from_str(&next_line(&mut lines).await).unwrap();
    assert_eq!(second["key_id"], second_key.as_str());
    assert_eq!(
        second["verified"],
        serde_json::json!([true, true]),
        "{second}"
    );
    assert_eq!(second["tampered_accepted"], false);
    assert_ne!(first["webhook_id"], second["webhook_id"]);

    announce(
        "webhooks: the Standard Webhooks Python library verified both deliveries (one secret, then either during the overlap) and refused tampered bodies",
    );
    let _ = receiver.kill().await;
    server.stop().await;
}

/// The Python verification example of docs/WEBHOOKS.md is the function the receiver above runs
/// against real deliveries, character for character.
#[test]
fn the_documented_python_example_is_the_code_the_receiver_runs() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let docs = std::fs::read_to_string(root.join("docs/WEBHOOKS.md")).unwrap();
    let receiver = std::fs::read_to_string(root.join("tests/webhooks/receiver.py")).unwrap();
    let start = docs.find("```python\n").expect("a Python example") + "```python\n".len();
    let example = &docs[start..start + docs[start..].find("```").unwrap()];
    assert!(example.contains("def verified_event("), "{example}");
    assert!(
        receiver.contains(example.trim_end()),
        "docs/WEBHOOKS.md's Python example is not the receiver's code:\n{example}"
    );
}
