//! Unit tests of the marker's chunked scans of large collections (`object/scan_cursor.rs`):
//! a scan reports one chunk per visit, and a writer that moves slots between two visits —
//! removing from or inserting into a vector, an insertion that rehashes a map — leaves no slot
//! unscanned and unshaded, under every barrier kind. The marker is driven by hand, one visit at
//! a time, during a pretend marking.

use std::time::Duration;

use hashbrown::HashTable;

use super::tests::PhaseOff;
use crate::{
    clock::{self, Phase},
    config::BarrierKind,
    grey_queue::GreyQueue,
    marker::MarkWorker,
    object::{
        exclusive::{self, Exclusive},
        mark_visit::note,
        scan_cursor::{CHUNK_WAIT, PATIENT_CHUNKS, SCAN_CHUNK},
        MarkVisitor, ObjPtr, Tracer,
    },
    test_support, Gc, GcIdMap, GcMap, GcValueMap, GcValueVec, GcVec, Member, Trace,
};

const KINDS: [BarrierKind; 3] = [BarrierKind::Dijkstra, BarrierKind::Yuasa, BarrierKind::Hybrid];

fn shaded<T>(g: Gc<'_, T>) -> bool {
    // SAFETY: `g` is a live local: its object is allocated and initialised.
    unsafe { test_support::shaded(g.header_ptr()) }
}

/// One visit of the marker to `collection`: whether it must come back for more.
fn visit(collection: &impl Trace, marker: &mut MarkVisitor) -> bool {
    marker.notes = 0;
    collection.trace(&mut Tracer::marking(marker));
    marker.settle_ring();
    assert_eq!(marker.notes & note::LOCKED, 0, "no lock was taken");
    marker.notes & note::MORE != 0
}

/// Visit until the scan is finished; returns the number of visits.
fn finish(collection: &impl Trace, marker: &mut MarkVisitor) -> usize {
    let mut visits = 1;
    while visit(collection, marker) {
        visits += 1;
        assert!(visits < 1000, "the scan finishes");
    }
    visits
}

#[test]
fn a_large_vector_is_scanned_a_chunk_per_visit() {
    let _s = test_support::serial();
    let mu = crate::attach();
    let v = mu.alloc(GcVec::new());
    v.extend((0..3 * SCAN_CHUNK as u32 + 7).map(|i| mu.alloc(i)));
    clock::force(Phase::Mark, BarrierKind::Dijkstra);
    let _off = PhaseOff;
    let mut marker = MarkVisitor::new(clock::mark_epoch());
    assert!(visit(&*v, &mut marker));
    let after_one = v.to_vec(&mu).into_iter().filter(|&e| shaded(e)).count();
    assert_eq!(after_one, SCAN_CHUNK, "one visit scans one chunk");
    assert_eq!(finish(&*v, &mut marker), 3, "three more visits: two full chunks and the rest");
    assert!(v.to_vec(&mu).into_iter().all(shaded));
    // A finished scan is not repeated in the same marking (an object holding two large
    // collections is visited once per chunk of either); the next marking starts over.
    assert!(!visit(&*v, &mut marker));
    let mut next_marking = MarkVisitor::new(clock::mark_epoch() + 1);
    assert!(visit(&*v, &mut next_marking));
}

#[derive(Trace)]
struct TwoLarge {
    a: GcVec<u32>,
    b: GcMap<u32, u32>,
}

/// An object with two large collections is visited once per chunk of the larger one: a
/// collection finished on an earlier visit is skipped, not restarted.
#[test]
fn an_object_with_two_large_collections_finishes() {
    let _s = test_support::serial();
    let mu = crate::attach();
    let two = mu.alloc(TwoLarge { a: GcVec::new(), b: GcMap::new() });
    two.a.extend((0..3 * SCAN_CHUNK as u32).map(|i| mu.alloc(i)));
    for i in 0..SCAN_CHUNK as u32 {
        two.b.insert(i, mu.alloc(i));
    }
    let buckets = two.b.table_shape().2;
    assert!(buckets > SCAN_CHUNK && buckets < 3 * SCAN_CHUNK, "the map takes fewer visits");
    clock::force(Phase::Mark, BarrierKind::Dijkstra);
    let _off = PhaseOff;
    let mut marker = MarkVisitor::new(clock::mark_epoch());
    assert_eq!(finish(&*two, &mut marker), 3);
    assert!(two.a.to_vec(&mu).into_iter().all(shaded));
    assert!(two.b.values(&mu).into_iter().all(shaded));
}

