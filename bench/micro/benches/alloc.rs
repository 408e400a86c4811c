//! The allocation fast path: `mu.alloc` of a small object — one word and one slot
//! (`gc_small`), one word and two slots (`gc_two_slots`), two words and no slot (`gc_plain`) —
//! next to `Box::new` of the first.
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
use gc_runtime::{Member, Mode, Mutator, Trace};

/// A small object with two slots.
#[derive(Trace)]
struct TwoSlots {
    value: u64,
    left: Member<TwoSlots>,
    right: Member<TwoSlots>,
}

/// A small object with no slot: nothing to arm or trace.
#[derive(Trace)]
struct Plain {
    value: u64,
    other: u64,
}

/// Time `iters` calls of `f`, in chunks with an untimed safepoint between them.
fn timed(mu: &mut Mutator, iters: u64, f: impl Fn(&Mutator, u64)) -> Duration {
    let mut total = Duration::ZERO;
    let mut done = 0;
    while done < iters {
        let n = (iters - done).min(CHUNK);
        let t = Instant::now();
        for i in 0..n {
            f(mu, i);
        }
        total += t.elapsed();
        done += n;
        mu.safepoint();
    }
    total
}

fn alloc(c: &mut Criterion) {
    init(Mode::Concurrent, Some(100));
    let mut mu = gc_runtime::attach();
    let mut g = c.benchmark_group("alloc");
    g.throughput(Throughput::Elements(1));
    g.bench_function("gc_small", |b| {
        b.iter_custom(|iters| {
            timed(&mut mu, iters, |mu, i| {
                black_box(small(mu, i));
            })
        })
    });
    g.bench_function("gc_two_slots", |b| {
        b.iter_custom(|iters| {
            timed(&mut mu, iters, |mu, i| {
                black_box(mu.alloc(TwoSlots { value: i, left: Member::new(), right: Member::new() }));
            })
        })
    });
    g.bench_function("gc_plain", |b| {
        b.iter_custom(|iters| {
            timed(&mut mu, iters, |mu, i| {
                black_box(mu.alloc(Plain { value: i, other: i }));
            })
        })
    });
    g.bench_function("box_small", |b| {
        b.iter(|| black_box(Box::new(Small { value: 1, next: Member::new() })));
    });
    g.finish();
}

criterion_group!(benches, alloc);
criterion_main!(benches);
