//! [`GcMap`]: a hash map from plain keys to GC pointers, shared by every thread that reaches
//! it.
//!
//! The design — an open-addressed table of value slots that lookups probe without a lock
//! (`slot_table.rs`), a read-write lock that orders the writers and the marker, why a rehash
//! cannot lose a pointer the marker is scanning — is in the module header of
//! `collections/mod.rs`.
//!
//! # Keys behind the table
//!
//! Each key lives in an allocation of its own with its hash (a [`KeyBox`]); the table's address
//! word for the entry is that allocation's address. So a lookup, which runs beside writers,
//! compares its key against keys that cannot move (a rehash moves words, not keys), and the
//! table rehashes from the stored hashes. A removed key may still be under a lookup's
//! comparison, so it is not dropped at once: it is *retired* (`retired_keys.rs`) until every
//! lookup that could have found it is over, and a later write to the map (or the map's drop)
//! drops it, after releasing the lock. A key's destructor is user code; freeing it through the
//! epoch's own deferred functions would run it inside whichever call collects the epoch's
//! garbage — possibly under another collection's lock.
//!
//! # Keys' code and the lock
//!
//! A key's `Hash` and `Eq` are user code, and user code may allocate (a mark assist then
//! traces this map) or block. A key is hashed *before* any lock is taken, and growing the
//! table rehashes from the stored hashes, so `Hash` never runs under the lock. `Eq` runs with
//! no lock in lookups (`get`, `contains_key`) and under the lock in `insert` and `remove`, as do
//! `Debug` of the keys and `Clone` in [`GcMap::keys`] and [`GcMap::entries`]; the markers never
//! wait for this lock (they try it and come back later), so those may allocate. Under the lock
//! they must not use the same map — its lock is not reentrant for writers: that would
//! deadlock, never corrupt.

use std::{
    borrow::Borrow,
    fmt,
    hash::{BuildHasher, Hash, RandomState},
    marker::PhantomData,
};

use super::{
    drop_each::drop_each,
    retired_keys::RetiredKeys,
    slots::{read_for_trace, slot_addr, AddrFmt, Armed, ChargedWrite},
};
use crate::{
    gc::Gc,
    member::Member,
    mutator::Mutator,
    object::{ScanCursor, Trace, Tracer},
    primitive::sync::RwLock,
    shared_slice::{self, pin},
    slot_table::{Entry, KeyWords, Lookup, NoKeySlot, SlotTable, TableEntry},
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
/// Lookups (`get`, `contains_key`, `len`) take no lock: threads that only look keys up never
/// wait for a writer, for the collector's scan, or for each other. A key's `Hash` runs before
/// the map is locked; its `Eq` runs with no lock in lookups and under the map's lock in
/// `insert` and `remove`, and `Clone` and `Debug` under the lock. All of them may allocate and
/// use other maps, but not this one under its lock; while any of them runs a safepoint does
/// nothing and `collect` panics (see `thread_state/user_code.rs`). A removed or replaced key is
/// dropped once no lookup can be comparing against it: by a later write to the map, or when
/// the map is dropped.
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
    /// Held for writing by insertions, removals and `clear` (and rehashes), for reading by the
    /// snapshots and the marker's scan; lookups do not take it.
    lock: RwLock<()>,
    /// Address words: the entries' [`KeyBox`]es, owned by the map.
    table: SlotTable<NoKeySlot, Member<V>, BoxedKeys<K>>,
    /// Removed keys waiting until no lookup can be comparing against them (module docs).
    retired: RetiredKeys,
    /// The map owns its keys (`Send`), and lookups on several threads share them (`Sync`): the
    /// auto traits of a lock around them.
    keys: PhantomData<RwLock<K>>,
}

/// A key in an allocation of its own, with its hash (module docs).
struct KeyBox<K> {
    hash: u64,
    key: K,
}

/// The address words of a `GcMap`'s table: pointers to [`KeyBox`]es.
struct BoxedKeys<K>(PhantomData<fn() -> K>);

impl<K> KeyWords for BoxedKeys<K> {
    #[inline]
    unsafe fn hash(word: usize) -> u64 {
        // SAFETY: the caller's promise: a word of the table, read under its lock, so a live
        // `KeyBox<K>` (the map frees a key only after it left the table and no lookup or lock
        // holder can see it).
        unsafe { (*(word as *const KeyBox<K>)).hash }
    }
}

