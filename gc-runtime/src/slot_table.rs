//! [`SlotTable`]: the storage of `GcIdMap`, `GcMap` and `GcWeakMap` — an open-addressed hash
//! table of (key, value) slot pairs, keyed by an address word (the key object's address, or
//! the address of a boxed key), that readers probe without any lock.
//!
//! # Layout
//!
//! The table is a [`SharedSlice`] of [`TableEntry`]s, its *buckets* (a power of two, or none),
//! and two counts: `live`, the entries holding a key, and `used`, those plus the removed ones.
//! An entry is an address word and two slots (for a `GcIdMap`, armed `Member`s; for the loom
//! model, plain atomics: the protocol is generic over [`ArraySlot`]). The address word is
//! [`FREE`] (never used), the key object's address, or [`TOMBSTONE`] (its entry was removed).
//! A key lives in the first bucket not taken, probing linearly from its address's hash
//! (`address_hash.rs`); a lookup probes the same way and stops at the key or at a free bucket.
//!
//! # Readers, writers and the marker
//!
//! As for the vector's slot array (`slot_array.rs`):
//!
//! - **Readers** (`get`, `contains_key`, `len`) take no lock: they pin the epoch, load the
//!   buckets and probe, loading each address word with `Acquire`.
//! - **Writers** (an insertion, a removal, `clear`, a rehash) hold the collection's write lock:
//!   one at a time, and the marker is not scanning meanwhile. (An insertion over an existing
//!   key is one store into the value slot and would need only the read lock, but the insertion
//!   finds the key or its room with one probe under the write lock.)
//! - The **marker** and the snapshots hold its read lock: the buckets do not change under
//!   them.
//!
//! # What a reader can see, and why it is enough
//!
//! **An entry's address word moves one way only: free, then one key's address, then
//! tombstone.** A removed entry is never reused for another key until a rehash copies the live
//! entries into new buckets (an open-addressed table usually reuses tombstones; this one must
//! not). So an entry a reader found holding its key's address held that key from the moment it
//! was published, and holds it or is removed when the reader loads the value — never another
//! key's value. (With reuse, a reader that matched key A could load the value of a key B
//! inserted into A's entry meanwhile: the loom model's control shows it.)
//!
//! - **Insertion of a new key** stores the key and the value through the barrier into a free
//!   entry, *then* publishes the address (`Release`), then raises `live`. A reader that sees
//!   the address sees both slots filled.
//! - **Removal** marks the entry a tombstone (`Release`), lowers `live`, then empties the value
//!   and the key slots through the barrier (so the deletion barriers shade them). A reader that
//!   matched the address a moment before may load the value still there — the map held it
//!   during the reader's call — or find the slot empty: it reports the key as absent, which it
//!   is by then.
//! - **A value overwrite** is one store into the value slot, through the barrier: a reader
//!   loads the old value or the new one.
//! - **A rehash** (an insertion that would fill more than three quarters of the buckets, live
//!   and removed together) builds new buckets holding the live entries, each slot's pointer
//!   moved without the barrier, fills them completely and only then publishes them (`Release`).
//!   A reader still probing the old buckets sees the entries as they were when it loaded them:
//!   nothing stores into old buckets after the copy (every store is made under the lock, which
//!   the rehash holds exclusively). The old buckets are freed by the epoch after those readers
//!   unpin.
//! - **Clear** removes every entry as a removal does, then publishes fresh free buckets of the
//!   same number (a table of tombstones would make every lookup of an absent key probe it all).
//!
//! A pointer a reader takes from a slot is one the map held during the reader's call, so it is
//! safe to use for the reason any slot read is (see `slot_array.rs` and `member.rs`): the
//! reader's thread passes no safepoint during the call.
//!
//! # Moves and the marker
//!
//! A rehash moves pointers without the barrier, under the write lock, between two chunks of the
//! marker's scan; if a scan is part way through, the caller shades every entry again
//! afterwards (`object/scan_cursor.rs`, "Rehashing a hash table"). Removed entries keep empty
//! slots, which the marker skips like any empty slot.

