//! gc-peers: the same workloads run on gc-runtime and on the other Rust memory managers, one
//! `(workload, implementation)` per process, so each gets a fresh heap and its own allocator
//! state.
//!
//! # Layout
//!
//! - [`Workload`] and [`Params`]: what to run and how big (`--size tiny|full`, or explicit).
//! - [`impls`]: one module per implementation, each exposing `run(workload, params)`; the
//!   registry [`impls::IMPLS`] lists them.
//! - What a run measured is a [`Record`](gc_bench_support::record::Record), printed by the
//!   `run` binary (and by `compare --child`) as the result line of the child-process protocol
//!   ([`gc_bench_support::child`]) that the `compare` driver parses.
//! - Resident memory, quantiles, medians and minimum mutator utilisation come from
//!   [`gc_bench_support::stats`], the PRNG from [`gc_bench_support::rng`], the plots from
//!   [`gc_bench_support::plot`]: the same code as the workspace's measuring tools.
//!
//! # The workloads
//!
//! | workload | what | main figure |
//! |---|---|---|
//! | `binary-trees` | the Benchmarks Game program (stretch tree, long-lived tree, many short-lived trees) | wall time |
//! | `ring` | a ring (cycle) of N nodes built, walked and dropped, K times | wall time; resident memory after each drop |
//! | `full-gc` | a complete binary tree of N live nodes, then one explicit full collection | time of that collection |
//! | `pause` | N live objects in chains; one mutator replaces chain tails for S seconds | pauses (max/p99/p50), MMU at 1/10/100 ms |
//!
//! Every run prints a check value that depends only on the workload and its size, so the
//! driver can verify that all implementations computed the same thing.

pub mod impls;

use std::{fmt, process::ExitCode, time::Duration};

use gc_bench_support::rng::Rng;

/// A workload of the comparison.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Workload {
    /// The Benchmarks Game's binary-trees.
    BinaryTrees,
    /// A cyclic ring built and dropped repeatedly.
    Ring,
    /// One explicit full collection of a large live structure.
    FullGc,
    /// Pauses while a mutator keeps replacing parts of a large live structure.
    Pause,
}

impl Workload {
    /// Every workload, in report order.
    pub const ALL: [Workload; 4] = [Workload::BinaryTrees, Workload::Ring, Workload::FullGc, Workload::Pause];

    /// The command-line name.
    pub fn name(self) -> &'static str {
        match self {
            Workload::BinaryTrees => "binary-trees",
            Workload::Ring => "ring",
            Workload::FullGc => "full-gc",
            Workload::Pause => "pause",
        }
    }

    /// Parse a command-line name.
    pub fn parse(s: &str) -> Option<Workload> {
        Workload::ALL.into_iter().find(|w| w.name() == s)
    }
}

impl fmt::Display for Workload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Sizes of the workloads.
#[derive(Clone, Debug, PartialEq)]
pub struct Params {
    /// binary-trees: maximum depth.
    pub depth: u32,
    /// binary-trees and pause: mutator threads (only implementations that allow it use more
    /// than one).
    pub threads: u32,
    /// ring: nodes per ring.
    pub ring_nodes: usize,
    /// ring: rings built and dropped.
    pub ring_iters: usize,
    /// full-gc and pause: live objects.
    pub live: usize,
    /// pause: how long the mutator runs.
    pub seconds: f64,
}

impl Params {
    /// The published sizes (README and book): depth 18, rings of 100k nodes 20 times, 1M live
    /// objects, 5 s.
    pub fn full() -> Params {
        Params { depth: 18, threads: 1, ring_nodes: 100_000, ring_iters: 20, live: 1_000_000, seconds: 5.0 }
    }

    /// Small sizes for smoke runs: every workload in well under a second.
    pub fn tiny() -> Params {
        Params { depth: 10, threads: 1, ring_nodes: 2_000, ring_iters: 3, live: 20_000, seconds: 0.3 }
    }

    /// Parse `--size`, `--depth`, `--threads`, `--nodes`, `--iters`, `--live`, `--seconds` from
    /// `args` (pairs of flag and value); unknown flags are left to the caller.
    pub fn from_args(args: &[String]) -> Result<Params, String> {
        let mut p = Params::full();
        if let Some(size) = flag(args, "--size") {
            p = match size {
                "tiny" => Params::tiny(),
                "full" => Params::full(),
                other => return Err(format!("--size {other}: expected tiny or full")),
            };
        }
        fn num<T: std::str::FromStr>(args: &[String], name: &str, into: &mut T) -> Result<(), String> {
            if let Some(v) = flag(args, name) {
                *into = v.parse().map_err(|_| format!("{name} {v}: not a number"))?;
            }
            Ok(())
        }
        num(args, "--depth", &mut p.depth)?;
        num(args, "--threads", &mut p.threads)?;
        num(args, "--nodes", &mut p.ring_nodes)?;
        num(args, "--iters", &mut p.ring_iters)?;
        num(args, "--live", &mut p.live)?;
        num(args, "--seconds", &mut p.seconds)?;
        if p.threads == 0 || p.ring_nodes < 2 || p.live == 0 || p.seconds.is_nan() || p.seconds <= 0.0 {
            return Err("--threads, --live and --seconds must be positive, --nodes at least 2".into());
        }
        Ok(p)
    }

