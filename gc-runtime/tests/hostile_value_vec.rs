//! Hostile uses of `GcValueVec` and `HeapValue`, in safe code: `HeapValue` impls whose `load`,
//! `store` and `empty` panic, allocate, or use other vectors and the same one; elements that
//! try to keep an armed slot outside the heap (leaked, shared, skipped); slots nested in
//! boxes, options and arrays, and collections nested in values (refused); destructors of removed elements that use collections or panic; several threads with cycles
//! running and checkmark on; threads that leak their mutators.
//!
//! Each test says what it attacks and the safe outcome it asserts. Objects carry a canary and a
//! drop probe; elements carry a drop probe of their own (in one ledger for the whole binary), so
//! a leaked or doubly dropped element shows.
//!
//! Two tests here began as findings of this review, both fixed since (see their comments):
//! `a_value_holding_a_collection_is_refused` (a collection inside an element was scanned one
//! chunk only, and its other objects were freed while reachable: such values are now refused),
//! and `a_removed_element_is_dropped_after_the_lock_also_when_load_panics` (on that path the
//! removed element's destructor ran under the write lock).

use std::{
    cell::Cell as StdCell,
    collections::HashSet,
    ops::Range,
    panic::{catch_unwind, AssertUnwindSafe},
    sync::{
        atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering},
        Arc, OnceLock,
    },
    thread,
    time::Duration,
};

mod common;

use common::{DropProbe, Ledger};
use gc_runtime::{Gc, GcValueVec, GcVec, GlobalRoot, HeapValue, IndexOutOfRange, Member, Mutator, Root, Trace};

/// A heap object with a canary and a drop probe (in the test's own ledger).
use common::Canary as Obj;

fn obj<'m>(ledger: &Arc<Ledger>, mu: &'m Mutator) -> Gc<'m, Obj> {
    Obj::alloc(mu, ledger)
}

/// Junk: allocated by hostile `load`s and `store`s to drive mark assists.
#[derive(Trace)]
struct Junk {
    next: Member<Junk>,
    _pad: [u64; 4],
}

fn junk(mu: &Mutator, n: usize) {
    let mut head: Option<Gc<'_, Junk>> = None;
    for _ in 0..n {
        let j = mu.alloc(Junk { next: Member::new(), _pad: [0; 4] });
        j.next.set(head);
        head = Some(j);
    }
}

// ------------------------------------------------------------------------------------------
// Elements' own ledger: every element made by `empty()` gets a probe, so that an element
// dropped twice or never (a leak) shows.

fn elem_ledger() -> &'static Arc<Ledger> {
    static L: OnceLock<Arc<Ledger>> = OnceLock::new();
    L.get_or_init(|| Ledger::new(4_000_000))
}

/// The element ids made since `start`, each dropped at most once; returns how many were
/// dropped.
fn elems_dropped(range: Range<usize>) -> usize {
    let l = elem_ledger();
    range
        .map(|id| {
            let d = l.drops(id as u64);
            assert!(d <= 1, "element {id} dropped {d} times");
            d as usize
        })
        .sum()
}

fn elems_made() -> usize {
    elem_ledger().created()
}

// ------------------------------------------------------------------------------------------
// The hostile value. Its local form carries the mutator, so `store` can allocate and reach
// other vectors (through global roots); what it does is set by `MODE`.

/// `load` and `store` allocate (mark assists while a cycle runs).
const ALLOC: u32 = 1;
/// `store` pushes its object into `OTHER` and pops one back; `load` reads `OTHER`.
const OTHER_VEC: u32 = 2;
/// `store` uses the same vector (`SAME`): reads it, pushes, pops and sets.
const SAME_STORE: u32 = 4;
/// `load` reads the same vector (a recursive read: single-threaded only, see the trait docs).
const SAME_LOAD: u32 = 8;

static MODE: AtomicU32 = AtomicU32::new(0);

/// A number that makes `load` panic.
const LOAD_PANICS: u64 = 666;
/// A number that makes `store` panic (after it stored the object).
const STORE_PANICS: u64 = 777;

static OTHER: GlobalRoot<GcValueVec<Member<Obj>>> = GlobalRoot::new();
static SAME: GlobalRoot<GcValueVec<Hostile>> = GlobalRoot::new();

#[derive(Clone, Copy)]
struct Val<'m> {
    mu: &'m Mutator,
    n: u64,
    obj: Option<Gc<'m, Obj>>,
}

#[derive(Trace)]
struct Hostile {
    n: AtomicU64,
    obj: Member<Obj>,
    /// An object `store` allocated itself (in `ALLOC` mode), kept by the element.
    extra: Member<Obj>,
    #[trace(skip)]
    _probe: DropProbe,
}

thread_local! {
    /// Recursion depth of `store` into the same vector.
    static DEPTH: StdCell<u32> = const { StdCell::new(0) };
    /// The ledger for objects `store` allocates itself.
    static STORE_LEDGER: std::cell::RefCell<Option<Arc<Ledger>>> = const { std::cell::RefCell::new(None) };
}

impl HeapValue for Hostile {
    type Local<'m> = Val<'m>;

    fn empty() -> Hostile {
        Hostile { n: AtomicU64::new(0), obj: Member::new(), extra: Member::new(), _probe: elem_ledger().probe() }
    }

