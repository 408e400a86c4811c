//! Slots: [`Member<T>`], the GC pointer fields of heap objects.
//!
//! # Reading and writing
//!
//! A slot is an atomic pointer. It is read with a mutator ([`Member::get`]), so code without
//! one — a destructor on the finalizer thread — cannot reach another object, and written only
//! through the write barrier ([`Member::set`]; [`Member::swap`], [`Member::take`] and
//! [`Member::compare_exchange`] read and write in one atomic step, for lock-free structures in
//! the heap, and need a mutator for the value they return).
//!
//! # Armed and unarmed slots
//!
//! A slot outside the heap — in a plain Rust variable — would be a pointer the collector never
//! sees: set it, pass a safepoint, and it dangles. So a slot only works inside an allocated
//! object. [`Member::new`] makes an *unarmed* slot (a sentinel value); allocation arms every
//! slot of the new object (the sentinel becomes null). An unarmed slot reads as empty and
//! refuses to be set (it panics), so a slot kept outside the heap can never hold a pointer.
//! Armed slots never leave the heap: objects are only reachable through shared references, and
//! `Member` is neither `Clone` nor reachable through `&mut` once allocated.
//!
//! The consequence for allocate-black: a new object has no initial referents — every pointer
//! gets into it after allocation, through the barrier.

use std::{fmt, marker::PhantomData, ptr::NonNull};

use crate::{
    barrier,
    gc::Gc,
    mutator::Mutator,
    object::{Header, Trace, Tracer},
    primitive::sync::atomic::{AtomicPtr, Ordering},
    slot::{is_object, UNARMED_ADDR},
    slot_array::ArraySlot,
    variance::Invariant,
};

/// The unarmed sentinel as a pointer (no provenance: it is never dereferenced).
pub(crate) fn unarmed() -> *mut Header {
    std::ptr::without_provenance_mut(UNARMED_ADDR)
}

/// The slot value of a local (null for `None`).
fn raw<T: ?Sized>(value: Option<Gc<'_, T>>) -> *mut Header {
    value.map_or(std::ptr::null_mut(), |gc| gc.header_ptr())
}

/// A value read from a slot as a local of `mu`: `None` for an empty or unarmed slot.
///
/// # Safety
/// `p` was read (with `Acquire`, or by a read-modify-write that acquires) from a slot of type
/// `T` inside an allocated object, by the thread `mu` runs on, since its last safepoint.
#[inline]
unsafe fn local<'m, T: ?Sized>(p: *mut Header, mu: &'m Mutator) -> Option<Gc<'m, T>> {
    if !is_object(p) {
        return None;
    }
    // SAFETY: an armed, non-null slot is inside an allocated object and points to an
    // allocated object of type `T` (slots are only set from locals of type `T`); it stays allocated
    // while `mu` does not pass a safepoint (see `gc.rs`): until the read it was reachable from
    // the slot's object, and from then on it is this local, which the barrier treats as any
    // local (a pointer taken out of the heap by a swap was shaded by the deletion barrier if
    // the barrier shades overwritten pointers).
    Some(unsafe { Gc::from_header(NonNull::new_unchecked(p), mu) })
}

/// A GC pointer field: empty or pointing to a `T` in the heap.
///
/// ```
/// use gc_runtime::{Member, Trace};
///
/// #[derive(Trace)]
/// struct Node {
///     value: i64,
///     next: Member<Node>,
/// }
///
/// let mu = gc_runtime::attach();
/// let a = mu.alloc(Node { value: 1, next: Member::new() });
/// let b = mu.alloc(Node { value: 2, next: Member::new() });
/// a.next.set(Some(b)); // the write barrier runs here
/// assert_eq!(a.next.get(&mu).unwrap().value, 2);
/// ```
pub struct Member<T: ?Sized> {
    ptr: AtomicPtr<Header>,
    /// Invariant in `T`: a slot is written through `&self` (see `variance.rs`).
    _t: Invariant<T>,
}

impl<T: ?Sized> Member<T> {
    /// An empty slot, to put in a new object (it works once the object is allocated).
    pub fn new() -> Member<T> {
        Member { ptr: AtomicPtr::new(unarmed()), _t: PhantomData }
    }

    /// An empty, *armed* slot, for containers that are themselves armed (inside an allocated
    /// object) and create slots as they grow — GC collections. Never hand one out to code that
    /// could keep it outside the heap.
    pub(crate) fn new_armed() -> Member<T> {
        Member { ptr: AtomicPtr::new(std::ptr::null_mut()), _t: PhantomData }
    }

    /// Store the slot's own value back through the write barrier. While marking runs, that
    /// shades the referent under every barrier kind (Dijkstra shades the stored pointer, Yuasa
    /// the overwritten one: the same object); otherwise it changes nothing. For a collection
    /// whose entries moved behind the marker's chunked scan (see `object/scan_cursor.rs`);
    /// called under the collection's write lock, so no other store races with it.
    pub(crate) fn reshade(&self) {
        barrier::write_member(&self.ptr, self.ptr.load(Ordering::Relaxed));
    }

