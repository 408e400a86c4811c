//! [`SharedSlice`]: a heap slice that readers load without a lock while a writer replaces it
//! with a new one; a replaced slice is freed through crossbeam-epoch once no reader can still
//! be looking at it.
//!
//! # Role
//!
//! The GC collections' elements live in slots (atomic pointers) inside a buffer that grows by
//! being copied into a larger one. Readers (`GcVec::get`, iteration) must not take a lock, so
//! a reader may still be reading the old buffer while a writer copies it and publishes the new
//! one; the old buffer can be freed only when every such reader is done. That is epoch-based
//! reclamation: a reader *pins* the thread ([`pin`], cheap: a thread-local counter and a fence)
//! for as long as it holds a slice; a replaced slice is handed to the epoch collector, which
//! frees it once every thread pinned at that moment has unpinned. The collector is
//! crossbeam-epoch's, a private instance (so a thread pinned here never holds back other users
//! of crossbeam in the process, nor they us).
//!
//! # When retired memory is freed
//!
//! crossbeam-epoch collects what a thread retires in a batch of its own, handed on to the
//! shared queue only when 64 things are in it (or the thread ends), and frees the shared
//! queue's batches when pinned threads move the epoch on. A thread that grows one large vector
//! retires a few large buffers and would hold them for as long as it lives; so a replaced slice
//! is handed on at once (`flush`), and the collector moves the epoch on after every cycle
//! ([`nudge`]), so it is freed even while no thread reads a collection. (Removed map keys, small
//! and many, are handed on in full batches; their maps move the epoch on themselves while they
//! wait, see `collections/retired_keys.rs`.) What is retired and not yet freed is counted in
//! `Stats::retired_bytes`.
//!
//! What the slice's elements mean, and when a writer may replace it, is the caller's protocol
//! (see `slot_array.rs`); this module only guarantees that a slice a reader loaded
//! stays allocated and fully written for as long as the reader's guard lives.
//!
//! # Invariants (the unsafe code below relies on them)
//!
//! 1. `ptr` is null (the empty slice) or points to an `Elements<T>` allocation (the length, then
//!    the elements) whose every element was written before the pointer was stored (with
//!    `Release`; loads are `Acquire`).
//! 2. A pointer is taken out of `ptr` only by [`SharedSlice::replace`] (an atomic `swap`, so
//!    each replaced pointer is retired exactly once, even by racing writers) or by `Drop`.
//! 3. A retired slice is freed only by the epoch collector, after every guard pinned before its
//!    retirement is dropped. A loaded slice borrows both the `SharedSlice` and the guard, so it
//!    outlives neither; `Drop` (which has `&mut self`, so no loaded slice is alive) frees the
//!    current slice at once. The one thread that may replace the slice (the caller's lock says
//!    which) can read it without pinning (`load_exclusive`, `unsafe`): nobody else retires it.
//! 4. `T` has no drop glue (checked at compile time): a slice is freed without running
//!    anything on its elements, so freeing never runs user code, on any thread.
//!
//! # Under loom and Miri
//!
//! Under `cfg(gc_loom)` the same API is a model (see the bottom of this file): retired slices
//! are kept until the `SharedSlice` is dropped, and pinning does nothing. The loom models check
//! the protocol of the caller (publication of the slice and the length, the order of the
//! copies); the reclamation scheme itself is crossbeam's, model-checked upstream.
//!
//! Under Miri the model is used too, unless `cfg(gc_miri_epoch)` is set: crossbeam-epoch's own
//! list of registered threads breaks a rule of Miri's default aliasing model, Stacked Borrows
//! (crossbeam issue 545; upstream checks it under Tree Borrows instead), so with the real epoch
//! every test that touches a `GcVec` would stop there. CI runs the bulk of the Miri tests under
//! Stacked Borrows with the model, and the collections' tests again under Tree Borrows with
//! `--cfg gc_miri_epoch`: the real epoch path, freeing included.