    fn load<'m>(&self, mu: &'m Mutator) -> Val<'m> {
        let n = self.n.load(Ordering::Relaxed);
        assert_ne!(n, LOAD_PANICS, "a load that panics");
        let mode = MODE.load(Ordering::Relaxed);
        if mode & ALLOC != 0 {
            junk(mu, 200);
        }
        if mode & OTHER_VEC != 0 {
            if let Some(other) = OTHER.get(mu) {
                let _ = other.last(mu);
                let _ = other.len();
            }
        }
        if mode & SAME_LOAD != 0 {
            if let Some(same) = SAME.get(mu) {
                // A recursive read of the vector whose lock we are under (shared, for `get`):
                // works while no writer waits.
                let len = same.len();
                assert!(len > 0);
            }
        }
        let obj = self.obj.get(mu);
        if let Some(o) = obj {
            o.check();
        }
        if let Some(e) = self.extra.get(mu) {
            e.check();
        }
        Val { mu, n, obj }
    }

    fn store(&self, v: Val<'_>) {
        let mode = MODE.load(Ordering::Relaxed);
        self.obj.set(v.obj);
        self.n.store(v.n, Ordering::Relaxed);
        if mode & ALLOC != 0 {
            junk(v.mu, 300);
            let ledger = STORE_LEDGER.with(|l| l.borrow().clone());
            if let Some(ledger) = ledger {
                self.extra.set(Some(obj(&ledger, v.mu)));
                junk(v.mu, 300);
            }
        }
        if mode & OTHER_VEC != 0 {
            if let Some(other) = OTHER.get(v.mu) {
                other.push(v.obj);
                let back = other.pop(v.mu).expect("just pushed");
                assert_eq!(back.map(|o| o.id), v.obj.map(|o| o.id));
            }
        }
        if mode & SAME_STORE != 0 && v.n > 0 && v.n < 100 && DEPTH.get() < 3 {
            if let Some(same) = SAME.get(v.mu) {
                DEPTH.set(DEPTH.get() + 1);
                // `store` runs with no lock held: the same vector works here.
                let len = same.len();
                same.push(Val { n: v.n + 100, ..v });
                let popped = same.pop(v.mu).expect("just pushed");
                assert_eq!(popped.n, v.n + 100);
                if len > 0 {
                    let first = same.get(0, v.mu).expect("not empty");
                    same.set(0, first);
                    same.insert(0, Val { n: 0, obj: None, mu: v.mu });
                    assert_eq!(same.remove(0, v.mu).n, 0);
                }
                DEPTH.set(DEPTH.get() - 1);
            }
        }
        if v.n == STORE_PANICS {
            panic!("a store that panics (with the object stored)");
        }
    }
}

fn val<'m>(mu: &'m Mutator, n: u64, obj: Option<Gc<'m, Obj>>) -> Val<'m> {
    Val { mu, n, obj }
}

fn ns(v: &GcValueVec<Hostile>, mu: &Mutator) -> Vec<u64> {
    v.to_vec(mu).iter().map(|x| x.n).collect()
}

/// The ids of the objects a vector of `Hostile`s holds (checking canaries), `extra`s included.
fn held(v: &GcValueVec<Hostile>, mu: &Mutator) -> HashSet<u64> {
    v.to_vec(mu).iter().filter_map(|x| x.obj.map(|o| o.check())).collect()
}

fn quiet<R>(f: impl FnOnce() -> R) -> thread::Result<R> {
    catch_unwind(AssertUnwindSafe(f))
}

fn set_mode(mode: u32) {
    MODE.store(mode, Ordering::Relaxed);
}

// ------------------------------------------------------------------------------------------
// 1. load / store that panic.

/// Attack: `load` panics in each reading method (`get`, `last`, `to_vec`, `iter`) and in each
/// removing one (`pop`, `remove`, `try_remove`). Safe outcome: the panic propagates, the lock
/// is released (the vector stays usable), readers leave the vector unchanged, removers have
/// removed the element (its slots emptied), no element is dropped twice or leaked, and a
/// collection afterwards keeps exactly the objects still in the vector.
#[test]
fn a_load_that_panics_in_every_method_leaves_the_vector_consistent() {
    let _s = common::serial_with_checkmark();
    set_mode(0);
    let ledger = Ledger::new(64);
    let first_elem = elems_made();
    let mut mu = gc_runtime::attach();
    let root = {
        let v = mu.alloc(GcValueVec::<Hostile>::new());
        let objs: Vec<_> = (0..4).map(|_| obj(&ledger, &mu)).collect();
        v.push(val(&mu, 1, Some(objs[0])));
        v.push(val(&mu, LOAD_PANICS, Some(objs[1])));
        v.push(val(&mu, 3, Some(objs[2])));
        v.push(val(&mu, LOAD_PANICS, Some(objs[3])));
        for op in 0..4 {
            let r = quiet(|| match op {
                0 => {
                    let _ = v.get(1, &mu);
                }
                1 => {
                    let _ = v.last(&mu);
                }
                2 => drop(v.to_vec(&mu)),
                _ => drop(v.iter(&mu).count()),
            });
            assert!(r.is_err(), "read op {op} panicked");
            assert_eq!(v.len(), 4, "read op {op} changed nothing");
            assert_eq!(v.get(2, &mu).map(|x| x.n), Some(3));
        }
        // pop: the last element (panicking load) leaves.
        assert!(quiet(|| {
            let _ = v.pop(&mu);
        })
        .is_err());
        assert_eq!(v.len(), 3);
        // remove: the second element leaves.
        assert!(quiet(|| {
            let _ = v.remove(1, &mu);
        })
        .is_err());
        assert_eq!(v.len(), 2);
        assert_eq!(ns(&v, &mu), [1, 3]);
        // try_remove out of range does not run load; in range, it panics as remove does.
        v.push(val(&mu, LOAD_PANICS, None));
        assert_eq!(v.try_remove(9, &mu).map(|x| x.n), Err(IndexOutOfRange { index: 9, len: 3 }));
        assert!(quiet(|| {
            let _ = v.try_remove(2, &mu);
        })
        .is_err());
        // Usable: the write lock was released on every path.
        v.push(val(&mu, 5, None));
        v.set(0, val(&mu, 6, Some(objs[0])));
        assert_eq!(ns(&v, &mu), [6, 3, 5]);
        v.root(&mu)
    };
    common::collect2(&mut mu);
    let v = root.get(&mu);
    let alive = held(&v, &mu);
    assert_eq!(alive, HashSet::from([0, 2]));
    ledger.check_exactly(&alive);
    // 7 elements made, 3 removed by panicking loads, 1 replaced by `set`: 3 alive.
    let made = elems_made() - first_elem;
    assert_eq!(made, 7);
    assert_eq!(elems_dropped(first_elem..elems_made()), made - v.len());
    v.clear();
    assert_eq!(elems_dropped(first_elem..elems_made()), made);
}