    /// The slot's raw value (`Acquire`), for the collections' bookkeeping: null, the unarmed
    /// sentinel, or an object's header.
    #[inline]
    pub(crate) fn raw(&self) -> *mut Header {
        self.ptr.load(Ordering::Acquire)
    }

    /// A value read from a slot of type `T` as a local of `mu`: `None` for an empty one.
    ///
    /// # Safety
    /// As for reading a slot: `raw` was read with `Acquire` from a slot of type `T` inside an
    /// allocated object (or from a buffer of such slots, see `slot_array.rs`), by the thread
    /// `mu` runs on, since its last safepoint.
    #[inline]
    pub(crate) unsafe fn local_of<'m>(raw: *mut Header, mu: &'m Mutator) -> Option<Gc<'m, T>> {
        // SAFETY: the caller's promise is `local`'s.
        unsafe { local(raw, mu) }
    }

    /// Report this slot as the value of an ephemeron entry whose key is `key` (a weak map's
    /// `trace`; see `Tracer::report_ephemeron`).
    #[inline]
    pub(crate) fn trace_as_value_of(&self, key: *const Header, tracer: &mut Tracer<'_>) {
        tracer.report_ephemeron(key, &self.ptr);
    }

    /// The referent as a local of `mu`, or `None` if the slot is empty.
    #[inline]
    pub fn get<'m>(&self, mu: &'m Mutator) -> Option<Gc<'m, T>> {
        // Acquire: pairs with the Release store of the barrier, so the referent's header and
        // value, written before it was published, are visible.
        // SAFETY: read from this slot just now.
        unsafe { local(self.ptr.load(Ordering::Acquire), mu) }
    }

    /// Store `value` and return what the slot held, in one atomic step (through the write
    /// barrier, like [`set`](Self::set)).
    ///
    /// ```
    /// use gc_runtime::{Member, Trace};
    ///
    /// #[derive(Trace)]
    /// struct Cell {
    ///     item: Member<Cell>,
    /// }
    ///
    /// let mu = gc_runtime::attach();
    /// let (holder, a, b) = (
    ///     mu.alloc(Cell { item: Member::new() }),
    ///     mu.alloc(Cell { item: Member::new() }),
    ///     mu.alloc(Cell { item: Member::new() }),
    /// );
    /// assert!(holder.item.swap(Some(a), &mu).is_none());
    /// let was = holder.item.swap(Some(b), &mu).unwrap();
    /// assert!(gc_runtime::Gc::ptr_eq(was, a) && holder.item.points_to(b));
    /// ```
    ///
    /// # Panics
    /// If the slot is not inside an allocated object (see "Armed and unarmed slots").
    #[inline]
    pub fn swap<'m>(&self, value: Option<Gc<'_, T>>, mu: &'m Mutator) -> Option<Gc<'m, T>> {
        let (old, _) = barrier::exchange_member(&self.ptr, raw(value), None);
        // SAFETY: the value the slot held until the swap.
        unsafe { local(old, mu) }
    }

    /// Empty the slot and return what it held (a [`swap`](Self::swap) with `None`).
    ///
    /// # Panics
    /// If the slot is not inside an allocated object.
    #[inline]
    pub fn take<'m>(&self, mu: &'m Mutator) -> Option<Gc<'m, T>> {
        self.swap(None, mu)
    }

    /// Store `new` if the slot points to `current` (both compared by identity, `None` for
    /// empty), in one atomic step, as `AtomicPtr::compare_exchange`: `Ok` with the previous
    /// value if it stored (through the write barrier), `Err` with the value found if not (then
    /// nothing was written). The building block of lock-free structures in the heap.
    ///
    /// ```
    /// use gc_runtime::{Member, Trace};
    ///
    /// #[derive(Trace)]
    /// struct Node {
    ///     value: u32,
    ///     next: Member<Node>,
    /// }
    ///
    /// let mu = gc_runtime::attach();
    /// let head = mu.alloc(Node { value: 0, next: Member::new() });
    /// // Push onto a lock-free stack: retry until the head did not move under us.
    /// for value in 1..=3 {
    ///     let node = mu.alloc(Node { value, next: Member::new() });
    ///     let mut seen = head.next.get(&mu);
    ///     loop {
    ///         node.next.set(seen);
    ///         match head.next.compare_exchange(seen, Some(node), &mu) {
    ///             Ok(_) => break,
    ///             Err(actual) => seen = actual,
    ///         }
    ///     }
    /// }
    /// assert_eq!(head.next.get(&mu).unwrap().value, 3);
    /// ```
    ///
    /// # Panics
    /// If the slot is not inside an allocated object.
    #[inline]
    pub fn compare_exchange<'m>(
        &self,
        current: Option<Gc<'_, T>>,
        new: Option<Gc<'_, T>>,
        mu: &'m Mutator,
    ) -> Result<Option<Gc<'m, T>>, Option<Gc<'m, T>>> {
        let (old, stored) = barrier::exchange_member(&self.ptr, raw(new), Some(raw(current)));
        // SAFETY: the value the slot held at the exchange.
        let old = unsafe { local(old, mu) };
        if stored {
            Ok(old)
        } else {
            Err(old)
        }
    }

    /// Store `value` through the write barrier.
    ///
    /// # Panics
    /// If the slot is not inside an allocated object (see "Armed and unarmed slots").
    #[inline]
    pub fn set(&self, value: Option<Gc<'_, T>>) {
        match value {
            Some(gc) => barrier::write_member(&self.ptr, gc.header_ptr()),
            None => barrier::clear_member(&self.ptr),
        }
    }

    /// Whether the slot is empty (needs no mutator: it produces no pointer).
    #[inline]
    pub fn is_none(&self) -> bool {
        !is_object(self.ptr.load(Ordering::Relaxed))
    }

    /// Whether the slot points to `other`.
    #[inline]
    pub fn points_to(&self, other: Gc<'_, T>) -> bool {
        self.ptr.load(Ordering::Relaxed) == other.header_ptr()
    }
}