use std::marker::PhantomData;

use crate::{
    address_hash::address_hash,
    primitive::sync::atomic::{AtomicUsize, Ordering},
    shared_slice::{Guard, SharedSlice},
    slot_array::ArraySlot,
};

// As in `slot_array.rs`, the structural writers are `unsafe fn`s: the caller promises the
// exclusive lock, under which they read the buckets without pinning. Readers pin.

/// The address word of an entry that never held a key: a lookup stops here.
pub(crate) const FREE: usize = 0;

/// The address word of an entry whose key was removed: a lookup probes past it, and no key is
/// put here again (module docs). No object has this address (objects are word-aligned).
pub(crate) const TOMBSTONE: usize = 1;

/// The fewest buckets a table that holds anything has. (Under loom, 4: a rehash then copies
/// three entries, few enough for the model to explore every interleaving.)
const MIN_BUCKETS: usize = if cfg!(gc_loom) { 4 } else { 8 };

/// How many of `buckets` may be used (live or removed) before an insertion rehashes.
fn limit(buckets: usize) -> usize {
    buckets / 4 * 3
}

/// The fewest buckets (a power of two, at least [`MIN_BUCKETS`]) that hold `entries`.
fn buckets_for(entries: usize) -> usize {
    let mut buckets = MIN_BUCKETS;
    while limit(buckets) < entries {
        buckets = buckets.checked_mul(2).expect("table size overflows usize");
    }
    buckets
}

/// One bucket: an address word and the key and value slots (module docs).
pub(crate) struct TableEntry<K, V> {
    addr: AtomicUsize,
    /// The key object (empty unless the entry holds a key).
    pub(crate) key: K,
    /// The value (empty unless the entry holds a key).
    pub(crate) value: V,
}

impl<K: ArraySlot, V: ArraySlot> TableEntry<K, V> {
    fn free() -> TableEntry<K, V> {
        TableEntry { addr: AtomicUsize::new(FREE), key: K::empty(), value: V::empty() }
    }

    /// Publish the key at `addr` in this entry, whose slots the caller filled (`Release`: a
    /// reader that sees the address sees the slots).
    #[inline]
    pub(crate) fn publish(&self, addr: usize) {
        self.addr.store(addr, Ordering::Release);
    }

    /// The address of the key this entry holds, or `None` if it is free or removed (`Acquire`:
    /// pairs with the insertion's publication, so the slots' contents are visible).
    #[inline]
    pub(crate) fn key_addr(&self) -> Option<usize> {
        let addr = self.addr.load(Ordering::Acquire);
        (addr > TOMBSTONE).then_some(addr)
    }
}

/// An open-addressed table of slot pairs keyed by address words (module docs); `H` says what
/// the words are.
pub(crate) struct SlotTable<K, V, H = ObjectAddresses> {
    /// Entries holding a key.
    live: AtomicUsize,
    /// Entries holding a key or a tombstone. Only structural writers use it.
    used: AtomicUsize,
    buckets: SharedSlice<TableEntry<K, V>>,
    keys: PhantomData<H>,
}

/// How a table gets the hash of the key an address word names (the word of an entry holding a
/// key: never [`FREE`] or [`TOMBSTONE`]). A rehash uses it to place each key anew.
pub(crate) trait KeyWords {
    /// The hash of the key `word` names.
    ///
    /// # Safety
    /// `word` is the address word of an entry of a table, read by a thread that holds the
    /// collection's lock (so the key it names is not freed meanwhile).
    unsafe fn hash(word: usize) -> u64;
}

/// The key slot of a table whose keys live behind their address words (`GcMap`'s boxed keys,
/// `GcWeakMap`'s key objects, which the map must not keep alive): nothing is stored, and the
/// entry is an address word and a value slot.
pub(crate) struct NoKeySlot;

impl ArraySlot for NoKeySlot {
    type Raw = ();
    const EMPTY: () = ();

    fn empty() -> Self {
        NoKeySlot
    }