/// Attack: `store` panics (after storing its object into the armed element) in `push`,
/// `extend` (midway: earlier elements already made and written), `insert`, `set`, and in the
/// out-of-range `try_set`/`try_insert` (which make the element before checking the index).
/// Safe outcome: the vector is unchanged, every element made is dropped exactly once (none
/// joins), and the objects those elements held are freed by the next cycle (they were never
/// reachable from the heap).
#[test]
fn a_store_that_panics_in_every_method_leaves_the_vector_unchanged() {
    let _s = common::serial_with_checkmark();
    set_mode(0);
    let ledger = Ledger::new(64);
    let first_elem = elems_made();
    let mut mu = gc_runtime::attach();
    let root = {
        let v = mu.alloc(GcValueVec::<Hostile>::new());
        let keep = obj(&ledger, &mu);
        v.push(val(&mu, 1, Some(keep)));
        for op in 0..6 {
            let victim = obj(&ledger, &mu);
            let r = quiet(|| match op {
                0 => v.push(val(&mu, STORE_PANICS, Some(victim))),
                1 => v.extend([val(&mu, 2, Some(victim)), val(&mu, 3, None), val(&mu, STORE_PANICS, Some(victim))]),
                2 => v.insert(0, val(&mu, STORE_PANICS, Some(victim))),
                3 => v.set(0, val(&mu, STORE_PANICS, Some(victim))),
                4 => drop(v.try_set(5, val(&mu, STORE_PANICS, Some(victim)))),
                _ => drop(v.try_insert(5, val(&mu, STORE_PANICS, Some(victim)))),
            });
            assert!(r.is_err(), "op {op} panicked");
            assert_eq!(ns(&v, &mu), [1], "op {op}: unchanged");
        }
        v.root(&mu)
    };
    common::collect2(&mut mu);
    let v = root.get(&mu);
    let alive = held(&v, &mu);
    assert_eq!(alive, HashSet::from([0]));
    ledger.check_exactly(&alive);
    // 1 kept + 1 + 3 + 1 + 1 + 1 + 1 made.
    let made = elems_made() - first_elem;
    assert_eq!(made, 9);
    assert_eq!(elems_dropped(first_elem..elems_made()), made - 1, "every element that did not join was dropped once");
}

// ------------------------------------------------------------------------------------------
// 1b. load / store that allocate, and use other vectors or the same one.

/// Attack: `store` and `load` allocate heavily (hundreds of objects per call: mark assists
/// trace this very vector, locked or not) and `store` allocates the object it keeps in the
/// element (a pointer written into an element outside the heap, then many allocations before
/// it joins), while another thread runs cycles back to back, under each barrier and in
/// stop-the-world mode, checkmark on. Also exercises `OTHER_VEC`: `store` pushes into and pops
/// from another vector, `load` reads it. Safe outcome: checkmark passes, every object in the
/// vector keeps its canary, and at the end exactly the objects still held are alive.
#[test]
fn loads_and_stores_that_allocate_and_use_another_vector_while_cycles_run() {
    let _s = common::serial_only();
    for config in common::stress_configs() {
        gc_runtime::reconfigure(config.clone().with_checkmark(true).with_gc_percent(None)).unwrap();
        let label = format!("{config:?}");
        set_mode(ALLOC | OTHER_VEC);
        let ledger = Ledger::new(20_000);
        STORE_LEDGER.with(|l| *l.borrow_mut() = Some(ledger.clone()));
        let stop = Arc::new(AtomicBool::new(false));
        let collector = common::child::spawn_collector(&stop);
        let mut mu = gc_runtime::attach();
        OTHER.set(&mu, mu.alloc(GcValueVec::new()));
        let root = mu.alloc(GcValueVec::<Hostile>::new()).root(&mu);
        let mut rng = common::Rng(0x1234_5678);
        for step in 0..300_u64 {
            {
                let v = root.get(&mu);
                match rng.below(6) {
                    0 | 1 => v.push(val(&mu, step + 1, Some(obj(&ledger, &mu)))),
                    2 if !v.is_empty() => v.set(rng.below(v.len()), val(&mu, step + 1, Some(obj(&ledger, &mu)))),
                    3 => v.insert(rng.below(v.len() + 1), val(&mu, step + 1, Some(obj(&ledger, &mu)))),
                    4 if !v.is_empty() => {
                        let x = v.remove(rng.below(v.len()), &mu);
                        x.obj.map(|o| o.check());
                    }
                    _ => {
                        for x in v.iter(&mu) {
                            x.obj.map(|o| o.check());
                        }
                    }
                }
            }
            mu.safepoint();
        }
        stop.store(true, Ordering::Relaxed);
        mu.blocking(|| collector.join().unwrap());
        set_mode(0);
        common::collect2(&mut mu);
        let v = root.get(&mu);
        // The objects the elements hold (`extra`s, allocated by `store`, are checked by `load`).
        let alive = held(&v, &mu);
        for id in alive.iter() {
            assert_eq!(ledger.drops(*id), 0, "{label}: object {id} held by the vector was dropped");
        }
        assert!(OTHER.get(&mu).unwrap().is_empty(), "{label}");
        OTHER.clear();
        v.clear();
        common::collect2(&mut mu);
        for id in 0..ledger.created() as u64 {
            assert_eq!(ledger.drops(id), 1, "{label}: object {id} dropped once at the end");
        }
        STORE_LEDGER.with(|l| *l.borrow_mut() = None);
    }
}

