//! Where findings go. Text is written as each is found (a long scan shows its first findings
//! at once); JSON and SARIF are one document each, written when the scan ends.

use super::{Finding, Tally, sarif};
use crate::cli::ScanFormat;
use serde_json::{Value, json};
use std::io::{BufWriter, Stdout, Write};

/// The report being written.
#[derive(Debug)]
pub struct Sink {
    format: ScanFormat,
    out: BufWriter<Stdout>,
    /// Findings kept for a JSON or SARIF document (empty for text).
    kept: Vec<Finding>,
    found: u64,
}

impl Sink {
    /// A report in `format` on standard output.
    pub fn new(format: ScanFormat) -> Self {
        Self {
            format,
            out: BufWriter::new(std::io::stdout()),
            kept: Vec::new(),
            found: 0,
        }
    }

    /// Keys found so far.
    pub fn found(&self) -> u64 {
        self.found
    }

    /// Adds one finding.
    pub fn finding(&mut self, finding: Finding) -> std::io::Result<()> {
        self.found += 1;
        match self.format {
            ScanFormat::Text => writeln!(self.out, "{}", text_line(&finding)),
            ScanFormat::Json | ScanFormat::Sarif => {
                self.kept.push(finding);
                Ok(())
            }
        }
    }

    /// Ends the report.
    pub fn finish(mut self, tally: &Tally) -> std::io::Result<()> {
        let document = match self.format {
            ScanFormat::Text => None,
            ScanFormat::Json => Some(json_report(&self.kept, tally)),
            ScanFormat::Sarif => Some(sarif::report(&self.kept, tally)),
        };
        if let Some(document) = document {
            serde_json::to_writer_pretty(&mut self.out, &document)?;
            self.out.write_all(b"\n")?;
        }
        self.out.flush()
    }
}

/// `path:line:column: sk_live key sk_live_AbCd…WxYz`; in history, `commit:path:…` (the way
/// `git grep` names a file of a commit).
pub fn text_line(finding: &Finding) -> String {
    let place = match &finding.commit {
        Some(commit) => format!("{commit}:{}", finding.path),
        None => finding.path.clone(),
    };
    format!(
        "{place}:{}:{}: {} key {}",
        finding.line,
        finding.column,
        finding.key_type(),
        finding.hint
    )
}

/// `{"findings": [...], "files_scanned", "bytes_scanned", "errors"}`.
fn json_report(findings: &[Finding], tally: &Tally) -> Value {
    let findings: Vec<Value> = findings
        .iter()
        .map(|f| {
            let mut item = json!({
                "path": f.path,
                "line": f.line,
                "column": f.column,
                "offset": f.offset,
                "type": f.key_type(),
                "kind": f.kind.as_str(),
                "mode": f.mode.as_str(),
                "hint": f.hint,
                "key_sha256": f.key_sha256,
            });
            if let (Some(commit), Some(map)) = (&f.commit, item.as_object_mut()) {
                map.insert("commit".into(), Value::from(commit.as_str()));
            }
            item
        })
        .collect();
    json!({
        "findings": findings,
        "files_scanned": tally.files,
        "bytes_scanned": tally.bytes,
        "errors": tally.errors,
    })
}
