//! Mutator-owned value stacks: GC pointers a thread keeps across safepoints with plain stores,
//! no write barrier.
//!
//! # Why
//!
//! An interpreter's operand stack changes on every instruction. Kept in the heap, every push
//! is a barriered store; kept in Rust variables, it must be written back into the heap before
//! each safepoint. Go has neither cost: goroutine stacks are not barriered, because each is
//! scanned by its own goroutine when the collector asks. A [`ValueStack`] is that for a Rust
//! thread: a growable array of values owned by one mutator, written with plain stores, that
//! the collector treats as a root region of that thread.
//!
//! # When a stack is scanned (see `stack_scan.rs` for the protocol)
//!
//! - By its own thread, at every handshake it answers while the barrier is on — under the
//!   Dijkstra barrier at every one, so the stacks are scanned again when marking terminates
//!   (Go 1.5's rescan); under the Yuasa and hybrid barriers only in the mark-start rounds and
//!   once after them (Go 1.8's argument: a stack scanned after every thread's deletion barrier
//!   is on only ever gains pointers that the snapshot protects, or black new objects).
//! - By its own thread when it detaches or re-attaches while the barrier is on.
//! - By the collector, for a thread that is detached or parked when marking starts, and, with
//!   the world stopped, for checkmark verification. The owner cannot touch its stacks then.
//!
//! The time a thread spends scanning its stacks at a handshake is part of that thread's
//! pause, as [`Stats::thread_pauses`](crate::Stats) reports it.
//!
//! # Safety model
//!
//! Values are read and written only through a [`StackView`], which borrows the owning
//! [`Mutator`] shared: while a view lives the thread cannot pass a safepoint, detach or
//! collect (those take the mutator mutably), so the collector never reads a stack its owner
//! is writing, and values read out of a view (`Gc<'m, _>` locals) die with the borrow, as any
//! local does. A stack is `!Send` and `!Sync`, and opens only with the mutator it was made
//! with. What a value holds is told to the collector by [`StackValue::trace`], an `unsafe`
//! promise like [`Trace`](crate::Trace).

use std::{
    fmt,
    marker::PhantomData,
    ops::{Deref, DerefMut},
    sync::Arc,
};

use crate::{
    gc::Gc,
    mutator::Mutator,
    object::Header,
    report,
    stack_scan::{ScanStack, StackRegistry},
    variance::Invariant,
};