/// The key a table word names.
///
/// # Safety
/// `word` was read from an entry of a `GcMap<K, ..>`'s table while the thread was pinned (or
/// held the map's lock), and `'a` ends before the thread unpins (releases the lock).
#[inline]
unsafe fn key_at<'a, K>(word: usize) -> &'a KeyBox<K> {
    // SAFETY: the caller's promise: the key is retired, not dropped, until every thread pinned
    // when it left the table has unpinned, and the lock excludes removals.
    unsafe { &*(word as *const KeyBox<K>) }
}

/// The lookup of `key`, hashed to `hash`: the stored hash first, then the keys' `Eq`.
///
/// The returned lookup may only be used while the thread is pinned or holds the map's lock
/// (its test reads keys through table words: see [`key_at`]).
#[inline]
fn lookup<'q, K: Borrow<Q>, Q: Eq + ?Sized>(hash: u64, key: &'q Q) -> Lookup<impl Fn(usize, &NoKeySlot) -> bool + 'q> {
    Lookup::new(hash, move |word, _: &NoKeySlot| {
        // SAFETY: the lookup is used only by a pinned thread or one holding the lock, on words
        // of this map's table (`table.get`, `find_locked`, `entry`, `remove`).
        let stored = unsafe { key_at::<K>(word) };
        stored.hash == hash && stored.key.borrow() == key
    })
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
            lock: RwLock::new(()),
            table: SlotTable::with_capacity(capacity),
            retired: RetiredKeys::new(),
            keys: PhantomData,
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
        self.table.len()
    }

    /// Whether the map has no entry.
    ///
    /// ```
    /// let mu = gc_runtime::attach();
    /// let m = mu.alloc(gc_runtime::GcMap::<u8, u8>::new());
    /// assert!(m.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Remove every entry (shading each value under the Yuasa and hybrid barriers). The keys
    /// are dropped once no lookup can be comparing against them (see the type's docs).
    ///
    /// ```
    /// let mu = gc_runtime::attach();
    /// let m = mu.alloc(gc_runtime::GcMap::new());
    /// m.insert(1, mu.alloc(1_u8));
    /// m.clear();
    /// assert!(m.is_empty());
    /// ```
    pub fn clear(&self) {
        let mut removed = Vec::new();
        {
            let _writer = self.write();
            // SAFETY: the lock is held exclusively.
            unsafe { self.table.clear(|word| removed.push(word)) };
        }
        self.retire(removed);
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
        self.snapshot(|_, e| e.value.get(mu))
    }

    /// `f` of every entry holding a key (its key box and its entry), under the read lock (so no
    /// entry is added or removed meanwhile: one snapshot), in bucket order.
    fn snapshot<T>(&self, mut f: impl FnMut(&KeyBox<K>, &TableEntry<NoKeySlot, Member<V>>) -> Option<T>) -> Vec<T> {
        let _reader = self.lock.read();
        // SAFETY: the lock is held (shared) while the buckets are used.
        let buckets = unsafe { self.table.buckets_locked() };
        buckets
            .iter()
            .filter_map(|e| {
                // SAFETY: a word of the table, read under the lock, used while it is held.
                let key = unsafe { key_at::<K>(e.key_addr()?) };
                f(key, e)
            })
            .collect()
    }

    /// Retire the keys in `words`, just removed from the table (none after an insertion), and
    /// drop the retired keys whose lookups are over (module docs). No lock is held: a key's
    /// destructor is user code.
    fn retire(&self, words: Vec<usize>) {
        if !std::mem::needs_drop::<K>() {
            // No destructor to run: the epoch frees these keys itself (no user code runs).
            for word in words {
                // SAFETY: `word` is the address of a `Box<KeyBox<K>>` the map owns (the global
                // allocator, `KeyBox<K>`'s layout), just removed from the table (no thread that
                // pins from now on finds it), handed to the epoch once; `KeyBox<K>` has no drop
                // glue.
                unsafe {
                    shared_slice::retire_allocation(
                        std::ptr::NonNull::new_unchecked(word as *mut u8),
                        std::alloc::Layout::new::<KeyBox<K>>(),
                    );
                }
            }
            return;
        }
        // One by one: a key whose destructor panics neither stops the others nor, with a
        // second, aborts (`drop_each.rs`).
        drop_each(
            self.retired
                .retire_and_take_ready(words)
                .into_iter()
                // SAFETY: each word is a `KeyBox<K>` allocation the map owns, no longer in the
                // table, that no thread can still be reading (`RetiredKeys` hands it out once,
                // when its flag is set).
                .map(|word| unsafe { Box::from_raw(word as *mut KeyBox<K>) }),
        );
    }
}

