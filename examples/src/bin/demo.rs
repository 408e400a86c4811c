//! The gc-runtime demo: several threads mutate one large shared graph while the collector runs,
//! once with the concurrent collector and once stop-the-world, and the two are compared.
//!
//! ```text
//! cargo run --release -p gc-examples --bin demo
//! cargo run --release -p gc-examples --bin demo -- --help
//! ```
//!
//! # The workload
//!
//! The graph starts as `--nodes` nodes held by a root table ([`Graph`]) — one GC object
//! holding a [`GcVec<Node>`], kept alive by a single [`Root`] shared by all threads. Each
//! node has an id, a canary derived from the id, and [`EDGES`] `Member<Node>` edges, at first
//! to random table nodes. Every mutator thread repeats, in batches of [`BATCH`] operations
//! followed by [`Mutator::safepoint`]:
//!
//! - **read a path** (45%): from a random table node, follow random edges for up to 8 hops;
//! - **rewire** (40%): walk 0–2 hops, then point a random edge at a random table node (or
//!   clear it); what the edge held may become garbage;
//! - **replace a subgraph** (7%): walk 0–1 hops, allocate a fresh chain of 1–3 nodes (their
//!   other edges to table nodes) and hang it on a random edge; the subgraph the edge held
//!   becomes garbage;
//! - **allocate garbage** (8%): a few `Blob`s, the same size as a node, that nothing points to.
//!
//! A fresh node is only ever pointed to by one edge (the one its chain was hung on, or its
//! predecessor's in the chain), so the reachable graph stays bounded — about twice `--nodes`:
//! the table nodes plus the fresh chains hanging off them — while garbage is produced at a
//! steady rate.
//!
//! Every node reached is checked: its canary must match its id. A node freed while still
//! reachable and its memory reused (for a blob, say) fails that check. At the end the whole
//! reachable graph is walked and checked once more. On any failure the program says so and
//! exits with status 1.
//!
//! # Processes
//!
//! There is one heap per process, so the program runs itself as a child process per run
//! (hidden flag `--child`, the protocol of [`gc_bench_support::child`]): by default three —
//! concurrent with phase changes by per-thread handshakes, concurrent with global stops of the
//! world, and stop-the-world. Each child prints the collector's trace lines (stderr), progress
//! and, last, a machine-readable result line; the parent shows the progress on one line of its
//! stderr and ends with a table comparing the runs. The first rows are the pauses as the
//! mutator threads saw them (`Stats::thread_pauses`: the time each thread spent inside the
//! collector's handshakes, and the worst thread's minimum mutator utilisation); the rows after
//! are the collector's own pause records.
//!
//! The collector settings not given on the command line come from the `GC_*` environment
//! variables, e.g. `GC_CHECKMARK=1` to verify every concurrent mark, or `GC_PERCENT`.

use std::{
    process::ExitCode,
    sync::atomic::{AtomicBool, AtomicU64, Ordering},
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
    table::{comparison, count_cell, mb_cell, ms_cell, raw_cell, CellFn},
    thread_pauses::{thread_pause_rows, with_thread_pauses},
    units,
};
use gc_runtime::{Config, Gc, GcVec, Member, Mode, Mutator, Root, Trace};

/// Edges per node.
pub const EDGES: usize = 3;

/// Operations a mutator thread performs between two safepoints.
pub const BATCH: usize = 256;

/// Longest path a read follows.
const MAX_PATH: usize = 8;

/// How many canary failures are described on stderr (all are counted).
const MAX_REPORTED_FAILURES: u64 = 10;

/// Command line.
#[derive(Parser, Debug)]
#[command(
    about = "Several threads mutate a large shared graph while the GC runs; compares concurrent and stop-the-world collection",
    long_about = "Several threads mutate a large shared graph while the garbage collector runs. Threads read \
                  random paths (checking every node's canary), rewire edges, replace subgraphs with fresh \
                  allocations and allocate short-lived garbage.\n\n\
                  Each mode runs in its own child process (one heap per process). The collector's trace \
                  line for each cycle is printed on stderr (unless --quiet), and the run ends with a table \
                  comparing the modes: pauses, cycles, throughput and peak heap.\n\n\
                  Exits with status 1 if any canary check fails (a reachable node was freed and reused)."
)]
pub struct Args {
    /// Nodes in the shared graph (slots of the root table; replacements add a few fresh nodes
    /// hanging off them).
    #[arg(long, default_value_t = 200_000)]
    pub nodes: usize,

