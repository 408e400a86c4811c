//! Memory the collections own outside the heap — their buffers and tables — counts for the
//! pacer. A `GcVec` of a million elements is a few dozen bytes of object and 8 MiB of buffer;
//! counting only the objects, a program that kept filling such vectors and dropping them grew
//! without the pacer ever starting a cycle (1.9 GB of buffers, 0 cycles, in the program the
//! first test is modelled on), since the buffers are freed only when a cycle finds their
//! objects dead.
//!
//! `Stats::owned_bytes` is process-wide, so the tests of this file take turns (`SERIAL`).

use std::sync::{
    atomic::{AtomicU64, Ordering},
    Mutex,
};

use gc_runtime::{CycleStats, GcIdMap, GcMap, GcValueMap, GcValueVec, GcVec, GcWeakMap, HeapValue, Mutator, Trace};

static SERIAL: Mutex<()> = Mutex::new(());

const MIB: usize = 1 << 20;

#[derive(Trace)]
struct Element {
    canary: u64,
}

/// A value without pointers: its collections are not scanned, only visited.
#[derive(Trace)]
struct Number(AtomicU64);

impl HeapValue for Number {
    type Local<'m> = u64;
    fn empty() -> Number {
        Number(AtomicU64::new(0))
    }
    fn load(&self, _: &Mutator) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
    fn store(&self, n: u64) {
        self.0.store(n, Ordering::Relaxed);
    }
}

#[derive(Trace)]
struct Holder {
    vec: GcVec<Element>,
    values: GcValueVec<Number>,
    value_map: GcValueMap<u64, Number>,
    map: GcMap<u64, Element>,
    ids: GcIdMap<Element, Element>,
    weak: GcWeakMap<Element, Element>,
}

fn empty_holder() -> Holder {
    Holder {
        vec: GcVec::new(),
        values: GcValueVec::new(),
        value_map: GcValueMap::new(),
        map: GcMap::new(),
        ids: GcIdMap::new(),
        weak: GcWeakMap::new(),
    }
}

/// The record of the last cycle completed.
fn last_cycle() -> CycleStats {
    gc_runtime::stats().recent.pop().expect("a cycle ran")
}

fn owned() -> usize {
    gc_runtime::stats().owned_bytes
}

/// Collect until every dead collection's buffers are freed: `collect` returns once the
/// objects its cycle found dead are finalized, and a collection's buffers go with its object.
fn collect_all(mu: &mut Mutator) {
    mu.collect();
    mu.collect();
}

#[test]
fn vectors_that_keep_growing_start_cycles_and_their_buffers_are_freed() {
    let _turn = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    const VECTORS: usize = 300;
    // Each vector ends with a buffer of 1 MiB (and has had the smaller ones before it).
    const ELEMENTS: usize = MIB / 8;
    let mut mu = gc_runtime::attach();
    collect_all(&mut mu);
    let (cycles_before, owned_before) = (gc_runtime::stats().cycles, owned());
    let element = mu.alloc(Element { canary: 7 }).root(&mu);
    let mut most = 0;
    for _ in 0..VECTORS {
        let e = element.get(&mu);
        let holder = mu.alloc(empty_holder());
        for _ in 0..ELEMENTS {
            holder.vec.push(e);
        }
        assert_eq!(holder.vec.get(ELEMENTS - 1, &mu).map(|e| e.canary), Some(7));
        most = most.max(owned());
        mu.safepoint();
    }
    let cycles = gc_runtime::stats().cycles - cycles_before;
    // 300 MiB of buffers went through a heap whose objects stayed under the 4 MiB minimum:
    // only the owned bytes can have started these cycles, and they kept the buffers down to
    // a few goals' worth (a goal is about twice the one live vector; the finalizer frees the
    // dead ones' buffers in the background).
    assert!(cycles >= 10, "{cycles} cycles for {VECTORS} MiB of buffers");
    assert!(most < owned_before + 96 * MIB, "{} MiB owned at most", (most - owned_before) / MIB);
    collect_all(&mut mu);
    assert!(owned() <= owned_before + MIB, "{} MiB still owned after the vectors died", owned() / MIB);
}

