//! The implementations, one module each, and the drivers that time the workloads the same way
//! for all of them.
//!
//! An implementation supports a workload by implementing its trait ([`BinaryTrees`], [`Ring`],
//! [`FullGc`]) and calling the matching driver; the pause workload is written per
//! implementation, because where a collector pauses the mutator differs (see each module).

pub mod arc;
pub mod bacon;
pub mod boxed;
pub mod bump;
pub mod dumpster_sync;
pub mod dumpster_unsync;
pub mod gc_arena;
pub mod ours;
pub mod rc;
pub mod rust_gc;
pub mod shredder;

use std::time::{Duration, Instant};

use gc_bench_support::{
    binary_trees::{depths, iterations, max_depth},
    record::Record,
    stats::{self, PauseLog},
};

use crate::{Params, Workload};

/// Runs one workload; `Err(UNSUPPORTED)` when the implementation does not support it.
pub type RunFn = fn(Workload, &Params) -> Result<Record, String>;

/// The error of a workload an implementation does not support.
pub const UNSUPPORTED: &str = "unsupported";

/// One implementation of the comparison.
#[derive(Clone, Copy, Debug)]
pub struct Impl {
    /// Command-line name.
    pub name: &'static str,
    /// Column heading in the report.
    pub label: &'static str,
    /// Runs a workload.
    pub run: RunFn,
}

/// Every implementation, in report order.
pub const IMPLS: &[Impl] = &[
    Impl { name: "box", label: "Box", run: boxed::run },
    Impl { name: "rc-hand", label: "Rc, ring freed by hand", run: rc::run_hand_freed },
    Impl { name: "rc", label: "Rc", run: rc::run },
    Impl { name: "arc", label: "Arc", run: arc::run },
    Impl { name: "bumpalo", label: "bumpalo", run: bump::run },
    Impl { name: "gc", label: "gc 0.5", run: rust_gc::run },
    Impl { name: "gc-arena", label: "gc-arena 0.7", run: gc_arena::run },
    Impl { name: "dumpster-unsync", label: "dumpster 2.1 unsync", run: dumpster_unsync::run },
    Impl { name: "dumpster-sync", label: "dumpster 2.1 sync", run: dumpster_sync::run },
    Impl { name: "bacon-rajan-cc", label: "bacon_rajan_cc 0.4", run: bacon::run },
    Impl { name: "shredder", label: "shredder 0.2", run: shredder::run },
    Impl { name: "ours", label: "gc-runtime (concurrent)", run: ours::run },
    Impl { name: "ours-stw", label: "gc-runtime (stop-the-world)", run: ours::run_stw },
    Impl { name: "ours-stops", label: "gc-runtime (concurrent, global stops)", run: ours::run_with_stops },
    Impl { name: "ours-2t", label: "gc-runtime (concurrent, 2 mutator threads)", run: ours::run_two_threads },
];

/// Find an implementation by name.
pub fn find(name: &str) -> Option<&'static Impl> {
    IMPLS.iter().find(|i| i.name == name)
}

/// The binary-trees program, per implementation.
pub trait BinaryTrees {
    /// Build, check and drop `count` trees of `depth`; the sum of their checks.
    fn trees(&mut self, count: u64, depth: u32) -> u64;
    /// Build the long-lived tree of `depth`.
    fn make_long_lived(&mut self, depth: u32);
    /// Check (count the nodes of) the long-lived tree, and drop it.
    fn check_long_lived(&mut self) -> u64;
}

/// Run binary-trees with `imp`: stretch tree, long-lived tree, short-lived trees, long-lived
/// check. The check value is the sum of every check line of the original program.
pub fn binary_trees(p: &Params, imp: &mut impl BinaryTrees) -> Record {
    let started = Instant::now();
    let max_depth = max_depth(p.depth);
    let mut check = imp.trees(1, max_depth + 1);
    imp.make_long_lived(max_depth);
    for depth in depths(max_depth) {
        check += imp.trees(iterations(max_depth, depth), depth);
    }
    check += imp.check_long_lived();
    Record::new().with_ms("time_ms", started.elapsed()).with("check", check)
}

/// The ring workload, per implementation.
pub trait Ring {
    /// Build a ring of `n` nodes numbered `0..n`, walk it once from its head back to the head
    /// summing the numbers, drop it; the sum.
    fn build_walk_drop(&mut self, n: usize) -> u64;
}

