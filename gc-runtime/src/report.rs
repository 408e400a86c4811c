//! Output from the collector's own threads: the trace line, warnings, reports of destructor
//! panics, and the last words before an abort.
//!
//! `eprintln!` panics when stderr cannot be written (a pipe whose reader has exited, a closed
//! descriptor). A panic on the collector thread would stop collection for good — or, inside a
//! pause, leave the world stopped — so everything the collector's threads print goes through
//! [`line()`], which writes the whole line in one call on the locked stderr and ignores errors:
//! a report that cannot be delivered is dropped, and collection goes on.

use std::{any::Any, fmt, io::Write};

/// Write one line to stderr, ignoring any error.
pub(crate) fn line(args: fmt::Arguments<'_>) {
    let mut err = std::io::stderr().lock();
    let _ = err.write_fmt(args).and_then(|()| err.write_all(b"\n"));
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