    fn load(&self) {}

    fn is_empty((): ()) -> bool {
        true
    }

    fn store(&self, (): ()) {}

    fn put_moved(&self, (): ()) {}
}

/// Address words that are the key objects' own addresses (`GcIdMap`), hashed by
/// `address_hash.rs`.
pub(crate) enum ObjectAddresses {}

impl KeyWords for ObjectAddresses {
    #[inline]
    unsafe fn hash(word: usize) -> u64 {
        address_hash(word)
    }
}

/// What a lookup looks for: the key's hash, and the test of whether an entry's address word
/// names the key.
pub(crate) struct Lookup<F> {
    hash: u64,
    is_key: F,
}

impl<F> Lookup<F> {
    /// The key of hash `hash` that `is_key` recognises by an entry's address word and key
    /// slot.
    #[inline]
    pub(crate) fn new(hash: u64, is_key: F) -> Lookup<F> {
        Lookup { hash, is_key }
    }
}

/// The key object at `addr`, in a table of [`ObjectAddresses`].
#[inline]
pub(crate) fn object_at<K>(addr: usize) -> Lookup<impl Fn(usize, &K) -> bool> {
    Lookup::new(address_hash(addr), move |word, _: &K| word == addr)
}

/// Where a probe ended: at the entry holding the key, or at the free bucket where it would go.
enum Probed<'a, K, V> {
    Found(&'a TableEntry<K, V>),
    Free(&'a TableEntry<K, V>),
    /// Every bucket probed (never in a table below its limit) or none to probe.
    Neither,
}

/// Probe `buckets` for `key` from its home bucket, past other keys and removed entries.
#[inline]
fn probe<'a, K: ArraySlot, V: ArraySlot>(
    buckets: &'a [TableEntry<K, V>],
    key: &Lookup<impl Fn(usize, &K) -> bool>,
) -> Probed<'a, K, V> {
    let Some(mask) = buckets.len().checked_sub(1) else { return Probed::Neither };
    let mut i = key.hash as usize & mask;
    // At most every bucket: a table always has free ones (the limit), but a bound costs
    // nothing and keeps a lookup finite whatever it meets.
    for _ in 0..buckets.len() {
        let entry = &buckets[i];
        match entry.addr.load(Ordering::Acquire) {
            FREE => return Probed::Free(entry),
            TOMBSTONE => {}
            word if (key.is_key)(word, &entry.key) => return Probed::Found(entry),
            _ => {}
        }
        i = (i + 1) & mask;
    }
    Probed::Neither
}

/// The entry for `key` in `buckets`, or `None`.
#[inline]
fn find_in<'a, K: ArraySlot, V: ArraySlot>(
    buckets: &'a [TableEntry<K, V>],
    key: &Lookup<impl Fn(usize, &K) -> bool>,
) -> Option<&'a TableEntry<K, V>> {
    match probe(buckets, key) {
        Probed::Found(entry) => Some(entry),
        Probed::Free(_) | Probed::Neither => None,
    }
}

/// The first free bucket on the probe sequence of hash `hash`, in buckets below their limit.
fn free_bucket<K: ArraySlot, V: ArraySlot>(buckets: &[TableEntry<K, V>], hash: u64) -> &TableEntry<K, V> {
    match probe(buckets, &Lookup::new(hash, |_, _: &K| false)) {
        Probed::Free(entry) => entry,
        Probed::Found(_) | Probed::Neither => unreachable!("new buckets below their limit"),
    }
}

/// What [`SlotTable::entry`] found: the entry holding the key, or room for it.
pub(crate) enum Entry<'a, K, V, H> {
    /// The entry holding the key.
    Occupied(&'a TableEntry<K, V>),
    /// The free bucket where the key goes.
    Vacant(Vacant<'a, K, V, H>),
}

/// Room for a key, found under the exclusive lock: [`Vacant::insert`] fills it.
pub(crate) struct Vacant<'a, K, V, H> {
    table: &'a SlotTable<K, V, H>,
    entry: &'a TableEntry<K, V>,
}