/// A type of value a [`ValueStack`] holds, named by a `'static` marker type: `At<'m>` is the
/// value as running code holds it, borrowing the mutator for `'m` (a `Gc<'m, T>`, or an enum
/// of numbers and `Gc<'m, _>`s).
///
/// Provided for `Gc<'static, T>` (values `Gc<'m, T>`) and `Option<Gc<'static, T>>` (values
/// `Option<Gc<'m, T>>`). For an interpreter's tagged values:
///
/// ```
/// use gc_runtime::{Gc, StackTracer, StackValue};
///
/// #[derive(Clone, Copy)]
/// enum Value<'m> {
///     Nil,
///     Number(f64),
///     Str(Gc<'m, str>),
/// }
///
/// /// The marker naming `Value<'m>` for every `'m`.
/// enum Values {}
///
/// // SAFETY: `trace` reports the one GC pointer a `Value` can hold.
/// unsafe impl StackValue for Values {
///     type At<'m> = Value<'m>;
///     fn trace(value: &Value<'_>, tracer: &mut StackTracer<'_>) {
///         if let Value::Str(s) = value {
///             tracer.gc(*s);
///         }
///     }
/// }
///
/// let mut mu = gc_runtime::attach();
/// let mut stack = gc_runtime::ValueStack::<Values>::new(&mu);
/// {
///     let mut s = stack.open(&mu);
///     s.push(Value::Number(1.0));
///     s.push(Value::Str(mu.alloc_str("kept by the stack")));
/// }
/// mu.collect(); // a safepoint: no local survives it, the stack's values do
/// let s = stack.open(&mu);
/// assert!(matches!(s[1], Value::Str(t) if &*t == "kept by the stack"));
/// # let _ = Value::Nil;
/// ```
///
/// # Safety
///
/// An implementation must uphold all of the following:
///
/// 1. [`trace`](StackValue::trace) reports every GC pointer inside `value` to the tracer. An
///    unreported one may be freed while the stack still holds it.
/// 2. `At<'m>` borrows nothing for `'m` but GC objects: its lifetime-carrying parts are locals
///    (`Gc<'m, _>`) and references *into* GC objects that the value itself keeps alive (reports).
///    A value outlives the view it was pushed through, so a `&'m` to a Rust variable, or to the
///    [`Mutator`] itself (which may move), would dangle when read back after a safepoint.
/// 3. `trace` does not use the heap (allocate, store into slots, attach) nor call any other
///    function of this crate ([`stats`](crate::stats()), [`config`](crate::config()),
///    [`reconfigure`](crate::reconfigure()), …): it runs inside the collector's handshakes, on
///    the owning thread or on the collector's, with the collector's locks held — a `trace` that
///    asked for [`stats`](crate::stats()) waited for ever for a lock its own thread held.
/// 4. `trace` should not panic: a panic stops the process with a message, as a panicking
///    [`Trace`](crate::Trace) does, because the collector cannot know what the value held.
pub unsafe trait StackValue: 'static {
    /// The value as running code holds it: borrowing the mutator for `'m`.
    type At<'m>: Copy;

    /// Report every GC pointer in `value`.
    fn trace(value: &Self::At<'_>, tracer: &mut StackTracer<'_>);
}

// SAFETY: the value is the pointer, and it is reported.
unsafe impl<T: ?Sized + 'static> StackValue for Gc<'static, T> {
    type At<'m> = Gc<'m, T>;

    #[inline]
    fn trace(value: &Gc<'_, T>, tracer: &mut StackTracer<'_>) {
        tracer.gc(*value);
    }
}

// SAFETY: the pointer, if any, is reported.
unsafe impl<T: ?Sized + 'static> StackValue for Option<Gc<'static, T>> {
    type At<'m> = Option<Gc<'m, T>>;

    #[inline]
    fn trace(value: &Option<Gc<'_, T>>, tracer: &mut StackTracer<'_>) {
        if let Some(gc) = value {
            tracer.gc(*gc);
        }
    }
}

/// What [`StackValue::trace`] reports a value's GC pointers to.
pub struct StackTracer<'a> {
    visit: &'a mut dyn FnMut(*mut Header),
}

impl<'a> StackTracer<'a> {
    pub(crate) fn new(visit: &'a mut dyn FnMut(*mut Header)) -> Self {
        StackTracer { visit }
    }

    /// Report one GC pointer held by the value being traced.
    #[inline]
    pub fn gc<T: ?Sized>(&mut self, gc: Gc<'_, T>) {
        (self.visit)(gc.header_ptr());
    }
}

impl fmt::Debug for StackTracer<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StackTracer").finish_non_exhaustive()
    }
}

/// A stack of values owned by one mutator, kept across safepoints without a write barrier:
/// the collector has the owning thread scan it (see the module docs in the crate's source,
/// and the book's "Value stacks").
///
/// Open it with its mutator to read and write ([`ValueStack::open`]). It is `!Send`: a stack
/// belongs to its thread.
///
/// ```
/// use gc_runtime::{Gc, ValueStack};
///
/// let mut mu = gc_runtime::attach();
/// let mut stack: ValueStack<Gc<'static, i64>> = ValueStack::new(&mu);
/// stack.open(&mu).push(mu.alloc(7));
/// mu.safepoint();
/// assert_eq!(*stack.open(&mu)[0], 7);
/// ```
pub struct ValueStack<V: StackValue> {
    storage: Arc<StackStorage<V>>,
    /// The owning mutator's registry: the identity `open` checks, and where `drop` unregisters.
    registry: Arc<StackRegistry>,
    /// `!Send`, `!Sync` (a stack is its thread's), and invariant in `V`.
    _marker: PhantomData<(*mut AValueStackStaysOnItsMutatorsThread, Invariant<V>)>,
}

