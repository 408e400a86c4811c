//! Unit tests: each storing and removing method of each collection shades exactly what the
//! cycle's barrier promises — the removed or overwritten pointer under Yuasa and hybrid, the
//! stored one under Dijkstra and hybrid — checked on mark bits with a pretend marking, for
//! every barrier kind. (The integration tests in `tests/collections.rs` check the same end to
//! end, with real cycles and checkmark, but only probabilistically.)

use crate::{
    clock::{self, Phase},
    config::BarrierKind,
    object::{mark, Header, TraceSink, Tracer},
    primitive::sync::atomic::{AtomicBool, AtomicPtr},
    runtime::Runtime,
    test_support, thread_state, Gc, GcIdMap, GcMap, GcValueMap, GcValueVec, GcVec, GcWeakMap, HeapValue, Member,
    Mutator, Trace,
};

#[derive(Trace)]
struct Obj {
    v: GcVec<Obj>,
    m: GcMap<u32, Obj>,
    i: GcIdMap<Obj, Obj>,
    w: GcValueVec<Pair>,
    x: GcValueMap<u32, Pair>,
}

fn obj(mu: &Mutator) -> Gc<'_, Obj> {
    mu.alloc(Obj { v: GcVec::new(), m: GcMap::new(), i: GcIdMap::new(), w: GcValueVec::new(), x: GcValueMap::new() })
}

/// A value with two slots, both set to the one pointer stored: a removal must empty (and so
/// shade through) each.
#[derive(Trace)]
struct Pair {
    a: Member<Obj>,
    b: Member<Obj>,
}

impl HeapValue for Pair {
    type Local<'m> = Option<Gc<'m, Obj>>;

    fn empty() -> Pair {
        Pair { a: Member::new(), b: Member::new() }
    }

    fn load<'m>(&self, mu: &'m Mutator) -> Option<Gc<'m, Obj>> {
        self.b.get(mu)
    }

    fn store(&self, value: Option<Gc<'_, Obj>>) {
        self.a.set(value);
        self.b.set(value);
    }
}

fn shaded(g: Gc<'_, Obj>) -> bool {
    // SAFETY: `g` is a live local: its object is allocated and initialised.
    unsafe { test_support::shaded(g.header_ptr()) }
}

/// Counts what a `trace` reports (for the collections' unit tests).
#[derive(Default)]
pub(super) struct Count {
    pub(super) slots: usize,
    pub(super) flags: usize,
    pub(super) locked: usize,
}

impl TraceSink for Count {
    fn visit_slot(&mut self, _: &AtomicPtr<Header>) {
        self.slots += 1;
    }
    fn visit_armed_flag(&mut self, _: &AtomicBool) {
        self.flags += 1;
    }
    fn visit_locked(&mut self) {
        self.locked += 1;
    }
}

/// What tracing `v` reports.
pub(super) fn count<T: Trace>(v: &T) -> Count {
    let mut c = Count::default();
    v.trace(&mut Tracer::new(&mut c));
    c
}

