//! `keywarden scan --git`: every commit reachable from any ref of a repository, read with the
//! `git` program itself (no git parsing here beyond the two plain formats it prints).
//!
//! `git log --raw` lists, commit by commit (parents first), the blob each changed file got;
//! `git cat-file --batch` streams each new blob, which is scanned in chunks like a file and
//! only once, however many commits hold it. A key is reported once per file: with the first
//! commit that put it there, since that is where it leaked, and later commits that keep or
//! move it are the same leak.

use super::output::Sink;
use super::walk::describe;
use super::{CHUNK, Finding, ReadError, Tally, scan_reader};
use std::collections::{HashMap, HashSet};
use std::ffi::OsStr;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::thread::JoinHandle;

/// Why a repository could not be read: said on standard error, the scan goes on.
type Problem = String;

/// Scans the history of the repository at `path`. Problems are reported in `tally`; an `Err`
/// means the report cannot be written.
pub fn scan_history(path: &OsStr, sink: &mut Sink, tally: &mut Tally) -> std::io::Result<()> {
    if path == "-" {
        tally.error(
            "-",
            "standard input has no git history: --git takes the directories of repositories",
        );
        return Ok(());
    }
    let repo = Path::new(path);
    match History::open(repo) {
        Ok(history) => match history.scan(sink, tally) {
            Ok(()) => Ok(()),
            Err(Stop::Output(e)) => Err(e),
            Err(Stop::Problem(why)) => {
                tally.error(repo.display(), why);
                Ok(())
            }
        },
        Err(why) => {
            tally.error(repo.display(), why);
            Ok(())
        }
    }
}

/// Why reading a history stopped.
enum Stop {
    /// git failed or said something unexpected.
    Problem(Problem),
    /// The report cannot be written.
    Output(std::io::Error),
}

impl From<Problem> for Stop {
    fn from(why: Problem) -> Self {
        Self::Problem(why)
    }
}

/// A repository about to be read.
struct History<'a> {
    repo: &'a Path,
    /// Put before each path in the report: where the repository's top directory is, seen from
    /// the current directory (empty when it is the current directory).
    prefix: String,
}

impl<'a> History<'a> {
    fn open(repo: &'a Path) -> Result<Self, Problem> {
        if !repo.is_dir() {
            return Err(match std::fs::metadata(repo) {
                Err(e) => describe(&e),
                Ok(_) => "not a directory: --git takes the directories of repositories".into(),
            });
        }
        git_output(repo, &["rev-parse", "--git-dir"])?;
        let prefix = match git_output(repo, &["rev-parse", "--show-toplevel"]) {
            Ok(top) => relative_to_current_dir(Path::new(top.trim_end_matches('\n'))),
            // A bare repository has no work tree: name it as it was given.
            Err(_) => repo.to_string_lossy().trim_end_matches('/').to_owned(),
        };
        Ok(Self { repo, prefix })
    }

    fn scan(&self, sink: &mut Sink, tally: &mut Tally) -> Result<(), Stop> {
        let mut log = GitProcess::spawn(
            self.repo,
            &[
                "log",
                "--all",
                "--reverse",
                "--topo-order",
                "--root",
                "--raw",
                "-z",
                "--no-abbrev",
                "--no-renames",
                "--diff-merges=first-parent",
                "--diff-filter=d",
                "--no-show-signature",
                "--format=%x01%H",
            ],
            false,
        )?;
        let mut blobs = BlobReader::start(self.repo)?;
        let entries = BufReader::with_capacity(64 * 1024, log.stdout()?);
        let result = self.read_log(entries, &mut blobs, sink, tally);
        let blobs_status = blobs.finish();
        let log_status = log.finish("git log");
        result?;
        log_status?;
        blobs_status?;
        Ok(())
    }

