//! Pause time against heap size, concurrent vs stop-the-world: runs `pause_bench` once per
//! collector mode and live-heap size, then draws the longest pause of each run (and, for the
//! concurrent collector, the longest time the world was stopped) into an SVG, and prints the
//! figures as a Markdown table.
//!
//! ```text
//! cargo build --release -p gc-examples
//! cargo run --release -p gc-examples --bin pause_plot            # writes book/src/images/pauses.svg
//! cargo run --release -p gc-examples --bin pause_plot -- --help
//! ```
//!
//! Each point is one `pause_bench` run: one mutator keeps replacing parts of the live heap
//! while cycles run back to back, for `--seconds` seconds.

use std::{path::PathBuf, process::Command, process::ExitCode};

use clap::Parser;
use gc_examples::summary::{Summary, SUMMARY_PREFIX};
use plotters::prelude::*;

/// Command line.
#[derive(Parser, Debug)]
#[command(about = "Runs pause_bench at several heap sizes in both collector modes and plots the pauses (SVG)")]
struct Args {
    /// Live objects per run, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "125000,250000,500000,1000000,2000000")]
    sizes: Vec<u64>,
    /// Seconds of mutation per run.
    #[arg(long, default_value_t = 2)]
    seconds: u64,
    /// Where to write the SVG.
    #[arg(long, default_value = "book/src/images/pauses.svg")]
    out: PathBuf,
}

/// One line of the plot: its label, its points, which figure of a point it shows, its colour.
type Series<'a> = (&'a str, &'a [Point], fn(&Point) -> f64, RGBColor);

/// The figures of one run, in milliseconds.
#[derive(Debug, Clone, Copy)]
struct Point {
    live: u64,
    pause_max: f64,
    pause_p99: f64,
    stopped_max: f64,
}

fn run(mode: &str, live: u64, seconds: u64) -> Result<Point, String> {
    let bench = std::env::current_exe().map_err(|e| e.to_string())?.with_file_name("pause_bench");
    let out = Command::new(&bench)
        .args(["--child", "--mode", mode, "--live", &live.to_string(), "--seconds", &seconds.to_string()])
        .output()
        .map_err(|e| {
            format!("cannot run {}: {e} (build it first: cargo build --release -p gc-examples)", bench.display())
        })?;
    if !out.status.success() {
        return Err(format!("pause_bench failed for {mode} {live}: {}", String::from_utf8_lossy(&out.stderr)));
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    let summary = stdout
        .lines()
        .filter(|l| l.starts_with(SUMMARY_PREFIX))
        .find_map(Summary::parse)
        .ok_or_else(|| format!("pause_bench printed no summary for {mode} {live}"))?;
    let ms = |key: &str| summary.get_u64(key).map(|ns| ns as f64 / 1e6).ok_or_else(|| format!("summary lacks {key}"));
    Ok(Point {
        live,
        pause_max: ms("pause_max_ns")?,
        pause_p99: ms("pause_p99_ns")?,
        stopped_max: ms("stopped_max_ns")?,
    })
}

fn draw(path: &PathBuf, concurrent: &[Point], stw: &[Point]) -> Result<(), Box<dyn std::error::Error>> {
    let all = concurrent.iter().chain(stw);
    let x_lo = all.clone().map(|p| p.live).min().unwrap_or(1) as f64 * 0.8;
    let x_hi = all.clone().map(|p| p.live).max().unwrap_or(2) as f64 * 1.25;
    let y_lo = all.clone().flat_map(|p| [p.pause_max, p.stopped_max]).fold(f64::MAX, f64::min).max(0.001) * 0.5;
    // Headroom above the highest line for the legend.
    let y_hi = all.flat_map(|p| [p.pause_max, p.stopped_max]).fold(0.0, f64::max) * 40.0;
    let root = SVGBackend::new(path, (800, 480)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption("Longest pause vs live heap (one mutator mutating)", ("sans-serif", 20))
        .margin(15)
        .x_label_area_size(45)
        .y_label_area_size(70)
        .build_cartesian_2d((x_lo..x_hi).log_scale(), (y_lo..y_hi).log_scale())?;
    chart
        .configure_mesh()
        .x_desc("live objects")
        .y_desc("milliseconds")
        .x_labels(6)
        .x_label_formatter(&|x| if *x >= 1e6 { format!("{:.1}M", x / 1e6) } else { format!("{:.0}k", x / 1e3) })
        .y_label_formatter(&|y| format!("{y}"))
        .draw()?;
    let series: [Series<'_>; 3] = [
        ("stop-the-world: max pause", stw, |p| p.pause_max, RGBColor(200, 40, 40)),
        ("concurrent: max pause (incl. time to safepoint)", concurrent, |p| p.pause_max, RGBColor(30, 100, 200)),
        ("concurrent: max time the world was stopped", concurrent, |p| p.stopped_max, RGBColor(30, 150, 60)),
    ];
    for (label, points, value, color) in series {
        let data: Vec<(f64, f64)> = points.iter().map(|p| (p.live as f64, value(p).max(y_lo))).collect();
        chart
            .draw_series(LineSeries::new(data.clone(), color.stroke_width(2)))?
            .label(label)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2)));
        chart.draw_series(data.into_iter().map(|xy| Circle::new(xy, 4, color.filled())))?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .border_style(BLACK)
        .background_style(WHITE)
        .draw()?;
    root.present()?;
    Ok(())
}

fn main() -> ExitCode {
    let args = Args::parse();
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
    if let Err(e) = draw(&args.out, &results[0].1, &results[1].1) {
        eprintln!("pause_plot: cannot draw {}: {e}", args.out.display());
        return ExitCode::FAILURE;
    }
    eprintln!("pause_plot: wrote {}", args.out.display());
    ExitCode::SUCCESS
}
