//! [`GcIdMap`]: a hash map keyed by GC objects (by identity) to GC pointers, shared by every
//! thread that reaches it.
//!
//! Each entry holds two armed slots, the key and the value, and the key object's address, in an
//! open-addressed table hashed by that address (a multiplicative hash, see `address_hash.rs`)
//! that readers probe without a lock (`slot_table.rs`). The address is a sound hash key: the
//! collector never moves objects, and the entry's key slot keeps the key object alive, so while
//! the entry exists no other object can get that address. The rest of the design is in the
//! module header of `collections/mod.rs`.

use std::fmt;

use super::slots::{debug_address_map, read_for_trace, slot_addr, AddrFmt, Armed, ChargedWrite};
use crate::{
    gc::Gc,
    member::Member,
    mutator::Mutator,
    object::{ScanCursor, Trace, Tracer},
    primitive::sync::RwLock,
    shared_slice::pin,
    slot_table::{object_at, Entry, SlotTable, TableEntry},
};

const NAME: &str = "GcIdMap";

/// A hash map from GC objects, compared by identity (address), to GC pointers, for use inside
/// GC objects, from several threads at once.
///
/// Keys are kept alive (strongly) and traced, like values: an object used as a key lives as
/// long as its entry. Two distinct objects are distinct keys even if their values are equal.
/// All methods take `&self`; stores run the write barrier; reads need a [`Mutator`] and return
/// locals. Like [`GcVec`](crate::GcVec), a `GcIdMap` accepts entries once the object that
/// holds it (or the map itself) is allocated.
///
/// Lookups (`get`, `contains_key`, `len`) take no lock, so threads that only look keys up never
/// wait for a writer, for the collector's scan, or for each other; writers that add or remove
/// keys take the map's lock, and snapshots (`entries`, `keys`, `values`) take it shared.
///
/// ```
/// use gc_runtime::{GcIdMap, Trace};
///
/// #[derive(Trace)]
/// struct Instance {
///     class: String,
/// }
///
/// let mut mu = gc_runtime::attach();
/// // Side table: instance -> its printed form.
/// let names = mu.alloc(GcIdMap::<Instance, String>::new());
/// let a = mu.alloc(Instance { class: "Point".into() });
/// let b = mu.alloc(Instance { class: "Point".into() });
/// names.insert(a, mu.alloc(String::from("Point instance #1")));
/// assert!(names.get(b, &mu).is_none()); // another object with an equal value
/// let root = names.root(&mu);
/// mu.collect(); // `a` is alive: the map holds it
/// let names = root.get(&mu);
/// let (key, value) = names.entries(&mu)[0];
/// assert_eq!((key.class.as_str(), value.as_str()), ("Point", "Point instance #1"));
/// ```
pub struct GcIdMap<K: ?Sized, V: ?Sized> {
    armed: Armed,
    /// Where the marker's chunked scan resumes, in buckets (see `object/scan_cursor.rs`).
    cursor: ScanCursor,
    /// Held for writing by insertions, removals and `clear` (and rehashes), for reading by the
    /// snapshots and the marker's scan; lookups do not take it.
    lock: RwLock<()>,
    table: SlotTable<Member<K>, Member<V>>,
}

impl<K: ?Sized, V: ?Sized> GcIdMap<K, V> {
    /// An empty map, to put in a new object (it accepts entries once that object is
    /// allocated).
    ///
    /// ```
    /// use gc_runtime::GcIdMap;
    ///
    /// let mu = gc_runtime::attach();
    /// let loose: GcIdMap<u8, u8> = GcIdMap::new();
    /// assert!(loose.is_empty()); // unarmed: reads as empty, `insert` would panic
    /// let m = mu.alloc(GcIdMap::new());
    /// m.insert(mu.alloc(1_u8), mu.alloc(2_u8));
    /// assert_eq!(m.len(), 1);
    /// ```
    pub fn new() -> GcIdMap<K, V> {
        GcIdMap::with_capacity(0)
    }

