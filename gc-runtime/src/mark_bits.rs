//! Mark bits beside the objects: one bit per 8-byte granule of a page (an object's is its first
//! granule's), found from an object's address by arithmetic alone.
//!
//! # Why beside, not inside
//!
//! Marking an object used to write a word in its own header: a locked read-modify-write on a
//! cache line that, for most objects, was not in any cache yet. The bits now sit in a small
//! bitmap per page ([`PageMarks`], 1 KiB for 64 KiB of objects), so a marker decides
//! whether a found object is new by touching a line it has most likely touched recently, and
//! reads the object itself only when it scans it — late enough for a prefetch to have brought
//! it in. The sweep reads bitmaps, not objects (see `heap/page.rs`), and headers shrink to one
//! word, the type descriptor.
//!
//! # Finding a page's bits
//!
//! Pages come in runs of [`RUN_PAGES`] (2 MiB, aligned to their size; see `raw.rs`). The
//! first page of every run is not used for objects: it holds the marks of the run's other
//! pages ([`RunMarks`]) (and the second, the pages' other bitmaps, see `heap/page.rs`). Given an object address, its run is the address rounded down to
//! 2 MiB and its page index the next five bits, so its page's marks are found by arithmetic
//! alone, and reading the bit word is the only load. The marks
//! do not sit at the start of the run: addresses 2 MiB apart fall into the same cache sets, so
//! the marks of a large heap, all at run starts, would evict each other. Each run's marks are
//! placed at an offset chosen by the run's number ([`marks_offset`]), which spreads them over
//! the cache sets. Which addresses belong to runs at all is decided by the arena the runs are
//! carved from (`raw.rs`, "The arena"): an address inside it is in a run, a subtraction and
//! a comparison ([`Runs`]). Any other address is looked up in a bitmap over the address space
//! in 2 MiB units, the registry of every run (8 MiB of zeroed address space, of which only the
//! words for runs in use are ever touched), which answers for runs mapped outside the arena;
//! any other object is a large object, which keeps its mark in a word in front of its header
//! (see `object/mark.rs`).
//!
//! Beside the marks, the first page holds one *claim* word per 4 KiB of the run ([`RUN_CLAIMS`],
//! at [`claim_offset`]): which mark worker of an exclusive job — a drain inside a pause, or by
//! default any drain of a concurrent cycle — sets that memory's bits, with plain stores (see
//! `object/exclusive.rs`). [`mark_word_and_claim`] finds both by the same arithmetic.
//!
//! # One bit per 8-byte granule
//!
//! An object's bit is the one for the first 8-byte granule of its slot: a shift of its offset
//! in the page, with nothing to load first. (Go keeps one bit per slot instead, and divides
//! the offset by the slot size with a multiply by a per-span reciprocal: here that put a load
//! and a multiply in front of every mark test, and the barrier's slow path, which tests both
//! objects of a store, ran 35 % slower than with marks in the headers.) The price is paid by
//! the sweep, which needs one bit per slot: [`PageMarks::take_slot_bits`] packs every
//! `S`-th bit of each mark word with a few constant shifts and masks for the classes up to
//! 128 bytes (strides of 2 to 16 granules), and for the larger ones, with a few objects per
//! word, visits the set bits only, turning each granule number into a slot number with a
//! multiply.
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
//! # Who writes the bits
//!
//! Mark workers, the collector between drains, stores on threads without a mutator (under the
//! root table's lock), allocating mutators and mark assists — not a mutator's barrier or weak
//! reads, which record candidates for the workers instead (see `shade.rs`). Outside an
//! exclusive job every writer sets bits with a relaxed read-modify-write (a bit guards no
//! other memory; the winner hands the object over through a shade queue, whose push and pop
//! carry the ordering). In an exclusive job — every drain inside a pause, and by default every
//! drain of a concurrent cycle — each word has one mark worker, which stores it plainly
//! ([`try_mark_bit_owned`], see `object/exclusive.rs`); a mutator's black allocation or mark
//! assist beside it may be undone by such a store, and is logged and set again before marks are
//! read to decide (`mutator_marks.rs`). The bits are read and cleared by the page's owner when it sweeps,
//! after the marking ended. The loom models of the barrier (`gc-loom-models`,
//! `models/barrier.rs`) and of the mutators' marks (`models/mutator_marks.rs`) mark with this
//! file's code, with the bits of all their objects in one word.

#[cfg(not(miri))]
use std::sync::atomic::AtomicUsize as StdAtomicUsize;
use std::{
    cell::UnsafeCell,
    sync::atomic::{AtomicU64 as StdAtomicU64, Ordering as StdOrdering},
};

use crate::primitive::sync::atomic::{AtomicU64, Ordering};

/// Bytes per page. Pages are aligned to their size.
pub(crate) const PAGE_BYTES: usize = 64 * 1024;
/// Pages per run: the first holds the marks of the others, the second their other bitmaps
/// (`heap/page.rs`), and the rest, from [`FIRST_OBJECT_PAGE`] on, hold objects.
pub(crate) const RUN_PAGES: usize = 32;
/// The first page of a run that holds objects: the pages before it hold the run's tables.
pub(crate) const FIRST_OBJECT_PAGE: usize = 2;
/// Bytes per run: the unit of address-space mapping, aligned to its size.
pub(crate) const RUN_BYTES: usize = PAGE_BYTES * RUN_PAGES;
/// The smallest slot size.
pub(crate) const MIN_SLOT: usize = 16;
/// Words of a per-page bitmap with one bit per slot of the smallest size.
pub(crate) const PAGE_WORDS: usize = PAGE_BYTES / MIN_SLOT / 64;
/// Bytes per mark bit (every slot size is a multiple of it).
pub(crate) const GRANULE: usize = 8;
/// Words of a page's mark bitmap.
const MARK_WORDS: usize = PAGE_BYTES / GRANULE / 64;