impl<K: ArraySlot, V: ArraySlot, H> Vacant<'_, K, V, H> {
    /// Insert the key named by the address word `word` (whose hash the lookup gave, and whose
    /// test recognises it), its slot value `key` and `value`, each stored through the barrier,
    /// then publish it (module docs).
    pub(crate) fn insert(self, word: usize, key: K::Raw, value: V::Raw) {
        debug_assert!(word > TOMBSTONE, "a key's address word");
        let Vacant { table, entry } = self;
        entry.key.store(key);
        entry.value.store(value);
        entry.publish(word);
        table.used.store(table.used.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
        table.live.store(table.live.load(Ordering::Relaxed) + 1, Ordering::Release);
    }
}

impl<K: ArraySlot, V: ArraySlot, H: KeyWords> SlotTable<K, V, H> {
    /// Empty, with room for `capacity` keys before it rehashes.
    pub(crate) fn with_capacity(capacity: usize) -> SlotTable<K, V, H> {
        let table = SlotTable {
            live: AtomicUsize::new(0),
            used: AtomicUsize::new(0),
            buckets: SharedSlice::empty(),
            keys: PhantomData,
        };
        if capacity > 0 {
            table.buckets.replace(buckets_for(capacity), |_| TableEntry::free());
        }
        table
    }

