//! The collector's object memory.
//!
//! # Structure
//!
//! - [`size_class`]: the 33 slot sizes (16 B to 8 KiB, header included).
//! - [`page`]: 64 KiB pages carved into slots of one class, with an allocation bitmap (kept,
//!   with the page's other bitmaps, in the second page of its run).
//! - [`central`]: per-class lists of pages that no mutator holds (partial, full, unswept).
//! - [`cache`]: each mutator's private page per class — the allocation fast path.
//! - [`large`]: objects too big (or too aligned) for a page, allocated one by one.
//! - [`live_snapshot`]: every object alive at one moment, as bitmaps (the objects pinned when a
//!   thread ends with its mutator leaked).
//! - [`pool`]: where pages come from (runs mapped from the system by [`crate::raw`]) and where
//!   empty ones wait; the scavenger, which gives the memory of long-empty pages back to the OS,
//!   and a run's tables with its last page.
//! - [`finalize`]: the queue of dead objects whose destructors the finalizer thread runs.
//!
//! # Accounting
//!
//! `live_bytes` approximates the bytes in use the way Go's `heapLive` does: when a page moves
//! into a mutator's cache, all its free space counts as allocated (the mutator will fill it
//! without telling anyone); when the page leaves the cache, what is still free is taken off
//! again; sweeping takes off what it frees. The pacer compares this figure to its goal.
//!
//! # Sweeping
//!
//! Sweeping is spread over several threads: the collector's background sweep
//! ([`PageHeap::sweep_class`]), allocators that find only unswept pages when they refill
//! (lazy sweeping, in [`PageHeap::acquire`]), and allocators over the memory limit. No sweep
//! runs a destructor (user code): a sweep frees the dead objects that need no drop and dooms
//! the others, whose slot bits it hands to the finalizer thread ([`PageHeap::finalize_next`]);
//! the page itself stays with the sweeper and is filed as usual. So every page is swept
//! completely, once per marking, whatever destructors are still pending. A counter of sweeps in
//! flight (raised and lowered by a guard, so nothing is lost if a sweep unwinds) lets
//! [`PageHeap::finish_sweep`] know when every page taken out of a list has been swept and
//! filed again.

pub(crate) mod cache;
pub(crate) mod central;
pub(crate) mod finalize;
pub(crate) mod large;
pub(crate) mod live_snapshot;
pub(crate) mod page;
pub(crate) mod pool;
pub(crate) mod size_class;

use std::{
    alloc::Layout,
    ptr::NonNull,
    time::{Duration, Instant},
};

use self::{
    central::{Central, ClassLists},
    finalize::{FinalizeQueue, Work},
    large::LargeObjects,
    live_snapshot::LiveSnapshot,
    page::{Page, SweepResult},
    pool::{PagePool, Scavenged, Taken},
    size_class::NUM_CLASSES,
};
use crate::{
    clock,
    object::{mark, Header},
    primitive::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering},
    report,
};

/// Run the destructor of a dead object's value, if its type has one. A panicking destructor
/// is reported on stderr and counted; the object is freed all the same (its other fields are
/// dropped while the panic unwinds, as Rust's drop glue does). The panic's payload is dropped
/// inside a guard too: if *its* destructor panics, that payload is leaked. Returns `false` if
/// the destructor panicked.
///
/// # Safety
/// `obj` points to a dead object (initialised, unreachable, never used again), with
/// provenance over the whole object (derived from its page or block, not from a `&Header`).
pub(crate) unsafe fn run_destructor(obj: *mut Header) -> bool {
    // SAFETY: the caller guarantees an initialised header.
    let desc = unsafe { &*obj }.desc();
    let Some(drop_fn) = desc.drop else { return true };
    // SAFETY: guaranteed by the caller: the value is dropped once and never touched again.
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| unsafe { drop_fn(obj) }));
    match r {
        Ok(()) => true,
        Err(payload) => {
            report::drop_payload(payload);
            report_destructor_panic(desc.name());
            false
        }
    }
}

/// Destructor panics reported on stderr before the rest are only counted.
const REPORTED_DESTRUCTOR_PANICS: u64 = 10;

/// Report a destructor panic on stderr — the first few; all are counted in the statistics.
fn report_destructor_panic(type_name: &str) {
    static REPORTED: AtomicU64 = AtomicU64::new(0);
    let n = REPORTED.fetch_add(1, Ordering::Relaxed);
    if n < REPORTED_DESTRUCTOR_PANICS {
        report::line(format_args!("gc: a destructor of a `{type_name}` panicked; the object was freed"));
    }
    if n + 1 == REPORTED_DESTRUCTOR_PANICS {
        report::line(format_args!(
            "gc: further destructor panics are not reported; Stats::drop_panics and the cycle records count them"
        ));
    }
}

