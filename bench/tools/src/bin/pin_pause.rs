//! The pause that pins the heap when a thread ends with its mutator leaked.
//!
//! ```text
//! cargo run --release -p gc-bench --bin pin_pause                 # 2M live nodes, 5 leaks of each kind
//! cargo run --release -p gc-bench --bin pin_pause -- --depth 18 --runs 9
//! ```
//!
//! A thread that ends with its mutator leaked (`mem::forget`) may have lent `'static`
//! references, so every object alive then is pinned for the rest of the process, with the world
//! stopped: at the next mark start if no marking runs, or else at the termination of the marking
//! in progress, which is then retried and shades what of it is not marked yet once the world
//! runs again. The program builds a complete
//! binary tree of `2^(depth+1) - 1` nodes, rooted, in concurrent mode with the pacer off; then,
//! `--runs` times each, a thread leaks its mutator and ends:
//!
//! - *between cycles*, then `collect()`: the pause is the cycle's mark start;
//! - *while marking*: another thread's `collect()` has been marking for `--delay-ms`; the pause
//!   is the longest of that marking's termination pauses (the one that pins, and the retries).
//!   Two trees of `--garbage-depth` are pinned with the rest: one dropped just before the
//!   marking began, which the marking does not reach, so it is shaded after the pinning pause;
//!   and one the leaking thread built (allocated black) before it ended.
//!
//! For each kind it prints the pauses of the cycle that pinned (median and largest of the runs),
//! the kind of pause it was, and how many objects were pinned. Each leak prints the collector's
//! warning on stderr.

use std::time::Duration;

use clap::Parser;
use gc_bench_support::{
    stats::median,
    tree::{self, Tree},
};
use gc_runtime::{Config, Mode, PauseKind, Root};

/// Command-line options.
#[derive(Parser)]
struct Args {
    /// Depth of the live tree (`2^(depth+1) - 1` nodes).
    #[arg(long, default_value_t = 20)]
    depth: u32,
    /// Depth of the garbage trees of the leaks while marking.
    #[arg(long, default_value_t = 14)]
    garbage_depth: u32,
    /// Leaks of each kind.
    #[arg(long, default_value_t = 5)]
    runs: usize,
    /// How long the marking has run when a thread leaks while marking.
    #[arg(long, default_value_t = 5)]
    delay_ms: u64,
}

/// One thread attaches, builds and drops a tree of `garbage_depth` (none for `None`), leaks its
/// mutator and ends.
fn leak_on_a_thread(garbage_depth: Option<u32>) {
    std::thread::spawn(move || {
        let mu = gc_runtime::attach();
        if let Some(depth) = garbage_depth {
            tree::build(&mu, depth);
        }
        std::mem::forget(mu);
    })
    .join()
    .expect("the leaking thread");
}

/// The pauses of cycle `cycle`, as (kind, milliseconds).
fn pauses_of(cycle: u64) -> Vec<(PauseKind, f64)> {
    let stats = gc_runtime::stats();
    let record = stats.recent.iter().find(|c| c.cycle == cycle).expect("the cycle's record");
    record.pauses.iter().map(|p| (p.kind, p.duration.as_secs_f64() * 1e3)).collect()
}

fn report(what: &str, runs: &[Vec<(PauseKind, f64)>]) {
    let longest: Vec<f64> = runs.iter().map(|p| p.iter().map(|&(_, ms)| ms).fold(0.0, f64::max)).collect();
    let mut kinds: Vec<String> = runs.iter().flatten().map(|(k, _)| format!("{k:?}")).collect();
    kinds.sort();
    kinds.dedup();
    println!(
        "| {what} | {} | {:.3} | {:.3} | {} | {} |",
        runs.len(),
        median(&longest).unwrap_or(f64::NAN),
        longest.iter().copied().fold(0.0, f64::max),
        kinds.join(", "),
        gc_runtime::stats().pinned_objects,
    );
}

fn main() {
    let args = Args::parse();
    let config = Config::from_env().unwrap_or_else(|e| panic!("{e}")).with_mode(Mode::Concurrent).with_gc_percent(None);
    gc_runtime::init(config).unwrap_or_else(|e| panic!("{e}"));
    let mut mu = gc_runtime::attach();
    let root: Root<Tree> = tree::build(&mu, args.depth).root(&mu);
    mu.collect();
    mu.collect();
    println!("| leak | runs | longest pause of the pinning cycle, median ms | largest ms | pause kinds | objects pinned after |");
    println!("|---|---|---|---|---|---|");
    let mut between = Vec::new();
    for _ in 0..args.runs {
        leak_on_a_thread(None);
        let cycle = gc_runtime::stats().cycles + 1;
        mu.collect();
        between.push(pauses_of(cycle));
    }
    report("between cycles", &between);
    let mut marking = Vec::new();
    for _ in 0..args.runs {
        tree::build(&mu, args.garbage_depth);
        let cycle = gc_runtime::stats().cycles + 1;
        mu.blocking(|| {
            std::thread::scope(|s| {
                s.spawn(|| gc_runtime::attach().collect());
                std::thread::sleep(Duration::from_millis(args.delay_ms));
                leak_on_a_thread(Some(args.garbage_depth));
            });
        });
        marking.push(pauses_of(cycle));
    }
    report("while marking", &marking);
    assert_eq!(tree::count(&mu, root.get(&mu)), tree::size(args.depth), "the tree is intact");
}
