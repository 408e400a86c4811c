//! Reading a `GcVec`: the cost of `get` and of an iteration step, on one thread and with a
//! second thread reading the same vector, and of a push and a pop.
//!
//! - `gc_vec/get`: `get(i)` over a vector of [`LEN`] elements, one mutator, collector idle.
//! - `gc_vec/get_beside_a_reader`: the same while another thread reads the same vector in a
//!   loop: readers that write a shared word (a read lock's count) slow each other down through
//!   that cache line; readers that do not, do not.
//! - `gc_vec/iter_step`: one step of `iter()`, per element.
//! - `gc_vec/push_pop`: a push and a pop at the end (a structural write each).
//! - `gc_value_vec/get`, `gc_value_vec/push_pop`: the same for a `GcValueVec<Member<_>>`, the
//!   value vector with the simplest element (an optional pointer), whose reads take its lock
//!   shared and whose elements are written before they join the vector.
//!
//! Each timed chunk is [`LEN`] operations; the safepoint between chunks is not timed.

use std::{
    hint::black_box,
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc,
    },
    thread,
    time::{Duration, Instant},
};

use criterion::{criterion_group, criterion_main, Criterion};
use gc_bench_micro::{init, small, Small};
use gc_runtime::{GcValueVec, GcVec, Member, Mode, Mutator, Root};

/// Elements in the vector.
const LEN: usize = 1024;

/// A vector of [`LEN`] fresh objects, rooted.
fn vector(mu: &Mutator) -> Root<GcVec<Small>> {
    let v = mu.alloc(GcVec::new());
    v.extend((0..LEN as u64).map(|i| small(mu, i)));
    v.root(mu)
}

/// `get` each element once.
fn get_each(root: &Root<GcVec<Small>>, mu: &Mutator) {
    let v = root.get(mu);
    for i in 0..LEN {
        black_box(v.get(i, mu));
    }
}

/// Time `iters` operations in chunks of [`LEN`], running `chunk` (which does `LEN` of them)
/// with a safepoint between chunks.
fn chunked(mu: &mut Mutator, iters: u64, mut chunk: impl FnMut(&Mutator)) -> Duration {
    let mut total = Duration::ZERO;
    let mut done = 0;
    while done < iters {
        let start = Instant::now();
        chunk(mu);
        total += start.elapsed();
        done += LEN as u64;
        mu.safepoint();
    }
    total.mul_f64(iters as f64 / done as f64)
}

fn reads(c: &mut Criterion) {
    init(Mode::Concurrent, None);
    let mut mu = gc_runtime::attach();
    let root = vector(&mu);
    let mut g = c.benchmark_group("gc_vec");
    g.bench_function("get", |b| b.iter_custom(|iters| chunked(&mut mu, iters, |mu| get_each(&root, mu))));
    g.bench_function("iter_step", |b| {
        b.iter_custom(|iters| {
            chunked(&mut mu, iters, |mu| {
                for x in root.get(mu).iter(mu) {
                    black_box(x);
                }
            })
        })
    });
    g.bench_function("push_pop", |b| {
        b.iter_custom(|iters| {
            chunked(&mut mu, iters, |mu| {
                let v = root.get(mu);
                let x = v.get(0, mu).expect("not empty");
                for _ in 0..LEN {
                    v.push(x);
                    black_box(v.pop(mu));
                }
            })
        })
    });
    let stop = Arc::new(AtomicBool::new(false));
    let other = {
        let (stop, shared) = (stop.clone(), root.get(&mu).root(&mu));
        thread::spawn(move || {
            let mut mu = gc_runtime::attach();
            while !stop.load(Ordering::Relaxed) {
                get_each(&shared, &mu);
                mu.safepoint();
            }
        })
    };
    g.bench_function("get_beside_a_reader", |b| {
        b.iter_custom(|iters| chunked(&mut mu, iters, |mu| get_each(&root, mu)))
    });
    g.finish();
    stop.store(true, Ordering::Relaxed);
    mu.blocking(|| other.join().expect("the reader thread"));
}

/// After `reads`, which started the runtime.
fn value_reads(c: &mut Criterion) {
    let mut mu = gc_runtime::attach();
    let root = {
        let v = mu.alloc(GcValueVec::<Member<Small>>::new());
        v.extend((0..LEN as u64).map(|i| Some(small(&mu, i))));
        v.root(&mu)
    };
    let mut g = c.benchmark_group("gc_value_vec");
    g.bench_function("get", |b| {
        b.iter_custom(|iters| {
            chunked(&mut mu, iters, |mu| {
                let v = root.get(mu);
                for i in 0..LEN {
                    black_box(v.get(i, mu));
                }
            })
        })
    });
    g.bench_function("push_pop", |b| {
        b.iter_custom(|iters| {
            chunked(&mut mu, iters, |mu| {
                let v = root.get(mu);
                let x = v.get(0, mu).expect("not empty");
                for _ in 0..LEN {
                    v.push(x);
                    black_box(v.pop(mu));
                }
            })
        })
    });
    g.finish();
}

criterion_group!(benches, reads, value_reads);
criterion_main!(benches);
