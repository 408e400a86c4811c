//! GC collections: [`GcVec`], [`GcMap`], [`GcIdMap`] and the weak map [`GcWeakMap`], growable
//! containers of GC pointers that live inside heap objects and are shared by every thread that
//! can reach them. (The weak map's ephemeron semantics are in `weak_map.rs`; everything below
//! holds for it too, except that its key is not a slot and its removals do not shade: see
//! `weak_map.rs`, point 4.) [`GcValueVec`] and [`GcValueMap`] hold whole values instead of
//! single pointers — any [`HeapValue`], a type with its pointers in slots and its plain data in
//! atomics — under the same rules, element by element (`value_vec.rs`, `value_map.rs`,
//! `heap_value.rs`).
//!
//! # Shape
//!
//! Each collection is an *armed* flag plus a [`parking_lot::RwLock`] and a container of
//! [`Member`](crate::Member) slots: for the vector, a length and a buffer of slots that readers
//! use without the lock (`slot_array.rs`: the lock orders only the writers and the marker);
//! for `GcMap` and the identity map, an open-addressed table that readers also probe without
//! the lock (`slot_table.rs`), of `(key word, Member<V>)` entries — the word is the address of
//! the key, boxed with its hash, for `GcMap`, and the key object's own address, beside a
//! `Member<K>`, for `GcIdMap`; for the weak map and the value map, a `hashbrown` table inside
//! the lock.
//! The referents may be unsized (`GcVec<str>`, `GcIdMap<str, [u8]>`): a slot is one word for
//! every pointee type (see `object/layout.rs`).
//! Every pointer in a collection is in one of those slots, so everything the runtime already
//! guarantees for slots — the write barrier on every store, `Acquire` reads, tracing — holds
//! element by element. The lock only protects the *structure* (length, buffer, hash table).
//! The buffers and tables are outside the heap, and charged as owned bytes, which the pacer
//! counts with the heap: each collection's `trace` reports their size on its first visit of a
//! marking (`owned_bytes.rs`).
//!
//! | operation | lock | barrier |
//! |---|---|---|
//! | `GcVec` reads: `get`, `len`, `last`, `contains`, iteration step | none: the epoch is pinned (`shared_slice.rs`) | none (a load) |
//! | `GcMap` and `GcIdMap` reads: `get`, `contains_key`, `len` | none: the epoch is pinned | none (a load) |
//! | `GcValueVec`, `GcValueMap` reads (`HeapValue::load` runs under the lock) | read | none (loads) |
//! | `GcValueVec` push, insert, `set`; `GcValueMap::insert` | write, after the value is written outside it | `HeapValue::store` on the new value; a replaced one's slots emptied |
//! | `GcWeakMap` reads; snapshots (`entries`, `keys`, `values`) of every map | read | none (a load) |
//! | `GcVec::set` | read | `Member::set`: shades per the cycle's barrier |
//! | insert over an existing key | write (`GcMap`, `GcIdMap`: one probe finds the key or its room); read (`GcWeakMap`) | `Member::set`: shades per the cycle's barrier (`GcMap::insert_if_absent`: none, the entry is left as it is) |
//! | push, insert of a new key | write | new slot: `Member::set` on an empty armed slot |
//! | pop, remove, `remove_item`, `retain` (its `keep` runs before, with no lock), truncate, clear | write | `Member::set(None)` on each removed slot, then remove it (`retain`: the slots of removed elements are overwritten or emptied through the barrier, in one pass) |
//! | growth, rehash, shifting (`insert`/`remove` in a vector) | write | none: pointers move, none is added or deleted |
//! | `Trace::trace` (marker, assists, checkmark, allocation) | read, tried (never waited for); one chunk at a time | — |
//!
//! # Why growth cannot lose a pointer the marker is scanning
//!
//! The marker scans a collection by calling its `trace`, which holds the read lock while it
//! reports slots. Growth (a `Vec` reallocation, a hash-table resize) and shifting move slots
//! to new memory, and both happen only under the write lock. So one visit sees either the
//! whole old buffer or the whole new one, never a freed buffer or a half-moved one — and both
//! hold the same set of pointers, because moving a slot neither creates nor deletes a pointer.
//! That is why moves need no barrier:
//!
//! - Dijkstra (insertion) barrier: if the scan ran before the move, every pointer in the
//!   collection then was shaded by it; pointers added later went through `Member::set`, which
//!   shades them. If the scan runs after the move, it reads the new buffer.
//! - Yuasa (deletion) barrier: a move deletes nothing; the only deletions are pops, removals,
//!   truncations, clears and overwrites, and each runs `Member::set` (shading the old pointer)
//!   before the slot leaves the collection — still under the write lock, so the marker cannot
//!   scan the collection between the removal and the shade.
//! - Hybrid: both of the above.
//!
//! A collection larger than one chunk (1024 slots or buckets) is not scanned in one visit: the
//! marker scans a chunk under the read lock, lets go, and comes back for the next (V8's
//! "oblets"), so a writer waits for at most one chunk, never for a whole scan of a big
//! collection. Between two visits a writer may move slots, so the argument above holds per
//! visit only; what keeps a moved slot from slipping behind the scan — the cursor following a
//! shifted vector, every entry shaded again after a rehash — is in `object/scan_cursor.rs`.
//!
//! # Lock-free reads of a vector and the maps
//!
//! A `GcVec`'s readers take no lock: they pin the epoch (crossbeam-epoch, a thread-local
//! counter), load the length and the buffer, and read slots. The writers that change the
//! structure still take the write lock — among themselves and against the marker's scan the
//! argument above is unchanged — and order each change so that a reader running beside it
//! sees, at each index, the element from before or from after (`slot_array.rs`); a buffer
//! replaced by growth is freed through the epoch once no reader can hold it. So readers on
//! many threads never write a shared word (a read lock's count is one, bouncing between their
//! caches), and never wait for a writer or for a scan.
//!
//! The lookups of `GcMap` and `GcIdMap` are lock-free the same way: each table is a
//! `SharedSlice` of (address word, key slot, value slot) entries, open-addressed, that a lookup
//! probes after pinning; an entry once removed is never reused for another key before a rehash
//! copies the live entries into new buckets, so a reader that matched its key never reads
//! another key's value (`slot_table.rs`, with a loom model whose control reuses entries).
//! Snapshots (`entries`, `keys`, `values`, `Debug`) still take the read lock, so they see one
//! moment of the map.
//!
//! A `GcMap` lookup compares its key (`Eq`, user code) against keys that a writer may remove
//! meanwhile. So each key lives in a box of its own (a rehash moves the box's address, never
//! the key), and a removed key is *retired*, not dropped: it waits for a flag from the epoch
//! that says every lookup that could have found it is over, and a later write to the map (or
//! the map's drop) drops it, with no lock held (`map.rs`). The epoch's own deferred functions
//! would run its destructor — user code — inside whatever call collects the epoch's garbage,
//! possibly under another collection's lock.
//!
//! `GcWeakMap`'s lookups probe the same table, keyed by the key objects' addresses, with a key
//! that is not a slot and a value slot whose removals shade nothing (`weak_map.rs`). A lookup
//! was a weak read already, made after the read lock was let go; what the lock hid is that a
//! decision can come between the load and the weak read's checks, which then find the value
//! dead if the entry lost it meanwhile: the lookup reads the entry again (the stress test
//! `lock_free_weak_map_reads_during_structural_writes_*` found a present key reported absent
//! that way, with the old locked lookups too), and `remove` makes its checks with
//! the write lock held.
//!
//! The value collections keep their readers under the read lock: a `GcValueVec`'s or a
//! `GcValueMap`'s elements are read by `HeapValue::load`, user code making several loads that
//! must see one value whole, which the lock guarantees (a writer replaces an element whole under
//! it). A lock-free read would need each element in a box of its own, replaced and retired on
//! every store — an allocation per `set`, for a dynamic language's arrays and fields, where
//! stores are as common as reads — or a version check around `load`, which would let user
//! code see a half-written value.
//! A chunked vector whose chunks never move was considered too: it makes `push` wait-free, but
//! `pop`, `truncate` and `remove` then race with the marker on the length word.
//!
//! # Armed and unarmed collections
//!
//! A collection outside the heap — in a plain Rust variable — would hold pointers the collector
//! never sees, like a slot outside the heap (see `member.rs`, "Armed and unarmed slots"). So a
//! new collection is *unarmed*: it reads as empty and every storing method panics with a
//! message that says what to do. Allocating the object that holds it (or the collection itself)
//! traces the new value with a sink that sets the armed flag (`Tracer::report_armed_flag`);
//! from then on its own slots are created armed (`Member::new_armed`). An armed collection never
//! leaves the heap: objects are reachable only through shared references, and collections are
//! neither `Clone` nor reachable through `&mut` once allocated. A collection in a field the
//! tracer skips (`#[trace(skip)]`) is never armed, so it can never hold a pointer either.
//!
//! # Locks, safepoints and pauses: why nothing deadlocks
//!
//! **The collector never waits for a collection's lock.** A writer may hold the lock while user
//! code runs — a map key's `Eq` — and user code may allocate, which may run a mark assist that
//! traces this very collection, or block on something that waits for the collector. So `trace`
//! only *tries* the read lock; if a writer holds it, it reports the collection as locked
//! (`Tracer::report_locked`) and the marker defers the object and comes back to it later (see
//! `marker/mod.rs`, "Locked collections"); checkmark does the same inside the termination pause,
//! releasing the root table meanwhile. The holder is always a thread that can make progress
//! (a running mutator, or a thread without a mutator, which at most waits for the root-table
//! lock, never held by the collector while it waits for a collection).
//!
//! User code under a map's lock is kept to a minimum: a map key is hashed *before* the lock is
//! taken (the table stores each entry's hash, so growing it never calls `Hash`), and keys
//! removed from a map are dropped after the lock is released (a `GcMap`'s later still: see
//! above). What remains — `Eq` when an insertion or a removal looks an entry up (a `GcMap`
//! lookup compares with no lock held), `Clone` in `keys`/`entries`, `Debug` of the keys — may
//! allocate and use other collections, but must not use the same one: the locks are not
//! reentrant for writers (that would deadlock, never corrupt).
//!
//! Under the lock a store may run the barrier's slow path, which shades into the thread's
//! buffer and, on a thread with no running mutator, takes the root-table lock. So the lock order
//! is always collection, then root table, and the collector never holds the root table while
//! it waits for a collection.
//!
//! `trace` tries the lock with `try_read_recursive`: a thread that traces (a mutator in a mark
//! assist) while it already holds a map's read lock further up its stack — say, a key's `Eq`
//! during `get` that allocates — gets through even if a writer is queued.
//!
//! # Reading: locals, snapshots, and user code
//!
//! Reads return locals (`Gc<'m, T>`) of the mutator passed in, valid until its next safepoint
//! — the object was reachable from the collection when it was read, and marking cannot end
//! before that safepoint. No method runs a closure while holding the lock: the lock is not
//! reentrant, and a closure could allocate (a mark assist then traces this very collection)
//! or store into it. So [`GcVec::iter`] reads one element per step (a live cursor, lock-free
//! like `get`), and the `for_each`/`entries` methods of the maps collect a snapshot first.
//!
//! # Plain data next to the pointers
//!
//! See `plain_data.rs` for the std types that hold plain mutable data inside GC objects
//! (atomics, `AtomicCell`, `Mutex` in a `#[trace(skip)]` field).

mod drop_each;
mod error;
mod external_bytes;
mod heap_value;
mod id_map;
mod map;
mod plain_data;
mod retired_keys;
#[cfg(test)]
mod scan_tests;
mod slots;
#[cfg(test)]
mod tests;

mod value_map;
mod value_vec;
mod vec;
mod weak_map;

pub use self::{
    error::IndexOutOfRange,
    external_bytes::ExternalBytes,
    heap_value::HeapValue,
    id_map::GcIdMap,
    map::GcMap,
    value_map::GcValueMap,
    value_vec::{GcValueVec, GcValueVecIter},
    vec::{GcVec, GcVecIter},
    weak_map::GcWeakMap,
};
