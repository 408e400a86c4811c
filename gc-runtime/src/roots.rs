//! The root table: owned, registered pointers that live across safepoints.
//!
//! # Structure
//!
//! Roots are pointer cells (see `cells.rs`); a [`Root`] owns one. Creating a root takes a free
//! cell under the table's lock; the marker scans a snapshot of the chunk list without the lock,
//! loading each cell atomically. Roots created after the
//! snapshot are shaded when created, like any barriered store.
//!
//! # Dropping a root on any thread
//!
//! A root may be dropped on a thread that is not attached. Under the Yuasa and hybrid
//! barriers, deleting a pointer while marking must shade it, and such a thread has no shade
//! buffer and does not hold up a pause. So a drop clears its cell *and* tests the barrier under
//! the table lock, shading into the table's own buffer; the collector takes the same lock
//! when it turns the barrier on and when it terminates marking, and drains that buffer then.
//! Either the drop happens before termination (its shade is seen) or after (the barrier is
//! off and the old referent, marked because it was in a root, needs nothing).

use std::{fmt, marker::PhantomData, ptr::NonNull};

use crate::primitive::sync::{Mutex, MutexGuard};

use crate::{
    barrier,
    cells::{CellPool, PtrCell},
    gc::Gc,
    header::{GcBox, Header, ObjPtr},
    mutator::Mutator,
    phase,
    primitive::sync::atomic::Ordering,
    runtime::Runtime,
    shade::{self, GreyQueue, ShadeBuffer},
    trace::{Trace, Tracer},
    variance::Invariant,
};

/// Root table state behind the lock.
pub(crate) struct RootInner {
    cells: CellPool,
    /// Grey objects shaded by root drops on threads without a shade buffer.
    pub(crate) orphan_shades: ShadeBuffer,
    /// Objects kept alive for the rest of the process because a mutator was leaked on a thread
    /// that exited (see `mutator.rs`, "Threads that exit"): roots without a handle.
    pinned: Vec<ObjPtr>,
}

/// All roots.
pub(crate) struct RootTable {
    inner: Mutex<RootInner>,
}

impl Default for RootTable {
    fn default() -> Self {
        RootTable {
            inner: Mutex::new(RootInner {
                cells: CellPool::default(),
                orphan_shades: ShadeBuffer::default(),
                pinned: Vec::new(),
            }),
        }
    }
}

impl RootTable {
    /// Lock the table: the collector holds this while it flips the barrier (see module docs).
    pub(crate) fn lock(&self) -> MutexGuard<'_, RootInner> {
        self.inner.lock()
    }

    /// Call `f` with every non-null root pointer (pinned objects included).
    pub(crate) fn for_each(&self, mut f: impl FnMut(*const Header)) {
        let (chunks, pinned) = {
            let inner = self.inner.lock();
            (inner.cells.chunks(), inner.pinned.clone())
        };
        CellPool::for_each_in(&chunks, |_, p| f(p));
        pinned.iter().for_each(|p| f(p.as_ptr()));
    }

    /// Call `f` with every non-null root pointer, with the table already locked by the caller.
    pub(crate) fn for_each_locked(inner: &RootInner, mut f: impl FnMut(*const Header)) {
        CellPool::for_each_in(&inner.cells.chunks(), |_, p| f(p));
        inner.pinned.iter().for_each(|p| f(p.as_ptr()));
    }

    /// Number of live roots.
    pub(crate) fn len(&self) -> usize {
        self.inner.lock().cells.live()
    }

    /// Number of pinned objects.
    pub(crate) fn pinned(&self) -> usize {
        self.inner.lock().pinned.len()
    }
}

impl RootInner {
    /// Pin `objs` for the rest of the process (world stopped). While marking, they are shaded
    /// now (into the orphan buffer the collector drains at termination); at every later mark
    /// start they are scanned with the roots.
    ///
    /// # Safety
    /// Every object in `objs` is allocated, and the world is stopped.
    pub(crate) unsafe fn pin(&mut self, objs: Vec<NonNull<Header>>, grey: &GreyQueue) {
        if phase::barrier_on() {
            let epoch = phase::mark_epoch();
            for &o in &objs {
                // SAFETY: allocated (the caller).
                unsafe { shade::shade(o.as_ptr(), epoch, &mut self.orphan_shades, grey) };
            }
        }
        self.pinned.extend(objs.into_iter().map(ObjPtr));
    }
}

/// An owned, registered pointer that keeps its object alive across safepoints and threads.
///
/// Reading it needs a mutator ([`Root::get`]), and gives a local. A root can be sent to and
/// dropped on any thread, attached or not.
///
/// ```
/// use gc_runtime::{Root, Mutator};
/// let mut mu = gc_runtime::attach();
/// let root: Root<String> = mu.alloc(String::from("kept")).root(&mu);
/// mu.safepoint(); // locals die here, the root does not
/// assert_eq!(*root.get(&mu), "kept");
/// ```
pub struct Root<T: 'static> {
    cell: &'static PtrCell,
    /// Invariant in `T` (see `variance.rs`).
    _t: Invariant<T>,
}