    /// Goes through `git log`'s entries: `\x01<commit>` tokens, each followed by
    /// `:<old mode> <new mode> <old blob> <new blob> <status>` and path tokens, all ended by
    /// NUL bytes (`-z`).
    fn read_log(
        &self,
        mut entries: impl BufRead,
        blobs: &mut BlobReader,
        sink: &mut Sink,
        tally: &mut Tally,
    ) -> Result<(), Stop> {
        let mut findings_of_blob: HashMap<String, Vec<Finding>> = HashMap::new();
        let mut reported: HashSet<(String, String)> = HashSet::new();
        let mut commit = String::new();
        while let Some(token) = next_token(&mut entries)? {
            // git puts a line break between a commit's line and its entries.
            let token = token.trim_start_matches('\n');
            if let Some(id) = token.strip_prefix('\u{1}') {
                commit = id.to_owned();
                continue;
            }
            let Some(entry) = token.strip_prefix(':') else {
                if token.is_empty() {
                    continue;
                }
                return Err(Stop::Problem(format!(
                    "unexpected output from git log: {token:?}"
                )));
            };
            let entry = entry.to_owned();
            let path = next_token(&mut entries)?
                .ok_or_else(|| "git log ended inside an entry".to_owned())?;
            let Some(blob) = new_blob(&entry) else {
                continue;
            };
            if !findings_of_blob.contains_key(&blob) {
                let found = blobs.scan(&blob, tally)?;
                findings_of_blob.insert(blob.clone(), found);
            }
            for finding in findings_of_blob.get(&blob).into_iter().flatten() {
                if reported.insert((path.clone(), finding.key_sha256.clone())) {
                    sink.finding(Finding {
                        path: self.display(&path),
                        commit: Some(commit.clone()),
                        ..finding.clone()
                    })
                    .map_err(Stop::Output)?;
                }
            }
        }
        Ok(())
    }

    fn display(&self, path: &str) -> String {
        if self.prefix.is_empty() {
            path.to_owned()
        } else {
            format!("{}/{path}", self.prefix)
        }
    }
}

/// The next NUL-ended token of `git log -z`, or `None` at the end.
fn next_token(entries: &mut impl BufRead) -> Result<Option<String>, Problem> {
    let mut token = Vec::new();
    let read = entries
        .read_until(0, &mut token)
        .map_err(|e| format!("cannot read git log: {}", describe(&e)))?;
    if read == 0 {
        return Ok(None);
    }
    if token.last() == Some(&0) {
        token.pop();
    }
    Ok(Some(String::from_utf8_lossy(&token).into_owned()))
}

/// The new blob of a raw entry (`100644 100644 <old> <new> M` after the colon), or `None`
/// for a submodule (mode 160000) or a deleted file.
fn new_blob(entry: &str) -> Option<String> {
    let mut fields = entry.split(' ');
    let _old_mode = fields.next()?;
    let new_mode = fields.next()?;
    let _old_blob = fields.next()?;
    let new_blob = fields.next()?;
    let status = fields.next()?;
    let gone = new_blob.bytes().all(|b| b == b'0');
    (new_mode != "160000" && !status.starts_with('D') && !gone).then(|| new_blob.to_owned())
}

/// `git cat-file --batch`, asked for one blob at a time: its answer to each request is
/// flushed at once, so a request and its answer never wait on each other.
struct BlobReader {
    process: GitProcess,
    requests: ChildStdin,
    answers: BufReader<ChildStdout>,
    buffer: Vec<u8>,
}

impl BlobReader {
    fn start(repo: &Path) -> Result<Self, Problem> {
        let mut process = GitProcess::spawn(repo, &["cat-file", "--batch"], true)?;
        let requests = process
            .child
            .stdin
            .take()
            .ok_or("git cat-file has no standard input")?;
        let answers = BufReader::with_capacity(CHUNK, process.stdout()?);
        Ok(Self {
            process,
            requests,
            answers,
            buffer: vec![0; CHUNK],
        })
    }

    /// The keys in blob `id` (paths and commits left empty).
    fn scan(&mut self, id: &str, tally: &mut Tally) -> Result<Vec<Finding>, Stop> {
        let broken = |e: std::io::Error| format!("git cat-file stopped: {}", describe(&e));
        writeln!(self.requests, "{id}").map_err(broken)?;
        self.requests.flush().map_err(broken)?;
        let mut header = Vec::new();
        self.answers
            .read_until(b'\n', &mut header)
            .map_err(broken)?;
        let header = String::from_utf8_lossy(&header);
        let fields: Vec<&str> = header.trim_end().split(' ').collect();
        let size = match fields.as_slice() {
            [_, "blob", size] => size.parse::<u64>().ok(),
            [_, "missing"] => {
                tally.error(format!("blob {id}"), "missing from the repository");
                return Ok(Vec::new());
            }
            _ => None,
        }
        .ok_or_else(|| format!("unexpected answer from git cat-file: {header:?}"))?;
        let mut found = Vec::new();
        let mut body = (&mut self.answers).take(size);
        let read = scan_reader(&mut body, &mut self.buffer, |findings| {
            found.extend(findings);
            Ok(())
        });
        match read {
            Ok(bytes) if bytes == size => {}
            Ok(_) => return Err(Stop::Problem("git cat-file ended early".into())),
            Err(ReadError::Input(e) | ReadError::Output(e)) => return Err(broken(e).into()),
        }
        let mut newline = [0u8; 1];
        self.answers.read_exact(&mut newline).map_err(broken)?;
        tally.files += 1;
        tally.bytes += size;
        Ok(found)
    }

