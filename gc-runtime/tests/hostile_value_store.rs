//! Hostile `HeapValue::store`s: a value type whose local form borrows nothing (a plain `u64`),
//! so the caller of `GcValueVec::push` or `GcValueMap::insert` holds no mutator, and whose
//! `store` reaches the thread's mutator through a thread-local, allocates an object, puts it in
//! the new element's slot — and then tries to let a cycle pass before the element joins its
//! collection: it collects, passes safepoints while another thread collects, or drops the
//! thread's mutator and waits for another thread's cycle. A map key's `Eq` that drops the
//! thread's mutator under the map's lock tries the same from the other side. The element is in
//! no place the collector scans until it joins, so any cycle that ended meanwhile would free
//! its object while the collection still points to it.
//!
//! All of these began as one finding of a hostile review: each variant read back an object
//! that had been freed and reused. Now `store` and the join run as one call of user code
//! (`thread_state/user_code.rs`, "Values under construction"): `collect` panics there (the
//! collection is left unchanged), a safepoint does nothing, and dropping the mutator detaches
//! the thread only once the collection's call returns. The tests assert that no other thread's
//! cycle ends while `store` runs, and that every object stored is intact and alive afterwards.
//!
//! A second review found the guard's blind spot: `store` can lend the element (values are
//! `Sync`) to a scoped thread with a mutator of its own, which writes an object into it and
//! collects — held up by nobody when the thread calling `push` has no running mutator. Such a
//! thread is now attached for the call (its own mutator again, inside `Mutator::blocking`), and
//! refused only where it cannot attach.
//!
//! The collections live in objects pinned by a leaked mutator (`common::leak_static`), the
//! documented way to reach a heap object through a `&'static`.

use std::{
    cell::{Cell as StdCell, RefCell},
    sync::{
        atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering},
        Arc,
    },
    thread,
    time::{Duration, Instant},
};

mod common;

use common::{collect2, leak_static, panic_message, serial_only, serial_with_checkmark, Canary as Obj, Ledger};
use gc_runtime::{AttachError, GcValueMap, GcValueVec, HeapValue, Member, Mutator, Trace};

thread_local! {
    /// This thread's mutator, where `store` and the keys' `Eq` reach it.
    static MU: RefCell<Option<Mutator>> = const { RefCell::new(None) };
    /// What `store` does on this thread after writing its object.
    static ACT: StdCell<Act> = const { StdCell::new(Act::Nothing) };
    /// The ledger `store` allocates its objects' probes in.
    static LEDGER: RefCell<Option<Arc<Ledger>>> = const { RefCell::new(None) };
    /// The id of the object the last `store` on this thread wrote.
    static STORED: StdCell<u64> = const { StdCell::new(0) };
    /// How many times `store` ran on this thread.
    static STORES: StdCell<u64> = const { StdCell::new(0) };
    /// The other thread's collections, for `store` to wait on.
    static OTHER: RefCell<Option<Arc<Collector>>> = const { RefCell::new(None) };
}

/// What `store` does once its object is in the element's slot.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Act {
    Nothing,
    /// `Mutator::collect`.
    Collect,
    /// Safepoints, until the other thread has finished two collections or [`PATIENCE`] is up.
    SafepointsWhileOthersCollect,
    /// Drop the thread's mutator, then wait for the other thread's collections as above.
    DropMutatorWhileOthersCollect,
    /// Lend the element to a scoped thread, which attaches, writes its object and detaches;
    /// then wait for the other thread's collections, which must not end.
    LendToAThread,
}

/// The local form of a value without an object (ids count from 0).
const NONE: u64 = u64::MAX;

/// How long a hostile `store` or `Eq` waits for another thread's cycles to end (none may).
const PATIENCE: Duration = Duration::from_millis(300);

/// Run `f` with this thread's mutator.
fn with_mu<R>(f: impl FnOnce(&mut Mutator) -> R) -> R {
    MU.with(|m| f(m.borrow_mut().as_mut().expect("this thread's mutator")))
}

