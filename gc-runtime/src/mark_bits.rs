//! Mark bits beside the objects: one bit per slot of a page, found from an object's address by
//! arithmetic alone.
//!
//! # Why beside, not inside
//!
//! Marking an object used to write a word in its own header: a locked read-modify-write on a
//! cache line that, for most objects, was not in any cache yet. The bits now sit in a small
//! bitmap per page ([`PageMarks`], 512 bytes for 64 KiB of objects), so a marker decides
//! whether a found object is new by touching a line it has most likely touched recently, and
//! reads the object itself only when it scans it — late enough for a prefetch to have brought
//! it in. The sweep reads bitmaps, not objects (see `heap/page.rs`), and headers shrink to one
//! word, the type descriptor.
//!
//! # Finding a page's bits
//!
//! Pages come in runs of [`RUN_PAGES`] (2 MiB, aligned to their size; see `heap/raw.rs`). The
//! first page of every run is not used for objects: it holds the marks of the run's other
//! pages ([`RunMarks`]). Given an object address, its run is the address rounded down to
//! 2 MiB and its page index the next five bits, so its page's marks are found by arithmetic
//! alone, and reading the slot size's reciprocal and the bit word are the only loads. The marks
//! do not sit at the start of the run: addresses 2 MiB apart fall into the same cache sets, so
//! the marks of a large heap, all at run starts, would evict each other. Each run's marks are
//! placed at an offset chosen by the run's number ([`marks_offset`]), which spreads them over
//! the cache sets. Which addresses belong to runs at all is a bitmap over the address space in
//! 2 MiB units ([`is_run`]; 8 MiB of zeroed address space, of which only the words for runs in
//! use are ever touched): any other object is a large object, which keeps its mark in a word in
//! front of its header (see `object/mark.rs`).
//!
//! A slot's index is its offset in the page divided by the slot size, computed as a multiply
//! and a shift by the page's reciprocal of the slot size (exact for every slot start; the unit
//! test below checks every class), as Go's `divMagic`.
//!
//! # When bits are valid
//!
//! A page's bits are those of the current (or last) marking. They are cleared when the page is
//! swept, and every page holding objects is swept between the end of one marking and the start
//! of the next (the collector finishes the sweep before it starts marking, and mutators hand
//! back their cached pages when they see the new sweep epoch): so at every mark start, all bits
//! of all pages are clear. A new object gets its bit when it is allocated while marking runs,
//! or into a page whose sweep is still due (allocate black; see `heap/cache.rs`).
//!
//! Concurrency: bits are set by markers, barrier slow paths, assists and allocating mutators
//! on any thread, with a relaxed `fetch_or` (a bit guards no other memory; the winner hands
//! the object over through a shade queue, whose push and pop carry the ordering). They are read
//! and cleared by the page's owner when it sweeps, after the marking ended.

use std::sync::atomic::{AtomicU64 as StdAtomicU64, Ordering as StdOrdering};

use crate::primitive::sync::atomic::{AtomicU64, Ordering};

/// Bytes per page. Pages are aligned to their size.
pub(crate) const PAGE_BYTES: usize = 64 * 1024;
/// Pages per run (the first holds the marks of the others, which hold objects).
pub(crate) const RUN_PAGES: usize = 32;
/// Bytes per run: the unit of address-space mapping, aligned to its size.
pub(crate) const RUN_BYTES: usize = PAGE_BYTES * RUN_PAGES;
/// The smallest slot size.
pub(crate) const MIN_SLOT: usize = 16;
/// Words of a per-page bitmap with one bit per slot of the smallest size.
pub(crate) const PAGE_WORDS: usize = PAGE_BYTES / MIN_SLOT / 64;

/// Addresses at or above this are never run addresses (user space on the 64-bit platforms this
/// crate supports ends below 2^47 unless a program asks the kernel for more).
const ADDRESS_BITS: u32 = 47;
const RUN_SHIFT: u32 = RUN_BYTES.trailing_zeros();
const REGISTRY_WORDS: usize = 1 << (ADDRESS_BITS - RUN_SHIFT - 6);