/// Bytes retired (replaced slices, and allocations handed to [`retire_allocation`]) and not yet
/// freed: what lock-free readers may still hold, for `Stats::retired_bytes`.
static RETIRED_BYTES: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// Bytes retired and not yet freed (see [`RETIRED_BYTES`]).
pub(crate) fn retired_bytes() -> usize {
    RETIRED_BYTES.load(std::sync::atomic::Ordering::Relaxed)
}

fn count_retired(bytes: usize) {
    RETIRED_BYTES.fetch_add(bytes, std::sync::atomic::Ordering::Relaxed);
}

fn count_freed(bytes: usize) {
    RETIRED_BYTES.fetch_sub(bytes, std::sync::atomic::Ordering::Relaxed);
}

#[cfg(not(any(gc_loom, all(miri, not(gc_miri_epoch)))))]
pub(crate) use self::epoch_impl::{nudge, pin, retire_allocation, Guard, Reclaimed, SharedSlice};
#[cfg(any(gc_loom, all(miri, not(gc_miri_epoch))))]
pub(crate) use self::model::{nudge, pin, retire_allocation, Guard, Reclaimed, SharedSlice};

#[cfg(not(any(gc_loom, all(miri, not(gc_miri_epoch)))))]
mod epoch_impl {
    use std::{
        alloc::Layout,
        marker::PhantomData,
        mem::{align_of, size_of},
        ptr::{self, NonNull},
        sync::OnceLock,
    };

    use crossbeam_epoch::{Atomic, Collector, LocalHandle, Owned, Pointable};

    use crate::raw;

    use crate::primitive::sync::atomic::Ordering;

    /// A pinned thread: slices loaded with it stay allocated until it is dropped.
    pub(crate) struct Guard(crossbeam_epoch::Guard);

