//! [`GcWeakMap`]: an ephemeron table — JavaScript's `WeakMap` — keyed by GC objects (by
//! identity), whose entries keep their values alive only while their keys are reachable
//! from elsewhere.
//!
//! # Shape
//!
//! Like [`GcIdMap`](crate::GcIdMap): an armed flag, a lock for writers and the marker, and an
//! open-addressed table hashed by the key object's address that lookups probe without a lock
//! (`slot_table.rs`). An entry holds a pointer to the key — not a slot: nothing reports it to
//! the marker, so the map does not keep its key alive — and an armed value slot ([`Member`]),
//! written through the barrier (removals are not: see point 4 below). Insertions, removals,
//! `clear` and the collector's clearing of dead keys hold the write lock, the marker's scan
//! the read lock; rehashing is handled as in the other collections (`collections/mod.rs`).
//!
//! A lookup takes no lock because the table never gives a removed entry to another key before
//! a rehash (`slot_table.rs`): a reader that matched its key's address reads that key's value,
//! or an empty slot if the entry was removed meanwhile. Its key is one the reader holds, so it
//! is alive: the collector's clearing, which removes only entries of keys a marking did not
//! reach, never removes it, and no other object can have its address. What the lookup reads
//! is then a weak read (point 2), as it was under a lock.
//!
//! # Lock order
//!
//! A writer takes the map's write lock, then (in `remove`'s weak read, and `insert`'s count of
//! a value shaded again after a rehash) the runtime's weak gate, shared. The collector takes
//! the gate exclusively for a termination decision and, holding it, only *tries* map locks
//! (the ephemeron pass: a locked map makes the round busy); the clearing of dead keys'
//! entries waits for each map's write lock while it holds the weak-map table's lock, and never
//! the gate. So no thread waits for a map's lock while holding what a writer of that map may
//! wait for.
//!
//! # Ephemeron semantics
//!
//! A value is reachable if its map is reachable and its key is reachable (Hayes, "Ephemerons",
//! OOPSLA '97). A key that only its own value reaches is therefore garbage, cycles through
//! values included, and the whole entry goes with it.
//!
//! - **Marking.** A map's `trace` reports each entry as an ephemeron
//!   (`Tracer::report_ephemeron`): the marker traces the value if the key is marked already,
//!   and otherwise notes the object as a holder of pending entries (`grey_queue.rs`,
//!   "Ephemeron holders").
//! - **The fixpoint.** Before the collector decides that marking is over, it traces every
//!   holder again and shades the values of entries whose keys are marked now
//!   (`marker/ephemerons.rs`). New values can mark new keys, so it drains and asks again, until
//!   a pass shades nothing.
//! - **Clearing.** Once a marking is over, every entry whose key it did not reach is removed,
//!   before the sweep frees the key and its address can be reused (`weak_map_table.rs`).
//! - **Checkmark** walks with the same semantics: a value counts as reached once its map and
//!   its key are (`checkmark.rs`).
//!
//! # Why the fixpoint is sound without a pause
//!
//! With per-thread handshakes the collector decides that marking is over while mutators run
//! (`collector/mod.rs`, "Termination without a pause"). The argument there shows that after a
//! quiet round every object reachable through *slots* is marked, using the barrier's invariant
//! along a path of slots. An ephemeron entry is an edge the barrier does not see appear: a
//! scanned map can hold an entry whose key turns black later, and then the edge from the black
//! map to its white value exists without any store. Four rules restore the argument:
//!
//! 1. **The pass at the decision.** The decision is taken only if a pass over the holders,
//!    made after the quiet round (under the root-table lock and the weak gate), shaded nothing.
//!    A map with no entry pending when it was scanned had every value traced then; an entry
//!    made later shades its value (below). So at the decision, every entry of a scanned map
//!    whose key is marked has a marked value — the edge is not black-to-white.
//! 2. **Reads are weak reads.** A mutator that takes a value out of a map (`get`, `remove`)
//!    may get a white object through such an edge before the pass sees it — and then the entry
//!    may be removed, leaving the object reachable only through what the thread does with it.
//!    So a read while marking is treated exactly like a weak reference's upgrade (`weak.rs`):
//!    counted under the weak gate if the value is unmarked (the round is then not quiet) and,
//!    under Yuasa, making the thread's stores shade. Without a counted read, every pointer a
//!    mutator obtains after its answer comes through slots from roots — the argument's case.
//!    A decision can still come between a lookup's load of the value and its checks (the
//!    thread answered the round before): the checks then find the value dead if the entry
//!    lost it meanwhile (replaced or removed), and `get` reads the entry again rather than
//!    report a present key absent; `remove` makes its checks before it lets go of the write
//!    lock, which keeps a decision out (the pass finds the map locked).
//! 3. **A stored value is shaded.** `insert` shades the value it stores under every barrier
//!    while marking (Dijkstra's shade; Yuasa's stores shade only what they overwrite). A value
//!    stored into a map scanned earlier, under a key marked later, is thus never left white
//!    behind the scan. A value shaded again in place after a rehash (for the marker's chunked
//!    scan, `object/scan_cursor.rs`) is counted as in point 2 if it was unmarked: the shade
//!    marks it but leaves it grey in the thread's private buffer, and the pass, which sees only
//!    marks, would take it for done.
//! 4. **Removals do not shade.** An overwritten, removed or cleared value leaves its entry
//!    without a store, under every barrier — unlike a slot's, whose deletion barrier protects
//!    what a thread may have loaded before and stores elsewhere later. A thread holds a map's
//!    value only through a read, which point 2 counts (and under Yuasa makes its stores shade),
//!    so a value that only its entry reached is garbage once the entry is gone. Shading it
//!    anyway would do harm: it would mark it grey in the thread's private buffer, where the
//!    read's check (`remove` hands the value out) sees it marked and does not count it — the
//!    loom model `weak map across a ragged termination: Yuasa` lost the value's referents that
//!    way — and a `clear` between a decision and the barrier going off would shade the values
//!    of keys the decision found dead, grey work after the marking is over.
//!
//! The stop-the-world termination makes the same pass inside its pause (no mutator runs, so
//! only point 1 is needed), and so does stop-the-world mode.