    /// Mutator threads mutating the graph concurrently.
    #[arg(long, default_value_t = 4)]
    pub threads: usize,

    /// How long each mode mutates the graph, in seconds (the graph is built first).
    #[arg(long, default_value_t = 5.0)]
    pub seconds: f64,

    /// Collector mode: `both` runs the workload once per mode and prints a comparison.
    #[arg(long, value_enum, default_value_t = ModeChoice::Both)]
    pub mode: ModeChoice,

    /// Write barrier of the concurrent collector (unused by stop-the-world cycles).
    #[arg(long, value_enum, default_value_t = BarrierChoice::Dijkstra)]
    pub barrier: BarrierChoice,

    /// How the concurrent collector changes phases: by per-thread handshakes, by global stops
    /// of the world, or `both` (one run each, side by side).
    #[arg(long, value_enum, default_value_t = PhaseChanges::Both)]
    pub phase_changes: PhaseChanges,

    /// Add one more mutator thread that works this many milliseconds at a stretch between its
    /// safepoints (0: none). With handshakes it delays only the cycle; with global stops every
    /// other thread parks behind it. Its own pauses are counted with the others'.
    #[arg(long, default_value_t = 0)]
    pub holdout_ms: u64,

    /// Do not print the collector's per-cycle trace lines.
    #[arg(long)]
    pub quiet: bool,

    /// Seed of the pseudo-random workload.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,

    /// Internal: run one mode in this process and print a result line (used by the parent).
    #[arg(long, hide = true)]
    pub child: bool,
}

/// A graph node. Its canary is a function of its id, checked on every access.
#[derive(Trace)]
pub struct Node {
    /// Unique id: `thread << 40 | counter` (the builder is thread 0).
    pub id: u64,
    /// `canary_of(id)`.
    pub canary: u64,
    /// Outgoing edges.
    pub edges: [Member<Node>; EDGES],
}

/// Garbage of the same size as a [`Node`], filled with random words: if a reachable node's
/// memory were freed and reused for a blob, the node's canary check would fail.
#[derive(Trace)]
pub struct Blob {
    /// Random contents.
    pub words: [u64; 5],
}

const _: () = assert!(std::mem::size_of::<Blob>() == std::mem::size_of::<Node>());

/// The root table: the graph's entry points.
///
/// A `GcVec`, not a `Vec<Member<Node>>`: the marker scans a `GcVec` a chunk of 1024 slots at a
/// time, but a `Vec` inside an object in one visit, whoever visits it. With a plain `Vec` that
/// was, once per cycle, 200,000 slots scanned in one go — often by a mutator's mark assist, a
/// pause of that thread of about 10 ms of its own work.
#[derive(Trace)]
pub struct Graph {
    /// One slot per node of the initial graph.
    pub slots: GcVec<Node>,
}

/// Salt mixed into canaries, so that a canary is not a trivial function of the id.
const CANARY_SALT: u64 = 0x5EED_CA9A_12E5_0D1E;

/// The canary a node with `id` must carry.
pub fn canary_of(id: u64) -> u64 {
    rng::mix(id ^ CANARY_SALT)
}

impl Node {
    /// A node with `id`, its canary and empty edges.
    pub fn new(id: u64) -> Node {
        Node { id, canary: canary_of(id), edges: std::array::from_fn(|_| Member::new()) }
    }
}

/// State shared by the threads of one run.
#[derive(Debug, Default)]
pub struct Shared {
    /// Set when the mutators should stop.
    pub stop: AtomicBool,
    /// Operations completed (updated once per batch).
    pub ops: AtomicU64,
    /// Canary checks that failed.
    pub failures: AtomicU64,
}

