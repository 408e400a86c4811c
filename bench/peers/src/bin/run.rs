//! Runs one workload on one implementation in this process and prints its result line
//! (`@@result key=value ...`, the record of [`gc_bench_support::child`]).
//!
//! ```text
//! cargo run --release --manifest-path bench/peers/Cargo.toml --bin run -- --impl gc-arena --workload ring --size tiny
//! ```
//!
//! Flags: `--impl NAME` (see `--list`), `--workload binary-trees|ring|full-gc|pause`,
//! `--size tiny|full`, and to override single sizes `--depth`, `--threads`, `--nodes`,
//! `--iters`, `--live`, `--seconds`. Exit status 3 means the implementation does not support
//! the workload.

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    gc_peers::run_cli(&args)
}
