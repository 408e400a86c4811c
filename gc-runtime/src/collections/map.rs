//! [`GcMap`]: a hash map from plain keys to GC pointers, shared by every thread that reaches
//! it.
//!
//! The design — a read-write lock around a hash table of armed slots, why a rehash cannot lose
//! a pointer the marker is scanning — is in the module header of `collections/mod.rs`.
//!
//! # Keys' code and the lock
//!
//! A key's `Hash` and `Eq` are user code, and user code may allocate (a mark assist then
//! traces this map) or block. So the table stores each entry's hash next to it
//! (`hashbrown::HashTable`): a key is hashed *before* the lock is taken, and growing the table
//! rehashes from the stored hashes, so `Hash` never runs under the lock. `Eq` does (finding an
//! entry compares keys in place), as does `Debug` of the keys and `Clone` in [`GcMap::keys`]
//! and [`GcMap::entries`]; the markers never wait for this lock (they try it and come back
//! later), so those may allocate. They must not use the same map — its lock is not reentrant
//! for writers: that would deadlock, never corrupt.

use std::{
    borrow::Borrow,
    fmt,
    hash::{BuildHasher, Hash, RandomState},
};

use hashbrown::HashTable;

use super::slots::{read_for_trace, reserve_one, slot_addr, trace_buckets, AddrFmt, Armed};
use crate::{
    gc::Gc,
    member::Member,
    mutator::Mutator,
    object::{ScanCursor, Trace, Tracer},
    primitive::sync::RwLock,
    thread_state::user_code,
};

const NAME: &str = "GcMap";

/// A hash map from plain keys (`String`, integers, …) to GC pointers to `V`, for use inside GC
/// objects, from several threads at once.
///
/// Keys are plain data: they are not traced, so a key holds no GC pointer (a slot inside a key
/// is never armed and stays empty). To key by object identity, use
/// [`GcIdMap`](crate::GcIdMap). All methods take `&self`; stores run the write barrier; reads
/// need a [`Mutator`] and return locals. Like [`GcVec`](crate::GcVec), a `GcMap` accepts
/// entries once the object that holds it (or the map itself) is allocated.
///
/// A key's `Hash` runs before the map is locked; its `Eq`, `Clone` and `Debug` run under the
/// map's lock. All of them may allocate and use other maps, but not this one; under the lock a
/// safepoint does nothing and `collect` panics (see `thread_state/user_code.rs`).
///
/// ```
/// use gc_runtime::{GcMap, Trace};
///
/// #[derive(Trace)]
/// struct Class {
///     name: String,
///     methods: GcMap<String, String>,
/// }
///
/// let mut mu = gc_runtime::attach();
/// let class = mu.alloc(Class { name: "Point".into(), methods: GcMap::new() });
/// class.methods.insert("init".to_string(), mu.alloc(String::from("fun init() {}")));
/// let root = class.root(&mu);
/// mu.collect();
/// let class = root.get(&mu);
/// assert_eq!(*class.methods.get("init", &mu).unwrap(), "fun init() {}");
/// assert!(class.methods.get("area", &mu).is_none());
/// ```
pub struct GcMap<K, V: ?Sized, S = RandomState> {
    armed: Armed,
    /// Where the marker's chunked scan resumes, in buckets (see `object/scan_cursor.rs`).
    cursor: ScanCursor,
    /// Hashes keys, always before the lock is taken (see "Keys' code and the lock").
    hasher: S,
    map: RwLock<HashTable<Entry<K, V>>>,
}

/// One entry: the key's hash (computed once, outside the lock), the key and the value slot.
struct Entry<K, V: ?Sized> {
    hash: u64,
    key: K,
    value: Member<V>,
}

/// The stored hash, for growing the table without running `Hash`.
fn stored_hash<K, V: ?Sized>(e: &Entry<K, V>) -> u64 {
    e.hash
}

impl<K, V: ?Sized> GcMap<K, V> {
    /// An empty map, to put in a new object (it accepts entries once that object is
    /// allocated).
    ///
    /// ```
    /// use gc_runtime::GcMap;
    ///
    /// let mu = gc_runtime::attach();
    /// let loose: GcMap<u32, u8> = GcMap::new();
    /// assert!(loose.is_empty()); // unarmed: reads as empty, `insert` would panic
    /// let m = mu.alloc(GcMap::new());
    /// m.insert(1_u32, mu.alloc(7_u8));
    /// assert_eq!(m.len(), 1);
    /// ```
    pub fn new() -> GcMap<K, V> {
        GcMap::with_capacity(0)
    }