#[test]
fn a_marking_counts_the_buffers_of_every_kind_of_collection_it_reaches() {
    let _turn = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    const N: usize = 1 << 16;
    let mut mu = gc_runtime::attach();
    let config = gc_runtime::config();
    gc_runtime::reconfigure(config.clone().with_gc_percent(Some(100)).with_min_heap(MIB)).unwrap();
    collect_all(&mut mu);
    let at_start = owned();
    let holder = mu.alloc(empty_holder());
    let mut charged = Vec::new();
    let mut step = |what: &'static str, fill: &dyn Fn()| {
        let before = owned();
        fill();
        charged.push((what, owned() - before));
    };
    let elements: Vec<_> = (0..N as u64).map(|i| mu.alloc(Element { canary: i })).collect();
    step("GcVec", &|| elements.iter().for_each(|&e| holder.vec.push(e)));
    step("GcValueVec", &|| (0..N as u64).for_each(|i| holder.values.push(i)));
    step("GcValueMap", &|| (0..N as u64).for_each(|i| _ = holder.value_map.insert(i, i)));
    step("GcMap", &|| elements.iter().for_each(|&e| _ = holder.map.insert(e.canary, e)));
    step("GcIdMap", &|| elements.iter().for_each(|&e| _ = holder.ids.insert(e, e)));
    step("GcWeakMap", &|| elements.iter().for_each(|&e| _ = holder.weak.insert(e, e)));
    for &(what, bytes) in &charged {
        assert!(bytes >= N * 8, "{what} charged {bytes} bytes for {N} entries");
    }
    let total: usize = charged.iter().map(|&(_, bytes)| bytes).sum();
    let root = holder.root(&mu);
    drop(elements);
    mu.collect();
    let c = last_cycle();
    // Everything charged is reachable from the root (the weak map's keys through the vector),
    // so the marking counts all of it; nothing else owns buffers now.
    assert!(c.owned_marked >= total, "marked {} owned bytes of {total}", c.owned_marked);
    assert!(c.owned_marked <= owned(), "marked {} owned bytes, {} exist", c.owned_marked, owned());
    assert!(c.heap_marked > c.owned_marked, "heap_marked {} counts the objects too", c.heap_marked);
    assert_eq!(c.heap_goal, 2 * c.heap_marked, "GC_PERCENT=100 doubles what was marked, buffers included");
    gc_runtime::reconfigure(config).unwrap();
    assert!(c.trace_line().contains(&format!("(owned {:.1} MB, ", c.owned_marked as f64 / MIB as f64)));
    let h = root.get(&mu);
    assert_eq!(h.weak.len(), N, "every weak entry's key is alive");
    drop(root);
    collect_all(&mut mu);
    assert!(owned() <= at_start, "{} bytes owned after the holder died, {at_start} before", owned());
}

#[test]
fn a_memory_limit_leaves_room_for_live_buffers_larger_than_it() {
    let _turn = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    const LIMIT: usize = 8 * MIB;
    let mut mu = gc_runtime::attach();
    let config = gc_runtime::config();
    gc_runtime::reconfigure(config.clone().with_memory_limit(Some(LIMIT))).unwrap();
    // A vector whose buffer (16 MiB) is twice the limit, which bounds only the objects.
    let holder = mu.alloc(empty_holder());
    holder.values.push(0);
    let root = mu.alloc(GcValueVec::<Number>::with_capacity(2 * MIB)).root(&mu);
    mu.collect();
    let c = last_cycle();
    assert!(c.owned_marked >= 16 * MIB, "{}", c.owned_marked);
    // A goal under the live heap would start every cycle at once after the last; the limit's
    // 90 % comes on top of the live buffers instead.
    assert!(c.heap_goal > c.heap_marked, "goal {} under the live heap {}", c.heap_goal, c.heap_marked);
    assert!(c.heap_goal <= LIMIT / 10 * 9 + c.owned_marked, "goal {} above the limit's room", c.heap_goal);
    // Allocation is still refused only by the objects' size.
    let big = mu.try_alloc_slice(vec![0u8; LIMIT]);
    assert!(big.is_err(), "an 8 MiB object under an 8 MiB limit with other objects live");
    let fits = mu.try_alloc_slice(vec![0u8; 1024]).map(|s| s.len());
    assert_eq!(fits.ok(), Some(1024), "a small object fits: the 16 MiB buffer is not charged to the limit");
    root.get(&mu).push(1);
    assert_eq!(root.get(&mu).get(0, &mu), Some(1));
    gc_runtime::reconfigure(config).unwrap();
    drop(root);
}