/// What [`GcMap::put`] did.
enum Put<'m, V: ?Sized> {
    /// Replaced the value of an entry for the key.
    Replaced,
    /// Found an entry for the key and left it: its value.
    Kept(Gc<'m, V>),
    /// Added an entry.
    Inserted,
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
        matches!(self.put(key, value, None, "GcMap::insert"), Put::Replaced)
    }

    /// Map `key` to `value` unless the map holds `key` already: then leave the map as it is
    /// and return the value it holds (and drop `key`); `None` if `value` went in. One step
    /// under the writers' lock, so of threads racing to insert one key, exactly one inserts
    /// and the others all get its value — where `get` then `insert` could let two insert.
    ///
    /// # Panics
    /// If the map is not inside an allocated object.
    ///
    /// ```
    /// let mu = gc_runtime::attach();
    /// let m = mu.alloc(gc_runtime::GcMap::new());
    /// assert!(m.insert_if_absent("x".to_string(), mu.alloc(1_i64), &mu).is_none());
    /// let held = m.insert_if_absent("x".to_string(), mu.alloc(2_i64), &mu);
    /// assert_eq!(held.map(|v| *v), Some(1));
    /// assert_eq!(*m.get("x", &mu).unwrap(), 1);
    /// ```
    pub fn insert_if_absent<'m>(&self, key: K, value: Gc<'_, V>, mu: &'m Mutator) -> Option<Gc<'m, V>> {
        match self.put(key, value, Some(mu), "GcMap::insert_if_absent") {
            Put::Kept(held) => Some(held),
            Put::Replaced | Put::Inserted => None,
        }
    }

    /// Insert `value` for `key`: over an entry for `key`, replace its value, or with `keep`,
    /// leave it and return its value as a local of that mutator.
    fn put<'m>(&self, key: K, value: Gc<'_, V>, keep: Option<&'m Mutator>, what: &'static str) -> Put<'m, V> {
        self.armed.check(what, NAME);
        let hash = self.hasher.hash_one(&key);
        // `Eq` runs from here on, under the lock (see `user_code.rs`).
        let user_code = user_code::Guard::enter();
        let found = lookup::<K, K>(hash, &key);
        // One probe, under the write lock, finds the key or its room. (An overwrite needs only
        // the read lock; but lookups take no lock now, so the write lock keeps out only other
        // writers and the marker's chunk, and a first probe under the read lock would cost
        // every new key a second probe.)
        let writer = self.write();
        // SAFETY: the lock is held exclusively.
        unsafe {
            // A rehash part way through the marker's scan may move entries behind its cursor:
            // shade every value again (`object/scan_cursor.rs`).
            if self.table.reserve_one() && self.cursor.mid_scan() {
                for entry in self.table.buckets_locked().iter().filter(|e| e.key_addr().is_some()) {
                    entry.value.reshade();
                }
            }
        }
        // SAFETY: the lock is held exclusively, and `reserve_one` ran under it.
        let put = match unsafe { self.table.entry(&found) } {
            Entry::Occupied(entry) => match keep {
                Some(mu) => Put::Kept(entry.value.get(mu).expect("a GcMap's values are never empty")),
                None => {
                    entry.value.set(Some(value));
                    Put::Replaced
                }
            },
            Entry::Vacant(room) => {
                drop(found);
                room.insert(Box::into_raw(Box::new(KeyBox { hash, key })) as usize, (), value.header_ptr());
                Put::Inserted
            }
        };
        drop(writer);
        drop(user_code);
        // Every write drops the retired keys that are ready, overwrites too: a map only
        // updated in place would otherwise keep its removed keys until its drop.
        self.retire(Vec::new());
        put
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
        let raw = self.table.get(&lookup::<K, Q>(hash, key), &pin())?;
        // SAFETY: read (`Acquire`) from a value slot of this map just now, on `mu`'s thread.
        unsafe { Member::local_of(raw, mu) }
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
        self.table.get(&lookup::<K, Q>(hash, key), &pin()).is_some()
    }

    /// Remove the entry for `key` and return its value, as a local of `mu`. The value is
    /// shaded under the Yuasa and hybrid barriers; the map's key is dropped once no lookup can
    /// be comparing against it (see the type's docs).
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
        let (word, value) = {
            let _user_code = user_code::Guard::enter();
            let _writer = self.write();
            // SAFETY: the lock is held exclusively.
            let (word, _, value) = unsafe { self.table.remove(&lookup::<K, Q>(hash, key)) }?;
            (word, value)
        };
        self.retire(vec![word]);
        // SAFETY: read (`Acquire`) from a value slot of this map just now, on `mu`'s thread.
        unsafe { Member::local_of(value, mu) }
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
        self.snapshot(|k, _| Some(k.key.clone()))
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
        self.snapshot(|k, e| Some((k.key.clone(), e.value.get(mu)?)))
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
        let (capacity, buckets) = self.table.shape(&pin());
        (self.len(), capacity, buckets)
    }

    /// Keys removed and not dropped yet.
    #[cfg(test)]
    pub(super) fn retired_keys(&self) -> usize {
        self.retired.len()
    }
}

