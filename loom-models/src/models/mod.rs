//! Scaffolding shared by the models: run one under loom with a preemption bound, and report how
//! many executions loom explored.

mod barrier;
mod handshake;
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
    eprintln!("loom model `{name}`: {n} executions explored (preemption bound {bound}) in {:.1?}", start.elapsed());
    assert!(n > 1, "`{name}` has more than one interleaving");
    n
}