/// Addresses at or above this are never run addresses (user space on the 64-bit platforms this
/// crate supports ends below 2^47 unless a program asks the kernel for more).
const ADDRESS_BITS: u32 = 47;
const RUN_SHIFT: u32 = RUN_BYTES.trailing_zeros();
const REGISTRY_WORDS: usize = 1 << (ADDRESS_BITS - RUN_SHIFT - 6);

/// One bit per possible run: set once the run is mapped, never cleared (runs are never
/// unmapped). Zero-initialised, so only the words of runs in use are ever touched.
static REGISTRY: Registry = Registry(UnsafeCell::new([0; REGISTRY_WORDS]));

/// The registry's words: atomics, kept in one `UnsafeCell` rather than as an array of a million
/// `AtomicU64`s. The two are the same memory; the difference is what a checker sees. Every use
/// of a static array goes through a reference to the whole of it, and Miri inspects each
/// `UnsafeCell` a reference covers: an array of atomics made every `is_run` cost a million
/// steps there (the test suite under Miri ran three times slower). One cell is one step.
#[repr(transparent)]
struct Registry(UnsafeCell<[u64; REGISTRY_WORDS]>);

// SAFETY: the words are only ever accessed atomically, through `Registry::word`.
unsafe impl Sync for Registry {}

// `Registry::word` views a `u64` as an `AtomicU64`: they must agree in size and alignment.
const _: () = assert!(std::mem::size_of::<u64>() == std::mem::size_of::<StdAtomicU64>());
const _: () = assert!(std::mem::align_of::<u64>() == std::mem::align_of::<StdAtomicU64>());

impl Registry {
    /// Word `i` of the registry, or `None` past its end.
    #[inline(always)]
    fn word(&'static self, i: usize) -> Option<&'static StdAtomicU64> {
        if i >= REGISTRY_WORDS {
            return None;
        }
        // SAFETY: `i` is in bounds, so the pointer is to a word of the static, which lives
        // forever and is aligned for an atomic (checked above); every access to the words is
        // atomic (this is the only way to them), so no non-atomic access races with one.
        Some(unsafe { StdAtomicU64::from_ptr(self.0.get().cast::<u64>().add(i)) })
    }
}

/// The marks of every page of a run, in the run's first page.
#[repr(C)]
pub(crate) struct RunMarks {
    pages: [PageMarks; RUN_PAGES],
}

/// Bytes of a page one claim covers (see [`RUN_CLAIMS`]): eight mark words.
pub(crate) const CLAIM_BYTES: usize = 4096;

/// Which mark worker sets the bits of each 4 KiB of a run's pages during an exclusive marking
/// (see `object/exclusive.rs`): one claim word per 4 KiB, [`RUN_CLAIMS`] in all, in the run's
/// first page right after its marks, wrapping around to the page's start where they would pass
/// its end ([`claim_offset`]).
///
/// Why 4 KiB and not a page: a worker that takes grey objects from another's stack finds
/// their children next to them, in memory the other worker claimed when it marked them; those
/// it must forward. With a claim per 64 KiB page, stop-the-world collections of a tree of 1M
/// nodes forwarded 23 000–58 000 objects and marked in 4.6 ms (median of 21); with a claim per
/// 4 KiB, 1 000–4 000 objects and 4.1 ms.
const RUN_CLAIMS: usize = RUN_BYTES / CLAIM_BYTES;

/// Places for a run's marks in its first page, 1 KiB apart (a power of two, so choosing one is
/// a mask).
const MARKS_PLACES: usize = 32;
const _: () = assert!((MARKS_PLACES - 1) * 1024 + std::mem::size_of::<RunMarks>() <= PAGE_BYTES);
// `mark_word` finds a word by arithmetic: the bitmaps are laid out without padding.
const _: () = assert!(std::mem::size_of::<PageMarks>() == MARK_WORDS * 8);
const _: () = assert!(std::mem::size_of::<RunMarks>() == RUN_PAGES * std::mem::size_of::<PageMarks>());

/// Where in the first page of the run holding `addr` its marks lie: one of [`MARKS_PLACES`]
/// places, by the run's number.
#[inline(always)]
fn marks_offset(addr: usize) -> usize {
    ((addr >> RUN_SHIFT) & (MARKS_PLACES - 1)) * 1024
}

/// Where in the first page of the run holding `addr` the claim word of the 4 KiB holding `addr`
/// lies: the claims follow the run's marks, word after word, and wrap around to the start of the
/// page (the marks of the last few places end too near the page's end for all of them; those
/// marks start far enough from the page's beginning for the rest). One addition and one mask,
/// found beside the mark word's own arithmetic on every object an exclusive marking finds.
#[inline(always)]
fn claim_offset(addr: usize) -> usize {
    let index = (addr & (RUN_BYTES - 1)) / CLAIM_BYTES;
    (marks_offset(addr) + std::mem::size_of::<RunMarks>() + index * std::mem::size_of::<u64>()) & (PAGE_BYTES - 1)
}

// `claim_offset`'s wrap: the claims that wrap end before the marks of their run begin.
const _: () = assert!(std::mem::size_of::<RunMarks>() + RUN_CLAIMS * std::mem::size_of::<u64>() <= PAGE_BYTES);

/// Register a newly mapped run starting at `start` (aligned to [`RUN_BYTES`]), whose first
/// page — zero, as fresh memory is — holds its marks, all clear, and its claims, all stale.
/// Aborts if the run lies outside the address range the registry covers.
///
/// Nothing is written: zero is the state of marks and claims that no marking uses (every job's
/// claim tag is non-zero, see `object/exclusive.rs`), so a run's first page is touched only
/// where its pages' marks are, and the page pool may give the whole page back to the OS once
/// every page of the run is empty (`heap/pool.rs`, "Giving back a run's tables"): it comes
/// back as zeroes, the state it started in.
///
/// # Safety
/// `start` is the start of a run of [`RUN_BYTES`] writable bytes, all zero, owned by the caller
/// and not registered before.
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
    let run = addr >> RUN_SHIFT;
    // Release: a thread that finds the bit set (through an object address it received after
    // this) also finds the run's memory as the caller left it.
    let word = REGISTRY.word(run / 64).expect("the address was checked to be below the registry's limit");
    word.fetch_or(1 << (run % 64), StdOrdering::Release);
    // SAFETY: the marks lie in the run's first page, at a multiple of 1 KiB (enough for their
    // alignment); its bytes are zero (the caller's promise), which is a valid `RunMarks` — all
    // atomics, all clear — and the run is never unmapped.
    unsafe { &*marks }
}

