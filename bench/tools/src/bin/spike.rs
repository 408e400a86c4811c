//! Memory after a spike: how fast resident memory comes back down once a large live heap is
//! dropped, with the scavenger on (the default) or off.
//!
//! ```text
//! cargo run --release -p gc-bench --bin spike                      # 1 GiB live, then dropped
//! cargo run --release -p gc-bench --bin spike -- --mb 256 --scavenge-after-ms off
//! ```
//!
//! The program builds `--mb` MiB of live objects (lists of 64-byte nodes, 80 bytes with the
//! header), drops them, runs two collections (the first finds them dead, the second runs with
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
use gc_runtime::{Config, Member, Mutator, Root, Trace};

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
    gc_runtime::init(Config::default().with_scavenge_after(scavenge_after)).expect("a valid configuration");
    let mut mu = gc_runtime::attach();
    let baseline = rss_bytes() as usize;

    let lists = (args.mb << 20).div_ceil(LIST_NODES * NODE_BYTES);
    let built = Instant::now();
    let mut roots = Vec::with_capacity(lists);
    for l in 0..lists {
        roots.push(list(&mut mu, l));
        mu.safepoint();
    }
    for (l, r) in roots.iter().enumerate() {
        check(&mu, r, l);
    }
    let peak = gc_runtime::stats();
    println!(
        "built {} MiB live ({lists} lists of {LIST_NODES} nodes) in {:.1} s: resident {:.0} MiB, heap {:.0} MiB live / {:.0} MiB committed",
        args.mb,
        built.elapsed().as_secs_f64(),
        rss_bytes() as f64 / MB,
        mb(peak.heap_live),
        mb(peak.heap_committed),
    );

    drop(roots);
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
    println!("{:>8} {:>14} {:>15} {:>14}", "after s", "resident MiB", "committed MiB", "released MiB");
    let mut met = None;
    let mut last_printed = (usize::MAX, 0, 0, 0);
    loop {
        let t = dropped.elapsed();
        let rss = rss_bytes() as usize;
        let s = gc_runtime::stats();
        // A row when a figure moved by a MiB or more, and one per second.
        let row = (rss >> 20, s.heap_committed >> 20, s.heap_released >> 20, t.as_secs() as usize);
        if row != last_printed {
            println!(
                "{:>8.1} {:>14.1} {:>15.1} {:>14.1}",
                t.as_secs_f64(),
                mb(rss),
                mb(s.heap_committed),
                mb(s.heap_released)
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