    /// The number of keys (`Acquire`: pairs with an insertion's raising of the count).
    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.live.load(Ordering::Acquire)
    }

    /// The entry holding `key` when the reader probed it (it may be removed by the time the
    /// caller loads its slots: then the value slot is empty).
    #[inline]
    pub(crate) fn find<'a>(
        &'a self,
        key: &Lookup<impl Fn(usize, &K) -> bool>,
        guard: &'a Guard,
    ) -> Option<&'a TableEntry<K, V>> {
        find_in(self.buckets.load(guard), key)
    }

    /// The value of `key`, or `None` if the table does not hold it.
    #[inline]
    pub(crate) fn get(&self, key: &Lookup<impl Fn(usize, &K) -> bool>, guard: &Guard) -> Option<V::Raw> {
        let raw = self.find(key, guard)?.value.load();
        (!V::is_empty(raw)).then_some(raw)
    }

    /// The buckets, for a thread that holds the collection's lock (shared or exclusive): no
    /// pin needed, they cannot be replaced meanwhile.
    ///
    /// # Safety
    /// The caller holds the lock under which every structural write (and so every replacement
    /// of the buckets) happens, for as long as it uses the slice.
    #[inline]
    pub(crate) unsafe fn buckets_locked(&self) -> &[TableEntry<K, V>] {
        // SAFETY: the caller's lock excludes every replacement.
        unsafe { self.buckets.load_exclusive() }
    }

    /// The bytes of the buckets, what the collection charges as owned memory
    /// (`owned_bytes.rs`).
    ///
    /// # Safety
    /// As for [`buckets_locked`](Self::buckets_locked).
    #[inline]
    pub(crate) unsafe fn bucket_bytes_locked(&self) -> usize {
        // SAFETY: the caller's promise.
        size_of_val(unsafe { self.buckets_locked() })
    }

    /// The entry holding `key`, for a thread that holds the lock.
    ///
    /// # Safety
    /// As for [`buckets_locked`](Self::buckets_locked).
    #[inline]
    pub(crate) unsafe fn find_locked(&self, key: &Lookup<impl Fn(usize, &K) -> bool>) -> Option<&TableEntry<K, V>> {
        // SAFETY: the caller's promise.
        find_in(unsafe { self.buckets_locked() }, key)
    }

    /// The keys the table holds before its next insertion rehashes, and its buckets (for
    /// tests: a table at its capacity rehashes on the next insertion of a new key).
    #[cfg(test)]
    pub(crate) fn shape(&self, guard: &Guard) -> (usize, usize) {
        let buckets = self.buckets.load(guard).len();
        let removed = self.used.load(Ordering::Relaxed) - self.live.load(Ordering::Relaxed);
        (limit(buckets) - removed, buckets)
    }

    /// Make room for one more key; returns whether that rehashed (moved every entry).
    ///
    /// # Safety
    /// The caller holds the collection's lock exclusively (a structural write).
    pub(crate) unsafe fn reserve_one(&self) -> bool {
        // SAFETY: the caller's promise; `old` is last used while the new buckets are filled, before
        // they replace it.
        let old = unsafe { self.buckets_locked() };
        let (live, used) = (self.live.load(Ordering::Relaxed), self.used.load(Ordering::Relaxed));
        if used < limit(old.len()) {
            return false;
        }
        // Room for half as many again as the live keys: a table of live keys doubles; one
        // mostly of tombstones is rebuilt at its size, or smaller.
        let needed = live.checked_add(1).and_then(|n| n.checked_add(n / 2)).expect("table size overflows usize");
        // Every new bucket is written before it is published (`Release` in the swap).
        self.buckets.replace_filled(
            buckets_for(needed),
            |_| TableEntry::free(),
            |buckets| {
                for entry in old {
                    if let Some(word) = entry.key_addr() {
                        // SAFETY: an address word of this table, read under the exclusive lock.
                        let to = free_bucket(buckets, unsafe { H::hash(word) });
                        to.key.put_moved(entry.key.load());
                        to.value.put_moved(entry.value.load());
                        to.addr.store(word, Ordering::Relaxed);
                    }
                }
            },
        );
        self.used.store(live, Ordering::Relaxed);
        true
    }

    /// The entry holding `key`, or room for it: one probe.
    ///
    /// # Safety
    /// The caller holds the collection's lock exclusively (the entry is used under it), and
    /// [`reserve_one`](Self::reserve_one) ran since the lock was taken (so there is room).
    pub(crate) unsafe fn entry(&self, key: &Lookup<impl Fn(usize, &K) -> bool>) -> Entry<'_, K, V, H> {
        // SAFETY: the caller's promise; loaded after `reserve_one`, so it is the current table.
        match probe(unsafe { self.buckets_locked() }, key) {
            Probed::Found(entry) => Entry::Occupied(entry),
            Probed::Free(entry) => Entry::Vacant(Vacant { table: self, entry }),
            Probed::Neither => unreachable!("`reserve_one` left room"),
        }
    }

    /// Remove `key`, emptying both slots through the barrier; returns its address word and
    /// what the slots held, or `None` (and no change) if the table does not hold it. (Readers
    /// may still be looking at the key the word names: see the module docs for when it may be
    /// freed.)
    ///
    /// # Safety
    /// The caller holds the collection's lock exclusively (a structural write).
    pub(crate) unsafe fn remove(&self, key: &Lookup<impl Fn(usize, &K) -> bool>) -> Option<(usize, K::Raw, V::Raw)> {
        // SAFETY: the caller's promise.
        let entry = unsafe { self.find_locked(key) }?;
        let word = entry.addr.load(Ordering::Relaxed);
        let held = (word, entry.key.load(), entry.value.load());
        self.remove_entry(entry);
        Some(held)
    }

    /// Remove `entry`, which holds a key (module docs: tombstone, count, then the slots).
    fn remove_entry(&self, entry: &TableEntry<K, V>) {
        entry.addr.store(TOMBSTONE, Ordering::Release);
        self.live.store(self.live.load(Ordering::Relaxed) - 1, Ordering::Release);
        entry.value.store(V::EMPTY);
        entry.key.store(K::EMPTY);
    }

    /// Remove each key whose entry `keep` rejects, as [`remove`](Self::remove) does, and
    /// return how many were removed. Their entries become tombstones, given back by the next
    /// rehash.
    ///
    /// # Safety
    /// The caller holds the collection's lock exclusively (a structural write).
    pub(crate) unsafe fn retain(&self, mut keep: impl FnMut(&TableEntry<K, V>) -> bool) -> usize {
        // SAFETY: the caller's promise.
        let buckets = unsafe { self.buckets_locked() };
        let mut removed = 0;
        for entry in buckets.iter().filter(|e| e.key_addr().is_some()) {
            if !keep(entry) {
                self.remove_entry(entry);
                removed += 1;
            }
        }
        removed
    }

    /// Remove every key (each slot emptied through the barrier), keeping the number of
    /// buckets; `removed` gets each key's address word.
    ///
    /// # Safety
    /// The caller holds the collection's lock exclusively (a structural write).
    pub(crate) unsafe fn clear(&self, mut removed: impl FnMut(usize)) {
        // SAFETY: the caller's promise; `buckets` is last used before `replace`.
        let buckets = unsafe { self.buckets_locked() };
        if self.used.load(Ordering::Relaxed) == 0 {
            return;
        }
        for entry in buckets {
            if let Some(word) = entry.key_addr() {
                self.remove_entry(entry);
                removed(word);
            }
        }
        self.buckets.replace(buckets.len(), |_| TableEntry::free());
        self.used.store(0, Ordering::Relaxed);
    }
}

