//! Reading a `GcVec` and looking keys up in the maps: the cost of a read, on one thread and
//! with a second thread reading the same collection, and of structural writes.
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
//! - `gc_id_map/get`: `get(key)` on a `GcIdMap` of [`LEN`] entries, for each key in turn (the
//!   keys are gathered as locals before the chunk is timed); `get_beside_a_reader`: the same
//!   while another thread looks up the same keys in a loop; `insert_remove`: an insertion of a
//!   new key and its removal (a structural write each).
//! - `gc_weak_map/get`, `gc_weak_map/get_beside_a_reader`, `gc_weak_map/insert_remove`: the
//!   same for a `GcWeakMap` (whose keys the vector of keys keeps alive).
//! - `gc_map/get`, `gc_map/get_beside_a_reader`, `gc_map/insert_remove`: the same for a
//!   `GcMap<u64, _>` with std's default hasher (SipHash), the keys `0..LEN`.
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
use gc_runtime::{Gc, GcIdMap, GcMap, GcValueVec, GcVec, GcWeakMap, Member, Mode, Mutator, Root, Trace};

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

/// Run `body` while another thread (with a mutator of its own) calls `read(&shared, mu)` in a
/// loop, a safepoint after each call; stop and join it afterwards.
fn beside_a_reader<R: Send + 'static>(
    mu: &mut Mutator,
    shared: R,
    read: fn(&R, &Mutator),
    body: impl FnOnce(&mut Mutator),
) {
    let stop = Arc::new(AtomicBool::new(false));
    let other = {
        let stop = stop.clone();
        thread::spawn(move || {
            let mut mu = gc_runtime::attach();
            while !stop.load(Ordering::Relaxed) {
                read(&shared, &mu);
                mu.safepoint();
            }
        })
    };
    body(mu);
    stop.store(true, Ordering::Relaxed);
    mu.blocking(|| other.join().expect("the reader thread"));
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
    let shared = root.get(&mu).root(&mu);
    beside_a_reader(&mut mu, shared, get_each, |mu| {
        g.bench_function("get_beside_a_reader", |b| {
            b.iter_custom(|iters| chunked(mu, iters, |mu| get_each(&root, mu)))
        });
    });
    g.finish();
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

/// A map keyed by objects (by identity): `GcIdMap` or `GcWeakMap`.
trait ObjectKeyed: Trace + Send + Sync + Sized + 'static {
    fn empty() -> Self;
    fn put(&self, k: Gc<'_, Small>, v: Gc<'_, Small>);
    fn get<'m>(&self, k: Gc<'_, Small>, mu: &'m Mutator) -> Option<Gc<'m, Small>>;
    fn take<'m>(&self, k: Gc<'_, Small>, mu: &'m Mutator) -> Option<Gc<'m, Small>>;
}

impl ObjectKeyed for GcIdMap<Small, Small> {
    fn empty() -> Self {
        GcIdMap::new()
    }
    fn put(&self, k: Gc<'_, Small>, v: Gc<'_, Small>) {
        self.insert(k, v);
    }
    fn get<'m>(&self, k: Gc<'_, Small>, mu: &'m Mutator) -> Option<Gc<'m, Small>> {
        GcIdMap::get(self, k, mu)
    }
    fn take<'m>(&self, k: Gc<'_, Small>, mu: &'m Mutator) -> Option<Gc<'m, Small>> {
        self.remove(k, mu)
    }
}

impl ObjectKeyed for GcWeakMap<Small, Small> {
    fn empty() -> Self {
        GcWeakMap::new()
    }
    fn put(&self, k: Gc<'_, Small>, v: Gc<'_, Small>) {
        self.insert(k, v);
    }
    fn get<'m>(&self, k: Gc<'_, Small>, mu: &'m Mutator) -> Option<Gc<'m, Small>> {
        GcWeakMap::get(self, k, mu)
    }
    fn take<'m>(&self, k: Gc<'_, Small>, mu: &'m Mutator) -> Option<Gc<'m, Small>> {
        self.remove(k, mu)
    }
}

/// A map keyed by objects of [`LEN`] fresh keys to fresh values, and its keys in a vector
/// (which keeps a weak map's keys alive); rooted.
struct IdMap<M: ObjectKeyed> {
    map: Root<M>,
    keys: Root<GcVec<Small>>,
}

