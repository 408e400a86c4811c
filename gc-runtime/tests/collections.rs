//! GC collections (`GcVec`, `GcMap`, `GcIdMap`): every method; bad input (out-of-range
//! indices, stores into unarmed collections); `Debug` on cycles; contents that survive cycles
//! and removed elements that are freed; and concurrent use by three mutators while cycles run
//! back to back in concurrent mode with checkmark on, once per barrier kind — including growth
//! (reallocation, rehashing) while the marker scans.
//!
//! Every element carries a canary checked on every access and a drop probe: at the end of
//! each test a full collection must leave exactly the elements reachable from the holder, and
//! every other element's fields must have been dropped exactly once.

use std::{
    collections::HashSet,
    sync::{
        atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering},
        Arc, Mutex, MutexGuard,
    },
    thread,
    time::{Duration, Instant},
};

mod common;

use common::{panic_message, DropProbe, Ledger, Rng};
use gc_runtime::{
    BarrierKind, Config, Gc, GcIdMap, GcMap, GcVec, GcWeakMap, IndexOutOfRange, Mode, Mutator, Phase, Root, Trace,
};

const MAGIC: u64 = 0x9E37_79B9_7F4A_7C15;
const MUTATORS: usize = 3;
const RUN_FOR: Duration = Duration::from_millis(if cfg!(miri) { 150 } else { 1500 });
/// The cycles a run of `with_cycles` waits for after `RUN_FOR`, so that its callers' checks
/// that cycles ran during the mutation count work, not time.
const CYCLES_DURING_A_RUN: u64 = 2;
/// How long a run waits for those cycles at most (a collector that cannot finish two cycles in
/// this time is stuck, and the callers' checks then fail).
const RUN_AT_MOST: Duration = Duration::from_secs(120);

/// Serialises the tests that reconfigure the collector (it is process-wide).
static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// Makes test elements whose drops the ledger records.
trait MakeElem {
    fn elem<'m>(&self, mu: &'m Mutator) -> Gc<'m, Elem>;
}

impl MakeElem for Arc<Ledger> {
    fn elem<'m>(&self, mu: &'m Mutator) -> Gc<'m, Elem> {
        let probe = self.probe();
        let id = probe.id;
        mu.alloc(Elem { id, canary: id ^ MAGIC, kids: GcVec::new(), probe })
    }
}

#[derive(Trace)]
struct Elem {
    id: u64,
    canary: u64,
    kids: GcVec<Elem>,
    #[trace(skip)]
    probe: DropProbe,
}

impl Elem {
    fn check(&self) -> u64 {
        assert_eq!(self.canary, self.id ^ MAGIC, "canary of element {} corrupted", self.id);
        assert_eq!(self.probe.id, self.id, "probe of element {} corrupted", self.id);
        self.id
    }
}

#[derive(Trace)]
struct Holder {
    vec: GcVec<Elem>,
    map: GcMap<u64, Elem>,
    names: GcMap<String, Elem>,
    ids: GcIdMap<Elem, Elem>,
    weak: GcWeakMap<Elem, Elem>,
}

fn holder(mu: &Mutator) -> Gc<'_, Holder> {
    mu.alloc(Holder {
        vec: GcVec::new(),
        map: GcMap::new(),
        names: GcMap::new(),
        ids: GcIdMap::new(),
        weak: GcWeakMap::new(),
    })
}

/// Ids of every element reachable from `h` (checking canaries on the way): the weak map's
/// values count once their keys are reached.
fn reachable(mu: &Mutator, h: &Holder) -> HashSet<u64> {
    let mut seen = HashSet::new();
    let mut stack: Vec<Gc<'_, Elem>> = h.vec.to_vec(mu);
    stack.extend(h.map.values(mu));
    stack.extend(h.names.values(mu));
    for (k, v) in h.ids.entries(mu) {
        stack.push(k);
        stack.push(v);
    }
    while let Some(e) = stack.pop() {
        if seen.insert(e.check()) {
            stack.extend(e.kids.to_vec(mu));
            stack.extend(h.weak.get(e, mu));
        }
    }
    seen
}

fn ids(v: &[Gc<'_, Elem>]) -> Vec<u64> {
    v.iter().map(|e| e.check()).collect()
}

// ---------------------------------------------------------------------------------------------
// Every method, single-threaded.

#[test]
fn vec_every_method() {
    let ledger = Ledger::new(64);
    let mu = gc_runtime::attach();
    let v = mu.alloc(GcVec::<Elem>::with_capacity(2));
    assert!(v.is_empty());
    assert_eq!(v.len(), 0);
    assert!(v.get(0, &mu).is_none() && v.last(&mu).is_none() && v.pop(&mu).is_none());
    let e: Vec<Gc<'_, Elem>> = (0..6).map(|_| ledger.elem(&mu)).collect();
    v.push(e[0]);
    v.push(e[1]);
    v.extend([e[2], e[3]]);
    assert_eq!(v.len(), 4);
    assert!(!v.is_empty());
    assert_eq!(ids(&v.to_vec(&mu)), [0, 1, 2, 3]);
    assert!(Gc::ptr_eq(v.get(2, &mu).unwrap(), e[2]));
    assert!(v.get(4, &mu).is_none());
    assert!(Gc::ptr_eq(v.last(&mu).unwrap(), e[3]));
    // set / try_set
    v.set(0, e[4]);
    assert_eq!(v.get(0, &mu).unwrap().id, 4);
    assert_eq!(v.try_set(1, e[5]), Ok(()));
    assert_eq!(v.try_set(4, e[5]), Err(IndexOutOfRange { index: 4, len: 4 }));
    assert_eq!(v.try_set(usize::MAX, e[5]).unwrap_err().index, usize::MAX);
    assert_eq!(ids(&v.to_vec(&mu)), [4, 5, 2, 3]);
    // insert / try_insert / remove / try_remove
    v.insert(0, e[0]);
    v.insert(5, e[1]); // at the end
    v.insert(2, e[1]);
    assert_eq!(ids(&v.to_vec(&mu)), [0, 4, 1, 5, 2, 3, 1]);
    assert_eq!(v.try_insert(8, e[0]), Err(IndexOutOfRange { index: 8, len: 7 }));
    assert_eq!(v.remove(2, &mu).id, 1);
    assert_eq!(v.try_remove(6, &mu).map(|x| x.id), Err(IndexOutOfRange { index: 6, len: 6 }));
    assert_eq!(v.try_remove(5, &mu).map(|x| x.id), Ok(1));
    assert_eq!(ids(&v.to_vec(&mu)), [0, 4, 5, 2, 3]);
    // contains: by identity
    assert!(v.contains(e[4]) && !v.contains(e[1]));
    // iter: a live cursor
    assert_eq!(v.iter(&mu).map(|x| x.id).collect::<Vec<_>>(), [0, 4, 5, 2, 3]);
    let mut seen = Vec::new();
    for (i, x) in v.iter(&mu).enumerate() {
        seen.push(x.id);
        if i == 0 {
            v.push(e[1]); // pushed before the cursor reaches the end: visited
        }
    }
    assert_eq!(seen, [0, 4, 5, 2, 3, 1]);
    // retain: every copy of a rejected object goes, the rest keep their order
    v.extend([e[2], e[3]]);
    assert_eq!(v.retain(&mu, |x| x.id != 2 && x.id != 1), 3);
    assert_eq!(ids(&v.to_vec(&mu)), [0, 4, 5, 3, 3]);
    v.push(e[1]);
    v.remove_item(e[3]);
    // pop / truncate / clear
    assert_eq!(v.pop(&mu).unwrap().id, 1);
    v.truncate(10); // longer than the vector: no effect
    assert_eq!(v.len(), 4);
    v.insert(3, e[2]);
    assert_eq!(v.len(), 5);
    v.truncate(3);
    assert_eq!(ids(&v.to_vec(&mu)), [0, 4, 5]);
    v.clear();
    assert!(v.is_empty());
    assert!(v.pop(&mu).is_none());
    // Default is an unarmed, empty vector.
    let d: GcVec<Elem> = GcVec::default();
    assert!(d.is_empty());
}

#[test]
#[should_panic(expected = "GcVec::set: index 3 out of range for length 2")]
fn vec_set_out_of_range_panics_with_index_and_len() {
    let mu = gc_runtime::attach();
    let v = mu.alloc(GcVec::new());
    v.extend([mu.alloc(1_u8), mu.alloc(2_u8)]);
    v.set(3, mu.alloc(3_u8));
}

#[test]
#[should_panic(expected = "GcVec::insert: index 4 out of range for length 2")]
fn vec_insert_out_of_range_panics_with_index_and_len() {
    let mu = gc_runtime::attach();
    let v = mu.alloc(GcVec::new());
    v.extend([mu.alloc(1_u8), mu.alloc(2_u8)]);
    v.insert(4, mu.alloc(3_u8));
}

#[test]
#[should_panic(expected = "GcVec::remove: index 2 out of range for length 2")]
fn vec_remove_out_of_range_panics_with_index_and_len() {
    let mu = gc_runtime::attach();
    let v = mu.alloc(GcVec::new());
    v.extend([mu.alloc(1_u8), mu.alloc(2_u8)]);
    v.remove(2, &mu);
}

/// A vector of numbers, for `remove_item`.
#[derive(Trace)]
struct Numbers {
    v: GcVec<u64>,
}

/// Run `body` on this thread while another inserts a filler (`u64::MAX`) at the front of
/// `holder`'s vector and removes it again, each insert and removal shifting every element;
/// returns how many times it did. Only that thread inserts at the front, and the bodies never
/// remove the filler: the front is still the filler when it removes it. The shifter stops when
/// `body` returns or panics (else the scope's join would wait for it forever), and is joined
/// with this thread detached.
fn beside_a_front_shifter(
    mu: &mut gc_runtime::Mutator,
    holder: &Root<Numbers>,
    body: impl FnOnce(&mut gc_runtime::Mutator),
) -> u64 {
    let stop = AtomicBool::new(false);
    thread::scope(|s| {
        let shifter = s.spawn(|| {
            let mut mu = gc_runtime::attach();
            let mut shifts = 0_u64;
            while !stop.load(Ordering::Relaxed) {
                let v = &holder.get(&mu).v;
                v.insert(0, mu.alloc(u64::MAX));
                assert_eq!(*v.remove(0, &mu), u64::MAX);
                shifts += 1;
                mu.safepoint();
            }
            shifts
        });
        {
            let _stop = StopOnDrop(&stop);
            body(mu);
        }
        mu.blocking(|| shifter.join().expect("the shifting thread panicked"))
    })
}

/// `remove_item` removes the very object it is given, even while another thread shifts the
/// vector under it (inserting and removing at the front): an index found first and used
/// after could name another element by then.
#[test]
fn vec_remove_item_removes_that_object_while_another_thread_shifts_the_vector() {
    let _serial = serial();
    gc_runtime::reconfigure(Config::default().with_checkmark(true)).unwrap();
    const N: u64 = if cfg!(miri) { 40 } else { 1000 };
    let mut mu = gc_runtime::attach();
    let holder = mu.alloc(Numbers { v: GcVec::new() }).root(&mu);
    let elements: Vec<Root<u64>> = (0..N)
        .map(|i| {
            let x = mu.alloc(i);
            holder.get(&mu).v.push(x);
            x.root(&mu)
        })
        .collect();
    let shifts = beside_a_front_shifter(&mut mu, &holder, |mu| {
        for (i, e) in elements.iter().enumerate().filter(|(i, _)| i % 2 == 0) {
            assert!(holder.get(mu).v.remove_item(e.get(mu)), "element {i} is there to remove");
            assert!(!holder.get(mu).v.remove_item(e.get(mu)), "element {i} was there once");
            if i % 64 == 0 {
                mu.collect();
            }
            mu.safepoint();
        }
    });
    mu.collect();
    let left: Vec<u64> = holder.get(&mu).v.iter(&mu).map(|x| *x).collect();
    assert_eq!(left, (0..N).filter(|i| i % 2 == 1).collect::<Vec<_>>(), "after {shifts} shifts");
    gc_runtime::reconfigure(Config::default()).unwrap();
}

/// `retain` asks `keep` once per element, in order, with no lock held (so `keep` may push to
/// the same vector), and removes every element that is an object `keep` rejected, however many
/// times it appears; a `keep` that panics removes nothing.
#[test]
fn vec_retain_removes_the_rejected_objects_and_keeps_the_order() {
    let _serial = serial();
    let mu = gc_runtime::attach();
    let v = &mu.alloc(Numbers { v: GcVec::new() }).v;
    let twice = mu.alloc(100_u64);
    v.extend((0..10_u64).map(|i| mu.alloc(i)));
    v.insert(3, twice);
    v.push(twice);
    let mut asked = Vec::new();
    let removed = v.retain(&mu, |x| {
        asked.push(*x);
        if *x == 5 {
            // No lock is held: the vector takes a push from inside `keep`.
            v.push(mu.alloc(1000));
        }
        *x % 2 == 1 && (*x != 100 || asked.len() > 4)
    });
    assert_eq!(asked, [0, 1, 2, 100, 3, 4, 5, 6, 7, 8, 9, 100], "once per element of the snapshot, in order");
    let left: Vec<u64> = v.iter(&mu).map(|x| *x).collect();
    assert_eq!(left, [1, 3, 5, 7, 9, 1000], "both copies of the object rejected once are gone, the push stays");
    assert_eq!(removed, 7);
    assert_eq!(v.retain(&mu, |_| true), 0);
    let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        v.retain(&mu, |x| if *x == 7 { panic!("keep panics") } else { false })
    }));
    assert!(panicked.is_err());
    assert_eq!(v.len(), 6, "a keep that panics removes nothing");
    assert_eq!(v.retain(&mu, |x| *x > 5), 3);
    assert_eq!(v.iter(&mu).map(|x| *x).collect::<Vec<_>>(), [7, 9, 1000]);
}

