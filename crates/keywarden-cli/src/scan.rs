//! `keywarden scan` (SPEC §8): finds Keywarden keys in files, directories, standard input and
//! git history, and reports each by place and hint, never the whole key.
//!
//! The finding itself is core's `key_scan` (shape and checksum, streamed); this module reads:
//! [`walk`] files and directories in chunks, [`git`] the blobs of every commit through the
//! `git` program; [`output`] prints text or JSON, [`sarif`] SARIF 2.1.0.
//!
//! Exit status: 0 nothing found, 1 keys found, 2 an error. An error (a path that cannot be
//! read, a repository git cannot read) is reported on standard error and the scan goes on, so
//! one unreadable file does not hide the keys in the others; the status is still 2, since
//! the scan was not complete.

mod git;
mod output;
mod sarif;
mod walk;

use crate::cli::ScanArgs;
use keywarden_core::key_format::{KeyKind, Mode, hint_of};
use keywarden_core::key_scan::{FoundKey, KeyScanner};
use sha2::{Digest, Sha256};
use std::ffi::OsString;
use std::fmt;
use std::io::Read;
use std::process::ExitCode;

/// Bytes read at a time: large enough that the per-read costs vanish, small enough to stay in
/// the L2 cache.
const CHUNK: usize = 256 * 1024;

/// One key found: where, which, and its hint. Holds no secret (the SHA-256 of a key with 190
/// random bits reveals nothing, and is what GitHub's leak reports call `token_hash`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// The file as given on the command line (joined with the names walked below it), `-`
    /// for standard input; in git history, the path in the repository.
    pub path: String,
    /// In git history: the commit that added the key to this file.
    pub commit: Option<String>,
    /// 1-based line.
    pub line: u64,
    /// 1-based column, in characters.
    pub column: u64,
    /// Bytes before the key in the file.
    pub offset: u64,
    /// `sk` or `rk`.
    pub kind: KeyKind,
    /// `test` or `live`.
    pub mode: Mode,
    /// The first 12 and last 4 characters.
    pub hint: String,
    /// Lower-case hex SHA-256 of the key.
    pub key_sha256: String,
}

impl Finding {
    /// The finding for `found`, without a path yet.
    fn of(found: &FoundKey<'_>) -> Self {
        Self {
            path: String::new(),
            commit: None,
            line: found.at.line,
            column: found.at.column,
            offset: found.at.offset,
            kind: found.key.kind,
            mode: found.key.mode,
            hint: hint_of(found.key.text),
            key_sha256: hex::encode(Sha256::digest(found.key.text.as_bytes())),
        }
    }

    /// `sk_live`, `rk_test`, …: how a person names the key's type.
    pub fn key_type(&self) -> String {
        format!("{}_{}", self.kind.prefix(), self.mode.as_str())
    }
}

/// What a scan went through, and what went wrong on the way.
#[derive(Debug, Default)]
pub struct Tally {
    /// Files (or blobs of history) read to their end.
    pub files: u64,
    /// Bytes read.
    pub bytes: u64,
    /// Errors reported.
    pub errors: u64,
}

impl Tally {
    /// Reports an error on standard error and counts it.
    fn error(&mut self, what: impl fmt::Display, why: impl fmt::Display) {
        self.errors += 1;
        eprintln!("keywarden scan: {what}: {why}");
    }
}

/// Runs `keywarden scan` and gives its exit status.
pub fn run(args: ScanArgs) -> ExitCode {
    let mut paths = args.paths;
    if paths.is_empty() {
        paths.push(OsString::from("."));
    }
    let mut sink = output::Sink::new(args.format);
    let mut tally = Tally::default();
    let mut result = Ok(());
    for path in &paths {
        result = if args.git {
            git::scan_history(path, &mut sink, &mut tally)
        } else {
            walk::scan_path(path, &mut sink, &mut tally)
        };
        if result.is_err() {
            break;
        }
    }
    let found = sink.found();
    let result = result.and_then(|()| sink.finish(&tally));
    if let Err(e) = result {
        // Standard output is gone (a closed pipe) or full: nothing more can be reported.
        eprintln!("keywarden scan: cannot write the report: {e}");
        return ExitCode::from(2);
    }
    if tally.errors > 0 {
        eprintln!(
            "keywarden scan: {} error{}: the scan is incomplete",
            tally.errors,
            if tally.errors == 1 { "" } else { "s" }
        );
        return ExitCode::from(2);
    }
    if found > 0 && args.format == crate::cli::ScanFormat::Text {
        eprintln!(
            "keywarden scan: {found} key{} found. A key in a file or a commit is leaked: revoke \
             or rotate {} in the console.",
            if found == 1 { "" } else { "s" },
            if found == 1 { "it" } else { "each" }
        );
    }
    ExitCode::from(u8::from(found > 0))
}

/// Reads `reader` to its end in chunks, calling `on_findings` with the keys each chunk ends.
/// Gives the bytes read; an `Err` of the callback (the report cannot be written) stops it.
fn scan_reader(
    reader: &mut dyn Read,
    buffer: &mut [u8],
    mut on_findings: impl FnMut(Vec<Finding>) -> std::io::Result<()>,
) -> Result<u64, ReadError> {
    let mut scanner = KeyScanner::new();
    loop {
        let read = match reader.read(buffer) {
            Ok(0) => return Ok(scanner.bytes_seen()),
            Ok(read) => read,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(ReadError::Input(e)),
        };
        let mut findings = Vec::new();
        scanner.feed(buffer.get(..read).unwrap_or(&[]), |found| {
            findings.push(Finding::of(&found));
        });
        if !findings.is_empty() {
            on_findings(findings).map_err(ReadError::Output)?;
        }
    }
}

/// Why [`scan_reader`] stopped early.
#[derive(Debug)]
enum ReadError {
    /// The input could not be read: reported, and the scan goes on with the next input.
    Input(std::io::Error),
    /// The report could not be written: the scan stops.
    Output(std::io::Error),
}