    /// The private epoch collector (module docs).
    fn collector() -> &'static Collector {
        static COLLECTOR: OnceLock<Collector> = OnceLock::new();
        COLLECTOR.get_or_init(Collector::new)
    }

    thread_local! {
        /// This thread's registration with [`collector`].
        static HANDLE: LocalHandle = collector().register();
    }

    /// Pin the current thread. Nested pins are cheap (a counter).
    #[inline]
    pub(crate) fn pin() -> Guard {
        // During thread exit the thread-local may be gone: register for this one pin (as
        // crossbeam's own default collector does).
        Guard(HANDLE.try_with(LocalHandle::pin).unwrap_or_else(|_| collector().register().pin()))
    }

    /// A flag that is set once every thread pinned when it was made has unpinned: for a caller
    /// that retires things of its own (a map's removed keys, whose destructors are user code)
    /// and must free them itself, on a thread and at a moment of its choosing, rather than
    /// inside whatever call collects the epoch's garbage. The deferred function only sets the
    /// flag.
    pub(crate) struct Reclaimed(std::sync::Arc<std::sync::atomic::AtomicBool>);

    impl Reclaimed {
        /// A flag for what was unlinked before this call.
        pub(crate) fn new() -> Reclaimed {
            let flag = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
            let set = flag.clone();
            let guard = pin();
            guard.0.defer(move || set.store(true, std::sync::atomic::Ordering::Release));
            // Hand the deferred function to the collector now, so any thread's next pins can
            // run it (it would otherwise wait in this thread's bag).
            guard.0.flush();
            Reclaimed(flag)
        }

        /// Whether every thread pinned when the flag was made has unpinned (and the epoch has
        /// run the deferred function since: see [`nudge`]).
        pub(crate) fn is_set(&self) -> bool {
            self.0.load(std::sync::atomic::Ordering::Acquire)
        }
    }

    /// Free the allocation at `ptr` (of `layout`, from the global allocator, e.g. a `Box`'s)
    /// once every thread pinned now has unpinned. Nothing is dropped: freeing runs no user
    /// code, wherever the epoch's garbage is collected.
    ///
    /// # Safety
    /// `ptr` was allocated with `layout` by the global allocator, holds nothing that needs
    /// dropping, is not freed otherwise, and no thread that pins from now on can reach it.
    pub(crate) unsafe fn retire_allocation(ptr: NonNull<u8>, layout: Layout) {
        let addr = ptr.as_ptr() as usize;
        let guard = pin();
        super::count_retired(layout.size());
        // SAFETY: the caller's promise: nothing frees the allocation meanwhile, and readers
        // that could still reach it are pinned now, so the epoch runs this after they unpin.
        unsafe {
            guard.0.defer_unchecked(move || {
                raw::dealloc(NonNull::new_unchecked(addr as *mut u8), layout);
                super::count_freed(layout.size());
            });
        }
    }

    /// Move the epoch on if every pinned thread allows it, and run the deferred functions that
    /// are due (flags of [`Reclaimed`] included). Pins do this now and then by themselves; a
    /// thread waiting for a flag while it does not pin (it makes no lookups) calls this.
    pub(crate) fn nudge() {
        pin().0.flush();
    }

    /// A published slice as crossbeam's pointer sees it: one allocation holding the length,
    /// then the elements, so a reader reaches them with one load. (crossbeam's own
    /// `[MaybeUninit<T>]` makes the `&mut` it writes through from a `&`, which Miri rejects
    /// for elements that are not atomics; this type is written through a pointer from the
    /// allocation.)
    #[repr(transparent)]
    struct Elements<T>([T]);

    impl<T> Elements<T> {
        /// Where the elements start: after the length, aligned for `T`.
        const OFFSET: usize = size_of::<usize>().next_multiple_of(align_of::<T>());

        /// The allocation of `len` elements.
        fn layout(len: usize) -> Layout {
            let bytes = size_of::<T>().checked_mul(len).and_then(|b| b.checked_add(Self::OFFSET));
            bytes
                .and_then(|bytes| Layout::from_size_align(bytes, align_of::<usize>().max(align_of::<T>())).ok())
                .expect("slice size overflows isize")
        }

        /// The length and the first element of the allocation at `addr`.
        ///
        /// # Safety
        /// `addr` came from [`Pointable::init`] of this type and was not dropped.
        unsafe fn parts(addr: usize) -> (usize, *mut T) {
            let base = addr as *mut u8;
            // SAFETY: `init` wrote the length at the start and the elements at `OFFSET`.
            unsafe { (base.cast::<usize>().read(), base.add(Self::OFFSET).cast::<T>()) }
        }
    }

    /// A slice allocation made and filled but not published: what [`Pointable::init`] takes.
    struct Prepared<T> {
        addr: usize,
        _elements: PhantomData<T>,
    }

    impl<T> Elements<T> {
        /// One allocation of `layout(len)` holding the length and `element(i)` for each index,
        /// each written in place. (If `element` panics, the allocation leaks, half written and
        /// never read; no `element` in this crate panics.)
        fn prepare(len: usize, mut element: impl FnMut(usize) -> T) -> Prepared<T> {
            let layout = Self::layout(len);
            // The layout's size is at least `OFFSET` (one `usize`), so not zero.
            let base = raw::alloc_zeroed(layout).as_ptr();
            // SAFETY: `base` is a fresh allocation of `layout`: room for the length at the start
            // and `len` elements of `T` at `OFFSET`, aligned for both.
            unsafe {
                base.cast::<usize>().write(len);
                let first = base.add(Self::OFFSET).cast::<T>();
                for i in 0..len {
                    first.add(i).write(element(i));
                }
            }
            Prepared { addr: base as usize, _elements: PhantomData }
        }
    }

    // The trait's contract (its methods are `unsafe`): `init` takes one allocation of
    // `layout(len)` holding the length and the elements (`prepare`); `deref`/`deref_mut` view
    // exactly those elements; `drop` drops them in place and frees the allocation with the same
    // layout. The address is aligned for `usize` and `T` (`ALIGN`).
    impl<T> Pointable for Elements<T> {
        const ALIGN: usize = if align_of::<T>() > align_of::<usize>() { align_of::<T>() } else { align_of::<usize>() };

        type Init = Prepared<T>;

        unsafe fn init(prepared: Prepared<T>) -> usize {
            prepared.addr
        }

        unsafe fn deref<'a>(addr: usize) -> &'a Self {
            // SAFETY: crossbeam passes an address from `init` that was not dropped.
            let (len, first) = unsafe { Self::parts(addr) };
            // SAFETY: `len` initialised elements from `first`; `Elements<T>` is a transparent
            // `[T]`.
            unsafe { &*(ptr::slice_from_raw_parts(first, len) as *const Elements<T>) }
        }

        unsafe fn deref_mut<'a>(addr: usize) -> &'a mut Self {
            // SAFETY: as in `deref`; crossbeam hands out `&mut` only to the owner.
            let (len, first) = unsafe { Self::parts(addr) };
            // SAFETY: as in `deref`.
            unsafe { &mut *(ptr::slice_from_raw_parts_mut(first, len) as *mut Elements<T>) }
        }

        unsafe fn drop(addr: usize) {
            // SAFETY: as in `deref`; the elements are dropped once, then the allocation freed
            // with the layout `init` used.
            unsafe {
                let (len, first) = Self::parts(addr);
                ptr::drop_in_place(ptr::slice_from_raw_parts_mut(first, len));
                raw::dealloc(NonNull::new_unchecked(addr as *mut u8), Self::layout(len));
            }
        }
    }

    /// An atomically replaceable heap slice of `T` (module docs).
    pub(crate) struct SharedSlice<T> {
        ptr: Atomic<Elements<T>>,
    }

    impl<T> SharedSlice<T> {
        const NO_DROP_GLUE: () = assert!(!std::mem::needs_drop::<T>(), "invariant 4");

        /// The empty slice (allocates nothing).
        pub(crate) const fn empty() -> SharedSlice<T> {
            let () = Self::NO_DROP_GLUE;
            SharedSlice { ptr: Atomic::null() }
        }

        /// The current slice, valid while both `self` and `guard` are borrowed.
        #[inline]
        pub(crate) fn load<'a>(&'a self, guard: &'a Guard) -> &'a [T] {
            // SAFETY: the slice stays allocated while `guard` is pinned and `self` is borrowed
            // (invariant 3).
            unsafe { self.load_with(&guard.0) }
        }

        /// The current slice, without pinning, for the one thread that may replace it.
        ///
        /// # Safety
        /// No other thread calls [`replace`](Self::replace) on `self` while the returned slice
        /// is in use, and the caller does not use it after calling `replace` itself (a replaced
        /// slice may be freed as soon as no *pinned* reader holds it).
        #[inline]
        pub(crate) unsafe fn load_exclusive(&self) -> &[T] {
            // SAFETY: nothing retires the current slice while the caller uses it (the caller's
            // promise), so it stays allocated without a pin; `unprotected` is for exactly that.
            unsafe { self.load_with(crossbeam_epoch::unprotected()) }
        }

        /// The current slice, loaded under `guard`.
        ///
        /// # Safety
        /// The slice loaded stays allocated for `'a`: `guard` is pinned, or nothing retires it
        /// meanwhile.
        #[inline]
        unsafe fn load_with<'a>(&'a self, guard: &'a crossbeam_epoch::Guard) -> &'a [T] {
            let shared = self.ptr.load(Ordering::Acquire, guard);
            // SAFETY: the pointer is null or a slice allocation (invariant 1), allocated for
            // `'a` (the caller). Every element was written before the pointer was published,
            // and the `Acquire` load above makes those writes visible (invariant 1).
            unsafe { shared.as_ref() }.map_or(&[], |elements| &elements.0)
        }

        /// Publish a slice of `len` elements made by `element(i)` in place of the current one,
        /// which is retired (freed once every reader pinned now has unpinned). Every element
        /// is made before the new slice is published.
        pub(crate) fn replace(&self, len: usize, element: impl FnMut(usize) -> T) {
            self.replace_filled(len, element, |_| ());
        }

        /// As [`replace`](Self::replace), and `fill` sees the new slice before it is published:
        /// for a caller that must fill the elements (atomics) in an order of its own — a hash
        /// table placing entries by their hash — before anyone sees them. (If `fill` panics,
        /// the new slice leaks and the current one stays.)
        pub(crate) fn replace_filled(&self, len: usize, element: impl FnMut(usize) -> T, fill: impl FnOnce(&[T])) {
            let prepared = Elements::prepare(len, element);
            // SAFETY: `prepared` holds `len` elements written by `prepare`, seen by no other
            // thread and not freed (it is published or leaked below, never dropped).
            fill(unsafe { &Elements::<T>::deref(prepared.addr).0 });
            let new = Owned::<Elements<T>>::init(prepared);
            let guard = pin();
            let old = self.ptr.swap(new, Ordering::AcqRel, &guard.0);
            // SAFETY: null or a slice allocation (invariant 1), and `guard` is pinned.
            if let Some(elements) = unsafe { old.as_ref() } {
                let bytes = Elements::<T>::layout(elements.0.len()).size();
                super::count_retired(bytes);
                // SAFETY: `old` left `ptr` through this swap, so no other `replace` retires it
                // (invariant 2), and new readers can no longer load it; readers that loaded it
                // are pinned, and the collector frees it after they unpin (invariant 3). Its
                // elements need no drop (invariant 4).
                unsafe {
                    guard.0.defer_unchecked(move || {
                        drop(old.into_owned());
                        super::count_freed(bytes);
                    });
                }
                // Hand it to the collector now: left in this thread's bag it would wait there
                // until 64 more things are retired here, or the thread ends — for ever, for a
                // thread that grew one large vector.
                guard.0.flush();
            }
        }
    }

    impl<T> Drop for SharedSlice<T> {
        fn drop(&mut self) {
            // SAFETY: `&mut self`: no slice loaded from `self` is alive (invariant 3), and no
            // other thread can load it any more; the current pointer is null or an allocation
            // of crossbeam's that nothing else will free (invariant 2).
            unsafe {
                let current = self.ptr.load(Ordering::Relaxed, crossbeam_epoch::unprotected());
                if !current.is_null() {
                    drop(current.into_owned());
                }
            }
        }
    }
}