/// `retain` removes the rejected objects wherever another thread's inserts and removals at
/// the front have moved them, with collections running (checkmark on): the kept elements stay,
/// in order, alive.
#[test]
fn vec_retain_removes_while_another_thread_shifts_the_vector() {
    let _serial = serial();
    gc_runtime::reconfigure(Config::default().with_checkmark(true)).unwrap();
    const N: u64 = if cfg!(miri) { 60 } else { 3000 };
    let mut mu = gc_runtime::attach();
    let holder = mu.alloc(Numbers { v: GcVec::new() }).root(&mu);
    for i in 0..N {
        let x = mu.alloc(i);
        holder.get(&mu).v.push(x);
    }
    let shifts = beside_a_front_shifter(&mut mu, &holder, |mu| {
        // Remove the multiples of 2, then of 3, ... of 9: each pass removes elements on both
        // sides of wherever a concurrent marking's cursor is.
        for d in 2..10_u64 {
            let removed = holder.get(mu).v.retain(mu, |x| *x == u64::MAX || *x % d != 0 || *x == 0);
            let left = (1..N).filter(|i| i % d == 0 && (2..d).all(|e| i % e != 0)).count();
            assert_eq!(removed, left, "the multiples of {d} still there");
            mu.collect();
            mu.safepoint();
        }
    });
    mu.collect();
    let left: Vec<u64> = holder.get(&mu).v.iter(&mu).map(|x| *x).collect();
    let expected: Vec<u64> = (0..N).filter(|&i| i == 0 || (2..10).all(|d| i % d != 0)).collect();
    assert_eq!(left, expected, "after {shifts} shifts");
    gc_runtime::reconfigure(Config::default()).unwrap();
}

/// A map of numbers by name, for `insert_if_absent`.
#[derive(Trace)]
struct Registry {
    by_name: GcMap<String, u64>,
}

/// Threads racing to `insert_if_absent` the same keys: for each key exactly one thread's value
/// goes in, and every other thread gets that value back.
#[test]
fn map_insert_if_absent_lets_one_racing_thread_insert_each_key() {
    let _serial = serial();
    gc_runtime::reconfigure(Config::default().with_checkmark(true)).unwrap();
    const KEYS: u64 = if cfg!(miri) { 10 } else { 500 };
    const THREADS: u64 = 3;
    let mut mu = gc_runtime::attach();
    let registry = mu.alloc(Registry { by_name: GcMap::new() }).root(&mu);
    // Per thread: for each key, the value it saw in the map after its call (its own if it
    // inserted), and how many it inserted.
    let seen: Vec<(Vec<u64>, u64)> = mu.blocking(|| {
        thread::scope(|s| {
            let racers: Vec<_> = (0..THREADS)
                .map(|t| {
                    let registry = &registry;
                    s.spawn(move || {
                        let mut mu = gc_runtime::attach();
                        let (mut values, mut inserted) = (Vec::new(), 0);
                        for k in 0..KEYS {
                            let mine = mu.alloc(t * KEYS + k);
                            let map = &registry.get(&mu).by_name;
                            match map.insert_if_absent(format!("k{k}"), mine, &mu) {
                                Some(held) => values.push(*held),
                                None => {
                                    inserted += 1;
                                    values.push(*mine);
                                }
                            }
                            mu.safepoint();
                        }
                        (values, inserted)
                    })
                })
                .collect();
            racers.into_iter().map(|r| r.join().expect("a racing thread panicked")).collect()
        })
    });
    mu.collect();
    let map = &registry.get(&mu).by_name;
    assert_eq!(map.len(), KEYS as usize);
    assert_eq!(seen.iter().map(|(_, inserted)| inserted).sum::<u64>(), KEYS, "one insert per key");
    for k in 0..KEYS {
        let held = *map.get(format!("k{k}").as_str(), &mu).expect("every key is there");
        assert_eq!(held % KEYS, k, "key {k} holds a value made for it");
        for (t, (values, _)) in seen.iter().enumerate() {
            assert_eq!(values[k as usize], held, "thread {t} saw the value that went in for key {k}");
        }
    }
    gc_runtime::reconfigure(Config::default()).unwrap();
}

#[test]
fn out_of_range_error_is_a_std_error_with_a_clear_message() {
    let e: Box<dyn std::error::Error> = Box::new(IndexOutOfRange { index: 9, len: 3 });
    assert_eq!(e.to_string(), "index 9 out of range for length 3");
}

#[test]
fn map_every_method() {
    let ledger = Ledger::new(64);
    let mu = gc_runtime::attach();
    let m = mu.alloc(GcMap::<String, Elem>::with_capacity(1));
    assert!(m.is_empty());
    assert_eq!(m.len(), 0);
    assert!(m.get("a", &mu).is_none() && m.remove("a", &mu).is_none() && !m.contains_key("a"));
    let e: Vec<Gc<'_, Elem>> = (0..4).map(|_| ledger.elem(&mu)).collect();
    assert!(!m.insert("a".into(), e[0]));
    assert!(!m.insert("b".into(), e[1]));
    assert!(m.insert("a".into(), e[2]), "replaced");
    assert_eq!(m.len(), 2);
    assert_eq!(m.get("a", &mu).unwrap().id, 2);
    assert_eq!(m.get(&"b".to_string(), &mu).unwrap().id, 1);
    assert!(m.contains_key("b") && !m.contains_key("c"));
    let mut keys = m.keys();
    keys.sort();
    assert_eq!(keys, ["a", "b"]);
    let mut values = ids(&m.values(&mu));
    values.sort();
    assert_eq!(values, [1, 2]);
    let mut entries: Vec<(String, u64)> = m.entries(&mu).into_iter().map(|(k, v)| (k, v.id)).collect();
    entries.sort();
    assert_eq!(entries, [("a".to_string(), 2), ("b".to_string(), 1)]);
    // for_each runs on a snapshot without the lock: inserting is fine.
    let mut visited = 0;
    m.for_each(&mu, |k, v| {
        visited += 1;
        m.insert(format!("{k}{k}"), v);
    });
    assert_eq!((visited, m.len()), (2, 4));
    assert_eq!(m.get("aa", &mu).unwrap().id, 2);
    assert_eq!(m.remove("aa", &mu).unwrap().id, 2);
    assert!(m.remove("aa", &mu).is_none());
    assert!(!m.insert("c".into(), e[3]));
    assert_eq!(m.len(), 4);
    m.clear();
    assert!(m.is_empty() && m.get("a", &mu).is_none());
    let d: GcMap<u8, Elem> = GcMap::default();
    assert!(d.is_empty());
}

/// Hashes every key to the same value: every entry collides, so lookups rest on `Eq` alone.
#[derive(Clone, Default)]
struct Constant;

impl std::hash::BuildHasher for Constant {
    type Hasher = ConstantHasher;
    fn build_hasher(&self) -> ConstantHasher {
        ConstantHasher
    }
}

struct ConstantHasher;

impl std::hash::Hasher for ConstantHasher {
    fn finish(&self) -> u64 {
        7
    }
    fn write(&mut self, _: &[u8]) {}
}

/// Panics when it hashes the key `"boom"`, and counts the keys it hashes.
#[derive(Default)]
struct Hostile {
    hashed: std::sync::atomic::AtomicUsize,
}

impl std::hash::BuildHasher for Hostile {
    type Hasher = HostileHasher;
    fn build_hasher(&self) -> HostileHasher {
        self.hashed.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        HostileHasher(std::hash::DefaultHasher::new())
    }
}

struct HostileHasher(std::hash::DefaultHasher);

impl std::hash::Hasher for HostileHasher {
    fn finish(&self) -> u64 {
        self.0.finish()
    }
    fn write(&mut self, bytes: &[u8]) {
        assert!(!bytes.starts_with(b"boom"), "the hasher refuses this key");
        self.0.write(bytes);
    }
}