    /// An empty map with room for `capacity` entries before it rehashes.
    ///
    /// ```
    /// let mu = gc_runtime::attach();
    /// let m = mu.alloc(gc_runtime::GcMap::with_capacity(64));
    /// m.insert("k", mu.alloc(1_u8));
    /// # assert_eq!(m.len(), 1);
    /// ```
    pub fn with_capacity(capacity: usize) -> GcMap<K, V> {
        GcMap::with_capacity_and_hasher(capacity, RandomState::new())
    }
}

impl<K, V: ?Sized, S> GcMap<K, V, S> {
    /// An empty map that hashes keys with `hasher`, like `HashMap::with_hasher`. The default
    /// is std's `RandomState` (SipHash, resistant to chosen keys); a runtime whose keys are its
    /// own (interned names, small integers) can take a faster one. The hasher runs before the
    /// map's lock is taken, never under it.
    ///
    /// ```
    /// use std::hash::{BuildHasherDefault, DefaultHasher};
    /// use gc_runtime::GcMap;
    ///
    /// let mu = gc_runtime::attach();
    /// let m = mu.alloc(GcMap::with_hasher(BuildHasherDefault::<DefaultHasher>::default()));
    /// m.insert("answer", mu.alloc(42_u8));
    /// assert_eq!(*m.get("answer", &mu).unwrap(), 42);
    /// ```
    pub fn with_hasher(hasher: S) -> GcMap<K, V, S> {
        GcMap::with_capacity_and_hasher(0, hasher)
    }

    /// An empty map with room for `capacity` entries before it rehashes, hashing keys with
    /// `hasher`.
    pub fn with_capacity_and_hasher(capacity: usize, hasher: S) -> GcMap<K, V, S> {
        GcMap {
            armed: Armed::new(),
            cursor: ScanCursor::new(),
            hasher,
            map: RwLock::new(HashTable::with_capacity(capacity)),
        }
    }

    /// The hasher the map hashes keys with.
    pub fn hasher(&self) -> &S {
        &self.hasher
    }

    /// The number of entries.
    ///
    /// ```
    /// let mu = gc_runtime::attach();
    /// let m = mu.alloc(gc_runtime::GcMap::new());
    /// m.insert(1, mu.alloc('a'));
    /// m.insert(1, mu.alloc('b')); // replaces
    /// assert_eq!(m.len(), 1);
    /// ```
    pub fn len(&self) -> usize {
        self.map.read().len()
    }

    /// Whether the map has no entry.
    ///
    /// ```
    /// let mu = gc_runtime::attach();
    /// let m = mu.alloc(gc_runtime::GcMap::<u8, u8>::new());
    /// assert!(m.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.map.read().is_empty()
    }

    /// Remove every entry (shading each value under the Yuasa and hybrid barriers). The keys
    /// are dropped after the lock is released.
    ///
    /// ```
    /// let mu = gc_runtime::attach();
    /// let m = mu.alloc(gc_runtime::GcMap::new());
    /// m.insert(1, mu.alloc(1_u8));
    /// m.clear();
    /// assert!(m.is_empty());
    /// ```
    pub fn clear(&self) {
        let keys: Vec<K> = {
            let mut map = self.map.write();
            map.drain()
                .map(|e| {
                    e.value.set(None);
                    e.key
                })
                .collect()
        };
        drop(keys);
    }

    /// The values, as locals of `mu` (a snapshot, in the map's iteration order).
    ///
    /// ```
    /// let mu = gc_runtime::attach();
    /// let m = mu.alloc(gc_runtime::GcMap::new());
    /// m.insert("a", mu.alloc(1_u32));
    /// m.insert("b", mu.alloc(2_u32));
    /// assert_eq!(m.values(&mu).iter().map(|v| **v).sum::<u32>(), 3);
    /// ```
    pub fn values<'m>(&self, mu: &'m Mutator) -> Vec<Gc<'m, V>> {
        self.map.read().iter().filter_map(|e| e.value.get(mu)).collect()
    }
}

