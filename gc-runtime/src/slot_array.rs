//! [`SlotArray`]: the storage of a `GcVec` — a length and a buffer of slots that readers use
//! without any lock.
//!
//! # Readers, writers and the marker
//!
//! The buffer is a [`SharedSlice`] of slots (for a `GcVec`, armed `Member`s; for the loom
//! model, plain atomics: the protocol is generic over [`ArraySlot`]), its capacity; `len` says
//! how many hold elements. Three kinds of access:
//!
//! - **Readers** (`get`, `len`, iteration, `contains`, `to_vec`) take no lock: they pin the
//!   epoch, load `len` and the buffer, bounds-check against both (they may come from different
//!   moments) and load slots with `Acquire`.
//! - **Structural writers** (push, pop, insert, remove, truncate, growth) hold the collection's
//!   write lock, so there is one at a time and the marker is not scanning meanwhile.
//! - **Element writers** (`GcVec::set`) and the **marker** hold its read lock: the buffer and
//!   the length do not change under them.
//!
//! # What a reader can see, and why it is enough
//!
//! A reader runs while a structural writer works, so it may see the structure part way through
//! a change. Each change is ordered so that a reader sees, at every index below the length it
//! read, the element that was there before the change or the one after it — never an empty
//! slot in the middle and never freed memory:
//!
//! - **Growth** copies every slot into a larger buffer and publishes it (`Release`); readers
//!   still on the old buffer see the old values (the old buffer gets no store after the copy:
//!   every store to a slot is made under one of the locks, which growth excludes). The old
//!   buffer is freed by the epoch after those readers unpin.
//! - **Push** stores the element into the first free slot through the barrier, *then* raises
//!   `len` (`Release`): a reader that sees the new length sees the element.
//! - **Pop, truncate** lower `len` first, then empty the slots through the barrier. A reader
//!   that read the old length may find such a slot empty: it reports the index as past the end,
//!   which it is by then.
//! - **Insert** stores the new element through the barrier into the free slot past the end
//!   (it overwrites nothing there), shifts the later elements up from the top (each slot takes
//!   its lower neighbour's pointer), moves the new element to its index, then raises `len`.
//! - **Remove** shifts the later elements down from the removed index: the first store
//!   overwrites the removed element and goes through the barrier (so the deletion barriers see
//!   the removed pointer), the others copy pointers that stay in the vector. Then `len` drops
//!   and the duplicated last slot is emptied.
//!
//! A pointer a reader takes from the old buffer, or from a slot a moment before it changes,
//! is a pointer that was in the vector during the reader's call: the same as reading just
//! before the change. It is safe to use for the same reason any slot read is (see `member.rs`):
//! the reader's thread passes no safepoint during the call, so no marking that began before
//! the change can end — and no sweep can free the pointer — before the reader has it as a
//! local, which the barriers then cover like any other.
//!
//! # Moves and the marker
//!
//! Shifts and growth move pointers without the barrier, as under the old lock-based design
//! (see `collections/mod.rs`, "Why growth cannot lose a pointer the marker is scanning"): they
//! happen under the write lock, between two chunks of the marker's scan, and the cursor
//! follows the shifts (`object/scan_cursor.rs`).

use crate::{
    primitive::sync::atomic::{AtomicUsize, Ordering},
    shared_slice::{Guard, SharedSlice},
};

// The structural writers are `unsafe fn`s: the caller promises the exclusive lock, under which
// they read the buffer without pinning (`SharedSlice::load_exclusive`). Readers pin.

/// A slot of a [`SlotArray`]: an atomic word that is empty or holds an element.
pub(crate) trait ArraySlot {
    /// A slot's value as loaded: empty, or an element.
    type Raw: Copy;
    /// The value of an empty slot.
    const EMPTY: Self::Raw;

    /// An empty slot.
    fn empty() -> Self;
    /// The value (`Acquire`).
    fn load(&self) -> Self::Raw;
    /// Whether `raw` is empty.
    fn is_empty(raw: Self::Raw) -> bool;
    /// Store an element entering the array, or empty a slot whose element leaves it: through
    /// the write barrier.
    fn store(&self, raw: Self::Raw);
    /// Store an element that moves inside the array (or empty a slot whose element moved):
    /// no barrier, `Release`.
    fn put_moved(&self, raw: Self::Raw);
}

/// A slot holding a number, 0 when empty: the element of the tests and loom models of the
/// protocols written over [`ArraySlot`] (this array, `slot_table.rs`). With `RELAXED_MOVES`,
/// moved elements are stored `Relaxed` (a model's control).
#[cfg(test)]
pub(crate) struct NumberSlot<const RELAXED_MOVES: bool = false>(AtomicUsize);

#[cfg(test)]
impl<const RELAXED_MOVES: bool> ArraySlot for NumberSlot<RELAXED_MOVES> {
    type Raw = usize;
    const EMPTY: usize = 0;

