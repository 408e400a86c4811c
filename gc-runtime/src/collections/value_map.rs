//! [`GcValueMap`]: a hash map from plain keys to values held by value — numbers, tagged
//! pointers, any [`HeapValue`] — shared by every thread that reaches it: a dynamic language's
//! object fields or globals.
//!
//! # Shape
//!
//! [`GcMap`](super::GcMap)'s table — a read-write lock around a `hashbrown::HashTable` of
//! entries that store their key's hash, so `Hash` never runs under the lock — with a whole
//! value in each entry where `GcMap` has one slot. The values follow `GcValueVec`'s rules
//! (`value_vec.rs`), entry by entry:
//!
//! - **Stores.** A new value is made, armed and written (`HeapValue::store`) before the lock is
//!   taken; then, under the write lock, it either joins as a new entry or is swapped with the
//!   value of the entry for its key, whose slots are emptied through the barrier (the deletion
//!   barriers shade what it held) before the lock is released; from `store` until then the
//!   thread runs one call of user code, in which it stays running (`thread_state/user_code.rs`,
//!   "Values under construction"). Readers never see a value half written. (`GcMap`
//!   overwrites its one slot in place under the read lock; a value of several fields cannot be
//!   overwritten in place without readers seeing half of it.)
//! - **Rehashing** moves entries bitwise under the write lock; if the marker's chunked scan is
//!   part way through, every entry's slots are shaded again (`reserve_one`, as for `GcMap`).
//! - **Removals** empty the removed value's slots under the lock (also if `load`, reading the
//!   value handed back, panics); the key and the value are dropped after the lock is released.
//!
//! User code under the lock: the keys' `Eq` (lookups), `Clone` (`keys`, `entries`), and the
//! values' `load`, all marked as user code under a collection's lock
//! (`thread_state/user_code.rs`); none may use the same map.

use std::{
    borrow::Borrow,
    fmt,
    hash::{BuildHasher, Hash, RandomState},
};

use hashbrown::HashTable;

use super::{
    drop_each::drop_each,
    heap_value::{empty_slots, load_leaving, new_element, reshade_slots, HeapValue},
    slots::{read_for_trace, report_owned_once, reserve_one, trace_buckets, Armed, ChargedWrite},
};
use crate::{
    mutator::Mutator,
    object::{ScanCursor, Trace, Tracer},
    primitive::sync::RwLock,
    thread_state::user_code,
};

const NAME: &str = "GcValueMap";

/// A hash map from plain keys (`String`, integers, interned names, …) to values of type `H`
/// held by value — plain data and GC pointers together, as a dynamic language's object holds
/// its fields — for use inside GC objects, from several threads at once.
///
/// `H` is the value's heap form, a [`HeapValue`] (see its docs, and
/// [`GcValueVec`](crate::GcValueVec) for a vector of them). Keys are plain data, as in
/// [`GcMap`](crate::GcMap), hashed with `S` (std's SipHash by default; any `BuildHasher`)
/// before the map is locked. Reads return the value's local form (`H::Local<'m>`), valid until
/// the mutator's next safepoint; stores run the write barrier. All methods take `&self`; the
/// map accepts entries once the object that holds it (or the map itself) is allocated.
/// `insert` panics, leaving the map unchanged, if `H` holds a GC collection (see
/// `HeapValue`, "No collections inside a value").
///
/// ```
/// use gc_runtime::{GcValueMap, Member, Trace};
///
/// #[derive(Trace)]
/// struct Instance {
///     fields: GcValueMap<String, Member<String>>,
/// }
///
/// let mut mu = gc_runtime::attach();
/// let point = mu.alloc(Instance { fields: GcValueMap::new() });
/// point.fields.insert("label".to_string(), Some(mu.alloc(String::from("origin"))));
/// point.fields.insert("parent".to_string(), None);
/// let root = point.root(&mu);
/// mu.collect();
/// let point = root.get(&mu);
/// let label = point.fields.get("label", &mu).flatten().map(|s| s.into_ref().as_str());
/// assert_eq!(label, Some("origin"));
/// assert_eq!(point.fields.len(), 2);
/// ```
pub struct GcValueMap<K, H: HeapValue, S = RandomState> {
    armed: Armed,
    /// Where the marker's chunked scan resumes, in buckets (see `object/scan_cursor.rs`).
    cursor: ScanCursor,
    /// Hashes keys, always before the lock is taken.
    hasher: S,
    map: RwLock<HashTable<Entry<K, H>>>,
}

