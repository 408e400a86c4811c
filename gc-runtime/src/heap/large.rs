//! Large objects: anything over [`MAX_SMALL`](super::size_class::MAX_SMALL) bytes, or aligned
//! beyond 16, gets its own block from the system allocator.
//!
//! They sit on one locked list. The sweeper takes the whole list out, frees the dead and puts
//! the survivors back, so allocation (which pushes onto the list) never waits for a sweep.

use std::{alloc::Layout, ptr::NonNull};

use crate::primitive::sync::Mutex;

use super::{page::SweepResult, raw};
use crate::header::Header;

struct LargeObject {
    ptr: NonNull<Header>,
    layout: Layout,
}

// SAFETY: a `LargeObject` owns its block; the object in it is `Send + Sync`.
unsafe impl Send for LargeObject {}

/// The list of large objects.
#[derive(Default)]
pub(crate) struct LargeObjects {
    list: Mutex<Vec<LargeObject>>,
}

impl LargeObjects {
    /// Allocate an uninitialised block for one object with `layout`.
    pub(crate) fn alloc(&self, layout: Layout) -> NonNull<u8> {
        let ptr = raw::alloc_zeroed(layout);
        self.list.lock().push(LargeObject { ptr: ptr.cast(), layout });
        ptr
    }

    /// Free every large object whose mark is older than `epoch`.
    ///
    /// Call with an initialised header in every listed block (the allocating mutator writes
    /// the object before it can reach a safepoint, and sweeping runs after a safepoint).
    pub(crate) fn sweep(&self, epoch: u64) -> SweepResult {
        let taken = std::mem::take(&mut *self.list.lock());
        let mut result = SweepResult::default();
        let mut survivors = Vec::with_capacity(taken.len());
        for obj in taken {
            // SAFETY: the block holds an initialised header (see above) and the object has not
            // been freed: it is still on the list.
            let header = unsafe { obj.ptr.as_ref() };
            if header.mark_epoch() >= epoch {
                survivors.push(obj);
                continue;
            }
            // SAFETY: the object is dead: nothing can reach it; it is dropped exactly once and
            // its block freed right after.
            if !unsafe { super::run_destructor(obj.ptr.as_ptr()) } {
                result.drop_panics += 1;
            }
            result.freed_objects += 1;
            result.freed_bytes += obj.layout.size();
            // SAFETY: the block came from `raw::alloc_zeroed(obj.layout)` and is dead.
            unsafe { raw::dealloc(obj.ptr.cast(), obj.layout) };
        }
        result.live_objects = survivors.len();
        self.list.lock().append(&mut survivors);
        result
    }

    /// Number of large objects and their total bytes.
    pub(crate) fn usage(&self) -> (usize, usize) {
        let l = self.list.lock();
        (l.len(), l.iter().map(|o| o.layout.size()).sum())
    }
}