impl<K: Hash + Eq, V: ?Sized, S: BuildHasher> GcMap<K, V, S> {
    /// Map `key` to `value` (runs the write barrier); returns whether an entry for `key` was
    /// replaced. When it was, the map keeps its old key and drops `key`.
    ///
    /// # Panics
    /// If the map is not inside an allocated object.
    ///
    /// ```
    /// let mu = gc_runtime::attach();
    /// let m = mu.alloc(gc_runtime::GcMap::new());
    /// assert!(!m.insert("x".to_string(), mu.alloc(1_i64)));
    /// assert!(m.insert("x".to_string(), mu.alloc(2_i64)));
    /// assert_eq!(*m.get("x", &mu).unwrap(), 2);
    /// ```
    pub fn insert(&self, key: K, value: Gc<'_, V>) -> bool {
        self.armed.check("GcMap::insert", NAME);
        let hash = self.hasher.hash_one(&key);
        // `Eq` runs under the lock from here on (see `user_code.rs`).
        let _user_code = user_code::Guard::enter();
        // Overwriting an existing entry stores into one slot: the read lock suffices.
        if let Some(e) = self.map.read().find(hash, |e| e.key == key) {
            e.value.set(Some(value));
            return true;
        }
        let mut map = self.map.write();
        // Another thread may have inserted `key` between the two locks.
        if let Some(e) = map.find(hash, |e| e.key == key) {
            e.value.set(Some(value));
            return true;
        }
        let entry = Entry { hash, key, value: Member::new_armed() };
        entry.value.set(Some(value));
        reserve_one(&mut map, &self.cursor, stored_hash, |e| e.value.reshade());
        map.insert_unique(hash, entry, stored_hash);
        false
    }

    /// The value for `key`, as a local of `mu`.
    ///
    /// ```
    /// let mu = gc_runtime::attach();
    /// let m = mu.alloc(gc_runtime::GcMap::new());
    /// m.insert(String::from("pi"), mu.alloc(3.14_f64));
    /// assert_eq!(m.get("pi", &mu).map(|v| *v), Some(3.14)); // `&str` looks up a `String` key
    /// ```
    pub fn get<'m, Q>(&self, key: &Q, mu: &'m Mutator) -> Option<Gc<'m, V>>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let hash = self.hasher.hash_one(key);
        let _user_code = user_code::Guard::enter();
        self.map.read().find(hash, |e| e.key.borrow() == key)?.value.get(mu)
    }

    /// Whether the map has an entry for `key`.
    ///
    /// ```
    /// let mu = gc_runtime::attach();
    /// let m = mu.alloc(gc_runtime::GcMap::new());
    /// m.insert(3_u64, mu.alloc(()));
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

    /// Remove the entry for `key` and return its value, as a local of `mu`. The value is
    /// shaded under the Yuasa and hybrid barriers; the key is dropped after the lock is
    /// released.
    ///
    /// ```
    /// let mu = gc_runtime::attach();
    /// let m = mu.alloc(gc_runtime::GcMap::new());
    /// m.insert("k", mu.alloc(9_u8));
    /// assert_eq!(m.remove("k", &mu).map(|v| *v), Some(9));
    /// assert!(m.remove("k", &mu).is_none());
    /// ```
    pub fn remove<'m, Q>(&self, key: &Q, mu: &'m Mutator) -> Option<Gc<'m, V>>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let hash = self.hasher.hash_one(key);
        let removed = {
            let _user_code = user_code::Guard::enter();
            let mut map = self.map.write();
            let (e, _) = map.find_entry(hash, |e| e.key.borrow() == key).ok()?.remove();
            let value = e.value.get(mu);
            e.value.set(None);
            (e.key, value)
        };
        let (old_key, value) = removed;
        drop(old_key);
        value
    }
}

