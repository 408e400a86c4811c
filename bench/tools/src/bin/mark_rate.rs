//! Mark rate and its scaling with mark workers: full collections of a large live heap, timed
//! from the collector's own cycle records.
//!
//! ```text
//! cargo run --release -p gc-bench --bin mark_rate                # 1 and 2 workers, 1M objects
//! cargo run --release -p gc-bench --bin mark_rate -- --objects 4000000 --runs 9
//! cargo run --release -p gc-bench --bin mark_rate -- --shape graph  # a heap linked in random order
//! cargo run --release -p gc-bench --bin mark_rate -- --shape list   # one linked list
//! cargo run --release -p gc-bench --bin mark_rate -- --shape table  # the graph, all held by a GcVec
//! cargo run --release -p gc-bench --bin mark_rate -- --shape table-vec  # ... by a Vec<Member<_>>
//! ```
//!
//! The live heap is a forest of complete binary trees (`Tree` nodes of two slots, 32 bytes with
//! the header), so the marker has parallel work from the start and finds more as it goes; or,
//! with `--shape graph`, the same nodes linked in random order, where each pointer followed
//! leads elsewhere in the heap (a marker's worst case for memory locality); or, with
//! `--shape list`, one linked list in allocation order, where each object scanned leads to
//! exactly one more, so the marker's stack is empty at every step (no parallel work, and each
//! object comes to be scanned through the prefetch ring). With `--shape table` the random
//! graph's nodes are all held, in allocation order, by one root table, a `GcVec` (scanned 1024
//! slots per visit), and with `--shape table-vec` by a `Vec<Member<_>>` in one object (scanned
//! whole in one visit): a language runtime's global table, or the demo's. For
//! each worker count the program runs `--runs` concurrent collections — the only mutator waits
//! in `collect`, so the workers have the cores; idle mark workers are off, so exactly that many
//! threads mark (a stop-the-world pause always marks with every core) — and prints the median mark time (from mark start to termination, handshakes
//! included), the median longest pause, the mark rate in objects and bytes per second, and the
//! speed-up over one worker. It checks that every collection marked exactly the live objects,
//! and prints `ok` last.
//!
//! Concurrent collections mark with a locked instruction per object, as they do beside running
//! mutators; with `GC_IDLE_EXCLUSIVE_MARKING=1` they mark as exclusive jobs instead (nobody
//! runs while the only mutator waits in `collect`; see the book's "Marking without a locked instruction").

use std::time::Duration;

use clap::Parser;
use gc_bench_support::{
    stats::median,
    tree::{self, Tree},
};
use gc_runtime::{Config, Gc, GcVec, Member, Mode, Mutator, Root, Trace};

/// Command-line options.
#[derive(Parser)]
struct Args {
    /// Live objects to mark (rounded to whole trees of 2^15 - 1 nodes).
    #[arg(long, default_value_t = 1_000_000)]
    objects: usize,
    /// Collections per worker count; the median is reported.
    #[arg(long, default_value_t = 7)]
    runs: usize,
    /// Worker counts to compare.
    #[arg(long, value_delimiter = ',', default_value = "1,2")]
    workers: Vec<usize>,
    /// The live heap's shape: `trees` (a forest of complete binary trees, each allocated in
    /// one stretch, so a depth-first marking reads memory nearly in order) or `graph` (nodes
    /// allocated in a row and linked in random order: every pointer the marker follows leads
    /// somewhere else in the heap) or `list` (nodes allocated in a row, each one's `left` the
    /// next: one object found per object scanned) or `table` (the graph, every node also held,
    /// in allocation order, by one `GcVec`) or `table-vec` (the same with a `Vec<Member<_>>`).
    #[arg(long, value_enum, default_value_t = Shape::Trees)]
    shape: Shape,
    /// Mark concurrently (the mutator waits in `collect`), or inside a stop-the-world pause —
    /// an exclusive marking, where each page's bits have one writer. A pause marks with at
    /// least one worker per core whatever `--workers` asks (run under `taskset` for fewer);
    /// the table reports the workers that marked.
    #[arg(long, value_enum, default_value_t = MarkMode::Concurrent)]
    mode: MarkMode,
}

/// See [`Args::mode`].
#[derive(Clone, Copy, clap::ValueEnum)]
enum MarkMode {
    Concurrent,
    Stw,
}

/// See [`Args::shape`].
#[derive(Clone, Copy, clap::ValueEnum)]
enum Shape {
    Trees,
    Graph,
    List,
    Table,
    TableVec,
}

/// The root table of `--shape table`: every node, in allocation order.
#[derive(Trace)]
struct Table {
    nodes: GcVec<Tree>,
}

/// The root table of `--shape table-vec`.
#[derive(Trace)]
struct TableVec {
    nodes: Vec<Member<Tree>>,
}

/// Depth of each tree of the forest.
const DEPTH: u32 = 14;

/// `n` nodes allocated in a row, then linked in random order: the `left` pointers form one
/// cycle through all of them in a random permutation (Sattolo's shuffle), so every node is
/// reachable from any one; each `right` points to a node drawn at random. Returns node 0.
fn graph(mu: &Mutator, n: usize) -> Gc<'_, Tree> {
    linked(mu, n)[0]
}

/// The nodes of [`graph`], in allocation order.
fn linked(mu: &Mutator, n: usize) -> Vec<Gc<'_, Tree>> {
    let nodes: Vec<Gc<'_, Tree>> = (0..n).map(|_| Tree::leaf(mu)).collect();
    // xorshift64: reproducible, no dependency.
    let mut state = 0x9E37_79B9_7F4A_7C15_u64;
    let mut below = |bound: usize| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state % bound as u64) as usize
    };
    let mut order: Vec<usize> = (0..n).collect();
    for i in (1..n).rev() {
        order.swap(i, below(i));
    }
    for (i, node) in nodes.iter().enumerate() {
        node.left.set(Some(nodes[order[i]]));
        node.right.set(Some(nodes[below(n)]));
    }
    nodes
}