/// A value holding one object; its local form is the object's id ([`NONE`] for none), which
/// borrows nothing.
#[derive(Trace)]
struct Cell {
    obj: Member<Obj>,
}

impl HeapValue for Cell {
    type Local<'m> = u64;

    fn empty() -> Cell {
        Cell { obj: Member::new() }
    }

    fn load(&self, mu: &Mutator) -> u64 {
        self.obj.get(mu).map_or(NONE, |o| o.check())
    }

    /// Allocate an object, put it in the slot, then do what [`ACT`] says.
    fn store(&self, _value: u64) {
        STORES.with(|n| n.set(n.get() + 1));
        let ledger = LEDGER.with(|l| l.borrow().clone().expect("this thread's ledger"));
        if ACT.with(StdCell::get) == Act::LendToAThread {
            lend(self, &ledger);
            return wait_for_cycles_that_must_not_end();
        }
        let id = with_mu(|mu| {
            let o = Obj::alloc(mu, &ledger);
            self.obj.set(Some(o));
            o.id
        });
        STORED.with(|s| s.set(id));
        match ACT.with(StdCell::get) {
            Act::Nothing => {}
            Act::Collect => with_mu(Mutator::collect),
            Act::SafepointsWhileOthersCollect => {
                wait_for_other(2, PATIENCE, true);
            }
            Act::DropMutatorWhileOthersCollect => {
                drop_mutator_inside_the_call();
                wait_for_cycles_that_must_not_end();
            }
            Act::LendToAThread => unreachable!(),
        }
    }
}

/// Lend `cell` (a value being written, `Sync`) to a scoped thread with a mutator of its own,
/// which writes an object into it and detaches.
fn lend(cell: &Cell, ledger: &Arc<Ledger>) {
    let id = thread::scope(|s| {
        s.spawn(|| {
            let mu = gc_runtime::attach();
            let o = Obj::alloc(&mu, ledger);
            cell.obj.set(Some(o));
            o.id
        })
        .join()
        .unwrap()
    });
    STORED.with(|s| s.set(id));
}

/// Mutators attached to the heap, on any thread and in any state.
fn attached() -> usize {
    let m = gc_runtime::stats().mutators;
    m.running + m.at_safepoint + m.detached
}

/// Drop this thread's mutator inside a collection's call, and assert that the thread is still
/// attached (it is detached when the call returns).
fn drop_mutator_inside_the_call() {
    let before = attached();
    drop(MU.with(|m| m.borrow_mut().take()));
    assert_eq!(attached(), before, "the thread stays attached until the collection's call returns");
    assert!(
        matches!(gc_runtime::try_attach(), Err(AttachError::AlreadyAttached)),
        "the thread is still attached: attaching again is refused"
    );
}

/// Wait up to [`PATIENCE`] for the other thread to finish two collections, and assert that it
/// finished at most one: this thread is still running (it cannot detach inside a collection's
/// call), so no cycle can start or end its marking. One collection may still be counted: a
/// cycle past its marking when the call began ends (its sweep needs nothing of this thread),
/// and the other thread counts a collection only after `collect` returned, which may be after
/// this thread began waiting (CI on a busy machine counted one so). Without the hold-up, the
/// other thread finished both.
fn wait_for_cycles_that_must_not_end() {
    let finished = wait_for_other(2, PATIENCE, false);
    assert!(
        finished <= 1,
        "another thread's collections ended while this thread wrote a value not yet in its collection: {finished}"
    );
}

/// Wait until the other thread (see [`start_collecting`]) has finished `n` more collections, or
/// `patience` is up, passing this thread's safepoints meanwhile if `safepoints`; how many it
/// finished.
fn wait_for_other(n: usize, patience: Duration, safepoints: bool) -> usize {
    let other = OTHER.with(|o| o.borrow().clone().expect("another thread collecting"));
    let seen = other.done.load(Ordering::SeqCst);
    let start = Instant::now();
    while other.done.load(Ordering::SeqCst) < seen + n && start.elapsed() < patience {
        if safepoints {
            with_mu(Mutator::safepoint);
        }
        thread::sleep(Duration::from_millis(1));
    }
    other.done.load(Ordering::SeqCst) - seen
}

