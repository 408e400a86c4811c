//! Scaffolding shared by the models: run one under loom with a preemption bound, and report how
//! many executions loom explored.
//!
//! **Each model runs in a process of its own** (the `#[test]` functions sit inside
//! [`rusty_fork::rusty_fork_test!`], which re-runs the test binary for that one test). loom gives
//! every modelled thread a fresh `mmap`ed coroutine stack in every execution, a million of them
//! over the models; two models exploring in threads of one process contend on that process's
//! memory map, and each `munmap` interrupts the other core to flush its TLB. Measured on 2 cores
//! (`cargo test -p gc-loom-models`): the whole set took 205 s with libtest's two threads in one
//! process (kernel time 179 s of 355 s of CPU), 147 s on one thread, and 77 s in processes of
//! their own, two at a time.

mod barrier;
mod ephemeron;
mod handshake;
mod mutator_marks;
mod ragged;
mod shade_queue;
mod slot_array;
mod slot_table;
mod termination;
mod value_stack;
mod weak_verdict;

use std::{
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc,
    },
    time::Instant,
};

/// A loom builder with at most `bound` preemptions per execution, unless
/// `LOOM_MAX_PREEMPTIONS` sets another; returns it with the bound in force.
fn bounded_builder(bound: usize) -> (loom::model::Builder, usize) {
    let mut builder = loom::model::Builder::new();
    let bound = builder.preemption_bound.unwrap_or(bound);
    builder.preemption_bound = (bound < 100).then_some(bound);
    (builder, bound)
}

/// The panic payload [`find_losing_schedule`] stops loom's exploration with.
struct Lost;

/// Explore a control model — one expected to lose an object — until loom finds a schedule in
/// which `model` returns `true` (it lost), and stop there; fail if no schedule within `bound`
/// preemptions loses. Returns the number of executions it took, also reported like
/// [`explore`]'s.
///
/// Stopping at the first loss (by unwinding out of loom with a private payload) keeps a
/// control from exploring hundreds of thousands of schedules after the one that matters.
pub(crate) fn find_losing_schedule(
    name: &str,
    bound: usize,
    model: impl Fn() -> bool + Sync + Send + 'static,
) -> usize {
    let (builder, bound) = bounded_builder(bound);
    let executions = Arc::new(AtomicUsize::new(0));
    let counter = executions.clone();
    let start = Instant::now();
    // Silence the report of the deliberate unwind (once for the process, as tests run on
    // several threads); any other panic is reported as before.
    static QUIET_LOST: std::sync::Once = std::sync::Once::new();
    QUIET_LOST.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !info.payload().is::<Lost>() {
                previous(info);
            }
        }));
    });
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        builder.check(move || {
            counter.fetch_add(1, Ordering::Relaxed);
            if model() {
                std::panic::panic_any(Lost);
            }
        })
    }));
    let n = executions.load(Ordering::Relaxed);
    match outcome {
        Ok(()) => panic!("{name}: loom explored {n} executions and found no schedule that loses an object"),
        Err(payload) if payload.is::<Lost>() => {}
        Err(payload) => std::panic::resume_unwind(payload),
    }
    report(&format!(
        "loom model `{name}`: a losing schedule found after {n} executions (preemption bound {bound}) in {:.1?}",
        start.elapsed()
    ));
    n
}

/// Print a model's line and append it to `LOOM_REPORT`, if set.
fn report(line: &str) {
    eprintln!("{line}");
    if let Some(path) = std::env::var_os("LOOM_REPORT") {
        let appended = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .and_then(|mut f| std::io::Write::write_all(&mut f, format!("{line}\n").as_bytes()));
        if let Err(e) = appended {
            panic!("cannot append to LOOM_REPORT={}: {e}", path.to_string_lossy());
        }
    }
}

/// Explore `model` under loom with at most `bound` preemptions per execution (or the bound in
/// `LOOM_MAX_PREEMPTIONS`), print what was explored, and return the number of executions.
///
/// The line is also appended to the file `LOOM_REPORT` names, if set: CI runs the models once,
/// inside `cargo test --workspace`, and shows the counts from that file.
pub(crate) fn explore(name: &str, bound: usize, model: impl Fn() + Sync + Send + 'static) -> usize {
    let (builder, bound) = bounded_builder(bound);
    let executions = Arc::new(AtomicUsize::new(0));
    let counter = executions.clone();
    let start = Instant::now();
    builder.check(move || {
        counter.fetch_add(1, Ordering::Relaxed);
        model();
    });
    let n = executions.load(Ordering::Relaxed);
    report(&format!(
        "loom model `{name}`: {n} executions explored (preemption bound {bound}) in {:.1?}",
        start.elapsed()
    ));
    assert!(n > 1, "`{name}` has more than one interleaving");
    n
}
