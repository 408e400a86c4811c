//! Pages: 64 KiB blocks carved into equal slots of one size class.
//!
//! # Ownership
//!
//! At any moment a page has exactly one owner, and only the owner changes its format
//! ([`PageSlots`]: the class) and its allocation, drop and doomed bitmaps: a central list of its
//! class (under that list's lock), the empty-page pool (under its lock), a mutator's allocation
//! cache, or a thread sweeping it after taking it out of a list. Ownership moves only through
//! those locks, which order one owner's writes before the next owner's reads. Page descriptors
//! are never freed (they are reused across classes), so `&'static Page` is always valid.
//!
//! Three exceptions, all atomic. The mark bits ([`PageMarks`], see `mark_bits.rs`): markers,
//! barriers and allocators on any thread set them whoever owns the page. The `finalized`
//! bitmap: the finalizer thread sets a bit there when it has run a doomed object's destructor,
//! and the owner folds those bits in when it next sweeps. And the allocation bitmap is atomic
//! (the owner's relaxed loads and stores compile to plain ones), so that with the world stopped
//! the collector can list every allocated object whoever owns its page
//! ([`Page::live_slot_bits`], for pinning after a leaked mutator's thread ended).
//!
//! # Sweeping a page: words, not objects
//!
//! [`Page::sweep`] works on 64 slots at a time. A slot is *dead* if it is allocated, unmarked
//! and not already doomed: `alloc & !marks & !doomed`. Dead slots whose object needs no drop
//! (the `has_drop` bitmap, set at allocation for types with drop glue) are freed by clearing
//! their allocation bits: no object is read. Dead objects that need drop become *doomed*: they
//! keep their slots, and their bits go to the finalizer thread (see `finalize.rs`), which runs
//! their destructors and reports each one back in `finalized`; the next sweep of the page frees
//! those slots. The mark bits are cleared as they are read, ready for the next marking. A sweep never stops
//! half-way and never waits for a destructor, so every page is swept between one marking and
//! the next — which is what lets the mark bits be a single bitmap (see `mark_bits.rs`, "When
//! bits are valid"). `swept_epoch` records the epoch the page was last swept for, so nobody
//! allocates from a page that still holds dead objects.

use std::{cell::UnsafeCell, ptr::NonNull};

use super::size_class::CLASS_SIZES;
pub(crate) use crate::mark_bits::PAGE_BYTES;
use crate::{
    mark_bits::{PageMarks, FIRST_OBJECT_PAGE, PAGE_WORDS, RUN_PAGES},
    popcount,
    primitive::sync::atomic::{fence, AtomicU64, AtomicUsize, Ordering},
    raw::PageRun,
};

/// A page descriptor.
pub(crate) struct Page {
    mem: NonNull<u8>,
    /// The mapping `mem` belongs to, through which the page's memory goes back to the OS.
    run: &'static PageRun,
    swept_epoch: AtomicU64,
    /// The slot size of the current format, readable by anyone (see [`Page::live_slot_bits`]);
    /// the owner's copy is in `slots`.
    shared_slot_size: AtomicUsize,
    /// The page's bitmaps, in its run's second page ([`PageBitmaps`]).
    maps: &'static PageBitmaps,
    /// The mark bits (in the run's first page, see `mark_bits.rs`).
    marks: &'static PageMarks,
    slots: UnsafeCell<PageSlots>,
}

