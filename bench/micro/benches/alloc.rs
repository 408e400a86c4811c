//! The allocation fast path: `mu.alloc` of a small object (one word and one slot), next to
//! `Box::new` of the same value.
//!
//! The objects become garbage at once; the pacer (default `GC_PERCENT`) runs concurrent cycles
//! that reclaim them, so the figure includes the occasional page refill, as real allocation
//! does. Allocations are timed in chunks of [`CHUNK`](gc_bench_micro::CHUNK) with an untimed
//! safepoint between chunks.

use std::{
    hint::black_box,
    time::{Duration, Instant},
};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use gc_bench_micro::{init, small, Small, CHUNK};
use gc_runtime::{Member, Mode};

fn alloc(c: &mut Criterion) {
    init(Mode::Concurrent, Some(100));
    let mut mu = gc_runtime::attach();
    let mut g = c.benchmark_group("alloc");
    g.throughput(Throughput::Elements(1));
    g.bench_function("gc_small", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            let mut done = 0;
            while done < iters {
                let n = (iters - done).min(CHUNK);
                let t = Instant::now();
                for i in 0..n {
                    black_box(small(&mu, i));
                }
                total += t.elapsed();
                done += n;
                mu.safepoint();
            }
            total
        })
    });
    g.bench_function("box_small", |b| {
        b.iter(|| black_box(Box::new(Small { value: 1, next: Member::new() })));
    });
    g.finish();
}

criterion_group!(benches, alloc);
criterion_main!(benches);