/// Cumulative sweep counters (the collector reads differences per cycle).
#[derive(Default)]
pub(crate) struct SweepCounters {
    freed_objects: AtomicU64,
    freed_bytes: AtomicU64,
    drop_panics: AtomicU64,
}

/// The sweep counters at one moment.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct SweepTotals {
    pub(crate) freed_objects: u64,
    pub(crate) freed_bytes: u64,
    pub(crate) drop_panics: u64,
}

impl std::ops::Sub for SweepTotals {
    type Output = SweepTotals;
    fn sub(self, o: SweepTotals) -> SweepTotals {
        SweepTotals {
            freed_objects: self.freed_objects - o.freed_objects,
            freed_bytes: self.freed_bytes - o.freed_bytes,
            drop_panics: self.drop_panics - o.drop_panics,
        }
    }
}

impl SweepCounters {
    fn add(&self, r: SweepResult) {
        if r.freed_objects > 0 {
            self.freed_objects.fetch_add(r.freed_objects as u64, Ordering::Relaxed);
            self.freed_bytes.fetch_add(r.freed_bytes as u64, Ordering::Relaxed);
        }
        if r.drop_panics > 0 {
            self.drop_panics.fetch_add(r.drop_panics as u64, Ordering::Relaxed);
        }
    }

    /// All counters, read together (each cycle record takes its figures from two of these).
    pub(crate) fn totals(&self) -> SweepTotals {
        SweepTotals {
            freed_objects: self.freed_objects.load(Ordering::Relaxed),
            freed_bytes: self.freed_bytes.load(Ordering::Relaxed),
            drop_panics: self.drop_panics.load(Ordering::Relaxed),
        }
    }
}

/// A sweep in flight: counted while it lives, so [`PageHeap::finish_sweep`] can wait for it;
/// uncounted when dropped, also while unwinding.
struct InFlight<'a>(&'a AtomicUsize);

/// The most pages a sweeper takes from a class's list at once ([`PageHeap::sweep_class`]).
const SWEEP_BATCH: usize = 16;