/// A page's slot bitmaps, one bit per slot of the smallest size (2 KiB). They live in the second
/// page of the page's run, at the page's index ([`PageBitmaps::of`]), not in the descriptor:
/// memory the heap can give back to the OS when every page of the run is empty (see `pool.rs`,
/// "Giving back a run's tables"). Zero bytes are a valid state — the state of a page never
/// formatted or whose tables went back to the OS — and the next format writes them all.
#[repr(C)]
pub(crate) struct PageBitmaps {
    /// The allocation bitmap: one bit per slot, set when allocated; bits past the last slot are
    /// set by a format (zero where the tables went back: no object either way). Only the owner
    /// writes it, with a relaxed load and store (one writer, so no read-modify-write instruction
    /// is needed: the same code as a plain `|=`); it is atomic so that, with the world stopped,
    /// the collector can read it whoever owns the page.
    bits: [AtomicU64; PAGE_WORDS],
    /// One bit per allocated slot whose object needs drop (owner only).
    has_drop: [AtomicU64; PAGE_WORDS],
    /// Dead objects waiting for the finalizer to run their destructors (owner only; read with
    /// the world stopped).
    doomed: [AtomicU64; PAGE_WORDS],
    /// Doomed objects whose destructors have run (set by the finalizer, taken by the owner).
    finalized: [AtomicU64; PAGE_WORDS],
}

/// The run page that holds its pages' bitmaps (page 0 holds their marks and claims).
pub(crate) const BITMAPS_PAGE: usize = 1;
// One `PageBitmaps` per page of the run fits in that page.
const _: () = assert!(std::mem::size_of::<PageBitmaps>() * RUN_PAGES <= PAGE_BYTES);
const _: () = assert!(BITMAPS_PAGE < FIRST_OBJECT_PAGE);

impl PageBitmaps {
    /// The bitmaps of page `index` of `run` (one of its object pages).
    fn of(run: &'static PageRun, index: usize) -> &'static PageBitmaps {
        assert!((FIRST_OBJECT_PAGE..RUN_PAGES).contains(&index), "page {index} of a run holds no objects");
        // SAFETY: page `BITMAPS_PAGE` of the run holds one `PageBitmaps` per page of the run,
        // at `index` times its size (in bounds: asserted above, and they fit, see the constant
        // assertion); the memory is the run's, mapped for the life of the process, aligned to
        // 2 KiB, and zero until a format writes it — zero bytes are valid atomics. Everything in
        // a `PageBitmaps` is atomic, so a shared reference allows every write made to it.
        unsafe { &*run.page(BITMAPS_PAGE).as_ptr().add(index * std::mem::size_of::<PageBitmaps>()).cast() }
    }
}

// A descriptor, which outlives its page's memory, keeps nothing that grows with the page: 72
// bytes (the bitmaps, 2 KiB, live in the run, see `PageBitmaps`).
const _: () = assert!(std::mem::size_of::<Page>() <= 72);

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
// SAFETY: as for `Send`; the shared parts (`swept_epoch`, `shared_slot_size`, the bitmaps) are
// atomic.
unsafe impl Sync for Page {}

/// What sweeping one page (or the large objects) found.
#[derive(Clone, Copy, Default, Debug)]
pub(crate) struct SweepResult {
    pub(crate) freed_objects: usize,
    pub(crate) freed_bytes: usize,
    /// Slots still allocated after the sweep: live objects, and doomed ones waiting for the
    /// finalizer.
    pub(crate) live_objects: usize,
    pub(crate) drop_panics: usize,
    /// Dead objects handed to the finalizer (they need drop).
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

/// The dead objects with destructors one sweep of a page found: their slot bits, for the
/// finalizer.
pub(crate) struct Doomed {
    pub(crate) page: &'static Page,
    pub(crate) bits: Box<[u64; PAGE_WORDS]>,
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
            maps: PageBitmaps::of(run, index),
            marks: run.marks().page(index),
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
        &self.maps.bits[w]
    }

    /// The allocation bitmap, for the cache that owns the page.
    pub(crate) fn bitmap(&self) -> *const AtomicU64 {
        self.maps.bits.as_ptr()
    }

    /// The drop bitmap, for the cache that owns the page.
    pub(crate) fn drop_bitmap(&self) -> *const AtomicU64 {
        self.maps.has_drop.as_ptr()
    }

    /// The page's mark bits.
    pub(crate) fn marks(&self) -> &'static PageMarks {
        self.marks
    }