/// Attack: `store` uses the same vector it is storing into (it runs with no lock held): reads
/// it, pushes and pops, sets, inserts and removes, recursively a few levels deep; `load` reads
/// the same vector under its read lock (a recursive read, single-threaded, no writer waiting).
/// Safe outcome: no deadlock, no corruption: the vector ends with the values in the order the
/// outer operations imply, every element dropped at most once.
#[test]
fn stores_that_use_the_same_vector_work() {
    let _s = common::serial_with_checkmark();
    set_mode(SAME_STORE);
    let ledger = Ledger::new(64);
    let first_elem = elems_made();
    let mut mu = gc_runtime::attach();
    {
        let v = mu.alloc(GcValueVec::<Hostile>::new());
        SAME.set(&mu, v);
        for i in 1..=5 {
            v.push(val(&mu, i, Some(obj(&ledger, &mu))));
        }
        v.set(2, val(&mu, 30, Some(obj(&ledger, &mu))));
        v.insert(1, val(&mu, 20, None));
        v.extend([val(&mu, 40, None), val(&mu, 41, Some(obj(&ledger, &mu)))]);
        assert_eq!(ns(&v, &mu), [1, 20, 2, 30, 4, 5, 40, 41]);
        // Reads whose `load` reads the same vector (never a removal: that would deadlock).
        set_mode(SAME_LOAD);
        assert_eq!(v.get(3, &mu).map(|x| x.n), Some(30));
        assert_eq!(v.last(&mu).map(|x| x.n), Some(41));
        assert_eq!(v.iter(&mu).count(), 8);
        assert_eq!(ns(&v, &mu), [1, 20, 2, 30, 4, 5, 40, 41]);
        set_mode(SAME_STORE);
    }
    common::collect2(&mut mu);
    let v = SAME.get(&mu).unwrap();
    assert_eq!(ns(&v, &mu), [1, 20, 2, 30, 4, 5, 40, 41]);
    let alive = held(&v, &mu);
    ledger.check_exactly(&alive);
    set_mode(0);
    v.clear();
    SAME.clear();
    let made = elems_made() - first_elem;
    assert_eq!(elems_dropped(first_elem..elems_made()), made);
}

// ------------------------------------------------------------------------------------------
// 2. Surprising `empty()`s: slots that try to stay outside the heap.

static LEAKED: OnceLock<&'static Member<Obj>> = OnceLock::new();
static SHARED: OnceLock<Arc<Member<Obj>>> = OnceLock::new();

/// An element whose slot is a leaked `&'static Member`, the same for every element.
#[derive(Trace)]
struct Leaky {
    slot: &'static Member<Obj>,
}

impl HeapValue for Leaky {
    type Local<'m> = Option<Gc<'m, Obj>>;
    fn empty() -> Leaky {
        Leaky { slot: LEAKED.get_or_init(|| Box::leak(Box::new(Member::new()))) }
    }
    fn load<'m>(&self, mu: &'m Mutator) -> Option<Gc<'m, Obj>> {
        self.slot.get(mu)
    }
    fn store(&self, value: Option<Gc<'_, Obj>>) {
        self.slot.set(value);
    }
}

/// An element whose slot is shared with a global `Arc` (and with every other element).
#[derive(Trace)]
struct Shared {
    slot: Arc<Member<Obj>>,
}

impl HeapValue for Shared {
    type Local<'m> = Option<Gc<'m, Obj>>;
    fn empty() -> Shared {
        Shared { slot: SHARED.get_or_init(|| Arc::new(Member::new())).clone() }
    }
    fn load<'m>(&self, mu: &'m Mutator) -> Option<Gc<'m, Obj>> {
        self.slot.get(mu)
    }
    fn store(&self, value: Option<Gc<'_, Obj>>) {
        self.slot.set(value);
    }
}

/// Attack: `empty()` hands out a slot that lives outside the element — a leaked `&'static`
/// one, or one in an `Arc` a global also holds — hoping the vector arms it, so that it can be
/// set while the collector never traces it. Safe outcome: neither is armed (`&'static T` and
/// `Arc<T>` trace nothing), so every store refuses with the unarmed panic, the vector is
/// unchanged, and the global slots never hold a pointer.
#[test]
fn slots_outside_the_element_are_never_armed() {
    let _s = common::serial_with_checkmark();
    let ledger = Ledger::new(16);
    let mu = gc_runtime::attach();
    let a = mu.alloc(GcValueVec::<Leaky>::new());
    let b = mu.alloc(GcValueVec::<Shared>::new());
    let o = obj(&ledger, &mu);
    let msg = common::panic_message(|| a.push(Some(o)));
    assert!(msg.contains("not inside an allocated object"), "{msg}");
    let msg = common::panic_message(|| b.push(Some(o)));
    assert!(msg.contains("not inside an allocated object"), "{msg}");
    // `None` stores nothing... but the unarmed slot refuses even that (or accepts it: either way
    // no pointer).
    let _ = quiet(|| a.push(None));
    let _ = quiet(|| b.push(None));
    assert!(LEAKED.get().unwrap().is_none());
    assert!(SHARED.get().unwrap().is_none());
    assert!(a.iter(&mu).all(|x| x.is_none()));
    assert!(b.iter(&mu).all(|x| x.is_none()));
    assert!(quiet(|| LEAKED.get().unwrap().set(Some(o))).is_err(), "the leaked slot is still unarmed");
    assert!(quiet(|| SHARED.get().unwrap().set(Some(o))).is_err(), "the shared slot is still unarmed");
}

/// A `GcValueVec` under an alias, so the derive's check of skipped fields (which rejects
/// `#[trace(skip)]` on a field whose type names `GcValueVec`) cannot see it.
type Hidden = GcValueVec<Member<Obj>>;

#[derive(Trace)]
struct SkipsAVector {
    #[trace(skip)]
    inner: Hidden,
}