/// The table a `GcValueMap` keeps under its lock.
type Table<K, H> = HashTable<Entry<K, H>>;

/// One entry: the key's hash (computed once, outside the lock), the key and the value.
struct Entry<K, H> {
    hash: u64,
    key: K,
    value: H,
}

/// An entry's key or its value, to be dropped on its own: both may have destructors that
/// panic, and an entry dropped whole would abort on the second, a panic while its first
/// unwinds (`drop_each.rs`).
enum Part<K, H> {
    Key(#[allow(dead_code)] K),
    Value(#[allow(dead_code)] H),
}

/// Drop the entries' keys and values one by one (`drop_each.rs`).
fn drop_entries<K, H>(entries: impl IntoIterator<Item = Entry<K, H>>) {
    drop_each(entries.into_iter().flat_map(|e| [Part::Key(e.key), Part::Value(e.value)]));
}

/// The stored hash, for growing the table without running `Hash`.
fn stored_hash<K, H>(e: &Entry<K, H>) -> u64 {
    e.hash
}

impl<K, H: HeapValue> GcValueMap<K, H> {
    /// An empty map, to put in a new object (it accepts entries once that object is
    /// allocated).
    ///
    /// ```
    /// use gc_runtime::{GcValueMap, Member};
    ///
    /// let mu = gc_runtime::attach();
    /// let loose: GcValueMap<u32, Member<u8>> = GcValueMap::new();
    /// assert!(loose.is_empty()); // unarmed: reads as empty, `insert` would panic
    /// let m = mu.alloc(GcValueMap::<u32, Member<u8>>::new());
    /// m.insert(1, None);
    /// assert_eq!(m.len(), 1);
    /// ```
    pub fn new() -> GcValueMap<K, H> {
        GcValueMap::with_capacity(0)
    }

    /// An empty map with room for `capacity` entries before it rehashes.
    ///
    /// ```
    /// use gc_runtime::{GcValueMap, Member};
    ///
    /// let mu = gc_runtime::attach();
    /// let m = mu.alloc(GcValueMap::<&str, Member<u8>>::with_capacity(64));
    /// m.insert("k", Some(mu.alloc(1)));
    /// # assert_eq!(m.len(), 1);
    /// ```
    pub fn with_capacity(capacity: usize) -> GcValueMap<K, H> {
        GcValueMap::with_capacity_and_hasher(capacity, RandomState::new())
    }
}

impl<K, H: HeapValue, S> GcValueMap<K, H, S> {
    /// An empty map that hashes keys with `hasher`, like `HashMap::with_hasher`.
    ///
    /// ```
    /// use std::hash::{BuildHasherDefault, DefaultHasher};
    /// use gc_runtime::{GcValueMap, Member};
    ///
    /// let mu = gc_runtime::attach();
    /// let hasher = BuildHasherDefault::<DefaultHasher>::default();
    /// let m = mu.alloc(GcValueMap::<&str, Member<u8>, _>::with_hasher(hasher));
    /// m.insert("answer", Some(mu.alloc(42)));
    /// assert_eq!(*m.get("answer", &mu).flatten().unwrap(), 42);
    /// ```
    pub fn with_hasher(hasher: S) -> GcValueMap<K, H, S> {
        GcValueMap::with_capacity_and_hasher(0, hasher)
    }

    /// An empty map with room for `capacity` entries before it rehashes, hashing keys with
    /// `hasher`.
    pub fn with_capacity_and_hasher(capacity: usize, hasher: S) -> GcValueMap<K, H, S> {
        GcValueMap {
            armed: Armed::new(),
            cursor: ScanCursor::new(),
            hasher,
            map: RwLock::new(HashTable::with_capacity(capacity)),
        }
    }

    /// The write lock, which charges the table's new size when the writer lets go.
    fn write(&self) -> ChargedWrite<'_, Table<K, H>, impl Fn(&Table<K, H>) -> usize> {
        ChargedWrite::lock(&self.map, &self.armed, HashTable::allocation_size)
    }

    /// The hasher the map hashes keys with.
    pub fn hasher(&self) -> &S {
        &self.hasher
    }

    /// The number of entries.
    ///
    /// ```
    /// use gc_runtime::{GcValueMap, Member};
    ///
    /// let mu = gc_runtime::attach();
    /// let m = mu.alloc(GcValueMap::<u8, Member<char>>::new());
    /// m.insert(1, Some(mu.alloc('a')));
    /// m.insert(1, Some(mu.alloc('b'))); // replaces
    /// assert_eq!(m.len(), 1);
    /// ```
    pub fn len(&self) -> usize {
        self.map.read().len()
    }

    /// Whether the map has no entry.
    ///
    /// ```
    /// use gc_runtime::{GcValueMap, Member};
    ///
    /// let mu = gc_runtime::attach();
    /// assert!(mu.alloc(GcValueMap::<u8, Member<u8>>::new()).is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.map.read().is_empty()
    }

