//! A hint to the processor: start loading a cache line that will be read soon.
//!
//! The mark loop is bound by memory latency: most of its time is the first read of each newly
//! found object's header. The object is marked at once (its bit is beside it, not in the
//! header); prefetching the header then, and reading it to push the object a few steps later
//! (see "Prefetching" in `marker/mod.rs`), overlaps those misses. A prefetch never faults and
//! has no effect on the program's semantics; on other architectures (and under Miri) this is a
//! no-op.

/// Hint that `p` will be read soon.
#[inline(always)]
pub(crate) fn prefetch_read<T>(p: *const T) {
    #[cfg(all(target_arch = "x86_64", not(miri)))]
    // SAFETY: `prefetcht0` is in SSE, which every x86_64 processor has; a prefetch does not
    // access memory architecturally, so any address is allowed.
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(p.cast::<i8>());
    }
    #[cfg(any(not(target_arch = "x86_64"), miri))]
    let _ = p;
}