/// Attack: a `GcValueVec` in a `#[trace(skip)]` field, hidden behind a type alias to get past
/// the derive's check. Safe outcome: never armed — every store panics, so it never holds a
/// pointer the collector cannot see.
#[test]
fn a_skipped_value_vector_is_never_armed() {
    let _s = common::serial_with_checkmark();
    let ledger = Ledger::new(16);
    let mu = gc_runtime::attach();
    let h = mu.alloc(SkipsAVector { inner: GcValueVec::new() });
    let o = obj(&ledger, &mu);
    let msg = common::panic_message(|| h.inner.push(Some(o)));
    assert!(msg.contains("not inside an allocated object"), "{msg}");
    assert!(h.inner.is_empty());
    assert!(format!("{:?}", h.inner).contains("armed: false"));
}

/// An element with slots in every container the std impls trace.
#[derive(Trace)]
struct Rich {
    boxed: Box<Member<Obj>>,
    opt: Option<Member<Obj>>,
    vec: Vec<Member<Obj>>,
    arr: [Member<Obj>; 2],
    deeper: Box<Option<[Hostile2; 2]>>,
}

/// A small value for the innermost vector.
#[derive(Trace)]
struct Hostile2(Member<Obj>);

impl HeapValue for Hostile2 {
    type Local<'m> = Option<Gc<'m, Obj>>;
    fn empty() -> Hostile2 {
        Hostile2(Member::new())
    }
    fn load<'m>(&self, mu: &'m Mutator) -> Option<Gc<'m, Obj>> {
        self.0.get(mu)
    }
    fn store(&self, value: Option<Gc<'_, Obj>>) {
        self.0.set(value);
    }
}

impl HeapValue for Rich {
    type Local<'m> = Vec<Gc<'m, Obj>>;
    fn empty() -> Rich {
        Rich {
            boxed: Box::new(Member::new()),
            opt: Some(Member::new()),
            vec: (0..3).map(|_| Member::new()).collect(),
            arr: [Member::new(), Member::new()],
            deeper: Box::new(Some([Hostile2::empty(), Hostile2::empty()])),
        }
    }
    fn load<'m>(&self, mu: &'m Mutator) -> Vec<Gc<'m, Obj>> {
        let mut out = vec![];
        out.extend(self.boxed.get(mu));
        out.extend(self.opt.as_ref().and_then(|m| m.get(mu)));
        out.extend(self.vec.iter().filter_map(|m| m.get(mu)));
        out.extend(self.arr.iter().filter_map(|m| m.get(mu)));
        if let Some(d) = &*self.deeper {
            out.extend(d.iter().filter_map(|h| h.load(mu)));
        }
        out
    }
    fn store(&self, value: Vec<Gc<'_, Obj>>) {
        // One object per place, in the order `load` reads them back.
        let mut it = value.into_iter();
        self.boxed.set(it.next());
        self.opt.as_ref().unwrap().set(it.next());
        for m in &self.vec {
            m.set(it.next());
        }
        for m in &self.arr {
            m.set(it.next());
        }
        if let Some(d) = &*self.deeper {
            for h in d {
                h.store(it.next());
            }
        }
    }
}

const RICH: usize = 1 + 1 + 3 + 2 + 2;

/// Attack: `empty()` returns an element with slots in a `Box`, an `Option`, a `Vec`, an array,
/// and a `Box<Option<[_; 2]>>` of another value type, all filled by `store` before the element
/// joins. Safe outcome: all armed
/// (the stores succeed), all traced (they survive cycles, checkmark on), and removing or
/// replacing an element lets the next cycle free exactly what it held.
#[test]
fn slots_nested_in_an_element_are_armed_and_traced() {
    let _s = common::serial_with_checkmark();
    let ledger = Ledger::new(200);
    let mut mu = gc_runtime::attach();
    let root = {
        let v = mu.alloc(GcValueVec::<Rich>::new());
        for _ in 0..4 {
            v.push((0..RICH).map(|_| obj(&ledger, &mu)).collect());
        }
        v.root(&mu)
    };
    common::collect2(&mut mu);
    let ids = |mu: &Mutator| -> HashSet<u64> {
        root.get(mu).iter(mu).flat_map(|objs| objs.into_iter().map(|o| o.check())).collect::<HashSet<_>>()
    };
    assert_eq!(ids(&mu).len(), 4 * RICH);
    ledger.check_exactly(&ids(&mu));
    {
        let v = root.get(&mu);
        let popped = v.pop(&mu).unwrap();
        assert_eq!(popped.len(), RICH, "the value of a removed element is read before its slots are emptied");
        let removed = v.remove(0, &mu);
        assert_eq!(removed.len(), RICH);
        v.set(0, (0..RICH).map(|_| obj(&ledger, &mu)).collect());
    }
    common::collect2(&mut mu);
    assert_eq!(ids(&mu).len(), 2 * RICH);
    ledger.check_exactly(&ids(&mu));
    root.get(&mu).truncate(1);
    common::collect2(&mut mu);
    ledger.check_exactly(&ids(&mu));
}

// ------------------------------------------------------------------------------------------
// 2b. A collection nested in an element, larger than the marker's chunk.

/// An element holding a whole nested `GcVec`.
#[derive(Trace)]
struct Nest {
    inner: GcVec<Obj>,
}

impl HeapValue for Nest {
    type Local<'m> = Vec<Gc<'m, Obj>>;
    fn empty() -> Nest {
        Nest { inner: GcVec::new() }
    }
    fn load<'m>(&self, mu: &'m Mutator) -> Vec<Gc<'m, Obj>> {
        self.inner.to_vec(mu)
    }
    fn store(&self, value: Vec<Gc<'_, Obj>>) {
        self.inner.extend(value);
    }
}

