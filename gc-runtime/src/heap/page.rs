//! Pages: 64 KiB blocks carved into equal slots of one size class.
//!
//! # Ownership
//!
//! At any moment a page has exactly one owner, and only the owner changes its format
//! ([`PageSlots`]: the class) and its allocation bitmap: a central list of its class (under
//! that list's lock), the empty-page pool (under its lock), a mutator's allocation cache, a
//! thread sweeping it after taking it out of a list, or the finalizer. Ownership moves only
//! through those locks, which order one owner's writes before the next owner's reads. Page
//! descriptors are never freed (they are reused across classes), so `&'static Page` is always
//! valid.
//!
//! Two exceptions. The mark words inside the slots: markers and barriers on any thread touch
//! them atomically (see [`crate::object::header`]) whoever owns the page. And the bitmap is atomic (the
//! owner's relaxed loads and stores compile to plain ones), so that with the world stopped the
//! collector can list every allocated object whoever owns its page
//! ([`Page::scan_allocated`], for pinning after a leaked mutator's thread ended).
//!
//! # Sweeping a page
//!
//! [`Page::sweep`] walks the allocation bitmap; an allocated slot whose mark is older than the
//! sweep epoch is dead. A dead object whose type needs no drop is freed at once (its bit is
//! cleared). One that needs drop is freed only by a sweep allowed to run destructors
//! ([`Destructors::Run`], the finalizer thread's — see `finalize.rs`); any other sweep leaves
//! it allocated and reports it as deferred, and the page does not count as swept.
//! `swept_epoch` records the epoch the page was last swept for completely, so nobody allocates
//! from a page that still holds dead objects.

use std::{cell::UnsafeCell, ptr::NonNull};

use super::{raw::PageRun, size_class::CLASS_SIZES};
use crate::{
    object::Header,
    primitive::sync::atomic::{AtomicU64, AtomicUsize, Ordering},
};

/// How far ahead of the header it reads the sweep prefetches.
const SWEEP_PREFETCH_BYTES: usize = 512;

/// Bytes per page. Pages are aligned to their size.
pub(crate) const PAGE_BYTES: usize = 64 * 1024;
const MAX_WORDS: usize = PAGE_BYTES / 16 / 64;

/// A page descriptor.
pub(crate) struct Page {
    mem: NonNull<u8>,
    /// The mapping `mem` belongs to, through which the page's memory goes back to the OS.
    run: &'static PageRun,
    swept_epoch: AtomicU64,
    /// The slot size of the current format, readable by anyone (see [`Page::scan_allocated`]);
    /// the owner's copy is in `slots`.
    shared_slot_size: AtomicUsize,
    /// The allocation bitmap: one bit per slot, set when allocated; bits past the last slot are
    /// always set. Only the owner writes it, with a relaxed load and store (one writer, so no
    /// read-modify-write instruction is needed: the same code as a plain `|=`); it is atomic so
    /// that, with the world stopped, the collector can read it whoever owns the page.
    bits: [AtomicU64; MAX_WORDS],
    slots: UnsafeCell<PageSlots>,
}

/// The owner-only part of a page: its format.
#[derive(Clone, Copy)]
pub(crate) struct PageSlots {
    pub(crate) class: usize,
    pub(crate) slot_size: usize,
    pub(crate) nslots: usize,
}

// SAFETY: `mem` is owned memory; `slots` is only accessed by the page's single owner, and
// ownership changes hands through locks (module header).
unsafe impl Send for Page {}
// SAFETY: as for `Send`; the shared parts (`swept_epoch`, `shared_slot_size`, `bits`, mark words
// in `mem`) are atomic.
unsafe impl Sync for Page {}

/// Whether a sweep may run the destructors of dead objects.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Destructors {
    /// Run them (the finalizer thread only).
    Run,
    /// Leave dead objects that need drop allocated, and count them as deferred.
    Defer,
}

/// What sweeping one page (or the large objects) found.
#[derive(Clone, Copy, Default, Debug)]
pub(crate) struct SweepResult {
    pub(crate) freed_objects: usize,
    pub(crate) freed_bytes: usize,
    pub(crate) live_objects: usize,
    pub(crate) drop_panics: usize,
    /// Dead objects left for the finalizer (they need drop and the sweep could not run it); a
    /// page sweep stops at the first, a large-object sweep counts them all.
    pub(crate) deferred: usize,
}

impl SweepResult {
    /// Add another sweep's counts to these.
    pub(crate) fn add(&mut self, o: SweepResult) {
        self.freed_objects += o.freed_objects;
        self.freed_bytes += o.freed_bytes;
        self.live_objects += o.live_objects;
        self.drop_panics += o.drop_panics;
        self.deferred += o.deferred;
    }
}

