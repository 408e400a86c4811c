//! The write barrier's cost: a `Member::set` (a slot store through the barrier) with the
//! collector idle and while a cycle is marking, next to a raw `AtomicPtr` store.
//!
//! - `raw_atomic_ptr_store`: `AtomicPtr::store(Release)` of the same pool's addresses, in the
//!   same loop as `member_set/idle` (chunks, safepoints between them, `black_box` on each
//!   value): the floor.
//! - `member_set/idle`: concurrent mode, no cycle running (the pacer is off): the barrier's fast
//!   path, one phase load and the slot's own word, tested with one branch.
//! - `tagged_set/idle_number`, `tagged_set/idle_pointer`: a `TaggedMember::set` of a number
//!   (which also checks that the thread has a running mutator: an immediate carries no local)
//!   and of a pointer, collector idle.
//! - `member_set/marking`: a live heap of a few hundred thousand objects is collected back to
//!   back by a second thread; only chunks of stores that start while the phase is `Mark` are
//!   timed (the others run untimed), so the figure is the barrier with marking on (shade the new
//!   value: enqueue it unless already marked). The fraction of chunks that saw the `Mark` phase
//!   is printed.
//!
//! Stores are timed in chunks of [`CHUNK`](gc_bench_micro::CHUNK); the safepoint after each chunk
//! (where the cycles' pauses happen) is not timed.

