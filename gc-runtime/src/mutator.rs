//! Mutators: the threads that use the heap.
//!
//! # Attaching and detaching
//!
//! A thread calls [`attach`] to get its [`Mutator`], the handle through which it allocates
//! and reads slots. The handle is `!Send`; dropping it detaches the thread for good (also
//! during a panic's unwinding, so a panicking thread never holds up the collector). A thread
//! about to block — I/O, a lock, a sleep, joining another thread — wraps that in
//! [`Mutator::blocking`], which detaches it for the duration: stop-the-world pauses never wait
//! for a detached thread.
//!
//! # Safepoints
//!
//! The collector stops the world, flushes shade buffers and ends marking only at safepoints:
//! [`Mutator::safepoint`], [`Mutator::blocking`], [`Mutator::collect`], or while detached. All
//! of them take `&mut Mutator`, so no local ([`Gc`]) can be alive there — the borrow checker
//! proves it. Code that loops for long without allocating should call `safepoint` now and
//! then; the fast path is one relaxed load and a branch. Allocation is *not* a safepoint, so
//! locals survive allocating. (Where an allocation refills the thread's cache it answers the
//! collector's rounds that ask nothing about locals — the ones after marking that publish the
//! sweep and take back cached pages — so a long build between two safepoints holds up only
//! the marking: see `collector/mod.rs`, "Rounds answered at an allocation".)
//!
//! # Threads that exit
//!
//! A thread that ends with its mutator leaked (`Box::leak`, `mem::forget`) is noticed and
//! removed, and every object alive then is kept for the rest of the process: see
//! `thread_state/mod.rs`, "Threads that exit", which also holds the mutator's private state (its
//! allocation cache and shade buffer).

use std::{fmt, marker::PhantomData, mem::ManuallyDrop};

use crate::{
    config::{ConfigError, Mode},
    gc::{Addr, Gc},
    handshake::MutatorState,
    object::{
        dyn_object::{self, DynObject, DynValue, Unsize},
        Header, Trace,
    },
    report,
    runtime::Runtime,
    thread_state::{self, kept, user_code, LimitError, Refusal, ThreadState},
};

/// An allocation refused by the memory limit; it gives the value back.
pub struct AllocError<T> {
    value: T,
    state: LimitError,
}

impl<T> AllocError<T> {
    /// The value that was not allocated.
    pub fn into_value(self) -> T {
        self.value
    }

    /// The limit and how full the heap was.
    pub fn state(&self) -> LimitError {
        self.state
    }

    /// The infallible allocators' panic. The value is dropped first, not during the unwinding:
    /// a destructor that panicked while this panic unwinds would abort the process. One that
    /// panics now is caught (its payload dropped under a guard), and the limit's panic follows
    /// all the same.
    #[cold]
    #[inline(never)]
    fn fail(self) -> ! {
        let AllocError { value, state } = self;
        if let Err(payload) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || drop(value))) {
            report::drop_payload(payload);
        }
        panic!("{state}; use Mutator::try_alloc and Mutator::try_reserve to handle this")
    }
}

impl<T> fmt::Debug for AllocError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AllocError").field("type", &std::any::type_name::<T>()).field("state", &self.state).finish()
    }
}

impl<T> fmt::Display for AllocError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cannot allocate a `{}`: {}", std::any::type_name::<T>(), self.state)
    }
}

impl<T> std::error::Error for AllocError<T> {}

/// A thread's handle on the heap: it allocates, reads slots and roots, and marks the points
/// where the collector may stop the thread.
///
/// Get one with [`attach`]; it is `!Send` and detaches when dropped (also while unwinding from
/// a panic). Safepoints ([`Mutator::safepoint`], [`Mutator::blocking`],
/// [`Mutator::collect`]) take `&mut self`, so no local ([`Gc`]) is alive at one. Allocation is
/// not a safepoint. Loops that run long without a safepoint hold up every pause: call
/// `safepoint` regularly, and wrap blocking calls in `blocking`.
///
/// ```
/// let mut mu = gc_runtime::attach();
/// let s = mu.alloc(String::from("hello"));
/// assert_eq!(s.len(), 5);
/// mu.safepoint(); // `s` cannot be used after this line: the borrow checker says so
/// ```
pub struct Mutator {
    /// Owned (from `ThreadState::attach`, freed in `drop`), never borrowed mutably: the
    /// barrier reaches the same state through a thread-local pointer, so a `Box` (which asserts
    /// uniqueness when moved) or a `&mut` would invalidate that pointer. Every field is a
    /// `Cell` or `RefCell`.
    ///
    /// An [`Addr`] (`Send` and `Sync` itself), so that the compiler's error for a mutator sent
    /// to or shared with another thread names `_thread` below, whose type says what to do.
    inner: Addr<ThreadState>,
    /// What makes a mutator `!Send` and `!Sync`, named for the compiler's error.
    _thread: PhantomData<*mut EachThreadAttachesItsOwnMutator>,
}

