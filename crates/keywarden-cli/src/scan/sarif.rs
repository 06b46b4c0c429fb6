//! SARIF 2.1.0 (OASIS), the form GitHub code scanning and other tools read: one run, a rule
//! per mode (a live key is an error, a test key a warning), one result per finding with its
//! file, line and column. Checked against the official schema by the CLI's tests.

use super::{Finding, Tally};
use keywarden_core::key_format::{KEY_LEN, Mode};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

const SCHEMA: &str =
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json";

/// The rule of a live key, then that of a test key (`ruleIndex` is the position here).
const RULES: [(Mode, &str); 2] = [
    (Mode::Live, "keywarden/leaked-live-key"),
    (Mode::Test, "keywarden/leaked-test-key"),
];

/// The whole document.
pub fn report(findings: &[Finding], tally: &Tally) -> Value {
    json!({
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {
                "driver": {
                    "name": "keywarden",
                    "semanticVersion": env!("CARGO_PKG_VERSION"),
                    "rules": RULES.iter().map(|&(mode, id)| rule(mode, id)).collect::<Vec<_>>(),
                }
            },
            "invocations": [{ "executionSuccessful": tally.errors == 0 }],
            // Columns count characters (code points), as the text report does.
            "columnKind": "unicodeCodePoints",
            "results": findings.iter().map(result).collect::<Vec<_>>(),
        }]
    })
}

fn rule(mode: Mode, id: &str) -> Value {
    let (level, severity, what) = match mode {
        Mode::Live => ("error", "9.0", "A live Keywarden API key"),
        Mode::Test => ("warning", "6.5", "A test Keywarden API key"),
    };
    json!({
        "id": id,
        "name": match mode { Mode::Live => "LeakedLiveKey", Mode::Test => "LeakedTestKey" },
        "shortDescription": { "text": format!("{what} is in the code") },
        "fullDescription": {
            "text": format!(
                "{what} (shape and checksum checked) is in a file or in the history of the \
                 repository. Anyone who can read it can call the API as the key's account."
            )
        },
        "help": {
            "text": "Treat the key as leaked: revoke it (or rotate a standard key) in the \
                     Keywarden console at once, then remove it from the file. Removing it in a \
                     new commit is not enough: the history still holds it. Keep keys in a \
                     secret store or an environment variable that is not committed."
        },
        "defaultConfiguration": { "level": level },
        "properties": {
            "tags": ["security", "secret", "external/cwe/cwe-798"],
            "precision": "very-high",
            "problem.severity": level,
            "security-severity": severity,
        }
    })
}

fn result(finding: &Finding) -> Value {
    let (index, id) = RULES
        .iter()
        .enumerate()
        .find(|(_, (mode, _))| *mode == finding.mode)
        .map_or((0, ""), |(i, (_, id))| (i, *id));
    let mut properties = json!({ "keySha256": finding.key_sha256 });
    if let (Some(commit), Some(map)) = (&finding.commit, properties.as_object_mut()) {
        map.insert("commit".into(), Value::from(commit.as_str()));
    }
    let where_ = match &finding.commit {
        Some(commit) => format!("in commit {commit}"),
        None => "here".to_owned(),
    };
    json!({
        "ruleId": id,
        "ruleIndex": index,
        "level": if finding.mode == Mode::Live { "error" } else { "warning" },
        "message": {
            "text": format!(
                "A Keywarden {} key ({}) is {where_}. Revoke or rotate it: a committed key is leaked.",
                finding.key_type(),
                finding.hint
            )
        },
        "locations": [{
            "physicalLocation": {
                "artifactLocation": { "uri": uri(&finding.path) },
                "region": {
                    "startLine": finding.line,
                    "startColumn": finding.column,
                    "endLine": finding.line,
                    "endColumn": finding.column + KEY_LEN as u64,
                    "byteOffset": finding.offset,
                    "byteLength": KEY_LEN,
                }
            }
        }],
        // The same key in the same file is the same alert from one run to the next, wherever
        // its line moves and whichever commit holds it.
        "partialFingerprints": {
            "keywardenKeyInFile/v1": hex::encode(Sha256::digest(
                format!("{}\0{}", finding.key_sha256, finding.path).as_bytes()
            )),
        },
        "properties": properties,
    })
}

/// A path as a URI reference: relative paths stay relative (what code scanning matches
/// against the repository), without a leading `./`; absolute ones become `file://` URIs.
/// Every byte outside the unreserved and path characters is percent-encoded (a `:` too, so
/// that a first segment never reads as a scheme).
pub fn uri(path: &str) -> String {
    let (prefix, rest) = match path.strip_prefix('/') {
        Some(rest) => ("file:///", rest),
        None => ("", path.trim_start_matches("./")),
    };
    let mut out = String::with_capacity(prefix.len() + rest.len());
    out.push_str(prefix);
    for &byte in rest.as_bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~/!$&'()*+,;=@".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::uri;

    #[test]
    fn paths_become_uri_references() {
        assert_eq!(uri("config/.env"), "config/.env");
        assert_eq!(uri("./src/main.rs"), "src/main.rs");
        assert_eq!(uri("/srv/app/a b#1.txt"), "file:///srv/app/a%20b%231.txt");
        assert_eq!(uri("c:d/été"), "c%3Ad/%C3%A9t%C3%A9");
        assert_eq!(uri("-"), "-");
    }
}