impl RunMarks {
    /// The marks of page `index` of the run (one of the pages that hold objects).
    pub(crate) fn page(&'static self, index: usize) -> &'static PageMarks {
        assert!((FIRST_OBJECT_PAGE..RUN_PAGES).contains(&index), "page {index} of a run holds no objects");
        &self.pages[index]
    }
}

/// Bytes of address space reserved for runs at the first run's mapping (see `raw.rs`,
/// "The arena"): 256 GiB, address space only, which the system backs with memory page by page
/// as runs are carved out of it and used.
pub(crate) const ARENA_BYTES: usize = 1 << 38;

/// What [`ARENA_START`] holds while there is no arena: every user-space address minus it
/// wraps to at least 2^63, far above [`ARENA_BYTES`], so no address is taken for an arena's.
const NO_ARENA: usize = 1 << 63;

/// The start of the arena the runs are carved from, or [`NO_ARENA`]: written once, before the
/// arena's first run is handed out (see `set_arena`). Not under Miri, which has no arena.
#[cfg(not(miri))]
static ARENA_START: StdAtomicUsize = StdAtomicUsize::new(NO_ARENA);

/// Record that runs are carved from the `ARENA_BYTES` of address space at `start` from now on:
/// every address in that range that an object can have is in a run (the arena holds nothing
/// else), so [`Runs::contains`] answers for it with a subtraction and a comparison.
///
/// # Panics
/// If an arena was set before (there is one per process), or `start` is not aligned to
/// [`RUN_BYTES`].
#[cfg(all(target_os = "linux", not(miri)))]
pub(crate) fn set_arena(start: usize) {
    assert!(start % RUN_BYTES == 0, "the arena's runs are aligned to their size");
    let before = ARENA_START.swap(start, StdOrdering::Relaxed);
    assert_eq!(before, NO_ARENA, "one arena per process");
}

/// Whether memory ending at `end` (exclusive) lies in the part of the address space the
/// registry of runs covers, where [`register_run`] accepts runs.
#[cfg(all(target_os = "linux", not(miri)))]
pub(crate) fn is_below_address_limit(end: usize) -> bool {
    end <= 1 << ADDRESS_BITS
}

/// The start of the arena, if one was set (for tests).
#[cfg(test)]
pub(crate) fn arena_start() -> Option<usize> {
    Some(Runs::now().arena_start).filter(|&start| start != NO_ARENA)
}

/// Whether `addr`, the address of an object, lies in a run of pages (as opposed to a large
/// object's block): [`Runs::contains`] with the arena as it is now.
#[cfg(test)]
pub(crate) fn is_run(addr: usize) -> bool {
    Runs::now().contains(addr)
}

/// Where the runs are, as a thread read it: a copy of the arena's start, which a mark worker
/// takes when it starts, so that its test of every address it finds starts from a register or
/// its own state rather than a load of the global word.
///
/// Nearly every run is carved from the arena, so the common answer is a subtraction and a
/// comparison; a run mapped on its own (the arena used up, or never reserved: see
/// `raw.rs`) and every large object are looked up in the registry. (The registry alone
/// made one worker mark the trees 7–11 % slower: its lookup, a bounds test, a load and
/// a bit test, comes twice per two-slot node.) A copy taken before the arena was set holds
/// [`NO_ARENA`] and sends every address to the registry, where arena runs are registered too:
/// both answers agree, so any copy is right, however old.
///
/// `Relaxed` suffices for reading the arena's word, for that reason. The page's marks, which
/// the answer leads to, were cleared by the format that let the page leave the page pool; a
/// thread holds an object's address only through the heap's publication of the object
/// (`barrier.rs`, "Publication ordering"), which orders those writes before its reads as it
/// orders the object's header.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Runs {
    arena_start: usize,
}

impl Runs {
    /// The runs as they are now.
    #[cfg(not(miri))]
    #[inline(always)]
    pub(crate) fn now() -> Runs {
        Runs { arena_start: ARENA_START.load(StdOrdering::Relaxed) }
    }

    /// Under Miri there is never an arena (`raw.rs` maps each run alone there), and the
    /// word is not read: an atomic load per mark, beside the registry's, made Miri's runs of
    /// the marking tests up to a quarter slower (the weak-reference tests 42 → 53 s; its race
    /// detector does work on every atomic access).
    #[cfg(miri)]
    #[inline(always)]
    pub(crate) fn now() -> Runs {
        Runs { arena_start: NO_ARENA }
    }

    /// Whether `addr`, the address of an object, lies in a run of pages.
    #[inline(always)]
    pub(crate) fn contains(self, addr: usize) -> bool {
        addr.wrapping_sub(self.arena_start) < ARENA_BYTES || is_registered_run(addr)
    }
}

