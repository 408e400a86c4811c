//! The comparison driver: runs every (workload, implementation) in its own child process
//! (this program again, with `--child` and the `run` binary's arguments; the protocol of
//! [`gc_bench_support::child`]), several times, takes medians, checks that every
//! implementation computed the same check value, and writes `results.md` and the SVG plots.
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
//! the progress lines of an earlier run), `--slow-secs S` (a cell whose first run takes longer
//! than S seconds, default 40, is run only once), and the size flags of `run` (`--size`,
//! `--depth`, ...).

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

/// One cell: a workload at one size on one implementation, all its runs.
#[derive(Debug, Default)]
struct Cell {
    runs: Vec<Record>,
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
        let args: Vec<String> = [CHILD_FLAG, "--impl", imp.name, "--workload", w.name()]
            .into_iter()
            .map(String::from)
            .chain(p.to_args())
            .collect();
        for i in 0..runs {
            let t = Instant::now();
            let run = child::run(&self.run_bin, &args, imp.name, None);
            let secs = t.elapsed().as_secs_f64();
            let run = match run {
                Ok(run) => run,
                Err(e) => {
                    cell.failed = Some(e.to_string());
                    break;
                }
            };
            // Exit status 3: the implementation does not support the workload (`run_cli`).
            if run.status.code() == Some(3) {
                return;
            }
            match run.into_record() {
                Ok(o) => {
                    eprintln!("  {w} {size} {:<16} run {} {:>8.2} s  {}", imp.name, i + 1, secs, short(&o));
                    cell.runs.push(o);
                }
                Err(msg) => {
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
        // After `run N SECS s`: the `key=value` figures.
        let pairs: Vec<&str> = words[run..].iter().copied().filter(|w| w.contains('=')).collect();
        let Some(record) = Record::parse_pairs(&pairs.join(" ")) else { continue };
        cells.entry((w, size, imp.name)).or_default().runs.push(record);
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

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == CHILD_FLAG) {
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