impl Page {
    /// A fresh, empty page for `class` in page `index` of `run`, considered swept for `epoch`.
    /// Each page of a run must be made once.
    pub(crate) fn new_leaked(run: &'static PageRun, index: usize, class: usize, epoch: u64) -> &'static Page {
        let page = Page {
            mem: run.page(index),
            run,
            swept_epoch: AtomicU64::new(epoch),
            shared_slot_size: AtomicUsize::new(CLASS_SIZES[class]),
            bits: std::array::from_fn(|_| AtomicU64::new(0)),
            slots: UnsafeCell::new(PageSlots { class, slot_size: 0, nslots: 0 }),
        };
        let page: &'static Page = Box::leak(Box::new(page));
        // SAFETY: the page was just created and is owned by this thread alone.
        unsafe { page.format(class) };
        page
    }

    /// Word `w` of the allocation bitmap.
    #[inline]
    pub(crate) fn bitmap_word(&self, w: usize) -> &AtomicU64 {
        &self.bits[w]
    }

    /// The allocation bitmap, for the cache that owns the page.
    pub(crate) fn bitmap(&self) -> *const AtomicU64 {
        self.bits.as_ptr()
    }

    /// Number of allocated slots.
    ///
    /// # Safety
    /// The caller owns the page.
    pub(crate) unsafe fn allocated(&self) -> usize {
        // SAFETY: the caller owns the page.
        let nslots = unsafe { self.slots() }.nslots;
        (0..nslots.div_ceil(64))
            .map(|w| (self.bits[w].load(Ordering::Relaxed) & valid_mask(nslots, w)).count_ones() as usize)
            .sum()
    }

    /// Number of free slots.
    ///
    /// # Safety
    /// The caller owns the page.
    pub(crate) unsafe fn free_slots(&self) -> usize {
        // SAFETY: the caller owns the page (for both calls).
        unsafe { self.slots().nslots - self.allocated() }
    }

    /// Set the page's format to `class`, every slot free.
    ///
    /// # Safety
    /// The caller owns the page and it holds no allocated object.
    unsafe fn format(&self, class: usize) {
        let slot_size = CLASS_SIZES[class];
        let slots = PageSlots { class, slot_size, nslots: PAGE_BYTES / slot_size };
        // SAFETY: the caller owns the page: no other thread reads or writes the format, and no
        // reference to it is alive.
        unsafe { *self.slots.get() = slots };
        self.shared_slot_size.store(slot_size, Ordering::Relaxed);
        for (w, word) in self.bits.iter().enumerate() {
            word.store(!valid_mask(slots.nslots, w), Ordering::Relaxed);
        }
    }

    /// The page's format (a copy).
    ///
    /// # Safety
    /// The caller owns the page (module header).
    pub(crate) unsafe fn slots(&self) -> PageSlots {
        // SAFETY: guaranteed by the caller: only the owner writes the format, and no reference
        // to it outlives this read.
        unsafe { *self.slots.get() }
    }

    /// The first byte of the page's memory.
    pub(crate) fn base(&self) -> *mut u8 {
        self.mem.as_ptr()
    }

    /// The epoch this page was last swept for.
    pub(crate) fn swept_epoch(&self) -> u64 {
        self.swept_epoch.load(Ordering::Acquire)
    }

    /// Sweep against `epoch` (a no-op if already swept for it). With [`Destructors::Defer`], the
    /// sweep stops at the first dead object that needs drop (it stays allocated, counted in
    /// `deferred`): the page stays unswept for `epoch`, for the finalizer to sweep whole, and
    /// `live_objects` is not counted.
    ///
    /// # Safety
    /// The caller owns the page.
    pub(crate) unsafe fn sweep(&self, epoch: u64, destructors: Destructors) -> SweepResult {
        let mut result = SweepResult::default();
        if self.swept_epoch() >= epoch {
            // SAFETY: the caller owns the page.
            result.live_objects = unsafe { self.allocated() };
            return result;
        }
        let base = self.base();
        // SAFETY: the caller owns the page.
        let slots = unsafe { self.slots() };
        let size = slots.slot_size;
        // Headers are read in address order; prefetching a few slots ahead hides most of the
        // misses (the hardware prefetcher alone leaves the loop waiting on memory).
        let ahead = SWEEP_PREFETCH_BYTES.div_ceil(size) * size;
        'words: for w in 0..slots.nslots.div_ceil(64) {
            let mut alloc = self.bits[w].load(Ordering::Relaxed) & valid_mask(slots.nslots, w);
            while alloc != 0 {
                let bit = alloc.trailing_zeros() as usize;
                alloc &= alloc - 1;
                let i = w * 64 + bit;
                // SAFETY: `i < nslots`, so the address is inside the page.
                let obj = unsafe { base.add(i * size) }.cast::<Header>();
                crate::prefetch::prefetch_read(obj.cast::<u8>().wrapping_add(ahead));
                // SAFETY: slot `i` is allocated (its bit is set): an initialised header.
                let header = unsafe { &*obj };
                if header.mark_epoch() >= epoch {
                    result.live_objects += 1;
                    continue;
                }
                if header.desc().drop.is_some() {
                    if destructors == Destructors::Defer {
                        // The page goes to the finalizer, which sweeps it whole: reading the
                        // rest of it here would be work done twice.
                        result.deferred += 1;
                        break 'words;
                    }
                    // SAFETY: the object is dead (unmarked at the last termination), so nothing
                    // can reach it; it is dropped once, here, and its slot freed right after.
                    if !unsafe { super::run_destructor(obj) } {
                        result.drop_panics += 1;
                    }
                }
                let word = &self.bits[w];
                word.store(word.load(Ordering::Relaxed) & !(1u64 << bit), Ordering::Relaxed);
                result.freed_objects += 1;
                result.freed_bytes += size;
            }
        }
        if result.deferred == 0 {
            self.swept_epoch.store(epoch, Ordering::Release);
        }
        result
    }