use std::fmt;

use super::slots::{debug_address_map, read_for_trace, slot_addr, AddrFmt, Armed, ChargedWrite};
use crate::{
    gc::Gc,
    member::Member,
    mutator::Mutator,
    object::{mark, Header, ScanCursor, Trace, Tracer},
    primitive::sync::{
        atomic::{AtomicBool, Ordering},
        RwLock,
    },
    runtime::Runtime,
    shared_slice::pin,
    slot::is_object,
    slot_array::ArraySlot,
    slot_table::{object_at, Entry, NoKeySlot, SlotTable},
    variance::Invariant,
    weak::{note_weak_read, note_weak_shade},
};

const NAME: &str = "GcWeakMap";

/// An entry's value: an armed slot whose stores shade the value under every barrier (module
/// docs, point 3) and whose removals shade nothing (point 4).
struct EphemeronValue<V: ?Sized>(Member<V>);

impl<V: ?Sized> ArraySlot for EphemeronValue<V> {
    type Raw = *mut Header;
    const EMPTY: *mut Header = std::ptr::null_mut();

    fn empty() -> Self {
        EphemeronValue(Member::new_armed())
    }

    #[inline]
    fn load(&self) -> *mut Header {
        self.0.raw()
    }

    #[inline]
    fn is_empty(raw: *mut Header) -> bool {
        !is_object(raw)
    }

    /// A value entering an empty slot, shaded (point 3); or the slot emptied without a store
    /// (point 4).
    fn store(&self, raw: *mut Header) {
        if is_object(raw) {
            ArraySlot::store(&self.0, raw);
            self.0.reshade();
        } else {
            self.0.put_moved(std::ptr::null_mut());
        }
    }

    fn put_moved(&self, raw: *mut Header) {
        self.0.put_moved(raw);
    }
}

/// The table: each entry's address word is the key object's header address, exposed
/// ([`key_word`]), and its value slot. The key is not a slot: the map does not keep its key
/// alive, and no barrier runs on it. While the entry exists the key is allocated
/// (`weak_map_table.rs`), so the marker and the clearing read its mark through the word
/// ([`key_of`]).
type Table<V> = SlotTable<NoKeySlot, EphemeronValue<V>>;