// Under Miri these run with the real epoch (`--cfg gc_miri_epoch`, under Tree Borrows: CI's
// lane beside the unit tests), not a second time with the stand-in (`shared_slice.rs`).
#[cfg(all(test, not(gc_loom), any(not(miri), gc_miri_epoch)))]
mod tests {
    use std::sync::atomic::AtomicBool;

    use super::*;
    use crate::{shared_slice::pin, slot_array::NumberSlot};

    type Table = SlotTable<NumberSlot, NumberSlot>;

    /// Key `k`'s address (8-aligned, as an object's).
    fn addr(k: usize) -> usize {
        0x1000 + 8 * k
    }

    /// Insert key `k` with `value`, as a writer under the exclusive lock (here: the only one).
    fn insert(t: &Table, k: usize, value: usize) {
        // SAFETY: the tests' writers are alone (or serialised by a mutex).
        unsafe {
            t.reserve_one();
            match t.entry(&object_at(addr(k))) {
                Entry::Vacant(room) => room.insert(addr(k), k, value),
                Entry::Occupied(_) => panic!("key {k} is already in"),
            }
        }
    }

    fn remove(t: &Table, k: usize) -> Option<(usize, usize)> {
        // SAFETY: as in `insert`.
        unsafe { t.remove(&object_at(addr(k))) }.map(|(word, key, value)| {
            assert_eq!(word, addr(k));
            (key, value)
        })
    }

    #[test]
    fn the_bucket_count_keeps_a_quarter_free() {
        assert_eq!(buckets_for(0), 8);
        assert_eq!(buckets_for(6), 8);
        assert_eq!(buckets_for(7), 16);
        assert_eq!(buckets_for(12), 16);
        assert_eq!(buckets_for(13), 32);
        assert_eq!(buckets_for(1536), 2048);
        assert_eq!(buckets_for(1537), 4096);
    }

    #[test]
    fn keys_are_found_until_removed_across_rehashes() {
        let t = Table::with_capacity(0);
        let guard = pin();
        assert_eq!((t.len(), t.get(&object_at(addr(1)), &guard)), (0, None));
        let n = if cfg!(miri) { 40 } else { 1000 };
        for k in 1..=n {
            insert(&t, k, k * 10);
        }
        assert_eq!(t.len(), n);
        assert!((1..=n).all(|k| t.get(&object_at(addr(k)), &pin()) == Some(k * 10)));
        assert_eq!(t.get(&object_at(addr(n + 1)), &pin()), None);
        for k in (1..=n).step_by(2) {
            assert_eq!(remove(&t, k), Some((k, k * 10)));
        }
        assert_eq!(remove(&t, 1), None, "removed once");
        assert_eq!(t.len(), n / 2);
        assert!((1..=n).all(|k| t.get(&object_at(addr(k)), &pin()) == (k % 2 == 0).then_some(k * 10)));
        // SAFETY: the only writer.
        unsafe { t.clear(|_| ()) };
        assert_eq!(t.len(), 0);
        assert!((1..=n).all(|k| t.get(&object_at(addr(k)), &pin()).is_none()));
        insert(&t, 3, 33);
        assert_eq!(t.get(&object_at(addr(3)), &pin()), Some(33));
    }

