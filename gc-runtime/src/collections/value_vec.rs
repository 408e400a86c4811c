//! [`GcValueVec`]: a growable sequence of values held by value — numbers, booleans, tagged
//! pointers, any [`HeapValue`] — shared by every thread that reaches it.
//!
//! # Shape
//!
//! An armed flag, a scan cursor and a [`parking_lot::RwLock`] around a `Vec<H>`: the elements
//! themselves, each with its GC pointers in armed slots. Readers take the lock shared and
//! `load` an element into its local form; writers take it exclusively. This is the design of
//! the collections' header (`collections/mod.rs`) with whole values where a `GcVec` has single
//! slots, and the same argument holds element by element:
//!
//! - **Stores.** A new element is made ([`HeapValue::empty`]), armed (a value type that holds a
//!   GC collection is refused here: see [`HeapValue`], "No collections inside a value"), and written
//!   ([`HeapValue::store`], which runs the write barrier on each pointer) *before* it joins the
//!   vector, with no lock held — so no user code runs under the write lock on the way in — and
//!   then pushed, inserted, or swapped into place (`set`) under the write lock. The write lock
//!   also keeps readers from seeing an element half written: `set` replaces the element whole.
//!   Between the barriered store and the element's joining the vector the thread passes no
//!   safepoint, so the barrier it ran is the one in force when the element joins: `store` and
//!   the join run as one call of user code (`thread_state/user_code.rs`, "Values under
//!   construction"), in which the thread stays running, whatever `store` does.
//! - **Moves.** Growth and shifting move elements bitwise inside the `Vec`, only under the
//!   write lock: no reader or marker sees a move part way, and a move neither adds nor deletes
//!   a pointer, so it needs no barrier. Insertions and removals keep the marker's chunked scan
//!   on the same element (`object/scan_cursor.rs`).
//! - **Removals** (`pop`, `remove`, `truncate`, `clear`, and the element `set` replaces): the
//!   element leaves the vector under the write lock, and every slot it reports to `Trace` is
//!   emptied through the barrier before the lock is released, so the deletion barriers (Yuasa,
//!   hybrid) shade what it held, as `GcVec`'s removals do. It is dropped after the lock is
//!   released (its destructor is user code).
//! - **Tracing** reports each element's slots through its own `Trace`, under the read lock,
//!   tried and never waited for, a chunk of 1024 elements per visit.
//!
//! User code under the lock is `HeapValue::load` (shared for `get`, exclusive for `pop` and
//! `remove`, which read the element they take out) and the elements' `Trace`; neither may use
//! the same vector. `load` runs marked as user code under a collection's lock, as a map key's
//! `Eq` does (`thread_state/user_code.rs`): a safepoint there does nothing and `collect`
//! panics, so it cannot park the thread while a writer waits for the lock.

use std::fmt;

use super::{
    drop_each::drop_each,
    error::IndexOutOfRange,
    heap_value::{empty_slots, load_leaving, new_element, HeapValue},
    slots::{read_for_trace, report_owned_once, Armed, ChargedWrite},
};
use crate::{
    mutator::Mutator,
    object::{ScanCursor, Trace, Tracer},
    primitive::sync::RwLock,
    thread_state::user_code,
};

const NAME: &str = "GcValueVec";

/// A growable sequence of values of type `H` — plain data and GC pointers together, as a
/// dynamic language's array holds them — for use inside GC objects, from several threads at
/// once.
///
/// `H` is the value's heap form, a [`HeapValue`]: its pointers live in slots, so every store
/// runs the write barrier; reads hand out its local form (`H::Local<'m>`), valid until the
/// mutator's next safepoint. [`Member<T>`](crate::Member) is a `HeapValue` (an optional
/// pointer); the trait's docs show a tagged value of numbers and objects.
///
/// All methods take `&self`. Reads take the vector's lock shared, writers exclusively (see the
/// module docs in the crate's source); the marker never waits for it. Like every collection,
/// a `GcValueVec` works once the object that holds it — or the vector itself — is allocated
/// ([`GcValueVec::new`] is *unarmed*: it reads as empty and every storing method panics).
/// Every storing method also panics, leaving the vector unchanged, if `H` holds a GC
/// collection (see `HeapValue`, "No collections inside a value").
///
/// ```
/// use gc_runtime::{GcValueVec, Member, Trace};
///
/// #[derive(Trace)]
/// struct Frame {
///     name: String,
///     registers: GcValueVec<Member<String>>,
/// }
///
/// let mut mu = gc_runtime::attach();
/// let frame = mu.alloc(Frame { name: "main".into(), registers: GcValueVec::new() });
/// frame.registers.push(Some(mu.alloc(String::from("x"))));
/// frame.registers.push(None); // an empty register
/// let root = frame.root(&mu);
/// mu.collect();
/// let frame = root.get(&mu);
/// assert_eq!(frame.registers.get(0, &mu).flatten().map(|s| s.into_ref().as_str()), Some("x"));
/// assert_eq!(frame.registers.len(), 2);
/// ```
pub struct GcValueVec<H: HeapValue> {
    armed: Armed,
    /// Where the marker's chunked scan resumes (see `object/scan_cursor.rs`).
    cursor: ScanCursor,
    values: RwLock<Vec<H>>,
}

