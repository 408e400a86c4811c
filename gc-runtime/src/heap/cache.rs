//! A mutator's allocation cache: one page per size class, owned by the mutator.
//!
//! The fast path takes the lowest free slot of the current 64-slot bitmap word: a
//! trailing-zeros count, two bit operations and a store, no atomics and no lock (Go's
//! `mcache` with `allocCache`). When the page has no free slot left it goes back to its
//! central list and the cache takes another, sweeping it first if needed (lazy sweep).
//!
//! # Allocate black
//!
//! A new object must survive the next sweep of its page when that sweep is due to a marking
//! that has started: the marking in progress, or one that ended while the page sat in this
//! cache (its sweep comes when the page is handed back). That is exactly when the current mark
//! epoch is newer than the epoch the page was last swept for, so the fast path compares the two
//! and, if so, the object's mark bit must be set (see `mark_bits.rs`). Otherwise the object is
//! white, as it must be: a mark bit set outside a marking would be taken by the next marking
//! for an object already scanned.
//!
//! The first object allocated black from a 64-slot word marks, with it, every slot of the word
//! still free, and the cache notes the epoch (`black_epoch`): the next objects from that word
//! are black already, and the fast path pays no locked read-modify-write per object. A mark on
//! a free slot means nothing to anyone: the sweep only looks at the marks of allocated slots
//! (`alloc & !marks`), markers only mark objects they reach, and the page is swept — its marks
//! cleared — before the next marking starts, like every page holding an object. The note is
//! per epoch and per word, and a new word or a new page starts without it, so an object
//! allocated in a later marking is never taken for one already marked.
//!
//! # Whose mark epoch
//!
//! The comparison uses the mark epoch *as this mutator last acknowledged it*, a field of the
//! cache, not the collector's current one. It is updated whenever the mutator answers a
//! handshake, leaves a pause or attaches. With per-thread handshakes the collector starts a
//! marking without stopping anyone (see `collector/mod.rs`, "Mark start without a pause"): a
//! mutator that has not answered yet may still store without the barrier, and a black object
//! it could store into would break the marking's invariant. Objects it allocates stay white
//! until it answers — white objects are scanned like any other, so that is always sound — and
//! a black object allocated by a mutator that did answer reaches another thread only through a
//! store that orders the collector's barrier-on before that thread's next store. With a
//! stop-the-world mark start every mutator answers inside the pause, so nothing changes there.
//! Large objects take the same view ([`AllocCache::mark_epoch_view`], see `heap/large.rs`), and
//! the pacer counts as allocated black only what a mutator allocates after its answer
//! ([`AllocCache::allocates_black`]). Taking the view records it in the allocation views
//! (`clock::take_allocation_epoch`): until some mutator has, the mark-start window's barrier
//! does not shade stored pointers, since no object is black yet (see `collector/mod.rs`,
//! "Which stores in the window shade the stored pointer").
//!
//! After marking terminates, the pages in the cache may hold dead objects. The mutator gives
//! them all back ([`AllocCache::release_all`]) when it acknowledges the handshake that follows
//! (it sees the new sweep epoch), so the sweeper can reach them before the next marking; until
//! then it keeps allocating from them, which is sound because new objects in them are allocated
//! black (above). A mutator that detaches (for a blocking call, a collection, or for good)
//! gives its pages back first, so a cycle that runs while it is away sweeps them too.

use std::ptr::NonNull;

use super::{page::Page, size_class::NUM_CLASSES, PageHeap};
use crate::{
    clock,
    mark_bits::PageMarks,
    mutator_marks,
    primitive::sync::atomic::{AtomicU64, Ordering},
};

#[derive(Clone, Copy)]
struct CachedPage {
    page: Option<&'static Page>,
    base: *mut u8,
    bits: *const AtomicU64,
    has_drop: *const AtomicU64,
    marks: Option<&'static PageMarks>,
    /// The epoch the page was last swept for (it does not change while the page is cached).
    swept_epoch: u64,
    slot_size: usize,
    word: usize,
    nwords: usize,
    free: u64,
    /// The mark epoch for which every slot still free in `word` is already marked (0: none;
    /// see "Allocate black").
    black_epoch: u64,
}

const EMPTY: CachedPage = CachedPage {
    page: None,
    base: std::ptr::null_mut(),
    bits: std::ptr::null(),
    has_drop: std::ptr::null(),
    marks: None,
    swept_epoch: u64::MAX,
    slot_size: 0,
    word: 0,
    nwords: 0,
    free: 0,
    black_epoch: 0,
};

/// The per-mutator cache.
pub(crate) struct AllocCache {
    pages: [CachedPage; NUM_CLASSES],
    /// The mark epoch as this mutator last acknowledged it (see "Whose mark epoch").
    epoch_view: u64,
    /// Bytes handed out since the last refill, for mark assists and statistics.
    pub(crate) allocated_since_refill: usize,
}

impl Default for AllocCache {
    fn default() -> Self {
        AllocCache {
            pages: [EMPTY; NUM_CLASSES],
            epoch_view: clock::take_allocation_epoch(),
            allocated_since_refill: 0,
        }
    }
}