/// The unit tests shared by the maps keyed by object identity, `$map` (`GcIdMap`,
/// `GcWeakMap`), whose entries each report `$slots` slots to `trace` (the key and the value; a
/// weak map's value only): `trace` reports the armed flag, then each entry, skipping free and
/// removed buckets; a write-locked map reports the lock and no entry, and lookups from another
/// thread finish while the write lock is held.
macro_rules! object_keyed_map_tests {
    ($map:ident, $slots:expr) => {
        #[test]
        fn trace_reports_the_armed_flag_then_each_entry_and_skips_free_and_removed_buckets() {
            let _s = crate::test_support::serial();
            let mu = crate::attach();
            let loose = $map::<u8, u8>::with_capacity(8);
            let c = crate::collections::tests::count(&loose);
            assert_eq!((c.flags, c.slots), (1, 0), "free buckets hold no pointer");
            let m = mu.alloc($map::with_capacity(8));
            let keys: Vec<_> = (0..5_u8).map(|i| mu.alloc(i)).collect();
            for &k in &keys {
                m.insert(k, mu.alloc(*k));
            }
            assert_eq!(crate::collections::tests::count(&*m).slots, 5 * $slots);
            m.remove(keys[0], &mu);
            assert_eq!(crate::collections::tests::count(&*m).slots, 4 * $slots, "a removed entry is skipped");
            m.clear();
            assert_eq!(crate::collections::tests::count(&*m).slots, 0);
        }

        #[test]
        fn trace_reports_a_write_locked_map_and_reads_do_not_wait_for_the_writer() {
            let _s = crate::test_support::serial();
            let mu = crate::attach();
            let m = mu.alloc($map::new());
            let k = mu.alloc(1_u8);
            m.insert(k, mu.alloc(2_u8));
            let (m_root, k_root) = (m.root(&mu), k.root(&mu));
            let writer = m.lock.write();
            let c = crate::collections::tests::count(&*m);
            assert_eq!((c.flags, c.slots, c.locked), (1, 0, 1), "flag reported, lock reported, no slot");
            let read = crate::collections::tests::read_beside_a_writer(writer, |reader| {
                let (m, k) = (m_root.get(reader), k_root.get(reader));
                (m.len(), m.contains_key(k), m.get(k, reader).map(|v| *v))
            });
            assert_eq!(read, Ok((1, true, Some(2))), "the reads finished while the write lock was held");
            let c = crate::collections::tests::count(&*m);
            assert_eq!((c.flags, c.slots, c.locked), (1, $slots, 0));
        }
    };
}
pub(super) use object_keyed_map_tests;

/// What `read` gives on another thread (with a mutator of its own) while this thread holds
/// `writer` (a collection's write lock): lookups that take no lock finish meanwhile, where a
/// read lock would wait until the writer lets go — then `Err` after a minute. `writer` is let
/// go before this returns.
pub(super) fn read_beside_a_writer<W, T: Send>(
    writer: W,
    read: impl FnOnce(&Mutator) -> T + Send,
) -> Result<T, std::sync::mpsc::RecvTimeoutError> {
    let (done, finished) = std::sync::mpsc::channel();
    std::thread::scope(|s| {
        s.spawn(move || {
            let reader = crate::attach();
            // The test thread may have given up waiting: nobody to tell, then.
            let _ = done.send(read(&reader));
        });
        let read = finished.recv_timeout(std::time::Duration::from_secs(60));
        drop(writer);
        read
    })
}

/// Turns the pretend marking off again, also if an assertion fails.
pub(super) struct PhaseOff;

impl Drop for PhaseOff {
    fn drop(&mut self) {
        clock::force(Phase::Off, BarrierKind::Dijkstra);
        thread_state::with_running_mutator(|mu| mu.shade.flush(mu.grey));
        Runtime::get().grey.clear();
        drop(test_support::ClearMarks);
    }
}