/// Appears in compiler errors when a [`Mutator`] is sent to or shared with another thread:
/// each thread calls [`attach`] for its own mutator.
#[doc(hidden)]
pub enum EachThreadAttachesItsOwnMutator {}

/// Why [`try_attach`] failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttachError {
    /// This thread already has a mutator; use that one.
    AlreadyAttached,
    /// The collector's own threads (marker, sweeper, destructors run by them) cannot attach.
    CollectorThread,
    /// The thread is running code that a GC collection calls during one of its calls (`Eq`,
    /// `Hash`, `Clone` or `Debug` of a map key, with the collection's lock held; a
    /// [`HeapValue`](crate::HeapValue)'s `store` or `load`): attaching waits out a stopped
    /// world, and the world may be waiting for a mutator blocked on that very lock. Attach
    /// before calling the collection.
    InCollectionCode,
    /// The runtime was started from environment variables and one is invalid.
    Config(ConfigError),
}

impl fmt::Display for AttachError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AttachError::AlreadyAttached => {
                write!(f, "this thread is already attached to the GC heap; pass its Mutator around instead of attaching again")
            }
            AttachError::CollectorThread => {
                write!(f, "a collector thread cannot attach (a destructor or Trace impl tried to use the heap)")
            }
            AttachError::InCollectionCode => write!(
                f,
                "code a GC collection runs during one of its calls (Eq, Hash, Clone or Debug of a \
                 map key, run under the collection's lock; HeapValue::store or load) cannot attach \
                 a mutator: attaching waits for a stopped world, which may be waiting for a writer \
                 blocked on that lock; attach before calling the collection"
            ),
            AttachError::Config(e) => write!(f, "gc configuration: {e}"),
        }
    }
}

impl std::error::Error for AttachError {}

/// Attach the calling thread to the heap. If an earlier [`with_mutator`] on this thread kept
/// its mutator, that one is re-attached and handed out (dropping it then frees it).
///
/// # Panics
/// If [`try_attach`] fails: the thread is already attached, it is a collector thread, it is
/// inside code a GC collection runs during one of its calls ([`AttachError::InCollectionCode`]),
/// or the `GC_*` environment variables are invalid.
pub fn attach() -> Mutator {
    try_attach().unwrap_or_else(|e| panic!("{e}"))
}

/// Attach the calling thread to the heap, or say why not.
///
/// # Errors
/// See [`AttachError`].
pub fn try_attach() -> Result<Mutator, AttachError> {
    if user_code::active() && thread_state::may_attach().is_ok() {
        return Err(AttachError::InCollectionCode);
    }
    attach_in_any_code(true)
}

/// Attach the calling thread for one call of a GC collection that writes a value with slots on
/// a thread without a running mutator (`collections/heap_value.rs`, `new_element`): as
/// [`try_attach`], but inside the call's user-code guard, which the caller makes sure is the
/// outermost one — no collection's lock is held, so waiting out a stopped world here cannot be
/// waiting for a writer blocked on one.
pub(crate) fn attach_for_a_collection_call() -> Result<Mutator, AttachError> {
    debug_assert!(user_code::outermost(), "attached for a collection call inside another one");
    // A mutator of its own, not the one an earlier `with_mutator` kept: this handle is dropped
    // (freed) when the call ends, and the kept one — with its value stacks — must stay for the
    // thread's next `with_mutator`.
    attach_in_any_code(false)
}

/// [`try_attach`] without its refusal inside user code; `take_kept`: hand out the mutator an
/// earlier [`with_mutator`] on this thread kept, if there is one.
fn attach_in_any_code(take_kept: bool) -> Result<Mutator, AttachError> {
    thread_state::may_attach().map_err(|refusal| match refusal {
        Refusal::AlreadyAttached => AttachError::AlreadyAttached,
        Refusal::CollectorThread => AttachError::CollectorThread,
    })?;
    if let Some(state) = take_kept.then(kept::take).flatten() {
        // SAFETY: a state kept on this thread (`kept.rs`), now owned by the new handle alone;
        // the thread has no mutator (`may_attach` above).
        unsafe { ThreadState::resume(state) };
        return Ok(Mutator { inner: Addr(state), _thread: PhantomData });
    }
    let rt = Runtime::get_or_init().map_err(AttachError::Config)?;
    // A thread in a stop-the-world `collect` marks on a stack of the collector's depth
    // (`marker/pool.rs`); the stack switch asks for this thread's stack bounds the first time,
    // which on the main thread reads `/proc/self/maps` — 100 µs in a process with a large heap,
    // all of it inside the first collection. Asked here, once per thread, instead.
    #[cfg(not(any(miri, gc_tsan)))]
    let _ = stacker::remaining_stack();
    let inner = Addr(ThreadState::attach(rt));
    Ok(Mutator { inner, _thread: PhantomData })
}

