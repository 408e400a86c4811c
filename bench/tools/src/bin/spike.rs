//! Memory after a spike: how fast resident memory comes back down once a large live heap is
//! dropped, with the scavenger on (the default) or off.
//!
//! ```text
//! cargo run --release -p gc-bench --bin spike                      # 1 GiB live, then dropped
//! cargo run --release -p gc-bench --bin spike -- --mb 256 --scavenge-after-ms off
//! cargo run --release -p gc-bench --bin spike -- --large-kb 72 --threads 2   # large objects of 72 KiB
//! ```
//!
//! The program builds `--mb` MiB of live objects (lists of 64-byte nodes, 80 bytes with the
//! header; or, with `--large-kb`, large objects of that size, which the heap takes from the
//! system allocator rather than from its pages), drops them, runs two collections (the first finds them dead, the second runs with
//! them swept), then samples its resident memory (`/proc/self/statm`) and the collector's
//! committed and released bytes every 100 ms for `--seconds`. It prints the timeline (a row
//! when a figure moved, and one per second), then the
//! target — resident memory at most 1.5 × the live heap + 16 MiB + the resident memory before the
//! spike (the program's own baseline) — and the first sample that met it, if any. It exits
//! with an error if the program's own checks fail (the lists read back intact), not if the
//! target is missed: that is a figure, for the reader.

use std::time::{Duration, Instant};

use clap::Parser;
use gc_bench_support::stats::rss_bytes;
use gc_runtime::{Config, GcVec, Member, Mutator, Root, Trace};

/// Command-line options.
#[derive(Parser)]
struct Args {
    /// Live heap to build and drop, in MiB.
    #[arg(long, default_value_t = 1024)]
    mb: usize,
    /// How long to watch after the two collections, in seconds.
    #[arg(long, default_value_t = 5.0)]
    seconds: f64,
    /// The scavenger's delay in milliseconds (`GC_SCAVENGE_AFTER_MS`), or `off`.
    #[arg(long, default_value = "1000")]
    scavenge_after_ms: String,
    /// Build the spike from large objects (`u64` slices) of this many KiB, over the 8 KiB of
    /// a page's largest size class, instead of list nodes (0: list nodes).
    #[arg(long, default_value_t = 0)]
    large_kb: usize,
    /// With `--large-kb`: build the large objects on this many threads. glibc's allocator
    /// gives each thread an arena of its own, and memory freed inside an arena (rather than at
    /// the top of the main one) stays resident until it is trimmed.
    #[arg(long, default_value_t = 1)]
    threads: usize,
}

/// Large objects held by one vector.
#[derive(Trace)]
struct LargeHolder {
    all: GcVec<[u64]>,
}

/// Large objects in one holder.
const PER_HOLDER: usize = 1000;

/// One rooted holder of `PER_HOLDER` slices of `words` words, each filled with its number.
fn large_holder(mu: &mut Mutator, holder_no: usize, words: usize) -> Root<LargeHolder> {
    let holder = mu.alloc(LargeHolder { all: GcVec::new() }).root(mu);
    for i in 0..PER_HOLDER {
        let slice = mu.alloc_slice(vec![(holder_no * PER_HOLDER + i) as u64; words]);
        holder.get(mu).all.push(slice);
        mu.safepoint();
    }
    holder
}

/// Check every slice of a holder: its length and its first and last words.
fn check_large(mu: &Mutator, holder: &Root<LargeHolder>, holder_no: usize, words: usize) {
    let all = &holder.get(mu).all;
    assert_eq!(all.len(), PER_HOLDER);
    for (i, slice) in all.iter(mu).enumerate() {
        let expected = (holder_no * PER_HOLDER + i) as u64;
        assert_eq!(
            (slice.len(), slice[0], slice[words - 1]),
            (words, expected, expected),
            "holder {holder_no}, slice {i}"
        );
    }
}

/// A list node: 64 bytes, 80 with the header.
#[derive(Trace)]
struct Node {
    payload: [u64; 7],
    next: Member<Node>,
}

const NODE_BYTES: usize = 80;
const LIST_NODES: usize = 100_000;
const MB: f64 = (1 << 20) as f64;

/// One rooted list of `LIST_NODES` nodes whose payloads say where they are.
fn list(mu: &mut Mutator, list_no: usize) -> Root<Node> {
    let node = |i: usize| Node { payload: [(list_no * LIST_NODES + i) as u64; 7], next: Member::new() };
    let head = mu.alloc(node(0));
    let mut tail = head;
    for i in 1..LIST_NODES {
        let n = mu.alloc(node(i));
        tail.next.set(Some(n));
        tail = n;
    }
    head.root(mu)
}