/// The address word of `key`'s entry: its header's address, with the pointer's provenance
/// exposed, so that [`key_of`] can read the key's mark.
fn key_word<K: ?Sized>(key: Gc<'_, K>) -> usize {
    key.header_ptr().expose_provenance()
}

/// The key object an entry's address word names (see [`key_word`]).
fn key_of(word: usize) -> *const Header {
    std::ptr::with_exposed_provenance(word)
}

/// A weak map (an ephemeron table): from GC objects, compared by identity, to GC pointers;
/// an entry keeps its value alive only as long as its key is reachable from elsewhere, and
/// goes away with its key.
///
/// This is JavaScript's `WeakMap`, for side tables that must not keep their keys alive: the
/// properties an interpreter attaches to host objects, memoised results per object, private
/// fields. A value may refer to its own key (or to other keys of the map): such cycles are
/// collected, unlike in a [`GcIdMap`](crate::GcIdMap) with [`Weak`](crate::Weak) keys.
///
/// There is no iteration, as in JavaScript: which keys are alive is the collector's to decide.
/// All methods take `&self`; stores run the write barrier; reads need a [`Mutator`] and return
/// locals. Like the other collections, a `GcWeakMap` accepts entries once the object that
/// holds it (or the map itself) is allocated.
///
/// ```
/// use gc_runtime::{GcWeakMap, Member, Trace};
///
/// #[derive(Trace)]
/// struct Node {
///     name: String,
///     back: Member<Node>,
/// }
///
/// let mut mu = gc_runtime::attach();
/// let table = mu.alloc(GcWeakMap::<Node, Node>::new()).root(&mu);
/// let kept = mu.alloc(Node { name: "kept".into(), back: Member::new() }).root(&mu);
/// {
///     let table = table.get(&mu);
///     let gone = mu.alloc(Node { name: "gone".into(), back: Member::new() });
///     // A value that points back to its key: the entry still dies with the key.
///     let meta = mu.alloc(Node { name: "meta".into(), back: Member::new() });
///     meta.back.set(Some(gone));
///     table.insert(gone, meta);
///     table.insert(kept.get(&mu), mu.alloc(Node { name: "kept's".into(), back: Member::new() }));
///     assert_eq!(table.len(), 2);
/// }
/// mu.collect();
/// let table = table.get(&mu);
/// assert_eq!(table.len(), 1, "the entry of the unreachable key is gone");
/// assert_eq!(table.get(kept.get(&mu), &mu).unwrap().name, "kept's");
/// ```
pub struct GcWeakMap<K: ?Sized, V: ?Sized> {
    armed: Armed,
    /// Whether the map is in the runtime's table of weak maps (it registers on its first
    /// entry; see `weak_map_table.rs`).
    registered: AtomicBool,
    /// Where the marker's chunked scan resumes, in buckets (see `object/scan_cursor.rs`).
    cursor: ScanCursor,
    /// Held for writing by insertions, removals, `clear` (and rehashes) and the collector's
    /// clearing of dead keys, for reading by the marker's scan and `Debug`; lookups do not
    /// take it.
    lock: RwLock<()>,
    table: Table<V>,
    /// Invariant in `K` (see `variance.rs`; `V` is in the table's slots).
    _k: Invariant<K>,
}

impl<K: ?Sized, V: ?Sized> GcWeakMap<K, V> {
    /// An empty map, to put in a new object (it accepts entries once that object is
    /// allocated).
    ///
    /// ```
    /// let mu = gc_runtime::attach();
    /// let loose: gc_runtime::GcWeakMap<u8, u8> = gc_runtime::GcWeakMap::new();
    /// assert!(loose.is_empty()); // unarmed: reads as empty, `insert` would panic
    /// let m = mu.alloc(gc_runtime::GcWeakMap::new());
    /// let k = mu.alloc(1_u8);
    /// m.insert(k, mu.alloc(2_u8));
    /// assert_eq!(m.len(), 1);
    /// ```
    pub fn new() -> GcWeakMap<K, V> {
        GcWeakMap::with_capacity(0)
    }

