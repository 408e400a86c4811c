//! Output from the collector's own threads: the trace line, warnings, reports of destructor
//! panics, and the last words before an abort.
//!
//! `eprintln!` panics when stderr cannot be written (a pipe whose reader has exited, a closed
//! descriptor). A panic on the collector thread would stop collection for good — or, inside a
//! pause, leave the world stopped — so everything the collector's threads print goes through
//! [`line()`], which writes the whole line in one call and ignores errors:
//! a report that cannot be delivered is dropped, and collection goes on.

use std::{any::Any, fmt, io::Write};

/// Write one line to stderr, ignoring any error.
///
/// The line is formatted first and written with one `write_all`: stderr is unbuffered, so
/// `write_fmt` would make a system call per piece of the format, and another thread's output
/// — a panic message, which the default hook writes without taking the stderr lock — could land
/// between them, in the middle of the line.
pub(crate) fn line(args: fmt::Arguments<'_>) {
    let mut text = String::new();
    // A `fmt::Error` here could only come from a `Display` impl of an argument: print what was
    // formatted.
    let _ = fmt::Write::write_fmt(&mut text, args);
    text.push('\n');
    let _ = std::io::stderr().lock().write_all(text.as_bytes());
}

/// Report a fatal inconsistency and abort the process (never unwinds, never returns).
pub(crate) fn fatal(args: fmt::Arguments<'_>) -> ! {
    line(args);
    std::process::abort()
}

/// Run `f` on a collector thread; if it panics (a bug in the collector, since user code on
/// these threads is always caught), report and abort rather than leave the heap half-way
/// through a phase — a stopped world, a half-swept page — with nobody to finish it.
pub(crate) fn or_abort<R>(what: &str, f: impl FnOnce() -> R) -> R {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(r) => r,
        Err(payload) => {
            let msg = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "a non-string payload".to_string());
            drop_payload(payload);
            fatal(format_args!("gc: fatal: the {what} panicked ({msg}); aborting"))
        }
    }
}

/// Drop a caught panic payload; if dropping it panics in turn, leak that second payload (its
/// destructor already failed once, and there is nothing sensible left to do with it).
pub(crate) fn drop_payload(payload: Box<dyn Any + Send>) {
    if let Err(again) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || drop(payload))) {
        std::mem::forget(again);
    }
}