    fn empty() -> Self {
        NumberSlot(AtomicUsize::new(0))
    }

    fn load(&self) -> usize {
        self.0.load(Ordering::Acquire)
    }

    fn is_empty(raw: usize) -> bool {
        raw == 0
    }

    fn store(&self, raw: usize) {
        self.0.store(raw, Ordering::Release);
    }

    fn put_moved(&self, raw: usize) {
        self.0.store(raw, if RELAXED_MOVES { Ordering::Relaxed } else { Ordering::Release });
    }
}

/// The smallest buffer an array grows to.
const MIN_CAPACITY: usize = 4;

/// A length and a buffer of slots (module docs).
pub(crate) struct SlotArray<S> {
    len: AtomicUsize,
    buffer: SharedSlice<S>,
}

impl<S: ArraySlot> SlotArray<S> {
    /// Empty, with room for `capacity` elements.
    pub(crate) fn with_capacity(capacity: usize) -> SlotArray<S> {
        let v = SlotArray { len: AtomicUsize::new(0), buffer: SharedSlice::empty() };
        if capacity > 0 {
            v.buffer.replace(capacity, |_| S::empty());
        }
        v
    }

    /// The number of elements (`Acquire`: pairs with a push's raising of the length).
    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.len.load(Ordering::Acquire)
    }

    /// The slots that hold elements, as far as one reader can tell: the buffer, cut at the
    /// length (see the module docs for what a reader may see while a writer works).
    #[inline]
    pub(crate) fn slots<'a>(&'a self, guard: &'a Guard) -> &'a [S] {
        let len = self.len();
        let buffer = self.buffer.load(guard);
        &buffer[..len.min(buffer.len())]
    }

    /// The element at `index`, or `None` if it is past the end.
    #[inline]
    pub(crate) fn get(&self, index: usize, guard: &Guard) -> Option<S::Raw> {
        let raw = self.slots(guard).get(index)?.load();
        (!S::is_empty(raw)).then_some(raw)
    }

    /// The last element, or `None` if the array is empty. A reader may find the slot at the
    /// length it read already emptied by a pop, truncate or remove that lowered the length
    /// meanwhile: it reads the length again (each retry follows such a change).
    pub(crate) fn last(&self, guard: &Guard) -> Option<S::Raw> {
        loop {
            let raw = self.slots(guard).last()?.load();
            if !S::is_empty(raw) {
                return Some(raw);
            }
            std::hint::spin_loop();
        }
    }

    /// The slots that hold elements, for a thread that holds the collection's lock (shared or
    /// exclusive): no pin needed, the buffer cannot be replaced meanwhile.
    ///
    /// # Safety
    /// The caller holds the lock under which every structural write (and so every replacement
    /// of the buffer) happens, for as long as it uses the slice.
    #[inline]
    pub(crate) unsafe fn slots_locked(&self) -> &[S] {
        let len = self.len();
        // SAFETY: the caller's lock excludes every `replace` (they are structural writes).
        let buffer = unsafe { self.buffer.load_exclusive() };
        &buffer[..len.min(buffer.len())]
    }

    /// The bytes of the buffer's slots, what the collection charges as owned memory
    /// (`owned_bytes.rs`).
    ///
    /// # Safety
    /// As for `slots_locked`: no other thread replaces the buffer meanwhile.
    #[inline]
    pub(crate) unsafe fn buffer_bytes_locked(&self) -> usize {
        // SAFETY: the caller's promise, as `load_exclusive` asks.
        size_of_val(unsafe { self.buffer.load_exclusive() })
    }

    /// The whole buffer, for the structural writer (see [`slots_locked`](Self::slots_locked)).
    ///
    /// # Safety
    /// As for `slots_locked`, with the lock held exclusively, and the slice not used after the
    /// writer replaces the buffer.
    #[inline]
    unsafe fn buffer(&self) -> &[S] {
        // SAFETY: the caller's promise.
        unsafe { self.buffer.load_exclusive() }
    }

    /// Make room for `additional` more elements.
    ///
    /// # Safety
    /// The caller holds the collection's lock exclusively (this is a structural write).
    unsafe fn reserve(&self, additional: usize) {
        // SAFETY: the caller's promise; `buffer` is last used inside `replace`, before the swap.
        let buffer = unsafe { self.buffer() };
        let len = self.len.load(Ordering::Relaxed);
        let needed = len.checked_add(additional).expect("GcVec length overflows usize");
        if needed <= buffer.len() {
            return;
        }
        let capacity = needed.max(buffer.len() * 2).max(MIN_CAPACITY);
        self.buffer.replace(capacity, |i| {
            let slot = S::empty();
            if i < len {
                slot.put_moved(buffer[i].load());
            }
            slot
        });
    }

    /// Append `values`, each stored through the barrier.
    ///
    /// # Safety
    /// The caller holds the collection's lock exclusively (a structural write).
    pub(crate) unsafe fn extend(&self, values: impl ExactSizeIterator<Item = S::Raw>) {
        // SAFETY: the caller's promise.
        unsafe { self.reserve(values.len()) };
        // SAFETY: the caller's promise; loaded after the growth, so it is the current buffer.
        let buffer = unsafe { self.buffer() };
        let mut len = self.len.load(Ordering::Relaxed);
        for value in values {
            buffer[len].store(value);
            len += 1;
            self.len.store(len, Ordering::Release);
        }
    }

    /// Remove the elements from `new_len` on, emptying each through the barrier.
    ///
    /// # Safety
    /// The caller holds the collection's lock exclusively (a structural write).
    pub(crate) unsafe fn truncate(&self, new_len: usize) {
        let len = self.len.load(Ordering::Relaxed);
        if new_len >= len {
            return;
        }
        self.len.store(new_len, Ordering::Release);
        // SAFETY: the caller's promise.
        for slot in unsafe { &self.buffer()[new_len..len] } {
            slot.store(S::EMPTY);
        }
    }

    /// Insert `value` at `index <= len`, shifting the later elements up.
    ///
    /// # Safety
    /// The caller holds the collection's lock exclusively (a structural write).
    pub(crate) unsafe fn insert(&self, index: usize, value: S::Raw) {
        // SAFETY: the caller's promise.
        unsafe { self.reserve(1) };
        // SAFETY: the caller's promise; loaded after the growth, so it is the current buffer.
        let buffer = unsafe { self.buffer() };
        let len = self.len.load(Ordering::Relaxed);
        assert!(index <= len, "insertion index {index} past the length {len}");
        // The new element enters through the barrier in the free slot past the end, where it
        // overwrites nothing (so no deletion barrier shades an element that only moves); then
        // it moves to its place like the elements it shifts.
        buffer[len].store(value);
        let value = buffer[len].load();
        for i in (index..len).rev() {
            buffer[i + 1].put_moved(buffer[i].load());
        }
        buffer[index].put_moved(value);
        self.len.store(len + 1, Ordering::Release);
    }

    /// Remove the element at `index`, shifting the later elements down, and return it (`None`,
    /// and no change, if `index >= len`).
    ///
    /// # Safety
    /// The caller holds the collection's lock exclusively (a structural write).
    pub(crate) unsafe fn remove(&self, index: usize) -> Option<S::Raw> {
        // SAFETY: the caller's promise.
        let buffer = unsafe { self.buffer() };
        let len = self.len.load(Ordering::Relaxed);
        let value = buffer[..len].get(index)?.load();
        if index + 1 == len {
            self.len.store(index, Ordering::Release);
            buffer[index].store(S::EMPTY);
            return Some(value);
        }
        // The removed element is overwritten through the barrier (the deletion barriers shade
        // it); the rest are moves.
        buffer[index].store(buffer[index + 1].load());
        for i in index + 1..len - 1 {
            buffer[i].put_moved(buffer[i + 1].load());
        }
        self.len.store(len - 1, Ordering::Release);
        buffer[len - 1].put_moved(S::EMPTY);
        Some(value)
    }

    /// Remove every element for which `remove` is true, in one pass that moves each kept
    /// element down at most once, and call `removed` with the index of each removed element, from
    /// the highest down (the indices before the change, as [`SlotArray::remove`]'s would be if
    /// the elements were removed one at a time from the top). Returns how many it removed.
    ///
    /// Readers see what a run of single removals would show them: at each index below the
    /// length they read, an element that was in the array during their call. Each index below
    /// the new length is written once, with the element that ends there; a slot whose element
    /// leaves is overwritten (or, past the new length, emptied) through the barrier, so the
    /// deletion barriers see every removed pointer; the others are moves. The length drops
    /// before the slots past it are emptied, as in [`SlotArray::truncate`].
    ///
    /// # Safety
    /// The caller holds the collection's lock exclusively (a structural write).
    pub(crate) unsafe fn remove_where(
        &self,
        mut remove: impl FnMut(S::Raw) -> bool,
        mut removed: impl FnMut(usize),
    ) -> usize {
        // SAFETY: the caller's promise.
        let buffer = unsafe { self.buffer() };
        let len = self.len.load(Ordering::Relaxed);
        let mut leaving = vec![false; len];
        for (i, slot) in buffer[..len].iter().enumerate() {
            leaving[i] = remove(slot.load());
        }
        let mut kept = 0;
        for i in 0..len {
            if leaving[i] {
                continue;
            }
            if kept != i {
                let value = buffer[i].load();
                if leaving[kept] {
                    buffer[kept].store(value);
                } else {
                    buffer[kept].put_moved(value);
                }
            }
            kept += 1;
        }
        if kept == len {
            return 0;
        }
        self.len.store(kept, Ordering::Release);
        for slot in &buffer[kept..len] {
            slot.store(S::EMPTY);
        }
        for i in (0..len).rev().filter(|&i| leaving[i]) {
            removed(i);
        }
        len - kept
    }
}