/// Whether `addr` lies in a run registered by [`register_run`]: every run, in or out of the
/// arena.
#[inline(always)]
pub(crate) fn is_registered_run(addr: usize) -> bool {
    let run = addr >> RUN_SHIFT;
    REGISTRY.word(run / 64).is_some_and(|w| w.load(StdOrdering::Acquire) & (1 << (run % 64)) != 0)
}

/// The word holding the mark bit of the object at `obj`, and the bit within it; `None` if the
/// object is not in a page (a large object).
///
/// Only that word is referenced (not the run's or the page's whole bitmap: a reference to
/// 32 KiB of marks per test made Miri, which tracks every byte a reference covers, hundreds of
/// times slower).
///
/// # Safety
/// `obj` is the start of an allocated object, derived from the memory it lives in (so that its
/// provenance covers the run).
#[inline(always)]
pub(crate) unsafe fn mark_word(obj: *const u8) -> Option<(&'static AtomicU64, u64)> {
    // SAFETY: guaranteed by the caller.
    unsafe { mark_word_in(obj, Runs::now()) }
}

/// [`mark_word`], with the runs as the caller read them.
///
/// # Safety
/// As [`mark_word`].
#[inline(always)]
pub(crate) unsafe fn mark_word_in(obj: *const u8, runs: Runs) -> Option<(&'static AtomicU64, u64)> {
    let addr = obj as usize;
    if !runs.contains(addr) {
        return None;
    }
    let in_run = addr & (RUN_BYTES - 1);
    // SAFETY: the object lies in a registered run (tested above), derived from its memory (the
    // caller); the offset is that of its mark word in the run's marks.
    let word = unsafe { first_page_word(obj, marks_offset(addr) + marks_word_offset(in_run)) };
    Some((word, 1 << (addr / GRANULE % 64)))
}

/// [`mark_word_in`], and the claim word of the 4 KiB of its page that hold the object (see
/// [`RUN_CLAIMS`]); `None` if the object is not in a page.
///
/// # Safety
/// As [`mark_word`].
#[inline(always)]
pub(crate) unsafe fn mark_word_and_claim(
    obj: *const u8,
    runs: Runs,
) -> Option<(&'static AtomicU64, u64, &'static AtomicU64)> {
    // SAFETY: guaranteed by the caller.
    let (word, bit) = unsafe { mark_word_in(obj, runs) }?;
    let addr = obj as usize;
    // SAFETY: the object lies in a registered run (`mark_word` found its word), derived from
    // its memory; the offset is that of its claim word, written by `register_run`.
    let claim = unsafe { first_page_word(obj, claim_offset(addr)) };
    Some((word, bit, claim))
}

/// The word at `offset` in the first page of the run holding the object at `obj`: one of the
/// run's mark words or claims.
///
/// # Safety
/// `obj` lies in a registered run and is derived from the memory it lives in; `offset` is that
/// of a word of the run's [`RunMarks`] (at [`marks_offset`]) or one of its claim words (at
/// [`claim_offset`]).
#[inline(always)]
unsafe fn first_page_word(obj: *const u8, offset: usize) -> &'static AtomicU64 {
    let in_run = obj as usize & (RUN_BYTES - 1);
    // SAFETY: the run's first page holds its marks and claims (see `register_run`: the marks
    // as a `repr(C)` array of words, the claims word by word), so the offset is plain
    // arithmetic; stepping back inside the run keeps the object pointer's provenance (the
    // run's mapping), and the words are never freed.
    unsafe { &*obj.sub(in_run).add(offset).cast::<AtomicU64>() }
}

/// Where the mark word of the object at `in_run` (its offset in its run) lies in the run's
/// [`RunMarks`]: its page's [`PageMarks`], then the word of its granule.
///
/// The two parts are adjacent bit fields of `in_run`, so one shift and one mask give their sum:
/// `in_run / PAGE_BYTES * size_of::<PageMarks>() + in_run % PAGE_BYTES / GRANULE / 64 * 8`
/// (checked against that formula in the tests).
#[inline(always)]
fn marks_word_offset(in_run: usize) -> usize {
    // A mark word covers 64 granules, 512 bytes, and takes 8 bytes: offsets scale by 1/64.
    const SCALE_SHIFT: u32 = (64 * GRANULE / std::mem::size_of::<u64>()).trailing_zeros();
    (in_run >> SCALE_SHIFT) & !(std::mem::size_of::<u64>() - 1)
}

// `marks_word_offset`'s one shift: a page's bitmap takes exactly its bytes / 64, so the page
// index and the word index scale alike.
const _: () = assert!(std::mem::size_of::<PageMarks>() * 64 == PAGE_BYTES);

/// Mark the object whose mark bit is `bit` of `word` (see [`mark_word`]). Returns `true` for
/// exactly one caller per object and marking: the one that set the bit.
///
/// A plain load first: most objects found are already marked, and a load leaves the line
/// shared between the markers' caches. Then a compare-exchange of the word loaded with the
/// bit added, repeated while other bits of the word change under it, rather than `fetch_or`:
/// a `fetch_or` whose old bit is tested compiles on x86-64 to `lock bts` with the bit number in
/// a register, a bit-string instruction of many more micro-operations than `lock cmpxchg`, and
/// the locked operation is about half of a mark worker's time (one per object marked). With
/// the compare-exchange a worker marks 3 % more objects per second (`mark_rate`, one worker
/// and two, 9 interleaved runs each), and a stop-the-world full collection marks 1M objects in
/// 2.8 % less time (`bench/peers` `run --impl ours-stw --workload full-gc`, 41 pairs).
#[inline(always)]
pub(crate) fn try_mark_bit(word: &AtomicU64, bit: u64) -> bool {
    let mut seen = word.load(Ordering::Relaxed);
    while seen & bit == 0 {
        match word.compare_exchange_weak(seen, seen | bit, Ordering::Relaxed, Ordering::Relaxed) {
            Ok(_) => return true,
            Err(now) => seen = now,
        }
    }
    false
}