impl<H: HeapValue> GcValueVec<H> {
    /// An empty vector, to put in a new object (it accepts elements once that object is
    /// allocated).
    ///
    /// ```
    /// use gc_runtime::{GcValueVec, Member};
    ///
    /// let mu = gc_runtime::attach();
    /// let loose: GcValueVec<Member<u8>> = GcValueVec::new();
    /// assert!(loose.is_empty()); // unarmed: reads as empty, `push` would panic
    /// let v = mu.alloc(GcValueVec::<Member<u8>>::new()); // allocated: armed
    /// v.push(None);
    /// assert_eq!(v.len(), 1);
    /// ```
    pub fn new() -> GcValueVec<H> {
        GcValueVec::with_capacity(0)
    }

    /// An empty vector with room for `capacity` elements before it reallocates.
    ///
    /// ```
    /// use gc_runtime::{GcValueVec, Member};
    ///
    /// let mu = gc_runtime::attach();
    /// let v = mu.alloc(GcValueVec::<Member<u64>>::with_capacity(100));
    /// v.push(Some(mu.alloc(1)));
    /// # assert_eq!(v.len(), 1);
    /// ```
    pub fn with_capacity(capacity: usize) -> GcValueVec<H> {
        GcValueVec { armed: Armed::new(), cursor: ScanCursor::new(), values: RwLock::new(Vec::with_capacity(capacity)) }
    }