#[test]
fn a_vector_shifted_between_two_visits_loses_no_element() {
    let _s = test_support::serial();
    let mu = crate::attach();
    for kind in KINDS {
        let v = mu.alloc(GcVec::new());
        v.extend((0..3 * SCAN_CHUNK as u32).map(|i| mu.alloc(i)));
        clock::force(Phase::Mark, kind);
        let off = PhaseOff;
        let mut marker = MarkVisitor::new(clock::mark_epoch());
        assert!(visit(&*v, &mut marker));
        // Removals before the cursor carry unscanned elements into the scanned part; an
        // insertion before it carries scanned ones out (and its element is a store).
        let _ = v.remove(0, &mu);
        let _ = v.remove(SCAN_CHUNK / 2, &mu);
        v.insert(3, mu.alloc(u32::MAX));
        assert!(visit(&*v, &mut marker));
        let _ = v.remove(SCAN_CHUNK + 1, &mu);
        let _ = v.remove(0, &mu);
        finish(&*v, &mut marker);
        let unmarked: Vec<u32> = v.to_vec(&mu).into_iter().filter(|&e| !shaded(e)).map(|e| *e).collect();
        drop(off);
        // The new element is not scanned (it is before the cursor) but only Dijkstra and the
        // hybrid shade it when stored; under Yuasa it was allocated after marking started
        // (allocate-black) in a real cycle. Every element present throughout is marked.
        let expected: Vec<u32> = if kind.shades_new() { vec![] } else { vec![u32::MAX] };
        assert_eq!(unmarked, expected, "{kind:?}");
    }
}

/// A `retain` between two visits of the marker's chunked scan removes elements on both sides
/// of its cursor in one pass: every element kept is still scanned (the cursor follows the
/// moves), and under the deletion barriers every removed element is shaded.
#[test]
fn a_vector_retained_between_two_visits_loses_no_element() {
    let _s = test_support::serial();
    let mu = crate::attach();
    for kind in KINDS {
        let v = mu.alloc(GcVec::new());
        v.extend((0..3 * SCAN_CHUNK as u32).map(|i| mu.alloc(i)));
        let all = v.to_vec(&mu);
        clock::force(Phase::Mark, kind);
        let off = PhaseOff;
        let mut marker = MarkVisitor::new(clock::mark_epoch());
        assert!(visit(&*v, &mut marker));
        // Every third element goes, in the scanned chunk and after it: the kept elements past
        // the cursor move down across it unless the cursor moves with them.
        let removed = v.retain(&mu, |e| *e % 3 != 1);
        assert_eq!(removed, SCAN_CHUNK);
        finish(&*v, &mut marker);
        let kept = v.to_vec(&mu);
        let unmarked_kept = kept.iter().filter(|&&e| !shaded(e)).count();
        let gone: Vec<_> = all.into_iter().filter(|e| **e % 3 == 1).collect();
        let unmarked_gone = gone.iter().filter(|&&e| !shaded(e)).count();
        drop(off);
        assert_eq!(kept.len(), 2 * SCAN_CHUNK);
        assert!(kept.iter().map(|e| **e).eq((0..3 * SCAN_CHUNK as u32).filter(|i| i % 3 != 1)), "order kept");
        assert_eq!(unmarked_kept, 0, "{kind:?}: every element kept is scanned");
        if kind.shades_old() {
            assert_eq!(unmarked_gone, 0, "{kind:?}: every removed element is shaded");
        }
    }
}

/// Fill `insert` until the next insertion must rehash (`len == capacity`) with at least two
/// chunks of buckets; returns how many were inserted.
fn fill_to_capacity(table: impl Fn() -> (usize, usize, usize), mut insert: impl FnMut(u32)) -> u32 {
    let mut n = 0;
    loop {
        let (len, capacity, buckets) = table();
        if len == capacity && buckets >= 2 * SCAN_CHUNK {
            return n;
        }
        insert(n);
        n += 1;
    }
}

