//! `keywarden scan` as a user runs it: the real binary over files, directories, standard input
//! and a real git repository, with keys from core's generator and look-alikes that must never
//! be found. The SARIF report is checked against the official SARIF 2.1.0 schema, vendored in
//! tests/data.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)] // a test: failing loudly is the point

use keywarden_core::OsRandom;
use keywarden_core::key_format::{self, KeyKind, Mode};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_keywarden");

fn new_key(kind: KeyKind, mode: Mode) -> String {
    key_format::generate(kind, mode, &OsRandom)
        .unwrap()
        .expose()
        .to_owned()
}

fn hint(key: &str) -> String {
    format!("{}…{}", &key[..12], &key[42..])
}

fn sha256(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

/// Runs `keywarden scan ARGS` in `dir` with `stdin`, with no KEYWARDEN_* variable set.
fn scan(dir: &Path, args: &[&str], stdin: &[u8]) -> Output {
    let mut cmd = Command::new(BIN);
    cmd.arg("scan")
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (name, _) in std::env::vars() {
        if name.starts_with("KEYWARDEN_") {
            cmd.env_remove(name);
        }
    }
    let mut child = cmd.spawn().expect("spawn keywarden");
    let mut input = child.stdin.take().unwrap();
    // Written from a thread: the scan reads as it writes its report, so neither waits.
    let stdin = stdin.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = input.write_all(&stdin);
    });
    let output = child.wait_with_output().expect("wait");
    writer.join().unwrap();
    output
}

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).unwrap()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// The exit status, and that no key in `keys` appears whole in anything printed.
fn status_showing_no_key(output: &Output, keys: &[&str]) -> i32 {
    let printed = format!("{}{}", stdout(output), stderr(output));
    for key in keys {
        assert!(!printed.contains(key), "a whole key was printed: {printed}");
    }
    output.status.code().expect("exited")
}

fn write(path: &Path, bytes: impl AsRef<[u8]>) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, bytes).unwrap();
}

/// Every way to spoil `key` while keeping it 46 base62 characters after its prefix, or close:
/// each character after the prefix replaced (so the checksum fails), each adjacent pair
/// swapped, cut short by one, a letter inserted inside, the prefix changed.
fn look_alikes(key: &str) -> Vec<String> {
    let bytes = key.as_bytes();
    let mut out = Vec::new();
    for at in 8..46 {
        let mut changed = bytes.to_vec();
        changed[at] = match changed[at] {
            b'z' => b'A',
            b'Z' => b'0',
            b'9' => b'a',
            other => other + 1,
        };
        out.push(String::from_utf8(changed).unwrap());
        if at < 45 && bytes[at] != bytes[at + 1] {
            let mut swapped = bytes.to_vec();
            swapped.swap(at, at + 1);
            out.push(String::from_utf8(swapped).unwrap());
        }
        // A character unlike the one it pushes along, else the first 46 could be the key.
        let mut inserted = key.to_owned();
        inserted.insert(at, if bytes[at] == b'Q' { 'R' } else { 'Q' });
        out.push(inserted);
    }
    out.push(key[..45].to_owned());
    out.push(format!("sk_prod_{}", &key[8..]));
    out.push(format!("pk{}", &key[2..]));
    out.push(format!("{}-{}", &key[..7], &key[8..]));
    out
}

