//! The weak-map table: every weak map in the heap, so that marking's verdict reaches their
//! entries.
//!
//! A weak map ([`GcWeakMap`](crate::GcWeakMap), in `collections/weak_map.rs`) identifies a key
//! by its address and does not keep it alive. Once a marking has found a key dead, the key's
//! memory is freed by the sweep and its address may be reused by a new object — which must not
//! find the dead key's value. So every entry whose key the marking did not reach is removed
//! before the sweep may free anything: in the same step as weak references are cleared (see
//! `weak_table.rs`, "Clearing", step 2), with the verdict pending, before the handshake that
//! precedes the sweep epoch's publication.
//!
//! The invariant this keeps, which the marker and checkmark rely on when they read a key's
//! mark: **every entry's key is an allocated object.** A key is alive when its entry is made
//! (the caller holds it); the cycle whose marking finds it dead removes the entry before its
//! sweep.
//!
//! The table holds each map's address and a function, monomorphised for the map's type, that
//! removes its dead entries. A map registers itself when it takes its first entry — it is then
//! inside an allocated object, whose address never changes — and unregisters when it is
//! dropped (its holder found dead, on the finalizer thread). The removal runs under the table's
//! lock, so a map cannot be dropped while its entries are being looked at; it takes the map's
//! write lock, which no thread holds while it waits for this table (a map registers before it
//! takes its own lock).

use std::collections::HashMap;

use crate::{address_hash::BuildAddressHasher, clock, primitive::sync::Mutex};

/// Removes the entries of the map at the given address whose keys are unmarked for the given
/// verdict epoch; returns how many it removed.
///
/// # Safety
/// The address is a registered map of the type the function was registered for, not dropped.
pub(crate) type PurgeDead = unsafe fn(*const (), u64) -> usize;

/// A registered map: its address, and its type's [`PurgeDead`].
struct Registered {
    map: *const (),
    purge: PurgeDead,
}

// SAFETY: the map is a field of a heap object, which every thread may reach (maps are `Sync`);
// the pointer is only used under the table's lock, while the map is registered (alive).
unsafe impl Send for Registered {}

/// All weak maps that hold or held an entry.
#[derive(Default)]
pub(crate) struct WeakMapTable {
    /// By address (hashed as one: [`BuildAddressHasher`], no SipHash).
    maps: Mutex<HashMap<usize, Registered, BuildAddressHasher>>,
}

impl WeakMapTable {
    /// Register the map at `map` (an allocated object's field: its address is stable until it
    /// is dropped, which calls [`WeakMapTable::unregister`]).
    pub(crate) fn register(&self, map: *const (), purge: PurgeDead) {
        self.maps.lock().insert(map.addr(), Registered { map, purge });
    }

    /// Forget the map at `map` (it is being dropped).
    pub(crate) fn unregister(&self, map: *const ()) {
        self.maps.lock().remove(&map.addr());
    }

    /// With the world running and the weak verdict pending: remove every entry whose key the
    /// finished marking did not reach, from every map. Returns how many were removed.
    pub(crate) fn clear_dead(&self) -> usize {
        let verdict = clock::weak_verdict();
        debug_assert_ne!(verdict, 0, "weak maps are cleared with a verdict pending");
        let maps = self.maps.lock();
        maps.values()
            .map(|r| {
                // SAFETY: registered maps are alive until they unregister, which takes this
                // lock; each was registered with the function for its own type.
                unsafe { (r.purge)(r.map, verdict) }
            })
            .sum()
    }
}
