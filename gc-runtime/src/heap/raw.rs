//! The one audited funnel to the system's memory.
//!
//! Pages and large objects are the only memory the collector takes from the system; both come
//! from here, so every raw allocation, mapping and release in the crate can be found in one
//! file. Clippy enforces it for the allocator: `clippy.toml` at the workspace root disallows the
//! `std::alloc` functions, and this module alone is allowed to call them.
//!
//! # Page memory
//!
//! Pages come from anonymous memory mappings ([`PageRun`]: [`RUN_PAGES`] pages each, 2 MiB,
//! aligned to their size, so that a page's base address is a multiple of `PAGE_BYTES`, and the
//! first page of each holds the mark bits of the others, see `mark_bits.rs`), taken
//! from the system by `memmap2` and never unmapped: page descriptors are never freed either.
//! (In interleaved runs on a busy 2-core machine, aligning runs to 2 MiB rather than to the page
//! size raised the mark rate of 4M objects from 75–77M to 85–91M objects/s; why is not
//! established — no transparent huge pages were in use. Asking for them, `MADV_HUGEPAGE`, added
//! nothing to marking and cost binary-trees 10 % of its time, so it is not done.) A page that
//! has been empty for a while is *released* — `madvise(MADV_DONTNEED)`, through `memmap2` — so
//! the OS takes its physical memory back while the address range stays ours; the next write
//! faults in fresh zeroed memory. On platforms without `madvise`, and under Miri (which has no
//! such call), [`PageRun::release`] does nothing and says so.

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
    let p = NonNull::new(p).unwrap_or_else(|| std::alloc::handle_alloc_error(layout));
    below_immediates(p, layout.size());
    p
}

/// Refuse memory that reaches [`IMMEDIATE_MIN`](crate::slot::IMMEDIATE_MIN): a slot value
/// from there on is an immediate (a `TaggedMember`'s number or integer, see `tagged.rs`), so
/// an object there would be taken for one and never marked. Current 64-bit systems hand
/// programs addresses below 2^47 (x86-64) or 2^48 (AArch64) unless asked for more; this
/// test, made once per page run or large object, turns any other system into a clear panic
/// rather than an object freed while reachable.
fn below_immediates(start: NonNull<u8>, len: usize) {
    let end = start.addr().get().checked_add(len);
    assert!(
        end.is_some_and(|end| end <= crate::slot::IMMEDIATE_MIN),
        "the system gave the collector memory at {start:p} ({len} bytes), at or above 2^48: \
         the collector needs its heap below 2^48, where no slot value is an immediate"
    );
}

/// Return a block of the global allocator: one from [`alloc_zeroed`], or a `Box`'s.
///
/// # Safety
/// `ptr` was allocated by the global allocator with this same `layout` (by `alloc_zeroed`, or
/// as a `Box` of a type of this layout) and is not used again.
pub(crate) unsafe fn dealloc(ptr: NonNull<u8>, layout: Layout) {
    // SAFETY: guaranteed by the caller.
    unsafe { std::alloc::dealloc(ptr.as_ptr(), layout) }
}

pub(crate) use crate::mark_bits::RUN_PAGES;
use crate::mark_bits::{self, RunMarks};

/// One mapping of [`RUN_PAGES`] pages of `page_bytes` each, aligned to its size. Leaked:
/// it lives as long as the process.
pub(crate) struct PageRun {
    /// The aligned start of the first page.
    start: NonNull<u8>,
    /// Where `start` lies in the mapping, for `madvise`.
    offset: usize,
    page_bytes: usize,
    /// The marks of the run's pages, in its first page (see `mark_bits.rs`).
    marks: &'static RunMarks,
    /// The mapping (kept for `madvise`; dropping it would unmap the pages).
    #[cfg(not(miri))]
    #[cfg_attr(not(unix), allow(dead_code))]
    map: memmap2::MmapRaw,
}

// SAFETY: a `PageRun` is an address range owned by the heap for the life of the process; the
// memory in it is handed out page by page under the heap's ownership rules (`page.rs`).
unsafe impl Send for PageRun {}
// SAFETY: as for `Send`; `release` takes `&self` but is only called by a page's owner.
unsafe impl Sync for PageRun {}

