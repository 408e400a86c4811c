//! The comparison driver: runs every (workload, implementation) in its own child process
//! (this program again, with `--child` and the `run` binary's arguments; the protocol of
//! [`gc_bench_support::child`]), several times, takes medians, checks that every
//! implementation computed the same check value, and writes `results.md` and the SVG plots.
//!
//! # Surviving a noisy machine
//!
//! - **Interleaved rounds.** For each (workload, size) the driver runs `--runs` rounds; each
//!   round runs every selected implementation once, and the order is rotated by one every round
//!   (A B C, B C A, C A B, ...), so a slow minute of the machine spreads over all
//!   implementations instead of landing on one, and no implementation always goes first. An
//!   implementation whose run took longer than `--slow-secs` gets no further rounds.
//! - **Per-round ratios.** A ratio (to `Box`, to the hand-freed `Rc`, to `ours`) is computed
//!   round by round, from the two runs of the same round, and reported as the median of those
//!   ratios with their min–max range; a round in which either side has no figure is skipped.
//!   Two runs of one round ran seconds apart, so they saw mostly the same machine.
//! - **Load average.** The 1-minute load average (`/proc/loadavg`) is read before each run and
//!   printed on its progress line (`load L`); `results.md` shows the median and range of a
//!   cell's, and `-` where `/proc/loadavg` does not exist. It includes the harness's own runs
//!   (about 1 for a single-threaded run on an otherwise idle machine): a value well above the
//!   number of cores means other work competed with that cell.
//!
//! ```text
//! cargo build --release --manifest-path bench/peers/Cargo.toml
//! nice cargo run --release --manifest-path bench/peers/Cargo.toml --bin compare            # full, ~20 min
//! cargo run --release --manifest-path bench/peers/Cargo.toml --bin compare -- --smoke      # every cell once, tiny sizes
//! ```
//!
//! Where it writes: `results.md` into `bench/peers/`, the plots (`peers-*.svg`) into
//! `book/src/images/`, the one copy the book and the READMEs show. With `--out DIR`, or with
//! `--smoke` (default `$TMPDIR/gc-peers-smoke`), both go into that one directory instead.
//!
//! Flags: `--runs N` (default 5), `--pause-runs N` (default 3), `--smoke` (tiny sizes, one
//! run), `--impls a,b`, `--workloads a,b`, `--out DIR`, `--replot LOG` (redraw the plots from
//! the progress lines of an earlier run), `--slow-secs S` (an implementation whose run takes
//! longer than S seconds, default 40, gets no further rounds), and the size flags of `run`
//! (`--size`, `--depth`, ...). `--help` lists them; any other argument is refused before
//! anything runs.

use std::{
    collections::BTreeMap,
    fmt::Write as _,
    path::{Path, PathBuf},
    process::{Command, ExitCode},
    time::Instant,
};

use gc_bench_support::{
    child::{self, CHILD_FLAG},
    plot::{self, Bar, Series},
    record::Record,
    stats::median,
    units::{ms_adaptive as fmt_ms, size_label as size_label_f64},
};
use gc_peers::{flag, impls, Params, Workload};

/// One run of a cell: the round it belongs to (0-based; the `N - 1` of the progress line's
/// `run N`), the 1-minute load average just before it started, and what it measured.
#[derive(Debug)]
struct Run {
    round: usize,
    load: Option<f64>,
    record: Record,
}

/// One cell: a workload at one size on one implementation, all its runs.
#[derive(Debug, Default)]
struct Cell {
    runs: Vec<Run>,
    failed: Option<String>,
}

impl Cell {
    fn values(&self, key: &str) -> Vec<f64> {
        self.runs.iter().filter_map(|r| r.record.get_f64(key)).collect()
    }

    fn median(&self, key: &str) -> Option<f64> {
        median(&self.values(key))
    }

    fn range(&self, key: &str) -> Option<(f64, f64)> {
        median_range(&self.values(key)).map(|(_, lo, hi)| (lo, hi))
    }

    /// `(round, value)` of every run that recorded `key`.
    fn by_round(&self, key: &str) -> Vec<(usize, f64)> {
        self.runs.iter().filter_map(|r| r.record.get_f64(key).map(|v| (r.round, v))).collect()
    }

    /// The load averages before the runs: median and range.
    fn load(&self) -> Option<(f64, f64, f64)> {
        median_range(&self.runs.iter().filter_map(|r| r.load).collect::<Vec<_>>())
    }

    fn checks(&self) -> Vec<String> {
        let mut c: Vec<String> = self.runs.iter().filter_map(|r| r.record.get("check").map(str::to_string)).collect();
        c.dedup();
        c
    }

    fn last(&self, key: &str) -> Option<&str> {
        self.runs.last().and_then(|r| r.record.get(key))
    }
}