    /// The write lock, which charges the buffer's new size when the writer lets go.
    fn write(&self) -> ChargedWrite<'_, Vec<H>, impl Fn(&Vec<H>) -> usize> {
        ChargedWrite::lock(&self.values, &self.armed, buffer_bytes)
    }

    /// The number of elements.
    ///
    /// ```
    /// use gc_runtime::{GcValueVec, Member};
    ///
    /// let mu = gc_runtime::attach();
    /// let v = mu.alloc(GcValueVec::<Member<char>>::new());
    /// v.push(Some(mu.alloc('a')));
    /// assert_eq!(v.len(), 1);
    /// ```
    pub fn len(&self) -> usize {
        self.values.read().len()
    }

    /// Whether the vector has no element.
    ///
    /// ```
    /// use gc_runtime::{GcValueVec, Member};
    ///
    /// let mu = gc_runtime::attach();
    /// let v = mu.alloc(GcValueVec::<Member<char>>::new());
    /// assert!(v.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.values.read().is_empty()
    }

    /// Append `value` (its pointers through the write barrier).
    ///
    /// # Panics
    /// If the vector is not inside an allocated object (see the type's docs), if `H::store`
    /// panics, or if `H` has GC slots and this thread has no running mutator and cannot attach
    /// one for the call (see [`HeapValue`]); the vector is then unchanged.
    ///
    /// ```
    /// use gc_runtime::{GcValueVec, Member};
    ///
    /// let mu = gc_runtime::attach();
    /// let v = mu.alloc(GcValueVec::<Member<i32>>::new());
    /// v.push(Some(mu.alloc(1)));
    /// v.push(Some(mu.alloc(2)));
    /// assert_eq!(*v.get(1, &mu).unwrap().unwrap(), 2);
    /// ```
    pub fn push(&self, value: H::Local<'_>) {
        self.armed.check("GcValueVec::push", NAME);
        // From `store` until the element has joined: one call of user code (see `new_element`).
        let in_call = user_code::Guard::enter();
        let element = new_element::<H>(value, "GcValueVec::push", &in_call);
        self.write().push(element);
    }

    /// Append every value of `values` (each stored through the write barrier). The iterator
    /// runs to its end first, then every element is written, before the vector is locked, so
    /// the iterator may read this vector (and pass safepoints: no element waits meanwhile);
    /// the elements join it together.
    ///
    /// # Panics
    /// If the vector is not inside an allocated object, if the iterator or `H::store` panics,
    /// or if `H` has GC slots and this thread has no running mutator and cannot attach one for
    /// the call (see [`HeapValue`]); the vector is then unchanged.
    ///
    /// ```
    /// use gc_runtime::{GcValueVec, Member};
    ///
    /// let mu = gc_runtime::attach();
    /// let v = mu.alloc(GcValueVec::<Member<u8>>::new());
    /// v.extend((0..3).map(|i| Some(mu.alloc(i))));
    /// assert_eq!(v.len(), 3);
    /// ```
    pub fn extend<'g>(&self, values: impl IntoIterator<Item = H::Local<'g>>) {
        self.armed.check("GcValueVec::extend", NAME);
        // The iterator first, then every `store` and the join as one call of user code (see
        // `new_element`): the iterator may pass a safepoint, but not while an element it gave
        // is written and waits to join.
        let values: Vec<H::Local<'g>> = values.into_iter().collect();
        let in_call = user_code::Guard::enter();
        let elements: Vec<H> =
            values.into_iter().map(|v| new_element::<H>(v, "GcValueVec::extend", &in_call)).collect();
        self.write().extend(elements);
    }

    /// Remove the last element and return its value, or `None` if the vector is empty.
    ///
    /// Under the Yuasa and hybrid barriers the removed element's pointers are shaded.
    ///
    /// ```
    /// use gc_runtime::{GcValueVec, Member};
    ///
    /// let mu = gc_runtime::attach();
    /// let v = mu.alloc(GcValueVec::<Member<u8>>::new());
    /// v.push(Some(mu.alloc(9)));
    /// assert_eq!(*v.pop(&mu).unwrap().unwrap(), 9);
    /// assert!(v.pop(&mu).is_none());
    /// ```
    pub fn pop<'m>(&self, mu: &'m Mutator) -> Option<H::Local<'m>> {
        // Declared before the guard, so the element is dropped after the lock is released, also
        // when `load` panics.
        let mut removed = None;
        let value = {
            let mut values = self.write();
            load_leaving(removed.insert(values.pop()?), mu)
        };
        drop(removed);
        Some(value)
    }

    /// The value at `index`, or `None` if out of range.
    ///
    /// ```
    /// use gc_runtime::{GcValueVec, Member};
    ///
    /// let mu = gc_runtime::attach();
    /// let v = mu.alloc(GcValueVec::<Member<char>>::new());
    /// v.push(Some(mu.alloc('x')));
    /// assert_eq!(*v.get(0, &mu).unwrap().unwrap(), 'x');
    /// assert!(v.get(1, &mu).is_none());
    /// ```
    pub fn get<'m>(&self, index: usize, mu: &'m Mutator) -> Option<H::Local<'m>> {
        let _user_code = user_code::Guard::enter();
        self.values.read().get(index).map(|element| element.load(mu))
    }

    /// The last value, or `None` if the vector is empty.
    ///
    /// ```
    /// use gc_runtime::{GcValueVec, Member};
    ///
    /// let mu = gc_runtime::attach();
    /// let v = mu.alloc(GcValueVec::<Member<u8>>::new());
    /// assert!(v.last(&mu).is_none());
    /// v.extend([Some(mu.alloc(1)), None]);
    /// assert!(v.last(&mu).unwrap().is_none());
    /// ```
    pub fn last<'m>(&self, mu: &'m Mutator) -> Option<H::Local<'m>> {
        let _user_code = user_code::Guard::enter();
        self.values.read().last().map(|element| element.load(mu))
    }

    /// Replace the value at `index` (the old value's pointers are shaded under the Yuasa and
    /// hybrid barriers, the new one's under Dijkstra and hybrid). Readers see the old value or
    /// the new one whole.
    ///
    /// # Panics
    /// If `index >= len` (the message gives both), if the vector is not inside an allocated
    /// object, or as [`try_set`](Self::try_set) does.
    ///
    /// ```
    /// use gc_runtime::{GcValueVec, Member};
    ///
    /// let mu = gc_runtime::attach();
    /// let v = mu.alloc(GcValueVec::<Member<u8>>::new());
    /// v.push(Some(mu.alloc(1)));
    /// v.set(0, None);
    /// assert!(v.get(0, &mu).unwrap().is_none());
    /// ```
    #[track_caller]
    pub fn set(&self, index: usize, value: H::Local<'_>) {
        if let Err(e) = self.try_set(index, value) {
            panic!("GcValueVec::set: {e}");
        }
    }

    /// Replace the value at `index`, or say why not (the vector is then unchanged).
    ///
    /// # Errors
    /// [`IndexOutOfRange`] if `index >= len`.
    ///
    /// # Panics
    /// If the vector is not inside an allocated object, if `H::store` panics, or if `H` has
    /// GC slots and this thread has no running mutator and cannot attach one for the call (see
    /// [`HeapValue`]); the vector is then unchanged.
    ///
    /// ```
    /// use gc_runtime::{GcValueVec, Member};
    ///
    /// let mu = gc_runtime::attach();
    /// let v = mu.alloc(GcValueVec::<Member<u8>>::new());
    /// assert_eq!(v.try_set(0, None).unwrap_err().len, 0);
    /// ```
    pub fn try_set(&self, index: usize, value: H::Local<'_>) -> Result<(), IndexOutOfRange> {
        self.armed.check("GcValueVec::set", NAME);
        // From `store` until the element has joined: one call of user code (see `new_element`).
        let in_call = user_code::Guard::enter();
        let mut element = new_element::<H>(value, "GcValueVec::set", &in_call);
        let mut values = self.write();
        let len = values.len();
        let Some(place) = values.get_mut(index) else {
            drop(values);
            drop(element);
            return Err(IndexOutOfRange { index, len });
        };
        std::mem::swap(place, &mut element);
        empty_slots(&element);
        drop(values);
        drop(in_call);
        // The replaced element, dropped after the lock.
        drop(element);
        Ok(())
    }

    /// Insert `value` at `index`, shifting the later elements up.
    ///
    /// # Panics
    /// If `index > len` (the message gives both), if the vector is not inside an allocated
    /// object, or as [`try_insert`](Self::try_insert) does.
    ///
    /// ```
    /// use gc_runtime::{GcValueVec, Member};
    ///
    /// let mu = gc_runtime::attach();
    /// let v = mu.alloc(GcValueVec::<Member<u8>>::new());
    /// v.push(Some(mu.alloc(2)));
    /// v.insert(0, Some(mu.alloc(1)));
    /// assert_eq!(*v.get(0, &mu).unwrap().unwrap(), 1);
    /// ```
    #[track_caller]
    pub fn insert(&self, index: usize, value: H::Local<'_>) {
        if let Err(e) = self.try_insert(index, value) {
            panic!("GcValueVec::insert: {e}");
        }
    }

    /// Insert `value` at `index`, shifting the later elements up, or say why not (the vector
    /// is then unchanged).
    ///
    /// # Errors
    /// [`IndexOutOfRange`] if `index > len`.
    ///
    /// # Panics
    /// If the vector is not inside an allocated object, if `H::store` panics, or if `H` has
    /// GC slots and this thread has no running mutator and cannot attach one for the call (see
    /// [`HeapValue`]); the vector is then unchanged.
    ///
    /// ```
    /// use gc_runtime::{GcValueVec, Member};
    ///
    /// let mu = gc_runtime::attach();
    /// let v = mu.alloc(GcValueVec::<Member<u8>>::new());
    /// assert!(v.try_insert(0, None).is_ok()); // at the end: allowed
    /// assert_eq!(v.try_insert(2, None).unwrap_err().index, 2);
    /// ```
    pub fn try_insert(&self, index: usize, value: H::Local<'_>) -> Result<(), IndexOutOfRange> {
        self.armed.check("GcValueVec::insert", NAME);
        // From `store` until the element has joined: one call of user code (see `new_element`).
        let in_call = user_code::Guard::enter();
        let element = new_element::<H>(value, "GcValueVec::insert", &in_call);
        let mut values = self.write();
        let len = values.len();
        if index > len {
            drop(values);
            // Never in the vector: dropped after the lock, as a removed element is.
            drop(element);
            return Err(IndexOutOfRange { index, len });
        }
        values.insert(index, element);
        self.cursor.inserted(index);
        Ok(())
    }

    /// Remove the element at `index` and return its value, shifting the later elements down.
    ///
    /// Under the Yuasa and hybrid barriers the removed element's pointers are shaded.
    ///
    /// # Panics
    /// If `index >= len` (the message gives both).
    ///
    /// ```
    /// use gc_runtime::{GcValueVec, Member};
    ///
    /// let mu = gc_runtime::attach();
    /// let v = mu.alloc(GcValueVec::<Member<char>>::new());
    /// v.extend(['a', 'b', 'c'].map(|c| Some(mu.alloc(c))));
    /// assert_eq!(*v.remove(1, &mu).unwrap(), 'b');
    /// assert_eq!(v.len(), 2);
    /// ```
    #[track_caller]
    pub fn remove<'m>(&self, index: usize, mu: &'m Mutator) -> H::Local<'m> {
        match self.try_remove(index, mu) {
            Ok(value) => value,
            Err(e) => panic!("GcValueVec::remove: {e}"),
        }
    }

    /// Remove the element at `index` and return its value, shifting the later elements down,
    /// or say why not (the vector is then unchanged).
    ///
    /// # Errors
    /// [`IndexOutOfRange`] if `index >= len`.
    ///
    /// ```
    /// use gc_runtime::{GcValueVec, IndexOutOfRange, Member};
    ///
    /// let mu = gc_runtime::attach();
    /// let v = mu.alloc(GcValueVec::<Member<u8>>::new());
    /// assert_eq!(v.try_remove(0, &mu).unwrap_err(), IndexOutOfRange { index: 0, len: 0 });
    /// ```
    pub fn try_remove<'m>(&self, index: usize, mu: &'m Mutator) -> Result<H::Local<'m>, IndexOutOfRange> {
        // Declared before the guard: dropped after the lock is released, also when `load` panics.
        let mut removed = None;
        let value = {
            let mut values = self.write();
            let len = values.len();
            if index >= len {
                return Err(IndexOutOfRange { index, len });
            }
            let element = removed.insert(values.remove(index));
            self.cursor.removed(index);
            load_leaving(element, mu)
        };
        drop(removed);
        Ok(value)
    }

    /// Keep the first `len` elements and remove the rest (no effect if `len >= self.len()`).
    ///
    /// Under the Yuasa and hybrid barriers every removed element's pointers are shaded.
    ///
    /// ```
    /// use gc_runtime::{GcValueVec, Member};
    ///
    /// let mu = gc_runtime::attach();
    /// let v = mu.alloc(GcValueVec::<Member<u8>>::new());
    /// v.extend((0..5).map(|i| Some(mu.alloc(i))));
    /// v.truncate(2);
    /// assert_eq!(v.len(), 2);
    /// ```
    pub fn truncate(&self, len: usize) {
        let removed = {
            let mut values = self.write();
            if len >= values.len() {
                return;
            }
            let removed = values.split_off(len);
            removed.iter().for_each(empty_slots);
            removed
        };
        // One by one, after the lock: a value whose destructor panics neither stops the others
        // nor, with a second, aborts (`drop_each.rs`).
        drop_each(removed);
    }

    /// Remove every element (shading their pointers under the Yuasa and hybrid barriers).
    ///
    /// ```
    /// use gc_runtime::{GcValueVec, Member};
    ///
    /// let mu = gc_runtime::attach();
    /// let v = mu.alloc(GcValueVec::<Member<u8>>::new());
    /// v.push(None);
    /// v.clear();
    /// assert!(v.is_empty());
    /// ```
    pub fn clear(&self) {
        self.truncate(0);
    }

    /// Iterate over the values as locals of `mu`.
    ///
    /// The iterator is a *live cursor*, as [`GcVec::iter`](crate::GcVec::iter)'s is: each step
    /// reads the element at the next index, as [`GcValueVec::get`] does, holding no lock
    /// between steps, so the loop body may use the vector freely. For the contents at one
    /// instant, use [`GcValueVec::to_vec`].
    ///
    /// ```
    /// use gc_runtime::{GcValueVec, Member};
    ///
    /// let mu = gc_runtime::attach();
    /// let v = mu.alloc(GcValueVec::<Member<u32>>::new());
    /// v.extend([Some(mu.alloc(1)), None, Some(mu.alloc(2))]);
    /// let sum: u32 = v.iter(&mu).flatten().map(|x| *x).sum();
    /// assert_eq!(sum, 3);
    /// ```
    pub fn iter<'a, 'm>(&'a self, mu: &'m Mutator) -> GcValueVecIter<'a, 'm, H> {
        GcValueVecIter { vec: self, mu, next: 0 }
    }

    /// A snapshot of the values: the vector's contents at one instant.
    ///
    /// ```
    /// use gc_runtime::{GcValueVec, Member};
    ///
    /// let mu = gc_runtime::attach();
    /// let v = mu.alloc(GcValueVec::<Member<u32>>::new());
    /// v.extend((1..=3).map(|i| Some(mu.alloc(i))));
    /// let copy = v.to_vec(&mu);
    /// v.clear();
    /// assert_eq!(copy.iter().map(|x| **x.as_ref().unwrap()).collect::<Vec<_>>(), [1, 2, 3]);
    /// ```
    pub fn to_vec<'m>(&self, mu: &'m Mutator) -> Vec<H::Local<'m>> {
        let _user_code = user_code::Guard::enter();
        self.values.read().iter().map(|element| element.load(mu)).collect()
    }
}

