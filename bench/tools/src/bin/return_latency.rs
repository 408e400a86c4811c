//! How long a thread waits for the collector when it comes back from a blocking section while
//! concurrent cycles mark: the cost of `Config::idle_exclusive_marking` to the threads that want
//! to run, next to what it buys the collections.
//!
//! ```text
//! GC_EXCLUSIVE_MARKING=0 cargo run --release -p gc-bench --bin return_latency        # off, then on
//! GC_EXCLUSIVE_MARKING=0 cargo run --release -p gc-bench --bin return_latency -- --idle-exclusive on --seconds 10
//! ```
//!
//! `GC_EXCLUSIVE_MARKING=0`: with exclusive marking beside the mutators on (the default), idle
//! exclusive drains run only once the record of the mutators' marks has outgrown its limit, so
//! the program measures little else; the figures in the README and the book were taken with it
//! off (they predate it).
//!
//! The program builds a complete binary tree of `2^(depth+1) - 1` nodes (24 bytes with the
//! header; depth 20: 2M nodes), rooted, in concurrent mode with the pacer off. Then, for
//! `--seconds`, the main thread calls `collect()` in a loop while a second thread sleeps
//! `--sleep-us` inside `Mutator::blocking`, comes back (re-attaching: it waits if the world is
//! stopped), and goes on: it times each `blocking` call, less the sleep it measured inside. So
//! the figure is what coming back cost it — a few hundred nanoseconds when the world runs; when
//! no mutator ran, and a drain had the world stopped for exclusive marking, the wait until that
//! drain handed its work back and the world started. It prints the distribution of those
//! costs, the collections completed, and the drains that ran exclusive and that the thread
//! ended; with `--idle-exclusive both` (the default) it runs itself once per setting, as a
//! child process, and prints both lines.

use std::{
    process::Command,
    sync::atomic::{AtomicBool, Ordering},
    time::{Duration, Instant},
};

use clap::{Parser, ValueEnum};
use gc_bench_support::{
    stats::Latencies,
    tree::{self, Tree},
};
use gc_runtime::{Config, Mode, Root};

/// Command-line options.
#[derive(Parser)]
struct Args {
    /// Depth of the live tree (`2^(depth+1) - 1` nodes).
    #[arg(long, default_value_t = 20)]
    depth: u32,
    /// How long the measurement runs.
    #[arg(long, default_value_t = 4)]
    seconds: u64,
    /// How long the returning thread sleeps inside each blocking section, in microseconds.
    #[arg(long, default_value_t = 300)]
    sleep_us: u64,
    /// `Config::idle_exclusive_marking`: `on`, `off`, or `both` (one child process each).
    #[arg(long, value_enum, default_value_t = Setting::Both)]
    idle_exclusive: Setting,
    /// Print the row only (a child of `--idle-exclusive both`).
    #[arg(long, hide = true)]
    row_only: bool,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Setting {
    On,
    Off,
    Both,
}

fn run(args: &Args, on: bool) {
    let config = Config::from_env()
        .unwrap_or_else(|e| panic!("{e}"))
        .with_mode(Mode::Concurrent)
        .with_gc_percent(None)
        .with_idle_exclusive_marking(on);
    gc_runtime::init(config).unwrap_or_else(|e| panic!("{e}"));
    let mut mu = gc_runtime::attach();
    let root: Root<Tree> = tree::build(&mu, args.depth).root(&mu);
    mu.safepoint();
    let stop = AtomicBool::new(false);
    let cycles_before = gc_runtime::stats().cycles;
    let (costs, collections) = std::thread::scope(|s| {
        let returner = s.spawn(|| {
            let mut mu = gc_runtime::attach();
            let mut costs = Latencies::new();
            let end = Instant::now() + Duration::from_secs(args.seconds);
            while Instant::now() < end {
                let mut slept = Duration::ZERO;
                let t = Instant::now();
                mu.blocking(|| {
                    let s = Instant::now();
                    std::thread::sleep(Duration::from_micros(args.sleep_us));
                    slept = s.elapsed();
                });
                costs.record(t.elapsed().saturating_sub(slept));
                mu.safepoint();
            }
            stop.store(true, Ordering::Relaxed);
            costs
        });
        let mut collections = 0u64;
        while !stop.load(Ordering::Relaxed) {
            mu.collect();
            collections += 1;
        }
        (returner.join().expect("the returning thread panicked"), collections)
    });
    let stats = gc_runtime::stats();
    let recent: Vec<_> = stats.recent.iter().filter(|c| c.cycle > cycles_before).collect();
    let drains: u32 = recent.iter().map(|c| c.idle_exclusive_drains).sum();
    let yielded: u32 = recent.iter().map(|c| c.idle_drains_yielded).sum();
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    println!(
        "| {} | {} | {:.1} | {:.1} | {:.1} | {:.1} | {:.1} | {collections} | {drains} / {yielded} (of the last {}) |",
        if on { "on" } else { "off" },
        costs.len(),
        us(costs.quantile(0.5)),
        us(costs.quantile(0.9)),
        us(costs.quantile(0.99)),
        us(costs.quantile(0.999)),
        us(costs.max()),
        recent.len(),
    );
    assert_eq!(tree::count(&mu, root.get(&mu)), tree::size(args.depth), "the tree is intact");
}

fn main() {
    let args = Args::parse();
    let header = "| idle exclusive marking | returns | p50 µs | p90 µs | p99 µs | p99.9 µs | max µs | collections | drains exclusive / ended by the thread |\n|---|---|---|---|---|---|---|---|---|";
    if !args.row_only {
        println!("{header}");
    }
    match args.idle_exclusive {
        Setting::On | Setting::Off => run(&args, args.idle_exclusive == Setting::On),
        Setting::Both => {
            for setting in ["off", "on"] {
                let exe = std::env::current_exe().expect("the program's path");
                let out = Command::new(exe)
                    .args(["--depth", &args.depth.to_string(), "--seconds", &args.seconds.to_string()])
                    .args(["--sleep-us", &args.sleep_us.to_string(), "--idle-exclusive", setting, "--row-only"])
                    .output()
                    .expect("run a child");
                assert!(
                    out.status.success(),
                    "the child for {setting} failed: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
                print!("{}", String::from_utf8_lossy(&out.stdout));
            }
        }
    }
    if !args.row_only {
        println!("ok");
    }
}