impl<K, V: ?Sized, S: Default> Default for GcMap<K, V, S> {
    fn default() -> Self {
        GcMap::with_hasher(S::default())
    }
}

impl<K, V: ?Sized, S> GcMap<K, V, S> {
    /// The write lock, which charges the buckets' new size when the writer lets go
    /// (`owned_bytes.rs`).
    fn write(&self) -> ChargedWrite<'_, (), impl Fn(&()) -> usize + '_> {
        ChargedWrite::lock(&self.lock, &self.armed, |_| {
            // SAFETY: called under the write lock, which every replacement happens under.
            unsafe { self.table.bucket_bytes_locked() }
        })
    }
}

// SAFETY: reports the armed flag (allocation sets it; no other sink acts on it), then the value
// slots, under the read lock, which every change to the set of slots excludes (inserting or
// removing an entry and rehashing happen under the write lock); if the lock is taken it
// reports that instead and the collector traces the map again later. Every sink but the marker
// gets every slot; the marker gets a chunk of buckets per visit, and an insertion that rehashes
// while its scan is part way through shades every value (`insert`), so each slot present
// throughout the scan is reported or shaded. Free and removed buckets hold no pointer and are
// skipped. Keys are not traced: they are plain data, and a slot or collection inside a key is
// never armed, so it never holds a pointer. No key method runs here (no hashing, no
// comparison).
unsafe impl<K, V: ?Sized, S> Trace for GcMap<K, V, S> {
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
            entry.value.trace(tracer);
        }
    }
}

impl<K, V: ?Sized, S> Drop for GcMap<K, V, S> {
    /// Drops the keys in the table and the retired ones: with `&mut self`, no lookup is running.
    fn drop(&mut self) {
        // SAFETY: `&mut self` excludes every other use of the table.
        let live = unsafe { self.table.buckets_locked() }.iter().filter_map(TableEntry::key_addr);
        let words: Vec<usize> = live.chain(self.retired.take_all()).collect();
        // SAFETY: each word is a `KeyBox<K>` the map owns (in the table or retired, never
        // both), dropped once here; no thread can be reading it (`&mut self`). One by one, as
        // in `retire`.
        drop_each(words.into_iter().map(|w| unsafe { Box::from_raw(w as *mut KeyBox<K>) }));
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
        let _reader = self.lock.read();
        // SAFETY: the lock is held (shared) while the buckets are used.
        let buckets = unsafe { self.table.buckets_locked() };
        let mut s = f.debug_struct(NAME);
        s.field("len", &self.table.len());
        if !self.armed.get() {
            s.field("armed", &false);
        }
        s.field("entries", &Entries::<K, V>(buckets, PhantomData)).finish()
    }
}

/// The entries of a table, for `Debug` (under the lock).
struct Entries<'a, K, V: ?Sized>(&'a [TableEntry<NoKeySlot, Member<V>>], PhantomData<&'a K>);

impl<K: fmt::Debug, V: ?Sized> fmt::Debug for Entries<'_, K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let entries = self.0.iter().filter_map(|e| {
            // SAFETY: a word of the table, read under the lock `Debug` holds while it prints.
            let key = unsafe { key_at::<K>(e.key_addr()?) };
            Some((&key.key, AddrFmt(slot_addr(&e.value))))
        });
        f.debug_map().entries(entries).finish()
    }
}

// Under Miri these run with the real epoch (`--cfg gc_miri_epoch`, under Tree Borrows: CI's
// lane beside the unit tests), not a second time with the stand-in (`shared_slice.rs`).
#[cfg(all(test, any(not(miri), gc_miri_epoch)))]
mod tests {
    use std::sync::{
        atomic::{AtomicUsize, Ordering},
        Arc,
    };

    use super::*;
    use crate::{collections::tests::count, shared_slice, test_support};

    /// A key that counts its drops (compared and hashed by its number).
    struct Counted(u32, Arc<AtomicUsize>);

    impl PartialEq for Counted {
        fn eq(&self, other: &Counted) -> bool {
            self.0 == other.0
        }
    }

    impl Eq for Counted {}

