//! Pause times with a large live heap: how long the collector stops the world, per mode.
//!
//! ```text
//! cargo run --release -p gc-bench --bin pause_bench                       # both modes, compared
//! cargo run --release -p gc-bench --bin pause_bench -- --mode concurrent --live 2000000
//! cargo run --release -p gc-bench --bin pause_bench -- --mode stw --gc-percent 100
//! cargo run --release -p gc-bench --bin pause_bench -- --mode concurrent --value-stack 100000
//! ```
//!
//! # What it does
//!
//! 1. Builds `--live` objects reachable from roots: buckets of [`BUCKET_SLOTS`] slots, each
//!    bucket held by a [`Root`] (a `Vec<Root<Bucket>>`), each slot holding a linked chain of
//!    [`CHAIN`] nodes. No cycle runs while it builds (`gc_percent` is off).
//! 2. For `--seconds`, one mutator (the main thread) replaces the tail of random chains with
//!    fresh nodes — the live set stays the same size, the replaced nodes become garbage — and
//!    calls [`Mutator::safepoint`] every [`BATCH`] operations. Meanwhile cycles run back to
//!    back: a second thread calls [`Mutator::collect`] in a loop (or, with `--gc-percent`, the
//!    pacer triggers them).
//!    With `--value-stack N`, the mutator also keeps N more live nodes in a
//!    [`ValueStack`](gc_runtime::ValueStack) — an interpreter's stack — and overwrites one
//!    random entry of it per batch, with plain stores; the thread scans it itself when the
//!    collector asks (at its answers to handshakes), so the pauses *as the thread saw them*
//!    include the scans: compare them with and without the stack. Without the option the
//!    mutator has no value stack at all: an empty one is still looked at in every answer, which
//!    added a few tenths of a microsecond to each (the thread-seen p99 went from 2 to 3 µs).
//! 3. Reports the pauses of the cycles of step 2 (max, p99, p50, counts), the mutator's
//!    throughput, the worst latency of one batch of operations as the mutator saw it (which
//!    includes any pause it was caught in), and the peak heap.
//!
//! With `--mode both` (the default) the program runs itself once per mode as a child process
//! (one heap per process) and prints a comparison table.
//!
//! The collector settings not given on the command line come from the `GC_*` environment
//! variables (e.g. `GC_MARK_WORKERS`, `GC_CHECKMARK=1`, `GC_TRACE=1`).

use std::{
    process::ExitCode,
    sync::{
        atomic::{AtomicBool, Ordering},
        Mutex,
    },
    time::{Duration, Instant},
};

use clap::Parser;
use gc_bench_support::{
    child::{self, report, report_progress, CHILD_FLAG},
    cli::{mode_label, runs, BarrierChoice, ModeChoice, PhaseChanges},
    console::Console,
    cycles::{handshake_latency_row, with_handshake_latency, CycleWindow},
    record::Record,
    rng::{self, Rng},
    stats::Latencies,
    table::{comparison, count_cell, mb_cell, ms_cell, raw_cell, CellFn},
    thread_pauses::{thread_pause_rows, with_thread_pauses},
    units,
};
use gc_runtime::{Config, Gc, Member, Mode, Mutator, Root, Trace, ValueStack};

/// Nodes per chain.
pub const CHAIN: usize = 4;

/// Slots per bucket.
pub const BUCKET_SLOTS: usize = 1024;

/// Operations between two safepoints.
pub const BATCH: usize = 256;

/// Command line.
#[derive(Parser, Debug)]
#[command(
    about = "Measures GC pauses with a large live heap while one mutator creates garbage",
    long_about = "Measures GC pauses with a large live heap.\n\n\
                  Builds --live objects reachable from roots, then one mutator keeps replacing parts of \
                  them with fresh objects (the live set stays the same size, the replaced objects become \
                  garbage) while collection cycles run back to back. Prints the pause statistics of those \
                  cycles: max, p99, p50, number of cycles and pauses.\n\n\
                  One heap per process: with --mode both the program runs itself once per mode and prints \
                  a comparison table."
)]
pub struct Args {
    /// Live objects to build (chains of 4 nodes in buckets of 1024 slots, plus the buckets).
    #[arg(long, default_value_t = 1_000_000)]
    pub live: usize,

    /// How long the mutator runs while cycles are measured, in seconds.
    #[arg(long, default_value_t = 5.0)]
    pub seconds: f64,

    /// Collector mode: `both` runs each mode in its own process and compares them.
    #[arg(long, value_enum, default_value_t = ModeChoice::Both)]
    pub mode: ModeChoice,

    /// Write barrier of the concurrent collector (unused by stop-the-world cycles).
    #[arg(long, value_enum, default_value_t = BarrierChoice::Dijkstra)]
    pub barrier: BarrierChoice,

