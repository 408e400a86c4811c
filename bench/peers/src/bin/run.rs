//! Runs one workload on one implementation in this process and prints its `result` line.
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

use gc_peers::{flag, impls, Params, Workload};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--list") {
        for i in impls::IMPLS {
            println!("{}\t{}", i.name, i.label);
        }
        return ExitCode::SUCCESS;
    }
    let Some(imp) = flag(&args, "--impl").and_then(impls::find) else {
        eprintln!("run: --impl NAME needed (one of: {})", names());
        return ExitCode::from(2);
    };
    let Some(workload) = flag(&args, "--workload").and_then(Workload::parse) else {
        eprintln!("run: --workload binary-trees|ring|full-gc|pause needed");
        return ExitCode::from(2);
    };
    let params = match Params::from_args(&args) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("run: {e}");
            return ExitCode::from(2);
        }
    };
    match (imp.run)(workload, &params) {
        Ok(outcome) => {
            println!("{}", outcome.with("impl", imp.name).with("workload", workload).line());
            ExitCode::SUCCESS
        }
        Err(e) if e == impls::UNSUPPORTED => {
            eprintln!("run: {} does not support {workload}", imp.name);
            ExitCode::from(3)
        }
        Err(e) => {
            eprintln!("run: {}: {workload}: {e}", imp.name);
            ExitCode::FAILURE
        }
    }
}

fn names() -> String {
    impls::IMPLS.iter().map(|i| i.name).collect::<Vec<_>>().join(", ")
}