/// Check `node`'s canary; count and describe a failure.
#[inline]
fn check(node: Gc<'_, Node>, shared: &Shared) -> bool {
    if node.canary == canary_of(node.id) {
        return true;
    }
    let n = shared.failures.fetch_add(1, Ordering::Relaxed);
    if n < MAX_REPORTED_FAILURES {
        eprintln!(
            "demo: CANARY FAILURE: node at {:p} has id {:#x} and canary {:#018x}, expected {:#018x} \
             (a reachable node was freed and its memory reused)",
            node,
            node.id,
            node.canary,
            canary_of(node.id)
        );
    }
    false
}

/// One mutator thread's private state.
struct Worker<'s> {
    rng: Rng,
    shared: &'s Shared,
    /// Thread number, from 1 (0 is the builder).
    thread: u64,
    next_id: u64,
    /// Sum of the ids read, so the reads cannot be optimised away.
    checksum: u64,
}

impl<'s> Worker<'s> {
    fn fresh_node<'m>(&mut self, mu: &'m Mutator) -> Gc<'m, Node> {
        self.next_id += 1;
        mu.alloc(Node::new(self.thread << 40 | self.next_id))
    }

    /// The node in a random slot, checked.
    fn random_node<'m>(&mut self, mu: &'m Mutator, table: &'m Graph) -> Option<Gc<'m, Node>> {
        let node = table.slots.get(self.rng.usize(..table.slots.len()), mu)?;
        check(node, self.shared).then_some(node)
    }

    /// Follow up to `hops` random edges from `node`, checking every node reached; stops early at
    /// an empty edge. `None` if a check failed.
    fn walk<'m>(&mut self, mu: &'m Mutator, mut node: Gc<'m, Node>, hops: usize) -> Option<Gc<'m, Node>> {
        for _ in 0..hops {
            let Some(next) = node.edges[self.rng.usize(..EDGES)].get(mu) else { break };
            if !check(next, self.shared) {
                return None;
            }
            self.checksum = self.checksum.wrapping_add(next.id);
            node = next;
        }
        Some(node)
    }

    /// One random operation (see the module docs).
    fn step<'m>(&mut self, mu: &'m Mutator, table: &'m Graph) {
        let roll = self.rng.usize(..100);
        if roll < 45 {
            // Read a path.
            if let Some(start) = self.random_node(mu, table) {
                let hops = 1 + self.rng.usize(..MAX_PATH);
                self.walk(mu, start, hops);
            }
        } else if roll < 85 {
            // Rewire an edge to a table node (or clear it); whatever the edge held before may
            // become garbage.
            let Some(start) = self.random_node(mu, table) else { return };
            let hops = self.rng.usize(..3);
            let Some(src) = self.walk(mu, start, hops) else { return };
            let edge = &src.edges[self.rng.usize(..EDGES)];
            if self.rng.u32(..100) < 5 {
                edge.set(None);
            } else if let Some(dst) = self.random_node(mu, table) {
                edge.set(Some(dst));
            }
        } else if roll < 92 {
            // Replace a subgraph: hang a fresh chain of 1..=3 nodes (edge 0 links the chain, the
            // other edges point to table nodes) on a random edge; the subgraph the edge held
            // becomes garbage.
            let Some(start) = self.random_node(mu, table) else { return };
            let hops = self.rng.usize(..2);
            let Some(src) = self.walk(mu, start, hops) else { return };
            let head = self.fresh_node(mu);
            let mut tail = head;
            for i in 0..1 + self.rng.usize(..3) {
                if i > 0 {
                    let next = self.fresh_node(mu);
                    tail.edges[0].set(Some(next));
                    tail = next;
                }
                for edge in &tail.edges[1..] {
                    edge.set(self.random_node(mu, table));
                }
            }
            src.edges[self.rng.usize(..EDGES)].set(Some(head));
        } else {
            // Short-lived garbage.
            for _ in 0..1 + self.rng.usize(..8) {
                let words = std::array::from_fn(|_| self.rng.u64(..));
                let blob = mu.alloc(Blob { words });
                self.checksum = self.checksum.wrapping_add(blob.words[0]);
            }
        }
    }
}