    /// How the concurrent collector changes phases: per-thread handshakes, global stops, or
    /// `both` (compared side by side with `--mode both`). A single run with `both` uses
    /// handshakes.
    #[arg(long, value_enum, default_value_t = PhaseChanges::Both)]
    pub phase_changes: PhaseChanges,

    /// Let the pacer trigger cycles at this heap growth (percent) instead of running cycles
    /// back to back from a second thread.
    #[arg(long)]
    pub gc_percent: Option<u32>,

    /// Keep this many more live nodes in a value stack of the mutator (see the module docs).
    #[arg(long, default_value_t = 0)]
    pub value_stack: usize,

    /// Print the collector's per-cycle trace lines on stderr.
    #[arg(long)]
    pub trace: bool,

    /// Seed of the pseudo-random workload.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,

    /// Internal: run one mode and end with a machine-readable result line.
    #[arg(long, hide = true)]
    pub child: bool,
}

/// A chain node.
#[derive(Trace)]
pub struct Node {
    /// Sequence number (not checked; it gives the node a realistic payload).
    pub id: u64,
    /// Next node of the chain.
    pub next: Member<Node>,
}

/// A bucket of chain heads, held by a root.
#[derive(Trace)]
pub struct Bucket {
    /// Chain heads.
    pub slots: Vec<Member<Node>>,
}

/// Allocate a fresh chain of `len >= 1` nodes; returns its head.
fn fresh_chain<'m>(mu: &'m Mutator, len: usize, next_id: &mut u64) -> Gc<'m, Node> {
    let head = mu.alloc(Node { id: *next_id, next: Member::new() });
    let mut tail = head;
    for _ in 1..len {
        *next_id += 1;
        let n = mu.alloc(Node { id: *next_id, next: Member::new() });
        tail.next.set(Some(n));
        tail = n;
    }
    *next_id += 1;
    head
}

/// Build the live set: `Vec<Root<Bucket>>`, every slot holding a chain of [`CHAIN`] nodes.
/// Returns the roots and the number of objects (nodes and buckets).
fn build(mu: &mut Mutator, live: usize, next_id: &mut u64) -> (Vec<Root<Bucket>>, usize) {
    let chains = live.div_ceil(CHAIN).max(1);
    let mut roots = Vec::new();
    let mut objects = 0;
    for first in (0..chains).step_by(BUCKET_SLOTS) {
        let slots = BUCKET_SLOTS.min(chains - first);
        {
            let bucket = mu.alloc(Bucket { slots: (0..slots).map(|_| Member::new()).collect() });
            for slot in &bucket.slots {
                slot.set(Some(fresh_chain(mu, CHAIN, next_id)));
            }
            roots.push(bucket.root(mu));
        }
        objects += 1 + slots * CHAIN;
        mu.safepoint();
    }
    (roots, objects)
}

/// Replace the chain of a random slot from a random depth on with fresh nodes.
fn mutate_once(mu: &Mutator, roots: &[Root<Bucket>], rng: &mut Rng, next_id: &mut u64) {
    let bucket = roots[rng.usize(..roots.len())].get(mu).into_ref();
    let slot = &bucket.slots[rng.usize(..bucket.slots.len())];
    let depth = rng.usize(..CHAIN);
    if depth == 0 {
        slot.set(Some(fresh_chain(mu, CHAIN, next_id)));
        return;
    }
    let mut node = slot.get(mu).expect("chains are never empty");
    for _ in 1..depth {
        node = node.next.get(mu).expect("chains have CHAIN nodes");
    }
    node.next.set(Some(fresh_chain(mu, CHAIN - depth, next_id)));
}

