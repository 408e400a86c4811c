//! The Benchmarks Game's binary-trees with `Box`-allocated nodes: the baseline for the
//! `binary_trees` example (GC nodes, `examples/src/bin/binary_trees.rs`). Same command line,
//! same output ([`gc_bench_support::binary_trees`]).
//!
//! ```text
//! cargo run --release -p gc-bench --bin binary_trees_box -- 18
//! cargo run --release -p gc-examples --bin binary_trees -- 18   # the same with GC nodes
//! ```
//!
//! Nodes are `Tree { left: Option<Box<Tree>>, right: Option<Box<Tree>> }`, allocated with the
//! system allocator and freed when dropped. With `--threads N` the trees of each depth are
//! shared among N threads. Only the benchmark output goes to stdout; the time goes to stderr as
//! `time: X.XXX s`.

use std::time::Instant;

use clap::Parser;
use gc_bench_support::binary_trees::{self as bt, Args};

/// A binary tree node on the Rust heap; leaves have no children.
pub struct Tree {
    /// Left subtree.
    pub left: Option<Box<Tree>>,
    /// Right subtree.
    pub right: Option<Box<Tree>>,
}

/// Build a complete tree of `depth` (a single node for depth 0).
pub fn bottom_up_tree(depth: u32) -> Box<Tree> {
    if depth > 0 {
        Box::new(Tree { left: Some(bottom_up_tree(depth - 1)), right: Some(bottom_up_tree(depth - 1)) })
    } else {
        Box::new(Tree { left: None, right: None })
    }
}

/// Count the nodes of a tree.
pub fn item_check(tree: &Tree) -> u64 {
    match (&tree.left, &tree.right) {
        (Some(l), Some(r)) => 1 + item_check(l) + item_check(r),
        _ => 1,
    }
}

/// Build, check and drop `count` trees of `depth`; the sum of checks.
fn check_trees(count: u64, depth: u32) -> u64 {
    (0..count).map(|_| item_check(&bottom_up_tree(depth))).sum()
}

fn main() {
    let args = Args::parse();
    let started = Instant::now();
    let max_depth = bt::max_depth(args.depth);

    let stretch = max_depth + 1;
    println!("{}", bt::stretch_line(stretch, item_check(&bottom_up_tree(stretch))));

    let long_lived = bottom_up_tree(max_depth);

    for depth in bt::depths(max_depth) {
        let iterations = bt::iterations(max_depth, depth);
        let check = if args.threads == 1 {
            check_trees(iterations, depth)
        } else {
            std::thread::scope(|s| {
                let handles: Vec<_> = (0..args.threads)
                    .map(|i| {
                        let count = bt::share(iterations, args.threads, i);
                        s.spawn(move || check_trees(count, depth))
                    })
                    .collect();
                handles.into_iter().map(|h| h.join().expect("worker thread panicked")).sum()
            })
        };
        println!("{}", bt::trees_line(iterations, depth, check));
    }

    println!("{}", bt::long_lived_line(max_depth, item_check(&long_lived)));
    bt::report_time(started.elapsed());
}