/// Let the other thread finish two collections (this thread passing safepoints), then check
/// that `read` reads back the object `store` last wrote, and that it is alive.
fn assert_stored_object_survives(read: impl Fn(&Mutator) -> Option<u64>, ledger: &Ledger, name: &str) {
    let stored = STORED.with(StdCell::get);
    assert_eq!(wait_for_other(2, Duration::from_secs(600), true), 2);
    assert_eq!(with_mu(|mu| read(mu)), Some(stored), "{name}: the stored object is read back");
    assert_eq!(ledger.drops(stored), 0, "{name}: the stored object is alive");
}

/// Another thread that collects until told to stop, counting the collections it finished.
struct Collector {
    attached: AtomicBool,
    done: AtomicUsize,
    stop: AtomicBool,
}

/// Start a thread that collects over and over, and return once it is attached; stop it with
/// [`stop_collecting`].
fn start_collecting() -> (Arc<Collector>, thread::JoinHandle<()>) {
    let c = Arc::new(Collector {
        attached: AtomicBool::new(false),
        done: AtomicUsize::new(0),
        stop: AtomicBool::new(false),
    });
    let c2 = Arc::clone(&c);
    let handle = thread::spawn(move || {
        let mut mu = gc_runtime::attach();
        c2.attached.store(true, Ordering::SeqCst);
        while !c2.stop.load(Ordering::SeqCst) {
            // Garbage for each cycle to free, so a freed object's memory is soon reused.
            for _ in 0..2000 {
                let _ = mu.alloc([0u64; 4]);
            }
            mu.collect();
            c2.done.fetch_add(1, Ordering::SeqCst);
        }
    });
    while !c.attached.load(Ordering::SeqCst) {
        with_mu(Mutator::safepoint);
        thread::sleep(Duration::from_millis(1));
    }
    OTHER.with(|o| *o.borrow_mut() = Some(Arc::clone(&c)));
    (c, handle)
}

/// Stop the collecting thread once it has finished another collection (so every cycle this
/// thread held up has ended), and join it.
fn stop_collecting(c: &Collector, handle: thread::JoinHandle<()>) {
    wait_for_other(1, Duration::from_secs(600), true);
    c.stop.store(true, Ordering::SeqCst);
    // Let its last `collect` end.
    while !handle.is_finished() {
        with_mu(Mutator::safepoint);
        thread::sleep(Duration::from_millis(1));
    }
    handle.join().unwrap();
}

/// The pinned holder of the collections under attack.
#[derive(Trace)]
struct Holder {
    vec: GcValueVec<Cell>,
    map: GcValueMap<u32, Cell>,
    numbers: GcValueVec<Num>,
}

/// A value type without slots.
#[derive(Trace)]
struct Num {
    n: AtomicU64,
}

impl HeapValue for Num {
    type Local<'m> = u64;

    fn empty() -> Num {
        Num { n: AtomicU64::new(0) }
    }

    fn load(&self, _mu: &Mutator) -> u64 {
        self.n.load(Ordering::Relaxed)
    }

    fn store(&self, value: u64) {
        self.n.store(value, Ordering::Relaxed);
    }
}

/// Attach this thread's mutator (in [`MU`]), make this test's ledger, and pin a [`Holder`].
fn setup() -> (&'static Holder, Arc<Ledger>) {
    let holder = leak_static(|mu| {
        mu.alloc(Holder { vec: GcValueVec::new(), map: GcValueMap::new(), numbers: GcValueVec::new() }).into_ref()
    });
    KEY_HOLDER.with(|k| k.set(Some(holder)));
    MU.with(|m| *m.borrow_mut() = Some(gc_runtime::attach()));
    let ledger = Ledger::new(10_000);
    LEDGER.with(|l| *l.borrow_mut() = Some(Arc::clone(&ledger)));
    ACT.with(|a| a.set(Act::Nothing));
    with_mu(collect2);
    (holder, ledger)
}