#[test]
fn a_directory_is_scanned_recursively_and_each_key_reported_by_place_and_hint() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let live = new_key(KeyKind::Standard, Mode::Live);
    let restricted = new_key(KeyKind::Restricted, Mode::Live);
    let test = new_key(KeyKind::Restricted, Mode::Test);
    let in_git = new_key(KeyKind::Standard, Mode::Test);
    let behind_link = new_key(KeyKind::Standard, Mode::Live);

    write(
        &root.join("app/config.py"),
        format!("import os\n\nAPI_KEY = \"{live}\"\n"),
    );
    // A binary file: NUL bytes, continuation bytes, no valid UTF-8 around the key.
    let mut binary = Vec::new();
    for _ in 0..100 {
        binary.extend_from_slice(&[0x00, 0x9F, 0x92, 0x96]);
    }
    binary.push(b'\n');
    binary.extend_from_slice(&[0xFF; 10]);
    binary.extend_from_slice(restricted.as_bytes());
    binary.extend_from_slice(&[0; 5]);
    write(&root.join("b.bin"), &binary);
    write(&root.join("z/rk.env"), format!("RK={test}"));
    // Skipped: .git (history is --git's business) and a symbolic link met in the walk.
    write(&root.join(".git/config"), format!("token = {in_git}\n"));
    let outside = tempfile::tempdir().unwrap();
    write(&outside.path().join("secret.txt"), &behind_link);
    std::os::unix::fs::symlink(outside.path().join("secret.txt"), root.join("link.txt")).unwrap();
    let mut spoiled = String::new();
    for key in [&live, &restricted, &test] {
        for look_alike in look_alikes(key) {
            spoiled.push_str(&look_alike);
            spoiled.push('\n');
        }
    }
    write(&root.join("look-alikes.txt"), &spoiled);

    let keys = [
        live.as_str(),
        restricted.as_str(),
        test.as_str(),
        in_git.as_str(),
        behind_link.as_str(),
    ];
    let expected = format!(
        "app/config.py:3:12: sk_live key {}\nb.bin:2:11: rk_live key {}\nz/rk.env:1:4: rk_test key {}\n",
        hint(&live),
        hint(&restricted),
        hint(&test)
    );
    // No path: the current directory, names shown without `./`.
    let output = scan(root, &[], b"");
    assert_eq!(
        status_showing_no_key(&output, &keys),
        1,
        "{}",
        stderr(&output)
    );
    assert_eq!(stdout(&output), expected);
    assert_eq!(
        stderr(&output),
        "keywarden scan: 3 keys found. A key in a file or a commit is leaked: revoke or rotate \
         each in the console.\n"
    );

    // The same directory by another name: paths start with that name.
    let output = scan(
        root.parent().unwrap(),
        &[&format!("{}/", root_name(root))],
        b"",
    );
    assert_eq!(status_showing_no_key(&output, &keys), 1);
    let prefixed: String = expected
        .lines()
        .map(|line| format!("{}/{line}\n", root_name(root)))
        .collect();
    assert_eq!(stdout(&output), prefixed);

    // A link named on the command line is followed.
    let output = scan(root, &["link.txt"], b"");
    assert_eq!(status_showing_no_key(&output, &keys), 1);
    assert_eq!(
        stdout(&output),
        format!("link.txt:1:1: sk_live key {}\n", hint(&behind_link))
    );
}

fn root_name(root: &Path) -> String {
    root.file_name().unwrap().to_string_lossy().into_owned()
}

#[test]
fn look_alikes_with_wrong_checksums_are_never_found() {
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::new();
    let mut count = 0;
    for i in 0..100 {
        let kind = if i % 2 == 0 {
            KeyKind::Standard
        } else {
            KeyKind::Restricted
        };
        let mode = if i % 3 == 0 { Mode::Live } else { Mode::Test };
        for look_alike in look_alikes(&new_key(kind, mode)) {
            text.push_str("KEY=");
            text.push_str(&look_alike);
            text.push('\n');
            count += 1;
        }
    }
    assert!(count > 10_000, "{count}");
    write(&dir.path().join("spoiled.txt"), &text);
    let output = scan(dir.path(), &["spoiled.txt"], b"");
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(stdout(&output), "");
    assert_eq!(stderr(&output), "");

    // One real key among them is found, alone.
    let key = new_key(KeyKind::Standard, Mode::Live);
    let lines = text.lines().count();
    text.push_str(&key);
    write(&dir.path().join("spoiled.txt"), &text);
    let output = scan(dir.path(), &["--format", "json", "spoiled.txt"], b"");
    assert_eq!(status_showing_no_key(&output, &[&key]), 1);
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["findings"].as_array().unwrap().len(), 1);
    assert_eq!(report["findings"][0]["line"], lines + 1);
    assert_eq!(report["findings"][0]["column"], 1);
}

