//! Collections whose buffers dwarf their objects, made and dropped in a loop: what the pacer's
//! count of owned bytes is for (see the book's "The pacer and the memory limit").
//!
//! ```text
//! cargo run --release -p gc-bench --bin vec_churn                 # 2,000 vectors of 100,000 elements
//! cargo run --release -p gc-bench --bin vec_churn -- --vectors 200 --elements 10000
//! ```
//!
//! Each round allocates an object holding a `GcVec`, pushes `--elements` pointers to one shared
//! object into it (a buffer of 8 bytes per element, grown by doubling), passes a safepoint and
//! drops it. The objects are a few dozen bytes each, far below the pacer's minimum heap; the
//! buffers are what the process holds. It prints the cycles run, the most owned bytes seen
//! (`Stats::owned_bytes`, after each round) and the peak resident set.

use clap::Parser;
use gc_bench_support::stats::rss_bytes;
use gc_runtime::{GcVec, Trace};

/// Command-line options.
#[derive(Parser)]
struct Args {
    /// Vectors made and dropped.
    #[arg(long, default_value_t = 2000)]
    vectors: usize,
    /// Elements pushed into each.
    #[arg(long, default_value_t = 100_000)]
    elements: usize,
}

#[derive(Trace)]
struct Holder {
    items: GcVec<Item>,
}

#[derive(Trace)]
struct Item {
    value: u64,
}

fn main() {
    let args = Args::parse();
    let mut mu = gc_runtime::attach();
    let item = mu.alloc(Item { value: 1 }).root(&mu);
    let (mut most_owned, mut peak_rss) = (0, 0);
    for _ in 0..args.vectors {
        let item = item.get(&mu);
        let holder = mu.alloc(Holder { items: GcVec::new() });
        for _ in 0..args.elements {
            holder.items.push(item);
        }
        assert_eq!(holder.items.last(&mu).map(|i| i.value), Some(1));
        most_owned = most_owned.max(gc_runtime::stats().owned_bytes);
        peak_rss = peak_rss.max(rss_bytes());
        mu.safepoint();
    }
    let mb = |b: u64| b as f64 / (1 << 20) as f64;
    println!(
        "{} vectors of {} elements: {} cycles, owned at most {:.1} MiB, peak RSS {:.1} MiB",
        args.vectors,
        args.elements,
        gc_runtime::stats().cycles,
        mb(most_owned as u64),
        mb(peak_rss),
    );
}