/// A map takes the hasher it is given: with one that sends every key to one bucket, every
/// method still finds exactly its key, and the entries survive collections.
#[test]
fn map_with_a_colliding_hasher_still_finds_each_key() {
    let _s = serial();
    let ledger = Ledger::new(300);
    let mut mu = gc_runtime::attach();
    let root = mu.alloc(GcMap::<u64, Elem, Constant>::with_capacity_and_hasher(4, Constant)).root(&mu);
    {
        let m = root.get(&mu);
        for k in 0..200 {
            assert!(!m.insert(k, ledger.elem(&mu)));
        }
        for k in (0..200).step_by(2) {
            assert!(m.remove(&k, &mu).is_some());
        }
    }
    mu.collect();
    let m = root.get(&mu);
    assert_eq!(m.len(), 100);
    for k in 0..200 {
        assert_eq!(m.contains_key(&k), k % 2 == 1, "key {k}");
    }
    let ids: HashSet<u64> = (1..200).step_by(2).map(|k| m.get(&k, &mu).unwrap().id).collect();
    assert_eq!(ids.len(), 100, "each key has its own value");
    assert!(std::ptr::eq(m.hasher(), m.hasher()));
}

/// The hasher is user code: it runs before the map's lock is taken, so one that panics leaves
/// the map as it was and usable, and one that is slow never holds up another thread's access.
#[test]
fn a_panicking_hasher_leaves_the_map_consistent() {
    let _s = serial();
    let ledger = Ledger::new(8);
    let mu = gc_runtime::attach();
    let m = mu.alloc(GcMap::<String, Elem, Hostile>::default());
    assert!(!m.insert("a".into(), ledger.elem(&mu)));
    let message = panic_message(|| {
        m.insert("boom".into(), ledger.elem(&mu));
    });
    assert!(message.contains("the hasher refuses this key"), "{message}");
    assert!(panic_message(|| {
        let _ = m.get("boom", &mu);
    })
    .contains("refuses"));
    assert_eq!(m.len(), 1);
    assert!(!m.insert("b".into(), ledger.elem(&mu)));
    assert_eq!((m.get("a", &mu).unwrap().id, m.get("b", &mu).unwrap().id), (0, 2));
    assert!(m.hasher().hashed.load(std::sync::atomic::Ordering::Relaxed) >= 5);
}

#[test]
fn id_map_every_method() {
    let ledger = Ledger::new(64);
    let mu = gc_runtime::attach();
    let m = mu.alloc(GcIdMap::<Elem, Elem>::with_capacity(1));
    let e: Vec<Gc<'_, Elem>> = (0..6).map(|_| ledger.elem(&mu)).collect();
    assert!(m.is_empty() && m.get(e[0], &mu).is_none() && !m.contains_key(e[0]));
    assert_eq!(m.len(), 0);
    assert!(m.remove(e[0], &mu).is_none());
    assert!(!m.insert(e[0], e[1]));
    assert!(!m.insert(e[1], e[1])); // a value may also be a key
    assert!(m.insert(e[0], e[2]), "same key object: replaced");
    assert!(!m.insert(e[3], e[4]));
    assert_eq!(m.len(), 3);
    assert_eq!(m.get(e[0], &mu).unwrap().id, 2);
    assert!(m.contains_key(e[3]) && !m.contains_key(e[5]));
    let mut pairs: Vec<(u64, u64)> = m.entries(&mu).into_iter().map(|(k, v)| (k.id, v.id)).collect();
    pairs.sort();
    assert_eq!(pairs, [(0, 2), (1, 1), (3, 4)]);
    let mut keys = ids(&m.keys(&mu));
    keys.sort();
    assert_eq!(keys, [0, 1, 3]);
    let mut values = ids(&m.values(&mu));
    values.sort();
    assert_eq!(values, [1, 2, 4]);
    let mut sum = 0;
    m.for_each(&mu, |k, v| {
        sum += k.id * 10 + v.id;
        m.insert(v, k); // allowed: no lock held
    });
    assert_eq!(sum, 2 + 11 + 34);
    assert_eq!(m.remove(e[3], &mu).unwrap().id, 4);
    assert!(m.remove(e[3], &mu).is_none());
    m.clear();
    assert!(m.is_empty());
    let d: GcIdMap<u8, u8> = GcIdMap::default();
    assert!(d.is_empty());
}

// ---------------------------------------------------------------------------------------------
// Bad input: unarmed collections.

// `#[derive(Trace)]` rejects `#[trace(skip)]` on a field that names a collection; aliases hide
// them from that check by name (as in `attacks.rs`), which is the case the runtime must still
// handle.
type SkippedVec = GcVec<u8>;
type SkippedMap = GcMap<u8, u8>;
type SkippedIds = GcIdMap<u8, u8>;

#[derive(Trace)]
struct Skipped {
    #[trace(skip)]
    vec: SkippedVec,
    #[trace(skip)]
    map: SkippedMap,
    #[trace(skip)]
    ids: SkippedIds,
}

#[test]
fn unarmed_collections_read_empty_and_refuse_every_store() {
    let mu = gc_runtime::attach();
    let x = mu.alloc(1_u8);
    // Outside the heap, and in a field the tracer skips (never armed by allocation).
    let skipped = mu.alloc(Skipped { vec: GcVec::new(), map: GcMap::new(), ids: GcIdMap::new() });
    let loose = Skipped { vec: GcVec::new(), map: GcMap::new(), ids: GcIdMap::new() };
    for s in [&*skipped, &loose] {
        let msg = panic_message(|| s.vec.push(x));
        assert!(msg.starts_with("GcVec::push on a GcVec that is not inside an allocated object"), "{msg}");
        assert!(msg.contains("mu.alloc"), "the message says what to do: {msg}");
        let msg = panic_message(|| s.vec.extend([x]));
        assert!(msg.starts_with("GcVec::extend on a GcVec that is not inside"), "{msg}");
        let msg = panic_message(|| s.vec.insert(0, x));
        assert!(msg.starts_with("GcVec::insert on a GcVec that is not inside"), "{msg}");
        let msg = panic_message(|| {
            let _ = s.vec.try_insert(0, x);
        });
        assert!(msg.starts_with("GcVec::insert on a GcVec that is not inside"), "{msg}");
        let msg = panic_message(|| s.vec.set(0, x));
        assert!(msg.starts_with("GcVec::set on a GcVec that is not inside"), "{msg}");
        let msg = panic_message(|| {
            let _ = s.vec.try_set(0, x);
        });
        assert!(msg.starts_with("GcVec::set on a GcVec that is not inside"), "{msg}");
        let msg = panic_message(|| {
            s.map.insert(1, x);
        });
        assert!(msg.starts_with("GcMap::insert on a GcMap that is not inside"), "{msg}");
        let msg = panic_message(|| {
            s.ids.insert(x, x);
        });
        assert!(msg.starts_with("GcIdMap::insert on a GcIdMap that is not inside"), "{msg}");
        // Reads see them empty; removals are no-ops.
        assert!(s.vec.is_empty() && s.vec.get(0, &mu).is_none() && s.vec.pop(&mu).is_none());
        assert!(s.vec.try_remove(0, &mu).is_err() && s.vec.iter(&mu).next().is_none());
        s.vec.truncate(0);
        s.vec.clear();
        assert!(s.map.is_empty() && s.map.get(&1, &mu).is_none() && s.map.remove(&1, &mu).is_none());
        s.map.clear();
        assert!(s.ids.is_empty() && s.ids.get(x, &mu).is_none() && s.ids.remove(x, &mu).is_none());
        s.ids.clear();
        assert!(format!("{:?}", s.vec).contains("armed: false"));
        assert!(format!("{:?}", s.map).contains("armed: false"));
        assert!(format!("{:?}", s.ids).contains("armed: false"));
    }
}

// ---------------------------------------------------------------------------------------------
// Debug: addresses only, no recursion on cycles.

#[derive(Trace)]
struct Cyclic {
    vec: GcVec<Cyclic>,
    map: GcMap<&'static str, Cyclic>,
    ids: GcIdMap<Cyclic, Cyclic>,
}

#[test]
fn debug_prints_addresses_and_terminates_on_cycles() {
    let mu = gc_runtime::attach();
    let c = mu.alloc(Cyclic { vec: GcVec::new(), map: GcMap::new(), ids: GcIdMap::new() });
    c.vec.push(c);
    c.vec.push(c);
    c.map.insert("self", c);
    c.ids.insert(c, c);
    let a = c.addr();
    assert_eq!(format!("{:?}", c.vec), format!("GcVec {{ len: 2, elements: [{a:#x}, {a:#x}] }}"));
    assert_eq!(format!("{:?}", c.map), format!("GcMap {{ len: 1, entries: {{\"self\": {a:#x}}} }}"));
    assert_eq!(format!("{:?}", c.ids), format!("GcIdMap {{ len: 1, entries: {{{a:#x}: {a:#x}}} }}"));
    assert!(format!("{:#?}", c.vec).contains(&format!("{a:#x}")));
    let it = c.vec.iter(&mu);
    assert!(format!("{it:?}").starts_with("GcVecIter"));
}

// ---------------------------------------------------------------------------------------------
// Survival across cycles; removed elements are freed.

#[test]
fn vec_contents_survive_cycles_and_removed_elements_are_freed() {
    let ledger = Ledger::new(256);
    let mut mu = gc_runtime::attach();
    let root: Root<Holder> = holder(&mu).root(&mu);
    {
        let h = root.get(&mu);
        for _ in 0..100 {
            let e = ledger.elem(&mu);
            h.vec.push(e);
            e.kids.push(ledger.elem(&mu)); // nested collection: traced through the element
        }
    }
    for _ in 0..3 {
        mu.collect();
    }
    assert_eq!(ledger.total_drops(), 0, "everything is reachable");
    {
        let h = root.get(&mu);
        assert_eq!(h.vec.iter(&mu).map(|e| e.check()).collect::<Vec<_>>(), (0..200).step_by(2).collect::<Vec<_>>());
        for e in h.vec.iter(&mu) {
            assert_eq!(e.kids.get(0, &mu).unwrap().check(), e.id + 1);
        }
        // Remove in every way: 98 (pop), 0 (remove), 2 (set over it), the last 10 (truncate).
        assert_eq!(h.vec.pop(&mu).unwrap().id, 198);
        assert_eq!(h.vec.remove(0, &mu).id, 0);
        h.vec.set(0, ledger.elem(&mu)); // overwrites element 2 with 200
        h.vec.truncate(h.vec.len() - 10);
    }
    mu.collect();
    let h = root.get(&mu);
    let mut alive = reachable(&mu, &h);
    assert_eq!(alive.len(), 2 * 87 + 1);
    ledger.check_exactly(&alive);
    // Clearing frees the rest.
    h.vec.clear();
    mu.collect();
    alive.clear();
    ledger.check_exactly(&alive);
    assert_eq!(ledger.total_drops(), ledger.created());
}