    /// Give the page's memory back to the OS (see `raw.rs`); `false` if the platform cannot.
    /// The page stays valid and may be reformatted later: its memory comes back, zeroed, when
    /// it is next written.
    ///
    /// # Safety
    /// The caller owns the page, and it holds no allocated object (no object header or value
    /// in it is read again).
    pub(crate) unsafe fn release_memory(&self) -> bool {
        // SAFETY: `mem` is a page of `run`; the page is empty and owned by the caller, so no
        // thread reads its memory (the descriptor, with the bitmap, is elsewhere).
        unsafe { self.run.release(self.mem) }
    }

    /// Pretend the page was last swept for `epoch` (tests).
    #[cfg(test)]
    pub(crate) fn swept_epoch_for_test(&self, epoch: u64) {
        self.swept_epoch.store(epoch, Ordering::Release);
    }

    /// Reset the page for `class` (it must be empty) and mark it swept for `epoch`.
    ///
    /// # Safety
    /// The caller owns the page and it holds no allocated object.
    pub(crate) unsafe fn reformat(&self, class: usize, epoch: u64) {
        // SAFETY: the caller owns the page.
        debug_assert_eq!(unsafe { self.allocated() }, 0);
        // SAFETY: as above, and the page is empty.
        unsafe { self.format(class) };
        self.swept_epoch.store(epoch, Ordering::Release);
    }

    /// Call `f` with the header of every allocated slot, whoever owns the page (the allocation
    /// bitmap is atomic). A slot may be freed meanwhile by a sweeper (it frees only dead
    /// objects, and writes no header).
    ///
    /// # Safety
    /// No thread allocates from or reformats the page meanwhile (the world is stopped: only
    /// mutators allocate and reformat, and parked ones do neither).
    pub(crate) unsafe fn scan_allocated(&self, mut f: impl FnMut(NonNull<Header>)) {
        let size = self.shared_slot_size.load(Ordering::Relaxed);
        let nslots = PAGE_BYTES / size;
        for w in 0..nslots.div_ceil(64) {
            let mut alloc = self.bits[w].load(Ordering::Relaxed) & valid_mask(nslots, w);
            while alloc != 0 {
                let i = w * 64 + alloc.trailing_zeros() as usize;
                alloc &= alloc - 1;
                // SAFETY: `i < nslots`: a slot start inside the page (16-aligned, non-null).
                f(unsafe { NonNull::new_unchecked(self.base().add(i * size).cast::<Header>()) });
            }
        }
    }
}

/// Bits of bitmap word `w` that stand for real slots of a page with `nslots` slots.
fn valid_mask(nslots: usize, w: usize) -> u64 {
    let start = w * 64;
    if start >= nslots {
        0
    } else if nslots - start >= 64 {
        !0
    } else {
        (1u64 << (nslots - start)) - 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::heap::size_class::NUM_CLASSES;

    #[test]
    fn fresh_pages_are_empty_with_the_right_slot_count() {
        let run = PageRun::map(PAGE_BYTES);
        for (i, class) in [0, 5, NUM_CLASSES - 1].into_iter().enumerate() {
            let page = Page::new_leaked(run, i, class, 1);
            assert_eq!(page.base() as usize % PAGE_BYTES, 0, "pages are aligned to their size");
            // SAFETY: this test owns the page.
            let PageSlots { slot_size, nslots, .. } = unsafe { page.slots() };
            assert_eq!(slot_size, CLASS_SIZES[class]);
            assert_eq!(nslots, PAGE_BYTES / CLASS_SIZES[class]);
            // SAFETY: owned.
            assert_eq!(unsafe { page.allocated() }, 0);
            // SAFETY: owned.
            assert_eq!(unsafe { page.free_slots() }, nslots);
        }
    }
}