/// Appears in compiler errors when a [`ValueStack`] is sent to or shared with another thread:
/// its owning thread scans it, so it stays there. Make one per thread, or move objects through
/// a [`Root`](crate::Root).
#[doc(hidden)]
pub enum AValueStackStaysOnItsMutatorsThread {}

impl<V: StackValue> ValueStack<V> {
    /// An empty stack owned by `mu`.
    pub fn new(mu: &Mutator) -> Self {
        Self::with_capacity(mu, 0)
    }

    /// An empty stack owned by `mu`, with room for `capacity` values before it reallocates.
    pub fn with_capacity(mu: &Mutator, capacity: usize) -> Self {
        let storage = Arc::new(StackStorage::<V> { values: std::cell::UnsafeCell::new(Vec::with_capacity(capacity)) });
        let registry = mu.inner().stack_registry();
        registry.add(storage.clone());
        ValueStack { storage, registry, _marker: PhantomData }
    }

    /// Read and write the stack. The view borrows `mu`, so no safepoint can pass while it
    /// lives, and what is read from it are locals of `mu`.
    ///
    /// # Panics
    /// If `mu` is not the mutator this stack was made with (a stack outlives its mutator only
    /// as a husk: its values are no longer scanned once that mutator is dropped).
    #[inline]
    pub fn open<'s, 'm>(&'s mut self, mu: &'m Mutator) -> StackView<'s, 'm, V> {
        assert!(
            mu.inner().owns_stack_registry(&self.registry),
            "a ValueStack can only be opened with the mutator it was made with"
        );
        // SAFETY: the owner is running (it lends `mu`), so the collector does not read the
        // storage (it only scans stacks of stopped mutators, and the owner scans its own only
        // at safepoints and detaches, which need `mu` mutably); `&mut self` makes this view
        // the only one.
        let home = unsafe { &mut *self.storage.values.get() };
        StackView { values: relabel::<V>(std::mem::take(home)), home, _mu: PhantomData }
    }
}

/// The same vector with its values' mutator lifetime changed: `At<'a>` and `At<'b>` differ
/// only in a lifetime, so they have the same layout (what makes this sound for the values
/// themselves is the view's borrow of the mutator; see [`StackView`]).
fn relabel<'a, 'b, V: StackValue>(values: Vec<V::At<'a>>) -> Vec<V::At<'b>> {
    let mut values = std::mem::ManuallyDrop::new(values);
    let (ptr, len, capacity) = (values.as_mut_ptr(), values.len(), values.capacity());
    // SAFETY: the allocation came from a `Vec` of a type with the same layout and alignment
    // (see above), with this length and capacity, and the original is not dropped.
    unsafe { Vec::from_raw_parts(ptr.cast::<V::At<'b>>(), len, capacity) }
}

impl<V: StackValue> Drop for ValueStack<V> {
    fn drop(&mut self) {
        let storage: Arc<dyn ScanStack> = self.storage.clone();
        self.registry.remove(&storage);
    }
}

impl<V: StackValue> fmt::Debug for ValueStack<V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ValueStack").finish_non_exhaustive()
    }
}

/// The values of a [`ValueStack`], open for reading and writing while its mutator is borrowed
/// for `'m`. Derefs to a slice of values (index it, iterate it, assign elements).
///
/// The values are moved out of the stack while the view is open, so the view works on a vector
/// of its own, as fast as a local `Vec`, and put back when it closes. (A view that is
/// forgotten with `mem::forget` takes its values with it: the stack is then empty, and nothing
/// else is lost.)
pub struct StackView<'s, 'm, V: StackValue> {
    values: Vec<V::At<'m>>,
    /// Where the values go back to.
    home: &'s mut Vec<V::At<'static>>,
    /// Invariant in `'m` (through `&mut`, as the values' lifetime must be exactly the borrow's).
    _mu: PhantomData<&'m mut &'m Mutator>,
}

impl<V: StackValue> Drop for StackView<'_, '_, V> {
    #[inline]
    fn drop(&mut self) {
        *self.home = relabel::<V>(std::mem::take(&mut self.values));
    }
}

impl<'m, V: StackValue> StackView<'_, 'm, V> {
    /// Push a value.
    #[inline(always)]
    pub fn push(&mut self, value: V::At<'m>) {
        self.values.push(value);
    }

    /// Pop the top value.
    #[inline(always)]
    pub fn pop(&mut self) -> Option<V::At<'m>> {
        self.values.pop()
    }

    /// Insert a value at `index`, shifting the values above it up.
    ///
    /// # Panics
    /// If `index > len`.
    pub fn insert(&mut self, index: usize, value: V::At<'m>) {
        self.values.insert(index, value);
    }

    /// Remove and return the value at `index`, shifting the values above it down.
    ///
    /// # Panics
    /// If `index >= len`.
    pub fn remove(&mut self, index: usize) -> V::At<'m> {
        self.values.remove(index)
    }

    /// Keep only the bottom `len` values.
    #[inline]
    pub fn truncate(&mut self, len: usize) {
        self.values.truncate(len);
    }

    /// Remove every value.
    #[inline]
    pub fn clear(&mut self) {
        self.values.clear();
    }

    /// Make room for `additional` more values.
    pub fn reserve(&mut self, additional: usize) {
        self.values.reserve(additional);
    }

    /// Give back memory beyond the current length.
    pub fn shrink_to_fit(&mut self) {
        self.values.shrink_to_fit();
    }
}