    impl std::hash::Hash for Counted {
        fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
            self.0.hash(state);
        }
    }

    impl Drop for Counted {
        fn drop(&mut self) {
            self.1.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Whether the epoch here frees anything (the stand-in used under loom and plain Miri keeps
    /// everything until its owner is dropped: see `shared_slice.rs`).
    const EPOCH_RECLAIMS: bool = !cfg!(any(gc_loom, all(miri, not(gc_miri_epoch))));

    /// A removed key is not dropped while a lookup that could be comparing against it may run
    /// (a pinned thread), however many writes follow; once none can, a later write drops it,
    /// once; the map's drop drops the rest.
    #[test]
    fn a_removed_key_is_dropped_by_a_later_write_once_no_lookup_can_see_it() {
        let _s = test_support::serial();
        let mut mu = crate::attach();
        let (drops, made) = (Arc::new(AtomicUsize::new(0)), AtomicUsize::new(0));
        let key = |i| {
            made.fetch_add(1, Ordering::Relaxed);
            Counted(i, drops.clone())
        };
        let m = mu.alloc(GcMap::new());
        for i in 0..4 {
            m.insert(key(i), mu.alloc(i));
        }
        let lookup = shared_slice::pin(); // as a lookup in progress on some thread
        assert_eq!(m.remove(&key(0), &mu).map(|v| *v), Some(0));
        const CHURN: usize = if cfg!(miri) { 20 } else { 1000 };
        for _ in 0..CHURN {
            assert!(!m.insert(key(9), mu.alloc(9)), "a new key");
            assert!(m.insert(key(9), mu.alloc(9)), "an overwrite drops the key passed in");
            m.remove(&key(9), &mu);
        }
        assert_eq!(m.retired_keys(), CHURN + 1, "key 0 and each removed key 9 wait for the lookup");
        assert_eq!(
            drops.load(Ordering::Relaxed),
            made.load(Ordering::Relaxed) - 3 - (CHURN + 1),
            "only the keys passed in to look up or to overwrite were dropped"
        );
        drop(lookup);
        // Insertions of new keys (each one a write that drops what is ready), until all are.
        let mut writes = 0;
        while m.retired_keys() > 0 && writes < 100_000 && EPOCH_RECLAIMS {
            m.insert(key(100 + writes), mu.alloc(0));
            writes += 1;
        }
        if EPOCH_RECLAIMS {
            assert_eq!(m.retired_keys(), 0, "dropped by later writes ({writes} of them)");
        }
        let live = 3 + writes as usize;
        assert_eq!(drops.load(Ordering::Relaxed), made.load(Ordering::Relaxed) - live - m.retired_keys());
        assert_eq!((m.len(), m.get(&key(0), &mu).is_none()), (live, true));
        // The map's drop (when the sweep frees it) drops the rest, each once.
        mu.collect();
        mu.collect();
        assert_eq!(drops.load(Ordering::Relaxed), made.load(Ordering::Relaxed));
    }

    #[test]
    fn a_dropped_map_drops_its_keys_and_retired_keys_once() {
        let _s = test_support::serial();
        let mu = crate::attach();
        let drops = Arc::new(AtomicUsize::new(0));
        {
            let m = mu.alloc(GcMap::new());
            for i in 0..10 {
                m.insert(Counted(i, drops.clone()), mu.alloc(i));
            }
            let _lookup = shared_slice::pin(); // nothing retired is dropped meanwhile
            for i in 0..4 {
                m.remove(&Counted(i, drops.clone()), &mu);
            }
            m.clear();
            assert_eq!(m.retired_keys(), 10);
        }
        assert_eq!(drops.swap(0, Ordering::Relaxed), 4, "the probe keys");
        // Free the map: a full collection sweeps it, and its drop drops all ten keys.
        let mut mu = mu;
        mu.collect();
        mu.collect();
        assert_eq!(drops.load(Ordering::Relaxed), 10);
    }

    #[test]
    fn trace_reports_each_value_and_a_write_locked_map() {
        let _s = test_support::serial();
        let mu = crate::attach();
        let m = mu.alloc(GcMap::with_capacity(8));
        for i in 0..5_u8 {
            m.insert(i, mu.alloc(i));
        }
        m.remove(&0, &mu);
        let c = count(&*m);
        assert_eq!((c.flags, c.slots, c.locked), (1, 4, 0), "a removed entry is skipped");
        let writer = m.lock.write();
        let c = count(&*m);
        assert_eq!((c.flags, c.slots, c.locked), (1, 0, 1));
        drop(writer);
        let loose = GcMap::<u8, u8>::with_capacity(8);
        assert_eq!(count(&loose).slots, 0, "free buckets hold no pointer");
    }
}