    /// Remove every entry (shading the values' pointers under the Yuasa and hybrid barriers).
    /// The keys and values are dropped after the lock is released.
    ///
    /// ```
    /// use gc_runtime::{GcValueMap, Member};
    ///
    /// let mu = gc_runtime::attach();
    /// let m = mu.alloc(GcValueMap::<u8, Member<u8>>::new());
    /// m.insert(1, Some(mu.alloc(1)));
    /// m.clear();
    /// assert!(m.is_empty());
    /// ```
    pub fn clear(&self) {
        let removed: Vec<Entry<K, H>> = {
            let mut map = self.write();
            map.drain().inspect(|e| empty_slots(&e.value)).collect()
        };
        // One by one, after the lock: a key or value whose destructor panics neither stops the
        // others nor, with a second, aborts (`drop_each.rs`).
        drop_entries(removed);
    }

    /// The values, as locals of `mu` (a snapshot, in the map's iteration order).
    ///
    /// ```
    /// use gc_runtime::{GcValueMap, Member};
    ///
    /// let mu = gc_runtime::attach();
    /// let m = mu.alloc(GcValueMap::<&str, Member<u32>>::new());
    /// m.insert("a", Some(mu.alloc(1)));
    /// m.insert("b", Some(mu.alloc(2)));
    /// assert_eq!(m.values(&mu).into_iter().flatten().map(|v| *v).sum::<u32>(), 3);
    /// ```
    pub fn values<'m>(&self, mu: &'m Mutator) -> Vec<H::Local<'m>> {
        let _user_code = user_code::Guard::enter();
        self.map.read().iter().map(|e| e.value.load(mu)).collect()
    }
}

impl<K: Hash + Eq, H: HeapValue, S: BuildHasher> GcValueMap<K, H, S> {
    /// Map `key` to `value` (its pointers through the write barrier); returns whether an entry
    /// for `key` was replaced (the old value's pointers are then shaded under the Yuasa and
    /// hybrid barriers). When it was, the map keeps its old key; `key` and the old value are
    /// dropped after the lock is released.
    ///
    /// # Panics
    /// If the map is not inside an allocated object, if `H::store` panics, or if `H` has
    /// GC slots and this thread has no running mutator and cannot attach one for the call (see
    /// [`HeapValue`]); the map is then unchanged.
    ///
    /// ```
    /// use gc_runtime::{GcValueMap, Member};
    ///
    /// let mu = gc_runtime::attach();
    /// let m = mu.alloc(GcValueMap::<String, Member<i64>>::new());
    /// assert!(!m.insert("x".to_string(), Some(mu.alloc(1))));
    /// assert!(m.insert("x".to_string(), Some(mu.alloc(2))));
    /// assert_eq!(*m.get("x", &mu).flatten().unwrap(), 2);
    /// ```
    pub fn insert(&self, key: K, value: H::Local<'_>) -> bool {
        self.armed.check("GcValueMap::insert", NAME);
        let hash = self.hasher.hash_one(&key);
        let replaced = {
            // From `store` until the element has joined, and `Eq` under the lock: one call of
            // user code (see `new_element` and `user_code.rs`).
            let in_call = user_code::Guard::enter();
            let mut element = new_element::<H>(value, "GcValueMap::insert", &in_call);
            let mut map = self.write();
            if let Some(e) = map.find_mut(hash, |e| e.key == key) {
                std::mem::swap(&mut e.value, &mut element);
                empty_slots(&element);
                Some((key, element))
            } else {
                reserve_one(&mut map, &self.cursor, stored_hash, |e| reshade_slots(&e.value));
                map.insert_unique(hash, Entry { hash, key, value: element }, stored_hash);
                None
            }
        };
        // The new key and the replaced value, if any, dropped after the lock, each on its own.
        let was_there = replaced.is_some();
        if let Some((key, value)) = replaced {
            drop_each([Part::Key(key), Part::Value(value)]);
        }
        was_there
    }