/// Run `f` with a mutator attached for its duration (detached afterwards, also on panic).
///
/// For a thread that attaches per stretch of work (a request, a task's poll): the mutator is
/// not taken down when `f` returns but kept, detached, for the thread's next `with_mutator`
/// (or [`attach`]), which re-attaches it — the cost of a return from
/// [`Mutator::blocking`] instead of a whole attach and detach. Meanwhile the thread has no
/// mutator and the collector does not wait for it, as after a detach; a kept mutator is freed
/// when its thread ends. Its value stacks ([`ValueStack`](crate::ValueStack)) stay with it,
/// and with them what they hold.
///
/// On Unix the kept mutator is freed after every thread-local of its thread is destroyed, so a
/// thread-local's destructor can still call `with_mutator` and open the value stacks it made.
/// (Elsewhere a thread-local's destructor frees it; one destroyed later gets a fresh mutator.)
///
/// # Panics
/// As [`attach`]: on a thread that has a mutator (inside another `with_mutator`, or beside an
/// attached [`Mutator`]), on one of the collector's threads, or with an invalid configuration.
pub fn with_mutator<R>(f: impl FnOnce(&mut Mutator) -> R) -> R {
    /// Keeps the mutator for the thread's next `with_mutator` — also when `f` panics.
    struct KeepOnDrop(ManuallyDrop<Mutator>);
    impl Drop for KeepOnDrop {
        fn drop(&mut self) {
            if user_code::active() {
                // Inside code a collection calls under its lock (`f` was called there): the
                // handle's own drop detaches when that call returns.
                // SAFETY: dropped once, here; not used again.
                unsafe { ManuallyDrop::drop(&mut self.0) };
                return;
            }
            // SAFETY: the state of the mutator attached on this thread, owned by this handle
            // alone, which is not used again (nor dropped: it is a `ManuallyDrop`).
            unsafe { kept::keep(self.0.inner.0) };
        }
    }
    let mut mu = KeepOnDrop(ManuallyDrop::new(attach()));
    f(&mut mu.0)
}

#[cold]
#[inline(never)]
fn refuse_collect_under_collection_lock() -> ! {
    panic!(
        "Mutator::collect called from code a GC collection runs during one of its calls (Eq, \
         Clone or Debug of a GcMap key; HeapValue::store or load): a writer waiting for the \
         collection's lock, or a value not yet in its collection, would keep the cycle from \
         finishing or lose the value's objects; collect after the collection call returns"
    )
}

impl Mutator {
    #[inline(always)]
    pub(crate) fn inner(&self) -> &ThreadState {
        // SAFETY: `inner` is valid from `try_attach` until `drop`, and only shared
        // references to it exist (see the field's docs).
        unsafe { self.inner.0.as_ref() }
    }