    /// An empty map with room for `capacity` entries before it rehashes.
    ///
    /// ```
    /// let mu = gc_runtime::attach();
    /// let m = mu.alloc(gc_runtime::GcIdMap::with_capacity(16));
    /// m.insert(mu.alloc(1_u8), mu.alloc(2_u8));
    /// # assert_eq!(m.len(), 1);
    /// ```
    pub fn with_capacity(capacity: usize) -> GcIdMap<K, V> {
        GcIdMap {
            armed: Armed::new(),
            cursor: ScanCursor::new(),
            lock: RwLock::new(()),
            table: SlotTable::with_capacity(capacity),
        }
    }

    /// The number of entries.
    ///
    /// ```
    /// let mu = gc_runtime::attach();
    /// let m = mu.alloc(gc_runtime::GcIdMap::new());
    /// let k = mu.alloc(0_u8);
    /// m.insert(k, mu.alloc(1_u8));
    /// m.insert(k, mu.alloc(2_u8)); // same key object: replaces
    /// m.insert(mu.alloc(0_u8), mu.alloc(3_u8)); // equal value, other object: new entry
    /// assert_eq!(m.len(), 2);
    /// ```
    pub fn len(&self) -> usize {
        self.table.len()
    }

    /// Whether the map has no entry.
    ///
    /// ```
    /// let mu = gc_runtime::attach();
    /// let m = mu.alloc(gc_runtime::GcIdMap::<u8, u8>::new());
    /// assert!(m.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Map the object `key` to `value` (runs the write barrier on both); returns whether an
    /// entry for `key` was replaced.
    ///
    /// # Panics
    /// If the map is not inside an allocated object.
    ///
    /// ```
    /// let mu = gc_runtime::attach();
    /// let m = mu.alloc(gc_runtime::GcIdMap::new());
    /// let k = mu.alloc("key");
    /// assert!(!m.insert(k, mu.alloc(1_u8)));
    /// assert!(m.insert(k, mu.alloc(2_u8)));
    /// assert_eq!(*m.get(k, &mu).unwrap(), 2);
    /// ```
    pub fn insert(&self, key: Gc<'_, K>, value: Gc<'_, V>) -> bool {
        self.armed.check("GcIdMap::insert", NAME);
        let addr = key.addr();
        // One probe, under the write lock, finds the key or its room (as in `GcMap::insert`).
        let _writer = self.write();
        // SAFETY: the lock is held exclusively from here on (every call below).
        unsafe {
            // A rehash part way through the marker's scan may move entries behind its cursor:
            // shade every entry again (`object/scan_cursor.rs`).
            if self.table.reserve_one() && self.cursor.mid_scan() {
                for entry in self.table.buckets_locked().iter().filter(|e| e.key_addr().is_some()) {
                    entry.key.reshade();
                    entry.value.reshade();
                }
            }
            match self.table.entry(&object_at(addr)) {
                Entry::Occupied(entry) => {
                    entry.value.set(Some(value));
                    true
                }
                Entry::Vacant(room) => {
                    room.insert(addr, key.header_ptr(), value.header_ptr());
                    false
                }
            }
        }
    }

    /// The value for the object `key`, as a local of `mu`.
    ///
    /// ```
    /// let mu = gc_runtime::attach();
    /// let m = mu.alloc(gc_runtime::GcIdMap::new());
    /// let (k, other) = (mu.alloc(1_u8), mu.alloc(1_u8));
    /// m.insert(k, mu.alloc("v"));
    /// assert_eq!(m.get(k, &mu).map(|v| *v), Some("v"));
    /// assert!(m.get(other, &mu).is_none());
    /// ```
    pub fn get<'m>(&self, key: Gc<'_, K>, mu: &'m Mutator) -> Option<Gc<'m, V>> {
        let raw = self.table.get(&object_at(key.addr()), &pin())?;
        // SAFETY: read (`Acquire`) from a value slot of this map just now, on `mu`'s thread.
        unsafe { Member::local_of(raw, mu) }
    }

    /// Whether the map has an entry for the object `key`.
    ///
    /// ```
    /// let mu = gc_runtime::attach();
    /// let m = mu.alloc(gc_runtime::GcIdMap::new());
    /// let k = mu.alloc(1_u8);
    /// m.insert(k, mu.alloc(()));
    /// assert!(m.contains_key(k));
    /// assert!(!m.contains_key(mu.alloc(1_u8)));
    /// ```
    pub fn contains_key(&self, key: Gc<'_, K>) -> bool {
        self.table.get(&object_at(key.addr()), &pin()).is_some()
    }