impl<H: HeapValue> GcValueVec<H> {
    /// Hold the write lock, as a writer would.
    #[cfg(test)]
    pub(super) fn write_lock_for_test(&self) -> impl Drop + '_ {
        self.write()
    }
}

impl<H: HeapValue> Default for GcValueVec<H> {
    fn default() -> Self {
        GcValueVec::new()
    }
}

// SAFETY: reports the armed flag (allocation sets it; no other sink acts on it), then the
// slots of the elements, each through the element's own `Trace`, under the read lock, which
// every change to the set of elements excludes (pushes, removals, moves and `set`'s swap happen
// under the write lock). Every sink but the marker gets every element; the marker gets a chunk
// per visit and comes back for the rest, and insertions and removals keep its cursor on the
// same element (`object/scan_cursor.rs`). It takes only this lock, tried, never waited for.
unsafe impl<H: HeapValue> Trace for GcValueVec<H> {
    fn trace(&self, tracer: &mut Tracer<'_>) {
        // Not published yet when allocation arms it: the lock is free.
        self.armed.trace(tracer, || buffer_bytes(&self.values.read()));
        if !H::NEEDS_TRACE {
            report_owned_once(&self.cursor, tracer, self.armed.charged());
            return;
        }
        let Some(values) = read_for_trace(&self.values, &self.cursor, tracer) else { return };
        tracer.owned_bytes(&self.cursor, self.armed.charged());
        for element in &values[tracer.scan_window(&self.cursor, values.len())] {
            element.trace(tracer);
        }
    }
}