type Op = fn(&Mutator, Gc<'_, Obj>, Gc<'_, Obj>, Gc<'_, Obj>);

/// `(name, removes or overwrites old, stores new, op(mu, container, old, new))`; before each
/// op, `old` is in the container's vector (index 0), map (key 1), id map (key and value),
/// value vector (index 0, both slots) and value map (key 1, both slots).
const CASES: &[(&str, bool, bool, Op)] = &[
    ("GcVec::pop", true, false, |mu, c, _, _| {
        let _ = c.v.pop(mu);
    }),
    ("GcVec::try_remove", true, false, |mu, c, _, _| {
        let _ = c.v.try_remove(0, mu);
    }),
    ("GcVec::truncate", true, false, |_, c, _, _| c.v.truncate(0)),
    ("GcVec::clear", true, false, |_, c, _, _| c.v.clear()),
    ("GcVec::set", true, true, |_, c, _, new| c.v.set(0, new)),
    ("GcVec::push", false, true, |_, c, _, new| c.v.push(new)),
    ("GcVec::insert", false, true, |_, c, _, new| c.v.insert(0, new)),
    ("GcVec::extend", false, true, |_, c, _, new| c.v.extend([new])),
    ("GcMap::insert over a key", true, true, |_, c, _, new| {
        let _ = c.m.insert(1, new);
    }),
    ("GcMap::insert of a new key", false, true, |_, c, _, new| {
        let _ = c.m.insert(2, new);
    }),
    ("GcMap::remove", true, false, |mu, c, _, _| {
        let _ = c.m.remove(&1, mu);
    }),
    ("GcMap::clear", true, false, |_, c, _, _| c.m.clear()),
    ("GcIdMap::insert over a key", true, true, |_, c, old, new| {
        let _ = c.i.insert(old, new);
    }),
    ("GcIdMap::insert of a new key", false, true, |_, c, _, new| {
        let _ = c.i.insert(new, new);
    }),
    ("GcIdMap::remove", true, false, |mu, c, old, _| {
        let _ = c.i.remove(old, mu);
    }),
    ("GcIdMap::clear", true, false, |_, c, _, _| c.i.clear()),
    ("GcValueVec::pop", true, false, |mu, c, _, _| {
        let _ = c.w.pop(mu);
    }),
    ("GcValueVec::try_remove", true, false, |mu, c, _, _| {
        let _ = c.w.try_remove(0, mu);
    }),
    ("GcValueVec::truncate", true, false, |_, c, _, _| c.w.truncate(0)),
    ("GcValueVec::clear", true, false, |_, c, _, _| c.w.clear()),
    ("GcValueVec::set", true, true, |_, c, _, new| c.w.set(0, Some(new))),
    ("GcValueVec::set of no pointer", true, false, |_, c, _, _| c.w.set(0, None)),
    ("GcValueVec::push", false, true, |_, c, _, new| c.w.push(Some(new))),
    ("GcValueVec::insert", false, true, |_, c, _, new| c.w.insert(0, Some(new))),
    ("GcValueVec::extend", false, true, |_, c, _, new| c.w.extend([Some(new)])),
    ("GcValueMap::insert over a key", true, true, |_, c, _, new| {
        let _ = c.x.insert(1, Some(new));
    }),
    ("GcValueMap::insert of a new key", false, true, |_, c, _, new| {
        let _ = c.x.insert(2, Some(new));
    }),
    ("GcValueMap::remove", true, false, |mu, c, _, _| {
        let _ = c.x.remove(&1, mu);
    }),
    ("GcValueMap::clear", true, false, |_, c, _, _| c.x.clear()),
];

#[test]
fn every_store_and_removal_shades_what_the_barrier_promises() {
    let _s = test_support::serial();
    let mu = crate::attach();
    for &kind in test_support::barrier_kinds() {
        for &(name, removes, stores, op) in CASES {
            let (c, old, new) = (obj(&mu), obj(&mu), obj(&mu));
            c.v.push(old);
            c.m.insert(1, old);
            c.i.insert(old, old);
            c.w.push(Some(old));
            c.x.insert(1, Some(old));
            assert!(!shaded(c) && !shaded(old) && !shaded(new), "objects are white outside a marking");
            // Pretend a cycle started: barrier on.
            clock::force(Phase::Mark, kind);
            let off = PhaseOff;
            op(&mu, c, old, new);
            let removed_shaded = removes && kind.shades_old();
            let stored_shaded = stores && kind.shades_new();
            let (old_marked, new_marked, c_marked) = (shaded(old), shaded(new), shaded(c));
            drop(off);
            assert_eq!(old_marked, removed_shaded, "{kind:?}, {name}: the removed or overwritten pointer");
            assert_eq!(new_marked, stored_shaded, "{kind:?}, {name}: the stored pointer");
            assert!(!c_marked, "{kind:?}, {name}: the container is not shaded");
        }
    }
}

/// A weak map under a pretend marking: `insert` shades the value it stores under every barrier
/// (`weak_map.rs`, point 3), and nothing else: not the key, which the map does not keep alive,
/// nor a value it overwrites or removes (point 4).
#[test]
fn a_weak_maps_stores_shade_the_stored_value_under_every_barrier_and_nothing_else() {
    let _s = test_support::serial();
    let mu = crate::attach();
    for kind in [BarrierKind::Dijkstra, BarrierKind::Yuasa, BarrierKind::Hybrid] {
        let map = mu.alloc(GcWeakMap::<Obj, Obj>::new());
        let (key, old, new, other_key, removed) = (obj(&mu), obj(&mu), obj(&mu), obj(&mu), obj(&mu));
        map.insert(key, old);
        map.insert(other_key, removed);
        clock::force(Phase::Mark, kind);
        let off = PhaseOff;
        map.insert(key, new);
        let after_insert = (shaded(key), shaded(new), shaded(old));
        let _ = map.remove(other_key, &mu);
        map.clear();
        let after_removals = (shaded(removed), shaded(old), shaded(other_key));
        drop(off);
        assert!(!after_insert.0, "{kind:?}: the key is not shaded");
        assert!(after_insert.1, "{kind:?}: insert shades the stored value");
        assert!(!after_insert.2, "{kind:?}: the overwritten value is not shaded");
        assert_eq!(after_removals, (false, false, false), "{kind:?}: removals shade nothing");
    }
}

/// While marking runs, reading an unmarked value out of a weak map counts as a weak upgrade of
/// an unmarked object (`weak_map.rs`, point 2): a handshake round in which it happens is not
/// quiet. Reading a marked value, or reading with the barrier off, counts nothing.
#[test]
fn a_weak_map_read_of_an_unmarked_value_while_marking_is_counted() {
    let _s = test_support::serial();
    let mu = crate::attach();
    let rt = Runtime::get();
    let map = mu.alloc(GcWeakMap::<Obj, Obj>::new());
    let (key, value) = (obj(&mu), obj(&mu));
    map.insert(key, value);
    let before = rt.weaks.unmarked_upgrades();
    assert!(map.get(key, &mu).is_some());
    assert_eq!(rt.weaks.unmarked_upgrades(), before, "barrier off: no count");
    let epoch = clock::force(Phase::Mark, BarrierKind::Dijkstra);
    let off = PhaseOff;
    let white = map.get(key, &mu).is_some();
    let counted_white = rt.weaks.unmarked_upgrades() - before;
    // SAFETY: a live local's object is allocated.
    unsafe { mark::try_mark(value.header_ptr(), epoch) };
    let black = map.get(key, &mu).is_some();
    let counted_black = rt.weaks.unmarked_upgrades() - before - counted_white;
    drop(off);
    assert!(white && black);
    assert_eq!((counted_white, counted_black), (1, 0));
}

/// The marker traces a weak map's value only once its key is marked: scanning the holder with
/// the key white leaves the value white and notes the holder; the collector's pass then shades
/// the value once the key is marked, and a second pass finds nothing more.
#[test]
fn the_marker_traces_a_value_once_its_key_is_marked_and_the_pass_catches_up() {
    use crate::{
        marker::{resolve_ephemerons, EphemeronPass, MarkWorker, QuietHolders},
        object::ObjPtr,
        shade::GreyQueue,
    };
    let _s = test_support::serial();
    let mu = crate::attach();
    let map = mu.alloc(GcWeakMap::<Obj, Obj>::new());
    let (key, value) = (obj(&mu), obj(&mu));
    map.insert(key, value);
    let epoch = clock::force(Phase::Mark, BarrierKind::Dijkstra);
    let off = PhaseOff;
    let queue = GreyQueue::default();
    let mut worker = MarkWorker::new(&queue);
    let holder = ObjPtr(std::ptr::NonNull::new(map.header_ptr()).expect("an object"));
    // SAFETY: a live local's object is allocated.
    unsafe { mark::try_mark(holder.as_ptr(), epoch) };
    worker.push_for_test(holder);
    worker.drain_stack_for_test(usize::MAX);
    let scanned_white = (shaded(value), queue.ephemeron_holders());
    // A fresh memo for each pass: the key is marked by hand here, not by work the queue sees.
    let pass = || resolve_ephemerons(&queue, None, &mut QuietHolders::default());
    let pass_white = pass();
    // SAFETY: as above.
    unsafe { mark::try_mark(key.header_ptr(), epoch) };
    let pass_marked = pass();
    let value_marked = shaded(value);
    let pass_again = pass();
    drop(off);
    assert_eq!(scanned_white, (false, vec![holder]), "the value waits for its key; the holder is noted");
    assert_eq!(pass_white, EphemeronPass::Quiet, "the key is still white: nothing is owed");
    assert_eq!((pass_marked, value_marked), (EphemeronPass::Shaded(1), true));
    assert_eq!(pass_again, EphemeronPass::Quiet);
}

/// A pause's ephemeron passes remember the holders found owing nothing while nothing is marked
/// (the queue's stamp stays the same), and trace only the others again: a pass that finds one
/// map locked still settles the rest, and the next needs only that one's lock.
#[test]
fn a_pass_traces_again_only_the_holders_not_found_quiet() {
    use crate::{
        marker::{resolve_ephemerons, EphemeronPass, MarkWorker, QuietHolders},
        object::ObjPtr,
        shade::GreyQueue,
    };
    let _s = test_support::serial();
    let mu = crate::attach();
    let maps = [(); 2].map(|()| mu.alloc(GcWeakMap::<Obj, Obj>::new()));
    for map in &maps {
        map.insert(obj(&mu), obj(&mu));
    }
    let epoch = clock::force(Phase::Mark, BarrierKind::Dijkstra);
    let off = PhaseOff;
    let queue = GreyQueue::default();
    let mut worker = MarkWorker::new(&queue);
    for map in &maps {
        let holder = ObjPtr(std::ptr::NonNull::new(map.header_ptr()).expect("an object"));
        // SAFETY: a live local's object is allocated.
        unsafe { mark::try_mark(holder.as_ptr(), epoch) };
        worker.push_for_test(holder);
    }
    worker.drain_stack_for_test(usize::MAX);
    let mut quiet = QuietHolders::default();
    let second_locked = maps[1].write_lock_for_test();
    let first_pass = resolve_ephemerons(&queue, None, &mut quiet);
    let first_locked = maps[0].write_lock_for_test();
    drop(second_locked);
    let second_pass = resolve_ephemerons(&queue, None, &mut quiet);
    let fresh_pass = resolve_ephemerons(&queue, None, &mut QuietHolders::default());
    drop(first_locked);
    drop(off);
    assert_eq!(first_pass, EphemeronPass::Locked, "the second map is locked");
    assert_eq!(second_pass, EphemeronPass::Quiet, "the first map, found quiet, is not traced again");
    assert_eq!(fresh_pass, EphemeronPass::Locked, "without the memo, the first map's lock counts");
}

/// Removals, overwrites and clears of unmarked values count nothing (they shade nothing); a
/// removal that hands its value out is a weak read, counted like `get`.
#[test]
fn a_weak_maps_removals_count_only_the_value_they_hand_out() {
    let _s = test_support::serial();
    let mu = crate::attach();
    let rt = Runtime::get();
    let map = mu.alloc(GcWeakMap::<Obj, Obj>::new());
    let keys = [obj(&mu), obj(&mu), obj(&mu)];
    for k in keys {
        map.insert(k, obj(&mu));
    }
    let before = rt.weaks.unmarked_upgrades();
    clock::force(Phase::Mark, BarrierKind::Yuasa);
    let off = PhaseOff;
    map.insert(keys[0], obj(&mu));
    let overwrite = rt.weaks.unmarked_upgrades() - before;
    let removed = map.remove(keys[1], &mu).is_some();
    let removal = rt.weaks.unmarked_upgrades() - before - overwrite;
    map.clear();
    let clear = rt.weaks.unmarked_upgrades() - before - overwrite - removal;
    drop(off);
    assert!(removed);
    assert_eq!((overwrite, removal, clear), (0, 1, 0));
}

/// With a verdict pending, the weak-map table removes exactly the entries whose keys the
/// marking did not reach, from every registered map (`weak_map_table.rs`): here, one of two.
#[test]
fn the_weak_map_table_removes_the_entries_of_unmarked_keys() {
    let _s = test_support::serial();
    let mu = crate::attach();
    let map = mu.alloc(GcWeakMap::<Obj, Obj>::new());
    let (live, dead) = (obj(&mu), obj(&mu));
    map.insert(live, obj(&mu));
    map.insert(dead, obj(&mu));
    let epoch = clock::mark_epoch();
    let _clear = test_support::ClearMarks;
    // SAFETY: a live local's object is allocated.
    unsafe { mark::try_mark(live.header_ptr(), epoch) };
    clock::force_weak_verdict(epoch);
    let removed = Runtime::get().weak_maps.clear_dead();
    clock::force_weak_verdict(0);
    assert!(removed >= 1, "other tests' maps may lose entries too, never fewer");
    assert!(map.contains_key(live) && !map.contains_key(dead) && map.len() == 1);
}
