//! Model (h): lock-free reads of a `GcVec`'s slot array (`slot_array.rs`, over the loom model of
//! `shared_slice.rs`) while a writer changes its structure.
//!
//! An element is a small number; its "object" is a payload cell that the thread creating the
//! element fills (`Relaxed`) before the element enters the array, so a reader that reads the
//! element must see the payload through the array's own `Release`/`Acquire` publication — the
//! way a `Gc` read from a vector must see its object initialised. Slots are plain loom atomics
//! (the barrier is not modelled here: `models/barrier.rs` does that).
//!
//! - **Remove** ([`remove_while_reading`]): `[1, 2, 3]` in a buffer of 4; the writer pushes `4`
//!   (filling the buffer) and removes index 0 (a shift down). The length never drops below 3, so the reader
//!   must find an element at each index below 3, from before or after the shift.
//! - **Insert with growth** ([`insert_while_reading`]): `[1, 2, 3, 4]` in a full buffer; the
//!   writer inserts `5` at index 1 (a new buffer, then a shift up).
//! - **Pop and push** ([`pop_push_while_reading`]): `[1, 2, 3]`, full; the writer pops and pushes
//!   `4`; the reader's `last` must find an element (retrying past an emptied slot).
//! - **Removal of several in one pass** ([`remove_where_while_reading`], `GcVec::retain`):
//!   `[1, 2, 3, 4]` in a buffer of 5; the writer pushes `5` and removes `1` and `3` in one
//!   pass (each kept element moves down once) → `[2, 4, 5]`; the reader must find, at each
//!   index below 3, an element from before, during or after the pass.
//!
//! The writer is the model's main thread and the reader a spawned one (loom explores the
//! reader's loads against the writer's stores in that arrangement; the other way round its
//! search saw only one schedule). Each reader checks every element it reads: an element the array held at some point during
//! the read, never an empty slot below the floor, and its payload visible. The control moves
//! elements with `Relaxed` stores: loom finds a reader that sees a moved element without its
//! payload.

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
    shared_slice::pin,
    slot_array::{NumberSlot, SlotArray},
};

/// Payload cells of elements 1..=5 (index 0 unused: 0 is the empty slot).
const ELEMENTS: usize = 6;

struct Shared<const R: bool> {
    array: SlotArray<NumberSlot<R>>,
    payload: [AtomicUsize; ELEMENTS],
}

impl<const R: bool> Shared<R> {
    /// An array holding `initial`, with room for `capacity` elements, payloads filled.
    fn new(initial: &[usize], capacity: usize) -> Arc<Self> {
        let shared = Arc::new(Shared {
            array: SlotArray::with_capacity(capacity),
            payload: std::array::from_fn(|_| AtomicUsize::new(0)),
        });
        for &e in initial {
            shared.make(e);
        }
        // SAFETY: one writer (this thread, before any other exists).
        unsafe { shared.array.extend(initial.iter().copied()) };
        shared
    }

    /// Fill element `e`'s payload (before it enters the array).
    fn make(&self, e: usize) -> usize {
        self.payload[e].store(e * 10, Ordering::Relaxed);
        e
    }

    /// Whether element `e`, just read, has its payload visible.
    fn intact(&self, e: usize) -> bool {
        self.payload[e].load(Ordering::Relaxed) == e * 10
    }

    /// Read indices `0..floor` and `last`; returns false if a read element lacked its payload.
    /// Panics if an index below the floor was empty or held an element it never held.
    fn read(&self, floor: usize, allowed: &[&[usize]]) -> bool {
        let guard = pin();
        assert!(self.array.len() >= floor, "the length dropped below {floor}");
        let mut intact = true;
        for (i, allowed) in allowed.iter().enumerate().take(floor) {
            let e = self.array.get(i, &guard).unwrap_or_else(|| panic!("index {i} below the floor read as empty"));
            assert!(allowed.contains(&e), "index {i} held {e}, never one of {allowed:?}");
            intact &= self.intact(e);
        }
        let last = self.array.last(&guard).expect("never empty");
        intact && self.intact(last)
    }
}