/// A mutator thread: batches of random operations until told to stop. Returns its checksum.
fn mutate(thread: u64, table: &Root<Graph>, shared: &Shared, seed: u64) -> u64 {
    let mut mu = gc_runtime::attach();
    let mut w = Worker { rng: rng::seeded(seed ^ thread), shared, thread, next_id: 0, checksum: 0 };
    while !shared.stop.load(Ordering::Relaxed) {
        {
            let table = table.get(&mu).into_ref();
            for _ in 0..BATCH {
                w.step(&mu, table);
            }
        }
        mu.safepoint();
        shared.ops.fetch_add(BATCH as u64, Ordering::Relaxed);
    }
    w.checksum
}

/// The `--holdout-ms` thread: the same operations, but `hold` of them at a stretch between two
/// safepoints — a thread the collector cannot reach for that long.
fn hold_out(thread: u64, table: &Root<Graph>, shared: &Shared, seed: u64, hold: Duration) -> u64 {
    let mut mu = gc_runtime::attach();
    let mut w = Worker { rng: rng::seeded(seed ^ thread), shared, thread, next_id: 0, checksum: 0 };
    while !shared.stop.load(Ordering::Relaxed) {
        let started = Instant::now();
        let mut ops = 0u64;
        {
            let table = table.get(&mu).into_ref();
            while started.elapsed() < hold {
                for _ in 0..BATCH {
                    w.step(&mu, table);
                }
                ops += BATCH as u64;
            }
        }
        mu.safepoint();
        shared.ops.fetch_add(ops, Ordering::Relaxed);
    }
    w.checksum
}

/// Build the table and `nodes` nodes with random edges, calling safepoints as it goes.
fn build_graph(mu: &mut Mutator, nodes: usize, seed: u64) -> Root<Graph> {
    const CHUNK: usize = 4096;
    let root = {
        let table = mu.alloc(Graph { slots: GcVec::with_capacity(nodes) });
        table.root(mu)
    };
    for start in (0..nodes).step_by(CHUNK) {
        {
            let table = root.get(mu);
            for i in start..(start + CHUNK).min(nodes) {
                table.slots.push(mu.alloc(Node::new(i as u64)));
            }
        }
        mu.safepoint();
    }
    let mut rng = rng::seeded(seed);
    for start in (0..nodes).step_by(CHUNK) {
        {
            let table = root.get(mu);
            for i in start..(start + CHUNK).min(nodes) {
                let node = table.slots.get(i, mu).expect("every slot was filled");
                for edge in &node.edges {
                    edge.set(table.slots.get(rng.usize(..nodes), mu));
                }
            }
        }
        mu.safepoint();
    }
    root
}

/// Visit every node reachable from the table, checking its canary; returns how many there are.
/// Runs without a safepoint (the mutator threads have stopped; a cycle in progress waits).
fn verify_graph(mu: &Mutator, table: &Root<Graph>, shared: &Shared) -> usize {
    let mut seen = std::collections::HashSet::new();
    let mut stack: Vec<Gc<'_, Node>> = table.get(mu).slots.to_vec(mu);
    while let Some(node) = stack.pop() {
        if seen.insert(node.addr()) && check(node, shared) {
            stack.extend(node.edges.iter().filter_map(|m| m.get(mu)));
        }
    }
    seen.len()
}