#[test]
fn standard_input_is_read_with_a_dash() {
    let dir = tempfile::tempdir().unwrap();
    let key = new_key(KeyKind::Restricted, Mode::Live);
    let log = format!("2026-12-06 INFO request ok\n2026-12-06 WARN Authorization: Api-Key {key}\n");
    let output = scan(dir.path(), &["-"], log.as_bytes());
    assert_eq!(status_showing_no_key(&output, &[&key]), 1);
    assert_eq!(
        stdout(&output),
        format!("-:2:40: rk_live key {}\n", hint(&key))
    );

    let output = scan(dir.path(), &["-"], b"nothing to see\n");
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(stdout(&output), "");
}

/// More data than any read takes, through a pipe: keys at the start, across the first
/// read-size boundary and at the very end are all found at their lines, and the scanner's
/// memory stays small while 64 MiB go through (it reads in chunks, never the whole input).
#[test]
fn large_input_is_read_in_chunks_and_keys_across_reads_are_found() {
    let dir = tempfile::tempdir().unwrap();
    let first = new_key(KeyKind::Standard, Mode::Test);
    let across = new_key(KeyKind::Standard, Mode::Live);
    let last = new_key(KeyKind::Restricted, Mode::Test);
    // Lines of 100 bytes; the second key starts 20 bytes before 256 KiB.
    let line = format!("{}\n", "x".repeat(99));
    let target = 256 * 1024 - 20;
    let mut data = format!("{first}\n").into_bytes();
    while data.len() + line.len() <= target {
        data.extend_from_slice(line.as_bytes());
    }
    data.resize(target, b'y');
    let across_line = 1 + data.iter().filter(|&&b| b == b'\n').count();
    let across_column = 1 + data.len() - (data.iter().rposition(|&b| b == b'\n').unwrap() + 1);
    data.extend_from_slice(across.as_bytes());
    data.push(b'\n');
    for _ in 0..30_000 {
        data.extend_from_slice(line.as_bytes());
    }
    let last_line = 1 + data.iter().filter(|&&b| b == b'\n').count();
    data.extend_from_slice(last.as_bytes());
    write(&dir.path().join("big.log"), &data);

    let output = scan(dir.path(), &["big.log"], b"");
    assert_eq!(status_showing_no_key(&output, &[&first, &across, &last]), 1);
    assert_eq!(
        stdout(&output),
        format!(
            "big.log:1:1: sk_test key {}\nbig.log:{across_line}:{across_column}: sk_live key {}\nbig.log:{last_line}:1: rk_test key {}\n",
            hint(&first),
            hint(&across),
            hint(&last)
        )
    );

    // 64 MiB through standard input, then a key; the high-water mark of the process's memory
    // is read while it waits for more.
    let mut child = Command::new(BIN)
        .args(["scan", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    let block = vec![b'k'; 1 << 20];
    for _ in 0..64 {
        input.write_all(&block).unwrap();
    }
    input.flush().unwrap();
    let status = std::fs::read_to_string(format!("/proc/{}/status", child.id())).unwrap();
    let peak_kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches(" kB").parse().ok())
        .unwrap();
    input.write_all(b"\n").unwrap();
    input.write_all(last.as_bytes()).unwrap();
    drop(input);
    let output = child.wait_with_output().unwrap();
    assert_eq!(
        String::from_utf8(output.stdout).unwrap(),
        format!("-:2:1: rk_test key {}\n", hint(&last))
    );
    assert!(
        peak_kib < 32 * 1024,
        "{peak_kib} KiB resident after 64 MiB of input"
    );
}

#[test]
fn a_path_that_cannot_be_read_is_an_error_but_the_others_are_still_scanned() {
    let dir = tempfile::tempdir().unwrap();
    let key = new_key(KeyKind::Standard, Mode::Live);
    write(&dir.path().join("keys.env"), format!("K={key}\n"));
    let output = scan(dir.path(), &["missing.txt", "keys.env"], b"");
    assert_eq!(status_showing_no_key(&output, &[&key]), 2);
    assert_eq!(
        stdout(&output),
        format!("keys.env:1:3: sk_live key {}\n", hint(&key))
    );
    assert_eq!(
        stderr(&output),
        "keywarden scan: missing.txt: No such file or directory\n\
         keywarden scan: 1 error: the scan is incomplete\n"
    );

    // Nothing found, still an error.
    let output = scan(dir.path(), &["missing.txt"], b"");
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(stdout(&output), "");

    // A usage error is clap's, with status 2 too.
    let output = scan(dir.path(), &["--format", "xml"], b"");
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("invalid value 'xml'"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn nothing_found_is_status_0_with_nothing_printed() {
    let dir = tempfile::tempdir().unwrap();
    write(
        &dir.path().join("README.md"),
        "sk_test_ is how a test key starts\n",
    );
    write(&dir.path().join("empty"), "");
    let output = scan(dir.path(), &["."], b"");
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(stdout(&output), "");
    assert_eq!(stderr(&output), "");

    let output = scan(dir.path(), &["--format", "json"], b"");
    assert_eq!(output.status.code(), Some(0));
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(
        report,
        json!({"findings": [], "files_scanned": 2, "bytes_scanned": 34, "errors": 0})
    );
}

#[test]
fn json_report_names_each_key_by_type_hint_and_hash() {
    let dir = tempfile::tempdir().unwrap();
    let key = new_key(KeyKind::Restricted, Mode::Live);
    write(
        &dir.path().join("deploy/values.yaml"),
        format!("env:\n  - name: KEY\n    value: {key}\n"),
    );
    let output = scan(dir.path(), &["--format", "json", "deploy"], b"");
    assert_eq!(status_showing_no_key(&output, &[&key]), 1);
    assert_eq!(stderr(&output), "");
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(
        report,
        json!({
            "findings": [{
                "path": "deploy/values.yaml",
                "line": 3,
                "column": 12,
                "offset": 30,
                "type": "rk_live",
                "kind": "restricted",
                "mode": "live",
                "hint": hint(&key),
                "key_sha256": sha256(&key),
            }],
            "files_scanned": 1,
            "bytes_scanned": 77,
            "errors": 0,
        })
    );
}

/// The official schema (OASIS SARIF 2.1.0, errata 01), with format checks on.
fn sarif_validator() -> jsonschema::Validator {
    let schema: Value = serde_json::from_str(include_str!("data/sarif-schema-2.1.0.json")).unwrap();
    jsonschema::options()
        .should_validate_formats(true)
        .build(&schema)
        .expect("the SARIF schema compiles")
}

fn assert_valid_sarif(report: &Value) {
    let validator = sarif_validator();
    let errors: Vec<String> = validator
        .iter_errors(report)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "invalid SARIF: {errors:#?}\n{report:#}");
    // What GitHub code scanning needs beyond the schema: the driver's name and rules, and
    // each result's rule, message and a physical location with a line and column.
    let run = &report["runs"][0];
    assert_eq!(run["tool"]["driver"]["name"], "keywarden");
    let rules: Vec<&str> = run["tool"]["driver"]["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    for result in run["results"].as_array().unwrap() {
        let rule = result["ruleId"].as_str().unwrap();
        assert_eq!(rules[result["ruleIndex"].as_u64().unwrap() as usize], rule);
        assert!(result["message"]["text"].as_str().unwrap().len() > 10);
        let location = &result["locations"][0]["physicalLocation"];
        assert!(location["artifactLocation"]["uri"].is_string());
        assert!(location["region"]["startLine"].as_u64().unwrap() >= 1);
        assert!(location["region"]["startColumn"].as_u64().unwrap() >= 1);
    }
}

#[test]
fn the_schema_check_rejects_a_broken_report() {
    // The validator is not a rubber stamp: a result without a message, a line of 0 and a
    // wrong version are each refused.
    let validator = sarif_validator();
    let good = json!({
        "version": "2.1.0",
        "runs": [{"tool": {"driver": {"name": "keywarden"}}, "results": [{
            "message": {"text": "m"},
            "locations": [{"physicalLocation": {"artifactLocation": {"uri": "a"},
                "region": {"startLine": 1}}}]
        }]}]
    });
    assert!(validator.is_valid(&good));
    let mut no_message = good.clone();
    no_message["runs"][0]["results"][0]
        .as_object_mut()
        .unwrap()
        .remove("message");
    assert!(!validator.is_valid(&no_message));
    let mut line_zero = good.clone();
    line_zero["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["region"]["startLine"] =
        json!(0);
    assert!(!validator.is_valid(&line_zero));
    let mut wrong_version = good;
    wrong_version["version"] = json!("2.0.0");
    assert!(!validator.is_valid(&wrong_version));
}

#[test]
fn sarif_report_is_valid_sarif_2_1_0_for_code_scanning() {
    let dir = tempfile::tempdir().unwrap();
    let live = new_key(KeyKind::Standard, Mode::Live);
    let test = new_key(KeyKind::Restricted, Mode::Test);
    write(
        &dir.path().join("a dir/config #1.env"),
        format!("LIVE={live}\n"),
    );
    write(
        &dir.path().join("tests/fixture.json"),
        format!("{{\"key\": \"{test}\"}}"),
    );
    let output = scan(dir.path(), &["--format", "sarif"], b"");
    assert_eq!(status_showing_no_key(&output, &[&live, &test]), 1);
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_valid_sarif(&report);

    let run = &report["runs"][0];
    assert_eq!(run["invocations"][0]["executionSuccessful"], true);
    let results = run["results"].as_array().unwrap();
    assert_eq!(results.len(), 2);
    assert_eq!(results[0]["ruleId"], "keywarden/leaked-live-key");
    assert_eq!(results[0]["level"], "error");
    let location = &results[0]["locations"][0]["physicalLocation"];
    assert_eq!(
        location["artifactLocation"]["uri"],
        "a%20dir/config%20%231.env"
    );
    assert_eq!(
        location["region"],
        json!({"startLine": 1, "startColumn": 6, "endLine": 1, "endColumn": 52,
               "byteOffset": 5, "byteLength": 46})
    );
    assert!(
        results[0]["message"]["text"]
            .as_str()
            .unwrap()
            .contains(&hint(&live))
    );
    assert_eq!(results[0]["properties"]["keySha256"], sha256(&live));
    assert_eq!(results[1]["ruleId"], "keywarden/leaked-test-key");
    assert_eq!(results[1]["level"], "warning");
    assert_eq!(
        results[1]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
        "tests/fixture.json"
    );

    // Nothing found: still a valid document, with no results.
    let clean = tempfile::tempdir().unwrap();
    let output = scan(clean.path(), &["--format", "sarif"], b"");
    assert_eq!(output.status.code(), Some(0));
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_valid_sarif(&report);
    assert_eq!(report["runs"][0]["results"], json!([]));
}

/// Runs git in `repo` with a fixed identity and no user configuration.
fn git(repo: &Path, args: &[&str]) -> String {
    let output = Command::new("git")
        .args([
            "-c",
            "user.name=Ada",
            "-c",
            "user.email=ada@example.com",
            "-c",
            "commit.gpgsign=false",
            "-c",
            "init.defaultBranch=main",
        ])
        .args(args)
        .current_dir(repo)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .output()
        .expect("git is installed");
    assert!(
        output.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap().trim().to_owned()
}

#[test]
fn git_history_finds_a_key_a_later_commit_deleted_with_the_commit_that_added_it() {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("service");
    std::fs::create_dir(&repo).unwrap();
    let key = new_key(KeyKind::Standard, Mode::Live);
    let branch_key = new_key(KeyKind::Restricted, Mode::Test);
    git(&repo, &["init", "-q"]);
    write(&repo.join("README.md"), "A service.\n");
    git(&repo, &["add", "."]);
    git(&repo, &["commit", "-q", "-m", "start"]);
    write(
        &repo.join(".env"),
        format!("DATABASE_URL=postgres://db/app\nKEYWARDEN_KEY={key}\n"),
    );
    git(&repo, &["add", ".env"]);
    git(&repo, &["commit", "-q", "-m", "configure"]);
    let added = git(&repo, &["rev-parse", "HEAD"]);
    // Changed elsewhere, then deleted: the key is reported once, with the commit that added it.
    write(
        &repo.join(".env"),
        format!("DATABASE_URL=postgres://db/prod\nKEYWARDEN_KEY={key}\n"),
    );
    git(&repo, &["commit", "-q", "-am", "prod database"]);
    git(&repo, &["rm", "-q", ".env"]);
    git(&repo, &["commit", "-q", "-m", "remove the secrets"]);
    // A key only on a branch that was never merged.
    git(&repo, &["checkout", "-q", "-b", "experiment"]);
    write(
        &repo.join("src/client.py"),
        format!("KEY = '{branch_key}'\n"),
    );
    git(&repo, &["add", "."]);
    git(&repo, &["commit", "-q", "-m", "try"]);
    let on_branch = git(&repo, &["rev-parse", "HEAD"]);
    git(&repo, &["checkout", "-q", "main"]);
    assert!(!repo.join(".env").exists());

    // Without --git: the files on disk hold no key, and .git/ is not read.
    let output = scan(dir.path(), &["service"], b"");
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(stdout(&output), "");

    // With --git, from inside the repository and from its parent.
    let expected = format!(
        "{added}:.env:2:15: sk_live key {}\n{on_branch}:src/client.py:1:8: rk_test key {}\n",
        hint(&key),
        hint(&branch_key)
    );
    let output = scan(&repo, &["--git"], b"");
    assert_eq!(
        status_showing_no_key(&output, &[&key, &branch_key]),
        1,
        "{}",
        stderr(&output)
    );
    assert_eq!(stdout(&output), expected);
    let output = scan(dir.path(), &["--git", "service"], b"");
    assert_eq!(status_showing_no_key(&output, &[&key, &branch_key]), 1);
    assert_eq!(
        stdout(&output),
        expected
            .replace(":.env:", ":service/.env:")
            .replace(":src/", ":service/src/")
    );

    std::fs::create_dir(repo.join("notes")).unwrap();
    let output = scan(&repo.join("notes"), &["--git"], b"");
    assert_eq!(status_showing_no_key(&output, &[&key, &branch_key]), 1);
    assert_eq!(
        stdout(&output),
        expected
            .replace(":.env:", ":../.env:")
            .replace(":src/", ":../src/")
    );

    let output = scan(&repo, &["--git", "--format", "json"], b"");
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["findings"][0]["commit"], added.as_str());
    assert_eq!(report["findings"][0]["path"], ".env");
    assert_eq!(report["findings"][0]["key_sha256"], sha256(&key));
    assert_eq!(report["errors"], 0);

    let output = scan(&repo, &["--git", "--format", "sarif"], b"");
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_valid_sarif(&report);
    let result = &report["runs"][0]["results"][0];
    assert_eq!(result["properties"]["commit"], added.as_str());
    assert_eq!(
        result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
        ".env"
    );
    assert!(
        result["message"]["text"]
            .as_str()
            .unwrap()
            .contains(&format!("in commit {added}"))
    );
}

#[test]
fn git_mode_refuses_what_is_not_a_repository() {
    let dir = tempfile::tempdir().unwrap();
    let output = scan(dir.path(), &["--git", "."], b"");
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("not a git repository"),
        "{}",
        stderr(&output)
    );
    let output = scan(dir.path(), &["--git", "-"], b"");
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("standard input has no git history"),
        "{}",
        stderr(&output)
    );
    let output = scan(dir.path(), &["--git", "nowhere"], b"");
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("nowhere: No such file or directory"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn help_is_plain_text_and_scan_needs_no_configuration() {
    let dir = tempfile::tempdir().unwrap();
    let help = scan(dir.path(), &["--help"], b"");
    assert_eq!(help.status.code(), Some(0));
    let text = stdout(&help);
    assert!(text.contains("--git"), "{text}");
    assert!(text.contains("Exit status: 0 nothing found"), "{text}");
    assert!(!text.contains('`'), "Markdown in help: {text}");

    // A .env file in the scanned directory is data, not configuration: an unknown
    // KEYWARDEN_* variable in it does not stop the scan, and its key is found.
    let key = new_key(KeyKind::Standard, Mode::Test);
    write(
        &dir.path().join(".env"),
        format!("KEYWARDEN_NOT_A_SETTING=1\nKEYWARDEN_KEY={key}\n"),
    );
    let output = scan(dir.path(), &[], b"");
    assert_eq!(
        status_showing_no_key(&output, &[&key]),
        1,
        "{}",
        stderr(&output)
    );
    assert_eq!(
        stdout(&output),
        format!(".env:2:15: sk_test key {}\n", hint(&key))
    );
}