impl<H: HeapValue> fmt::Debug for GcValueVec<H> {
    /// The length (and `armed: false` for an unarmed vector); not the elements, whose local
    /// form needs a mutator.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = f.debug_struct(NAME);
        s.field("len", &self.len());
        if !self.armed.get() {
            s.field("armed", &false);
        }
        s.finish_non_exhaustive()
    }
}

/// The bytes of a vector's buffer (its capacity), what it is charged as owned memory.
fn buffer_bytes<H>(values: &Vec<H>) -> usize {
    values.capacity() * std::mem::size_of::<H>()
}

impl<H: HeapValue> Drop for GcValueVec<H> {
    /// Drops the values one by one (`drop_each.rs`): a value whose destructor panics neither
    /// stops the others nor, with a second, aborts.
    fn drop(&mut self) {
        if std::mem::needs_drop::<H>() {
            drop_each(self.values.get_mut().drain(..));
        }
    }
}

/// The iterator of [`GcValueVec::iter`]: a live cursor over the values, as locals of a
/// mutator.
///
/// ```
/// use gc_runtime::{GcValueVec, GcValueVecIter, Member};
///
/// let mu = gc_runtime::attach();
/// let v = mu.alloc(GcValueVec::<Member<u8>>::new());
/// v.push(None);
/// let mut it: GcValueVecIter<'_, '_, Member<u8>> = v.iter(&mu);
/// assert!(it.next().is_some_and(|x| x.is_none()));
/// assert!(it.next().is_none());
/// ```
pub struct GcValueVecIter<'a, 'm, H: HeapValue> {
    vec: &'a GcValueVec<H>,
    mu: &'m Mutator,
    next: usize,
}