/// The ratios `num / den` of the rounds both sides ran (`(round, value)` pairs, any order); a
/// round missing on either side, or with a zero or non-finite denominator, is skipped.
fn round_ratios(num: &[(usize, f64)], den: &[(usize, f64)]) -> Vec<f64> {
    num.iter()
        .filter_map(|&(round, n)| {
            let &(_, d) = den.iter().find(|(r, _)| *r == round)?;
            let ratio = n / d;
            (d != 0.0 && ratio.is_finite()).then_some(ratio)
        })
        .collect()
}

/// Median, minimum and maximum of the finite values; `None` if there is none.
fn median_range(values: &[f64]) -> Option<(f64, f64, f64)> {
    let v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    let m = median(&v)?;
    Some((m, v.iter().copied().fold(f64::INFINITY, f64::min), v.iter().copied().fold(f64::NEG_INFINITY, f64::max)))
}

/// The per-round ratio of `key` between two cells: median and range (see the module docs).
fn ratio(cell: &Cell, base: &Cell, key: &str) -> Option<(f64, f64, f64)> {
    median_range(&round_ratios(&cell.by_round(key), &base.by_round(key)))
}

/// `1.23×`, with ` [1.10–1.40]` when the rounds differ.
fn fmt_ratio((m, lo, hi): (f64, f64, f64)) -> String {
    if hi - lo < 0.005 {
        format!("{m:.2}×")
    } else {
        format!("{m:.2}× [{lo:.2}–{hi:.2}]")
    }
}

/// The 1-minute load average from `/proc/loadavg`; `None` where there is none.
fn load_average() -> Option<f64> {
    std::fs::read_to_string("/proc/loadavg").ok()?.split_whitespace().next()?.parse().ok()
}

/// A load: `1.23`, or `-` when unknown.
fn fmt_load(load: Option<f64>) -> String {
    load.map_or_else(|| "-".into(), |l| format!("{l:.2}"))
}

/// A cell's load averages: `1.23 [0.90–1.50]`, or `-` when unknown.
fn fmt_load_range(load: Option<(f64, f64, f64)>) -> String {
    match load {
        None => "-".into(),
        Some((m, lo, hi)) if hi - lo < 0.005 => format!("{m:.2}"),
        Some((m, lo, hi)) => format!("{m:.2} [{lo:.2}–{hi:.2}]"),
    }
}

/// The implementation every other one is also shown relative to.
const OURS: &str = "ours";

