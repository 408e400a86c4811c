//! How long an explicit `collect()` takes: the first one of the process (the mark helper
//! threads parked and cold) and the ones after it, with garbage allocated before each.
//!
//! ```text
//! cargo run --release -p gc-bench --bin collect_latency                    # stop-the-world
//! cargo run --release -p gc-bench --bin collect_latency -- --mode concurrent --garbage 0
//! ```
//!
//! The program builds a complete binary tree of `2^(depth+1) - 1` nodes (24 bytes with the
//! header; depth 19: 1M nodes), rooted, then `--runs` times allocates `--garbage` unrooted
//! nodes and times one `collect()` call. It prints the first call's time, and the median,
//! fastest and slowest of the calls after it, then checks that the tree is intact and prints
//! `ok`. One mode per process (the first call is the process's first cycle); in stop-the-world
//! mode the calling thread may mark beside the collector (see `gc-runtime`'s
//! `marker/pool.rs`, "Threads waiting in `collect` join").

use std::time::Instant;

use clap::Parser;
use gc_bench_support::{
    stats::median,
    tree::{self, Tree},
};
use gc_runtime::{Config, Mode};

/// Command-line options.
#[derive(Parser)]
struct Args {
    /// Depth of the live tree (`2^(depth+1) - 1` nodes).
    #[arg(long, default_value_t = 19)]
    depth: u32,
    /// Nodes allocated, and dropped, before each collection.
    #[arg(long, default_value_t = 1_000_000)]
    garbage: usize,
    /// Collections to time.
    #[arg(long, default_value_t = 15)]
    runs: usize,
    /// `stw` or `concurrent`.
    #[arg(long, default_value = "stw")]
    mode: Mode,
}

fn main() {
    let args = Args::parse();
    assert!(args.runs >= 2, "--runs: at least 2 (the first call, and one after it)");
    // The environment's settings (`GC_TRACE=1`, ...), with the mode as the option says and
    // only explicit collections.
    let config = Config::from_env().unwrap_or_else(|e| panic!("{e}")).with_mode(args.mode).with_gc_percent(None);
    gc_runtime::init(config).unwrap_or_else(|e| panic!("{e}"));
    let mut mu = gc_runtime::attach();
    let root = tree::build(&mu, args.depth).root(&mu);
    mu.safepoint();
    let mut times = Vec::with_capacity(args.runs);
    for _ in 0..args.runs {
        for i in 0..args.garbage {
            std::hint::black_box(Tree::leaf(&mu));
            if i % 4096 == 0 {
                mu.safepoint();
            }
        }
        let t = Instant::now();
        mu.collect();
        times.push(t.elapsed().as_secs_f64() * 1e3);
    }
    let rest = &times[1..];
    let (min, max) = rest.iter().fold((f64::MAX, 0.0f64), |(lo, hi), &t| (lo.min(t), hi.max(t)));
    println!(
        "{} live nodes, {} garbage nodes per cycle, mode {}: first collect {:.2} ms; the next {}: median {:.2} ms, fastest {:.2}, slowest {:.2}",
        (1usize << (args.depth + 1)) - 1,
        args.garbage,
        args.mode,
        times[0],
        rest.len(),
        median(rest).expect("at least one"),
        min,
        max
    );
    let live = tree::count(&mu, root.get(&mu));
    assert_eq!(live, (1 << (args.depth + 1)) - 1, "the live tree is intact");
    println!("ok");
}