impl AllocCache {
    /// Take a free slot of `class` from the cached page, if it has one, for an object whose
    /// type needs drop if `needs_drop` (a constant at every call site); the slot is marked if
    /// it must be allocated black (module header).
    #[inline(always)]
    pub(crate) fn alloc_fast(&mut self, class: usize, needs_drop: bool) -> Option<NonNull<u8>> {
        let epoch = self.epoch_view;
        let c = &mut self.pages[class];
        loop {
            if c.free != 0 {
                let bit = c.free.trailing_zeros() as usize;
                c.free &= c.free - 1;
                let mask = 1u64 << bit;
                // SAFETY: `c.page` is owned by this cache (it is non-null whenever `free` is
                // non-zero), `word < nwords`, so `bits.add(word)` and `has_drop.add(word)` are
                // inside their bitmaps and the slot address is inside the page.
                unsafe {
                    // The owner is the only writer: a load and a store, not an atomic RMW.
                    let word = &*c.bits.add(c.word);
                    word.store(word.load(Ordering::Relaxed) | mask, Ordering::Relaxed);
                    if needs_drop {
                        let word = &*c.has_drop.add(c.word);
                        word.store(word.load(Ordering::Relaxed) | mask, Ordering::Relaxed);
                    }
                    if epoch > c.swept_epoch && c.black_epoch != epoch {
                        // The first object allocated black in this word: mark it and every
                        // slot still free in the word, in one go (module header).
                        allocate_black(c.marks, c.word, c.free | mask, c.slot_size, epoch);
                        c.black_epoch = epoch;
                    }
                    let slot = c.word * 64 + bit;
                    return Some(NonNull::new_unchecked(c.base.add(slot * c.slot_size)));
                }
            }
            if c.word + 1 >= c.nwords {
                return None;
            }
            c.word += 1;
            c.black_epoch = 0;
            // SAFETY: as above; `word < nwords`.
            c.free = unsafe { !(*c.bits.add(c.word)).load(Ordering::Relaxed) };
        }
    }

    /// The mark epoch as this mutator last acknowledged it (see "Whose mark epoch").
    #[inline]
    pub(crate) fn mark_epoch_view(&self) -> u64 {
        self.epoch_view
    }

    /// Whether this mutator allocates black for a marking in progress: the barrier is on and
    /// the mutator has answered the marking's start (in the mark-start window, before its
    /// answer, it allocates white). What the pacer counts as allocated black.
    #[inline]
    pub(crate) fn allocates_black(&self) -> bool {
        clock::barrier_on() && self.epoch_view == clock::mark_epoch()
    }

    /// Take the current mark epoch as this mutator's (see "Whose mark epoch"): called when
    /// the mutator acknowledges a handshake, leaves a pause, or attaches.
    pub(crate) fn see_mark_epoch(&mut self) {
        self.epoch_view = clock::take_allocation_epoch();
    }

    /// Give the current page of `class` back and take a page with free slots.
    pub(crate) fn refill(&mut self, heap: &PageHeap, class: usize) {
        if let Some(old) = self.pages[class].page.take() {
            heap.release(old);
        }
        let (page, free) = heap.acquire(class);
        // SAFETY: `acquire` transferred ownership of `page` to this cache.
        let slots = unsafe { page.slots() };
        self.allocated_since_refill += free * slots.slot_size;
        self.pages[class] = CachedPage {
            page: Some(page),
            base: page.base(),
            bits: page.bitmap(),
            has_drop: page.drop_bitmap(),
            marks: Some(page.marks()),
            swept_epoch: page.swept_epoch(),
            slot_size: slots.slot_size,
            word: 0,
            nwords: slots.nslots.div_ceil(64),
            free: !page.bitmap_word(0).load(Ordering::Relaxed),
            black_epoch: 0,
        };
    }

    /// Give every cached page back to the central lists.
    pub(crate) fn release_all(&mut self, heap: &PageHeap) {
        for c in &mut self.pages {
            if let Some(page) = c.page.take() {
                heap.release(page);
            }
            *c = EMPTY;
        }
    }
}

/// Set the mark bits of the slots `free` of slot word `word` (the slot being allocated and
/// those still free after it), for a page of `slot_size` slots, for the marking `epoch`: while
/// marking runs, or before the page's due sweep. A few locked ORs per 64 slots instead of one
/// per object, and a record in the black-allocation log, which sets them again should a mark
/// worker's plain store have undone them (see `mutator_marks.rs`), unless the log is off for
/// the marking: asked before the bits are set (`mutator_marks.rs`, "The limit").
#[cold]
#[inline(never)]
fn allocate_black(marks: Option<&'static PageMarks>, word: usize, free: u64, slot_size: usize, epoch: u64) {
    if let Some(marks) = marks {
        let record = mutator_marks::logging(epoch);
        marks.mark_slots(word, free, slot_size);
        if record {
            mutator_marks::record_black(marks, word, free, slot_size, epoch);
        }
    }
}