/// Key of a cell: workload, size label, implementation name.
type Key = (Workload, String, &'static str);

struct Driver {
    run_bin: PathBuf,
    runs: usize,
    pause_runs: usize,
    slow_secs: f64,
    cells: BTreeMap<Key, Cell>,
    log: String,
}

impl Driver {
    /// Run the cells of (w, size) on `imps`, interleaved: `runs` rounds, each running every
    /// implementation still in play once, the order rotated by one every round. An
    /// implementation leaves the rounds when it does not support the workload (no cell), when a
    /// run fails, or after a run that took longer than `slow_secs`.
    fn cells(&mut self, w: Workload, size: &str, imps: &[&'static impls::Impl], p: &Params, runs: usize) {
        let mut cells: Vec<Option<Cell>> = imps.iter().map(|_| Some(Cell::default())).collect();
        // Whether implementation i gets further rounds.
        let mut active: Vec<bool> = vec![true; imps.len()];
        for round in 0..runs {
            let n = imps.len();
            for i in (0..n).map(|k| (k + round) % n) {
                if !active[i] {
                    continue;
                }
                let imp = imps[i];
                let args: Vec<String> = [CHILD_FLAG, "--impl", imp.name, "--workload", w.name()]
                    .into_iter()
                    .map(String::from)
                    .chain(p.to_args())
                    .collect();
                let load = load_average();
                let t = Instant::now();
                let run = child::run(&self.run_bin, &args, imp.name, None);
                let secs = t.elapsed().as_secs_f64();
                let Some(cell) = cells[i].as_mut() else { continue };
                let run = match run {
                    Ok(run) => run,
                    Err(e) => {
                        cell.failed = Some(e.to_string());
                        active[i] = false;
                        continue;
                    }
                };
                // Exit status 3: the implementation does not support the workload (`run_cli`).
                if run.status.code() == Some(3) {
                    cells[i] = None;
                    active[i] = false;
                    continue;
                }
                match run.into_record() {
                    Ok(o) => {
                        eprintln!(
                            "  {w} {size} {:<16} run {} {:>8.2} s  load {}  {}",
                            imp.name,
                            round + 1,
                            secs,
                            fmt_load(load),
                            short(&o)
                        );
                        cell.runs.push(Run { round, load, record: o });
                    }
                    Err(msg) => {
                        eprintln!("  {w} {size} {:<16} FAILED {msg}", imp.name);
                        let _ = writeln!(self.log, "{w} {size} {}: {msg}", imp.name);
                        cell.failed = Some(msg);
                        active[i] = false;
                        continue;
                    }
                }
                if secs > self.slow_secs && round + 1 < runs {
                    let _ = writeln!(
                        self.log,
                        "{w} {size} {}: no more rounds after run {} took {secs:.1} s",
                        imp.name,
                        round + 1
                    );
                    active[i] = false;
                }
            }
        }
        for (imp, cell) in imps.iter().zip(cells) {
            if let Some(cell) = cell {
                self.cells.insert((w, size.to_string(), imp.name), cell);
            }
        }
        // One line per cell: median time (pause workload: longest pause), the per-round ratio
        // of times to ours, the load averages.
        let ours = self.get(w, size, OURS);
        for imp in imps {
            let Some(c) = self.get(w, size, imp.name) else { continue };
            let figure = match (c.median("time_ms"), c.median("pause_max_ms")) {
                (Some(ms), _) => {
                    let vs = ours.and_then(|o| ratio(c, o, "time_ms")).map_or_else(|| "-".into(), fmt_ratio);
                    format!("median {}, x ours {vs}", fmt_ms(ms))
                }
                (None, Some(ms)) => format!("median max pause {}", fmt_ms(ms)),
                (None, None) => "no figure".into(),
            };
            eprintln!(
                "compare: {w} {size} {:<16} {} runs, {figure}, load {}",
                imp.name,
                c.runs.len(),
                fmt_load_range(c.load())
            );
        }
    }

    fn get(&self, w: Workload, size: &str, imp: &str) -> Option<&Cell> {
        self.cells.iter().find(|((cw, cs, ci), _)| *cw == w && cs == size && *ci == imp).map(|(_, c)| c)
    }

    /// Implementations with a cell for (w, size), in registry order.
    fn impls_of(&self, w: Workload, size: &str) -> Vec<&'static impls::Impl> {
        impls::IMPLS.iter().filter(|i| self.get(w, size, i.name).is_some()).collect()
    }

    /// Check values must agree across implementations and runs; returns the problems.
    fn check_mismatches(&self) -> Vec<String> {
        let mut by_size: BTreeMap<(Workload, String), BTreeMap<String, Vec<&str>>> = BTreeMap::new();
        for ((w, size, imp), cell) in &self.cells {
            for c in cell.checks() {
                by_size.entry((*w, size.clone())).or_default().entry(c).or_default().push(imp);
            }
        }
        by_size
            .into_iter()
            .filter(|(_, checks)| checks.len() > 1)
            .map(|((w, size), checks)| format!("{w} {size}: check values differ: {checks:?}"))
            .collect()
    }
}

/// Cells from the progress lines `  WORKLOAD SIZE... IMPL run N SECS s  load L  key=value ...` of a run.
fn parse_progress(text: &str) -> BTreeMap<Key, Cell> {
    let mut cells: BTreeMap<Key, Cell> = BTreeMap::new();
    for line in text.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        let Some(run) = words.iter().position(|w| *w == "run") else { continue };
        let (Some(w), Some(imp)) =
            (words.first().and_then(|w| Workload::parse(w)), run.checked_sub(1).and_then(|i| impls::find(words[i])))
        else {
            continue;
        };
        let size = words[1..run - 1].join(" ");
        let Some(round) = words.get(run + 1).and_then(|n| n.parse::<usize>().ok()).and_then(|n| n.checked_sub(1))
        else {
            continue;
        };
        // `load L` (absent from logs written before it was recorded; `-` where unknown).
        let load = words[run..].iter().position(|w| *w == "load").and_then(|i| words.get(run + i + 1)?.parse().ok());
        // After `run N SECS s`: the `key=value` figures.
        let pairs: Vec<&str> = words[run..].iter().copied().filter(|w| w.contains('=')).collect();
        let Some(record) = Record::parse_pairs(&pairs.join(" ")) else { continue };
        cells.entry((w, size, imp.name)).or_default().runs.push(Run { round, load, record });
    }
    cells
}

