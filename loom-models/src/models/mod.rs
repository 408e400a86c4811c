//! Scaffolding shared by the models: run one under loom with a preemption bound, and report how
//! many executions loom explored.

mod barrier;
mod handshake;
mod ragged;
mod shade_queue;
mod termination;

use std::{
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc,
    },
    time::Instant,
};

/// Explore `model` under loom with at most `bound` preemptions per execution (or the bound in
/// `LOOM_MAX_PREEMPTIONS`), print what was explored, and return the number of executions.
///
/// The line is also appended to the file `LOOM_REPORT` names, if set: CI runs the models once,
/// inside `cargo test --workspace`, and shows the counts from that file.
pub(crate) fn explore(name: &str, bound: usize, model: impl Fn() + Sync + Send + 'static) -> usize {
    let mut builder = loom::model::Builder::new();
    let bound = builder.preemption_bound.unwrap_or(bound);
    builder.preemption_bound = (bound < 100).then_some(bound);
    let executions = Arc::new(AtomicUsize::new(0));
    let counter = executions.clone();
    let start = Instant::now();
    builder.check(move || {
        counter.fetch_add(1, Ordering::Relaxed);
        model();
    });
    let n = executions.load(Ordering::Relaxed);
    let line =
        format!("loom model `{name}`: {n} executions explored (preemption bound {bound}) in {:.1?}", start.elapsed());
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
    assert!(n > 1, "`{name}` has more than one interleaving");
    n
}
