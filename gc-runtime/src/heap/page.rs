//! Pages: 64 KiB blocks carved into equal slots of one size class.
//!
//! # Ownership
//!
//! At any moment a page has exactly one owner, and only the owner touches its [`PageSlots`]
//! (the allocation bitmap and the class): a central list of its class (under that list's
//! lock), the empty-page pool (under its lock), a mutator's allocation cache, or a thread
//! sweeping it after taking it out of a list. Ownership moves only through those locks, which
//! order one owner's writes before the next owner's reads. Page descriptors are never freed
//! (they are reused across classes), so `&'static Page` is always valid.
//!
//! The mark words inside the slots are the exception: markers and barriers on any thread
//! touch them atomically (see [`crate::header`]) whoever owns the page.
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

use std::{alloc::Layout, cell::UnsafeCell, ptr::NonNull};

use super::{raw, size_class::CLASS_SIZES};
use crate::{
    header::Header,
    primitive::sync::atomic::{AtomicU64, AtomicUsize, Ordering},
};

/// How far ahead of the header it reads the sweep prefetches.
const SWEEP_PREFETCH_BYTES: usize = 512;

/// Bytes per page.
pub(crate) const PAGE_BYTES: usize = 64 * 1024;
const PAGE_ALIGN: usize = 4096;
const MAX_WORDS: usize = PAGE_BYTES / 16 / 64;

/// A page descriptor.
pub(crate) struct Page {
    mem: NonNull<u8>,
    swept_epoch: AtomicU64,
    /// The slot size of the current format, readable by anyone (see [`Page::scan_headers`]);
    /// the owner's copy is in `slots`.
    shared_slot_size: AtomicUsize,
    slots: UnsafeCell<PageSlots>,
}

/// The owner-only part of a page.
pub(crate) struct PageSlots {
    pub(crate) class: usize,
    pub(crate) slot_size: usize,
    pub(crate) nslots: usize,
    /// One bit per slot, set when allocated; bits past `nslots` are always set.
    pub(crate) bits: [u64; MAX_WORDS],
}