/// Attack (found by this review, when collections inside values were allowed): a collection
/// nested inside a `GcValueVec` element was scanned by the marker one chunk (1024 slots) only,
/// and its other objects were freed while reachable. Each collection keeps its own scan cursor,
/// and the marker scans at most one chunk per visit: the outer vector (one element) was
/// claimed whole on the first visit, so its cursor said `Done`; the nested vector scanned its
/// first chunk and asked for more; on the next visit the outer vector's `Done` returned before
/// tracing any element, so the nested vector was never asked again, and 1976 of 3000 reachable
/// objects were swept.
///
/// Safe outcome now: a value type that holds a collection is refused when a value is stored
/// (see `HeapValue`, "No collections inside a value"), with a message naming the fix, and the
/// vector is left unchanged; no object is freed while reachable.
#[test]
fn a_value_holding_a_collection_is_refused() {
    let _s = common::serial_with_checkmark();
    let ledger = Ledger::new(8000);
    let mut mu = gc_runtime::attach();
    for nested_kind in ["GcVec", "GcValueVec"] {
        let objs: Vec<_> = (0..3000).map(|_| obj(&ledger, &mu)).collect();
        let message = if nested_kind == "GcVec" {
            let v = mu.alloc(GcValueVec::<Nest>::new());
            let message = common::panic_message(|| v.push(objs));
            assert!(v.is_empty(), "{nested_kind}: nothing joined");
            message
        } else {
            let v = mu.alloc(GcValueVec::<NestV>::new());
            let message = common::panic_message(|| v.push(objs));
            assert!(v.is_empty(), "{nested_kind}: nothing joined");
            message
        };
        assert!(message.contains("holds a GC collection"), "{nested_kind}: {message}");
        assert!(message.contains("hold a `Member` to the object in the value"), "{nested_kind}: {message}");
    }
    common::collect2(&mut mu);
    assert_eq!(ledger.total_drops(), ledger.created(), "nothing kept: every object was garbage");
}

/// An element holding a whole nested `GcValueVec`.
#[derive(Trace)]
struct NestV {
    inner: GcValueVec<Member<Obj>>,
}

impl HeapValue for NestV {
    type Local<'m> = Vec<Gc<'m, Obj>>;
    fn empty() -> NestV {
        NestV { inner: GcValueVec::new() }
    }
    fn load<'m>(&self, mu: &'m Mutator) -> Vec<Gc<'m, Obj>> {
        self.inner.iter(mu).flatten().collect()
    }
    fn store(&self, value: Vec<Gc<'_, Obj>>) {
        self.inner.extend(value.into_iter().map(Some));
    }
}

// ------------------------------------------------------------------------------------------
// 4. Destructors of removed elements.

/// What the destructor of a `Dropper`'s guard does.
static DROP_MODE: AtomicU32 = AtomicU32::new(0);
/// The destructor uses another vector through a global root (with a mutator it attaches on a
/// helper thread: the destructor has none).
const DROP_PANICS: u32 = 1;
/// The destructor checks whether the vector's lock is free, from a helper thread.
const DROP_PROBES_LOCK: u32 = 2;

static DROP_TARGET: GlobalRoot<GcValueVec<Dropper>> = GlobalRoot::new();
/// Whether a destructor found the vector's lock held.
static DROPPED_UNDER_LOCK: AtomicU32 = AtomicU32::new(0);
static DROPPED_FREE: AtomicU32 = AtomicU32::new(0);

struct Guard;

impl Drop for Guard {
    fn drop(&mut self) {
        let mode = DROP_MODE.load(Ordering::Relaxed);
        if mode & DROP_PROBES_LOCK != 0 {
            // Read the vector's length on a helper thread (with its own mutator); if that does
            // not finish within a while, this destructor runs under the vector's lock.
            let done = Arc::new(AtomicBool::new(false));
            let helper = {
                let done = done.clone();
                thread::spawn(move || {
                    let mu = gc_runtime::attach();
                    if let Some(v) = DROP_TARGET.get(&mu) {
                        let _ = v.len();
                    }
                    done.store(true, Ordering::SeqCst);
                })
            };
            let mut waited = 0;
            while !done.load(Ordering::SeqCst) && waited < 300 {
                thread::sleep(Duration::from_millis(1));
                waited += 1;
            }
            if done.load(Ordering::SeqCst) {
                DROPPED_FREE.fetch_add(1, Ordering::SeqCst);
            } else {
                DROPPED_UNDER_LOCK.fetch_add(1, Ordering::SeqCst);
            }
            // Joining here would deadlock if the lock is held: the helper finishes once we
            // return and the lock is released. Detach it.
            drop(helper);
        }
        if mode & DROP_PANICS != 0 && !thread::panicking() {
            panic!("an element destructor that panics");
        }
    }
}

#[derive(Trace)]
struct Dropper {
    n: AtomicU64,
    obj: Member<Obj>,
    #[trace(skip)]
    _guard: Guard,
    #[trace(skip)]
    _probe: DropProbe,
}

impl HeapValue for Dropper {
    type Local<'m> = (u64, Option<Gc<'m, Obj>>);
    fn empty() -> Dropper {
        Dropper { n: AtomicU64::new(0), obj: Member::new(), _guard: Guard, _probe: elem_ledger().probe() }
    }
    fn load<'m>(&self, mu: &'m Mutator) -> (u64, Option<Gc<'m, Obj>>) {
        let n = self.n.load(Ordering::Relaxed);
        assert_ne!(n, LOAD_PANICS, "a load that panics");
        (n, self.obj.get(mu))
    }
    fn store(&self, (n, obj): (u64, Option<Gc<'_, Obj>>)) {
        self.n.store(n, Ordering::Relaxed);
        self.obj.set(obj);
    }
}

