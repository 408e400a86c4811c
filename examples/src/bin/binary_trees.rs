//! The Benchmarks Game's binary-trees with GC-allocated nodes: an allocation-heavy benchmark
//! of many short-lived trees plus one long-lived tree.
//!
//! ```text
//! cargo run --release -p gc-examples --bin binary_trees -- 18
//! cargo run --release -p gc-examples --bin binary_trees -- 18 --threads 2
//! GC_MODE=stw GC_TRACE=1 cargo run --release -p gc-examples --bin binary_trees -- 18
//! ```
//!
//! Nodes are `Tree { left: Member<Tree>, right: Member<Tree> }`; a node is allocated after its
//! children and its slots are set through the write barrier. The long-lived tree is kept by a
//! [`Root`]; every other tree lives in locals only. Allocation is not a safepoint, so the
//! program calls [`Mutator::safepoint`] between trees (never inside one build): that is where
//! the collector can stop this thread, and where the previous tree becomes garbage. A pause
//! that starts while a tree is being built waits for the build to finish, so with deep trees
//! the pauses in the trace (`GC_TRACE=1`) include up to one tree build.
//!
//! With `--threads N` the trees of each depth are shared among N threads, each with its own
//! mutator; the main thread is detached ([`Mutator::blocking`]) while it waits for them.
//!
//! The collector is configured from the `GC_*` environment variables (mode, barrier,
//! `GC_PERCENT`, trace...). Only the benchmark output goes to stdout, in the Benchmarks Game
//! format, identical to that of `binary_trees_box` (in `bench/tools`, with `Box` nodes); the
//! time goes to stderr as `time: X.XXX s`.

use std::time::Instant;

use clap::Parser;
use gc_bench_support::binary_trees::{self as bt, Args};
use gc_runtime::{Gc, Member, Mutator, Root, Trace};

/// A binary tree node in the GC heap; leaves have both slots empty.
#[derive(Trace)]
pub struct Tree {
    /// Left subtree.
    pub left: Member<Tree>,
    /// Right subtree.
    pub right: Member<Tree>,
}

/// Build a complete tree of `depth` (a single node for depth 0). No safepoint inside.
pub fn bottom_up_tree(mu: &Mutator, depth: u32) -> Gc<'_, Tree> {
    let node = mu.alloc(Tree { left: Member::new(), right: Member::new() });
    if depth > 0 {
        node.left.set(Some(bottom_up_tree(mu, depth - 1)));
        node.right.set(Some(bottom_up_tree(mu, depth - 1)));
    }
    node
}

/// Count the nodes of a tree.
pub fn item_check(mu: &Mutator, tree: Gc<'_, Tree>) -> u64 {
    match (tree.left.get(mu), tree.right.get(mu)) {
        (Some(l), Some(r)) => 1 + item_check(mu, l) + item_check(mu, r),
        _ => 1,
    }
}

/// Build and check `count` trees of `depth`, with a safepoint after each; the sum of checks.
fn check_trees(mu: &mut Mutator, count: u64, depth: u32) -> u64 {
    let mut check = 0;
    for _ in 0..count {
        check += item_check(mu, bottom_up_tree(mu, depth));
        mu.safepoint();
    }
    check
}

fn main() {
    let args = Args::parse();
    let started = Instant::now();
    let max_depth = bt::max_depth(args.depth);
    let mut mu = gc_runtime::attach();

    let stretch = max_depth + 1;
    let check = item_check(&mu, bottom_up_tree(&mu, stretch));
    println!("{}", bt::stretch_line(stretch, check));
    mu.safepoint();

    let long_lived: Root<Tree> = bottom_up_tree(&mu, max_depth).root(&mu);
    mu.safepoint();

    for depth in bt::depths(max_depth) {
        let iterations = bt::iterations(max_depth, depth);
        let check = if args.threads == 1 {
            check_trees(&mut mu, iterations, depth)
        } else {
            mu.blocking(|| {
                std::thread::scope(|s| {
                    let handles: Vec<_> = (0..args.threads)
                        .map(|i| {
                            let count = bt::share(iterations, args.threads, i);
                            s.spawn(move || check_trees(&mut gc_runtime::attach(), count, depth))
                        })
                        .collect();
                    handles.into_iter().map(|h| h.join().expect("worker thread panicked")).sum()
                })
            })
        };
        println!("{}", bt::trees_line(iterations, depth, check));
    }

    println!("{}", bt::long_lived_line(max_depth, item_check(&mu, long_lived.get(&mu))));
    bt::report_time(started.elapsed());
}
