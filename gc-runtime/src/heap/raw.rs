//! The one audited funnel to the system allocator.
//!
//! Pages and large objects are the only memory the collector takes from the system; both come
//! from here, so every raw allocation and deallocation in the crate can be found in one file.

use std::{alloc::Layout, ptr::NonNull};

/// Allocate a zero-initialised block for `layout` (non-zero size), or abort on exhaustion as
/// `Box` does.
pub(crate) fn alloc_zeroed(layout: Layout) -> NonNull<u8> {
    debug_assert!(layout.size() > 0);
    // SAFETY: `layout` has a non-zero size (all callers allocate pages or objects with a
    // 16-byte header).
    let p = unsafe { std::alloc::alloc_zeroed(layout) };
    NonNull::new(p).unwrap_or_else(|| std::alloc::handle_alloc_error(layout))
}

/// Return a block obtained from [`alloc_zeroed`].
///
/// # Safety
/// `ptr` was returned by `alloc_zeroed(layout)` with this same `layout` and is not used again.
pub(crate) unsafe fn dealloc(ptr: NonNull<u8>, layout: Layout) {
    // SAFETY: guaranteed by the caller.
    unsafe { std::alloc::dealloc(ptr.as_ptr(), layout) }
}