/// Attack: removed elements whose destructor panics (`pop`, `remove`, `set`'s replaced element,
/// `truncate` of one). Safe outcome: the panic propagates out of the call after the vector was
/// changed consistently (the element left; `set` stored the new one), the lock is free, and
/// each element is dropped once.
#[test]
fn removed_elements_whose_destructor_panics() {
    let _s = common::serial_with_checkmark();
    DROP_MODE.store(0, Ordering::Relaxed);
    let ledger = Ledger::new(64);
    let first_elem = elems_made();
    let mut mu = gc_runtime::attach();
    let root = {
        let v = mu.alloc(GcValueVec::<Dropper>::new());
        let objs: Vec<_> = (0..6).map(|_| obj(&ledger, &mu)).collect();
        for (i, o) in objs.iter().enumerate() {
            v.push((i as u64, Some(*o)));
        }
        DROP_MODE.store(DROP_PANICS, Ordering::Relaxed);
        assert!(quiet(|| {
            let _ = v.pop(&mu);
        })
        .is_err());
        assert_eq!(v.len(), 5);
        assert!(quiet(|| {
            let _ = v.remove(0, &mu);
        })
        .is_err());
        assert_eq!(v.len(), 4);
        assert!(quiet(|| v.set(0, (10, None))).is_err());
        assert_eq!(v.get(0, &mu).map(|x| x.0), Some(10), "set stored before the old element's drop panicked");
        assert!(quiet(|| v.truncate(3)).is_err());
        assert_eq!(v.len(), 3);
        DROP_MODE.store(0, Ordering::Relaxed);
        v.push((20, None));
        v.root(&mu)
    };
    common::collect2(&mut mu);
    let v = root.get(&mu);
    let alive: HashSet<u64> = v.iter(&mu).filter_map(|x| x.1.map(|o| o.check())).collect();
    assert_eq!(alive, HashSet::from([2, 3]));
    ledger.check_exactly(&alive);
    let made = elems_made() - first_elem;
    assert_eq!(elems_dropped(first_elem..elems_made()), made - v.len());
}

/// Attack (a finding of this review, fixed: the removed element is now declared before the
/// guard): when `load` panics in `pop` or `remove`, the removed element was dropped while the
/// write lock was still held — user code (its fields' destructors) under the lock, which the
/// module docs say never happens ("It is dropped after the lock is released").
///
/// In `try_remove` (and `pop`) the block was
/// `{ let mut values = self.values.write(); …; let removed = values.remove(index); (load_leaving(&removed, mu), removed) }`;
/// if `load_leaving` panics, unwinding drops the block's locals in reverse order: `removed`
/// first, then the write guard. So a destructor that uses the same vector (fine on the normal
/// path, where `drop(removed)` runs after the block) deadlocks on the panic path, and a mark
/// assist meanwhile finds the vector locked longer than needed.
///
/// The test measures it without deadlocking: the destructor asks a helper thread to read the
/// vector's length and waits up to 300 ms for it. Expected safe outcome (asserted): the
/// destructor runs with the lock free, on the normal path and on the panic path alike.
#[test]
fn a_removed_element_is_dropped_after_the_lock_also_when_load_panics() {
    let _s = common::serial_with_checkmark();
    DROP_MODE.store(0, Ordering::Relaxed);
    DROPPED_UNDER_LOCK.store(0, Ordering::SeqCst);
    DROPPED_FREE.store(0, Ordering::SeqCst);
    let mu = gc_runtime::attach();
    let v = mu.alloc(GcValueVec::<Dropper>::new());
    DROP_TARGET.set(&mu, v);
    v.push((1, None));
    v.push((LOAD_PANICS, None));
    v.push((LOAD_PANICS, None));
    DROP_MODE.store(DROP_PROBES_LOCK, Ordering::Relaxed);
    // Normal path: the destructor runs after the lock.
    let _ = v.remove(0, &mu);
    let normal = (DROPPED_FREE.load(Ordering::SeqCst), DROPPED_UNDER_LOCK.load(Ordering::SeqCst));
    // Panic path, pop and remove.
    assert!(quiet(|| {
        let _ = v.pop(&mu);
    })
    .is_err());
    assert!(quiet(|| {
        let _ = v.remove(0, &mu);
    })
    .is_err());
    DROP_MODE.store(0, Ordering::Relaxed);
    let panicked =
        (DROPPED_FREE.load(Ordering::SeqCst) - normal.0, DROPPED_UNDER_LOCK.load(Ordering::SeqCst) - normal.1);
    assert!(v.is_empty());
    DROP_TARGET.clear();
    assert_eq!(normal, (1, 0), "normal path: dropped after the lock");
    assert_eq!(panicked, (2, 0), "panic path: (dropped with the lock free, dropped under the lock)");
}

/// Attack: a removed element's destructor (after the lock, on the normal path) uses the same
/// vector and another one: here through a helper thread with its own mutator, which pushes into
/// the vector while `pop`'s caller still runs. Safe outcome: no deadlock, the helper's push
/// lands.
#[test]
fn a_destructor_after_the_lock_may_use_the_same_vector() {
    let _s = common::serial_with_checkmark();
    DROPPED_UNDER_LOCK.store(0, Ordering::SeqCst);
    DROPPED_FREE.store(0, Ordering::SeqCst);
    let mu = gc_runtime::attach();
    let v = mu.alloc(GcValueVec::<Dropper>::new());
    DROP_TARGET.set(&mu, v);
    for i in 0..3 {
        v.push((i, None));
    }
    DROP_MODE.store(DROP_PROBES_LOCK, Ordering::Relaxed);
    v.set(1, (9, None));
    v.truncate(1);
    let _ = v.pop(&mu);
    DROP_MODE.store(0, Ordering::Relaxed);
    assert_eq!(DROPPED_UNDER_LOCK.load(Ordering::SeqCst), 0);
    assert_eq!(DROPPED_FREE.load(Ordering::SeqCst), 4, "set: 1, truncate: 2, pop: 1");
    DROP_TARGET.clear();
}

// ------------------------------------------------------------------------------------------
// 5. Concurrency.