/// End a test: detach this thread (dropping its mutator).
fn teardown() {
    drop(MU.with(|m| m.borrow_mut().take()));
    OTHER.with(|o| o.borrow_mut().take());
}

/// Every way a new element is written: (name, write value `v` at place 0 of the holder's
/// vector or key 0 of its map, read place 0 back).
type Write = fn(&Holder, u64);
type Read = fn(&Holder, &Mutator) -> Option<u64>;
fn writers() -> [(&'static str, Write, Read); 5] {
    fn read_vec(h: &Holder, mu: &Mutator) -> Option<u64> {
        h.vec.get(0, mu)
    }
    fn read_map(h: &Holder, mu: &Mutator) -> Option<u64> {
        h.map.get(&0, mu)
    }
    [
        ("GcValueVec::push", |h, v| h.vec.push(v), read_vec),
        ("GcValueVec::extend", |h, v| h.vec.extend([v]), read_vec),
        ("GcValueVec::insert", |h, v| h.vec.insert(0, v), read_vec),
        ("GcValueVec::set", |h, v| h.vec.set(0, v), read_vec),
        (
            "GcValueMap::insert",
            |h, v| {
                h.map.insert(0, v);
            },
            read_map,
        ),
    ]
}

/// Empty the holder's collections.
fn clear(h: &Holder) {
    h.vec.clear();
    h.map.clear();
}

/// Empty the holder's collections, then give the vector a place 0 if `name` writes over one.
fn prepare(h: &Holder, name: &str) {
    clear(h);
    if name == "GcValueVec::set" {
        h.vec.push(0);
    }
}

/// Attack: `store` collects after writing its object into the element. Before the fix the
/// cycle freed the object (nothing scanned the element) and the collection read back a
/// reused object's canary. Now `collect` panics inside `store`, with a message that names it,
/// and the collection is left unchanged; the refused element's object is garbage, freed by the
/// next cycle; a plain write afterwards works.
#[test]
fn a_store_that_collects_is_refused_and_the_collection_is_unchanged() {
    let _serial = serial_with_checkmark();
    let (h, ledger) = setup();
    for (name, write, read) in writers() {
        prepare(h, name);
        let before = (h.vec.len(), h.map.len());
        ACT.with(|a| a.set(Act::Collect));
        let msg = panic_message(|| write(h, 1));
        assert!(msg.contains("HeapValue::store"), "{name}: the refusal names where collect was called: {msg}");
        let refused = STORED.with(StdCell::get);
        assert_eq!((h.vec.len(), h.map.len()), before, "{name}: the collection is unchanged");
        with_mu(collect2);
        assert_eq!(ledger.drops(refused), 1, "{name}: the refused element's object was freed once");
        ACT.with(|a| a.set(Act::Nothing));
        write(h, 1);
        let stored = STORED.with(StdCell::get);
        with_mu(collect2);
        let got = with_mu(|mu| read(h, mu));
        assert_eq!(got, Some(stored), "{name}: a plain write afterwards is read back");
        assert_eq!(ledger.drops(stored), 0, "{name}: its object is alive");
    }
    clear(h);
    teardown();
}

/// Attack: `store` passes safepoints, for up to 300 ms, while another thread collects over
/// and over. Before the fix the safepoints answered the other thread's cycles, which freed the
/// element's object. Now a safepoint inside `store` does nothing: no cycle ends while it runs,
/// and the object is alive and intact after the element joins, across the other thread's
/// later cycles.
#[test]
fn safepoints_in_a_store_let_no_cycle_end_and_lose_no_object() {
    let _serial = serial_with_checkmark();
    let (h, ledger) = setup();
    let (other, handle) = start_collecting();
    for (name, write, read) in writers() {
        prepare(h, name);
        let seen = other.done.load(Ordering::SeqCst);
        ACT.with(|a| a.set(Act::SafepointsWhileOthersCollect));
        write(h, 1);
        ACT.with(|a| a.set(Act::Nothing));
        assert_eq!(other.done.load(Ordering::SeqCst), seen, "{name}: no cycle ended while store ran");
        assert_stored_object_survives(|mu| read(h, mu), &ledger, name);
    }
    stop_collecting(&other, handle);
    clear(h);
    teardown();
}

/// Attack: `store` drops the thread's mutator, then waits for another thread's cycles. Before
/// the fix the thread detached at once, the other thread's cycles ended, and the element joined
/// pointing to a freed object. Now the thread stays attached until the collection's call
/// returns (attaching again inside it is refused), no cycle ends meanwhile, and it is detached
/// afterwards (attaching works); the object is alive and intact.
#[test]
fn a_store_that_drops_the_mutator_detaches_only_after_the_call() {
    let _serial = serial_with_checkmark();
    let (h, ledger) = setup();
    let (other, handle) = start_collecting();
    for (name, write, read) in writers() {
        prepare(h, name);
        ACT.with(|a| a.set(Act::DropMutatorWhileOthersCollect));
        write(h, 1);
        ACT.with(|a| a.set(Act::Nothing));
        let mu =
            gc_runtime::try_attach().unwrap_or_else(|e| panic!("{name}: the thread is detached after the call: {e}"));
        MU.with(|m| *m.borrow_mut() = Some(mu));
        assert_stored_object_survives(|mu| read(h, mu), &ledger, name);
    }
    stop_collecting(&other, handle);
    clear(h);
    teardown();
}

/// Attack: `extend`'s iterator collects between the values it yields. Before the fix the
/// elements written so far waited, armed and unscanned, while the iterator collected, and their
/// objects were freed. Now the iterator runs to its end before any element is written: its
/// collections are allowed, and every object is read back intact.
#[test]
fn an_extend_iterator_that_collects_between_values_loses_nothing() {
    let _serial = serial_with_checkmark();
    let (h, ledger) = setup();
    h.vec.extend((0..4u64).inspect(|_| with_mu(collect2)));
    assert_eq!(h.vec.len(), 4);
    with_mu(collect2);
    let ids: Vec<u64> = with_mu(|mu| h.vec.to_vec(mu));
    // Four objects, each alive (a freed object's memory reused for the next one's shows as
    // the same id twice).
    let distinct: std::collections::HashSet<u64> = ids.iter().copied().collect();
    assert_eq!(distinct.len(), 4, "every element holds its own object: {ids:?}");
    assert!(ids.iter().all(|&id| id != NONE && ledger.drops(id) == 0), "every object is alive: {ids:?}");
    clear(h);
    teardown();
}

thread_local! {
    /// Whether a [`Key`]'s `Eq` on this thread drops the thread's mutator (once).
    static KEY_DROPS: StdCell<bool> = const { StdCell::new(false) };
    /// A write a [`Key`]'s `Eq` on this thread makes into the [`Holder`] (once).
    static KEY_WRITES: StdCell<Option<Write>> = const { StdCell::new(None) };
    /// The holder `KEY_WRITES` writes into.
    static KEY_HOLDER: StdCell<Option<&'static Holder>> = const { StdCell::new(None) };
}

/// A map key whose `Eq` drops the thread's mutator when [`KEY_DROPS`] says so, and then waits
/// for another thread's cycles, which must not end.
#[derive(Clone, Copy, Debug)]
struct Key(u32);

impl std::hash::Hash for Key {
    fn hash<S: std::hash::Hasher>(&self, state: &mut S) {
        self.0.hash(state);
    }
}

impl PartialEq for Key {
    fn eq(&self, other: &Key) -> bool {
        if KEY_DROPS.with(|k| k.replace(false)) {
            drop_mutator_inside_the_call();
            wait_for_cycles_that_must_not_end();
        }
        if let Some(write) = KEY_WRITES.with(|k| k.take()) {
            write(KEY_HOLDER.with(StdCell::get).expect("the holder"), 1);
        }
        self.0 == other.0
    }
}

impl Eq for Key {}

/// A `GcValueMap` keyed by [`Key`], pinned.
#[derive(Trace)]
struct KeyedHolder {
    map: GcValueMap<Key, Cell>,
}

/// Attack: a map key's `Eq`, run under the map's lock while a new value — whose `store` wrote
/// an object — waits to replace the old one, drops the thread's mutator and waits for another
/// thread's cycles. Before the fix the thread detached at once (the map's lock, which the
/// marker does not wait for but cannot finish without, happened to keep the cycles from ending
/// here). Now the detach waits for the end of the insert: the thread is still attached inside
/// `Eq`, no cycle ends meanwhile, the thread is detached afterwards, and the object is alive.
#[test]
fn a_key_eq_that_drops_the_mutator_under_the_lock_detaches_only_after_the_call() {
    let _serial = serial_with_checkmark();
    let (_, ledger) = setup();
    let h = leak_static(|mu| mu.alloc(KeyedHolder { map: GcValueMap::new() }).into_ref());
    with_mu(collect2);
    let key = Key(7);
    h.map.insert(key, 0);
    let (other, handle) = start_collecting();
    KEY_DROPS.with(|k| k.set(true));
    let before = attached();
    assert!(h.map.insert(key, 1), "the value for the key was replaced");
    assert!(!KEY_DROPS.with(StdCell::get), "the key's Eq ran and dropped the mutator");
    assert_eq!(attached(), before - 1, "the thread is detached once the insert returned");
    let mu = gc_runtime::try_attach().expect("the thread is detached after the insert");
    MU.with(|m| *m.borrow_mut() = Some(mu));
    assert_stored_object_survives(|mu| h.map.get(&key, mu), &ledger, "GcValueMap::insert");
    stop_collecting(&other, handle);
    h.map.clear();
    teardown();
}

/// Attack: `store` lends the element — `&self`, and values are `Sync` — to a scoped thread,
/// which attaches a mutator of its own and writes an object into it, while the thread calling
/// `push` has no running mutator (none attached, or inside `Mutator::blocking`): nothing held a
/// cycle up then. Before `fdb63dc` the element joined pointing to a freed object; with
/// `fdb63dc`'s check after `store`, the scoped thread could still collect and read the object
/// back freed. Now such a thread is attached for the call (its own mutator again, inside
/// `blocking`) before anything is armed, and detached after it: no other thread's cycle ends
/// while `store` runs, the object is alive afterwards, and the thread is detached again. Where
/// it cannot attach — inside another collection's call, here a key's `Eq` — the value is
/// refused before `store` runs, and the collection is unchanged. A value type without slots
/// is written from such a thread as before.
/// For the tests that lend an element to a scoped thread inside a collection's call: the
/// default configuration (handshakes, no world stopped), pacing off, and checkmark off. Its
/// verification stops the world at each termination, and a scoped thread attaching then waits
/// for the stopped world, which waits for the calling thread, which waits for the scoped
/// thread: the documented deadlock of waiting for another thread inside a collection's call
/// (CI on a fresh clone of `7a098f2` hung there, in the first of these tests). The ledger and
/// the canaries still tell an object freed while reachable.
fn serial_without_world_stops() -> std::sync::MutexGuard<'static, ()> {
    let guard = serial_only();
    gc_runtime::reconfigure(gc_runtime::Config::default().with_gc_percent(None)).unwrap();
    guard
}