#[test]
fn map_contents_survive_cycles_and_removed_values_are_freed() {
    let ledger = Ledger::new(256);
    let mut mu = gc_runtime::attach();
    let root = holder(&mu).root(&mu);
    {
        let h = root.get(&mu);
        for i in 0..50 {
            h.map.insert(i, ledger.elem(&mu));
            h.names.insert(format!("n{i}"), ledger.elem(&mu));
        }
    }
    for _ in 0..3 {
        mu.collect();
    }
    assert_eq!(ledger.total_drops(), 0);
    {
        let h = root.get(&mu);
        for i in 0..50 {
            assert_eq!(h.map.get(&i, &mu).unwrap().check(), 2 * i);
            assert_eq!(h.names.get(format!("n{i}").as_str(), &mu).unwrap().check(), 2 * i + 1);
        }
        // remove, replace, and a value shared by two keys.
        assert_eq!(h.map.remove(&0, &mu).unwrap().id, 0);
        assert!(h.map.insert(1, ledger.elem(&mu))); // frees 2
        let shared = h.map.get(&2, &mu).unwrap(); // 4
        h.names.insert("shared".into(), shared);
        h.map.remove(&2, &mu); // 4 stays: still under "shared"
        h.names.clear(); // frees all odd ids but 4 stays
        h.names.insert("shared".into(), shared);
    }
    mu.collect();
    let h = root.get(&mu);
    let alive = reachable(&mu, &h);
    assert!(alive.contains(&4) && !alive.contains(&0) && !alive.contains(&2) && !alive.contains(&1));
    ledger.check_exactly(&alive);
}

#[test]
fn id_map_keeps_keys_alive_and_frees_removed_entries() {
    let ledger = Ledger::new(256);
    let mut mu = gc_runtime::attach();
    let root = holder(&mu).root(&mu);
    {
        let h = root.get(&mu);
        for _ in 0..40 {
            // The key is reachable only through the map.
            h.ids.insert(ledger.elem(&mu), ledger.elem(&mu));
        }
    }
    for _ in 0..3 {
        mu.collect();
    }
    assert_eq!(ledger.total_drops(), 0, "keys and values are kept alive by the map");
    {
        let h = root.get(&mu);
        let entries = h.ids.entries(&mu);
        assert_eq!(entries.len(), 40);
        for &(k, v) in &entries {
            assert_eq!(k.check() + 1, v.check());
            assert!(Gc::ptr_eq(h.ids.get(k, &mu).unwrap(), v));
        }
        // Remove the entries with an even key id, replace the value of one other entry.
        for &(k, _) in &entries {
            if k.id % 4 == 0 {
                h.ids.remove(k, &mu);
            }
        }
        let (k, _) = *entries.iter().find(|(k, _)| k.id % 4 == 2).unwrap();
        h.ids.insert(k, ledger.elem(&mu));
    }
    mu.collect();
    let h = root.get(&mu);
    let alive = reachable(&mu, &h);
    assert_eq!(alive.len(), 40);
    ledger.check_exactly(&alive);
    h.ids.clear();
    mu.collect();
    assert_eq!(ledger.total_drops(), ledger.created());
}

#[test]
fn maps_with_many_keys() {
    let n: u64 = if cfg!(miri) { 300 } else { 20_000 };
    let ledger = Ledger::new(3 * n as usize + 10);
    let mut mu = gc_runtime::attach();
    let root = holder(&mu).root(&mu);
    {
        let h = root.get(&mu);
        for i in 0..n {
            let e = ledger.elem(&mu);
            h.map.insert(i, e);
            h.names.insert(format!("key-{i}"), e);
            h.ids.insert(e, ledger.elem(&mu));
        }
    }
    mu.collect();
    {
        let h = root.get(&mu);
        assert_eq!((h.map.len(), h.names.len(), h.ids.len()), (n as usize, n as usize, n as usize));
        for i in 0..n {
            let e = h.map.get(&i, &mu).unwrap();
            assert!(Gc::ptr_eq(e, h.names.get(format!("key-{i}").as_str(), &mu).unwrap()));
            assert_eq!(h.ids.get(e, &mu).unwrap().check(), e.check() + 1);
        }
        // Drop every other key from all three maps.
        for i in (0..n).step_by(2) {
            let e = h.map.remove(&i, &mu).unwrap();
            h.names.remove(format!("key-{i}").as_str(), &mu).unwrap();
            h.ids.remove(e, &mu).unwrap();
        }
    }
    mu.collect();
    let h = root.get(&mu);
    let alive = reachable(&mu, &h);
    assert_eq!(alive.len(), n as usize);
    ledger.check_exactly(&alive);
}

// ---------------------------------------------------------------------------------------------
// Concurrent use while cycles run back to back, checkmark on.

fn configure(barrier: BarrierKind) {
    gc_runtime::reconfigure(
        Config::default()
            .with_mode(Mode::Concurrent)
            .with_barrier(barrier)
            .with_checkmark(true)
            .with_gc_percent(Some(50)),
    )
    .unwrap();
}

/// Run `work` on `MUTATORS` threads (each with its own mutator) while another thread runs
/// collection cycles back to back, for `RUN_FOR` and at least `CYCLES_DURING_A_RUN` cycles
/// (the `stop` flag tells the workers when); returns the number of cycles.
fn with_cycles(work: impl Fn(usize, &mut Mutator, &AtomicBool) + Sync) -> u64 {
    let before = gc_runtime::stats().cycles;
    let stop = AtomicBool::new(false);
    thread::scope(|s| {
        let workers: Vec<_> = (0..MUTATORS)
            .map(|t| {
                let (work, stop) = (&work, &stop);
                s.spawn(move || {
                    let mut mu = gc_runtime::attach();
                    work(t, &mut mu, stop);
                })
            })
            .collect();
        s.spawn(|| {
            let mut mu = gc_runtime::attach();
            while !stop.load(Ordering::Relaxed) {
                mu.collect();
            }
        });
        // The run lasts `RUN_FOR` and then until `CYCLES_DURING_A_RUN` cycles have completed
        // (a loaded machine may take longer for them), or until every worker is done.
        let started = Instant::now();
        let long_enough = || {
            let elapsed = started.elapsed();
            elapsed >= RUN_FOR && (gc_runtime::stats().cycles - before >= CYCLES_DURING_A_RUN || elapsed >= RUN_AT_MOST)
        };
        while !long_enough() && !workers.iter().all(|w| w.is_finished()) {
            thread::sleep(Duration::from_millis(10));
        }
        stop.store(true, Ordering::Relaxed);
        for w in workers {
            if let Err(e) = w.join() {
                std::panic::resume_unwind(e);
            }
        }
    });
    let stats = gc_runtime::stats();
    let cycles = stats.cycles - before;
    let verified: Vec<_> = stats.recent.iter().rev().take(cycles as usize).collect();
    assert!(verified.iter().all(|c| c.checkmarked_objects.is_some()), "checkmark ran on every cycle");
    cycles
}

/// Growth while the marker scans: three mutators push into one vector (reallocating it again
/// and again) and insert fresh keys into the maps (rehashing them) while cycles run; nothing
/// may be lost or freed.
fn growth_during_marking(barrier: BarrierKind) {
    let _serial = serial();
    configure(barrier);
    let per_thread: u64 = if cfg!(miri) { 300 } else { 150_000 };
    let ledger = Ledger::new(2 * MUTATORS * per_thread as usize + 10);
    let root = {
        let mu = gc_runtime::attach();
        holder(&mu).root(&mu)
    };
    let pushed = AtomicUsize::new(0);
    let during_mark = AtomicUsize::new(0);
    let cycles = with_cycles(|t, mu, stop| {
        let mut i = 0;
        while i < per_thread && !stop.load(Ordering::Relaxed) {
            for _ in 0..(per_thread - i).min(32) {
                let h = root.get(mu);
                let e = ledger.elem(mu);
                if gc_runtime::phase() == Phase::Mark {
                    during_mark.fetch_add(1, Ordering::Relaxed);
                }
                h.vec.push(e);
                let key = i * MUTATORS as u64 + t as u64;
                h.map.insert(key, e);
                h.names.insert(format!("{key}"), e);
                h.ids.insert(e, ledger.elem(mu));
                i += 1;
                pushed.fetch_add(1, Ordering::Relaxed);
            }
            mu.safepoint();
        }
    });
    let pushed = pushed.load(Ordering::Relaxed);
    let during_mark = during_mark.load(Ordering::Relaxed);
    eprintln!("{barrier:?}: {pushed} elements pushed ({during_mark} while marking), {cycles} cycles");
    assert!(cycles >= CYCLES_DURING_A_RUN, "cycles ran during the pushes ({cycles})");
    if !cfg!(miri) {
        assert!(during_mark > 0, "some pushes happened while marking");
    }
    let mut mu = gc_runtime::attach();
    mu.collect();
    let h = root.get(&mu);
    assert_eq!(h.vec.len(), pushed);
    assert_eq!((h.map.len(), h.names.len(), h.ids.len()), (pushed, pushed, pushed));
    let mut seen: Vec<u64> = h.vec.iter(&mu).map(|e| e.check()).collect();
    seen.sort_unstable();
    seen.dedup();
    assert_eq!(seen.len(), pushed, "every pushed element is there once");
    for (k, e) in h.map.entries(&mu) {
        assert!(Gc::ptr_eq(e, h.names.get(k.to_string().as_str(), &mu).unwrap()));
        assert_ne!(h.ids.get(e, &mu).unwrap().check(), e.check());
    }
    let alive = reachable(&mu, &h);
    assert_eq!(alive.len(), 2 * pushed);
    ledger.check_exactly(&alive);
    drop(root);
    mu.collect();
    assert_eq!(ledger.total_drops(), ledger.created(), "with the root gone every element is freed");
}