impl PageRun {
    /// Map a new run of pages of `page_bytes` (a power of two, at least the OS page size),
    /// aligned to its size; or abort as an allocation failure would.
    pub(crate) fn map(page_bytes: usize) -> &'static PageRun {
        let bytes = RUN_PAGES * page_bytes;
        let layout = Layout::from_size_align(bytes, bytes).expect("page run layout");
        assert_eq!(bytes, mark_bits::RUN_BYTES, "runs have the size the mark bits' lookup expects");
        Box::leak(Box::new(Self::map_aligned(layout, page_bytes)))
    }

    /// The marks of the run's pages (in its first page, which holds no objects).
    pub(crate) fn marks(&self) -> &'static RunMarks {
        self.marks
    }

    #[cfg(not(miri))]
    fn map_aligned(layout: Layout, page_bytes: usize) -> PageRun {
        // One extra alignment's worth, to find an aligned start inside: the OS aligns mappings to
        // its own page size only. The slack is address space, never touched, never resident.
        let len = layout.size() + layout.align();
        let map: memmap2::MmapRaw = match memmap2::MmapOptions::new().len(len).map_anon() {
            Ok(map) => map.into(),
            Err(_) => std::alloc::handle_alloc_error(layout),
        };
        let base = map.as_mut_ptr();
        let offset = base.align_offset(layout.align());
        // SAFETY: `offset < align`, and the mapping is `size + align` bytes long, so the
        // aligned start and the `size` bytes after it are inside it.
        let start = unsafe { base.add(offset) };
        let start = NonNull::new(start).unwrap_or_else(|| std::alloc::handle_alloc_error(layout));
        below_immediates(start, layout.size());
        // SAFETY: `start` begins `layout.size()` fresh, writable, aligned bytes of this mapping.
        let marks = unsafe { mark_bits::register_run(start.as_ptr()) };
        PageRun { start, offset, page_bytes, marks, map }
    }

    /// Miri has no `mmap` of this kind: take the run from the allocator (and never release it).
    #[cfg(miri)]
    fn map_aligned(layout: Layout, page_bytes: usize) -> PageRun {
        let start = alloc_zeroed(layout);
        // SAFETY: a fresh, zeroed, aligned block of the run's size.
        let marks = unsafe { mark_bits::register_run(start.as_ptr()) };
        PageRun { start, offset: 0, page_bytes, marks }
    }

    /// The base address of page `i` of the run (`i < RUN_PAGES`).
    pub(crate) fn page(&self, i: usize) -> NonNull<u8> {
        assert!(i < RUN_PAGES);
        // SAFETY: page `i` starts inside the run (`i < RUN_PAGES`).
        unsafe { self.start.add(i * self.page_bytes) }
    }

    /// Give the memory of the page at `base` back to the OS: its contents are lost, its address
    /// stays valid, and the next access finds zeroes. Returns `false` where the platform cannot
    /// release memory (the page then keeps its memory and its contents).
    ///
    /// # Safety
    /// `base` is a page of this run, and nothing reads or writes the page's memory while this
    /// runs, nor relies on its contents afterwards (the page is empty and owned by the caller).
    pub(crate) unsafe fn release(&self, base: NonNull<u8>) -> bool {
        let index = (base.as_ptr() as usize - self.start.as_ptr() as usize) / self.page_bytes;
        debug_assert!(index < RUN_PAGES && self.page(index) == base);
        #[cfg(all(unix, not(miri)))]
        {
            let offset = self.offset + index * self.page_bytes;
            // SAFETY: the range is one page of this mapping (checked above in debug builds,
            // guaranteed by the caller); nothing holds a reference into it while the kernel
            // replaces its contents with zero-fill-on-demand memory (the caller's promise).
            let done =
                unsafe { self.map.unchecked_advise_range(memmap2::UncheckedAdvice::DontNeed, offset, self.page_bytes) };
            done.is_ok()
        }
        #[cfg(not(all(unix, not(miri))))]
        {
            let _ = (index, self.offset);
            false
        }
    }
}