/// Child process: run the workload in one mode, print progress and the result line.
fn run_child(args: &Args) -> ExitCode {
    let mode = match args.mode {
        ModeChoice::Concurrent => Mode::Concurrent,
        ModeChoice::Stw => Mode::StopTheWorld,
        ModeChoice::Both => {
            eprintln!("demo: --child needs --mode concurrent or --mode stw");
            return ExitCode::from(2);
        }
    };
    let Some(handshakes) = args.phase_changes.handshakes() else {
        eprintln!("demo: --child needs --phase-changes handshakes or stops");
        return ExitCode::from(2);
    };
    let config = match Config::from_env() {
        Ok(c) => {
            c.with_mode(mode).with_barrier(args.barrier.kind()).with_handshakes(handshakes).with_trace(!args.quiet)
        }
        Err(e) => {
            eprintln!("demo: {e}");
            return ExitCode::from(2);
        }
    };
    if let Err(e) = gc_runtime::init(config) {
        eprintln!("demo: {e}");
        return ExitCode::from(2);
    }
    let mut mu = gc_runtime::attach();
    let built = Instant::now();
    let table = build_graph(&mut mu, args.nodes, args.seed);
    println!(
        "built {} nodes in {:.2} s; live heap {}",
        args.nodes,
        built.elapsed().as_secs_f64(),
        units::mb(gc_runtime::stats().heap_live as u64)
    );

    let shared = Shared::default();
    let run_for = Duration::from_secs_f64(args.seconds);
    let mut window = CycleWindow::starting_at(&gc_runtime::stats());
    let started = Instant::now();
    let checksum = mu.blocking(|| {
        std::thread::scope(|s| {
            let mut handles: Vec<_> = (1..=args.threads as u64)
                .map(|t| {
                    let (table, shared) = (&table, &shared);
                    std::thread::Builder::new()
                        .name(format!("mutator-{t}"))
                        .spawn_scoped(s, move || mutate(t, table, shared, args.seed))
                        .expect("spawn a mutator thread")
                })
                .collect();
            if args.holdout_ms > 0 {
                let (table, shared, t) = (&table, &shared, args.threads as u64 + 1);
                let hold = Duration::from_millis(args.holdout_ms);
                handles.push(
                    std::thread::Builder::new()
                        .name("holdout".into())
                        .spawn_scoped(s, move || hold_out(t, table, shared, args.seed, hold))
                        .expect("spawn the holdout thread"),
                );
            }
            let mut next_report = Duration::from_secs(1);
            loop {
                let elapsed = started.elapsed();
                if elapsed >= run_for {
                    break;
                }
                std::thread::sleep((run_for - elapsed).min(Duration::from_millis(100)));
                window.sample(&gc_runtime::stats());
                let elapsed = started.elapsed();
                if elapsed >= next_report {
                    next_report += Duration::from_secs(1);
                    report_progress(&format!(
                        "{:.0}/{:.0} s  {} ops  {} cycles  heap {}",
                        elapsed.as_secs_f64(),
                        run_for.as_secs_f64(),
                        units::count(shared.ops.load(Ordering::Relaxed) as f64),
                        window.cycles(),
                        units::mb(gc_runtime::stats().heap_live as u64),
                    ));
                }
            }
            shared.stop.store(true, Ordering::Relaxed);
            handles.into_iter().fold(0u64, |sum, h| sum.wrapping_add(h.join().expect("mutator thread panicked")))
        })
    });
    let elapsed = started.elapsed().as_secs_f64();
    let stats = gc_runtime::stats();
    window.sample(&stats);
    let ops = shared.ops.load(Ordering::Relaxed);
    println!(
        "{} ops in {elapsed:.2} s by {} threads{} (checksum {checksum:#x})",
        ops,
        args.threads,
        if args.holdout_ms > 0 { " and the holdout thread" } else { "" }
    );
    println!("runtime totals: {stats}");
    if window.missed() > 0 {
        println!("note: {} cycle records were missed; their pauses are not counted", window.missed());
    }
    let reachable = verify_graph(&mu, &table, &shared);
    println!("final check: {reachable} reachable nodes, every canary checked");
    let failures = shared.failures.load(Ordering::Relaxed);
    drop(table);
    report(
        &with_handshake_latency(with_thread_pauses(Record::new(), &stats.thread_pauses), window.handshake_latencies())
            .with("mode", mode)
            .with("barrier", args.barrier.arg())
            .with("ops", ops)
            .with("seconds", format!("{elapsed:.3}"))
            .with("ops_per_s", format!("{:.0}", ops as f64 / elapsed))
            .with("cycles", window.cycles())
            .with("pauses", window.pauses().len())
            .with("pause_max_ns", window.pauses().max().as_nanos())
            .with("stopped_max_ns", window.world_stopped_max().as_nanos())
            .with("pause_p99_ns", window.pauses().quantile(0.99).as_nanos())
            .with("pause_p50_ns", window.pauses().quantile(0.5).as_nanos())
            .with("pause_total_ns", window.pauses().total().as_nanos())
            .with("peak_heap", window.peak_heap())
            .with("live_nodes", reachable)
            .with("canary_failures", failures),
    );
    if failures > 0 {
        eprintln!("demo: {failures} canary checks failed");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

/// The result column of one run.
struct Column {
    label: &'static str,
    record: Option<Record>,
}

/// Parent process: run one child per mode, then print the comparison table.
fn run_parent(args: &Args) -> ExitCode {
    let console = Console::new(!args.quiet);
    let mut ok = true;
    let mut columns = Vec::new();
    for (mode, phase_changes, label) in runs(&args.mode.modes(), args.phase_changes) {
        console.out(&format!(
            "=== {} mode{}: {} threads{}, {} nodes, {} s ===",
            mode_label(mode),
            if mode == Mode::Concurrent {
                format!(" ({} barrier, phase changes by {})", args.barrier.arg(), phase_changes.arg())
            } else {
                String::new()
            },
            args.threads,
            if args.holdout_ms > 0 { format!(" + one holding out {} ms", args.holdout_ms) } else { String::new() },
            args.nodes,
            args.seconds
        ));
        let mut child_args: Vec<String> = vec![
            CHILD_FLAG.into(),
            "--mode".into(),
            ModeChoice::of(mode).arg().into(),
            "--barrier".into(),
            args.barrier.arg(),
            "--phase-changes".into(),
            phase_changes.arg().into(),
            "--nodes".into(),
            args.nodes.to_string(),
            "--threads".into(),
            args.threads.to_string(),
            "--seconds".into(),
            args.seconds.to_string(),
            "--seed".into(),
            args.seed.to_string(),
            "--holdout-ms".into(),
            args.holdout_ms.to_string(),
        ];
        if args.quiet {
            child_args.push("--quiet".into());
        }
        // A run whose canaries failed still reports its record (with the failure count).
        let record = match child::run_self(&child_args, label, Some(&console)) {
            Ok(run) => {
                if !run.status.success() {
                    console.err(&format!("demo: the {label} run failed: {}", run.status));
                    ok = false;
                }
                if run.record.is_none() {
                    console.err(&format!("demo: the {label} run printed no result line"));
                    ok = false;
                }
                run.record
            }
            Err(e) => {
                console.err(&format!("demo: cannot run the {label} child process: {e}"));
                ok = false;
                None
            }
        };
        columns.push(Column { label, record });
    }

    let collector_rows: [(&str, CellFn<'_>); 10] = [
        ("max pause", &|s| ms_cell(s, "pause_max_ns")),
        ("max world stopped", &|s| ms_cell(s, "stopped_max_ns")),
        ("p99 pause", &|s| ms_cell(s, "pause_p99_ns")),
        ("p50 pause", &|s| ms_cell(s, "pause_p50_ns")),
        ("total pause time", &|s| ms_cell(s, "pause_total_ns")),
        ("cycles (pauses)", &|s| format!("{} ({})", raw_cell(s, "cycles"), raw_cell(s, "pauses"))),
        ("throughput", &|s| count_cell(s, "ops_per_s", " ops/s")),
        ("peak heap", &|s| mb_cell(s, "peak_heap")),
        ("reachable nodes at end", &|s| count_cell(s, "live_nodes", "")),
        ("canary failures", &|s| raw_cell(s, "canary_failures")),
    ];
    let rows: Vec<(&str, CellFn<'_>)> =
        thread_pause_rows().into_iter().chain([handshake_latency_row()]).chain(collector_rows).collect();
    let table = comparison(&columns.iter().map(|c| (c.label, c.record.as_ref())).collect::<Vec<_>>(), &rows);
    println!();
    print!("{}", table.render());
    let failures: u64 =
        columns.iter().filter_map(|c| c.record.as_ref().and_then(|s| s.get_u64("canary_failures"))).sum();
    if failures > 0 {
        eprintln!("demo: {failures} canary checks FAILED: reachable objects were freed");
        ok = false;
    }
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    if args.nodes == 0 || args.threads == 0 || !(args.seconds > 0.0 && args.seconds.is_finite()) {
        eprintln!("demo: --nodes, --threads and --seconds must be positive");
        return ExitCode::from(2);
    }
    if args.child {
        run_child(&args)
    } else {
        run_parent(&args)
    }
}