/// `n` nodes allocated in a row, each one's `left` the next (`right` empty). Returns the head.
fn list(mu: &Mutator, n: usize) -> Gc<'_, Tree> {
    let head = Tree::leaf(mu);
    let mut tail = head;
    for _ in 1..n {
        let node = Tree::leaf(mu);
        tail.left.set(Some(node));
        tail = node;
    }
    head
}

/// A builder of one of the linked shapes: `n` nodes, returning the one the root holds.
type Build = for<'m> fn(&'m Mutator, usize) -> Gc<'m, Tree>;

/// One measurement: medians over the runs.
struct Sample {
    workers: usize,
    mark: Duration,
    pause: Duration,
    objects: usize,
    bytes: usize,
}

/// The median of durations (zero for none).
fn median_of(v: &[Duration]) -> Duration {
    Duration::from_secs_f64(median(&v.iter().map(Duration::as_secs_f64).collect::<Vec<_>>()).unwrap_or(0.0))
}

fn measure(mu: &mut Mutator, workers: usize, runs: usize, mode: MarkMode) -> Sample {
    let mode = match mode {
        MarkMode::Concurrent => Mode::Concurrent,
        MarkMode::Stw => Mode::StopTheWorld,
    };
    gc_runtime::reconfigure(
        Config::from_env()
            .expect("valid GC_* variables")
            .with_mode(mode)
            .with_mark_workers(workers)
            // Exactly `workers` threads: no idle worker on the core of the mutator that waits.
            .with_idle_mark_workers(false)
            .with_gc_percent(None),
    )
    .expect("a valid configuration");
    mu.collect(); // warm-up: sweeps leftovers, settles the heap
    let (mut marks, mut pauses) = (Vec::new(), Vec::new());
    let (mut objects, mut bytes, mut marked_by) = (0, 0, 0);
    for _ in 0..runs {
        let before = gc_runtime::stats().cycles;
        mu.collect();
        let c = gc_runtime::stats().recent.into_iter().rfind(|c| c.cycle > before).expect("the cycle was recorded");
        marks.push(c.mark_time);
        pauses.push(c.max_pause());
        (objects, bytes, marked_by) = (c.objects_marked, c.heap_marked, c.mark_workers);
    }
    Sample { workers: marked_by, mark: median_of(&marks), pause: median_of(&pauses), objects, bytes }
}

fn main() {
    let args = Args::parse();
    let mut mu = gc_runtime::attach();
    // The root table of the `table` shapes, kept alive beside the forest.
    let mut table: Option<Root<Table>> = None;
    let mut table_vec: Option<Root<TableVec>> = None;
    let (forest, live): (Vec<Root<Tree>>, usize) = match args.shape {
        Shape::Trees => {
            let per_tree = (1usize << (DEPTH + 1)) - 1;
            let trees = args.objects.div_ceil(per_tree).max(1);
            let forest = (0..trees)
                .map(|_| {
                    let t = tree::build(&mu, DEPTH).root(&mu);
                    mu.safepoint();
                    t
                })
                .collect();
            println!("{} live objects in {trees} trees; {} collections per worker count", trees * per_tree, args.runs);
            (forest, trees * per_tree)
        }
        Shape::Graph | Shape::List => {
            let (n, build, what): (usize, Build, &str) = match args.shape {
                Shape::Graph => (args.objects.max(2), graph, "a graph linked in random order"),
                _ => (args.objects.max(1), list, "a linked list"),
            };
            let root = build(&mu, n).root(&mu);
            mu.safepoint();
            println!("{n} live objects in {what}; {} collections per worker count", args.runs);
            (vec![root], n)
        }
        Shape::Table | Shape::TableVec => {
            let n = args.objects.max(2);
            let nodes = linked(&mu, n);
            if matches!(args.shape, Shape::Table) {
                let t = mu.alloc(Table { nodes: GcVec::with_capacity(n) });
                t.nodes.extend(nodes);
                table = Some(t.root(&mu));
            } else {
                let t = mu.alloc(TableVec { nodes: (0..n).map(|_| Member::new()).collect() });
                for (slot, node) in t.nodes.iter().zip(nodes) {
                    slot.set(Some(node));
                }
                table_vec = Some(t.root(&mu));
            }
            mu.safepoint();
            let what = if table.is_some() { "a GcVec" } else { "a Vec<Member<_>>" };
            println!("{n} live objects in a random graph held by {what}; {} collections per worker count", args.runs);
            (Vec::new(), n + 1)
        }
    };
    println!("| mark workers | mark (median) | pause (median) | objects/s | MB/s | speed-up |");
    println!("|---|---|---|---|---|---|");
    let mut base = None;
    for &w in &args.workers {
        let s = measure(&mut mu, w, args.runs, args.mode);
        assert_eq!(s.objects, live, "every live object is marked exactly once with {w} workers");
        let secs = s.mark.as_secs_f64();
        let speedup = base.map_or(1.0, |b: Duration| b.as_secs_f64() / secs);
        base.get_or_insert(s.mark);
        println!(
            "| {} | {:.2} ms | {:.2} ms | {:.0}M | {:.0} | {:.2}x |",
            s.workers,
            secs * 1e3,
            s.pause.as_secs_f64() * 1e3,
            s.objects as f64 / secs / 1e6,
            s.bytes as f64 / secs / 1e6,
            speedup
        );
    }
    drop((forest, table, table_vec));
    println!("ok");
}