/// `[1, 2, 3]` with room for 4; push 4, remove index 0 → `[2, 3, 4]`. Returns false if a read
/// lacked a payload.
fn remove_while_reading<const R: bool>() -> bool {
    let shared = Shared::<R>::new(&[1, 2, 3], 4);
    let reader = {
        let shared = shared.clone();
        thread::spawn(move || shared.read(3, &[&[1, 2], &[2, 3], &[3, 4]]))
    };
    // SAFETY: this thread is the model's only writer.
    unsafe { shared.array.extend([shared.make(4)].into_iter()) };
    // SAFETY: as above.
    let removed = unsafe { shared.array.remove(0) };
    assert_eq!(removed, Some(1));
    let intact = reader.join().unwrap();
    assert_eq!((0..3).map(|i| shared.array.get(i, &pin())).collect::<Vec<_>>(), [Some(2), Some(3), Some(4)]);
    intact
}

/// `[1, 2, 3, 4]`, full; insert 5 at index 1 → `[1, 5, 2, 3, 4]` in a new buffer.
fn insert_while_reading<const R: bool>() -> bool {
    let shared = Shared::<R>::new(&[1, 2, 3, 4], 4);
    let reader = {
        let shared = shared.clone();
        thread::spawn(move || shared.read(4, &[&[1], &[2, 5], &[3, 2], &[4, 3]]))
    };
    // SAFETY: this thread is the model's only writer.
    unsafe { shared.array.insert(1, shared.make(5)) };
    let intact = reader.join().unwrap();
    let guard = pin();
    assert_eq!(shared.array.len(), 5);
    assert_eq!(shared.array.get(1, &guard), Some(5));
    intact
}

/// `[1, 2, 3]`; pop, push 4 → `[1, 2, 4]`.
fn pop_push_while_reading<const R: bool>() -> bool {
    let shared = Shared::<R>::new(&[1, 2, 3], 3);
    let reader = {
        let shared = shared.clone();
        thread::spawn(move || shared.read(2, &[&[1], &[2]]))
    };
    // SAFETY: this thread is the model's only writer.
    let removed = unsafe { shared.array.remove(2) };
    assert_eq!(removed, Some(3));
    // SAFETY: as above.
    unsafe { shared.array.extend([shared.make(4)].into_iter()) };
    let intact = reader.join().unwrap();
    assert_eq!(shared.array.last(&pin()), Some(4));
    intact
}

/// `[1, 2, 3, 4]` with room for 5; push 5, remove 1 and 3 in one pass → `[2, 4, 5]`.
fn remove_where_while_reading<const R: bool>() -> bool {
    let shared = Shared::<R>::new(&[1, 2, 3, 4], 5);
    let reader = {
        let shared = shared.clone();
        // Each index below the new length is written once, with its final element.
        thread::spawn(move || shared.read(3, &[&[1, 2], &[2, 4], &[3, 5]]))
    };
    // SAFETY: this thread is the model's only writer.
    unsafe { shared.array.extend([shared.make(5)].into_iter()) };
    let mut removed = Vec::new();
    // SAFETY: as above.
    let count = unsafe { shared.array.remove_where(|e| e == 1 || e == 3, |i| removed.push(i)) };
    assert_eq!((count, removed), (2, vec![2, 0]), "the removed indices, from the highest down");
    let intact = reader.join().unwrap();
    let guard = pin();
    assert_eq!(shared.array.len(), 3);
    assert_eq!((0..4).map(|i| shared.array.get(i, &guard)).collect::<Vec<_>>(), [Some(2), Some(4), Some(5), None]);
    intact
}

rusty_fork_test! {
    #[test]
    fn a_reader_sees_every_index_below_the_floor_during_a_remove() {
        explore("slot array: remove", 4, || assert!(remove_while_reading::<false>(), "a payload was not visible"));
    }

    #[test]
    fn a_reader_sees_every_index_below_the_floor_during_an_insert_with_growth() {
        explore("slot array: insert with growth", 4, || {
            assert!(insert_while_reading::<false>(), "a payload was not visible");
        });
    }

    #[test]
    fn last_finds_an_element_during_a_pop_and_a_push() {
        explore("slot array: pop and push", 4, || assert!(pop_push_while_reading::<false>(), "a payload was not visible"));
    }

    #[test]
    fn a_reader_sees_every_index_below_the_floor_during_a_removal_of_several() {
        explore("slot array: removal of several in one pass", 4, || {
            assert!(remove_where_while_reading::<false>(), "a payload was not visible");
        });
    }

    /// The control: elements moved with `Relaxed` stores reach a reader without their payload.
    #[test]
    fn relaxed_moves_are_caught() {
        find_losing_schedule("slot array: relaxed moves (control)", 3, || !remove_while_reading::<true>());
    }
}
