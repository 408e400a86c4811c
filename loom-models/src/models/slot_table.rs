//! Model (i): lock-free lookups in a `GcIdMap`'s table (`slot_table.rs`, over the loom model of
//! `shared_slice.rs`) while a writer changes it.
//!
//! Keys are addresses; a key's slot holds its number and its value's slot a value number whose
//! "object" is a payload cell, filled (`Relaxed`) before the value enters the table, so a
//! reader that reads a value must see its payload through the table's own publication — the
//! way a `Gc` read from a map must see its object initialised. Slots are plain loom atomics
//! (the barrier is not modelled here: `models/barrier.rs` does that). Under loom a table has
//! at least 4 buckets (3 keys before it rehashes).
//!
//! - **Remove, then insert a colliding key** ([`remove_and_insert_while_reading`]): `{A: 1,
//!   B: 2}`; the writer removes A and inserts C, whose address hashes to A's bucket. A reader
//!   looks up all three: B must be found with its value, A with its value or not at all, C
//!   with its value or not at all.
//! - **Insert with a rehash, then remove** ([`insert_with_rehash_while_reading`]): `{A: 1, B: 2,
//!   C: 3}`, at its limit; the writer inserts D, which moves the three into new buckets first,
//!   then removes A from the new buckets. A reader must find B and C with their values, and A
//!   and D each with its value or not at all.
//!
//! The writer is the model's main thread and the reader a spawned one (as in
//! `models/slot_array.rs`). The control is the textbook open-addressed table's insertion,
//! which puts C into A's removed entry: loom finds a reader that matched A's address, then
//! read C's value as A's.

use loom::{
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc,
    },
    thread,
};
use rusty_fork::rusty_fork_test;

use super::{explore, find_losing_schedule};
use crate::{
    address_hash::address_hash,
    shared_slice::pin,
    slot_array::{ArraySlot, NumberSlot},
    slot_table::{object_at, Entry, SlotTable},
};

/// No preemption bound: these models are small enough for loom to explore every interleaving
/// (a few hundred executions each).
const UNBOUNDED: usize = 100;

/// Payload cells of values 1..=4 (index 0 unused: 0 is the empty slot).
const VALUES: usize = 5;

/// The home bucket of `addr` in a table of 4 buckets.
fn home(addr: usize) -> usize {
    address_hash(addr) as usize & 3
}

/// Addresses for keys 1..=4 (index 0 unused): key 3's hashes to key 1's bucket, key 2's and
/// key 4's to others.
fn addresses() -> [usize; 5] {
    let a = 0x1000;
    let colliding = (1..).map(|i| a + 8 * i).find(|&c| home(c) == home(a)).expect("a collision");
    let other = (1..).map(|i| a + 8 * i).find(|&c| home(c) != home(a)).expect("another bucket");
    let fourth = (1..).map(|i| other + 8 * i).find(|&c| c != colliding).expect("a fourth address");
    [0, a, other, colliding, fourth]
}

struct Shared {
    table: SlotTable<NumberSlot, NumberSlot>,
    addr: [usize; 5],
    payload: [AtomicUsize; VALUES],
}

impl Shared {
    /// A table holding key `k` with value `k` for each `k` in `keys`, payloads filled.
    fn new(keys: &[usize]) -> Arc<Self> {
        let shared = Arc::new(Shared {
            table: SlotTable::with_capacity(3),
            addr: addresses(),
            payload: std::array::from_fn(|_| AtomicUsize::new(0)),
        });
        for &k in keys {
            shared.insert(k);
        }
        shared
    }

    /// Insert key `k` with value `k` (its payload filled first), as the writer.
    fn insert(&self, k: usize) {
        self.payload[k].store(k * 10, Ordering::Relaxed);
        // SAFETY: the model's one writer (the main thread).
        unsafe {
            self.table.reserve_one();
            match self.table.entry(&object_at(self.addr[k])) {
                Entry::Vacant(room) => room.insert(self.addr[k], k, k),
                Entry::Occupied(_) => panic!("key {k} is already in"),
            }
        }
    }

