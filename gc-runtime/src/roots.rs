//! The root table: owned, registered pointers that live across safepoints.
//!
//! # Structure
//!
//! Roots are cells in chunks of 256 that are never freed; a [`Root`] owns one cell. Creating a
//! root takes a free cell (or a new chunk) under the table's lock; the marker scans a snapshot
//! of the chunk list without the lock, loading each cell atomically. Roots created after the
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

use parking_lot::{Mutex, MutexGuard};

use crate::{
    barrier,
    gc::Gc,
    header::{GcBox, Header},
    mutator::Mutator,
    phase,
    primitive::sync::atomic::{AtomicPtr, AtomicUsize, Ordering},
    runtime::Runtime,
    shade::{self, ShadeBuffer},
    trace::{Trace, Tracer},
};

const CHUNK: usize = 256;

struct RootCell {
    ptr: AtomicPtr<Header>,
}

type Chunk = [RootCell; CHUNK];

/// Root table state behind the lock.
pub(crate) struct RootInner {
    chunks: Vec<&'static Chunk>,
    free: Vec<&'static RootCell>,
    /// Grey objects shaded by root drops on threads without a shade buffer.
    pub(crate) orphan_shades: ShadeBuffer,
}

/// All roots.
pub(crate) struct RootTable {
    inner: Mutex<RootInner>,
    live: AtomicUsize,
}

impl Default for RootTable {
    fn default() -> Self {
        RootTable {
            inner: Mutex::new(RootInner {
                chunks: Vec::new(),
                free: Vec::new(),
                orphan_shades: ShadeBuffer::default(),
            }),
            live: AtomicUsize::new(0),
        }
    }
}

impl RootTable {
    fn acquire(&self) -> &'static RootCell {
        let mut inner = self.inner.lock();
        self.live.fetch_add(1, Ordering::Relaxed);
        if let Some(cell) = inner.free.pop() {
            return cell;
        }
        let chunk: &'static Chunk =
            Box::leak(Box::new(std::array::from_fn(|_| RootCell { ptr: AtomicPtr::new(std::ptr::null_mut()) })));
        inner.chunks.push(chunk);
        inner.free.extend(chunk[1..].iter().rev());
        &chunk[0]
    }

    /// Lock the table: the collector holds this while it flips the barrier (see module docs).
    pub(crate) fn lock(&self) -> MutexGuard<'_, RootInner> {
        self.inner.lock()
    }

    /// Call `f` with every non-null root pointer.
    pub(crate) fn for_each(&self, mut f: impl FnMut(*const Header)) {
        let chunks = self.inner.lock().chunks.clone();
        for chunk in chunks {
            for cell in chunk.iter() {
                // Acquire: pairs with the Release store that published the root, so the
                // referent's header is visible to whoever scans it.
                let p = cell.ptr.load(Ordering::Acquire);
                if !p.is_null() {
                    f(p);
                }
            }
        }
    }

    /// Call `f` with every non-null root pointer, with the table already locked by the caller.
    pub(crate) fn for_each_locked(inner: &RootInner, mut f: impl FnMut(*const Header)) {
        for chunk in &inner.chunks {
            for cell in chunk.iter() {
                let p = cell.ptr.load(Ordering::Acquire);
                if !p.is_null() {
                    f(p);
                }
            }
        }
    }

    /// Number of live roots.
    pub(crate) fn len(&self) -> usize {
        self.live.load(Ordering::Relaxed)
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
    cell: &'static RootCell,
    _t: PhantomData<T>,
}

impl<T: Trace + Send + Sync + 'static> Root<T> {
    /// Register a root for `gc`.
    pub fn new(mu: &Mutator, gc: Gc<'_, T>) -> Root<T> {
        let rt = mu.runtime();
        let cell = rt.roots.acquire();
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
        inner.free.push(self.cell);
        rt.roots.live.fetch_sub(1, Ordering::Relaxed);
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
