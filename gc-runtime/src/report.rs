//! Output from the collector's own threads: the trace line, warnings, reports of destructor
//! panics, and the last words before an abort.
//!
//! `eprintln!` panics when stderr cannot be written (a pipe whose reader has exited, a closed
//! descriptor). A panic on the collector thread would stop collection for good — or, inside a
//! pause, leave the world stopped — so everything the collector's threads print goes through
//! [`line()`], which writes the whole line in one call and ignores errors:
//! a report that cannot be delivered is dropped, and collection goes on.
//!
//! # Not through `std`'s stderr lock
//!
//! `std::io::stderr().lock()` is a lock user code can hold — a logger that keeps it across a
//! safepoint or a `collect` — and the collector's threads print from where every mutator waits
//! for them: the slow-safepoint warning with the world stopped, the pinning report of a leaked
//! mutator, the trace line before a cycle counts as done, a destructor's panic report before
//! `collect` returns. Waiting there for that lock deadlocked the program (a hostile review:
//! five ways, the default configuration among them). So on Unix a line goes to file
//! descriptor 2 with `write(2)` directly, as one call; only elsewhere does it take `std`'s lock.

use std::{any::Any, fmt};

/// Write one line to stderr, ignoring any error.
///
/// The line is formatted first and written whole ([`write_stderr`]): stderr is unbuffered, so
/// `write_fmt` would make a system call per piece of the format, and another thread's output
/// — a panic message, which the default hook writes without taking the stderr lock — could land
/// between them, in the middle of the line.
pub(crate) fn line(args: fmt::Arguments<'_>) {
    let mut text = String::new();
    // A `fmt::Error` here could only come from a `Display` impl of an argument: print what was
    // formatted.
    let _ = fmt::Write::write_fmt(&mut text, args);
    text.push('\n');
    write_stderr(text.as_bytes());
}

/// Write `bytes` to stderr without `std`'s stderr lock (module docs) or any thread-local (so a
/// thread that is ending can use it too), ignoring errors.
#[cfg(unix)]
pub(crate) fn write_stderr(bytes: &[u8]) {
    let mut rest = bytes;
    while !rest.is_empty() {
        // SAFETY: `rest` is a valid buffer of `rest.len()` bytes.
        let n = unsafe { libc::write(libc::STDERR_FILENO, rest.as_ptr().cast(), rest.len()) };
        match usize::try_from(n) {
            Ok(0) => return,
            Ok(n) => rest = &rest[n..],
            Err(_) if std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => return,
        }
    }
}

/// Write `bytes` to stderr, ignoring errors. Without a raw descriptor to write to, through
/// `std`'s lock: a program that holds it while the collector reports can deadlock here.
#[cfg(not(unix))]
pub(crate) fn write_stderr(bytes: &[u8]) {
    use std::io::Write;
    let _ = std::io::stderr().lock().write_all(bytes);
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
