//! Files, directories and standard input. A directory is walked in name order (so two runs
//! print the same report), skipping `.git` (history is `--git`'s business) and symbolic links
//! met inside it (a link can lead out of the tree or round in a loop); a path named on the
//! command line is followed whatever it is. Inside a directory, only regular files are read:
//! a FIFO or a device could block or never end.

use super::output::Sink;
use super::{CHUNK, Finding, ReadError, Tally, scan_reader};
use std::ffi::OsStr;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

/// Scans one command-line path: `-`, a file or a directory. Input errors are reported in
/// `tally`; an `Err` means the report cannot be written.
pub fn scan_path(path: &OsStr, sink: &mut Sink, tally: &mut Tally) -> std::io::Result<()> {
    let mut buffer = vec![0u8; CHUNK];
    if path == "-" {
        let stdin = std::io::stdin();
        return scan_input(&mut stdin.lock(), "-", &mut buffer, sink, tally);
    }
    let path = Path::new(path);
    match std::fs::metadata(path) {
        Ok(meta) if meta.is_dir() => scan_dir(path, &mut buffer, sink, tally),
        Ok(_) => scan_file(path, &mut buffer, sink, tally),
        Err(e) => {
            tally.error(path.display(), describe(&e));
            Ok(())
        }
    }
}

fn scan_dir(
    dir: &Path,
    buffer: &mut [u8],
    sink: &mut Sink,
    tally: &mut Tally,
) -> std::io::Result<()> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) => {
            tally.error(dir.display(), describe(&e));
            return Ok(());
        }
    };
    let mut children = Vec::new();
    for entry in entries {
        match entry.and_then(|entry| Ok((entry.file_name(), entry.file_type()?))) {
            Ok(child) => children.push(child),
            Err(e) => tally.error(dir.display(), describe(&e)),
        }
    }
    children.sort_by(|a, b| a.0.cmp(&b.0));
    for (name, kind) in children {
        if name == ".git" || kind.is_symlink() {
            continue;
        }
        // Below `.`, names are shown without `./`, as most tools show them.
        let path = if dir == Path::new(".") {
            PathBuf::from(&name)
        } else {
            dir.join(&name)
        };
        if kind.is_dir() {
            scan_dir(&path, buffer, sink, tally)?;
        } else if kind.is_file() {
            scan_file(&path, buffer, sink, tally)?;
        }
    }
    Ok(())
}

fn scan_file(
    path: &Path,
    buffer: &mut [u8],
    sink: &mut Sink,
    tally: &mut Tally,
) -> std::io::Result<()> {
    match File::open(path) {
        Ok(mut file) => scan_input(&mut file, &display(path), buffer, sink, tally),
        Err(e) => {
            tally.error(path.display(), describe(&e));
            Ok(())
        }
    }
}

fn scan_input(
    input: &mut dyn Read,
    name: &str,
    buffer: &mut [u8],
    sink: &mut Sink,
    tally: &mut Tally,
) -> std::io::Result<()> {
    let result = scan_reader(input, buffer, |findings| {
        for finding in findings {
            sink.finding(Finding {
                path: name.to_owned(),
                ..finding
            })?;
        }
        Ok(())
    });
    match result {
        Ok(bytes) => {
            tally.files += 1;
            tally.bytes += bytes;
            Ok(())
        }
        Err(ReadError::Input(e)) => {
            tally.error(name, describe(&e));
            Ok(())
        }
        Err(ReadError::Output(e)) => Err(e),
    }
}

/// A path as the report shows it. Not UTF-8 → the undecodable bytes as U+FFFD.
fn display(path: &Path) -> String {
    path.to_string_lossy().into_owned()
}

/// An I/O error as a person reads it: "No such file or directory", without "(os error 2)".
pub fn describe(error: &std::io::Error) -> String {
    let text = error.to_string();
    match text.find(" (os error ") {
        Some(at) => text.get(..at).unwrap_or(&text).to_owned(),
        None => text,
    }
}