#[test]
fn a_map_rehashed_between_two_visits_loses_no_value() {
    let _s = test_support::serial();
    let mu = crate::attach();
    for kind in KINDS {
        let m = mu.alloc(GcMap::new());
        fill_to_capacity(
            || m.table_shape(),
            |i| {
                m.insert(i, mu.alloc(i));
            },
        );
        clock::force(Phase::Mark, kind);
        let off = PhaseOff;
        let mut marker = MarkVisitor::new(clock::mark_epoch());
        assert!(visit(&*m, &mut marker));
        let buckets = m.table_shape().2;
        m.insert(u32::MAX, mu.alloc(u32::MAX)); // rehashes: entries change buckets
        assert!(m.table_shape().2 > buckets, "the insertion grew the table");
        finish(&*m, &mut marker);
        // Every value present throughout. (The new one is shaded when stored only under
        // Dijkstra and the hybrid; under Yuasa it would be allocated black in a real cycle.)
        let old = |e: Gc<'_, u32>| *e != u32::MAX;
        let unmarked = m.values(&mu).into_iter().filter(|&e| old(e) && !shaded(e)).count();
        drop(off);
        assert_eq!(unmarked, 0, "{kind:?}");
    }
}

/// As `a_vector_shifted_between_two_visits_loses_no_element`, for a vector of values.
#[test]
fn a_value_vector_shifted_between_two_visits_loses_no_element() {
    let _s = test_support::serial();
    let mu = crate::attach();
    for kind in KINDS {
        let v = mu.alloc(GcValueVec::<Member<u32>>::new());
        v.extend((0..3 * SCAN_CHUNK as u32).map(|i| Some(mu.alloc(i))));
        clock::force(Phase::Mark, kind);
        let off = PhaseOff;
        let mut marker = MarkVisitor::new(clock::mark_epoch());
        assert!(visit(&*v, &mut marker));
        let _ = v.remove(0, &mu);
        let _ = v.remove(SCAN_CHUNK / 2, &mu);
        v.insert(3, Some(mu.alloc(u32::MAX)));
        assert!(visit(&*v, &mut marker));
        let _ = v.remove(SCAN_CHUNK + 1, &mu);
        let _ = v.remove(0, &mu);
        finish(&*v, &mut marker);
        let values = v.to_vec(&mu).into_iter().flatten();
        let unmarked: Vec<u32> = values.filter(|&e| !shaded(e)).map(|e| *e).collect();
        drop(off);
        let expected: Vec<u32> = if kind.shades_new() { vec![] } else { vec![u32::MAX] };
        assert_eq!(unmarked, expected, "{kind:?}");
    }
}

/// As `a_map_rehashed_between_two_visits_loses_no_value`, for a map of values.
#[test]
fn a_value_map_rehashed_between_two_visits_loses_no_value() {
    let _s = test_support::serial();
    let mu = crate::attach();
    for kind in KINDS {
        let m = mu.alloc(GcValueMap::<u32, Member<u32>>::new());
        fill_to_capacity(
            || m.table_shape(),
            |i| {
                m.insert(i, Some(mu.alloc(i)));
            },
        );
        clock::force(Phase::Mark, kind);
        let off = PhaseOff;
        let mut marker = MarkVisitor::new(clock::mark_epoch());
        assert!(visit(&*m, &mut marker));
        let buckets = m.table_shape().2;
        m.insert(u32::MAX, Some(mu.alloc(u32::MAX))); // rehashes: entries change buckets
        assert!(m.table_shape().2 > buckets, "the insertion grew the table");
        finish(&*m, &mut marker);
        let old = |e: Gc<'_, u32>| *e != u32::MAX;
        let values = m.values(&mu).into_iter().flatten();
        let unmarked = values.filter(|&e| old(e) && !shaded(e)).count();
        drop(off);
        assert_eq!(unmarked, 0, "{kind:?}");
    }
}

#[test]
fn an_id_map_rehashed_between_two_visits_loses_no_key_or_value() {
    let _s = test_support::serial();
    let mu = crate::attach();
    for kind in KINDS {
        let m = mu.alloc(GcIdMap::new());
        fill_to_capacity(
            || m.table_shape(),
            |i| {
                m.insert(mu.alloc(i), mu.alloc(i));
            },
        );
        clock::force(Phase::Mark, kind);
        let off = PhaseOff;
        let mut marker = MarkVisitor::new(clock::mark_epoch());
        assert!(visit(&*m, &mut marker));
        m.insert(mu.alloc(u32::MAX), mu.alloc(u32::MAX));
        finish(&*m, &mut marker);
        let old = |e: Gc<'_, u32>| *e != u32::MAX;
        let unmarked = m.entries(&mu).into_iter().flat_map(|(k, v)| [k, v]).filter(|&e| old(e) && !shaded(e)).count();
        drop(off);
        assert_eq!(unmarked, 0, "{kind:?}");
    }
}