    /// The value for `key`, as a local of `mu`.
    ///
    /// ```
    /// use gc_runtime::{GcValueMap, Member};
    ///
    /// let mu = gc_runtime::attach();
    /// let m = mu.alloc(GcValueMap::<String, Member<f64>>::new());
    /// m.insert(String::from("pi"), Some(mu.alloc(3.14)));
    /// assert_eq!(m.get("pi", &mu).flatten().map(|v| *v), Some(3.14)); // `&str` looks up a `String`
    /// assert!(m.get("tau", &mu).is_none());
    /// ```
    pub fn get<'m, Q>(&self, key: &Q, mu: &'m Mutator) -> Option<H::Local<'m>>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let hash = self.hasher.hash_one(key);
        let _user_code = user_code::Guard::enter();
        self.map.read().find(hash, |e| e.key.borrow() == key).map(|e| e.value.load(mu))
    }

    /// Whether the map has an entry for `key`.
    ///
    /// ```
    /// use gc_runtime::{GcValueMap, Member};
    ///
    /// let mu = gc_runtime::attach();
    /// let m = mu.alloc(GcValueMap::<u64, Member<()>>::new());
    /// m.insert(3, None);
    /// assert!(m.contains_key(&3));
    /// assert!(!m.contains_key(&4));
    /// ```
    pub fn contains_key<Q>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let hash = self.hasher.hash_one(key);
        let _user_code = user_code::Guard::enter();
        self.map.read().find(hash, |e| e.key.borrow() == key).is_some()
    }

    /// Remove the entry for `key` and return its value, as a local of `mu`. The value's
    /// pointers are shaded under the Yuasa and hybrid barriers; the key and the value are
    /// dropped after the lock is released.
    ///
    /// ```
    /// use gc_runtime::{GcValueMap, Member};
    ///
    /// let mu = gc_runtime::attach();
    /// let m = mu.alloc(GcValueMap::<&str, Member<u8>>::new());
    /// m.insert("k", Some(mu.alloc(9)));
    /// assert_eq!(m.remove("k", &mu).flatten().map(|v| *v), Some(9));
    /// assert!(m.remove("k", &mu).is_none());
    /// ```
    pub fn remove<'m, Q>(&self, key: &Q, mu: &'m Mutator) -> Option<H::Local<'m>>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let hash = self.hasher.hash_one(key);
        // Declared before the guard: the entry is dropped after the lock is released, also when
        // `load` panics.
        let mut removed = None;
        let value = {
            let _user_code = user_code::Guard::enter();
            let mut map = self.write();
            let (entry, _) = map.find_entry(hash, |e| e.key.borrow() == key).ok()?.remove();
            load_leaving(&removed.insert(entry).value, mu)
        };
        drop_entries(removed);
        Some(value)
    }
}

impl<K: Clone, H: HeapValue, S> GcValueMap<K, H, S> {
    /// The keys (cloned; a snapshot, in the map's iteration order).
    ///
    /// ```
    /// use gc_runtime::{GcValueMap, Member};
    ///
    /// let mu = gc_runtime::attach();
    /// let m = mu.alloc(GcValueMap::<u8, Member<u8>>::new());
    /// m.insert(2, None);
    /// m.insert(1, None);
    /// let mut keys = m.keys();
    /// keys.sort();
    /// assert_eq!(keys, [1, 2]);
    /// ```
    pub fn keys(&self) -> Vec<K> {
        let _user_code = user_code::Guard::enter();
        self.map.read().iter().map(|e| e.key.clone()).collect()
    }