// SAFETY: `mem` is owned memory; `slots` is only accessed by the page's single owner, and
// ownership changes hands through locks (module header).
unsafe impl Send for Page {}
// SAFETY: as for `Send`; the shared parts (`swept_epoch`, mark words in `mem`) are atomic.
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
    /// A fresh, empty page for `class`, considered swept for `epoch`.
    pub(crate) fn new_leaked(class: usize, epoch: u64) -> &'static Page {
        let mem = raw::alloc_zeroed(page_layout());
        let page = Page {
            mem,
            swept_epoch: AtomicU64::new(epoch),
            shared_slot_size: AtomicUsize::new(CLASS_SIZES[class]),
            slots: UnsafeCell::new(PageSlots { class, slot_size: 0, nslots: 0, bits: [0; MAX_WORDS] }),
        };
        let page: &'static Page = Box::leak(Box::new(page));
        // SAFETY: the page was just created and is owned by this thread alone.
        unsafe { page.slots_mut() }.format(class);
        page
    }

    /// The owner-only state.
    ///
    /// # Safety
    /// The caller owns the page (module header) and holds no other reference to its slots.
    #[allow(clippy::mut_from_ref)]
    pub(crate) unsafe fn slots_mut(&self) -> &mut PageSlots {
        // SAFETY: guaranteed by the caller: single owner, no other live reference.
        unsafe { &mut *self.slots.get() }
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
            result.live_objects = unsafe { self.slots_mut() }.allocated();
            return result;
        }
        let base = self.base();
        // SAFETY: the caller owns the page.
        let slots = unsafe { self.slots_mut() };
        let size = slots.slot_size;
        // Headers are read in address order; prefetching a few slots ahead hides most of the
        // misses (the hardware prefetcher alone leaves the loop waiting on memory).
        let ahead = SWEEP_PREFETCH_BYTES.div_ceil(size) * size;
        'words: for w in 0..slots.nslots.div_ceil(64) {
            let mut alloc = slots.bits[w] & slots.valid_mask(w);
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
                slots.bits[w] &= !(1u64 << bit);
                result.freed_objects += 1;
                result.freed_bytes += size;
            }
        }
        if result.deferred == 0 {
            self.swept_epoch.store(epoch, Ordering::Release);
        }
        result
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
        let slots = unsafe { self.slots_mut() };
        debug_assert_eq!(slots.allocated(), 0);
        if slots.class != class {
            // New slot boundaries: clear the memory, so that every slot start holds either a
            // zeroed header or the header of an object once allocated there (see
            // `scan_headers`), never bytes from the middle of an old object.
            // SAFETY: the page's memory is `PAGE_BYTES` long, owned by the caller, and holds no
            // object (every slot is free).
            unsafe { std::ptr::write_bytes(self.base(), 0, PAGE_BYTES) };
            self.shared_slot_size.store(CLASS_SIZES[class], Ordering::Relaxed);
        }
        slots.format(class);
        self.swept_epoch.store(epoch, Ordering::Release);
    }

    /// Call `f` with the header at the start of every slot of the current format, whoever owns
    /// the page. Each is zeroed (never allocated), or the header of an object allocated there
    /// now or once (a freed object keeps its header, with a mark older than the sweep epoch
    /// it died for).
    ///
    /// # Safety
    /// No thread allocates from or reformats the page meanwhile (the world is stopped: only
    /// mutators allocate, and parked ones do not). Sweepers may run: they write no header.
    pub(crate) unsafe fn scan_headers(&self, mut f: impl FnMut(NonNull<Header>)) {
        let size = self.shared_slot_size.load(Ordering::Relaxed);
        for i in 0..PAGE_BYTES / size {
            // SAFETY: `i * size < PAGE_BYTES`: inside the page, at a slot start (16-aligned).
            f(unsafe { NonNull::new_unchecked(self.base().add(i * size).cast::<Header>()) });
        }
    }
}

impl PageSlots {
    fn format(&mut self, class: usize) {
        self.class = class;
        self.slot_size = CLASS_SIZES[class];
        self.nslots = PAGE_BYTES / self.slot_size;
        self.bits = [!0; MAX_WORDS];
        for w in 0..self.nslots.div_ceil(64) {
            self.bits[w] = !self.valid_mask(w);
        }
    }

    /// Bits of word `w` that stand for real slots.
    pub(crate) fn valid_mask(&self, w: usize) -> u64 {
        let start = w * 64;
        if start >= self.nslots {
            0
        } else if self.nslots - start >= 64 {
            !0
        } else {
            (1u64 << (self.nslots - start)) - 1
        }
    }

    /// Number of allocated slots.
    pub(crate) fn allocated(&self) -> usize {
        (0..self.nslots.div_ceil(64)).map(|w| (self.bits[w] & self.valid_mask(w)).count_ones() as usize).sum()
    }

    /// Number of free slots.
    pub(crate) fn free(&self) -> usize {
        self.nslots - self.allocated()
    }
}

fn page_layout() -> Layout {
    // `PAGE_BYTES` and `PAGE_ALIGN` are non-zero powers of two with size ≥ align.
    Layout::from_size_align(PAGE_BYTES, PAGE_ALIGN).unwrap_or_else(|_| unreachable!())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::heap::size_class::NUM_CLASSES;

    #[test]
    fn fresh_pages_are_empty_with_the_right_slot_count() {
        for class in [0, 5, NUM_CLASSES - 1] {
            let page = Page::new_leaked(class, 1);
            // SAFETY: this test owns the page.
            let slots = unsafe { page.slots_mut() };
            assert_eq!(slots.slot_size, CLASS_SIZES[class]);
            assert_eq!(slots.nslots, PAGE_BYTES / CLASS_SIZES[class]);
            assert_eq!(slots.allocated(), 0);
            assert_eq!(slots.free(), slots.nslots);
        }
    }
}