/// Run the benchmark in this process in `mode`: print a human-readable report on stdout and
/// return the record. `progress` shows a progress text.
fn run_one(args: &Args, mode: Mode, progress: &dyn Fn(&str)) -> Result<Record, String> {
    let env = Config::from_env().map_err(|e| e.to_string())?;
    let trace = args.trace || env.trace;
    let handshakes = args.phase_changes.handshakes().unwrap_or(true);
    let config = env
        .with_mode(mode)
        .with_barrier(args.barrier.kind())
        .with_handshakes(handshakes)
        .with_gc_percent(None)
        .with_trace(trace);
    gc_runtime::init(config.clone()).map_err(|e| e.to_string())?;
    let mut mu = gc_runtime::attach();
    let mut next_id = 0;
    let built = Instant::now();
    let (roots, objects) = build(&mut mu, args.live, &mut next_id);
    println!(
        "{} mode: built {objects} live objects in {:.2} s; live heap {}",
        mode_label(mode),
        built.elapsed().as_secs_f64(),
        units::mb(gc_runtime::stats().heap_live as u64)
    );
    // Only with `--value-stack` (an empty stack is not free, see the module docs).
    let mut stack: Option<ValueStack<Gc<'static, Node>>> = (args.value_stack > 0).then(|| {
        let mut stack = ValueStack::with_capacity(&mu, args.value_stack);
        {
            let mut view = stack.open(&mu);
            for _ in 0..args.value_stack {
                view.push(fresh_chain(&mu, 1, &mut next_id));
            }
        }
        println!("  value stack: {} nodes", args.value_stack);
        stack
    });
    if let Some(p) = args.gc_percent {
        gc_runtime::reconfigure(config.with_gc_percent(Some(p))).map_err(|e| e.to_string())?;
    }

    let window = Mutex::new(CycleWindow::starting_at(&gc_runtime::stats()));
    let sample = || window.lock().unwrap_or_else(std::sync::PoisonError::into_inner).sample(&gc_runtime::stats());
    let stop = AtomicBool::new(false);
    let run_for = Duration::from_secs_f64(args.seconds);
    let mut rng = rng::seeded(args.seed);
    let mut batches = Latencies::new();
    let mut ops = 0u64;
    let started = Instant::now();
    let (elapsed, forced) = std::thread::scope(|s| {
        let collector = args.gc_percent.is_none().then(|| {
            s.spawn(|| {
                let mut mu = gc_runtime::attach();
                let mut n = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    mu.collect();
                    n += 1;
                    sample();
                }
                n
            })
        });
        let (mut next_sample, mut next_report) = (Duration::from_millis(20), Duration::from_secs(1));
        loop {
            let t = Instant::now();
            for _ in 0..BATCH {
                mutate_once(&mu, &roots, &mut rng, &mut next_id);
            }
            if let Some(stack) = &mut stack {
                let mut view = stack.open(&mu);
                let i = rng.usize(..view.len());
                view[i] = fresh_chain(&mu, 1, &mut next_id);
            }
            mu.safepoint();
            batches.record(t.elapsed());
            ops += BATCH as u64;
            let elapsed = started.elapsed();
            if elapsed >= run_for {
                break;
            }
            if elapsed >= next_sample {
                next_sample = elapsed + Duration::from_millis(20);
                sample();
            }
            if elapsed >= next_report {
                next_report += Duration::from_secs(1);
                let w = window.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                progress(&format!(
                    "{:.0}/{:.0} s  {} ops  {} cycles  max pause {}",
                    elapsed.as_secs_f64(),
                    run_for.as_secs_f64(),
                    units::count(ops as f64),
                    w.cycles(),
                    units::ms(w.pauses().max())
                ));
            }
        }
        let elapsed = started.elapsed();
        stop.store(true, Ordering::Relaxed);
        let forced = collector.map(|h| mu.blocking(|| h.join().expect("collect thread panicked")));
        (elapsed, forced)
    });
    sample();
    let w = window.into_inner().unwrap_or_else(std::sync::PoisonError::into_inner);
    let pauses = w.pauses();
    let stats = gc_runtime::stats();
    drop(roots);

    let trigger = match forced {
        Some(n) => format!("back to back ({n} collect calls)"),
        None => format!("by the pacer at GC_PERCENT={}", args.gc_percent.unwrap_or_default()),
    };
    println!(
        "  cycles run {trigger}; {} cycles, {} pauses in {:.2} s",
        w.cycles(),
        pauses.len(),
        elapsed.as_secs_f64()
    );
    println!(
        "  pauses: max {}, p99 {}, p50 {}, total {}",
        units::ms(pauses.max()),
        units::ms(pauses.quantile(0.99)),
        units::ms(pauses.quantile(0.5)),
        units::ms(pauses.total())
    );
    println!(
        "  mutator: {} ops/s; batch of {BATCH} ops: max {}, p99 {}",
        units::count(ops as f64 / elapsed.as_secs_f64()),
        units::ms(batches.max()),
        units::ms(batches.quantile(0.99))
    );
    let tp = &stats.thread_pauses;
    let mmu = |i: usize| tp.mmu[i].map_or_else(|| "-".to_owned(), |u| format!("{u:.3}"));
    println!(
        "  pauses as the threads saw them: max {}, p99.9 {}, p99 {}; MMU 1/10/100 ms {} / {} / {}",
        units::ms(tp.max),
        units::ms(tp.p999),
        units::ms(tp.p99),
        mmu(0),
        mmu(1),
        mmu(2)
    );
    println!("  peak heap {}; runtime totals: {stats}", units::mb(w.peak_heap() as u64));
    if w.missed() > 0 {
        println!("  note: {} cycle records were missed; their pauses are not counted", w.missed());
    }
    Ok(with_handshake_latency(with_thread_pauses(Record::new(), tp), w.handshake_latencies())
        .with("mode", mode)
        .with("live", objects)
        .with("value_stack", args.value_stack)
        .with("cycles", w.cycles())
        .with("pauses", pauses.len())
        .with("pause_max_ns", pauses.max().as_nanos())
        .with("stopped_max_ns", w.world_stopped_max().as_nanos())
        .with("pause_p99_ns", pauses.quantile(0.99).as_nanos())
        .with("pause_p50_ns", pauses.quantile(0.5).as_nanos())
        .with("pause_total_ns", pauses.total().as_nanos())
        .with("ops_per_s", format!("{:.0}", ops as f64 / elapsed.as_secs_f64()))
        .with("batch_max_ns", batches.max().as_nanos())
        .with("batch_p99_ns", batches.quantile(0.99).as_nanos())
        .with("peak_heap", w.peak_heap())
        .with("missed", w.missed()))
}

