//! Example programs for gc-runtime: each teaches one way of using the collector, and checks
//! its own result.
//!
//! The programs are in `src/bin/`:
//!
//! | binary | what it shows |
//! |---|---|
//! | `demo` | several threads mutate a large shared graph while the collector runs; concurrent vs stop-the-world side by side |
//! | `binary_trees` | the Benchmarks Game allocation benchmark with GC nodes: `Member` slots, a `Root`, safepoints between trees, mutator threads |
//! | `linked_list` | a doubly linked list and a graph with cycles |
//! | `weak_cache` | a cache whose entries vanish when nothing else holds them (weak references) |
//! | `work_queue` | threads sharing GC objects through roots, detaching around blocking receives |
//! | `gc_rewrite` | the `#[gc]` rewrite next to the hand-written barrier calls it stands for |
//!
//! The measuring programs (pause times against heap size, mark rate, the `Box` baseline of
//! binary-trees, the Lox benchmark runner) are in `bench/tools`, and what `demo` and
//! `binary_trees` share with them (the child process per collector mode, the PRNG, the
//! comparison table, the binary-trees schedule) is `gc-bench-support` (`bench/support`).