    /// An empty map with room for `capacity` entries before it rehashes.
    ///
    /// ```
    /// let mu = gc_runtime::attach();
    /// let m = mu.alloc(gc_runtime::GcWeakMap::with_capacity(16));
    /// m.insert(mu.alloc(1_u8), mu.alloc(2_u8));
    /// # assert_eq!(m.len(), 1);
    /// ```
    pub fn with_capacity(capacity: usize) -> GcWeakMap<K, V> {
        GcWeakMap {
            armed: Armed::new(),
            registered: AtomicBool::new(false),
            cursor: ScanCursor::new(),
            lock: RwLock::new(()),
            table: SlotTable::with_capacity(capacity),
            _k: std::marker::PhantomData,
        }
    }

    /// The number of entries. Entries whose keys died are counted until the collector removes
    /// them, at the end of the cycle that found the key dead.
    ///
    /// ```
    /// let mu = gc_runtime::attach();
    /// let m = mu.alloc(gc_runtime::GcWeakMap::new());
    /// let k = mu.alloc(0_u8);
    /// m.insert(k, mu.alloc(1_u8));
    /// m.insert(k, mu.alloc(2_u8)); // same key object: replaces
    /// m.insert(mu.alloc(0_u8), mu.alloc(3_u8)); // equal value, other object: new entry
    /// assert_eq!(m.len(), 2);
    /// ```
    pub fn len(&self) -> usize {
        self.table.len()
    }

    /// Whether the map has no entry (see [`GcWeakMap::len`]).
    ///
    /// ```
    /// let mu = gc_runtime::attach();
    /// let m = mu.alloc(gc_runtime::GcWeakMap::<u8, u8>::new());
    /// assert!(m.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Map the object `key` to `value`; returns whether an entry for `key` was replaced. The
    /// map does not keep `key` alive; it keeps `value` alive as long as `key` is reachable
    /// from elsewhere. While marking runs, `value` is shaded (module docs, point 3).
    ///
    /// # Panics
    /// If the map is not inside an allocated object.
    ///
    /// ```
    /// let mu = gc_runtime::attach();
    /// let m = mu.alloc(gc_runtime::GcWeakMap::new());
    /// let k = mu.alloc("key");
    /// assert!(!m.insert(k, mu.alloc(1_u8)));
    /// assert!(m.insert(k, mu.alloc(2_u8)));
    /// assert_eq!(*m.get(k, &mu).unwrap(), 2);
    /// ```
    pub fn insert(&self, key: Gc<'_, K>, value: Gc<'_, V>) -> bool {
        self.armed.check("GcWeakMap::insert", NAME);
        self.register();
        let word = key_word(key);
        let _writer = self.write();
        // SAFETY: the lock is held exclusively from here on (every call below).
        unsafe {
            // A rehash part way through the marker's scan may move entries behind its cursor:
            // shade every value again (`object/scan_cursor.rs`), counted as point 3 says.
            if self.table.reserve_one() && self.cursor.mid_scan() {
                for entry in self.table.buckets_locked().iter().filter(|e| e.key_addr().is_some()) {
                    note_reshade(&entry.value.0);
                    entry.value.0.reshade();
                }
            }
            match self.table.entry(&object_at(word)) {
                Entry::Occupied(entry) => {
                    // The old value leaves without a store: removals do not shade (module
                    // docs, point 4). A lookup reads the old value or the new one; the write
                    // lock keeps the marker out until the new one is shaded.
                    entry.value.0.put_moved(value.header_ptr());
                    entry.value.0.reshade();
                    true
                }
                Entry::Vacant(room) => {
                    room.insert(word, (), value.header_ptr());
                    false
                }
            }
        }
    }