    /// Removed entries are not reused: each removal lowers the keys the table takes before it
    /// rehashes, and the rehash gives the room back (a table of tombstones is rebuilt at its
    /// size, not doubled).
    #[test]
    fn a_removed_entry_is_not_reused_before_a_rehash() {
        let t = Table::with_capacity(6);
        for k in 1..=6 {
            insert(&t, k, k);
        }
        assert_eq!(t.shape(&pin()), (6, 8));
        for k in 1..=5 {
            remove(&t, k);
        }
        assert_eq!(t.shape(&pin()), (1, 8), "five tombstones: the one key left fills it");
        // SAFETY: the only writer.
        let entry_of_6 = unsafe { t.find_locked(&object_at(addr(6))) }.map(|e| e as *const _);
        // SAFETY: as above.
        assert!(unsafe { t.reserve_one() }, "the table is at its limit: it rehashes");
        assert_eq!(t.shape(&pin()), (6, 8), "the same size, without the tombstones");
        // SAFETY: as above.
        let moved = unsafe { t.find_locked(&object_at(addr(6))) }.map(|e| e as *const _);
        assert_ne!(moved, entry_of_6, "into new buckets");
        assert_eq!(t.get(&object_at(addr(6)), &pin()), Some(6));
    }

    /// `retain` removes exactly the rejected keys, as removals (tombstones, room given back by
    /// the next rehash), and the kept ones are still found.
    #[test]
    fn retain_removes_the_rejected_keys_as_removals() {
        let t = Table::with_capacity(6);
        for k in 1..=6 {
            insert(&t, k, k * 10);
        }
        // SAFETY: the only writer.
        let removed = unsafe { t.retain(|e| e.value.load() % 20 == 0) };
        assert_eq!((removed, t.len()), (3, 3));
        assert!((1..=6).all(|k| t.get(&object_at(addr(k)), &pin()) == (k % 2 == 0).then_some(k * 10)));
        assert_eq!(t.shape(&pin()), (3, 8), "three tombstones");
        // SAFETY: as above.
        assert_eq!(unsafe { t.retain(|_| true) }, 0);
        insert(&t, 1, 11);
        assert_eq!(t.get(&object_at(addr(1)), &pin()), Some(11));
    }

    /// Readers probe while a writer inserts, removes, reinserts and rehashes: every value a
    /// reader finds is one its key held (a key's values carry the key), and a key never
    /// removed is always found.
    #[test]
    fn readers_find_only_their_keys_values_while_a_writer_churns() {
        const KEYS: usize = 64;
        let rounds = if cfg!(miri) { 30 } else { 100_000 };
        let t = Table::with_capacity(0);
        insert(&t, 0, KEYS); // key 0 stays throughout
        let done = AtomicBool::new(false);
        std::thread::scope(|s| {
            for _ in 0..2 {
                s.spawn(|| {
                    let mut seen = 0;
                    while !done.load(Ordering::Acquire) || seen == 0 {
                        for k in 0..KEYS {
                            let guard = pin();
                            match t.get(&object_at(addr(k)), &guard) {
                                Some(v) => {
                                    assert_eq!(v % KEYS, k, "key {k} read value {v} of key {}", v % KEYS);
                                    seen += 1;
                                }
                                None => assert_ne!(k, 0, "key 0 is never removed"),
                            }
                        }
                    }
                });
            }
            let mut seed = 0x2545_F491_4F6C_DD1D_u64;
            for round in 1..=rounds {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                let k = 1 + seed as usize % (KEYS - 1);
                if remove(&t, k).is_none() {
                    insert(&t, k, k + KEYS * round);
                }
            }
            done.store(true, Ordering::Release);
        });
    }
}