    fn finish(self) -> Result<(), Problem> {
        drop(self.requests);
        self.process.finish("git cat-file")
    }
}

/// A running git command whose standard error is collected on a thread (so that it can
/// never fill its pipe and stall git) and shown if the command fails.
struct GitProcess {
    child: Child,
    stderr: Option<JoinHandle<String>>,
}

impl GitProcess {
    fn spawn(repo: &Path, args: &[&str], with_stdin: bool) -> Result<Self, Problem> {
        let mut child = git_command(repo)
            .args(args)
            .stdin(if with_stdin {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(cannot_run_git)?;
        let stderr = child.stderr.take().map(|mut pipe| {
            std::thread::spawn(move || {
                let mut text = String::new();
                let _ = pipe.read_to_string(&mut text);
                text
            })
        });
        Ok(Self { child, stderr })
    }

    fn stdout(&mut self) -> Result<ChildStdout, Problem> {
        self.child
            .stdout
            .take()
            .ok_or_else(|| "git has no standard output".to_owned())
    }

    /// Waits for the command; a failure carries what git said.
    fn finish(mut self, what: &str) -> Result<(), Problem> {
        // Whatever git still writes is of no use now; closing our end lets it end.
        drop(self.child.stdout.take());
        let status = self
            .child
            .wait()
            .map_err(|e| format!("{what}: {}", describe(&e)))?;
        let said = self
            .stderr
            .take()
            .and_then(|handle| handle.join().ok())
            .unwrap_or_default();
        if status.success() {
            Ok(())
        } else {
            Err(format!("{what} failed ({status}): {}", said.trim()))
        }
    }
}

impl Drop for GitProcess {
    fn drop(&mut self) {
        // Only a process not waited for (an early return) is still running: end it.
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn git_command(repo: &Path) -> Command {
    let mut command = Command::new("git");
    command
        .arg("-C")
        .arg(repo)
        // The user's settings must not change what is listed (log.showRoot, diff.renames,
        // log.showSignature); the flags above fix those. Paths stay raw bytes with -z.
        .args(["-c", "core.quotePath=false"])
        .env("GIT_TERMINAL_PROMPT", "0");
    command
}

fn cannot_run_git(e: std::io::Error) -> Problem {
    if e.kind() == std::io::ErrorKind::NotFound {
        "cannot run git: it is not installed (or not on PATH); --git needs it".into()
    } else {
        format!("cannot run git: {}", describe(&e))
    }
}

/// Runs a short git command and gives its standard output; a failure gives what git said.
fn git_output(repo: &Path, args: &[&str]) -> Result<String, Problem> {
    let output = git_command(repo)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(cannot_run_git)?;
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    } else {
        let said = String::from_utf8_lossy(&output.stderr);
        let said = said.trim().trim_start_matches("fatal: ");
        Err(said.to_owned())
    }
}

/// `top` as seen from the current directory: relative below it (`..` from inside it),
/// absolute elsewhere.
fn relative_to_current_dir(top: &Path) -> String {
    let Ok(here) = std::env::current_dir().and_then(|dir| dir.canonicalize()) else {
        return top.to_string_lossy().into_owned();
    };
    let top_real = top.canonicalize().unwrap_or_else(|_| top.to_path_buf());
    if let Ok(below) = top_real.strip_prefix(&here) {
        return below.to_string_lossy().into_owned();
    }
    match here.strip_prefix(&top_real) {
        Ok(inside) => vec![".."; inside.components().count()].join("/"),
        Err(_) => top.to_string_lossy().into_owned(),
    }
}