/// [`try_mark_bit`] for the one thread that may write `word` while it runs (an exclusive
/// marking's owner of the word's claim, see `object/exclusive.rs`): a load and a store, no locked
/// instruction. Any other writer of the word at the same time could lose its bit.
#[inline(always)]
pub(crate) fn try_mark_bit_owned(word: &AtomicU64, bit: u64) -> bool {
    let seen = word.load(Ordering::Relaxed);
    if seen & bit != 0 {
        return false;
    }
    word.store(seen | bit, Ordering::Relaxed);
    true
}

/// One page's mark bits: one per 8-byte granule, set for the first granule of a marked
/// object. Aligned to cache lines, so no two pages share one (its size, 1 KiB, is a multiple of
/// that alignment, so the pages of a run are laid out without padding).
#[repr(C, align(64))]
pub(crate) struct PageMarks {
    bits: [AtomicU64; MARK_WORDS],
}

impl PageMarks {
    /// Marks with every bit clear.
    #[cfg(test)]
    pub(crate) fn new() -> Self {
        PageMarks { bits: std::array::from_fn(|_| AtomicU64::new(0)) }
    }

    /// Clear every bit (the page's owner, when it sweeps or reformats the page: no marking
    /// runs, or the page holds no object).
    pub(crate) fn clear(&self) {
        for w in &self.bits {
            w.store(0, Ordering::Relaxed);
        }
    }

    /// Mark granule `g` (an object's first). Returns `true` for exactly one caller per object
    /// and marking: the one that set the bit. (Markers find the word by address, see
    /// [`mark_word`]; allocation marks whole runs of slots, [`PageMarks::mark_slots`].)
    #[cfg(test)]
    pub(crate) fn try_mark(&self, g: usize) -> bool {
        try_mark_bit(&self.bits[g / 64 % MARK_WORDS], 1 << (g % 64))
    }

    /// Mark granule `g` as the owner of its word in an exclusive job: a plain load and store
    /// ([`try_mark_bit_owned`]). For the loom model of the black-allocation log.
    #[cfg(gc_loom)]
    pub(crate) fn try_mark_owned(&self, g: usize) -> bool {
        try_mark_bit_owned(&self.bits[g / 64 % MARK_WORDS], 1 << (g % 64))
    }

    /// Mark the first granules of the slots set in `slots`, bits of slot word `word` of a
    /// page of `slot_size` slots (allocation black for a run of slots, see `heap/cache.rs`):
    /// one `fetch_or` per mark word touched.
    ///
    /// A slot word covers exactly `stride` mark words, `word · stride ..`, whatever the stride
    /// (granules per slot). For the classes up to 128 bytes — the small objects most programs
    /// allocate most — each mark word's bits are a run of the slot bits spread out by the
    /// stride ([`spread_stride`], a few shifts and masks); larger slots, a few per mark word,
    /// are visited bit by bit. Visiting every slot cost 5–7 % of the samples of an
    /// allocation-heavy program while marking ran (rings of 100 000 objects, `bench/peers`).
    pub(crate) fn mark_slots(&self, word: usize, slots: u64, slot_size: usize) {
        match slot_size / GRANULE {
            2 => self.mark_slots_spread::<2>(word, slots),
            3 => self.mark_slots_spread::<3>(word, slots),
            4 => self.mark_slots_spread::<4>(word, slots),
            6 => self.mark_slots_spread::<6>(word, slots),
            8 => self.mark_slots_spread::<8>(word, slots),
            10 => self.mark_slots_spread::<10>(word, slots),
            12 => self.mark_slots_spread::<12>(word, slots),
            14 => self.mark_slots_spread::<14>(word, slots),
            16 => self.mark_slots_spread::<16>(word, slots),
            stride => self.mark_slots_visiting(word, slots, stride),
        }
    }

    /// [`mark_slots`](Self::mark_slots) for slots of `S` granules (2 ≤ `S` ≤ 32): mark word
    /// `k` of the slot word's `S` holds the slots `j` with `64·k ≤ S·j < 64·(k + 1)`, slot `j`
    /// at bit `S·j − 64·k`. With `S` a constant the loop unrolls and every shift is a constant.
    #[inline(always)]
    fn mark_slots_spread<const S: usize>(&self, word: usize, slots: u64) {
        for k in 0..S {
            let (first, end) = ((64 * k).div_ceil(S), (64 * (k + 1)).div_ceil(S));
            let run = (slots >> first) & (u64::MAX >> (64 - (end - first)));
            self.set_bits(word * S + k, spread_stride::<S>(run) << (S * first - 64 * k));
        }
    }

    /// [`mark_slots`](Self::mark_slots) for any stride: each set bit in turn.
    fn mark_slots_visiting(&self, word: usize, mut slots: u64, stride: usize) {
        let (mut at, mut acc) = (usize::MAX, 0u64);
        while slots != 0 {
            let g = (word * 64 + slots.trailing_zeros() as usize) * stride;
            slots &= slots - 1;
            if g / 64 != at {
                self.set_bits(at, acc);
                (at, acc) = (g / 64, 0);
            }
            acc |= 1 << (g % 64);
        }
        self.set_bits(at, acc);
    }

    /// Set `bits` in mark word `w` (nothing for no bits).
    #[inline]
    fn set_bits(&self, w: usize, bits: u64) {
        if bits != 0 {
            let word = &self.bits[w % MARK_WORDS];
            if word.load(Ordering::Relaxed) & bits != bits {
                word.fetch_or(bits, Ordering::Relaxed);
            }
        }
    }