#[cfg(any(gc_loom, all(miri, not(gc_miri_epoch))))]
mod model {
    use std::sync::Mutex;

    use crate::primitive::sync::atomic::{AtomicPtr, Ordering};

    /// Pinning is not modelled.
    pub(crate) struct Guard;

    /// Pin (nothing to do in the model).
    pub(crate) fn pin() -> Guard {
        Guard
    }

    /// The model's flag is never set: what a caller retires is kept until the caller itself
    /// is dropped, as the model keeps replaced slices.
    pub(crate) struct Reclaimed;

    impl Reclaimed {
        /// A flag that stays clear.
        pub(crate) fn new() -> Reclaimed {
            Reclaimed
        }

        /// Never.
        pub(crate) fn is_set(&self) -> bool {
            false
        }
    }

    /// Nothing to move on in the model.
    pub(crate) fn nudge() {}

    /// The model never frees what it retires (as it keeps replaced slices): it leaks.
    ///
    /// # Safety
    /// As for the production `retire_allocation`.
    pub(crate) unsafe fn retire_allocation(ptr: std::ptr::NonNull<u8>, layout: std::alloc::Layout) {
        let _ = (ptr, layout);
    }

    /// The model: an atomic pointer (loom's under loom) to a boxed slice; replaced slices are
    /// kept until the `SharedSlice` is dropped (`&mut self`: no reader is left).
    pub(crate) struct SharedSlice<T> {
        ptr: AtomicPtr<Box<[T]>>,
        retired: Mutex<Vec<*mut Box<[T]>>>,
    }