impl<'m, H: HeapValue> Iterator for GcValueVecIter<'_, 'm, H> {
    type Item = H::Local<'m>;

    fn next(&mut self) -> Option<H::Local<'m>> {
        let value = self.vec.get(self.next, self.mu)?;
        self.next += 1;
        Some(value)
    }
}

impl<H: HeapValue> fmt::Debug for GcValueVecIter<'_, '_, H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GcValueVecIter").field("next", &self.next).finish_non_exhaustive()
    }
}

#[cfg(all(test, not(gc_loom)))]
mod tests {
    use std::{
        panic::{catch_unwind, AssertUnwindSafe},
        sync::atomic::{AtomicU64, Ordering},
    };

    use super::*;
    use crate::{
        clock::{self, Phase},
        collections::tests::{count, PhaseOff},
        config::BarrierKind,
        gc::Gc,
        member::Member,
        test_support, GcVec, Trace,
    };

    /// A number and two slots, the second boxed: an element with more than one slot, one of
    /// them outside the element's own bytes.
    #[derive(Trace)]
    struct Entry {
        n: AtomicU64,
        obj: Member<u32>,
        more: Box<Member<u32>>,
    }

    impl HeapValue for Entry {
        type Local<'m> = (u64, Option<Gc<'m, u32>>);