    /// The value for the object `key`, as a local of `mu`.
    ///
    /// ```
    /// let mu = gc_runtime::attach();
    /// let m = mu.alloc(gc_runtime::GcWeakMap::new());
    /// let (k, other) = (mu.alloc(1_u8), mu.alloc(1_u8));
    /// m.insert(k, mu.alloc("v"));
    /// assert_eq!(m.get(k, &mu).map(|v| *v), Some("v"));
    /// assert!(m.get(other, &mu).is_none());
    /// ```
    pub fn get<'m>(&self, key: Gc<'_, K>, mu: &'m Mutator) -> Option<Gc<'m, V>> {
        let key = object_at(key.addr());
        loop {
            let raw = self.table.get(&key, &pin())?;
            // SAFETY: read (`Acquire`) from a value slot of this map just now, on `mu`'s thread.
            let value = unsafe { Member::local_of(raw, mu) }?;
            if let Some(value) = weak_read(value, mu) {
                return Some(value);
            }
            // A decision came between the read and the weak read's checks and found the value
            // dead. Its key is alive (this thread holds it), so the entry no longer held the
            // value then — an entry of a marked key has a marked value at the decision (module
            // docs, point 1): it was replaced or removed after this thread read it (removals do
            // not shade, point 4). Read the entry again: what it holds now is marked, or
            // stored since, and passes.
        }
    }

    /// Whether the map has an entry for the object `key`.
    ///
    /// ```
    /// let mu = gc_runtime::attach();
    /// let m = mu.alloc(gc_runtime::GcWeakMap::new());
    /// let k = mu.alloc(1_u8);
    /// m.insert(k, mu.alloc(()));
    /// assert!(m.contains_key(k));
    /// assert!(!m.contains_key(mu.alloc(1_u8)));
    /// ```
    pub fn contains_key(&self, key: Gc<'_, K>) -> bool {
        self.table.get(&object_at(key.addr()), &pin()).is_some()
    }

    /// Remove the entry for the object `key` and return its value, as a local of `mu` (a weak
    /// read, like [`get`](Self::get); nothing is shaded).
    ///
    /// ```
    /// let mu = gc_runtime::attach();
    /// let m = mu.alloc(gc_runtime::GcWeakMap::new());
    /// let k = mu.alloc(1_u8);
    /// m.insert(k, mu.alloc(2_u8));
    /// assert_eq!(m.remove(k, &mu).map(|v| *v), Some(2));
    /// assert!(m.remove(k, &mu).is_none());
    /// ```
    pub fn remove<'m>(&self, key: Gc<'_, K>, mu: &'m Mutator) -> Option<Gc<'m, V>> {
        let _writer = self.write();
        // SAFETY: the lock is held exclusively. The entry leaves without a store (module docs,
        // point 4: `EphemeronValue`).
        let (_, _, raw) = unsafe { self.table.remove(&object_at(key.addr())) }?;
        // SAFETY: read (`Acquire`) from a value slot of this map just now, on `mu`'s thread.
        let value = unsafe { Member::local_of(raw, mu) }?;
        // The weak read's checks, with the write lock still held: a decision cannot come
        // between the removal and the checks while the map is locked (the ephemeron pass finds
        // it locked and the round is not quiet), so the value is one the entry held at any
        // decision before them — marked, since its key is alive (this thread holds it) — or
        // counted as the checks say (module docs, point 2). Handed out after a decision, it
        // could be one the decision found dead, and `remove` would return `None` for an entry
        // it removed. (The checks take the weak gate for reading; the collector, which holds
        // it for writing, only tries map locks.)
        weak_read(value, mu)
    }

    /// Remove every entry (nothing is shaded: module docs, point 4).
    ///
    /// ```
    /// let mu = gc_runtime::attach();
    /// let m = mu.alloc(gc_runtime::GcWeakMap::new());
    /// m.insert(mu.alloc(1_u8), mu.alloc(2_u8));
    /// m.clear();
    /// assert!(m.is_empty());
    /// ```
    pub fn clear(&self) {
        let _writer = self.write();
        // SAFETY: the lock is held exclusively.
        unsafe { self.table.clear(|_| ()) };
    }