#[test]
fn a_thread_without_a_running_mutator_is_attached_for_the_call_or_refused() {
    let _serial = serial_without_world_stops();
    let (h, ledger) = setup();
    let keyed = leak_static(|mu| mu.alloc(KeyedHolder { map: GcValueMap::new() }).into_ref());
    with_mu(collect2);
    keyed.map.insert(Key(1), NONE);
    let (other, handle) = start_collecting();
    for (name, write, read) in writers() {
        // Without a mutator: attached for the call.
        prepare(h, name);
        let registered = attached();
        drop(MU.with(|m| m.borrow_mut().take()));
        ACT.with(|a| a.set(Act::LendToAThread));
        write(h, 1);
        ACT.with(|a| a.set(Act::Nothing));
        assert_eq!(attached(), registered - 1, "{name}: the thread is detached after the call");
        h.numbers.push(5);
        MU.with(|m| *m.borrow_mut() = Some(gc_runtime::attach()));
        assert_stored_object_survives(|mu| read(h, mu), &ledger, name);
        // Inside `Mutator::blocking`: its mutator runs again for the call.
        prepare(h, name);
        ACT.with(|a| a.set(Act::LendToAThread));
        with_mu(|mu| mu.blocking(|| write(h, 1)));
        ACT.with(|a| a.set(Act::Nothing));
        with_mu(|mu| mu.blocking(|| h.numbers.push(6)));
        assert_stored_object_survives(|mu| read(h, mu), &ledger, name);
        // Inside another collection's call, without a mutator: refused.
        prepare(h, name);
        let before = (h.vec.len(), h.map.len());
        let stores = STORES.with(StdCell::get);
        drop(MU.with(|m| m.borrow_mut().take()));
        KEY_WRITES.with(|k| k.set(Some(write)));
        let msg = panic_message(|| {
            let _ = keyed.map.contains_key(&Key(1));
        });
        KEY_WRITES.with(|k| k.set(None));
        MU.with(|m| *m.borrow_mut() = Some(gc_runtime::attach()));
        assert!(msg.contains("no running mutator"), "{name}: the refusal says why: {msg}");
        assert_eq!((h.vec.len(), h.map.len()), before, "{name}: the collection is unchanged");
        assert_eq!(STORES.with(StdCell::get), stores, "{name}: store never ran");
    }
    stop_collecting(&other, handle);
    let numbers = with_mu(|mu| h.numbers.to_vec(mu));
    assert_eq!(numbers, [5, 6].repeat(5), "values without slots are written from any thread");
    clear(h);
    h.numbers.clear();
    keyed.map.clear();
    teardown();
}