/// The harness of the lock-free read tests: one thread runs `write` (with its own random
/// numbers, seeded with `seed`) `writes` times and on until `min_cycles` cycles have run, with
/// a safepoint every 16 writes; two threads run `read` (with the number of the round) with a
/// safepoint after each round until the writer is done; a fourth collects back to back
/// meanwhile. Returns the read rounds and the cycles. A panic on any thread fails the test.
fn writer_beside_two_readers_and_cycles(
    writes: usize,
    min_cycles: u64,
    seed: u64,
    write: impl Fn(&Mutator, &mut Rng) + Sync,
    read: impl Fn(&Mutator, u64) + Sync,
) -> (u64, u64) {
    let (reads, cycles) = (AtomicU64::new(0), AtomicU64::new(0));
    let writer_done = AtomicBool::new(false);
    let reader = || {
        let mut mu = gc_runtime::attach();
        while !writer_done.load(Ordering::Relaxed) {
            read(&mu, reads.fetch_add(1, Ordering::Relaxed));
            mu.safepoint();
        }
    };
    thread::scope(|s| {
        let threads = [
            s.spawn(|| {
                let mut mu = gc_runtime::attach();
                let mut rng = Rng(seed);
                let mut w = 0;
                while w < writes || cycles.load(Ordering::Relaxed) < min_cycles {
                    write(&mu, &mut rng);
                    w += 1;
                    if w % 16 == 0 {
                        mu.safepoint();
                    }
                }
                writer_done.store(true, Ordering::Relaxed);
            }),
            s.spawn(reader),
            s.spawn(reader),
            s.spawn(|| {
                let mut mu = gc_runtime::attach();
                while !writer_done.load(Ordering::Relaxed) {
                    mu.collect();
                    cycles.fetch_add(1, Ordering::Relaxed);
                }
            }),
        ];
        for t in threads {
            if let Err(e) = t.join() {
                std::panic::resume_unwind(e);
            }
        }
    });
    (reads.load(Ordering::Relaxed), cycles.load(Ordering::Relaxed))
}

/// Lock-free reads while one thread changes the vector's structure and cycles run: two
/// mutators read (`get`, `iter`, `last`, `contains`, `to_vec`, `len`) without any lock while a
/// third pushes (growing the buffer), inserts and removes at random indices, pops, truncates
/// and sets, and a fourth collects back to back. The writer never lets the length drop below
/// `FLOOR`, so at every instant indices below it hold an element: a reader must never find one
/// of them empty (a shift or a growth that exposed a hole), and every element it reads must be
/// intact (not freed, not torn). The writer goes on until it has made its writes *and* two
/// cycles have run, so reads and writes overlap marking however slow the machine (or Miri).
fn lock_free_reads_during_structural_writes(barrier: BarrierKind) {
    const FLOOR: usize = if cfg!(miri) { 8 } else { 64 };
    const CAP: usize = if cfg!(miri) { 40 } else { 5_000 };
    // Under ThreadSanitizer (`--cfg gc_tsan`, CI), a quarter: each write is checked there.
    const WRITES: usize = if cfg!(miri) {
        150
    } else if cfg!(gc_tsan) {
        50_000
    } else {
        200_000
    };
    const MIN_CYCLES: u64 = 2;
    let _serial = serial();
    configure(barrier);
    let ledger = Ledger::new(if cfg!(miri) { 20_000 } else { 2_000_000 });
    let root = {
        let mu = gc_runtime::attach();
        let h = holder(&mu);
        h.vec.extend((0..FLOOR).map(|_| ledger.elem(&mu)));
        h.root(&mu)
    };
    let (reads, cycles) = writer_beside_two_readers_and_cycles(
        WRITES,
        MIN_CYCLES,
        0x5EED_0001,
        |mu, rng| {
            let v = &root.get(mu).vec;
            let len = v.len();
            match rng.below(8) {
                0 | 1 if len < CAP => v.push(fresh_or_reused(&ledger, v, mu)),
                2 if len < CAP => v.insert(rng.below(len + 1), fresh_or_reused(&ledger, v, mu)),
                3 if len > FLOOR => {
                    v.remove(rng.below(len), mu).check();
                }
                4 if len > FLOOR => {
                    v.pop(mu).expect("above the floor").check();
                }
                5 if len > FLOOR && rng.below(50) == 0 => v.truncate(FLOOR + rng.below(len - FLOOR)),
                _ => v.set(rng.below(len), fresh_or_reused(&ledger, v, mu)),
            }
        },
        |mu, round| {
            let v = &root.get(mu).vec;
            assert!(v.len() >= FLOOR, "the length never drops below the floor");
            for i in 0..FLOOR {
                v.get(i, mu).unwrap_or_else(|| panic!("index {i} below the floor read as empty")).check();
            }
            let first = v.get(0, mu).expect("below the floor");
            let seen = v.iter(mu).inspect(|e| {
                e.check();
            });
            assert!(seen.count() >= FLOOR, "an iteration saw every index below the floor");
            v.last(mu).expect("never empty").check();
            assert!(v.contains(first) || !Gc::ptr_eq(first, v.get(0, mu).expect("below the floor")));
            // Under Miri (where a round is slow) the whole-vector copies run every fourth round.
            if !cfg!(miri) || round % 4 == 0 {
                assert!(!format!("{:?}", v).contains("null"), "Debug shows elements only");
                assert!(v.to_vec(mu).len() >= FLOOR);
            }
        },
    );
    eprintln!("{barrier:?}: {reads} read rounds, {cycles} cycles");
    assert!(cycles >= MIN_CYCLES && reads > 0, "cycles ({cycles}) and reads ({reads}) ran during the writes");
    let mut mu = gc_runtime::attach();
    mu.collect();
    let h = root.get(&mu);
    let alive = reachable(&mu, &h);
    assert_eq!(alive.len(), h.vec.len());
    ledger.check_exactly(&alive);
    drop(root);
    mu.collect();
    assert_eq!(ledger.total_drops(), ledger.created(), "with the root gone every element is freed");
}