    /// Look key `k` up: `None`, or its value, which must be `k`'s; returns whether the value's
    /// payload was visible too (`true` for `None`).
    fn read(&self, k: usize) -> (Option<usize>, bool) {
        let guard = pin();
        let found = self.table.get(&object_at(self.addr[k]), &guard);
        let intact = found.is_none_or(|v| self.payload[v].load(Ordering::Relaxed) == v * 10);
        (found, intact)
    }
}

/// `{1, 2}`; remove 1, insert 3 (colliding with 1). With `REUSE`, the control: 3 goes into
/// 1's removed entry. Returns whether the reader read another key's value for a key.
fn remove_and_insert_while_reading<const REUSE: bool>() -> bool {
    let shared = Shared::new(&[1, 2]);
    let reader = {
        let shared = shared.clone();
        thread::spawn(move || {
            let (two, intact_two) = shared.read(2);
            assert_eq!(two, Some(2), "key 2, present throughout, was not found");
            let (one, intact_one) = shared.read(1);
            let (three, intact_three) = shared.read(3);
            assert!(intact_one && intact_two && intact_three, "a value's payload was not visible");
            assert!(three.is_none_or(|v| v == 3), "key 3 read value {three:?}");
            one.is_some_and(|v| v != 1)
        })
    };
    // SAFETY: this thread is the model's only writer.
    let removed = unsafe { shared.table.remove(&object_at(shared.addr[1])) };
    assert_eq!(removed, Some((shared.addr[1], 1, 1)));
    if REUSE {
        // What a table that reuses removed entries would do: 3 goes into 1's entry, the first
        // on its probe sequence that holds no key.
        shared.payload[3].store(30, Ordering::Relaxed);
        // SAFETY: as above.
        let buckets = unsafe { shared.table.buckets_locked() };
        let mut i = home(shared.addr[3]);
        while buckets[i].key_addr().is_some() {
            i = (i + 1) % buckets.len();
        }
        buckets[i].key.store(3);
        buckets[i].value.store(3);
        buckets[i].publish(shared.addr[3]);
    } else {
        shared.insert(3);
    }
    let wrong_value = reader.join().unwrap();
    let after = (shared.read(1).0, shared.read(2).0, shared.read(3).0);
    assert_eq!(after, (None, Some(2), Some(3)));
    wrong_value
}

/// `{1, 2, 3}`, at its limit; insert 4, which rehashes first, then remove 1 from the new
/// buckets.
fn insert_with_rehash_while_reading() {
    let shared = Shared::new(&[1, 2, 3]);
    let reader = {
        let shared = shared.clone();
        thread::spawn(move || {
            let (one, intact) = shared.read(1);
            assert!(one.is_none_or(|v| v == 1) && intact, "key 1 read {one:?}");
            for k in 2..=3 {
                let (v, intact) = shared.read(k);
                assert_eq!(v, Some(k), "key {k}, present throughout, read {v:?}");
                assert!(intact, "the payload of value {k} was not visible");
            }
            let (four, intact) = shared.read(4);
            assert!(four.is_none_or(|v| v == 4) && intact, "key 4 read {four:?}");
        })
    };
    shared.insert(4);
    // SAFETY: this thread is the model's only writer.
    assert_eq!(unsafe { shared.table.remove(&object_at(shared.addr[1])) }, Some((shared.addr[1], 1, 1)));
    reader.join().unwrap();
    assert_eq!((1..=4).map(|k| shared.read(k).0).collect::<Vec<_>>(), [None, Some(2), Some(3), Some(4)]);
    assert_eq!(shared.table.len(), 3);
}

rusty_fork_test! {
    #[test]
    fn a_reader_reads_only_its_keys_value_while_a_colliding_key_replaces_a_removed_one() {
        explore("slot table: remove, insert a colliding key", UNBOUNDED, || {
            assert!(!remove_and_insert_while_reading::<false>(), "key 1 read another key's value");
        });
    }

    #[test]
    fn a_reader_finds_every_key_during_an_insertion_that_rehashes() {
        explore("slot table: insert with a rehash, remove", UNBOUNDED, insert_with_rehash_while_reading);
    }

    /// The control: a removed entry reused for another key hands a reader that matched the old
    /// key the new key's value.
    #[test]
    fn reusing_a_removed_entry_is_caught() {
        find_losing_schedule("slot table: a reused entry (control)", UNBOUNDED, remove_and_insert_while_reading::<true>);
    }
}
