//! Mark rate and sweep rate, from the collector's own cycle records.
//!
//! - `mark/objects` and `mark/bytes`: a full stop-the-world collection of N live objects (chains
//!   of `Small`s held by roots); the time reported is the cycle's `CycleStats::mark_time`, so
//!   criterion's throughput is the mark rate in objects/s and bytes/s (`heap_marked`).
//! - `sweep/objects`: N objects allocated and dropped, then a full collection; the time is the
//!   cycle's `sweep_time`, the throughput objects freed per second.
//!
//! Stop-the-world mode, so that marking and sweeping run without a mutator competing for the
//! cores; marking inside the pause uses every core (or `GC_MARK_WORKERS`, if more).

use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use gc_bench_micro::{init, live_chains, small, test_mode, CHUNK};
use gc_runtime::{CycleStats, Mode, Mutator};

/// Run one collection and return its cycle record.
fn collect(mu: &mut Mutator) -> CycleStats {
    let before = gc_runtime::stats().cycles;
    mu.collect();
    gc_runtime::stats().recent.into_iter().rfind(|c| c.cycle > before).expect("the cycle was recorded")
}

fn mark_sweep(c: &mut Criterion) {
    init(Mode::StopTheWorld, None);
    let mut mu = gc_runtime::attach();
    let n: u64 = if test_mode() { 20_000 } else { 1_000_000 };
    let mut g = c.benchmark_group("mark_sweep");
    g.sample_size(10);

    let live = live_chains(&mut mu, n);
    let first = collect(&mut mu);
    g.throughput(Throughput::Elements(first.objects_marked as u64));
    g.bench_function("mark/objects", |b| b.iter_custom(|iters| (0..iters).map(|_| collect(&mut mu).mark_time).sum()));
    g.throughput(Throughput::Bytes(first.heap_marked as u64));
    g.bench_function("mark/bytes", |b| b.iter_custom(|iters| (0..iters).map(|_| collect(&mut mu).mark_time).sum()));
    drop(live);
    collect(&mut mu);

    g.throughput(Throughput::Elements(n));
    g.bench_function("sweep/objects", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let mut left = n;
                while left > 0 {
                    for i in 0..left.min(CHUNK) {
                        small(&mu, i);
                    }
                    left = left.saturating_sub(CHUNK);
                    mu.safepoint();
                }
                total += collect(&mut mu).sweep_time;
            }
            total
        })
    });
    g.finish();
}

criterion_group!(benches, mark_sweep);
criterion_main!(benches);
