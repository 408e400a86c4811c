//! `lox-bench`: run every program of the Lox benchmark directory and print its wall time.
//!
//! ```text
//! cargo run --release -p gc-lox --bin lox-bench [-- DIR]
//! ```
//!
//! Each program runs in a child process (the `lox` binary next to this one), so every run
//! starts with a fresh heap; the `GC_*` variables are passed through. A failing program's
//! exit code and first line of standard error are shown in the status column.

use std::{
    path::{Path, PathBuf},
    process::{Command, Stdio},
    time::Instant,
};

fn main() {
    let dir = std::env::args()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/lox/test/benchmark"));
    let exe = std::env::current_exe().expect("own path");
    let lox = exe.with_file_name(format!("lox{}", std::env::consts::EXE_SUFFIX));
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "lox"))
        .collect();
    files.sort();
    println!("| benchmark | wall time (s) | status |");
    println!("|---|---:|---|");
    for file in files {
        let started = Instant::now();
        let output =
            Command::new(&lox).arg(&file).stdout(Stdio::null()).stderr(Stdio::piped()).output().expect("run lox");
        let secs = started.elapsed().as_secs_f64();
        let name = file.file_stem().and_then(|s| s.to_str()).unwrap_or("?");
        let status = if output.status.success() {
            "ok".to_string()
        } else {
            let stderr = String::from_utf8_lossy(&output.stderr);
            let first = stderr.lines().next().unwrap_or("");
            format!("exit {}: {first}", output.status.code().unwrap_or(-1))
        };
        println!("| {name} | {secs:.3} | {status} |");
    }
}
