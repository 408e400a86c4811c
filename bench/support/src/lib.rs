//! What gc-runtime's measuring programs share: one child-process protocol, one PRNG, one set of
//! statistics, units and tables, one plotting module.
//!
//! Its users are the measuring tools (`bench/tools`, package `gc-bench`), the comparison
//! against the other Rust collectors (`bench/peers`, a cargo project of its own that depends
//! on this crate by path) and the `demo` and `binary_trees` examples.
//!
//! | module | what |
//! |---|---|
//! | [`child`] | running a measurement in a child process, and the lines it reports back |
//! | [`record`] | the `key=value` result line a child prints last ([`record::Record`]) |
//! | [`console`] | the parent's progress line on stderr, with forwarded output above it |
//! | [`rng`] | the one pseudo-random generator ([`rng::Rng`], from `fastrand`) |
//! | [`stats`] | latency quantiles (HdrHistogram), medians, minimum mutator utilisation, resident memory |
//! | [`cycles`] | the collector cycles that ran during one phase of a program ([`cycles::CycleWindow`]) |
//! | [`units`] | durations, bytes, counts and heap sizes as text |
//! | [`table`] | aligned text tables, and the comparison table of several records |
//! | [`plot`] | log-scale line and bar charts written as SVG, and where the book keeps them |
//! | [`binary_trees`] | the Benchmarks Game binary-trees schedule and output lines |
//! | [`tree`] | the measuring programs' live heap: complete binary trees of two-slot nodes |
//! | [`run_check`] | for tests: run a program to completion, read a row of its comparison table |
//! | `cli` (feature `cli`) | clap values for the collector mode and write barrier |
//!
//! # One heap per process
//!
//! gc-runtime has one heap per process, configured once. A program that compares collector
//! modes, or implementations, therefore runs each measurement in a child process: itself again
//! with [`child::CHILD_FLAG`], or a sibling binary ([`child::sibling`]). The child prints
//! progress lines and ends with one [`record::Record`] line; the parent collects the records
//! and prints a table ([`table::comparison`]) or draws a plot ([`plot`]).

pub mod binary_trees;
pub mod child;
#[cfg(feature = "cli")]
pub mod cli;
pub mod console;
pub mod cycles;
pub mod plot;
pub mod record;
pub mod rng;
pub mod run_check;
pub mod stats;
pub mod table;
pub mod thread_pauses;
pub mod tree;
pub mod units;