    /// Put the map in the runtime's table of weak maps, once (see `weak_map_table.rs`). Called
    /// before the map's own lock is taken: the table's clearing takes the map's lock while it
    /// holds its own.
    fn register(&self) {
        // Relaxed: the flag only decides who registers; the table has its own lock.
        if !self.registered.load(Ordering::Relaxed) && !self.registered.swap(true, Ordering::Relaxed) {
            Runtime::get().weak_maps.register(std::ptr::from_ref(self).cast(), purge_dead::<K, V>);
        }
    }
}

/// A value about to be shaded again in place after a rehash (`reserve_one`): counted like a
/// weak read if it is unmarked while marking (module docs, point 3; `weak.rs`,
/// `note_weak_shade`), before the shade marks it.
fn note_reshade<V: ?Sized>(slot: &Member<V>) {
    let p = slot.raw();
    if is_object(p) {
        // SAFETY: loaded from an entry of a map this thread reaches, by a running mutator that
        // passes no safepoint before this use: allocated (see `gc.rs`, "Why a local cannot
        // dangle").
        unsafe { note_weak_shade(p) };
    }
}

/// A value read out of a weak map: a weak read (module docs, point 2); `None` if a decision
/// found it dead, which a value the map still held at the decision never is (see `get` and
/// `remove` for why that leaves no wrong answer).
fn weak_read<'m, V: ?Sized>(value: Gc<'m, V>, mu: &'m Mutator) -> Option<Gc<'m, V>> {
    // SAFETY: read from the map just now, by this thread, which has passed no safepoint since:
    // allocated.
    unsafe { note_weak_read(mu, value.header_ptr()) }.then_some(value)
}

/// The weak-map table's [`PurgeDead`](crate::weak_map_table::PurgeDead) for `GcWeakMap<K, V>`.
///
/// # Safety
/// `map` is a registered, not dropped, `GcWeakMap<K, V>`; the weak verdict `verdict` is
/// pending (no object it found dead is freed yet).
unsafe fn purge_dead<K: ?Sized, V: ?Sized>(map: *const (), verdict: u64) -> usize {
    // SAFETY: guaranteed by the caller.
    let map = unsafe { &*map.cast::<GcWeakMap<K, V>>() };
    let _writer = map.write();
    // SAFETY: the lock is held exclusively. Every entry's key is allocated until the sweep of
    // the cycle that finds it dead (`weak_map_table.rs`), which has not published its epoch
    // yet. A lookup running meanwhile holds its key, which is alive: its entry stays.
    unsafe { map.table.retain(|e| e.key_addr().is_some_and(|word| mark::is_marked(key_of(word), verdict))) }
}

#[cfg(test)]
impl<K: ?Sized, V: ?Sized> GcWeakMap<K, V> {
    /// Hold the map's write lock, as a writer does (for the unit tests of the ephemeron pass).
    pub(super) fn write_lock_for_test(&self) -> impl Drop + '_ {
        self.lock.write()
    }
}

impl<K: ?Sized, V: ?Sized> Default for GcWeakMap<K, V> {
    fn default() -> Self {
        GcWeakMap::new()
    }
}

impl<K: ?Sized, V: ?Sized> Drop for GcWeakMap<K, V> {
    fn drop(&mut self) {
        if *self.registered.get_mut() {
            Runtime::get().weak_maps.unregister(std::ptr::from_ref(self).cast());
        }
    }
}

impl<K: ?Sized, V: ?Sized> GcWeakMap<K, V> {
    /// The write lock, which charges the buckets' new size when the writer lets go
    /// (`owned_bytes.rs`).
    fn write(&self) -> ChargedWrite<'_, (), impl Fn(&()) -> usize + '_> {
        ChargedWrite::lock(&self.lock, &self.armed, |_| {
            // SAFETY: called under the write lock, which every replacement happens under.
            unsafe { self.table.bucket_bytes_locked() }
        })
    }
}

