//! The comparison driver: runs every (workload, implementation) in its own child process
//! (this program again, with `--child` and the `run` binary's arguments), several times, takes medians, checks that every
//! implementation computed the same check value, and writes `results.md` and the SVG plots.
//!
//! ```text
//! cargo build --release --manifest-path bench/peers/Cargo.toml
//! nice cargo run --release --manifest-path bench/peers/Cargo.toml --bin compare            # full, ~20 min
//! cargo run --release --manifest-path bench/peers/Cargo.toml --bin compare -- --smoke      # every cell once, tiny sizes
//! ```
//!
//! Flags: `--runs N` (default 5), `--pause-runs N` (default 3), `--smoke` (tiny sizes, one run,
//! results written to `target/` instead of `bench/peers/`), `--impls a,b`, `--workloads a,b`,
//! `--out DIR`, `--slow-secs S` (a cell whose first run takes longer than S seconds, default
//! 40, is run only once), and the size flags of `run` (`--size`, `--depth`, ...).

use std::{
    collections::BTreeMap,
    fmt::Write as _,
    path::{Path, PathBuf},
    process::{Command, ExitCode},
    time::Instant,
};

use gc_peers::{flag, impls, measure::median, Outcome, Params, Workload};
use plotters::prelude::*;

/// One cell: a workload at one size on one implementation, all its runs.
#[derive(Debug, Default)]
struct Cell {
    runs: Vec<Outcome>,
    failed: Option<String>,
}

impl Cell {
    fn median(&self, key: &str) -> Option<f64> {
        median(&self.runs.iter().filter_map(|o| o.get_f64(key)).collect::<Vec<_>>())
    }

    fn range(&self, key: &str) -> Option<(f64, f64)> {
        let v: Vec<f64> = self.runs.iter().filter_map(|o| o.get_f64(key)).collect();
        (!v.is_empty())
            .then(|| (v.iter().copied().fold(f64::MAX, f64::min), v.iter().copied().fold(f64::MIN, f64::max)))
    }

    fn checks(&self) -> Vec<String> {
        let mut c: Vec<String> = self.runs.iter().filter_map(|o| o.get("check").map(str::to_string)).collect();
        c.dedup();
        c
    }

    fn last(&self, key: &str) -> Option<&str> {
        self.runs.last().and_then(|o| o.get(key))
    }
}

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
    /// Run one cell `runs` times (fewer if it is slow); `None` if unsupported.
    fn cell(&mut self, w: Workload, size: &str, imp: &'static impls::Impl, p: &Params, runs: usize) {
        let mut cell = Cell::default();
        for i in 0..runs {
            let t = Instant::now();
            let out = Command::new(&self.run_bin)
                .args(["--child", "--impl", imp.name, "--workload", w.name()])
                .args(p.to_args())
                .output();
            let secs = t.elapsed().as_secs_f64();
            let out = match out {
                Ok(o) => o,
                Err(e) => {
                    cell.failed = Some(format!("cannot run {}: {e}", self.run_bin.display()));
                    break;
                }
            };
            if out.status.code() == Some(3) {
                return;
            }
            let stdout = String::from_utf8_lossy(&out.stdout);
            match stdout.lines().find_map(Outcome::parse) {
                Some(o) if out.status.success() => {
                    eprintln!("  {w} {size} {:<16} run {} {:>8.2} s  {}", imp.name, i + 1, secs, short(&o));
                    cell.runs.push(o);
                }
                _ => {
                    let err = String::from_utf8_lossy(&out.stderr);
                    let msg = format!("exit {}: {}", out.status, err.lines().last().unwrap_or(""));
                    eprintln!("  {w} {size} {:<16} FAILED {msg}", imp.name);
                    let _ = writeln!(self.log, "{w} {size} {}: {msg}", imp.name);
                    cell.failed = Some(msg);
                    break;
                }
            }
            if secs > self.slow_secs {
                let _ =
                    writeln!(self.log, "{w} {size} {}: no more runs after run {} took {secs:.0} s", imp.name, i + 1);
                break;
            }
        }
        self.cells.insert((w, size.to_string(), imp.name), cell);
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

/// Cells from the progress lines `  WORKLOAD SIZE... IMPL run N SECS s  key=value ...` of a run.
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
        let values = words[run + 3..]
            .iter()
            .filter_map(|kv| kv.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        cells.entry((w, size, imp.name)).or_default().runs.push(Outcome { values });
    }
    cells
}

fn short(o: &Outcome) -> String {
    ["time_ms", "check", "pause_max_ms", "mmu_10ms", "rss_growth_mb"]
        .iter()
        .filter_map(|k| o.get(k).map(|v| format!("{k}={v}")))
        .collect::<Vec<_>>()
        .join(" ")
}

fn fmt_ms(ms: f64) -> String {
    if ms >= 1000.0 {
        format!("{:.2} s", ms / 1e3)
    } else if ms >= 10.0 {
        format!("{ms:.1} ms")
    } else {
        format!("{ms:.3} ms")
    }
}

