//! Example programs for gc-runtime, and the helpers they share.
//!
//! The programs are in `src/bin/`:
//!
//! | binary | what it shows |
//! |---|---|
//! | `demo` | several threads mutate a large shared graph while the collector runs; concurrent vs stop-the-world side by side |
//! | `binary_trees` | the Benchmarks Game allocation benchmark with GC nodes |
//! | `binary_trees_box` | the same program with `Box`, for comparison |
//! | `pause_bench` | pause times with a large live heap, per collector mode |
//! | `pause_plot` | runs `pause_bench` at several heap sizes in both modes and draws the pause plot (SVG) |
//! | `linked_list` | a doubly linked list and a graph with cycles |
//! | `weak_cache` | a cache whose entries vanish when nothing else holds them (weak references) |
//! | `work_queue` | threads sharing GC objects through roots, detaching around blocking receives |
//! | `gc_rewrite` | the `#[gc]` rewrite next to the hand-written barrier calls it stands for |
//!
//! One heap per process: to compare collector modes, `demo` and `pause_bench` run themselves
//! once per mode as child processes ([`child`]), each child ends with one machine-readable
//! [`summary::Summary`] line, and the parent prints a [`table::Table`] of them. The two
//! binary-trees programs share [`binary_trees`].

pub mod binary_trees;
pub mod child;
pub mod cli;
pub mod console;
pub mod rng;
pub mod stats_window;
pub mod summary;
pub mod table;
pub mod units;