/// A value holding its object and up to two more (moving between two vectors).
#[derive(Trace)]
struct Moving {
    obj: Member<Obj>,
    more: [Member<Obj>; 2],
    #[trace(skip)]
    _probe: DropProbe,
}

impl HeapValue for Moving {
    type Local<'m> = (Option<Gc<'m, Obj>>, Vec<Gc<'m, Obj>>);
    fn empty() -> Moving {
        Moving { obj: Member::new(), more: [Member::new(), Member::new()], _probe: elem_ledger().probe() }
    }
    fn load<'m>(&self, mu: &'m Mutator) -> (Option<Gc<'m, Obj>>, Vec<Gc<'m, Obj>>) {
        let obj = self.obj.get(mu);
        obj.map(|o| o.check());
        let more: Vec<_> = self.more.iter().filter_map(|m| m.get(mu)).collect();
        more.iter().for_each(|o| {
            o.check();
        });
        (obj, more)
    }
    fn store(&self, (obj, more): (Option<Gc<'_, Obj>>, Vec<Gc<'_, Obj>>)) {
        self.obj.set(obj);
        let mut more = more.into_iter();
        for slot in &self.more {
            slot.set(more.next());
        }
    }
}

#[derive(Trace)]
struct Pair {
    a: GcValueVec<Moving>,
    b: GcValueVec<Moving>,
}

/// Attack: three threads share two vectors (through one `Root`), moving values between them
/// (`pop`/`remove` from one, `push`/`insert`/`set` into the other: a pointer that is only in a
/// local for a moment), reading with live iterators, while cycles run back to back — in
/// stop-the-world mode and under each barrier, checkmark on. One thread leaks its mutator
/// (`mem::forget`) before exiting. Safe outcome: every read finds its canaries, checkmark never
/// fires, and at the end the objects in the vectors are alive and the rest freed (bar those
/// kept for the leaked mutator).
#[test]
fn threads_move_values_between_vectors_while_cycles_run() {
    let _s = common::serial_only();
    for config in common::stress_configs() {
        let label = format!("{config:?}");
        gc_runtime::reconfigure(config.with_checkmark(true).with_gc_percent(Some(50))).unwrap();
        let ledger = Ledger::new(400_000);
        let first_elem = elems_made();
        let pair: Root<Pair> = {
            let mu = gc_runtime::attach();
            mu.alloc(Pair { a: GcValueVec::new(), b: GcValueVec::new() }).root(&mu)
        };
        let stop = Arc::new(AtomicBool::new(false));
        let collector = common::child::spawn_collector(&stop);
        thread::scope(|s| {
            for t in 0..3_u64 {
                let (pair, ledger, stop) = (&pair, &ledger, &stop);
                s.spawn(move || {
                    let mut mu = gc_runtime::attach();
                    let mut rng = common::Rng(0x9E37_79B9 * (t + 1));
                    let mut steps = 0;
                    while !stop.load(Ordering::Relaxed) && steps < 2000 {
                        steps += 1;
                        {
                            let p = pair.get(&mu);
                            let (from, to) = if rng.below(2) == 0 { (&p.a, &p.b) } else { (&p.b, &p.a) };
                            match rng.below(8) {
                                0 | 1 => {
                                    let more = (0..rng.below(3)).map(|_| obj(ledger, &mu)).collect();
                                    to.push((Some(obj(ledger, &mu)), more));
                                }
                                2 | 3 => {
                                    if let Some(x) = from.pop(&mu) {
                                        to.push(x);
                                    }
                                }
                                4 => {
                                    if let Ok(x) = from.try_remove(rng.below(from.len().max(1)), &mu) {
                                        let _ = to.try_insert(rng.below(to.len() + 1), x);
                                    }
                                }
                                5 => {
                                    if let Some(x) = from.last(&mu) {
                                        let _ = to.try_set(rng.below(to.len().max(1)), x);
                                    }
                                }
                                6 => {
                                    for x in from.iter(&mu).take(50) {
                                        x.0.map(|o| o.check());
                                    }
                                }
                                _ => {
                                    if from.len() > 200 {
                                        from.truncate(100);
                                    }
                                }
                            }
                        }
                        mu.safepoint();
                    }
                    if t == 2 {
                        std::mem::forget(mu);
                    }
                });
            }
        });
        stop.store(true, Ordering::Relaxed);
        let mut mu = gc_runtime::attach();
        mu.blocking(|| collector.join().unwrap());
        common::collect2(&mut mu);
        let p = pair.get(&mu);
        let mut alive = HashSet::new();
        for x in p.a.iter(&mu).chain(p.b.iter(&mu)) {
            alive.extend(x.0.map(|o| o.check()));
            alive.extend(x.1.iter().map(|o| o.check()));
        }
        for id in &alive {
            assert_eq!(ledger.drops(*id), 0, "{label}: object {id} in a vector was freed");
        }
        for id in 0..ledger.created() as u64 {
            assert!(ledger.drops(id) <= 1, "{label}: object {id} dropped twice");
        }
        p.a.clear();
        p.b.clear();
        drop(mu);
        drop(pair);
        let made = elems_made() - first_elem;
        assert_eq!(elems_dropped(first_elem..elems_made()), made, "{label}: every element dropped once");
    }
}

// ------------------------------------------------------------------------------------------
// 6. Auto traits and variance.

/// Attack: the auto traits of the vector and its iterator. Safe outcome (compile-time): a
/// vector is `Send + Sync` (its elements are `HeapValue: Send + Sync`), and no lifetime
/// parameter exists to vary; the iterator holds `&Mutator` and the locals it hands out are
/// `!Send`. (The `!Send` halves are compile-fail cases, checked in a scratch crate: see the
/// report; here only the positive half.)
#[test]
fn vectors_are_send_and_sync() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<GcValueVec<Hostile>>();
    send_sync::<GcValueVec<Member<Obj>>>();
    send_sync::<Pair>();
}