    /// The entries (keys cloned, values as locals of `mu`), as a snapshot taken under one
    /// lock, in the map's iteration order.
    ///
    /// ```
    /// use gc_runtime::{GcValueMap, Member};
    ///
    /// let mu = gc_runtime::attach();
    /// let m = mu.alloc(GcValueMap::<&str, Member<u8>>::new());
    /// m.insert("one", Some(mu.alloc(1)));
    /// let entries = m.entries(&mu);
    /// assert_eq!((entries[0].0, *entries[0].1.unwrap()), ("one", 1));
    /// ```
    pub fn entries<'m>(&self, mu: &'m Mutator) -> Vec<(K, H::Local<'m>)> {
        let _user_code = user_code::Guard::enter();
        self.map.read().iter().map(|e| (e.key.clone(), e.value.load(mu))).collect()
    }

    /// Call `f` with each entry of a snapshot (see [`GcValueMap::entries`]). `f` runs without
    /// the map's lock, so it may read, change or allocate freely.
    ///
    /// ```
    /// use gc_runtime::{GcValueMap, Member};
    ///
    /// let mu = gc_runtime::attach();
    /// let m = mu.alloc(GcValueMap::<String, Member<u32>>::new());
    /// m.insert("a".to_string(), Some(mu.alloc(1)));
    /// let mut total = 0;
    /// m.for_each(&mu, |key, value| {
    ///     total += *value.unwrap();
    ///     m.insert(format!("{key}{key}"), value); // allowed: no lock is held
    /// });
    /// assert_eq!((total, m.len()), (1, 2));
    /// ```
    pub fn for_each<'m>(&self, mu: &'m Mutator, mut f: impl FnMut(&K, H::Local<'m>)) {
        for (k, v) in self.entries(mu) {
            f(&k, v);
        }
    }
}

impl<K, H: HeapValue, S> Drop for GcValueMap<K, H, S> {
    /// Drops the keys and values one by one (`drop_each.rs`): one whose destructor panics neither stops
    /// the others nor, with a second, aborts — here on the finalizer thread, typically, which
    /// then counts the panic and frees the map's object as for any panicking destructor.
    fn drop(&mut self) {
        if std::mem::needs_drop::<Entry<K, H>>() {
            drop_entries(self.map.get_mut().drain());
        }
    }
}

impl<K, H: HeapValue, S: Default> Default for GcValueMap<K, H, S> {
    fn default() -> Self {
        GcValueMap::with_hasher(S::default())
    }
}

impl<K, H: HeapValue, S> GcValueMap<K, H, S> {
    /// Hold the write lock, as a writer would.
    #[cfg(test)]
    pub(super) fn write_lock_for_test(&self) -> impl Drop + '_ {
        self.map.write()
    }

    /// The table's length, capacity (entries it holds before it rehashes) and buckets.
    #[cfg(test)]
    pub(super) fn table_shape(&self) -> (usize, usize, usize) {
        let t = self.map.read();
        (t.len(), t.capacity(), t.num_buckets())
    }
}

// SAFETY: reports the armed flag (allocation sets it; no other sink acts on it), then the slots
// of the values, each through the value's own `Trace`, under the read lock, which every change
// to the set of values excludes (inserting, replacing, removing an entry and rehashing happen
// under the write lock); if the lock is taken it reports that instead and the collector traces
// the map again later. Every sink but the marker gets every value; the marker gets a chunk of
// buckets per visit, and an insertion that rehashes while its scan is part way through shades
// every value again (`reserve_one`). Keys are not traced: they are plain data (a slot inside a
// key is never armed, so it never holds a pointer). No key method runs here.
unsafe impl<K, H: HeapValue, S> Trace for GcValueMap<K, H, S> {
    fn trace(&self, tracer: &mut Tracer<'_>) {
        // Not published yet when allocation arms it: the lock is free.
        self.armed.trace(tracer, || self.map.read().allocation_size());
        if !H::NEEDS_TRACE {
            report_owned_once(&self.cursor, tracer, self.armed.charged());
            return;
        }
        let Some(map) = read_for_trace(&self.map, &self.cursor, tracer) else { return };
        tracer.owned_bytes(&self.cursor, self.armed.charged());
        trace_buckets(&map, &self.cursor, tracer, |e, tracer| e.value.trace(tracer));
    }
}

impl<K, H: HeapValue, S> fmt::Debug for GcValueMap<K, H, S> {
    /// The length (and `armed: false` for an unarmed map); not the entries, whose values need
    /// a mutator to read.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = f.debug_struct(NAME);
        s.field("len", &self.len());
        if !self.armed.get() {
            s.field("armed", &false);
        }
        s.finish_non_exhaustive()
    }
}

#[cfg(all(test, not(gc_loom)))]
mod tests {
    use std::panic::{catch_unwind, AssertUnwindSafe};