    /// Whether granule `g` is marked.
    #[cfg(test)]
    pub(crate) fn is_marked(&self, g: usize) -> bool {
        self.bits[g / 64 % MARK_WORDS].load(Ordering::Relaxed) & (1 << (g % 64)) != 0
    }

    /// The marks of the page's slots for a page of `slot_size` slots, one bit per slot (bit
    /// `i % 64` of word `i / 64` for slot `i`).
    ///
    /// For a stride of up to 16 granules the mark words are packed whole
    /// ([`compress_stride`]). Otherwise only the set bits are visited: each is the first
    /// granule of a marked object, and its slot number is the granule number divided by the
    /// stride, done as a multiply by a rounded-up reciprocal (exact for every granule of a
    /// page: granule × stride < 2^32).
    /// So a sparsely marked page costs the bitmap's 128 loads and little more, and a densely
    /// marked one a few shifts per word (classes up to 128 bytes) or a few instructions per
    /// marked object (the larger ones, at most eight per word).
    pub(crate) fn slot_bits(&self, slot_size: usize) -> [u64; PAGE_WORDS] {
        self.gather(slot_size, false)
    }

    /// [`slot_bits`](Self::slot_bits), clearing the marks as they are read (the page's owner
    /// when it sweeps: no marking runs). Only words with a mark are written.
    pub(crate) fn take_slot_bits(&self, slot_size: usize) -> [u64; PAGE_WORDS] {
        self.gather(slot_size, true)
    }

    fn gather(&self, slot_size: usize, take: bool) -> [u64; PAGE_WORDS] {
        let stride = (slot_size / GRANULE) as u64;
        debug_assert!(stride >= 2 && slot_size % GRANULE == 0);
        // One copy per small stride (the classes of 16 to 128 bytes), so every shift and mask
        // below is a constant.
        match stride {
            2 => return self.gather_strided::<2>(take),
            3 => return self.gather_strided::<3>(take),
            4 => return self.gather_strided::<4>(take),
            6 => return self.gather_strided::<6>(take),
            8 => return self.gather_strided::<8>(take),
            10 => return self.gather_strided::<10>(take),
            12 => return self.gather_strided::<12>(take),
            14 => return self.gather_strided::<14>(take),
            16 => return self.gather_strided::<16>(take),
            _ => {}
        }
        let reciprocal = (1u64 << 32).div_ceil(stride);
        let mut out = [0u64; PAGE_WORDS];
        // Slot numbers only grow as granules do: build each output word in a register and
        // store it when the next marked slot falls into a later word.
        let (mut at, mut acc) = (0usize, 0u64);
        for (i, word) in self.bits.iter().enumerate() {
            let mut m = word.load(Ordering::Relaxed);
            if m == 0 {
                continue;
            }
            if take {
                word.store(0, Ordering::Relaxed);
            }
            while m != 0 {
                let g = (i * 64) as u64 + u64::from(m.trailing_zeros());
                m &= m - 1;
                let slot = ((g * reciprocal) >> 32) as usize;
                if slot / 64 != at {
                    out[at] |= acc;
                    (at, acc) = (slot / 64, 0);
                }
                acc |= 1 << (slot % 64);
            }
        }
        out[at] |= acc;
        out
    }

    /// [`gather`](Self::gather) for a stride of `S` granules (16 ≤ 8·`S` ≤ 128 bytes: the
    /// most common classes), word by word, with no step per marked object. The first granules
    /// of slots fall on every `S`-th bit, starting at bit `p0` of word `i` (`p0` is where the
    /// first slot starting in the word lies); [`compress_stride`] packs them into the low
    /// bits, which are the slot bits of consecutive slots from `(64·i + p0) / S` on. A page of
    /// live 32-byte objects costs 128 loads and a few shifts per word instead of a multiply and
    /// a branch per object (the sweep of a fully live heap was dominated by that step).
    fn gather_strided<const S: usize>(&self, take: bool) -> [u64; PAGE_WORDS] {
        let mut out = [0u64; PAGE_WORDS];
        for (i, word) in self.bits.iter().enumerate() {
            let m = word.load(Ordering::Relaxed);
            if m == 0 {
                continue;
            }
            if take {
                word.store(0, Ordering::Relaxed);
            }
            let p0 = (S - 64 * i % S) % S;
            let packed = compress_stride::<S>(m >> p0);
            let first_slot = (64 * i + p0) / S;
            let (w, b) = (first_slot / 64, first_slot % 64);
            out[w] |= packed << b;
            // A word holds at most 32 slots' first granules: they spill into the next slot
            // word only if they start past its bit 32.
            if b > 32 {
                if let Some(next) = out.get_mut(w + 1) {
                    *next |= packed >> (64 - b);
                }
            }
        }
        out
    }
}

/// The bits of `m` at multiples of `S` (2 ≤ `S` ≤ 64), packed into the low bits, in order;
/// every other bit of `m` is ignored. Neighbouring groups of `S` bits are merged pairwise, in
/// as many shift-and-mask steps as it takes a group to cover the word (the reverse of a bit
/// interleave; for `S` = 3: 5 steps). With `S` a constant the loop unrolls and every mask is a
/// constant.
#[inline(always)]
fn compress_stride<const S: usize>(m: u64) -> u64 {
    // Start: groups of `span = S` bits, each with its one valid bit at the bottom.
    let masks = const { merge_masks(S) };
    let mut x = m & masks[0];
    let (mut span, mut width, mut step) = (S, 1, 1);
    while span < 64 {
        // Merge each pair of groups: the upper group's `width` valid bits move down next to
        // the lower group's, and only the lower group of each pair is kept.
        x = (x | x >> (span - width)) & masks[step];
        span *= 2;
        width *= 2;
        step += 1;
    }
    x
}

