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

use gc_runtime::{
    CycleStats, ExternalBytes, GcIdMap, GcMap, GcValueMap, GcValueVec, GcVec, GcWeakMap, HeapValue, Mutator, Trace,
};

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

/// A collection outside the heap — on the stack, forgotten, in an `Arc`, in a skipped field —
/// is unarmed: no marking can reach it, so it charges nothing (counted, it would keep the
/// pacer's heap over every goal a marking could set, and cycles would run back to back).
#[test]
fn collections_outside_the_heap_charge_nothing() {
    let _turn = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    /// No `Trace`: a field of this type can only be skipped.
    struct Hidden(GcVec<Element>);
    #[derive(Trace)]
    struct Outside {
        #[trace(skip)]
        skipped: Hidden,
        arc: std::sync::Arc<GcValueVec<Number>>,
    }
    let mut mu = gc_runtime::attach();
    collect_all(&mut mu);
    let before = owned();
    let on_stack: GcVec<Element> = GcVec::with_capacity(MIB);
    std::mem::forget(GcValueVec::<Number>::with_capacity(MIB));
    let outside = mu
        .alloc(Outside {
            skipped: Hidden(GcVec::with_capacity(MIB)),
            arc: std::sync::Arc::new(GcValueVec::with_capacity(MIB)),
        })
        .root(&mu);
    assert!(owned() <= before, "{} bytes charged outside the heap", owned() - before);
    assert!(outside.get(&mu).skipped.0.is_empty() && outside.get(&mu).arc.is_empty());
    // The same collection charges once allocation arms it.
    let inside = mu.alloc(on_stack);
    assert!(owned() >= before + 8 * MIB, "an armed vector with room for 1M elements");
    drop(outside);
    let _ = inside;
    collect_all(&mut mu);
    assert!(owned() <= before, "{} bytes still owned", owned() - before);
}

/// Buffers that grow while a marking runs are counted once — as the collection's own, if the
/// marking reaches it after, or as growth — and never more than were owned at its end; a map
/// cleared and refilled over and over charges nothing new.
#[test]
fn a_marking_counts_growth_beside_it_once() {
    let _turn = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let mut mu = gc_runtime::attach();
    collect_all(&mut mu);
    let start = gc_runtime::stats().cycles;
    let vec = mu.alloc(GcVec::<Element>::new()).root(&mu);
    let map = mu.alloc(GcMap::<u64, Element>::with_capacity(1 << 14)).root(&mu);
    let stop = std::sync::atomic::AtomicBool::new(false);
    let most = std::thread::scope(|s| {
        let collector = s.spawn(|| {
            gc_runtime::with_mutator(|mu| {
                while !stop.load(Ordering::Relaxed) {
                    mu.collect();
                }
            })
        });
        let mut most = 0;
        let element = mu.alloc(Element { canary: 1 }).root(&mu);
        for _ in 0..8 * 32 {
            let e = element.get(&mu);
            for _ in 0..4096 {
                vec.get(&mu).push(e);
            }
            map.get(&mu).clear();
            for k in 0..1000 {
                map.get(&mu).insert(k, e);
            }
            most = most.max(owned());
            mu.safepoint();
        }
        stop.store(true, Ordering::Relaxed);
        // Joined detached: its last `collect` needs this thread at a safepoint.
        mu.blocking(|| collector.join().unwrap());
        most
    });
    let stats = gc_runtime::stats();
    let cycles: Vec<&CycleStats> = stats.recent.iter().filter(|c| c.cycle > start).collect();
    assert!(!cycles.is_empty());
    for c in cycles {
        assert!(
            c.owned_marked <= most,
            "cycle {} counted {} owned bytes, at most {most} existed",
            c.cycle,
            c.owned_marked
        );
    }
    drop((vec, map));
    collect_all(&mut mu);
}