/// The case the attach above relies on: the thread calling `push` has a running mutator,
/// and the scoped thread `store` lends the element to writes its object and detaches; `store`
/// then waits for another thread's cycles. The calling thread, running and passing no
/// safepoint, holds every cycle up until the element has joined (the scoped thread could not
/// end one either: it would wait for the calling thread, which waits for it): no cycle ends
/// while `store` runs, and the object is alive and intact afterwards. (The scoped thread's
/// attach would wait for a stopped world, which waits for the calling thread: in stop-the-world
/// mode, under global stops, with checkmark's stop at each termination, or while a leaked
/// mutator's pin is due, this `store` deadlocks — the documented cost of waiting for another
/// thread inside a collection's call. Here the configuration has handshakes and no checkmark
/// (`serial_without_world_stops`), and `setup` has finished the pin.)
#[test]
fn a_value_given_a_pointer_by_another_thread_keeps_it_while_the_caller_runs() {
    let _serial = serial_without_world_stops();
    let (h, ledger) = setup();
    let (other, handle) = start_collecting();
    for (name, write, read) in writers() {
        prepare(h, name);
        ACT.with(|a| a.set(Act::LendToAThread));
        write(h, 1);
        ACT.with(|a| a.set(Act::Nothing));
        assert_stored_object_survives(|mu| read(h, mu), &ledger, name);
    }
    stop_collecting(&other, handle);
    clear(h);
    teardown();
}
