//! The Lox conformance suite of *Crafting Interpreters*, run against the `lox` binary in three
//! collector settings.
//!
//! # Where the suite is
//!
//! The suite is not part of this repository. It is read from `$LOX_SUITE_DIR` if that is set
//! (an absolute path to the suite's `test` directory), else from `<workspace>/../shared/lox/test`.
//! When the directory is missing, each test writes one line to standard error saying where it
//! looked and how to point it at the suite, and passes; with `LOX_SUITE_REQUIRED=1` (meant for
//! CI) a missing suite fails the tests instead. This crate's own programs
//! (`programs.rs`) always run.
//!
//! # What runs
//!
//! Every counted `.lox` file (all directories except `scanning/` and `expressions/`, which
//! test early chapters of the book, and `benchmark/`, whose programs print timings and are run
//! by `lox_bench` in `bench/tools` instead) runs as a child process and is checked against its
//! expectation comments (see `common/mod.rs`): standard output, the compile errors or the
//! runtime error and the line of its stack trace, and the exit code. `[java line N]`
//! expectations belong to the tree-walking interpreter and are ignored.
//!
//! Files run on two threads. The four settings are four tests that take turns (a lock), so
//! at most two interpreters run at once. Each prints passes and failures per directory and a
//! total, and fails if any file failed.

mod common;

use std::{
    io::Write,
    path::{Path, PathBuf},
};

use common::{Setting, CONCURRENT_CHECKMARK, DEFAULT, HYBRID_CHECKMARK, STRESS_GC};

/// Directories of the suite that do not count (see the module docs).
const SKIPPED_DIRS: [&str; 3] = ["scanning", "expressions", "benchmark"];

/// Overrides where the suite is (an absolute path).
const DIR_VAR: &str = "LOX_SUITE_DIR";

/// Set to `1`, a missing suite fails the tests instead of skipping them.
const REQUIRED_VAR: &str = "LOX_SUITE_REQUIRED";

/// Where the suite should be: `$LOX_SUITE_DIR`, or `<workspace>/../shared/lox/test`.
fn suite_dir() -> PathBuf {
    match std::env::var_os(DIR_VAR).filter(|d| !d.is_empty()) {
        Some(dir) => {
            let dir = PathBuf::from(dir);
            // Cargo runs tests in `lox/`, so a relative path would not mean what it seems to.
            assert!(dir.is_absolute(), "{DIR_VAR} must be an absolute path, not {}", dir.display());
            dir
        }
        None => {
            let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
            let beside_workspace = crate_dir.ancestors().nth(2).expect("the workspace has a parent");
            beside_workspace.join("shared/lox/test")
        }
    }
}

/// Run the whole suite in one setting; panics if any file fails. A missing suite is skipped
/// with a note on standard error, or fails if `LOX_SUITE_REQUIRED=1`.
fn run_suite(setting: &Setting) {
    let root = suite_dir();
    if !root.is_dir() {
        let path = root.display();
        let required = std::env::var(REQUIRED_VAR).is_ok_and(|v| v == "1");
        assert!(
            !required,
            "the external Lox suite is missing: {path} is not a directory ({REQUIRED_VAR}=1); \
             set {DIR_VAR} to the absolute path of the suite's `test` directory"
        );
        // Written to the process's standard error, not through `eprintln!`, which the test
        // harness captures: the note shows in a plain `cargo test`.
        let _ = writeln!(
            std::io::stderr(),
            "note: the external Lox suite was not found at {path}; skipping it in setting {}; \
             to run it, set {DIR_VAR} to the absolute path of its `test` directory",
            setting.name
        );
        return;
    }
    let files = common::collect_files(&root, &SKIPPED_DIRS);
    assert!(!files.is_empty(), "no .lox files in {}: is {DIR_VAR} the suite's `test` directory?", root.display());
    common::run_setting("Lox suite", &root, &files, setting);
}

#[test]
fn suite_default() {
    run_suite(&DEFAULT);
}

#[test]
fn suite_stress_gc() {
    run_suite(&STRESS_GC);
}

#[test]
fn suite_concurrent_checkmark() {
    run_suite(&CONCURRENT_CHECKMARK);
}

#[test]
fn suite_hybrid_checkmark() {
    run_suite(&HYBRID_CHECKMARK);
}
