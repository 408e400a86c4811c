//! Terminal output for a parent process: a progress line at the bottom of stderr, rewritten
//! in place, with ordinary lines (forwarded from children) printed above it.
//!
//! On a terminal the progress line is redrawn with `\r` and an erase-line escape. When stderr
//! is not a terminal (a pipe, a log file, a test), rewriting makes no sense: each progress
//! update is then printed as its own line if `plain_progress` is set, or dropped.

use std::{
    io::{IsTerminal, Write},
    sync::Mutex,
};

/// Carriage return plus "erase whole line" (ANSI `CSI 2 K`).
const CLEAR_LINE: &str = "\r\x1b[2K";

#[derive(Debug)]
struct State {
    tty: bool,
    plain_progress: bool,
    /// The progress text on screen, if any.
    shown: Option<String>,
}

/// Serialises output from several threads around one progress line. See the module docs.
#[derive(Debug)]
pub struct Console {
    state: Mutex<State>,
}

impl Console {
    /// A console for this process's stderr. `plain_progress`: when stderr is not a terminal,
    /// print progress updates as plain lines (otherwise they are dropped).
    pub fn new(plain_progress: bool) -> Self {
        Console { state: Mutex::new(State { tty: std::io::stderr().is_terminal(), plain_progress, shown: None }) }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Show `text` as the progress line (replacing the previous one).
    pub fn progress(&self, text: &str) {
        let mut st = self.lock();
        let mut err = std::io::stderr().lock();
        if st.tty {
            let _ = write!(err, "{CLEAR_LINE}{text}");
            let _ = err.flush();
            st.shown = Some(text.to_owned());
        } else if st.plain_progress {
            let _ = writeln!(err, "{text}");
        }
    }

    /// Print a line on stdout, above the progress line.
    pub fn out(&self, line: &str) {
        self.print(line, false);
    }

    /// Print a line on stderr, above the progress line.
    pub fn err(&self, line: &str) {
        self.print(line, true);
    }

    fn print(&self, line: &str, to_stderr: bool) {
        let st = self.lock();
        let mut err = std::io::stderr().lock();
        if st.shown.is_some() {
            let _ = write!(err, "{CLEAR_LINE}");
            let _ = err.flush();
        }
        if to_stderr {
            let _ = writeln!(err, "{line}");
        } else {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "{line}");
            let _ = out.flush();
        }
        if let Some(text) = &st.shown {
            let _ = write!(err, "{text}");
        }
        let _ = err.flush();
    }

    /// Erase the progress line (call before printing results).
    pub fn clear(&self) {
        let mut st = self.lock();
        if st.shown.take().is_some() {
            let mut err = std::io::stderr().lock();
            let _ = write!(err, "{CLEAR_LINE}");
            let _ = err.flush();
        }
    }
}