/// One bit per possible run: set once the run is mapped, never cleared (runs are never
/// unmapped). Zero-initialised, so only the words of runs in use are ever touched.
static REGISTRY: [StdAtomicU64; REGISTRY_WORDS] = [const { StdAtomicU64::new(0) }; REGISTRY_WORDS];

/// The marks of every page of a run, in the run's first page.
#[repr(C)]
pub(crate) struct RunMarks {
    pages: [PageMarks; RUN_PAGES],
}

/// Where in the first page of the run starting at `run_start` its marks lie: one of the places
/// 1 KiB apart that leave room for them, by the run's number.
#[inline(always)]
fn marks_offset(run_start: usize) -> usize {
    const PLACES: usize = (PAGE_BYTES - std::mem::size_of::<RunMarks>()) / 1024 + 1;
    (run_start >> RUN_SHIFT) % PLACES * 1024
}

/// Register a newly mapped run starting at `start` (aligned to [`RUN_BYTES`]) and write its
/// marks, all clear, into its first page. Aborts if the run lies outside the address range the
/// registry covers.
///
/// # Safety
/// `start` is the start of a run of [`RUN_BYTES`] writable bytes owned by the caller, not
/// registered before.
pub(crate) unsafe fn register_run(start: *mut u8) -> &'static RunMarks {
    let addr = start as usize;
    assert!(addr % RUN_BYTES == 0, "runs are aligned to their size");
    assert!(
        addr >> ADDRESS_BITS == 0,
        "gc: the system mapped heap memory above 2^{ADDRESS_BITS}, which the collector does not support"
    );
    // SAFETY: the offset and the marks after it lie in the first page of the run (see
    // `marks_offset`).
    let marks = unsafe { start.add(marks_offset(addr)) }.cast::<RunMarks>();
    // SAFETY: the first page of the run is writable and owned by the caller (nothing else knows
    // the run yet); the offset is a multiple of 1 KiB, enough for the marks' alignment.
    unsafe { marks.write(RunMarks { pages: std::array::from_fn(|_| PageMarks::new(MIN_SLOT)) }) };
    let run = addr >> RUN_SHIFT;
    // Release: a thread that finds the bit set (through an object address it received after
    // this) also finds the marks written.
    REGISTRY[run / 64].fetch_or(1 << (run % 64), StdOrdering::Release);
    // SAFETY: just written; the run is never unmapped.
    unsafe { &*marks }
}

impl RunMarks {
    /// The marks of page `index` of the run (not 0: the first page holds these marks).
    pub(crate) fn page(&'static self, index: usize) -> &'static PageMarks {
        assert!((1..RUN_PAGES).contains(&index), "page 0 of a run holds its marks");
        &self.pages[index]
    }
}

/// Whether `addr` lies in a run of pages (as opposed to a large object's block).
#[inline(always)]
pub(crate) fn is_run(addr: usize) -> bool {
    let run = addr >> RUN_SHIFT;
    let word = run / 64;
    word < REGISTRY_WORDS && REGISTRY[word].load(StdOrdering::Acquire) & (1 << (run % 64)) != 0
}

/// The marks of the page holding the object at `obj`, with the object's slot index; `None` if
/// the object is not in a page (a large object).
///
/// # Safety
/// `obj` is the start of an allocated object, derived from the memory it lives in (so that its
/// provenance covers the run).
#[inline(always)]
pub(crate) unsafe fn page_marks(obj: *const u8) -> Option<(&'static PageMarks, usize)> {
    let addr = obj as usize;
    if !is_run(addr) {
        return None;
    }
    let in_run = addr & (RUN_BYTES - 1);
    // SAFETY: the object lies in a registered run, whose first page holds its marks at
    // `marks_offset`; stepping back inside the run keeps the object pointer's provenance (the
    // run's mapping).
    let run = unsafe { &*obj.sub(in_run).add(marks_offset(addr)).cast::<RunMarks>() };
    let marks = &run.pages[in_run / PAGE_BYTES];
    Some((marks, marks.slot_of(in_run % PAGE_BYTES)))
}

/// One page's mark bits, and how to turn an offset in the page into a slot index. Aligned to
/// cache lines, so the reciprocal shares a line with the first bits and no two pages share one.
#[repr(C, align(64))]
pub(crate) struct PageMarks {
    /// `ceil(2^32 / slot_size)` for the page's current format.
    slot_magic: AtomicU64,
    bits: [AtomicU64; PAGE_WORDS],
}

impl PageMarks {
    /// Marks for a page of `slot_size`, all clear.
    fn new(slot_size: usize) -> Self {
        PageMarks { slot_magic: AtomicU64::new(magic(slot_size)), bits: std::array::from_fn(|_| AtomicU64::new(0)) }
    }