/// A map of the holder keyed by elements, for the lock-free lookup tests: by identity (`ids`,
/// a `GcIdMap`), or by the name each element gives (`names`, a `GcMap<String, _>`).
trait KeyedByElem {
    fn insert(h: &Holder, k: Gc<'_, Elem>, v: Gc<'_, Elem>) -> bool;
    fn remove<'m>(h: &Holder, k: Gc<'_, Elem>, mu: &'m Mutator) -> Option<Gc<'m, Elem>>;
    fn get<'m>(h: &Holder, k: Gc<'_, Elem>, mu: &'m Mutator) -> Option<Gc<'m, Elem>>;
    fn contains(h: &Holder, k: Gc<'_, Elem>) -> bool;
    fn len(h: &Holder) -> usize;
}

/// `Holder::ids`.
struct ById;

impl KeyedByElem for ById {
    fn insert(h: &Holder, k: Gc<'_, Elem>, v: Gc<'_, Elem>) -> bool {
        h.ids.insert(k, v)
    }
    fn remove<'m>(h: &Holder, k: Gc<'_, Elem>, mu: &'m Mutator) -> Option<Gc<'m, Elem>> {
        h.ids.remove(k, mu)
    }
    fn get<'m>(h: &Holder, k: Gc<'_, Elem>, mu: &'m Mutator) -> Option<Gc<'m, Elem>> {
        h.ids.get(k, mu)
    }
    fn contains(h: &Holder, k: Gc<'_, Elem>) -> bool {
        h.ids.contains_key(k)
    }
    fn len(h: &Holder) -> usize {
        h.ids.len()
    }
}

/// `Holder::names`, keyed by [`name_of`] the element: keys compared by `Eq`, each a `String`
/// whose drop waits until no lookup can be comparing against it.
struct ByName;

/// `Holder::weak`: keys held by identity, not kept alive by the map (the holder's vector keeps
/// them), and lookups that are weak reads.
struct ByWeak;

impl KeyedByElem for ByWeak {
    fn insert(h: &Holder, k: Gc<'_, Elem>, v: Gc<'_, Elem>) -> bool {
        h.weak.insert(k, v)
    }
    fn remove<'m>(h: &Holder, k: Gc<'_, Elem>, mu: &'m Mutator) -> Option<Gc<'m, Elem>> {
        h.weak.remove(k, mu)
    }
    fn get<'m>(h: &Holder, k: Gc<'_, Elem>, mu: &'m Mutator) -> Option<Gc<'m, Elem>> {
        h.weak.get(k, mu)
    }
    fn contains(h: &Holder, k: Gc<'_, Elem>) -> bool {
        h.weak.contains_key(k)
    }
    fn len(h: &Holder) -> usize {
        h.weak.len()
    }
}

/// The string key an element names.
fn name_of(e: Gc<'_, Elem>) -> String {
    format!("k{}", e.check())
}

impl KeyedByElem for ByName {
    fn insert(h: &Holder, k: Gc<'_, Elem>, v: Gc<'_, Elem>) -> bool {
        h.names.insert(name_of(k), v)
    }
    fn remove<'m>(h: &Holder, k: Gc<'_, Elem>, mu: &'m Mutator) -> Option<Gc<'m, Elem>> {
        h.names.remove(&name_of(k), mu)
    }
    fn get<'m>(h: &Holder, k: Gc<'_, Elem>, mu: &'m Mutator) -> Option<Gc<'m, Elem>> {
        h.names.get(&name_of(k), mu)
    }
    fn contains(h: &Holder, k: Gc<'_, Elem>) -> bool {
        h.names.contains_key(&name_of(k))
    }
    fn len(h: &Holder) -> usize {
        h.names.len()
    }
}

/// Lock-free lookups in a map keyed by elements (`M`) while one thread adds and removes keys
/// (rehashing the table as it grows and as removed entries pile up) and overwrites values, and
/// a fourth collects back to back. Each value holds its key element in its `kids` vector, so a
/// reader can tell a value read for a key from another key's (an entry reused while a reader
/// probes it). The `FLOOR` keys at the front of the holder's vector are never removed: readers
/// must always find them. The churned keys follow them in the vector (and are removed from
/// both); a reader may find one gone, but never with another key's value.
fn lock_free_keyed_reads_during_structural_writes<M: KeyedByElem>(barrier: BarrierKind) {
    const FLOOR: usize = if cfg!(miri) { 4 } else { 32 };
    const CAP: usize = if cfg!(miri) { 24 } else { 3_000 };
    // Under ThreadSanitizer (`--cfg gc_tsan`, CI), a quarter: each write is checked there.
    const WRITES: usize = if cfg!(miri) {
        120
    } else if cfg!(gc_tsan) {
        37_500
    } else {
        150_000
    };
    const MIN_CYCLES: u64 = 2;
    let _serial = serial();
    configure(barrier);
    let ledger = Ledger::new(if cfg!(miri) { 20_000 } else { 2_000_000 });
    let root = {
        let mu = gc_runtime::attach();
        let h = holder(&mu);
        for _ in 0..FLOOR {
            let k = ledger.elem(&mu);
            h.vec.push(k);
            M::insert(&h, k, value_for(&ledger, k, &mu));
        }
        h.root(&mu)
    };
    let (reads, cycles) = writer_beside_two_readers_and_cycles(
        WRITES,
        MIN_CYCLES,
        0x5EED_0003,
        |mu, rng| {
            let h = root.get(mu);
            let len = h.vec.len();
            match rng.below(4) {
                0 | 1 if len < CAP && !ledger.nearly_full(10) => {
                    let k = ledger.elem(mu);
                    assert!(!M::insert(&h, k, value_for(&ledger, k, mu)), "a new key");
                    h.vec.push(k);
                }
                2 if len > FLOOR => {
                    let k = h.vec.remove(FLOOR + rng.below(len - FLOOR), mu);
                    check_pair(k, M::remove(&h, k, mu).expect("a churned key is in the map"), mu);
                }
                _ if !ledger.nearly_full(10) => {
                    let k = h.vec.get(rng.below(len), mu).expect("in range");
                    assert!(M::insert(&h, k, value_for(&ledger, k, mu)), "an overwrite");
                }
                _ => {}
            }
        },
        |mu, round| {
            let h = root.get(mu);
            assert!(M::len(&h) >= FLOOR, "the map never holds fewer than the floor");
            for i in 0..FLOOR {
                let k = h.vec.get(i, mu).expect("below the floor");
                let v = M::get(&h, k, mu).unwrap_or_else(|| panic!("floor key {i} read as absent"));
                check_pair(k, v, mu);
                assert!(M::contains(&h, k));
            }
            let mut rng = Rng(0x5EED_0002 ^ round);
            for _ in 0..FLOOR {
                let churned = h.vec.len().saturating_sub(FLOOR);
                if let Some(k) = h.vec.get(FLOOR + rng.below(churned), mu) {
                    if let Some(v) = M::get(&h, k, mu) {
                        check_pair(k, v, mu);
                    }
                }
            }
        },
    );
    eprintln!("{barrier:?}: {reads} read rounds, {cycles} cycles");
    assert!(cycles >= MIN_CYCLES && reads > 0, "cycles ({cycles}) and reads ({reads}) ran during the writes");
    let mut mu = gc_runtime::attach();
    mu.collect();
    let h = root.get(&mu);
    assert_eq!(M::len(&h), h.vec.len(), "every key in the vector is in the map, and no other");
    for k in h.vec.to_vec(&mu) {
        check_pair(k, M::get(&h, k, &mu).expect("in the map"), &mu);
    }
    let alive = reachable(&mu, &h);
    assert_eq!(alive.len(), 2 * h.vec.len());
    ledger.check_exactly(&alive);
    drop(root);
    mu.collect();
    assert_eq!(ledger.total_drops(), ledger.created(), "with the root gone every element is freed");
}

#[test]
fn lock_free_id_map_reads_during_structural_writes_dijkstra() {
    lock_free_keyed_reads_during_structural_writes::<ById>(BarrierKind::Dijkstra);
}

#[test]
fn lock_free_id_map_reads_during_structural_writes_yuasa() {
    lock_free_keyed_reads_during_structural_writes::<ById>(BarrierKind::Yuasa);
}

#[test]
fn lock_free_id_map_reads_during_structural_writes_hybrid() {
    lock_free_keyed_reads_during_structural_writes::<ById>(BarrierKind::Hybrid);
}

/// A value for `key` (a key object, or the element a string key names): a new element
/// holding `key`, so a reader can tell a value read for a key from another key's.
fn value_for<'m>(ledger: &Arc<Ledger>, key: Gc<'_, Elem>, mu: &'m Mutator) -> Gc<'m, Elem> {
    let v = ledger.elem(mu);
    v.kids.push(key);
    v
}

/// `v` read for `key`: intact, and `key`'s.
fn check_pair(key: Gc<'_, Elem>, v: Gc<'_, Elem>, mu: &Mutator) {
    v.check();
    let owner = v.kids.get(0, mu).expect("a value holds its key");
    assert!(Gc::ptr_eq(owner, key), "key {} read a value of key {}", key.check(), owner.check());
}

#[test]
fn lock_free_weak_map_reads_during_structural_writes_dijkstra() {
    lock_free_keyed_reads_during_structural_writes::<ByWeak>(BarrierKind::Dijkstra);
}

#[test]
fn lock_free_weak_map_reads_during_structural_writes_yuasa() {
    lock_free_keyed_reads_during_structural_writes::<ByWeak>(BarrierKind::Yuasa);
}

#[test]
fn lock_free_weak_map_reads_during_structural_writes_hybrid() {
    lock_free_keyed_reads_during_structural_writes::<ByWeak>(BarrierKind::Hybrid);
}

#[test]
fn lock_free_map_reads_during_structural_writes_dijkstra() {
    lock_free_keyed_reads_during_structural_writes::<ByName>(BarrierKind::Dijkstra);
}

#[test]
fn lock_free_map_reads_during_structural_writes_yuasa() {
    lock_free_keyed_reads_during_structural_writes::<ByName>(BarrierKind::Yuasa);
}

#[test]
fn lock_free_map_reads_during_structural_writes_hybrid() {
    lock_free_keyed_reads_during_structural_writes::<ByName>(BarrierKind::Hybrid);
}

/// `contains` of an element that stays in the vector throughout, while another thread shifts
/// it back and forth (an insertion at the front, then a removal): a lock-free scan can miss it
/// as it moves past, so `contains` looks again under the lock before it answers no.
#[test]
fn contains_finds_an_element_present_throughout_a_concurrent_shift() {
    let _serial = serial();
    configure(BarrierKind::Hybrid);
    let ledger = Ledger::new(100);
    let root = {
        let mu = gc_runtime::attach();
        let h = holder(&mu);
        h.vec.extend((0..64).map(|_| ledger.elem(&mu)));
        h.root(&mu)
    };
    let (done, shifts) = (AtomicBool::new(false), AtomicU64::new(0));
    let target_shifts: u64 = if cfg!(miri) { 50 } else { 200_000 };
    thread::scope(|s| {
        s.spawn(|| {
            let mut mu = gc_runtime::attach();
            let z = root.get(&mu).vec.get(0, &mu).expect("not empty").root(&mu);
            while !done.load(Ordering::Relaxed) {
                let v = &root.get(&mu).vec;
                v.insert(0, z.get(&mu));
                v.remove(0, &mu);
                shifts.fetch_add(1, Ordering::Relaxed);
                mu.safepoint();
            }
        });
        // Stops the shifting thread also when an assertion below fails.
        struct Done<'a>(&'a AtomicBool);
        impl Drop for Done<'_> {
            fn drop(&mut self) {
                self.0.store(true, Ordering::Relaxed);
            }
        }
        let _done = Done(&done);
        let mut mu = gc_runtime::attach();
        let y = root.get(&mu).vec.last(&mu).expect("not empty").root(&mu);
        let (mut calls, mut misses) = (0, 0);
        while shifts.load(Ordering::Relaxed) < target_shifts {
            calls += 1;
            if !root.get(&mu).vec.contains(y.get(&mu)) {
                misses += 1;
            }
            mu.safepoint();
        }
        assert_eq!(misses, 0, "the last element is in the vector throughout ({calls} calls)");
    });
}

/// A new element, or once the ledger runs out of ids (a writer waiting for slow cycles), the
/// vector's first.
fn fresh_or_reused<'m>(ledger: &Arc<Ledger>, v: &GcVec<Elem>, mu: &'m Mutator) -> Gc<'m, Elem> {
    if ledger.nearly_full(10) {
        v.get(0, mu).expect("never empty")
    } else {
        ledger.elem(mu)
    }
}

#[test]
fn lock_free_reads_during_structural_writes_dijkstra() {
    lock_free_reads_during_structural_writes(BarrierKind::Dijkstra);
}

#[test]
fn lock_free_reads_during_structural_writes_yuasa() {
    lock_free_reads_during_structural_writes(BarrierKind::Yuasa);
}

#[test]
fn lock_free_reads_during_structural_writes_hybrid() {
    lock_free_reads_during_structural_writes(BarrierKind::Hybrid);
}

#[test]
fn growth_during_marking_dijkstra() {
    growth_during_marking(BarrierKind::Dijkstra);
}

#[test]
fn growth_during_marking_yuasa() {
    growth_during_marking(BarrierKind::Yuasa);
}

#[test]
fn growth_during_marking_hybrid() {
    growth_during_marking(BarrierKind::Hybrid);
}

const HOLDERS: usize = 32;
const VEC_CAP: usize = 200;
const MAP_CAP: usize = 256;
const KEYS: u64 = 128;

/// Several holders, each a separate object the marker scans at its own time, so that moving
/// an element from one to another during marking exercises each barrier's promise.
#[derive(Trace)]
struct World {
    holders: GcVec<Holder>,
}

fn world(mu: &Mutator) -> Root<World> {
    let w = mu.alloc(World { holders: GcVec::new() });
    w.holders.extend((0..HOLDERS).map(|_| holder(mu)));
    w.root(mu)
}

fn reachable_in_world(mu: &Mutator, w: &World) -> HashSet<u64> {
    w.holders.iter(mu).flat_map(|h| reachable(mu, &h)).collect()
}

/// Push `x`, or overwrite an element if the vector is full.
fn push_capped(v: &GcVec<Elem>, x: Gc<'_, Elem>) {
    if v.len() < VEC_CAP {
        v.push(x);
    } else {
        let _ = v.try_set(x.id as usize % VEC_CAP, x);
    }
}