    // SAFETY: the pointers are owned boxes of `T`, shared as `&[T]`.
    unsafe impl<T: Send + Sync> Send for SharedSlice<T> {}
    // SAFETY: as above.
    unsafe impl<T: Send + Sync> Sync for SharedSlice<T> {}

    impl<T> SharedSlice<T> {
        /// The empty slice.
        pub(crate) fn empty() -> SharedSlice<T> {
            SharedSlice { ptr: AtomicPtr::new(std::ptr::null_mut()), retired: Mutex::new(Vec::new()) }
        }

        /// The current slice.
        pub(crate) fn load<'a>(&'a self, _guard: &'a Guard) -> &'a [T] {
            let p = self.ptr.load(Ordering::Acquire);
            // SAFETY: null or a leaked box, freed only by `drop` (`&mut self`).
            unsafe { p.as_ref().map_or(&[], |b| &b[..]) }
        }

        /// The current slice (the model never frees a slice before drop).
        ///
        /// # Safety
        /// As for the production `load_exclusive`.
        pub(crate) unsafe fn load_exclusive(&self) -> &[T] {
            self.load(&Guard)
        }

        /// Publish a new slice; keep the old one until drop.
        pub(crate) fn replace(&self, len: usize, element: impl FnMut(usize) -> T) {
            self.replace_filled(len, element, |_| ());
        }

