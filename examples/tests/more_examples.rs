//! Runs the tutorial-style example binaries at a small size; each checks its own result and
//! exits non-zero on a wrong one.

use std::process::{Command, Output};

/// Run `exe` with `args`; panics with its output unless it exits successfully and prints `ok`.
fn run_ok(exe: &str, args: &[&str]) -> String {
    let Output { status, stdout, stderr } =
        Command::new(exe).args(args).output().unwrap_or_else(|e| panic!("cannot run {exe}: {e}"));
    let (stdout, stderr) = (String::from_utf8_lossy(&stdout), String::from_utf8_lossy(&stderr));
    assert!(status.success(), "{exe} {args:?} failed: {status}\n--- stdout\n{stdout}\n--- stderr\n{stderr}");
    assert_eq!(stdout.lines().last(), Some("ok"), "{stdout}");
    stdout.into_owned()
}

#[test]
fn linked_list() {
    let out = run_ok(env!("CARGO_BIN_EXE_linked_list"), &["2000"]);
    assert!(out.contains("list: 1000 cells kept of 2000"), "{out}");
    assert!(out.contains("kept ring 2000/2000 alive, dropped ring 0/2000 alive"), "{out}");
}

#[test]
fn weak_cache() {
    let out = run_ok(env!("CARGO_BIN_EXE_weak_cache"), &["300"]);
    assert!(out.contains("cache: 300 loaded, 100 survived a collection, 200 reloaded"), "{out}");
}

#[test]
fn work_queue() {
    let out = run_ok(env!("CARGO_BIN_EXE_work_queue"), &["300", "3"]);
    assert!(out.contains("300 jobs by 3 workers, 300 handled, 0 wrong, 0 missing"), "{out}");
}

#[test]
fn gc_rewrite() {
    let out = run_ok(env!("CARGO_BIN_EXE_gc_rewrite"), &["500"]);
    assert!(out.contains("#[gc]: 500 nodes, by hand: 500 nodes, equal: true"), "{out}");
}