/// One random operation on the shared collections: stores, removals, reads, and moves of an
/// element out of one holder into another (the pattern each barrier exists for: under Yuasa
/// the removal must shade it, under Dijkstra the store must).
fn mixed_op(mu: &Mutator, w: &World, ledger: &Arc<Ledger>, rng: &mut Rng) {
    let a = w.holders.get(rng.below(HOLDERS), mu).expect("holder");
    let b = w.holders.get(rng.below(HOLDERS), mu).expect("holder");
    let len = a.vec.len();
    let some_elem = |rng: &mut Rng| a.vec.get(rng.below(len), mu);
    let key = rng.next() % KEYS;
    match rng.below(100) {
        0..=11 => push_capped(&a.vec, ledger.elem(mu)),
        12..=15 => {
            if let Some(e) = a.vec.pop(mu) {
                e.check();
            }
        }
        16..=21 => {
            let value = b.map.get(&key, mu).unwrap_or_else(|| ledger.elem(mu));
            let _ = a.vec.try_set(rng.below(len), value);
        }
        22..=24 => {
            if len < VEC_CAP {
                let _ = a.vec.try_insert(rng.below(len + 1), ledger.elem(mu));
            }
        }
        25..=27 => {
            if let Ok(e) = a.vec.try_remove(rng.below(len), mu) {
                e.check();
            }
        }
        28 => a.vec.truncate(len / 2),
        29..=36 => {
            let value = some_elem(rng).unwrap_or_else(|| ledger.elem(mu));
            a.map.insert(key, if rng.below(2) == 0 { value } else { ledger.elem(mu) });
            a.names.insert(format!("k{}", key % 32), value);
        }
        37..=40 => {
            if let Some(e) = a.map.remove(&key, mu) {
                e.check();
            }
            a.names.remove(format!("k{}", key % 32).as_str(), mu);
        }
        41..=45 => {
            if a.ids.len() > MAP_CAP {
                a.ids.clear();
            }
            if let Some(k) = some_elem(rng) {
                a.ids.insert(k, ledger.elem(mu));
            }
        }
        46..=48 => {
            if let Some(k) = some_elem(rng) {
                if let Some(v) = a.ids.remove(k, mu) {
                    v.check();
                }
            }
        }
        49..=53 => {
            // Nested collections: the kids of an element, possibly allocated black.
            if let Some(e) = some_elem(rng) {
                if e.kids.len() > 8 {
                    e.kids.truncate(2);
                }
                e.kids.push(ledger.elem(mu));
                if let Some(other) = b.vec.get(rng.below(b.vec.len()), mu) {
                    let _ = e.kids.try_set(0, other); // may make cycles
                }
            }
        }
        54 => match rng.below(8) {
            0 => a.vec.clear(),
            1 => a.map.clear(),
            2 => a.ids.clear(),
            _ => a.names.clear(),
        },
        // Moves: take out of `a`, store into `b`.
        55..=62 => {
            if let Some(x) = a.vec.pop(mu) {
                push_capped(&b.vec, x);
            }
        }
        63..=67 => {
            if let Ok(x) = a.vec.try_remove(rng.below(len), mu) {
                b.map.insert(key, x);
            }
        }
        68..=72 => {
            if let Some(x) = a.map.remove(&key, mu) {
                push_capped(&b.vec, x);
            }
            if let Some(x) = a.names.remove(format!("k{}", key % 32).as_str(), mu) {
                b.map.insert(key, x);
            }
        }
        73..=76 => {
            if let Some(&k) = a.ids.keys(mu).first() {
                if let (Some(v), Some(e)) = (a.ids.remove(k, mu), b.vec.last(mu)) {
                    e.kids.push(v);
                    push_capped(&b.vec, k);
                }
            }
        }
        77..=80 => {
            if let Some(x) = some_elem(rng).and_then(|e| e.kids.pop(mu)) {
                push_capped(&b.vec, x);
            }
        }
        81..=83 => {
            let values = a.names.values(mu);
            a.names.clear();
            for v in values.into_iter().take(4) {
                push_capped(&b.vec, v);
            }
        }
        _ => {
            // Reads, checking canaries.
            for e in a.vec.iter(mu).take(32) {
                e.check();
                for k in e.kids.iter(mu) {
                    k.check();
                }
            }
            if let Some(e) = a.map.get(&key, mu) {
                e.check();
            }
            for (k, v) in a.ids.entries(mu).into_iter().take(16) {
                k.check();
                v.check();
            }
            a.names.for_each(mu, |_, v| {
                v.check();
            });
        }
    }
}

/// Run `op` on the object `root` holds, 64 times between safepoints, on `MUTATORS` threads
/// (each with its own generator, seeded from `seed`) while cycles run back to back, until the
/// run is over (see `with_cycles`) or the ledger is nearly full; returns the cycles and the
/// operations done.
fn random_ops_with_cycles<R: Trace + Send + Sync + 'static>(
    root: &Root<R>,
    ledger: &Arc<Ledger>,
    seed: u64,
    op: fn(&Mutator, &R, &Arc<Ledger>, &mut Rng),
) -> (u64, u64) {
    let ops = AtomicU64::new(0);
    let cycles = with_cycles(|t, mu, stop| {
        let mut rng = Rng(seed.wrapping_mul(t as u64 + 1));
        let mut n = 0;
        while !stop.load(Ordering::Relaxed) && !ledger.nearly_full(10_000) {
            {
                let r = root.get(mu);
                for _ in 0..64 {
                    op(mu, &r, ledger, &mut rng);
                    n += 1;
                }
            }
            mu.safepoint();
        }
        ops.fetch_add(n, Ordering::Relaxed);
    });
    (cycles, ops.into_inner())
}

fn concurrent_mixed_use(barrier: BarrierKind) {
    let _serial = serial();
    configure(barrier);
    let ledger = Ledger::new(if cfg!(miri) { 100_000 } else { 6_000_000 });
    let root = {
        let mu = gc_runtime::attach();
        world(&mu)
    };
    let (cycles, ops) = random_ops_with_cycles(&root, &ledger, 0x2545_F491_4F6C_DD1D, mixed_op);
    assert!(cycles >= CYCLES_DURING_A_RUN, "cycles ran during the mutation ({cycles})");
    let mut mu = gc_runtime::attach();
    mu.collect();
    let w = root.get(&mu);
    let alive = reachable_in_world(&mu, &w);
    ledger.check_exactly(&alive);
    let created = ledger.created();
    let freed = ledger.total_drops();
    assert!(freed > 0, "the run made garbage");
    eprintln!(
        "{barrier:?}: {} ops, {cycles} cycles, {created} elements created, {freed} freed, {} alive",
        ops,
        alive.len()
    );
    drop(root);
    mu.collect();
    assert_eq!(ledger.total_drops(), created, "with the root gone every element is freed");
}

#[test]
fn concurrent_mixed_use_dijkstra() {
    concurrent_mixed_use(BarrierKind::Dijkstra);
}

#[test]
fn concurrent_mixed_use_yuasa() {
    concurrent_mixed_use(BarrierKind::Yuasa);
}

#[test]
fn concurrent_mixed_use_hybrid() {
    concurrent_mixed_use(BarrierKind::Hybrid);
}

/// Elements kept in each large collection: several of the marker's scan chunks (it scans a
/// large collection a chunk per visit and lets writers in between).
const LARGE: usize = if cfg!(miri) { 1_500 } else { 6_000 };

/// One random operation on large collections, biased to what a chunked scan must survive:
/// removals and insertions near the front of the vector (shifting every later element across
/// the marker's cursor), fresh keys in the maps (rehashing them, in place or by growth, with
/// removals keeping their size), and moves between the three.
fn large_op(mu: &Mutator, h: &Holder, ledger: &Arc<Ledger>, rng: &mut Rng) {
    let len = h.vec.len();
    let front = |rng: &mut Rng| rng.below(len.min(64));
    let key = rng.next() % (4 * LARGE as u64);
    match rng.below(10) {
        0 | 1 => {
            if len > LARGE / 2 {
                if let Ok(e) = h.vec.try_remove(front(rng), mu) {
                    h.map.insert(key, e); // a move: vector to map
                }
            }
        }
        2 | 3 => {
            if len < LARGE {
                let _ = h.vec.try_insert(front(rng), ledger.elem(mu));
            }
        }
        4 => {
            if let Some(e) = h.map.remove(&key, mu) {
                let _ = h.vec.try_insert(rng.below(len + 1), e); // a move: map to vector
            }
        }
        5 | 6 => {
            if h.map.len() > LARGE {
                h.map.remove(&key, mu);
            } else {
                h.map.insert(key, ledger.elem(mu));
            }
        }
        7 | 8 => {
            if h.ids.len() > LARGE {
                if let Some(k) = h.vec.get(rng.below(len), mu) {
                    h.ids.remove(k, mu);
                }
            } else if let Some(k) = h.vec.get(rng.below(len), mu) {
                h.ids.insert(k, ledger.elem(mu));
            }
        }
        _ => {
            if let Some(e) = h.vec.get(rng.below(len), mu) {
                e.check();
            }
            if let Some(e) = h.map.get(&key, mu) {
                e.check();
            }
        }
    }
}

/// Large collections shifted and rehashed while cycles run back to back, checkmark on: the
/// marker scans each a chunk per visit, and writers move slots between two visits.
fn large_collections_during_chunked_scans(barrier: BarrierKind) {
    let _serial = serial();
    configure(barrier);
    let ledger = Ledger::new(if cfg!(miri) { 100_000 } else { 4_000_000 });
    let mu = gc_runtime::attach();
    let root = holder(&mu).root(&mu);
    {
        let h = root.get(&mu);
        h.vec.extend((0..LARGE).map(|_| ledger.elem(&mu)));
        for i in 0..LARGE as u64 {
            h.map.insert(i, ledger.elem(&mu));
            let k = h.vec.get(i as usize, &mu).expect("filled");
            h.ids.insert(k, ledger.elem(&mu));
        }
    }
    drop(mu);
    let (cycles, ops) = random_ops_with_cycles(&root, &ledger, 0x9E37_79B9_7F4A_7C15, large_op);
    assert!(cycles >= CYCLES_DURING_A_RUN, "cycles ran during the mutation ({cycles})");
    let mut mu = gc_runtime::attach();
    mu.collect();
    let h = root.get(&mu);
    let alive = reachable(&mu, &h);
    assert!(h.vec.len() >= LARGE / 2 && h.map.len() >= LARGE / 2, "the collections stayed large");
    ledger.check_exactly(&alive);
    eprintln!(
        "{barrier:?}: {} ops, {cycles} cycles, {} elements created, {} alive",
        ops,
        ledger.created(),
        alive.len()
    );
    drop(root);
    mu.collect();
    assert_eq!(ledger.total_drops(), ledger.created(), "with the root gone every element is freed");
}

#[test]
fn large_collections_during_chunked_scans_dijkstra() {
    large_collections_during_chunked_scans(BarrierKind::Dijkstra);
}

#[test]
fn large_collections_during_chunked_scans_yuasa() {
    large_collections_during_chunked_scans(BarrierKind::Yuasa);
}

#[test]
fn large_collections_during_chunked_scans_hybrid() {
    large_collections_during_chunked_scans(BarrierKind::Hybrid);
}

/// Sets the flag when dropped, so a panicking worker still stops the collecting thread.
struct StopOnDrop<'a>(&'a AtomicBool);

impl Drop for StopOnDrop<'_> {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// Removals on a thread with no mutator of its own (a scoped thread handed the vector by its
/// attached parent): under Yuasa the barrier shades through the root table's buffer.
#[test]
fn removals_from_a_thread_without_a_mutator() {
    let _serial = serial();
    configure(BarrierKind::Yuasa);
    let n = if cfg!(miri) { 20 } else { 2_000 };
    let ledger = Ledger::new(8 * n as usize + 10);
    let mut mu = gc_runtime::attach();
    let root = holder(&mu).root(&mu);
    let stop = AtomicBool::new(false);
    mu.blocking(|| {
        thread::scope(|s| {
            s.spawn(|| {
                let mut mu = gc_runtime::attach();
                while !stop.load(Ordering::Relaxed) {
                    mu.collect();
                }
            });
            s.spawn(|| {
                let _stop = StopOnDrop(&stop); // also if this thread panics
                let mu = gc_runtime::attach();
                for round in 0..n {
                    let h = root.get(&mu);
                    for _ in 0..8 {
                        let e = ledger.elem(&mu);
                        h.vec.push(e);
                        h.map.insert(round, e);
                        h.ids.insert(e, e);
                    }
                    // A scoped thread without a mutator removes; the parent stays borrowed.
                    let h: &Holder = h.into_ref();
                    thread::scope(|s2| {
                        s2.spawn(|| {
                            h.vec.truncate(4);
                            h.ids.clear();
                            h.map.clear();
                        });
                    });
                }
            });
        })
    });
    mu.collect();
    let h = root.get(&mu);
    assert_eq!(h.vec.len(), 4);
    let alive = reachable(&mu, &h);
    ledger.check_exactly(&alive);
}

