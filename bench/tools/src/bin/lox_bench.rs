//! `lox_bench`: run every program of the Lox benchmark directory and print its time.
//!
//! ```text
//! cargo run --release -p gc-bench --bin lox_bench [-- DIR]
//! ```
//!
//! `DIR` defaults to `$LOX_SUITE_DIR/benchmark`, else `../shared/lox/test/benchmark` beside the
//! workspace (where `cargo test -p gc-lox` finds the Lox suite). Each program runs in a child
//! process (this program again, with `--child FILE`), so every run starts with a fresh heap;
//! the `GC_*` variables are passed through. The child runs the program with the gc-lox
//! interpreter, its output dropped, and reports the time of `interpret` (start-up and reading
//! the file excluded). A failing program's exit code (65: compile error, 70: runtime error)
//! and first line of standard error are shown in the status column.

use std::{
    path::{Path, PathBuf},
    process::ExitCode,
    time::Instant,
};

use gc_bench_support::{
    child::{self, CHILD_FLAG},
    record::Record,
};
use gc_lox::{InterpretError, Vm};

/// Child side: run one program, report its time; exit 65 or 70 (and the messages on stderr)
/// if it fails, as `lox` does.
fn run_child(file: &Path) -> ExitCode {
    let source = match std::fs::read_to_string(file) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("Could not read file \"{}\": {e}", file.display());
            return ExitCode::from(74);
        }
    };
    let mut vm = Vm::new(false);
    let started = Instant::now();
    let result = vm.interpret(&source);
    let elapsed = started.elapsed();
    match result {
        Ok(()) => {
            child::report(&Record::new().with_ms("time_ms", elapsed));
            ExitCode::SUCCESS
        }
        Err(InterpretError::Compile(lines)) => {
            for l in lines {
                eprintln!("{l}");
            }
            ExitCode::from(65)
        }
        Err(InterpretError::Runtime(text)) => {
            eprintln!("{text}");
            ExitCode::from(70)
        }
    }
}

/// The benchmark directory when none is given.
fn default_dir() -> PathBuf {
    match std::env::var_os("LOX_SUITE_DIR") {
        Some(suite) => PathBuf::from(suite).join("benchmark"),
        // This crate is `bench/tools`; the suite sits beside the workspace.
        None => Path::new(env!("CARGO_MANIFEST_DIR"))
            .ancestors()
            .nth(3)
            .unwrap_or(Path::new("/"))
            .join("shared/lox/test/benchmark"),
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some(CHILD_FLAG) {
        return match args.get(1) {
            Some(file) => run_child(Path::new(file)),
            None => {
                eprintln!("lox_bench: {CHILD_FLAG} needs a FILE");
                ExitCode::from(2)
            }
        };
    }
    let dir = args.first().map_or_else(default_dir, PathBuf::from);
    let mut files: Vec<PathBuf> = match std::fs::read_dir(&dir) {
        Ok(entries) => entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "lox"))
            .collect(),
        Err(e) => {
            eprintln!("lox_bench: cannot read {}: {e}", dir.display());
            return ExitCode::FAILURE;
        }
    };
    files.sort();
    println!("| benchmark | time (s) | status |");
    println!("|---|---:|---|");
    for file in files {
        let name = file.file_stem().and_then(|s| s.to_str()).unwrap_or("?");
        let started = Instant::now();
        let run = match child::run_self(&[CHILD_FLAG.into(), file.display().to_string()], name, None) {
            Ok(run) => run,
            Err(e) => {
                eprintln!("lox_bench: {e}");
                return ExitCode::FAILURE;
            }
        };
        let wall = started.elapsed().as_secs_f64();
        let (secs, status) = match (&run.record, run.status.success()) {
            (Some(r), true) => (r.get_f64("time_ms").map_or(wall, |ms| ms / 1e3), "ok".to_owned()),
            _ => {
                let first = run.stderr_tail.first().map_or("", String::as_str);
                (wall, format!("exit {}: {first}", run.status.code().unwrap_or(-1)))
            }
        };
        println!("| {name} | {secs:.3} | {status} |");
    }
    ExitCode::SUCCESS
}