/// Dead collections' buffers are released by their objects' destructors, on the finalizer
/// thread, some time after the sweep. Until then the pacer leaves them out of its heap: counted,
/// a few dead objects with large buffers and slow destructors kept the heap over every goal, and
/// cycles ran back to back (825-865 a second) until the finalizer was done.
#[test]
fn buffers_found_dead_are_not_paced_while_the_finalizer_drops_them() {
    let _turn = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    struct Slow;
    impl Drop for Slow {
        fn drop(&mut self) {
            std::thread::sleep(std::time::Duration::from_millis(40));
        }
    }
    #[derive(Trace)]
    struct Doomed {
        items: GcVec<Element>,
        #[trace(skip)]
        _slow: Slow,
    }
    const HOLDERS: usize = 20;
    let mut mu = gc_runtime::attach();
    // No cycle but the one this test asks for.
    let config = gc_runtime::config();
    gc_runtime::reconfigure(config.clone().with_gc_percent(None)).unwrap();
    collect_all(&mut mu);
    let before = owned();
    {
        let list = mu.alloc(GcVec::<Doomed>::new());
        for _ in 0..HOLDERS {
            list.push(mu.alloc(Doomed { items: GcVec::with_capacity(MIB / 8), _slow: Slow }));
        }
    }
    assert!(owned() >= before + HOLDERS * MIB);
    mu.safepoint(); // no local left: the list is garbage
    let start = gc_runtime::stats().cycles;
    // The holders are garbage now. `collect` returns once the finalizer has dropped them (a
    // second); the cycle's record is made before that.
    let collector = std::thread::spawn(|| gc_runtime::with_mutator(|mu| mu.collect()));
    let record = loop {
        mu.safepoint();
        if let Some(c) = gc_runtime::stats().recent.into_iter().find(|c| c.cycle > start) {
            break c;
        }
        std::thread::yield_now();
    };
    let still_owned = owned();
    mu.blocking(|| collector.join().unwrap());
    assert!(still_owned >= before + HOLDERS * MIB / 2, "the finalizer was quicker than 40 ms a holder");
    assert!(
        record.heap_after < before + HOLDERS * MIB / 2,
        "the pacer's heap after the cycle, {} bytes, counts the dead buffers ({} owned)",
        record.heap_after,
        still_owned
    );
    gc_runtime::reconfigure(config).unwrap();
    collect_all(&mut mu);
    assert!(owned() <= before);
}

/// An object with memory of its own outside the heap, declared with `ExternalBytes`.
#[derive(Trace)]
struct Blob {
    data: Box<[u8]>,
    data_bytes: ExternalBytes,
}

fn blob(mu: &Mutator, bytes: usize) -> gc_runtime::Gc<'_, Blob> {
    let data = vec![7u8; bytes].into_boxed_slice();
    let data_bytes = ExternalBytes::new(data.len());
    mu.alloc(Blob { data, data_bytes })
}

/// Objects whose memory is mostly outside the heap, declared with `ExternalBytes`, start
/// cycles as collections' buffers do: 400 blobs of 1 MiB made and dropped one after another
/// (their objects far under the 4 MiB minimum heap) run cycles and stay within a few goals'
/// worth; a live one counts as live, by what it declares now; and once they are dead every
/// declaration is released.
#[test]
fn declared_external_memory_starts_cycles_counts_live_and_is_released() {
    let _turn = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    const BLOBS: usize = 400;
    let mut mu = gc_runtime::attach();
    collect_all(&mut mu);
    let (cycles_before, owned_before) = (gc_runtime::stats().cycles, owned());
    let mut most = 0;
    for _ in 0..BLOBS {
        let b = blob(&mu, MIB);
        assert_eq!((b.data.len(), b.data_bytes.get()), (MIB, MIB));
        most = most.max(owned());
        mu.safepoint();
    }
    let cycles = gc_runtime::stats().cycles - cycles_before;
    // Without the declarations, no cycle would have run: the objects stayed under the minimum
    // heap. The bound is loose: a charge starts a cycle but does not make its thread assist,
    // so a slow (debug, loaded) cycle lets a few dozen more go by before it ends.
    assert!(cycles >= 10, "{cycles} cycles for {BLOBS} MiB declared");
    assert!(most < owned_before + 200 * MIB, "{} MiB owned at most", (most - owned_before) / MIB);
    collect_all(&mut mu);
    assert_eq!(owned(), owned_before, "every dead blob's declaration was released");

    let kept = blob(&mu, 8 * MIB).root(&mu);
    collect_all(&mut mu);
    let c = last_cycle();
    assert!(c.owned_marked >= 8 * MIB, "the live blob counts: {} bytes", c.owned_marked);
    kept.get(&mu).data_bytes.set(2 * MIB);
    assert_eq!(owned(), owned_before + 2 * MIB, "a new declaration is charged at once");
    collect_all(&mut mu);
    let c = last_cycle();
    assert!((2 * MIB..3 * MIB).contains(&c.owned_marked), "counted by what it declares now: {}", c.owned_marked);
    drop(kept);
    collect_all(&mut mu);
    assert_eq!(owned(), owned_before);
}