        /// Make a new slice, let `fill` see it, publish it; keep the old one until drop.
        pub(crate) fn replace_filled(&self, len: usize, element: impl FnMut(usize) -> T, fill: impl FnOnce(&[T])) {
            let new: Box<[T]> = (0..len).map(element).collect();
            fill(&new);
            let old = self.ptr.swap(Box::into_raw(Box::new(new)), Ordering::AcqRel);
            if !old.is_null() {
                // SAFETY: a leaked box, freed only by `drop` (`&mut self`).
                super::count_retired(std::mem::size_of_val::<[T]>(unsafe { &**old }));
                self.retired.lock().unwrap_or_else(|e| e.into_inner()).push(old);
            }
        }
    }

    impl<T> Drop for SharedSlice<T> {
        fn drop(&mut self) {
            let current = self.ptr.load(Ordering::Relaxed);
            let retired = self.retired.get_mut().unwrap_or_else(|e| e.into_inner());
            for p in retired.drain(..) {
                // SAFETY: each pointer came from `Box::into_raw` and is freed once, here.
                let slice = unsafe { Box::from_raw(p) };
                super::count_freed(std::mem::size_of_val::<[T]>(&**slice));
            }
            if !current.is_null() {
                // SAFETY: as above.
                drop(unsafe { Box::from_raw(current) });
            }
        }
    }
}

#[cfg(all(test, not(gc_loom)))]
mod tests {
    use std::sync::{
        atomic::{AtomicBool, Ordering},
        Barrier,
    };

    use super::{pin, SharedSlice};

    #[test]
    fn a_pinned_reader_keeps_its_slice_while_the_writer_replaces_it_many_times() {
        const REPLACEMENTS: usize = if cfg!(miri) { 300 } else { 20_000 };
        let slice = SharedSlice::<usize>::empty();
        assert!(slice.load(&pin()).is_empty());
        slice.replace(8, |i| i);
        let (loaded, done) = (Barrier::new(2), AtomicBool::new(false));
        std::thread::scope(|s| {
            s.spawn(|| {
                let guard = pin();
                let held = slice.load(&guard);
                loaded.wait();
                // The writer replaces (and retires) slices meanwhile; this one stays intact.
                while !done.load(Ordering::Acquire) {
                    assert_eq!(held, [0, 1, 2, 3, 4, 5, 6, 7]);
                    std::thread::yield_now();
                }
                assert_eq!(held, [0, 1, 2, 3, 4, 5, 6, 7]);
            });
            loaded.wait();
            for n in 1..=REPLACEMENTS {
                slice.replace(n % 16, |i| i * n);
                // Other readers pin and unpin, so the epoch advances and older slices are freed.
                let guard = pin();
                let now = slice.load(&guard);
                assert_eq!(now.len(), n % 16);
                assert!(now.iter().enumerate().all(|(i, &x)| x == i * n));
            }
            done.store(true, Ordering::Release);
        });
        assert_eq!(slice.load(&pin()).len(), REPLACEMENTS % 16);
    }
}