impl<K: Clone, V: ?Sized, S> GcMap<K, V, S> {
    /// The keys (cloned; a snapshot, in the map's iteration order).
    ///
    /// ```
    /// let mu = gc_runtime::attach();
    /// let m = mu.alloc(gc_runtime::GcMap::new());
    /// m.insert(2_u8, mu.alloc(()));
    /// m.insert(1_u8, mu.alloc(()));
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
    /// let mu = gc_runtime::attach();
    /// let m = mu.alloc(gc_runtime::GcMap::new());
    /// m.insert("one", mu.alloc(1_u8));
    /// let entries = m.entries(&mu);
    /// assert_eq!((entries[0].0, *entries[0].1), ("one", 1));
    /// ```
    pub fn entries<'m>(&self, mu: &'m Mutator) -> Vec<(K, Gc<'m, V>)> {
        let _user_code = user_code::Guard::enter();
        self.map.read().iter().filter_map(|e| Some((e.key.clone(), e.value.get(mu)?))).collect()
    }

    /// Call `f` with each entry of a snapshot (see [`GcMap::entries`]). `f` runs without the
    /// map's lock, so it may read, change or allocate freely; changes do not affect the
    /// entries it is given.
    ///
    /// ```
    /// let mu = gc_runtime::attach();
    /// let m = mu.alloc(gc_runtime::GcMap::new());
    /// m.insert("a".to_string(), mu.alloc(1_u32));
    /// m.insert("b".to_string(), mu.alloc(2_u32));
    /// let mut total = 0;
    /// m.for_each(&mu, |key, value| {
    ///     total += *value;
    ///     m.insert(format!("{key}{key}"), value); // allowed: no lock is held
    /// });
    /// assert_eq!(total, 3);
    /// assert_eq!(m.len(), 4);
    /// ```
    pub fn for_each<'m>(&self, mu: &'m Mutator, mut f: impl FnMut(&K, Gc<'m, V>)) {
        for (k, v) in self.entries(mu) {
            f(&k, v);
        }
    }
}

impl<K, V: ?Sized, S> GcMap<K, V, S> {
    /// The table's length, capacity (entries it holds before it rehashes) and buckets.
    #[cfg(test)]
    pub(super) fn table_shape(&self) -> (usize, usize, usize) {
        let t = self.map.read();
        (t.len(), t.capacity(), t.num_buckets())
    }
}

impl<K, V: ?Sized, S: Default> Default for GcMap<K, V, S> {
    fn default() -> Self {
        GcMap::with_hasher(S::default())
    }
}

// SAFETY: reports the armed flag (allocation sets it; no other sink acts on it), then the value
// slots, under the read lock, which every change to the set of slots excludes (inserting or
// removing an entry and rehashing happen under the write lock); if the lock is taken it
// reports that instead and the collector traces the map again later. Every sink but the marker
// gets every slot; the marker gets a chunk of buckets per visit, and an insertion that rehashes
// while its scan is part way through shades every value (`reserve_one`), so each slot present
// throughout the scan is reported or shaded. Keys are not traced: they are plain data, and a
// slot or collection inside a key is never armed, so it never holds a pointer. No key method
// runs here (no hashing, no comparison).
unsafe impl<K, V: ?Sized, S> Trace for GcMap<K, V, S> {
    fn trace(&self, tracer: &mut Tracer<'_>) {
        self.armed.trace(tracer);
        let Some(map) = read_for_trace(&self.map, &self.cursor, tracer) else { return };
        trace_buckets(&map, &self.cursor, tracer, |e, tracer| e.value.trace(tracer));
    }
}

impl<K: fmt::Debug, V: ?Sized, S> fmt::Debug for GcMap<K, V, S> {
    /// The length and the entries, with each value's address (as [`Gc::addr`] gives it): the
    /// values are not followed, so a map that reaches itself prints without recursing. The
    /// keys' `Debug` runs under the map's read lock.
    ///
    /// ```
    /// let mu = gc_runtime::attach();
    /// let m = mu.alloc(gc_runtime::GcMap::new());
    /// let v = mu.alloc(1_u8);
    /// m.insert("k", v);
    /// assert_eq!(format!("{:?}", *m), format!("GcMap {{ len: 1, entries: {{\"k\": {:#x}}} }}", v.addr()));
    /// ```
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let _user_code = user_code::Guard::enter();
        let map = self.map.read();
        let mut s = f.debug_struct(NAME);
        s.field("len", &map.len());
        if !self.armed.get() {
            s.field("armed", &false);
        }
        s.field("entries", &Entries(&map)).finish()
    }
}

struct Entries<'a, K, V: ?Sized>(&'a HashTable<Entry<K, V>>);

impl<K: fmt::Debug, V: ?Sized> fmt::Debug for Entries<'_, K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.0.iter().map(|e| (&e.key, AddrFmt(slot_addr(&e.value))))).finish()
    }
}
