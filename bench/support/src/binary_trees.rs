//! What every binary-trees program shares: the schedule of depths and iterations, the output
//! lines and (feature `cli`) the command line. Its users are the `binary_trees` example (GC
//! nodes), `binary_trees_box` in `bench/tools` (`Box` nodes: same command line, same output)
//! and the binary-trees workload of `bench/peers`.
//!
//! The benchmark is the Computer Language Benchmarks Game's
//! [binary-trees](https://benchmarksgame-team.pages.debian.net/benchmarksgame/description/binarytrees.html):
//! allocate a "stretch" tree of depth `n + 1` and check it; allocate a long-lived tree of
//! depth `n`; then for each depth `d` from 4 to `n` in steps of 2, allocate, check and drop
//! `2^(n - d + 4)` trees of depth `d`; finally check the long-lived tree. A tree's check is its
//! number of nodes (`2^(depth + 1) - 1`).

/// The smallest depth of the iterated trees.
pub const MIN_DEPTH: u32 = 4;

/// Benchmarks Game binary-trees: allocates and checks complete binary trees, prints the
/// benchmark output on stdout and `time: X.XXX s` on stderr.
#[cfg(feature = "cli")]
#[derive(clap::Parser, Debug, Clone)]
pub struct Args {
    /// Maximum tree depth `n` (at least 6 is used: the Benchmarks Game rule `max(n, 4 + 2)`).
    #[arg(default_value_t = 10, value_parser = clap::value_parser!(u32).range(0..=30))]
    pub depth: u32,

    /// Threads that share the iterations of each depth (each thread builds whole trees).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub threads: u32,
}

/// The depth of the long-lived tree and of the deepest iterated trees for argument `n`.
pub fn max_depth(n: u32) -> u32 {
    n.max(MIN_DEPTH + 2)
}

/// The iterated depths: `MIN_DEPTH, MIN_DEPTH + 2, ..., max_depth`.
pub fn depths(max_depth: u32) -> impl Iterator<Item = u32> {
    (MIN_DEPTH..=max_depth).step_by(2)
}

/// How many trees of depth `d` are built.
pub fn iterations(max_depth: u32, d: u32) -> u64 {
    1 << (max_depth - d + MIN_DEPTH)
}

/// Thread `i`'s share of `total` iterations split over `threads` (the first ones take the
/// remainder).
pub fn share(total: u64, threads: u32, i: u32) -> u64 {
    let (threads, i) = (u64::from(threads), u64::from(i));
    total / threads + u64::from(i < total % threads)
}

/// `stretch tree of depth D\t check: C`
pub fn stretch_line(depth: u32, check: u64) -> String {
    format!("stretch tree of depth {depth}\t check: {check}")
}

/// `N\t trees of depth D\t check: C`
pub fn trees_line(iterations: u64, depth: u32, check: u64) -> String {
    format!("{iterations}\t trees of depth {depth}\t check: {check}")
}

/// `long lived tree of depth D\t check: C`
pub fn long_lived_line(depth: u32, check: u64) -> String {
    format!("long lived tree of depth {depth}\t check: {check}")
}

/// Print the timing line on stderr: `time: X.XXX s`.
pub fn report_time(elapsed: std::time::Duration) {
    eprintln!("time: {:.3} s", elapsed.as_secs_f64());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedule_of_depth_10() {
        assert_eq!(max_depth(10), 10);
        assert_eq!(max_depth(1), 6);
        assert_eq!(depths(10).collect::<Vec<_>>(), [4, 6, 8, 10]);
        assert_eq!(iterations(10, 4), 1024);
        assert_eq!(iterations(10, 10), 16);
    }

    #[test]
    fn shares_add_up() {
        for (total, threads) in [(16, 3), (1024, 4), (1, 8), (7, 1)] {
            assert_eq!((0..threads).map(|i| share(total, threads, i)).sum::<u64>(), total);
        }
    }
}