/// Run the ring workload with `imp`: total time, resident memory after each ring was dropped.
pub fn ring(p: &Params, imp: &mut impl Ring) -> Record {
    let rss_start = stats::rss_mb();
    let started = Instant::now();
    let mut check = 0;
    let mut rss = Vec::with_capacity(p.ring_iters);
    for _ in 0..p.ring_iters {
        check += imp.build_walk_drop(p.ring_nodes);
        rss.push(stats::rss_mb());
    }
    let elapsed = started.elapsed();
    let first = rss.first().copied().unwrap_or(rss_start);
    let last = rss.last().copied().unwrap_or(rss_start);
    let max = rss.iter().copied().fold(rss_start, f64::max);
    let per_iter: Vec<String> = rss.iter().map(|r| format!("{r:.1}")).collect();
    Record::new()
        .with_ms("time_ms", elapsed)
        .with("check", check)
        .with("rss_start_mb", format!("{rss_start:.1}"))
        .with("rss_first_mb", format!("{first:.1}"))
        .with("rss_last_mb", format!("{last:.1}"))
        .with("rss_max_mb", format!("{max:.1}"))
        .with("rss_growth_mb", format!("{:.1}", last - first))
        .with("rss_per_iter_mb", per_iter.join(","))
}

/// The full-collection workload, per implementation.
pub trait FullGc {
    /// Build a complete binary tree of `n` nodes (node `i`'s children are `2i+1` and `2i+2`,
    /// its number is `i`) and keep it live.
    fn build(&mut self, n: usize);
    /// Run one explicit full collection; extra figures (such as the collector's own pause
    /// record) go into the outcome.
    fn collect(&mut self) -> Record;
    /// Sum of the numbers of the live tree's nodes.
    fn check(&mut self) -> u64;
}

/// Run the full-collection workload with `imp`: build, collect once (timed), check.
pub fn full_gc(p: &Params, imp: &mut impl FullGc) -> Record {
    let t = Instant::now();
    imp.build(p.live);
    let build = t.elapsed();
    let t = Instant::now();
    let extra = imp.collect();
    let collect = t.elapsed();
    let check = imp.check();
    Record::new()
        .with_ms("time_ms", collect)
        .with("check", check)
        .with_ms("build_ms", build)
        .with("live", p.live)
        .with("rss_mb", format!("{:.1}", stats::rss_mb()))
        .append(extra)
}

/// A pause-workload mutator loop shared by the single-threaded peers: runs `batch` (which does
/// [`crate::BATCH`] mutations and records any pause it caused into the log) until `p.seconds`
/// have passed; returns the figures.
pub fn pause_loop(p: &Params, mut batch: impl FnMut(&mut PauseLog)) -> Record {
    let mut log = PauseLog::new();
    let run_for = p.duration();
    let mut ops = 0u64;
    let mut elapsed;
    loop {
        batch(&mut log);
        ops += crate::BATCH as u64;
        elapsed = log.start().elapsed();
        if elapsed >= run_for {
            break;
        }
    }
    pause_record(&log, elapsed, ops)
}

/// The figures of the pause workload from a log of pauses over a run of `total`, plus the
/// mutator's operation count.
pub fn pause_record(log: &PauseLog, total: Duration, ops: u64) -> Record {
    let pauses = log.lengths();
    Record::new()
        .with("pauses", pauses.len())
        .with_ms("pause_max_ms", pauses.max())
        .with_ms("pause_p99_ms", pauses.quantile(0.99))
        .with_ms("pause_p50_ms", pauses.quantile(0.5))
        .with_ms("pause_total_ms", pauses.total())
        .with("mmu_1ms", format!("{:.3}", log.mmu(total, Duration::from_millis(1))))
        .with("mmu_10ms", format!("{:.3}", log.mmu(total, Duration::from_millis(10))))
        .with("mmu_100ms", format!("{:.3}", log.mmu(total, Duration::from_millis(100))))
        .with("ops_per_s", format!("{:.0}", ops as f64 / total.as_secs_f64()))
}

/// Time `f`, recording it as a pause when `paused(before, after)` says a collection ran.
pub fn timed<R>(log: &mut PauseLog, f: impl FnOnce() -> R, collected: impl Fn() -> bool) -> R {
    let t = Instant::now();
    let r = f();
    if collected() {
        log.record(t, Instant::now());
    }
    r
}