/// Walk a list, checking every payload.
fn check(mu: &Mutator, head: &Root<Node>, list_no: usize) {
    let mut n = Some(head.get(mu));
    let mut i = 0;
    while let Some(node) = n {
        assert_eq!(node.payload, [(list_no * LIST_NODES + i) as u64; 7], "list {list_no}, node {i}");
        i += 1;
        n = node.next.get(mu);
    }
    assert_eq!(i, LIST_NODES);
}

fn mb(bytes: usize) -> f64 {
    bytes as f64 / MB
}

fn main() {
    let args = Args::parse();
    let scavenge_after = match args.scavenge_after_ms.as_str() {
        "off" => None,
        ms => Some(Duration::from_millis(ms.parse().expect("--scavenge-after-ms: a number of milliseconds or `off`"))),
    };
    // The environment's settings (`GC_TRACE=1`, ...), with the scavenger as the option says.
    let config = Config::from_env().unwrap_or_else(|e| panic!("{e}")).with_scavenge_after(scavenge_after);
    gc_runtime::init(config).expect("a valid configuration");
    let mut mu = gc_runtime::attach();
    let baseline = rss_bytes() as usize;

    let built = Instant::now();
    let what = if args.large_kb == 0 {
        let lists = (args.mb << 20).div_ceil(LIST_NODES * NODE_BYTES);
        let mut roots = Vec::with_capacity(lists);
        for l in 0..lists {
            roots.push(list(&mut mu, l));
            mu.safepoint();
        }
        for (l, r) in roots.iter().enumerate() {
            check(&mu, r, l);
        }
        format!("{lists} lists of {LIST_NODES} nodes")
    } else {
        let words = (args.large_kb << 10) / 8;
        assert!(words * 8 > 8 << 10, "--large-kb: more than 8, so that the objects are large");
        let holders = (args.mb << 10).div_ceil(args.large_kb * PER_HOLDER);
        let threads = args.threads.max(1);
        let roots: Vec<Root<LargeHolder>> = std::thread::scope(|s| {
            let builders: Vec<_> = (0..threads)
                .map(|t| {
                    s.spawn(move || {
                        let mut mu = gc_runtime::attach();
                        (t..holders).step_by(threads).map(|h| (h, large_holder(&mut mu, h, words))).collect::<Vec<_>>()
                    })
                })
                .collect();
            let mut built: Vec<_> = builders.into_iter().flat_map(|b| b.join().expect("a builder panicked")).collect();
            built.sort_by_key(|&(h, _)| h);
            built.into_iter().map(|(_, root)| root).collect()
        });
        for (h, r) in roots.iter().enumerate() {
            check_large(&mu, r, h, words);
        }
        format!("{} large objects of {} KiB, on {threads} threads", holders * PER_HOLDER, args.large_kb)
    };
    let peak = gc_runtime::stats();
    println!(
        "built {} MiB live ({what}) in {:.1} s: resident {:.0} MiB, heap {:.0} MiB live / {:.0} MiB committed",
        args.mb,
        built.elapsed().as_secs_f64(),
        rss_bytes() as f64 / MB,
        mb(peak.heap_live),
        mb(peak.heap_committed),
    );

    mu.collect();
    mu.collect();
    let dropped = Instant::now();
    let live = gc_runtime::stats().heap_live;
    let target = baseline + live * 3 / 2 + (16 << 20);
    println!(
        "dropped, two collections: live heap {:.1} MiB; target: resident ≤ {:.1} MiB (baseline {:.1} + 1.5 × live + 16)",
        mb(live),
        mb(target),
        mb(baseline),
    );
    println!("{:>8} {:>14} {:>15} {:>14} {:>6}", "after s", "resident MiB", "committed MiB", "released MiB", "trims");
    let mut met = None;
    let mut last_printed = (usize::MAX, 0, 0, 0, 0);
    loop {
        let t = dropped.elapsed();
        let rss = rss_bytes() as usize;
        let s = gc_runtime::stats();
        // A row when a figure moved by a MiB or more, and one per second.
        let row = (rss >> 20, s.heap_committed >> 20, s.heap_released >> 20, s.allocator_trims, t.as_secs() as usize);
        if row != last_printed {
            println!(
                "{:>8.1} {:>14.1} {:>15.1} {:>14.1} {:>6}",
                t.as_secs_f64(),
                mb(rss),
                mb(s.heap_committed),
                mb(s.heap_released),
                s.allocator_trims,
            );
            last_printed = row;
        }
        if rss <= target && met.is_none() {
            met = Some(t);
        }
        if t.as_secs_f64() >= args.seconds {
            break;
        }
        mu.safepoint();
        std::thread::sleep(Duration::from_millis(100));
    }
    match met {
        Some(t) => println!("target met after {:.1} s", t.as_secs_f64()),
        None => println!("target not met within {:.1} s", args.seconds),
    }
    println!("ok");
}