    /// Number of allocated slots.
    ///
    /// # Safety
    /// The caller owns the page.
    pub(crate) unsafe fn allocated(&self) -> usize {
        // SAFETY: the caller owns the page.
        let nslots = unsafe { self.slots() }.nslots;
        let words = nslots.div_ceil(64);
        popcount::count(&self.maps.bits[..words], valid_mask(nslots, words.saturating_sub(1)))
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
        self.marks.clear();
        for w in 0..PAGE_WORDS {
            self.maps.bits[w].store(!valid_mask(slots.nslots, w), Ordering::Relaxed);
            self.maps.has_drop[w].store(0, Ordering::Relaxed);
            self.maps.doomed[w].store(0, Ordering::Relaxed);
            self.maps.finalized[w].store(0, Ordering::Relaxed);
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

    /// The run the page belongs to.
    pub(crate) fn run(&self) -> &'static PageRun {
        self.run
    }

    /// The first byte of the page's memory.
    pub(crate) fn base(&self) -> *mut u8 {
        self.mem.as_ptr()
    }

    /// The epoch this page was last swept for.
    pub(crate) fn swept_epoch(&self) -> u64 {
        self.swept_epoch.load(Ordering::Acquire)
    }

    /// Sweep against `epoch` (a no-op if already swept for it): free the dead objects that need
    /// no drop, doom the ones that do (returned, for the finalizer), take back the slots of
    /// doomed objects the finalizer is done with, and clear the mark bits (module header).
    ///
    /// # Safety
    /// The caller owns the page, and the marking `epoch` ended (no thread sets mark bits in it
    /// until the next marking starts).
    pub(crate) unsafe fn sweep(&'static self, epoch: u64) -> (SweepResult, Option<Doomed>) {
        #[cfg(all(target_arch = "x86_64", not(miri)))]
        if popcount::cpu_has_popcnt() {
            // SAFETY: the CPU has `popcnt`; the caller's guarantees are passed on.
            return unsafe { self.sweep_with_popcnt(epoch) };
        }
        // SAFETY: the caller's guarantees, passed on.
        unsafe { self.sweep_words(epoch) }
    }

    /// [`sweep_words`](Self::sweep_words) compiled for a CPU with `popcnt`, which counts a
    /// word's live and freed slots in one instruction each instead of a dozen (see
    /// `popcount.rs`): a pause's sweep of a 1M-object heap took 0.93× the time.
    ///
    /// # Safety
    /// The CPU has `popcnt`, and as for [`sweep`](Self::sweep).
    #[cfg(all(target_arch = "x86_64", not(miri)))]
    #[target_feature(enable = "popcnt")]
    unsafe fn sweep_with_popcnt(&'static self, epoch: u64) -> (SweepResult, Option<Doomed>) {
        // SAFETY: the caller's guarantees, passed on.
        unsafe { self.sweep_words(epoch) }
    }

    /// The sweep itself, inlined into [`sweep`](Self::sweep) and its `popcnt` variant.
    ///
    /// # Safety
    /// As for [`sweep`](Self::sweep).
    #[inline(always)]
    unsafe fn sweep_words(&'static self, epoch: u64) -> (SweepResult, Option<Doomed>) {
        let mut result = SweepResult::default();
        // SAFETY: the caller owns the page.
        let slots = unsafe { self.slots() };
        if self.swept_epoch() >= epoch {
            // SAFETY: the caller owns the page.
            result.live_objects = unsafe { self.allocated() };
            return (result, None);
        }
        // Every page that holds objects is swept once per marking (module header): bits of an
        // older marking are never left behind.
        // SAFETY: the caller owns the page.
        debug_assert!(self.swept_epoch() + 1 == epoch || unsafe { self.allocated() } == 0, "a page skipped a sweep");
        let mut doomed_out: Option<Box<[u64; PAGE_WORDS]>> = None;
        let mut freed = 0;
        // Release: a weak read that finds a mark this clears also finds the sweep epoch this
        // sweep is for published (`weak_table::condemned`), as the caller read it, with
        // `Acquire`, before calling (or published it itself).
        fence(Ordering::Release);
        let marks = self.marks.take_slot_bits(slots.slot_size);
        for (w, &marks) in marks.iter().enumerate().take(slots.nslots.div_ceil(64)) {
            let valid = valid_mask(slots.nslots, w);
            // Acquire: pairs with the finalizer's Release, so its destructor's writes to the
            // slot come before the slot's reuse. Most words have no finalized slot: a load
            // decides, and only a word with some pays for the locked swap.
            let finalized = match self.maps.finalized[w].load(Ordering::Acquire) {
                0 => 0,
                _ => self.maps.finalized[w].swap(0, Ordering::Acquire),
            };
            let mut alloc = self.maps.bits[w].load(Ordering::Relaxed) & !finalized;
            if alloc & valid == 0 && finalized == 0 {
                // No object here (doomed and has_drop bits are subsets of alloc's): nothing
                // to free or to write back.
                continue;
            }
            let mut doomed = self.maps.doomed[w].load(Ordering::Relaxed) & !finalized;
            let mut has_drop = self.maps.has_drop[w].load(Ordering::Relaxed) & !finalized;
            let dead = alloc & valid & !marks & !doomed;
            if dead == 0 && finalized == 0 {
                // Every object here survived and none was finalized: the word's bits stay as
                // they are (not writing them keeps a fully live heap's metadata clean).
                result.live_objects += (alloc & valid).count_ones() as usize;
                continue;
            }
            if dead != 0 {
                let to_drop = dead & has_drop;
                let free = dead & !to_drop;
                alloc &= !free;
                if to_drop != 0 {
                    doomed |= to_drop;
                    result.deferred += to_drop.count_ones() as usize;
                    doomed_out.get_or_insert_with(|| Box::new([0; PAGE_WORDS]))[w] = to_drop;
                }
                freed += free.count_ones() as usize;
                has_drop &= !free;
            }
            self.maps.bits[w].store(alloc, Ordering::Relaxed);
            self.maps.doomed[w].store(doomed, Ordering::Relaxed);
            self.maps.has_drop[w].store(has_drop, Ordering::Relaxed);
            result.live_objects += (alloc & valid).count_ones() as usize;
        }
        result.freed_objects = freed;
        result.freed_bytes = freed * slots.slot_size;
        self.swept_epoch.store(epoch, Ordering::Release);
        (result, doomed_out.map(|bits| Doomed { page: self, bits }))
    }

    /// The finalizer ran the destructors of the doomed objects in `bits`: their slots may be
    /// reused once the owner next sweeps the page. Called by the finalizer thread, whoever owns
    /// the page.
    pub(crate) fn report_finalized(&self, bits: &[u64; PAGE_WORDS]) {
        for (w, &b) in bits.iter().enumerate() {
            if b != 0 {
                // Release: the destructors' writes come before the slots' reuse (see `sweep`).
                self.maps.finalized[w].fetch_or(b, Ordering::Release);
            }
        }
    }

    /// Whether the finalizer has reported objects of this page finalized that no sweep has
    /// freed yet (a hint: the owner's next [`sweep`](Page::sweep) or
    /// [`free_finalized`](Page::free_finalized) may take them first). Readable by anyone.
    pub(crate) fn has_finalized(&self) -> bool {
        self.maps.finalized.iter().any(|w| w.load(Ordering::Relaxed) != 0)
    }

    /// Free the slots of the objects the finalizer has reported finalized, as the next sweep
    /// would, without sweeping: the marks, the sweep epoch and every other slot are left as
    /// they are. Returns how many objects the page still holds. For pages whose objects a
    /// sweep doomed while no later sweep comes (the heap idle after its last cycle): without
    /// this, such a page stays full of freed slots, and its memory resident, until the next
    /// cycle (see `PageHeap::free_finalized`). The finalizer counted the objects freed when it
    /// ran their destructors, so nothing is accounted here.
    ///
    /// # Safety
    /// The caller owns the page.
    pub(crate) unsafe fn free_finalized(&self) -> usize {
        // SAFETY: the caller owns the page.
        let nslots = unsafe { self.slots() }.nslots;
        let mut live = 0;
        for w in 0..nslots.div_ceil(64) {
            // Acquire: as in `sweep`, the destructors' writes come before the slots' reuse.
            let finalized = match self.maps.finalized[w].load(Ordering::Acquire) {
                0 => 0,
                _ => self.maps.finalized[w].swap(0, Ordering::Acquire),
            };
            let mut alloc = self.maps.bits[w].load(Ordering::Relaxed);
            if finalized != 0 {
                alloc &= !finalized;
                self.maps.bits[w].store(alloc, Ordering::Relaxed);
                let doomed = self.maps.doomed[w].load(Ordering::Relaxed) & !finalized;
                self.maps.doomed[w].store(doomed, Ordering::Relaxed);
                let has_drop = self.maps.has_drop[w].load(Ordering::Relaxed) & !finalized;
                self.maps.has_drop[w].store(has_drop, Ordering::Relaxed);
            }
            live += (alloc & valid_mask(nslots, w)).count_ones() as usize;
        }
        live
    }

    /// The slot size of the current format, for the finalizer (a page with doomed objects is
    /// never reformatted).
    pub(crate) fn slot_size(&self) -> usize {
        self.shared_slot_size.load(Ordering::Relaxed)
    }

    /// Give the page's memory back to the OS (see `crate::raw`); `false` if the platform cannot.
    /// The page stays valid and may be reformatted later: its memory comes back, zeroed, when
    /// it is next written.
    ///
    /// # Safety
    /// The caller owns the page, and it holds no allocated object (no object header or value
    /// in it is read again).
    pub(crate) unsafe fn release_memory(&self) -> bool {
        // SAFETY: `mem` is a page of `run`; the page is empty and owned by the caller, so no
        // thread reads its memory (the descriptor, with the bitmaps, is elsewhere).
        unsafe { self.run.release(self.mem) }
    }

    /// Clear every mark bit (tests that pretend a marking without finishing it).
    #[cfg(test)]
    pub(crate) fn clear_marks_for_test(&self) {
        self.marks.clear();
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

    /// The page's slot size and its live slots for `sweep_epoch`, one bit per slot: allocated,
    /// not doomed, and — if the page is not swept for that epoch yet — marked; read whoever
    /// owns the page (the bitmaps are atomic). Words past the last slot are zero, and not read.
    ///
    /// # Safety
    /// No thread allocates from, sweeps or reformats the page meanwhile (the world is stopped:
    /// only mutators allocate and reformat, and parked ones do neither; the caller makes sure
    /// no sweep is in flight).
    pub(crate) unsafe fn live_slot_bits(&self, sweep_epoch: u64) -> (usize, [u64; PAGE_WORDS]) {
        let size = self.shared_slot_size.load(Ordering::Relaxed);
        let nslots = PAGE_BYTES / size;
        let marks = (self.swept_epoch() < sweep_epoch).then(|| self.marks.slot_bits(size));
        let mut live = [0; PAGE_WORDS];
        for (w, live) in live.iter_mut().enumerate().take(nslots.div_ceil(64)) {
            *live = self.maps.bits[w].load(Ordering::Relaxed)
                & valid_mask(nslots, w)
                & !self.maps.doomed[w].load(Ordering::Relaxed)
                & marks.as_ref().map_or(!0, |marks| marks[w]);
        }
        (size, live)
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
            let page = Page::new_leaked(run, FIRST_OBJECT_PAGE + i, class, 1);
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