use std::{
    hint::black_box,
    sync::{
        atomic::{AtomicBool, AtomicPtr, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

use criterion::{criterion_group, criterion_main, Criterion};
use gc_bench_micro::{init, live_chains, small, test_mode, Small, CHUNK};
use gc_runtime::{Gc, Mode, Mutator, Phase, Root, Tagged, TaggedMember, Trace};

/// Pool of store values.
const POOL: usize = 1024;

/// An object with one tagged slot (a pointer, a number or a small integer in one word).
#[derive(Trace)]
struct Tagged1 {
    slot: TaggedMember<Small>,
}

/// Time `iters` stores into a tagged slot with the collector idle, chunk by chunk with an
/// untimed safepoint between chunks: numbers from a pool if `pool` is `None`, else pointers.
fn timed_tagged_stores(mu: &mut Mutator, holder: &Root<Tagged1>, pool: Option<&[Root<Small>]>, iters: u64) -> Duration {
    let numbers: Vec<f64> = (0..POOL).map(|i| i as f64 * 0.5).collect();
    let mut total = Duration::ZERO;
    let mut done = 0;
    while done < iters {
        let n = (iters - done).min(CHUNK);
        {
            let h = holder.get(mu);
            let t = match pool {
                None => {
                    let t = Instant::now();
                    for i in 0..n {
                        h.slot.set(Tagged::Number(black_box(numbers[i as usize % POOL])));
                    }
                    t
                }
                Some(pool) => {
                    let values: Vec<Gc<'_, Small>> = pool.iter().map(|r| r.get(mu)).collect();
                    let t = Instant::now();
                    for i in 0..n {
                        h.slot.set(Tagged::Ptr(black_box(values[i as usize % POOL])));
                    }
                    t
                }
            };
            total += t.elapsed();
            done += n;
        }
        mu.safepoint();
    }
    total
}

/// Which chunks of stores [`timed_stores`] times.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Timed {
    /// Every chunk.
    All,
    /// Only chunks that start while the phase is `Mark` (the others run untimed); if too few
    /// do within [`MARK_WAIT`], the time of those that did is scaled up to `iters` stores.
    Marking,
}

/// How long [`Timed::Marking`] waits for enough chunks to start in the `Mark` phase.
const MARK_WAIT: Duration = Duration::from_secs(5);

/// Time `iters` stores of pool values into one slot, chunk by chunk, with an untimed safepoint
/// between chunks; returns the time, the chunks run and how many of them started in the
/// `Mark` phase.
fn timed_stores(
    mu: &mut Mutator,
    holder: &Root<Small>,
    pool: &[Root<Small>],
    iters: u64,
    timed: Timed,
) -> (Duration, u64, u64) {
    timed_store_loop(mu, holder, pool, iters, timed, |h, v| h.next.set(Some(v)))
}

/// [`timed_stores`] with the store given: the one loop behind both the barrier's figures and
/// the raw store's, so that they differ only in the store.
#[inline(always)]
fn timed_store_loop(
    mu: &mut Mutator,
    holder: &Root<Small>,
    pool: &[Root<Small>],
    iters: u64,
    timed: Timed,
    store: impl Fn(Gc<'_, Small>, Gc<'_, Small>),
) -> (Duration, u64, u64) {
    let mut total = Duration::ZERO;
    let (mut chunks, mut marking) = (0, 0);
    let mut done = 0;
    let started = Instant::now();
    while done < iters {
        let n = (iters - done).min(CHUNK);
        {
            let h = holder.get(mu);
            let values: Vec<Gc<'_, Small>> = pool.iter().map(|r| r.get(mu)).collect();
            let in_mark = gc_runtime::phase() == Phase::Mark;
            marking += u64::from(in_mark);
            chunks += 1;
            let t = Instant::now();
            for i in 0..n {
                store(h, black_box(values[i as usize % POOL]));
            }
            if in_mark || timed == Timed::All {
                total += t.elapsed();
                done += n;
            }
        }
        mu.safepoint();
        if timed == Timed::Marking && started.elapsed() > MARK_WAIT && done > 0 {
            total = total.mul_f64(iters as f64 / done as f64);
            break;
        }
    }
    (total, chunks, marking)
}

fn barrier(c: &mut Criterion) {
    init(Mode::Concurrent, None);
    let mut mu = gc_runtime::attach();
    let holder = small(&mu, 0).root(&mu);
    let pool: Vec<Root<Small>> = (0..POOL).map(|i| small(&mu, i as u64).root(&mu)).collect();

    let mut g = c.benchmark_group("barrier");
    let slot = AtomicPtr::new(std::ptr::null_mut::<u8>());
    g.bench_function("raw_atomic_ptr_store", |b| {
        b.iter_custom(|iters| {
            let raw_store = |_: Gc<'_, Small>, v: Gc<'_, Small>| {
                slot.store(std::ptr::without_provenance_mut(v.addr()), Ordering::Release)
            };
            timed_store_loop(&mut mu, &holder, &pool, iters, Timed::All, raw_store).0
        })
    });
    g.bench_function("member_set/idle", |b| {
        b.iter_custom(|iters| timed_stores(&mut mu, &holder, &pool, iters, Timed::All).0)
    });
    let tagged = mu.alloc(Tagged1 { slot: TaggedMember::new() }).root(&mu);
    g.bench_function("tagged_set/idle_number", |b| {
        b.iter_custom(|iters| timed_tagged_stores(&mut mu, &tagged, None, iters))
    });
    g.bench_function("tagged_set/idle_pointer", |b| {
        b.iter_custom(|iters| timed_tagged_stores(&mut mu, &tagged, Some(&pool), iters))
    });

    // Keep cycles marking: a live heap collected back to back by another mutator.
    let live = if test_mode() { 20_000 } else { 500_000 };
    let heap = live_chains(&mut mu, live);
    let stop = Arc::new(AtomicBool::new(false));
    let collector = {
        let stop = stop.clone();
        mu.blocking(|| {
            std::thread::spawn(move || {
                let mut mu = gc_runtime::attach();
                while !stop.load(Ordering::Relaxed) {
                    mu.collect();
                }
            })
        })
    };
    let (mut chunks, mut marking) = (0, 0);
    g.bench_function("member_set/marking", |b| {
        b.iter_custom(|iters| {
            let (t, c, m) = timed_stores(&mut mu, &holder, &pool, iters, Timed::Marking);
            chunks += c;
            marking += m;
            t
        })
    });
    g.finish();
    stop.store(true, Ordering::Relaxed);
    mu.blocking(|| collector.join().expect("collector thread panicked"));
    eprintln!(
        "barrier/member_set/marking: {marking} of {chunks} chunks of stores started in the Mark phase ({live} live objects)"
    );
    drop(heap);
}

criterion_group!(benches, barrier);
criterion_main!(benches);