/// `--mode both`: one child process per mode, then the comparison table.
fn compare(args: &Args) -> ExitCode {
    let console = Console::new(true);
    let mut ok = true;
    let mut columns = Vec::new();
    for (mode, phase_changes, label) in runs(&ModeChoice::Both.modes(), args.phase_changes) {
        let mut child_args: Vec<String> = vec![
            CHILD_FLAG.into(),
            "--mode".into(),
            ModeChoice::of(mode).arg().into(),
            "--phase-changes".into(),
            phase_changes.arg().into(),
            "--barrier".into(),
            args.barrier.arg(),
            "--live".into(),
            args.live.to_string(),
            "--seconds".into(),
            args.seconds.to_string(),
            "--seed".into(),
            args.seed.to_string(),
            "--value-stack".into(),
            args.value_stack.to_string(),
        ];
        if let Some(p) = args.gc_percent {
            child_args.extend(["--gc-percent".into(), p.to_string()]);
        }
        if args.trace {
            child_args.push("--trace".into());
        }
        let record = match child::run_self(&child_args, label, Some(&console)) {
            Ok(run) => match run.into_record() {
                Ok(r) => Some(r),
                Err(e) => {
                    console.err(&format!("pause_bench: the {label} run failed: {e}"));
                    ok = false;
                    None
                }
            },
            Err(e) => {
                console.err(&format!("pause_bench: cannot run the {label} child process: {e}"));
                ok = false;
                None
            }
        };
        columns.push((label, record));
    }

    let live: [(&str, CellFn<'_>); 1] = [("live objects", &|s| count_cell(s, "live", ""))];
    let collector_rows: [(&str, CellFn<'_>); 11] = [
        ("max pause", &|s| ms_cell(s, "pause_max_ns")),
        ("max world stopped", &|s| ms_cell(s, "stopped_max_ns")),
        ("p99 pause", &|s| ms_cell(s, "pause_p99_ns")),
        ("p50 pause", &|s| ms_cell(s, "pause_p50_ns")),
        ("total pause time", &|s| ms_cell(s, "pause_total_ns")),
        ("cycles", &|s| raw_cell(s, "cycles")),
        ("pauses", &|s| raw_cell(s, "pauses")),
        ("mutator throughput", &|s| count_cell(s, "ops_per_s", " ops/s")),
        ("worst batch latency", &|s| ms_cell(s, "batch_max_ns")),
        ("p99 batch latency", &|s| ms_cell(s, "batch_p99_ns")),
        ("peak heap", &|s| mb_cell(s, "peak_heap")),
    ];
    let columns: Vec<(&str, Option<&Record>)> = columns.iter().map(|(l, r)| (*l, r.as_ref())).collect();
    let rows: Vec<(&str, CellFn<'_>)> =
        live.into_iter().chain(thread_pause_rows()).chain([handshake_latency_row()]).chain(collector_rows).collect();
    let table = comparison(&columns, &rows);
    println!();
    print!("{}", table.render());
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    if args.live == 0 || !(args.seconds > 0.0 && args.seconds.is_finite()) {
        eprintln!("pause_bench: --live and --seconds must be positive");
        return ExitCode::from(2);
    }
    let mode = match args.mode {
        ModeChoice::Both if args.child => {
            eprintln!("pause_bench: --child needs --mode concurrent or --mode stw");
            return ExitCode::from(2);
        }
        ModeChoice::Both => return compare(&args),
        ModeChoice::Concurrent => Mode::Concurrent,
        ModeChoice::Stw => Mode::StopTheWorld,
    };
    let console = Console::new(false);
    let result = if args.child {
        run_one(&args, mode, &report_progress)
    } else {
        let r = run_one(&args, mode, &|text| console.progress(&format!("[{mode}] {text}")));
        console.clear();
        r
    };
    match result {
        Ok(record) => {
            if args.child {
                report(&record);
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("pause_bench: {e}");
            ExitCode::FAILURE
        }
    }
}