// SAFETY: reports the armed flag (allocation sets it; no other sink acts on it), then each
// entry as an ephemeron — its key's address and its value slot — under the read lock, which
// every change to the set of entries excludes (inserting, removing and rehashing happen under
// the write lock). The key is not a slot: it must not keep its object alive, and it stays
// allocated while the entry exists (`weak_map_table.rs`). Every sink but the marker gets every
// entry; the marker gets a chunk of buckets per visit, and an insertion that rehashes while
// its scan is part way through shades every value (`reserve_one`). It only tries this lock
// (if it is taken, the collector traces the map again later), and runs no user code.
unsafe impl<K: ?Sized, V: ?Sized> Trace for GcWeakMap<K, V> {
    fn trace(&self, tracer: &mut Tracer<'_>) {
        // SAFETY: when allocation arms the map, it is not published yet: no other thread
        // replaces its buckets.
        self.armed.trace(tracer, || unsafe { self.table.bucket_bytes_locked() });
        let Some(_reader) = read_for_trace(&self.lock, &self.cursor, tracer) else {
            return;
        };
        // SAFETY: the read lock is held while the buckets are used.
        let buckets = unsafe { self.table.buckets_locked() };
        tracer.owned_bytes(&self.cursor, self.armed.charged());
        for entry in &buckets[tracer.scan_window(&self.cursor, buckets.len())] {
            if let Some(word) = entry.key_addr() {
                entry.value.0.trace_as_value_of(key_of(word), tracer);
            }
        }
    }
}

impl<K: ?Sized, V: ?Sized> fmt::Debug for GcWeakMap<K, V> {
    /// The length and the entries as key and value addresses (as [`Gc::addr`] gives them).
    ///
    /// ```
    /// let mu = gc_runtime::attach();
    /// let m = mu.alloc(gc_runtime::GcWeakMap::new());
    /// let (k, v) = (mu.alloc(1_u8), mu.alloc(2_u8));
    /// m.insert(k, v);
    /// assert_eq!(format!("{:?}", *m), format!("GcWeakMap {{ len: 1, entries: {{{:#x}: {:#x}}} }}", k.addr(), v.addr()));
    /// ```
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Copy the addresses out first: no formatting under the lock.
        let entries: Vec<(AddrFmt, AddrFmt)> = {
            let _reader = self.lock.read();
            // SAFETY: the read lock is held while the buckets are used.
            let buckets = unsafe { self.table.buckets_locked() };
            buckets.iter().filter_map(|e| Some((AddrFmt(e.key_addr()?), AddrFmt(slot_addr(&e.value.0))))).collect()
        };
        debug_address_map(f, NAME, self.armed.get(), &entries)
    }
}

// Under Miri these run with the real epoch (`--cfg gc_miri_epoch`, under Tree Borrows: CI's
// lane beside the unit tests), not a second time with the stand-in (`shared_slice.rs`).
#[cfg(all(test, any(not(miri), gc_miri_epoch)))]
mod tests {
    use super::*;
    use crate::test_support;

    crate::collections::tests::object_keyed_map_tests!(GcWeakMap, 1);

    /// An overwrite replaces the value in place, and the collector's clearing removes the
    /// entries of dead keys as removals (tombstones): the live keys are found with their
    /// values afterwards, and new keys go in.
    #[test]
    fn overwrites_and_the_clearing_of_dead_keys_keep_the_live_entries() {
        let _s = test_support::serial();
        let mut mu = crate::attach();
        let m = mu.alloc(GcWeakMap::<u32, u32>::new());
        let kept: Vec<_> = (0..4_u32).map(|i| mu.alloc(i).root(&mu)).collect();
        for (i, k) in kept.iter().enumerate() {
            m.insert(k.get(&mu), mu.alloc(i as u32));
            assert!(m.insert(k.get(&mu), mu.alloc(10 * i as u32)), "an overwrite");
        }
        for i in 0..20_u32 {
            m.insert(mu.alloc(100 + i), mu.alloc(i)); // keys nothing else reaches
        }
        let m = m.root(&mu);
        mu.collect();
        mu.collect();
        let m = m.get(&mu);
        assert_eq!(m.len(), 4, "the dead keys' entries are cleared");
        for (i, k) in kept.iter().enumerate() {
            assert_eq!(m.get(k.get(&mu), &mu).map(|v| *v), Some(10 * i as u32));
        }
        let late = mu.alloc(7_u32);
        m.insert(late, mu.alloc(70));
        assert_eq!((m.len(), m.get(late, &mu).map(|v| *v)), (5, Some(70)));
    }
}
