//! `lox_bench`: run every program of the Lox benchmark directory and print its time, or — with
//! `--against CLOX` — its CPU time beside a reference interpreter's, with the ratio.
//!
//! ```text
//! cargo run --release -p gc-bench --bin lox_bench [-- DIR]
//! cargo run --release -p gc-bench --bin lox_bench -- --against PATH_TO_CLOX [--runs 3] [DIR]
//! ```
//!
//! `DIR` defaults to `$LOX_SUITE_DIR/benchmark`, else `../shared/lox/test/benchmark` beside the
//! workspace (where `cargo test -p gc-lox` finds the Lox suite). Each program runs in a child
//! process (this program again, with `--child FILE`), so every run starts with a fresh heap;
//! the `GC_*` variables are passed through. The child runs the program with the gc-lox
//! interpreter, its output dropped, and reports the time of `interpret` (start-up and reading
//! the file excluded). A failing program's exit code (65: compile error, 70: runtime error)
//! and first line of standard error are shown in the status column.
//!
//! **Against a reference** (`--against`, e.g. clox built with `gcc -O2 -std=c99 -o clox c/*.c`
//! from the craftinginterpreters repository; this builds nothing): for each program, `--runs`
//! runs of each interpreter, interleaved (ours then the reference, then the other way round, so
//! a slow minute of a noisy machine lands on both), each the whole process's CPU time (user +
//! system, from `getrusage(RUSAGE_CHILDREN)` around the run: every thread of ours — the
//! collector's too — and the reference's start-up). It prints the medians, the ratio of the
//! medians (ours / reference: below 1 is faster), the range of the per-pair ratios, and the
//! geometric mean of the ratios; the load average before and after. A program either
//! interpreter fails on is shown with its status and left out of the mean;
//! `string_equality.lox` is skipped, as the reference rejects it too.
//!
//! A program that runs for a fixed time (its loop is `while (clock() - start < N)`, as
//! `zoo_batch.lox`'s) does a different amount of work in each interpreter, so its CPU time says
//! nothing: it prints how many batches it ran as its second-to-last line, and such a program is
//! compared by CPU time per batch (shown in milliseconds, `ms/batch`).
use std::{
    path::{Path, PathBuf},
    process::ExitCode,
    time::{Duration, Instant},
};

use clap::Parser;

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

/// The command line (the child's `--child FILE` is handled before it is parsed).
#[derive(Parser)]
#[command(about = "Run the Lox benchmark programs; with --against, side by side with a reference interpreter")]
struct Args {
    /// The benchmark directory (default: the Lox suite's `benchmark` beside the workspace).
    dir: Option<PathBuf>,
    /// A reference interpreter to compare CPU time with (e.g. clox built with `gcc -O2`).
    #[arg(long, value_name = "PATH_TO_CLOX")]
    against: Option<PathBuf>,
    /// Runs of each interpreter per program with `--against` (medians are reported).
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=99))]
    runs: u32,
}

fn main() -> ExitCode {
    let raw: Vec<String> = std::env::args().skip(1).collect();
    if raw.first().map(String::as_str) == Some(CHILD_FLAG) {
        return match raw.get(1) {
            Some(file) => run_child(Path::new(file)),
            None => {
                eprintln!("lox_bench: {CHILD_FLAG} needs a FILE");
                ExitCode::from(2)
            }
        };
    }
    let args = Args::parse();
    let dir = args.dir.clone().unwrap_or_else(default_dir);
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
    if let Some(reference) = &args.against {
        return against(reference, &files, args.runs as usize);
    }
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

/// Programs the reference interpreter rejects too (see the module docs).
const SKIPPED: &[&str] = &["string_equality"];

/// CPU time (user + system) of every child process reaped so far.
fn children_cpu() -> Duration {
    // SAFETY: `getrusage` only writes the `rusage` it is given; a zeroed `rusage` is a valid
    // value of that plain C struct.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        if libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage) != 0 {
            return Duration::ZERO;
        }
        usage
    };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(usage.ru_utime) + tv(usage.ru_stime)
}

/// The 1-minute load average, if the system reports one.
fn load_average() -> Option<f64> {
    std::fs::read_to_string("/proc/loadavg").ok()?.split_whitespace().next()?.parse().ok()
}