    pub(crate) fn runtime(&self) -> &'static Runtime {
        self.inner().runtime()
    }

    /// Allocate `value` in the heap and return a local pointing to it.
    ///
    /// Not a safepoint: locals stay valid. The object's `Member` slots start empty.
    ///
    /// # Panics
    /// If the heap is over the configured memory limit even after a sweep in progress is
    /// finished (see [`Mutator::try_alloc`] to handle that instead). The value is dropped
    /// before the panic starts (by every allocating method), so a destructor that panics as
    /// well is caught instead of aborting the process.
    ///
    /// # Aborts
    /// If the system cannot provide the memory, the process aborts ("memory allocation of N
    /// bytes failed"), as `Box::new` and `Vec` do. So does every allocating method. A memory
    /// limit ([`Config::with_memory_limit`](crate::Config::with_memory_limit)) refuses such a
    /// request before the system is asked: a panic, or an [`AllocError`] from the `try_` forms.
    #[inline(always)]
    pub fn alloc<T: Trace + Send + Sync + 'static>(&self, value: T) -> Gc<'_, T> {
        match self.try_alloc(value) {
            Ok(gc) => gc,
            Err(e) => e.fail(),
        }
    }

    /// Allocate `value`, or give it back in an error if the heap is over the memory limit.
    ///
    /// Over the limit, the allocation asks for a collection and helps finish a sweep already
    /// in progress; if the heap is still over, it returns [`AllocError`]. It cannot wait for a
    /// whole new cycle — allocation is not a safepoint, and a cycle needs this thread at one —
    /// so to free memory and retry, pass a safepoint: [`Mutator::try_reserve`] or
    /// [`Mutator::collect`].
    ///
    /// ```
    /// # let mut mu = gc_runtime::attach();
    /// let s = match mu.try_alloc(String::from("data")) {
    ///     Ok(s) => s.len(),
    ///     Err(e) => {
    ///         let value = e.into_value(); // nothing is lost
    ///         mu.try_reserve(std::mem::size_of::<String>()).expect("the heap is full of live data");
    ///         mu.alloc(value).len()
    ///     }
    /// };
    /// assert_eq!(s, 4);
    /// ```
    ///
    /// # Errors
    /// [`AllocError`] when the memory limit is reached; it carries `value` back.
    #[inline(always)]
    pub fn try_alloc<T: Trace + Send + Sync + 'static>(&self, value: T) -> Result<Gc<'_, T>, AllocError<T>> {
        let obj = match self.inner().alloc(value) {
            Ok(obj) => obj,
            Err((value, state)) => return Err(AllocError { value, state }),
        };
        // SAFETY: initialised above; marked with the current epoch (black while marking, and
        // it survives the sweep in progress), so it stays allocated until a safepoint.
        Ok(unsafe { Gc::from_header(obj.cast(), self) })
    }

    /// Allocate `value` as a trait object and return a local pointing to it as a `U`
    /// (`Gc<dyn Shape>`): the object keeps, after its header, the view — a pointer to its
    /// value with `U`'s vtable — so a slot pointing to it is still one word (see
    /// [`DynObject`]). `unsize` comes from [`unsize!`](crate::unsize)`(T => U)`, which
    /// compiles only if `T` unsizes to `U`; `U` is declared once with
    /// [`dyn_object!`](crate::dyn_object). The collector traces and drops the concrete `T`.
    ///
    /// A value allocated with [`alloc`](Self::alloc) cannot be viewed as a `U` later: allocate
    /// it with this method if it is to be used as one.
    ///
    /// ```
    /// use std::fmt::Debug;
    ///
    /// use gc_runtime::{unsize, Gc, Member, Trace};
    ///
    /// #[derive(Trace, Debug)]
    /// struct Point {
    ///     x: i32,
    ///     y: i32,
    /// }
    ///
    /// let mu = gc_runtime::attach();
    /// // `dyn Debug`, `dyn Display` and `dyn Any` are declared by this crate.
    /// let p: Gc<dyn Debug> = mu.alloc_dyn(Point { x: 1, y: 2 }, unsize!(Point => dyn Debug));
    /// assert_eq!(format!("{p:?}"), "Point { x: 1, y: 2 }");
    /// let slot = mu.alloc(Member::<dyn Debug>::new());
    /// slot.set(Some(p));
    /// ```
    ///
    /// # Panics
    /// Over the memory limit (see [`try_alloc_dyn`](Self::try_alloc_dyn)).
    #[inline]
    pub fn alloc_dyn<T, U>(&self, value: T, unsize: Unsize<T, U>) -> Gc<'_, U>
    where
        T: Trace + Send + Sync + 'static,
        U: ?Sized + DynObject + 'static,
    {
        match self.try_alloc_dyn(value, unsize) {
            Ok(gc) => gc,
            Err(e) => e.fail(),
        }
    }

    /// [`alloc_dyn`](Self::alloc_dyn), or the value back in an error if the heap is over the
    /// memory limit (see [`try_alloc`](Self::try_alloc)).
    ///
    /// # Errors
    /// [`AllocError`] when the memory limit is reached; it carries `value` back.
    #[inline]
    pub fn try_alloc_dyn<T, U>(&self, value: T, unsize: Unsize<T, U>) -> Result<Gc<'_, U>, AllocError<T>>
    where
        T: Trace + Send + Sync + 'static,
        U: ?Sized + DynObject + 'static,
    {
        self.try_alloc_dyn_split(value, unsize).map(|(gc, _)| gc)
    }

    /// [`alloc_dyn`](Self::alloc_dyn), also returning the concrete value, to set its slots: a
    /// trait object's slots are reachable only through its trait otherwise. The reference lives
    /// as long as the local (until the next safepoint).
    ///
    /// ```
    /// use gc_runtime::{dyn_object, unsize, Gc, Member, Trace};
    ///
    /// trait Named {
    ///     fn name(&self) -> String;
    /// }
    /// dyn_object!(dyn Named);
    ///
    /// #[derive(Trace)]
    /// struct Person {
    ///     first: Member<str>,
    /// }
    /// impl Named for Person {
    ///     fn name(&self) -> String {
    ///         String::from("a person") // reading `first` would need a mutator
    ///     }
    /// }
    ///
    /// let mu = gc_runtime::attach();
    /// let (named, person) = mu.alloc_dyn_split(Person { first: Member::new() }, unsize!(Person => dyn Named));
    /// person.first.set(Some(mu.alloc_str("Ada")));
    /// assert_eq!(named.name(), "a person");
    /// assert_eq!(&*person.first.get(&mu).unwrap(), "Ada");
    /// ```
    ///
    /// # Panics
    /// Over the memory limit.
    #[inline]
    pub fn alloc_dyn_split<T, U>(&self, value: T, unsize: Unsize<T, U>) -> (Gc<'_, U>, &'_ T)
    where
        T: Trace + Send + Sync + 'static,
        U: ?Sized + DynObject + 'static,
    {
        match self.try_alloc_dyn_split(value, unsize) {
            Ok(parts) => parts,
            Err(e) => e.fail(),
        }
    }

    fn try_alloc_dyn_split<T, U>(&self, value: T, unsize: Unsize<T, U>) -> Result<(Gc<'_, U>, &'_ T), AllocError<T>>
    where
        T: Trace + Send + Sync + 'static,
        U: ?Sized + DynObject + 'static,
    {
        let obj = match self.inner().alloc(DynValue::new(value, unsize)) {
            Ok(obj) => obj,
            Err((dyn_value, state)) => return Err(AllocError { value: dyn_value.into_value(), state }),
        };
        // SAFETY: allocated and initialised just now, and not published: nothing else can see
        // it.
        unsafe { dyn_object::set_view(obj, unsize) };
        // SAFETY: initialised above, view included; a `GcBox<DynValue<U, T>>` is what `U`'s
        // `Object` impl reads (`DynObject`); marked as in `try_alloc`, so it stays allocated
        // until a safepoint, which `&self` rules out while the two are borrowed.
        Ok(unsafe { (Gc::from_header(obj.cast(), self), DynValue::value(obj)) })
    }

    /// Allocate a slice object holding `elements` and return a local pointing to it: the
    /// unsized `Gc<[E]>` of a runtime's arrays, one allocation (header, length, elements) and
    /// one word per pointer to it, like any object (see [`Object`](crate::Object)).
    ///
    /// Takes anything a `Vec<E>` can be made from: a `Vec` or `Box<[E]>` (the elements are
    /// moved, no clone), an array, a `&[E]` of `Clone` elements. For an iterator, see
    /// [`alloc_from_iter`](Self::alloc_from_iter). The elements' slots start empty, as in
    /// [`alloc`](Self::alloc), and are set through the write barrier afterwards.
    ///
    /// ```
    /// use gc_runtime::{Gc, Member};
    ///
    /// let mu = gc_runtime::attach();
    /// let numbers: Gc<[u32]> = mu.alloc_slice(vec![1, 2, 3]);
    /// assert_eq!(numbers.iter().sum::<u32>(), 6);
    /// // An array of slots: a fixed-size table of GC pointers.
    /// let table: Gc<[Member<str>]> = mu.alloc_slice((0..2).map(|_| Member::new()).collect::<Vec<_>>());
    /// table[1].set(Some(mu.alloc_str("second")));
    /// assert!(table[0].get(&mu).is_none());
    /// assert_eq!(&*table[1].get(&mu).unwrap(), "second");
    /// ```
    ///
    /// # Panics
    /// Over the memory limit (see [`try_alloc_slice`](Self::try_alloc_slice)), or if the
    /// object's size, with the collector's mark word in front of a large object, would overflow
    /// `isize`.
    #[inline]
    pub fn alloc_slice<E: Trace + Send + Sync + 'static>(&self, elements: impl Into<Vec<E>>) -> Gc<'_, [E]> {
        match self.try_alloc_slice(elements) {
            Ok(gc) => gc,
            Err(e) => e.fail(),
        }
    }

    /// [`alloc_slice`](Self::alloc_slice), or the elements back in an error if the heap is
    /// over the memory limit (as [`try_alloc`](Self::try_alloc)).
    ///
    /// # Errors
    /// [`AllocError`] when the memory limit is reached; it carries the elements back.
    ///
    /// # Panics
    /// If the object's size, with the collector's mark word in front of a large object,
    /// would overflow `isize`.
    pub fn try_alloc_slice<E: Trace + Send + Sync + 'static>(
        &self,
        elements: impl Into<Vec<E>>,
    ) -> Result<Gc<'_, [E]>, AllocError<Vec<E>>> {
        match self.inner().alloc_array(elements.into()) {
            // SAFETY: an initialised `[E]` object, allocated black (as in `try_alloc`).
            Ok(obj) => Ok(unsafe { Gc::from_header(obj, self) }),
            Err((value, state)) => Err(AllocError { value, state }),
        }
    }

    /// Allocate a slice object of `len` elements, element `i` being `make(i)` — made in order
    /// and written straight into the object, with no vector in between (`std::array::from_fn`
    /// for slices).
    ///
    /// `make` may allocate. If it panics, the panic goes on, and the elements made so far are
    /// dropped with the half-made object, which nothing reaches, at a later sweep.
    ///
    /// ```
    /// use gc_runtime::Member;
    ///
    /// let mu = gc_runtime::attach();
    /// let table = mu.alloc_slice_from_fn(8, |_| Member::<str>::new());
    /// table[3].set(Some(mu.alloc_str("three")));
    /// let squares = mu.alloc_slice_from_fn(4, |i| i * i);
    /// assert_eq!(&*squares, &[0, 1, 4, 9]);
    /// ```
    ///
    /// # Panics
    /// Over the memory limit (see [`try_alloc_slice_from_fn`](Self::try_alloc_slice_from_fn)),
    /// if the object's size, with the collector's mark word in front of a large object, would
    /// overflow `isize`, or if `make` panics.
    #[inline]
    pub fn alloc_slice_from_fn<E: Trace + Send + Sync + 'static>(
        &self,
        len: usize,
        make: impl FnMut(usize) -> E,
    ) -> Gc<'_, [E]> {
        match self.try_alloc_slice_from_fn(len, make) {
            Ok(gc) => gc,
            Err(e) => e.fail(),
        }
    }

    /// [`alloc_slice_from_fn`](Self::alloc_slice_from_fn), or an error if the heap is over the
    /// memory limit; the error carries `make` back, never called.
    ///
    /// # Errors
    /// [`AllocError`] when the memory limit is reached.
    ///
    /// # Panics
    /// If the object's size, with the collector's mark word in front of a large object,
    /// would overflow `isize`, or if `make` panics.
    pub fn try_alloc_slice_from_fn<E: Trace + Send + Sync + 'static, F: FnMut(usize) -> E>(
        &self,
        len: usize,
        make: F,
    ) -> Result<Gc<'_, [E]>, AllocError<F>> {
        // `make` is needed back if the allocation fails, so it is lent, not moved, to the
        // allocator; it is called only once the object's memory is there.
        let mut make = Some(make);
        match self.inner().alloc_array_from_fn(len, |i| (make.as_mut().expect("lent to the allocator"))(i)) {
            // SAFETY: an initialised `[E]` object, allocated black (as in `try_alloc`).
            Ok(obj) => Ok(unsafe { Gc::from_header(obj, self) }),
            Err(state) => Err(AllocError { value: make.take().expect("not taken"), state }),
        }
    }

    /// Allocate a slice object holding the items of `iter`, in order (`FromIterator` for
    /// `Gc<[E]>`, which needs the mutator). The items are collected first: `iter` runs
    /// before anything is allocated, so it may allocate too.
    ///
    /// ```
    /// let mu = gc_runtime::attach();
    /// let squares = mu.alloc_from_iter((1..=4).map(|i| i * i));
    /// assert_eq!(&*squares, &[1, 4, 9, 16]);
    /// let words = mu.alloc_from_iter("a b".split(' ').map(String::from));
    /// assert_eq!(words.len(), 2);
    /// ```
    ///
    /// # Panics
    /// As [`alloc_slice`](Self::alloc_slice).
    pub fn alloc_from_iter<E: Trace + Send + Sync + 'static>(&self, iter: impl IntoIterator<Item = E>) -> Gc<'_, [E]> {
        self.alloc_slice(iter.into_iter().collect::<Vec<E>>())
    }

    /// Allocate a string object holding a copy of `text`: the unsized `Gc<str>`, one
    /// allocation with the bytes inline (where `alloc(String)` would make two).
    ///
    /// ```
    /// use gc_runtime::{Gc, Member, Trace};
    ///
    /// #[derive(Trace)]
    /// struct Symbol {
    ///     name: Member<str>,
    /// }
    ///
    /// let mut mu = gc_runtime::attach();
    /// let sym = mu.alloc(Symbol { name: Member::new() });
    /// sym.name.set(Some(mu.alloc_str("lambda")));
    /// let root = sym.root(&mu);
    /// mu.collect();
    /// let name: Gc<str> = root.get(&mu).name.get(&mu).unwrap();
    /// assert_eq!(name.len(), 6);
    /// assert_eq!(name.to_uppercase(), "LAMBDA");
    /// ```
    ///
    /// # Panics
    /// Over the memory limit (see [`try_alloc_str`](Self::try_alloc_str)).
    #[inline]
    pub fn alloc_str(&self, text: &str) -> Gc<'_, str> {
        match self.try_alloc_str(text) {
            Ok(gc) => gc,
            Err(e) => e.fail(),
        }
    }

    /// [`alloc_str`](Self::alloc_str), or an error if the heap is over the memory limit (as
    /// [`try_alloc`](Self::try_alloc); the error carries `text` back).
    ///
    /// # Errors
    /// [`AllocError`] when the memory limit is reached.
    pub fn try_alloc_str<'s>(&self, text: &'s str) -> Result<Gc<'_, str>, AllocError<&'s str>> {
        match self.inner().alloc_str(text) {
            // SAFETY: an initialised `str` object, allocated black (as in `try_alloc`).
            Ok(obj) => Ok(unsafe { Gc::from_header(obj, self) }),
            Err(state) => Err(AllocError { value: text, state }),
        }
    }

    /// Make sure a value of `bytes` (its `size_of`, or a slice's total) can be allocated under
    /// the memory limit, running a full collection if needed. A safepoint (like
    /// [`Mutator::collect`]), whether or not it collects. Always `Ok` without a limit.
    ///
    /// What is reserved is what the allocation is charged: small objects are charged a page
    /// (64 KiB) at a time, when the thread's allocation cache takes a new one, so a
    /// reservation is never less than a page; a large object is charged its value and header.
    /// (Values aligned to more than 16 bytes: add the alignment to `bytes`.) The room is not
    /// held for this thread: other threads' allocations may take it meanwhile.
    ///
    /// # Errors
    /// [`LimitError`] if the heap is still too full after the collection.
    pub fn try_reserve(&mut self, bytes: usize) -> Result<(), LimitError> {
        let charge = thread_state::charge_for(bytes);
        if self.inner().room_for(charge).is_ok() {
            // A safepoint all the same: an allocation refused by the limit asked for a cycle,
            // which needs this thread at one before it can free anything.
            self.safepoint();
            return Ok(());
        }
        self.collect();
        self.inner().room_for(charge)
    }

    /// A safepoint: if the collector is waiting for this thread, do what it needs (publish
    /// grey objects, or park for a stop-the-world pause).
    ///
    /// Called from a `GcMap` key's `Eq`, `Clone` or `Debug` while the map holds its lock, it
    /// does nothing: parking there could deadlock with a thread waiting for that lock.
    #[inline]
    pub fn safepoint(&mut self) {
        if self.safepoint_requested() {
            self.safepoint_slow();
        }
    }

    /// Whether the collector is waiting for this thread, so that the next
    /// [`safepoint`](Self::safepoint) will do work (publish grey objects, or park).
    ///
    /// For code that must prepare before a safepoint — an interpreter that keeps values in
    /// Rust variables and writes them back into the heap first — so it prepares only when a
    /// safepoint is due. One relaxed load; a `false` may be stale by the time it is used, which
    /// only delays the collector until the next check.
    #[inline]
    pub fn safepoint_requested(&self) -> bool {
        self.runtime().handshake.poll_requested()
    }

    #[cold]
    #[inline(never)]
    fn safepoint_slow(&mut self) {
        if user_code::active() {
            // Under a collection's lock: parking here could deadlock with a writer of that
            // collection; the next safepoint after the lock is released parks instead (see
            // `thread_state/user_code.rs`).
            return;
        }
        self.inner().safepoint_slow();
    }

    /// Run `f` detached: the collector does not wait for this thread while `f` runs. Use it
    /// around anything that may block. `f` cannot use the heap (it has no mutator). The
    /// thread's cached allocation pages are handed back first, so a collection that runs
    /// meanwhile frees the garbage in them too.
    ///
    /// Inside code that a GC collection runs with its lock held (`Eq`, `Hash`, `Clone` or
    /// `Debug` of a map key), `f` runs without detaching: coming back would wait out a stopped
    /// world, which may be waiting for a writer blocked on that lock (see
    /// `thread_state/user_code.rs`). A pause then waits for `f`, as for any other work done
    /// under the lock.
    pub fn blocking<R>(&mut self, f: impl FnOnce() -> R) -> R {
        if user_code::active() {
            return f();
        }
        self.inner().detach();
        let _guard = Reattach(self.inner());
        f()
    }

    /// Run a full collection cycle and return when every object that was unreachable when
    /// `collect` was called is freed — in any thread's cached pages too — and its fields'
    /// destructors have run. A safepoint; the thread is detached while it waits.
    ///
    /// In [`Mode::StopTheWorld`] the thread does not park at once: until the pause's marking
    /// starts it yields its core between looks for work, and it marks beside the collector if
    /// the marking has room for it (on a stack as deep as the collector's own threads'). So
    /// objects' [`Trace`] impls may run on it, as they do in mark assists.
    ///
    /// The destructors run on the finalizer thread (see the crate docs): a destructor that
    /// waits for a lock this thread holds while calling `collect` deadlocks it. A wait for the
    /// finalizer that makes no progress for `safepoint_warn` ([`Config`](crate::Config); 1 s by
    /// default) is reported on stderr, naming this thread.
    ///
    /// # Panics
    /// If called from code a GC collection runs during one of its calls: a `GcMap` key's `Eq`,
    /// `Clone` or `Debug` while the map holds its lock (a writer waiting for that lock would
    /// keep the cycle from finishing), or a [`HeapValue`](crate::HeapValue)'s `store` or `load`
    /// (a value being written is not in its collection yet: the cycle would free what it
    /// points to).
    pub fn collect(&mut self) {
        if user_code::active() {
            refuse_collect_under_collection_lock();
        }
        let inner = self.inner();
        inner.detach();
        let _guard = Reattach(inner);
        let rt = inner.runtime();
        rt.handshake.waiting_for_cycle(inner.id());
        // In stop-the-world mode the cycle is one pause, which this thread helps mark rather
        // than park through (see `marker/pool.rs`, "Threads waiting in `collect` join").
        let (stop_the_world, warn_after) = {
            let config = rt.config.lock();
            (config.mode == Mode::StopTheWorld, config.safepoint_warn)
        };
        let finalized_by = rt.control.collect_and_wait(stop_the_world.then_some(rt));
        rt.pages.finalizer.wait_done(finalized_by, warn_after);
    }

    /// This mutator's state as the collector sees it (always `Running` from its own thread,
    /// except inside [`Mutator::blocking`]).
    pub fn state(&self) -> MutatorState {
        self.runtime().handshake.state_of(self.inner().id())
    }

    /// Record that this thread holds a local from a weak upgrade made while marking.
    pub(crate) fn note_weak_upgrade(&self) {
        self.inner().note_weak_upgrade();
    }

    /// Shade an object into this mutator's buffer (barrier helper for roots).
    pub(crate) fn shade(&self, obj: *mut Header) {
        // SAFETY: callers pass an object reachable through a local of this mutator.
        unsafe { self.inner().shade(obj) };
    }
}

/// Re-attaches a detached mutator when dropped — also when unwinding from a panic in the
/// detached section.
struct Reattach<'a>(&'a ThreadState);

impl Drop for Reattach<'_> {
    fn drop(&mut self) {
        self.0.attach_again();
    }
}

/// Dropping a mutator detaches the thread — at once, except inside code a GC collection runs
/// during one of its calls (a map key's `Eq`, a `HeapValue`'s `store` or `load`): there the
/// thread stays attached, and the collector waits for it, until that call returns (see
/// `thread_state/user_code.rs`).
impl Drop for Mutator {
    fn drop(&mut self) {
        if user_code::active() {
            // SAFETY: a guard is alive; `inner` came from `ThreadState::attach` on this thread (a
            // `Mutator` is `!Send`), and this handle, the only owner, is going away.
            unsafe { user_code::detach_when_done(self.inner.0) };
            return;
        }
        // SAFETY: `inner` came from `ThreadState::attach` on this thread (a `Mutator` is
        // `!Send`), and this handle, the only owner, is going away.
        unsafe { ThreadState::detach_for_good(self.inner.0) };
    }
}

impl fmt::Debug for Mutator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Mutator").field("id", &self.inner().id()).finish_non_exhaustive()
    }
}