#[test]
fn a_continuation_waits_for_no_writer_and_resumes_where_it_stopped() {
    let _s = test_support::serial();
    let mu = crate::attach();
    let v = mu.alloc(GcVec::new());
    v.extend((0..2 * SCAN_CHUNK as u32).map(|i| mu.alloc(i)));
    clock::force(Phase::Mark, BarrierKind::Dijkstra);
    let _off = PhaseOff;
    let mut marker = MarkVisitor::new(clock::mark_epoch());
    assert!(visit(&*v, &mut marker));
    let writer = v.write_lock_for_test();
    marker.notes = 0;
    v.trace(&mut Tracer::marking(&mut marker));
    assert_ne!(marker.notes & note::LOCKED, 0, "a write-locked vector is reported, not waited for");
    drop(writer);
    assert!(!visit(&*v, &mut marker), "the second chunk is the last");
    assert!(v.to_vec(&mu).into_iter().all(shaded));
}

/// A marker retrying patiently (`MarkVisitor::lock_patience`, see `marker/mod.rs`, "Locked
/// collections") waits for a writer instead of reporting the lock, and after a long wait scans
/// `PATIENT_CHUNKS` chunks in one visit; had without waiting, one chunk as always.
#[test]
fn a_patient_marker_waits_for_the_writer_and_then_scans_more() {
    let _s = test_support::serial();
    let mu = crate::attach();
    let v = mu.alloc(GcVec::new());
    v.extend((0..(2 * PATIENT_CHUNKS + 3) * SCAN_CHUNK).map(|i| mu.alloc(i as u32)));
    clock::force(Phase::Mark, BarrierKind::Dijkstra);
    let _off = PhaseOff;
    let mut marker = MarkVisitor::new(clock::mark_epoch());
    let scanned = |marker: &mut MarkVisitor| {
        marker.settle_ring();
        v.to_vec(&mu).into_iter().filter(|&e| shaded(e)).count()
    };
    assert!(visit(&*v, &mut marker));
    assert_eq!(scanned(&mut marker), SCAN_CHUNK);
    let (held, hold) = (std::sync::mpsc::channel(), CHUNK_WAIT * PATIENT_CHUNKS as u32 * 20);
    let vector: &GcVec<u32> = &v;
    std::thread::scope(|s| {
        s.spawn(move || {
            let writer = vector.write_lock_for_test();
            held.0.send(()).unwrap();
            std::thread::sleep(hold);
            drop(writer);
        });
        held.1.recv().unwrap();
        marker.lock_patience = Some(Duration::from_secs(60));
        assert!(visit(&*v, &mut marker), "the marker waited for the writer");
    });
    assert_eq!(scanned(&mut marker), (1 + PATIENT_CHUNKS) * SCAN_CHUNK, "a long wait earns more chunks");
    assert!(visit(&*v, &mut marker), "the lock was free: one chunk");
    assert_eq!(scanned(&mut marker), (2 + PATIENT_CHUNKS) * SCAN_CHUNK);
    marker.lock_patience = None;
    assert_eq!(finish(&*v, &mut marker), PATIENT_CHUNKS + 1);
    assert!(v.to_vec(&mu).into_iter().all(shaded));
}

