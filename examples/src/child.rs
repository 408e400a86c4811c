//! Running the current executable again as a child process, one per collector mode.
//!
//! The heap is per process and configured once, so a program that compares modes re-executes
//! itself (`std::env::current_exe()`) with a hidden flag, once per mode. The child talks to
//! its parent through its stdout:
//!
//! - lines starting with [`PROGRESS_PREFIX`] carry a progress text, shown by the parent on its
//!   [`Console`] progress line;
//! - the line starting with [`SUMMARY_PREFIX`](crate::summary::SUMMARY_PREFIX) carries the
//!   results ([`Summary`]);
//! - any other line is forwarded to the parent's stdout.
//!
//! The child's stderr (the collector's trace lines, warnings, panics) is forwarded line by line
//! to the parent's stderr, above the progress line.

use std::{
    io::{self, BufRead, BufReader, Write},
    process::{Command, ExitStatus, Stdio},
};

use crate::{console::Console, summary::Summary};

/// What a progress line from a child starts with.
pub const PROGRESS_PREFIX: &str = "@@progress ";

/// Print a progress line (child side) and flush, so the parent sees it at once.
pub fn report_progress(text: &str) {
    let mut out = io::stdout().lock();
    let _ = writeln!(out, "{PROGRESS_PREFIX}{text}");
    let _ = out.flush();
}

/// Print the summary line (child side) and flush.
pub fn report_summary(summary: &Summary) {
    let mut out = io::stdout().lock();
    let _ = writeln!(out, "{}", summary.to_line());
    let _ = out.flush();
}

/// How a child run ended.
#[derive(Debug)]
pub struct ChildRun {
    /// The child's exit status.
    pub status: ExitStatus,
    /// Its summary line, if it printed one.
    pub summary: Option<Summary>,
}

/// Run this executable with `args`, forwarding its output through `console` (see the module
/// docs); progress texts are shown prefixed with `[label]`. Returns when the child has exited.
///
/// # Errors
/// If the executable cannot be found or started, or its output cannot be read.
pub fn run_self(args: &[String], label: &str, console: &Console) -> io::Result<ChildRun> {
    let exe = std::env::current_exe()?;
    let mut child = Command::new(exe).args(args).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn()?;
    let stdout = child.stdout.take().ok_or_else(|| io::Error::other("child stdout not captured"))?;
    let stderr = child.stderr.take().ok_or_else(|| io::Error::other("child stderr not captured"))?;
    let mut summary = None;
    std::thread::scope(|s| -> io::Result<()> {
        let errors = s.spawn(move || -> io::Result<()> {
            for line in BufReader::new(stderr).lines() {
                console.err(&line?);
            }
            Ok(())
        });
        for line in BufReader::new(stdout).lines() {
            let line = line?;
            if let Some(text) = line.strip_prefix(PROGRESS_PREFIX) {
                console.progress(&format!("[{label}] {text}"));
            } else if let Some(s) = Summary::parse(&line) {
                summary = Some(s);
            } else {
                console.out(&line);
            }
        }
        errors.join().unwrap_or_else(|e| std::panic::resume_unwind(e))
    })?;
    let status = child.wait()?;
    console.clear();
    Ok(ChildRun { status, summary })
}