fn short(o: &Record) -> String {
    ["time_ms", "check", "pause_max_ms", "mmu_10ms", "rss_growth_mb"]
        .iter()
        .filter_map(|k| o.get(k).map(|v| format!("{k}={v}")))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The label of a size in tables, progress lines and cell keys (`125k`, `1M`).
fn size_label(n: usize) -> String {
    size_label_f64(n as f64)
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let rustc = Command::new("rustc")
        .arg("-V")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    format!(
        "{cores} cores ({cpu}); {rustc}; load average at the end: {}",
        load.split_whitespace().take(3).collect::<Vec<_>>().join(" ")
    )
}

/// What `--help` prints.
const USAGE: &str = "\
compare: gc-runtime against the Rust GC peers, each cell in its own process

usage: compare [FLAGS]
  (no flags)          the full comparison, 13-20 minutes; writes bench/peers/results.md and
                      the book's plots (book/src/images/peers-*.svg)
  --out DIR           write results.md and the plots into DIR instead
  --smoke             every cell once at tiny sizes, into $TMPDIR/gc-peers-smoke (or --out)
  --impls a,b         only these implementations (box, rc, rc-hand, arc, bumpalo, gc, gc-arena,
                      dumpster-unsync, dumpster-sync, bacon-rajan-cc, shredder, ours, ours-stw,
                      ours-stops, ours-2t)
  --workloads a,b     only these workloads (binary-trees, ring, full-gc, pause)
  --runs N            rounds per cell (default 5); --pause-runs N for the pause workload (3)
  --slow-secs S       an implementation slower than S seconds per run gets no more rounds (40)
  --replot LOG        redraw the plots from the progress lines of an earlier run
  --size tiny|full, --depth N, --threads N, --nodes N, --iters N, --live N, --seconds S
                      workload sizes
  --help              this text";

/// Flags that take a value, and flags that do not: anything else is refused, so that a typo
/// (or `--help` in a version without it) cannot start the 20-minute run and overwrite the
/// published results.
const VALUE_FLAGS: &[&str] = &[
    "--out",
    "--impls",
    "--workloads",
    "--runs",
    "--pause-runs",
    "--slow-secs",
    "--replot",
    "--size",
    "--depth",
    "--threads",
    "--nodes",
    "--iters",
    "--live",
    "--seconds",
];
const SWITCHES: &[&str] = &["--smoke"];

/// What is wrong with the arguments, if anything: an unknown one, or a flag without its value.
fn bad_arguments(args: &[String]) -> Option<String> {
    let mut i = 0;
    while i < args.len() {
        let a = args[i].as_str();
        if VALUE_FLAGS.contains(&a) {
            match args.get(i + 1) {
                Some(v) if !v.starts_with("--") => i += 2,
                _ => return Some(format!("{a} needs a value")),
            }
        } else if SWITCHES.contains(&a) {
            i += 1;
        } else {
            return Some(format!("unknown argument {a:?}"));
        }
    }
    None
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == CHILD_FLAG) {
        return gc_peers::run_cli(&args);
    }
    if args.iter().any(|a| a == "--help" || a == "-h") {
        println!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    if let Some(bad) = bad_arguments(&args) {
        eprintln!("compare: {bad}; see --help");
        return ExitCode::from(2);
    }
    let smoke = args.iter().any(|a| a == "--smoke");
    let mut size_args = args.clone();
    if smoke && flag(&args, "--size").is_none() {
        size_args.extend(["--size".into(), "tiny".into()]);
    }
    let params = match Params::from_args(&size_args) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("compare: {e}");
            return ExitCode::from(2);
        }
    };
    let num = |name: &str, default: usize| flag(&args, name).and_then(|v| v.parse().ok()).unwrap_or(default);
    let runs = if smoke { 1 } else { num("--runs", 5) };
    let pause_runs = if smoke { 1 } else { num("--pause-runs", 3) };
    let slow_secs = flag(&args, "--slow-secs").and_then(|v| v.parse().ok()).unwrap_or(40.0);
    // results.md and the plots: one directory with --out or --smoke; otherwise results.md
    // beside this harness and the plots where the book shows them.
    let (out_dir, plot_dir) = match flag(&args, "--out") {
        Some(d) => (PathBuf::from(d), PathBuf::from(d)),
        None if smoke => {
            let d = std::env::temp_dir().join("gc-peers-smoke");
            (d.clone(), d)
        }
        None => (PathBuf::from(env!("CARGO_MANIFEST_DIR")), plot::images_dir()),
    };
    let filter =
        |name: &str| -> Option<Vec<String>> { flag(&args, name).map(|v| v.split(',').map(str::to_string).collect()) };
    let impl_filter = filter("--impls");
    let workload_filter = filter("--workloads");
    let run_bin = match std::env::current_exe() {
        Ok(exe) => exe,
        Err(e) => {
            eprintln!("compare: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut d = Driver { run_bin, runs, pause_runs, slow_secs, cells: BTreeMap::new(), log: String::new() };
    if let Some(log) = flag(&args, "--replot") {
        // Redraw the SVGs from the progress lines of an earlier run (its standard error).
        let text = match std::fs::read_to_string(log) {
            Ok(t) => t,
            Err(e) => {
                eprintln!("compare: {log}: {e}");
                return ExitCode::FAILURE;
            }
        };
        d.cells = parse_progress(&text);
        let full_gc_sizes: Vec<usize> =
            [8, 4, 2].iter().map(|k| params.live / k).chain([params.live, params.live * 2]).collect();
        let pause_sizes = [params.live, params.live * 8];
        return match plots(&d, &params, &full_gc_sizes, &pause_sizes, &plot_dir) {
            Ok(()) => {
                eprintln!("compare: redrew the plots in {}", plot_dir.display());
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("compare: cannot draw the plots: {e}");
                ExitCode::FAILURE
            }
        };
    }
    let started = Instant::now();
    // Heap sizes of the collection-time and pause series.
    let full_gc_sizes: Vec<usize> = if smoke {
        vec![params.live / 4, params.live]
    } else {
        vec![params.live / 8, params.live / 4, params.live / 2, params.live, params.live * 2]
    };
    let pause_sizes: Vec<usize> = if smoke { vec![params.live] } else { vec![params.live, params.live * 8] };
    let selected = |i: &impls::Impl| impl_filter.as_ref().is_none_or(|f| f.iter().any(|n| n == i.name));
    let wanted = |w: Workload| workload_filter.as_ref().is_none_or(|f| f.iter().any(|n| n == w.name()));
    for w in Workload::ALL.into_iter().filter(|w| wanted(*w)) {
        let sizes: Vec<(String, Params)> = match w {
            Workload::BinaryTrees => vec![(format!("depth {}", params.depth), params.clone())],
            Workload::Ring => {
                vec![(format!("{} x {}", size_label(params.ring_nodes), params.ring_iters), params.clone())]
            }
            Workload::FullGc => {
                full_gc_sizes.iter().map(|&n| (size_label(n), Params { live: n, ..params.clone() })).collect()
            }
            Workload::Pause => {
                pause_sizes.iter().map(|&n| (size_label(n), Params { live: n, ..params.clone() })).collect()
            }
        };
        for (label, p) in &sizes {
            eprintln!("compare: {w} {label}");
            let imps: Vec<&'static impls::Impl> = impls::IMPLS.iter().filter(|i| selected(i)).collect();
            let n = if w == Workload::Pause { d.pause_runs } else { d.runs };
            d.cells(w, label, &imps, p, n);
        }
    }
    let mismatches = d.check_mismatches();
    let failures: Vec<String> =
        d.cells.iter().filter_map(|((w, s, i), c)| c.failed.as_ref().map(|f| format!("{w} {s} {i}: {f}"))).collect();
    let elapsed = started.elapsed();

    if let Err(e) = std::fs::create_dir_all(&out_dir) {
        eprintln!("compare: cannot create {}: {e}", out_dir.display());
        return ExitCode::FAILURE;
    }
    let md = report(&d, &params, &full_gc_sizes, &pause_sizes, smoke, elapsed.as_secs_f64(), &mismatches);
    let md_path = out_dir.join("results.md");
    if let Err(e) = std::fs::write(&md_path, md) {
        eprintln!("compare: cannot write {}: {e}", md_path.display());
        return ExitCode::FAILURE;
    }
    if let Err(e) = plots(&d, &params, &full_gc_sizes, &pause_sizes, &plot_dir) {
        eprintln!("compare: cannot draw the plots: {e}");
        return ExitCode::FAILURE;
    }
    eprintln!(
        "compare: wrote {} and the SVGs in {} ({:.0} s)",
        md_path.display(),
        plot_dir.display(),
        elapsed.as_secs_f64()
    );
    for m in mismatches.iter().chain(&failures) {
        eprintln!("compare: {m}");
    }
    if mismatches.is_empty() && failures.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn report(
    d: &Driver,
    p: &Params,
    full_gc_sizes: &[usize],
    pause_sizes: &[usize],
    smoke: bool,
    secs: f64,
    mismatches: &[String],
) -> String {
    let mut s = String::new();
    let bt = format!("depth {}", p.depth);
    let ring = format!("{} x {}", size_label(p.ring_nodes), p.ring_iters);
    let live = size_label(p.live);
    let _ = writeln!(s, "# gc-runtime against the Rust GC peers\n");
    let _ = writeln!(
        s,
        "Written by `compare` ({}) in {:.0} s. Machine: {}. Each figure is the median of the runs \
         of that cell (runs in separate processes, all within this one invocation, interleaved: \
         round after round, every implementation once per round, the order rotated each round); \
         ranges are min–max. A ratio is the median of the per-round ratios of the two \
         implementations' times, with their range in brackets [min–max] when the rounds differ. \
         `load` is the 1-minute load average read before each run of the cell (median \
         [min–max]; it includes this harness's own runs, about 1 on an otherwise idle machine). \
         See `README.md` for what each workload does and what each number means.\n",
        if smoke { "smoke mode: tiny sizes, one run" } else { "full sizes" },
        secs,
        machine()
    );
    if mismatches.is_empty() {
        let _ = writeln!(s, "Every implementation produced the same check value for each workload and size.\n");
    } else {
        let _ = writeln!(s, "**Check values differ:**\n");
        for m in mismatches {
            let _ = writeln!(s, "- {m}");
        }
        s.push('\n');
    }
    if !d.log.is_empty() {
        let _ = writeln!(s, "Notes from the run:\n\n```text\n{}```\n", d.log);
    }

    // The summary table: one row per workload figure, one column per implementation.
    let cols: Vec<&impls::Impl> = impls::IMPLS.iter().filter(|i| d.cells.keys().any(|k| k.2 == i.name)).collect();
    let _ = writeln!(s, "## Summary\n");
    let _ = write!(s, "| workload |");
    for c in &cols {
        let _ = write!(s, " {} |", c.label);
    }
    let _ = write!(s, "\n|---|");
    for _ in &cols {
        s.push_str("---|");
    }
    s.push('\n');
    let ratio_row = |s: &mut String, title: &str, w: Workload, size: &str, base: &str| {
        let base_cell = d.get(w, size, base);
        let _ = write!(s, "| {title} |");
        for c in &cols {
            let cell = d.get(w, size, c.name);
            let r = cell.zip(base_cell).and_then(|(c, b)| ratio(c, b, "time_ms"));
            let text = match (cell.and_then(|c| c.median("time_ms")), r) {
                (Some(ms), Some(r)) => {
                    let mut t = format!("{} ({})", fmt_ratio(r), fmt_ms(ms));
                    if w == Workload::Ring {
                        if let Some(g) = cell.and_then(|c| c.median("rss_growth_mb")) {
                            let _ = write!(t, ", RSS {g:+.0} MB");
                        }
                    }
                    t
                }
                (Some(ms), None) => fmt_ms(ms),
                _ if cell.is_some_and(|c| c.failed.is_some()) => "failed".into(),
                _ => "—".into(),
            };
            let _ = write!(s, " {text} |");
        }
        s.push('\n');
    };
    ratio_row(&mut s, &format!("binary-trees {bt}, × Box"), Workload::BinaryTrees, &bt, "box");
    ratio_row(
        &mut s,
        &format!("ring {ring}, × hand-freed Rc; RSS growth first→last ring"),
        Workload::Ring,
        &ring,
        "rc-hand",
    );
    let _ = write!(s, "| explicit full collection, {live} live objects |");
    for c in &cols {
        let cell = d.get(Workload::FullGc, &live, c.name);
        let text = match cell.and_then(|x| x.median("time_ms")) {
            Some(ms) => match cell.and_then(|x| x.median("pause_ms")) {
                Some(pause) => format!("{} (pause {})", fmt_ms(ms), fmt_ms(pause)),
                None => fmt_ms(ms),
            },
            None => "—".into(),
        };
        let _ = write!(s, " {text} |");
    }
    s.push('\n');
    for &n in pause_sizes {
        let size = size_label(n);
        let _ = write!(s, "| pauses, {size} live, max / p99 (MMU 10 ms) |");
        for c in &cols {
            let cell = d.get(Workload::Pause, &size, c.name);
            let text = match (cell.and_then(|x| x.median("pause_max_ms")), cell.and_then(|x| x.median("pause_p99_ms")))
            {
                (Some(max), Some(p99)) => {
                    format!(
                        "{} / {} ({:.2})",
                        fmt_ms(max),
                        fmt_ms(p99),
                        cell.and_then(|x| x.median("mmu_10ms")).unwrap_or(0.0)
                    )
                }
                _ => "—".into(),
            };
            let _ = write!(s, " {text} |");
        }
        s.push('\n');
    }
    s.push('\n');

    // Detail tables.
    let detail = |s: &mut String, w: Workload, size: &str, base: Option<&str>, extra: &[(&str, &str)]| {
        let impls = d.impls_of(w, size);
        if impls.is_empty() {
            return;
        }
        // Times relative to ours, except for the pause workload (no time figure).
        let vs_ours = w != Workload::Pause;
        let _ = write!(s, "| implementation | median | range | runs | load (1 min) |");
        if let Some(b) = base {
            let _ = write!(s, " ratio to {b} |");
        }
        if vs_ours {
            let _ = write!(s, " × {OURS} |");
        }
        for (title, _) in extra {
            let _ = write!(s, " {title} |");
        }
        let _ = write!(s, "\n|---|---|---|---|---|");
        for _ in base.iter().chain(vs_ours.then_some(&OURS)) {
            s.push_str("---|");
        }
        for _ in extra {
            s.push_str("---|");
        }
        s.push('\n');
        let base_cell = base.and_then(|b| d.get(w, size, b));
        let ours_cell = d.get(w, size, OURS);
        let ratio_to = |c: &Cell, b: Option<&Cell>| -> String {
            b.and_then(|b| ratio(c, b, "time_ms")).map_or_else(|| "—".into(), fmt_ratio)
        };
        for imp in impls {
            let Some(c) = d.get(w, size, imp.name) else { continue };
            if let Some(f) = &c.failed {
                if c.runs.is_empty() {
                    let _ = writeln!(s, "| {} | failed: {} |", imp.label, f.replace('|', "/"));
                    continue;
                }
            }
            let med = c.median("time_ms").map(fmt_ms).unwrap_or_else(|| "—".into());
            let range =
                c.range("time_ms").map(|(a, b)| format!("{}–{}", fmt_ms(a), fmt_ms(b))).unwrap_or_else(|| "—".into());
            let _ = write!(s, "| {} | {med} | {range} | {} | {} |", imp.label, c.runs.len(), fmt_load_range(c.load()));
            if base.is_some() {
                let _ = write!(s, " {} |", ratio_to(c, base_cell));
            }
            if vs_ours {
                let _ = write!(s, " {} |", ratio_to(c, ours_cell));
            }
            for (_, key) in extra {
                let v = if key.ends_with("_per_iter_mb") {
                    c.last(key).unwrap_or("—").replace(',', " ")
                } else {
                    match c.median(key) {
                        Some(v) if key.ends_with("_ms") => fmt_ms(v),
                        Some(v) if key.ends_with("_per_s") => format!("{:.3e}", v),
                        Some(v) => format!("{v}"),
                        None => "—".into(),
                    }
                };
                let _ = write!(s, " {v} |");
            }
            s.push('\n');
        }
        s.push('\n');
    };
    let _ = writeln!(
        s,
        "## binary-trees, {bt}\n\nWall time of the whole program; ratios to `Box` and to gc-runtime (concurrent).\n"
    );
    detail(&mut s, Workload::BinaryTrees, &bt, Some("box"), &[]);
    let _ = writeln!(
        s,
        "## ring, {ring}\n\nWall time of building, walking and dropping every ring; ratios to the hand-freed `Rc` \
         ring and to gc-runtime (concurrent). RSS is the resident memory after each ring was dropped (and whatever collection the \
         implementation runs by itself); the last column lists it per ring, from the last run.\n"
    );
    detail(
        &mut s,
        Workload::Ring,
        &ring,
        Some("rc-hand"),
        &[
            ("RSS after 1st ring (MB)", "rss_first_mb"),
            ("RSS after last (MB)", "rss_last_mb"),
            ("growth (MB)", "rss_growth_mb"),
            ("RSS per ring (MB)", "rss_per_iter_mb"),
        ],
    );
    let _ = writeln!(
        s,
        "## Explicit full collection\n\nTime of one explicit collection call with a complete binary tree of N live \
         nodes (gc-runtime: `mu.collect()`; its pause and mark figures come from the cycle's `CycleStats`). \
         bacon_rajan_cc's `collect_cycles` only scans buffered possible roots and a tree built by moving \
         pointers into their parents has none; dumpster's `collect` likewise only looks at pointers dropped \
         since its last collection.\n"
    );
    for &n in full_gc_sizes {
        let size = size_label(n);
        let _ = writeln!(s, "### {size} live objects\n");
        detail(
            &mut s,
            Workload::FullGc,
            &size,
            None,
            &[
                ("pause", "pause_ms"),
                ("mark", "mark_ms"),
                ("sweep", "sweep_ms"),
                ("marked objects/s", "mark_objects_per_s"),
                ("marked bytes/s", "mark_bytes_per_s"),
                ("build", "build_ms"),
                ("RSS (MB)", "rss_mb"),
            ],
        );
    }
    let _ = writeln!(
        s,
        "## Pauses while mutating\n\nOne mutator replaces chain tails for {} s (gc-runtime 2t: two mutators). \
         Pause: gc-runtime, the collector's own records (stop request to restart); peers, the collector \
         calls or collecting mutations as each module describes. Thread pause and thread MMU (gc-runtime \
         only): the time each mutator thread spent inside the collector, recorded by the thread \
         (`Stats::thread_pauses`), and the worst thread's minimum mutator utilisation over 10 ms windows. \
         Handshake wait: the longest the collector waited for a handshake's last answer (it delays the \
         cycle, not a thread). MMU: minimum mutator utilisation over windows of 1, 10, 100 ms, from the \
         intervals the harness saw the mutator blocked (gc-runtime: inside `safepoint()`).\n",
        p.seconds
    );
    for &n in pause_sizes {
        let size = size_label(n);
        let _ = writeln!(s, "### {size} live objects\n");
        detail(
            &mut s,
            Workload::Pause,
            &size,
            None,
            &[
                ("max pause", "pause_max_ms"),
                ("p99", "pause_p99_ms"),
                ("p50", "pause_p50_ms"),
                ("pauses", "pauses"),
                ("cycles", "cycles"),
                ("world stopped max", "world_stopped_max_ms"),
                ("thread pause max", "thread_pause_max_ms"),
                ("thread p99.9", "thread_pause_p999_ms"),
                ("thread p99", "thread_pause_p99_ms"),
                ("thread MMU 10 ms", "thread_mmu_10"),
                ("handshake wait max", "handshake_max_ms"),
                ("MMU 1 ms", "mmu_1ms"),
                ("MMU 10 ms", "mmu_10ms"),
                ("MMU 100 ms", "mmu_100ms"),
                ("mutations/s", "ops_per_s"),
                ("RSS (MB)", "rss_mb"),
            ],
        );
    }
    let _ = writeln!(
        s,
        "Plots (in `book/src/images/`, or beside this file with `--out`): `{}`, `{}` (median time per \
         implementation), `{}` (explicit collection time against live objects), `{}` (longest pause \
         against live objects).",
        PLOTS[0], PLOTS[1], PLOTS[2], PLOTS[3]
    );
    s
}

/// The file names of the plots, in the order [`plots`] draws them.
const PLOTS: [&str; 4] =
    ["peers-binary-trees.svg", "peers-ring.svg", "peers-full-gc-vs-heap.svg", "peers-pause-vs-heap.svg"];

/// Draw the four plots into `out` (see [`PLOTS`]).
fn plots(
    d: &Driver,
    p: &Params,
    full_gc_sizes: &[usize],
    pause_sizes: &[usize],
    out: &Path,
) -> Result<(), plot::PlotError> {
    std::fs::create_dir_all(out)?;
    let bars = |w: Workload, size: &str| -> Vec<Bar> {
        d.impls_of(w, size)
            .into_iter()
            .filter_map(|i| {
                let ms = d.get(w, size, i.name).and_then(|c| c.median("time_ms"))?;
                let color = if i.name.starts_with("ours") { plot::BLUE } else { plot::GREY };
                Some(Bar { label: i.label.to_string(), ms, color })
            })
            .collect()
    };
    let x_desc = "milliseconds (median, log scale)";
    let bt = format!("depth {}", p.depth);
    let title = format!("binary-trees {bt}: wall time");
    plot::bar_chart(&out.join(PLOTS[0]), &title, x_desc, &bars(Workload::BinaryTrees, &bt))?;
    let ring = format!("{} x {}", size_label(p.ring_nodes), p.ring_iters);
    let title = format!("ring churn {ring}: wall time");
    plot::bar_chart(&out.join(PLOTS[1]), &title, x_desc, &bars(Workload::Ring, &ring))?;
    let series = |w: Workload, sizes: &[usize], key: &str| -> Vec<Series> {
        impls::IMPLS
            .iter()
            .filter_map(|i| {
                let points: Vec<(f64, f64)> = sizes
                    .iter()
                    .filter_map(|&n| {
                        d.get(w, &size_label(n), i.name).and_then(|c| c.median(key)).map(|v| (n as f64, v))
                    })
                    // No pause recorded in the run: nothing to draw on a log scale.
                    .filter(|&(_, v)| v > 0.0)
                    .collect();
                (!points.is_empty()).then(|| Series { label: i.label.to_string(), points, color: None })
            })
            .collect()
    };
    plot::line_chart(
        &out.join(PLOTS[2]),
        "Explicit full collection: time against live heap",
        "live objects",
        "milliseconds (median)",
        &series(Workload::FullGc, full_gc_sizes, "time_ms"),
    )?;
    plot::line_chart(
        &out.join(PLOTS[3]),
        "Longest pause while mutating, against live heap",
        "live objects",
        "milliseconds (median of runs)",
        &series(Workload::Pause, pause_sizes, "pause_max_ms"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_round_ratios_skip_missing_rounds() {
        // Rounds 0..4; the numerator has no round 2, the denominator no round 3.
        let num = [(0, 10.0), (1, 30.0), (3, 99.0), (4, 12.0)];
        let den = [(4, 4.0), (0, 5.0), (1, 10.0), (2, 7.0)];
        let r = round_ratios(&num, &den);
        assert_eq!(r, vec![2.0, 3.0, 3.0]);
        assert_eq!(median_range(&r), Some((3.0, 2.0, 3.0)));
        // Not the ratio of the medians (12 / 7).
        assert_eq!(median_range(&round_ratios(&[(0, 1.0), (1, 4.0)], &[(0, 1.0), (1, 1.0)])), Some((2.5, 1.0, 4.0)));
        // A zero denominator is skipped; nothing paired, nothing reported.
        assert_eq!(round_ratios(&[(0, 1.0)], &[(0, 0.0)]), Vec::<f64>::new());
        assert_eq!(median_range(&round_ratios(&[(0, 1.0)], &[(1, 1.0)])), None);
    }

    #[test]
    fn ratio_of_cells_and_formats() {
        let cell = |v: &[(usize, f64)]| Cell {
            runs: v
                .iter()
                .map(|&(round, ms)| Run {
                    round,
                    load: Some(1.0 + round as f64),
                    record: Record::new().with("time_ms", ms),
                })
                .collect(),
            failed: None,
        };
        let (a, b) = (cell(&[(0, 20.0), (1, 40.0), (2, 15.0)]), cell(&[(0, 10.0), (2, 10.0)]));
        assert_eq!(ratio(&a, &b, "time_ms"), Some((1.75, 1.5, 2.0)));
        assert_eq!(fmt_ratio((1.75, 1.5, 2.0)), "1.75× [1.50–2.00]");
        assert_eq!(fmt_ratio((2.0, 2.0, 2.0)), "2.00×");
        assert_eq!(fmt_load_range(a.load()), "2.00 [1.00–3.00]");
        assert_eq!(fmt_load_range(None), "-");
    }

    #[test]
    fn progress_lines_round_trip() {
        let text = "  ring tiny x 2 ours             run 2     0.05 s  load 1.50  time_ms=3.5 check=7\n\
                    compare: ring tiny x 2 ours             1 runs, median 3.5 ms, x ours 1.00×, load 1.50\n\
                    \x20 ring tiny x 2 box              run 1     0.05 s  time_ms=4 check=7\n";
        let cells = parse_progress(text);
        let ours = &cells[&(Workload::Ring, "tiny x 2".to_string(), "ours")];
        assert_eq!((ours.runs.len(), ours.runs[0].round, ours.runs[0].load), (1, 1, Some(1.5)));
        assert_eq!(ours.median("time_ms"), Some(3.5));
        let boxed = &cells[&(Workload::Ring, "tiny x 2".to_string(), "box")];
        assert_eq!((boxed.runs[0].round, boxed.runs[0].load), (0, None));
    }
}