/// Whether a program runs for a fixed time rather than a fixed amount of work (module docs).
fn is_time_bounded(source: &str) -> bool {
    source.contains("clock() - start <")
}

/// One run of `program`: its CPU time in seconds — per batch if it is `time_bounded` — or
/// why it failed.
fn cpu_of(program: &Path, args: &[String], label: &str, time_bounded: bool) -> Result<f64, String> {
    let before = children_cpu();
    let run = child::run(program, args, label, None).map_err(|e| e.to_string())?;
    let cpu = children_cpu().saturating_sub(before).as_secs_f64();
    if run.status.success() {
        if !time_bounded {
            return Ok(cpu);
        }
        // The batch count is the second-to-last line the program printed.
        let lines = &run.stdout_tail;
        let batches = lines
            .len()
            .checked_sub(2)
            .and_then(|i| lines[i].trim().parse::<f64>().ok())
            .filter(|&b| b >= 1.0)
            .ok_or_else(|| format!("no batch count in its output: {lines:?}"))?;
        Ok(cpu / batches)
    } else {
        let first = run.stderr_tail.first().map_or("", String::as_str);
        Err(format!("exit {}: {first}", run.status.code().unwrap_or(-1)))
    }
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

/// The `--against` table (module docs).
fn against(reference: &Path, files: &[PathBuf], runs: usize) -> ExitCode {
    let ours = match std::env::current_exe() {
        Ok(p) => p,
        Err(e) => {
            eprintln!("lox_bench: cannot find this executable: {e}");
            return ExitCode::FAILURE;
        }
    };
    let load_before = load_average();
    println!(
        "| benchmark | ours CPU (s) | {} CPU (s) | ratio | per-pair ratios |",
        reference.file_name().and_then(|n| n.to_str()).unwrap_or("reference")
    );
    println!("|---|---:|---:|---:|---|");
    let mut ratios = Vec::new();
    for file in files {
        let name = file.file_stem().and_then(|s| s.to_str()).unwrap_or("?");
        if SKIPPED.contains(&name) {
            continue;
        }
        let path = file.display().to_string();
        let time_bounded = std::fs::read_to_string(file).is_ok_and(|s| is_time_bounded(&s));
        let ours_args = [CHILD_FLAG.to_owned(), path.clone()];
        let (mut a, mut b) = (Vec::new(), Vec::new());
        let mut failed = None;
        for run in 0..runs {
            let mut one = |which: bool| {
                if which {
                    cpu_of(&ours, &ours_args, name, time_bounded).map(|t| a.push(t))
                } else {
                    cpu_of(reference, std::slice::from_ref(&path), name, time_bounded).map(|t| b.push(t))
                }
            };
            // Ours first in even runs, the reference first in odd ones.
            let first = run % 2 == 0;
            if let Err(e) = one(first).and_then(|()| one(!first)) {
                failed = Some(e);
                break;
            }
        }
        if let Some(e) = failed {
            println!("| {name} | - | - | - | {e} |");
            continue;
        }
        let pair: Vec<f64> = a.iter().zip(&b).map(|(x, y)| x / y).collect();
        let (lo, hi) = pair.iter().fold((f64::MAX, f64::MIN), |(lo, hi), &r| (lo.min(r), hi.max(r)));
        let (ma, mb) = (median(a), median(b));
        let ratio = ma / mb;
        ratios.push(ratio);
        if time_bounded {
            let (ms_a, ms_b) = (ma * 1e3, mb * 1e3);
            println!("| {name} | {ms_a:.3} ms/batch | {ms_b:.3} ms/batch | {ratio:.2}× | {lo:.2}–{hi:.2} |");
        } else {
            println!("| {name} | {ma:.3} | {mb:.3} | {ratio:.2}× | {lo:.2}–{hi:.2} |");
        }
    }
    if !ratios.is_empty() {
        let geo = (ratios.iter().map(|r| r.ln()).sum::<f64>() / ratios.len() as f64).exp();
        println!("| **geometric mean** | | | **{geo:.2}×** | {} programs |", ratios.len());
    }
    let fmt = |l: Option<f64>| l.map_or("-".to_owned(), |l| format!("{l:.2}"));
    println!();
    println!(
        "{runs} runs of each, interleaved; CPU time of the whole process; load average {} before, {} after",
        fmt(load_before),
        fmt(load_average())
    );
    ExitCode::SUCCESS
}