impl<M: ObjectKeyed> IdMap<M> {
    fn new(mu: &Mutator) -> IdMap<M> {
        let map = mu.alloc(M::empty());
        let keys = vector(mu);
        for k in keys.get(mu).iter(mu) {
            map.put(k, small(mu, 0));
        }
        IdMap { map: map.root(mu), keys }
    }

    /// Look each key up once (keys gathered beforehand); the time of the lookups.
    fn get_each(&self, mu: &Mutator) -> Duration {
        let keys: Vec<Gc<'_, Small>> = self.keys.get(mu).to_vec(mu);
        let map = self.map.get(mu);
        let start = Instant::now();
        for &k in &keys {
            black_box(map.get(k, mu));
        }
        start.elapsed()
    }
}

/// Time `iters` operations in chunks of [`LEN`]: `chunk` does `LEN` of them and returns their
/// time; a safepoint between chunks.
fn timed_chunks(mu: &mut Mutator, iters: u64, mut chunk: impl FnMut(&Mutator) -> Duration) -> Duration {
    let mut total = Duration::ZERO;
    let mut done = 0;
    while done < iters {
        total += chunk(mu);
        done += LEN as u64;
        mu.safepoint();
    }
    total.mul_f64(iters as f64 / done as f64)
}

/// After `reads`, which started the runtime.
fn id_map(c: &mut Criterion) {
    object_keyed::<GcIdMap<Small, Small>>(c, "gc_id_map");
}

/// After `reads`, which started the runtime.
fn weak_map(c: &mut Criterion) {
    object_keyed::<GcWeakMap<Small, Small>>(c, "gc_weak_map");
}

/// The `gc_id_map` or `gc_weak_map` group (`group`) for `M`.
fn object_keyed<M: ObjectKeyed>(c: &mut Criterion, group: &str) {
    let mut mu = gc_runtime::attach();
    let m = IdMap::<M>::new(&mu);
    let mut g = c.benchmark_group(group);
    g.bench_function("get", |b| b.iter_custom(|iters| timed_chunks(&mut mu, iters, |mu| m.get_each(mu))));
    g.bench_function("insert_remove", |b| {
        b.iter_custom(|iters| {
            timed_chunks(&mut mu, iters, |mu| {
                let map = m.map.get(mu);
                let fresh: Vec<Gc<'_, Small>> = (0..LEN as u64).map(|i| small(mu, i)).collect();
                let value = small(mu, 0);
                let start = Instant::now();
                for &k in &fresh {
                    map.put(k, value);
                    black_box(map.take(k, mu));
                }
                start.elapsed()
            })
        })
    });
    let shared = IdMap { map: m.map.get(&mu).root(&mu), keys: m.keys.get(&mu).root(&mu) };
    beside_a_reader(
        &mut mu,
        shared,
        |m, mu| {
            m.get_each(mu);
        },
        |mu| {
            g.bench_function("get_beside_a_reader", |b| {
                b.iter_custom(|iters| timed_chunks(mu, iters, |mu| m.get_each(mu)))
            });
        },
    );
    g.finish();
}

/// `get` each key of a map of the keys `0..LEN`.
fn get_each_key(root: &Root<GcMap<u64, Small>>, mu: &Mutator) {
    let m = root.get(mu);
    for k in 0..LEN as u64 {
        black_box(m.get(&k, mu));
    }
}

/// After `reads`, which started the runtime.
fn map(c: &mut Criterion) {
    let mut mu = gc_runtime::attach();
    let root = {
        let m = mu.alloc(GcMap::new());
        for k in 0..LEN as u64 {
            m.insert(k, small(&mu, k));
        }
        m.root(&mu)
    };
    let mut g = c.benchmark_group("gc_map");
    g.bench_function("get", |b| b.iter_custom(|iters| chunked(&mut mu, iters, |mu| get_each_key(&root, mu))));
    g.bench_function("insert_remove", |b| {
        b.iter_custom(|iters| {
            chunked(&mut mu, iters, |mu| {
                let m = root.get(mu);
                let value = small(mu, 0);
                for k in LEN as u64..2 * LEN as u64 {
                    m.insert(k, value);
                    black_box(m.remove(&k, mu));
                }
            })
        })
    });
    let shared = root.get(&mu).root(&mu);
    beside_a_reader(&mut mu, shared, get_each_key, |mu| {
        g.bench_function("get_beside_a_reader", |b| {
            b.iter_custom(|iters| chunked(mu, iters, |mu| get_each_key(&root, mu)))
        });
    });
    g.finish();
}

criterion_group!(benches, reads, value_reads, id_map, weak_map, map);
criterion_main!(benches);