/// The collections are `Send + Sync` (usable from every thread that reaches their object) and
/// can be allocated on their own.
#[test]
fn collections_are_objects() {
    fn object<T: Trace + Send + Sync + 'static>() {}
    object::<GcVec<Elem>>();
    object::<GcMap<String, Elem>>();
    object::<GcIdMap<Elem, Elem>>();
    let mu = gc_runtime::attach();
    let v = mu.alloc(GcVec::new());
    let inner = mu.alloc(GcVec::new());
    inner.push(mu.alloc(1_u8));
    v.push(inner);
    assert_eq!(*v.get(0, &mu).unwrap().get(0, &mu).unwrap(), 1);
}

/// A key that counts its drops and, if `panics`, panics in its destructor.
struct BoomKey {
    id: u32,
    panics: bool,
    drops: Arc<AtomicUsize>,
}

impl std::hash::Hash for BoomKey {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.id.hash(state);
    }
}

impl PartialEq for BoomKey {
    fn eq(&self, other: &Self) -> bool {
        self.id == other.id
    }
}

impl Eq for BoomKey {}

impl Drop for BoomKey {
    fn drop(&mut self) {
        self.drops.fetch_add(1, Ordering::SeqCst);
        assert!(!self.panics, "key {} panics in its destructor", self.id);
    }
}

#[derive(Trace)]
struct BoomMaps {
    map: GcMap<BoomKey, u32>,
    values: gc_runtime::GcValueMap<BoomKey, gc_runtime::Member<u32>>,
}

/// Several keys whose destructors panic, in one map: every key is still dropped once, and
/// the process lives. A map dropped on the finalizer counts one panicking destructor for its
/// object (dropped as a batch, the second panic used to abort the process); a `clear` gives its
/// caller the first key's panic after dropping them all.
#[test]
fn keys_whose_destructors_panic_are_all_dropped_and_the_process_lives() {
    let _s = serial();
    common::quiet_panics_on_the_finalizer();
    let mut mu = gc_runtime::attach();
    let drops = Arc::new(AtomicUsize::new(0));
    let key = |id: u32| BoomKey { id, panics: id % 3 == 1, drops: drops.clone() };
    // In maps that die with their object.
    mu.collect();
    let panics_before = gc_runtime::stats().drop_panics;
    let maps = mu.alloc(BoomMaps { map: GcMap::new(), values: gc_runtime::GcValueMap::new() });
    let one = mu.alloc(1_u32);
    for id in 0..12 {
        maps.map.insert(key(id), one);
        assert!(!maps.values.insert(key(id), Some(one)), "a new key");
    }
    assert_eq!(drops.load(Ordering::SeqCst), 0);
    for _ in 0..3 {
        mu.collect();
    }
    assert_eq!(drops.load(Ordering::SeqCst), 24, "every key of both maps dropped once");
    assert_eq!(gc_runtime::stats().drop_panics - panics_before, 1, "one panicking destructor: the object's");
    // Cleared by a caller.
    drops.store(0, Ordering::SeqCst);
    let values = mu.alloc(gc_runtime::GcValueMap::<BoomKey, gc_runtime::Member<u32>>::new());
    for id in 0..12 {
        values.insert(key(id), None);
    }
    let message = panic_message(|| values.clear());
    let id: u32 = message.split(' ').nth(1).and_then(|id| id.parse().ok()).expect(&message);
    assert!(id % 3 == 1 && message.ends_with("panics in its destructor"), "a key's panic: {message}");
    assert_eq!(drops.load(Ordering::SeqCst), 12, "every cleared key dropped once");
    assert!(values.is_empty());
}

/// Values made for `GcValueVec` elements by `BoomValue::empty`, and their drops.
static BOOM_VALUES_MADE: AtomicUsize = AtomicUsize::new(0);
static BOOM_VALUES_DROPPED: AtomicUsize = AtomicUsize::new(0);

/// While set, every `BoomDrop` panics when dropped.
static BOOM_VALUES_ALL_PANIC: AtomicBool = AtomicBool::new(false);

/// Every third one made panics when dropped (every one while `BOOM_VALUES_ALL_PANIC` is set).
struct BoomDrop(usize);

impl Drop for BoomDrop {
    fn drop(&mut self) {
        BOOM_VALUES_DROPPED.fetch_add(1, Ordering::SeqCst);
        let panics = self.0 % 3 == 1 || BOOM_VALUES_ALL_PANIC.load(Ordering::SeqCst);
        assert!(!panics, "value {} panics in its destructor", self.0);
    }
}

/// A heap value with a destructor (plain data beside its slot).
#[derive(Trace)]
struct BoomValue {
    slot: gc_runtime::Member<u32>,
    #[trace(skip)]
    _boom: BoomDrop,
}

impl gc_runtime::HeapValue for BoomValue {
    type Local<'m> = Option<Gc<'m, u32>>;

    fn empty() -> Self {
        BoomValue { slot: gc_runtime::Member::new(), _boom: BoomDrop(BOOM_VALUES_MADE.fetch_add(1, Ordering::SeqCst)) }
    }

    fn load<'m>(&self, mu: &'m Mutator) -> Option<Gc<'m, u32>> {
        self.slot.get(mu)
    }

    fn store(&self, value: Option<Gc<'_, u32>>) {
        self.slot.set(value);
    }
}

#[derive(Trace)]
struct BoomValues {
    values: gc_runtime::GcValueVec<BoomValue>,
}

/// As for the maps' keys: several values of a `GcValueVec` whose destructors panic are all
/// dropped, once, whether the vector dies with its object (one panicking destructor counted)
/// or a caller truncates it (the first panic reaches the caller).
#[test]
fn values_whose_destructors_panic_are_all_dropped_and_the_process_lives() {
    let _s = serial();
    common::quiet_panics_on_the_finalizer();
    let mut mu = gc_runtime::attach();
    mu.collect();
    let panics_before = gc_runtime::stats().drop_panics;
    let dropped = || BOOM_VALUES_DROPPED.load(Ordering::SeqCst);
    let (made_before, dropped_before) = (BOOM_VALUES_MADE.load(Ordering::SeqCst), dropped());
    let holder = mu.alloc(BoomValues { values: gc_runtime::GcValueVec::new() });
    let one = mu.alloc(1_u32);
    holder.values.extend((0..12).map(|_| Some(one)));
    assert_eq!(BOOM_VALUES_MADE.load(Ordering::SeqCst) - made_before, 12);
    for _ in 0..3 {
        mu.collect();
    }
    assert_eq!(dropped() - dropped_before, 12, "every value dropped once");
    assert_eq!(gc_runtime::stats().drop_panics - panics_before, 1, "one panicking destructor: the object's");
    let values = mu.alloc(gc_runtime::GcValueVec::<BoomValue>::new());
    values.extend((0..12).map(|_| None));
    let dropped_before = dropped();
    let message = panic_message(|| values.truncate(2));
    assert!(message.ends_with("panics in its destructor"), "a value's panic: {message}");
    assert_eq!(dropped() - dropped_before, 10, "every removed value dropped once");
    assert_eq!(values.len(), 2);
}

#[derive(Trace)]
struct BoomEntries {
    both: gc_runtime::GcValueMap<BoomKey, BoomValue>,
    values_only: gc_runtime::GcValueMap<u64, BoomValue>,
}

/// A `GcValueMap` entry whose key and value both panic when dropped: removed, cleared, replaced
/// or dying with its object, key and value are each dropped once and the process lives (an
/// entry dropped whole aborted on the value's panic while the key's unwound); and a map whose
/// keys need no drop still drops every value when it dies (its table's own drop stopped at
/// the first panicking value).
#[test]
fn entries_whose_key_and_value_both_panic_are_dropped_and_the_process_lives() {
    let _s = serial();
    common::quiet_panics_on_the_finalizer();
    let mut mu = gc_runtime::attach();
    let keys_dropped = Arc::new(AtomicUsize::new(0));
    let key = |id: u32, panics: bool| BoomKey { id, panics, drops: keys_dropped.clone() };
    let values_dropped = || BOOM_VALUES_DROPPED.load(Ordering::SeqCst);
    BOOM_VALUES_ALL_PANIC.store(true, Ordering::SeqCst);
    let map = mu.alloc(gc_runtime::GcValueMap::<BoomKey, BoomValue>::new());
    // Cleared.
    let before = values_dropped();
    for id in 0..4 {
        map.insert(key(id, true), None);
    }
    let message = panic_message(|| map.clear());
    assert!(message.ends_with("panics in its destructor"), "{message}");
    assert_eq!((keys_dropped.load(Ordering::SeqCst), values_dropped() - before), (4, 4));
    // Removed.
    map.insert(key(10, true), None);
    let message = panic_message(|| {
        let _ = map.remove(&key(10, false), &mu);
    });
    assert!(message.ends_with("panics in its destructor"), "{message}");
    // The key looked up with, the removed key and the removed value.
    assert_eq!((keys_dropped.load(Ordering::SeqCst), values_dropped() - before), (6, 5));
    // Replaced: the key passed in and the value it replaces are dropped.
    map.insert(key(20, false), None);
    let message = panic_message(|| {
        map.insert(key(20, true), None);
    });
    assert!(message.ends_with("panics in its destructor"), "{message}");
    assert_eq!((keys_dropped.load(Ordering::SeqCst), values_dropped() - before), (7, 6));
    assert_eq!(map.len(), 1);
    // Dying with their object, on the finalizer: the map above (unrooted) and two more.
    mu.collect();
    let panics_before = gc_runtime::stats().drop_panics;
    let (keys_before, before) = (keys_dropped.load(Ordering::SeqCst), values_dropped());
    let holder =
        mu.alloc(BoomEntries { both: gc_runtime::GcValueMap::new(), values_only: gc_runtime::GcValueMap::new() });
    for id in 0..4 {
        holder.both.insert(key(id, true), None);
    }
    for id in 0..6 {
        holder.values_only.insert(id, None);
    }
    for _ in 0..3 {
        mu.collect();
    }
    BOOM_VALUES_ALL_PANIC.store(false, Ordering::SeqCst);
    assert_eq!(keys_dropped.load(Ordering::SeqCst) - keys_before, 4, "every key dropped once");
    assert_eq!(values_dropped() - before, 10, "every value dropped once");
    assert_eq!(gc_runtime::stats().drop_panics - panics_before, 1, "one panicking destructor: the object's");
}
