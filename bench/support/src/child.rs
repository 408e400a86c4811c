//! Running a measurement in a child process: the one protocol between a parent and its
//! children.
//!
//! The heap is per process and configured once, so a program that compares collector modes
//! (or implementations) runs each measurement in a fresh process: itself again
//! ([`run_self`], with [`CHILD_FLAG`] among the arguments) or a sibling binary of the same
//! build ([`sibling`], [`run`]). The child talks to its parent through its stdout:
//!
//! - lines starting with [`PROGRESS_PREFIX`] carry a progress text ([`report_progress`]),
//!   shown by the parent on its [`Console`] progress line;
//! - the line starting with [`RECORD_PREFIX`](crate::record::RECORD_PREFIX) carries the
//!   results ([`report`], a [`Record`]); the last one counts;
//! - any other line is forwarded to the parent's stdout, or dropped if the parent gave no
//!   console; its last lines are kept in [`ChildRun::stdout_tail`] either way (for a parent
//!   that reads a program's own output, such as a count of work done).
//!
//! The child's stderr (the collector's trace lines, warnings, panics) is forwarded line by line
//! to the parent's stderr, above the progress line, if the parent gave a console; its last
//! lines are kept in [`ChildRun::stderr_tail`] either way, for the parent's error message. The
//! exit status is the child's to choose; a non-zero status means the run failed (a parent may
//! give some codes a meaning of its own, such as "not supported").

use std::{
    collections::VecDeque,
    ffi::OsStr,
    io::{self, BufRead, BufReader, Write},
    path::{Path, PathBuf},
    process::{Command, ExitStatus, Stdio},
};

use crate::{console::Console, record::Record};

/// The flag that tells a program it runs as a child: measure once, report, exit.
pub const CHILD_FLAG: &str = "--child";

/// What a progress line from a child starts with.
pub const PROGRESS_PREFIX: &str = "@@progress ";

/// How many of the child's last stderr lines [`ChildRun::stderr_tail`] keeps, and of its other
/// stdout lines [`ChildRun::stdout_tail`].
pub const STDERR_TAIL: usize = 10;

/// Append `line` to `tail`, keeping its last [`STDERR_TAIL`] lines.
fn keep_last(tail: &mut VecDeque<String>, line: String) {
    if tail.len() == STDERR_TAIL {
        tail.pop_front();
    }
    tail.push_back(line);
}

/// Print a progress line (child side) and flush, so the parent sees it at once.
pub fn report_progress(text: &str) {
    let mut out = io::stdout().lock();
    let _ = writeln!(out, "{PROGRESS_PREFIX}{text}");
    let _ = out.flush();
}

/// Print the record line (child side) and flush.
pub fn report(record: &Record) {
    let mut out = io::stdout().lock();
    let _ = writeln!(out, "{}", record.to_line());
    let _ = out.flush();
}

/// How a child run ended.
#[derive(Debug)]
pub struct ChildRun {
    /// The child's exit status.
    pub status: ExitStatus,
    /// Its record line, if it printed one.
    pub record: Option<Record>,
    /// The last [`STDERR_TAIL`] lines of its stderr.
    pub stderr_tail: Vec<String>,
    /// The last [`STDERR_TAIL`] lines of its stdout that were neither progress nor record
    /// lines.
    pub stdout_tail: Vec<String>,
}

impl ChildRun {
    /// The record of a run that exited successfully; otherwise a one-line reason.
    ///
    /// # Errors
    /// If the child failed or printed no record: its status and its last stderr line.
    pub fn into_record(self) -> Result<Record, String> {
        let last = self.stderr_tail.last().map_or("", String::as_str);
        match self.record {
            Some(r) if self.status.success() => Ok(r),
            Some(_) => Err(format!("{}: {last}", self.status)),
            None if self.status.success() => Err("no result line".to_owned()),
            None => Err(format!("{}: {last}", self.status)),
        }
    }
}

/// The path of the binary `name` built beside the running one (same target directory and
/// profile).
///
/// # Errors
/// If the running executable's path cannot be found.
pub fn sibling(name: &str) -> io::Result<PathBuf> {
    Ok(std::env::current_exe()?.with_file_name(format!("{name}{}", std::env::consts::EXE_SUFFIX)))
}

/// Run this executable with `args` (which should include [`CHILD_FLAG`]); see [`run`].
///
/// # Errors
/// As [`run`].
pub fn run_self(args: &[String], label: &str, console: Option<&Console>) -> io::Result<ChildRun> {
    run(&std::env::current_exe()?, args, label, console)
}

/// Run `program` with `args` as a child (see the module docs) and wait for it. With a console,
/// its progress texts are shown prefixed with `[label]` and its other output is forwarded;
/// without one, only its record and the tail of its stderr are kept.
///
/// # Errors
/// If the program cannot be started, or its output cannot be read.
pub fn run(program: &Path, args: &[impl AsRef<OsStr>], label: &str, console: Option<&Console>) -> io::Result<ChildRun> {
    let mut child = Command::new(program)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| io::Error::new(e.kind(), format!("cannot run {}: {e}", program.display())))?;
    let stdout = child.stdout.take().ok_or_else(|| io::Error::other("child stdout not captured"))?;
    let stderr = child.stderr.take().ok_or_else(|| io::Error::other("child stderr not captured"))?;
    let mut record = None;
    let mut stdout_tail = VecDeque::with_capacity(STDERR_TAIL);
    let stderr_tail = std::thread::scope(|s| -> io::Result<Vec<String>> {
        let errors = s.spawn(move || -> io::Result<Vec<String>> {
            let mut tail = VecDeque::with_capacity(STDERR_TAIL);
            for line in BufReader::new(stderr).lines() {
                let line = line?;
                if let Some(console) = console {
                    console.err(&line);
                }
                keep_last(&mut tail, line);
            }
            Ok(tail.into())
        });
        for line in BufReader::new(stdout).lines() {
            let line = line?;
            if let Some(text) = line.strip_prefix(PROGRESS_PREFIX) {
                if let Some(console) = console {
                    console.progress(&format!("[{label}] {text}"));
                }
            } else if let Some(r) = Record::parse(&line) {
                record = Some(r);
            } else {
                if let Some(console) = console {
                    console.out(&line);
                }
                keep_last(&mut stdout_tail, line);
            }
        }
        errors.join().unwrap_or_else(|e| std::panic::resume_unwind(e))
    })?;
    let status = child.wait()?;
    if let Some(console) = console {
        console.clear();
    }
    Ok(ChildRun { status, record, stderr_tail, stdout_tail: stdout_tail.into() })
}