/// A patient marker in an exclusive job stops waiting for a lock once the job is given up — as
/// a thread that wants to run gives up an idle stop's job, then waits for the workers to hand
/// their work back: the visit reports the lock instead of waiting out its patience.
#[test]
fn a_patient_marker_stops_waiting_once_its_job_is_given_up() {
    let _s = test_support::serial();
    let mu = crate::attach();
    let v = mu.alloc(GcVec::new());
    v.extend((0..3 * SCAN_CHUNK).map(|i| mu.alloc(i as u32)));
    clock::force(Phase::Mark, BarrierKind::Dijkstra);
    let _off = PhaseOff;
    let job = test_support::ExclusiveJob::begin();
    let mut marker = MarkVisitor::new(clock::mark_epoch());
    marker.exclusive = Some(Exclusive::new(job.0, 0));
    marker.lock_patience = Some(Duration::from_secs(60));
    let (held, release) = (std::sync::mpsc::channel(), std::sync::mpsc::channel::<()>());
    let vector: &GcVec<u32> = &v;
    std::thread::scope(|s| {
        s.spawn(move || {
            let writer = vector.write_lock_for_test();
            held.0.send(()).unwrap();
            // Held until the marker has given up waiting; a marker that waited on would be
            // handed the lock after 5 s and scan.
            let _ = release.1.recv_timeout(Duration::from_secs(5));
            drop(writer);
        });
        held.1.recv().unwrap();
        s.spawn(|| {
            std::thread::sleep(Duration::from_millis(20));
            exclusive::give_up();
        });
        marker.notes = 0;
        v.trace(&mut Tracer::marking(&mut marker));
        release.0.send(()).unwrap();
    });
    assert_ne!(marker.notes & note::LOCKED, 0, "the lock is reported once the job is given up");
    assert!(!v.to_vec(&mu).into_iter().any(shaded), "nothing was scanned");
    marker.exclusive = None;
    drop(job);
}

/// What `slots::reserve_one` relies on in hashbrown: an insertion below `capacity()` moves no
/// entry, and making room at `capacity()` raises it. A tripwire for a new hashbrown.
#[test]
fn hash_tables_move_entries_only_when_an_insertion_reaches_capacity() {
    let hash = |k: &u64| k.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    let mut t: HashTable<u64> = HashTable::new();
    let mut rng = 0x2545_F491_4F6C_DD1D_u64;
    for step in 0..if cfg!(miri) { 40 } else { 20_000_u64 } {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        if rng % 3 == 0 && !t.is_empty() {
            // Remove some entry: no other entry moves either.
            let victim = *t.iter().nth((rng >> 8) as usize % t.len()).expect("non-empty");
            let before: Vec<(u64, usize)> =
                t.iter().map(|&k| (k, t.find_bucket_index(hash(&k), |&x| x == k).unwrap())).collect();
            let Ok(entry) = t.find_entry(hash(&victim), |&x| x == victim) else { panic!("the victim is present") };
            entry.remove();
            for (k, b) in before.into_iter().filter(|&(k, _)| k != victim) {
                assert_eq!(t.find_bucket_index(hash(&k), |&x| x == k), Some(b), "a removal moved an entry");
            }
            continue;
        }
        if t.len() == t.capacity() {
            let room = t.capacity();
            t.reserve(1, hash);
            assert!(t.capacity() > room, "making room raises the capacity");
        }
        let before: Vec<(u64, usize)> =
            t.iter().map(|&k| (k, t.find_bucket_index(hash(&k), |&x| x == k).unwrap())).collect();
        let key = step << 20 | (rng & 0xFFFFF);
        t.insert_unique(hash(&key), key, hash);
        for (k, b) in before {
            assert_eq!(
                t.find_bucket_index(hash(&k), |&x| x == k),
                Some(b),
                "an insertion below capacity moved an entry"
            );
        }
    }
}

/// An assist pays its debt in chunks too: with a budget smaller than one chunk, it scans one
/// chunk of a large vector and stops, leaving the rest for later, rather than scanning the whole
/// vector a chunk at a time.
#[test]
fn an_assist_budget_counts_the_chunks_of_a_large_collection() {
    let _s = test_support::serial();
    let mu = crate::attach();
    let v = mu.alloc(GcVec::new());
    v.extend((0..4 * SCAN_CHUNK as u32).map(|i| mu.alloc(i)));
    clock::force(Phase::Mark, BarrierKind::Dijkstra);
    let off = PhaseOff;
    let queue = GreyQueue::default();
    let mut assist = MarkWorker::new(&queue);
    assist.push_for_test(ObjPtr(std::ptr::NonNull::new(v.header_ptr()).expect("an object")));
    let empty = assist.drain_stack_for_test(1);
    let scanned = v.to_vec(&mu).into_iter().filter(|&e| shaded(e)).count();
    drop(off);
    assert!(!empty, "the vector's continuation is left on the stack");
    assert_eq!(scanned, SCAN_CHUNK, "one chunk, then the budget was spent");
}
