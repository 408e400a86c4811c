//! The one audited funnel to the system allocator.
//!
//! Pages and large objects are the only memory the collector takes from the system; both come
//! from here, so every raw allocation and deallocation in the crate can be found in one file.
//! Clippy enforces it: `clippy.toml` at the workspace root disallows the `std::alloc` functions,
//! and this module alone is allowed to call them.

#![allow(clippy::disallowed_methods)]

use std::{alloc::Layout, ptr::NonNull};

/// Allocate a zero-initialised block for `layout`, or abort on exhaustion as `Box` does.
///
/// # Panics
/// If `layout` has size zero (the system allocator's precondition; every caller allocates a
/// page or an object with a header, so this is a bug in the collector).
pub(crate) fn alloc_zeroed(layout: Layout) -> NonNull<u8> {
    assert!(layout.size() > 0, "raw::alloc_zeroed of a zero-sized layout");
    // SAFETY: `layout` has a non-zero size (asserted above).
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