    /// Remove the entry for the object `key` and return its value, as a local of `mu`. The
    /// key and the value are shaded under the Yuasa and hybrid barriers.
    ///
    /// ```
    /// let mu = gc_runtime::attach();
    /// let m = mu.alloc(gc_runtime::GcIdMap::new());
    /// let k = mu.alloc(1_u8);
    /// m.insert(k, mu.alloc(2_u8));
    /// assert_eq!(m.remove(k, &mu).map(|v| *v), Some(2));
    /// assert!(m.remove(k, &mu).is_none());
    /// ```
    pub fn remove<'m>(&self, key: Gc<'_, K>, mu: &'m Mutator) -> Option<Gc<'m, V>> {
        let _writer = self.write();
        // SAFETY: the lock is held exclusively.
        let (_, _, value) = unsafe { self.table.remove(&object_at(key.addr())) }?;
        // SAFETY: read (`Acquire`) from a value slot of this map just now, on `mu`'s thread.
        unsafe { Member::local_of(value, mu) }
    }

    /// Remove every entry (shading keys and values under the Yuasa and hybrid barriers).
    ///
    /// ```
    /// let mu = gc_runtime::attach();
    /// let m = mu.alloc(gc_runtime::GcIdMap::new());
    /// m.insert(mu.alloc(1_u8), mu.alloc(2_u8));
    /// m.clear();
    /// assert!(m.is_empty());
    /// ```
    pub fn clear(&self) {
        let _writer = self.write();
        // SAFETY: the lock is held exclusively.
        unsafe { self.table.clear(|_| ()) };
    }

    /// The entries, as locals of `mu`: a snapshot taken under one lock, in the map's
    /// iteration order.
    ///
    /// ```
    /// let mu = gc_runtime::attach();
    /// let m = mu.alloc(gc_runtime::GcIdMap::new());
    /// let k = mu.alloc(1_u8);
    /// m.insert(k, mu.alloc(2_u8));
    /// let entries = m.entries(&mu);
    /// assert!(gc_runtime::Gc::ptr_eq(entries[0].0, k));
    /// assert_eq!(*entries[0].1, 2);
    /// ```
    pub fn entries<'m>(&self, mu: &'m Mutator) -> Vec<(Gc<'m, K>, Gc<'m, V>)> {
        self.snapshot(|e| Some((e.key.get(mu)?, e.value.get(mu)?)))
    }

    /// The key objects, as locals of `mu` (a snapshot).
    ///
    /// ```
    /// let mu = gc_runtime::attach();
    /// let m = mu.alloc(gc_runtime::GcIdMap::new());
    /// let k = mu.alloc(1_u8);
    /// m.insert(k, mu.alloc(2_u8));
    /// assert!(gc_runtime::Gc::ptr_eq(m.keys(&mu)[0], k));
    /// ```
    pub fn keys<'m>(&self, mu: &'m Mutator) -> Vec<Gc<'m, K>> {
        self.snapshot(|e| e.key.get(mu))
    }

    /// The values, as locals of `mu` (a snapshot).
    ///
    /// ```
    /// let mu = gc_runtime::attach();
    /// let m = mu.alloc(gc_runtime::GcIdMap::new());
    /// m.insert(mu.alloc(1_u8), mu.alloc(2_u8));
    /// assert_eq!(*m.values(&mu)[0], 2);
    /// ```
    pub fn values<'m>(&self, mu: &'m Mutator) -> Vec<Gc<'m, V>> {
        self.snapshot(|e| e.value.get(mu))
    }

    /// Call `f` with each entry of a snapshot (see [`GcIdMap::entries`]). `f` runs without
    /// the map's lock, so it may read, change or allocate freely.
    ///
    /// ```
    /// let mu = gc_runtime::attach();
    /// let m = mu.alloc(gc_runtime::GcIdMap::new());
    /// m.insert(mu.alloc(1_u32), mu.alloc(10_u32));
    /// m.insert(mu.alloc(2_u32), mu.alloc(20_u32));
    /// let mut total = 0;
    /// m.for_each(&mu, |k, v| total += *k * *v);
    /// assert_eq!(total, 50);
    /// ```
    pub fn for_each<'m>(&self, mu: &'m Mutator, mut f: impl FnMut(Gc<'m, K>, Gc<'m, V>)) {
        for (k, v) in self.entries(mu) {
            f(k, v);
        }
    }
}