/// Threads that `set` one declaration at once keep the counters in order: the owned bytes
/// never read more than the largest declaration (beside the rest of the heap's), and end at
/// the last one set. Two such threads took the global counter below zero for a moment, which
/// read as 1.8e19 bytes: the collector's arithmetic overflowed and stopped the process in a
/// debug build, and set goals of 44 TB in a release one (a hostile review).
#[test]
fn threads_setting_one_declaration_at_once_keep_the_counters_in_order() {
    let _turn = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    const SETTERS: u64 = 4;
    let mut mu = gc_runtime::attach();
    collect_all(&mut mu);
    let owned_before = owned();
    let shared = blob(&mu, 0).root(&mu);
    let stop = std::sync::atomic::AtomicBool::new(false);
    let most = std::thread::scope(|s| {
        for t in 0..SETTERS {
            let (shared, stop) = (&shared, &stop);
            s.spawn(move || {
                let mut mu = gc_runtime::attach();
                let mut x = t + 1;
                while !stop.load(Ordering::Relaxed) {
                    for _ in 0..64 {
                        x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                        shared.get(&mu).data_bytes.set((x >> 40) as usize % MIB);
                    }
                    mu.safepoint();
                }
            });
        }
        let mut most = 0;
        for _ in 0..300 {
            most = most.max(owned());
            mu.blocking(|| std::thread::sleep(std::time::Duration::from_micros(200)));
        }
        stop.store(true, Ordering::Relaxed);
        most
    });
    assert!(most < owned_before + MIB, "the owned bytes read {most} with at most 1 MiB declared");
    let last = shared.get(&mu).data_bytes.get();
    assert_eq!(owned(), owned_before + last, "the counter holds the last declaration");
    drop(shared);
    collect_all(&mut mu);
    assert_eq!(owned(), owned_before);
}

/// Declarations that add up past `usize::MAX` (each within `isize::MAX`, as `new` demands) are
/// not meaningful, but stop nothing: cycles run, and the counters come back once they are
/// dropped. (The marker's sum overflowed and stopped the process in a debug build: a hostile
/// review.)
#[test]
fn declarations_adding_up_past_the_address_space_stop_nothing() {
    let _turn = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let mut mu = gc_runtime::attach();
    collect_all(&mut mu);
    let owned_before = owned();
    let roots: Vec<_> = (0..3)
        .map(|_| mu.alloc(Blob { data: Box::new([]), data_bytes: ExternalBytes::new(isize::MAX as usize) }).root(&mu))
        .collect();
    collect_all(&mut mu);
    for r in &roots {
        assert_eq!(r.get(&mu).data_bytes.get(), isize::MAX as usize);
    }
    drop(roots);
    collect_all(&mut mu);
    assert_eq!(owned(), owned_before, "every declaration was released");
}

/// A value with its own declaration of external memory.
#[derive(Trace)]
struct DeclaringValue {
    n: AtomicU64,
    bytes: ExternalBytes,
}

impl HeapValue for DeclaringValue {
    type Local<'m> = u64;
    fn empty() -> DeclaringValue {
        DeclaringValue { n: AtomicU64::new(0), bytes: ExternalBytes::new(MIB) }
    }
    fn load(&self, _: &Mutator) -> u64 {
        self.n.load(Ordering::Relaxed)
    }
    fn store(&self, n: u64) {
        self.n.store(n, Ordering::Relaxed);
    }
}

/// An element of a value collection is no object, so it cannot hold an `ExternalBytes`:
/// storing one is refused, naming it, and the vector is left as it was.
#[test]
fn a_value_collection_refuses_values_that_declare_external_memory() {
    let _turn = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let mut mu = gc_runtime::attach();
    // The earlier tests' garbage is released first: the finalizer releasing it during the push
    // made the figure fall by 16 MiB (a CI run).
    collect_all(&mut mu);
    let values = mu.alloc(GcValueVec::<DeclaringValue>::new());
    let owned_before = owned();
    let refused = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| values.push(7)));
    let message = refused.expect_err("the push is refused");
    let message = message.downcast_ref::<String>().map_or("", String::as_str);
    assert!(message.contains("ExternalBytes"), "{message}");
    assert_eq!((values.len(), owned()), (0, owned_before));
}