    use super::*;
    use crate::{
        clock::{self, Phase},
        collections::tests::{count, PhaseOff},
        config::BarrierKind,
        gc::Gc,
        member::Member,
        test_support, Trace,
    };

    /// A value whose `load` panics on 0 and whose `store` panics on 1.
    #[derive(Trace)]
    struct Touchy(Member<u8>);

    impl HeapValue for Touchy {
        type Local<'m> = Option<Gc<'m, u8>>;

        fn empty() -> Touchy {
            Touchy(Member::new())
        }

        fn load<'m>(&self, mu: &'m Mutator) -> Option<Gc<'m, u8>> {
            let value = self.0.get(mu);
            assert!(value.is_none_or(|v| *v != 0), "a load that panics on zero");
            value
        }

        fn store(&self, value: Option<Gc<'_, u8>>) {
            self.0.set(value);
            assert!(value.is_none_or(|v| *v != 1), "a store that panics on one");
        }
    }

    #[test]
    fn trace_reports_the_armed_flag_then_every_value_and_a_locked_map() {
        let _s = test_support::serial();
        let mu = crate::attach();
        let loose = GcValueMap::<u8, Member<u8>>::new();
        let c = count(&loose);
        assert_eq!((c.flags, c.slots, c.locked), (1, 0, 0));
        assert_eq!(format!("{loose:?}"), "GcValueMap { len: 0, armed: false, .. }");
        let m = mu.alloc(GcValueMap::<u8, Member<u8>>::new());
        for i in 0..5 {
            m.insert(i, Some(mu.alloc(i)));
        }
        let c = count(&*m);
        assert_eq!((c.flags, c.slots, c.locked), (1, 5, 0));
        assert_eq!(format!("{:?}", *m), "GcValueMap { len: 5, .. }");
        let writer = m.write_lock_for_test();
        let c = count(&*m);
        assert_eq!((c.flags, c.slots, c.locked), (1, 0, 1), "flag reported, lock reported, no slot");
        drop(writer);
    }

    #[test]
    fn a_load_that_panics_during_a_removal_still_empties_the_removed_value() {
        let _s = test_support::serial();
        let mu = crate::attach();
        let m = mu.alloc(GcValueMap::<u8, Touchy>::new());
        let zero = mu.alloc(0);
        m.insert(7, Some(zero));
        let _clear = test_support::ClearMarks;
        clock::force(Phase::Mark, BarrierKind::Yuasa);
        let off = PhaseOff;
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            let _ = m.remove(&7, &mu);
        }));
        // SAFETY: `zero` is a live local.
        let shaded = unsafe { test_support::shaded(zero.header_ptr()) };
        drop(off);
        assert!(outcome.is_err(), "the load panicked");
        assert!(shaded, "the removed value's pointer was shaded");
        assert!(m.is_empty() && !m.contains_key(&7), "the entry left");
    }

    #[test]
    fn a_value_holding_a_collection_is_refused() {
        #[derive(Trace)]
        struct Nest(crate::GcWeakMap<u8, u8>);
        impl HeapValue for Nest {
            type Local<'m> = ();
            fn empty() -> Nest {
                Nest(crate::GcWeakMap::new())
            }
            fn load(&self, _: &Mutator) {}
            fn store(&self, (): ()) {}
        }
        let _s = test_support::serial();
        let mu = crate::attach();
        let m = mu.alloc(GcValueMap::<u8, Nest>::new());
        let err = catch_unwind(AssertUnwindSafe(|| m.insert(1, ()))).expect_err("refused");
        let message = err.downcast::<String>().expect("a formatted message");
        assert!(message.starts_with("GcValueMap::insert: the value type `"), "{message}");
        assert!(m.is_empty());
    }

    #[test]
    fn a_store_that_panics_leaves_the_map_unchanged() {
        let _s = test_support::serial();
        let mu = crate::attach();
        let m = mu.alloc(GcValueMap::<u8, Touchy>::new());
        m.insert(1, Some(mu.alloc(2)));
        let one = mu.alloc(1);
        for key in [1, 2] {
            let outcome = catch_unwind(AssertUnwindSafe(|| m.insert(key, Some(one))));
            assert!(outcome.is_err(), "key {key}: the store panicked");
            assert_eq!(m.len(), 1, "key {key}: unchanged");
            assert_eq!(m.get(&1, &mu).flatten().map(|v| *v), Some(2), "key {key}: unchanged");
        }
    }
}
