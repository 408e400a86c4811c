//! Stop-the-world handshake latency against the number of attached mutators.
//!
//! The runtime runs in stop-the-world mode with a tiny heap, so a `collect()` is almost all
//! handshake: stop every mutator at a safepoint, run the (tiny) cycle, restart them. Besides
//! the calling thread, 0, 1 or 3 other attached threads call `safepoint()` in a loop (1, 2 or
//! 4 mutators in all). The calling thread is detached while `collect()` waits (as the API
//! documents), so the handshake stops the other N-1.
//!
//! - `collect/N`: wall time of `mu.collect()` on the calling thread.
//! - `pause/N`: the pause the collector recorded for that cycle (`CycleStats::pauses`: stop
//!   request to restart), summed over the iterations.
//!
//! On a machine with fewer cores than mutators, the figure includes the time a descheduled
//! thread takes to run again and reach its safepoint.
//!
//! What a thread pays to use the heap for one short stretch (a server's request), each with one
//! allocation, which after attaching or coming back refills the thread's cache:
//!
//! - `attach/with_mutator`: attach for the stretch and detach after it
//!   (`gc_runtime::with_mutator`);
//! - `attach/blocking`: come back from `Mutator::blocking` on a mutator the thread keeps;
//! - `attach/none`: the allocation and a safepoint on a mutator that stays attached.

use std::{
    hint::black_box,
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc,
    },
    thread::JoinHandle,
    time::{Duration, Instant},
};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use gc_bench_micro::{init, small};
use gc_runtime::{Mode, Mutator};

/// Start `n` threads that attach and call `safepoint()` until `stop`.
fn spinners(n: usize, stop: &Arc<AtomicBool>) -> Vec<JoinHandle<()>> {
    (0..n)
        .map(|_| {
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut mu = gc_runtime::attach();
                while !stop.load(Ordering::Relaxed) {
                    mu.safepoint();
                    std::hint::spin_loop();
                }
            })
        })
        .collect()
}

fn handshake(c: &mut Criterion) {
    init(Mode::StopTheWorld, None);
    let mut mu = gc_runtime::attach();
    let _tiny_heap = small(&mu, 1).root(&mu);
    let mut g = c.benchmark_group("handshake");
    for mutators in [1usize, 2, 4] {
        let stop = Arc::new(AtomicBool::new(false));
        let threads = spinners(mutators - 1, &stop);
        g.bench_with_input(BenchmarkId::new("collect", mutators), &mutators, |b, _| b.iter(|| mu.collect()));
        g.bench_with_input(BenchmarkId::new("pause", mutators), &mutators, |b, _| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let before = gc_runtime::stats().cycles;
                    mu.collect();
                    let stats = gc_runtime::stats();
                    total += stats.recent.iter().filter(|c| c.cycle > before).map(|c| c.max_pause()).sum::<Duration>();
                }
                total
            })
        });
        stop.store(true, Ordering::Relaxed);
        let t = Instant::now();
        mu.blocking(|| threads.into_iter().for_each(|h| h.join().expect("spinner panicked")));
        debug_assert!(t.elapsed() < Duration::from_secs(10));
    }
    g.finish();

    // The garbage is collected between chunks of iterations, untimed, so that allocation reuses
    // memory instead of faulting in fresh pages (collections here run only when asked).
    let mut g = c.benchmark_group("attach");
    g.bench_function("none", |b| {
        b.iter_custom(|iters| {
            timed_chunks(
                iters,
                &mut mu,
                |mu| {
                    black_box(mu.alloc(1u64));
                    mu.safepoint();
                },
                Mutator::collect,
            )
        })
    });
    g.bench_function("blocking", |b| {
        b.iter_custom(|iters| {
            timed_chunks(
                iters,
                &mut mu,
                |mu| {
                    mu.blocking(|| ());
                    black_box(mu.alloc(1u64));
                },
                Mutator::collect,
            )
        })
    });
    drop(mu);
    g.bench_function("with_mutator", |b| {
        b.iter_custom(|iters| {
            timed_chunks(
                iters,
                &mut (),
                |()| {
                    gc_runtime::with_mutator(|mu| {
                        black_box(mu.alloc(1u64));
                    })
                },
                |()| gc_runtime::with_mutator(Mutator::collect),
            )
        })
    });
    g.finish();
}

/// The time `iters` calls of `one` take, with `between` run untimed after every
/// [`CHUNK`](gc_bench_micro::CHUNK) of them.
fn timed_chunks<S: ?Sized>(
    iters: u64,
    state: &mut S,
    mut one: impl FnMut(&mut S),
    mut between: impl FnMut(&mut S),
) -> Duration {
    let mut total = Duration::ZERO;
    let mut left = iters;
    while left > 0 {
        let n = left.min(gc_bench_micro::CHUNK);
        let t = Instant::now();
        for _ in 0..n {
            one(state);
        }
        total += t.elapsed();
        left -= n;
        between(state);
    }
    total
}

criterion_group!(benches, handshake);
criterion_main!(benches);