impl<T: Trace + Send + Sync + 'static> Root<T> {
    /// Register a root for `gc`.
    pub fn new(mu: &Mutator, gc: Gc<'_, T>) -> Root<T> {
        let rt = mu.runtime();
        let cell = rt.roots.inner.lock().cells.acquire();
        let new = gc.header_ptr();
        // Release: publishes the object to root scanners (Acquire in `for_each`).
        cell.ptr.store(new, Ordering::Release);
        if phase::barrier_on() {
            // A new root is an insertion: shade it under every barrier kind (the object may
            // have been read from a slot the marker has not scanned yet).
            mu.shade(new);
        }
        Root { cell, _t: PhantomData }
    }

    /// The object, as a local of `mu`.
    pub fn get<'m>(&self, mu: &'m Mutator) -> Gc<'m, T> {
        let p = self.cell.ptr.load(Ordering::Acquire);
        // SAFETY: a root cell owned by a `Root<T>` always holds a non-null pointer to a live
        // `GcBox<T>` (set in `new`/`set`, cleared only in `drop`); the object is alive
        // because roots are scanned.
        unsafe { Gc::from_raw(NonNull::new_unchecked(p.cast::<GcBox<T>>()), mu) }
    }

    /// Point the root at another object (runs the write barrier).
    pub fn set(&self, gc: Gc<'_, T>) {
        barrier::write_root(&self.cell.ptr, gc.header_ptr());
    }
}

impl<T: 'static> Drop for Root<T> {
    fn drop(&mut self) {
        let rt = Runtime::get();
        let mut inner = rt.roots.inner.lock();
        let old = self.cell.ptr.swap(std::ptr::null_mut(), Ordering::AcqRel);
        if phase::barrier_on() && barrier::active().shades_old() {
            // SAFETY: `old` was in a root until the swap, so it is allocated; the table lock
            // keeps marking from terminating meanwhile (module docs).
            unsafe { shade::shade(old, phase::mark_epoch(), &mut inner.orphan_shades, &rt.grey) };
        }
        inner.cells.release(self.cell);
    }
}

// SAFETY: a root is a strong reference held outside the heap; the marker scans the root table
// directly, so a root inside an object reports nothing (and keeps its referent alive like an
// `Arc` would).
unsafe impl<T: 'static> Trace for Root<T> {
    const NEEDS_TRACE: bool = false;
    fn trace(&self, _tracer: &mut Tracer<'_>) {}
}

impl<T: 'static> fmt::Debug for Root<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Root<{}>({:p})", std::any::type_name::<T>(), self.cell.ptr.load(Ordering::Relaxed))
    }
}

/// A root that can live in a `static`: the global root set for long-lived structures (an
/// interpreter's globals, a cache). Empty until set; any thread may set, read or clear it.
///
/// ```
/// use gc_runtime::GlobalRoot;
///
/// static CONFIG: GlobalRoot<String> = GlobalRoot::new();
///
/// let mut mu = gc_runtime::attach();
/// CONFIG.set(&mu, mu.alloc(String::from("verbose")));
/// mu.collect();
/// assert_eq!(*CONFIG.get(&mu).unwrap(), "verbose");
/// CONFIG.clear();
/// assert!(CONFIG.get(&mu).is_none());
/// ```
pub struct GlobalRoot<T: 'static> {
    root: Mutex<Option<Root<T>>>,
}

impl<T: 'static> GlobalRoot<T> {
    /// An empty global root (usable in a `static` initialiser).
    pub const fn new() -> GlobalRoot<T> {
        GlobalRoot { root: Mutex::new(None) }
    }

    /// Forget the object (it can be collected if nothing else holds it).
    pub fn clear(&self) {
        let old = self.root.lock().take();
        drop(old);
    }
}

impl<T: Trace + Send + Sync + 'static> GlobalRoot<T> {
    /// Point the global root at `gc`'s object.
    pub fn set(&self, mu: &Mutator, gc: Gc<'_, T>) {
        let mut root = self.root.lock();
        match &*root {
            Some(r) => r.set(gc),
            None => *root = Some(Root::new(mu, gc)),
        }
    }

    /// The object, if set.
    pub fn get<'m>(&self, mu: &'m Mutator) -> Option<Gc<'m, T>> {
        self.root.lock().as_ref().map(|r| r.get(mu))
    }
}

impl<T: 'static> Default for GlobalRoot<T> {
    fn default() -> Self {
        GlobalRoot::new()
    }
}

impl<T: 'static> fmt::Debug for GlobalRoot<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &*self.root.lock() {
            Some(r) => write!(f, "GlobalRoot({r:?})"),
            None => write!(f, "GlobalRoot(empty)"),
        }
    }
}
