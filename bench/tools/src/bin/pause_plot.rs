//! Pause time against heap size, concurrent vs stop-the-world: runs `pause_bench` once per
//! collector mode and live-heap size, each in its own child process, then draws the longest
//! pause of each run (and, for the concurrent collector, the longest time the world was
//! stopped) into an SVG, and prints the figures as a Markdown table.
//!
//! ```text
//! cargo build --release -p gc-bench
//! cargo run --release -p gc-bench --bin pause_plot            # writes book/src/images/pauses.svg
//! cargo run --release -p gc-bench --bin pause_plot -- --help
//! ```
//!
//! Each point is one `pause_bench` run: one mutator keeps replacing parts of the live heap
//! while cycles run back to back, for `--seconds` seconds. The concurrent runs change phases by
//! global stops of the world (`--phase-changes stops`), the stops this plot is about; with
//! per-thread handshakes, the default, a concurrent cycle does not stop the world at all. The SVG is the one the book and the
//! README show ([`plot::images_dir`]); `--out` writes it elsewhere.

use std::{
    path::{Path, PathBuf},
    process::ExitCode,
};

use clap::Parser;
use gc_bench_support::{
    child::{self, CHILD_FLAG},
    plot::{self, Series},
};

/// Command line.
#[derive(Parser, Debug)]
#[command(about = "Runs pause_bench at several heap sizes in both collector modes and plots the pauses (SVG)")]
struct Args {
    /// Live objects per run, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "125000,250000,500000,1000000,2000000")]
    sizes: Vec<u64>,
    /// Seconds of mutation per run.
    #[arg(long, default_value_t = 2.0)]
    seconds: f64,
    /// Where to write the SVG [default: book/src/images/pauses.svg, the copy the book and the
    /// README show].
    #[arg(long)]
    out: Option<PathBuf>,
}

/// The figures of one run, in milliseconds.
#[derive(Debug, Clone, Copy)]
struct Point {
    live: u64,
    pause_max: f64,
    pause_p99: f64,
    stopped_max: f64,
}

fn run(mode: &str, live: u64, seconds: f64) -> Result<Point, String> {
    let bench = child::sibling("pause_bench").map_err(|e| e.to_string())?;
    // Global stops: the figures plotted are the collector's stops of the world (with per-thread
    // handshakes, the default, a concurrent cycle has none; `pause_bench` and the demo compare
    // the two).
    let args = [
        CHILD_FLAG,
        "--mode",
        mode,
        "--phase-changes",
        "stops",
        "--live",
        &live.to_string(),
        "--seconds",
        &seconds.to_string(),
    ];
    let record = child::run(&bench, &args, mode, None)
        .map_err(|e| format!("{e} (build it first: cargo build --release -p gc-bench)"))?
        .into_record()
        .map_err(|e| format!("pause_bench failed for {mode} {live}: {e}"))?;
    let ms = |key: &str| record.get_u64(key).map(|ns| ns as f64 / 1e6).ok_or_else(|| format!("result lacks {key}"));
    Ok(Point {
        live,
        pause_max: ms("pause_max_ns")?,
        pause_p99: ms("pause_p99_ns")?,
        stopped_max: ms("stopped_max_ns")?,
    })
}

fn draw(path: &Path, concurrent: &[Point], stw: &[Point]) -> Result<(), plot::PlotError> {
    let series = |label: &str, points: &[Point], value: fn(&Point) -> f64, color| Series {
        label: label.to_owned(),
        points: points.iter().map(|p| (p.live as f64, value(p))).collect(),
        color: Some(color),
    };
    plot::line_chart(
        path,
        "Longest pause vs live heap (one mutator mutating)",
        "live objects",
        "milliseconds",
        &[
            series("stop-the-world: max pause", stw, |p| p.pause_max, plot::RED),
            series("concurrent: max pause (incl. time to safepoint)", concurrent, |p| p.pause_max, plot::BLUE),
            series("concurrent: max time the world was stopped", concurrent, |p| p.stopped_max, plot::GREEN),
        ],
    )
}

fn main() -> ExitCode {
    let args = Args::parse();
    if args.sizes.is_empty() || args.sizes.contains(&0) || !(args.seconds > 0.0 && args.seconds.is_finite()) {
        eprintln!("pause_plot: --sizes and --seconds must be positive");
        return ExitCode::from(2);
    }
    let out = args.out.clone().unwrap_or_else(|| plot::images_dir().join("pauses.svg"));
    let mut results: Vec<(&str, Vec<Point>)> = Vec::new();
    for mode in ["concurrent", "stw"] {
        let mut points = Vec::new();
        for &live in &args.sizes {
            eprintln!("pause_plot: {mode}, {live} live objects ...");
            match run(mode, live, args.seconds) {
                Ok(p) => points.push(p),
                Err(e) => {
                    eprintln!("pause_plot: {e}");
                    return ExitCode::FAILURE;
                }
            }
        }
        results.push((mode, points));
    }
    println!("| live objects | concurrent max pause | concurrent p99 | concurrent world stopped | stop-the-world max pause |");
    println!("|---|---|---|---|---|");
    for (c, s) in results[0].1.iter().zip(&results[1].1) {
        println!(
            "| {} | {:.3} ms | {:.3} ms | {:.3} ms | {:.1} ms |",
            c.live, c.pause_max, c.pause_p99, c.stopped_max, s.pause_max
        );
    }
    if let Err(e) = draw(&out, &results[0].1, &results[1].1) {
        eprintln!("pause_plot: cannot draw {}: {e}", out.display());
        return ExitCode::FAILURE;
    }
    eprintln!("pause_plot: wrote {}", out.display());
    ExitCode::SUCCESS
}
