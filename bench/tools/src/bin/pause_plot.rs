//! Pause time against heap size, in the three settings: runs `pause_bench` once per setting
//! and live-heap size, each in its own child process, then draws the longest pause any mutator
//! thread saw in each run (`Stats::thread_pauses`: the time the thread spent inside the
//! collector, measured by the thread) into an SVG, with the longest time the world was stopped
//! for the concurrent collector with global stops, and prints the figures as a Markdown table.
//!
//! ```text
//! cargo build --release -p gc-bench
//! cargo run --release -p gc-bench --bin pause_plot            # writes book/src/images/pauses.svg
//! cargo run --release -p gc-bench --bin pause_plot -- --help
//! ```
//!
//! Each point is one `pause_bench` run: one mutator keeps replacing parts of the live heap
//! while cycles run back to back, for `--seconds` seconds. The settings: concurrent with phase
//! changes by per-thread handshakes (the default; no global stop at all), concurrent with
//! global stops of the world for its phase changes (`--phase-changes stops`, as the seed's
//! collector), and stop-the-world. The SVG is the one the book and the README show
//! ([`plot::images_dir`]); `--out` writes it elsewhere.

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
#[command(about = "Runs pause_bench at several heap sizes in three collector settings and plots the pauses (SVG)")]
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
    thread_max: f64,
    thread_p99: f64,
    stopped_max: f64,
}

/// The settings, in plot and table order: label, `pause_bench --mode`, `--phase-changes`.
const SETTINGS: [(&str, &str, &str); 3] = [
    ("concurrent, handshakes", "concurrent", "handshakes"),
    ("concurrent, global stops", "concurrent", "stops"),
    ("stop-the-world", "stw", "stops"),
];

fn run(mode: &str, phase_changes: &str, live: u64, seconds: f64) -> Result<Point, String> {
    let bench = child::sibling("pause_bench").map_err(|e| e.to_string())?;
    let args = [
        CHILD_FLAG,
        "--mode",
        mode,
        "--phase-changes",
        phase_changes,
        "--live",
        &live.to_string(),
        "--seconds",
        &seconds.to_string(),
    ];
    let record = child::run(&bench, &args, mode, None)
        .map_err(|e| format!("{e} (build it first: cargo build --release -p gc-bench)"))?
        .into_record()
        .map_err(|e| format!("pause_bench failed for {mode} ({phase_changes}) {live}: {e}"))?;
    let ms = |key: &str| record.get_u64(key).map(|ns| ns as f64 / 1e6).ok_or_else(|| format!("result lacks {key}"));
    Ok(Point {
        live,
        thread_max: ms("thread_pause_max_ns")?,
        thread_p99: ms("thread_pause_p99_ns")?,
        stopped_max: ms("stopped_max_ns")?,
    })
}

fn draw(path: &Path, results: &[Vec<Point>]) -> Result<(), plot::PlotError> {
    let series = |label: &str, points: &[Point], value: fn(&Point) -> f64, color| Series {
        label: label.to_owned(),
        points: points.iter().map(|p| (p.live as f64, value(p))).collect(),
        color: Some(color),
    };
    plot::line_chart(
        path,
        "Longest pause a thread saw vs live heap (one mutator mutating)",
        "live objects",
        "milliseconds",
        &[
            series("stop-the-world: longest pause", &results[2], |p| p.thread_max, plot::RED),
            series("concurrent, global stops: longest pause", &results[1], |p| p.thread_max, plot::GREY),
            series(
                "concurrent, global stops: longest time the world was stopped",
                &results[1],
                |p| p.stopped_max,
                plot::GREEN,
            ),
            series("concurrent, handshakes: longest pause", &results[0], |p| p.thread_max, plot::BLUE),
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
    let mut results: Vec<Vec<Point>> = Vec::new();
    for (label, mode, phase_changes) in SETTINGS {
        let mut points = Vec::new();
        for &live in &args.sizes {
            eprintln!("pause_plot: {label}, {live} live objects ...");
            match run(mode, phase_changes, live, args.seconds) {
                Ok(p) => points.push(p),
                Err(e) => {
                    eprintln!("pause_plot: {e}");
                    return ExitCode::FAILURE;
                }
            }
        }
        results.push(points);
    }
    println!(
        "| live objects | handshakes: longest pause (p99) | global stops: longest pause (p99) | global stops: world stopped | stop-the-world: longest pause |"
    );
    println!("|---|---|---|---|---|");
    for ((h, g), s) in results[0].iter().zip(&results[1]).zip(&results[2]) {
        println!(
            "| {} | {:.3} ms ({:.3}) | {:.3} ms ({:.3}) | {:.3} ms | {:.1} ms |",
            h.live, h.thread_max, h.thread_p99, g.thread_max, g.thread_p99, g.stopped_max, s.thread_max
        );
    }
    if let Err(e) = draw(&out, &results) {
        eprintln!("pause_plot: cannot draw {}: {e}", out.display());
        return ExitCode::FAILURE;
    }
    eprintln!("pause_plot: wrote {}", out.display());
    ExitCode::SUCCESS
}