    /// The same sizes as command-line arguments.
    pub fn to_args(&self) -> Vec<String> {
        let pairs = [
            ("--depth", self.depth.to_string()),
            ("--threads", self.threads.to_string()),
            ("--nodes", self.ring_nodes.to_string()),
            ("--iters", self.ring_iters.to_string()),
            ("--live", self.live.to_string()),
            ("--seconds", self.seconds.to_string()),
        ];
        pairs.into_iter().flat_map(|(k, v)| [k.to_string(), v]).collect()
    }

    /// How long the pause workload's mutator runs.
    pub fn duration(&self) -> Duration {
        Duration::from_secs_f64(self.seconds)
    }
}

/// The value following `name` in `args`, if any.
pub fn flag<'a>(args: &'a [String], name: &str) -> Option<&'a str> {
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).map(String::as_str)
}

/// ring: the check value of one walk around a ring of `n` nodes numbered `0..n`.
pub fn ring_check(n: usize) -> u64 {
    (n as u64) * (n as u64 - 1) / 2
}

/// pause: nodes per chain.
pub const CHAIN: usize = 4;
/// pause: chain heads per bucket.
pub const BUCKET_SLOTS: usize = 1024;
/// pause: mutations between two safepoints (or collector calls).
pub const BATCH: usize = 256;

/// pause: the number of chains for `live` objects.
pub fn chains_for(live: usize) -> usize {
    live.div_ceil(CHAIN).max(1)
}

/// pause: one mutation, as indices: which chain (bucket, slot) and from which depth its tail is
/// replaced.
#[derive(Clone, Copy, Debug)]
pub struct Mutation {
    /// Bucket index.
    pub bucket: usize,
    /// Slot index within the bucket.
    pub slot: usize,
    /// Depth from which the chain is replaced (0: the whole chain).
    pub depth: usize,
}

/// pause: the next mutation for a heap of `chains` chains.
pub fn next_mutation(rng: &mut Rng, chains: usize) -> Mutation {
    let chain = rng.usize(..chains);
    Mutation { bucket: chain / BUCKET_SLOTS, slot: chain % BUCKET_SLOTS, depth: rng.usize(..CHAIN) }
}

/// full-gc: the children of node `i` in a complete binary tree of `n` nodes laid out by index.
pub fn tree_children(i: usize, n: usize) -> (Option<usize>, Option<usize>) {
    let (l, r) = (2 * i + 1, 2 * i + 2);
    ((l < n).then_some(l), (r < n).then_some(r))
}

/// full-gc: the check value (sum of node ids `0..n`).
pub fn tree_check(n: usize) -> u64 {
    (n as u64) * (n as u64 - 1) / 2
}

/// The command line of the `run` binary (and of `compare --child`): run one workload on one
/// implementation in this process and print its result line ([`gc_bench_support::child::report`]). Exit status 3: the
/// implementation does not support the workload; 2: bad arguments.
pub fn run_cli(args: &[String]) -> ExitCode {
    if args.iter().any(|a| a == "--list") {
        for i in impls::IMPLS {
            println!("{}\t{}", i.name, i.label);
        }
        return ExitCode::SUCCESS;
    }
    let names = || impls::IMPLS.iter().map(|i| i.name).collect::<Vec<_>>().join(", ");
    let Some(imp) = flag(args, "--impl").and_then(impls::find) else {
        eprintln!("run: --impl NAME needed (one of: {})", names());
        return ExitCode::from(2);
    };
    let Some(workload) = flag(args, "--workload").and_then(Workload::parse) else {
        eprintln!("run: --workload binary-trees|ring|full-gc|pause needed");
        return ExitCode::from(2);
    };
    let params = match Params::from_args(args) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("run: {e}");
            return ExitCode::from(2);
        }
    };
    match (imp.run)(workload, &params) {
        Ok(record) => {
            gc_bench_support::child::report(&record.with("impl", imp.name).with("workload", workload));
            ExitCode::SUCCESS
        }
        Err(e) if e == impls::UNSUPPORTED => {
            eprintln!("run: {} does not support {workload}", imp.name);
            ExitCode::from(3)
        }
        Err(e) => {
            eprintln!("run: {}: {workload}: {e}", imp.name);
            ExitCode::FAILURE
        }
    }
}
