//! Large objects: anything over [`MAX_SMALL`](super::size_class::MAX_SMALL) bytes, or aligned
//! beyond 16, gets its own block from the system allocator.
//!
//! # Publication
//!
//! Listed objects are seen by every sweeper, on any thread, which reads their headers. So a
//! block is listed only once its object is fully written: [`LargeObjects::alloc`] hands out a
//! bare block, the allocating mutator writes the header and the value, and only then does
//! [`LargeObjects::publish`] put it on the list (the list's lock orders the writes before any
//! sweeper's reads). Until then no other thread knows the block exists.
//!
//! # Sweeping
//!
//! The objects sit on one locked list. A sweep holds the lock while it frees the dead that
//! need no drop and sets aside the dead that do (for the finalizer thread, see `finalize.rs`);
//! it runs no user code, so allocation (which pushes onto the list) waits at most for one pass
//! over the list.

use std::{alloc::Layout, ptr::NonNull};

use super::{page::SweepResult, raw};
use crate::{
    clock,
    object::Header,
    primitive::sync::{
        atomic::{AtomicUsize, Ordering},
        Mutex,
    },
};

/// One large object: its block and the layout it was allocated with.
pub(crate) struct LargeObject {
    ptr: NonNull<Header>,
    layout: Layout,
}

// SAFETY: a `LargeObject` owns its block; the object in it is `Send + Sync`.
unsafe impl Send for LargeObject {}

/// The list of large objects.
#[derive(Default)]
pub(crate) struct LargeObjects {
    list: Mutex<Vec<LargeObject>>,
    /// Bytes of every block allocated and not yet freed (listed, being written, or waiting for
    /// the finalizer).
    bytes: AtomicUsize,
}

impl LargeObjects {
    /// Allocate a block for one object with `layout`. It is not listed: write the object, then
    /// [`publish`](Self::publish) it.
    pub(crate) fn alloc(&self, layout: Layout) -> NonNull<u8> {
        self.bytes.fetch_add(layout.size(), Ordering::Relaxed);
        raw::alloc_zeroed(layout)
    }

    /// List a block from [`alloc`](Self::alloc) for sweeping.
    ///
    /// # Safety
    /// `ptr` came from `alloc(layout)`, is not listed yet, and holds an initialised object
    /// (header and value) marked for the current epoch.
    pub(crate) unsafe fn publish(&self, ptr: NonNull<u8>, layout: Layout) {
        // The lock (released after the push, acquired by every sweep) orders the object's
        // writes before any sweeper's reads.
        self.list.lock().push(LargeObject { ptr: ptr.cast(), layout });
    }

    /// Free every listed object that is dead for the current sweep epoch and needs no drop;
    /// return the dead that need drop, unlisted, for the finalizer. Runs under the list's lock
    /// (it runs no user code), with the epoch read under it: a sweep that starts after the
    /// collector published an epoch sweeps for that epoch, and one that started before has
    /// finished by then (see `central.rs` for the same rule).
    pub(crate) fn sweep(&self) -> (SweepResult, Vec<LargeObject>) {
        let mut list = self.list.lock();
        let epoch = clock::sweep_epoch();
        let taken = std::mem::take(&mut *list);
        let mut result = SweepResult::default();
        let mut survivors = Vec::with_capacity(taken.len());
        let mut to_finalize = Vec::new();
        for obj in taken {
            // SAFETY: listed objects are initialised (see "Publication") and not freed (they
            // are still listed).
            let header = unsafe { obj.ptr.as_ref() };
            if header.mark_epoch() >= epoch {
                survivors.push(obj);
            } else if header.desc().drop.is_some() {
                result.deferred += 1;
                to_finalize.push(obj);
            } else {
                // SAFETY: dead, nothing to drop, and unlisted: freed exactly once.
                result.add(unsafe { self.free(obj, false) });
            }
        }
        result.live_objects = survivors.len();
        *list = survivors;
        (result, to_finalize)
    }

    /// Run the destructor of a dead large object (if `run_destructor`) and free its block.
    ///
    /// # Safety
    /// `obj` is dead and no longer listed; this is the only call for it.
    pub(crate) unsafe fn free(&self, obj: LargeObject, run_destructor: bool) -> SweepResult {
        let mut result = SweepResult::default();
        // SAFETY: the object is dead: nothing can reach it; it is dropped exactly once and its
        // block freed right after.
        if run_destructor && !unsafe { super::run_destructor(obj.ptr.as_ptr()) } {
            result.drop_panics += 1;
        }
        result.freed_objects += 1;
        result.freed_bytes += obj.layout.size();
        self.bytes.fetch_sub(obj.layout.size(), Ordering::Relaxed);
        // SAFETY: the block came from `raw::alloc_zeroed(obj.layout)` and is dead.
        unsafe { raw::dealloc(obj.ptr.cast(), obj.layout) };
        result
    }

    /// Call `f` with every listed object, with the list locked.
    pub(crate) fn for_each(&self, mut f: impl FnMut(NonNull<Header>)) {
        for obj in self.list.lock().iter() {
            f(obj.ptr);
        }
    }

    /// Bytes of large objects allocated and not yet freed.
    pub(crate) fn bytes(&self) -> usize {
        self.bytes.load(Ordering::Relaxed)
    }
}