fn size_label(n: usize) -> String {
    if n >= 1_000_000 && n.is_multiple_of(1_000_000) {
        format!("{}M", n / 1_000_000)
    } else if n >= 1000 {
        format!("{}k", n / 1000)
    } else {
        n.to_string()
    }
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

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--child") {
        return gc_peers::run_cli(&args);
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
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out_dir = match flag(&args, "--out") {
        Some(d) => PathBuf::from(d),
        None if smoke => std::env::temp_dir().join("gc-peers-smoke"),
        None => manifest.to_path_buf(),
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
        if let Err(e) = std::fs::create_dir_all(&out_dir) {
            eprintln!("compare: cannot create {}: {e}", out_dir.display());
            return ExitCode::FAILURE;
        }
        let full_gc_sizes: Vec<usize> =
            [8, 4, 2].iter().map(|k| params.live / k).chain([params.live, params.live * 2]).collect();
        let pause_sizes = [params.live, params.live * 8];
        return match plots(&d, &params, &full_gc_sizes, &pause_sizes, &out_dir) {
            Ok(()) => ExitCode::SUCCESS,
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
            for imp in impls::IMPLS.iter().filter(|i| selected(i)) {
                let n = if w == Workload::Pause { d.pause_runs } else { d.runs };
                d.cell(w, label, imp, p, n);
            }
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
    if let Err(e) = plots(&d, &params, &full_gc_sizes, &pause_sizes, &out_dir) {
        eprintln!("compare: cannot draw the plots: {e}");
        return ExitCode::FAILURE;
    }
    eprintln!(
        "compare: wrote {} and the SVGs in {} ({:.0} s)",
        md_path.display(),
        out_dir.display(),
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
         of that cell (runs in separate processes, one after the other, all within this one \
         invocation); ranges are min–max. See `README.md` for what each workload does and what each \
         number means.\n",
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

    // The summary table, in the issue's shape plus our columns.
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
        let base_ms = d.get(w, size, base).and_then(|c| c.median("time_ms"));
        let _ = write!(s, "| {title} |");
        for c in &cols {
            let cell = d.get(w, size, c.name);
            let text = match (cell.and_then(|c| c.median("time_ms")), base_ms) {
                (Some(ms), Some(b)) => {
                    let mut t = format!("{:.2}× ({})", ms / b, fmt_ms(ms));
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
        let _ = write!(s, "| implementation | median | range | runs |");
        if base.is_some() {
            s.push_str(" ratio |");
        }
        for (title, _) in extra {
            let _ = write!(s, " {title} |");
        }
        let _ = write!(s, "\n|---|---|---|---|");
        if base.is_some() {
            s.push_str("---|");
        }
        for _ in extra {
            s.push_str("---|");
        }
        s.push('\n');
        let base_ms = base.and_then(|b| d.get(w, size, b)).and_then(|c| c.median("time_ms"));
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
            let _ = write!(s, "| {} | {med} | {range} | {} |", imp.label, c.runs.len());
            if base.is_some() {
                let r = match (c.median("time_ms"), base_ms) {
                    (Some(m), Some(b)) => format!("{:.2}×", m / b),
                    _ => "—".into(),
                };
                let _ = write!(s, " {r} |");
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
    let _ = writeln!(s, "## binary-trees, {bt}\n\nWall time of the whole program; ratio to `Box`.\n");
    detail(&mut s, Workload::BinaryTrees, &bt, Some("box"), &[]);
    let _ = writeln!(
        s,
        "## ring, {ring}\n\nWall time of building, walking and dropping every ring; ratio to the hand-freed `Rc` \
         ring. RSS is the resident memory after each ring was dropped (and whatever collection the \
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
         calls or collecting mutations as each module describes. MMU: minimum mutator utilisation over \
         windows of 1, 10, 100 ms, from the intervals the mutator spent blocked (gc-runtime: inside \
         `safepoint()`; `CycleStats` has no pause start times).\n",
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
        "Plots: `time-binary-trees.svg`, `time-ring.svg` (median time per implementation), \
         `full-gc-vs-heap.svg` (explicit collection time against live objects), `pause-vs-heap.svg` \
         (longest pause against live objects)."
    );
    s
}

type DynErr = Box<dyn std::error::Error>;

/// A horizontal bar chart of median times (log scale), one bar per implementation.
fn bar_chart(path: &Path, title: &str, bars: &[(String, f64)]) -> Result<(), DynErr> {
    if bars.is_empty() {
        return Ok(());
    }
    let lo = bars.iter().map(|b| b.1).fold(f64::MAX, f64::min).max(1e-3) * 0.5;
    let hi = bars.iter().map(|b| b.1).fold(0.0, f64::max) * 2.0;
    let height = 90 + 32 * bars.len() as u32;
    let root = SVGBackend::new(path, (900, height)).into_drawing_area();
    root.fill(&WHITE)?;
    let labels: Vec<String> = bars.iter().map(|b| b.0.clone()).collect();
    let n = bars.len() as f64;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 20))
        .margin(15)
        .x_label_area_size(40)
        .y_label_area_size(230)
        .build_cartesian_2d((lo..hi).log_scale(), 0.0..n)?;
    chart
        .configure_mesh()
        .disable_y_mesh()
        .y_labels(bars.len() * 2 + 1)
        .y_label_formatter(&|y| {
            // Bar i spans [n-i-1, n-i]; label its middle.
            let k = n - *y - 0.5;
            let i = k.round();
            if (k - i).abs() < 1e-6 && i >= 0.0 {
                labels.get(i as usize).cloned().unwrap_or_default()
            } else {
                String::new()
            }
        })
        .x_desc("milliseconds (median, log scale)")
        .x_label_formatter(&|x| format!("{x}"))
        .draw()?;
    chart.draw_series(bars.iter().enumerate().map(|(i, (label, v))| {
        let color = if label.starts_with("gc-runtime") { RGBColor(30, 100, 200) } else { RGBColor(150, 150, 150) };
        let y = n - i as f64 - 1.0;
        Rectangle::new([(lo, y + 0.15), (*v, y + 0.85)], color.filled())
    }))?;
    chart.draw_series(bars.iter().enumerate().map(|(i, (_, v))| {
        let y = n - i as f64 - 0.5;
        Text::new(fmt_ms(*v), (*v * 1.05, y + 0.2), ("sans-serif", 12).into_font())
    }))?;
    root.present()?;
    Ok(())
}

/// A log-log line chart, one line per implementation.
fn line_chart(path: &Path, title: &str, y_desc: &str, lines: &[(String, Vec<(f64, f64)>)]) -> Result<(), DynErr> {
    let pts = lines.iter().flat_map(|l| l.1.iter());
    let (x_lo, x_hi) = pts.clone().fold((f64::MAX, 0.0f64), |(a, b), p| (a.min(p.0), b.max(p.0)));
    let (y_lo, y_hi) = pts.clone().fold((f64::MAX, 0.0f64), |(a, b), p| (a.min(p.1), b.max(p.1)));
    if x_hi <= 0.0 {
        return Ok(());
    }
    let y_lo = y_lo.max(1e-4) * 0.5;
    let root = SVGBackend::new(path, (900, 520)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 20))
        .margin(15)
        .x_label_area_size(45)
        .y_label_area_size(70)
        // Headroom above the data for the legend.
        .build_cartesian_2d((x_lo * 0.8..x_hi * 1.25).log_scale(), (y_lo..y_hi * 3000.0).log_scale())?;
    chart
        .configure_mesh()
        .x_desc("live objects")
        .y_desc(y_desc)
        .x_label_formatter(&|x| size_label(*x as usize))
        .y_label_formatter(&|y| format!("{y}"))
        .draw()?;
    for (i, (label, data)) in lines.iter().enumerate() {
        let color = Palette99::pick(i).to_rgba();
        let data: Vec<(f64, f64)> = data.iter().map(|&(x, y)| (x, y.max(y_lo))).collect();
        chart
            .draw_series(LineSeries::new(data.clone(), color.stroke_width(2)))?
            .label(label.clone())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2)));
        chart.draw_series(data.into_iter().map(|xy| Circle::new(xy, 3, color.filled())))?;
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

fn plots(d: &Driver, p: &Params, full_gc_sizes: &[usize], pause_sizes: &[usize], out: &Path) -> Result<(), DynErr> {
    let bars = |w: Workload, size: &str| -> Vec<(String, f64)> {
        d.impls_of(w, size)
            .into_iter()
            .filter_map(|i| d.get(w, size, i.name).and_then(|c| c.median("time_ms")).map(|m| (i.label.to_string(), m)))
            .collect()
    };
    let bt = format!("depth {}", p.depth);
    bar_chart(
        &out.join("time-binary-trees.svg"),
        &format!("binary-trees {bt}: wall time"),
        &bars(Workload::BinaryTrees, &bt),
    )?;
    let ring = format!("{} x {}", size_label(p.ring_nodes), p.ring_iters);
    bar_chart(&out.join("time-ring.svg"), &format!("ring churn {ring}: wall time"), &bars(Workload::Ring, &ring))?;
    let series = |w: Workload, sizes: &[usize], key: &str| -> Vec<(String, Vec<(f64, f64)>)> {
        impls::IMPLS
            .iter()
            .filter_map(|i| {
                let pts: Vec<(f64, f64)> = sizes
                    .iter()
                    .filter_map(|&n| {
                        d.get(w, &size_label(n), i.name).and_then(|c| c.median(key)).map(|v| (n as f64, v))
                    })
                    // No pause recorded in the run: nothing to draw on a log scale.
                    .filter(|&(_, v)| v > 0.0)
                    .collect();
                (!pts.is_empty()).then(|| (i.label.to_string(), pts))
            })
            .collect()
    };
    line_chart(
        &out.join("full-gc-vs-heap.svg"),
        "Explicit full collection: time against live heap",
        "milliseconds (median)",
        &series(Workload::FullGc, full_gc_sizes, "time_ms"),
    )?;
    line_chart(
        &out.join("pause-vs-heap.svg"),
        "Longest pause while mutating, against live heap",
        "milliseconds (median of runs)",
        &series(Workload::Pause, pause_sizes, "pause_max_ms"),
    )?;
    Ok(())
}