        fn empty() -> Entry {
            Entry { n: AtomicU64::new(0), obj: Member::new(), more: Box::new(Member::new()) }
        }

        fn load<'m>(&self, mu: &'m Mutator) -> (u64, Option<Gc<'m, u32>>) {
            if self.n.load(Ordering::Relaxed) == u64::MAX {
                panic!("a load that panics");
            }
            (self.n.load(Ordering::Relaxed), self.obj.get(mu))
        }

        fn store(&self, (n, obj): (u64, Option<Gc<'_, u32>>)) {
            self.n.store(n, Ordering::Relaxed);
            self.obj.set(obj);
            // The boxed slot was armed with the element: it accepts the pointer.
            self.more.set(obj);
        }
    }

    #[test]
    fn trace_reports_the_armed_flag_then_every_slot_of_every_element() {
        let _s = test_support::serial();
        let mu = crate::attach();
        let loose = GcValueVec::<Entry>::new();
        let c = count(&loose);
        assert_eq!((c.flags, c.slots, c.locked), (1, 0, 0));
        let v = mu.alloc(GcValueVec::<Entry>::new());
        v.extend((0..3).map(|i| (i, Some(mu.alloc(i as u32)))));
        v.push((9, None));
        // The vector's own flag, then both slots of each element.
        let c = count(&*v);
        assert_eq!((c.flags, c.slots, c.locked), (1, 4 * 2, 0));
        let writer = v.write_lock_for_test();
        let c = count(&*v);
        assert_eq!((c.flags, c.slots, c.locked), (1, 0, 1), "flag reported, lock reported, no slot");
        drop(writer);
    }

    /// A value type with a collection inside is refused by every storing method, before
    /// anything joins the vector (see `HeapValue`, "No collections inside a value").
    #[test]
    fn a_value_holding_a_collection_is_refused() {
        #[derive(Trace)]
        struct Nest(Option<Box<GcVec<u8>>>);
        impl HeapValue for Nest {
            type Local<'m> = ();
            fn empty() -> Nest {
                Nest(Some(Box::new(GcVec::new())))
            }
            fn load(&self, _: &Mutator) {}
            fn store(&self, (): ()) {}
        }
        let _s = test_support::serial();
        let mu = crate::attach();
        let v = mu.alloc(GcValueVec::<Nest>::new());
        let refusals: [(&str, &dyn Fn()); 4] = [
            ("push", &|| v.push(())),
            ("extend", &|| v.extend([()])),
            ("insert", &|| v.insert(0, ())),
            ("set", &|| v.set(0, ())),
        ];
        for (name, store) in refusals {
            let err = catch_unwind(AssertUnwindSafe(store)).expect_err("refused");
            let message = err.downcast::<String>().expect("a formatted message");
            assert!(message.starts_with(&format!("GcValueVec::{name}: the value type `")), "{message}");
            assert!(message.contains("holds a GC collection"), "{message}");
            assert!(message.contains("hold a `Member` to the object in the value"), "{message}");
            assert!(v.is_empty(), "{name}: nothing joined");
        }
    }

    #[test]
    fn elements_without_pointers_are_neither_armed_nor_traced() {
        #[derive(Trace)]
        struct Number(AtomicU64);
        impl HeapValue for Number {
            type Local<'m> = u64;
            fn empty() -> Number {
                Number(AtomicU64::new(0))
            }
            fn load(&self, _: &Mutator) -> u64 {
                self.0.load(Ordering::Relaxed)
            }
            fn store(&self, n: u64) {
                self.0.store(n, Ordering::Relaxed);
            }
        }
        const { assert!(!Number::NEEDS_TRACE) };
        let _s = test_support::serial();
        let mu = crate::attach();
        let v = mu.alloc(GcValueVec::<Number>::new());
        let n: u64 = if cfg!(miri) { 64 } else { 2000 };
        v.extend(0..n);
        let c = count(&*v);
        assert_eq!((c.flags, c.slots), (1, 0));
        assert_eq!(v.iter(&mu).sum::<u64>(), (n - 1) * n / 2);
    }

    /// A `load` that panics while `pop` or `remove` takes the element out: the element has
    /// left, and its slots are still emptied through the barrier (the deletion barriers shade
    /// its pointers), so no pointer leaves the vector unseen.
    #[test]
    fn a_load_that_panics_during_a_removal_still_empties_the_removed_slots() {
        let _s = test_support::serial();
        let mu = crate::attach();
        for remove in [true, false] {
            let v = mu.alloc(GcValueVec::<Entry>::new());
            let o = mu.alloc(5_u32);
            v.push((u64::MAX, Some(o)));
            let _clear = test_support::ClearMarks;
            clock::force(Phase::Mark, BarrierKind::Yuasa);
            let off = PhaseOff;
            let outcome = catch_unwind(AssertUnwindSafe(|| {
                if remove {
                    let _ = v.remove(0, &mu);
                } else {
                    let _ = v.pop(&mu);
                }
            }));
            // SAFETY: `o` is a live local.
            let shaded = unsafe { test_support::shaded(o.header_ptr()) };
            drop(off);
            assert!(outcome.is_err(), "the load panicked");
            assert!(shaded, "the removed element's pointer was shaded (remove: {remove})");
            assert!(v.is_empty(), "the element left (remove: {remove})");
            v.push((1, None));
            assert_eq!(v.len(), 1, "the vector is usable after the panic");
        }
    }

    #[test]
    fn a_store_that_panics_leaves_the_vector_unchanged() {
        #[derive(Trace)]
        struct Picky(Member<u8>);
        impl HeapValue for Picky {
            type Local<'m> = Option<Gc<'m, u8>>;
            fn empty() -> Picky {
                Picky(Member::new())
            }
            fn load<'m>(&self, mu: &'m Mutator) -> Option<Gc<'m, u8>> {
                self.0.get(mu)
            }
            fn store(&self, value: Option<Gc<'_, u8>>) {
                self.0.set(value);
                assert!(value.is_none_or(|v| *v != 0), "a store that panics on zero");
            }
        }
        let _s = test_support::serial();
        let mu = crate::attach();
        let v = mu.alloc(GcValueVec::<Picky>::new());
        v.push(Some(mu.alloc(1)));
        let zero = mu.alloc(0);
        for op in 0..4 {
            let outcome = catch_unwind(AssertUnwindSafe(|| match op {
                0 => v.push(Some(zero)),
                1 => v.insert(0, Some(zero)),
                2 => v.set(0, Some(zero)),
                _ => v.extend([None, Some(zero)]),
            }));
            assert!(outcome.is_err(), "op {op} panicked");
            assert_eq!(v.len(), 1, "op {op}: unchanged");
            assert_eq!(v.get(0, &mu).flatten().map(|x| *x), Some(1), "op {op}: unchanged");
        }
    }
}