    /// Set the slot size for a new format, clearing every bit (the page is empty and owned by
    /// the caller; no object in it can be marked).
    pub(crate) fn reformat(&self, slot_size: usize) {
        self.slot_magic.store(magic(slot_size), Ordering::Relaxed);
        for w in &self.bits {
            w.store(0, Ordering::Relaxed);
        }
    }

    /// The slot index of the slot starting `offset` bytes into the page.
    #[inline(always)]
    pub(crate) fn slot_of(&self, offset: usize) -> usize {
        // Relaxed: the format was set before any object of it was allocated, and the caller
        // received the object's address through a channel ordered after that allocation.
        ((offset as u64 * self.slot_magic.load(Ordering::Relaxed)) >> 32) as usize
    }

    /// Mark slot `i`. Returns `true` for exactly one caller per slot and marking: the one that
    /// set the bit.
    #[inline(always)]
    pub(crate) fn try_mark(&self, i: usize) -> bool {
        let (word, bit) = (&self.bits[i / 64], 1u64 << (i % 64));
        // A plain load first: most objects found are already marked, and a load leaves the
        // line shared between the markers' caches.
        word.load(Ordering::Relaxed) & bit == 0 && word.fetch_or(bit, Ordering::Relaxed) & bit == 0
    }

    /// Whether slot `i` is marked.
    #[inline]
    pub(crate) fn is_marked(&self, i: usize) -> bool {
        self.bits[i / 64].load(Ordering::Relaxed) & (1 << (i % 64)) != 0
    }

    /// Word `w` of the bitmap.
    #[inline(always)]
    pub(crate) fn word(&self, w: usize) -> &AtomicU64 {
        &self.bits[w]
    }
}

/// `ceil(2^32 / slot_size)`: `(i * slot_size * magic) >> 32 == i` for every slot index `i` of a
/// page (the error term `i * (slot_size * magic - 2^32)` stays below `2^32`).
const fn magic(slot_size: usize) -> u64 {
    (1u64 << 32).div_ceil(slot_size as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::heap::size_class::CLASS_SIZES;

    #[test]
    fn slot_index_is_exact_for_every_slot_of_every_class() {
        for &size in &CLASS_SIZES {
            let m = PageMarks::new(size);
            for i in 0..PAGE_BYTES / size {
                assert_eq!(m.slot_of(i * size), i, "slot size {size}");
            }
        }
    }

    #[test]
    fn a_runs_marks_fit_in_its_first_page_wherever_they_are_placed() {
        let places = (0..64).map(|run| marks_offset(run * RUN_BYTES)).collect::<std::collections::BTreeSet<_>>();
        assert!(places.len() > 32, "runs' marks are spread over many offsets");
        for offset in places {
            assert!(offset + std::mem::size_of::<RunMarks>() <= PAGE_BYTES);
        }
    }

    #[test]
    fn one_winner_per_slot() {
        let m = PageMarks::new(32);
        assert!(m.try_mark(70));
        assert!(!m.try_mark(70));
        assert!(m.is_marked(70) && !m.is_marked(71));
        m.reformat(48);
        assert!(!m.is_marked(70), "a new format starts clear");
    }

    #[test]
    fn addresses_outside_runs_are_not_runs() {
        assert!(!is_run(0));
        assert!(!is_run(usize::MAX));
        let local = 0u8;
        assert!(!is_run(std::ptr::from_ref(&local) as usize));
    }
}
