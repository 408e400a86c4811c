//! How long a writer of a large GC collection waits while the marker scans it.
//!
//! ```text
//! cargo run --release -p gc-bench --bin collection_writer                  # a GcVec of 1M
//! cargo run --release -p gc-bench --bin collection_writer -- --collection map --len 500000
//! ```
//!
//! A holder object keeps one large collection (`--collection`: `vec`, `map` or `id-map`) of
//! `--len` elements. One thread runs concurrent collections back to back; another writes to the
//! collection without pause — a push and a pop (vector), an insertion and a removal of a fresh
//! key (maps), each taking the collection's write lock, of an element allocated beforehand —
//! and times every write that starts while marking runs. A writer has to wait for the marker whenever it finds
//! the collection's lock held by a scan; the program prints the number of such writes, their
//! latency quantiles and the longest, and the cycles that ran. `--control` sends the same writes
//! to a small collection beside the large one: the machine's own noise. Each write is timed outside the
//! writer's safepoints, so a pause is not counted as a wait. It checks that the collection
//! still holds `--len` live elements at the end, and prints `ok` last.

use std::{
    sync::atomic::{AtomicBool, Ordering},
    thread,
    time::{Duration, Instant},
};

use clap::{Parser, ValueEnum};
use gc_bench_support::stats::Latencies;
use gc_runtime::{Config, Gc, GcIdMap, GcMap, GcVec, Mode, Mutator, Phase, Trace};

/// Which collection the writer writes to.
#[derive(Clone, Copy, ValueEnum)]
enum Collection {
    /// `GcVec`: push and pop.
    Vec,
    /// `GcMap`: insert and remove a fresh key.
    Map,
    /// `GcIdMap`: insert and remove a fresh key object.
    IdMap,
}

/// Command-line options.
#[derive(Parser)]
struct Args {
    /// The collection to write to.
    #[arg(long, value_enum, default_value = "vec")]
    collection: Collection,
    /// Elements in the collection.
    #[arg(long, default_value_t = 1_000_000)]
    len: usize,
    /// How long to write, in seconds.
    #[arg(long, default_value_t = 5.0)]
    secs: f64,
    /// Control: write to a small collection of the same kind, next to the large one in the
    /// same object, instead of the large one — what a write costs when the marker is not in
    /// its way (the machine's own noise: preemption, cache misses).
    #[arg(long)]
    control: bool,
}

/// An element.
#[derive(Trace)]
struct Item {
    id: u64,
}

/// The object holding the collections.
#[derive(Trace)]
struct Holder {
    vec: GcVec<Item>,
    map: GcMap<u64, Item>,
    ids: GcIdMap<Item, Item>,
    /// The same kinds, kept small: the control's targets.
    small_vec: GcVec<Item>,
    small_map: GcMap<u64, Item>,
    small_ids: GcIdMap<Item, Item>,
}

/// One write: a pair of operations on `item` (allocated beforehand, so the time of an
/// allocation — and of any mark assist it runs — is not counted), each taking the collection's
/// write lock. Returns how long the pair took.
fn write(mu: &Mutator, h: &Holder, which: Collection, control: bool, item: Gc<'_, Item>) -> Duration {
    let t = Instant::now();
    match which {
        Collection::Vec => {
            let vec = if control { &h.small_vec } else { &h.vec };
            vec.push(item);
            assert!(vec.pop(mu).is_some_and(|x| Gc::ptr_eq(x, item)));
        }
        Collection::Map => {
            let map = if control { &h.small_map } else { &h.map };
            map.insert(item.id, item);
            assert!(map.remove(&item.id, mu).is_some());
        }
        Collection::IdMap => {
            let ids = if control { &h.small_ids } else { &h.ids };
            ids.insert(item, item);
            assert!(ids.remove(item, mu).is_some());
        }
    }
    t.elapsed()
}

fn main() {
    let args = Args::parse();
    gc_runtime::reconfigure(
        Config::from_env().expect("valid GC_* variables").with_mode(Mode::Concurrent).with_gc_percent(None),
    )
    .expect("a valid configuration");
    let mut mu = gc_runtime::attach();
    let holder = mu
        .alloc(Holder {
            vec: GcVec::new(),
            map: GcMap::new(),
            ids: GcIdMap::new(),
            small_vec: GcVec::new(),
            small_map: GcMap::new(),
            small_ids: GcIdMap::new(),
        })
        .root(&mu);
    {
        let h = holder.get(&mu);
        for i in 0..args.len as u64 {
            let item = mu.alloc(Item { id: i });
            match args.collection {
                Collection::Vec => h.vec.push(item),
                Collection::Map => drop(h.map.insert(i, item)),
                Collection::IdMap => drop(h.ids.insert(item, item)),
            }
        }
    }
    mu.collect();
    let before = gc_runtime::stats().cycles;
    let stop = AtomicBool::new(false);
    // The threads join with this one detached: a thread waiting for a mutator must not be one.
    let (waits, writes) = mu.blocking(|| {
        thread::scope(|s| {
            s.spawn(|| {
                let mut mu = gc_runtime::attach();
                while !stop.load(Ordering::Relaxed) {
                    mu.collect();
                }
            });
            let writer = s.spawn(|| {
                let mut mu = gc_runtime::attach();
                let (mut waits, mut writes) = (Latencies::new(), 0u64);
                let deadline = Instant::now() + Duration::from_secs_f64(args.secs);
                while Instant::now() < deadline {
                    {
                        let h = holder.get(&mu);
                        for _ in 0..64 {
                            let item = mu.alloc(Item { id: u64::MAX - writes });
                            let marking = gc_runtime::phase() == Phase::Mark;
                            let took = write(&mu, &h, args.collection, args.control, item);
                            if marking {
                                waits.record(took);
                            }
                            writes += 1;
                        }
                    }
                    mu.safepoint();
                }
                stop.store(true, Ordering::Relaxed);
                (waits, writes)
            });
            writer.join().expect("the writer finished")
        })
    });
    let cycles = gc_runtime::stats().cycles - before;
    let h = holder.get(&mu);
    let len = match args.collection {
        Collection::Vec => h.vec.len(),
        Collection::Map => h.map.len(),
        Collection::IdMap => h.ids.len(),
    };
    assert_eq!(len, args.len, "the collection kept its elements");
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    println!(
        "{} elements; {cycles} cycles; {writes} writes, {} while marking: p50 {:.1} µs, p99 {:.1} µs, p99.9 {:.1} µs, max {:.1} µs",
        args.len,
        waits.len(),
        us(waits.quantile(0.5)),
        us(waits.quantile(0.99)),
        us(waits.quantile(0.999)),
        us(waits.max()),
    );
    println!("ok");
}