impl<'a> InFlight<'a> {
    fn start(counter: &'a AtomicUsize) -> Self {
        counter.fetch_add(1, Ordering::SeqCst);
        InFlight(counter)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// All object memory: pages by class, empty pages, large objects, finalization work.
pub(crate) struct PageHeap {
    central: [Central; NUM_CLASSES],
    /// Every page, and the empty ones.
    pool: PagePool,
    pub(crate) large: LargeObjects,
    pub(crate) finalizer: FinalizeQueue,
    live_bytes: AtomicUsize,
    sweeps_in_flight: AtomicUsize,
    pub(crate) swept: SweepCounters,
    /// The finalizer has reported objects finalized since [`PageHeap::free_finalized`] last
    /// looked (see there).
    finalized_unfreed: AtomicBool,
}

impl Default for PageHeap {
    fn default() -> Self {
        PageHeap {
            central: std::array::from_fn(|_| Central::default()),
            pool: PagePool::default(),
            large: LargeObjects::default(),
            finalizer: FinalizeQueue::default(),
            live_bytes: AtomicUsize::new(0),
            sweeps_in_flight: AtomicUsize::new(0),
            swept: SweepCounters::default(),
            finalized_unfreed: AtomicBool::new(false),
        }
    }
}

impl PageHeap {
    /// Bytes considered in use (see "Accounting").
    pub(crate) fn live_bytes(&self) -> usize {
        self.live_bytes.load(Ordering::Relaxed)
    }

    /// Bytes of memory the heap holds: page memory not released to the OS, plus large objects.
    pub(crate) fn committed_bytes(&self) -> usize {
        self.pool.resident_bytes() + self.large.bytes()
    }

    /// The live and the committed bytes, for a report: never more live than committed.
    ///
    /// Memory is counted committed before any of it is counted live, and no longer live before
    /// it is no longer committed: a page is resident before it is charged to a cache, a large
    /// block committed before its object is charged ([`LargeObjects::commit_ahead`]), and a
    /// freed large object leaves the live count before its block leaves the committed one
    /// (the second step of each pair is a `Release`). Read one after the other, the two could
    /// still straddle such a pair, in either direction; so the live count is read before and
    /// after the committed one (`Acquire`) and the smaller taken. A rise seen in the first
    /// read has its commitment seen by the committed read; a fall seen by the committed read
    /// is seen by the second live read.
    pub(crate) fn live_and_committed(&self) -> (usize, usize) {
        let before = self.live_bytes.load(Ordering::Acquire);
        let committed = self.committed_bytes();
        let after = self.live_bytes.load(Ordering::Acquire);
        (before.min(after), committed)
    }

    /// Whether `bytes` more fit under `limit`; if not, the bytes in use the decision saw.
    pub(crate) fn room_under(&self, bytes: usize, limit: usize) -> Result<(), usize> {
        let live = self.live_bytes();
        if live.saturating_add(bytes) <= limit {
            Ok(())
        } else {
            Err(live)
        }
    }

    /// Charge a large object of `layout` now if it fits under `limit`, in one atomic step with
    /// the check: threads racing for the last room cannot all be granted it. Its block is
    /// counted committed first (see [`live_and_committed`](Self::live_and_committed)), and
    /// uncounted if it does not fit. If it fits, allocate it with
    /// [`alloc_large`](Self::alloc_large) and `charged`; if not, the bytes in use the decision
    /// saw.
    pub(crate) fn charge_large_under(&self, layout: Layout, limit: usize) -> Result<(), usize> {
        self.large.commit_ahead(layout);
        let bytes = layout.size();
        let fits = |live: usize| live.checked_add(bytes).filter(|&total| total <= limit);
        match self.live_bytes.fetch_update(Ordering::Release, Ordering::Relaxed, fits) {
            Ok(_) => Ok(()),
            Err(live) => {
                self.large.uncommit(layout);
                Err(live)
            }
        }
    }

    /// Bytes of page memory given back to the OS by the scavenger (the pages stay reserved).
    pub(crate) fn released_bytes(&self) -> usize {
        self.pool.released_bytes()
    }

    /// Free the slots of finalized objects in the swept pages of every class, and put the pages
    /// that leaves empty in the pool, where the scavenger finds them; a no-op unless the
    /// finalizer reported objects finalized since the last call. For the collector thread
    /// between cycles.
    ///
    /// A sweep dooms a dead object that needs drop: it keeps its slot until the finalizer has
    /// run its destructor and the page's next sweep frees the slot (see `page.rs`). In a heap
    /// that goes idle after a cycle, that next sweep does not come: the pages of objects with
    /// destructors stayed full of finalized objects — resident and unusable — until some later
    /// cycle (53 MB after dropping 500,000 such objects and calling `collect()`, for as long
    /// as the program ran without another cycle). The pages are taken out of their lists (so
    /// this thread owns them), their finalized slots freed, and filed again: in the pool if
    /// empty, else back in their lists (as unswept if a new sweep epoch began meanwhile).
    pub(crate) fn free_finalized(&self) {
        if !self.finalized_unfreed.swap(false, Ordering::Acquire) {
            return;
        }
        for central in &self.central {
            let taken: Vec<&'static Page> = {
                let mut lists = central.lock();
                let ClassLists { partial, full, .. } = &mut *lists;
                let mut taken = Vec::new();
                for list in [partial, full] {
                    list.retain(|page| {
                        let finalized = page.has_finalized();
                        if finalized {
                            taken.push(*page);
                        }
                        !finalized
                    });
                }
                taken
            };
            if taken.is_empty() {
                continue;
            }
            // SAFETY: taken out of their class's lists under its lock: this thread owns them.
            let live: Vec<usize> = taken.iter().map(|page| unsafe { page.free_finalized() }).collect();
            let filed = || taken.iter().zip(&live);
            self.pool.put_all(filed().filter(|&(_, &live)| live == 0).map(|(&page, _)| page));
            if filed().any(|(_, &live)| live > 0) {
                let mut lists = central.lock();
                for (&page, &live) in filed().filter(|&(_, &live)| live > 0) {
                    // SAFETY: still owned by this thread.
                    let has_free = live < unsafe { page.slots() }.nslots;
                    lists.file(page, has_free);
                }
            }
        }
    }

    /// Give the memory of pages empty for at least `delay` back to the OS while the heap holds
    /// more than `retain` bytes (see `pool.rs`, "The scavenger").
    /// Large objects' freed blocks go back the same way, through the system allocator (see
    /// `large.rs`, "Giving memory back"); `next_due` counts them too.
    pub(crate) fn scavenge(&self, delay: Duration, retain: usize) -> Scavenged {
        let now = Instant::now();
        let mut scavenged = self.pool.scavenge(now, delay, retain, self.large.bytes());
        let large_due = self.large.trim(now, delay);
        scavenged.next_due = match (scavenged.next_due, large_due) {
            (Some(pages), Some(large)) => Some(pages.min(large)),
            (pages, large) => pages.or(large),
        };
        scavenged
    }

    /// Times the scavenger had the system allocator return free memory that large objects
    /// left, and memory went back (see `large.rs`).
    pub(crate) fn allocator_trims(&self) -> u64 {
        self.large.trims()
    }

    /// Sweep an owned page (it stays the caller's) and account for it; its dead objects that
    /// need drop go to the finalizer.
    fn sweep_owned(&self, page: &'static Page, epoch: u64) -> SweepResult {
        let r = self.sweep_page(page, epoch);
        self.account_sweep(r);
        r
    }

    /// [`sweep_owned`](Self::sweep_owned) without the accounting, for a caller that accounts
    /// for a batch at once.
    fn sweep_page(&self, page: &'static Page, epoch: u64) -> SweepResult {
        // SAFETY: the caller owns the page, and `epoch` is a sweep epoch: its marking ended.
        let (r, doomed) = unsafe { page.sweep(epoch) };
        if let Some(doomed) = doomed {
            self.finalizer.push(Work::Page(doomed));
        }
        r
    }

    /// Take ownership of a page of `class` that is swept and has a free slot; returns it with
    /// its number of free slots.
    pub(crate) fn acquire(&self, class: usize) -> (&'static Page, usize) {
        loop {
            let mut lists = self.central[class].lock();
            let epoch = lists.epoch();
            if let Some(page) = lists.partial.pop() {
                drop(lists);
                return (page, self.charge(page));
            }
            let Some(page) = lists.unswept.pop() else { break };
            let _in_flight = InFlight::start(&self.sweeps_in_flight);
            drop(lists);
            self.sweep_owned(page, epoch);
            // SAFETY: still owned.
            if unsafe { page.free_slots() } > 0 {
                return (page, self.charge(page));
            }
            self.central[class].lock().file(page, false);
        }
        let epoch = clock::sweep_epoch();
        let (page, taken) = self.pool.take(class, epoch);
        if taken == Taken::Reused {
            // SAFETY: pages in the pool are empty; taking one out made us its owner.
            unsafe { page.reformat(class, epoch) };
        }
        (page, self.charge(page))
    }

    /// Count `page`'s free slots as live bytes (a cache allocates them without counting), and
    /// return how many there are.
    fn charge(&self, page: &'static Page) -> usize {
        // SAFETY: the caller owns `page` (it is about to hand it to a cache).
        let (slot_size, free) = unsafe { (page.slots().slot_size, page.free_slots()) };
        // Release: after the page became resident (see `live_and_committed`).
        self.live_bytes.fetch_add(free * slot_size, Ordering::Release);
        free
    }

    /// Take back a page from a cache, without waiting for its class's lock (see
    /// `central.rs`, "Pages handed back without the lock").
    pub(crate) fn release(&self, page: &'static Page) {
        // SAFETY: the cache owned the page and gives it up here.
        let (slots, free) = unsafe { (page.slots(), page.free_slots()) };
        let (class, size) = (slots.class, slots.slot_size);
        self.live_bytes.fetch_sub(free * size, Ordering::Relaxed);
        self.central[class].hand_back(page, free > 0);
    }

    fn account_sweep(&self, r: SweepResult) {
        if r.freed_bytes > 0 {
            self.live_bytes.fetch_sub(r.freed_bytes, Ordering::Relaxed);
        }
        self.swept.add(r);
    }

    /// Sweep a batch of unswept pages of `class` — up to [`SWEEP_BATCH`] and half of those
    /// left, taken in one hold of its lock and filed back in one — and `false` when there was
    /// none. Batches keep the threads that share a sweep (see `collector/parallel_sweep.rs`)
    /// off each other's cache lines: with one page per hold, two threads sweeping one class
    /// spent more time passing its lock and the counters between their cores than sweeping
    /// (0.36 ms for 489 pages on one thread, 0.33 ms on two).
    pub(crate) fn sweep_class(&self, class: usize) -> bool {
        let mut batch = [None; SWEEP_BATCH];
        let (epoch, _in_flight) = {
            let mut lists = self.central[class].lock();
            // At most half of what is left (one page at least): near the end of a list a
            // batch would take pages that an allocating mutator, finding none, would otherwise
            // sweep itself rather than take an empty page or map a new one.
            let taken = (lists.unswept.len() / 2).clamp(1, SWEEP_BATCH).min(lists.unswept.len());
            if taken == 0 {
                return false;
            }
            let from = lists.unswept.len() - taken;
            for (slot, page) in batch.iter_mut().zip(lists.unswept.drain(from..)) {
                *slot = Some((page, 0));
            }
            (lists.epoch(), InFlight::start(&self.sweeps_in_flight))
        };
        let mut total = SweepResult::default();
        for (page, live) in batch.iter_mut().map_while(Option::as_mut) {
            // The batch's pages were taken out of the unswept list: this thread owns them;
            // `epoch` is the lists' sweep epoch, whose marking ended.
            let r = self.sweep_page(page, epoch);
            total.add(r);
            *live = r.live_objects;
        }
        self.account_sweep(total);
        // File them: the empty ones in the pool (nothing can come to life in them), the others
        // in their class's lists (as unswept if the epoch moved on meanwhile).
        let swept = || batch.iter().map_while(|p| *p);
        self.pool.put_all(swept().filter(|&(_, live)| live == 0).map(|(page, _)| page));
        if swept().any(|(_, live)| live > 0) {
            let mut lists = self.central[class].lock();
            for (page, live) in swept().filter(|&(_, live)| live > 0) {
                // SAFETY: still owned by this thread.
                let has_free = live < unsafe { page.slots() }.nslots;
                lists.file(page, has_free);
            }
        }
        true
    }

    /// Sweep unswept pages of every class, beginning with class `first % NUM_CLASSES` and going
    /// round, until this thread finds none left; a batch of pages per hold of a class's lock
    /// ([`sweep_class`](Self::sweep_class)), so that several threads can share the work (see `collector/parallel_sweep.rs`). Large objects,
    /// and pages another thread is still sweeping, are left to [`finish_sweep`](Self::finish_sweep).
    pub(crate) fn sweep_pages_from(&self, first: usize) {
        let first = first % NUM_CLASSES;
        for class in (first..NUM_CLASSES).chain(0..first) {
            while self.sweep_class(class) {}
        }
    }

    /// The pages of every class waiting to be swept, now (rolling the lists over to the current
    /// sweep epoch, see `central.rs`).
    pub(crate) fn unswept_pages(&self) -> usize {
        self.central.iter().map(|c| c.lock().unswept.len()).sum()
    }

    /// Sweep the large objects against the current sweep epoch.
    pub(crate) fn sweep_large(&self) {
        let _in_flight = InFlight::start(&self.sweeps_in_flight);
        // The freed objects leave the live bytes one by one, as they are freed.
        let (r, to_finalize) = self.large.sweep(&self.live_bytes);
        self.swept.add(r);
        for obj in to_finalize {
            self.finalizer.push(Work::Large(obj));
        }
    }

    /// Sweep until no page in any central list is unswept and no sweep is in flight. Runs no
    /// destructor: dead objects that need one are handed to the finalizer (see `finalize.rs`). A
    /// sweep in flight on another thread may file its page as unswept (the epoch moved on while
    /// it swept), so the lists are checked again once nothing is in flight.
    pub(crate) fn finish_sweep(&self) {
        loop {
            self.sweep_pages_from(0);
            self.sweep_large();
            while self.sweeps_in_flight.load(Ordering::SeqCst) != 0 {
                std::thread::yield_now();
            }
            if self.central.iter().all(|c| c.lock().unswept.is_empty()) {
                return;
            }
        }
    }

    /// The finalizer thread's step: take the next item of finalization work (waiting for one),
    /// run its destructors, and free the objects (a page's slots are taken back by the page's
    /// owner at its next sweep, see `page.rs`, or between cycles by [`free_finalized`]).
    /// Returns whether the work queued so far is all done and slots it finalized wait for
    /// `free_finalized`: the collector thread, if idle, should be woken for them.
    ///
    /// [`free_finalized`]: Self::free_finalized
    #[must_use]
    pub(crate) fn finalize_next(&self) -> bool {
        match self.finalizer.next() {
            Work::Page(doomed) => {
                let page = doomed.page;
                let size = page.slot_size();
                let mut r = SweepResult::default();
                for (w, &bits) in doomed.bits.iter().enumerate() {
                    let mut bits = bits;
                    while bits != 0 {
                        let i = w * 64 + bits.trailing_zeros() as usize;
                        bits &= bits - 1;
                        // SAFETY: a doomed slot: its object is dead (unmarked when its marking
                        // ended, so nothing reaches it) and stays allocated, untouched by anyone
                        // else, until this thread reports it finalized; it is dropped once, here.
                        let obj = unsafe { page.base().add(i * size) }.cast::<Header>();
                        // SAFETY: as above.
                        if !unsafe { run_destructor(obj) } {
                            r.drop_panics += 1;
                        }
                        r.freed_objects += 1;
                        r.freed_bytes += size;
                    }
                }
                self.account_sweep(r);
                page.report_finalized(&doomed.bits);
                // Release: a `free_finalized` that sees the flag sees the page's bits.
                self.finalized_unfreed.store(true, Ordering::Release);
            }
            Work::Large(obj) => {
                // SAFETY: a dead large object, unlisted, handed over once.
                let r = unsafe { self.large.free(obj, true, &self.live_bytes) };
                self.swept.add(r);
            }
        }
        let drained = self.finalizer.finished_one();
        // Relaxed: only a hint to wake the collector thread; its `free_finalized` reads the
        // pages' bits after its own acquiring swap of the flag.
        drained && self.finalized_unfreed.load(Ordering::Relaxed)
    }

    /// A snapshot of every object that is not dead for `sweep_epoch` (allocated, and marked for
    /// it or later), in pages and large objects alike, wherever it sits: a cache or a list.
    /// Pages cost a few words each, not a pointer per object (see `live_snapshot.rs`).
    ///
    /// # Safety
    /// The world is stopped (no thread allocates or reformats a page), `sweep_epoch` is the
    /// current sweep epoch, and the snapshot's objects are kept allocated for as long as it is
    /// used (it becomes the pinned set: `root_table.rs`).
    pub(crate) unsafe fn live_snapshot(&self, sweep_epoch: u64) -> LiveSnapshot {
        let mut out = LiveSnapshot::default();
        for page in self.pool.all() {
            // SAFETY: the world is stopped (the caller): nobody allocates, sweeps or reformats.
            let (slot_size, live) = unsafe { page.live_slot_bits(sweep_epoch) };
            // SAFETY: each set bit is a live object's slot, kept allocated (the caller).
            unsafe { out.push_page(page, slot_size, &live) };
        }
        self.large.for_each(|h| {
            // SAFETY: a listed large object: allocated, with its block's provenance.
            if unsafe { mark::large_mark(h.as_ptr()) }.epoch() >= sweep_epoch {
                // SAFETY: allocated, and kept so (the caller).
                unsafe { out.push_large(h) };
            }
        });
        out
    }

    /// Clear the mark bits of every page (tests that pretend a marking).
    #[cfg(test)]
    pub(crate) fn clear_marks_for_test(&self) {
        for page in self.pool.all() {
            page.clear_marks_for_test();
        }
    }

    /// Allocate an unlisted block for a large object of `layout`, marked for `epoch` (the
    /// allocating mutator's view of the mark epoch: see [`LargeObjects::alloc`]), and charge
    /// it, unless [`charge_large_under`](Self::charge_large_under) did (`charged`); returns
    /// where the object goes. List it with [`publish_large`](Self::publish_large) once the
    /// object is written.
    pub(crate) fn alloc_large(&self, layout: Layout, epoch: u64, charged: bool) -> NonNull<u8> {
        // The block first: nothing is charged for an object that gets no block.
        let obj = self.large.alloc(layout, epoch, charged);
        if !charged {
            // Release: after the block was counted committed (see `live_and_committed`).
            self.live_bytes.fetch_add(layout.size(), Ordering::Release);
        }
        obj
    }

    /// List a large object for sweeping (see `large.rs`, "Publication").
    ///
    /// # Safety
    /// As [`LargeObjects::publish`].
    pub(crate) unsafe fn publish_large(&self, block: NonNull<u8>, layout: Layout) {
        // SAFETY: guaranteed by the caller.
        unsafe { self.large.publish(block, layout) };
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{
        atomic::{AtomicUsize, Ordering as O},
        Arc,
    };

    use super::{cache::AllocCache, size_class::class_of, *};
    use crate::object::{GcBox, Header, Trace, Tracer};

    struct Probe(Arc<AtomicUsize>);
    impl Drop for Probe {
        fn drop(&mut self) {
            self.0.fetch_add(1, O::SeqCst);
        }
    }
    // SAFETY: holds no GC pointer.
    unsafe impl Trace for Probe {
        const NEEDS_TRACE: bool = false;
        fn trace(&self, _: &mut Tracer<'_>) {}
    }

    /// Same class as `Probe`, no drop.
    struct Plain(#[allow(dead_code)] u64);
    // SAFETY: holds no GC pointer.
    unsafe impl Trace for Plain {
        const NEEDS_TRACE: bool = false;
        fn trace(&self, _: &mut Tracer<'_>) {}
    }

    #[test]
    fn pages_fill_sweep_doom_finalize_and_account() {
        // More than two pages of 16-byte slots (part of one under Miri, which is slow).
        const N: usize = if cfg!(miri) { 64 } else { 10_000 };
        let heap = PageHeap::default();
        let drops = Arc::new(AtomicUsize::new(0));
        let class = class_of(std::mem::size_of::<GcBox<Probe>>(), 8).unwrap();
        assert_eq!(class_of(std::mem::size_of::<GcBox<Plain>>(), 8), Some(class));
        let mut cache = AllocCache::default();
        let epoch = clock::sweep_epoch();
        // Fill more than one page with Probes (drop) and Plains (no drop), alternating; mark
        // the objects with `n % 4 < 2`, as a marking would.
        let mut objs = Vec::new();
        while objs.len() < N {
            let n = objs.len();
            let Some(block) = cache.alloc_fast(class, n % 2 == 0) else {
                cache.refill(&heap, class);
                continue;
            };
            // SAFETY: a free slot of the right class, exclusively ours.
            unsafe {
                if n % 2 == 0 {
                    let value = Probe(drops.clone());
                    block.cast::<GcBox<Probe>>().write(GcBox { header: Header::new::<Probe>(), value });
                } else {
                    block.cast::<GcBox<Plain>>().write(GcBox { header: Header::new::<Plain>(), value: Plain(0) });
                }
            }
            let obj = block.as_ptr().cast::<Header>();
            // SAFETY: allocated just now, in a page of this heap.
            assert!(!unsafe { mark::is_marked(obj, epoch) }, "not allocated black outside a marking");
            if n % 4 < 2 {
                // SAFETY: as above.
                assert!(unsafe { mark::try_mark(obj, epoch) });
            }
            objs.push(obj);
        }
        assert!(heap.live_bytes() >= N * std::mem::size_of::<GcBox<Probe>>());
        cache.release_all(&heap);
        // Released pages were swept for `epoch` already (fresh pages): nothing freed yet.
        heap.finish_sweep();
        assert_eq!(drops.load(O::SeqCst), 0);
        let pages = |heap: &PageHeap| -> Vec<&'static Page> {
            heap.central
                .iter()
                .flat_map(|c| {
                    let mut l = c.lock();
                    let mut pages = std::mem::take(&mut l.partial);
                    pages.append(&mut l.full);
                    pages
                })
                .collect()
        };
        // Pretend the marking `epoch + 1` ended with those marks: sweep for it.
        let mut total = SweepResult::default();
        for p in pages(&heap) {
            // SAFETY: owned (taken out of the lists); no marking runs.
            let (r, doomed) = unsafe { p.sweep(epoch + 1) };
            assert_eq!(r.deferred, doomed.as_ref().map_or(0, |d| d.bits.iter().map(|w| w.count_ones() as usize).sum()));
            if let Some(d) = doomed {
                heap.finalizer.push(Work::Page(d));
            }
            heap.account_sweep(r);
            total.add(r);
            heap.central[class].lock().file(p, true);
        }
        // SAFETY: the objects' pages are this heap's; their bits are read, not the objects.
        assert!(objs.iter().all(|&o| !unsafe { mark::is_marked(o, epoch) }), "the sweep cleared the marks");
        assert_eq!(total.freed_objects, N / 4, "unmarked objects without drop are freed at once");
        assert_eq!(total.deferred, N / 4, "unmarked objects with drop are doomed");
        assert_eq!(total.live_objects, N / 2 + N / 4, "marked and doomed objects keep their slots");
        assert_eq!(drops.load(O::SeqCst), 0, "no sweep runs a destructor");
        let wakes: Vec<bool> = (0..heap.finalizer.enqueued()).map(|_| heap.finalize_next()).collect();
        assert_eq!(
            wakes.iter().rposition(|&w| w),
            Some(wakes.len() - 1),
            "the finalizer asks for its slots to be freed once it has done all it was given, not before"
        );
        assert_eq!(wakes.iter().filter(|&&w| w).count(), 1);
        assert_eq!(drops.load(O::SeqCst), N / 4, "the finalizer drops each doomed object once");
        assert_eq!(heap.swept.totals().freed_objects, (N / 2) as u64);
        // The next sweep (marking `epoch + 2` reached the same objects) takes the finalized
        // slots back, frees nothing else, and drops nothing again.
        for (n, &o) in objs.iter().enumerate() {
            if n % 4 < 2 {
                // SAFETY: a live object of this heap.
                assert!(unsafe { mark::try_mark(o, epoch) });
            }
        }
        let mut live = 0;
        for p in pages(&heap) {
            // SAFETY: owned (taken out of the lists); no marking runs.
            let (r, doomed) = unsafe { p.sweep(epoch + 2) };
            assert!(doomed.is_none());
            assert_eq!(r.freed_objects, 0);
            live += r.live_objects;
        }
        assert_eq!(live, N / 2, "finalized slots are free again");
        assert_eq!(drops.load(O::SeqCst), N / 4);
    }

    /// A kilobyte without drop: 64 to a page.
    struct Wide(#[allow(dead_code)] [u64; 120]);
    // SAFETY: holds no GC pointer.
    unsafe impl Trace for Wide {
        const NEEDS_TRACE: bool = false;
        fn trace(&self, _: &mut Tracer<'_>) {}
    }

    /// A snapshot of the live heap holds every allocated object of every page, as bits: all of
    /// them on pages swept for its epoch, only the marked ones on pages whose sweep for it is
    /// still due (the others are dead); and the walk for a marking in progress visits exactly
    /// the objects whose mark bits are clear. Small objects (64 bitmap words a page) and large
    /// ones (a word a page), over several pages; under Miri, which takes seconds to fill a page,
    /// part of one page of small objects (two bitmap words).
    #[test]
    fn a_live_snapshot_holds_the_live_objects_and_finds_the_unmarked_ones() {
        if cfg!(miri) {
            live_snapshot_of(100, 1, || Plain(0));
        } else {
            live_snapshot_of(20_000, 5, || Plain(0));
            live_snapshot_of(300, 4, || Wide([0; 120]));
        }
    }

    /// [`a_live_snapshot_holds_the_live_objects_and_finds_the_unmarked_ones`] with `n` objects
    /// of `value()`, filling at least `pages`.
    fn live_snapshot_of<T: Trace>(n: usize, pages: usize, value: impl Fn() -> T) {
        let heap = PageHeap::default();
        let class = class_of(std::mem::size_of::<GcBox<T>>(), 8).unwrap();
        let mut cache = AllocCache::default();
        let epoch = clock::sweep_epoch();
        let mut objs = Vec::new();
        while objs.len() < n {
            let Some(block) = cache.alloc_fast(class, false) else {
                cache.refill(&heap, class);
                continue;
            };
            // SAFETY: a free slot of the right class, exclusively ours.
            unsafe { block.cast::<GcBox<T>>().write(GcBox { header: Header::new::<T>(), value: value() }) };
            let obj = block.as_ptr().cast::<Header>();
            if objs.len() % 3 == 0 {
                // SAFETY: allocated just now, in a page of this heap.
                assert!(unsafe { mark::try_mark(obj, epoch) });
            }
            objs.push(obj);
        }
        cache.release_all(&heap);
        // Sorted lists, not hash sets: hashing is slow under Miri.
        let sorted = |mut v: Vec<*mut Header>| {
            v.sort_unstable();
            v
        };
        type Visit<'a> = &'a mut dyn FnMut(NonNull<Header>);
        let visited = |walk: &dyn Fn(Visit<'_>)| {
            let mut v = Vec::new();
            walk(&mut |o| v.push(o.as_ptr()));
            let v = sorted(v);
            assert!(v.windows(2).all(|w| w[0] != w[1]), "each object once");
            v
        };
        let all = sorted(objs.clone());
        let marked = sorted(objs.iter().copied().step_by(3).collect());
        let unmarked = sorted(objs.iter().enumerate().filter(|(i, _)| i % 3 != 0).map(|(_, &o)| o).collect());
        // SAFETY: nothing else uses this heap; the objects stay allocated while it lives.
        let (now, next) = unsafe { (heap.live_snapshot(epoch), heap.live_snapshot(epoch + 1)) };
        assert!(heap.pool.all().len() >= pages, "the objects fill {pages} pages");
        assert_eq!(now.len(), n);
        assert_eq!(visited(&|f| now.for_each(f)), all, "swept for the epoch: every allocated object");
        assert_eq!(next.len(), marked.len());
        assert_eq!(visited(&|f| next.for_each(f)), marked, "sweep due: the marked ones");
        assert!(next.is_subset_of(&now) && !now.is_subset_of(&next));
        assert_eq!(
            visited(&|f| now.for_each_on_clear_bits(f)),
            unmarked,
            "the walk for a marking visits the unmarked objects"
        );
        assert_eq!(visited(&|f| next.for_each_on_clear_bits(f)), [], "a snapshot of marked objects: nothing to shade");
    }

    /// The collector thread frees finalized slots between cycles with the scavenger off too:
    /// the finalizer wakes it once it has run the destructors (it used to free them only on
    /// the scavenger's rounds, so with the scavenger off an idle heap kept them until the next
    /// cycle, unusable: a second batch as large doubled the committed memory).
    #[test]
    fn finalized_slots_are_freed_between_cycles_with_the_scavenger_off() {
        use std::time::{Duration, Instant};

        use crate::config::Config;

        const N: usize = if cfg!(miri) { 300 } else { 20_000 };
        let _serial = crate::test_support::serial();
        let quiet = Config::default().with_gc_percent(None).with_force_cycle_after(None);
        crate::reconfigure(quiet.clone().with_scavenge_after(None)).unwrap();
        let rt = crate::runtime::Runtime::get();
        let mut mu = crate::attach();
        let drops = Arc::new(AtomicUsize::new(0));
        for _ in 0..N {
            mu.alloc(Probe(drops.clone()));
        }
        let empty_before = rt.pages.pool.resident_empty_pages();
        // Dead at once: the cycle dooms them, and `collect` returns once their destructors ran.
        mu.collect();
        assert_eq!(drops.load(O::SeqCst), N);
        // The collector thread frees them after the finalizer is done, asynchronously: wait for
        // the flag to come down, no listed page to keep finalized slots, and the pages the batch
        // filled to be empty again in the pool for allocation to reuse (no cycle ran since, so
        // only the freeing emptied them), 30 s at most.
        let filled = N * std::mem::size_of::<GcBox<Probe>>() / page::PAGE_BYTES;
        let unfreed = || rt.pages.finalized_unfreed.load(O::SeqCst);
        let listed_with_finalized = || {
            rt.pages.central.iter().any(|c| {
                let lists = c.lock();
                lists.full.iter().chain(&lists.partial).any(|p| p.has_finalized())
            })
        };
        let emptied = || rt.pages.pool.resident_empty_pages().saturating_sub(empty_before);
        let deadline = Instant::now() + Duration::from_secs(30);
        while (unfreed() || listed_with_finalized() || emptied() < filled / 2) && Instant::now() < deadline {
            mu.blocking(|| std::thread::sleep(Duration::from_millis(1)));
        }
        assert!(!unfreed(), "the finalized slots were not freed in 30 s");
        assert!(!listed_with_finalized(), "no listed page keeps finalized slots");
        assert!(emptied() >= filled / 2, "{} pages emptied; the batch filled about {filled}", emptied());
        drop(mu);
        crate::reconfigure(quiet).unwrap();
    }
}