impl<T: ?Sized> Default for Member<T> {
    fn default() -> Self {
        Member::new()
    }
}

/// The slots of a `GcVec`'s buffer: armed from the start (the vector is inside an allocated
/// object, see `collections/mod.rs`), stored through the barrier when an element enters or
/// leaves, moved without it.
impl<T: ?Sized> ArraySlot for Member<T> {
    type Raw = *mut Header;
    const EMPTY: *mut Header = std::ptr::null_mut();

    fn empty() -> Self {
        Member::new_armed()
    }

    #[inline]
    fn load(&self) -> *mut Header {
        self.raw()
    }

    #[inline]
    fn is_empty(raw: *mut Header) -> bool {
        !is_object(raw)
    }

    #[inline]
    fn store(&self, raw: *mut Header) {
        if is_object(raw) {
            barrier::write_member(&self.ptr, raw);
        } else {
            barrier::clear_member(&self.ptr);
        }
    }

    #[inline]
    fn put_moved(&self, raw: *mut Header) {
        self.ptr.store(raw, Ordering::Release);
    }
}

// SAFETY: reports its one slot; holds nothing else.
unsafe impl<T: ?Sized> Trace for Member<T> {
    #[inline]
    fn trace(&self, tracer: &mut Tracer<'_>) {
        tracer.report_slot(&self.ptr);
    }
}

impl<T: ?Sized> fmt::Debug for Member<T> {
    /// Prints the address only: following the pointer needs a mutator, and printing the
    /// referent could recurse forever on a cycle.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let p = self.ptr.load(Ordering::Relaxed);
        if is_object(p) {
            write!(f, "Member({p:p})")
        } else {
            write!(f, "Member(None)")
        }
    }
}

/// A GC pointer field that always points to a `T` once its object is constructed: what a
/// `#[gc]` struct's `Gc<T>` field becomes.
///
/// It starts unset (like [`Member`], it must be inside an allocated object to be set); the
/// `#[gc]` constructor sets it before handing out the object, so [`NonNullMember::get`] never
/// finds it empty there. Hand-written code that reads one before setting it gets a panic,
/// never a dangling pointer.
pub struct NonNullMember<T: ?Sized> {
    slot: Member<T>,
}

impl<T: ?Sized> NonNullMember<T> {
    /// An unset slot, to put in a new object and set right after allocation.
    pub fn new() -> NonNullMember<T> {
        NonNullMember { slot: Member::new() }
    }

    /// The referent as a local of `mu`.
    ///
    /// # Panics
    /// If the slot was never set.
    #[inline]
    pub fn get<'m>(&self, mu: &'m Mutator) -> Gc<'m, T> {
        match self.slot.get(mu) {
            Some(g) => g,
            None => panic!("NonNullMember read before it was set; set it right after allocating its object"),
        }
    }

    /// Store `value` through the write barrier.
    ///
    /// # Panics
    /// If the slot is not inside an allocated object.
    #[inline]
    pub fn set(&self, value: Gc<'_, T>) {
        self.slot.set(Some(value));
    }

    /// Whether the slot points to `other`.
    #[inline]
    pub fn points_to(&self, other: Gc<'_, T>) -> bool {
        self.slot.points_to(other)
    }
}

impl<T: ?Sized> Default for NonNullMember<T> {
    fn default() -> Self {
        NonNullMember::new()
    }
}

// SAFETY: reports its one slot.
unsafe impl<T: ?Sized> Trace for NonNullMember<T> {
    #[inline]
    fn trace(&self, tracer: &mut Tracer<'_>) {
        self.slot.trace(tracer);
    }
}

impl<T: ?Sized> fmt::Debug for NonNullMember<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let p = self.slot.ptr.load(Ordering::Relaxed);
        if is_object(p) {
            write!(f, "NonNullMember({p:p})")
        } else {
            write!(f, "NonNullMember(unset)")
        }
    }
}