/// The bits `j` of `x` with `j · S < 64`, bit `j` moved to bit `j · S` (2 ≤ `S` ≤ 64); the
/// other bits of `x` are ignored. The inverse of [`compress_stride`]: its steps in reverse,
/// each splitting every group of valid bits in two and moving the upper half up to the start
/// of the next group (for `S` = 2 or 3: 5 steps).
#[inline(always)]
fn spread_stride<const S: usize>(x: u64) -> u64 {
    const { assert!(S >= 2 && S <= 64) };
    let masks = const { merge_masks(S) };
    // `compress_stride`'s steps: as many as it takes a group to cover the word.
    let steps = const {
        let (mut span, mut steps) = (S, 0);
        while span < 64 {
            span *= 2;
            steps += 1;
        }
        steps
    };
    // After its last step: one group, its low `2^steps` bits valid.
    let mut x = x & masks[steps];
    let mut step = steps;
    while step > 0 {
        // Undo step `step`: groups of `2·span` bits with `2·width` valid bits each become
        // groups of `span` bits with `width`.
        let (span, width) = (S << (step - 1), 1 << (step - 1));
        x = (x | x << (span - width)) & masks[step - 1];
        step -= 1;
    }
    x
}

/// The masks of [`compress_stride`] for stride `s`: the first keeps the bits at multiples of
/// `s`, step `k` the low `2^k` bits of every group of `s·2^k` bits.
const fn merge_masks(s: usize) -> [u64; 7] {
    let mut masks = [0u64; 7];
    let (mut span, mut width, mut step) = (s, 1, 0);
    while step < 7 {
        masks[step] = repeat_low_bits(span, width);
        span *= 2;
        width *= 2;
        step += 1;
    }
    masks
}

/// A word whose bit `p` is set when `p % period < width`: the low `width` bits of every group
/// of `period` bits, the last group cut off at bit 63.
const fn repeat_low_bits(period: usize, width: usize) -> u64 {
    let mut mask = 0u64;
    let mut p = 0;
    while p < 64 {
        if p % period < width {
            mask |= 1 << p;
        }
        p += 1;
    }
    mask
}

#[cfg(all(test, not(gc_loom)))]
mod tests {
    use super::*;
    use crate::heap::size_class::CLASS_SIZES;

    #[test]
    fn a_mark_words_offset_is_its_pages_bitmap_then_its_granules_word() {
        // Every granule of a run (every 61st under Miri).
        for in_run in (PAGE_BYTES..RUN_BYTES).step_by(GRANULE * if cfg!(miri) { 61 } else { 1 }) {
            let granule = in_run % PAGE_BYTES / GRANULE;
            let expect = in_run / PAGE_BYTES * std::mem::size_of::<PageMarks>() + granule / 64 * 8;
            assert_eq!(marks_word_offset(in_run), expect, "offset {in_run:#x} in its run");
        }
    }

    // Not under Miri: safe code only (atomics and shifts), 19 s interpreted.
    #[cfg(not(miri))]
    #[test]
    fn slot_bits_gather_each_slots_first_granule_for_every_class() {
        // Every class; under Miri, which is slow, the smallest, one that is no power of two, and
        // the largest.
        let classes = if cfg!(miri) { &[16, 48, 8192][..] } else { &CLASS_SIZES[..] };
        for &size in classes {
            let nslots = PAGE_BYTES / size;
            for marked in
                [&|i: usize| i % 3 == 0 || i % 7 == 1, &|_| true, &|i| i + 1 == nslots] as [&dyn Fn(usize) -> bool; 3]
            {
                let m = PageMarks::new();
                for i in (0..nslots).filter(|&i| marked(i)) {
                    assert!(m.try_mark(i * size / GRANULE));
                }
                let expect: [u64; PAGE_WORDS] = std::array::from_fn(|w| {
                    (0..64).filter(|b| w * 64 + b < nslots && marked(w * 64 + b)).fold(0, |acc, b| acc | 1 << b)
                });
                assert_eq!(m.slot_bits(size), expect, "slot size {size}");
                assert_eq!(m.take_slot_bits(size), expect, "slot size {size}");
                assert_eq!(m.slot_bits(size), [0; PAGE_WORDS], "taking clears, slot size {size}");
            }
        }
    }

    /// `compress_stride` packs the bits at multiples of the stride; `spread_stride` puts them
    /// back, and nothing else.
    #[test]
    fn compressing_a_stride_keeps_exactly_the_bits_at_its_multiples_in_order() {
        fn check<const S: usize>(m: u64) {
            let n = 64usize.div_ceil(S);
            let expect = (0..n).filter(|j| m & (1 << (j * S)) != 0).fold(0u64, |acc, j| acc | 1 << j);
            assert_eq!(compress_stride::<S>(m), expect, "stride {S}, m = {m:#x}");
            let at_multiples = (0..n).fold(0u64, |acc, j| acc | 1 << (j * S));
            assert_eq!(spread_stride::<S>(expect), m & at_multiples, "stride {S}, m = {m:#x}: spread back");
            assert_eq!(spread_stride::<S>(m) & !at_multiples, 0, "stride {S}, m = {m:#x}: spread lands on multiples");
        }
        let mut rng = 0x9E37_79B9_7F4A_7C15u64;
        for _ in 0..if cfg!(miri) { 5 } else { 200 } {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            for m in [rng, u64::MAX, 0, 1, 1 << 63, rng & rng.rotate_left(5)] {
                check::<2>(m);
                check::<3>(m);
                check::<4>(m);
                check::<5>(m);
                check::<6>(m);
                check::<7>(m);
                check::<8>(m);
                check::<10>(m);
                check::<12>(m);
                check::<14>(m);
                check::<16>(m);
                check::<32>(m);
                check::<64>(m);
            }
        }
    }

