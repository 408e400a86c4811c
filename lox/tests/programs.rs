//! This crate's own Lox programs (`tests/programs/*.lox`), run against the `lox` binary in the
//! four collector settings of the conformance suite; unlike the suite, they are part of the
//! repository and always run.
//!
//! Each program states what it expects in the suite's comments (`// expect: ...`,
//! `// expect runtime error: ...`, `// Error at ...`; see `common/mod.rs`). Together they cover
//! the language (arithmetic, strings, scopes, control flow, functions, closures, classes,
//! inheritance), a runtime and a compile error, and two programs written for the collector: one
//! that allocates many short-lived objects, one that keeps a cyclic structure alive while it
//! makes garbage and then checks every part of it.
//!
//! The last tests check the checker: programs whose comments are wrong must fail.

mod common;

use std::path::{Path, PathBuf};

use common::{Setting, CONCURRENT_CHECKMARK, DEFAULT, HYBRID_CHECKMARK, STRESS_GC};

fn programs_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/programs")
}

fn programs() -> Vec<PathBuf> {
    let files = common::collect_files(&programs_dir(), &[]);
    assert!(!files.is_empty(), "no .lox programs in {}", programs_dir().display());
    files
}

fn run_programs(setting: &Setting) {
    common::run_setting("Lox programs", &programs_dir(), &programs(), setting);
}

#[test]
fn programs_default() {
    run_programs(&DEFAULT);
}

#[test]
fn programs_stress_gc() {
    run_programs(&STRESS_GC);
}

#[test]
fn programs_concurrent_checkmark() {
    run_programs(&CONCURRENT_CHECKMARK);
}

#[test]
fn programs_hybrid_checkmark() {
    run_programs(&HYBRID_CHECKMARK);
}

/// A program without expectation comments would only check that it prints nothing, and one
/// marked `// nontest` would not run at all.
#[test]
fn every_program_states_what_it_expects() {
    for file in programs() {
        let source = std::fs::read_to_string(&file).expect("read program");
        let e = common::parse(&source).unwrap_or_else(|| panic!("{} is marked nontest", file.display()));
        assert!(
            !e.output.is_empty() || !e.compile_errors.is_empty() || e.runtime_error.is_some(),
            "{} has no expectation comments",
            file.display()
        );
    }
}

#[test]
fn expectations_are_parsed() {
    let e = common::parse(
        "print 1; // expect: 1\nx; // Error at 'x': bad\n// [java line 9] Error: no\n// [c line 4] Error at end: e\n",
    )
    .expect("a test");
    assert_eq!(e.output, ["1"]);
    assert_eq!(
        e.compile_errors.into_iter().collect::<Vec<_>>(),
        ["[line 2] Error at 'x': bad", "[line 4] Error at end: e"]
    );
    assert_eq!(e.exit_code, 65);

    let e = common::parse("print 2; // expect: 2\n\nnil(); // expect runtime error: Boom.\n").expect("a test");
    assert_eq!(e.output, ["2"]);
    assert_eq!(e.runtime_error, Some(("Boom.".to_string(), 3)));
    assert_eq!(e.exit_code, 70);

    assert!(common::parse("// nontest\nprint 1;\n").is_none());
}

/// Check `source` (written to a scratch file) against its own comments in the default setting.
fn check_source(name: &str, source: &str) -> Result<(), String> {
    let file = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("gc-lox-checker-{name}.lox"));
    std::fs::write(&file, source).expect("write scratch program");
    let expected = common::parse(source).expect("a test");
    let result = common::check(&file, &expected, DEFAULT.envs);
    let _ = std::fs::remove_file(&file);
    result
}

#[test]
fn the_checker_accepts_right_expectations() {
    assert_eq!(check_source("right-output", "print 1 + 2; // expect: 3\nprint \"a\"; // expect: a\n"), Ok(()));
    assert_eq!(
        check_source(
            "right-runtime-error",
            "print 1; // expect: 1\nfun f() {\n  return -nil; // expect runtime error: Operand must be a number.\n}\nf();\n"
        ),
        Ok(())
    );
    assert_eq!(
        check_source("right-compile-error", "print 1;\nprint 1 +; // Error at ';': Expect expression.\n"),
        Ok(())
    );
}

/// Each case is wrong in one way; the checker must say so, and about the right thing.
#[test]
fn the_checker_rejects_wrong_expectations() {
    let wrong = [
        ("wrong-output", "print 1; // expect: 2\n", "stdout"),
        ("unexpected-output", "print 1; // expect: 1\nprint 2;\n", "stdout"),
        ("missing-output", "print 1; // expect: 1\n// expect: 2\n", "stdout"),
        ("output-order", "print 1; // expect: 2\nprint 2; // expect: 1\n", "stdout"),
        ("unexpected-runtime-error", "print -nil;\n", "stderr"),
        ("wrong-runtime-error", "print -nil; // expect runtime error: Operands must be numbers.\n", "stderr"),
        (
            "wrong-runtime-error-line",
            "var x = nil;\nprint -x;\n// expect runtime error: Operand must be a number.\n",
            "stack trace",
        ),
        (
            "missing-runtime-error",
            "print 1; // expect: 1\n// expect runtime error: Operand must be a number.\n",
            "stderr",
        ),
        ("unexpected-compile-error", "print 1 +;\n", "stderr"),
        ("wrong-compile-error", "print 1 +; // Error at ';': Expect ')' after expression.\n", "stderr"),
        ("wrong-compile-error-line", "print 1 +;\n// [line 2] Error at ';': Expect expression.\n", "stderr"),
        ("missing-compile-error", "var a = 1; // Error at ';': Expect expression.\n", "stderr"),
        ("one-of-two-compile-errors", "print 1 +; // Error at ';': Expect expression.\nprint 2 +;\n", "stderr"),
    ];
    for (name, source, about) in wrong {
        match check_source(name, source) {
            Ok(()) => panic!("the checker accepted {name}: {source:?}"),
            Err(why) => assert!(why.starts_with(about), "{name}: the checker said {why:?}, not about {about}"),
        }
    }
}

/// The programs in `gc/` are there to make the collector work. Stress mode collects before
/// every allocating instruction whatever a program does; in the other three settings the pacer
/// decides, so check there that each program allocates enough for two cycles or more (with
/// the default 4 MB minimum heap: cycles in the middle of the run, not only at its start).
#[test]
fn gc_programs_collect_without_stress() {
    let files = common::collect_files(&programs_dir().join("gc"), &[]);
    assert!(!files.is_empty(), "no programs in tests/programs/gc");
    for setting in [&DEFAULT, &CONCURRENT_CHECKMARK, &HYBRID_CHECKMARK] {
        let envs: Vec<(&str, &str)> = setting.envs.iter().copied().chain([("GC_TRACE", "1")]).collect();
        for file in &files {
            let name = file.display();
            let run = common::run(file, &envs).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(run.code, 0, "{name} failed in setting {}: {}", setting.name, run.stderr);
            let cycles = run.stderr.lines().filter(|l| l.starts_with("gc ")).count();
            assert!(
                cycles >= 2,
                "{name} ran {cycles} collection cycle(s) in setting {}, expected 2 or more",
                setting.name
            );
        }
    }
}
