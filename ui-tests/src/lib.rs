//! Compile-fail and pass tests for gc-runtime and its macros, run by trybuild.
//!
//! This crate has no code of its own; its tests are:
//!
//! - `tests/compiletest.rs`: every file in `tests/ui/` must fail to compile with exactly the
//!   compiler output in the `.stderr` beside it (`derive-trace/`: `#[derive(Trace)]` misuse;
//!   `gc-attr/`: `#[gc]` misuse; `soundness/`: each way to break the collector's invariants
//!   from safe code), and every file in `tests/pass/` must compile and run;
//! - `tests/expandtest.rs`: the inputs of the `#[gc]` expansion snapshots in `tests/expand/`
//!   compile and run (the snapshots are checked by gc-derive's `gc_attr::snapshot` test).
//!
//! `DEVELOPMENT.md` at the workspace root says how to run them and how to re-bless.