impl<K: ?Sized, V: ?Sized> GcIdMap<K, V> {
    /// `f` of every entry holding a key, under the read lock (so no entry is added or removed
    /// meanwhile: one snapshot), in bucket order. `f` runs no user code.
    fn snapshot<T>(&self, f: impl FnMut(&TableEntry<Member<K>, Member<V>>) -> Option<T>) -> Vec<T> {
        let _reader = self.lock.read();
        // SAFETY: the lock is held (shared) while the buckets are used.
        let buckets = unsafe { self.table.buckets_locked() };
        buckets.iter().filter(|e| e.key_addr().is_some()).filter_map(f).collect()
    }

    /// The table's length, capacity (keys it holds before it rehashes) and buckets.
    #[cfg(test)]
    pub(super) fn table_shape(&self) -> (usize, usize, usize) {
        let (capacity, buckets) = self.table.shape(&pin());
        (self.len(), capacity, buckets)
    }
}

impl<K: ?Sized, V: ?Sized> Default for GcIdMap<K, V> {
    fn default() -> Self {
        GcIdMap::new()
    }
}

impl<K: ?Sized, V: ?Sized> GcIdMap<K, V> {
    /// The write lock, which charges the buckets' new size when the writer lets go
    /// (`owned_bytes.rs`).
    fn write(&self) -> ChargedWrite<'_, (), impl Fn(&()) -> usize + '_> {
        ChargedWrite::lock(&self.lock, &self.armed, |_| {
            // SAFETY: called under the write lock, which every replacement happens under.
            unsafe { self.table.bucket_bytes_locked() }
        })
    }
}

// SAFETY: reports the armed flag (allocation sets it; no other sink acts on it), then the key
// and value slots of the buckets, under the read lock, which every change to the set of slots
// excludes (inserting or removing an entry and rehashing happen under the write lock). Every
// sink but the marker gets every slot; the marker gets a chunk of buckets per visit, and an
// insertion that rehashes while its scan is part way through shades every key and value
// (`insert`), so each slot present throughout the scan is reported or shaded. Free and removed
// buckets hold no pointer and are skipped (a new map's free buckets hold slots created armed,
// which allocation's arming must not see). The address words are plain addresses, not pointers the map relies
// on: the key slot is what keeps the key alive. It only tries this lock (if it is taken, the
// collector traces the map again later), and runs no user code.
unsafe impl<K: ?Sized, V: ?Sized> Trace for GcIdMap<K, V> {
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
        for entry in buckets[tracer.scan_window(&self.cursor, buckets.len())].iter().filter(|e| e.key_addr().is_some())
        {
            entry.key.trace(tracer);
            entry.value.trace(tracer);
        }
    }
}

impl<K: ?Sized, V: ?Sized> fmt::Debug for GcIdMap<K, V> {
    /// The length and the entries as key and value addresses (as [`Gc::addr`] gives them):
    /// nothing is followed, so a map that reaches itself prints without recursing.
    ///
    /// ```
    /// let mu = gc_runtime::attach();
    /// let m = mu.alloc(gc_runtime::GcIdMap::new());
    /// let (k, v) = (mu.alloc(1_u8), mu.alloc(2_u8));
    /// m.insert(k, v);
    /// assert_eq!(format!("{:?}", *m), format!("GcIdMap {{ len: 1, entries: {{{:#x}: {:#x}}} }}", k.addr(), v.addr()));
    /// ```
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Copy the addresses out first: no formatting under the lock.
        let entries: Vec<(AddrFmt, AddrFmt)> =
            self.snapshot(|e| Some((AddrFmt(slot_addr(&e.key)), AddrFmt(slot_addr(&e.value)))));
        debug_address_map(f, NAME, self.armed.get(), &entries)
    }
}

// Under Miri these run with the real epoch (`--cfg gc_miri_epoch`, under Tree Borrows: CI's
// lane beside the unit tests), not a second time with the stand-in (`shared_slice.rs`).
#[cfg(all(test, any(not(miri), gc_miri_epoch)))]
mod tests {
    use super::*;

    crate::collections::tests::object_keyed_map_tests!(GcIdMap, 2);
}