impl<'m, V: StackValue> Extend<V::At<'m>> for StackView<'_, 'm, V> {
    fn extend<I: IntoIterator<Item = V::At<'m>>>(&mut self, iter: I) {
        self.values.extend(iter);
    }
}

impl<'m, V: StackValue> Deref for StackView<'_, 'm, V> {
    type Target = [V::At<'m>];

    #[inline(always)]
    fn deref(&self) -> &[V::At<'m>] {
        &self.values
    }
}

impl<V: StackValue> DerefMut for StackView<'_, '_, V> {
    #[inline(always)]
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.values
    }
}

impl<V: StackValue> fmt::Debug for StackView<'_, '_, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StackView").field("len", &self.values.len()).finish_non_exhaustive()
    }
}

/// A stack's values, shared by its [`ValueStack`] handle and its mutator's registry.
struct StackStorage<V: StackValue> {
    values: std::cell::UnsafeCell<Vec<V::At<'static>>>,
}

// SAFETY: the storage is written only by its owner thread, through a view, while the owner
// runs; the collector only reads it while the owner is stopped (parked or detached) under
// the handshake table's lock (see `stack_scan.rs`), and reads nothing but the object
// addresses `trace` reports — never a `Gc`'s referent through the value.
unsafe impl<V: StackValue> Send for StackStorage<V> {}
// SAFETY: as above.
unsafe impl<V: StackValue> Sync for StackStorage<V> {}

impl<V: StackValue> ScanStack for StackStorage<V> {
    unsafe fn scan(&self, visit: &mut dyn FnMut(*mut Header)) -> usize {
        // SAFETY: the caller guarantees no view is open (the owner is at a safepoint, detaching
        // or stopped), so this shared read races with no write.
        let values = unsafe { &*self.values.get() };
        let mut tracer = StackTracer::new(visit);
        let traced = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            for value in values {
                V::trace(value, &mut tracer);
            }
        }));
        if let Err(payload) = traced {
            report::drop_payload(payload);
            report::fatal(format_args!(
                "gc: fatal: StackValue::trace of `{}` panicked; the collector cannot know which objects \
                 the value stack references, and continuing could free live objects",
                std::any::type_name::<V>()
            ));
        }
        values.len()
    }
}