    // Not under Miri: safe code only (atomics and shifts), 27 s interpreted.
    #[cfg(not(miri))]
    #[test]
    fn marking_a_run_of_slots_marks_exactly_their_first_granules() {
        // Every class, by a spread of the slot bits or visiting them (see `mark_slots`); under
        // Miri, which is slow, four classes, and the first and last slot words.
        let classes = if cfg!(miri) { &[16, 24, 128, 8192][..] } else { &CLASS_SIZES[..] };
        for &size in classes {
            let nslots = PAGE_BYTES / size;
            let words = nslots.div_ceil(64);
            for word in (0..words).filter(|&w| !cfg!(miri) || w == 0 || w + 1 == words) {
                let valid = if nslots - word * 64 >= 64 { u64::MAX } else { (1 << (nslots - word * 64)) - 1 };
                for slots in
                    [valid, valid & 0x5555_0000_ffff_0001, valid & (1 << 63 | 1), valid & 0x0F0F_3C3C_8000_0000]
                {
                    let m = PageMarks::new();
                    m.mark_slots(word, slots, size);
                    let expect: [u64; PAGE_WORDS] = std::array::from_fn(|w| if w == word { slots } else { 0 });
                    assert_eq!(m.slot_bits(size), expect, "slot size {size}, word {word}");
                    // Only first granules: no other bit of the slot word's mark words is set.
                    let stride = size / GRANULE;
                    let mut marked =
                        (word * 64 * stride..((word + 1) * 64).min(nslots) * stride).filter(|&g| m.is_marked(g));
                    let first = |g: usize| g % stride == 0 && slots & (1 << (g / stride % 64)) != 0;
                    assert!(
                        marked.clone().all(first),
                        "slot size {size}, word {word}: a granule not first in its slot"
                    );
                    assert_eq!(marked.by_ref().count(), slots.count_ones() as usize, "slot size {size}, word {word}");
                }
            }
        }
    }

    // Not under Miri: offset arithmetic only (safe code), 60 s interpreted. The module's unsafe
    // code, which turns these offsets into references, runs under Miri in the other tests.
    #[cfg(not(miri))]
    #[test]
    fn a_runs_marks_and_claims_fit_apart_in_its_first_page_wherever_they_are_placed() {
        let places = (0..64).map(|run| marks_offset(run * RUN_BYTES)).collect::<std::collections::BTreeSet<_>>();
        assert_eq!(places.len(), MARKS_PLACES, "runs' marks are spread over every place");
        let marks = std::mem::size_of::<RunMarks>();
        for run in 0..MARKS_PLACES {
            let start = run * RUN_BYTES;
            let m = marks_offset(start);
            assert!(m + marks <= PAGE_BYTES, "run {run}: marks in the page");
            let claims: std::collections::BTreeSet<usize> =
                (0..RUN_CLAIMS).map(|i| claim_offset(start + i * CLAIM_BYTES)).collect();
            assert_eq!(claims.len(), RUN_CLAIMS, "run {run}: one word per claim");
            for &c in &claims {
                assert!(c % 8 == 0 && c + 8 <= PAGE_BYTES, "run {run}: claim at {c} aligned, in the page");
                assert!(c + 8 <= m || m + marks <= c, "run {run}: claim at {c} inside the marks at {m}..");
            }
            // Every address of a 4 KiB has the same claim.
            assert_eq!(claim_offset(start + CLAIM_BYTES), claim_offset(start + 2 * CLAIM_BYTES - 8), "run {run}");
        }
    }

    #[test]
    fn one_winner_per_object() {
        let m = PageMarks::new();
        assert!(m.try_mark(70));
        assert!(!m.try_mark(70));
        assert!(m.is_marked(70) && !m.is_marked(71));
        m.clear();
        assert!(!m.is_marked(70));
    }

    /// Threads marking the granules of the same few words at once, each in its own order:
    /// every compare-exchange that loses to a neighbouring bit retries, so no bit is lost and
    /// each is won exactly once.
    #[test]
    fn racing_markers_of_one_word_lose_no_bit_and_win_each_once() {
        const THREADS: usize = 4;
        const GRANULES: usize = 3 * 64;
        let rounds = if cfg!(miri) { 1 } else { 200 };
        for _ in 0..rounds {
            let m = PageMarks::new();
            let wins: Vec<Vec<usize>> = std::thread::scope(|s| {
                let handles: Vec<_> = (0..THREADS)
                    .map(|t| {
                        let m = &m;
                        s.spawn(move || {
                            // Thread t visits the granules with stride 2t + 1 (odd, so all of
                            // them), starting at a different place: the threads meet in every
                            // word at different bits.
                            (0..GRANULES)
                                .map(|i| (t * 37 + i * (2 * t + 1)) % GRANULES)
                                .filter(|&g| m.try_mark(g))
                                .collect()
                        })
                    })
                    .collect();
                handles.into_iter().map(|h| h.join().expect("a marker thread")).collect()
            });
            let mut won: Vec<usize> = wins.concat();
            won.sort_unstable();
            assert_eq!(won, (0..GRANULES).collect::<Vec<_>>(), "each granule won by exactly one thread");
            assert!((0..GRANULES).all(|g| m.is_marked(g)), "no bit lost");
        }
    }

    #[test]
    fn addresses_outside_runs_are_not_runs() {
        assert!(!is_run(0));
        assert!(!is_run(usize::MAX));
        let local = 0u8;
        assert!(!is_run(std::ptr::from_ref(&local) as usize));
    }
}
